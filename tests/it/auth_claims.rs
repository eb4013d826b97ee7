//! Claims for real apps (issue 16, part 4): an optional `aud` check, several accepted issuers,
//! the `__session_<suffix>` cookie, `fva` reverification, billing plans and features, typed
//! custom claims, and claims built by hand for handler tests.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clerk_tower::auth::{
    cookie_suffix, AuthOutcome, Authenticator, Claims, Reverification, Verifier,
};
use clerk_tower::mock::TEST_JWT_PUBLIC_KEY;
use serde_json::{json, Value};

use crate::auth_classes::{forge, header, session_claims, CAT_SESSION};

fn token(extra: Value) -> String {
    let mut claims = session_claims();
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    forge(&header(Some(CAT_SESSION), "JWT"), &claims)
}

fn builder() -> clerk_tower::auth::VerifierBuilder {
    Verifier::builder().jwt_key(TEST_JWT_PUBLIC_KEY)
}

#[tokio::test]
async fn several_issuers_primary_satellite_and_proxy() {
    let v = builder()
        .issuer("https://clerk.example.com")
        .issuer("https://clerk.satellite.example")
        .issuer("https://example.com/__clerk")
        .build()
        .unwrap();
    for iss in [
        "https://clerk.example.com",
        "https://clerk.satellite.example",
        "https://example.com/__clerk",
    ] {
        v.verify(&token(json!({"iss": iss}))).await.unwrap();
    }
    let err = v
        .verify(&token(json!({"iss": "https://clerk.other.example"})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_issuer");
}

#[tokio::test]
async fn an_optional_audience_check() {
    let v = builder()
        .audience("convex")
        .audience("api")
        .build()
        .unwrap();
    v.verify(&token(json!({"aud": "convex"}))).await.unwrap();
    v.verify(&token(json!({"aud": ["other", "api"]})))
        .await
        .unwrap();
    for aud in [json!("other"), json!(["x", "y"]), Value::Null, json!(5)] {
        let err = v.verify(&token(json!({"aud": aud}))).await.unwrap_err();
        assert_eq!(err.code(), "invalid_audience", "{aud}");
    }
    // Not configured: `aud` is not looked at.
    let any = builder().build().unwrap();
    any.verify(&token(json!({"aud": "whatever"})))
        .await
        .unwrap();
    assert!(builder().audience("").build().is_err());
}

#[tokio::test]
async fn the_suffixed_session_cookie_of_clerks_frontends() {
    let pk = "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k";
    // Clerk's rule, computed here with ring and base64 directly: the first 8 characters of
    // the URL-safe base64 of the SHA-1 of the publishable key.
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, pk.as_bytes());
    let expected: String = STANDARD
        .encode(digest.as_ref())
        .replace('+', "-")
        .replace('/', "_")
        .chars()
        .take(8)
        .collect();
    assert_eq!(cookie_suffix(pk), expected);

    let auth = Authenticator::new(builder().build().unwrap()).publishable_key(pk);
    let good = token(json!({}));
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("__session=stale.token.value; __session_{expected}={good}")
            .parse()
            .unwrap(),
    );
    match auth.authenticate(&headers).await {
        AuthOutcome::Authenticated(_) => {}
        other => panic!("{other:?}"),
    }
    // Without the publishable key, only `__session` is read.
    let plain = Authenticator::new(builder().build().unwrap());
    assert!(matches!(
        plain.authenticate(&headers).await,
        AuthOutcome::Refused(_)
    ));
}

#[tokio::test]
async fn reverification_plans_features_and_typed_claims() {
    let v = builder().build().unwrap();
    let c = v
        .verify(&token(json!({"fva": [3, 45], "pla": "u:free,o:pro",
                               "fea": "o:billing,u:beta,ou:export",
                               "custom": {"tier": 2, "beta": true}})))
        .await
        .unwrap();
    assert_eq!(c.factor_verification_age(), Some((3, 45)));
    let ten = Duration::from_secs(600);
    assert!(!c.needs_reverification(Reverification::FirstFactor, ten));
    assert!(c.needs_reverification(Reverification::SecondFactor, ten));
    assert!(c.needs_reverification(Reverification::MultiFactor, ten));
    let hour = Duration::from_secs(3600);
    assert!(!c.needs_reverification(Reverification::MultiFactor, hour));

    assert!(c.has_plan("pro") && c.has_plan("org:pro") && c.has_plan("user:free"));
    assert!(!c.has_plan("user:pro") && !c.has_plan("enterprise"));
    assert!(c.has_feature("billing") && c.has_feature("o:billing") && !c.has_feature("u:billing"));
    assert!(c.has_feature("user:export") && c.has_feature("org:export"));
    assert!(!c.has_feature("bogus:beta"), "an unknown scope is refused");

    #[derive(serde::Deserialize)]
    struct Custom {
        sub: String,
        custom: Tier,
    }
    #[derive(serde::Deserialize)]
    struct Tier {
        tier: u8,
        beta: bool,
    }
    let typed: Custom = c.claims_as().unwrap();
    assert_eq!(typed.sub, "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u");
    assert!(typed.custom.tier == 2 && typed.custom.beta);

    // No second factor: the multi-factor level asks for the first factor only (Clerk's rule).
    let single = v.verify(&token(json!({"fva": [3, -1]}))).await.unwrap();
    assert!(!single.needs_reverification(Reverification::MultiFactor, ten));
    assert!(!single.needs_reverification(Reverification::SecondFactor, ten));
    // No `fva` at all: reverification cannot be shown, so it is needed.
    let none = v.verify(&token(json!({"fva": null}))).await.unwrap();
    assert!(none.needs_reverification(Reverification::FirstFactor, hour));
}

#[test]
fn claims_built_by_hand_for_handler_tests() {
    let c = Claims::builder("user_1")
        .session_id("sess_1")
        .org("org_1", "admin", ["org:billing:manage"])
        .claim("email", "ada@example.com")
        .build();
    assert_eq!(c.sub, "user_1");
    assert_eq!(c.session_id(), Some("sess_1"));
    assert!(c.has_role("admin") && c.has_permission("org:billing:manage"));
    assert_eq!(c.extra["email"], "ada@example.com");
    assert!(c.exp > 0);
}
