//! [`Verifier`]: checks a Clerk session token and returns its [`Claims`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

use super::cache::{SessionCache, SessionKey, TokenKey};
use super::claims::numeric_date;
use super::jwks::{JwksSource, KeyCache, Lookup};
use super::keys::{CachedKey, RsaKey};
#[cfg(feature = "machine_auth")]
use super::machine::{jwt_identity, MachineIdentity};
#[cfg(feature = "machine_auth")]
use super::request::TokenType;
use super::Claims;
use crate::{Client, Error};

/// Default allowance for clock skew on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
/// The largest leeway [`VerifierBuilder::build`] accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Default bound on a token's length, in bytes. Clerk's session tokens are 1 to 2 KB; a
/// browser caps a cookie at about 4 KB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Default time a fetched key set is used before it is refreshed (in the background).
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(300);
/// Default minimum time between two fetches of the key set.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Default number of verified session tokens a verifier keeps (see
/// [`VerifierBuilder::session_cache_capacity`]).
pub const DEFAULT_SESSION_CACHE_CAPACITY: usize = 10_000;
/// Default longest time a verified session token is kept in the cache (and its `exp` first).
pub const DEFAULT_SESSION_CACHE_MAX_AGE: Duration = Duration::from_secs(60);

/// The bound on a handshake payload's length, whatever [`VerifierBuilder::max_token_bytes`]
/// says: it carries one or two session tokens among its cookies.
pub const MAX_HANDSHAKE_TOKEN_BYTES: usize = 16 * 1024;
/// The most `Set-Cookie` values a handshake payload may carry.
const MAX_HANDSHAKE_COOKIES: usize = 32;

/// Default bound on one fetch of the key set, whatever the client's own timeouts or the key
/// source: a fetch still running then counts as failed.
pub const DEFAULT_JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest key fetch timeout [`VerifierBuilder::build`] accepts.
pub const MAX_JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Which part of a token could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPart {
    /// Not three base64url parts separated by dots.
    Structure,
    /// The header is not base64url JSON, or has a `crit` member (no extension is supported).
    Header,
    /// The payload is not base64url of a JSON object.
    Payload,
    /// The signature is not base64url, or is empty.
    Signature,
}

/// Why a session token was refused. Says which check failed; never holds the token or a
/// value read from it, so `{}` and `{:?}` are safe to log.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request carries no token (neither `Authorization: Bearer` nor a `__session`
    /// cookie).
    MissingToken,
    /// The token is longer than the configured bound.
    TokenTooLarge {
        /// The bound, in bytes.
        max: usize,
    },
    /// A part of the token could not be decoded.
    Malformed(TokenPart),
    /// The header's `alg` is not `RS256` (`none`, `HS256`, `RS512`, missing...).
    UnsupportedAlgorithm,
    /// The header has no `kid`, and the keys come from a key set.
    MissingKeyId,
    /// No key of the instance's key set has this `kid` (after the refresh it may trigger).
    UnknownKeyId,
    /// The key the `kid` names is not an RS256 key (its `kty` or `alg` says otherwise).
    KeyMismatch,
    /// The signature does not verify with the key.
    InvalidSignature,
    /// A required claim is absent (`sub`, `exp`).
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    InvalidClaim(&'static str),
    /// `exp` is past, beyond the leeway.
    Expired,
    /// `nbf` is ahead, beyond the leeway.
    NotYetValid,
    /// `iat` is ahead, beyond the leeway.
    IssuedInFuture,
    /// `azp` is not one of the authorized parties.
    UnauthorizedParty,
    /// Authorized parties are configured and the token has no (or an empty) `azp`.
    MissingAuthorizedParty,
    /// `iss` is not one of the configured issuers.
    InvalidIssuer,
    /// The key set could not be fetched: not the token's fault (a server answers 503).
    KeysUnavailable(Error),
    /// The header's `cat` says this is a JWT template token (`cl_B7d4PD222AAA`): a token the
    /// browser can fetch for a third-party integration, never a session.
    JwtTemplateToken,
    /// The header's `cat` says this is a machine-to-machine token (`cl_B7d4PD333AAA`).
    M2mToken,
    /// The header's `cat` is none of Clerk's known categories.
    UnknownTokenCategory,
    /// The header's `typ` is `at+jwt` (or `application/at+jwt`): an OAuth access token
    /// (RFC 9068), not a session.
    OAuthAccessToken,
    /// The subject is not a user (`user_...`): a machine (`mch_...`), an organization, ...
    NotAUser,
    /// The token has no session id (`sid`): every session token has one.
    MissingSessionId,
    /// `aud` names none of the configured audiences (or is absent).
    InvalidAudience,
    /// The session is pending (`sts: "pending"`: the user still has a session task, such as
    /// choosing an organization). Signed out unless the verifier accepts pending sessions
    /// ([`VerifierBuilder::accept_pending_sessions`]).
    SessionPending,
    /// The token is of a class the route does not accept (an API key where only sessions are
    /// accepted, ...): refused without any call to Clerk.
    TokenTypeNotAccepted,
    /// The caller is authenticated, but as another class than this handler takes (a session
    /// where an API key is needed, ...): 403.
    WrongTokenType,
    /// Clerk does not know this machine token (its verify operation answered 404, 400 or 422).
    MachineTokenInvalid,
    /// Clerk says this machine token was revoked.
    MachineTokenRevoked,
    /// A JWT-format M2M token whose subject is not a machine (`mch_...`).
    NotAMachine,
    /// Clerk could not be asked about a machine token (an outage, a timeout, the secret key
    /// refused): not the token's fault (a server answers 503).
    MachineVerifyUnavailable(Error),
    /// Verifying this machine token would need a call to Clerk past the configured limit of
    /// calls per second (a server answers 503 with `Retry-After`).
    MachineVerifyLimited,
    /// The browser's session cookies are in a state only a handshake with Clerk's Frontend
    /// API resolves (see [`HandshakeReason`](super::HandshakeReason)), and this request cannot
    /// take one: it is not a page load (an API call, `fetch`, a form `POST`).
    HandshakeRequired(super::HandshakeReason),
    /// The browser came back from the handshake redirect three times in a row without a
    /// usable session: signed out rather than redirected again (Clerk's loop protection).
    HandshakeRedirectLoop(super::HandshakeReason),
    /// The handshake payload (`__clerk_handshake`) failed a check: the inner error says which
    /// (its signature, its algorithm, its shape). On a development instance this signs the
    /// request out; on a production one the request goes on with its own cookies.
    InvalidHandshake(Box<VerifyError>),
}

impl VerifyError {
    /// A stable, short code for the failed check, e.g. `"token_expired"`: what the server
    /// layer puts in its JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingToken => "missing_token",
            VerifyError::TokenTooLarge { .. } => "token_too_large",
            VerifyError::Malformed(_) => "token_malformed",
            VerifyError::UnsupportedAlgorithm => "unsupported_algorithm",
            VerifyError::MissingKeyId => "missing_kid",
            VerifyError::UnknownKeyId => "unknown_kid",
            VerifyError::KeyMismatch => "key_mismatch",
            VerifyError::InvalidSignature => "invalid_signature",
            VerifyError::MissingClaim(_) => "missing_claim",
            VerifyError::InvalidClaim(_) => "invalid_claim",
            VerifyError::Expired => "token_expired",
            VerifyError::NotYetValid => "token_not_yet_valid",
            VerifyError::IssuedInFuture => "token_issued_in_future",
            VerifyError::UnauthorizedParty => "unauthorized_party",
            VerifyError::MissingAuthorizedParty => "missing_authorized_party",
            VerifyError::InvalidIssuer => "invalid_issuer",
            VerifyError::KeysUnavailable(_) => "keys_unavailable",
            VerifyError::JwtTemplateToken => "jwt_template_token",
            VerifyError::M2mToken => "m2m_token",
            VerifyError::UnknownTokenCategory => "unknown_token_category",
            VerifyError::OAuthAccessToken => "oauth_access_token",
            VerifyError::NotAUser => "not_a_user",
            VerifyError::MissingSessionId => "missing_sid",
            VerifyError::SessionPending => "session_pending",
            VerifyError::InvalidAudience => "invalid_audience",
            VerifyError::TokenTypeNotAccepted => "token_type_not_accepted",
            VerifyError::WrongTokenType => "wrong_token_type",
            VerifyError::MachineTokenInvalid => "machine_token_invalid",
            VerifyError::MachineTokenRevoked => "machine_token_revoked",
            VerifyError::NotAMachine => "not_a_machine",
            VerifyError::MachineVerifyUnavailable(_) => "machine_verify_unavailable",
            VerifyError::MachineVerifyLimited => "machine_verify_rate_limited",
            VerifyError::HandshakeRequired(_) => "handshake_required",
            VerifyError::HandshakeRedirectLoop(_) => "handshake_redirect_loop",
            VerifyError::InvalidHandshake(_) => "invalid_handshake",
        }
    }

    /// The status a server answers with: 503 when the keys could not be fetched or Clerk
    /// could not be asked (not the token's fault), 403 for a caller of the wrong class, 401
    /// for everything else.
    pub fn status(&self) -> http::StatusCode {
        match self {
            VerifyError::KeysUnavailable(_)
            | VerifyError::MachineVerifyUnavailable(_)
            | VerifyError::MachineVerifyLimited => http::StatusCode::SERVICE_UNAVAILABLE,
            VerifyError::WrongTokenType => http::StatusCode::FORBIDDEN,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingToken => f.write_str("no session token in the request"),
            VerifyError::TokenTooLarge { max } => {
                write!(f, "the session token is longer than {max} bytes")
            }
            VerifyError::Malformed(part) => {
                let part = match part {
                    TokenPart::Structure => "structure",
                    TokenPart::Header => "header",
                    TokenPart::Payload => "payload",
                    TokenPart::Signature => "signature",
                };
                write!(f, "the session token's {part} is malformed")
            }
            VerifyError::UnsupportedAlgorithm => {
                f.write_str("the session token is not signed with RS256")
            }
            VerifyError::MissingKeyId => f.write_str("the session token names no key (kid)"),
            VerifyError::UnknownKeyId => {
                f.write_str("the session token's key (kid) is not one of the instance's keys")
            }
            VerifyError::KeyMismatch => {
                f.write_str("the session token's key (kid) is not an RS256 key")
            }
            VerifyError::InvalidSignature => {
                f.write_str("the session token's signature is invalid")
            }
            VerifyError::MissingClaim(name) => {
                write!(f, "the session token has no `{name}` claim")
            }
            VerifyError::InvalidClaim(name) => {
                write!(f, "the session token's `{name}` claim has the wrong type")
            }
            VerifyError::Expired => f.write_str("the session token has expired"),
            VerifyError::NotYetValid => f.write_str("the session token is not valid yet (nbf)"),
            VerifyError::IssuedInFuture => {
                f.write_str("the session token was issued in the future (iat)")
            }
            VerifyError::UnauthorizedParty => {
                f.write_str("the session token's authorized party (azp) is not allowed")
            }
            VerifyError::MissingAuthorizedParty => {
                f.write_str("the session token has no authorized party (azp)")
            }
            VerifyError::InvalidIssuer => {
                f.write_str("the session token's issuer (iss) is not the expected one")
            }
            VerifyError::KeysUnavailable(e) => {
                write!(f, "the instance's signing keys could not be fetched: {e}")
            }
            VerifyError::JwtTemplateToken => {
                f.write_str("the token is a JWT template token, not a session token")
            }
            VerifyError::M2mToken => {
                f.write_str("the token is a machine-to-machine token, not a session token")
            }
            VerifyError::UnknownTokenCategory => {
                f.write_str("the token's category (cat) is not a session token's")
            }
            VerifyError::OAuthAccessToken => {
                f.write_str("the token is an OAuth access token (typ at+jwt), not a session token")
            }
            VerifyError::NotAUser => f.write_str("the token's subject (sub) is not a user"),
            VerifyError::MissingSessionId => {
                f.write_str("the token has no session id (sid): not a session token")
            }
            VerifyError::SessionPending => {
                f.write_str("the session is pending (it has a task to complete)")
            }
            VerifyError::InvalidAudience => {
                f.write_str("the token's audience (aud) is not one of the expected ones")
            }
            VerifyError::TokenTypeNotAccepted => {
                f.write_str("this kind of token is not accepted here")
            }
            VerifyError::WrongTokenType => {
                f.write_str("the caller is authenticated, but not as the kind this route needs")
            }
            VerifyError::MachineTokenInvalid => {
                f.write_str("the machine token is not valid (Clerk does not know it)")
            }
            VerifyError::MachineTokenRevoked => f.write_str("the machine token was revoked"),
            VerifyError::NotAMachine => {
                f.write_str("the M2M token's subject (sub) is not a machine")
            }
            VerifyError::MachineVerifyUnavailable(e) => {
                write!(f, "Clerk could not be asked about the machine token: {e}")
            }
            VerifyError::MachineVerifyLimited => f.write_str(
                "too many machine tokens to verify with Clerk right now: try again shortly",
            ),
            VerifyError::HandshakeRequired(reason) => write!(
                f,
                "the session cookies need a handshake with Clerk ({reason}), which only a page \
                 load can do"
            ),
            VerifyError::HandshakeRedirectLoop(reason) => write!(
                f,
                "the handshake with Clerk did not resolve the session cookies ({reason}) after \
                 3 redirects: check that the publishable and secret keys are of one instance"
            ),
            VerifyError::InvalidHandshake(inner) => {
                write!(f, "the handshake payload was refused: {inner}")
            }
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::KeysUnavailable(e) | VerifyError::MachineVerifyUnavailable(e) => Some(e),
            VerifyError::InvalidHandshake(inner) => Some(&**inner),
            _ => None,
        }
    }
}

/// Checks Clerk session tokens: RS256 signature with the instance's key, `exp`/`nbf`/`iat`
/// with a leeway, `azp` against the authorized parties, `iss` if configured, and a bound on
/// the token's size.
///
/// Cheap to clone (one `Arc`); clones share one key cache. Build one per Clerk instance:
/// two verifiers never share keys.
///
/// ```no_run
/// use clerk_tower::auth::Verifier;
///
/// # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// // Keys fetched with the client (GET /jwks: retries, timeouts), cached for this instance.
/// let client = clerk_tower::Client::from_env()?;
/// let verifier = Verifier::builder()
///     .client(client)
///     .authorized_parties(["https://app.example.com"])
///     .build()?;
/// let claims = verifier.verify(token).await?;
/// println!("signed in as {}", claims.sub);
///
/// // Networkless: the PEM public key from the dashboard, no fetch at all.
/// let networkless = Verifier::builder()
///     .jwt_key(std::env::var("CLERK_JWT_KEY")?)
///     .authorized_parties(["https://app.example.com"])
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Keys,
    leeway: i64,
    parties: Box<[Box<str>]>,
    allow_missing_azp: bool,
    issuers: Box<[Box<str>]>,
    audiences: Box<[Box<str>]>,
    max_token_bytes: usize,
    accept_pending: bool,
    session_cache: Option<SessionCache>,
}

enum Keys {
    Static(Arc<CachedKey>),
    Cache(Arc<KeyCache>),
}

/// The verified-token cache's answer.
// Matched at once on the hot path: boxing the claims would allocate per request.
#[allow(clippy::large_enum_variant)]
enum Cached {
    Hit(Result<Claims, VerifyError>),
    /// Verify in full; the cache key (when there is a cache) and the time read.
    Miss(Option<TokenKey>, i64),
}

/// What [`Verifier::verify_now`] could do without I/O.
// Returned once per request and matched at once; boxing the claims would allocate on the
// hot path for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step {
    Done(Result<Claims, VerifyError>),
    NeedsKeys,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    cat: Option<String>,
}

/// The `cat` (category) values of the protected header with which Clerk tells apart the
/// classes of JWT it signs with one instance key (the same values as Clerk's Go and
/// JavaScript SDKs).
pub(crate) mod category {
    /// A session token (and a handshake token).
    pub(crate) const SESSION: &str = "cl_B7d4PD111AAA";
    /// A JWT template token.
    pub(crate) const JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
    /// A JWT-format machine-to-machine token.
    pub(crate) const M2M: &str = "cl_B7d4PD333AAA";
    /// Stamped on every class by instances that ignore categories: says nothing of the class.
    pub(crate) const IGNORE: &str = "cl_I7d4PD111III";
}

/// Whether a header's `typ` names an OAuth 2.0 access token in JWT form (RFC 9068 §2.1:
/// `at+jwt`, or the full media type `application/at+jwt`; media types compare without case).
pub(crate) fn is_oauth_typ(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// The class checks of the header, before any key is looked at: a token the header already
/// says is not a session costs no fetch and no RSA operation.
fn check_session_header(parsed: &Parsed<'_>) -> Result<(), VerifyError> {
    if parsed.typ.as_deref().is_some_and(is_oauth_typ) {
        return Err(VerifyError::OAuthAccessToken);
    }
    match parsed.cat.as_deref() {
        None | Some(category::SESSION | category::IGNORE) => Ok(()),
        Some(category::JWT_TEMPLATE) => Err(VerifyError::JwtTemplateToken),
        Some(category::M2M) => Err(VerifyError::M2mToken),
        Some(_) => Err(VerifyError::UnknownTokenCategory),
    }
}

/// A token split into its parts, with its header checked.
struct Parsed<'a> {
    kid: Option<String>,
    typ: Option<String>,
    cat: Option<String>,
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Parsed<'a> {
    fn new(token: &'a str, max: usize) -> Result<Self, VerifyError> {
        if token.len() > max {
            return Err(VerifyError::TokenTooLarge { max });
        }
        let malformed = VerifyError::Malformed(TokenPart::Structure);
        let (signing_input, signature) = token.rsplit_once('.').ok_or(malformed.clone())?;
        let (header, payload) = signing_input.split_once('.').ok_or(malformed.clone())?;
        if header.is_empty() || payload.is_empty() || payload.contains('.') {
            return Err(malformed);
        }
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| {
                let text = std::str::from_utf8(&bytes).ok()?;
                serde_json::from_str::<Header>(text).ok()
            })
            .ok_or(VerifyError::Malformed(TokenPart::Header))?;
        // Exactly "RS256": `none`, `HS256` (the public key used as an HMAC secret), any other
        // algorithm, and a missing `alg` are all refused before any key is looked at.
        if header.alg.as_deref() != Some("RS256") {
            return Err(VerifyError::UnsupportedAlgorithm);
        }
        if header.crit.is_some() {
            return Err(VerifyError::Malformed(TokenPart::Header));
        }
        if signature.is_empty() {
            return Err(VerifyError::Malformed(TokenPart::Signature));
        }
        Ok(Parsed {
            kid: header.kid,
            typ: header.typ,
            cat: header.cat,
            signing_input,
            payload,
            signature,
        })
    }
}

impl Verifier {
    /// A builder: give it a key source ([`client`](VerifierBuilder::client),
    /// [`jwt_key`](VerifierBuilder::jwt_key) or [`jwks_source`](VerifierBuilder::jwks_source))
    /// and the checks to make.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::new()
    }

    /// A verifier configured from the environment: networkless with `CLERK_JWT_KEY` when it
    /// is set, otherwise fetching keys with [`Client::from_env`] (`CLERK_SECRET_KEY`,
    /// `CLERK_API_URL`). No authorized parties: prefer the builder to set them.
    ///
    /// # Errors
    /// [`Error::Config`] when neither variable is set or a value is invalid.
    pub fn from_env() -> Result<Self, Error> {
        VerifierBuilder::new().load_env().build()
    }

    /// Verifies `token` and returns its claims. May wait for the key set to be fetched (the
    /// first time, or for a `kid` the cache does not know).
    ///
    /// # Errors
    /// The [`VerifyError`] of the first check that failed.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let claims = self.verify_any_status(token).await?;
        self.check_status(claims)
    }

    /// Refuses a pending session unless the verifier accepts them.
    pub(crate) fn check_status(&self, claims: Claims) -> Result<Claims, VerifyError> {
        if claims.is_pending() && !self.inner.accept_pending {
            return Err(VerifyError::SessionPending);
        }
        Ok(claims)
    }

    /// Whether pending sessions are accepted as signed in.
    pub(crate) fn accepts_pending(&self) -> bool {
        self.inner.accept_pending
    }

    /// [`verify`](Self::verify) without the session status check: the claims of a pending
    /// session are returned too.
    pub(crate) async fn verify_any_status(&self, token: &str) -> Result<Claims, VerifyError> {
        let cache_key = match self.cached(token) {
            Cached::Hit(result) => return result,
            Cached::Miss(key, _) => key,
        };
        let parsed = Parsed::new(token, self.inner.max_token_bytes)?;
        check_session_header(&parsed)?;
        let key = self.resolve_key(&parsed).await?;
        // The clock is read after the key fetch, which may have taken a while.
        self.finish(&parsed, &key, unix_now(), cache_key)
    }

    /// Verifies a JWT-format machine token (M2M or OAuth) with the instance's keys, without
    /// I/O: `None` when the key must be fetched.
    #[cfg(feature = "machine_auth")]
    pub(crate) fn machine_jwt_now(
        &self,
        token: &str,
        kind: TokenType,
    ) -> Option<Result<MachineIdentity, VerifyError>> {
        let parsed = match self.parse_machine(token, kind) {
            Ok(parsed) => parsed,
            Err(e) => return Some(Err(e)),
        };
        match self.key_now(&parsed) {
            Ok(Some(key)) => Some(self.finish_machine(&parsed, &key, kind)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// [`machine_jwt_now`](Self::machine_jwt_now), fetching the key set when needed.
    #[cfg(feature = "machine_auth")]
    pub(crate) async fn verify_machine_jwt(
        &self,
        token: &str,
        kind: TokenType,
    ) -> Result<MachineIdentity, VerifyError> {
        let parsed = self.parse_machine(token, kind)?;
        let key = self.resolve_key(&parsed).await?;
        self.finish_machine(&parsed, &key, kind)
    }

    /// Verifies a handshake payload (`__clerk_handshake`): a JWT signed with the instance's
    /// key, RS256, `typ` absent or `JWT`, a session-class `cat` (absent, session or
    /// "ignore"), at most [`MAX_HANDSHAKE_TOKEN_BYTES`] long, `exp` / `nbf` / `iat` (when
    /// present) within the leeway, and a `handshake` claim listing the `Set-Cookie` values.
    pub(crate) async fn verify_handshake(&self, token: &str) -> Result<Vec<String>, VerifyError> {
        let parsed = Parsed::new(token, MAX_HANDSHAKE_TOKEN_BYTES)?;
        if parsed.typ.as_deref().is_some_and(|typ| typ != "JWT") {
            return Err(VerifyError::Malformed(TokenPart::Header));
        }
        check_session_header(&parsed)?;
        let key = self.resolve_key(&parsed).await?;
        let payload = Self::signed_payload(&parsed, &key)?;
        let mut claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&payload)
                .map_err(|_| VerifyError::Malformed(TokenPart::Payload))?;
        let now = unix_now();
        let leeway = self.inner.leeway;
        if numeric_date(claims.remove("exp"), "exp")?
            .is_some_and(|exp| now >= exp.saturating_add(leeway))
        {
            return Err(VerifyError::Expired);
        }
        if numeric_date(claims.remove("nbf"), "nbf")?
            .is_some_and(|nbf| now < nbf.saturating_sub(leeway))
        {
            return Err(VerifyError::NotYetValid);
        }
        if numeric_date(claims.remove("iat"), "iat")?
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(VerifyError::IssuedInFuture);
        }
        let Some(serde_json::Value::Array(items)) = claims.remove("handshake") else {
            return Err(VerifyError::MissingClaim("handshake"));
        };
        if items.len() > MAX_HANDSHAKE_COOKIES {
            return Err(VerifyError::InvalidClaim("handshake"));
        }
        items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(VerifyError::InvalidClaim("handshake")),
            })
            .collect()
    }

    /// The header checks of a machine JWT: an M2M token's `cat` is absent or the M2M
    /// category (as Clerk's JavaScript SDK checks it); an OAuth token's `typ` is `at+jwt`.
    #[cfg(feature = "machine_auth")]
    fn parse_machine<'t>(
        &self,
        token: &'t str,
        kind: TokenType,
    ) -> Result<Parsed<'t>, VerifyError> {
        let parsed = Parsed::new(token, self.inner.max_token_bytes)?;
        match kind {
            TokenType::M2mToken => match parsed.cat.as_deref() {
                None | Some(category::M2M) => {}
                Some(category::JWT_TEMPLATE) => return Err(VerifyError::JwtTemplateToken),
                Some(_) => return Err(VerifyError::UnknownTokenCategory),
            },
            TokenType::OAuthToken if parsed.typ.as_deref().is_some_and(is_oauth_typ) => {}
            _ => return Err(VerifyError::TokenTypeNotAccepted),
        }
        Ok(parsed)
    }

    /// The signature, times (`exp` required, `nbf`, `iat`, with the leeway) and issuer of a
    /// machine JWT, then its identity.
    #[cfg(feature = "machine_auth")]
    fn finish_machine(
        &self,
        parsed: &Parsed<'_>,
        key: &CachedKey,
        kind: TokenType,
    ) -> Result<MachineIdentity, VerifyError> {
        let payload = Self::signed_payload(parsed, key)?;
        let mut claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&payload)
                .map_err(|_| VerifyError::Malformed(TokenPart::Payload))?;
        let now = unix_now();
        let leeway = self.inner.leeway;
        let exp =
            numeric_date(claims.remove("exp"), "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if numeric_date(claims.remove("nbf"), "nbf")?
            .is_some_and(|nbf| now < nbf.saturating_sub(leeway))
        {
            return Err(VerifyError::NotYetValid);
        }
        if numeric_date(claims.remove("iat"), "iat")?
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(VerifyError::IssuedInFuture);
        }
        self.check_issuer(claims.get("iss").and_then(serde_json::Value::as_str))?;
        self.check_audience(claims.get("aud"))?;
        jwt_identity(kind, claims)
    }

    /// The verified-token cache's answer for `token` (see [`super::cache`]).
    fn cached(&self, token: &str) -> Cached {
        let now = unix_now();
        let Some(cache) = &self.inner.session_cache else {
            return Cached::Miss(None, now);
        };
        if token.len() > self.inner.max_token_bytes {
            return Cached::Hit(Err(VerifyError::TokenTooLarge {
                max: self.inner.max_token_bytes,
            }));
        }
        let key = SessionKey::of(token);
        match cache.get(&key, now, self.inner.leeway) {
            Some(result) => Cached::Hit(result),
            None => Cached::Miss(Some(key.digest), now),
        }
    }

    /// Verifies without any I/O when the token is cached, or its key is cached and fresh.
    pub(crate) fn verify_now(&self, token: &str) -> Step {
        let (cache_key, now) = match self.cached(token) {
            Cached::Hit(result) => return Step::Done(result),
            Cached::Miss(key, now) => (key, now),
        };
        let parsed = match Parsed::new(token, self.inner.max_token_bytes)
            .and_then(|parsed| check_session_header(&parsed).map(|()| parsed))
        {
            Ok(parsed) => parsed,
            Err(e) => return Step::Done(Err(e)),
        };
        let key = match self.key_now(&parsed) {
            Ok(Some(key)) => key,
            Ok(None) => return Step::NeedsKeys,
            Err(e) => return Step::Done(Err(e)),
        };
        Step::Done(self.finish(&parsed, &key, now, cache_key))
    }

    /// The key of a parsed token, fetching the key set when needed.
    async fn resolve_key(&self, parsed: &Parsed<'_>) -> Result<Arc<CachedKey>, VerifyError> {
        match &self.inner.keys {
            Keys::Static(key) => Ok(Arc::clone(key)),
            Keys::Cache(cache) => {
                let kid = parsed.kid.as_deref().ok_or(VerifyError::MissingKeyId)?;
                cache.resolve(kid).await
            }
        }
    }

    /// The key of a parsed token without I/O: `None` when it must be fetched (or refreshed).
    fn key_now(&self, parsed: &Parsed<'_>) -> Result<Option<Arc<CachedKey>>, VerifyError> {
        match &self.inner.keys {
            Keys::Static(key) => Ok(Some(Arc::clone(key))),
            Keys::Cache(cache) => {
                let kid = parsed.kid.as_deref().ok_or(VerifyError::MissingKeyId)?;
                Ok(match cache.lookup(kid) {
                    Lookup::Fresh(key) => Some(key),
                    Lookup::Stale(_) | Lookup::Missing(_) => None,
                })
            }
        }
    }

    /// The payload of a token whose signature checked, decoded from base64url.
    fn signed_payload(parsed: &Parsed<'_>, key: &CachedKey) -> Result<Vec<u8>, VerifyError> {
        let key = key.key.as_ref().ok_or(VerifyError::KeyMismatch)?;
        let signature = URL_SAFE_NO_PAD
            .decode(parsed.signature)
            .map_err(|_| VerifyError::Malformed(TokenPart::Signature))?;
        if !key.verify(parsed.signing_input.as_bytes(), &signature) {
            return Err(VerifyError::InvalidSignature);
        }
        URL_SAFE_NO_PAD
            .decode(parsed.payload)
            .map_err(|_| VerifyError::Malformed(TokenPart::Payload))
    }

    fn finish(
        &self,
        parsed: &Parsed<'_>,
        key: &CachedKey,
        now: i64,
        cache_key: Option<TokenKey>,
    ) -> Result<Claims, VerifyError> {
        let payload = Self::signed_payload(parsed, key)?;
        let claims = Claims::from_payload(&payload)?;
        self.check_claims(&claims, now)?;
        if let (Some(cache), Some(digest)) = (&self.inner.session_cache, cache_key) {
            let key = SessionKey {
                digest,
                signing_input: parsed.signing_input,
            };
            cache.insert(&key, &claims, now, self.inner.leeway);
        }
        Ok(claims)
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), VerifyError> {
        // The class checks of the claims: a session's subject is a user, and it has a session.
        if !claims.sub.starts_with("user_") {
            return Err(VerifyError::NotAUser);
        }
        if claims.sid.as_deref().is_none_or(str::is_empty) {
            return Err(VerifyError::MissingSessionId);
        }
        let leeway = self.inner.leeway;
        if now >= claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now < nbf.saturating_sub(leeway))
        {
            return Err(VerifyError::NotYetValid);
        }
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(VerifyError::IssuedInFuture);
        }
        if !self.inner.parties.is_empty() {
            match claims.azp.as_deref().filter(|azp| !azp.is_empty()) {
                Some(azp) => {
                    if !self.inner.parties.iter().any(|p| &**p == azp) {
                        return Err(VerifyError::UnauthorizedParty);
                    }
                }
                None if self.inner.allow_missing_azp => {}
                None => return Err(VerifyError::MissingAuthorizedParty),
            }
        }
        self.check_issuer(claims.iss.as_deref())?;
        self.check_audience(claims.extra.get("aud"))?;
        Ok(())
    }

    /// `iss` is one of the configured issuers, when there are any.
    fn check_issuer(&self, iss: Option<&str>) -> Result<(), VerifyError> {
        let issuers = &self.inner.issuers;
        if issuers.is_empty() || iss.is_some_and(|iss| issuers.iter().any(|i| &**i == iss)) {
            Ok(())
        } else {
            Err(VerifyError::InvalidIssuer)
        }
    }

    /// `aud` (a string or an array of strings, RFC 7519 §4.1.3) names one of the configured
    /// audiences, when there are any.
    fn check_audience(&self, aud: Option<&serde_json::Value>) -> Result<(), VerifyError> {
        let audiences = &self.inner.audiences;
        if audiences.is_empty() {
            return Ok(());
        }
        let known = |a: &serde_json::Value| {
            a.as_str()
                .is_some_and(|a| audiences.iter().any(|want| &**want == a))
        };
        let ok = match aud {
            Some(serde_json::Value::Array(items)) => items.iter().any(known),
            Some(one) => known(one),
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(VerifyError::InvalidAudience)
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match self.inner.keys {
            Keys::Static(_) => "networkless (PEM key)",
            Keys::Cache(_) => "JWKS (cached for this instance)",
        };
        f.debug_struct("Verifier")
            .field("keys", &keys)
            .field("leeway_secs", &self.inner.leeway)
            .field("authorized_parties", &self.inner.parties)
            .field("allow_missing_azp", &self.inner.allow_missing_azp)
            .field("issuers", &self.inner.issuers)
            .field("audiences", &self.inner.audiences)
            .field("max_token_bytes", &self.inner.max_token_bytes)
            .field("accept_pending_sessions", &self.inner.accept_pending)
            .field("session_cache", &self.inner.session_cache.is_some())
            .finish()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Builds a [`Verifier`]; [`build`](VerifierBuilder::build) checks every setting.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::auth::Verifier;
///
/// let client = clerk_tower::Client::builder().secret_key("sk_test_example").build()?;
/// let verifier = Verifier::builder()
///     .client(client)
///     .authorized_parties(["https://app.example.com", "http://localhost:3000"])
///     .issuer("https://clerk.example.com")
///     .leeway(Duration::from_secs(10))
///     .jwks_ttl(Duration::from_secs(600))
///     .build()?;
///
/// // A bad setting is an `Error::Config`, never a panic:
/// let err = Verifier::builder()
///     .jwt_key("not a key")
///     .authorized_parties(["https://app.example.com/"])
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, clerk_tower::Error::Config(_)));
/// # Ok::<(), clerk_tower::Error>(())
/// ```
pub struct VerifierBuilder {
    source: Option<Box<dyn JwksSource>>,
    jwt_key: Option<String>,
    leeway: Duration,
    parties: Vec<String>,
    allow_missing_azp: bool,
    issuers: Vec<String>,
    audiences: Vec<String>,
    max_token_bytes: usize,
    jwks_ttl: Duration,
    min_refresh_interval: Duration,
    fetch_timeout: Duration,
    accept_pending: bool,
    cache_capacity: usize,
    cache_max_age: Duration,
    env_error: Option<Error>,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("jwks_source", &self.source.is_some())
            .field("jwt_key", &self.jwt_key.is_some())
            .field("leeway", &self.leeway)
            .field("authorized_parties", &self.parties)
            .field("allow_missing_azp", &self.allow_missing_azp)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("max_token_bytes", &self.max_token_bytes)
            .field("jwks_ttl", &self.jwks_ttl)
            .field("min_refresh_interval", &self.min_refresh_interval)
            .field("jwks_fetch_timeout", &self.fetch_timeout)
            .field("accept_pending_sessions", &self.accept_pending)
            .field("session_cache_capacity", &self.cache_capacity)
            .field("session_cache_max_age", &self.cache_max_age)
            .finish_non_exhaustive()
    }
}

impl VerifierBuilder {
    /// A builder with the defaults: 5 s leeway, no authorized parties, no issuer check,
    /// 8 KiB token bound, 5 min key set TTL, 10 s minimum between fetches.
    pub fn new() -> Self {
        VerifierBuilder {
            source: None,
            jwt_key: None,
            leeway: DEFAULT_LEEWAY,
            parties: Vec::new(),
            allow_missing_azp: false,
            issuers: Vec::new(),
            audiences: Vec::new(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            jwks_ttl: DEFAULT_JWKS_TTL,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            fetch_timeout: DEFAULT_JWKS_FETCH_TIMEOUT,
            accept_pending: false,
            cache_capacity: DEFAULT_SESSION_CACHE_CAPACITY,
            cache_max_age: DEFAULT_SESSION_CACHE_MAX_AGE,
            env_error: None,
        }
    }

    /// Fetch the key set with this client (`GET /jwks` through its whole stack). The cache
    /// belongs to the verifier: build one verifier per Clerk instance.
    pub fn client(mut self, client: Client) -> Self {
        self.source = Some(Box::new(client));
        self
    }

    /// Fetch the key set from any [`JwksSource`] (a closure returning a future of
    /// `Result<Jwks, Error>` is one).
    pub fn jwks_source(mut self, source: impl JwksSource) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Networkless mode: verify with this PEM public key (the dashboard's "JWT public key",
    /// `CLERK_JWT_KEY`), whatever the token's `kid`; no fetch ever happens.
    pub fn jwt_key(mut self, pem: impl Into<String>) -> Self {
        self.jwt_key = Some(pem.into());
        self
    }

    /// Reads `CLERK_JWT_KEY` (networkless) or, when it is not set, builds a client from
    /// `CLERK_SECRET_KEY` and `CLERK_API_URL`.
    pub fn load_env(mut self) -> Self {
        match std::env::var("CLERK_JWT_KEY") {
            Ok(pem) if !pem.trim().is_empty() => self.jwt_key = Some(pem),
            _ => match Client::from_env() {
                Ok(client) => self.source = Some(Box::new(client)),
                Err(e) => self.env_error = Some(e),
            },
        }
        self
    }

    /// Allowance for clock skew on `exp`, `nbf` and `iat` (default 5 s, at most 5 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The origins allowed in `azp`, exactly as a browser sends them in `Origin`
    /// (`https://app.example.com`, `http://localhost:3000`: scheme, host, port, no path, no
    /// trailing slash). Adds to the ones given before.
    ///
    /// With at least one party, a token whose `azp` is another origin is refused, and so is a
    /// token with no `azp` (see [`allow_missing_azp`](Self::allow_missing_azp)). With none,
    /// `azp` is not checked.
    pub fn authorized_parties<I, P>(mut self, parties: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.parties.extend(parties.into_iter().map(Into::into));
        self
    }

    /// Accept tokens that have no `azp` even though authorized parties are configured
    /// (default: refuse them, as Clerk's JavaScript SDK does since `@clerk/backend` 3.11.1).
    ///
    /// Clerk mints some legitimate tokens without `azp`: a cookie token minted during a
    /// top-level navigation (no `Origin` header), and tokens created with the Backend API's
    /// `POST /sessions/{id}/tokens`. Turn this on only if such tokens reach you; a token
    /// that *has* an `azp` must still match.
    pub fn allow_missing_azp(mut self, allow: bool) -> Self {
        self.allow_missing_azp = allow;
        self
    }

    /// Accept tokens whose `iss` is exactly this (the instance's Frontend API URL, e.g.
    /// `https://clerk.example.com`). Call it once per accepted issuer: the primary domain, a
    /// satellite domain, a proxy URL (`https://example.com/__clerk`). With at least one, a
    /// token whose `iss` is none of them (or absent) is refused; not checked by default.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Require `aud` to name this audience (a string, or an array holding it); call it once
    /// per accepted audience. Clerk's session tokens have no `aud` unless your session token
    /// template adds one: with at least one audience configured, a token without `aud` is
    /// refused (`invalid_audience`). Not checked by default.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The longest token accepted, in bytes (default 8 KiB; 512 to 65 536).
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// How long a fetched key set is used before it is refreshed (default 5 min). The
    /// refresh happens in the background: tokens keep being verified with the keys known.
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// The minimum time between two fetches of the key set (default 10 s, at most the TTL).
    /// A token with an unknown `kid` waits for a fetch only when the last one is older.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// The bound on one fetch of the key set (default 10 s, at most 2 min), on top of the
    /// client's own timeouts and whatever the key source: a fetch that has not completed then
    /// counts as failed (`keys_unavailable` for the tokens waiting on it, 503 in the layer),
    /// and the next fetch may start after the minimum interval. Applied on a Tokio runtime
    /// (where refreshes run on their own task).
    pub fn jwks_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// How many verified session tokens the verifier keeps (default 10 000; 0: no cache).
    ///
    /// A repeated token (a session token is sent with every request of its minute) is then
    /// checked without RSA: a digest of the token, a lookup, and its `exp`/`nbf` again. The
    /// cache is this verifier's own (its clones share it). The trade-off: a token verified
    /// with a key the instance has since removed is accepted until its entry ends (its `exp`,
    /// at most the [maximum age](Self::session_cache_max_age)). Each entry holds the claims
    /// and the token's header and payload (about 2 KB for a typical token), never its
    /// signature: no usable token.
    pub fn session_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// The longest time a verified token is kept (default 60 s, the life of a Clerk session
    /// token; at most 1 hour, not zero). Its `exp` ends it first.
    pub fn session_cache_max_age(mut self, max_age: Duration) -> Self {
        self.cache_max_age = max_age;
        self
    }

    /// Accept pending sessions (`sts: "pending"`) as signed in (default: no).
    ///
    /// A session is pending while its user still has a task to complete (choose an
    /// organization, accept new terms...). Clerk's SDKs treat it as signed out unless the app
    /// handles session tasks; so does this crate: [`Verifier::verify`] refuses it with
    /// [`VerifyError::SessionPending`], a required [`SessionLayer`](super::SessionLayer)
    /// answers 401 with reason `session_pending`, and an optional one puts a
    /// [`PendingSession`](super::PendingSession) in the request instead of the
    /// [`Claims`]. Turn this on only if your app sends such users to their task; then
    /// [`Claims::is_pending`] tells them apart.
    pub fn accept_pending_sessions(mut self, accept: bool) -> Self {
        self.accept_pending = accept;
        self
    }

    /// Checks every setting and builds the verifier.
    ///
    /// # Errors
    /// [`Error::Config`] when no key source or two are given, the PEM is not an RSA public
    /// key of 2048 to 8192 bits, an authorized party is not an origin, the issuer is empty,
    /// or a duration or bound is out of range.
    pub fn build(self) -> Result<Verifier, Error> {
        if let Some(e) = self.env_error {
            return Err(e);
        }
        if self.leeway > MAX_LEEWAY {
            return Err(Error::config(format!(
                "the leeway must be at most {MAX_LEEWAY:?}"
            )));
        }
        if !(512..=65_536).contains(&self.max_token_bytes) {
            return Err(Error::config(
                "the token size bound must be between 512 and 65536 bytes",
            ));
        }
        if self.jwks_ttl.is_zero() || self.min_refresh_interval.is_zero() {
            return Err(Error::config(
                "the key set TTL and the minimum refresh interval must not be zero",
            ));
        }
        if self.fetch_timeout.is_zero() || self.fetch_timeout > MAX_JWKS_FETCH_TIMEOUT {
            return Err(Error::config(format!(
                "the key fetch timeout must be more than zero and at most {MAX_JWKS_FETCH_TIMEOUT:?}"
            )));
        }
        if self.cache_max_age.is_zero() || self.cache_max_age > Duration::from_secs(3600) {
            return Err(Error::config(
                "the session cache's maximum age must be more than zero and at most 1 hour",
            ));
        }
        if self.cache_capacity > 10_000_000 {
            return Err(Error::config(
                "the session cache's capacity must be at most 10 000 000 tokens",
            ));
        }
        if self.min_refresh_interval > self.jwks_ttl {
            return Err(Error::config(
                "the minimum refresh interval must not be longer than the key set TTL",
            ));
        }
        for party in &self.parties {
            check_origin(party)?;
        }
        for (what, values) in [("issuer", &self.issuers), ("audience", &self.audiences)] {
            if values.iter().any(|v| v.trim().is_empty() || v.trim() != v) {
                return Err(Error::config(format!(
                    "an {what} must not be empty or have surrounding spaces"
                )));
            }
        }
        let keys = match (self.jwt_key, self.source) {
            (Some(pem), None) => Keys::Static(Arc::new(CachedKey {
                key: Some(RsaKey::from_pem(&pem)?),
            })),
            (None, Some(source)) => Keys::Cache(Arc::new(KeyCache::new(
                source,
                self.jwks_ttl,
                self.min_refresh_interval,
                self.fetch_timeout,
            ))),
            (None, None) => {
                return Err(Error::config(
                    "no key source: give a client, a JWKS source or a PEM public key (jwt_key)",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "both a PEM public key (jwt_key) and a JWKS source were given: choose one",
                ))
            }
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                keys,
                // At most 300: the check above.
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(300),
                parties: self
                    .parties
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect(),
                allow_missing_azp: self.allow_missing_azp,
                issuers: self
                    .issuers
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect(),
                audiences: self
                    .audiences
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect(),
                max_token_bytes: self.max_token_bytes,
                accept_pending: self.accept_pending,
                session_cache: SessionCache::new(
                    self.cache_capacity,
                    // At most 3600: the check above.
                    i64::try_from(self.cache_max_age.as_secs()).unwrap_or(3600),
                ),
            }),
        })
    }
}

/// An authorized party must be an origin as a browser writes it: `scheme://host[:port]`,
/// lower case, no path, query, user info or trailing slash (`azp` is compared exactly).
fn check_origin(party: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Error::config(format!(
            "authorized party {party:?} {why}; write it like `https://app.example.com`"
        ))
    };
    if party.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad(
            "has upper-case letters, which a browser's `Origin` never has",
        ));
    }
    if party.ends_with('/') {
        return Err(bad("ends with a slash, which `azp` never has"));
    }
    let uri: http::Uri = party.parse().map_err(|_| bad("is not a URL"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(bad("is not an origin (scheme and host)"));
    };
    if authority.as_str().contains('@') {
        return Err(bad("has user info"));
    }
    if party != format!("{scheme}://{}", authority.as_str()) {
        return Err(bad("has a path or a query"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for good in [
            "https://app.example.com",
            "http://localhost:3000",
            "capacitor://localhost",
            "https://[::1]:8443",
        ] {
            assert!(check_origin(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "https://App.example.com",
            "not a url",
        ] {
            assert!(matches!(check_origin(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let pem = include_str!("../mock/test_key_public.pem");
        let ok = || Verifier::builder().jwt_key(pem);
        assert!(ok().build().is_ok());
        let source = || async { Ok::<_, Error>(crate::models::Jwks::default()) };
        let bad = [
            Verifier::builder(),
            ok().jwks_source(source),
            ok().leeway(Duration::from_secs(301)),
            ok().max_token_bytes(0),
            ok().max_token_bytes(1 << 20),
            ok().jwks_ttl(Duration::ZERO),
            ok().min_refresh_interval(Duration::ZERO),
            ok().min_refresh_interval(Duration::from_secs(600)),
            ok().jwks_fetch_timeout(Duration::ZERO),
            ok().session_cache_max_age(Duration::ZERO),
            ok().session_cache_max_age(Duration::from_secs(3601)),
            ok().session_cache_capacity(usize::MAX),
            ok().jwks_fetch_timeout(Duration::from_secs(121)),
            ok().issuer(""),
            ok().issuer(" https://clerk.example.com"),
            ok().authorized_parties(["https://a.example.com", "https://b.example.com/"]),
            Verifier::builder()
                .jwt_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
        ];
        for builder in bad {
            let shown = format!("{builder:?}");
            assert!(matches!(builder.build(), Err(Error::Config(_))), "{shown}");
        }
    }

    #[test]
    fn repeated_tokens_come_from_this_verifiers_cache() {
        let key = crate::mock::TestSigningKey::mock().unwrap();
        let now = unix_now();
        let claims = serde_json::json!({"sub": "user_1", "sid": "sess_1", "exp": now + 60});
        let token = key.sign(&claims).unwrap();
        let v = Verifier::builder()
            .jwt_key(include_str!("../mock/test_key_public.pem"))
            .build()
            .unwrap();
        let cache = v.inner.session_cache.as_ref().unwrap();
        let Step::Done(Ok(first)) = v.verify_now(&token) else {
            panic!("verified");
        };
        assert_eq!(cache.len(), 1);
        let Step::Done(Ok(again)) = v.verify_now(&token) else {
            panic!("cached");
        };
        assert_eq!(first, again);
        assert_eq!(cache.len(), 1);
        // One character off (inside the signature, not in its padding bits) is a miss (and a
        // bad signature).
        let at = token.len() - 20;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        assert!(matches!(
            v.verify_now(&forged),
            Step::Done(Err(VerifyError::InvalidSignature))
        ));
        // Another verifier (another instance) has its own, empty cache.
        let other = Verifier::builder()
            .jwt_key(include_str!("../mock/test_key_public.pem"))
            .build()
            .unwrap();
        assert_eq!(other.inner.session_cache.as_ref().unwrap().len(), 0);
        // No cache at all when asked.
        let none = Verifier::builder()
            .jwt_key(include_str!("../mock/test_key_public.pem"))
            .session_cache_capacity(0)
            .build()
            .unwrap();
        assert!(none.inner.session_cache.is_none());
        assert!(matches!(none.verify_now(&token), Step::Done(Ok(_))));
    }

    #[test]
    fn errors_are_safe_to_show() {
        let all = [
            VerifyError::MissingToken,
            VerifyError::TokenTooLarge { max: 10 },
            VerifyError::Malformed(TokenPart::Header),
            VerifyError::UnsupportedAlgorithm,
            VerifyError::MissingKeyId,
            VerifyError::UnknownKeyId,
            VerifyError::KeyMismatch,
            VerifyError::InvalidSignature,
            VerifyError::MissingClaim("sub"),
            VerifyError::InvalidClaim("exp"),
            VerifyError::Expired,
            VerifyError::NotYetValid,
            VerifyError::IssuedInFuture,
            VerifyError::UnauthorizedParty,
            VerifyError::MissingAuthorizedParty,
            VerifyError::InvalidIssuer,
            VerifyError::KeysUnavailable(Error::config("x")),
            VerifyError::JwtTemplateToken,
            VerifyError::M2mToken,
            VerifyError::UnknownTokenCategory,
            VerifyError::OAuthAccessToken,
            VerifyError::NotAUser,
            VerifyError::MissingSessionId,
            VerifyError::SessionPending,
            VerifyError::InvalidAudience,
            VerifyError::TokenTypeNotAccepted,
            VerifyError::WrongTokenType,
            VerifyError::MachineTokenInvalid,
            VerifyError::MachineTokenRevoked,
            VerifyError::NotAMachine,
            VerifyError::MachineVerifyUnavailable(Error::config("x")),
            VerifyError::MachineVerifyLimited,
            VerifyError::HandshakeRequired(crate::auth::HandshakeReason::DevBrowserMissing),
            VerifyError::HandshakeRedirectLoop(crate::auth::HandshakeReason::DevBrowserMissing),
            VerifyError::InvalidHandshake(Box::new(VerifyError::InvalidSignature)),
        ];
        let mut codes: Vec<&str> = all.iter().map(VerifyError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "codes are distinct");
        for e in &all {
            assert!(!e.to_string().is_empty());
            let expected = match e {
                VerifyError::KeysUnavailable(_)
                | VerifyError::MachineVerifyUnavailable(_)
                | VerifyError::MachineVerifyLimited => 503,
                VerifyError::WrongTokenType => 403,
                _ => 401,
            };
            assert_eq!(e.status().as_u16(), expected);
        }
    }
}
