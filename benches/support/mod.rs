//! Shared support for the benchmarks: fixed, spec-shaped JSON bodies computed once, a minimal
//! static hyper server on 127.0.0.1 that answers the three allow-list routes with them, an
//! in-memory transport that answers with the same bytes, the bare baselines (a hyper-util
//! client doing what the stack does by hand, and plain reqwest + serde_json), and one
//! criterion configuration short enough for a shared 2-core machine.
//!
//! Every bench binary includes this file with `mod support;`; not every binary uses every
//! item, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use clerk_tower::models::AllowlistIdentifierList;
use clerk_tower::{HttpRequest, HttpResponse};
use criterion::Criterion;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The secret key every client sends (the static server does not check it; the mock does).
pub const SECRET_KEY: &str = "sk_test_clerk_tower_bench_0123456789abcdef";
/// The identifier the create benchmarks send.
pub const CREATE_IDENTIFIER: &str = "ada.lovelace@example.com";
/// The id the delete benchmarks send.
pub const DELETE_ID: &str = "alid_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u";

/// Criterion settings for this machine: 1 s warm-up, 3 s measurement, 30 samples.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args()
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The response bodies, built once.
pub struct Fixtures {
    /// One identifier: the answer to a create.
    pub one: Bytes,
    /// A bare array of one identifier: the answer to `GET /allowlist_identifiers`.
    pub list_1: Bytes,
    /// `{"data": [500 identifiers], "total_count": 1234}`: `?paginated=true&limit=500`.
    pub page_500: Bytes,
    /// A bare array of 500 identifiers: `?limit=500` (not paginated).
    pub bare_500: Bytes,
    /// The `DeletedObject` answer to a delete.
    pub deleted: Bytes,
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A deterministic Clerk-looking id: `prefix` + 27 base62 characters.
fn clerk_id(prefix: &str, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut id = String::with_capacity(prefix.len() + 27);
    id.push_str(prefix);
    for _ in 0..27 {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        id.push(BASE62[(r >> 58) as usize % 62] as char);
    }
    id
}

/// The `i`-th identifier of the fixtures: e-mail addresses mostly, some phone numbers and
/// web3 wallets, an invitation on every third one; times in Unix milliseconds.
fn identifier_json(i: u64) -> serde_json::Value {
    let (identifier, kind) = match i % 10 {
        7 => (format!("+1555{:07}", 100_000 + i), "phone_number"),
        9 => (
            format!("0x{:040x}", 0x5eed_0000_0000_u64 + i * 7919),
            "web3_wallet",
        ),
        _ => (format!("user.{i:04}@example-company.com"), "email_address"),
    };
    let created = 1_715_000_000_000_i64 + (i as i64) * 60_000;
    let mut v = serde_json::json!({
        "object": "allowlist_identifier",
        "id": clerk_id("alid_", i),
        "identifier": identifier,
        "identifier_type": kind,
        "instance_id": "ins_2bS1Xq8rYw9cT4mJvZ6kHpLdE3n",
        "created_at": created,
        "updated_at": created + 1_000,
    });
    if i % 3 == 0 && kind != "web3_wallet" {
        v["invitation_id"] = serde_json::Value::String(clerk_id("inv_", i));
    }
    v
}

fn to_bytes(v: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("fixtures serialize"))
}

/// The fixtures, built on first use.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let one = identifier_json(0);
        let many: Vec<_> = (1..=500).map(identifier_json).collect();
        Fixtures {
            one: to_bytes(&one),
            list_1: to_bytes(&serde_json::Value::Array(vec![one])),
            page_500: to_bytes(&serde_json::json!({ "data": many, "total_count": 1234 })),
            bare_500: to_bytes(&serde_json::Value::Array(many)),
            deleted: to_bytes(&serde_json::json!({
                "object": "allowlist_identifier",
                "id": DELETE_ID,
                "deleted": true,
            })),
        }
    })
}

/// The body and status for a request, or `None` for an unknown route.
fn route(method: &Method, path: &str, query: Option<&str>) -> Option<Bytes> {
    let f = fixtures();
    let rest = path.strip_prefix("/v1/allowlist_identifiers")?;
    match (method, rest) {
        (&Method::GET, "") => Some(match query {
            Some(q) if q.contains("paginated=true") && q.contains("limit=500") => {
                f.page_500.clone()
            }
            Some(q) if q.contains("limit=500") => f.bare_500.clone(),
            _ => f.list_1.clone(),
        }),
        (&Method::POST, "") => Some(f.one.clone()),
        (&Method::DELETE, id) if id.len() > 1 && !id[1..].contains('/') => Some(f.deleted.clone()),
        _ => None,
    }
}

fn json_response(body: Option<Bytes>) -> Response<Full<Bytes>> {
    let (status, body) = match body {
        Some(body) => (StatusCode::OK, body),
        None => (
            StatusCode::NOT_FOUND,
            Bytes::from_static(br#"{"errors":[{"message":"not found","long_message":"Resource not found","code":"resource_not_found"}]}"#),
        ),
    };
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

// ---------------------------------------------------------------------------------------------
// The static loopback server
// ---------------------------------------------------------------------------------------------

/// How many TCP connections the static servers of this process have accepted.
pub static CONNECTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Starts the static server on `127.0.0.1:0` as tasks of the runtime `rt` and returns its
/// address. It runs as long as the runtime does.
///
/// The benchmarks run it on the callers' own runtime: on this machine (a 2-vCPU VM), waking a
/// thread on the other vCPU for every request costs far more than the request itself and
/// varies with the load of the host, while the server sharing the callers' thread (or
/// threads) measures what the callers cost in CPU, which is what the ratios are about. The
/// server's work is the same for every contender.
pub fn serve_on(rt: &tokio::runtime::Handle) -> SocketAddr {
    serve_counted(rt).0
}

/// Like [`serve_on`], and also returns the number of connections this server has accepted.
pub fn serve_counted(
    rt: &tokio::runtime::Handle,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let _ = fixtures();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let addr = std_listener.local_addr().expect("addr");
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let (parts, body) = req.into_parts();
                        // Read the request body, so the connection stays reusable.
                        let _ = body.collect().await;
                        let body = route(&parts.method, parts.uri.path(), parts.uri.query());
                        Ok::<_, Infallible>(json_response(body))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, accepted)
}

/// Starts the static server in a thread of its own, on a Tokio runtime with `workers`
/// worker threads (0 = a current-thread runtime), and returns its address.
pub fn spawn_server(workers: usize) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || {
            let rt = if workers == 0 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()
            }
            .expect("server runtime");
            tx.send(serve_on(rt.handle())).expect("send addr");
            rt.block_on(std::future::pending::<()>());
        })
        .expect("server thread");
    rx.recv().expect("server address")
}

// ---------------------------------------------------------------------------------------------
// The in-memory transport
// ---------------------------------------------------------------------------------------------

/// A transport without sockets: routes like the static server and answers with the same
/// precomputed bytes (a reference-count clone, no copy).
pub fn in_memory_transport() -> impl tower::Service<
    HttpRequest,
    Response = HttpResponse,
    Error = Infallible,
    Future = std::future::Ready<Result<HttpResponse, Infallible>>,
> + Clone
       + Send
       + Sync
       + 'static {
    let _ = fixtures();
    tower::service_fn(|req: HttpRequest| {
        let body = route(req.method(), req.uri().path(), req.uri().query());
        std::future::ready(Ok(json_response(body)))
    })
}

// ---------------------------------------------------------------------------------------------
// The bare hyper-util baseline: the same request, headers and decode, written by hand
// ---------------------------------------------------------------------------------------------

/// The headers every request carries, built once (as a careful hand-written client would).
#[derive(Clone)]
pub struct BareHeaders {
    pub authorization: HeaderValue,
    pub user_agent: HeaderValue,
    pub accept: HeaderValue,
    pub api_version: HeaderValue,
    pub json: HeaderValue,
}

impl BareHeaders {
    pub fn new() -> Self {
        let mut authorization =
            HeaderValue::try_from(format!("Bearer {SECRET_KEY}")).expect("header");
        authorization.set_sensitive(true);
        Self {
            authorization,
            user_agent: HeaderValue::from_static(concat!(
                "clerk-tower/",
                env!("CARGO_PKG_VERSION")
            )),
            accept: HeaderValue::from_static("application/json"),
            api_version: HeaderValue::from_static(clerk_tower::layer::headers::DEFAULT_API_VERSION),
            json: HeaderValue::from_static("application/json"),
        }
    }

    /// A request with the same method, URI, headers and body as the client sends.
    pub fn request(&self, method: Method, uri: &str, body: Option<Bytes>) -> HttpRequest {
        let mut req = Request::new(Full::new(body.clone().unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = Uri::try_from(uri).expect("uri");
        let h = req.headers_mut();
        h.insert(USER_AGENT, self.user_agent.clone());
        h.insert(ACCEPT, self.accept.clone());
        h.insert(
            clerk_tower::layer::headers::CLERK_API_VERSION,
            self.api_version.clone(),
        );
        if body.is_some() {
            h.insert(CONTENT_TYPE, self.json.clone());
        }
        h.insert(AUTHORIZATION, self.authorization.clone());
        req
    }
}

impl Default for BareHeaders {
    fn default() -> Self {
        Self::new()
    }
}

/// The same decode as the client: one UTF-8 check, then `serde_json::from_str`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> T {
    let text = std::str::from_utf8(body).expect("utf-8");
    serde_json::from_str(text).expect("decode")
}

/// The bare hyper-util client: pooled, HTTP/1.1, plain TCP with `TCP_NODELAY` (as the
/// client's transport sets it), no TLS wrapper, no middleware.
pub type BareClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

pub fn bare_client() -> BareClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(http)
}

/// One call through a bare hyper-util client: send, check the status, read the body, decode.
pub async fn bare_call<C, T>(
    client: &hyper_util::client::legacy::Client<C, Full<Bytes>>,
    req: HttpRequest,
) -> T
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
    T: DeserializeOwned,
{
    let res = client.request(req).await.expect("bare request");
    assert!(res.status().is_success(), "status {}", res.status());
    let body = res
        .into_body()
        .collect()
        .await
        .expect("bare body")
        .to_bytes();
    decode(&body)
}

/// The URLs the baselines call, formatted once.
#[derive(Clone)]
pub struct Urls {
    pub base: String,
    pub list: String,
    pub list_500_paginated: String,
    pub list_500_bare: String,
    pub delete: String,
}

impl Urls {
    pub fn new(base: &str) -> Self {
        let list = format!("{base}/allowlist_identifiers");
        Self {
            base: base.to_owned(),
            list_500_paginated: format!("{list}?paginated=true&limit=500"),
            list_500_bare: format!("{list}?limit=500"),
            delete: format!("{list}/{DELETE_ID}"),
            list,
        }
    }
}

/// The JSON body of a create, as the client serialises it.
pub fn create_body() -> Bytes {
    Bytes::from(format!(r#"{{"identifier":"{CREATE_IDENTIFIER}"}}"#))
}

/// The crate's page type, for the bare baseline's decode.
pub type Page = AllowlistIdentifierList;

// ---------------------------------------------------------------------------------------------
// The plain baseline: what most Rust code calling Clerk does today
// ---------------------------------------------------------------------------------------------

/// An identifier as a plain struct of `String`s.
#[derive(Debug, Deserialize)]
pub struct PlainIdentifier {
    pub object: String,
    pub id: String,
    #[serde(default)]
    pub invitation_id: Option<String>,
    pub identifier: String,
    pub identifier_type: String,
    #[serde(default)]
    pub instance_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A paginated list as a plain struct.
#[derive(Debug, Deserialize)]
pub struct PlainPage {
    pub data: Vec<PlainIdentifier>,
    pub total_count: i64,
}

/// A deleted object as a plain struct.
#[derive(Debug, Deserialize)]
pub struct PlainDeleted {
    pub object: String,
    #[serde(default)]
    pub id: Option<String>,
    pub deleted: bool,
}

/// A reqwest client as most code builds one (rustls; the ring provider installed once).
pub fn reqwest_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("reqwest client")
}

/// The `Content-Type` etc. a plain reqwest caller sends with each request.
pub fn reqwest_request(
    client: &reqwest::Client,
    method: Method,
    url: &str,
) -> reqwest::RequestBuilder {
    client.request(method, url).bearer_auth(SECRET_KEY).header(
        "Clerk-API-Version",
        clerk_tower::layer::headers::DEFAULT_API_VERSION,
    )
}

/// Sends a reqwest request, checks the status and decodes the body with `Response::json`
/// (`serde_json::from_slice`).
pub async fn reqwest_call<T: DeserializeOwned>(req: reqwest::RequestBuilder) -> T {
    req.send()
        .await
        .expect("reqwest send")
        .error_for_status()
        .expect("reqwest status")
        .json()
        .await
        .expect("reqwest json")
}

// ---------------------------------------------------------------------------------------------
// Interleaved ratios: robust on a shared, noisy machine
// ---------------------------------------------------------------------------------------------

/// Whether this process runs as a real benchmark (`cargo bench`), not as a test
/// (`cargo test --benches` runs each criterion benchmark once and must stay quick).
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The name filter given on the command line (`cargo bench --bench X -- FILTER`), if any.
pub fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

/// Whether a group passes the command-line filter.
pub fn selected(group: &str) -> bool {
    filter().is_none_or(|f| group.contains(&f))
}

/// Per-round timings of contenders that ran in turn (A, B, C, A, B, C, ...), so a change of
/// load on the machine hits all of them alike. Fill it with [`interleave!`].
pub struct Interleaved {
    pub names: Vec<&'static str>,
    /// `samples[contender][round]`: nanoseconds per call in that round.
    pub samples: Vec<Vec<f64>>,
}

impl Interleaved {
    pub fn new(names: &[&'static str]) -> Self {
        Self {
            names: names.to_vec(),
            samples: vec![Vec::new(); names.len()],
        }
    }

    pub fn push(&mut self, contender: usize, elapsed: Duration, calls: u64) {
        self.samples[contender].push(elapsed.as_nanos() as f64 / calls as f64);
    }

    /// Divides every sample by `calls` (when one timed "call" was a run of `calls` calls).
    pub fn per_call(mut self, calls: u64) -> Self {
        for samples in &mut self.samples {
            for s in samples.iter_mut() {
                *s /= calls as f64;
            }
        }
        self
    }

    fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| *n == name)
            .expect("unknown contender")
    }

    /// The median time per call of `name`, in nanoseconds.
    pub fn median_ns(&self, name: &str) -> f64 {
        median(self.samples[self.index(name)].clone())
    }

    /// The median over rounds of `time(theirs) / time(ours)`: how many times the throughput of
    /// `theirs` `ours` has.
    pub fn ratio(&self, ours: &str, theirs: &str) -> f64 {
        let (a, b) = (
            &self.samples[self.index(ours)],
            &self.samples[self.index(theirs)],
        );
        median(a.iter().zip(b).map(|(a, b)| b / a).collect())
    }

    /// Prints each contender's median ns/call and the given ratios with their targets (a
    /// target of 0 prints no verdict).
    pub fn print(&self, title: &str, ratios: &[(&str, &str, f64)]) {
        let rounds = self.samples.first().map_or(0, Vec::len);
        println!("\n== {title} (interleaved, {rounds} rounds; medians) ==");
        for name in &self.names {
            println!("  {name:<28} {:>12.0} ns/call", self.median_ns(name));
        }
        for (ours, theirs, target) in ratios {
            let ratio = self.ratio(ours, theirs);
            let verdict = match *target {
                t if t <= 0.0 => String::new(),
                t if ratio >= t => format!("  (target >= {t:.2}x: ok)"),
                t => format!(
                    "  (target >= {t:.2}x: MISSED by {:.1} %)",
                    (t - ratio) / t * 100.0
                ),
            };
            println!("  {ours} vs {theirs}: {ratio:.3}x{verdict}");
        }
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// How many calls of about `probe_ns` each fill `turn` (at least 1).
pub fn calls_per_turn(probe: Duration, probe_calls: u64, turn: Duration) -> u64 {
    let per_call = probe.as_nanos().max(1) as f64 / probe_calls as f64;
    ((turn.as_nanos() as f64 / per_call) as u64).max(1)
}

/// Runs contenders in turn for `rounds` rounds on `rt`, each turn `calls` sequential calls of
/// the contender's expression (an `async` expression evaluated anew for every call), and
/// returns the [`Interleaved`] table.
///
/// ```ignore
/// let table = interleave!(rt, 15, 1000, {
///     "clerk_tower" => clerk_tower(c, op),
///     "bare_hyper_util" => bare_hyper_util(c, op),
/// });
/// ```
macro_rules! interleave {
    ($rt:expr, $rounds:expr, $calls:expr, { $($name:literal => $call:expr),+ $(,)? }) => {{
        let mut table = $crate::support::Interleaved::new(&[$($name),+]);
        let calls: u64 = $calls;
        for _ in 0..$rounds {
            let mut i = 0;
            $(
                let start = std::time::Instant::now();
                $rt.block_on(async {
                    for _ in 0..calls {
                        $call.await;
                    }
                });
                table.push(i, start.elapsed(), calls);
                i += 1;
            )+
            let _ = i;
        }
        table
    }};
}
#[allow(unused_imports)]
pub(crate) use interleave;
