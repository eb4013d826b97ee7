//! The retry budget: a 503 storm across many concurrent calls stops retrying once the budget
//! is spent, and retries work again once the budget's window has passed.
//!
//! Socket-free (`MockClerk::service`) with paused Tokio time: `TpsBudget` keeps time with
//! `tokio::time::Instant`, and every call of a storm runs at (virtual) time ~0, so the counts
//! below are exact, not statistical.
//!
//! # The bound, from tower 0.5.3 `retry/budget/tps_budget.rs`
//!
//! `TpsBudget::new(ttl, min_per_sec, retry_percent)` with `0 < retry_percent <= 1` costs
//! `withdraw = (1.0 / retry_percent) as isize` tokens per retry, gives `1` token per deposit
//! (one per successful attempt: `ClerkRetryPolicy` deposits on `Ok`), and holds a constant
//! reserve of `min_per_sec * ttl_secs * withdraw` tokens. A withdrawal succeeds while
//! `reserve + sum(deposits - withdrawals of the last ttl) >= withdraw`. Deposits and
//! withdrawals leave the sum after `ttl` (10 slots of `ttl / 10`). So within one window, with
//! `D` successful attempts before the storm and none during it, a storm of `N` calls that all
//! fail with a retryable status makes exactly
//!
//! ```text
//! attempts = N + min(N * max_retries, floor((reserve + D) / withdraw))
//! ```
//!
//! For `budget(1 s, 1, 0.01)`: `withdraw = 100`, `reserve = 100`, so a storm of 200 calls with
//! no earlier success makes 201 attempts (800 without a budget: 200 calls x 4 attempts).

use std::time::Duration;

use crate::e2e::*;
use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation};
use clerk_tower::{Client, Error};
use tokio::task::JoinSet;

const CALLS: usize = 200;
const MAX_RETRIES: u32 = 3;
const TTL: Duration = Duration::from_secs(1);
const MIN_PER_SEC: u32 = 1;
const RETRY_PERCENT: f32 = 0.01;

/// Tokens one retry costs, computed as `TpsBudget::new` does.
fn withdraw_amount(retry_percent: f32) -> usize {
    assert!(retry_percent > 0.0 && retry_percent <= 1.0);
    (1.0 / retry_percent) as usize
}

/// The constant reserve of the budget, in tokens.
fn reserve(ttl: Duration, min_per_sec: u32, retry_percent: f32) -> usize {
    min_per_sec as usize * ttl.as_secs() as usize * withdraw_amount(retry_percent)
}

/// The exact number of attempts of a storm (see the module docs).
fn storm_attempts(
    calls: usize,
    deposits: usize,
    ttl: Duration,
    min_per_sec: u32,
    retry_percent: f32,
) -> usize {
    let retries =
        (reserve(ttl, min_per_sec, retry_percent) + deposits) / withdraw_amount(retry_percent);
    calls + retries.min(calls * MAX_RETRIES as usize)
}

fn client(mock: &MockClerk, ttl: Duration, min_per_sec: u32, retry_percent: f32) -> Client {
    service_builder(mock)
        .retry(
            fast_retry()
                .max_retries(MAX_RETRIES)
                .budget(ttl, min_per_sec, retry_percent),
        )
        .build()
        .expect("valid config")
}

async fn list(client: &Client) -> Result<(), Error> {
    client.allowlist_identifiers().list().await.map(drop)
}

/// Runs `calls` list calls at once; returns every result.
async fn storm(client: &Client, calls: usize) -> Vec<Result<(), Error>> {
    let mut set = JoinSet::new();
    for _ in 0..calls {
        let client = client.clone();
        set.spawn(async move { list(&client).await });
    }
    let mut results = Vec::with_capacity(calls);
    while let Some(joined) = set.join_next().await {
        results.push(joined.expect("no panic"));
    }
    results
}

/// Every call of the storm failed with the 503, and the attempts the calls report add up to
/// the attempts the mock saw. Returns that sum.
fn all_503(results: &[Result<(), Error>], mock: &MockClerk) -> usize {
    let mut reported = 0;
    for r in results {
        let err = r.as_ref().expect_err("every call of the storm fails");
        assert!(matches!(err, Error::Api(e) if e.status() == 503), "{err:?}");
        assert!((1..=MAX_RETRIES + 1).contains(&err.attempts()), "{err:?}");
        reported += err.attempts() as usize;
    }
    assert_eq!(
        reported,
        mock.request_count(MockOperation::List),
        "attempts() agree with the mock"
    );
    reported
}

#[tokio::test(start_paused = true)]
async fn a_503_storm_stops_retrying_once_the_budget_is_spent_and_recovers() {
    let mock = MockClerk::new().with_seed(11);
    mock.set_fault_plan(FaultPlan::new().always(MockOperation::List, Fault::status(503)));
    let client = client(&mock, TTL, MIN_PER_SEC, RETRY_PERCENT);

    let results = storm(&client, CALLS).await;
    let attempts = all_503(&results, &mock);
    let expected = storm_attempts(CALLS, 0, TTL, MIN_PER_SEC, RETRY_PERCENT);
    assert_eq!(expected, 201);
    assert_eq!(
        attempts, expected,
        "the budget allows one retry in the window"
    );
    assert!(
        attempts < CALLS * (MAX_RETRIES as usize + 1) / 3,
        "far below calls x 4"
    );
    let retried = results
        .iter()
        .filter(|r| r.as_ref().unwrap_err().attempts() > 1)
        .count();
    assert_eq!(retried, 1);

    // Still inside the window: a call meeting one 503 is not retried (the budget is spent).
    mock.clear_requests();
    mock.set_fault_plan(FaultPlan::new().on(MockOperation::List, 1, Fault::status(503)));
    let err = list(&client).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.attempts(), 1);
    assert_eq!(mock.requests().len(), 1);

    // After the window, the reserve is back: one 503, then success, in 2 attempts.
    tokio::time::sleep(TTL * 2).await;
    mock.clear_requests();
    mock.set_fault_plan(FaultPlan::new().on(MockOperation::List, 1, Fault::status(503)));
    list(&client).await.expect("retried after the 503");
    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].status, Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(seen[1].status, Some(http::StatusCode::OK));
}

#[tokio::test(start_paused = true)]
async fn successes_before_the_storm_buy_exactly_their_share_of_retries() {
    const SUCCESSES: usize = 300; // 300 deposits of 1 token: 3 more retries at 100 tokens each
    let mock = MockClerk::new().with_seed(12);
    let client = client(&mock, TTL, MIN_PER_SEC, RETRY_PERCENT);
    for r in storm(&client, SUCCESSES).await {
        r.expect("no faults yet");
    }
    mock.clear_requests();
    let before = mock.request_count(MockOperation::List);

    mock.set_fault_plan(FaultPlan::new().always(MockOperation::List, Fault::status(503)));
    let results = storm(&client, CALLS).await;
    let attempts = mock.request_count(MockOperation::List) - before;
    let expected = storm_attempts(CALLS, SUCCESSES, TTL, MIN_PER_SEC, RETRY_PERCENT);
    assert_eq!(expected, 204);
    assert_eq!(attempts, expected);
    let reported: usize = results
        .iter()
        .map(|r| r.as_ref().unwrap_err().attempts() as usize)
        .sum();
    assert_eq!(reported, attempts, "attempts() agree with the mock");
    assert_eq!(mock.requests().len(), attempts);

    // Once the faults are gone, successes deposit again and the client works normally.
    mock.clear_faults();
    for r in storm(&client, 50).await {
        r.expect("healthy again");
    }
}

#[tokio::test(start_paused = true)]
async fn without_budget_pressure_every_call_makes_all_its_attempts() {
    // The control: a generous budget (reserve 100/s x 10 s x 5 tokens = 1000 retries) lets
    // every call of the same storm retry 3 times.
    let mock = MockClerk::new().with_seed(13);
    mock.set_fault_plan(FaultPlan::new().always(MockOperation::List, Fault::status(503)));
    let ttl = Duration::from_secs(10);
    let client = client(&mock, ttl, 100, 0.2);
    let results = storm(&client, CALLS).await;
    let attempts = all_503(&results, &mock);
    assert_eq!(storm_attempts(CALLS, 0, ttl, 100, 0.2), CALLS * 4);
    assert_eq!(attempts, CALLS * 4);
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap_err().attempts() == MAX_RETRIES + 1));
}
