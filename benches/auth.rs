//! Session token verification, per token, with a warm key cache.
//!
//! - `verify/clerk_tower`: [`Verifier::verify`] (JWKS-backed cache, warm; azp and iss checked),
//!   polled once: with a warm cache it never waits.
//! - `verify/jsonwebtoken`: jsonwebtoken 9 (its ring backend) used directly: `decode` into a
//!   `serde_json::Value` with an RS256 `Validation` (exp, nbf, iss), the key made once.
//! - `verify/ring`: the floor: split, base64url, ring's RS256 check, `serde_json` into a
//!   `Value`, no claim checks at all.
//! - `layer/*`: one request through an axum `Router` (one handler, `oneshot`), without a
//!   session layer, with a required one and a valid token, with an optional one and no token,
//!   and refused by a required one (no token).
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench auth
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
    Verifier::builder()
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
    let v = verifier(key.jwks());
    rt.block_on(v.verify(&token)).unwrap(); // warm the cache

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

/// The three verifications interleaved round by round, so that the load of a shared machine
/// hits them alike; prints the median time of each and the ratios of their throughputs.
fn interleaved() {
    let key = TestSigningKey::mock().unwrap();
    let token = token(key);
    let v = verifier(key.jwks());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(v.verify(&token)).unwrap();
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
    let ours = || {
        black_box(now_or_never(v.verify(black_box(&token))).unwrap().unwrap());
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
    let variants: [(&str, &dyn Fn()); 3] = [
        ("clerk_tower", &ours),
        ("jsonwebtoken", &jwt),
        ("ring", &floor),
    ];
    const ROUNDS: usize = 81;
    const PER_ROUND: u32 = 100;
    let mut times = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for round in 0..ROUNDS {
        for i in 0..variants.len() {
            // Rotate the order every round.
            let i = (i + round) % variants.len();
            let started = std::time::Instant::now();
            for _ in 0..PER_ROUND {
                (variants[i].1)();
            }
            times[i].push(started.elapsed() / PER_ROUND);
        }
    }
    // Ratios round by round (the three ran back to back), then their median: robust to the
    // load of the machine drifting during the run.
    let median_ratio = |other: usize| {
        let mut ratios: Vec<f64> = (0..ROUNDS)
            .map(|r| times[other][r].as_secs_f64() / times[0][r].as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ROUNDS / 2]
    };
    let (vs_jwt, vs_ring) = (median_ratio(1), median_ratio(2));
    let medians: Vec<Duration> = times
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.sort();
            t[ROUNDS / 2]
        })
        .collect();
    println!(
        "interleaved ({ROUNDS} rounds of {PER_ROUND} verifications, median per verification):"
    );
    for ((name, _), median) in variants.iter().zip(&medians) {
        println!(
            "  {name:<13} {median:>10.2?}   {:>8.0} verifications/s",
            1.0 / median.as_secs_f64()
        );
    }
    println!("  clerk_tower throughput vs jsonwebtoken: {vs_jwt:.3}x (median of per-round ratios)");
    println!(
        "  clerk_tower throughput vs ring floor:   {vs_ring:.3}x (median of per-round ratios)"
    );
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench_verify, bench_layer
}

fn main() {
    // `cargo bench --bench auth -- interleaved` runs the interleaved comparison only; another
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
