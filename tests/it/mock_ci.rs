//! The mock as other teams' CI runs it: the `clerk-mock` binary with its stderr a pipe nobody
//! reads, `--addr 0.0.0.0:PORT`, odd arguments; and the TCP server against clients that stall
//! in the middle of a request.
//!
//! The binary tests need the binary (`cargo test --all-features`); without it they say so and
//! pass.
#![cfg(unix)]

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;
use std::time::Duration;

use clerk_tower::mock::{MockClerk, MockOperation};
use clerk_tower::Client;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

use crate::raw_http::{request, Conn, KEY};

/// How long a spawned binary may take to print its address (the first run may be slow on a
/// busy machine).
const START: Duration = Duration::from_secs(20);

/// The built `clerk-mock`, when the `mock` feature is on.
fn exe() -> Option<&'static str> {
    let exe = option_env!("CARGO_BIN_EXE_clerk-mock");
    if exe.is_none() {
        eprintln!("skipping: the clerk-mock binary is not built (it needs the `mock` feature: cargo test --all-features)");
    }
    exe
}

/// Starts `clerk-mock` with `args`, stdout piped.
fn spawn<I, S>(exe: &str, args: I, stderr: Stdio) -> Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn clerk-mock")
}

fn stdout_lines(child: &mut Child) -> Lines<BufReader<ChildStdout>> {
    BufReader::new(child.stdout.take().expect("stdout piped")).lines()
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    timeout(START, lines.next_line())
        .await
        .expect("clerk-mock prints in time")
        .expect("stdout readable")
        .expect("a line on stdout")
}

/// The base URL of a `clerk-mock listening on URL` line.
fn base_url(line: &str) -> &str {
    line.strip_prefix("clerk-mock listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim()
}

/// The socket address of a `http://ADDR/v1` base URL.
fn addr_of(url: &str) -> SocketAddr {
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/v1"))
        .unwrap_or_else(|| panic!("not http://ADDR/v1: {url:?}"));
    authority.parse().expect("an IP and a port")
}

/// Sends SIGTERM (through `kill(1)`; skipped when it is missing) and waits for a clean exit.
async fn terminate(child: &mut Child, why: &str) {
    let pid = child.id().expect("still running");
    match std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
    {
        Ok(status) => assert!(status.success(), "kill -TERM {pid}: {status}"),
        Err(e) => {
            eprintln!("skipping the SIGTERM check: cannot run kill(1): {e}");
            return;
        }
    }
    let exit = timeout(START, child.wait())
        .await
        .unwrap_or_else(|_| panic!("clerk-mock stops on SIGTERM {why}"))
        .expect("wait for clerk-mock");
    assert!(
        exit.success(),
        "clerk-mock exits cleanly on SIGTERM: {exit}"
    );
}

/// Issue: the server stopped answering after about 600 requests when its stderr was a pipe
/// that nobody read (every request wrote its log line synchronously, and the writes blocked
/// once the pipe was full). Logging must never block request handling, nor the shutdown.
#[tokio::test]
async fn a_stderr_nobody_reads_never_stops_the_server() {
    const REQUESTS: usize = 2000;
    let Some(exe) = exe() else { return };
    let mut child = spawn(exe, ["--addr", "127.0.0.1:0"], Stdio::piped());
    // Held open and never read: once the pipe buffer (64 KiB on Linux) is full, a write to
    // stderr blocks.
    let _stderr = child.stderr.take().expect("stderr piped");
    let mut stdout = stdout_lines(&mut child);
    let addr = addr_of(base_url(&next_line(&mut stdout).await));

    // Each request makes a log line of about 2 KiB: the pipe is full after some 30 of them.
    let path = format!("/v1/allowlist_identifiers?pad={}", "x".repeat(2000));
    let bytes = request(&format!("GET {path} HTTP/1.1"), &[], "");
    let mut conn = Conn::open(addr).await;
    for i in 0..REQUESTS {
        conn.send(&bytes).await;
        // `response` fails if nothing comes within 5 s.
        let res = conn.response().await;
        assert_eq!(res.status, 200, "request {i}");
    }
    drop(conn);
    terminate(&mut child, "although its stderr is full").await;
}

/// Issue: `--addr 0.0.0.0:PORT` printed `http://0.0.0.0:PORT/v1`, which the client refuses
/// (plain http only to loopback). The printed URL is a loopback one, and a second line says
/// that the server listens on every interface.
#[tokio::test]
async fn every_interface_prints_a_loopback_url_the_client_accepts() {
    let Some(exe) = exe() else { return };
    let mut child = spawn(exe, ["--addr", "0.0.0.0:0"], Stdio::null());
    let mut stdout = stdout_lines(&mut child);
    let first = next_line(&mut stdout).await;
    let url = base_url(&first).to_owned();
    let addr = addr_of(&url);
    assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST, "{first}");
    assert_ne!(addr.port(), 0, "{first}");
    let second = next_line(&mut stdout).await;
    assert!(
        second.contains("every interface") && second.contains(&format!(":{}", addr.port())),
        "{second}"
    );

    let client = Client::builder()
        .secret_key("sk_test_ci")
        .base_url(&url)
        .build()
        .expect("the client accepts the printed URL");
    let page = client
        .allowlist_identifiers()
        .list()
        .paginated(true)
        .await
        .expect("the mock answers at the printed URL");
    assert_eq!(page.total_count, Some(0));
    terminate(&mut child, "").await;
}

/// Issue: arguments were read with `std::env::args()`, which panics on an argument that is
/// not UTF-8. It is a usage error (exit code 2) like any other. (A file name need not be
/// UTF-8: `--preload` and `--faults` take any path.)
#[tokio::test]
async fn non_utf8_arguments_are_a_usage_error() {
    let Some(exe) = exe() else { return };
    let bad = |bytes: &'static [u8]| OsStr::from_bytes(bytes);
    // The arguments, and what the error message says (clap words an unknown flag differently
    // from one version to the next).
    let cases: [(Vec<&OsStr>, &str); 5] = [
        (
            vec!["--secret-key".as_ref(), bad(b"sk_test_\xff\xfe")],
            "UTF-8",
        ),
        (vec![bad(b"--secret-key=sk_test_\xff")], "UTF-8"),
        (vec!["--addr".as_ref(), bad(b"127.0.0.1:\xff")], "UTF-8"),
        (vec![bad(b"--addr\xff"), "127.0.0.1:0".as_ref()], "error:"),
        (vec![bad(b"\xff")], "error:"),
    ];
    for (args, says) in cases {
        let out = timeout(
            START,
            Command::new(exe)
                .args(&args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("clerk-mock exits in time")
        .expect("run clerk-mock");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// `--help` lists every flag and `--version` prints the version, both with exit code 0; an
/// unknown flag or a bad value is a usage error with exit code 2.
#[tokio::test]
async fn help_version_and_usage_errors() {
    let Some(exe) = exe() else { return };
    let run = |args: &'static [&'static str]| async move {
        timeout(
            START,
            Command::new(exe)
                .args(args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("clerk-mock exits in time")
        .expect("run clerk-mock")
    };
    let help = run(&["--help"]).await;
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--addr",
        "--secret-key",
        "--preload",
        "--faults",
        "--seed",
        "--body-timeout",
        "--header-timeout",
        "--version",
    ] {
        assert!(text.contains(flag), "--help lists {flag}: {text}");
    }
    let version = run(&["--version"]).await;
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("clerk-mock {}", env!("CARGO_PKG_VERSION"))
    );
    for bad in [
        &["--bogus"][..],
        &["stray"],
        &["--addr"],
        &["--addr="],
        &["--seed", "x"],
        &["--body-timeout", "0"],
        &["--body-timeout", "soon"],
        &["--header-timeout", "-1s"],
        &["--body-timeout", "999999999999999999999s"],
    ] {
        let out = run(bad).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bad:?}: {stderr}");
    }
}

/// `--body-timeout` reaches the server: a body that stalls gets a 408.
#[tokio::test]
async fn the_body_timeout_flag_reaches_the_server() {
    let Some(exe) = exe() else { return };
    let mut child = spawn(
        exe,
        ["--addr", "127.0.0.1:0", "--body-timeout", "200ms"],
        Stdio::null(),
    );
    let mut stdout = stdout_lines(&mut child);
    let addr = addr_of(base_url(&next_line(&mut stdout).await));
    let mut conn = Conn::open(addr).await;
    conn.send(
        b"POST /v1/allowlist_identifiers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_ci\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"identifier\":",
    )
    .await;
    let res = conn.response().await;
    assert_eq!(res.status, 408);
    assert!(conn.closed_by_server().await);
    terminate(&mut child, "").await;
}

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
