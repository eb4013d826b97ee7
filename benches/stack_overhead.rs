//! What the middleware stack costs per call, without any socket.
//!
//! One `list` call (a bare array of one identifier) through the full default client, with an
//! in-memory transport that answers with precomputed bytes, against the same request sent by
//! hand to the same transport and decoded the same way. Variants with retries disabled and
//! with no total timeout attribute the difference. Before criterion runs, the heap
//! allocations of one call of each variant are counted (a counting global allocator) and
//! printed.
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench stack_overhead
//! ```

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use clerk_tower::api::ListAllowlistIdentifiers;
use clerk_tower::models::AllowlistIdentifierList;
use clerk_tower::{Client, RetryConfig};
use criterion::Criterion;
use http::Method;
use tower::{Service, ServiceExt};

use support::{interleave, BareHeaders, Page};

// ---------------------------------------------------------------------------------------------
// A counting allocator
// ---------------------------------------------------------------------------------------------

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size.saturating_sub(layout.size()) as u64, Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, Copy)]
struct Counts {
    allocs: f64,
    reallocs: f64,
    bytes: f64,
}

fn snapshot() -> (u64, u64, u64) {
    (
        ALLOCS.load(Relaxed),
        REALLOCS.load(Relaxed),
        BYTES.load(Relaxed),
    )
}

/// Heap allocations per call of `call`, averaged over `n` calls after a few warm-up calls,
/// all inside one `block_on` on a current-thread runtime (no other thread allocates).
fn count_per_call(rt: &tokio::runtime::Runtime, n: u64, mut call: impl AsyncFnMut()) -> Counts {
    rt.block_on(async {
        for _ in 0..10 {
            call().await;
        }
        let before = snapshot();
        for _ in 0..n {
            call().await;
        }
        let after = snapshot();
        Counts {
            allocs: (after.0 - before.0) as f64 / n as f64,
            reallocs: (after.1 - before.1) as f64 / n as f64,
            bytes: (after.2 - before.2) as f64 / n as f64,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The variants
// ---------------------------------------------------------------------------------------------

const BASE_URL: &str = "http://127.0.0.1:9/v1";

fn client(
    configure: impl FnOnce(clerk_tower::ClientBuilder) -> clerk_tower::ClientBuilder,
) -> Client {
    configure(
        Client::builder()
            .secret_key(support::SECRET_KEY)
            .base_url(BASE_URL)
            .transport(support::in_memory_transport()),
    )
    .build()
    .expect("client")
}

struct Variants {
    default: Client,
    no_retry: Client,
    no_timeout: Client,
    no_retry_no_timeout: Client,
    bare_headers: BareHeaders,
    bare_url: String,
}

impl Variants {
    fn new() -> Self {
        Self {
            default: client(|b| b),
            no_retry: client(|b| b.retry(RetryConfig::disabled())),
            no_timeout: client(|b| b.no_timeout()),
            no_retry_no_timeout: client(|b| b.retry(RetryConfig::disabled()).no_timeout()),
            bare_headers: BareHeaders::new(),
            bare_url: format!("{BASE_URL}/allowlist_identifiers"),
        }
    }
}

/// One call through a client's resource handle: what users write.
async fn list(client: &Client) -> AllowlistIdentifierList {
    client.allowlist_identifiers().list().await.expect("list")
}

/// One call through a typed service kept across calls (no per-call clone of the stack).
async fn list_service(
    svc: &mut clerk_tower::OperationService<ListAllowlistIdentifiers>,
) -> AllowlistIdentifierList {
    svc.ready()
        .await
        .expect("ready")
        .call(ListAllowlistIdentifiers::new())
        .await
        .expect("list")
}

/// The same request by hand, to the same transport, decoded the same way.
async fn bare(v: &Variants) -> Page {
    use http_body_util::BodyExt;
    let req = v.bare_headers.request(Method::GET, &v.bare_url, None);
    let res = support::in_memory_transport()
        .oneshot(req)
        .await
        .expect("infallible");
    assert!(res.status().is_success());
    let body = res
        .into_body()
        .collect()
        .await
        .expect("infallible")
        .to_bytes();
    support::decode(&body)
}

fn report_allocations(v: &Variants) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n = 1000;
    let mut svc = v.default.service::<ListAllowlistIdentifiers>();
    let decode_only = {
        let body = support::fixtures().list_1.clone();
        count_per_call(&rt, n, async || {
            black_box(support::decode::<Page>(&body));
        })
    };
    let rows = [
        (
            "bare transport + decode",
            count_per_call(&rt, n, async || {
                black_box(bare(v).await);
            }),
        ),
        (
            "client, default stack",
            count_per_call(&rt, n, async || {
                black_box(list(&v.default).await);
            }),
        ),
        (
            "client, retries disabled",
            count_per_call(&rt, n, async || {
                black_box(list(&v.no_retry).await);
            }),
        ),
        (
            "client, no total timeout",
            count_per_call(&rt, n, async || {
                black_box(list(&v.no_timeout).await);
            }),
        ),
        (
            "client, no retries, no timeout",
            count_per_call(&rt, n, async || {
                black_box(list(&v.no_retry_no_timeout).await);
            }),
        ),
    ];
    let kept = count_per_call(&rt, n, async || {
        black_box(list_service(&mut svc).await);
    });
    println!(
        "\n== heap allocations per list call (1 identifier, in-memory transport, mean of {n}) =="
    );
    println!(
        "{:<44} {:>8} {:>9} {:>10}",
        "variant", "allocs", "reallocs", "bytes"
    );
    println!(
        "{:<44} {:>8.1} {:>9.1} {:>10.0}",
        "decode only (from_utf8 + from_str)",
        decode_only.allocs,
        decode_only.reallocs,
        decode_only.bytes
    );
    let extra = [("client.service() kept across calls", kept)];
    for (name, c) in rows.iter().chain(extra.iter()) {
        println!(
            "{name:<44} {:>8.1} {:>9.1} {:>10.0}",
            c.allocs, c.reallocs, c.bytes
        );
    }
    let bare = rows[0].1;
    let full = rows[1].1;
    println!(
        "stack extra per call: {:+.1} allocations, {:+.1} reallocations, {:+.0} bytes\n",
        full.allocs - bare.allocs,
        full.reallocs - bare.reallocs,
        full.bytes - bare.bytes
    );
}

fn benches(c: &mut Criterion, v: &Variants) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("stack_overhead_list_1");
    g.bench_function("bare_transport", |b| b.to_async(&rt).iter(|| bare(v)));
    g.bench_function("client_default", |b| {
        b.to_async(&rt).iter(|| list(&v.default))
    });
    g.bench_function("client_no_retry", |b| {
        b.to_async(&rt).iter(|| list(&v.no_retry))
    });
    g.bench_function("client_no_timeout", |b| {
        b.to_async(&rt).iter(|| list(&v.no_timeout))
    });
    g.bench_function("client_no_retry_no_timeout", |b| {
        b.to_async(&rt).iter(|| list(&v.no_retry_no_timeout))
    });
    g.bench_function("client_service_kept", |b| {
        let svc = v.default.service::<ListAllowlistIdentifiers>();
        b.to_async(&rt).iter_custom(|iters| {
            let mut svc = svc.clone();
            async move {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    black_box(list_service(&mut svc).await);
                }
                start.elapsed()
            }
        })
    });
    g.finish();
}

/// `PROFILE=VARIANT[:CALLS] cargo bench -p clerk-tower-benches --bench stack_overhead` runs only `CALLS` calls of one
/// variant (`bare`, `default`, `no_retry`, `no_timeout`, `no_retry_no_timeout`) and exits:
/// a short, steady workload to run under `valgrind --tool=callgrind` or `--tool=dhat`.
fn profile(v: &Variants, spec: &str) {
    let (variant, calls) = spec.split_once(':').unwrap_or((spec, "100000"));
    let calls: u64 = calls.parse().expect("PROFILE=VARIANT:CALLS");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = match variant {
        "bare" => None,
        "default" => Some(&v.default),
        "no_retry" => Some(&v.no_retry),
        "no_timeout" => Some(&v.no_timeout),
        "no_retry_no_timeout" => Some(&v.no_retry_no_timeout),
        other => panic!("unknown variant {other}"),
    };
    rt.block_on(async {
        for _ in 0..calls {
            match client {
                Some(client) => drop(black_box(list(client).await)),
                None => drop(black_box(bare(v).await)),
            }
        }
    });
    println!("profiled {calls} calls of {variant}");
}

fn main() {
    let v = Variants::new();
    if let Ok(spec) = std::env::var("PROFILE") {
        return profile(&v, &spec);
    }
    report_allocations(&v);
    let mut c = support::criterion();
    benches(&mut c, &v);
    c.final_summary();
    if !support::benchmarking() || !support::selected("stack_overhead_list_1") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let v = &v;
    let table = interleave!(rt, 15, 20_000, {
        "bare_transport" => bare(v),
        "client_default" => list(&v.default),
        "client_no_retry" => list(&v.no_retry),
        "client_no_timeout" => list(&v.no_timeout),
        "client_no_retry_no_timeout" => list(&v.no_retry_no_timeout),
    });
    table.print(
        "stack_overhead_list_1",
        &[
            ("client_default", "bare_transport", 0.0),
            ("client_no_retry", "bare_transport", 0.0),
            ("client_no_timeout", "bare_transport", 0.0),
            ("client_no_retry_no_timeout", "bare_transport", 0.0),
        ],
    );
    let bare = table.median_ns("bare_transport");
    for name in [
        "client_default",
        "client_no_retry",
        "client_no_timeout",
        "client_no_retry_no_timeout",
    ] {
        println!(
            "  {name}: {:+.0} ns/call over the bare transport",
            table.median_ns(name) - bare
        );
    }
}
