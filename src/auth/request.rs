//! The request check, framework-agnostic: from a request's headers (or its token) to one typed
//! [`AuthOutcome`]. [`SessionLayer`](super::SessionLayer) is a thin tower shell over it; other
//! frameworks call [`Authenticator::authenticate_token`] with the token they extracted.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, COOKIE};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

#[cfg(feature = "machine_auth")]
use super::cache::token_key;
use super::handshake::{Decision, Handshake, RequestFuture, RequestInfo, RequestState};
#[cfg(feature = "machine_auth")]
use super::machine::{
    ApiKeyIdentity, M2mIdentity, MachineIdentity, MachineVerifier, OAuthIdentity,
};
use super::verify::{category, is_oauth_typ, Step};
use super::{Claims, Verifier, VerifyError};

/// The name of the cookie Clerk keeps the session token in.
pub const SESSION_COOKIE: &str = "__session";

/// A class of token, as Clerk's SDKs name them (`acceptsToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// A session token (a JWT minted by Clerk's Frontend API for a signed-in user).
    SessionToken,
    /// An API key (`ak_...`).
    ApiKey,
    /// A machine-to-machine token (`mt_...`, or a JWT with a machine subject).
    M2mToken,
    /// An OAuth access token (`oat_...`, or a JWT with `typ: at+jwt`).
    OAuthToken,
}

impl TokenType {
    fn bit(self) -> u8 {
        match self {
            TokenType::SessionToken => 1,
            TokenType::ApiKey => 2,
            TokenType::M2mToken => 4,
            TokenType::OAuthToken => 8,
        }
    }

    /// The class of an opaque machine token, from its prefix (`ak_`, `mt_`, `oat_`).
    pub fn from_prefix(token: &str) -> Option<TokenType> {
        if token.starts_with("ak_") {
            Some(TokenType::ApiKey)
        } else if token.starts_with("mt_") {
            Some(TokenType::M2mToken)
        } else if token.starts_with("oat_") {
            Some(TokenType::OAuthToken)
        } else {
            None
        }
    }
}

/// The classes of token a route accepts (default: sessions only).
///
/// ```
/// use clerk_tower::auth::{AcceptsToken, TokenType};
///
/// let api = AcceptsToken::only(TokenType::SessionToken).and(TokenType::ApiKey);
/// assert!(api.contains(TokenType::ApiKey) && !api.contains(TokenType::M2mToken));
/// assert!(AcceptsToken::ANY.contains(TokenType::OAuthToken));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptsToken(u8);

impl AcceptsToken {
    /// Session tokens only (the default).
    pub const SESSION: AcceptsToken = AcceptsToken(1);
    /// Every class: sessions, API keys, M2M tokens, OAuth access tokens.
    pub const ANY: AcceptsToken = AcceptsToken(15);

    /// One class only.
    pub fn only(class: TokenType) -> Self {
        AcceptsToken(class.bit())
    }

    /// This set and `class`.
    pub fn and(self, class: TokenType) -> Self {
        AcceptsToken(self.0 | class.bit())
    }

    /// Whether `class` is accepted.
    pub fn contains(self, class: TokenType) -> bool {
        self.0 & class.bit() != 0
    }
}

impl Default for AcceptsToken {
    fn default() -> Self {
        AcceptsToken::SESSION
    }
}

/// Who is calling, once a request's token was verified.
///
/// With the `axum` feature, `Auth` is an extractor too (and each of its payloads is one).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// One per request, moved into the request's extensions: boxing the claims would allocate on
// the hot path for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Auth {
    /// A signed-in user's session.
    Session(Claims),
    /// An API key (feature `machine_auth`).
    #[cfg(feature = "machine_auth")]
    ApiKey(ApiKeyIdentity),
    /// A machine-to-machine token (feature `machine_auth`).
    #[cfg(feature = "machine_auth")]
    M2m(M2mIdentity),
    /// An OAuth access token (feature `machine_auth`).
    #[cfg(feature = "machine_auth")]
    OAuth(OAuthIdentity),
}

impl Auth {
    /// The session claims, when the caller is a session.
    pub fn session(&self) -> Option<&Claims> {
        match self {
            Auth::Session(claims) => Some(claims),
            #[cfg(feature = "machine_auth")]
            _ => None,
        }
    }

    /// The class of token the caller presented.
    pub fn token_type(&self) -> TokenType {
        match self {
            Auth::Session(_) => TokenType::SessionToken,
            #[cfg(feature = "machine_auth")]
            Auth::ApiKey(_) => TokenType::ApiKey,
            #[cfg(feature = "machine_auth")]
            Auth::M2m(_) => TokenType::M2mToken,
            #[cfg(feature = "machine_auth")]
            Auth::OAuth(_) => TokenType::OAuthToken,
        }
    }
}

#[cfg(feature = "machine_auth")]
impl From<MachineIdentity> for Auth {
    fn from(identity: MachineIdentity) -> Self {
        match identity {
            MachineIdentity::ApiKey(k) => Auth::ApiKey(k),
            MachineIdentity::M2m(m) => Auth::M2m(m),
            MachineIdentity::OAuth(o) => Auth::OAuth(o),
        }
    }
}

/// A pending session (`sts: "pending"`) that the verifier does not accept as signed in: its
/// user still has a session task to complete. An optional
/// [`SessionLayer`](super::SessionLayer) puts it in the request's extensions (instead of the
/// [`Claims`]) so that an app can send the user to the task.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSession(Claims);

impl PendingSession {
    pub(crate) fn new(claims: Claims) -> Self {
        PendingSession(claims)
    }

    /// The verified claims of the pending session.
    pub fn claims(&self) -> &Claims {
        &self.0
    }

    /// The claims, owned.
    pub fn into_claims(self) -> Claims {
        self.0
    }
}

/// The outcome of the request check.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// The token was verified and is of a class the route accepts.
    Authenticated(Auth),
    /// A valid session token of a pending session, which the verifier does not accept.
    Pending(PendingSession),
    /// No token, or a token refused: the reason (never the token).
    Refused(VerifyError),
}

impl AuthOutcome {
    /// The caller, when authenticated.
    pub fn auth(&self) -> Option<&Auth> {
        match self {
            AuthOutcome::Authenticated(auth) => Some(auth),
            _ => None,
        }
    }

    /// Why the request is not authenticated (`SessionPending` for a pending session).
    pub fn error(&self) -> Option<VerifyError> {
        match self {
            AuthOutcome::Authenticated(_) => None,
            AuthOutcome::Pending(_) => Some(VerifyError::SessionPending),
            AuthOutcome::Refused(e) => Some(e.clone()),
        }
    }
}

/// The token of a request, given its `Authorization` header value and its `Cookie` header
/// values: `Authorization: Bearer <token>` first, then the `__session` cookie (its value may
/// be quoted, as RFC 6265 §4.1.1 allows). `None` when neither holds a non-empty token.
///
/// For frameworks whose header types are not the `http` crate's; with an
/// [`http::HeaderMap`], use [`session_token`].
pub fn request_token<'a, I>(authorization: Option<&'a str>, cookies: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let bearer = authorization.and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    });
    if bearer.is_some() {
        return bearer;
    }
    find_cookie(cookies, SESSION_COOKIE)
}

/// The suffix Clerk's frontends give the session cookie of an app (`__session_<suffix>`), so
/// that several Clerk apps on one domain keep their own: the first 8 characters of the
/// URL-safe base64 of the SHA-1 of the publishable key (as Clerk's SDKs derive it).
///
/// ```
/// let suffix = clerk_tower::auth::cookie_suffix("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k");
/// assert_eq!(suffix.len(), 8);
/// ```
pub fn cookie_suffix(publishable_key: &str) -> String {
    // SHA-1 names a cookie here; it protects nothing.
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        publishable_key.as_bytes(),
    );
    URL_SAFE_NO_PAD
        .encode(digest.as_ref())
        .chars()
        .take(8)
        .collect()
}

/// The value of the cookie `name` among `Cookie` header values (a quoted value unquoted, as
/// RFC 6265 §4.1.1 allows); `None` when absent or empty.
pub(crate) fn find_cookie<'a, I>(cookies: I, name: &str) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    cookies
        .into_iter()
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            if key.trim() != name {
                return None;
            }
            let value = value.trim();
            // RFC 6265 §4.1.1: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE );
            // the quotes are not part of the value.
            let value = match value.strip_prefix('"') {
                Some(rest) => rest.strip_suffix('"')?,
                None => value,
            };
            (!value.is_empty()).then_some(value)
        })
}

/// The session token of a request: `Authorization: Bearer <token>` first, then the
/// `__session` cookie. `None` when neither holds a non-empty token.
///
/// ```
/// use clerk_tower::auth::session_token;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("cookie", "theme=dark; __session=eyJ.a.b".parse().unwrap());
/// assert_eq!(session_token(&headers), Some("eyJ.a.b"));
/// headers.insert("authorization", "Bearer eyJ.c.d".parse().unwrap());
/// assert_eq!(session_token(&headers), Some("eyJ.c.d"));
/// ```
pub fn session_token(headers: &http::HeaderMap) -> Option<&str> {
    // `from_utf8` rather than `HeaderValue::to_str`: the same answer for a token (base64url
    // and dots), checked several times faster on a 1 KB value; anything else that passes
    // fails verification anyway.
    request_token(
        headers.get(AUTHORIZATION).and_then(header_text),
        headers.get_all(COOKIE).iter().filter_map(header_text),
    )
}

fn header_text(v: &http::HeaderValue) -> Option<&str> {
    std::str::from_utf8(v.as_bytes()).ok()
}

/// The request check: which token classes a route accepts, and how each is verified.
///
/// Cheap to clone. [`SessionLayer`](super::SessionLayer) wraps one; call it directly to
/// authenticate requests in another framework:
///
/// ```
/// # async fn demo(verifier: clerk_tower::auth::Verifier, headers: http::HeaderMap) {
/// use clerk_tower::auth::{Auth, AuthOutcome, Authenticator};
///
/// let auth = Authenticator::new(verifier);
/// match auth.authenticate(&headers).await {
///     AuthOutcome::Authenticated(Auth::Session(claims)) => println!("user {}", claims.sub),
///     AuthOutcome::Authenticated(_) => println!("another class of caller"),
///     AuthOutcome::Pending(_) => println!("a session task to complete"),
///     AuthOutcome::Refused(error) => println!("refused: {}", error.code()),
/// }
/// # }
/// ```
///
/// The class of a token is read from its prefix (`ak_`, `mt_`, `oat_`) or, for a JWT when the
/// route accepts machine tokens, from its header (`typ: at+jwt`, `cat`) and subject (`mch_`).
/// A token of a class the route does not accept is refused (`token_type_not_accepted`)
/// without any call to Clerk.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Verifier,
    accepts: AcceptsToken,
    /// `__session_<suffix>`, read before `__session`, when the publishable key is known.
    suffixed_cookie: Option<Box<str>>,
    #[cfg(feature = "machine_auth")]
    machines: Option<MachineVerifier>,
    /// Cookie sessions with Clerk's handshake, for server-rendered pages.
    handshake: Option<Handshake>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Authenticator");
        d.field("verifier", &self.verifier)
            .field("accepts", &self.accepts)
            .field("suffixed_cookie", &self.suffixed_cookie);
        #[cfg(feature = "machine_auth")]
        d.field("machine_tokens", &self.machines);
        d.field("handshake", &self.handshake);
        d.finish()
    }
}

impl From<Verifier> for Authenticator {
    fn from(verifier: Verifier) -> Self {
        Authenticator::new(verifier)
    }
}

/// The class of a token, as far as the route cares.
enum Class {
    Session,
    Opaque(TokenType),
    Jwt(TokenType),
}

impl Authenticator {
    /// Accepts session tokens verified by `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Authenticator {
            verifier,
            accepts: AcceptsToken::SESSION,
            suffixed_cookie: None,
            #[cfg(feature = "machine_auth")]
            machines: None,
            handshake: None,
        }
    }

    /// The classes of token accepted (default: sessions only). Opaque machine tokens also
    /// need [`machine_tokens`](Self::machine_tokens); JWT-format M2M and OAuth tokens are
    /// verified with the session verifier's keys.
    pub fn accepts(mut self, accepts: AcceptsToken) -> Self {
        self.accepts = accepts;
        self
    }

    /// Verifies opaque machine tokens (`ak_`, `mt_`, `oat_`) with this verifier (feature
    /// `machine_auth`). Without one, such tokens are refused as not accepted.
    #[cfg(feature = "machine_auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "machine_auth")))]
    pub fn machine_tokens(mut self, machines: MachineVerifier) -> Self {
        self.machines = Some(machines);
        self
    }

    /// The app's publishable key (`pk_test_...`, `pk_live_...`): the suffixed session cookie
    /// Clerk's frontends set for it, `__session_<suffix>` ([`cookie_suffix`]), is read before
    /// `__session` (after `Authorization: Bearer`).
    pub fn publishable_key(mut self, publishable_key: &str) -> Self {
        let name = format!("{SESSION_COOKIE}_{}", cookie_suffix(publishable_key));
        self.suffixed_cookie = Some(name.into_boxed_str());
        self
    }

    /// Cookie sessions for server-rendered pages, as Clerk's SDKs keep them: the request's
    /// cookies and headers decide between signed in, signed out and a handshake through the
    /// Frontend API, and an expired token is refreshed ([`Handshake`], and the decision table
    /// in `docs/authentication.md`). Also reads the suffixed session cookie of its
    /// publishable key, as [`publishable_key`](Self::publishable_key) does.
    ///
    /// [`authenticate_request`](Self::authenticate_request) then applies the table;
    /// [`authenticate`](Self::authenticate) and
    /// [`authenticate_token`](Self::authenticate_token) still check one token only.
    pub fn handshake(self, handshake: Handshake) -> Self {
        let mut this = self.publishable_key(handshake.publishable_key());
        this.handshake = Some(handshake);
        this
    }

    /// The handshake settings, when cookie sessions are on.
    pub fn handshake_settings(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    /// The request check of a whole request (method, URL, headers): with
    /// [`handshake`](Self::handshake), Clerk's decision table (a [`RequestState`] that may be a
    /// redirect, with cookies to set); without it, the token check of
    /// [`authenticate`](Self::authenticate), as a [`RequestState`] without headers.
    pub fn authenticate_request(&self, request: &RequestInfo<'_>) -> RequestFuture {
        match &self.handshake {
            Some(handshake) => Decision {
                auth: self.clone(),
                settings: handshake.clone(),
            }
            .start(request),
            None => {
                let future = self.authenticate_token(self.token_of(request));
                RequestFuture::new(async move { RequestState::plain(future.await) })
            }
        }
    }

    /// The token of a [`RequestInfo`], as [`token`](Self::token) finds it in a header map.
    fn token_of<'r>(&self, request: &RequestInfo<'r>) -> Option<&'r str> {
        let bearer = request_token(request.header_value("authorization"), std::iter::empty());
        bearer
            .or_else(|| {
                self.suffixed_cookie
                    .as_deref()
                    .and_then(|name| find_cookie(request.header_values("cookie"), name))
            })
            .or_else(|| find_cookie(request.header_values("cookie"), SESSION_COOKIE))
    }

    /// Whether `token` is of a machine class this route accepts (its prefix, or a machine
    /// JWT): checked without cookies or handshake.
    pub(crate) fn is_machine_token(&self, token: &str) -> bool {
        !matches!(self.classify(token), Class::Session)
    }

    /// The request's token: `Authorization: Bearer`, then the suffixed session cookie (with a
    /// publishable key), then `__session`.
    pub fn token<'h>(&self, headers: &'h http::HeaderMap) -> Option<&'h str> {
        let Some(name) = &self.suffixed_cookie else {
            return session_token(headers);
        };
        let bearer = request_token(
            headers.get(AUTHORIZATION).and_then(header_text),
            std::iter::empty(),
        );
        bearer
            .or_else(|| find_cookie(headers.get_all(COOKIE).iter().filter_map(header_text), name))
            .or_else(|| session_token(headers))
    }

    /// The session verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Authenticates a request by its headers ([`session_token`] finds the token).
    pub fn authenticate(&self, headers: &http::HeaderMap) -> AuthFuture {
        self.authenticate_token(self.token(headers))
    }

    /// Authenticates a request by its token (`None`: the request has none). Without I/O when
    /// the answer is known (a cached key, a cached token, a refusal): the future is then
    /// ready at once ([`AuthFuture::now`]).
    pub fn authenticate_token(&self, token: Option<&str>) -> AuthFuture {
        let Some(token) = token else {
            return AuthFuture::ready(AuthOutcome::Refused(VerifyError::MissingToken));
        };
        let class = self.classify(token);
        let token_type = match class {
            Class::Session => TokenType::SessionToken,
            Class::Opaque(t) | Class::Jwt(t) => t,
        };
        if !self.accepts.contains(token_type) {
            return AuthFuture::ready(AuthOutcome::Refused(VerifyError::TokenTypeNotAccepted));
        }
        match class {
            Class::Session => self.session(token),
            #[cfg(feature = "machine_auth")]
            Class::Opaque(kind) => self.opaque(token, kind),
            #[cfg(feature = "machine_auth")]
            Class::Jwt(kind) => self.machine_jwt(token, kind),
            #[cfg(not(feature = "machine_auth"))]
            Class::Opaque(_) | Class::Jwt(_) => {
                AuthFuture::ready(AuthOutcome::Refused(VerifyError::TokenTypeNotAccepted))
            }
        }
    }

    /// The class of `token`: its prefix, or for a JWT on a route that accepts machine JWTs,
    /// its header and subject (read without any check: the verification comes next).
    fn classify(&self, token: &str) -> Class {
        if let Some(kind) = TokenType::from_prefix(token) {
            return Class::Opaque(kind);
        }
        let m2m = self.accepts.contains(TokenType::M2mToken);
        let oauth = self.accepts.contains(TokenType::OAuthToken);
        if !m2m && !oauth {
            // The session verifier refuses machine JWTs by their class, with their own code.
            return Class::Session;
        }
        let mut parts = token.splitn(3, '.');
        let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
            return Class::Session;
        };
        #[derive(serde::Deserialize)]
        struct Peek {
            #[serde(default)]
            typ: Option<String>,
            #[serde(default)]
            cat: Option<String>,
            #[serde(default)]
            sub: Option<String>,
        }
        let peek = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Peek>(&bytes).ok())
        };
        let Some(h) = peek(header) else {
            return Class::Session;
        };
        if h.typ.as_deref().is_some_and(is_oauth_typ) {
            return Class::Jwt(TokenType::OAuthToken);
        }
        match h.cat.as_deref() {
            Some(category::M2M) => Class::Jwt(TokenType::M2mToken),
            None | Some(category::IGNORE) if m2m => {
                let machine = peek(payload)
                    .and_then(|p| p.sub)
                    .is_some_and(|sub| sub.starts_with("mch_"));
                if machine {
                    Class::Jwt(TokenType::M2mToken)
                } else {
                    Class::Session
                }
            }
            _ => Class::Session,
        }
    }

    fn session(&self, token: &str) -> AuthFuture {
        match self.verifier.verify_now(token) {
            Step::Done(result) => AuthFuture::ready(self.session_outcome(result)),
            Step::NeedsKeys => {
                let token = token.to_owned();
                let this = self.clone();
                AuthFuture::waiting(async move {
                    let result = this.verifier.verify_any_status(&token).await;
                    this.session_outcome(result)
                })
            }
        }
    }

    #[cfg(feature = "machine_auth")]
    fn opaque(&self, token: &str, kind: TokenType) -> AuthFuture {
        let Some(machines) = &self.machines else {
            return AuthFuture::ready(AuthOutcome::Refused(VerifyError::TokenTypeNotAccepted));
        };
        if let Some(result) = machines.cached(&token_key(token)) {
            return AuthFuture::ready(machine_outcome(result));
        }
        let token = token.to_owned();
        let machines = machines.clone();
        AuthFuture::waiting(
            async move { machine_outcome(machines.verify_opaque(&token, kind).await) },
        )
    }

    #[cfg(feature = "machine_auth")]
    fn machine_jwt(&self, token: &str, kind: TokenType) -> AuthFuture {
        if let Some(result) = self.verifier.machine_jwt_now(token, kind) {
            return AuthFuture::ready(machine_outcome(result));
        }
        let token = token.to_owned();
        let verifier = self.verifier.clone();
        AuthFuture::waiting(async move {
            machine_outcome(verifier.verify_machine_jwt(&token, kind).await)
        })
    }

    fn session_outcome(&self, result: Result<Claims, VerifyError>) -> AuthOutcome {
        match result {
            Ok(claims) if claims.is_pending() && !self.verifier.accepts_pending() => {
                AuthOutcome::Pending(PendingSession(claims))
            }
            Ok(claims) => AuthOutcome::Authenticated(Auth::Session(claims)),
            Err(error) => AuthOutcome::Refused(error),
        }
    }
}

#[cfg(feature = "machine_auth")]
fn machine_outcome(result: Result<MachineIdentity, VerifyError>) -> AuthOutcome {
    match result {
        Ok(identity) => AuthOutcome::Authenticated(identity.into()),
        Err(error) => AuthOutcome::Refused(error),
    }
}

/// The future of [`Authenticator::authenticate`]: ready at once when no I/O is needed.
pub struct AuthFuture {
    state: FutureState,
}

// Ready at once on the hot path: boxing the outcome would allocate per request.
#[allow(clippy::large_enum_variant)]
enum FutureState {
    Ready(Option<AuthOutcome>),
    Waiting(Pin<Box<dyn Future<Output = AuthOutcome> + Send>>),
}

impl fmt::Debug for AuthFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            FutureState::Ready(_) => "ready",
            FutureState::Waiting(_) => "waiting",
        };
        f.debug_struct("AuthFuture").field("state", &state).finish()
    }
}

impl AuthFuture {
    fn ready(outcome: AuthOutcome) -> Self {
        AuthFuture {
            state: FutureState::Ready(Some(outcome)),
        }
    }

    fn waiting(future: impl Future<Output = AuthOutcome> + Send + 'static) -> Self {
        AuthFuture {
            state: FutureState::Waiting(Box::pin(future)),
        }
    }

    /// The outcome when it is known without waiting (`Err(self)` when I/O is needed).
    // Matched at once by the caller; boxing either side would allocate per request.
    #[allow(clippy::result_large_err)]
    pub fn now(self) -> Result<AuthOutcome, Self> {
        match self.state {
            FutureState::Ready(Some(outcome)) => Ok(outcome),
            state => Err(AuthFuture { state }),
        }
    }
}

impl Future for AuthFuture {
    type Output = AuthOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AuthOutcome> {
        match &mut self.state {
            FutureState::Ready(outcome) => Poll::Ready(
                outcome
                    .take()
                    // Polled after completion: a refusal, never a panic.
                    .unwrap_or(AuthOutcome::Refused(VerifyError::MissingToken)),
            ),
            FutureState::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn token_places() {
        assert_eq!(session_token(&headers(&[])), None);
        assert_eq!(
            session_token(&headers(&[("authorization", "Bearer a.b.c")])),
            Some("a.b.c")
        );
        assert_eq!(
            session_token(&headers(&[("authorization", "bearer  a.b.c ")])),
            Some("a.b.c")
        );
        assert_eq!(
            session_token(&headers(&[("authorization", "Basic dXNlcjpwdw==")])),
            None
        );
        assert_eq!(
            session_token(&headers(&[("authorization", "Bearer ")])),
            None
        );
        assert_eq!(
            session_token(&headers(&[
                ("authorization", "Basic x"),
                ("cookie", "__session=t.o.k")
            ])),
            Some("t.o.k"),
            "a non-Bearer Authorization falls back to the cookie"
        );
        assert_eq!(
            session_token(&headers(&[
                ("cookie", "a=1"),
                ("cookie", "b=2; __session=x.y.z; c=3")
            ])),
            Some("x.y.z")
        );
        assert_eq!(
            session_token(&headers(&[("cookie", "__session_abc=x.y.z")])),
            None
        );
        assert_eq!(session_token(&headers(&[("cookie", "__session=")])), None);
        assert_eq!(
            session_token(&headers(&[
                ("authorization", "Bearer h.d.r"),
                ("cookie", "__session=c.o.o")
            ])),
            Some("h.d.r"),
            "the header wins"
        );
    }

    #[test]
    fn cookie_values_may_be_quoted() {
        let t = |cookies: &[&'static str]| request_token(None, cookies.iter().copied());
        assert_eq!(t(&["__session=\"a.b.c\""]), Some("a.b.c"));
        assert_eq!(t(&["x=1; __session=\"a.b.c\"; y=2"]), Some("a.b.c"));
        assert_eq!(t(&["__session=\"\""]), None);
        assert_eq!(t(&["__session=\"a.b.c"]), None, "an unclosed quote");
        assert_eq!(t(&["__session=a.b.c"]), Some("a.b.c"));
    }
}
