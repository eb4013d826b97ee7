//! One rate limit for a fleet (feature `redis`), against a real `redis-server` on loopback
//! started by each test: separate clients and separate processes share one budget, a 429 in
//! one pauses the others, Redis killed and restarted or paused (SIGSTOP) mid-run, and a key of
//! another instance never shares a budget. Rate limits are counted by the mock's own limiter
//! (`MockClerk::with_rate_limit`, the same as `clerk-mock --rate-limit`).
//!
//! Real time (Redis has its own clock), so the limits are small and the runs a few seconds.
//! Each test skips, with a message, when `redis-server` is not installed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_tower::layer::{
    RateLimitConfig, RateLimitLayer, RateLimitUnavailable, RedisConfig, RedisFallback,
};
use clerk_tower::mock::{MockClerk, MockOperation};
use clerk_tower::{Client, Error, HttpRequest, HttpResponse, RetryConfig};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

use crate::e2e::service_builder;
use crate::redis_server::RedisServer;

const KEY: &str = MockClerk::DEFAULT_SECRET_KEY;

fn redis_config(redis: &RedisServer) -> RedisConfig {
    RedisConfig::new(&redis.url(), KEY)
        .unwrap()
        .timeout(Duration::from_millis(200))
        .reconnect_interval(Duration::from_millis(200))
}

fn shared(config: RateLimitConfig, redis: RedisConfig) -> RateLimitLayer {
    RateLimitLayer::redis(config, redis).unwrap()
}

/// A client on `mock` (no socket) with `layer` as its attempt layer.
fn client(mock: &MockClerk, layer: &RateLimitLayer, retry: RetryConfig) -> Client {
    service_builder(mock)
        .retry(retry)
        .timeout(Duration::from_secs(30))
        .layer(layer.clone())
        .build()
        .unwrap()
}

/// `callers` tasks per client, each making `calls` list calls one after the other.
async fn load(clients: &[Client], callers: usize, calls: usize) -> Vec<Result<(), Error>> {
    let mut tasks = Vec::new();
    for client in clients {
        for _ in 0..callers {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..calls {
                    out.push(client.allowlist_identifiers().list().await.map(drop));
                }
                out
            }));
        }
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_clients_share_one_budget_and_local_limiters_do_not() {
    let Some(redis) = RedisServer::start("separate_clients_share_one_budget") else {
        return;
    };
    // The mock admits 20 per second; each limiter is configured for the whole limit, less a
    // headroom of 4 for a busy machine's scheduling delays.
    let config = RateLimitConfig::new(20, Duration::from_secs(1)).headroom(4);
    let mock = MockClerk::new()
        .with_rate_limit(20, Duration::from_secs(1))
        .unwrap();
    // Three limiters, three connections to Redis, three clients: one budget.
    let layers: Vec<_> = (0..3)
        .map(|_| shared(config, redis_config(&redis)))
        .collect();
    let clients: Vec<_> = layers
        .iter()
        .map(|l| client(&mock, l, RetryConfig::disabled()))
        .collect();
    let results = load(&clients, 4, 3).await;
    assert_eq!(results.len(), 36);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(mock.rate_limited_count(), 0);
    assert_eq!(
        mock.request_count(MockOperation::ListAllowlistIdentifiers),
        36
    );
    assert_eq!(layers.iter().map(RateLimitLayer::granted).sum::<u64>(), 36);
    assert!(layers.iter().all(|l| l.fallbacks() == 0));
    let key = layers[0].redis_key().unwrap();
    assert!(redis.cli(&["HGET", key, "tat"]).parse::<u64>().is_ok());

    // The same load through three local limiters at the same setting: the mock refuses.
    let control = MockClerk::new()
        .with_rate_limit(20, Duration::from_secs(1))
        .unwrap();
    let locals: Vec<_> = (0..3)
        .map(|_| RateLimitLayer::new(config).unwrap())
        .collect();
    let clients: Vec<_> = locals
        .iter()
        .map(|l| client(&control, l, RetryConfig::disabled()))
        .collect();
    let results = load(&clients, 4, 3).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.status() == Some(http::StatusCode::TOO_MANY_REQUESTS)))
        .count();
    assert!(refused > 0);
    assert_eq!(refused, control.rate_limited_count());
}

#[cfg(feature = "cli")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_share_one_budget() {
    let Some(redis) = RedisServer::start("separate_processes_share_one_budget") else {
        return;
    };
    // 19 per second for each process (20 less the default headroom of 1); the mock admits 24
    // (a margin for a busy machine). Unshared, three processes would send 57.
    let mock = MockClerk::new()
        .with_rate_limit(24, Duration::from_secs(1))
        .unwrap();
    let server = mock.serve().await.unwrap();
    // Three clerk-allowlist processes, each adding 12 identifiers, 4 at a time, each paced
    // for the whole limit: together they stay under it.
    let mut children = Vec::new();
    for p in 0..3 {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_clerk-allowlist"));
        cmd.env("CLERK_SECRET_KEY", KEY)
            .env("CLERK_API_URL", server.base_url())
            .args(["--quiet", "--redis", &redis.url(), "--rate-limit", "20/1s"])
            .args(["--concurrency", "4", "add"])
            .args((0..12).map(|i| format!("p{p}-user{i}@example.com")));
        children.push(tokio::task::spawn_blocking(move || cmd.output().unwrap()));
    }
    for child in children {
        let out = child.await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(mock.identifiers().len(), 36);
    assert_eq!(mock.rate_limited_count(), 0);
    // The budget is in Redis under the instance's hash, never the key.
    let keys = redis.cli(&["KEYS", "*"]);
    assert!(keys.starts_with("clerk-tower:rate-limit:"), "{keys}");
    assert!(!keys.contains(KEY));

    // A bad URL is a usage error (exit 2) that does not repeat the URL.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clerk-allowlist"))
        .env("CLERK_SECRET_KEY", KEY)
        .env("CLERK_API_URL", server.base_url())
        .args(["--redis", "http://user:hunter2@host/", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--redis"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

type Log = Arc<Mutex<Vec<Instant>>>;

/// A service that logs when it is called and answers 200, or 429 with `Retry-After: 2` after
/// 100 ms for the calls whose index is in `limited`.
fn recorder(
    log: Log,
    limited: &'static [usize],
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
            if limited.contains(&index) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut headers = http::HeaderMap::new();
                headers.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
                return Err(Error::from(clerk_tower::error::ApiError::from_response(
                    http::StatusCode::TOO_MANY_REQUESTS,
                    &headers,
                    Default::default(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_in_one_process_pauses_the_others() {
    let Some(redis) = RedisServer::start("a_429_in_one_process_pauses_the_others") else {
        return;
    };
    // 4 per second, no headroom: one turn every 250 ms, for the three limiters together.
    let config = RateLimitConfig::new(4, Duration::from_secs(1)).headroom(0);
    let (log_a, log_b, log_c): (Log, Log, Log) = Default::default();
    let a = shared(config, redis_config(&redis));
    let b = shared(config, redis_config(&redis));
    let c = shared(config, redis_config(&redis));
    let svc_a = a.layer(recorder(log_a.clone(), &[0]));
    let svc_b = b.layer(recorder(log_b.clone(), &[]));
    let svc_c = c.layer(recorder(log_c.clone(), &[]));

    // A's first call takes the first turn and comes back 429 (Retry-After: 2) after 100 ms.
    let first = tokio::spawn(svc_a.clone().oneshot(request()));
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Meanwhile B queues three calls: turns at about 250, 500 and 750 ms, taken before the
    // pause existed.
    let queued: Vec<_> = (0..3)
        .map(|_| tokio::spawn(svc_b.clone().oneshot(request())))
        .collect();
    let err = first.await.unwrap().unwrap_err();
    let limited_at = Instant::now();
    assert_eq!(err.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(a.pauses(), 1);
    // C, a third process, calls after the 429: its turn comes after the pause too.
    svc_c.clone().oneshot(request()).await.unwrap();
    for call in queued {
        call.await.unwrap().unwrap();
    }
    // Nothing reached the API from B or C before the end of A's pause (2 s after its 429;
    // 1.8 s leaves room for the two clocks' readings, Redis's and ours).
    let b_times = log_b.lock().unwrap().clone();
    let c_times = log_c.lock().unwrap().clone();
    assert_eq!(b_times.len(), 3);
    assert_eq!(c_times.len(), 1);
    for t in b_times.iter().chain(&c_times) {
        assert!(
            t.checked_duration_since(limited_at)
                .is_some_and(|d| d >= Duration::from_millis(1800)),
            "a call left during the pause: {:?} after the 429",
            t.checked_duration_since(limited_at)
        );
    }
    assert_eq!(
        redis.cli(&["HGET", a.redis_key().unwrap(), "pauses"]),
        "1",
        "one pause for the fleet"
    );
    assert_eq!(b.pauses() + c.pauses(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run_falls_back_loses_nothing_and_resumes() {
    let Some(mut redis) = RedisServer::start("redis_killed_and_restarted") else {
        return;
    };
    let mock = MockClerk::new()
        .with_rate_limit(20, Duration::from_secs(1))
        .unwrap();
    // Two processes; while Redis is down each paces itself at half the limit. A headroom of 4
    // for a busy machine's scheduling delays.
    let config = RateLimitConfig::new(20, Duration::from_secs(1)).headroom(4);
    let layers: Vec<_> = (0..2)
        .map(|_| {
            shared(
                config,
                redis_config(&redis).fallback(RedisFallback::local(50)),
            )
        })
        .collect();
    let clients: Vec<_> = layers
        .iter()
        .map(|l| client(&mock, l, RetryConfig::disabled()))
        .collect();
    // 0: Redis up, 1: killed, 2: restarted.
    let phase = Arc::new(AtomicUsize::new(0));
    let per_phase: Arc<[AtomicUsize; 3]> = Arc::default();
    let stop = Instant::now() + Duration::from_millis(4500);
    let mut tasks = Vec::new();
    for client in &clients {
        for _ in 0..4 {
            let (client, phase, per_phase) = (client.clone(), phase.clone(), per_phase.clone());
            tasks.push(tokio::spawn(async move {
                let mut results = Vec::new();
                while Instant::now() < stop {
                    let result = client.allowlist_identifiers().list().await;
                    per_phase[phase.load(Ordering::SeqCst)].fetch_add(1, Ordering::SeqCst);
                    results.push(result.map(drop));
                }
                results
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    redis.kill();
    phase.store(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let on_fallback_while_down = layers.iter().all(RateLimitLayer::on_fallback);
    redis.restart();
    phase.store(2, Ordering::SeqCst);
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    // Nothing lost: every call went out and succeeded, none refused by the API.
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(mock.rate_limited_count(), 0);
    assert_eq!(
        mock.request_count(MockOperation::ListAllowlistIdentifiers),
        results.len()
    );
    // The fallback carried the calls while Redis was down, then the shared budget again.
    assert!(on_fallback_while_down);
    assert!(layers.iter().all(|l| l.fallbacks() == 1));
    let counts: Vec<usize> = per_phase.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert!(counts.iter().all(|n| *n > 5), "{counts:?}");
    assert!(layers.iter().all(|l| !l.on_fallback()));
    let key = layers[0].redis_key().unwrap();
    assert!(
        redis.cli(&["HGET", key, "tat"]).parse::<u64>().is_ok(),
        "the restarted Redis holds the budget again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_costs_one_timeout_then_the_fallback_or_a_refusal() {
    let Some(mut redis) = RedisServer::start("a_paused_redis") else {
        return;
    };
    let mock = MockClerk::new()
        .with_rate_limit(20, Duration::from_secs(1))
        .unwrap();
    let config = RateLimitConfig::new(20, Duration::from_secs(1)).headroom(4);
    let local = shared(
        config,
        redis_config(&redis).fallback(RedisFallback::local(50)),
    );
    let refuse = shared(config, redis_config(&redis).fallback(RedisFallback::Refuse));
    let with_fallback = client(&mock, &local, RetryConfig::disabled());
    let refusing = client(&mock, &refuse, RetryConfig::disabled());
    // Both connected and sharing.
    with_fallback.allowlist_identifiers().list().await.unwrap();
    refusing.allowlist_identifiers().list().await.unwrap();
    let before = mock.request_count(MockOperation::ListAllowlistIdentifiers);

    redis.pause();
    // No call hangs: 12 calls through the fallback, each within a generous bound (the first
    // waits for one Redis timeout, 200 ms, the others not at all).
    for _ in 0..12 {
        tokio::time::timeout(
            Duration::from_secs(5),
            with_fallback.allowlist_identifiers().list(),
        )
        .await
        .expect("no hang")
        .unwrap();
    }
    assert!(local.on_fallback());
    assert_eq!(local.fallbacks(), 1);
    // Refuse: an error of its own, and nothing sent.
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        refusing.allowlist_identifiers().list(),
    )
    .await
    .expect("no hang")
    .unwrap_err();
    assert!(RateLimitUnavailable::is(&err), "{err:?}");
    let err = refusing.allowlist_identifiers().list().await.unwrap_err();
    assert!(RateLimitUnavailable::is(&err), "{err:?}");
    assert_eq!(refuse.fallbacks(), 1);
    assert_eq!(
        mock.request_count(MockOperation::ListAllowlistIdentifiers),
        before + 12
    );

    redis.resume();
    // Within a reconnect interval or two, both are back on the shared budget.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut back = false;
    for _ in 0..20 {
        let ok = refusing.allowlist_identifiers().list().await.is_ok();
        with_fallback.allowlist_identifiers().list().await.unwrap();
        if ok && !refuse.on_fallback() && !local.on_fallback() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "both limiters use Redis again");
    assert_eq!(mock.rate_limited_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_instance_never_shares_a_budget() {
    let Some(redis) = RedisServer::start("a_key_of_another_instance") else {
        return;
    };
    // 2 per second, no headroom: one turn every 500 ms.
    let config = RateLimitConfig::new(2, Duration::from_secs(1)).headroom(0);
    let one = RedisConfig::new(&redis.url(), "sk_test_instanceone").unwrap();
    let two = RedisConfig::new(&redis.url(), "sk_test_instancetwo").unwrap();
    let (log_one, log_two): (Log, Log) = Default::default();
    let a = shared(config, one.clone());
    let a2 = shared(config, one);
    let b = shared(config, two);
    let svc_a = a.layer(recorder(log_one.clone(), &[]));
    let svc_a2 = a2.layer(recorder(log_one.clone(), &[]));
    let svc_b = b.layer(recorder(log_two.clone(), &[]));
    // Instance one takes four turns (0, 0.5, 1, 1.5 s) through two limiters.
    let mut calls: Vec<_> = (0..2)
        .flat_map(|_| {
            [
                tokio::spawn(svc_a.clone().oneshot(request())),
                tokio::spawn(svc_a2.clone().oneshot(request())),
            ]
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Instance two's first call does not wait behind them.
    calls.push(tokio::spawn(svc_b.clone().oneshot(request())));
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let mut one_times = log_one.lock().unwrap().clone();
    one_times.sort();
    let two_times = log_two.lock().unwrap().clone();
    assert_eq!((one_times.len(), two_times.len()), (4, 1));
    assert!(
        two_times[0] < one_times[1],
        "instance two waited for instance one's budget"
    );
    // Two keys, named by hashes: neither secret is anywhere in Redis.
    assert_ne!(a.redis_key(), b.redis_key());
    assert_eq!(a.redis_key(), a2.redis_key());
    let keys = redis.cli(&["KEYS", "*"]);
    assert_eq!(keys.lines().count(), 2, "{keys}");
    for key in keys.lines() {
        let dump = redis.cli(&["HGETALL", key]);
        assert!(
            !format!("{key}{dump}").contains("instance"),
            "{key}: {dump}"
        );
    }
}
