//! User layers: tower-http tracing and tower's concurrency limit fit the builder, run once per
//! attempt, see the Operation extension, and never see the secret key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use clerk_tower::api::{CreateAllowlistIdentifier, ListAllowlistIdentifiers};
use clerk_tower::{HttpRequest, HttpService, Operation, OperationInfo, RetryConfig};
use tower::limit::ConcurrencyLimitLayer;
use tower_http::trace::TraceLayer;

/// What a user layer saw of one request: the operation, the URI, whether a bearer was on it.
type Sighting = (Option<OperationInfo>, String, bool);

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Sighting>>>);

/// A layer that records what it sees: the operation, the URI, and whether a bearer header is
/// on the request at this depth.
fn recording(
    seen: Seen,
) -> impl tower::Layer<
    HttpService,
    Service = impl tower::Service<
        HttpRequest,
        Response = clerk_tower::HttpResponse,
        Error = clerk_tower::Error,
        Future = impl Send,
    > + Clone
                  + Send
                  + Sync,
> + Send
       + Sync
       + 'static {
    tower::layer::layer_fn(move |inner: HttpService| {
        let seen = seen.clone();
        tower::util::MapRequest::new(inner, move |req: HttpRequest| {
            seen.0.lock().unwrap().push((
                req.extensions().get::<OperationInfo>().cloned(),
                req.uri().to_string(),
                req.headers().contains_key(http::header::AUTHORIZATION),
            ));
            req
        })
    })
}

#[tokio::test]
async fn trace_and_concurrency_limit_layers_fit() {
    let (builder, mut handle) = mock_builder();
    let seen = Seen::default();
    let client = builder
        .retry(RetryConfig::disabled())
        .layer(TraceLayer::new_for_http())
        .layer(ConcurrencyLimitLayer::new(1))
        .layer(recording(seen.clone()))
        .build()
        .unwrap();

    // Two concurrent calls through a limit of one: the second waits until the first is done.
    let c1 = client.clone();
    let first = tokio::spawn(async move { c1.allowlist_identifiers().list().await });
    let (_req1, send1) = handle.next_request().await.unwrap();
    let c2 = client.clone();
    let second = tokio::spawn(async move { c2.allowlist_identifiers().create("a@b.com").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        seen.0.lock().unwrap().len(),
        1,
        "the limit holds the second call back"
    );
    respond(send1, 200, "[]");
    first.await.unwrap().unwrap();
    let (_req2, send2) = handle.next_request().await.unwrap();
    respond(send2, 200, IDENTIFIER_JSON);
    second.await.unwrap().unwrap();

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, Some(ListAllowlistIdentifiers::INFO));
    assert_eq!(seen[1].0, Some(CreateAllowlistIdentifier::INFO));
    assert_eq!(
        seen[0].1, "/allowlist_identifiers",
        "user layers see the path relative to the API root"
    );
    assert!(
        seen.iter().all(|(_, _, has_auth)| !has_auth),
        "user layers never see the secret"
    );
}

#[tokio::test]
async fn user_layers_run_once_per_attempt() {
    let (builder, mut handle) = mock_builder();
    let seen = Seen::default();
    let client = builder
        .retry(RetryConfig::default().backoff(Duration::from_millis(1), Duration::from_millis(2)))
        .layer(recording(seen.clone()))
        .build()
        .unwrap();
    let call = tokio::spawn(async move { client.allowlist_identifiers().list().await });
    let (_r, send) = handle.next_request().await.unwrap();
    respond(send, 503, "");
    let (_r, send) = handle.next_request().await.unwrap();
    respond(send, 200, "[]");
    call.await.unwrap().unwrap();
    assert_eq!(seen.0.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_trace_layer_does_not_print_the_secret() {
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    let buf = Buf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buf.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (builder, mut handle) = mock_builder();
    let client = builder
        .retry(RetryConfig::disabled())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(tower_http::trace::DefaultMakeSpan::new().include_headers(true)),
        )
        .build()
        .unwrap();
    let call = async { client.allowlist_identifiers().list().await };
    let answer = async {
        let (req, send) = handle.next_request().await.unwrap();
        // Debug of the request as the transport sees it: the sensitive header is hidden.
        assert!(!format!("{req:?}").contains(KEY));
        respond(send, 200, "[]");
    };
    let (res, ()) = tokio::join!(call, answer);
    res.unwrap();
    let logged = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("allowlist_identifiers"),
        "the trace layer logged the request: {logged}"
    );
    assert!(!logged.contains(KEY));
}

/// Call layers see each call once, above the retries and the total timeout; attempt layers see
/// every attempt. Neither sees the secret key.
#[tokio::test(start_paused = true)]
async fn call_layers_see_the_whole_call_and_attempt_layers_each_attempt() {
    let (builder, mut handle) = mock_builder();
    let calls = Seen::default();
    let attempts = Seen::default();
    let client = builder
        .retry(RetryConfig::default().backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .call_layer(recording(calls.clone()))
        .layer(recording(attempts.clone()))
        .build()
        .unwrap();

    let call = tokio::spawn(async move { client.allowlist_identifiers().list().await });
    for status in [503, 429] {
        let (_req, send) = handle.next_request().await.unwrap();
        respond(send, status, "");
    }
    let (_req, send) = handle.next_request().await.unwrap();
    respond(send, 200, "[]");
    assert!(call.await.unwrap().is_ok());

    let calls = calls.0.lock().unwrap().clone();
    let attempts = attempts.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one call: {calls:?}");
    assert_eq!(attempts.len(), 3, "three attempts: {attempts:?}");
    let list = ListAllowlistIdentifiers::INFO;
    assert_eq!(calls[0].0, Some(list.clone()));
    assert_eq!(
        calls[0].1, "/allowlist_identifiers",
        "relative, as the call was built"
    );
    for (op, _uri, keyed) in calls.iter().chain(&attempts) {
        assert_eq!(*op, Some(list.clone()));
        assert!(!keyed, "no layer of the user's sees the key");
    }
}

/// A call layer that fails the call turns into `Error::Middleware`, and one that limits
/// concurrency holds whole calls back (retries included), not attempts.
#[tokio::test(start_paused = true)]
async fn a_call_layer_limits_whole_calls() {
    let (builder, mut handle) = mock_builder();
    let client = builder
        .retry(RetryConfig::default().backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .call_layer(ConcurrencyLimitLayer::new(1))
        .build()
        .unwrap();
    let c1 = client.clone();
    let first = tokio::spawn(async move { c1.allowlist_identifiers().list().await });
    let (_req, send) = handle.next_request().await.unwrap();
    let c2 = client.clone();
    let second = tokio::spawn(async move { c2.allowlist_identifiers().list().await });
    // The first call's retry goes out before the second call's first attempt.
    respond(send, 503, "");
    let (_req, send) = handle.next_request().await.unwrap();
    respond(send, 200, "[]");
    assert!(first.await.unwrap().is_ok());
    let (_req, send) = handle.next_request().await.unwrap();
    respond(send, 200, "[]");
    assert!(second.await.unwrap().is_ok());

    let failing = mock_builder()
        .0
        .call_layer(tower::layer::layer_fn(|_inner: HttpService| {
            tower::service_fn(|_req: HttpRequest| async {
                Err::<clerk_tower::HttpResponse, _>("refused by my call layer")
            })
        }))
        .build()
        .unwrap();
    let err = failing.allowlist_identifiers().list().await.unwrap_err();
    assert!(matches!(err, clerk_tower::Error::Middleware(_)), "{err:?}");
}
