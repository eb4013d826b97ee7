//! Session token verification end to end: every rejection, the per-instance key cache (key
//! rotation, single-flight refresh, minimum interval, TTL), the server layer in both modes,
//! the axum extractor, and the whole path over TCP (axum app -> verifier -> client -> mock).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "axum")]
use axum::{routing::get, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use clerk_tower::auth::{Claims, SessionLayer, TokenPart, Verifier, VerifierBuilder, VerifyError};
use clerk_tower::mock::{MockClerk, TestSigningKey, MOCK_ISSUER, TEST_JWT_PUBLIC_KEY, TEST_KEY_ID};
use clerk_tower::models::Jwks;
use clerk_tower::{Error, RetryConfig};
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tower::{service_fn, ServiceBuilder, ServiceExt};

use crate::common;

/// A second instance's key, generated with `openssl genrsa 2048` for these tests only.
pub(crate) const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCq6/uNfiJ2khWK
t1IsjgItsm1yJ/VN78VYF2MziXz4c8OC/KtBeT7k3fbG3tn8q7yd2xVEpT3txlJ0
UyEXUhLXsH65de7skEZ/fbSjsgzS77NIhjB9XrfeBczzvG4Lh6DLYExdhYkGdNPd
1pcQDOFdXXlgs9Ew26vq+VU/DHItkoVN7IWG9Hg++i6Q2kLYVGNdja/Tu8WwAI8a
hj0um2ie+HYaMBEoYbsnShanHNcUOmKHM/HFrtkdkBmYuhyOQdddmR5ir+vPQYv0
BHW0BXeIoK6S6EJFOnhSIZpbOWtLZeb3WMqS6f9qmJnXHtNNthgWVlLGorGsMR9a
W6sl2KtVAgMBAAECggEADDnKecW4sdoDq/Mub8ztl3awkO6OQ5efukwb9qsCMyRW
qwcnOczyJH1DAlkc5w+is3jhBdK7AgfCTJtIneorOl3fxqTKpQWx4Tss4VuiQrFO
FeUxUTpl9P3dud5z0aPPKtT1yWe8lCdlozPPBOEi+qJtxO6/yxqfarSQdizN+vfm
1p867qKVOMI4JICRmLZ2FXpopmrggediEHzzKvNuUJLdQ0zp4C6AmPHNHc7GUp+x
Hwfpx6ZYiEWxfZW8mW2N0jKsB/6RtktuicKhjpqMrObflkVrWlk3rhiREZXU5GEr
78Js0s2pRVtT1EzHF5tHk+U1oRzCya4YM3gCmecueQKBgQDbr0iB5G+RENJ3YS1k
Ox833VlE/xgo/Xvf1vlQl541uLLohRCNIrMT2zyjbNHyDDVTBn9M95xv1a7Poh+a
cyJgIKa+B4wUL8mFlyBHpNQAjAk5bCTDDJmsIMwGABVc8AUTENV28XCyJ5tmoxqB
S84j3w6N4OxAZiSWEd/D9e4V+QKBgQDHLSERsNOFxxFKK/bAiSKdDYX1Ep7WeTXs
qqr3DZj15j+OCabwn5u+OQM/j2+nbDOoPGZXvwiVyCXIiPlwOcc+IQ4NJeAuretK
Dj46lGHZGNKS8nlNSusz6Hhz8zkAGxIr5S6+iCYqwrQs+/sR3DRfBjz39EI5KiZD
psHh7AinPQKBgQCnRY7zAGoGzgVDSuYSFIZPtiXbyFSwGVpx9LD/MYMQqqLnMzKI
FGzAaMWCNkChibQslJznkP43lT+2714a7yG0iggMV5jMYhqSsqCsjI+0HuyDIZnY
PkbgblSLGRMrIcLrYnz3RR2nOUs1Wmm7G2pJm/TsCOA6pMukzNVR03dGmQKBgQCM
VFF+Q1VkZbLazUrWsEgA2yxMVMgwV8oUatJ1qdDhP0375vUFh46VYVnWiFqkXOmw
WI3KuL91uERWm5sS5MJqFaPuw4bFnKevz4UshKrD6GdEPS4VtPkt41Yqa2z3lBsj
bh+XAhnR+sgzAX4NQVZstNpz4FZgLEA1XeIwKLqYCQKBgCLdPpNZzMa1KgmaWHOx
tjnZCo86F6RNl1hC4TyifvOOslN+0+VbkJ/zD2O8/pVH4AlPjQxEq55WcuiE/OqW
L7TReYYlCg8dIFYVNbu4E2YM7zFaOipMPuJrnSmbb3R2Q7WNPm9WDlA2vLpsaIyt
6hz+vEtGqoOnLDOn3M1I3ScT
-----END PRIVATE KEY-----
";

fn other_key(kid: &str) -> TestSigningKey {
    TestSigningKey::from_pkcs8_pem(kid, OTHER_KEY).unwrap()
}

fn mock_key() -> &'static TestSigningKey {
    TestSigningKey::mock().unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims like Clerk's, valid now.
fn claims(sub: &str) -> Value {
    let now = now();
    json!({"sub": sub, "sid": "sess_1", "iss": MOCK_ISSUER, "iat": now, "nbf": now - 10, "exp": now + 60})
}

fn with(mut base: Value, extra: Value) -> Value {
    let (Value::Object(base_map), Value::Object(extra)) = (&mut base, extra) else {
        unreachable!()
    };
    base_map.extend(extra);
    base
}

/// A key source that counts its fetches, serves what `keys` holds, and takes `delay`.
#[derive(Clone)]
struct Source {
    keys: Arc<Mutex<Jwks>>,
    fetches: Arc<AtomicUsize>,
    delay: Duration,
}

impl Source {
    fn new(jwks: Jwks) -> Self {
        Source {
            keys: Arc::new(Mutex::new(jwks)),
            fetches: Arc::new(AtomicUsize::new(0)),
            delay: Duration::from_millis(50),
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn set(&self, jwks: Jwks) {
        *self.keys.lock().unwrap() = jwks;
    }

    /// A verifier builder fetching from this source. The verified-token cache is off: these
    /// tests are about the key cache, which a repeated token would skip.
    fn builder(&self) -> VerifierBuilder {
        let this = self.clone();
        Verifier::builder()
            .session_cache_capacity(0)
            .jwks_source(move || {
                let this = this.clone();
                async move {
                    this.fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(this.delay).await;
                    Ok::<_, Error>(this.keys.lock().unwrap().clone())
                }
            })
    }
}

fn verifier(source: &Source) -> Verifier {
    source.builder().build().unwrap()
}

async fn reject(verifier: &Verifier, token: &str) -> VerifyError {
    let err = verifier.verify(token).await.unwrap_err();
    // Never the token, nor a value from it.
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(token.len() < 8 || !shown.contains(token), "{shown}");
        assert!(!shown.contains("user_secret_marker"), "{shown}");
        assert!(!shown.contains("evil.example"), "{shown}");
    }
    err
}

#[tokio::test]
async fn valid_tokens_give_typed_claims() {
    let source = Source::new(mock_key().jwks());
    let v = verifier(&source);
    let token = mock_key()
        .sign(&with(
            claims("user_1"),
            json!({"v": 2, "fea": "o:billing", "o": {"id": "org_1", "rol": "admin", "slg": "acme", "per": "manage", "fpm": "1"},
                   "act": {"sub": "user_admin"}, "custom": {"plan": "pro"}}),
        ))
        .unwrap();
    let c = v.verify(&token).await.unwrap();
    assert_eq!(c.sub, "user_1");
    assert_eq!(c.session_id(), Some("sess_1"));
    assert_eq!(c.iss.as_deref(), Some(MOCK_ISSUER));
    assert_eq!(c.org_id(), Some("org_1"));
    assert!(c.has_role("org:admin"));
    assert!(c.has_permission("org:billing:manage"));
    assert_eq!(c.act.as_ref().unwrap().sub, "user_admin");
    assert_eq!(c.extra["custom"]["plan"], "pro");
    assert_eq!(source.fetches(), 1);
    // Warm cache: no more fetches.
    for _ in 0..10 {
        v.verify(&token).await.unwrap();
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn every_rejection_names_its_check() {
    let key = mock_key();
    let source = Source::new(key.jwks());
    let v = verifier(&source);
    let good = key.sign(&claims("user_secret_marker")).unwrap();
    v.verify(&good).await.unwrap();

    // alg: none, with and without a signature.
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": TEST_KEY_ID}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims("user_secret_marker").to_string());
    for token in [
        format!("{none_header}.{payload}."),
        format!("{none_header}.{payload}.c2ln"),
    ] {
        assert!(matches!(
            reject(&v, &token).await,
            VerifyError::UnsupportedAlgorithm
        ));
    }
    // HS256 with the public key as the HMAC secret (the classic key-confusion attack).
    let hs_header = URL_SAFE_NO_PAD
        .encode(json!({"alg": "HS256", "kid": TEST_KEY_ID, "typ": "JWT"}).to_string());
    let signing_input = format!("{hs_header}.{payload}");
    for secret in [
        TEST_JWT_PUBLIC_KEY.as_bytes(),
        key.jwk().n.unwrap().as_bytes(),
    ] {
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            signing_input.as_bytes(),
        );
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        assert!(matches!(
            reject(&v, &token).await,
            VerifyError::UnsupportedAlgorithm
        ));
    }
    // Any other alg, even one of the same family, and a missing alg.
    for header in [
        json!({"alg": "RS512", "kid": TEST_KEY_ID}),
        json!({"alg": "rs256", "kid": TEST_KEY_ID}),
        json!({"kid": TEST_KEY_ID}),
    ] {
        let token = key.sign_with_header(&header, &claims("user_u")).unwrap();
        assert!(
            matches!(reject(&v, &token).await, VerifyError::UnsupportedAlgorithm),
            "{header}"
        );
    }
    // A `crit` extension we do not understand.
    let token = key
        .sign_with_header(
            &json!({"alg": "RS256", "kid": TEST_KEY_ID, "crit": ["exp"]}),
            &claims("user_u"),
        )
        .unwrap();
    assert!(matches!(
        reject(&v, &token).await,
        VerifyError::Malformed(TokenPart::Header)
    ));
    // No kid when the keys come from a set; a kid the set does not have.
    let token = key
        .sign_with_header(&json!({"alg": "RS256"}), &claims("user_u"))
        .unwrap();
    assert!(matches!(
        reject(&v, &token).await,
        VerifyError::MissingKeyId
    ));
    let token = key
        .sign_with_header(
            &json!({"alg": "RS256", "kid": "ins_unknown"}),
            &claims("user_u"),
        )
        .unwrap();
    assert!(matches!(
        reject(&v, &token).await,
        VerifyError::UnknownKeyId
    ));
    // Signed by another key under the mock key's kid; a payload changed after signing.
    let forged = other_key(TEST_KEY_ID)
        .sign(&claims("user_secret_marker"))
        .unwrap();
    assert!(matches!(
        reject(&v, &forged).await,
        VerifyError::InvalidSignature
    ));
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let evil = URL_SAFE_NO_PAD.encode(
        with(
            claims("user_secret_marker"),
            json!({"azp": "https://evil.example"}),
        )
        .to_string(),
    );
    let tampered = format!("{head}.{evil}.{sig}");
    assert!(matches!(
        reject(&v, &tampered).await,
        VerifyError::InvalidSignature
    ));
    // Malformed structure.
    for token in ["", "abc", "a.b", "a.b.c.d", "!!.b.c", ".b.c"] {
        assert!(
            matches!(reject(&v, token).await, VerifyError::Malformed(_)),
            "{token:?}"
        );
    }
    let bad_sig = format!("{head}.{}.***", rest.split_once('.').unwrap().0);
    assert!(matches!(
        reject(&v, &bad_sig).await,
        VerifyError::Malformed(TokenPart::Signature)
    ));
    // Too large, checked before anything else.
    let huge = format!("{good}{}", "A".repeat(9000));
    assert!(matches!(
        reject(&v, &huge).await,
        VerifyError::TokenTooLarge { max: 8192 }
    ));
    // Claims.
    let now = now();
    let cases = [
        (json!({"exp": now - 60}), "token_expired"),
        (json!({"nbf": now + 60}), "token_not_yet_valid"),
        (json!({"iat": now + 60}), "token_issued_in_future"),
        (json!({"sub": ""}), "missing_claim"),
        (json!({"exp": "tomorrow"}), "invalid_claim"),
    ];
    for (extra, code) in cases {
        let token = key
            .sign(&with(claims("user_secret_marker"), extra.clone()))
            .unwrap();
        assert_eq!(reject(&v, &token).await.code(), code, "{extra}");
    }
    let no_exp = key.sign(&json!({"sub": "u"})).unwrap();
    assert!(matches!(
        reject(&v, &no_exp).await,
        VerifyError::MissingClaim("exp")
    ));
    assert_eq!(
        source.fetches(),
        1,
        "bad tokens with the known kid fetch nothing"
    );
}

#[tokio::test]
async fn leeway_applies_to_every_time() {
    let key = mock_key();
    let strict = Source::new(key.jwks())
        .builder()
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let lenient = Source::new(key.jwks())
        .builder()
        .leeway(Duration::from_secs(30))
        .build()
        .unwrap();
    let now = now();
    for extra in [
        json!({"exp": now - 10}),
        json!({"nbf": now + 10}),
        json!({"iat": now + 10}),
    ] {
        let token = key.sign(&with(claims("user_u"), extra.clone())).unwrap();
        assert!(strict.verify(&token).await.is_err(), "{extra}");
        assert!(lenient.verify(&token).await.is_ok(), "{extra}");
    }
    // The default (5 s) accepts a token that expired 2 s ago.
    let token = key
        .sign(&with(claims("user_u"), json!({"exp": now - 2})))
        .unwrap();
    verifier(&Source::new(key.jwks()))
        .verify(&token)
        .await
        .unwrap();
}

#[tokio::test]
async fn authorized_parties_and_issuer() {
    let key = mock_key();
    let source = Source::new(key.jwks());
    let app = "https://app.example.com";
    let strict = source
        .builder()
        .authorized_parties([app, "http://localhost:3000"])
        .issuer(MOCK_ISSUER)
        .build()
        .unwrap();
    let lenient = source
        .builder()
        .authorized_parties([app])
        .allow_missing_azp(true)
        .build()
        .unwrap();
    let unchecked = verifier(&source);

    let ok = key
        .sign(&with(claims("user_u"), json!({"azp": app})))
        .unwrap();
    strict.verify(&ok).await.unwrap();
    let other = key
        .sign(&with(
            claims("user_u"),
            json!({"azp": "https://evil.example"}),
        ))
        .unwrap();
    assert!(matches!(
        reject(&strict, &other).await,
        VerifyError::UnauthorizedParty
    ));
    assert!(
        matches!(
            reject(&lenient, &other).await,
            VerifyError::UnauthorizedParty
        ),
        "a present azp must always match"
    );
    unchecked.verify(&other).await.unwrap();
    // `azp` is compared exactly: no trailing slash, no prefix match.
    for near in [
        format!("{app}/"),
        format!("{app}.evil.example"),
        "https://APP.example.com".to_owned(),
    ] {
        let token = key
            .sign(&with(claims("user_u"), json!({"azp": near})))
            .unwrap();
        assert!(
            matches!(
                reject(&strict, &token).await,
                VerifyError::UnauthorizedParty
            ),
            "{near}"
        );
    }
    // No azp (or an empty one): refused unless allowed.
    for missing in [claims("user_u"), with(claims("user_u"), json!({"azp": ""}))] {
        let token = key.sign(&missing).unwrap();
        assert!(matches!(
            reject(&strict, &token).await,
            VerifyError::MissingAuthorizedParty
        ));
        lenient.verify(&token).await.unwrap();
        unchecked.verify(&token).await.unwrap();
    }
    let foreign = key
        .sign(&with(
            claims("user_u"),
            json!({"azp": app, "iss": "https://other.clerk.accounts.dev"}),
        ))
        .unwrap();
    assert!(matches!(
        reject(&strict, &foreign).await,
        VerifyError::InvalidIssuer
    ));
    let no_iss = key
        .sign(&json!({"sub": "user_u", "sid": "sess_1", "exp": now() + 60, "azp": app}))
        .unwrap();
    assert!(matches!(
        reject(&strict, &no_iss).await,
        VerifyError::InvalidIssuer
    ));
}

#[tokio::test]
async fn a_key_whose_alg_differs_is_a_mismatch() {
    let key = mock_key();
    let mut jwk = key.jwk();
    jwk.alg = Some("RS512".into());
    let v = verifier(&Source::new(Jwks { keys: vec![jwk] }));
    let token = key.sign(&claims("user_u")).unwrap();
    assert!(matches!(reject(&v, &token).await, VerifyError::KeyMismatch));
    let mut ec = key.jwk();
    ec.kty = clerk_tower::models::KeyType::Ec;
    let v = verifier(&Source::new(Jwks { keys: vec![ec] }));
    assert!(matches!(reject(&v, &token).await, VerifyError::KeyMismatch));
}

#[tokio::test]
async fn networkless_mode_never_fetches() {
    let v = Verifier::builder()
        .jwt_key(TEST_JWT_PUBLIC_KEY)
        .build()
        .unwrap();
    let key = mock_key();
    let c = v
        .verify(&key.sign(&claims("user_1")).unwrap())
        .await
        .unwrap();
    assert_eq!(c.sub, "user_1");
    // Any kid (or none) is verified with the one key, and only with it.
    let no_kid = key
        .sign_with_header(&json!({"alg": "RS256"}), &claims("user_u"))
        .unwrap();
    v.verify(&no_kid).await.unwrap();
    let forged = other_key(TEST_KEY_ID).sign(&claims("user_u")).unwrap();
    assert!(matches!(
        reject(&v, &forged).await,
        VerifyError::InvalidSignature
    ));
    let hs = {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims("user_u").to_string());
        let input = format!("{h}.{p}");
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, TEST_JWT_PUBLIC_KEY.as_bytes()),
            input.as_bytes(),
        );
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    };
    assert!(matches!(
        reject(&v, &hs).await,
        VerifyError::UnsupportedAlgorithm
    ));
}

#[tokio::test(start_paused = true)]
async fn key_rotation_refreshes_once_per_new_kid() {
    let old = mock_key();
    let new = other_key("ins_rotated");
    let source = Source::new(old.jwks());
    let v = verifier(&source);
    v.verify(&old.sign(&claims("user_u")).unwrap())
        .await
        .unwrap();
    assert_eq!(source.fetches(), 1);

    // Clerk rotates: the set now holds the new key only.
    source.set(new.jwks());
    tokio::time::advance(Duration::from_secs(11)).await;
    let fresh = new.sign(&claims("user_u")).unwrap();
    assert_eq!(v.verify(&fresh).await.unwrap().sub, "user_u");
    assert_eq!(source.fetches(), 2);
    // The old kid is gone from the set, but one answer is not trusted to sign its users out:
    // it is kept, unconfirmed, and its next use asks for a confirming fetch once the
    // interval allows (tests/it/auth_keys.rs has the details).
    let stale = old.sign(&claims("user_u")).unwrap();
    v.verify(&stale).await.unwrap();
    assert_eq!(source.fetches(), 2);
    tokio::time::advance(Duration::from_secs(11)).await;
    v.verify(&stale).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(source.fetches(), 3);
    // Confirmed gone; asking again within the interval fetches nothing.
    assert!(matches!(
        reject(&v, &stale).await,
        VerifyError::UnknownKeyId
    ));
    assert_eq!(source.fetches(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_random_kids_costs_one_fetch_per_interval() {
    let source = Source::new(mock_key().jwks());
    let v = verifier(&source);
    let forger = other_key("x");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let v = v.clone();
        let token = forger
            .sign_with_header(
                &json!({"alg": "RS256", "kid": format!("ins_random_{i}")}),
                &claims("user_u"),
            )
            .unwrap();
        tasks.spawn(async move { v.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert!(matches!(result.unwrap(), Err(VerifyError::UnknownKeyId)));
    }
    assert_eq!(source.fetches(), 1, "one fetch for the whole flood");

    // Still within the interval: refused at once, no fetch.
    tokio::time::advance(Duration::from_secs(5)).await;
    let token = forger
        .sign_with_header(
            &json!({"alg": "RS256", "kid": "ins_again"}),
            &claims("user_u"),
        )
        .unwrap();
    assert!(matches!(
        reject(&v, &token).await,
        VerifyError::UnknownKeyId
    ));
    assert_eq!(source.fetches(), 1);
    // After the interval: one more.
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(matches!(
        reject(&v, &token).await,
        VerifyError::UnknownKeyId
    ));
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_for_a_new_kid_share_one_fetch() {
    let source = Source::new(Jwks::default());
    let v = verifier(&source);
    // Cold cache: 100 requests at once, one fetch, all verified.
    source.set(mock_key().jwks());
    let token = mock_key().sign(&claims("user_1")).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (v, token) = (v.clone(), token.clone());
        tasks.spawn(async move { v.verify(&token).await.map(|c| c.sub) });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap(), "user_1");
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_request_does_not_cancel_the_refresh() {
    let source = Source {
        delay: Duration::from_secs(2),
        ..Source::new(mock_key().jwks())
    };
    let v = verifier(&source);
    let token = mock_key().sign(&claims("user_u")).unwrap();
    // The first request gives up after 100 ms; its fetch goes on.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), v.verify(&token)).await;
    assert!(gave_up.is_err());
    assert_eq!(source.fetches(), 1);
    // The next request waits for that fetch rather than starting one.
    v.verify(&token).await.unwrap();
    assert_eq!(source.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn ttl_refreshes_in_the_background_and_keeps_serving() {
    let key = mock_key();
    let source = Source::new(key.jwks());
    let v = source
        .builder()
        .jwks_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let token = key.sign(&claims("user_u")).unwrap();
    v.verify(&token).await.unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    v.verify(&token).await.unwrap();
    assert_eq!(source.fetches(), 1, "fresh within the TTL");

    tokio::time::advance(Duration::from_secs(2)).await;
    // Stale: verified at once with the known key, one refresh started.
    let started = tokio::time::Instant::now();
    v.verify(&token).await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO, "no wait for the refresh");
    v.verify(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(source.fetches(), 2);
    v.verify(&token).await.unwrap();
    assert_eq!(source.fetches(), 2, "fresh again");
}

#[tokio::test(start_paused = true)]
async fn failed_fetches_are_keys_unavailable_and_throttled() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let v = Verifier::builder()
        .jwks_source(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Err::<Jwks, _>(Error::from_boxed("clerk is down".into())) }
        })
        .build()
        .unwrap();
    let token = mock_key().sign(&claims("user_u")).unwrap();
    let err = reject(&v, &token).await;
    assert!(matches!(err, VerifyError::KeysUnavailable(_)));
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(matches!(
        reject(&v, &token).await,
        VerifyError::KeysUnavailable(_)
    ));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "throttled after a failure too"
    );
    tokio::time::advance(Duration::from_secs(11)).await;
    let _ = reject(&v, &token).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn instances_never_share_keys() {
    // Instance A and instance B, each with its own key and its own source.
    let key_a = mock_key();
    let key_b = other_key("ins_b");
    let (source_a, source_b) = (Source::new(key_a.jwks()), Source::new(key_b.jwks()));
    let (a, b) = (verifier(&source_a), verifier(&source_b));
    let token_b = key_b.sign(&claims("user_of_b")).unwrap();
    assert_eq!(b.verify(&token_b).await.unwrap().sub, "user_of_b");
    // B's key is cached in B's verifier only: A looks in its own set and refuses.
    assert!(matches!(
        reject(&a, &token_b).await,
        VerifyError::UnknownKeyId
    ));
    assert_eq!((source_a.fetches(), source_b.fetches()), (1, 1));
    // Even when both instances use the same kid, A checks with A's key.
    let source_c = Source::new(other_key(TEST_KEY_ID).jwks());
    let c = verifier(&source_c);
    let token_c = other_key(TEST_KEY_ID).sign(&claims("user_of_c")).unwrap();
    c.verify(&token_c).await.unwrap();
    assert!(matches!(
        reject(&a, &token_c).await,
        VerifyError::InvalidSignature
    ));
    // Clones share their instance's cache.
    let a2 = a.clone();
    a2.verify(&key_a.sign(&claims("user_u")).unwrap())
        .await
        .unwrap();
    assert_eq!(source_a.fetches(), 1);
}

#[tokio::test]
async fn keys_come_through_the_client_stack_with_retries() {
    let (builder, mut handle) = common::mock_builder();
    let client = builder
        .retry(RetryConfig::default().backoff(Duration::from_millis(1), Duration::from_millis(2)))
        .build()
        .unwrap();
    let v = Verifier::builder().client(client).build().unwrap();
    let token = mock_key().sign(&claims("user_u")).unwrap();
    let verify = tokio::spawn({
        let v = v.clone();
        async move { v.verify(&token).await }
    });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri().path(), "/v1/jwks");
    assert!(req.headers().contains_key(header::AUTHORIZATION));
    common::respond(send, 503, r#"{"errors":[]}"#);
    let (_, send) = handle.next_request().await.unwrap();
    let body: &'static str = Box::leak(
        serde_json::to_string(&mock_key().jwks())
            .unwrap()
            .into_boxed_str(),
    );
    common::respond(send, 200, body);
    assert_eq!(verify.await.unwrap().unwrap().sub, "user_u");
}

#[tokio::test]
async fn the_mock_serves_jwks_and_mints_tokens() {
    let mock = MockClerk::new();
    let client = crate::e2e::service_builder(&mock).build().unwrap();
    let jwks = client.jwks().await.unwrap();
    assert_eq!(jwks.keys[0].kid, TEST_KEY_ID);
    let v = Verifier::builder()
        .client(client)
        .issuer(MOCK_ISSUER)
        .build()
        .unwrap();
    let token = mock
        .session_token_with("user_9", json!({"azp": "http://localhost:3000"}))
        .unwrap();
    let c = v.verify(&token).await.unwrap();
    assert_eq!(
        (c.sub.as_str(), c.azp.as_deref(), c.version),
        ("user_9", Some("http://localhost:3000"), 2)
    );
    assert!(c.sid.as_deref().unwrap().starts_with("sess_"));
    // The key set needs the secret key, as on Clerk.
    let anonymous = clerk_tower::Client::builder()
        .secret_key("sk_test_wrong")
        .transport(mock.service())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    assert_eq!(
        anonymous.jwks().await.unwrap_err().status(),
        Some(StatusCode::UNAUTHORIZED)
    );
}

// ---- The server layer ----

async fn body_json(
    res: Response<impl http_body::Body<Data = Bytes, Error = impl std::fmt::Debug>>,
) -> Value {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn echo() -> impl tower::Service<
    Request<String>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(|req: Request<String>| async move {
        let who = match (
            req.extensions().get::<Claims>(),
            req.extensions().get::<VerifyError>(),
        ) {
            (Some(c), _) => format!("user:{}", c.sub),
            (None, Some(e)) => format!("refused:{}", e.code()),
            (None, None) => "anonymous".to_owned(),
        };
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(who))))
    })
}

fn get_req(auth: Option<&str>, cookie: Option<&str>) -> Request<String> {
    let mut b = Request::get("/me");
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(String::new()).unwrap()
}

async fn text(
    res: Response<impl http_body::Body<Data = Bytes, Error = impl std::fmt::Debug>>,
) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn required_layer_admits_valid_tokens_from_header_or_cookie() {
    let source = Source::new(mock_key().jwks());
    let svc = ServiceBuilder::new()
        .layer(SessionLayer::required(verifier(&source)))
        .service(echo());
    let token = mock_key().sign(&claims("user_1")).unwrap();
    // Cold cache: the first request waits for the fetch.
    let res = svc
        .clone()
        .oneshot(get_req(Some(&format!("Bearer {token}")), None))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(text(res).await, "user:user_1");
    let res = svc
        .clone()
        .oneshot(get_req(
            None,
            Some(&format!("theme=dark; __session={token}")),
        ))
        .await
        .unwrap();
    assert_eq!(text(res).await, "user:user_1");
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn required_layer_refuses_with_401_json_and_www_authenticate() {
    let source = Source::new(mock_key().jwks());
    let svc = ServiceBuilder::new()
        .layer(SessionLayer::required(verifier(&source)))
        .service(echo());
    let res = svc.clone().oneshot(get_req(None, None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let body = body_json(res).await;
    assert_eq!(
        (body["error"].as_str(), body["reason"].as_str()),
        (Some("unauthorized"), Some("missing_token"))
    );

    let expired = mock_key()
        .sign(&with(
            claims("user_secret_marker"),
            json!({"exp": now() - 100}),
        ))
        .unwrap();
    let res = svc
        .clone()
        .oneshot(get_req(Some(&format!("Bearer {expired}")), None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    let raw = text(res).await;
    assert!(
        !raw.contains("user_secret_marker") && !raw.contains(&expired),
        "{raw}"
    );
    let body: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(body["reason"], "token_expired");
}

#[tokio::test]
async fn required_layer_answers_503_when_keys_are_unavailable() {
    let v = Verifier::builder()
        .jwks_source(|| async { Err::<Jwks, _>(Error::from_boxed("down".into())) })
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(SessionLayer::required(v))
        .service(echo());
    let token = mock_key().sign(&claims("user_u")).unwrap();
    let res = svc
        .oneshot(get_req(Some(&format!("Bearer {token}")), None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body_json(res).await["reason"], "keys_unavailable");
}

#[tokio::test]
async fn optional_layer_lets_everyone_through_with_what_it_found() {
    let source = Source::new(mock_key().jwks());
    let svc = ServiceBuilder::new()
        .layer(SessionLayer::optional(verifier(&source)))
        .service(echo());
    let token = mock_key().sign(&claims("user_1")).unwrap();
    let bad = other_key(TEST_KEY_ID).sign(&claims("user_1")).unwrap();
    for (auth, want) in [
        (None, "anonymous"),
        (Some(format!("Bearer {token}")), "user:user_1"),
        (Some(format!("Bearer {bad}")), "refused:invalid_signature"),
    ] {
        let res = svc
            .clone()
            .oneshot(get_req(auth.as_deref(), None))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(text(res).await, want);
    }
}

#[cfg(feature = "axum")]
fn app(verifier: Verifier) -> Router {
    async fn me(claims: Claims) -> String {
        format!("me:{}", claims.sub)
    }
    async fn home(claims: Option<Claims>) -> String {
        match claims {
            Some(c) => format!("home:{}", c.sub),
            None => "home:anonymous".to_owned(),
        }
    }
    Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .layer(SessionLayer::optional(verifier))
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn axum_extractors() {
    let source = Source::new(mock_key().jwks());
    let app = app(verifier(&source));
    let token = mock_key().sign(&claims("user_1")).unwrap();
    let call = |path: &'static str, auth: Option<String>| {
        let app = app.clone();
        async move {
            let mut req = Request::get(path);
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            app.oneshot(req.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap()
        }
    };
    let res = call("/", None).await;
    assert_eq!(text(res).await, "home:anonymous");
    let res = call("/", Some(format!("Bearer {token}"))).await;
    assert_eq!(text(res).await, "home:user_1");
    let res = call("/me", Some(format!("Bearer {token}"))).await;
    assert_eq!(text(res).await, "me:user_1");
    let res = call("/me", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(res).await["reason"], "missing_token");
    let expired = mock_key()
        .sign(&with(claims("user_u"), json!({"exp": now() - 100})))
        .unwrap();
    let res = call("/me", Some(format!("Bearer {expired}"))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(body_json(res).await["reason"], "token_expired");
}

/// The whole path over real TCP on 127.0.0.1: an axum app whose verifier fetches the keys from
/// the mock over TCP with a client, and requests with the token in either place.
#[cfg(feature = "axum")]
#[tokio::test]
async fn end_to_end_over_tcp() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let client = crate::e2e::tcp_builder(&server).build().unwrap();
    let verifier = Verifier::builder()
        .client(client)
        .authorized_parties(["http://localhost:3000"])
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move { axum::serve(listener, app(verifier)).await });

    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let token = mock
        .session_token_with("user_tcp", json!({"azp": "http://localhost:3000"}))
        .unwrap();
    let wrong_party = mock
        .session_token_with("user_tcp", json!({"azp": "https://evil.example"}))
        .unwrap();
    let cases = [
        (
            "/me",
            Some((header::AUTHORIZATION, format!("Bearer {token}"))),
            200,
            "me:user_tcp",
        ),
        (
            "/me",
            Some((header::COOKIE, format!("__session={token}"))),
            200,
            "me:user_tcp",
        ),
        ("/", None, 200, "home:anonymous"),
        ("/me", None, 401, "missing_token"),
        (
            "/me",
            Some((header::AUTHORIZATION, format!("Bearer {wrong_party}"))),
            401,
            "unauthorized_party",
        ),
    ];
    for (path, header, status, want) in cases {
        let mut req = Request::get(format!("http://{addr}{path}"));
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let res = http
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{path}");
        let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        assert!(body.contains(want), "{path}: {body}");
    }
    let jwks_fetches = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/jwks")
        .count();
    assert_eq!(jwks_fetches, 1, "one fetch for every request of the run");
    serving.abort();
    server.shutdown().await;
}

/// RFC 6265 §4.1.1 lets a cookie value be wrapped in double quotes, which are not part of the
/// value: `__session="<token>"` is the token (issue 19, part 4).
#[tokio::test]
async fn a_quoted_session_cookie_is_read_as_rfc_6265_allows() {
    let source = Source::new(mock_key().jwks());
    let svc = ServiceBuilder::new()
        .layer(SessionLayer::required(verifier(&source)))
        .service(echo());
    let token = mock_key().sign(&claims("user_1")).unwrap();
    for cookie in [
        format!("__session=\"{token}\""),
        format!("theme=dark; __session=\"{token}\"; lang=en"),
    ] {
        let res = svc
            .clone()
            .oneshot(get_req(None, Some(&cookie)))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{cookie}");
        assert_eq!(text(res).await, "user:user_1");
    }
    // An unbalanced quote is not a token.
    let res = svc
        .clone()
        .oneshot(get_req(None, Some(&format!("__session=\"{token}"))))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
