//! Values that cannot be sent as they are, and bytes a server should not send (issue 19,
//! section 4): each is refused before any I/O, encoded so that it means what it says, or read
//! without losing what can be read.

use bytes::Bytes;
use clerk_tower::{Error, HttpResponse, Operation};
use http_body_util::Full;

use crate::common::*;

fn invalid_field(result: Result<clerk_tower::HttpRequest, Error>) -> Option<&'static str> {
    match result {
        Err(Error::InvalidRequest(e)) => Some(e.field()),
        _ => None,
    }
}

/// `f64` parameters: NaN and the infinities would be sent as JSON `null` (for
/// `seconds_until_expiration`, "never expires"): refused before any I/O.
#[cfg(all(feature = "api_keys", feature = "m2m"))]
#[tokio::test]
async fn non_finite_numbers_are_refused_before_any_io() {
    use clerk_tower::api::{CreateApiKey, CreateM2mToken};
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let op = CreateApiKey::new("name", "user_1").seconds_until_expiration(bad);
        assert_eq!(
            invalid_field(op.to_request(None)),
            Some("seconds_until_expiration"),
            "{bad}"
        );
        let op = CreateM2mToken::new().seconds_until_expiration(bad);
        assert_eq!(
            invalid_field(op.to_request(None)),
            Some("seconds_until_expiration"),
            "{bad}"
        );
    }
    let fine = CreateApiKey::new("name", "user_1").seconds_until_expiration(60.0);
    assert!(fine.to_request(None).is_ok());
    // Through the client: refused, and nothing reaches the transport.
    let (client, mut handle) = mock_client();
    let err = client
        .call(CreateApiKey::new("name", "user_1").seconds_until_expiration(f64::NAN))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert_eq!(err.attempts(), 0);
    handle.allow(0);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), handle.next_request())
            .await
            .is_err(),
        "no request"
    );
}

/// A comma inside a value of a comma-joined query array would split it in two on the server:
/// refused before any I/O.
#[cfg(feature = "organization_domains")]
#[test]
fn a_comma_inside_a_joined_array_value_is_refused() {
    use clerk_tower::api::ListAllOrganizationDomains;
    let two = ListAllOrganizationDomains::new()
        .enrollment_mode(["manual_invitation", "automatic_invitation"])
        .to_request(None)
        .unwrap();
    assert_eq!(
        two.uri().query(),
        Some("enrollment_mode=manual_invitation%2Cautomatic_invitation")
    );
    let sneaky = ListAllOrganizationDomains::new()
        .enrollment_mode(["manual_invitation,automatic_invitation"])
        .to_request(None);
    assert_eq!(invalid_field(sneaky), Some("enrollment_mode"));
}

/// A NUL, CR or LF in a multipart file name (or field name) cannot end the header line or
/// the quoted string: escaped as HTML forms escape, so the part has exactly its own headers.
#[cfg(feature = "organizations")]
#[tokio::test]
async fn multipart_file_names_cannot_break_the_part_headers() {
    use clerk_tower::api::{File, UploadOrganizationLogo};
    let name = "logo\0.png\r\nContent-Type: text/html\r\n\r\n<script>\"";
    let op = UploadOrganizationLogo::new("org_1", File::new(name, "image/png", vec![1u8, 2, 3]));
    let request = op.to_request(None).unwrap();
    let body = body_of(&request).await;
    assert!(!body.contains(&0u8), "no NUL in the body");
    let text = String::from_utf8_lossy(&body);
    let disposition = text
        .lines()
        .find(|l| l.contains("filename="))
        .expect("a Content-Disposition line");
    assert!(
        disposition.ends_with(
            "filename=\"logo%00.png%0D%0AContent-Type: text/html%0D%0A%0D%0A<script>%22\""
        ),
        "{disposition}"
    );
    assert_eq!(text.matches("Content-Type: ").count(), 2, "{text}");
}

/// A Clerk error body with one byte that is not UTF-8 keeps its typed code and message.
#[tokio::test]
async fn an_error_body_with_one_invalid_byte_keeps_its_code() {
    let (client, mut handle) = mock_client();
    let call = tokio::spawn(async move {
        client
            .allowlist_identifiers()
            .create("ada@example.com")
            .await
    });
    let (_req, send) = handle.next_request().await.expect("a request");
    let mut body = br#"{"errors":[{"code":"form_identifier_exists","message":"taken ","long_message":"x"}],"clerk_trace_id":"abc"}"#.to_vec();
    // One Latin-1 byte inside the message.
    let at = body.windows(6).position(|w| w == b"taken ").unwrap() + 5;
    body[at] = 0xe9;
    let mut res = HttpResponse::new(Full::new(Bytes::from(body)));
    *res.status_mut() = http::StatusCode::UNPROCESSABLE_ENTITY;
    send.send_response(res);
    let err = call.await.unwrap().unwrap_err();
    let api = err.as_api().expect("an API error");
    assert_eq!(api.code(), Some("form_identifier_exists"));
    assert_eq!(api.errors()[0].message, "taken\u{fffd}");
    assert_eq!(api.clerk_trace_id(), Some("abc"));
    assert!(
        api.raw_body().is_some(),
        "the bytes as received stay reachable"
    );
}
