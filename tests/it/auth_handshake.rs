//! Cookie sessions and Clerk's handshake (issue 17): one test per row of the decision table in
//! docs/authentication.md ("The request state: the decision table"). Tokens and handshake
//! payloads are signed by the independent signer of `auth_classes` (ring and base64 used
//! directly with the mock's published test key), or by another key to play an attacker.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clerk_tower::auth::{
    AuthOutcome, AuthStatus, Authenticator, Handshake, RequestInfo, RequestState, Verifier,
};
use clerk_tower::mock::{TestSigningKey, TEST_JWT_PUBLIC_KEY};
use serde_json::{json, Value};

use crate::auth_classes::{forge, header, now, CAT_SESSION};

/// The Frontend API host the test keys name.
const FAPI: &str = "clerk.app.test";

fn pk(live: bool) -> String {
    let kind = if live { "live" } else { "test" };
    format!("pk_{kind}_{}", STANDARD.encode(format!("{FAPI}$")))
}

fn verifier() -> Verifier {
    Verifier::builder()
        .jwt_key(TEST_JWT_PUBLIC_KEY)
        .build()
        .unwrap()
}

fn auth_with(handshake: Handshake) -> Authenticator {
    Authenticator::new(verifier()).handshake(handshake)
}

fn dev() -> Authenticator {
    auth_with(Handshake::builder(&pk(false)).build().unwrap())
}

fn prod() -> Authenticator {
    auth_with(Handshake::builder(&pk(true)).build().unwrap())
}

/// A session token issued `iat_ago` seconds ago, expiring `exp_in` seconds from now.
fn session(iat_ago: i64, exp_in: i64) -> String {
    let now = now();
    forge(
        &header(Some(CAT_SESSION), "JWT"),
        &json!({"sub": "user_1", "sid": "sess_1", "iss": format!("https://{FAPI}"),
                "iat": now - iat_ago, "nbf": now - iat_ago - 10, "exp": now + exp_in,
                "v": 2, "sts": "active"}),
    )
}

fn valid() -> String {
    session(5, 55)
}

fn expired() -> String {
    session(120, -60)
}

/// A handshake payload listing these `Set-Cookie` values, signed by the instance's key.
fn payload(cookies: &[String]) -> String {
    let now = now();
    forge(
        &header(Some(CAT_SESSION), "JWT"),
        &json!({"handshake": cookies, "iat": now, "exp": now + 300}),
    )
}

/// A browser page load (`Sec-Fetch-Dest: document`) of `target` on `app.test`.
fn page<'a>(target: &'a str, cookies: &'a str) -> RequestInfo<'a> {
    RequestInfo::new("GET", target)
        .header("host", "app.test")
        .header("sec-fetch-dest", "document")
        .header("accept", "text/html")
        .header("cookie", cookies)
}

/// An API call of the page's script (`fetch`): `Sec-Fetch-Dest: empty`.
fn xhr<'a>(target: &'a str, cookies: &'a str) -> RequestInfo<'a> {
    RequestInfo::new("GET", target)
        .header("host", "app.test")
        .header("sec-fetch-dest", "empty")
        .header("accept", "application/json")
        .header("cookie", cookies)
}

async fn run(auth: &Authenticator, req: &RequestInfo<'_>) -> RequestState {
    auth.authenticate_request(req).await
}

fn error_code(state: &RequestState) -> Option<&'static str> {
    state.outcome().error().map(|e| e.code())
}

fn location(state: &RequestState) -> String {
    state
        .redirect()
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query parameters of a URL, decoded.
fn params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    params(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn set_cookies(state: &RequestState) -> Vec<String> {
    state
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Asserts a handshake redirect to the Frontend API with this reason, back to `back`.
fn assert_handshake(state: &RequestState, reason: &str, back: &str) {
    assert_eq!(state.status(), AuthStatus::Handshake, "{state:?}");
    assert_eq!(state.handshake_reason().unwrap().to_string(), reason);
    let to = location(state);
    assert!(
        to.starts_with(&format!("https://{FAPI}/v1/client/handshake?")),
        "{to}"
    );
    assert_eq!(param(&to, "redirect_url").as_deref(), Some(back));
    assert_eq!(param(&to, "__clerk_hs_reason").as_deref(), Some(reason));
    assert_eq!(state.headers()["cache-control"], "no-store");
    assert!(set_cookies(state)
        .iter()
        .any(|c| c.starts_with("__clerk_redirect_count=1;")));
    assert_eq!(error_code(state), Some("handshake_required"));
}

fn assert_signed_in(state: &RequestState) {
    assert_eq!(state.status(), AuthStatus::SignedIn, "{state:?}");
    assert!(matches!(state.outcome(), AuthOutcome::Authenticated(_)));
}

fn assert_signed_out(state: &RequestState, code: &str) {
    assert_eq!(state.status(), AuthStatus::SignedOut, "{state:?}");
    assert!(state.redirect().is_none(), "{state:?}");
    assert_eq!(error_code(state), Some(code));
}

// --- Row 1-3: a token in the Authorization header ---------------------------------------

#[tokio::test]
async fn row01_header_token_valid_is_signed_in() {
    let bearer = format!("Bearer {}", valid());
    let req = RequestInfo::new("GET", "/api/me")
        .header("host", "app.test")
        .header("authorization", &bearer);
    assert_signed_in(&run(&prod(), &req).await);
}

#[tokio::test]
async fn row02_header_token_expired_on_a_page_load_handshakes() {
    let bearer = format!("Bearer {}", expired());
    let req = page("/dashboard", "").header("authorization", &bearer);
    let state = run(&prod(), &req).await;
    assert_handshake(
        &state,
        "session-token-expired-refresh-non-eligible-no-refresh-cookie",
        "http://app.test/dashboard",
    );
}

#[tokio::test]
async fn row03_header_token_expired_on_an_api_call_is_signed_out() {
    let bearer = format!("Bearer {}", expired());
    let req = xhr("/api/me", "").header("authorization", &bearer);
    assert_signed_out(&run(&prod(), &req).await, "token_expired");
}

// --- Row 4-8: coming back from the handshake --------------------------------------------

#[tokio::test]
async fn row04_dev_handshake_in_the_url_sets_cookies_and_redirects_to_the_clean_url() {
    let token = valid();
    let cookies = vec![
        format!("__session={token}; Path=/; SameSite=Lax"),
        format!("__client_uat={}; Path=/; SameSite=Lax", now() - 5),
        "__clerk_db_jwt=dvb_1; Path=/; SameSite=Lax".to_owned(),
    ];
    let target = format!(
        "/dashboard?tab=2&__clerk_handshake={}&__clerk_db_jwt=dvb_1",
        payload(&cookies)
    );
    let state = run(&dev(), &page(&target, "")).await;
    assert_signed_in(&state);
    assert_eq!(set_cookies(&state), cookies);
    assert_eq!(location(&state), "http://app.test/dashboard?tab=2");
    assert_eq!(state.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn row05_prod_handshake_cookie_sets_cookies_without_redirect() {
    let token = valid();
    let cookies = vec![
        "__clerk_handshake=; Path=/; Max-Age=0".to_owned(),
        format!("__session={token}; Path=/; SameSite=Lax"),
        format!("__client_uat={}; Path=/; SameSite=Lax", now() - 5),
    ];
    let jar = format!(
        "__clerk_handshake={}; __session={}",
        payload(&cookies),
        expired()
    );
    let state = run(&prod(), &page("/dashboard", &jar)).await;
    assert_signed_in(&state);
    assert!(state.redirect().is_none());
    assert_eq!(set_cookies(&state), cookies);
}

#[tokio::test]
async fn row06_handshake_payload_of_a_signed_out_client_is_signed_out_with_its_cookies() {
    let cookies = vec![
        "__session=; Path=/; Max-Age=0".to_owned(),
        "__client_uat=0; Path=/; SameSite=Lax".to_owned(),
    ];
    let target = format!("/dashboard?__clerk_handshake={}", payload(&cookies));
    let state = run(&dev(), &page(&target, "__clerk_db_jwt=dvb_1")).await;
    assert_eq!(state.status(), AuthStatus::SignedOut);
    assert_eq!(error_code(&state), Some("missing_token"));
    assert_eq!(set_cookies(&state), cookies);
    assert_eq!(location(&state), "http://app.test/dashboard");
}

/// An attacker's handshake payload: well formed, signed with a key that is not the instance's.
fn forged_payload(cookies: &[String]) -> String {
    let other = TestSigningKey::from_pkcs8_pem("ins_other", crate::auth::OTHER_KEY).unwrap();
    other
        .sign_with_header(
            &json!({"alg": "RS256", "kid": "ins_other", "typ": "JWT"}),
            &json!({"handshake": cookies}),
        )
        .unwrap()
}

#[tokio::test]
async fn row07_dev_handshake_with_a_bad_signature_is_refused() {
    let cookies = vec![format!("__session={}; Path=/", valid())];
    let target = format!("/dashboard?__clerk_handshake={}", forged_payload(&cookies));
    let state = run(&dev(), &page(&target, "__clerk_db_jwt=dvb_1")).await;
    assert_signed_out(&state, "invalid_handshake");
    assert!(set_cookies(&state).is_empty(), "nothing of it is applied");
    // Nor is a payload with an `alg: none` header or without the `handshake` claim.
    let none = format!(
        "{}.{}.",
        base64url(&json!({"alg": "none", "typ": "JWT"})),
        base64url(&json!({"handshake": cookies}))
    );
    let target = format!("/dashboard?__clerk_handshake={none}");
    let state = run(&dev(), &page(&target, "__clerk_db_jwt=dvb_1")).await;
    assert_signed_out(&state, "invalid_handshake");
    let no_claim = forge(
        &header(Some(CAT_SESSION), "JWT"),
        &json!({"exp": now() + 60}),
    );
    let target = format!("/dashboard?__clerk_handshake={no_claim}");
    let state = run(&dev(), &page(&target, "__clerk_db_jwt=dvb_1")).await;
    assert_signed_out(&state, "invalid_handshake");
}

fn base64url(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn row08_prod_handshake_with_a_bad_signature_goes_on_with_the_request_cookies() {
    let cookies = vec![format!("__session={}; Path=/", valid())];
    // The forged payload would sign the browser in; it is ignored, and the request's own
    // (expired) cookies decide: another handshake.
    let jar = format!(
        "__clerk_handshake={}; __session={}; __client_uat={}",
        forged_payload(&cookies),
        expired(),
        now() - 300
    );
    let state = run(&prod(), &page("/dashboard", &jar)).await;
    assert_handshake(
        &state,
        "session-token-expired-refresh-non-eligible-no-refresh-cookie",
        "http://app.test/dashboard",
    );
    assert!(!set_cookies(&state)
        .iter()
        .any(|c| c.starts_with("__session")));
}

// --- Row 9-13: satellites and the primary ------------------------------------------------

#[tokio::test]
async fn row09_prod_satellite_page_load_without_linked_cookies_syncs() {
    let auth = auth_with(
        Handshake::builder(&pk(true))
            .satellite("satellite.test")
            .build()
            .unwrap(),
    );
    let req = RequestInfo::new("GET", "/")
        .header("host", "satellite.test")
        .header("sec-fetch-dest", "document");
    let state = run(&auth, &req).await;
    assert_eq!(state.status(), AuthStatus::Handshake);
    assert_eq!(
        state.handshake_reason().unwrap().to_string(),
        "satellite-needs-syncing"
    );
    assert!(location(&state).starts_with("https://clerk.satellite.test/v1/client/handshake?"));
}

#[tokio::test]
async fn row10_dev_satellite_sends_the_browser_to_the_primary_sign_in() {
    let auth = auth_with(
        Handshake::builder(&pk(false))
            .satellite("satellite.test")
            .sign_in_url("https://primary.test/sign-in")
            .build()
            .unwrap(),
    );
    let req = RequestInfo::new("GET", "/path")
        .header("host", "satellite.test")
        .header("sec-fetch-dest", "document");
    let state = run(&auth, &req).await;
    assert_eq!(state.status(), AuthStatus::Handshake);
    assert_eq!(
        location(&state),
        "https://primary.test/sign-in?__clerk_redirect_url=http%3A%2F%2Fsatellite.test%2Fpath"
    );
}

#[tokio::test]
async fn row11_dev_satellite_just_synced_is_signed_out_without_cookies() {
    let auth = auth_with(
        Handshake::builder(&pk(false))
            .satellite("satellite.test")
            .sign_in_url("https://primary.test/sign-in")
            .build()
            .unwrap(),
    );
    let req = RequestInfo::new("GET", "/path?__clerk_synced=true")
        .header("host", "satellite.test")
        .header("sec-fetch-dest", "document")
        .header("cookie", "__clerk_db_jwt=dvb_1");
    assert_signed_out(&run(&auth, &req).await, "missing_token");
}

#[tokio::test]
async fn row12_dev_primary_sends_an_allowed_satellite_back_synced() {
    let auth = auth_with(
        Handshake::builder(&pk(false))
            .satellite_origins(["http://localhost:3001"])
            .build()
            .unwrap(),
    );
    let target = "/sign-in?__clerk_redirect_url=http%3A%2F%2Flocalhost%3A3001%2Fdashboard";
    let jar = format!(
        "__clerk_db_jwt=dvb_1; __session={}; __client_uat=1",
        valid()
    );
    let state = run(&auth, &page(target, &jar)).await;
    assert_eq!(state.status(), AuthStatus::Handshake);
    assert_eq!(
        state.handshake_reason().unwrap().to_string(),
        "primary-responds-to-syncing"
    );
    assert_eq!(
        location(&state),
        "http://localhost:3001/dashboard?__clerk_db_jwt=dvb_1&__clerk_synced=true"
    );
}

#[tokio::test]
async fn row13_dev_primary_never_sends_the_dev_browser_to_an_unlisted_origin() {
    // Clerk's SDK redirects to any `__clerk_redirect_url`, with the dev browser token in the
    // URL: an attacker's link would hand it to their site. Here the URL is ignored.
    let auth = dev();
    let target = "/sign-in?__clerk_redirect_url=https%3A%2F%2Fevil.test%2Fsteal";
    let jar = format!(
        "__clerk_db_jwt=dvb_1; __session={}; __client_uat=1",
        valid()
    );
    let state = run(&auth, &page(target, &jar)).await;
    assert_signed_in(&state);
    assert!(state.redirect().is_none());
}

// --- Row 14-15: the development browser --------------------------------------------------

#[tokio::test]
async fn row14_dev_browser_in_the_url_handshakes_to_set_its_cookie() {
    let state = run(&dev(), &page("/dashboard?__clerk_db_jwt=dvb_9", "")).await;
    assert_handshake(&state, "dev-browser-sync", "http://app.test/dashboard");
    assert_eq!(
        param(&location(&state), "__clerk_db_jwt").as_deref(),
        Some("dvb_9")
    );
}

#[tokio::test]
async fn row15_dev_without_a_dev_browser_handshakes() {
    let jar = format!("__session={}; __client_uat=1", valid());
    let state = run(&dev(), &page("/dashboard", &jar)).await;
    assert_handshake(&state, "dev-browser-missing", "http://app.test/dashboard");
    // An API call cannot take the handshake: signed out, saying why.
    let state = run(&dev(), &xhr("/api", &jar)).await;
    assert_signed_out(&state, "handshake_required");
}

// --- Row 16-22: the cookies ---------------------------------------------------------------

#[tokio::test]
async fn row16_no_cookies_is_signed_out() {
    let state = run(&prod(), &page("/", "")).await;
    assert_signed_out(&state, "missing_token");
    assert!(state.headers().is_empty());
}

#[tokio::test]
async fn row17_client_uat_zero_without_session_is_signed_out() {
    assert_signed_out(
        &run(&prod(), &page("/", "__client_uat=0")).await,
        "missing_token",
    );
}

#[tokio::test]
async fn row18_session_without_client_uat_handshakes() {
    let jar = format!("__session={}", valid());
    let state = run(&prod(), &page("/", &jar)).await;
    assert_handshake(
        &state,
        "session-token-but-no-client-uat",
        "http://app.test/",
    );
}

#[tokio::test]
async fn row19_session_without_client_uat_after_a_handshake_is_signed_in_when_valid() {
    // Safari's ITP can drop `__client_uat`: after one handshake, a valid token is enough...
    let jar = format!("__session={}; __clerk_redirect_count=1", valid());
    assert_signed_in(&run(&prod(), &page("/", &jar)).await);
    // ...but not an invalid one.
    let jar = format!("__session={}; __clerk_redirect_count=1", expired());
    let state = run(&prod(), &page("/", &jar)).await;
    assert_eq!(state.status(), AuthStatus::Handshake);
}

#[tokio::test]
async fn row20_client_uat_without_session_handshakes() {
    let state = run(&prod(), &page("/", "__client_uat=12345")).await;
    assert_handshake(
        &state,
        "client-uat-but-no-session-token",
        "http://app.test/",
    );
}

#[tokio::test]
async fn row21_token_older_than_client_uat_handshakes() {
    let jar = format!("__session={}; __client_uat={}", valid(), now());
    let state = run(&prod(), &page("/", &jar)).await;
    assert_handshake(
        &state,
        "session-token-iat-before-client-uat",
        "http://app.test/",
    );
}

#[tokio::test]
async fn row22_valid_session_cookie_is_signed_in() {
    let jar = format!("__session={}; __client_uat={}", valid(), now() - 60);
    let state = run(&prod(), &page("/", &jar)).await;
    assert_signed_in(&state);
    assert!(state.headers().is_empty());
}

// --- Row 23-29: the session token's own checks -------------------------------------------

fn expired_jar() -> String {
    format!("__session={}; __client_uat={}", expired(), now() - 300)
}

#[tokio::test]
async fn row23_expired_cookie_on_a_page_load_handshakes() {
    let jar = expired_jar();
    let state = run(&prod(), &page("/dashboard?tab=2", &jar)).await;
    assert_handshake(
        &state,
        "session-token-expired-refresh-non-eligible-no-refresh-cookie",
        "http://app.test/dashboard?tab=2",
    );
    let to = location(&state);
    assert_eq!(param(&to, "suffixed_cookies").as_deref(), Some("false"));
    assert_eq!(
        param(&to, "__clerk_api_version").as_deref(),
        Some("2026-05-12")
    );
}

#[tokio::test]
async fn row24_expired_cookie_on_an_api_call_is_signed_out() {
    assert_signed_out(
        &run(&prod(), &xhr("/api", &expired_jar())).await,
        "token_expired",
    );
}

#[tokio::test]
async fn row25_expired_cookie_on_a_form_post_is_signed_out() {
    let jar = expired_jar();
    let req = RequestInfo::new("POST", "/settings")
        .header("host", "app.test")
        .header("sec-fetch-dest", "document")
        .header("cookie", &jar);
    assert_signed_out(&run(&prod(), &req).await, "token_expired");
}

#[tokio::test]
async fn row26_accept_text_html_without_sec_fetch_dest_is_a_page_load() {
    let jar = expired_jar();
    let req = RequestInfo::new("GET", "/")
        .header("host", "app.test")
        .header("accept", "text/html,application/xhtml+xml")
        .header("cookie", &jar);
    assert_eq!(run(&prod(), &req).await.status(), AuthStatus::Handshake);
    let req = RequestInfo::new("GET", "/")
        .header("host", "app.test")
        .header("accept", "*/*")
        .header("cookie", &jar);
    assert_signed_out(&run(&prod(), &req).await, "token_expired");
}

#[tokio::test]
async fn row27_token_not_yet_valid_handshakes() {
    let now = now();
    let early = forge(
        &header(Some(CAT_SESSION), "JWT"),
        &json!({"sub": "user_1", "sid": "sess_1", "iat": now - 1, "nbf": now + 600,
                "exp": now + 900}),
    );
    let jar = format!("__session={early}; __client_uat={}", now - 60);
    let state = run(&prod(), &page("/", &jar)).await;
    assert_handshake(&state, "session-token-nbf", "http://app.test/");
}

#[tokio::test]
async fn row28_malformed_or_forged_cookie_is_signed_out() {
    let jar = "__session=not.a.jwt; __client_uat=1";
    assert_signed_out(&run(&prod(), &page("/", jar)).await, "token_malformed");
    let forged = forged_payload(&[]);
    let jar = format!("__session={forged}; __client_uat=1");
    let state = run(&prod(), &page("/", &jar)).await;
    assert_eq!(state.status(), AuthStatus::SignedOut);
    assert!(state.redirect().is_none());
}

#[tokio::test]
async fn row29_third_handshake_in_a_row_is_signed_out() {
    let jar = format!("{}; __clerk_redirect_count=2", expired_jar());
    let state = run(&prod(), &page("/", &jar)).await;
    assert!(set_cookies(&state)
        .iter()
        .any(|c| c.starts_with("__clerk_redirect_count=3;")));
    let jar = format!("{}; __clerk_redirect_count=3", expired_jar());
    assert_signed_out(
        &run(&prod(), &page("/", &jar)).await,
        "handshake_redirect_loop",
    );
}

// --- Row 30-31: refresh -------------------------------------------------------------------

#[tokio::test]
async fn row31_refresh_cookie_without_a_client_takes_the_handshake() {
    let auth = prod();
    let suffix = clerk_tower::auth::cookie_suffix(&pk(true));
    let jar = format!("{}; __refresh_{suffix}=rt_1", expired_jar());
    let state = run(&auth, &page("/", &jar)).await;
    assert_handshake(
        &state,
        "session-token-expired-refresh-missing-api-client",
        "http://app.test/",
    );
}

// --- Row 32-35: settings -----------------------------------------------------------------

#[tokio::test]
async fn row32_proxy_url_takes_the_handshake() {
    let auth = auth_with(
        Handshake::builder(&pk(true))
            .proxy_url("https://app.test/__clerk/")
            .build()
            .unwrap(),
    );
    let state = run(&auth, &page("/", &expired_jar())).await;
    assert!(location(&state).starts_with("https://app.test/__clerk/v1/client/handshake?"));
}

#[tokio::test]
async fn row33_suffixed_cookies_are_read_when_they_hold_the_state() {
    let key = pk(true);
    let suffix = clerk_tower::auth::cookie_suffix(&key);
    // The suffixed cookies say signed in; the unsuffixed ones belong to another app.
    let other = forge(
        &header(Some(CAT_SESSION), "JWT"),
        &json!({"sub": "user_9", "sid": "sess_9", "iss": "https://clerk.other.test",
                "iat": now(), "exp": now() + 60}),
    );
    let jar = format!(
        "__session={other}; __client_uat=1; __session_{suffix}={}; __client_uat_{suffix}={}",
        valid(),
        now() - 60
    );
    let state = run(&prod(), &page("/", &jar)).await;
    let AuthOutcome::Authenticated(auth) = state.outcome() else {
        panic!("{state:?}")
    };
    assert_eq!(auth.session().unwrap().sub, "user_1");
    // Expired, the handshake says the state is in suffixed cookies.
    let jar = format!(
        "__session_{suffix}={}; __client_uat_{suffix}={}",
        expired(),
        now() - 300
    );
    let state = run(&prod(), &page("/", &jar)).await;
    assert_eq!(
        param(&location(&state), "suffixed_cookies").as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn row34_page_load_from_another_origin_on_the_primary_handshakes() {
    let jar = format!("__session={}; __client_uat={}", valid(), now() - 60);
    let req = page("/", &jar).header("referer", "https://satellite.test/page");
    let state = run(&prod(), &req).await;
    assert_eq!(
        state.handshake_reason().unwrap().to_string(),
        "primary-domain-cross-origin-sync"
    );
    // From the Frontend API itself (a redirect-based sign-in): no handshake.
    let fapi_referer = format!("https://{FAPI}/v1/client");
    let req = page("/", &jar).header("referer", &fapi_referer);
    assert_signed_in(&run(&prod(), &req).await);
}

#[tokio::test]
async fn row35_origin_setting_names_the_url_to_come_back_to() {
    let auth = auth_with(
        Handshake::builder(&pk(true))
            .origin("https://app.example.com")
            .build()
            .unwrap(),
    );
    let jar = expired_jar();
    let req = page("/a?b=1", &jar)
        .header("x-forwarded-host", "evil.test")
        .header("x-forwarded-proto", "http");
    let state = run(&auth, &req).await;
    assert_eq!(
        param(&location(&state), "redirect_url").as_deref(),
        Some("https://app.example.com/a?b=1")
    );
    // Without it, the forwarded headers name it, as in Clerk's SDK.
    let req = page("/a", &jar)
        .header("x-forwarded-host", "app.example.org, proxy.internal")
        .header("x-forwarded-proto", "https");
    let state = run(&prod(), &req).await;
    assert_eq!(
        param(&location(&state), "redirect_url").as_deref(),
        Some("https://app.example.org/a")
    );
}

#[test]
fn settings_are_checked() {
    for bad in [
        "",
        "sk_test_abc",
        "pk_test_",
        "pk_test_!!!",
        // base64 of "clerk.app.test" without the `$`.
        "pk_test_Y2xlcmsuYXBwLnRlc3Q",
        // base64 of "clerk app$" (a space is not a host).
        "pk_live_Y2xlcmsgYXBwJA",
    ] {
        assert!(Handshake::builder(bad).build().is_err(), "{bad:?}");
    }
    let ok = || Handshake::builder(&pk(false));
    assert!(ok().build().is_ok());
    assert!(ok().proxy_url("not a url").build().is_err());
    assert!(ok().origin("https://app.test/path").build().is_err());
    assert!(
        ok().satellite("satellite.test").build().is_err(),
        "needs a sign-in URL"
    );
    assert!(ok()
        .satellite("satellite.test")
        .sign_in_url("https://primary.test/sign-in")
        .build()
        .is_ok());
}

#[cfg(feature = "sessions")]
#[tokio::test]
async fn row30_refresh_cookie_refreshes_through_the_backend_api() {
    use clerk_tower::mock::MockClerk;

    let mock = MockClerk::new();
    let client = crate::e2e::service_builder(&mock).build().unwrap();
    let sid = mock.create_session("user_1");
    mock.insert_refresh_token("rt_good", &sid);
    let auth = auth_with(
        Handshake::builder(&pk(true))
            .refresh_with(client)
            .build()
            .unwrap(),
    );
    let suffix = clerk_tower::auth::cookie_suffix(&pk(true));
    let now = now();
    let expired = forge(
        &header(Some(CAT_SESSION), "JWT"),
        &json!({"sub": "user_1", "sid": sid, "iat": now - 120, "exp": now - 60}),
    );
    let jar = format!(
        "__session={expired}; __client_uat={}; __refresh_{suffix}=rt_good",
        now - 300
    );
    let state = run(&auth, &page("/", &jar)).await;
    assert_signed_in(&state);
    assert!(
        state.redirect().is_none(),
        "no trip through the Frontend API"
    );
    assert!(set_cookies(&state)[0].starts_with("__session=ey"));
    // A refresh token Clerk refuses: the handshake, saying why.
    let jar = format!(
        "__session={expired}; __client_uat={}; __refresh_{suffix}=rt_forged",
        now - 300
    );
    let state = run(&auth, &page("/", &jar)).await;
    assert_handshake(
        &state,
        "session-token-expired-refresh-authentication_invalid",
        "http://app.test/",
    );
    // Not a GET: no refresh, no handshake.
    let req = RequestInfo::new("POST", "/")
        .header("host", "app.test")
        .header("sec-fetch-dest", "document")
        .header("cookie", &jar);
    assert_signed_out(&run(&auth, &req).await, "token_expired");
}
