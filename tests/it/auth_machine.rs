//! Machine tokens in the same layer (issue 16, part 2): what a route accepts, opaque tokens
//! verified by Clerk with bounded calls (positive and negative caches, single-flight, a limit
//! on calls per second), JWT-format ones verified locally, typed results, axum extractors,
//! 401 vs 403, and no token in any answer.
//!
//! Clerk is played by a `service_fn` transport that knows one token of each opaque class,
//! answers 404 in Clerk's error shape for any other, and counts the calls.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use clerk_tower::auth::{
    AcceptsToken, ApiKeyIdentity, Auth, Authenticator, Claims, M2mIdentity, MachineVerifier,
    OAuthIdentity, SessionLayer, TokenType, Verifier,
};
use clerk_tower::mock::TEST_JWT_PUBLIC_KEY;
use clerk_tower::{Client, HttpRequest, HttpResponse};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::auth_classes::{
    forge, header, m2m_claims, now, oauth_claims, session_claims, CAT_M2M, CAT_SESSION,
    CAT_TEMPLATE,
};

const API_KEY: &str = "ak_live_2x8Q1knownApiKeySecretAbCdEf";
const M2M_TOKEN: &str = "mt_2x8Q1knownM2mTokenSecretAbCdEf";
const OAUTH_TOKEN: &str = "oat_2x8Q1knownOAuthTokenSecretAbCd";
const REVOKED_KEY: &str = "ak_live_2x8Q1revokedApiKeySecret";

/// A fake Clerk for the three verify operations.
#[derive(Clone, Default)]
struct FakeClerk {
    calls: Arc<AtomicUsize>,
}

impl FakeClerk {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn client(&self) -> Client {
        let this = self.clone();
        let transport = tower::service_fn(move |req: HttpRequest| {
            let this = this.clone();
            async move {
                this.calls.fetch_add(1, Ordering::SeqCst);
                let path = req.uri().path().to_owned();
                let bytes = req.into_body().collect().await.unwrap().to_bytes();
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                let secret = body
                    .get("secret")
                    .or(body.get("token"))
                    .or(body.get("access_token"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let exp = (now() + 3600) as f64 * 1000.0;
                let ok = |v: Value| (200, v);
                let (status, answer) = match (path.as_str(), secret.as_str()) {
                    ("/v1/api_keys/verify", API_KEY) => ok(json!({
                        "object": "api_key", "id": "ak_2x8Q1id", "type": "api_key",
                        "subject": "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u", "name": "ci",
                        "claims": {"team": "infra"}, "scopes": ["read", "write"],
                        "revoked": false, "revocation_reason": null, "expired": false,
                        "expiration": exp, "created_by": null, "last_used_at": null,
                        "created_at": 1.0, "updated_at": 1.0})),
                    ("/v1/api_keys/verify", REVOKED_KEY) => ok(json!({
                        "object": "api_key", "id": "ak_2x8Q1revoked", "type": "api_key",
                        "subject": "user_1", "name": "old", "claims": null, "scopes": [],
                        "revoked": true, "revocation_reason": "leaked", "expired": false,
                        "expiration": null, "created_by": null, "last_used_at": null,
                        "created_at": 1.0, "updated_at": 1.0})),
                    ("/v1/m2m_tokens/verify", M2M_TOKEN) => ok(json!({
                        "object": "machine_to_machine_token", "id": "mt_2x8Q1id",
                        "subject": "mch_2x8Q1machine", "claims": null,
                        "scopes": ["mch_other"], "revoked": false, "revocation_reason": null,
                        "expired": false, "expiration": exp, "last_used_at": null,
                        "created_at": 1.0, "updated_at": 1.0})),
                    ("/v1/oauth_applications/access_tokens/verify", OAUTH_TOKEN) => ok(json!({
                        "object": "clerk_idp_oauth_access_token", "id": "oat_2x8Q1id",
                        "client_id": "client_2x8Q1", "subject": "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u",
                        "scopes": ["profile"], "revoked": false, "revocation_reason": null,
                        "expired": false, "expiration": exp, "created_at": 1.0,
                        "updated_at": 1.0})),
                    _ => (
                        404,
                        json!({"errors": [{"code": "resource_not_found",
                            "message": "not found", "long_message": "Resource not found"}]}),
                    ),
                };
                let mut res = HttpResponse::new(Bytes::from(answer.to_string()).into());
                *res.status_mut() = StatusCode::from_u16(status).unwrap();
                res.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                Ok::<_, Infallible>(res)
            }
        });
        Client::builder()
            .secret_key("sk_test_machine_tokens")
            .transport(transport)
            .build()
            .unwrap()
    }

    fn machines(&self) -> clerk_tower::auth::MachineVerifierBuilder {
        MachineVerifier::builder(self.client())
    }
}

fn verifier() -> Verifier {
    Verifier::builder()
        .jwt_key(TEST_JWT_PUBLIC_KEY)
        .build()
        .unwrap()
}

fn authenticator(clerk: &FakeClerk, accepts: AcceptsToken) -> Authenticator {
    Authenticator::new(verifier())
        .machine_tokens(clerk.machines().build().unwrap())
        .accepts(accepts)
}

/// Who the handler saw, as text.
async fn who(auth: Auth) -> String {
    match auth {
        Auth::Session(c) => format!("session {}", c.sub),
        Auth::ApiKey(k) => format!("api_key {} {} {:?}", k.subject, k.name, k.scopes),
        Auth::M2m(m) => format!("m2m {} {:?}", m.machine_id, m.scopes),
        Auth::OAuth(o) => format!("oauth {} {} {:?}", o.user_id, o.client_id, o.scopes),
        _ => "other".to_owned(),
    }
}

fn app(auth: Authenticator) -> Router {
    async fn keys_only(key: ApiKeyIdentity) -> String {
        format!("key {}", key.name)
    }
    async fn machines_only(m2m: M2mIdentity) -> String {
        m2m.machine_id
    }
    async fn oauth_only(o: OAuthIdentity) -> String {
        o.client_id
    }
    async fn users_only(c: Claims) -> String {
        c.sub
    }
    Router::new()
        .route("/who", get(who))
        .route("/key", get(keys_only))
        .route("/m2m", get(machines_only))
        .route("/oauth", get(oauth_only))
        .route("/user", get(users_only))
        .layer(SessionLayer::required(auth))
}

async fn send(app: &Router, path: &str, token: &str) -> (StatusCode, String) {
    let req = Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        token.len() < 8 || !body.contains(token),
        "the token is in the answer"
    );
    (status, body)
}

fn reason(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_route_accepts_each_class_as_configured_with_typed_results() {
    let clerk = FakeClerk::default();
    let app = app(authenticator(&clerk, AcceptsToken::ANY));
    let session = forge(&header(Some(CAT_SESSION), "JWT"), &session_claims());
    let m2m_jwt = forge(&header(Some(CAT_M2M), "JWT"), &m2m_claims());
    let oauth_jwt = forge(&header(None, "at+jwt"), &oauth_claims());
    for (token, expected) in [
        (session.as_str(), "session user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u"),
        (
            API_KEY,
            "api_key user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u ci [\"read\", \"write\"]",
        ),
        (M2M_TOKEN, "m2m mch_2x8Q1machine [\"mch_other\"]"),
        (
            OAUTH_TOKEN,
            "oauth user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u client_2x8Q1 [\"profile\"]",
        ),
        (
            m2m_jwt.as_str(),
            "m2m mch_2x8Q1aMachineIdAbCdEfGh [\"mch_other1\", \"mch_other2\"]",
        ),
        (
            oauth_jwt.as_str(),
            "oauth user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u client_2x8Q1abc [\"profile\", \"email\"]",
        ),
    ] {
        assert_eq!(
            send(&app, "/who", token).await,
            (StatusCode::OK, expected.to_owned())
        );
    }
    assert_eq!(
        clerk.calls(),
        3,
        "JWT-format tokens are verified without Clerk"
    );

    // Each class's extractor; another class is 403 (authenticated, not allowed here).
    assert_eq!(send(&app, "/key", API_KEY).await.0, StatusCode::OK);
    assert_eq!(send(&app, "/m2m", M2M_TOKEN).await.0, StatusCode::OK);
    assert_eq!(send(&app, "/oauth", OAUTH_TOKEN).await.0, StatusCode::OK);
    assert_eq!(send(&app, "/user", &session).await.0, StatusCode::OK);
    for (path, token) in [
        ("/key", session.as_str()),
        ("/user", API_KEY),
        ("/m2m", OAUTH_TOKEN),
        ("/oauth", M2M_TOKEN),
    ] {
        let (status, body) = send(&app, path, token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(reason(&body), "wrong_token_type");
    }
    assert_eq!(clerk.calls(), 3, "the known tokens came from the cache");
}

#[tokio::test]
async fn a_class_the_route_does_not_accept_is_refused_without_calling_clerk() {
    let clerk = FakeClerk::default();
    let sessions_and_keys = app(authenticator(
        &clerk,
        AcceptsToken::only(TokenType::SessionToken).and(TokenType::ApiKey),
    ));
    for token in [M2M_TOKEN, OAUTH_TOKEN, "mt_random", "oat_random"] {
        let (status, body) = send(&sessions_and_keys, "/who", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(reason(&body), "token_type_not_accepted");
    }
    let m2m_jwt = forge(&header(Some(CAT_M2M), "JWT"), &m2m_claims());
    let (status, body) = send(&sessions_and_keys, "/who", &m2m_jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reason(&body),
        "m2m_token",
        "refused as a session, by its class"
    );
    assert_eq!(clerk.calls(), 0);
    assert_eq!(
        send(&sessions_and_keys, "/who", API_KEY).await.0,
        StatusCode::OK
    );

    // The default accepts sessions only, and knows the machine classes by their prefix.
    let default = app(Authenticator::new(verifier()));
    for token in [API_KEY, M2M_TOKEN, OAUTH_TOKEN] {
        let (status, body) = send(&default, "/who", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(reason(&body), "token_type_not_accepted");
    }
    // Machine tokens only: a session is not accepted.
    let machines = app(authenticator(
        &clerk,
        AcceptsToken::only(TokenType::M2mToken),
    ));
    let session = forge(&header(Some(CAT_SESSION), "JWT"), &session_claims());
    let (status, body) = send(&machines, "/who", &session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&body), "token_type_not_accepted");
    assert_eq!(clerk.calls(), 1);
}

#[tokio::test]
async fn jwt_machine_tokens_of_the_wrong_category_are_refused() {
    let clerk = FakeClerk::default();
    let app = app(authenticator(&clerk, AcceptsToken::ANY));
    // A machine subject under a JWT-template category: not an M2M token.
    let template_m2m = forge(&header(Some(CAT_TEMPLATE), "JWT"), &m2m_claims());
    let (status, body) = send(&app, "/who", &template_m2m).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&body), "jwt_template_token");
    // An OAuth token without a client id.
    let mut claims = oauth_claims();
    claims.as_object_mut().unwrap().remove("client_id");
    let (status, body) = send(&app, "/who", &forge(&header(None, "at+jwt"), &claims)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&body), "missing_claim");
    // An expired M2M JWT.
    let mut claims = m2m_claims();
    claims["exp"] = (now() - 60).into();
    let (status, body) = send(&app, "/who", &forge(&header(Some(CAT_M2M), "JWT"), &claims)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&body), "token_expired");
    assert_eq!(clerk.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn clerk_calls_are_cached_and_single_flight() {
    let clerk = FakeClerk::default();
    let auth = Authenticator::new(verifier())
        .machine_tokens(
            clerk
                .machines()
                .negative_cache_ttl(Duration::from_secs(10))
                .cache_ttl(Duration::from_secs(60))
                .build()
                .unwrap(),
        )
        .accepts(AcceptsToken::ANY);
    let app = app(auth);
    // 50 requests at once with a new token: one call.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let app = app.clone();
        tasks.spawn(async move { send(&app, "/who", API_KEY).await.0 });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(clerk.calls(), 1);
    // Cached until the TTL.
    tokio::time::advance(Duration::from_secs(59)).await;
    send(&app, "/who", API_KEY).await;
    assert_eq!(clerk.calls(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    send(&app, "/who", API_KEY).await;
    assert_eq!(clerk.calls(), 2, "asked again after the TTL");

    // A refused token: one call, then refused from the negative cache.
    for _ in 0..5 {
        let (status, body) = send(&app, "/who", "ak_unknown_secret_value").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(reason(&body), "machine_token_invalid");
    }
    assert_eq!(clerk.calls(), 3);
    tokio::time::advance(Duration::from_secs(11)).await;
    send(&app, "/who", "ak_unknown_secret_value").await;
    assert_eq!(clerk.calls(), 4, "asked again after the negative TTL");

    // A revoked key is refused, and remembered as refused.
    let (status, body) = send(&app, "/who", REVOKED_KEY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&body), "machine_token_revoked");
    send(&app, "/who", REVOKED_KEY).await;
    assert_eq!(clerk.calls(), 5);
}

/// The "Done when" of issue 16: 10,000 requests carrying random `ak_` tokens cost no more
/// Clerk calls than the configured limit allows.
#[tokio::test(start_paused = true)]
async fn a_flood_of_random_api_keys_costs_at_most_the_call_limit() {
    let clerk = FakeClerk::default();
    let limit = 25;
    let auth = Authenticator::new(verifier())
        .machine_tokens(
            clerk
                .machines()
                .verify_calls_per_second(limit)
                .build()
                .unwrap(),
        )
        .accepts(AcceptsToken::ANY);
    let app = app(auth);
    let started = tokio::time::Instant::now();
    let (mut refused, mut limited) = (0, 0);
    for i in 0..10_000u32 {
        // Spread over 4 seconds of (paused) time.
        if i % 2_500 == 0 && i > 0 {
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let token = format!("ak_{:032x}", (u128::from(i) << 64) ^ 0x5eed_1234_abcd_ef01);
        let (status, body) = send(&app, "/who", &token).await;
        match (status, reason(&body).as_str()) {
            (StatusCode::UNAUTHORIZED, "machine_token_invalid") => refused += 1,
            (StatusCode::SERVICE_UNAVAILABLE, "machine_verify_rate_limited") => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(limit) * (1.0 + elapsed.ceil());
    assert!(
        (clerk.calls() as f64) <= allowed,
        "{} calls for {elapsed} s at {limit}/s",
        clerk.calls()
    );
    assert_eq!(refused, clerk.calls());
    assert_eq!(refused + limited, 10_000);
    assert!(clerk.calls() >= limit as usize, "the limit is not zero");
}

#[tokio::test]
async fn machine_settings_are_checked() {
    let clerk = FakeClerk::default();
    for bad in [
        clerk.machines().cache_ttl(Duration::ZERO),
        clerk.machines().cache_ttl(Duration::from_secs(3601)),
        clerk
            .machines()
            .negative_cache_ttl(Duration::from_secs(601)),
        clerk.machines().verify_calls_per_second(0),
        clerk.machines().cache_capacity(usize::MAX),
        clerk.machines().call_timeout(Duration::ZERO),
        clerk.machines().call_timeout(Duration::from_secs(121)),
    ] {
        assert!(matches!(bad.build(), Err(clerk_tower::Error::Config(_))));
    }
}

/// A verify call that never completes (a client built with `no_timeout()`, a transport that
/// hangs) ends at the machine verifier's own call timeout, answers 503, and frees the
/// single-flight slot of its token.
#[tokio::test(start_paused = true)]
async fn a_hung_verify_call_times_out_and_frees_its_slot() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let hanging = tower::service_fn(move |_req: HttpRequest| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { std::future::pending::<Result<HttpResponse, Infallible>>().await }
    });
    let client = Client::builder()
        .secret_key("sk_test_machine_tokens")
        .no_timeout()
        .transport(hanging)
        .build()
        .unwrap();
    let auth = Authenticator::new(verifier())
        .machine_tokens(MachineVerifier::builder(client).build().unwrap())
        .accepts(AcceptsToken::ANY);
    let app = app(auth);
    let bounded = |app: Router| async move {
        tokio::time::timeout(Duration::from_secs(600), send(&app, "/who", API_KEY))
            .await
            .expect("the machine token check hung")
    };
    let (status, body) = bounded(app.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reason(&body), "machine_verify_unavailable");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The slot is free: the next request with the same token makes a new call.
    bounded(app).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
