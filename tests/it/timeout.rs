//! Timeouts, total and per attempt, as a caller meets them: typed, prompt, overridable per
//! call, and never turning one create into two. Paused time through the socket-free mock for
//! exact durations; one check over real TCP.

use std::time::Duration;

use crate::e2e::{service_builder, tcp_builder};
use clerk_tower::error::TimeoutKind;
use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation};
use clerk_tower::{Error, RequestOptions};
use tokio::time::Instant;

fn timeout_kind(err: &Error) -> Option<TimeoutKind> {
    match err {
        Error::Timeout(t) => Some(t.kind()),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_ends_a_slow_call_on_time() {
    let mock = MockClerk::new();
    mock.set_fault_plan(FaultPlan::new().always(
        MockOperation::List,
        Fault::delay_headers(Duration::from_secs(60)),
    ));
    let client = service_builder(&mock)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = client.allowlist_identifiers().list().await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(timeout_kind(&err), Some(TimeoutKind::Total), "{err:?}");
    assert_eq!(err.attempts(), 1);
    assert!(err.to_string().contains("timed out after 2s"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_per_call_timeout_overrides_the_default_both_ways() {
    let mock = MockClerk::new();
    mock.set_fault_plan(FaultPlan::new().always(
        MockOperation::List,
        Fault::delay_headers(Duration::from_secs(5)),
    ));
    let client = service_builder(&mock)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let allowlist = client.allowlist_identifiers();

    let start = Instant::now();
    let short = allowlist
        .clone()
        .with_options(RequestOptions::new().timeout(Duration::from_millis(500)));
    let err = short.list().await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(500));
    assert_eq!(timeout_kind(&err), Some(TimeoutKind::Total));

    // And the other way: a longer per-call timeout wins over a shorter default.
    let strict = service_builder(&mock)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let patient = strict
        .allowlist_identifiers()
        .with_options(RequestOptions::new().timeout(Duration::from_secs(10)));
    let start = Instant::now();
    patient.list().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn no_timeout_waits_as_long_as_the_server_takes() {
    let mock = MockClerk::new();
    mock.set_fault_plan(FaultPlan::new().always(
        MockOperation::List,
        Fault::delay_headers(Duration::from_secs(300)),
    ));
    let client = service_builder(&mock).no_timeout().build().unwrap();
    let start = Instant::now();
    client.allowlist_identifiers().list().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(300));
}

#[tokio::test(start_paused = true)]
async fn attempt_timeouts_retry_a_list_but_not_a_create() {
    let mock = MockClerk::new();
    let slow_first = Fault::delay_headers(Duration::from_secs(10));
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::List, 1, slow_first.clone())
            .on(MockOperation::Create, 1, slow_first),
    );
    let client = service_builder(&mock)
        .attempt_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let allowlist = client.allowlist_identifiers();

    let start = Instant::now();
    allowlist.list().await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1) && start.elapsed() < Duration::from_secs(2));
    assert_eq!(mock.request_count(MockOperation::List), 2);

    let err = allowlist.create("ada@example.com").await.unwrap_err();
    assert_eq!(timeout_kind(&err), Some(TimeoutKind::Attempt), "{err:?}");
    assert_eq!(
        mock.request_count(MockOperation::Create),
        1,
        "a create that timed out is not sent again"
    );
    // The server applied the slow create before its answer was lost: exactly one identifier.
    assert_eq!(mock.identifiers().len(), 1);
}

#[tokio::test]
async fn over_tcp_a_total_timeout_returns_promptly() {
    let mock = MockClerk::new();
    mock.set_fault_plan(FaultPlan::new().always(
        MockOperation::List,
        Fault::delay_headers(Duration::from_secs(30)),
    ));
    let server = mock.serve().await.unwrap();
    let client = tcp_builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let err = client.allowlist_identifiers().list().await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(timeout_kind(&err), Some(TimeoutKind::Total), "{err:?}");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "{took:?}"
    );
    drop(server);
}
