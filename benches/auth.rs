//! Session token verification, per token, with a warm key cache.
//!
//! - `verify/clerk_tower`: [`Verifier::verify`] (JWKS-backed cache, warm; azp and iss checked),
//!   polled once: with a warm cache it never waits. The verified-token cache is off: a cold
//!   verification of each token.
//! - `verify/clerk_tower_repeated`: the same token again with the verified-token cache on
//!   (the default): a digest, a lookup, `exp`/`nbf`.
//! - `verify/jsonwebtoken`: jsonwebtoken 9 (its ring backend) used directly: `decode` into a
//!   `serde_json::Value` with an RS256 `Validation` (exp, nbf, iss), the key made once.
//! - `verify/ring`: the floor: split, base64url, ring's RS256 check, `serde_json` into a
//!   `Value`, no claim checks at all.
//! - `layer/*`: one request through an axum `Router` (one handler, `oneshot`), without a
//!   session layer, with a required one and a valid token, with an optional one and no token,
//!   and refused by a required one (no token).
//! - `interleaved` (printed first): the verifications, and the axum app with and without the
//!   layer, interleaved round by round on one thread; the ratios the targets of
//!   `docs/benchmarks.md` are about come from this run.
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench auth
//! cargo bench -p clerk-tower-benches --bench auth -- interleaved   # the interleaved run only
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clerk_tower::auth::{Claims, SessionLayer, Verifier};
use clerk_tower::mock::{TestSigningKey, MOCK_ISSUER};
use clerk_tower::models::Jwks;
use criterion::{criterion_group, Criterion, Throughput};
use http::Request;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};
use tower::ServiceExt;

const AZP: &str = "https://app.example.com";

fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args()
}

/// Polls a future once; `None` if it would wait.
fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// A realistic v2 session token (organization, features, factor age, status).
fn token(key: &TestSigningKey) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    key.sign(&json!({
        "azp": AZP, "exp": now + 3600, "fva": [12, -1], "iat": now, "iss": MOCK_ISSUER,
        "jti": "5f6a2e4d8b1c9e0f3a7b", "nbf": now - 10, "sid": "sess_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u",
        "sts": "active", "sub": "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u", "v": 2,
        "fea": "o:billing,o:reports,u:beta", "pla": "o:pro",
        "o": {"id": "org_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u", "rol": "admin", "slg": "acme",
              "per": "read,manage", "fpm": "3,1"}
    }))
    .unwrap()
}

fn verifier(jwks: Jwks) -> Verifier {
    verifier_with_cache(jwks, true)
}

fn verifier_with_cache(jwks: Jwks, cache: bool) -> Verifier {
    Verifier::builder()
        .session_cache_capacity(if cache { 10_000 } else { 0 })
        .jwks_source(move || {
            let jwks = jwks.clone();
            async move { Ok::<_, clerk_tower::Error>(jwks) }
        })
        .authorized_parties([AZP])
        .issuer(MOCK_ISSUER)
        .jwks_ttl(Duration::from_secs(3600))
        .build()
        .unwrap()
}

fn bench_verify(c: &mut Criterion) {
    let key = TestSigningKey::mock().unwrap();
    let token = token(key);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = verifier_with_cache(key.jwks(), false);
    rt.block_on(v.verify(&token)).unwrap(); // warm the key cache
    let cached = verifier(key.jwks());
    rt.block_on(cached.verify(&token)).unwrap(); // and the token cache

    let jwk = key.jwk();
    let (n, e) = (jwk.n.unwrap(), jwk.e.unwrap());
    let decoding_key = jsonwebtoken::DecodingKey::from_rsa_components(&n, &e).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.leeway = 5;
    validation.validate_nbf = true;
    validation.set_issuer(&[MOCK_ISSUER]);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let (n_raw, e_raw) = (
        URL_SAFE_NO_PAD.decode(&n).unwrap(),
        URL_SAFE_NO_PAD.decode(&e).unwrap(),
    );

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("clerk_tower", |b| {
        b.iter(|| {
            let claims: Claims = now_or_never(v.verify(black_box(&token)))
                .expect("warm cache: no wait")
                .unwrap();
            claims
        })
    });
    group.bench_function("clerk_tower_repeated", |b| {
        b.iter(|| {
            let claims: Claims = now_or_never(cached.verify(black_box(&token)))
                .expect("cached: no wait")
                .unwrap();
            claims
        })
    });
    group.bench_function("jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Value>(black_box(&token), &decoding_key, &validation)
                .unwrap()
                .claims
        })
    });
    group.bench_function("ring", |b| {
        b.iter(|| {
            let token = black_box(&token);
            let (input, sig) = token.rsplit_once('.').unwrap();
            let (_, payload) = input.split_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            RsaPublicKeyComponents {
                n: &n_raw[..],
                e: &e_raw[..],
            }
            .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
            .unwrap();
            let payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
            serde_json::from_slice::<Value>(&payload).unwrap()
        })
    });
    group.finish();
}

fn bench_layer(c: &mut Criterion) {
    let key = TestSigningKey::mock().unwrap();
    let token = token(key);
    let bearer = format!("Bearer {token}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = verifier(key.jwks());
    rt.block_on(v.verify(&token)).unwrap();

    async fn public() -> &'static str {
        "ok"
    }
    async fn me(claims: Claims) -> String {
        claims.sub
    }
    async fn maybe(claims: Option<Claims>) -> &'static str {
        if claims.is_some() {
            "user"
        } else {
            "anonymous"
        }
    }
    let bare = Router::new().route("/", get(public));
    let required = Router::new()
        .route("/", get(me))
        .layer(SessionLayer::required(v.clone()));
    let optional = Router::new()
        .route("/", get(maybe))
        .layer(SessionLayer::optional(v));
    let request = |auth: Option<&str>| {
        let mut req = Request::get("/");
        if let Some(a) = auth {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        req.body(Body::empty()).unwrap()
    };

    let mut group = c.benchmark_group("layer");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("no_layer", &bare, None, 200),
        (
            "required_valid_token",
            &required,
            Some(bearer.as_str()),
            200,
        ),
        ("optional_no_token", &optional, None, 200),
        ("required_no_token_401", &required, None, 401),
    ];
    for (name, app, auth, status) in cases {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let res = app.clone().oneshot(request(auth)).await.unwrap();
                assert_eq!(res.status(), status);
                res
            })
        });
    }
    group.finish();
}

/// Runs `variants` interleaved round by round (the order rotated each round), `per_round`
/// calls each; returns the time per call of each variant in each round.
fn rounds(variants: &[(&str, &dyn Fn())], rounds: usize, per_round: u32) -> Vec<Vec<Duration>> {
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    for round in 0..rounds {
        for i in 0..variants.len() {
            let i = (i + round) % variants.len();
            let started = std::time::Instant::now();
            for _ in 0..per_round {
                (variants[i].1)();
            }
            times[i].push(started.elapsed() / per_round);
        }
    }
    times
}

fn median<T: Copy>(mut values: Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> T {
    values.sort_by(cmp);
    values[values.len() / 2]
}

/// The median over rounds of `f(times of round r)`: ratios and differences taken within a
/// round (the variants ran back to back) are robust to the load of the machine drifting.
fn per_round(times: &[Vec<Duration>], f: impl Fn(&[Duration]) -> f64) -> f64 {
    let n = times[0].len();
    let values: Vec<f64> = (0..n)
        .map(|r| f(&times.iter().map(|t| t[r]).collect::<Vec<_>>()))
        .collect();
    median(values, f64::total_cmp)
}

fn print_medians(variants: &[(&str, &dyn Fn())], times: &[Vec<Duration>]) {
    for ((name, _), t) in variants.iter().zip(times) {
        let m = median(t.clone(), Ord::cmp);
        println!("  {name:<28} {m:>10.2?}   {:>9.0}/s", 1.0 / m.as_secs_f64());
    }
}

/// The verifications and the axum app interleaved round by round, so that the load of a
/// shared machine hits them alike; prints the median time of each and the ratios the targets
/// are about.
fn interleaved() {
    let key = TestSigningKey::mock().unwrap();
    let token = token(key);
    let cold = verifier_with_cache(key.jwks(), false);
    let cached = verifier(key.jwks());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(cold.verify(&token)).unwrap();
    rt.block_on(cached.verify(&token)).unwrap();
    let jwk = key.jwk();
    let (n, e) = (jwk.n.unwrap(), jwk.e.unwrap());
    let decoding_key = jsonwebtoken::DecodingKey::from_rsa_components(&n, &e).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.leeway = 5;
    validation.validate_nbf = true;
    validation.set_issuer(&[MOCK_ISSUER]);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let (n_raw, e_raw) = (
        URL_SAFE_NO_PAD.decode(&n).unwrap(),
        URL_SAFE_NO_PAD.decode(&e).unwrap(),
    );
    let ours_cold = || {
        black_box(
            now_or_never(cold.verify(black_box(&token)))
                .unwrap()
                .unwrap(),
        );
    };
    let ours_repeated = || {
        black_box(
            now_or_never(cached.verify(black_box(&token)))
                .unwrap()
                .unwrap(),
        );
    };
    let jwt = || {
        black_box(
            jsonwebtoken::decode::<Value>(black_box(&token), &decoding_key, &validation).unwrap(),
        );
    };
    let floor = || {
        let token = black_box(&token);
        let (input, sig) = token.rsplit_once('.').unwrap();
        let (_, payload) = input.split_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        RsaPublicKeyComponents {
            n: &n_raw[..],
            e: &e_raw[..],
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
        .unwrap();
        let payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
        black_box(serde_json::from_slice::<Value>(&payload).unwrap());
    };
    let variants: [(&str, &dyn Fn()); 4] = [
        ("clerk_tower cold", &ours_cold),
        ("clerk_tower repeated token", &ours_repeated),
        ("jsonwebtoken", &jwt),
        ("ring floor", &floor),
    ];
    const ROUNDS: usize = 81;
    let times = rounds(&variants, ROUNDS, 100);
    println!("interleaved verifications ({ROUNDS} rounds of 100, median per verification):");
    print_medians(&variants, &times);
    let vs_jwt = per_round(&times, |t| t[2].as_secs_f64() / t[0].as_secs_f64());
    let repeated = per_round(&times, |t| t[0].as_secs_f64() / t[1].as_secs_f64());
    let vs_ring = per_round(&times, |t| t[3].as_secs_f64() / t[0].as_secs_f64());
    println!("  cold throughput vs jsonwebtoken:     {vs_jwt:.3}x (target >= 0.95x)");
    println!("  cold throughput vs ring floor:       {vs_ring:.3}x");
    println!("  repeated token vs cold:              {repeated:.1}x faster (target >= 20x)");
    if std::env::var_os("AUTH_BENCH_PARTS").is_some() {
        let claims = now_or_never(cached.verify(&token)).unwrap().unwrap();
        let sha = || {
            black_box(ring::digest::digest(
                &ring::digest::SHA256,
                black_box(&token).as_bytes(),
            ));
        };
        let clone = || {
            black_box(black_box(&claims).clone());
        };
        let parts: [(&str, &dyn Fn()); 2] =
            [("sha256 of the token", &sha), ("Claims clone", &clone)];
        let times = rounds(&parts, 21, 1000);
        print_medians(&parts, &times);
        println!("  token length: {}", token.len());
    }

    // The axum app: the same handler without the layer, and behind a required layer with a
    // cached token; then with the `Claims` extractor as a handler would use it.
    async fn public() -> &'static str {
        "ok"
    }
    async fn me(claims: Claims) -> String {
        claims.sub
    }
    let bearer = format!("Bearer {token}");
    let bare = Router::new().route("/", get(public));
    let layered = Router::new()
        .route("/", get(public))
        .layer(SessionLayer::required(cached.clone()));
    let extracting = Router::new()
        .route("/", get(me))
        .layer(SessionLayer::required(cached));
    let call = |app: &Router, auth: Option<&str>| {
        let mut req = Request::get("/");
        if let Some(a) = auth {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let res = now_or_never(app.clone().oneshot(req.body(Body::empty()).unwrap()))
            .expect("no I/O")
            .unwrap();
        assert_eq!(res.status(), 200);
        black_box(res);
    };
    let no_layer = || call(&bare, Some(&bearer));
    let with_layer = || call(&layered, Some(&bearer));
    let with_extractor = || call(&extracting, Some(&bearer));
    let apps: [(&str, &dyn Fn()); 3] = [
        ("axum, no layer", &no_layer),
        ("axum, required layer (hit)", &with_layer),
        ("  + Claims extractor", &with_extractor),
    ];
    let times = rounds(&apps, ROUNDS, 200);
    println!("interleaved axum requests ({ROUNDS} rounds of 200, median per request):");
    print_medians(&apps, &times);
    let layer = per_round(&times, |t| (t[1].as_secs_f64() - t[0].as_secs_f64()) * 1e6);
    let extractor = per_round(&times, |t| (t[2].as_secs_f64() - t[0].as_secs_f64()) * 1e6);
    println!("  layer cost per request on a hit:     {layer:.2} µs (target <= 2 µs)");
    println!("  layer + Claims extractor:            {extractor:.2} µs");
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench_verify, bench_layer
}

fn main() {
    // `cargo bench -p clerk-tower-benches --bench auth -- interleaved` runs the interleaved comparison only; another
    // filter runs the matching criterion benches only.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.is_empty() || filters.iter().any(|f| f == "interleaved") {
        interleaved();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
