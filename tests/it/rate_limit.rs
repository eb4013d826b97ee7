//! The rate limiter (`RateLimitLayer`), with paused time: pacing, sharing between clones, one
//! pause for every caller on a 429, and zero 429s against the mock's own rate limit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_tower::layer::{RateLimitConfig, RateLimitLayer};
use clerk_tower::mock::{MockClerk, MockOperation};
use clerk_tower::{Error, HttpRequest, HttpResponse, RetryConfig};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

use crate::e2e::{fast_retry, service_builder};

type Log = Arc<Mutex<Vec<Instant>>>;

/// A service that records when it was called and answers 200 after `delay`, or 429 for the
/// calls whose index is in `limited` (with `Retry-After: 3`).
fn recorder(
    log: Log,
    limited: &'static [usize],
    delay: Duration,
) -> impl Service<HttpRequest, Response = HttpResponse, Error = Error, Future: Send> + Clone + Send
{
    tower::service_fn(move |_req: HttpRequest| {
        let log = log.clone();
        async move {
            let index = {
                let mut log = log.lock().unwrap();
                log.push(Instant::now());
                log.len() - 1
            };
            tokio::time::sleep(delay).await;
            if limited.contains(&index) {
                let mut headers = http::HeaderMap::new();
                headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
                let body = r#"{"errors":[{"message":"Too many requests","code":"too_many_requests"}],"clerk_trace_id":"t1"}"#;
                return Err(Error::from(clerk_tower::error::ApiError::from_response(
                    http::StatusCode::TOO_MANY_REQUESTS,
                    &headers,
                    body.into(),
                )));
            }
            Ok(HttpResponse::new("{}".into()))
        }
    })
}

fn request() -> HttpRequest {
    http::Request::get("/allowlist_identifiers")
        .body(Default::default())
        .unwrap()
}

/// The most calls any half-open interval `[t, t + window)` holds.
fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut best = 0;
    for (i, start) in sorted.iter().enumerate() {
        let n = sorted[i..]
            .iter()
            .take_while(|t| **t < *start + window)
            .count();
        best = best.max(n);
    }
    best
}

#[tokio::test(start_paused = true)]
async fn requests_are_paced_and_never_exceed_the_limit_in_any_window() {
    let log: Log = Arc::default();
    // 10 per second, headroom 1 (the default), burst 1: one request every 1/9 s.
    let layer = RateLimitLayer::new(RateLimitConfig::new(10, Duration::from_secs(1))).unwrap();
    let svc = layer.layer(recorder(log.clone(), &[], Duration::ZERO));
    let start = Instant::now();
    let calls = (0..50).map(|_| svc.clone().oneshot(request()));
    for result in futures_util_join_all(calls).await {
        result.unwrap();
    }
    let times = log.lock().unwrap().clone();
    assert_eq!(times.len(), 50);
    assert!(max_in_window(&times, Duration::from_secs(1)) <= 9);
    let interval = Duration::from_secs(1) / 9;
    // The first leaves at once, each next one interval later (paused time; tokio's timer
    // rounds up to the millisecond).
    let mut sorted = times.clone();
    sorted.sort();
    for (i, t) in sorted.iter().enumerate() {
        let late = (*t - start).abs_diff(interval * i as u32);
        assert!(late <= Duration::from_millis(1), "call {i}: {late:?}");
    }
    assert_eq!(layer.granted(), 50);
}

/// `join_all` without a futures dependency: spawn each and await in order.
async fn futures_util_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_burst_leaves_at_once_and_the_window_still_holds() {
    let log: Log = Arc::default();
    let config = RateLimitConfig::new(10, Duration::from_secs(1))
        .burst(5)
        .headroom(0);
    let layer = RateLimitLayer::new(config).unwrap();
    let svc = layer.layer(recorder(log.clone(), &[], Duration::ZERO));
    let start = Instant::now();
    let results = futures_util_join_all((0..40).map(|_| svc.clone().oneshot(request()))).await;
    assert!(results.iter().all(Result::is_ok));
    let times = log.lock().unwrap().clone();
    assert_eq!(
        times.iter().filter(|t| **t == start).count(),
        5,
        "the burst"
    );
    assert!(max_in_window(&times, Duration::from_secs(1)) <= 10);
}

#[tokio::test(start_paused = true)]
async fn clones_of_the_layer_and_of_clients_share_one_bucket() {
    let mock = MockClerk::new();
    let layer = RateLimitLayer::new(RateLimitConfig::new(5, Duration::from_secs(1))).unwrap();
    let a = service_builder(&mock).layer(layer.clone()).build().unwrap();
    let b = service_builder(&mock).layer(layer.clone()).build().unwrap();
    let a2 = a.clone();
    let start = Instant::now();
    let (x, y, z) = tokio::join!(
        a.allowlist_identifiers().list(),
        b.allowlist_identifiers().list(),
        a2.allowlist_identifiers().list()
    );
    x.unwrap();
    y.unwrap();
    z.unwrap();
    // Three requests through one bucket of 4 per second (headroom 1): two intervals.
    let took = Instant::now() - start;
    assert!(
        took.abs_diff(Duration::from_millis(500)) <= Duration::from_millis(1),
        "{took:?}"
    );
    assert_eq!(layer.granted(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_caller_once_until_retry_after() {
    let log: Log = Arc::default();
    // One request every ~4 ms (251 per second, headroom 2), answered after 10 ms: three are in
    // flight when the first 429 comes back.
    let layer = RateLimitLayer::new(RateLimitConfig::new(251, Duration::from_secs(1))).unwrap();
    let svc = layer.layer(recorder(log.clone(), &[0, 1, 2], Duration::from_millis(10)));
    let start = Instant::now();
    // Three callers get 429s (Retry-After: 3) within 10 ms; twenty more are queued.
    let results = futures_util_join_all((0..23).map(|_| svc.clone().oneshot(request()))).await;
    let limited = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(limited, 3);
    assert_eq!(layer.pauses(), 1, "one pause for all, not one per caller");
    let times = log.lock().unwrap().clone();
    let (first, rest) = times.split_at(3);
    assert!(first.iter().all(|t| *t - start < Duration::from_millis(10)));
    // Every request after the 429s waited for the end of the pause (3 s after the first 429).
    for t in rest {
        assert!(*t - start >= Duration::from_secs(3), "{:?}", *t - start);
    }
    // And after the pause they are paced again, not sent in one burst.
    let mut rest = rest.to_vec();
    rest.sort();
    assert!(rest.windows(2).all(|w| w[1] > w[0]));
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_pauses_one_window_and_huge_ones_are_capped() {
    let layer = RateLimitLayer::new(
        RateLimitConfig::new(100, Duration::from_secs(2)).max_pause(Duration::from_secs(5)),
    )
    .unwrap();
    let answers: Arc<Mutex<Vec<Option<&'static str>>>> =
        Arc::new(Mutex::new(vec![Some("18446744073709551615"), None]));
    let answers2 = answers.clone();
    let svc = layer.layer(tower::service_fn(move |_req: HttpRequest| {
        let next = answers2.lock().unwrap().pop();
        async move {
            match next {
                Some(retry_after) => {
                    let mut headers = http::HeaderMap::new();
                    if let Some(value) = retry_after {
                        headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
                    }
                    Err(Error::from(clerk_tower::error::ApiError::from_response(
                        http::StatusCode::TOO_MANY_REQUESTS,
                        &headers,
                        Default::default(),
                    )))
                }
                None => Ok::<_, Error>(HttpResponse::new("{}".into())),
            }
        }
    }));
    let start = Instant::now();
    // No Retry-After: a whole window.
    assert!(svc.clone().oneshot(request()).await.is_err());
    svc.clone().oneshot(request()).await.unwrap_err();
    let second = Instant::now() - start;
    assert!(second >= Duration::from_secs(2), "{second:?}");
    // Retry-After: u64::MAX seconds: capped at max_pause, no overflow.
    svc.clone().oneshot(request()).await.unwrap();
    let third = Instant::now() - start;
    assert!(third >= second + Duration::from_secs(5), "{third:?}");
    assert!(third <= second + Duration::from_secs(6), "{third:?}");
    assert_eq!(layer.pauses(), 2);
}

#[tokio::test(start_paused = true)]
async fn as_an_attempt_layer_it_keeps_the_mock_under_its_limit() {
    // The mock enforces 20 per second; the limiter paces at 19 per second; 120 creates with
    // 16 in flight: not one 429.
    let mock = MockClerk::new()
        .with_rate_limit(20, Duration::from_secs(1))
        .unwrap();
    let layer = RateLimitLayer::new(RateLimitConfig::new(20, Duration::from_secs(1))).unwrap();
    let client = service_builder(&mock)
        .layer(layer.clone())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let client = client.clone();
            let sem = sem.clone();
            tokio::spawn(async move {
                let _permit = sem.acquire().await.unwrap();
                client
                    .allowlist_identifiers()
                    .create(format!("user{i}@example.com"))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(mock.rate_limited_count(), 0);
    assert_eq!(mock.request_count(MockOperation::Create), 120);
    assert_eq!(mock.identifiers().len(), 120);
    assert_eq!(layer.pauses(), 0);
}

#[tokio::test(start_paused = true)]
async fn without_the_limiter_the_mock_answers_429_and_retries_honour_it() {
    let mock = MockClerk::new()
        .with_rate_limit(5, Duration::from_secs(1))
        .unwrap();
    let client = service_builder(&mock)
        .retry(fast_retry().max_retries(5))
        .build()
        .unwrap();
    let allowlist = client.allowlist_identifiers();
    for i in 0..8 {
        allowlist.create(format!("u{i}@example.com")).await.unwrap();
    }
    assert_eq!(mock.identifiers().len(), 8);
    assert!(mock.rate_limited_count() >= 1);
    // A 429 from the mock looks like Clerk's.
    let no_retry = service_builder(&mock)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let mut errors = Vec::new();
    for _ in 0..6 {
        if let Err(e) = no_retry.allowlist_identifiers().list().await {
            errors.push(e);
        }
    }
    let err = errors.first().expect("a 429");
    assert_eq!(err.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert!(err
        .retry_after()
        .is_some_and(|d| d >= Duration::from_secs(1)));
    assert!(err.clerk_trace_id().is_some());
    assert_eq!(
        err.as_api().and_then(|a| a.code()),
        Some("too_many_requests")
    );
}

#[tokio::test(start_paused = true)]
async fn as_a_call_layer_it_paces_calls() {
    let mock = MockClerk::new();
    let layer = RateLimitLayer::new(RateLimitConfig::new(3, Duration::from_secs(1))).unwrap();
    let client = service_builder(&mock)
        .call_layer(layer.clone())
        .build()
        .unwrap();
    let start = Instant::now();
    for _ in 0..3 {
        client.allowlist_identifiers().list().await.unwrap();
    }
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
    assert_eq!(layer.granted(), 3);
}

#[test]
fn presets_follow_the_key_and_bad_settings_are_config_errors() {
    assert_eq!(
        RateLimitConfig::for_secret_key("sk_live_abc").unwrap(),
        RateLimitConfig::clerk_production()
    );
    assert_eq!(
        RateLimitConfig::for_secret_key(MockClerk::DEFAULT_SECRET_KEY).unwrap(),
        RateLimitConfig::clerk_development()
    );
    assert!(matches!(
        RateLimitLayer::new(RateLimitConfig::new(0, Duration::from_secs(1))),
        Err(Error::Config(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_turn_that_has_come_leaves_without_waiting_for_the_timer() {
    // Calls far below the limit: each turn has come when it is given. The timer rounds every
    // sleep up to its next millisecond tick, so a limiter that slept anyway added up to 1 ms
    // to every call (1.2 ms against 65 µs per call, measured on loopback).
    let layer =
        RateLimitLayer::new(RateLimitConfig::new(1_000_000, Duration::from_secs(1))).unwrap();
    let svc = layer.layer(tower::service_fn(|_req: HttpRequest| async {
        Ok::<_, Error>(HttpResponse::new("{}".into()))
    }));
    let mut waited = Duration::ZERO;
    for _ in 0..5 {
        // Between two ticks of the timer.
        tokio::time::advance(Duration::from_micros(1500)).await;
        let before = Instant::now();
        svc.clone().oneshot(request()).await.unwrap();
        waited += Instant::now() - before;
    }
    assert_eq!(waited, Duration::ZERO);
    assert_eq!(layer.granted(), 5);
}
