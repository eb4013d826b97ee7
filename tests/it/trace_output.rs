//! The built-in `tracing` output: one span per call with its retries as events, and never the
//! secret key, a body or an identifier value in any line of it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation};
use clerk_tower::{Client, RetryConfig};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;

/// Everything the subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const EMAIL: &str = "ada.lovelace@example.com";
const PHONE: &str = "+15555550123";
const SECRET: &str = "sk_test_tracing_scan_secret_4f9a";

/// Runs calls with retries, a 4xx and a 5xx against the mock over TCP, with every span and
/// event of every target captured at TRACE, and scans each line.
#[test]
fn tracing_output_has_the_calls_and_no_secret_or_personal_data() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mock = MockClerk::with_secret_key(SECRET);
        mock.insert(PHONE).unwrap();
        mock.set_fault_plan(
            FaultPlan::new()
                .on(MockOperation::List, 1, Fault::status(503))
                .on(MockOperation::List, 2, Fault::rate_limited("0"))
                .on(MockOperation::Create, 2, Fault::status(500).applied()),
        );
        let server = mock.serve().await.unwrap();
        let client = Client::builder()
            .secret_key(SECRET)
            .base_url(server.base_url())
            .retry(RetryConfig::default().backoff(
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(5),
            ))
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .build()
            .unwrap();
        let allowlist = client.allowlist_identifiers();

        // A list that succeeds on its third attempt (503, then 429, then 200).
        let listed = allowlist.list().await.unwrap();
        assert_eq!(listed.data.len(), 1);
        // A create that succeeds, one that fails with a 500 (never retried), a duplicate
        // (400), and a delete of an unknown id (404).
        let created = allowlist.create(EMAIL).await.unwrap();
        let err = allowlist
            .create("grace.hopper@example.com")
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
        let err = allowlist.create(EMAIL).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
        allowlist.delete(&created.id).await.unwrap();
        let err = allowlist.delete(&created.id).await.unwrap_err();
        assert!(err.is_not_found());
        server.shutdown().await;
    });

    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for line in output.lines() {
        for secret in [
            SECRET,
            "Bearer",
            EMAIL,
            "ada.lovelace",
            "grace.hopper",
            "example.com",
            PHONE,
            "5555550123",
        ] {
            assert!(!line.contains(secret), "{secret:?} in: {line}");
        }
    }

    // What is there: a span per call named by the operation, the retries with their reason
    // and wait, and the outcome of each call.
    let calls = output
        .lines()
        .filter(|l| l.contains("clerk_tower: close"))
        .count();
    assert_eq!(calls, 6, "one span per call:\n{output}");
    let retries: Vec<&str> = output.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 2, "{output}");
    assert!(retries[0].contains("reason=status 503") && retries[0].contains("wait_ms="));
    assert!(retries[1].contains("reason=status 429"));
    assert!(
        retries
            .iter()
            .all(|l| l.contains("operation=\"ListAllowlistIdentifiers\"")),
        "{retries:?}"
    );
    let finished: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("call finished"))
        .collect();
    assert_eq!(finished.len(), 6, "{output}");
    assert!(finished[0].contains("attempts=3") && finished[0].contains("status=200"));
    assert!(
        finished
            .iter()
            .any(|l| l.contains("error.code=\"duplicate_record\"") && l.contains("status=400")),
        "{finished:?}"
    );
    assert!(finished.iter().all(|l| l.contains("clerk_trace_id=")));
    // The user's attempt layers run inside the call's span, the first attempt too.
    assert!(
        output
            .lines()
            .filter(|l| l.contains("tower_http::trace::make_span: new"))
            .all(|l| l.contains("clerk.call{")),
        "{output}"
    );
    assert!(
        finished
            .iter()
            .any(|l| l.contains("status=404")
                && l.contains("operation=\"DeleteAllowlistIdentifier\"")),
        "{finished:?}"
    );
}

/// Machine tokens and session tokens in the request check (issue 16): with every span and
/// event captured at TRACE, through the auth layer of an app and the verify calls the mock
/// answers over TCP (known tokens, unknown ones, refused classes), no line holds a token.
#[cfg(all(feature = "machine_auth", feature = "axum"))]
#[test]
fn tracing_output_never_has_a_token() {
    use clerk_tower::auth::{AcceptsToken, Authenticator, MachineVerifier, SessionLayer, Verifier};
    use clerk_tower::mock::TokenClass;
    use tower::ServiceExt;

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut tokens = Vec::new();
    runtime.block_on(async {
        let mock = MockClerk::with_secret_key(SECRET);
        let server = mock.serve().await.unwrap();
        let client = Client::builder()
            .secret_key(SECRET)
            .base_url(server.base_url())
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .build()
            .unwrap();
        let auth = Authenticator::new(Verifier::builder().client(client.clone()).build().unwrap())
            .machine_tokens(MachineVerifier::builder(client).build().unwrap())
            .accepts(AcceptsToken::ANY);
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .layer(SessionLayer::required(auth))
            .layer(tower_http::trace::TraceLayer::new_for_http());
        for class in TokenClass::ALL {
            tokens.push(mock.mint(class, None).unwrap());
        }
        tokens.push("ak_unknown_trace_scan_secret_value".to_owned());
        tokens.push("mt_unknown_trace_scan_secret_value".to_owned());
        tokens.push("oat_unknown_trace_scan_secret_value".to_owned());
        for token in &tokens {
            let req = http::Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert!(res.status().as_u16() < 500, "{}", res.status());
        }
        server.shutdown().await;
    });
    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        output.contains("verifyApiKey"),
        "the verify calls are traced:\n{output}"
    );
    for line in output.lines() {
        for token in &tokens {
            // The JWTs' signatures and the opaque secrets: any of their parts is a leak.
            let secret = token.rsplit('.').next().unwrap();
            assert!(!line.contains(secret), "a token in: {line}");
        }
        assert!(!line.contains(SECRET), "the secret key in: {line}");
    }
}
