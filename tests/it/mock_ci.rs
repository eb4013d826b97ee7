//! The mock as other teams' CI runs it: the TCP server against clients that stall in the
//! middle of a request.
#![cfg(unix)]

use std::time::Duration;

use clerk_tower::mock::{MockClerk, MockOperation};

use crate::mock_compat::{request, Conn, KEY};

// ---------------------------------------------------------------- stalled clients, library

/// Issue: a request with complete headers and an unfinished body held its connection open
/// indefinitely. After the body timeout the mock answers 408 with Clerk's error shape and
/// closes the connection; the request does not count as an attempt of its operation.
#[tokio::test]
async fn a_stalled_body_gets_a_408_and_the_connection_closed() {
    let mock = MockClerk::new()
        .with_body_timeout(Duration::from_millis(200))
        .expect("a valid timeout");
    let server = mock.serve().await.expect("bind 127.0.0.1");

    // A Content-Length body that stops short, then a chunked body that stops after a chunk.
    let heads: [&[u8]; 2] = [
        b"Content-Length: 100\r\n\r\n{\"identifier\":",
        b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"ide\r\n",
    ];
    for tail in heads {
        let mut bytes = format!(
            "POST /v1/allowlist_identifiers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Type: application/json\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(tail);
        let mut conn = Conn::open(server.addr()).await;
        conn.send(&bytes).await;
        let res = conn.response().await;
        assert_eq!(res.status, 408, "{}", String::from_utf8_lossy(&res.body));
        res.assert_json_with_length();
        assert_eq!(res.header("connection"), Some("close"));
        let body = res.json();
        assert_eq!(body["errors"][0]["code"], "request_timeout", "{body}");
        assert_eq!(
            res.header("clerk-trace-id"),
            body["clerk_trace_id"].as_str()
        );
        assert!(conn.closed_by_server().await, "the connection is closed");
    }

    assert!(mock.identifiers().is_empty());
    assert_eq!(mock.request_count(MockOperation::Create), 0);
    let log = mock.requests();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|r| r.status == Some(http::StatusCode::REQUEST_TIMEOUT) && r.attempt == 0));

    // A body that arrives in time, even in pieces, is served as usual.
    let (first, second) = ("{\"identifier\":", "\"ada@example.com\"}");
    let mut conn = Conn::open(server.addr()).await;
    conn.send(
        format!(
            "POST /v1/allowlist_identifiers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Length: {}\r\n\r\n{first}",
            first.len() + second.len()
        )
        .as_bytes(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    conn.send(second.as_bytes()).await;
    let res = conn.response().await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(mock.request_count(MockOperation::Create), 1);
    server.shutdown().await;
}

/// A head that never completes, and a keep-alive connection left idle, are closed after the
/// header timeout.
#[tokio::test]
async fn a_stalled_head_and_an_idle_connection_are_closed() {
    let mock = MockClerk::new()
        .with_header_timeout(Duration::from_millis(200))
        .expect("a valid timeout");
    let server = mock.serve().await.expect("bind 127.0.0.1");

    let mut conn = Conn::open(server.addr()).await;
    conn.send(b"GET /v1/allowlist_identifiers HTTP/1.1\r\nHost: x\r\n")
        .await;
    assert!(conn.closed_by_server().await, "no answer, closed");

    let mut conn = Conn::open(server.addr()).await;
    conn.send(&request("GET /v1/allowlist_identifiers HTTP/1.1", &[], ""))
        .await;
    assert_eq!(conn.response().await.status, 200);
    assert!(conn.closed_by_server().await, "idle, then closed");
    assert_eq!(mock.request_count(MockOperation::List), 1);
    server.shutdown().await;
}

/// Timeouts of zero, or too long to be a deadline, are refused with a typed error.
#[test]
fn bad_timeouts_are_refused() {
    for bad in [
        Duration::ZERO,
        Duration::MAX,
        Duration::from_secs(365 * 24 * 3600),
    ] {
        let err = MockClerk::new().with_body_timeout(bad).unwrap_err();
        assert!(err.to_string().contains("body timeout"), "{err}");
        let err = MockClerk::new().with_header_timeout(bad).unwrap_err();
        assert!(err.to_string().contains("header timeout"), "{err}");
    }
    assert!(MockClerk::new()
        .with_body_timeout(Duration::from_millis(1))
        .is_ok());
}
