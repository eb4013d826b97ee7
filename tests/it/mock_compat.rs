//! The mock's wire format as other HTTP clients see it: hand-written HTTP/1.x bytes over a
//! plain `TcpStream` (not our client, not hyper's client) against `MockClerk::serve()` and the
//! `clerk-mock` binary, with the variations real clients send: query parameters in any order
//! or absent, `true`/`false`, `Content-Type` with a charset, no `Accept`, keep-alive and
//! `Connection: close`, HTTP/1.0 and 1.1, chunked request bodies, `Expect: 100-continue`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::raw_http::{request, Conn, RawResponse, KEY, WAIT};
use clerk_tower::mock::{MockClerk, MockServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

async fn one(addr: SocketAddr, bytes: &[u8]) -> RawResponse {
    let mut conn = Conn::open(addr).await;
    conn.send(bytes).await;
    conn.response().await
}

async fn serve_with(n: usize) -> (MockClerk, MockServer) {
    let mock = MockClerk::new();
    for i in 0..n {
        mock.insert(&format!("user{i:02}@example.com")).unwrap();
    }
    let server = mock.serve().await.expect("bind 127.0.0.1");
    (mock, server)
}

/// All orderings of all subsets of `items`.
fn arrangements<'a>(items: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut out = vec![Vec::new()];
    for (i, item) in items.iter().enumerate() {
        let rest: Vec<&str> = items
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| *s)
            .collect();
        for mut tail in arrangements(&rest) {
            tail.insert(0, item);
            if !out.contains(&tail) {
                out.push(tail);
            }
        }
    }
    out
}

#[tokio::test]
async fn list_parameters_in_any_order_or_absent() {
    let (mock, server) = serve_with(12).await;
    let all = mock.identifiers();
    let orders = arrangements(&["paginated=true", "limit=3", "offset=2"]);
    assert_eq!(orders.len(), 16);
    for params in orders {
        let target = if params.is_empty() {
            "/v1/allowlist_identifiers".to_owned()
        } else {
            format!("/v1/allowlist_identifiers?{}", params.join("&"))
        };
        let res = one(
            server.addr(),
            &request(&format!("GET {target} HTTP/1.1"), &[], ""),
        )
        .await;
        assert_eq!(res.status, 200, "{target}");
        res.assert_json_with_length();
        let body = res.json();
        let has = |p: &str| params.contains(&p);
        if has("paginated=true") {
            let offset = if has("offset=2") { 2 } else { 0 };
            let limit = if has("limit=3") { 3 } else { 10 };
            let ids: Vec<&str> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap())
                .collect();
            let want: Vec<&str> = all
                .iter()
                .skip(offset)
                .take(limit)
                .map(|i| i.id.as_str())
                .collect();
            assert_eq!(ids, want, "{target}");
            assert_eq!(body["total_count"], 12, "{target}");
        } else {
            // Without paginated=true: every identifier, as a bare array (docs/spec-notes.md).
            assert_eq!(body.as_array().map(Vec::len), Some(12), "{target}");
        }
    }
}

#[tokio::test]
async fn booleans_true_and_false() {
    let (_mock, server) = serve_with(3).await;
    let get = |q: &str| {
        request(
            &format!("GET /v1/allowlist_identifiers?{q} HTTP/1.1"),
            &[],
            "",
        )
    };
    let paged = one(server.addr(), &get("paginated=true&limit=1")).await;
    assert_eq!(paged.status, 200);
    assert_eq!(paged.json()["total_count"], 3);
    let bare = one(server.addr(), &get("paginated=false&limit=1")).await;
    assert_eq!(bare.status, 200);
    assert_eq!(bare.json().as_array().map(Vec::len), Some(3));
    let bad = one(server.addr(), &get("paginated=yes")).await;
    assert_eq!(bad.status, 422);
    bad.assert_json_with_length();
    assert_eq!(bad.json()["errors"][0]["code"], "form_param_type_invalid");

    let create = |notify: &str, who: &str| {
        let body = format!(r#"{{"identifier":"{who}@example.com","notify":{notify}}}"#);
        request(
            "POST /v1/allowlist_identifiers HTTP/1.1",
            &["Content-Type: application/json"],
            &body,
        )
    };
    let with = one(server.addr(), &create("true", "invited")).await;
    assert_eq!(with.status, 200);
    assert!(with.json()["invitation_id"]
        .as_str()
        .is_some_and(|i| i.starts_with("inv_")));
    let without = one(server.addr(), &create("false", "quiet")).await;
    assert_eq!(without.status, 200);
    assert!(without.json().get("invitation_id").is_none());
    let quoted = one(server.addr(), &create("\"true\"", "quoted")).await;
    assert_eq!(quoted.status, 422, "a JSON string is not a boolean");
}

#[tokio::test]
async fn content_types_with_charset_and_none() {
    let (mock, server) = serve_with(0).await;
    for (i, ct) in [
        Some("Content-Type: application/json; charset=utf-8"),
        Some("Content-Type: application/json;charset=UTF-8"),
        Some("content-type: Application/JSON"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(r#"{{"identifier":"ct{i}@example.com"}}"#);
        let extra: Vec<&str> = ct.into_iter().collect();
        let res = one(
            server.addr(),
            &request("POST /v1/allowlist_identifiers HTTP/1.1", &extra, &body),
        )
        .await;
        assert_eq!(
            res.status,
            200,
            "{ct:?}: {}",
            String::from_utf8_lossy(&res.body)
        );
        res.assert_json_with_length();
        assert_eq!(res.json()["identifier"], format!("ct{i}@example.com"));
        assert_eq!(res.json()["object"], "allowlist_identifier");
    }
    let form = request(
        "POST /v1/allowlist_identifiers HTTP/1.1",
        &["Content-Type: application/x-www-form-urlencoded"],
        "identifier=form%40example.com",
    );
    let res = one(server.addr(), &form).await;
    assert_eq!(res.status, 415);
    res.assert_json_with_length();
    assert_eq!(mock.identifiers().len(), 4);
}

#[tokio::test]
async fn accept_header_missing_or_any() {
    let (_mock, server) = serve_with(1).await;
    for accept in [
        None,
        Some("Accept: */*"),
        Some("Accept: application/json"),
        Some("Accept: text/html"),
    ] {
        let extra: Vec<&str> = accept.into_iter().collect();
        let res = one(
            server.addr(),
            &request("GET /v1/allowlist_identifiers HTTP/1.1", &extra, ""),
        )
        .await;
        assert_eq!(res.status, 200, "{accept:?}");
        res.assert_json_with_length();
        assert_eq!(res.json().as_array().map(Vec::len), Some(1));
    }
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let (mock, server) = serve_with(0).await;
    let mut conn = Conn::open(server.addr()).await;
    conn.send(&request(
        "POST /v1/allowlist_identifiers HTTP/1.1",
        &["Content-Type: application/json"],
        r#"{"identifier":"ka@example.com"}"#,
    ))
    .await;
    let created = conn.response().await;
    assert_eq!(
        (created.version.as_str(), created.status),
        ("HTTP/1.1", 200)
    );
    created.assert_json_with_length();
    assert_ne!(created.header("connection"), Some("close"));
    let id = created.json()["id"].as_str().unwrap().to_owned();

    conn.send(&request(
        "GET /v1/allowlist_identifiers?paginated=true HTTP/1.1",
        &[],
        "",
    ))
    .await;
    let listed = conn.response().await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["data"][0]["id"], id.as_str());

    // Two requests in one write (pipelined), answered in order.
    let mut both = request(
        &format!("DELETE /v1/allowlist_identifiers/{id} HTTP/1.1"),
        &[],
        "",
    );
    both.extend(request(
        &format!("DELETE /v1/allowlist_identifiers/{id} HTTP/1.1"),
        &[],
        "",
    ));
    conn.send(&both).await;
    let deleted = conn.response().await;
    assert_eq!(deleted.status, 200);
    deleted.assert_json_with_length();
    assert_eq!(
        deleted.json(),
        serde_json::json!({"object": "allowlist_identifier", "id": id, "deleted": true})
    );
    let again = conn.response().await;
    assert_eq!(again.status, 404);
    again.assert_json_with_length();
    assert_eq!(again.json()["errors"][0]["code"], "resource_not_found");
    assert_eq!(mock.requests().len(), 4);
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let (_mock, server) = serve_with(1).await;
    let mut conn = Conn::open(server.addr()).await;
    conn.send(&request(
        "GET /v1/allowlist_identifiers HTTP/1.1",
        &["Connection: close"],
        "",
    ))
    .await;
    let res = conn.response().await;
    assert_eq!(res.status, 200);
    res.assert_json_with_length();
    assert_eq!(res.header("connection"), Some("close"));
    assert!(
        conn.closed_by_server().await,
        "the server closes after Connection: close"
    );

    // An error answer closes too.
    let mut conn = Conn::open(server.addr()).await;
    conn.send(b"GET /v1/allowlist_identifiers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let res = conn.response().await;
    assert_eq!(res.status, 401);
    res.assert_json_with_length();
    assert!(conn.closed_by_server().await);
}

#[tokio::test]
async fn http_1_0_requests() {
    let (_mock, server) = serve_with(2).await;
    // No Host, no keep-alive: one answer, then the server closes.
    let mut conn = Conn::open(server.addr()).await;
    conn.send(format!("GET /v1/allowlist_identifiers?limit=1&paginated=true HTTP/1.0\r\nAuthorization: Bearer {KEY}\r\n\r\n").as_bytes())
        .await;
    let res = conn.response().await;
    assert_eq!(res.status, 200);
    assert!(
        res.version == "HTTP/1.0" || res.version == "HTTP/1.1",
        "{}",
        res.version
    );
    res.assert_json_with_length();
    assert_eq!(res.json()["data"].as_array().map(Vec::len), Some(1));
    assert!(
        conn.closed_by_server().await,
        "HTTP/1.0 without keep-alive closes"
    );

    // HTTP/1.0 with Connection: keep-alive: two requests on one connection.
    let mut conn = Conn::open(server.addr()).await;
    for _ in 0..2 {
        conn.send(&request(
            "GET /v1/allowlist_identifiers HTTP/1.0",
            &["Connection: keep-alive"],
            "",
        ))
        .await;
        let res = conn.response().await;
        assert_eq!(res.status, 200);
        res.assert_json_with_length();
        assert_eq!(res.json().as_array().map(Vec::len), Some(2));
    }

    // A create over HTTP/1.0 (a body with Content-Length).
    let res = one(
        server.addr(),
        &request(
            "POST /v1/allowlist_identifiers HTTP/1.0",
            &["Content-Type: application/json"],
            r#"{"identifier":"+15555550123"}"#,
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["identifier_type"], "phone_number");
}

#[tokio::test]
async fn chunked_bodies_and_expect_continue() {
    let (mock, server) = serve_with(0).await;
    // A chunked body, as clients that stream their body send it.
    let body = r#"{"identifier":"chunked@example.com","notify":false}"#;
    let (a, b) = body.split_at(10);
    let mut bytes = request(
        "POST /v1/allowlist_identifiers HTTP/1.1",
        &[
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        "",
    );
    bytes.extend(format!("{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n", a.len(), b.len()).into_bytes());
    let res = one(server.addr(), &bytes).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["identifier"], "chunked@example.com");

    // Expect: 100-continue (curl sends it for larger bodies): the server says go on.
    let body = r#"{"identifier":"expect@example.com"}"#;
    let mut conn = Conn::open(server.addr()).await;
    let head = request(
        "POST /v1/allowlist_identifiers HTTP/1.1",
        &[
            "Content-Type: application/json",
            "Expect: 100-continue",
            &format!("Content-Length: {}", body.len()),
        ],
        "",
    );
    // The head only (the Content-Length is in it); the body follows the 100.
    conn.send(&head).await;
    let go_on = conn.response().await;
    assert_eq!(go_on.status, 100);
    conn.send(body.as_bytes()).await;
    let res = conn.response().await;
    assert_eq!(res.status, 200);
    res.assert_json_with_length();
    assert_eq!(mock.identifiers().len(), 2);
}

#[tokio::test]
async fn percent_encoded_ids_and_errors_over_the_wire() {
    let (mock, server) = serve_with(1).await;
    let id = mock.identifiers()[0].id.clone();
    // An unreserved character percent-encoded still names the same id.
    let encoded: String = id
        .chars()
        .map(|c| {
            if c == '_' {
                "%5F".to_owned()
            } else {
                c.to_string()
            }
        })
        .collect();
    let res = one(
        server.addr(),
        &request(
            &format!("DELETE /v1/allowlist_identifiers/{encoded} HTTP/1.1"),
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["id"], id.as_str());
    for (start, status) in [
        ("DELETE /v1/allowlist_identifiers/a%2Fb HTTP/1.1", 404),
        ("DELETE /v1/allowlist_identifiers/a/b HTTP/1.1", 404),
        ("PUT /v1/allowlist_identifiers HTTP/1.1", 405),
        ("GET /v1/unknown HTTP/1.1", 404),
        ("GET /allowlist_identifiers HTTP/1.1", 404),
    ] {
        let res = one(server.addr(), &request(start, &[], "")).await;
        assert_eq!(res.status, status, "{start}");
        res.assert_json_with_length();
        let body = res.json();
        assert!(body["errors"][0]["code"].is_string(), "{body}");
        assert!(body["errors"][0]["long_message"].is_string(), "{body}");
        let trace = body["clerk_trace_id"].as_str().unwrap();
        assert_eq!(trace.len(), 32, "{trace}");
        if status == 405 {
            assert_eq!(res.header("allow"), Some("GET, POST"));
        }
    }
}

/// The `clerk-mock` binary: started on a free port, it prints its base URL, answers one raw
/// request with a preloaded identifier, logs it on stderr, and is killed.
#[tokio::test]
async fn clerk_mock_binary_serves_raw_http() {
    let Some(exe) = option_env!("CARGO_BIN_EXE_clerk-mock") else {
        eprintln!("skipping: the clerk-mock binary is not built (it needs the `mock` feature: cargo test --all-features)");
        return;
    };
    let preload =
        std::env::temp_dir().join(format!("clerk-mock-preload-{}.json", std::process::id()));
    std::fs::write(
        &preload,
        r#"["bin@example.com", {"identifier": "+15555550199", "notify": true}]"#,
    )
    .unwrap();
    let mut child = tokio::process::Command::new(exe)
        .args(["--addr", "127.0.0.1:0", "--seed", "7", "--preload"])
        .arg(&preload)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn clerk-mock");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .expect("clerk-mock prints its address in time")
        .unwrap()
        .expect("a line on stdout");
    let base = line
        .split("listening on ")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim();
    let rest = base.strip_prefix("http://").expect("an http URL");
    let (authority, prefix) = rest.split_once('/').expect("a path");
    assert_eq!(prefix, "v1");
    let addr: SocketAddr = authority.parse().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let mut conn = Conn::open(addr).await;
    conn.send(
        b"GET /v1/allowlist_identifiers?paginated=true HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer sk_test_anything\r\nConnection: close\r\n\r\n",
    )
    .await;
    let res = conn.response().await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    res.assert_json_with_length();
    let body = res.json();
    assert_eq!(body["total_count"], 2);
    let identifiers: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["identifier"].as_str())
        .collect();
    assert!(
        identifiers.contains(&"bin@example.com") && identifiers.contains(&"+15555550199"),
        "{identifiers:?}"
    );

    // The request is logged in one line on stderr.
    let logged = timeout(WAIT, async {
        while let Ok(Some(line)) = stderr.next_line().await {
            if line.contains("/v1/allowlist_identifiers") {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("a log line in time")
    .expect("a request log line");
    assert!(
        logged.starts_with("GET /v1/allowlist_identifiers?paginated=true 200"),
        "{logged}"
    );

    child.kill().await.expect("kill clerk-mock");
    let _ = std::fs::remove_file(&preload);
}
