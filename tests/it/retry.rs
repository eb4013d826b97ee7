//! Every row of the retry table, through `tower_test::mock`, with paused time: attempts are
//! counted, delays measured.

use std::time::Duration;

use crate::common::*;
use clerk_tower::api::{
    CreateAllowlistIdentifier, DeleteAllowlistIdentifier, ListAllowlistIdentifiers,
};
use clerk_tower::error::{TimeoutKind, TransportErrorKind};
use clerk_tower::models::AllowlistIdentifier;
use clerk_tower::{Client, Error, Operation, RequestOptions, RetryConfig};
use tokio::time::Instant;
use tower::ServiceExt;

/// What the fake server does with one attempt.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16, Option<&'static str>),
    Ok(&'static str),
    ConnectRefused,
    Reset,
    Hang,
}

const MIN: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(10);

fn client(retry: RetryConfig) -> (Client, MockHandle) {
    let (builder, handle) = mock_builder();
    (builder.retry(retry).no_timeout().build().unwrap(), handle)
}

fn default_retry() -> RetryConfig {
    RetryConfig::default().backoff(MIN, MAX)
}

/// Runs one call of `E` against a scripted server; returns the result and the instants at
/// which each attempt arrived (relative to the start).
async fn run<E>(
    client: Client,
    mut handle: MockHandle,
    endpoint: E,
    options: Option<RequestOptions>,
    script: &[Answer],
) -> (Result<E::Output, Error>, Vec<Duration>)
where
    E: Operation,
{
    let start = Instant::now();
    let mut svc = client.service::<E>();
    if let Some(o) = options {
        svc = svc.with_options(o);
    }
    let call = tokio::spawn(svc.oneshot(endpoint));
    let mut arrivals = Vec::new();
    let mut pending = Vec::new();
    for answer in script {
        let Some((_req, send)) = handle.next_request().await else {
            break;
        };
        arrivals.push(start.elapsed());
        match *answer {
            Answer::Status(code, retry_after) => {
                let mut res = response(code, "");
                if let Some(ra) = retry_after {
                    res.headers_mut().insert(
                        http::header::RETRY_AFTER,
                        http::HeaderValue::from_static(ra),
                    );
                }
                send.send_response(res);
            }
            Answer::Ok(body) => respond(send, 200, body),
            Answer::ConnectRefused => {
                send.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
            }
            Answer::Reset => {
                send.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
            }
            Answer::Hang => pending.push(send),
        }
    }
    let result = call.await.unwrap();
    // No attempt beyond the script.
    drop(client);
    assert!(
        handle.next_request().await.is_none(),
        "more attempts than scripted"
    );
    (result, arrivals)
}

fn list() -> ListAllowlistIdentifiers {
    ListAllowlistIdentifiers::new()
}
fn create() -> CreateAllowlistIdentifier {
    CreateAllowlistIdentifier::new("ada@example.com")
}
fn delete() -> DeleteAllowlistIdentifier {
    DeleteAllowlistIdentifier::new("alid_1")
}

const DELETED: &str = r#"{"object":"allowlist_identifier","id":"alid_1","deleted":true}"#;

#[tokio::test(start_paused = true)]
async fn success_is_not_retried() {
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(c, h, create(), None, &[Answer::Ok(IDENTIFIER_JSON)]).await;
    assert_eq!(res.unwrap().id, "alid_2abcDEF");
    assert_eq!(arrivals.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn connect_errors_are_retried_for_every_operation() {
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(
        c,
        h,
        create(),
        None,
        &[
            Answer::ConnectRefused,
            Answer::ConnectRefused,
            Answer::Ok(IDENTIFIER_JSON),
        ],
    )
    .await;
    let created: AllowlistIdentifier = res.unwrap();
    assert_eq!(created.identifier, "ada@example.com");
    assert_eq!(arrivals.len(), 3);

    let (c, h) = client(default_retry());
    let (res, arrivals) = run(
        c,
        h,
        list(),
        None,
        &[Answer::ConnectRefused, Answer::Ok("[]")],
    )
    .await;
    assert!(res.is_ok());
    assert_eq!(arrivals.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn other_transport_errors_are_retried_for_idempotent_operations_only() {
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(c, h, create(), None, &[Answer::Reset]).await;
    let err = res.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind() == TransportErrorKind::Io),
        "{err:?}"
    );
    assert_eq!(err.attempts(), 1);
    assert_eq!(
        arrivals.len(),
        1,
        "a create that may have been written is never repeated"
    );

    let (c, h) = client(default_retry());
    let (res, arrivals) = run(c, h, list(), None, &[Answer::Reset, Answer::Ok("[]")]).await;
    assert!(res.is_ok());
    assert_eq!(arrivals.len(), 2);

    let (c, h) = client(default_retry());
    let (res, arrivals) = run(c, h, delete(), None, &[Answer::Reset, Answer::Ok(DELETED)]).await;
    assert!(res.unwrap().deleted);
    assert_eq!(arrivals.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn attempt_timeouts_are_retried_for_idempotent_operations_only() {
    let options = RequestOptions::new().attempt_timeout(Duration::from_secs(1));
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(c, h, create(), Some(options), &[Answer::Hang]).await;
    let err = res.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout(t) if t.kind() == TimeoutKind::Attempt),
        "{err:?}"
    );
    assert_eq!(arrivals.len(), 1);

    let (c, h) = client(default_retry());
    let (res, arrivals) = run(
        c,
        h,
        list(),
        Some(options),
        &[Answer::Hang, Answer::Ok("[]")],
    )
    .await;
    assert!(res.is_ok());
    assert_eq!(arrivals.len(), 2);
    assert!(arrivals[1] >= Duration::from_secs(1) + MIN, "{arrivals:?}");
}

#[tokio::test(start_paused = true)]
async fn rate_limits_are_retried_for_every_operation_after_retry_after() {
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(
        c,
        h,
        create(),
        None,
        &[Answer::Status(429, Some("2")), Answer::Ok(IDENTIFIER_JSON)],
    )
    .await;
    assert!(res.is_ok());
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_secs(2),
        "{arrivals:?}"
    );
    assert!(
        arrivals[1] - arrivals[0] < Duration::from_secs(3),
        "{arrivals:?}"
    );

    // Without Retry-After, the backoff applies.
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(
        c,
        h,
        create(),
        None,
        &[Answer::Status(429, None), Answer::Ok(IDENTIFIER_JSON)],
    )
    .await;
    assert!(res.is_ok());
    let wait = arrivals[1] - arrivals[0];
    assert!(wait >= MIN && wait <= MIN * 2, "{wait:?}");

    // An HTTP-date Retry-After in the past: backoff only.
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(
        c,
        h,
        list(),
        None,
        &[
            Answer::Status(429, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Answer::Ok("[]"),
        ],
    )
    .await;
    assert!(res.is_ok());
    assert!(arrivals[1] - arrivals[0] <= MIN * 2);
}

#[tokio::test(start_paused = true)]
async fn a_backoff_longer_than_retry_after_wins_for_429() {
    let retry = RetryConfig::default().backoff(Duration::from_secs(5), Duration::from_secs(10));
    let (c, h) = client(retry);
    let (res, arrivals) = run(
        c,
        h,
        create(),
        None,
        &[Answer::Status(429, Some("1")), Answer::Ok(IDENTIFIER_JSON)],
    )
    .await;
    assert!(res.is_ok());
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_secs(5),
        "max(Retry-After, backoff): {arrivals:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_for_idempotent_operations_only() {
    for status in [500, 502, 503, 504] {
        let (c, h) = client(default_retry());
        let (res, arrivals) = run(c, h, create(), None, &[Answer::Status(status, None)]).await;
        let err = res.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(arrivals.len(), 1, "POST {status} is never repeated");

        let (c, h) = client(default_retry());
        let (res, arrivals) = run(
            c,
            h,
            list(),
            None,
            &[Answer::Status(status, None), Answer::Ok("[]")],
        )
        .await;
        assert!(res.is_ok(), "GET {status}");
        assert_eq!(arrivals.len(), 2);

        let (c, h) = client(default_retry());
        let (res, arrivals) = run(
            c,
            h,
            delete(),
            None,
            &[Answer::Status(status, Some("3")), Answer::Ok(DELETED)],
        )
        .await;
        assert!(res.is_ok(), "DELETE {status}");
        assert!(
            arrivals[1] - arrivals[0] >= Duration::from_secs(3),
            "Retry-After is honoured on {status}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn other_statuses_are_never_retried() {
    for status in [400, 401, 402, 403, 404, 409, 422, 501] {
        for op in 0..3 {
            let (c, h) = client(default_retry());
            let script = [Answer::Status(status, Some("1"))];
            let err = match op {
                0 => run(c, h, list(), None, &script).await.0.map(|_| ()),
                1 => run(c, h, create(), None, &script).await.0.map(|_| ()),
                _ => run(c, h, delete(), None, &script).await.0.map(|_| ()),
            }
            .unwrap_err();
            assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
            assert_eq!(err.attempts(), 1);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn decode_errors_are_never_retried() {
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(c, h, list(), None, &[Answer::Ok("{not json")]).await;
    assert!(matches!(res, Err(Error::Decode(_))));
    assert_eq!(arrivals.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_with_bounded_jitter_and_stops_at_max_retries() {
    let script = [Answer::Status(503, None); 4];
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(c, h, list(), None, &script).await;
    let err = res.unwrap_err();
    assert_eq!(arrivals.len(), 4, "1 attempt + 3 retries");
    assert_eq!(err.attempts(), 4);
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
    let waits: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, wait) in waits.iter().enumerate() {
        let base = MIN * 2u32.pow(i as u32);
        assert!(
            *wait >= base && *wait <= base * 2,
            "retry {i}: {wait:?} outside [{base:?}, {:?}]",
            base * 2
        );
    }
}

#[tokio::test(start_paused = true)]
async fn per_call_options_override_the_client() {
    let (c, h) = client(default_retry());
    let (res, arrivals) = run(
        c,
        h,
        list(),
        Some(RequestOptions::new().max_retries(0)),
        &[Answer::Status(503, None)],
    )
    .await;
    assert_eq!(res.unwrap_err().attempts(), 1);
    assert_eq!(arrivals.len(), 1);

    let (c, h) = client(default_retry());
    let script = [Answer::Status(503, None); 2];
    let (res, arrivals) = run(
        c,
        h,
        list(),
        Some(RequestOptions::new().max_retries(1)),
        &script,
    )
    .await;
    assert_eq!(res.unwrap_err().attempts(), 2);
    assert_eq!(arrivals.len(), 2);

    let (c, h) = client(RetryConfig::disabled());
    let script = [Answer::Status(503, None), Answer::Ok("[]")];
    let (res, arrivals) = run(
        c,
        h,
        list(),
        Some(RequestOptions::new().max_retries(3)),
        &script,
    )
    .await;
    assert!(res.is_ok());
    assert_eq!(arrivals.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_deadline_ends_the_call_at_once() {
    let (builder, h) = mock_builder();
    let c = builder
        .retry(default_retry())
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let (res, arrivals) = run(c, h, create(), None, &[Answer::Status(429, Some("30"))]).await;
    let err = res.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO, "no wait at all");
    assert_eq!(err.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(arrivals.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_covers_backoff_and_reports_the_last_failure() {
    let (builder, h) = mock_builder();
    let retry = RetryConfig::default()
        .max_retries(10)
        .backoff(Duration::from_millis(300), Duration::from_millis(300));
    let c = builder
        .retry(retry)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let script = [
        Answer::Status(503, None),
        Answer::Status(503, None),
        Answer::Hang,
    ];
    let (res, arrivals) = run(c, h, list(), None, &script).await;
    let err = res.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(arrivals.len(), 3);
    match &err {
        Error::Timeout(t) => {
            assert_eq!(t.kind(), TimeoutKind::Total);
            assert_eq!(t.attempts(), 3);
            assert_eq!(
                t.last_error().and_then(Error::status),
                Some(http::StatusCode::SERVICE_UNAVAILABLE)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.status(),
        Some(http::StatusCode::SERVICE_UNAVAILABLE),
        "the last status is reachable from the timeout"
    );
    assert!(err.to_string().contains("3 attempts"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_backoff_that_would_pass_the_deadline_ends_the_call_with_the_last_error() {
    let (builder, h) = mock_builder();
    let retry = RetryConfig::default()
        .max_retries(10)
        .backoff(Duration::from_millis(400), Duration::from_millis(400));
    let c = builder
        .retry(retry)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let script = [Answer::Status(503, None); 3];
    let (res, arrivals) = run(c, h, list(), None, &script).await;
    let err = res.unwrap_err();
    // Attempts at 0, 0.4 s and 0.8 s; the next wait would end at 1.2 s, past the deadline.
    assert_eq!(
        arrivals,
        vec![
            Duration::ZERO,
            Duration::from_millis(400),
            Duration::from_millis(800)
        ]
    );
    assert_eq!(start.elapsed(), Duration::from_millis(800));
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.attempts(), 3);
}
