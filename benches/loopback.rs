//! Sequential keep-alive calls over TCP on 127.0.0.1, for each operation: the full client vs
//! a bare hyper-util client doing the same request with the same headers and the same serde
//! decode into the crate's models, vs plain reqwest + serde_json into a struct of `String`s.
//!
//! The callers run one call at a time on a current-thread runtime, and the static server runs
//! on that same runtime (see `support::serve_on` for why): each measured call includes the
//! server's work, which is the same for every contender.
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench loopback
//! ```

mod support;

use std::hint::black_box;

use clerk_tower::models::{AllowlistIdentifier, DeletedObject};
use clerk_tower::transport::TransportConfig;
use clerk_tower::{Client, RetryConfig};
use http::Method;
use serde::Serialize;

use support::{
    interleave, BareClient, BareHeaders, Page, PlainDeleted, PlainIdentifier, PlainPage, Urls,
};

/// The create body, serialised per call by every contender.
#[derive(Serialize)]
struct CreateBody<'a> {
    identifier: &'a str,
}

struct Contenders {
    client: Client,
    /// The client with retries disabled and no total timeout (attribution, list_1 only).
    client_lean: Client,
    /// The crate's own hyper-util transport (HTTPS-or-HTTP connector, pool settings), used
    /// bare (attribution, list_1 only).
    crate_transport: clerk_tower::transport::HyperClient,
    bare: BareClient,
    headers: BareHeaders,
    reqwest: reqwest::Client,
    urls: Urls,
}

#[derive(Clone, Copy)]
enum Op {
    List1,
    List500Paginated,
    List500Bare,
    Create,
    Delete,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::List1,
        Op::List500Paginated,
        Op::List500Bare,
        Op::Create,
        Op::Delete,
    ];

    fn group(self) -> &'static str {
        match self {
            Op::List1 => "loopback_list_1",
            Op::List500Paginated => "loopback_list_500_paginated",
            Op::List500Bare => "loopback_list_500_bare",
            Op::Create => "loopback_create",
            Op::Delete => "loopback_delete",
        }
    }
}

async fn clerk_tower(c: &Contenders, op: Op) {
    let a = c.client.allowlist_identifiers();
    match op {
        Op::List1 => drop(black_box(a.list().await.expect("list"))),
        Op::List500Paginated => {
            let page = a.list().paginated(true).limit(500).await.expect("list");
            assert_eq!(page.data.len(), 500);
            drop(black_box(page));
        }
        Op::List500Bare => {
            let page = a.list().limit(500).await.expect("list");
            assert_eq!(page.data.len(), 500);
            drop(black_box(page));
        }
        Op::Create => drop(black_box(
            a.create(support::CREATE_IDENTIFIER).await.expect("create"),
        )),
        Op::Delete => drop(black_box(
            a.delete(support::DELETE_ID).await.expect("delete"),
        )),
    }
}

async fn bare_hyper_util(c: &Contenders, op: Op) {
    let h = &c.headers;
    match op {
        Op::List1 => drop(black_box(
            support::bare_call::<_, Page>(&c.bare, h.request(Method::GET, &c.urls.list, None))
                .await,
        )),
        Op::List500Paginated => {
            let req = h.request(Method::GET, &c.urls.list_500_paginated, None);
            let page = support::bare_call::<_, Page>(&c.bare, req).await;
            assert_eq!(page.data.len(), 500);
            drop(black_box(page));
        }
        Op::List500Bare => {
            let req = h.request(Method::GET, &c.urls.list_500_bare, None);
            let page = support::bare_call::<_, Page>(&c.bare, req).await;
            assert_eq!(page.data.len(), 500);
            drop(black_box(page));
        }
        Op::Create => {
            let body = serde_json::to_vec(&CreateBody {
                identifier: support::CREATE_IDENTIFIER,
            })
            .expect("json");
            let req = h.request(Method::POST, &c.urls.list, Some(body.into()));
            drop(black_box(
                support::bare_call::<_, AllowlistIdentifier>(&c.bare, req).await,
            ));
        }
        Op::Delete => {
            let req = h.request(Method::DELETE, &c.urls.delete, None);
            drop(black_box(
                support::bare_call::<_, DeletedObject>(&c.bare, req).await,
            ));
        }
    }
}

/// List, one identifier, through the client with retries disabled and no total timeout.
async fn clerk_tower_lean(c: &Contenders) {
    let a = c.client_lean.allowlist_identifiers();
    drop(black_box(a.list().await.expect("list")));
}

/// List, one identifier, bare, but over the crate's own hyper-util transport.
async fn bare_crate_transport(c: &Contenders) {
    let req = c.headers.request(Method::GET, &c.urls.list, None);
    drop(black_box(
        support::bare_call::<_, Page>(&c.crate_transport, req).await,
    ));
}

async fn reqwest_plain(c: &Contenders, op: Op) {
    let r = &c.reqwest;
    match op {
        Op::List1 => {
            let req = support::reqwest_request(r, Method::GET, &c.urls.list);
            drop(black_box(
                support::reqwest_call::<Vec<PlainIdentifier>>(req).await,
            ));
        }
        Op::List500Paginated => {
            let req = support::reqwest_request(r, Method::GET, &c.urls.list_500_paginated);
            let page = support::reqwest_call::<PlainPage>(req).await;
            assert_eq!(page.data.len(), 500);
            drop(black_box(page));
        }
        Op::List500Bare => {
            let req = support::reqwest_request(r, Method::GET, &c.urls.list_500_bare);
            let page = support::reqwest_call::<Vec<PlainIdentifier>>(req).await;
            assert_eq!(page.len(), 500);
            drop(black_box(page));
        }
        Op::Create => {
            let req = support::reqwest_request(r, Method::POST, &c.urls.list).json(&CreateBody {
                identifier: support::CREATE_IDENTIFIER,
            });
            drop(black_box(
                support::reqwest_call::<PlainIdentifier>(req).await,
            ));
        }
        Op::Delete => {
            let req = support::reqwest_request(r, Method::DELETE, &c.urls.delete);
            drop(black_box(support::reqwest_call::<PlainDeleted>(req).await));
        }
    }
}

/// `PROFILE=CONTENDER:CALLS[:OP] cargo bench -p clerk-tower-benches --bench loopback` makes `CALLS` calls of `OP`
/// (default `list_1`; the `clerk_tower`, `bare_hyper_util` and `reqwest_plain` contenders
/// take any of `list_1`, `list_500_paginated`, `list_500_bare`, `create`, `delete`) with one
/// contender (`clerk_tower`, `clerk_tower_no_retry_no_timeout`,
/// `bare_hyper_util`, `bare_crate_transport`, `reqwest_plain`) and exits: a steady workload for
/// `valgrind --tool=callgrind` (client and server share the one thread).
fn profile(rt: &tokio::runtime::Runtime, c: &Contenders, spec: &str) {
    let mut parts = spec.split(':');
    let who = parts.next().unwrap_or_default();
    let calls: u64 = parts.next().unwrap_or("20000").parse().expect("CALLS");
    let op = match parts.next().unwrap_or("list_1") {
        "list_1" => Op::List1,
        "list_500_paginated" => Op::List500Paginated,
        "list_500_bare" => Op::List500Bare,
        "create" => Op::Create,
        "delete" => Op::Delete,
        other => panic!("unknown operation {other}"),
    };
    rt.block_on(async {
        for _ in 0..calls {
            match who {
                "clerk_tower" => clerk_tower(c, op).await,
                "clerk_tower_no_retry_no_timeout" => clerk_tower_lean(c).await,
                "bare_hyper_util" => bare_hyper_util(c, op).await,
                "bare_crate_transport" => bare_crate_transport(c).await,
                "reqwest_plain" => reqwest_plain(c, op).await,
                other => panic!("unknown contender {other}"),
            }
        }
    });
    println!("profiled {calls} calls of {who}");
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr = support::serve_on(rt.handle());
    let base = format!("http://{addr}/v1");
    let contenders = {
        // The clients are built inside the runtime: reqwest needs one to be built.
        let _guard = rt.enter();
        Contenders {
            client: Client::builder()
                .secret_key(support::SECRET_KEY)
                .base_url(base.clone())
                .build()
                .expect("client"),
            client_lean: Client::builder()
                .secret_key(support::SECRET_KEY)
                .base_url(base.clone())
                .retry(RetryConfig::disabled())
                .no_timeout()
                .build()
                .expect("client"),
            crate_transport: clerk_tower::transport::hyper_client(&TransportConfig::default())
                .expect("transport"),
            bare: support::bare_client(),
            headers: BareHeaders::new(),
            reqwest: support::reqwest_client(),
            urls: Urls::new(&base),
        }
    };
    let c = &contenders;
    if let Ok(spec) = std::env::var("PROFILE") {
        return profile(&rt, c, &spec);
    }
    let mut crit = support::criterion();
    for op in Op::ALL {
        let mut g = crit.benchmark_group(op.group());
        g.bench_function("clerk_tower", |b| {
            b.to_async(&rt).iter(|| clerk_tower(c, op))
        });
        g.bench_function("bare_hyper_util", |b| {
            b.to_async(&rt).iter(|| bare_hyper_util(c, op))
        });
        g.bench_function("reqwest_plain", |b| {
            b.to_async(&rt).iter(|| reqwest_plain(c, op))
        });
        if matches!(op, Op::List1) {
            g.bench_function("clerk_tower_no_retry_no_timeout", |b| {
                b.to_async(&rt).iter(|| clerk_tower_lean(c))
            });
            g.bench_function("bare_crate_transport", |b| {
                b.to_async(&rt).iter(|| bare_crate_transport(c))
            });
        }
        g.finish();
    }
    crit.final_summary();
    if !support::benchmarking() {
        return;
    }

    // Ratios from interleaved rounds (A, B, C, A, B, C, ...): robust to load changes.
    for op in Op::ALL {
        if !support::selected(op.group()) {
            continue;
        }
        let probe = std::time::Instant::now();
        rt.block_on(async {
            for _ in 0..20 {
                clerk_tower(c, op).await;
            }
        });
        let calls =
            support::calls_per_turn(probe.elapsed(), 20, std::time::Duration::from_millis(60));
        let table = if matches!(op, Op::List1) {
            interleave!(rt, 15, calls, {
                "clerk_tower" => clerk_tower(c, op),
                "bare_hyper_util" => bare_hyper_util(c, op),
                "reqwest_plain" => reqwest_plain(c, op),
                "clerk_tower_no_retry_no_timeout" => clerk_tower_lean(c),
                "bare_crate_transport" => bare_crate_transport(c),
            })
        } else {
            interleave!(rt, 15, calls, {
                "clerk_tower" => clerk_tower(c, op),
                "bare_hyper_util" => bare_hyper_util(c, op),
                "reqwest_plain" => reqwest_plain(c, op),
            })
        };
        // Issue 20's targets (docs/benchmarks.md).
        let (vs_bare, vs_reqwest) = match op {
            Op::List1 => (0.97, 1.3),
            Op::List500Paginated | Op::List500Bare => (1.1, 1.3),
            Op::Create | Op::Delete => (0.0, 0.0),
        };
        table.print(
            op.group(),
            &[
                ("clerk_tower", "bare_hyper_util", vs_bare),
                ("clerk_tower", "reqwest_plain", vs_reqwest),
                ("bare_hyper_util", "reqwest_plain", 0.0),
            ],
        );
        if matches!(op, Op::List1) {
            table.print(
                "loopback_list_1, attribution",
                &[
                    ("clerk_tower_no_retry_no_timeout", "bare_hyper_util", 0.0),
                    ("bare_crate_transport", "bare_hyper_util", 0.0),
                    ("clerk_tower", "bare_crate_transport", 0.0),
                ],
            );
        }
    }
}
