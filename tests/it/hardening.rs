//! Promises kept under hostile servers and odd settings: each test here reproduced a panic, a
//! leak or a broken promise of an earlier version (issue 8, section 1).

use std::time::Duration;

use crate::common::*;
use clerk_tower::api::{CreateAllowlistIdentifier, ListAllowlistIdentifiers};
use clerk_tower::{Client, Error, HttpRequest, RequestOptions, RetryConfig};
use http::header::AUTHORIZATION;
use tokio::time::Instant;
use tower::ServiceExt;

const HUGE_RETRY_AFTER: [&str; 2] = ["9223372036854775807", "18446744073709551615"];

/// Answers the next request with `status` and a `Retry-After` of `retry_after`.
async fn answer_with_retry_after(handle: &mut MockHandle, status: u16, retry_after: &'static str) {
    let (_req, send) = handle.next_request().await.expect("a request");
    let mut res = response(status, "");
    res.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static(retry_after),
    );
    send.send_response(res);
}

/// 1. A `Retry-After` the server sets to the largest integers ends the call at once with the
/// server's error instead of panicking with an `Instant` overflow, with or without a total
/// timeout, for a 429 on a create and for a 503 on a list.
#[tokio::test(start_paused = true)]
async fn a_huge_retry_after_ends_the_call_with_the_servers_error() {
    for retry_after in HUGE_RETRY_AFTER {
        for with_deadline in [true, false] {
            for (status, list) in [(429, false), (429, true), (503, true)] {
                let (builder, mut handle) = mock_builder();
                let builder = builder.retry(RetryConfig::default());
                let client = match with_deadline {
                    true => builder.build().unwrap(),
                    false => builder.no_timeout().build().unwrap(),
                };
                let start = Instant::now();
                let call = tokio::spawn(async move {
                    if list {
                        client
                            .service::<ListAllowlistIdentifiers>()
                            .oneshot(ListAllowlistIdentifiers::new())
                            .await
                            .map(drop)
                    } else {
                        client
                            .service::<CreateAllowlistIdentifier>()
                            .oneshot(CreateAllowlistIdentifier::new("ada@example.com"))
                            .await
                            .map(drop)
                    }
                });
                answer_with_retry_after(&mut handle, status, retry_after).await;
                let err = call.await.expect("no panic").unwrap_err();
                let case = format!("{status} {retry_after} deadline={with_deadline} list={list}");
                assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{case}");
                assert_eq!(err.attempts(), 1, "{case}");
                assert!(
                    err.retry_after()
                        .is_some_and(|d| d > Duration::from_secs(3600)),
                    "{case}: the wait asked for is reported: {err:?}"
                );
                assert_eq!(start.elapsed(), Duration::ZERO, "{case}: no wait at all");
            }
        }
    }
}

/// The next request the client sends, or a failure when none comes (a call that panicked
/// sends none; with paused time, the wait is instant).
async fn next_request(
    handle: &mut MockHandle,
) -> (
    HttpRequest,
    tower_test::mock::SendResponse<clerk_tower::HttpResponse>,
) {
    tokio::time::timeout(Duration::from_secs(60), handle.next_request())
        .await
        .expect("the call sent no request")
        .expect("a request")
}

/// 2. Timeouts at the largest durations `build()` accepts mean "no limit", not a panic.
#[tokio::test(start_paused = true)]
async fn the_largest_timeouts_mean_no_limit() {
    type Setting = fn(clerk_tower::ClientBuilder) -> clerk_tower::ClientBuilder;
    let settings: [(&str, Setting); 3] = [
        ("timeout", |b| b.timeout(Duration::MAX)),
        ("attempt_timeout", |b| b.attempt_timeout(Duration::MAX)),
        ("both", |b| {
            b.timeout(Duration::MAX).attempt_timeout(Duration::MAX)
        }),
    ];
    for (name, set) in settings {
        let (builder, mut handle) = mock_builder();
        let client = set(builder.retry(RetryConfig::disabled())).build().unwrap();
        let call = tokio::spawn(
            client
                .service::<ListAllowlistIdentifiers>()
                .oneshot(ListAllowlistIdentifiers::new()),
        );
        let (_req, send) = next_request(&mut handle).await;
        send.send_response(response(200, "[]"));
        let list = call.await.expect(name).expect(name);
        assert!(list.data.is_empty(), "{name}");
    }
    for per_call in [
        RequestOptions::new().timeout(Duration::from_secs(u64::MAX)),
        RequestOptions::new().attempt_timeout(Duration::MAX),
    ] {
        let (client, mut handle) = mock_client();
        let call = tokio::spawn(
            client
                .service::<ListAllowlistIdentifiers>()
                .with_options(per_call)
                .oneshot(ListAllowlistIdentifiers::new()),
        );
        let (_req, send) = next_request(&mut handle).await;
        send.send_response(response(200, "[]"));
        assert!(call.await.expect("no panic").is_ok(), "{per_call:?}");
    }
}

/// 3. A retry budget tower's `TpsBudget` would assert on is a configuration error.
#[test]
fn a_budget_tower_cannot_hold_is_a_config_error() {
    for min_per_sec in [i32::MAX as u32, u32::MAX] {
        let result = Client::builder()
            .secret_key(KEY)
            .retry(RetryConfig::default().budget(Duration::from_secs(10), min_per_sec, 0.2))
            .build();
        assert!(
            matches!(&result, Err(Error::Config(_))),
            "{min_per_sec}: {result:?}"
        );
    }
    for percent in [f32::NAN, f32::INFINITY, -0.5] {
        let result = Client::builder()
            .secret_key(KEY)
            .retry(RetryConfig::default().budget(Duration::from_secs(10), 1, percent))
            .build();
        assert!(matches!(result, Err(Error::Config(_))), "{percent}");
    }
    let fine = Client::builder()
        .secret_key(KEY)
        .retry(RetryConfig::default().budget(Duration::from_secs(10), i32::MAX as u32 - 1, 0.2))
        .build();
    assert!(fine.is_ok(), "{fine:?}");
}

/// 4. The key goes only where the base URL points: same scheme, same host, same port.
#[tokio::test]
async fn the_key_never_leaves_over_another_scheme_or_port() {
    let (client, mut handle) = mock_client();
    let cases = [
        ("https://api.clerk.com/v1/allowlist_identifiers", true),
        ("https://API.clerk.com/v1/allowlist_identifiers", true),
        ("https://api.clerk.com:443/v1/allowlist_identifiers", true),
        ("http://api.clerk.com/v1/allowlist_identifiers", false),
        ("http://api.clerk.com:443/v1/allowlist_identifiers", false),
        ("https://api.clerk.com:8443/v1/allowlist_identifiers", false),
        ("https://api.clerk.com.evil.example/v1", false),
        ("https://evil.example/v1/allowlist_identifiers", false),
    ];
    for (uri, keyed) in cases {
        let mut req = HttpRequest::default();
        *req.uri_mut() = uri.parse().unwrap();
        req.headers_mut().insert(
            AUTHORIZATION,
            http::HeaderValue::from_static("Bearer stale"),
        );
        let call = tokio::spawn(client.http_service().oneshot(req));
        let (sent, send) = handle.next_request().await.expect("a request");
        send.send_response(response(200, "[]"));
        call.await.unwrap().unwrap();
        let auth = sent
            .headers()
            .get_all(AUTHORIZATION)
            .iter()
            .collect::<Vec<_>>();
        if keyed {
            assert_eq!(auth.len(), 1, "{uri}");
            assert_eq!(auth[0], &format!("Bearer {KEY}"), "{uri}");
        } else {
            assert!(auth.is_empty(), "{uri}: {auth:?}");
        }
    }

    // A loopback base URL with plain http and a port: only that exact origin gets the key.
    let (svc, mut handle) = tower_test::mock::pair::<HttpRequest, clerk_tower::HttpResponse>();
    let client = Client::builder()
        .secret_key(KEY)
        .base_url("http://127.0.0.1:8787/v1")
        .transport(svc)
        .build()
        .unwrap();
    for (uri, keyed) in [
        ("http://127.0.0.1:8787/v1/x", true),
        ("http://127.0.0.1:80/v1/x", false),
        ("http://127.0.0.1/v1/x", false),
        ("https://127.0.0.1:8787/v1/x", false),
    ] {
        let mut req = HttpRequest::default();
        *req.uri_mut() = uri.parse().unwrap();
        let call = tokio::spawn(client.http_service().oneshot(req));
        let (sent, send) = handle.next_request().await.expect("a request");
        send.send_response(response(200, "[]"));
        call.await.unwrap().unwrap();
        assert_eq!(sent.headers().contains_key(AUTHORIZATION), keyed, "{uri}");
    }
}

/// 5. A decode error tells what was wrong and where, never the values it read; the body stays
/// reachable through its accessor.
#[tokio::test]
async fn decode_errors_show_no_response_content() {
    let bodies: [&'static str; 5] = [
        r#""ada.lovelace@example.com""#,
        r#"[{"object":"allowlist_identifier","id":"alid_1","identifier":"ada.lovelace@example.com","identifier_type":"email_address","created_at":"ada.lovelace@example.com","updated_at":1}]"#,
        r#"[{"id":7,"identifier":"ada.lovelace@example.com"}]"#,
        r#"{"data":"ada.lovelace@example.com","total_count":1}"#,
        r#"[{"identifier":"ada.lovelace@example.com" "#,
    ];
    for body in bodies {
        let (client, mut handle) = mock_client();
        let call = tokio::spawn(
            client
                .service::<ListAllowlistIdentifiers>()
                .oneshot(ListAllowlistIdentifiers::new()),
        );
        let (_req, send) = handle.next_request().await.expect("a request");
        send.send_response(response(200, body));
        let err = call.await.unwrap().unwrap_err();
        let Error::Decode(decode) = &err else {
            panic!("{body}: {err:?}");
        };
        for shown in [err.to_string(), format!("{err:?}"), format!("{err:#}")] {
            assert!(!shown.contains("ada.lovelace"), "{body}: {shown}");
            assert!(!shown.contains("example.com"), "{body}: {shown}");
        }
        assert!(
            err.to_string().contains("line 1 column"),
            "the position is kept: {err}"
        );
        assert_eq!(
            decode.body(),
            body.as_bytes(),
            "the raw body stays reachable"
        );
    }
}

/// Decided: a configuration error never echoes the base URL (a secret key pasted into
/// `CLERK_API_URL` by mistake must not reach a log).
#[test]
fn config_errors_never_echo_the_base_url() {
    for url in [
        "sk_live_pasted_by_mistake",
        "sk_live_pasted_by_mistake/v1",
        "not a url sk_live_pasted_by_mistake",
        "ftp://sk_live_pasted_by_mistake/v1",
        "http://sk-live-pasted-by-mistake.example/v1",
        "https://user:sk_live_pasted_by_mistake@api.clerk.com/v1",
        "https://api.clerk.com/v1?key=sk_live_pasted_by_mistake",
        "https://api.clerk.com/v1#sk_live_pasted_by_mistake",
    ] {
        let err = Client::builder()
            .secret_key(KEY)
            .base_url(url)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{url}");
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("pasted"), "{url}: {shown}");
        }
    }
}

/// Decided: Clerk's `long_message` (which can name the identifier) is not in `Display` nor
/// `Debug`; `{:#}` and [`ApiError::errors`] show it when the caller asks.
#[tokio::test]
async fn api_errors_keep_personal_data_out_of_display() {
    let body = r#"{"errors":[{"message":"duplicate allowlist identifier","long_message":"the identifier ada.lovelace@example.com already exists","code":"duplicate_record","meta":{"identifier":"ada.lovelace@example.com"}}],"clerk_trace_id":"trace_1"}"#;
    let (client, mut handle) = mock_client();
    let call = tokio::spawn(
        client
            .service::<CreateAllowlistIdentifier>()
            .oneshot(CreateAllowlistIdentifier::new("ada.lovelace@example.com")),
    );
    let (_req, send) = handle.next_request().await.expect("a request");
    send.send_response(response(400, body));
    let err = call.await.unwrap().unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("ada.lovelace"), "{shown}");
        assert!(shown.contains("duplicate_record"), "{shown}");
        assert!(shown.contains("trace_1"), "{shown}");
    }
    assert!(
        format!("{err:#}").contains("the identifier ada.lovelace@example.com already exists"),
        "the alternate form shows the details: {err:#}"
    );
    let api = err.as_api().unwrap();
    assert_eq!(
        api.errors()[0].long_message.as_deref(),
        Some("the identifier ada.lovelace@example.com already exists")
    );
}
