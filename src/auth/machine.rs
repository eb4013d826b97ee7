//! Machine tokens (feature `machine_auth`): API keys, M2M tokens and OAuth access tokens, in
//! the same request check as sessions.
//!
//! - JWT-format M2M and OAuth tokens are verified locally with the instance's keys (the
//!   session [`Verifier`](super::Verifier)'s key cache): no call to Clerk.
//! - Opaque tokens (`ak_`, `mt_`, `oat_`) are verified with the Backend API's verify
//!   operations, through the client's own stack (retries, timeouts, rate limiter). Those calls
//!   are bounded: a cache of verified tokens (until their expiry, at most a TTL, bounded in
//!   entries), a negative cache of refused ones (a short TTL), one call in flight per token
//!   (single-flight), and a limit on verify calls per second for the whole verifier, so that a
//!   flood of random tokens cannot spend the instance's rate limit.
//!
//! The caches are keyed by the SHA-256 of the token, never the token; a token never appears in
//! an error, a log line or a trace of this module.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use super::cache::{token_key, TokenKey};
use super::request::TokenType;
use super::VerifyError;
use crate::error::{Attempted, TimeoutError, TimeoutKind};
use crate::models::VerifyOauthAccessTokenResponse;
use crate::{Client, Error};

/// Default number of verified machine tokens kept.
pub const DEFAULT_MACHINE_CACHE_CAPACITY: usize = 10_000;
/// Default longest time a verified machine token is trusted without asking Clerk again.
pub const DEFAULT_MACHINE_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default time a refused machine token is refused without asking Clerk again.
pub const DEFAULT_NEGATIVE_CACHE_TTL: Duration = Duration::from_secs(10);
/// Default bound on one verify call to Clerk, retries included, whatever the client's own
/// timeouts.
pub const DEFAULT_VERIFY_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on verify calls to Clerk per second (each verifier), with a burst as large.
pub const DEFAULT_VERIFY_CALLS_PER_SECOND: u32 = 20;

/// An API key (`ak_...`) that Clerk verified.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiKeyIdentity {
    /// The API key's id (`ak_...` resource id, not the secret).
    pub id: String,
    /// Whom the key belongs to: a user (`user_...`) or an organization (`org_...`).
    pub subject: String,
    /// The key's name.
    pub name: String,
    /// The scopes granted to the key.
    pub scopes: Vec<String>,
    /// The custom claims set on the key.
    pub claims: Option<Value>,
}

/// A machine-to-machine token (opaque `mt_...` or JWT) that was verified.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct M2mIdentity {
    /// The token's id (`mt_...`; a JWT's `jti`).
    pub id: String,
    /// The machine that presented it (`mch_...`).
    pub machine_id: String,
    /// The scopes: the machines this one may talk to.
    pub scopes: Vec<String>,
    /// The custom claims set on the token (opaque tokens).
    pub claims: Option<Value>,
}

/// An OAuth access token (opaque `oat_...` or JWT, `typ: at+jwt`) that was verified.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OAuthIdentity {
    /// The token's id.
    pub id: String,
    /// The user who granted the access (`user_...`).
    pub user_id: String,
    /// The OAuth application's client id.
    pub client_id: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
}

/// A verified machine caller.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MachineIdentity {
    ApiKey(ApiKeyIdentity),
    M2m(M2mIdentity),
    OAuth(OAuthIdentity),
}

/// Verifies opaque machine tokens with the Backend API, with bounded calls (see the module
/// docs). Cheap to clone; clones share their caches and limiter. Build one per Clerk
/// instance and give it to an [`Authenticator`](super::Authenticator).
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::auth::MachineVerifier;
///
/// let client = clerk_tower::Client::builder().secret_key("sk_test_example").build()?;
/// let machines = MachineVerifier::builder(client)
///     .cache_ttl(Duration::from_secs(30))
///     .verify_calls_per_second(10)
///     .build()?;
/// # Ok::<(), clerk_tower::Error>(())
/// ```
#[derive(Clone)]
pub struct MachineVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    positive: Option<quick_cache::sync::Cache<TokenKey, Arc<Positive>>>,
    negative: Option<quick_cache::sync::Cache<TokenKey, Arc<Negative>>>,
    cache_ttl: Duration,
    negative_ttl: Duration,
    call_timeout: Duration,
    in_flight: Mutex<HashMap<TokenKey, Flight>>,
    limiter: Mutex<Bucket>,
    calls_per_second: u32,
}

type Flight = watch::Receiver<Option<Result<MachineIdentity, VerifyError>>>;

struct Positive {
    identity: MachineIdentity,
    until: Instant,
}

struct Negative {
    error: VerifyError,
    until: Instant,
}

/// A token bucket: `rate` tokens a second, at most `rate` banked.
struct Bucket {
    tokens: f64,
    last: Option<Instant>,
}

impl fmt::Debug for MachineVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineVerifier")
            .field("cache", &self.inner.positive.is_some())
            .field("cache_ttl", &self.inner.cache_ttl)
            .field("negative_ttl", &self.inner.negative_ttl)
            .field("call_timeout", &self.inner.call_timeout)
            .field("verify_calls_per_second", &self.inner.calls_per_second)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MachineVerifier`]; [`build`](Self::build) checks every setting.
#[derive(Debug)]
pub struct MachineVerifierBuilder {
    client: Client,
    capacity: usize,
    cache_ttl: Duration,
    negative_ttl: Duration,
    call_timeout: Duration,
    calls_per_second: u32,
}

impl MachineVerifier {
    /// A builder: the client makes the verify calls (its secret key must be the instance's).
    pub fn builder(client: Client) -> MachineVerifierBuilder {
        MachineVerifierBuilder {
            client,
            capacity: DEFAULT_MACHINE_CACHE_CAPACITY,
            cache_ttl: DEFAULT_MACHINE_CACHE_TTL,
            negative_ttl: DEFAULT_NEGATIVE_CACHE_TTL,
            call_timeout: DEFAULT_VERIFY_CALL_TIMEOUT,
            calls_per_second: DEFAULT_VERIFY_CALLS_PER_SECOND,
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the caches know of a token, without I/O.
    pub(crate) fn cached(&self, key: &TokenKey) -> Option<Result<MachineIdentity, VerifyError>> {
        let now = Instant::now();
        if let Some(cache) = &self.inner.positive {
            if let Some(hit) = cache.get(key) {
                if now < hit.until {
                    return Some(Ok(hit.identity.clone()));
                }
                cache.remove(key);
            }
        }
        if let Some(cache) = &self.inner.negative {
            if let Some(hit) = cache.get(key) {
                if now < hit.until {
                    return Some(Err(hit.error.clone()));
                }
                cache.remove(key);
            }
        }
        None
    }

    /// Takes one verify call from the limiter, if there is one left this second.
    fn take_call(&self) -> bool {
        let rate = f64::from(self.inner.calls_per_second);
        let now = Instant::now();
        let mut bucket = Self::lock(&self.inner.limiter);
        let tokens = match bucket.last {
            None => rate,
            Some(last) => {
                let refill = now.saturating_duration_since(last).as_secs_f64() * rate;
                (bucket.tokens + refill).min(rate)
            }
        };
        bucket.last = Some(now);
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            true
        } else {
            bucket.tokens = tokens;
            false
        }
    }

    /// Verifies an opaque token of `kind` (`ak_`, `mt_`, `oat_`): from the caches, or by
    /// joining the call in flight for it, or by one call to Clerk if the limiter allows.
    pub(crate) async fn verify_opaque(
        &self,
        token: &str,
        kind: TokenType,
    ) -> Result<MachineIdentity, VerifyError> {
        let key = token_key(token);
        if let Some(cached) = self.cached(&key) {
            return cached;
        }
        // Join the call in flight for this token, or start one (the lock is not held across
        // an await).
        let (mut flight, call) = {
            let mut in_flight = Self::lock(&self.inner.in_flight);
            match in_flight.get(&key) {
                Some(flight) => (flight.clone(), None),
                None => {
                    if !self.take_call() {
                        return Err(VerifyError::MachineVerifyLimited);
                    }
                    let (tx, rx) = watch::channel(None);
                    in_flight.insert(key, rx.clone());
                    let call = Call {
                        verifier: self.clone(),
                        key,
                        tx,
                    };
                    (rx, Some(call))
                }
            }
        };
        if let Some(call) = call {
            let token = token.to_owned();
            let task = async move { call.run(&token, kind).await };
            match tokio::runtime::Handle::try_current() {
                // Its own task: a caller that gives up does not cancel the call the others
                // wait for.
                Ok(handle) => drop(handle.spawn(task)),
                Err(_) => task.await,
            }
        }
        let outcome = match flight.wait_for(Option::is_some).await {
            Ok(result) => result.clone(),
            // The call's task ended without an answer (the runtime is shutting down).
            Err(_) => None,
        };
        outcome.unwrap_or_else(|| {
            Err(VerifyError::MachineVerifyUnavailable(Error::from_boxed(
                "the machine token check was cancelled".into(),
            )))
        })
    }
}

/// One verify call in flight: stores its outcome in the caches and tells the waiters, and
/// leaves the in-flight table whatever happens to it.
struct Call {
    verifier: MachineVerifier,
    key: TokenKey,
    tx: watch::Sender<Option<Result<MachineIdentity, VerifyError>>>,
}

impl Call {
    async fn run(self, token: &str, kind: TokenType) {
        let client = &self.verifier.inner.client;
        let call = async {
            match kind {
                TokenType::ApiKey => client
                    .api_keys()
                    .verify(token)
                    .await
                    .map_err(refusal)
                    .and_then(api_key_identity),
                TokenType::M2mToken => client
                    .m2m()
                    .verify_token(token)
                    .await
                    .map_err(refusal)
                    .and_then(m2m_identity),
                TokenType::OAuthToken => client
                    .oauth_access_tokens()
                    .verify()
                    .access_token(token)
                    .await
                    .map_err(refusal)
                    .and_then(oauth_identity),
                TokenType::SessionToken => Err(VerifyError::TokenTypeNotAccepted),
            }
        };
        // The call's own bound, whatever the client's timeouts (it may have none). Only on a
        // Tokio runtime, whose timer it needs (the client needs one anyway).
        let limit = self.verifier.inner.call_timeout;
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                Err(_) => Err(VerifyError::MachineVerifyUnavailable(Error::Timeout(
                    Attempted::new(TimeoutError::new(TimeoutKind::Total, limit)),
                ))),
            }
        } else {
            call.await
        };
        let inner = &self.verifier.inner;
        let now = Instant::now();
        match &result {
            Ok((identity, expires_in)) => {
                if let Some(cache) = &inner.positive {
                    let ttl = expires_in.map_or(inner.cache_ttl, |e| e.min(inner.cache_ttl));
                    cache.insert(
                        self.key,
                        Arc::new(Positive {
                            identity: identity.clone(),
                            until: now + ttl,
                        }),
                    );
                }
            }
            // Only Clerk's word that the token is not valid is remembered; an outage, a
            // limit or our own bad secret key are not the token's fault.
            Err(error) if is_token_refusal(error) => {
                if let Some(cache) = &inner.negative {
                    cache.insert(
                        self.key,
                        Arc::new(Negative {
                            error: error.clone(),
                            until: now + inner.negative_ttl,
                        }),
                    );
                }
            }
            Err(_) => {}
        }
        self.tx
            .send_replace(Some(result.map(|(identity, _)| identity)));
        // Dropping `self` leaves the in-flight table.
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        MachineVerifier::lock(&self.verifier.inner.in_flight).remove(&self.key);
        if self.tx.borrow().is_none() {
            self.tx
                .send_replace(Some(Err(VerifyError::MachineVerifyUnavailable(
                    Error::from_boxed("the machine token check was cancelled".into()),
                ))));
        }
    }
}

fn is_token_refusal(error: &VerifyError) -> bool {
    matches!(
        error,
        VerifyError::MachineTokenInvalid | VerifyError::MachineTokenRevoked | VerifyError::Expired
    )
}

/// Clerk's answer to a verify call that failed: 400, 404 or 422 say the token is not valid;
/// anything else (401/403: our secret key; 429, 5xx, timeouts, the network) is not the
/// token's fault.
fn refusal(error: Error) -> VerifyError {
    match error.status().map(|s| s.as_u16()) {
        Some(400 | 404 | 422) => VerifyError::MachineTokenInvalid,
        _ => VerifyError::MachineVerifyUnavailable(error),
    }
}

type Verified = (MachineIdentity, Option<Duration>);

/// How long until an expiration given in Unix milliseconds; `Err(Expired)` when past.
fn expires_in(expiration_ms: Option<f64>) -> Result<Option<Duration>, VerifyError> {
    let Some(ms) = expiration_ms else {
        return Ok(None);
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let left = (ms - now_ms) / 1000.0;
    if !left.is_finite() || left <= 0.0 {
        return Err(VerifyError::Expired);
    }
    Ok(Some(
        Duration::try_from_secs_f64(left).unwrap_or(Duration::MAX),
    ))
}

fn api_key_identity(r: crate::models::VerifyApiKeyResponse) -> Result<Verified, VerifyError> {
    if r.revoked {
        return Err(VerifyError::MachineTokenRevoked);
    }
    if r.expired {
        return Err(VerifyError::Expired);
    }
    let left = expires_in(r.expiration)?;
    Ok((
        MachineIdentity::ApiKey(ApiKeyIdentity {
            id: r.id,
            subject: r.subject,
            name: r.name,
            scopes: r.scopes,
            claims: r.claims,
        }),
        left,
    ))
}

fn m2m_identity(r: crate::models::VerifyM2mTokenResponse) -> Result<Verified, VerifyError> {
    if r.revoked {
        return Err(VerifyError::MachineTokenRevoked);
    }
    if r.expired {
        return Err(VerifyError::Expired);
    }
    let left = expires_in(r.expiration)?;
    Ok((
        MachineIdentity::M2m(M2mIdentity {
            id: r.id,
            machine_id: r.subject,
            scopes: r.scopes.unwrap_or_default(),
            claims: r.claims,
        }),
        left,
    ))
}

fn oauth_identity(r: VerifyOauthAccessTokenResponse) -> Result<Verified, VerifyError> {
    let VerifyOauthAccessTokenResponse::Response1(r) = r else {
        // `{"active": false}`, or a shape this version does not know: not a valid token.
        return Err(VerifyError::MachineTokenInvalid);
    };
    if r.revoked {
        return Err(VerifyError::MachineTokenRevoked);
    }
    if r.expired {
        return Err(VerifyError::Expired);
    }
    let left = expires_in(r.expiration)?;
    Ok((
        MachineIdentity::OAuth(OAuthIdentity {
            id: r.id,
            user_id: r.subject,
            client_id: r.client_id,
            scopes: r.scopes,
        }),
        left,
    ))
}

/// The identity of a JWT-format machine token whose signature and times were checked.
pub(crate) fn jwt_identity(
    kind: TokenType,
    mut claims: Map<String, Value>,
) -> Result<MachineIdentity, VerifyError> {
    let text = |claims: &mut Map<String, Value>, name: &'static str| match claims.remove(name) {
        Some(Value::String(s)) => Ok(Some(s)),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    };
    let sub = text(&mut claims, "sub")?.ok_or(VerifyError::MissingClaim("sub"))?;
    let id = text(&mut claims, "jti")?.unwrap_or_default();
    let words = |s: Option<String>| -> Vec<String> {
        s.map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    match kind {
        TokenType::M2mToken => {
            if !sub.starts_with("mch_") {
                return Err(VerifyError::NotAMachine);
            }
            let scopes = match claims.remove("scopes") {
                Some(Value::String(s)) => words(Some(s)),
                None | Some(Value::Null) => match claims.remove("aud") {
                    Some(Value::Array(items)) => items
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                },
                Some(_) => return Err(VerifyError::InvalidClaim("scopes")),
            };
            Ok(MachineIdentity::M2m(M2mIdentity {
                id,
                machine_id: sub,
                scopes,
                claims: None,
            }))
        }
        TokenType::OAuthToken => {
            let client_id =
                text(&mut claims, "client_id")?.ok_or(VerifyError::MissingClaim("client_id"))?;
            let scopes = words(text(&mut claims, "scope")?);
            Ok(MachineIdentity::OAuth(OAuthIdentity {
                id,
                user_id: sub,
                client_id,
                scopes,
            }))
        }
        TokenType::SessionToken | TokenType::ApiKey => Err(VerifyError::TokenTypeNotAccepted),
    }
}

impl MachineVerifierBuilder {
    /// How many verified tokens are kept (default 10 000; 0: no cache, every request asks
    /// Clerk, within the call limit).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The longest time a verified token is trusted without asking Clerk again (default 60 s,
    /// at most 1 hour): its expiry ends it first. The trade-off: a key or token revoked in
    /// the dashboard is still accepted here until its entry ends.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long a token Clerk refused is refused without asking again (default 10 s, at most
    /// 10 min; zero: no negative cache). The trade-off: a token created just after it was
    /// tried is refused for that long.
    pub fn negative_cache_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// The most verify calls a second this verifier makes to Clerk (default 20, with a burst
    /// as large; 1 to 10 000). A token that would need a call past the limit is answered 503
    /// (`machine_verify_rate_limited`) without one: a flood of random tokens costs at most
    /// this many calls a second, whatever its size.
    pub fn verify_calls_per_second(mut self, calls: u32) -> Self {
        self.calls_per_second = calls;
        self
    }

    /// The bound on one verify call, retries included (default 10 s, at most 2 min, not
    /// zero), on top of the client's own timeouts (it may have none): a call still running
    /// then is a 503 (`machine_verify_unavailable`, not cached), and the next request with
    /// that token makes a new one.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Checks every setting and builds the verifier.
    ///
    /// # Errors
    /// [`Error::Config`] when a setting is out of its bounds.
    pub fn build(self) -> Result<MachineVerifier, Error> {
        if self.call_timeout.is_zero() || self.call_timeout > Duration::from_secs(120) {
            return Err(Error::config(
                "the verify call timeout must be more than zero and at most 2 minutes",
            ));
        }
        if self.cache_ttl.is_zero() || self.cache_ttl > Duration::from_secs(3600) {
            return Err(Error::config(
                "the machine token cache TTL must be more than zero and at most 1 hour",
            ));
        }
        if self.negative_ttl > Duration::from_secs(600) {
            return Err(Error::config(
                "the negative cache TTL must be at most 10 minutes",
            ));
        }
        if !(1..=10_000).contains(&self.calls_per_second) {
            return Err(Error::config(
                "the verify calls per second must be between 1 and 10000",
            ));
        }
        if self.capacity > 10_000_000 {
            return Err(Error::config(
                "the machine token cache capacity must be at most 10 000 000",
            ));
        }
        fn cache<V: Clone>(capacity: usize) -> Option<quick_cache::sync::Cache<TokenKey, V>> {
            (capacity > 0).then(|| quick_cache::sync::Cache::new(capacity))
        }
        Ok(MachineVerifier {
            inner: Arc::new(Inner {
                client: self.client,
                positive: cache(self.capacity),
                negative: if self.negative_ttl.is_zero() {
                    None
                } else {
                    cache(self.capacity)
                },
                cache_ttl: self.cache_ttl,
                negative_ttl: self.negative_ttl,
                call_timeout: self.call_timeout,
                in_flight: Mutex::new(HashMap::new()),
                limiter: Mutex::new(Bucket {
                    tokens: 0.0,
                    last: None,
                }),
                calls_per_second: self.calls_per_second,
            }),
        })
    }
}
