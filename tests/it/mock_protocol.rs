//! clerk-mock answers requests it cannot parse (issue 19): bad bytes in the request line, a
//! URI or a head too large, a malformed chunked body. Each gets a response, in Clerk's error
//! shape (JSON `errors` with a `code`, and a `clerk_trace_id`), and then the connection is
//! closed; none is just dropped.

use crate::raw_http::{request, Conn, RawResponse};
use clerk_tower::mock::MockClerk;

async fn answer(bytes: &[u8]) -> RawResponse {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    conn.send(bytes).await;
    let response = conn.response().await;
    assert!(
        conn.closed_by_server().await,
        "closed after a protocol error"
    );
    server.shutdown().await;
    response
}

fn assert_clerk_error(response: &RawResponse, status: u16, code: &str) {
    assert_eq!(response.status, status, "{response:?}");
    response.assert_json_with_length();
    let json = response.json();
    assert_eq!(json["errors"][0]["code"], code, "{json}");
    assert!(json["errors"][0]["message"].is_string(), "{json}");
    assert!(json["clerk_trace_id"].is_string(), "{json}");
}

#[tokio::test]
async fn bad_bytes_in_the_request_line_get_a_400() {
    for line in [
        &b"GET /v1/users\x01 HTTP/1.1"[..],
        b"GET /v1/users/\xff\xfe HTTP/1.1",
        b"GET /v1/us ers HTTP/1.1",
        b"G\x00T /v1/users HTTP/1.1",
    ] {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\nHost: 127.0.0.1\r\n\r\n");
        let response = answer(&bytes).await;
        assert_clerk_error(&response, 400, "request_invalid");
    }
}

#[tokio::test]
async fn a_uri_too_long_gets_a_414() {
    let path = format!("GET /v1/users?query={} HTTP/1.1", "a".repeat(70_000));
    let response = answer(&request(&path, &[], "")).await;
    assert_clerk_error(&response, 414, "request_uri_too_long");
}

#[tokio::test]
async fn a_head_too_large_gets_a_431() {
    let big = format!("X-Big: {}", "b".repeat(500_000));
    let response = answer(&request("GET /v1/users HTTP/1.1", &[&big], "")).await;
    assert_clerk_error(&response, 431, "request_header_fields_too_large");
    let many: Vec<String> = (0..200).map(|i| format!("X-H{i}: v")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let response = answer(&request("GET /v1/users HTTP/1.1", &many, "")).await;
    assert_clerk_error(&response, 431, "request_header_fields_too_large");
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_a_400() {
    let bad = request(
        "POST /v1/allowlist_identifiers HTTP/1.1",
        &[
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        "",
    );
    let mut bytes = bad;
    bytes.extend_from_slice(b"zz\r\n{}\r\n0\r\n\r\n");
    let response = answer(&bytes).await;
    assert_clerk_error(&response, 400, "request_body_invalid");
}
