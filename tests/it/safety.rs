//! Hostile input and secrets: adversarial ids and identifiers are encoded or refused with a
//! typed error, never a panic; no secret ever shows in Debug or Display.

use crate::common::*;
use clerk_tower::api::{CreateAllowlistIdentifier, DeleteAllowlistIdentifier};
use clerk_tower::{Client, Error, Operation, RetryConfig};
use proptest::prelude::*;

const SECRET: &str = "sk_live_ThisMustNeverBeSeen0123456789";

#[test]
fn no_secret_in_debug_or_display() {
    let builder = Client::builder().secret_key(SECRET).user_agent("app/1");
    assert!(!format!("{builder:?}").contains(SECRET));
    let client = builder.build().unwrap();
    assert!(!format!("{client:?}").contains(SECRET));
    assert!(!format!("{:?}", client.allowlist_identifiers()).contains(SECRET));
    assert!(!format!("{:?}", client.service::<DeleteAllowlistIdentifier>()).contains(SECRET));

    // A key that cannot be a header: the error says so without echoing it.
    for bad in [
        format!("{SECRET} "),
        format!("{SECRET}\n"),
        format!("é{SECRET}"),
    ] {
        let err = Client::builder()
            .secret_key(bad.clone())
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }
    let missing = Client::builder().build().unwrap_err();
    assert!(missing.to_string().contains("CLERK_SECRET_KEY"));
}

#[tokio::test]
async fn no_secret_in_errors_of_a_call() {
    let (builder, mut handle) = mock_builder();
    let client = builder
        .secret_key(SECRET)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let call = tokio::spawn(async move { client.allowlist_identifiers().delete("alid_x").await });
    let (req, send) = handle.next_request().await.unwrap();
    assert!(
        !format!("{req:?}").contains(SECRET),
        "request Debug hides the sensitive header"
    );
    respond(
        send,
        401,
        r#"{"errors":[{"message":"Invalid authentication","long_message":"Bearer token invalid","code":"authentication_invalid"}]}"#,
    );
    let err = call.await.unwrap().unwrap_err();
    assert!(!format!("{err:?}").contains(SECRET) && !err.to_string().contains(SECRET));
}

#[test]
fn config_errors_never_panic() {
    let cases: &[(&str, Option<&str>)] = &[
        ("sk_test_x", Some("http://api.clerk.com/v1")),
        ("sk_test_x", Some("not a url")),
        ("sk_test_x", Some("https://api.clerk.com/v1?x=y")),
        ("sk_test_x", Some("")),
        ("", None),
        ("sk test", None),
    ];
    for (key, url) in cases {
        let mut b = Client::builder().secret_key(*key);
        if let Some(url) = url {
            b = b.base_url(*url);
        }
        assert!(
            matches!(b.build(), Err(Error::Config(_))),
            "{key:?} {url:?}"
        );
    }
    assert!(matches!(
        Client::builder()
            .secret_key("sk_test_x")
            .user_agent("bad\r\nagent")
            .build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Client::builder()
            .secret_key("sk_test_x")
            .api_version("")
            .build(),
        Err(Error::Config(_))
    ));
    assert!(Client::builder()
        .secret_key("sk_test_x")
        .base_url("http://127.0.0.1:1/v1")
        .build()
        .is_ok());
}

fn delete_path(id: &str) -> Result<String, Error> {
    DeleteAllowlistIdentifier::new(id)
        .to_request(None)
        .map(|r| r.uri().to_string())
}

#[test]
fn adversarial_ids_stay_in_one_segment() {
    let cases = [
        ("../../users", "/allowlist_identifiers/..%2F..%2Fusers"),
        (
            "alid_1?paginated=true",
            "/allowlist_identifiers/alid_1%3Fpaginated%3Dtrue",
        ),
        ("alid_1#frag", "/allowlist_identifiers/alid_1%23frag"),
        ("%2F", "/allowlist_identifiers/%252F"),
        ("a b\tc", "/allowlist_identifiers/a%20b%09c"),
        (
            "ünï/cødé",
            "/allowlist_identifiers/%C3%BCn%C3%AF%2Fc%C3%B8d%C3%A9",
        ),
        ("\0\r\n", "/allowlist_identifiers/%00%0D%0A"),
        ("...", "/allowlist_identifiers/..."),
    ];
    for (id, want) in cases {
        assert_eq!(delete_path(id).unwrap(), want, "{id:?}");
    }
    // 10 KB ids: ASCII fits in a URI; heavy unicode grows past what a URI may hold and is a
    // typed error, not a panic.
    let long_ascii = "a".repeat(10 * 1024);
    assert_eq!(
        delete_path(&long_ascii).unwrap().len(),
        "/allowlist_identifiers/".len() + 10 * 1024
    );
    let long_unicode = "€".repeat(10 * 1024);
    match delete_path(&long_unicode) {
        Ok(path) => assert!(path.starts_with("/allowlist_identifiers/%E2%82%AC")),
        Err(e) => assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}"),
    }
}

#[test]
fn adversarial_identifiers_are_json_escaped() {
    for identifier in [
        "a\"b@c.com",
        "\\",
        "\u{0}\u{1f}",
        "😀@example.com",
        "</script>",
        &"x".repeat(10 * 1024),
    ] {
        let req = CreateAllowlistIdentifier::new(identifier)
            .to_request(None)
            .unwrap();
        let body = clerk_tower_body(req);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["identifier"], identifier);
        assert_eq!(parsed.as_object().unwrap().len(), 1);
    }
}

fn clerk_tower_body(req: clerk_tower::HttpRequest) -> bytes::Bytes {
    use http_body_util::BodyExt;
    futures_lite_block_on(async move {
        req.into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default()
    })
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any id either becomes exactly one path segment that decodes back to the id, or is a
    /// typed InvalidRequest; it never panics.
    #[test]
    fn any_id_is_one_segment_or_a_typed_error(id in any::<String>()) {
        match delete_path(&id) {
            Ok(path) => {
                let segment = path.strip_prefix("/allowlist_identifiers/").unwrap();
                prop_assert!(!segment.contains('/') && !segment.contains('?') && !segment.contains('#'));
                prop_assert_ne!(segment, "..");
                prop_assert_ne!(segment, ".");
                let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().unwrap();
                prop_assert_eq!(decoded, id.as_str());
            }
            Err(e) => prop_assert!(matches!(e, Error::InvalidRequest(_)), "{:?}", e),
        }
    }

    #[test]
    fn any_identifier_is_a_valid_body_or_a_typed_error(identifier in any::<String>(), notify in any::<Option<bool>>()) {
        let mut req = CreateAllowlistIdentifier::new(identifier.clone());
        if let Some(n) = notify { req = req.notify(n); }
        match req.to_request(None) {
            Ok(req) => {
                prop_assert_eq!(&req.headers()[http::header::CONTENT_TYPE], "application/json");
                let body = req.into_body().into_inner().unwrap_or_default();
                prop_assert!(!body.is_empty(), "a create always has a body");
                let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
                prop_assert_eq!(&parsed["identifier"], &serde_json::Value::String(identifier));
                prop_assert_eq!(parsed.get("notify").and_then(|v| v.as_bool()), notify);
            }
            Err(e) => {
                prop_assert!(identifier.trim().is_empty());
                prop_assert!(matches!(e, Error::InvalidRequest(_)));
            }
        }
    }
}
