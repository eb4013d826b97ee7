//! 1, 16 and 128 concurrent callers sharing one client, over TCP on 127.0.0.1: requests per
//! second of the full client vs a bare hyper-util client (same request, headers and decode).
//!
//! Callers are Tokio tasks on a 2-worker multi-thread runtime; each does its share of the
//! calls one after another (list, one identifier). The static server runs on the same runtime
//! (see `support::serve_on`); `SERVER_THREAD=1` gives it a 2-worker runtime of its own
//! instead. Criterion reports the time per call and calls per second
//! (`Throughput::Elements(1)` per call).
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench concurrency
//! ```

mod support;

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_tower::Client;
use criterion::Throughput;
use http::Method;

use support::{interleave, BareClient, BareHeaders, Page, Urls};

const CALLERS: [usize; 3] = [1, 16, 128];

struct Contenders {
    client: Client,
    bare: BareClient,
    headers: BareHeaders,
    urls: Urls,
    /// Connections accepted by each contender's own server, in the order of `NAMES`.
    accepted: Vec<Arc<std::sync::atomic::AtomicU64>>,
}

/// The contenders, in the order of `Contenders::accepted`.
const NAMES: [&str; 2] = ["clerk_tower", "bare_hyper_util"];

async fn clerk_tower(c: Arc<Contenders>) {
    let page = c.client.allowlist_identifiers().list().await.expect("list");
    black_box(page);
}

async fn bare_hyper_util(c: Arc<Contenders>) {
    let req = c.headers.request(Method::GET, &c.urls.list, None);
    black_box(support::bare_call::<_, Page>(&c.bare, req).await);
}

/// `calls` calls spread over `callers` tasks, each making its share one after another.
/// Returns when all are done.
async fn run<F, Fut>(c: &Arc<Contenders>, callers: usize, calls: u64, call: F)
where
    F: Fn(Arc<Contenders>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let callers = callers.min(calls.max(1) as usize);
    let mut tasks = Vec::with_capacity(callers);
    for i in 0..callers {
        let share = calls / callers as u64 + u64::from((i as u64) < calls % callers as u64);
        let c = Arc::clone(c);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                call(Arc::clone(&c)).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("caller task");
    }
}

/// `PROFILE=CONTENDER:CALLERS:CALLS cargo bench -p clerk-tower-benches --bench concurrency` makes `CALLS` calls
/// over `CALLERS` tasks with one contender (see `NAMES`) after a warm-up run, and exits: a
/// steady workload for `valgrind --tool=callgrind`.
fn profile(rt: &tokio::runtime::Runtime, c: &Arc<Contenders>, spec: &str) {
    let mut parts = spec.split(':');
    let who = parts.next().unwrap_or_default();
    let callers: usize = parts.next().unwrap_or("128").parse().expect("CALLERS");
    let calls: u64 = parts.next().unwrap_or("20000").parse().expect("CALLS");
    rt.block_on(async {
        for calls in [2 * callers as u64, calls] {
            match who {
                "clerk_tower" => run(c, callers, calls, clerk_tower).await,
                "bare_hyper_util" => run(c, callers, calls, bare_hyper_util).await,
                other => panic!("unknown contender {other}"),
            }
        }
    });
    println!("profiled {calls} calls of {who} over {callers} callers");
}

/// Benchmarks one contender with criterion: each sample makes its calls spread over
/// `callers` tasks.
macro_rules! bench_contender {
    ($g:expr, $rt:expr, $c:expr, $callers:expr, $name:literal, $call:expr) => {
        $g.bench_function($name, |b| {
            b.to_async(&$rt).iter_custom(|calls| {
                let c = Arc::clone(&$c);
                async move {
                    let start = Instant::now();
                    run(&c, $callers, calls, $call).await;
                    start.elapsed()
                }
            })
        });
    };
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Each contender talks to a server of its own, so that connections can be counted per
    // contender (a pool that closes idle connections shows as connections opened again).
    let servers: Vec<_> = NAMES
        .iter()
        .map(|_| {
            if std::env::var_os("SERVER_THREAD").is_some() {
                let addr = support::spawn_server(2);
                (addr, Arc::new(std::sync::atomic::AtomicU64::new(0)))
            } else {
                support::serve_counted(rt.handle())
            }
        })
        .collect();
    let base = |i: usize| format!("http://{}/v1", servers[i].0);
    let c = Arc::new(Contenders {
        client: Client::builder()
            .secret_key(support::SECRET_KEY)
            .base_url(base(0))
            .build()
            .expect("client"),
        bare: support::bare_client(),
        headers: BareHeaders::new(),
        urls: Urls::new(&base(1)),
        accepted: servers.iter().map(|(_, n)| Arc::clone(n)).collect(),
    });

    if let Ok(spec) = std::env::var("PROFILE") {
        return profile(&rt, &c, &spec);
    }
    let mut crit = support::criterion();
    for callers in CALLERS {
        let mut g = crit.benchmark_group(format!("concurrency_{callers}"));
        g.throughput(Throughput::Elements(1));
        bench_contender!(g, rt, c, callers, "clerk_tower", clerk_tower);
        bench_contender!(g, rt, c, callers, "bare_hyper_util", bare_hyper_util);
        g.finish();
    }
    crit.final_summary();
    if !support::benchmarking() {
        return;
    }

    for callers in CALLERS {
        let group = format!("concurrency_{callers}");
        if !support::selected(&group) {
            continue;
        }
        let before: Vec<u64> = c.accepted.iter().map(|n| n.load(Relaxed)).collect();
        let probe = Instant::now();
        rt.block_on(run(&c, callers, 400, bare_hyper_util));
        let calls = support::calls_per_turn(probe.elapsed(), 400, Duration::from_millis(100));
        // One "call" of the interleaving macro is a whole run of `calls` calls over `callers`
        // tasks; `per_call` turns the samples back into time per call.
        let table = interleave!(rt, 15, 1, {
            "clerk_tower" => run(&c, callers, calls, clerk_tower),
            "bare_hyper_util" => run(&c, callers, calls, bare_hyper_util),
        })
        .per_call(calls);
        // Issue 20's targets (docs/benchmarks.md).
        let target = if callers > 1 { 0.95 } else { 0.0 };
        table.print(
            &format!("{group} ({calls} calls per turn)"),
            &[("clerk_tower", "bare_hyper_util", target)],
        );
        let rps = |name| 1e9 / table.median_ns(name);
        println!(
            "  requests/s: clerk_tower {:.0}, bare_hyper_util {:.0}",
            rps("clerk_tower"),
            rps("bare_hyper_util"),
        );
        for (i, name) in NAMES.iter().enumerate() {
            let opened = c.accepted[i].load(Relaxed) - before[i];
            println!("  connections {name} opened during these rounds: {opened}");
        }
    }
}
