//! How failures come back: Clerk error bodies, proxy pages, empty bodies, wrong shapes.

use std::time::Duration;

use crate::common::*;
use clerk_tower::error::TransportErrorKind;
use clerk_tower::{Client, Error, HttpRequest, HttpResponse, RetryConfig};

async fn answer(
    status: u16,
    body: &'static str,
    headers: &[(&'static str, &'static str)],
) -> Error {
    let (client, mut handle) = mock_client();
    let call = tokio::spawn(async move { client.allowlist_identifiers().list().await });
    let (_req, send) = handle.next_request().await.unwrap();
    let mut res = response(status, body);
    for (name, value) in headers {
        res.headers_mut()
            .insert(*name, http::HeaderValue::from_static(value));
    }
    send.send_response(res);
    call.await.unwrap().unwrap_err()
}

#[tokio::test]
async fn clerk_errors_with_several_items_and_a_trace_id() {
    let err = answer(
        422,
        r#"{"errors":[{"message":"is invalid","long_message":"identifier is invalid","code":"form_param_format_invalid","meta":{"param_name":"identifier"}},{"message":"too long","long_message":"identifier is too long","code":"form_param_value_too_long"}],"meta":{},"clerk_trace_id":"7f3c9a"}"#,
        &[],
    )
    .await;
    assert_eq!(err.status(), Some(http::StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(err.clerk_trace_id(), Some("7f3c9a"));
    let api = err.as_api().expect("an API error");
    assert_eq!(api.errors().len(), 2);
    assert_eq!(api.code(), Some("form_param_format_invalid"));
    assert_eq!(
        api.errors()[0].meta.as_ref().unwrap()["param_name"],
        "identifier"
    );
    assert_eq!(api.errors()[1].code, "form_param_value_too_long");
    assert!(api.raw_body().is_none());
    assert!(!err.is_retryable() && !err.is_not_found());
    let text = err.to_string();
    assert!(
        text.contains("422") && text.contains("is invalid") && text.contains("7f3c9a"),
        "{text}"
    );
    assert!(!text.contains("identifier is invalid"), "{text}");
    assert!(format!("{err:#}").contains("identifier is invalid"));
}

#[tokio::test]
async fn an_html_502_from_a_proxy_is_an_api_error_with_its_body() {
    let html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
    let err = answer(502, html, &[("content-type", "text/html")]).await;
    assert!(matches!(err, Error::Api(_)), "{err:?}");
    assert_eq!(err.status(), Some(http::StatusCode::BAD_GATEWAY));
    let api = err.as_api().unwrap();
    assert!(api.errors().is_empty());
    assert_eq!(api.raw_body().map(|b| &b[..]), Some(html.as_bytes()));
    assert!(err.is_retryable());
    assert!(!format!("{err:?}").contains("nginx"), "Debug shows no body");
}

#[tokio::test]
async fn an_empty_body_and_retry_after() {
    let err = answer(429, "", &[("retry-after", "12")]).await;
    assert_eq!(err.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    assert_eq!(err.as_api().unwrap().raw_body().map(|b| b.len()), Some(0));
    let err = answer(503, "", &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]).await;
    assert_eq!(
        err.retry_after(),
        Some(Duration::ZERO),
        "a date in the past means now"
    );
}

#[tokio::test]
async fn not_found_is_typed() {
    let err = answer(404, r#"{"errors":[{"message":"not found","long_message":"Resource not found","code":"resource_not_found"}],"clerk_trace_id":"t404"}"#, &[]).await;
    assert!(err.is_not_found());
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn a_2xx_with_the_wrong_shape_is_a_decode_error() {
    for body in [
        r#"{"data":"nope"}"#,
        r#"{"unexpected":true}"#,
        "<html>ok</html>",
        "",
        r#"[{"id":42}]"#,
    ] {
        let err = answer(200, body, &[]).await;
        match &err {
            Error::Decode(d) => {
                assert_eq!(d.status(), http::StatusCode::OK);
                assert_eq!(d.body(), body.as_bytes());
            }
            other => panic!("{body:?}: unexpected {other:?}"),
        }
        assert_eq!(err.status(), Some(http::StatusCode::OK));
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_transport_error() {
    let big = tower::service_fn(|_req: HttpRequest| async {
        Ok::<_, std::convert::Infallible>(HttpResponse::new(vec![b' '; 2048].into()))
    });
    let client = Client::builder()
        .secret_key(KEY)
        .max_response_body(1024)
        .transport(big)
        .build()
        .unwrap();
    let err = client.allowlist_identifiers().list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind() == TransportErrorKind::BodyTooLarge),
        "{err:?}"
    );
}

#[tokio::test]
async fn errors_from_a_user_layer_stay_typed() {
    // A layer that rejects every create with its own error, and passes our errors through boxed.
    #[derive(Debug)]
    struct Refused;
    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused by policy")
        }
    }
    impl std::error::Error for Refused {}

    let (builder, mut handle) = mock_builder();
    let client = builder
        .retry(RetryConfig::disabled())
        .layer(tower::layer::layer_fn(|inner: clerk_tower::HttpService| {
            tower::service_fn(move |req: HttpRequest| {
                let mut inner = inner.clone();
                async move {
                    if req.method() == http::Method::POST {
                        return Err::<HttpResponse, clerk_tower::BoxError>(Box::new(Refused));
                    }
                    tower::ServiceExt::ready(&mut inner).await?;
                    tower::Service::call(&mut inner, req)
                        .await
                        .map_err(Into::into)
                }
            })
        }))
        .build()
        .unwrap();
    let err = client
        .allowlist_identifiers()
        .create("a@b.com")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Middleware(e) if e.to_string() == "refused by policy"),
        "{err:?}"
    );

    let call = tokio::spawn(async move { client.allowlist_identifiers().list().await });
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(response(
        404,
        r#"{"errors":[{"message":"m","long_message":"l","code":"resource_not_found"}]}"#,
    ));
    let err = call.await.unwrap().unwrap_err();
    assert!(
        err.is_not_found(),
        "our error, boxed by the layer, comes back typed: {err:?}"
    );
}
