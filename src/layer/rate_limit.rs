//! A client-side rate limiter that every clone of a client shares, and that pauses every
//! caller at once when Clerk answers 429.
//!
//! Clerk limits each secret key to 1,000 requests per 10 s (production keys, `sk_live_`) and
//! 100 per 10 s (development keys, `sk_test_`), and answers 429 with `Retry-After` past that.
//! tower's own `RateLimit` cannot sit in the client's stack (it is not `Clone`, and the stack is
//! copied for every call); [`RateLimitLayer`] can: its state lives behind one `Arc`, so every
//! clone of the layer, of the service and of the client draws from the same bucket.
//!
//! ```
//! use clerk_tower::layer::{RateLimitConfig, RateLimitLayer};
//!
//! let key = "sk_test_example";
//! let limiter = RateLimitLayer::new(RateLimitConfig::for_secret_key(key)?)?;
//! let client = clerk_tower::Client::builder()
//!     .secret_key(key)
//!     // An attempt layer: it counts every request Clerk counts, retries included, and sees
//!     // every 429.
//!     .layer(limiter.clone())
//!     .build()?;
//! # Ok::<(), clerk_tower::Error>(())
//! ```
//!
//! # The bucket
//!
//! A token bucket in its GCRA form (one "theoretical arrival time" instead of a token count):
//! it holds [`burst`](RateLimitConfig::burst) tokens and refills one every
//! `window / (limit - headroom - burst + 1)`. In any interval as long as the window it lets
//! through at most `limit - headroom` requests, whatever the interval's start, so it is safe
//! against a server that counts in a sliding window as much as one that counts in fixed
//! windows. The [`headroom`](RateLimitConfig::headroom) (by default 1 % of the limit, at least
//! one request) absorbs the jitter between the moment a request leaves the limiter and the
//! moment it reaches Clerk. Over a long run the rate is `(limit - headroom - burst + 1)` per
//! window: 99.0 % of Clerk's limit for the presets.
//!
//! A request takes its turn when it is called (first come, first served) and waits for it in
//! its future; a call dropped before its turn leaves its slot unused (the limiter errs on the
//! side of sending less). The wait is part of the call, so it counts against the call's
//! timeouts: bound the number of calls in flight (the sync does) rather than queueing
//! thousands.
//!
//! # 429: one pause for everyone
//!
//! When an [`Error`] with status 429 comes back through the limiter, it pauses: no request
//! leaves before `now + Retry-After` (a whole window when the answer has no `Retry-After`;
//! never longer than [`max_pause`](RateLimitConfig::max_pause)), and the requests that were
//! waiting for a turn before then take new turns after it, paced again from there. Several
//! 429s arriving together extend one pause; they do not stack.
//!
//! # Call layer or attempt layer
//!
//! - As an **attempt layer** ([`ClientBuilder::layer`](crate::ClientBuilder::layer)) it counts
//!   what Clerk counts: every request on the wire, retries included, and it sees each 429
//!   (the retry loop above it waits for `Retry-After` too, and its retry then waits for the
//!   limiter's turn). This is the recommended place.
//! - As a **call layer** ([`ClientBuilder::call_layer`](crate::ClientBuilder::call_layer)) it
//!   counts calls, not attempts (a call retried twice counts once) and sees a 429 only when a
//!   call ends with it. Use it to pace calls when retries are rare or disabled.
//! - Over a typed service (`client.service::<O>()`) it limits that service only.
//!
//! # A fleet
//!
//! This bucket lives in one process. With the `redis` feature, `RateLimitLayer::redis` keeps
//! the same bucket and the same pause in Redis, so that every process using the same Redis
//! and secret key (replicas, workers, sync jobs) draws from one budget, with a bounded timeout
//! on every Redis call and a local fallback while Redis is down (`RedisConfig`; the crate's
//! `docs/fleet.md`). Both are one store behind the same layer: the turn of each request, the
//! check when it comes and the 429 pause are decided there, in one place.
//!
//! All timing uses `tokio::time`, so tests with paused time are exact (the Redis store's
//! turns are measured on Redis's clock).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use http::StatusCode;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::util::Oneshot;
use tower_layer::Layer;
use tower_service::Service;

use crate::Error;

#[cfg(feature = "redis")]
mod fleet;
#[cfg(feature = "redis")]
pub use fleet::{
    RateLimitUnavailable, RedisConfig, RedisFallback, DEFAULT_KEY_PREFIX,
    DEFAULT_RECONNECT_INTERVAL, DEFAULT_REDIS_TIMEOUT,
};

/// Clerk's published limit for production secret keys (`sk_live_`): 1,000 requests per 10 s.
pub const CLERK_PRODUCTION_LIMIT: (u32, Duration) = (1_000, Duration::from_secs(10));

/// Clerk's published limit for development secret keys (`sk_test_`): 100 requests per 10 s.
pub const CLERK_DEVELOPMENT_LIMIT: (u32, Duration) = (100, Duration::from_secs(10));

/// The longest window (and pause) the limiter takes: 24 hours.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest pause a 429 causes by default; see [`RateLimitConfig::max_pause`].
pub const DEFAULT_MAX_PAUSE: Duration = Duration::from_secs(60);

/// How fast a [`RateLimitLayer`] lets requests through; see the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::layer::RateLimitConfig;
///
/// let production = RateLimitConfig::clerk_production();      // 1,000 per 10 s
/// assert_eq!(production.limit(), 1_000);
/// let dev = RateLimitConfig::for_secret_key("sk_test_abc")?;  // 100 per 10 s
/// assert_eq!(dev.window(), Duration::from_secs(10));
/// // A custom rate: 20 per second, bursts of 5, two requests of headroom per window.
/// let custom = RateLimitConfig::new(20, Duration::from_secs(1)).burst(5).headroom(2);
/// assert_eq!(custom.per_window(), 20 - 2);
/// # Ok::<(), clerk_tower::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    limit: u32,
    window: Duration,
    burst: u32,
    headroom: Option<u32>,
    max_pause: Duration,
}

impl RateLimitConfig {
    /// At most `limit` requests in any interval of `window` (minus the
    /// [`headroom`](Self::headroom)). Checked when the layer is made.
    pub const fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            burst: 1,
            headroom: None,
            max_pause: DEFAULT_MAX_PAUSE,
        }
    }

    /// Clerk's limit for production keys: 1,000 requests per 10 s.
    pub const fn clerk_production() -> Self {
        Self::new(CLERK_PRODUCTION_LIMIT.0, CLERK_PRODUCTION_LIMIT.1)
    }

    /// Clerk's limit for development keys: 100 requests per 10 s.
    pub const fn clerk_development() -> Self {
        Self::new(CLERK_DEVELOPMENT_LIMIT.0, CLERK_DEVELOPMENT_LIMIT.1)
    }

    /// The preset for a secret key: [`clerk_production`](Self::clerk_production) for
    /// `sk_live_` keys, [`clerk_development`](Self::clerk_development) for `sk_test_` keys.
    ///
    /// # Errors
    /// [`Error::Config`] for any other key (the message never repeats the key).
    pub fn for_secret_key(secret_key: &str) -> Result<Self, Error> {
        let key = secret_key.trim();
        if key.starts_with("sk_live_") {
            Ok(Self::clerk_production())
        } else if key.starts_with("sk_test_") {
            Ok(Self::clerk_development())
        } else {
            Err(Error::config(
                "rate limit: the secret key starts with neither sk_live_ nor sk_test_; \
                 give the limit with RateLimitConfig::new",
            ))
        }
    }

    /// How many requests may leave at once after a quiet period (default 1: requests are
    /// evenly paced). Each token of burst is taken from the sustained rate, so that no
    /// interval of one window ever holds more than the limit: a larger burst suits an
    /// interactive application, a burst of 1 a long batch job.
    pub const fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// How many requests of each window are left unused, as a margin for the time between
    /// the limiter and Clerk (default: 1 % of the limit, at least 1 when the limit is 2 or
    /// more).
    pub const fn headroom(mut self, headroom: u32) -> Self {
        self.headroom = Some(headroom);
        self
    }

    /// The longest pause a 429 causes (default 60 s), whatever its `Retry-After` says.
    pub const fn max_pause(mut self, max_pause: Duration) -> Self {
        self.max_pause = max_pause;
        self
    }

    /// The limit per window.
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// The window.
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// The burst.
    pub const fn get_burst(&self) -> u32 {
        self.burst
    }

    /// The headroom in effect (the default when none was set).
    pub fn get_headroom(&self) -> u32 {
        self.headroom.unwrap_or(if self.limit >= 2 {
            (self.limit / 100).max(1)
        } else {
            0
        })
    }

    /// The most requests the limiter lets through in any interval of one window:
    /// `limit - headroom`.
    pub fn per_window(&self) -> u32 {
        self.limit.saturating_sub(self.get_headroom())
    }

    /// The time between two requests once the burst is spent.
    ///
    /// # Errors
    /// As [`RateLimitLayer::new`].
    pub fn interval(&self) -> Result<Duration, Error> {
        self.derive().map(|d| d.interval)
    }

    fn derive(&self) -> Result<Derived, Error> {
        if self.limit == 0 {
            return Err(Error::config("rate limit: the limit must be at least 1"));
        }
        if self.window.is_zero() || self.window > MAX_WINDOW {
            return Err(Error::config(
                "rate limit: the window must be more than zero and at most 24 hours",
            ));
        }
        if self.max_pause > MAX_WINDOW {
            return Err(Error::config(
                "rate limit: max_pause must be at most 24 hours",
            ));
        }
        let headroom = self.get_headroom();
        if self.burst == 0 {
            return Err(Error::config("rate limit: the burst must be at least 1"));
        }
        // Requests paced one interval apart, after a burst: `burst - 1 + steps` per window.
        let steps = self
            .limit
            .checked_sub(headroom)
            .and_then(|n| n.checked_sub(self.burst))
            .and_then(|n| n.checked_add(1))
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Error::config("rate limit: burst + headroom must not exceed the limit")
            })?;
        let interval = self
            .window
            .checked_div(steps)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Error::config("rate limit: the window is too short for the limit to be paced")
            })?;
        // At most `limit` (below u32::MAX), so the product fits.
        let tolerance = interval.saturating_mul(self.burst.saturating_sub(1));
        Ok(Derived {
            interval,
            tolerance,
            window: self.window,
            max_pause: self.max_pause,
        })
    }
}

/// The numbers the bucket works with, computed once.
#[derive(Debug, Clone, Copy)]
struct Derived {
    /// One token every `interval`.
    interval: Duration,
    /// How far ahead of its theoretical time a request may go: `(burst - 1) * interval`.
    tolerance: Duration,
    window: Duration,
    max_pause: Duration,
}

/// The state of one local bucket: the GCRA arrival time and the 429 pause.
#[derive(Debug, Default)]
struct State {
    /// The theoretical arrival time of the next request (GCRA); `None` before the first.
    tat: Option<Instant>,
    /// No request leaves before this instant (a 429 asked us to wait).
    paused_until: Option<Instant>,
}

/// A bucket in this process's memory: the whole state of a local limiter, and the fallback
/// (and pause mirror) of a shared one.
#[derive(Debug)]
struct Bucket {
    derived: Derived,
    state: Mutex<State>,
}

impl Bucket {
    fn new(derived: Derived) -> Self {
        Self {
            derived,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the next turn: the instant at which a request called `now` may leave.
    fn reserve(&self, now: Instant) -> Instant {
        let d = self.derived;
        let mut state = self.lock();
        let start = state.paused_until.map_or(now, |until| until.max(now));
        let at = state
            .tat
            .and_then(|tat| tat.checked_sub(d.tolerance))
            .map_or(start, |earliest| earliest.max(start));
        let base = state.tat.map_or(at, |tat| tat.max(at));
        // An instant too far to represent cannot happen with the limits checked in `derive`;
        // if it did, keeping the old value only makes the limiter stricter.
        state.tat = Some(base.checked_add(d.interval).unwrap_or(base));
        at
    }

    /// Whether a request whose turn came at `now` may leave, or must take a new turn
    /// because a pause started while it waited.
    fn still_open(&self, now: Instant) -> bool {
        self.lock().paused_until.is_none_or(|until| until <= now)
    }

    fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.lock().paused_until.filter(|until| *until > now)
    }

    /// Starts pacing after `from` without a burst: the next request leaves one interval
    /// after it at the earliest (a fallback that takes over from a shared budget in use).
    #[cfg(feature = "redis")]
    fn start_paced(&self, from: Instant) {
        let d = self.derived;
        let Some(tat) = from
            .checked_add(d.interval)
            .and_then(|t| t.checked_add(d.tolerance))
        else {
            return;
        };
        let mut state = self.lock();
        if state.tat.is_none_or(|current| current < tat) {
            state.tat = Some(tat);
        }
    }

    /// Nobody leaves before `until`; returns whether this started a pause (rather than
    /// extending one that was running at `now`).
    fn pause(&self, now: Instant, until: Instant) -> bool {
        let mut state = self.lock();
        let already = state.paused_until.is_some_and(|current| current > now);
        if state.paused_until.is_none_or(|current| current < until) {
            state.paused_until = Some(until);
        }
        // Restart pacing at the end of the pause: the first request leaves at `until`, the
        // next ones one interval apart (no burst right after a 429).
        if let Some(restart) = until.checked_add(self.derived.tolerance) {
            if state.tat.is_none_or(|tat| tat < restart) {
                state.tat = Some(restart);
            }
        }
        !already
    }
}

/// Where the limiter's state lives: in this process, or in Redis for a whole fleet.
///
/// Everything the limiter decides goes through here (a request's turn, the check when the
/// turn comes, the pause after a 429), so that one place owns the pacing and the pause.
enum Store {
    Local(Bucket),
    #[cfg(feature = "redis")]
    Redis(Arc<fleet::RedisStore>),
}

/// Who gave a request its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A local limiter.
    Local,
    /// The shared budget in Redis.
    #[cfg(feature = "redis")]
    Shared,
    /// The local fallback of a shared limiter, while Redis was down.
    #[cfg(feature = "redis")]
    Fallback,
}

/// What a request does next, as the store says.
enum Next {
    /// Leave now.
    Go,
    /// Sleep until this instant, then ask again ([`Shared::at_turn`]).
    Sleep(Instant, Source),
    /// Wait for the shared store's answer: `None` to leave now, `Some(at)` to sleep until
    /// `at` and ask again; an error when the store is down and the fallback is to refuse.
    #[cfg(feature = "redis")]
    Ask(fleet::Answer),
}

struct Shared {
    config: RateLimitConfig,
    derived: Derived,
    store: Store,
    /// How many pauses this limiter started (a 429 during a pause extends it, not counted).
    pauses: AtomicU64,
    /// How many requests this limiter let through.
    granted: AtomicU64,
}

impl Shared {
    /// A request is called at `now`: its turn.
    fn reserve(&self, now: Instant) -> Next {
        match &self.store {
            Store::Local(bucket) => Next::Sleep(bucket.reserve(now), Source::Local),
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.reserve(now),
        }
    }

    /// A request's turn (given by `source`) came at `now` (after a wait, when `queued`): it
    /// leaves, or takes a new turn because a pause started while it waited.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    fn at_turn(&self, now: Instant, queued: bool, source: Source) -> Next {
        match &self.store {
            Store::Local(bucket) => {
                if bucket.still_open(now) {
                    Next::Go
                } else {
                    Next::Sleep(bucket.reserve(now), Source::Local)
                }
            }
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.at_turn(now, queued, source),
        }
    }

    fn granted(&self) {
        self.granted.fetch_add(1, Ordering::Relaxed);
    }

    /// A 429 came back: nobody leaves before `now + retry_after` (capped). With a shared
    /// store, the returned future tells the fleet; the local part is done when this returns.
    fn pause(&self, now: Instant, retry_after: Option<Duration>) -> Option<PauseFuture> {
        let d = self.derived;
        let wait = retry_after.unwrap_or(d.window).min(d.max_pause);
        let until = now.checked_add(wait)?;
        let (started, shared) = match &self.store {
            Store::Local(bucket) => (bucket.pause(now, until), None),
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.pause(now, until, wait),
        };
        if started {
            self.pauses.fetch_add(1, Ordering::Relaxed);
        }
        #[cfg(feature = "tracing")]
        tracing::info!(
            target: "clerk_tower",
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            extended = !started,
            "rate limited: pausing every caller"
        );
        shared
    }

    fn paused_until(&self) -> Option<Instant> {
        let now = Instant::now();
        match &self.store {
            Store::Local(bucket) => bucket.paused_until(now),
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.paused_until(now),
        }
    }
}

/// The future that tells the fleet about a 429 (a shared store only); never fails.
#[cfg(feature = "redis")]
type PauseFuture = fleet::PauseReport;
#[cfg(not(feature = "redis"))]
type PauseFuture = std::future::Ready<()>;

/// A [`tower::Layer`] that paces requests with a bucket shared by all its clones; see the
/// [module docs](self).
///
/// Cloning the layer shares the bucket: add one clone to several clients that use the same
/// secret key, and they share the key's budget. With the `redis` feature,
/// [`RateLimitLayer::redis`] shares it with every process that uses the same Redis and key.
#[derive(Clone)]
pub struct RateLimitLayer {
    shared: Arc<Shared>,
}

impl RateLimitLayer {
    /// A layer with a bucket of its own.
    ///
    /// # Errors
    /// [`Error::Config`] for a limit of 0, a window of zero or over 24 hours, a burst of 0, a
    /// burst plus headroom over the limit, a window too short to pace the limit (an interval
    /// below a nanosecond), or a `max_pause` over 24 hours.
    pub fn new(config: RateLimitConfig) -> Result<Self, Error> {
        let derived = config.derive()?;
        Ok(Self::with_store(
            config,
            derived,
            Store::Local(Bucket::new(derived)),
        ))
    }

    fn with_store(config: RateLimitConfig, derived: Derived, store: Store) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                derived,
                store,
                pauses: AtomicU64::new(0),
                granted: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> RateLimitConfig {
        self.shared.config
    }

    /// How many pauses a 429 seen by this limiter started so far (429s that arrive during a
    /// pause extend it and are not counted; with Redis, neither are the pauses other
    /// processes started).
    pub fn pauses(&self) -> u64 {
        self.shared.pauses.load(Ordering::Relaxed)
    }

    /// Until when requests are held because of a 429, if that is still ahead of now. With
    /// Redis, as far as this process knows: a pause another process started shows here once
    /// this one has asked Redis for a turn.
    pub fn paused_until(&self) -> Option<Instant> {
        self.shared.paused_until()
    }

    /// How many requests the limiter let through so far (in this process).
    pub fn granted(&self) -> u64 {
        self.shared.granted.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("RateLimitLayer");
        s.field("config", &self.shared.config)
            .field("interval", &self.shared.derived.interval);
        #[cfg(feature = "redis")]
        if let Store::Redis(store) = &self.shared.store {
            s.field("redis", store);
        }
        s.finish_non_exhaustive()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service made by [`RateLimitLayer`]: `Clone`, and every clone shares the bucket.
///
/// It is always ready: a request takes its turn when called and waits for it in its future,
/// then waits for the inner service to be ready (on a clone of it) and calls it.
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for RateLimit<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<S> RateLimit<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, without the limiter.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, R> Service<R> for RateLimit<S>
where
    S: Service<R, Error = Error> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, R>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: R) -> Self::Future {
        let now = Instant::now();
        let state = Wait::after(self.shared.reserve(now), now);
        ResponseFuture {
            shared: Arc::clone(&self.shared),
            inner: Some(self.inner.clone()),
            request: Some(request),
            state,
        }
    }
}

pin_project! {
    /// The future of [`RateLimit`]: the wait for a turn, then the inner call.
    pub struct ResponseFuture<S, R>
    where
        S: Service<R>,
    {
        shared: Arc<Shared>,
        inner: Option<S>,
        request: Option<R>,
        #[pin]
        state: Wait<S, R>,
    }
}

pin_project! {
    #[project = WaitProj]
    enum Wait<S, R>
    where
        S: Service<R>,
    {
        // Waiting for the shared store's answer (Redis).
        Asking { answer: Answer },
        // Waiting for a turn; `queued` when the turn was ahead of the moment it was given.
        Turn { #[pin] sleep: Sleep, queued: bool, source: Source },
        // The inner call, and what to do with its answer.
        Call { #[pin] future: Oneshot<S, R> },
        // A 429 came back; telling the fleet before handing it on.
        Reporting { report: PauseFuture, result: Option<Result<S::Response, Error>> },
        Done,
    }
}

/// The shared store's answer to a turn or a check.
#[cfg(feature = "redis")]
type Answer = fleet::Answer;
#[cfg(not(feature = "redis"))]
type Answer = std::future::Ready<Result<Option<(Instant, Source)>, Error>>;

impl<S, R> Wait<S, R>
where
    S: Service<R>,
{
    /// The state for what the store said at `now`; `None` for "leave now".
    fn after(next: Next, now: Instant) -> Self {
        match next {
            // Never a turn in the past: go at once, with no check.
            Next::Go => Self::sleep(now, now, Source::Local),
            Next::Sleep(at, source) => Self::sleep(at, now, source),
            #[cfg(feature = "redis")]
            Next::Ask(answer) => Wait::Asking { answer },
        }
    }

    fn sleep(at: Instant, now: Instant, source: Source) -> Self {
        Wait::Turn {
            sleep: tokio::time::sleep_until(at),
            queued: at > now,
            source,
        }
    }
}

impl<S, R> Future for ResponseFuture<S, R>
where
    S: Service<R, Error = Error>,
{
    type Output = Result<S::Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                WaitProj::Asking { answer } => match std::task::ready!(Pin::new(answer).poll(cx)) {
                    Ok(None) => Next::Go,
                    Ok(Some((at, source))) => {
                        this.state.set(Wait::sleep(at, Instant::now(), source));
                        continue;
                    }
                    Err(err) => {
                        this.state.set(Wait::Done);
                        return Poll::Ready(Err(err));
                    }
                },
                WaitProj::Turn {
                    sleep,
                    queued,
                    source,
                } => {
                    // A turn that has come needs no timer (which would round up to the next
                    // millisecond).
                    if *queued {
                        std::task::ready!(sleep.poll(cx));
                    }
                    let (queued, source) = (*queued, *source);
                    this.shared.at_turn(Instant::now(), queued, source)
                }
                WaitProj::Call { future } => {
                    let result = std::task::ready!(future.poll(cx));
                    if let Err(err) = &result {
                        if err.status() == Some(StatusCode::TOO_MANY_REQUESTS) {
                            if let Some(report) =
                                this.shared.pause(Instant::now(), err.retry_after())
                            {
                                this.state.set(Wait::Reporting {
                                    report,
                                    result: Some(result),
                                });
                                continue;
                            }
                        }
                    }
                    this.state.set(Wait::Done);
                    return Poll::Ready(result);
                }
                WaitProj::Reporting { report, result } => {
                    std::task::ready!(Pin::new(report).poll(cx));
                    let result = result
                        .take()
                        .unwrap_or_else(|| Err(polled_after_completion()));
                    this.state.set(Wait::Done);
                    return Poll::Ready(result);
                }
                WaitProj::Done => return Poll::Ready(Err(polled_after_completion())),
            };
            // The store's word on a turn that came (or a "leave now").
            match next {
                Next::Go => {
                    let (Some(inner), Some(request)) = (this.inner.take(), this.request.take())
                    else {
                        this.state.set(Wait::Done);
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    this.shared.granted();
                    this.state.set(Wait::Call {
                        future: Oneshot::new(inner, request),
                    });
                }
                // A pause started while this request waited: a new turn.
                other => this.state.set(Wait::after(other, Instant::now())),
            }
        }
    }
}

fn polled_after_completion() -> Error {
    Error::invalid_request("future", "polled after completion")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_derived_numbers() {
        let prod = RateLimitConfig::clerk_production();
        assert_eq!(
            (prod.limit(), prod.window()),
            (1000, Duration::from_secs(10))
        );
        assert_eq!(prod.get_headroom(), 10);
        assert_eq!(prod.per_window(), 990);
        // 990 steps in 10 s.
        assert_eq!(prod.interval().unwrap(), Duration::from_secs(10) / 990);
        let dev = RateLimitConfig::clerk_development();
        assert_eq!(dev.get_headroom(), 1);
        assert_eq!(dev.interval().unwrap(), Duration::from_secs(10) / 99);
        let one = RateLimitConfig::new(1, Duration::from_secs(1));
        assert_eq!(one.get_headroom(), 0);
        assert_eq!(one.interval().unwrap(), Duration::from_secs(1));
        let burst = RateLimitConfig::new(10, Duration::from_secs(1))
            .burst(4)
            .headroom(0);
        assert_eq!(
            burst.derive().unwrap().tolerance,
            Duration::from_secs(1) / 7 * 3
        );
    }

    #[test]
    fn bad_settings_are_config_errors() {
        let secs = Duration::from_secs;
        for bad in [
            RateLimitConfig::new(0, secs(1)),
            RateLimitConfig::new(10, Duration::ZERO),
            RateLimitConfig::new(10, secs(90_000)),
            RateLimitConfig::new(10, secs(1)).burst(0),
            RateLimitConfig::new(10, secs(1)).burst(10),
            RateLimitConfig::new(10, secs(1)).headroom(10),
            RateLimitConfig::new(10, secs(1)).burst(6).headroom(5),
            RateLimitConfig::new(u32::MAX, Duration::from_nanos(1)),
            RateLimitConfig::new(10, secs(1)).max_pause(secs(90_000)),
        ] {
            assert!(
                matches!(RateLimitLayer::new(bad), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
        assert!(RateLimitLayer::new(RateLimitConfig::new(10, secs(1)).burst(9)).is_ok());
        let err = RateLimitConfig::for_secret_key("pk_live_secretish").unwrap_err();
        assert!(!err.to_string().contains("secretish"), "{err}");
        assert_eq!(
            RateLimitConfig::for_secret_key("sk_live_x").unwrap(),
            RateLimitConfig::clerk_production()
        );
    }
}
