//! The default network transport: pooled keep-alive connections, a real idle timeout, and
//! connect errors told apart from the rest. A hand-written HTTP/1.1 server on 127.0.0.1 lets the
//! test watch the sockets themselves.

use std::time::{Duration, Instant};

use clerk_tower::error::TransportErrorKind;
use clerk_tower::transport::TransportConfig;
use clerk_tower::{Client, Error, RetryConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the server saw of one connection.
#[derive(Debug)]
enum Event {
    Accepted,
    Request,
    Closed(Instant),
}

/// A minimal keep-alive server answering `[]` to every request; reports connection events.
async fn server() -> (String, mpsc::UnboundedReceiver<Event>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let _ = tx.send(Event::Accepted);
            tokio::spawn(serve_connection(stream, tx));
        }
    });
    (format!("http://{addr}/v1"), rx)
}

async fn serve_connection(mut stream: TcpStream, tx: mpsc::UnboundedSender<Event>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                let _ = tx.send(Event::Closed(Instant::now()));
                return;
            }
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let _ = tx.send(Event::Request);
            let res =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]";
            if stream.write_all(res).await.is_err() {
                return;
            }
        }
    }
}

fn client(base_url: &str, idle: Duration) -> Client {
    Client::builder()
        .secret_key("sk_test_transport")
        .base_url(base_url)
        .retry(RetryConfig::disabled())
        .transport_config(TransportConfig {
            pool_idle_timeout: idle,
            ..TransportConfig::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn connections_are_reused_and_closed_when_idle() {
    let (base_url, mut events) = server().await;
    let client = client(&base_url, Duration::from_millis(300));
    for _ in 0..3 {
        client.allowlist_identifiers().list().await.unwrap();
    }
    let done = Instant::now();
    let mut accepted = 0;
    let mut requests = 0;
    let closed_at = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(Event::Accepted)) => accepted += 1,
            Ok(Some(Event::Request)) => requests += 1,
            Ok(Some(Event::Closed(at))) => break at,
            Ok(None) | Err(_) => panic!("the idle connection was never closed by the client"),
        }
    };
    assert_eq!(
        (accepted, requests),
        (1, 3),
        "three calls on one kept-alive connection"
    );
    let idle = closed_at - done;
    // The pool's timer closes it after ~300 ms idle, with no further call to trigger a check.
    assert!(
        idle >= Duration::from_millis(200) && idle < Duration::from_secs(3),
        "closed after {idle:?}"
    );
    drop(client);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    // Bind, learn the port, close: nothing listens there any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client(
        &format!("http://127.0.0.1:{port}/v1"),
        Duration::from_secs(90),
    );
    let err = client.allowlist_identifiers().list().await.unwrap_err();
    match &err {
        Error::Transport(t) => assert_eq!(t.kind(), TransportErrorKind::Connect, "{err}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[tokio::test]
async fn https_is_spoken_to_https_urls() {
    // A plain-HTTP server behind an https:// URL: the TLS handshake fails, typed, no panic.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let client = client(
        &format!("https://localhost:{port}/v1"),
        Duration::from_secs(90),
    );
    let err = client.allowlist_identifiers().list().await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

/// A listener that accepts TCP connections, holds them open and never writes a byte (so a
/// TLS ClientHello is never answered); reports each accepted connection.
async fn silent_listener() -> (u16, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            let _ = tx.send(());
            held.push(stream);
        }
    });
    (port, rx)
}

#[tokio::test]
async fn a_silent_tls_handshake_is_a_connect_timeout_retried_for_a_create() {
    // TCP connects at once; the TLS handshake never completes. `connect_timeout` promises to
    // bound "TCP and TLS": the attempt must end as a connect error (never written, so even a
    // create is retried), not run into the total timeout.
    let (port, mut accepted) = silent_listener().await;
    let max_retries = 2;
    let client = Client::builder()
        .secret_key("sk_test_transport")
        .base_url(format!("https://localhost:{port}/v1"))
        .timeout(Duration::from_secs(10))
        .retry(
            RetryConfig::default()
                .max_retries(max_retries)
                .backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .transport_config(TransportConfig {
            connect_timeout: Duration::from_millis(200),
            ..TransportConfig::default()
        })
        .build()
        .unwrap();
    let err = client
        .allowlist_identifiers()
        .create("ada@example.com")
        .await
        .unwrap_err();
    match &err {
        Error::Transport(t) => {
            assert!(t.is_connect(), "{err}");
            assert_eq!(t.kind(), TransportErrorKind::Connect, "{err}");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(err.to_string().contains("connect timeout"), "{err}");
    assert_eq!(err.attempts(), max_retries + 1, "{err}");
    let mut connections = 0;
    while accepted.try_recv().is_ok() {
        connections += 1;
    }
    assert_eq!(
        connections,
        max_retries + 1,
        "one connection per attempt, the create retried"
    );
}

thread_local! {
    static PANICKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether anything panicked on this thread since the last call. A `current_thread` runtime
/// (what `#[tokio::test]` gives) runs spawned tasks, hyper-util's pool timer among them, on
/// the test's own thread, where their panics would otherwise go unnoticed: the runtime
/// swallows them. The hook is installed once and hands every panic on to the previous hook.
fn panicked_on_this_thread() -> bool {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.with(|p| p.set(true));
            previous(info);
        }));
    });
    PANICKED.with(|p| p.replace(false))
}

#[tokio::test]
async fn durations_too_long_to_elapse_mean_no_limit_and_never_panic() {
    assert!(!panicked_on_this_thread());
    let server = clerk_tower::mock::MockClerk::new().serve().await.unwrap();
    let client = crate::e2e::tcp_builder(&server)
        .transport_config(TransportConfig {
            connect_timeout: Duration::MAX,
            pool_idle_timeout: Duration::MAX,
            tcp_keepalive: Some(Duration::MAX),
            ..TransportConfig::default()
        })
        .build()
        .unwrap();
    for _ in 0..2 {
        client.allowlist_identifiers().list().await.unwrap();
    }
    // Give the pool's idle timer (armed once the connection went idle) time to run.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(client);
    server.shutdown().await;
    assert!(
        !panicked_on_this_thread(),
        "a task panicked (see the output above)"
    );
}

#[test]
fn a_zero_connect_timeout_is_a_config_error() {
    let err = Client::builder()
        .secret_key("sk_test_transport")
        .transport_config(TransportConfig {
            connect_timeout: Duration::ZERO,
            ..TransportConfig::default()
        })
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(c) if c.message().contains("connect_timeout")),
        "{err:?}"
    );
}
