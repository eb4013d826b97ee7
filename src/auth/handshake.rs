//! Cookie sessions for server-rendered pages: the request state as Clerk's SDKs decide it
//! (signed in, signed out, or a handshake through the Frontend API), framework-agnostic.
//!
//! A Clerk session token lives 60 seconds. In the browser, Clerk's frontend refreshes the
//! `__session` cookie while a page is open; a user who comes back to a server-rendered page
//! after a minute away sends an expired one. Clerk's JavaScript backend SDK
//! (`authenticateRequest` in `@clerk/backend`) resolves that with a decision table over the
//! request's cookies and headers: refresh the token through the Backend API when a `__refresh`
//! cookie allows it, otherwise redirect the browser through the Frontend API's
//! `/v1/client/handshake`, which sends it back with fresh cookies. [`Handshake`] is that table,
//! in our own code; `docs/authentication.md` lists it row by row, each row with its test.
//!
//! Turn it on with [`Authenticator::handshake`](super::Authenticator::handshake); then
//! [`Authenticator::authenticate_request`](super::Authenticator::authenticate_request) returns
//! a [`RequestState`], and [`SessionLayer`](super::SessionLayer) answers the handshake
//! redirects itself and puts the `Set-Cookie` values on the response.
//!
//! ```no_run
//! use clerk_tower::auth::{Authenticator, Handshake, SessionLayer, Verifier};
//!
//! # fn demo() -> Result<(), clerk_tower::Error> {
//! let client = clerk_tower::Client::from_env()?;
//! let verifier = Verifier::builder().client(client.clone()).build()?;
//! let handshake = Handshake::builder(&std::env::var("CLERK_PUBLISHABLE_KEY").unwrap_or_default())
//!     .build()?;
//! let layer = SessionLayer::optional(Authenticator::new(verifier).handshake(handshake));
//! // axum: Router::new().route("/dashboard", get(page)).layer(layer)
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
#[cfg(feature = "sessions")]
use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::Arc;
#[cfg(feature = "sessions")]
use std::sync::Mutex;
#[cfg(feature = "sessions")]
use std::time::{Duration, Instant};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, LOCATION, SET_COOKIE};

use super::request::{
    cookie_suffix, find_cookie, Auth, AuthOutcome, Authenticator, PendingSession,
};
use super::{Claims, VerifyError};
#[cfg(feature = "sessions")]
use crate::Client;
use crate::Error;

/// The cookie and query parameter names of Clerk's protocol (`@clerk/backend` `constants.ts`).
mod names {
    pub(super) const SESSION: &str = "__session";
    pub(super) const CLIENT_UAT: &str = "__client_uat";
    pub(super) const REFRESH: &str = "__refresh";
    pub(super) const HANDSHAKE: &str = "__clerk_handshake";
    pub(super) const HANDSHAKE_NONCE: &str = "__clerk_handshake_nonce";
    pub(super) const DEV_BROWSER: &str = "__clerk_db_jwt";
    pub(super) const LEGACY_DEV_BROWSER: &str = "__dev_session";
    pub(super) const REDIRECT_COUNT: &str = "__clerk_redirect_count";
    pub(super) const HANDSHAKE_HELP: &str = "__clerk_help";
    pub(super) const SYNCED: &str = "__clerk_synced";
    pub(super) const REDIRECT_URL: &str = "__clerk_redirect_url";
    pub(super) const HANDSHAKE_REASON: &str = "__clerk_hs_reason";
    pub(super) const SUFFIXED_COOKIES: &str = "suffixed_cookies";
    pub(super) const API_VERSION: &str = "__clerk_api_version";
}

/// The Clerk API version named in the handshake URL (`__clerk_api_version`): the version of
/// the spec this crate follows, the one the client sends as `Clerk-API-Version`.
const API_VERSION: &str = "2026-05-12";

/// How many handshake redirects in a row before the request is signed out instead (Clerk's
/// `checkAndTrackRedirectLoop`).
const MAX_HANDSHAKE_REDIRECTS: u32 = 3;

/// The instance a publishable key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceType {
    /// `pk_test_...`: a development instance (dev browser, handshake token in the URL).
    Development,
    /// `pk_live_...`: a production instance.
    Production,
}

/// The settings of the handshake: the instance (from its publishable key), satellite and
/// proxy settings, and how to refresh. Cheap to clone; build it with [`Handshake::builder`].
#[derive(Clone)]
pub struct Handshake {
    inner: Arc<Settings>,
}

struct Settings {
    publishable_key: Box<str>,
    instance: InstanceType,
    /// The Frontend API host the key names (or `clerk.<domain>` for a production satellite):
    /// what session tokens' `iss` names.
    frontend_api_host: Box<str>,
    /// Where the handshake goes: `https://<host>`, the proxy URL, without a trailing slash.
    frontend_api_url: Box<str>,
    suffix: Box<str>,
    satellite: Option<Box<str>>,
    sign_in_url: Option<Box<str>>,
    satellite_origins: Box<[Box<str>]>,
    origin: Option<Box<str>>,
    #[cfg(feature = "sessions")]
    refresh: Option<Refresher>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner;
        let mut d = f.debug_struct("Handshake");
        d.field("instance", &s.instance)
            .field("frontend_api", &s.frontend_api_url)
            .field("satellite", &s.satellite)
            .field("sign_in_url", &s.sign_in_url)
            .field("origin", &s.origin);
        #[cfg(feature = "sessions")]
        d.field("refresh", &s.refresh.is_some());
        d.finish_non_exhaustive()
    }
}

impl Handshake {
    /// A builder for the instance this publishable key (`pk_test_...`, `pk_live_...`) names.
    pub fn builder(publishable_key: &str) -> HandshakeBuilder {
        HandshakeBuilder {
            publishable_key: publishable_key.trim().to_owned(),
            proxy_url: None,
            satellite: None,
            sign_in_url: None,
            satellite_origins: Vec::new(),
            origin: None,
            #[cfg(feature = "sessions")]
            refresh: None,
            #[cfg(feature = "sessions")]
            refresh_timeout: DEFAULT_REFRESH_TIMEOUT,
            #[cfg(feature = "sessions")]
            refresh_calls_per_second: DEFAULT_REFRESH_CALLS_PER_SECOND,
        }
    }

    /// Development (`pk_test_`) or production (`pk_live_`).
    pub fn instance_type(&self) -> InstanceType {
        self.inner.instance
    }

    /// The Frontend API's URL the handshake redirects to (`https://<host>` from the key, the
    /// proxy URL, or `https://clerk.<domain>` for a production satellite).
    pub fn frontend_api_url(&self) -> &str {
        &self.inner.frontend_api_url
    }

    /// The publishable key.
    pub fn publishable_key(&self) -> &str {
        &self.inner.publishable_key
    }
}

/// Builds a [`Handshake`]; [`build`](Self::build) checks every setting.
///
/// ```
/// use clerk_tower::auth::{Handshake, InstanceType};
///
/// // The key names the Frontend API host (base64 of "clerk.example.com$").
/// let handshake = Handshake::builder("pk_live_Y2xlcmsuZXhhbXBsZS5jb20k")
///     .origin("https://example.com")
///     .build()?;
/// assert_eq!(handshake.instance_type(), InstanceType::Production);
/// assert_eq!(handshake.frontend_api_url(), "https://clerk.example.com");
///
/// let bad = Handshake::builder("pk_live_bm90IGEga2V5").build();
/// assert!(matches!(bad, Err(clerk_tower::Error::Config(_))));
/// # Ok::<(), clerk_tower::Error>(())
/// ```
pub struct HandshakeBuilder {
    publishable_key: String,
    proxy_url: Option<String>,
    satellite: Option<String>,
    sign_in_url: Option<String>,
    satellite_origins: Vec<String>,
    origin: Option<String>,
    #[cfg(feature = "sessions")]
    refresh: Option<Client>,
    #[cfg(feature = "sessions")]
    refresh_timeout: Duration,
    #[cfg(feature = "sessions")]
    refresh_calls_per_second: u32,
}

impl fmt::Debug for HandshakeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeBuilder")
            .field("proxy_url", &self.proxy_url)
            .field("satellite", &self.satellite)
            .field("sign_in_url", &self.sign_in_url)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Default bound on one refresh call (`POST /sessions/{id}/refresh`), retries included.
#[cfg(feature = "sessions")]
pub const DEFAULT_REFRESH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default limit on refresh calls per second (a token bucket); past it, the request takes the
/// handshake instead, which costs the Backend API nothing.
#[cfg(feature = "sessions")]
pub const DEFAULT_REFRESH_CALLS_PER_SECOND: u32 = 20;

impl HandshakeBuilder {
    /// Clerk's proxy URL (`https://example.com/__clerk`): the Frontend API is reached through
    /// your own domain, and the handshake goes there.
    pub fn proxy_url(mut self, url: impl Into<String>) -> Self {
        self.proxy_url = Some(url.into());
        self
    }

    /// This app is a satellite of the primary domain's Clerk instance, on `domain`
    /// (`satellite.example.com`): a page load without linked cookies is synced with the
    /// primary (`satellite-needs-syncing`). A development satellite also needs a
    /// [`sign_in_url`](Self::sign_in_url) on the primary.
    pub fn satellite(mut self, domain: impl Into<String>) -> Self {
        self.satellite = Some(domain.into());
        self
    }

    /// The primary app's sign-in page (absolute), where a development satellite sends the
    /// browser to sync.
    pub fn sign_in_url(mut self, url: impl Into<String>) -> Self {
        self.sign_in_url = Some(url.into());
        self
    }

    /// On a development primary: the satellite origins (`http://localhost:3001`) that may ask
    /// it to sync back (`__clerk_redirect_url`). Clerk's SDK redirects to any URL there, with
    /// the dev browser token; this crate only to these origins (none by default).
    pub fn satellite_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.satellite_origins
            .extend(origins.into_iter().map(Into::into));
        self
    }

    /// The app's public origin (`https://app.example.com`), used to build the URL the browser
    /// comes back to. Without it, the URL is read from the request: `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` (first values), then `Host`, as Clerk's SDK does; the scheme is
    /// `http` when nothing says otherwise, so set this for a server that terminates TLS itself.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Refresh expired session tokens through the Backend API (`POST
    /// /sessions/{session_id}/refresh`, with this client) when the browser has a `__refresh`
    /// cookie, instead of the handshake redirect (feature `sessions`). Without it, an expired
    /// token always takes the handshake (reason `...-refresh-missing-api-client`).
    #[cfg(feature = "sessions")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sessions")))]
    pub fn refresh_with(mut self, client: Client) -> Self {
        self.refresh = Some(client);
        self
    }

    /// The bound on one refresh call, retries included (default 5 s, at most 60 s).
    #[cfg(feature = "sessions")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sessions")))]
    pub fn refresh_timeout(mut self, timeout: Duration) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    /// The most refresh calls per second (default 20, at least 1): each needs a validly signed
    /// expired token, but one such token replayed with a made-up `__refresh` cookie would
    /// otherwise cost a Backend API call per request.
    #[cfg(feature = "sessions")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sessions")))]
    pub fn refresh_calls_per_second(mut self, calls: u32) -> Self {
        self.refresh_calls_per_second = calls;
        self
    }

    /// Checks every setting and builds the handshake settings.
    ///
    /// # Errors
    /// [`Error::Config`] when the publishable key is not one (`pk_test_` or `pk_live_` and the
    /// base64 of a host ending in `$`), a URL is not absolute `http(s)`, the origin is not an
    /// origin, the satellite domain is empty, or a development satellite has no sign-in URL.
    pub fn build(self) -> Result<Handshake, Error> {
        let (instance, host) = parse_publishable_key(&self.publishable_key)?;
        let proxy = match self.proxy_url {
            Some(url) => Some(check_url("proxy URL", &url)?),
            None => None,
        };
        let satellite = match self.satellite {
            Some(domain) => {
                let domain = domain.trim().trim_end_matches('/').to_owned();
                if domain.is_empty() || !is_host(&domain) {
                    return Err(Error::config(
                        "the satellite domain must be a host, like `satellite.example.com`",
                    ));
                }
                Some(domain)
            }
            None => None,
        };
        let sign_in_url = match self.sign_in_url {
            Some(url) => Some(check_url("sign-in URL", &url)?),
            None => None,
        };
        if satellite.is_some() && instance == InstanceType::Development && sign_in_url.is_none() {
            return Err(Error::config(
                "a development satellite needs the primary's sign-in URL (sign_in_url)",
            ));
        }
        let origin = match self.origin {
            Some(origin) => Some(check_origin(&origin)?),
            None => None,
        };
        let mut satellite_origins = Vec::new();
        for o in self.satellite_origins {
            satellite_origins.push(check_origin(&o)?.into_boxed_str());
        }
        // Clerk's `parsePublishableKey`: a proxy URL wins; a production satellite's Frontend
        // API is `clerk.<domain>`.
        let frontend_api_host = match (&satellite, instance) {
            (Some(domain), InstanceType::Production) => format!("clerk.{domain}"),
            _ => host,
        };
        let frontend_api_url = match proxy {
            Some(url) => url,
            None => format!("{}://{frontend_api_host}", scheme_for(&frontend_api_host)),
        };
        #[cfg(feature = "sessions")]
        let refresh = match self.refresh {
            Some(client) => {
                if self.refresh_timeout.is_zero() || self.refresh_timeout > Duration::from_secs(60)
                {
                    return Err(Error::config(
                        "the refresh timeout must be more than zero and at most 60 s",
                    ));
                }
                if self.refresh_calls_per_second == 0 {
                    return Err(Error::config(
                        "the refresh calls per second must be at least 1",
                    ));
                }
                Some(Refresher {
                    client,
                    timeout: self.refresh_timeout,
                    rate: self.refresh_calls_per_second,
                    bucket: Arc::new(Mutex::new((f64::from(self.refresh_calls_per_second), None))),
                })
            }
            None => None,
        };
        Ok(Handshake {
            inner: Arc::new(Settings {
                suffix: cookie_suffix(&self.publishable_key).into_boxed_str(),
                publishable_key: self.publishable_key.into_boxed_str(),
                instance,
                frontend_api_host: frontend_api_host.into_boxed_str(),
                frontend_api_url: frontend_api_url.into_boxed_str(),
                satellite: satellite.map(String::into_boxed_str),
                sign_in_url: sign_in_url.map(String::into_boxed_str),
                satellite_origins: satellite_origins.into_boxed_slice(),
                origin: origin.map(String::into_boxed_str),
                #[cfg(feature = "sessions")]
                refresh,
            }),
        })
    }
}

/// `https`, except for a loopback host (a Frontend API on this machine, as the mock's is),
/// which is `http`: the client's own rule for its base URL.
fn scheme_for(host: &str) -> &'static str {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
        "http"
    } else {
        "https"
    }
}

/// A host (and port) as a URL's authority holds it: letters, digits, `.`, `-`, `:`, `[`, `]`.
fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The instance type and Frontend API host a publishable key names.
fn parse_publishable_key(key: &str) -> Result<(InstanceType, String), Error> {
    let bad = || {
        Error::config(
            "the publishable key is not one: `pk_test_` or `pk_live_` and the base64 of the \
             Frontend API host followed by `$`",
        )
    };
    let (instance, encoded) = if let Some(rest) = key.strip_prefix("pk_test_") {
        (InstanceType::Development, rest)
    } else if let Some(rest) = key.strip_prefix("pk_live_") {
        (InstanceType::Production, rest)
    } else {
        return Err(bad());
    };
    // `atob` in Clerk's SDKs: standard base64, padding optional.
    let engine = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = engine.decode(encoded).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let host = text.strip_suffix('$').ok_or_else(bad)?;
    if !is_host(host) {
        return Err(bad());
    }
    Ok((instance, host.to_owned()))
}

/// An absolute `http(s)` URL, without trailing slashes.
fn check_url(what: &str, url: &str) -> Result<String, Error> {
    let trimmed = url.trim().trim_end_matches('/');
    let ok = trimmed
        .parse::<http::Uri>()
        .ok()
        .is_some_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !ok {
        return Err(Error::config(format!(
            "the {what} must be an absolute http(s) URL"
        )));
    }
    Ok(trimmed.to_owned())
}

/// An origin: `scheme://host[:port]`, nothing else.
fn check_origin(origin: &str) -> Result<String, Error> {
    let trimmed = origin.trim().trim_end_matches('/');
    let ok = trimmed.parse::<http::Uri>().ok().is_some_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https"))
            && u.authority().is_some_and(|a| is_host(a.as_str()))
            && u.path_and_query()
                .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty())
    });
    if !ok || trimmed.contains('?') {
        return Err(Error::config(format!(
            "{origin:?} is not an origin: write it like `https://app.example.com`"
        )));
    }
    Ok(trimmed.to_owned())
}

/// What the request check reads of a request: its method, its target, and its headers.
/// Framework-agnostic: [`from_http`](Self::from_http) reads an `http` request's parts; other
/// frameworks add their headers one by one.
///
/// ```
/// use clerk_tower::auth::RequestInfo;
///
/// let info = RequestInfo::new("GET", "/dashboard?tab=1")
///     .header("host", "app.example.com")
///     .header("cookie", "__client_uat=0")
///     .header("sec-fetch-dest", "document");
/// # let _ = info;
/// ```
#[derive(Debug, Clone)]
pub struct RequestInfo<'a> {
    method: &'a str,
    target: &'a str,
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    headers: Vec<(&'a str, &'a str)>,
}

impl<'a> RequestInfo<'a> {
    /// A request with this method and request target (a path and query, as a server receives
    /// it).
    pub fn new(method: &'a str, target: &'a str) -> Self {
        RequestInfo {
            method,
            target,
            scheme: None,
            authority: None,
            headers: Vec::new(),
        }
    }

    /// The scheme and authority of an absolute request target, when the server knows them.
    pub fn absolute(mut self, scheme: &'a str, authority: &'a str) -> Self {
        self.scheme = Some(scheme);
        self.authority = Some(authority);
        self
    }

    /// Adds a header (its name in any case; repeat for each value).
    pub fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Reads an `http` request's method, URI and headers (values that are not visible ASCII
    /// are skipped).
    pub fn from_http(
        method: &'a http::Method,
        uri: &'a http::Uri,
        headers: &'a http::HeaderMap,
    ) -> Self {
        RequestInfo {
            method: method.as_str(),
            target: uri.path_and_query().map_or("/", |p| p.as_str()),
            scheme: uri.scheme_str(),
            authority: uri.authority().map(|a| a.as_str()),
            headers: headers
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    }

    fn all(&self, name: &'static str) -> impl Iterator<Item = &'a str> + '_ {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    fn cookie(&self, name: &str) -> Option<&'a str> {
        find_cookie(self.all("cookie"), name)
    }

    pub(crate) fn header_value(&self, name: &str) -> Option<&'a str> {
        self.get(name)
    }

    pub(crate) fn header_values(&self, name: &'static str) -> impl Iterator<Item = &'a str> + '_ {
        self.all(name)
    }
}

/// Why a request needs a handshake, in the words of Clerk's SDKs (`AuthErrorReason`): sent to
/// the Frontend API as `__clerk_hs_reason`, and shown by [`VerifyError::HandshakeRequired`]
/// when the request cannot take one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeReason {
    /// A development instance, and no dev browser (`__clerk_db_jwt`) yet.
    DevBrowserMissing,
    /// A development instance, and a dev browser in the URL to turn into a cookie.
    DevBrowserSync,
    /// A satellite's page load without linked cookies.
    SatelliteNeedsSyncing,
    /// A development primary sends the browser back to a satellite.
    PrimaryRespondsToSyncing,
    /// A page load on the primary from a satellite's page (a cross-origin referrer).
    PrimaryDomainCrossOriginSync,
    /// A session cookie, and no `__client_uat`.
    SessionTokenWithoutClientUat,
    /// `__client_uat` says signed in, and there is no session cookie.
    ClientUatWithoutSessionToken,
    /// The session token is older than the client's last sign-in or sign-out (`iat` before
    /// `__client_uat`).
    SessionTokenIatBeforeClientUat,
    /// The session token expired, and could not be refreshed for this reason.
    SessionTokenExpired(RefreshFailure),
    /// The session token is not valid yet (`nbf`).
    SessionTokenNbf,
    /// The session token was issued in the future (`iat`).
    SessionTokenIatInTheFuture,
}

impl fmt::Display for HandshakeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            HandshakeReason::DevBrowserMissing => "dev-browser-missing",
            HandshakeReason::DevBrowserSync => "dev-browser-sync",
            HandshakeReason::SatelliteNeedsSyncing => "satellite-needs-syncing",
            HandshakeReason::PrimaryRespondsToSyncing => "primary-responds-to-syncing",
            HandshakeReason::PrimaryDomainCrossOriginSync => "primary-domain-cross-origin-sync",
            HandshakeReason::SessionTokenWithoutClientUat => "session-token-but-no-client-uat",
            HandshakeReason::ClientUatWithoutSessionToken => "client-uat-but-no-session-token",
            HandshakeReason::SessionTokenIatBeforeClientUat => {
                "session-token-iat-before-client-uat"
            }
            HandshakeReason::SessionTokenExpired(refresh) => {
                return write!(f, "session-token-expired-refresh-{refresh}")
            }
            HandshakeReason::SessionTokenNbf => "session-token-nbf",
            HandshakeReason::SessionTokenIatInTheFuture => "session-token-iat-in-the-future",
        };
        f.write_str(s)
    }
}

/// Why an expired session token was not refreshed (Clerk's `RefreshTokenErrorReason`, plus
/// the limits this crate puts on refresh calls).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshFailure {
    /// The token expired and refreshing did not apply (it was not the token's expiry that
    /// failed): Clerk's `null`.
    NotApplicable,
    /// No `__refresh` cookie.
    NonEligibleNoCookie,
    /// Not a `GET` request.
    NonEligibleNonGet,
    /// No client to refresh with ([`HandshakeBuilder::refresh_with`]).
    MissingApiClient,
    /// The expired token could not be decoded.
    ExpiredSessionTokenDecodeFailed,
    /// The expired token has no `sid`.
    ExpiredSessionTokenMissingSidClaim,
    /// The refreshed token did not verify.
    InvalidSessionToken,
    /// The Backend API could not be reached, or answered something else than Clerk errors.
    UnexpectedBapiError,
    /// The Backend API refused the refresh with this Clerk error code.
    Clerk(String),
    /// More refresh calls this second than allowed.
    RateLimited,
    /// The refresh call took longer than its timeout.
    Timeout,
}

impl fmt::Display for RefreshFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefreshFailure::NotApplicable => "null",
            RefreshFailure::NonEligibleNoCookie => "non-eligible-no-refresh-cookie",
            RefreshFailure::NonEligibleNonGet => "non-eligible-non-get",
            RefreshFailure::MissingApiClient => "missing-api-client",
            RefreshFailure::ExpiredSessionTokenDecodeFailed => {
                "expired-session-token-decode-failed"
            }
            RefreshFailure::ExpiredSessionTokenMissingSidClaim => {
                "expired-session-token-missing-sid-claim"
            }
            RefreshFailure::InvalidSessionToken => "invalid-session-token",
            RefreshFailure::UnexpectedBapiError => "unexpected-bapi-error",
            RefreshFailure::Clerk(code) => code,
            RefreshFailure::RateLimited => "refresh-rate-limited",
            RefreshFailure::Timeout => "refresh-timeout",
        })
    }
}

/// The three states of a request, as Clerk's SDKs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthStatus {
    /// A verified caller.
    SignedIn,
    /// No caller (the outcome says why).
    SignedOut,
    /// The browser must go through the Frontend API's handshake: answer with the redirect.
    Handshake,
}

/// What the request check decided for a request, with the headers to put on the response:
/// `Location` (a redirect to answer now, with status 307), `Set-Cookie` (fresh cookies from a
/// handshake or a refresh, the redirect-loop counter) and `Cache-Control`.
#[derive(Debug)]
pub struct RequestState {
    status: AuthStatus,
    outcome: AuthOutcome,
    handshake_reason: Option<HandshakeReason>,
    headers: http::HeaderMap,
}

impl RequestState {
    fn from_outcome(outcome: AuthOutcome, headers: http::HeaderMap) -> Self {
        let status = match outcome {
            AuthOutcome::Authenticated(_) => AuthStatus::SignedIn,
            _ => AuthStatus::SignedOut,
        };
        RequestState {
            status,
            outcome,
            handshake_reason: None,
            headers,
        }
    }

    /// The state of a plain token check: no handshake, no headers.
    pub(crate) fn plain(outcome: AuthOutcome) -> Self {
        Self::from_outcome(outcome, http::HeaderMap::new())
    }

    fn signed_out(error: VerifyError) -> Self {
        Self::from_outcome(AuthOutcome::Refused(error), http::HeaderMap::new())
    }

    /// The state: signed in, signed out, or a handshake.
    pub fn status(&self) -> AuthStatus {
        self.status
    }

    /// Who is calling, or why nobody is (a handshake's outcome is
    /// [`VerifyError::HandshakeRequired`]).
    pub fn outcome(&self) -> &AuthOutcome {
        &self.outcome
    }

    /// Why a handshake was started, for a [`AuthStatus::Handshake`] state.
    pub fn handshake_reason(&self) -> Option<&HandshakeReason> {
        self.handshake_reason.as_ref()
    }

    /// The headers to put on the response.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.headers
    }

    /// Where to redirect the browser now (the handshake, or the clean URL after one), if
    /// anywhere: answer `307 Temporary Redirect` with [`headers`](Self::headers), without
    /// calling the handler.
    pub fn redirect(&self) -> Option<&HeaderValue> {
        self.headers.get(LOCATION)
    }

    /// The outcome and the headers.
    pub fn into_parts(self) -> (AuthOutcome, http::HeaderMap) {
        (self.outcome, self.headers)
    }
}

/// The future of [`Authenticator::authenticate_request`](super::Authenticator::authenticate_request).
pub struct RequestFuture {
    inner: Pin<Box<dyn Future<Output = RequestState> + Send>>,
}

impl RequestFuture {
    pub(crate) fn new(f: impl Future<Output = RequestState> + Send + 'static) -> Self {
        RequestFuture { inner: Box::pin(f) }
    }
}

impl fmt::Debug for RequestFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestFuture")
    }
}

impl Future for RequestFuture {
    type Output = RequestState;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<RequestState> {
        self.inner.as_mut().poll(cx)
    }
}

/// A request's URL as the browser sees it: origin, path, query (raw).
#[derive(Debug, Clone)]
struct BrowserUrl {
    origin: String,
    path: String,
    query: Option<String>,
}

impl BrowserUrl {
    fn href(&self) -> String {
        match &self.query {
            Some(q) if !q.is_empty() => format!("{}{}?{q}", self.origin, self.path),
            _ => format!("{}{}", self.origin, self.path),
        }
    }

    fn param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    fn has(&self, name: &str) -> bool {
        self.query
            .as_deref()
            .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == name))
    }

    /// The URL without the query parameters named (the others kept byte for byte).
    fn without(&self, names: &[&str]) -> BrowserUrl {
        let query = self.query.as_deref().map(|q| {
            q.split('&')
                .filter(|pair| {
                    let key = pair.split('=').next().unwrap_or("");
                    let decoded = form_urlencoded::parse(key.as_bytes())
                        .next()
                        .map(|(k, _)| k.into_owned())
                        .unwrap_or_default();
                    !names.contains(&decoded.as_str())
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        BrowserUrl {
            origin: self.origin.clone(),
            path: self.path.clone(),
            query,
        }
    }
}

/// What the decision reads, taken from the request once (Clerk's `AuthenticateContext`).
#[derive(Debug)]
struct Context {
    get: bool,
    head_or_get: bool,
    url: Option<BrowserUrl>,
    token_in_header: Option<String>,
    session_in_cookie: Option<String>,
    refresh_in_cookie: Option<String>,
    client_uat: i64,
    suffixed: bool,
    dev_browser: Option<String>,
    handshake_token: Option<String>,
    redirect_count: u32,
    sec_fetch_dest: Option<String>,
    accept: Option<String>,
    referer: Option<String>,
    #[cfg_attr(not(feature = "sessions"), allow(dead_code))]
    request_headers: Vec<(String, String)>,
}

/// The claims read from a token without checking it (to choose cookies, compare `iat` with
/// `__client_uat`, find the session to refresh).
#[derive(Debug, Default, serde::Deserialize)]
struct Peek {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    iat: Option<f64>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    #[cfg_attr(not(feature = "sessions"), allow(dead_code))]
    sid: Option<String>,
}

fn peek(token: &str) -> Option<Peek> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `Number.parseInt(x) || 0`: the leading digits.
fn leading_int(value: Option<&str>) -> i64 {
    let Some(v) = value else { return 0 };
    let digits: String = v
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    digits.parse().unwrap_or(0)
}

impl Settings {
    fn suffixed_name(&self, name: &str) -> String {
        format!("{name}_{}", self.suffix)
    }

    /// Clerk's `usesSuffixedCookies`: which of the two cookie sets (`__session` or
    /// `__session_<suffix>`) this request's state lives in.
    fn uses_suffixed(&self, req: &RequestInfo<'_>) -> bool {
        let suffixed_uat = req.cookie(&self.suffixed_name(names::CLIENT_UAT));
        let uat = req.cookie(names::CLIENT_UAT);
        let suffixed_session = req.cookie(&self.suffixed_name(names::SESSION));
        let session = req.cookie(names::SESSION);
        if let Some(session) = session {
            let Some(claims) = peek(session) else {
                return false;
            };
            let Some(iss) = claims.iss.filter(|i| !i.is_empty()) else {
                return false;
            };
            let issuer = iss
                .strip_prefix("https://")
                .or_else(|| iss.strip_prefix("http://"))
                .unwrap_or(&iss);
            if issuer != &*self.frontend_api_host {
                return true;
            }
        }
        if suffixed_uat.is_none() && suffixed_session.is_none() {
            return false;
        }
        let iat = |t: Option<&str>| t.and_then(peek).and_then(|c| c.iat).unwrap_or(0.0);
        if suffixed_uat != Some("0") && uat != Some("0") && iat(session) > iat(suffixed_session) {
            return false;
        }
        if suffixed_uat == Some("0") && uat != Some("0") {
            return false;
        }
        if self.instance != InstanceType::Production {
            let expired = suffixed_session
                .and_then(peek)
                .and_then(|c| c.exp)
                .is_some_and(|exp| exp <= now_secs().floor());
            if suffixed_uat != Some("0") && uat == Some("0") && expired {
                return false;
            }
        }
        if suffixed_uat.is_none() && suffixed_session.is_some() {
            return false;
        }
        true
    }

    fn browser_url(&self, req: &RequestInfo<'_>) -> Option<BrowserUrl> {
        let origin = match &self.origin {
            Some(origin) => origin.to_string(),
            None => {
                let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_owned();
                let proto = req
                    .get("x-forwarded-proto")
                    .map(first)
                    .or_else(|| req.scheme.map(str::to_owned))
                    .unwrap_or_else(|| "http".to_owned());
                let host = req
                    .get("x-forwarded-host")
                    .map(first)
                    .or_else(|| req.get("host").map(str::to_owned))
                    .or_else(|| req.authority.map(str::to_owned))?;
                if !matches!(proto.as_str(), "http" | "https") || !is_host(&host) {
                    return None;
                }
                format!("{proto}://{host}")
            }
        };
        let (path, query) = match req.target.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (req.target, None),
        };
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            // An absolute-form target: keep its path.
            path.parse::<http::Uri>()
                .ok()
                .map_or_else(|| "/".to_owned(), |u| u.path().to_owned())
        };
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return None;
        }
        Some(BrowserUrl {
            origin,
            path,
            query,
        })
    }

    fn context(&self, req: &RequestInfo<'_>, bearer: Option<&str>) -> Context {
        let suffixed = self.uses_suffixed(req);
        let either = |name: &str| {
            if suffixed {
                req.cookie(&self.suffixed_name(name))
            } else {
                req.cookie(name)
            }
        };
        let url = self.browser_url(req);
        let from_query = |name: &str| {
            url.as_ref()
                .and_then(|u| u.param(name))
                .filter(|v| !v.is_empty())
        };
        Context {
            get: req.method.eq_ignore_ascii_case("GET"),
            head_or_get: req.method.eq_ignore_ascii_case("GET")
                || req.method.eq_ignore_ascii_case("HEAD"),
            token_in_header: bearer.map(str::to_owned),
            session_in_cookie: either(names::SESSION).map(str::to_owned),
            refresh_in_cookie: req
                .cookie(&self.suffixed_name(names::REFRESH))
                .map(str::to_owned),
            client_uat: leading_int(either(names::CLIENT_UAT)),
            suffixed,
            dev_browser: from_query(names::DEV_BROWSER)
                .or_else(|| either(names::DEV_BROWSER).map(str::to_owned)),
            handshake_token: from_query(names::HANDSHAKE)
                .or_else(|| req.cookie(names::HANDSHAKE).map(str::to_owned)),
            redirect_count: u32::try_from(leading_int(req.cookie(names::REDIRECT_COUNT)))
                .unwrap_or(u32::MAX),
            sec_fetch_dest: req.get("sec-fetch-dest").map(str::to_owned),
            accept: req.get("accept").map(str::to_owned),
            referer: req.get("referer").map(str::to_owned),
            request_headers: req
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            url,
        }
    }
}

impl Context {
    /// Clerk's `isRequestEligibleForHandshake` (a document or iframe load, or without
    /// `Sec-Fetch-Dest` an `Accept` of `text/html`), and a `GET` or `HEAD`: a redirect of
    /// another method would send its body on to the Frontend API.
    fn eligible_for_handshake(&self) -> bool {
        if !self.head_or_get {
            return false;
        }
        match self.sec_fetch_dest.as_deref() {
            Some("document" | "iframe") => true,
            Some(_) => false,
            None => self
                .accept
                .as_deref()
                .is_some_and(|a| a.starts_with("text/html")),
        }
    }

    fn session_token(&self) -> Option<&str> {
        self.session_in_cookie
            .as_deref()
            .or(self.token_in_header.as_deref())
    }
}

/// The cookie name of a `Set-Cookie` value (Clerk's `getCookieName`).
fn cookie_name(directive: &str) -> &str {
    directive
        .split(';')
        .next()
        .unwrap_or("")
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
}

/// The value of a `Set-Cookie` value (Clerk's `getCookieValue`).
fn cookie_value(directive: &str) -> &str {
    directive
        .split(';')
        .next()
        .unwrap_or("")
        .split('=')
        .nth(1)
        .unwrap_or("")
        .trim()
}

/// `Set-Cookie` headers from a handshake payload or a refresh; the session token among them
/// (the last `__session*` value), `""` when there is none. `Err` when a value cannot be a
/// header value.
fn cookie_headers(directives: &[String]) -> Result<(http::HeaderMap, String), VerifyError> {
    let mut headers = http::HeaderMap::new();
    let mut session = String::new();
    for d in directives {
        let value = HeaderValue::from_str(d).map_err(|_| {
            VerifyError::InvalidHandshake(Box::new(VerifyError::InvalidClaim("handshake")))
        })?;
        headers.append(SET_COOKIE, value);
        if cookie_name(d).starts_with(names::SESSION) {
            cookie_value(d).clone_into(&mut session);
        }
    }
    Ok((headers, session))
}

/// The request check with the handshake: one decision per request.
pub(crate) struct Decision {
    pub(crate) auth: Authenticator,
    pub(crate) settings: Handshake,
}

impl Decision {
    fn s(&self) -> &Settings {
        &self.settings.inner
    }

    /// Builds the context and decides (Clerk's `authenticateRequest`).
    pub(crate) fn start(self, req: &RequestInfo<'_>) -> RequestFuture {
        let bearer = super::request::request_token(req.get("authorization"), std::iter::empty());
        // A machine token (or any token of a class the route accepts besides sessions) in
        // the header goes to the plain check: no cookies, no handshake.
        if let Some(token) = bearer {
            if self.auth.is_machine_token(token) {
                let future = self.auth.authenticate_token(Some(token));
                return RequestFuture::new(async move {
                    RequestState::from_outcome(future.await, http::HeaderMap::new())
                });
            }
        }
        let ctx = self.s().context(req, bearer);
        RequestFuture::new(async move { self.decide(ctx).await })
    }

    async fn verify(&self, token: &str) -> Result<AuthOutcome, VerifyError> {
        let result = self.auth.verifier().verify_any_status(token).await;
        match result {
            Ok(claims) => Ok(self.session_outcome(claims)),
            Err(e) => Err(e),
        }
    }

    fn session_outcome(&self, claims: Claims) -> AuthOutcome {
        if claims.is_pending() && !self.auth.verifier().accepts_pending() {
            AuthOutcome::Pending(PendingSession::new(claims))
        } else {
            AuthOutcome::Authenticated(Auth::Session(claims))
        }
    }

    async fn decide(&self, ctx: Context) -> RequestState {
        if let Some(token) = ctx.token_in_header.clone() {
            return match self.verify(&token).await {
                Ok(outcome) => RequestState::from_outcome(outcome, http::HeaderMap::new()),
                Err(e) => self.session_token_error(&ctx, e).await,
            };
        }
        self.with_cookies(ctx).await
    }

    async fn with_cookies(&self, ctx: Context) -> RequestState {
        let s = self.s();
        let dev = s.instance == InstanceType::Development;
        if let Some(token) = ctx.handshake_token.clone() {
            match self.resolve_handshake(&ctx, &token).await {
                Resolved::State(state) => return state,
                // A production handshake that did not work: on with the request's own
                // cookies (another handshake may follow, bounded by the loop counter).
                Resolved::FallThrough => {}
            }
        }
        let linked = ctx.client_uat != 0 && ctx.session_in_cookie.is_some();
        let md_sync =
            s.satellite.is_some() && ctx.sec_fetch_dest.as_deref() == Some("document") && !linked;
        if !dev && md_sync {
            return self.maybe_handshake(&ctx, HandshakeReason::SatelliteNeedsSyncing, None, None);
        }
        if let Some(url) = ctx.url.as_ref() {
            if dev && md_sync && !url.has(names::SYNCED) {
                if let Some(sign_in) = &s.sign_in_url {
                    let sep = if sign_in.contains('?') { '&' } else { '?' };
                    let location = format!(
                        "{sign_in}{sep}{}",
                        form_urlencoded::Serializer::new(String::new())
                            .append_pair(names::REDIRECT_URL, &url.href())
                            .finish()
                    );
                    return self.maybe_handshake(
                        &ctx,
                        HandshakeReason::SatelliteNeedsSyncing,
                        None,
                        Some(location),
                    );
                }
            }
            if dev && s.satellite.is_none() {
                if let Some(back) = url.param(names::REDIRECT_URL) {
                    if let Some(location) = self.sync_back(&ctx, &back) {
                        return self.maybe_handshake(
                            &ctx,
                            HandshakeReason::PrimaryRespondsToSyncing,
                            None,
                            Some(location),
                        );
                    }
                }
            }
            if dev && url.has(names::DEV_BROWSER) {
                return self.maybe_handshake(&ctx, HandshakeReason::DevBrowserSync, None, None);
            }
        }
        if dev && ctx.dev_browser.is_none() {
            return self.maybe_handshake(&ctx, HandshakeReason::DevBrowserMissing, None, None);
        }
        let Some(session) = ctx.session_in_cookie.clone() else {
            if ctx.client_uat == 0 {
                return RequestState::signed_out(VerifyError::MissingToken);
            }
            return self.maybe_handshake(
                &ctx,
                HandshakeReason::ClientUatWithoutSessionToken,
                None,
                None,
            );
        };
        if ctx.client_uat == 0 {
            // Safari's ITP can drop `__client_uat` (set by the Frontend API's domain) while
            // the session cookie stays: after a handshake that did not bring it back, a valid
            // session token is enough (clerk/javascript request.test.ts).
            if ctx.redirect_count > 0 {
                if let Ok(outcome @ AuthOutcome::Authenticated(_)) = self.verify(&session).await {
                    return RequestState::from_outcome(outcome, http::HeaderMap::new());
                }
            }
            return self.maybe_handshake(
                &ctx,
                HandshakeReason::SessionTokenWithoutClientUat,
                None,
                None,
            );
        }
        if let Some(iat) = peek(&session).and_then(|c| c.iat) {
            // `client_uat` is at most 18 digits: exact in an f64 up to 2^53.
            #[allow(clippy::cast_precision_loss)]
            let uat = ctx.client_uat as f64;
            if iat < uat {
                return self.maybe_handshake(
                    &ctx,
                    HandshakeReason::SessionTokenIatBeforeClientUat,
                    None,
                    None,
                );
            }
        }
        match self.verify(&session).await {
            Ok(outcome) => {
                if s.satellite.is_none()
                    && ctx.sec_fetch_dest.as_deref() == Some("document")
                    && ctx.redirect_count == 0
                    && self.cross_origin_unknown_referrer(&ctx)
                {
                    return self.maybe_handshake(
                        &ctx,
                        HandshakeReason::PrimaryDomainCrossOriginSync,
                        None,
                        None,
                    );
                }
                RequestState::from_outcome(outcome, http::HeaderMap::new())
            }
            Err(e) => self.session_token_error(&ctx, e).await,
        }
    }

    /// Clerk's `isCrossOriginReferrer() && !isKnownClerkReferrer()`: a page load whose
    /// referrer is another origin, neither the Frontend API nor an Account Portal.
    fn cross_origin_unknown_referrer(&self, ctx: &Context) -> bool {
        let (Some(referer), Some(url)) = (ctx.referer.as_deref(), ctx.url.as_ref()) else {
            return false;
        };
        let Ok(uri) = referer.parse::<http::Uri>() else {
            return false;
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return false;
        };
        if format!("{scheme}://{}", authority.as_str()) == url.origin {
            return false;
        }
        let host = authority.host();
        let fapi_host = self
            .s()
            .frontend_api_url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_owned))
            .unwrap_or_default();
        let known = host == fapi_host
            || host.ends_with(".accounts.dev")
            || host.ends_with(".accountsstage.dev")
            || host.ends_with(".accounts.lclclerk.com")
            || host.starts_with("accounts.");
        !known
    }

    /// A development primary's answer to a satellite's sync: back to the satellite with the
    /// dev browser and `__clerk_synced=true`, when the satellite's origin is allowed.
    fn sync_back(&self, ctx: &Context, back: &str) -> Option<String> {
        let uri = back.parse::<http::Uri>().ok()?;
        let origin = format!("{}://{}", uri.scheme_str()?, uri.authority()?.as_str());
        if !self
            .s()
            .satellite_origins
            .iter()
            .any(|o| o.as_ref() == origin)
        {
            return None;
        }
        let mut extra = form_urlencoded::Serializer::new(String::new());
        if let Some(db) = &ctx.dev_browser {
            extra.append_pair(names::DEV_BROWSER, db);
        }
        extra.append_pair(names::SYNCED, "true");
        let sep = if back.contains('?') { '&' } else { '?' };
        Some(format!("{back}{sep}{}", extra.finish()))
    }

    async fn session_token_error(&self, ctx: &Context, error: VerifyError) -> RequestState {
        let expired = matches!(error, VerifyError::Expired);
        let refresh = if expired && ctx.refresh_in_cookie.is_some() && ctx.get {
            match self.refresh(ctx).await {
                Ok(state) => return state,
                Err(failure) => failure,
            }
        } else if !ctx.get {
            RefreshFailure::NonEligibleNonGet
        } else if ctx.refresh_in_cookie.is_none() {
            RefreshFailure::NonEligibleNoCookie
        } else {
            RefreshFailure::NotApplicable
        };
        let reason = match error {
            VerifyError::Expired => HandshakeReason::SessionTokenExpired(refresh),
            VerifyError::NotYetValid => HandshakeReason::SessionTokenNbf,
            VerifyError::IssuedInFuture => HandshakeReason::SessionTokenIatInTheFuture,
            other => return RequestState::signed_out(other),
        };
        self.maybe_handshake(ctx, reason, Some(error), None)
    }

    /// Clerk's `handleMaybeHandshakeStatus`: a handshake redirect when the request can take
    /// one and the loop counter allows it; signed out otherwise.
    fn maybe_handshake(
        &self,
        ctx: &Context,
        reason: HandshakeReason,
        cause: Option<VerifyError>,
        location: Option<String>,
    ) -> RequestState {
        if !ctx.eligible_for_handshake() {
            return RequestState::signed_out(
                cause.unwrap_or_else(|| VerifyError::HandshakeRequired(reason)),
            );
        }
        let location = match location {
            Some(l) => Some(l),
            None => self.handshake_url(ctx, &reason),
        };
        let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) else {
            // No URL to come back to (no `Host`): nothing to redirect with.
            return RequestState::signed_out(
                cause.unwrap_or_else(|| VerifyError::HandshakeRequired(reason)),
            );
        };
        if ctx.redirect_count >= MAX_HANDSHAKE_REDIRECTS {
            return RequestState::signed_out(VerifyError::HandshakeRedirectLoop(reason));
        }
        let mut headers = http::HeaderMap::new();
        headers.insert(LOCATION, location);
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let count = ctx.redirect_count.saturating_add(1);
        let counter = format!(
            "{}={count}; SameSite=Lax; HttpOnly; Max-Age=2",
            names::REDIRECT_COUNT
        );
        if let Ok(value) = HeaderValue::from_str(&counter) {
            headers.append(SET_COOKIE, value);
        }
        RequestState {
            status: AuthStatus::Handshake,
            outcome: AuthOutcome::Refused(VerifyError::HandshakeRequired(reason.clone())),
            handshake_reason: Some(reason),
            headers,
        }
    }

    /// Clerk's `buildRedirectToHandshake`.
    fn handshake_url(&self, ctx: &Context, reason: &HandshakeReason) -> Option<String> {
        let url = ctx
            .url
            .as_ref()?
            .without(&[names::DEV_BROWSER, names::LEGACY_DEV_BROWSER]);
        let s = self.s();
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("redirect_url", &url.href())
            .append_pair(names::API_VERSION, API_VERSION)
            .append_pair(
                names::SUFFIXED_COOKIES,
                if ctx.suffixed { "true" } else { "false" },
            )
            .append_pair(names::HANDSHAKE_REASON, &reason.to_string());
        if let Some(token) = ctx.session_token() {
            q.append_pair(names::SESSION, token);
        }
        if s.instance == InstanceType::Development {
            if let Some(db) = &ctx.dev_browser {
                q.append_pair(names::DEV_BROWSER, db);
            }
        }
        Some(format!(
            "{}/v1/client/handshake?{}",
            s.frontend_api_url,
            q.finish()
        ))
    }

    /// Clerk's `resolveHandshake`: the payload verified, its cookies set, and the session
    /// token among them verified.
    async fn resolve_handshake(&self, ctx: &Context, token: &str) -> Resolved {
        let dev = self.s().instance == InstanceType::Development;
        let directives = match self.auth.verifier().verify_handshake(token).await {
            Ok(d) => d,
            // Development: the payload came in the URL, so it can only be this app's; a
            // refusal means switched keys, and the request stops here (Clerk's SDK throws).
            Err(e) if dev => {
                return Resolved::State(RequestState::signed_out(VerifyError::InvalidHandshake(
                    Box::new(e),
                )))
            }
            Err(_) => return Resolved::FallThrough,
        };
        let (mut headers, session) = match cookie_headers(&directives) {
            Ok(h) => h,
            Err(e) if dev => return Resolved::State(RequestState::signed_out(e)),
            Err(_) => return Resolved::FallThrough,
        };
        headers.insert(
            HeaderName::from_static("access-control-allow-origin"),
            HeaderValue::from_static("null"),
        );
        headers.insert(
            HeaderName::from_static("access-control-allow-credentials"),
            HeaderValue::from_static("true"),
        );
        if dev {
            if let Some(url) = &ctx.url {
                let clean = url.without(&[
                    names::HANDSHAKE,
                    names::HANDSHAKE_HELP,
                    names::DEV_BROWSER,
                    names::HANDSHAKE_NONCE,
                ]);
                if let Ok(location) = HeaderValue::from_str(&clean.href()) {
                    headers.insert(LOCATION, location);
                    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                }
            }
        }
        if session.is_empty() {
            return Resolved::State(RequestState::from_outcome(
                AuthOutcome::Refused(VerifyError::MissingToken),
                headers,
            ));
        }
        match self.verify(&session).await {
            Ok(outcome) => Resolved::State(RequestState::from_outcome(outcome, headers)),
            Err(_) => Resolved::FallThrough,
        }
    }

    #[cfg(not(feature = "sessions"))]
    async fn refresh(&self, _ctx: &Context) -> Result<RequestState, RefreshFailure> {
        Err(RefreshFailure::MissingApiClient)
    }

    /// Clerk's `attemptRefresh`: `POST /sessions/{sid}/refresh` with the expired token and
    /// the `__refresh` cookie, the new cookies set, the new token verified.
    #[cfg(feature = "sessions")]
    async fn refresh(&self, ctx: &Context) -> Result<RequestState, RefreshFailure> {
        use crate::models::{RefreshSessionFormat, SessionRefresh};

        let Some(refresher) = &self.s().refresh else {
            return Err(RefreshFailure::MissingApiClient);
        };
        let (Some(expired), Some(refresh_token)) =
            (ctx.session_token(), ctx.refresh_in_cookie.as_deref())
        else {
            return Err(RefreshFailure::NonEligibleNoCookie);
        };
        let claims = peek(expired).ok_or(RefreshFailure::ExpiredSessionTokenDecodeFailed)?;
        let sid = claims
            .sid
            .filter(|s| !s.is_empty())
            .ok_or(RefreshFailure::ExpiredSessionTokenMissingSidClaim)?;
        if !refresher.take_call() {
            return Err(RefreshFailure::RateLimited);
        }
        let origin = ctx
            .url
            .as_ref()
            .map(|u| u.origin.clone())
            .unwrap_or_default();
        let mut request_headers = crate::models::JsonObject::new();
        for (name, value) in &ctx.request_headers {
            request_headers.insert(name.clone(), serde_json::json!([value]));
        }
        let call = refresher
            .client
            .sessions()
            .refresh(sid, expired, refresh_token, origin)
            .format(RefreshSessionFormat::Cookie)
            .request_headers(request_headers);
        let answer = match tokio::time::timeout(refresher.timeout, call.into_future()).await {
            Err(_) => return Err(RefreshFailure::Timeout),
            Ok(Err(Error::Api(api))) => {
                return Err(match api.code() {
                    Some("unexpected_error") | None => RefreshFailure::UnexpectedBapiError,
                    Some(code) => RefreshFailure::Clerk(code.to_owned()),
                })
            }
            Ok(Err(_)) => return Err(RefreshFailure::UnexpectedBapiError),
            Ok(Ok(answer)) => answer,
        };
        let SessionRefresh::Cookies(cookies) = answer else {
            return Err(RefreshFailure::UnexpectedBapiError);
        };
        if cookies.cookies.is_empty() {
            return Err(RefreshFailure::UnexpectedBapiError);
        }
        let (headers, session) =
            cookie_headers(&cookies.cookies).map_err(|_| RefreshFailure::UnexpectedBapiError)?;
        match self.verify(&session).await {
            Ok(outcome @ AuthOutcome::Authenticated(_)) => {
                Ok(RequestState::from_outcome(outcome, headers))
            }
            _ => Err(RefreshFailure::InvalidSessionToken),
        }
    }
}

// Matched at once, one per handshake: boxing the state would allocate for nothing.
#[allow(clippy::large_enum_variant)]
enum Resolved {
    State(RequestState),
    FallThrough,
}

/// The client that refreshes, and the bounds on its calls.
#[cfg(feature = "sessions")]
struct Refresher {
    client: Client,
    timeout: Duration,
    rate: u32,
    /// A token bucket: tokens left, and when it was last filled.
    bucket: Arc<Mutex<(f64, Option<Instant>)>>,
}

#[cfg(feature = "sessions")]
impl Refresher {
    fn take_call(&self) -> bool {
        let rate = f64::from(self.rate);
        let now = Instant::now();
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tokens = match bucket.1 {
            None => rate,
            Some(last) => {
                (bucket.0 + now.saturating_duration_since(last).as_secs_f64() * rate).min(rate)
            }
        };
        bucket.1 = Some(now);
        if tokens >= 1.0 {
            bucket.0 = tokens - 1.0;
            true
        } else {
            bucket.0 = tokens;
            false
        }
    }
}
