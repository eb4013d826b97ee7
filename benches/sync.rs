//! Syncing 10,000 identifiers against the mock under Clerk's rate limit, time-scaled, versus
//! naive loops of creates: how long, and how many 429s.
//!
//! The mock enforces `LIMIT` requests per `WINDOW_MS` (default 1,000 per 1 s: Clerk's
//! production limit of 1,000 per 10 s, ten times faster) over real TCP on 127.0.0.1. Three
//! runs from an empty allow-list, each against a fresh mock:
//!
//! - `sync`: `client.allowlist_identifiers().sync(..)` with a `RateLimitLayer` for the same
//!   limit (attempt layer), 8 changes in flight; then a second sync, which must have nothing
//!   to do;
//! - `naive sequential`: `for id in ids { allowlist.create(id).await }` with the default client
//!   (its retries honour `Retry-After`);
//! - `naive concurrent`: the same loop with 32 creates in flight.
//!
//! The floor is the least time the mock's window allows: request k (from 0) cannot be
//! admitted before `floor(k / LIMIT) * WINDOW`. A plain `main` (no criterion: one run takes
//! seconds, and what matters is its length and its 429s, not a distribution).
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench sync
//! N=10000 LIMIT=1000 WINDOW_MS=1000 cargo bench -p clerk-tower-benches --bench sync
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_tower::layer::{RateLimitConfig, RateLimitLayer};
use clerk_tower::mock::{MockClerk, MockOperation};
use clerk_tower::sync::Identifier;
use clerk_tower::Client;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Run {
    name: &'static str,
    took: Duration,
    requests: usize,
    rejected: usize,
    failed: usize,
    stored: usize,
}

fn floor(requests: usize, limit: u32, window: Duration) -> Duration {
    let k = requests.saturating_sub(1) as u64 / u64::from(limit);
    window * u32::try_from(k).unwrap_or(u32::MAX)
}

fn client(server: &clerk_tower::mock::MockServer, limiter: Option<RateLimitLayer>) -> Client {
    let builder = Client::builder()
        .secret_key(MockClerk::DEFAULT_SECRET_KEY)
        .base_url(server.base_url())
        .timeout(Duration::from_secs(120));
    match limiter {
        Some(limiter) => builder.layer(limiter),
        None => builder,
    }
    .build()
    .expect("client")
}

fn total_requests(mock: &MockClerk) -> usize {
    MockOperation::ALLOWLIST
        .iter()
        .map(|op| mock.request_count(*op))
        .sum()
}

async fn fresh(limit: u32, window: Duration) -> (MockClerk, clerk_tower::mock::MockServer) {
    let mock = MockClerk::new()
        .with_request_log_limit(0)
        .with_rate_limit(limit, window)
        .expect("rate limit");
    let server = mock.serve().await.expect("serve");
    (mock, server)
}

async fn run_sync(ids: &[Identifier], limit: u32, window: Duration) -> (Run, Duration, usize) {
    let (mock, server) = fresh(limit, window).await;
    let limiter = RateLimitLayer::new(RateLimitConfig::new(limit, window)).expect("limiter");
    let client = client(&server, Some(limiter));
    let started = Instant::now();
    let report = client
        .allowlist_identifiers()
        .sync(ids.to_vec())
        .delete_extra(true)
        .concurrency(8)
        .run()
        .await
        .expect("sync");
    let took = started.elapsed();
    let run = Run {
        name: "sync (RateLimitLayer, 8 in flight)",
        took,
        requests: total_requests(&mock),
        rejected: mock.rate_limited_count(),
        failed: report.failed.len(),
        stored: mock.identifiers().len(),
    };
    let before = total_requests(&mock);
    let again_started = Instant::now();
    let again = client
        .allowlist_identifiers()
        .sync(ids.to_vec())
        .delete_extra(true)
        .run()
        .await
        .expect("second sync");
    assert!(again.nothing_to_do(), "the second run changed something");
    let second = again_started.elapsed();
    let second_requests = total_requests(&mock) - before;
    server.shutdown().await;
    (run, second, second_requests)
}

async fn run_naive(ids: &[Identifier], limit: u32, window: Duration, in_flight: usize) -> Run {
    let (mock, server) = fresh(limit, window).await;
    let client = client(&server, None);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(ids.to_vec());
    let started = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (client, next, failed, ids) =
                (client.clone(), next.clone(), failed.clone(), ids.clone());
            tokio::spawn(async move {
                let allowlist = client.allowlist_identifiers();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    if allowlist.create(id.as_str()).await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let took = started.elapsed();
    let run = Run {
        name: if in_flight == 1 {
            "naive sequential loop of creates"
        } else {
            "naive loop, 32 creates in flight"
        },
        took,
        requests: total_requests(&mock),
        rejected: mock.rate_limited_count(),
        failed: failed.load(Ordering::Relaxed),
        stored: mock.identifiers().len(),
    };
    server.shutdown().await;
    run
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = usize::try_from(env("N", 10_000)).unwrap_or(10_000);
    let limit = u32::try_from(env("LIMIT", 1_000)).unwrap_or(1_000);
    let window = Duration::from_millis(env("WINDOW_MS", 1_000));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ids: Vec<Identifier> = (0..n)
        .map(|i| {
            format!("user{i:05}@example.com")
                .parse()
                .expect("identifier")
        })
        .collect();
    println!(
        "{n} identifiers, mock limit {limit} per {window:?} ({:.0}x the rate of Clerk's 1,000 per 10 s), TCP on 127.0.0.1",
        f64::from(limit) / window.as_secs_f64() / 100.0
    );
    println!(
        "{:<38} {:>9} {:>9} {:>9} {:>6} {:>7} {:>7}",
        "run", "time", "floor", "vs floor", "429s", "failed", "stored"
    );
    let (sync, second, second_requests) = runtime.block_on(run_sync(&ids, limit, window));
    let naive = runtime.block_on(run_naive(&ids, limit, window, 1));
    let concurrent = runtime.block_on(run_naive(&ids, limit, window, 32));
    for run in [&sync, &naive, &concurrent] {
        // The floor counts the requests the mock admitted (429s are refused, not admitted).
        let admitted = run.requests.saturating_sub(run.rejected);
        let floor = floor(admitted, limit, window);
        let ratio = if floor.is_zero() {
            f64::NAN
        } else {
            (run.took.as_secs_f64() / floor.as_secs_f64() - 1.0) * 100.0
        };
        println!(
            "{:<38} {:>8.2}s {:>8.2}s {:>+8.1}% {:>6} {:>7} {:>7}",
            run.name,
            run.took.as_secs_f64(),
            floor.as_secs_f64(),
            ratio,
            run.rejected,
            run.failed,
            run.stored
        );
    }
    println!(
        "second sync: nothing to do, {second_requests} requests (list pages), {:.2}s",
        second.as_secs_f64()
    );
}
