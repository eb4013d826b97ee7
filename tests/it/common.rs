//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bytes::Bytes;
use clerk_tower::{Client, ClientBuilder, HttpRequest, HttpResponse, RetryConfig};
use http_body_util::Full;
use tower_test::mock::{self, Handle, SendResponse};

pub const KEY: &str = "sk_test_integration_secret";

pub type MockHandle = Handle<HttpRequest, HttpResponse>;

/// A builder whose transport is a `tower_test` mock: every request the client sends shows up
/// on the handle, exactly as it would be written to the network.
pub fn mock_builder() -> (ClientBuilder, MockHandle) {
    let (svc, handle) = mock::pair::<HttpRequest, HttpResponse>();
    (Client::builder().secret_key(KEY).transport(svc), handle)
}

/// A client over a `tower_test` mock, retries off.
pub fn mock_client() -> (Client, MockHandle) {
    let (builder, handle) = mock_builder();
    (
        builder
            .retry(RetryConfig::disabled())
            .build()
            .expect("valid config"),
        handle,
    )
}

pub fn response(status: u16, body: &'static str) -> HttpResponse {
    let mut res = HttpResponse::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = http::StatusCode::from_u16(status).expect("valid status");
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

pub fn respond(send: SendResponse<HttpResponse>, status: u16, body: &'static str) {
    send.send_response(response(status, body));
}

pub async fn body_of(req: &HttpRequest) -> Bytes {
    use http_body_util::BodyExt;
    req.body()
        .clone()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default()
}

pub const IDENTIFIER_JSON: &str = r#"{"object":"allowlist_identifier","id":"alid_2abcDEF","identifier":"ada@example.com","identifier_type":"email_address","instance_id":"ins_1","created_at":1700000000000,"updated_at":1700000000000}"#;
