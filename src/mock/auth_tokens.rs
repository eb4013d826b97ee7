//! Every class of token Clerk issues, minted by the mock (feature `mock`): from Rust
//! ([`MockClerk::mint`]) and over HTTP on test-only routes outside `/v1`; sessions the mock
//! knows, for `POST /v1/sessions/{id}/tokens`; and the three machine-token verify operations,
//! which accept only the tokens the mock created and refuse others in Clerk's error shape.
//!
//! **Test-only.** The JWTs are signed with the mock's published test key
//! ([`TestSigningKey::mock`](super::TestSigningKey::mock)); the opaque tokens are known to
//! this mock instance only.
//!
//! The test-only routes (they need the mock's secret key, like every other route):
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /__mock/tokens/{class}` | `{"subject": "...", "claims": {...}, "scopes": [...]}` (all optional) | `{"object": "token", "class": "...", "token": "..."}` |
//! | `POST /__mock/sessions` | `{"user_id": "user_..."}` | `{"object": "session", "id": "sess_...", "user_id": "..."}` |
//!
//! `{class}` is one of [`TokenClass::name`]: `session`, `pending_session`, `jwt_template`,
//! `m2m_jwt`, `oauth_jwt`, `api_key`, `m2m_token`, `oauth_token`.

use std::collections::HashMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::engine::{Incoming, SplitMix64, State};
use super::spec::SpecIndex;
use super::tokens::{MintError, TestSigningKey, MOCK_ISSUER};
use super::MockClerk;
use crate::models::ClerkError;
use clerk_tower_spec::Operation;

/// The protected-header `cat` values Clerk stamps on each class of JWT.
const CAT_SESSION: &str = "cl_B7d4PD111AAA";
const CAT_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
const CAT_M2M: &str = "cl_B7d4PD333AAA";

/// The prefix of the test-only routes.
pub(crate) const TEST_ROUTES: &str = "/__mock/";

/// A class of token the mock mints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenClass {
    /// A session token (`cat` session, `sid`, `sts: "active"`), of a session the mock knows.
    Session,
    /// A pending session's token (`sts: "pending"`).
    PendingSession,
    /// A JWT template token (`cat` template, a `jti`, no `sid`).
    JwtTemplate,
    /// A JWT-format M2M token (`cat` M2M, a `mch_` subject, `scopes`).
    M2mJwt,
    /// A JWT-format OAuth access token (`typ: at+jwt`, `client_id`, `scope`).
    OAuthJwt,
    /// An API key (`ak_...`), known to the mock's `POST /v1/api_keys/verify`.
    ApiKey,
    /// An opaque M2M token (`mt_...`), known to `POST /v1/m2m_tokens/verify`.
    M2mToken,
    /// An opaque OAuth access token (`oat_...`), known to
    /// `POST /v1/oauth_applications/access_tokens/verify`.
    OAuthToken,
}

impl TokenClass {
    /// Every class.
    pub const ALL: [TokenClass; 8] = [
        TokenClass::Session,
        TokenClass::PendingSession,
        TokenClass::JwtTemplate,
        TokenClass::M2mJwt,
        TokenClass::OAuthJwt,
        TokenClass::ApiKey,
        TokenClass::M2mToken,
        TokenClass::OAuthToken,
    ];

    /// The class's name in the test-only route `POST /__mock/tokens/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            TokenClass::Session => "session",
            TokenClass::PendingSession => "pending_session",
            TokenClass::JwtTemplate => "jwt_template",
            TokenClass::M2mJwt => "m2m_jwt",
            TokenClass::OAuthJwt => "oauth_jwt",
            TokenClass::ApiKey => "api_key",
            TokenClass::M2mToken => "m2m_token",
            TokenClass::OAuthToken => "oauth_token",
        }
    }

    fn from_name(name: &str) -> Option<TokenClass> {
        TokenClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for TokenClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the mock knows of sessions and opaque machine tokens.
#[derive(Default)]
pub(crate) struct AuthStore {
    /// Session id -> user id.
    pub(crate) sessions: HashMap<String, String>,
    /// Secret -> the token's resource (what its verify operation answers).
    machine: HashMap<String, Known>,
    /// The mock Frontend API's browsers (`super::frontend`).
    pub(crate) frontend: super::frontend::FrontendStore,
}

struct Known {
    class: TokenClass,
    resource: Map<String, Value>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// What a minted token is made of.
struct Request {
    subject: Option<String>,
    claims: Map<String, Value>,
    scopes: Option<Vec<String>>,
}

impl Request {
    fn from_json(value: &Value) -> Option<Request> {
        let object = match value {
            Value::Null => return Some(Request::empty()),
            Value::Object(o) => o,
            _ => return None,
        };
        let subject = match object.get("subject").or(object.get("user_id")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return None,
        };
        let claims = match object.get("claims") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(c)) => c.clone(),
            Some(_) => return None,
        };
        let scopes = match object.get("scopes") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()?,
            ),
            Some(_) => return None,
        };
        Some(Request {
            subject,
            claims,
            scopes,
        })
    }

    fn empty() -> Request {
        Request {
            subject: None,
            claims: Map::new(),
            scopes: None,
        }
    }
}

fn sign(
    header: Value,
    mut claims: Map<String, Value>,
    extra: Map<String, Value>,
) -> Result<String, MintError> {
    claims.extend(extra);
    TestSigningKey::mock()?.sign_with_header(&header, &Value::Object(claims))
}

fn header(cat: Option<&str>, typ: &str) -> Value {
    let mut h = json!({"alg": "RS256", "kid": super::TEST_KEY_ID, "typ": typ});
    if let Some(cat) = cat {
        h["cat"] = cat.into();
    }
    h
}

fn times(lifetime: i64) -> Map<String, Value> {
    let now = now_secs();
    let mut m = Map::new();
    m.insert("iss".into(), MOCK_ISSUER.into());
    m.insert("iat".into(), now.into());
    m.insert("nbf".into(), now.saturating_sub(10).into());
    m.insert("exp".into(), now.saturating_add(lifetime).into());
    m
}

impl AuthStore {
    fn mint(
        &mut self,
        rng: &mut SplitMix64,
        class: TokenClass,
        req: Request,
    ) -> Result<String, MintError> {
        let user = || {
            req.subject
                .clone()
                .unwrap_or_else(|| "user_mock".to_owned())
        };
        match class {
            TokenClass::Session | TokenClass::PendingSession => {
                let user = user();
                let sid = rng.id("sess_");
                self.sessions.insert(sid.clone(), user.clone());
                let mut c = times(60);
                c.insert("sub".into(), user.into());
                c.insert("sid".into(), sid.into());
                c.insert("v".into(), 2.into());
                let sts = if class == TokenClass::PendingSession {
                    "pending"
                } else {
                    "active"
                };
                c.insert("sts".into(), sts.into());
                sign(header(Some(CAT_SESSION), "JWT"), c, req.claims)
            }
            TokenClass::JwtTemplate => {
                let mut c = times(60);
                c.insert("sub".into(), user().into());
                c.insert("jti".into(), rng.id("").into());
                sign(header(Some(CAT_JWT_TEMPLATE), "JWT"), c, req.claims)
            }
            TokenClass::M2mJwt => {
                let mut c = times(3600);
                let machine = req.subject.clone().unwrap_or_else(|| rng.id("mch_"));
                c.insert("sub".into(), machine.into());
                c.insert("jti".into(), rng.id("mt_").into());
                c.insert(
                    "scopes".into(),
                    req.scopes.clone().unwrap_or_default().join(" ").into(),
                );
                sign(header(Some(CAT_M2M), "JWT"), c, req.claims)
            }
            TokenClass::OAuthJwt => {
                let mut c = times(3600);
                c.insert("sub".into(), user().into());
                c.insert("jti".into(), rng.id("oat_").into());
                c.insert("client_id".into(), rng.id("client_").into());
                c.insert(
                    "scope".into(),
                    req.scopes.clone().unwrap_or_default().join(" ").into(),
                );
                sign(header(None, "at+jwt"), c, req.claims)
            }
            TokenClass::ApiKey | TokenClass::M2mToken | TokenClass::OAuthToken => {
                let (secret, resource) = self.opaque(rng, class, &req);
                self.machine
                    .insert(secret.clone(), Known { class, resource });
                Ok(secret)
            }
        }
    }

    /// A new opaque token of `class` and its resource, as Clerk's verify operation answers it.
    fn opaque(
        &self,
        rng: &mut SplitMix64,
        class: TokenClass,
        req: &Request,
    ) -> (String, Map<String, Value>) {
        let secret_of = |rng: &mut SplitMix64, prefix: &str| {
            format!("{prefix}{:016x}{:016x}", rng.next_u64(), rng.next_u64())
        };
        let now = now_ms();
        let scopes = req.scopes.clone().unwrap_or_default();
        let claims = if req.claims.is_empty() {
            Value::Null
        } else {
            Value::Object(req.claims.clone())
        };
        let hex_id = |rng: &mut SplitMix64, prefix: &str| {
            format!("{prefix}{:016x}{:016x}", rng.next_u64(), rng.next_u64())
        };
        let resource = match class {
            TokenClass::ApiKey => json!({
                "object": "api_key", "id": hex_id(rng, "ak_"), "type": "api_key",
                "subject": req.subject.clone().unwrap_or_else(|| rng.id("user_")),
                "name": "mock key", "description": null, "claims": claims, "scopes": scopes,
                "revoked": false, "revocation_reason": null, "expired": false,
                "expiration": null, "created_by": null, "last_used_at": null,
                "created_at": now, "updated_at": now}),
            TokenClass::M2mToken => json!({
                "object": "machine_to_machine_token", "id": hex_id(rng, "mt_"),
                "subject": req.subject.clone().unwrap_or_else(|| rng.id("mch_")),
                "claims": claims, "scopes": scopes, "revoked": false,
                "revocation_reason": null, "expired": false, "expiration": now + 3_600_000.0,
                "last_used_at": null, "created_at": now, "updated_at": now}),
            _ => json!({
                "object": "clerk_idp_oauth_access_token", "id": hex_id(rng, "oat_"),
                "client_id": rng.id("client_"),
                "subject": req.subject.clone().unwrap_or_else(|| rng.id("user_")),
                "scopes": scopes, "revoked": false, "revocation_reason": null,
                "expired": false, "expiration": now + 3_600_000.0, "created_at": now,
                "updated_at": now}),
        };
        let prefix = match class {
            TokenClass::ApiKey => "ak_",
            TokenClass::M2mToken => "mt_",
            _ => "oat_",
        };
        let resource = match resource {
            Value::Object(resource) => resource,
            _ => Map::new(),
        };
        (secret_of(rng, prefix), resource)
    }
}

impl MockClerk {
    /// Mints a token of `class` for `subject` (a user id for the session, template and OAuth
    /// classes, a machine id for M2M; `None`: a default), the way Clerk issues it. Opaque
    /// tokens are then known to this mock's verify operations; session tokens name a session
    /// the mock knows (`POST /v1/sessions/{id}/tokens` answers for it).
    ///
    /// ```
    /// use clerk_tower::mock::{MockClerk, TokenClass};
    ///
    /// let mock = MockClerk::new();
    /// let api_key = mock.mint(TokenClass::ApiKey, Some("user_1"))?;
    /// assert!(api_key.starts_with("ak_"));
    /// let template = mock.mint(TokenClass::JwtTemplate, Some("user_1"))?;
    /// assert_eq!(template.split('.').count(), 3);
    /// # Ok::<(), clerk_tower::mock::MintError>(())
    /// ```
    ///
    /// # Errors
    /// Only if ring refused the embedded key, which the crate's tests rule out.
    pub fn mint(&self, class: TokenClass, subject: Option<&str>) -> Result<String, MintError> {
        self.mint_with(class, subject, Value::Null, &[])
    }

    /// [`mint`](Self::mint) with claims added (a JSON object: custom claims for the JWT
    /// classes, the `claims` of an opaque token) and scopes (M2M and OAuth tokens, API keys).
    ///
    /// # Errors
    /// When `claims` is neither null nor a JSON object.
    pub fn mint_with(
        &self,
        class: TokenClass,
        subject: Option<&str>,
        claims: Value,
        scopes: &[&str],
    ) -> Result<String, MintError> {
        let claims = match claims {
            Value::Null => Map::new(),
            Value::Object(c) => c,
            _ => return Err(MintError("the claims must be a JSON object")),
        };
        let req = Request {
            subject: subject.map(str::to_owned),
            claims,
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
        };
        let mut state = self.lock();
        let State { auth, rng, .. } = &mut *state;
        auth.mint(rng, class, req)
    }

    /// Makes `secret` an opaque token of `class` (`ApiKey`, `M2mToken` or `OAuthToken`) that
    /// this mock's verify operation accepts, for `subject`: for tests that need a token of a
    /// fixed value.
    ///
    /// # Errors
    /// When `class` is a JWT class, or `secret` is empty.
    pub fn insert_token(
        &self,
        class: TokenClass,
        secret: &str,
        subject: Option<&str>,
    ) -> Result<(), MintError> {
        if !matches!(
            class,
            TokenClass::ApiKey | TokenClass::M2mToken | TokenClass::OAuthToken
        ) || secret.is_empty()
        {
            return Err(MintError("only opaque tokens with a value can be inserted"));
        }
        let req = Request {
            subject: subject.map(str::to_owned),
            claims: Map::new(),
            scopes: None,
        };
        let mut state = self.lock();
        let State { auth, rng, .. } = &mut *state;
        let (_, resource) = auth.opaque(rng, class, &req);
        auth.machine
            .insert(secret.to_owned(), Known { class, resource });
        Ok(())
    }

    /// Makes `session_id` a session of `user_id` that `POST /v1/sessions/{id}/tokens` answers
    /// for.
    pub fn insert_session(&self, session_id: &str, user_id: &str) {
        self.lock()
            .auth
            .sessions
            .insert(session_id.to_owned(), user_id.to_owned());
    }

    /// Creates a session for `user_id` and returns its id: `POST /v1/sessions/{id}/tokens`
    /// then answers a signed session token for it.
    pub fn create_session(&self, user_id: &str) -> String {
        let mut state = self.lock();
        let sid = state.rng.id("sess_");
        state.auth.sessions.insert(sid.clone(), user_id.to_owned());
        sid
    }
}

fn json_answer(status: StatusCode, value: &Value) -> Response<Bytes> {
    let body = Bytes::from(value.to_string());
    let len = body.len();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn not_found(state: &mut State) -> Response<Bytes> {
    state.error_response(
        StatusCode::NOT_FOUND,
        ClerkError::new("resource_not_found", "not found", "Resource not found"),
    )
}

fn bad_request(state: &mut State, message: &str) -> Response<Bytes> {
    state.error_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        ClerkError::new("form_param_format_invalid", "is invalid", message),
    )
}

fn body_json(req: &Incoming<'_>) -> Option<Value> {
    if req.body.is_empty() {
        return Some(Value::Null);
    }
    serde_json::from_slice(&req.body).ok()
}

/// The test-only routes under `/__mock/` (see the module docs); `None` for any other path.
pub(crate) fn test_route(
    state: &mut State,
    req: &Incoming<'_>,
    commit: bool,
) -> Option<(Response<Bytes>, bool)> {
    let rest = req.uri.path().strip_prefix(TEST_ROUTES)?;
    if *req.method != Method::POST {
        return Some((
            state.error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                ClerkError::new("method_not_allowed", "method not allowed", "Use POST"),
            ),
            false,
        ));
    }
    let Some(body) = body_json(req) else {
        return Some((bad_request(state, "The body is not JSON."), false));
    };
    if rest == "sessions" {
        let Some(user) = body.get("user_id").and_then(Value::as_str) else {
            return Some((bad_request(state, "user_id is required."), false));
        };
        let sid = state.rng.id("sess_");
        if commit {
            state.auth.sessions.insert(sid.clone(), user.to_owned());
        }
        let answer = json!({"object": "session", "id": sid, "user_id": user});
        return Some((json_answer(StatusCode::OK, &answer), commit));
    }
    let class = rest.strip_prefix("tokens/").and_then(TokenClass::from_name);
    let Some(class) = class else {
        return Some((not_found(state), false));
    };
    let Some(mint) = Request::from_json(&body) else {
        return Some((
            bad_request(
                state,
                "subject must be a string, claims an object, scopes an array of strings.",
            ),
            false,
        ));
    };
    if !commit {
        return Some((
            json_answer(StatusCode::OK, &json!({"object": "token"})),
            false,
        ));
    }
    let State { auth, rng, .. } = state;
    match auth.mint(rng, class, mint) {
        Ok(token) => {
            let answer = json!({"object": "token", "class": class.name(), "token": token});
            Some((json_answer(StatusCode::OK, &answer), true))
        }
        Err(_) => Some((
            state.error_response(StatusCode::INTERNAL_SERVER_ERROR, internal()),
            false,
        )),
    }
}

fn internal() -> ClerkError {
    ClerkError::new(
        "internal_clerk_error",
        "Oops, an unexpected error occurred",
        "The mock could not sign the token.",
    )
}

/// The operations this module answers: the three machine-token verify operations, API key
/// and M2M token creation (the generic answer, with a secret the mock then knows), and
/// `CreateSessionToken`. `None` for any other operation.
pub(crate) fn respond(
    state: &mut State,
    req: &Incoming<'_>,
    index: &'static SpecIndex,
    op: &'static Operation,
    params: &[(&'static str, String)],
    commit: bool,
) -> Option<(Response<Bytes>, bool)> {
    const HANDLED: [&str; 7] = [
        "verifyApiKey",
        "verifyM2MToken",
        "verifyOAuthAccessToken",
        "createApiKey",
        "createM2MToken",
        "CreateSessionToken",
        "RefreshSession",
    ];
    if !HANDLED.contains(&op.id.as_str()) {
        return None;
    }
    // The spec's own checks first (missing or mistyped members, content type...), as for
    // every other operation.
    if let Err(refusal) = super::validate::check(
        index.doc(),
        op,
        params,
        req.uri.query(),
        req.headers,
        &req.body,
    ) {
        return Some((state.error_response(refusal.status, refusal.error), false));
    }
    match op.id.as_str() {
        "verifyApiKey" | "verifyM2MToken" | "verifyOAuthAccessToken" => {
            let (class, fields): (TokenClass, &[&str]) = match op.id.as_str() {
                "verifyApiKey" => (TokenClass::ApiKey, &["secret"]),
                "verifyM2MToken" => (TokenClass::M2mToken, &["token"]),
                _ => (TokenClass::OAuthToken, &["access_token", "secret"]),
            };
            let body = body_json(req).unwrap_or(Value::Null);
            let secret = fields
                .iter()
                .find_map(|f| body.get(*f).and_then(Value::as_str));
            let Some(secret) = secret else {
                return Some((bad_request(state, "The token to verify is missing."), false));
            };
            let answer = match state.auth.machine.get(secret) {
                Some(known) if known.class == class => {
                    let mut resource = known.resource.clone();
                    let expired = resource
                        .get("expiration")
                        .and_then(Value::as_f64)
                        .is_some_and(|e| e <= now_ms());
                    if expired {
                        None
                    } else {
                        resource.insert("expired".into(), false.into());
                        Some(Value::Object(resource))
                    }
                }
                // Unknown, another class's token, or expired: Clerk answers 404.
                _ => None,
            };
            Some(match answer {
                Some(answer) => (json_answer(StatusCode::OK, &answer), false),
                None => (not_found(state), false),
            })
        }
        "createApiKey" | "createM2MToken" => {
            let response = state.generic(req, index, op, params);
            if !response.status().is_success() || !commit {
                return Some((response, false));
            }
            let class = if op.id == "createApiKey" {
                TokenClass::ApiKey
            } else {
                TokenClass::M2mToken
            };
            let body = body_json(req).unwrap_or(Value::Null);
            let mint = Request {
                subject: body
                    .get("subject")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                claims: body
                    .get("claims")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                scopes: body.get("scopes").and_then(Value::as_array).map(|items| {
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                }),
            };
            let Ok(Value::Object(mut created)) = serde_json::from_slice::<Value>(response.body())
            else {
                return Some((response, false));
            };
            let status = response.status();
            let State { auth, rng, .. } = state;
            let (secret, minted) = auth.opaque(rng, class, &mint);
            // The generic answer's shape and ids, with what the request asked for.
            for key in [
                "subject",
                "scopes",
                "claims",
                "revoked",
                "revocation_reason",
                "expired",
            ] {
                if let Some(value) = minted.get(key) {
                    if key != "subject" || mint.subject.is_some() {
                        created.insert(key.into(), value.clone());
                    }
                }
            }
            if let Some(name) = body.get("name").and_then(Value::as_str) {
                created.insert("name".into(), name.into());
            }
            let expiration = body
                .get("seconds_until_expiration")
                .and_then(Value::as_f64)
                .map_or(Value::Null, |secs| (now_ms() + secs * 1000.0).into());
            created.insert("expiration".into(), expiration);
            let field = if class == TokenClass::ApiKey {
                "secret"
            } else {
                "token"
            };
            let mut resource = created.clone();
            resource.remove("secret");
            resource.remove("token");
            created.insert(field.into(), secret.clone().into());
            auth.machine.insert(secret, Known { class, resource });
            Some((json_answer(status, &Value::Object(created)), true))
        }
        "RefreshSession" => {
            let sid = params
                .iter()
                .find(|(name, _)| *name == "session_id")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            let body = body_json(req).unwrap_or(Value::Null);
            let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("");
            // The refresh token is the proof; an expired token that names another session is
            // refused too (one the mock cannot read is left to the refresh token).
            let expired_claims = field("expired_token")
                .split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or(Value::Null);
            let expired_sid = expired_claims.get("sid").and_then(Value::as_str);
            // The new token keeps the issuer (the Frontend API) of the one it replaces.
            let issuer = expired_claims
                .get("iss")
                .and_then(Value::as_str)
                .filter(|i| i.starts_with("https://") || i.starts_with("http://"))
                .map(str::to_owned);
            let known = state
                .auth
                .frontend
                .refresh_tokens
                .get(field("refresh_token"));
            let user = state.auth.sessions.get(sid).cloned();
            let (Some(user), true, true) = (
                user,
                known.map(String::as_str) == Some(sid),
                expired_sid.is_none_or(|e| e == sid),
            ) else {
                return Some((
                    state.error_response(
                        StatusCode::UNAUTHORIZED,
                        ClerkError::new(
                            "authentication_invalid",
                            "Unauthorized request",
                            "The refresh token or the expired token does not match the session.",
                        ),
                    ),
                    false,
                ));
            };
            let mut c = times(60);
            if let Some(issuer) = issuer {
                c.insert("iss".into(), issuer.into());
            }
            c.insert("sub".into(), user.into());
            c.insert("sid".into(), sid.into());
            c.insert("v".into(), 2.into());
            c.insert("sts".into(), "active".into());
            let Ok(jwt) = sign(header(Some(CAT_SESSION), "JWT"), c, Map::new()) else {
                return Some((
                    state.error_response(StatusCode::INTERNAL_SERVER_ERROR, internal()),
                    false,
                ));
            };
            let answer = if field("format") == "cookie" {
                json!({"object": "cookies",
                       "cookies": [format!("__session={jwt}; Path=/; SameSite=Lax")]})
            } else {
                json!({"object": "token", "jwt": jwt})
            };
            Some((json_answer(StatusCode::OK, &answer), false))
        }
        "CreateSessionToken" => {
            let sid = params
                .iter()
                .find(|(name, _)| *name == "session_id")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            let Some(user) = state.auth.sessions.get(sid).cloned() else {
                return Some((not_found(state), false));
            };
            let lifetime = body_json(req)
                .and_then(|b| b.get("expires_in_seconds").and_then(Value::as_i64))
                .filter(|s| (30..=315_360_000).contains(s))
                .unwrap_or(60);
            let mut c = times(lifetime);
            c.insert("sub".into(), user.into());
            c.insert("sid".into(), sid.into());
            c.insert("v".into(), 2.into());
            c.insert("sts".into(), "active".into());
            match sign(header(Some(CAT_SESSION), "JWT"), c, Map::new()) {
                Ok(jwt) => Some((
                    json_answer(StatusCode::OK, &json!({"object": "token", "jwt": jwt})),
                    false,
                )),
                Err(_) => Some((
                    state.error_response(StatusCode::INTERNAL_SERVER_ERROR, internal()),
                    false,
                )),
            }
        }
        _ => None,
    }
}
