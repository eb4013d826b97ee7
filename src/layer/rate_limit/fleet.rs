//! The limiter's state in Redis, shared by every process of a fleet (feature `redis`).
//!
//! One Lua script does every step atomically with Redis's own clock (`TIME`), so the
//! processes' clocks never matter: `reserve` takes the next turn of the GCRA bucket, `confirm`
//! checks, when a queued turn comes, that no pause started meanwhile (and takes a new turn if
//! one did), `pause` records a 429's `Retry-After` for everyone, `ping` (which writes nothing)
//! asks whether Redis is back after an outage. Each process keeps a local
//! [`Bucket`]: the fallback it paces itself with while Redis is down, and the mirror of the
//! fleet's pause that every answer from Redis refreshes. See `docs/fleet.md`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::time::Instant;

use super::{Bucket, Derived, Next, RateLimitConfig, RateLimitLayer, Source, Store};
use crate::error::Attempted;
use crate::Error;

/// The answer to a turn or a check: `None` to leave now, `Some((at, source))` to sleep until
/// `at` (a turn given by `source`).
pub(super) type Answer =
    Pin<Box<dyn Future<Output = Result<Option<(Instant, Source)>, Error>> + Send>>;

/// Telling the fleet about a 429; never fails (Redis trouble switches to the fallback).
pub(super) type PauseReport = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The default prefix of the Redis key; the instance's hash follows it.
pub const DEFAULT_KEY_PREFIX: &str = "clerk-tower:rate-limit:";

/// The default bound on each Redis call, connecting included.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(200);

/// The default time between two attempts to reach Redis again while it is down.
pub const DEFAULT_RECONNECT_INTERVAL: Duration = Duration::from_secs(1);

/// The script: every read and write of the shared state, in one atomic step.
///
/// KEYS[1]: the instance's hash. ARGV: op (`reserve`, `confirm`, `pause`), the interval, the
/// tolerance (`(burst - 1) * interval`) and the window in microseconds, and for `pause` the
/// wait in microseconds. Times are Redis's `TIME` in microseconds (below 2^53, exact in Lua's
/// doubles). Every reply ends with `paused` and `ahead`: microseconds from now until the end
/// of the fleet's pause and until the bucket's arrival time (how far ahead the fleet has
/// taken turns). `reserve` and `confirm` start with the wait until the request's turn
/// (`confirm`: -1 for "leave now"); `pause` with 1 when it started a pause; `ping`, which
/// writes nothing, with 0.
const SCRIPT: &str = r"
local key = KEYS[1]
local op = ARGV[1]
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stored = redis.call('HMGET', key, 'tat', 'paused_until')
local tat = tonumber(stored[1])
local paused = tonumber(stored[2]) or 0
local function int(x) return string.format('%.0f', x) end
local function reserve()
  local at = math.max(now, paused)
  if tat then at = math.max(tat - tolerance, at) end
  local base = at
  if tat and tat > at then base = tat end
  tat = base + interval
  redis.call('HSET', key, 'tat', int(tat))
  return at
end
local function expire()
  local last = math.max(tat or now, paused)
  redis.call('PEXPIRE', key, int(math.ceil((last - now + window) / 1000)))
end
local function reply(first)
  return {first, math.max(paused - now, 0), math.max((tat or now) - now, 0)}
end
if op == 'reserve' then
  local at = reserve()
  expire()
  return reply(at - now)
elseif op == 'confirm' then
  if paused <= now then return reply(-1) end
  local at = reserve()
  expire()
  return reply(at - now)
elseif op == 'ping' then
  return reply(0)
elseif op == 'pause' then
  local till = now + tonumber(ARGV[5])
  local started = 0
  if paused <= now then
    started = 1
    redis.call('HINCRBY', key, 'pauses', 1)
  end
  if paused < till then
    paused = till
    redis.call('HSET', key, 'paused_until', int(paused))
  end
  if (not tat) or tat < till + tolerance then
    tat = till + tolerance
    redis.call('HSET', key, 'tat', int(tat))
  end
  expire()
  return reply(started)
end
return redis.error_reply('clerk-tower rate limit: unknown op')
";

/// What a process does while Redis is down or slow; see [`RedisConfig::fallback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisFallback {
    /// Each process paces itself with a local limiter at `percent` % of the limit (1 to 100),
    /// until Redis answers again. With N processes, `100 / N` keeps the fleet under the limit.
    Local {
        /// The share of the limit each process takes, in percent (1 to 100).
        percent: u8,
    },
    /// Calls fail at once with [`RateLimitUnavailable`] (inside [`Error::Middleware`]),
    /// before anything is sent, until Redis answers again.
    Refuse,
}

impl RedisFallback {
    /// [`RedisFallback::Local`] at `percent` % of the limit.
    pub const fn local(percent: u8) -> Self {
        Self::Local { percent }
    }
}

impl Default for RedisFallback {
    /// A local limiter at 25 % of the limit: a fleet of four stays under the limit.
    fn default() -> Self {
        Self::Local { percent: 25 }
    }
}

/// The error of a call refused because Redis is unreachable and the fallback is
/// [`RedisFallback::Refuse`]. Nothing was sent; it comes as [`Error::Middleware`].
///
/// ```
/// # fn demo(err: &clerk_tower::Error) {
/// use clerk_tower::layer::RateLimitUnavailable;
/// if RateLimitUnavailable::is(err) {
///     // Redis is down: try again later, or tell the user.
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitUnavailable(());

impl RateLimitUnavailable {
    /// Whether `err` is this refusal.
    pub fn is(err: &Error) -> bool {
        match err {
            Error::Middleware(source) => source.downcast_ref::<RateLimitUnavailable>().is_some(),
            _ => false,
        }
    }

    fn error() -> Error {
        Error::Middleware(Attempted::new(Arc::new(Box::new(RateLimitUnavailable(())))))
    }
}

impl fmt::Display for RateLimitUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "rate limit: the shared budget (Redis) is unreachable and the fallback is to \
             refuse; nothing was sent",
        )
    }
}

impl std::error::Error for RateLimitUnavailable {}

/// Where a fleet's shared budget lives, and what to do when Redis is down or slow: the
/// settings of [`RateLimitLayer::redis`].
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::layer::{RateLimitConfig, RateLimitLayer, RedisConfig, RedisFallback};
///
/// let key = "sk_live_example";
/// let redis = RedisConfig::new("redis://127.0.0.1:6379/", key)?
///     .timeout(Duration::from_millis(100))      // each Redis call, connecting included
///     .fallback(RedisFallback::local(25));       // 4 replicas: a quarter each while Redis is down
/// // Nothing connects yet: the first request does.
/// let limiter = RateLimitLayer::redis(RateLimitConfig::for_secret_key(key)?, redis)?;
/// assert!(limiter.redis_key().is_some_and(|k| !k.contains("example")));
/// # Ok::<(), clerk_tower::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    client: redis::Client,
    shown_url: String,
    instance: String,
    prefix: String,
    timeout: Duration,
    reconnect_interval: Duration,
    fallback: RedisFallback,
}

impl RedisConfig {
    /// The Redis at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `redis+unix:///path`), for the Clerk instance of `secret_key`. Nothing connects here.
    ///
    /// The instance is named in Redis by a hash of the key (SHA-256, 128 bits shown), never
    /// the key: processes with the same key share one budget, any other key has its own.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL redis-rs does not accept (`rediss://`, TLS, is not compiled
    /// in) and for an empty key. The message repeats neither the URL nor the key.
    pub fn new(url: &str, secret_key: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url.trim()).map_err(|_| {
            Error::config(
                "rate limit: the Redis URL is not a redis:// or redis+unix:// URL \
                 (rediss:// is not supported)",
            )
        })?;
        let secret_key = secret_key.trim();
        if secret_key.is_empty() {
            return Err(Error::config(
                "rate limit: the secret key naming the shared budget is empty",
            ));
        }
        Ok(Self {
            client,
            shown_url: redact_url(url.trim()),
            instance: instance_hash(secret_key),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_REDIS_TIMEOUT,
            reconnect_interval: DEFAULT_RECONNECT_INTERVAL,
            fallback: RedisFallback::default(),
        })
    }

    /// The bound on each Redis call, connecting included (default 200 ms, at most 60 s).
    /// Past it, the request goes to the [fallback](Self::fallback).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// While Redis is down, how often one request tries it again (default 1 s, 10 ms to
    /// 1 hour); the others go straight to the fallback without waiting for Redis.
    pub fn reconnect_interval(mut self, interval: Duration) -> Self {
        self.reconnect_interval = interval;
        self
    }

    /// What to do while Redis is down or slow (default: a local limiter at 25 % of the
    /// limit in each process).
    pub fn fallback(mut self, fallback: RedisFallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// The prefix of the Redis key (default `clerk-tower:rate-limit:`), e.g. to fit an ACL
    /// key pattern. At most 200 bytes.
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// The Redis key of the budget: the prefix and the instance's hash.
    pub fn key(&self) -> String {
        format!("{}{}", self.prefix, self.instance)
    }

    fn check(&self) -> Result<(), Error> {
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(60) {
            return Err(Error::config(
                "rate limit: the Redis timeout must be more than zero and at most 60 s",
            ));
        }
        if self.reconnect_interval < Duration::from_millis(10)
            || self.reconnect_interval > Duration::from_secs(3600)
        {
            return Err(Error::config(
                "rate limit: the Redis reconnect interval must be between 10 ms and 1 hour",
            ));
        }
        if self.prefix.len() > 200 {
            return Err(Error::config(
                "rate limit: the Redis key prefix must be at most 200 bytes",
            ));
        }
        if let RedisFallback::Local { percent } = self.fallback {
            if percent == 0 || percent > 100 {
                return Err(Error::config(
                    "rate limit: the fallback's share must be 1 to 100 percent",
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.shown_url)
            .field("key", &self.key())
            .field("timeout", &self.timeout)
            .field("reconnect_interval", &self.reconnect_interval)
            .field("fallback", &self.fallback)
            .finish()
    }
}

/// The instance's name in Redis: SHA-256 of a label and the key, the first 16 bytes in hex.
fn instance_hash(secret_key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"clerk-tower rate limit v1\n");
    ctx.update(secret_key.as_bytes());
    let digest = ctx.finish();
    digest
        .as_ref()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The URL without its password (for `Debug` and logs).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(redacted)".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}{path}", &authority[at + 1..]),
        None => url.to_owned(),
    }
}

/// Where a request takes its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// From Redis.
    Shared,
    /// From the fallback, then from Redis when it comes (just back from an outage).
    Ramp,
    /// Redis is down: from the fallback (or refused).
    Fallback,
    /// Redis is down: this request asks whether it is back.
    Probe,
}

#[derive(Debug, Default)]
struct Health {
    /// Redis failed and has not answered since.
    down: bool,
    /// While down, when one request may try Redis again.
    next_probe: Option<Instant>,
    /// How far ahead the fleet had taken turns, at the last answer from Redis: requests of
    /// every process may still be waiting for turns up to then.
    fleet_ahead: Option<Instant>,
    /// Until when, after an outage, this process also keeps to its fallback's pace.
    ramp_until: Option<Instant>,
}

/// The shared store (one per layer and its clones).
pub(super) struct RedisStore {
    client: redis::Client,
    shown_url: String,
    key: String,
    script: redis::Script,
    timeout: Duration,
    reconnect_interval: Duration,
    refuse: bool,
    interval_us: u64,
    tolerance_us: u64,
    window_us: u64,
    window: Duration,
    /// The fallback limiter, and the mirror of the fleet's pause.
    local: Bucket,
    /// The fallback's limit per window (`None` when the fallback is to refuse).
    local_limit: Option<u32>,
    conn: Mutex<Option<ConnectionManager>>,
    /// One connection attempt at a time.
    connecting: tokio::sync::Mutex<()>,
    health: Mutex<Health>,
    fallbacks: AtomicU64,
}

fn micros(d: Duration) -> Result<u64, Error> {
    // Rounded up: a slower pace, never a faster one.
    u64::try_from(d.as_nanos().div_ceil(1_000))
        .map_err(|_| Error::config("rate limit: a duration does not fit in microseconds"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RedisStore {
    fn new(config: &RateLimitConfig, derived: Derived, redis: RedisConfig) -> Result<Self, Error> {
        redis.check()?;
        let (local, local_limit, refuse) = match redis.fallback {
            RedisFallback::Local { percent } => {
                let limit = u32::try_from(
                    u64::from(config.limit)
                        .saturating_mul(u64::from(percent))
                        .div_ceil(100),
                )
                .unwrap_or(config.limit)
                .max(1);
                let burst = config.burst.min(limit);
                // The same margin, in proportion (at least the share's own default).
                let scaled = u32::try_from(
                    u64::from(config.get_headroom())
                        .saturating_mul(u64::from(percent))
                        .div_ceil(100),
                )
                .unwrap_or(u32::MAX);
                let plain = RateLimitConfig::new(limit, config.window);
                let headroom = scaled
                    .max(plain.get_headroom())
                    .min(limit.saturating_sub(burst));
                let share = plain
                    .burst(burst)
                    .headroom(headroom)
                    .max_pause(config.max_pause);
                let share_derived = share.derive().map_err(|_| {
                    Error::config(
                        "rate limit: the fallback's share of the limit is too small to pace; \
                         raise the percent",
                    )
                })?;
                (Bucket::new(share_derived), Some(share.per_window()), false)
            }
            // The mirror of the fleet's pause only.
            RedisFallback::Refuse => (Bucket::new(derived), None, true),
        };
        let interval_us = micros(derived.interval)?;
        let tolerance_us = interval_us.saturating_mul(u64::from(config.burst.saturating_sub(1)));
        Ok(Self {
            key: redis.key(),
            client: redis.client,
            shown_url: redis.shown_url,
            script: redis::Script::new(SCRIPT),
            timeout: redis.timeout,
            reconnect_interval: redis.reconnect_interval,
            refuse,
            interval_us,
            tolerance_us,
            window_us: micros(derived.window)?,
            window: derived.window,
            local,
            local_limit,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            health: Mutex::new(Health::default()),
            fallbacks: AtomicU64::new(0),
        })
    }

    fn is_down(&self) -> bool {
        lock(&self.health).down
    }

    /// Where a request called at `now` takes its turn. While Redis is down, one request per
    /// reconnect interval is the probe; the others go to the fallback without waiting.
    fn route(&self, now: Instant) -> Route {
        let mut health = lock(&self.health);
        if !health.down {
            let ramping = !self.refuse && health.ramp_until.is_some_and(|until| now < until);
            return if ramping { Route::Ramp } else { Route::Shared };
        }
        match health.next_probe {
            Some(at) if now < at => Route::Fallback,
            _ => {
                health.next_probe = now.checked_add(self.reconnect_interval);
                Route::Probe
            }
        }
    }

    /// Redis failed: to the fallback, logged once per outage.
    fn failed(&self, now: Instant, why: &str) {
        let mut health = lock(&self.health);
        health.next_probe = now.checked_add(self.reconnect_interval);
        if health.down {
            return;
        }
        health.down = true;
        let from = health.fleet_ahead.map_or(now, |ahead| ahead.max(now));
        drop(health);
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        // The turns Redis already gave (to every process) still leave: the fallback starts
        // after the last of them, without a burst.
        self.local.start_paced(from);
        #[cfg(feature = "tracing")]
        match self.local_limit {
            Some(limit) => tracing::warn!(
                target: "clerk_tower",
                redis = %self.shown_url,
                error = why,
                fallback_per_window = limit,
                "rate limit: Redis unreachable; pacing this process with a local limiter until it answers again"
            ),
            None => tracing::warn!(
                target: "clerk_tower",
                redis = %self.shown_url,
                error = why,
                "rate limit: Redis unreachable; refusing calls until it answers again"
            ),
        }
        #[cfg(not(feature = "tracing"))]
        let _ = why;
    }

    /// Redis answered `reply` at `now`: the fleet's pause and how far ahead it has taken
    /// turns.
    fn succeeded(&self, now: Instant, reply: [i64; 3]) {
        let [_, paused_us, ahead_us] = reply;
        self.mirror_pause(now, paused_us);
        let ahead = u64::try_from(ahead_us)
            .ok()
            .and_then(|us| now.checked_add(Duration::from_micros(us)));
        let mut health = lock(&self.health);
        health.fleet_ahead = ahead;
        if health.down {
            health.down = false;
            health.next_probe = None;
            // Redis does not know what the other processes sent on their fallbacks (nor, after
            // a restart, anything at all): for one window, this process keeps to its
            // fallback's pace as well, so that the fleet stays within the sum of the shares
            // until every process is back on the shared budget.
            health.ramp_until = Instant::now().checked_add(self.window);
            drop(health);
            #[cfg(feature = "tracing")]
            tracing::info!(
                target: "clerk_tower",
                redis = %self.shown_url,
                "rate limit: Redis answers again; back to the shared budget"
            );
        }
    }

    /// A turn from the fallback (or the refusal).
    fn fallback_turn(&self, now: Instant) -> Result<Option<(Instant, Source)>, Error> {
        if self.refuse {
            Err(RateLimitUnavailable::error())
        } else {
            Ok(Some((self.local.reserve(now), Source::Fallback)))
        }
    }

    /// The fleet's pause, as Redis reported it: `remaining` microseconds from now.
    fn mirror_pause(&self, now: Instant, remaining_us: i64) {
        let Ok(remaining) = u64::try_from(remaining_us) else {
            return;
        };
        if remaining == 0 {
            return;
        }
        if let Some(until) = now.checked_add(Duration::from_micros(remaining)) {
            self.local.pause(now, until);
        }
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        if let Some(conn) = lock(&self.conn).clone() {
            return Ok(conn);
        }
        let _one = self.connecting.lock().await;
        if let Some(conn) = lock(&self.conn).clone() {
            return Ok(conn);
        }
        // One attempt per connect (no retries of its own): the reconnect interval paces the
        // attempts while Redis is down. Once made, the manager reconnects by itself after a
        // dropped connection, at the next command.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let conn = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        *lock(&self.conn) = Some(conn.clone());
        Ok(conn)
    }

    /// One run of the script, bounded by the timeout (connecting included).
    async fn run(&self, op: &str, pause_us: u64) -> Result<[i64; 3], String> {
        let call = async {
            let mut conn = self.connection().await?;
            self.script
                .key(&self.key)
                .arg(op)
                .arg(self.interval_us)
                .arg(self.tolerance_us)
                .arg(self.window_us)
                .arg(pause_us)
                .invoke_async::<Vec<i64>>(&mut conn)
                .await
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(reply)) => match reply[..] {
                [a, b, c] => Ok([a, b, c]),
                _ => Err("unexpected reply from the rate limit script".to_owned()),
            },
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn ask_reserve(&self) -> Result<Option<(Instant, Source)>, Error> {
        match self.run("reserve", 0).await {
            Ok(reply) => {
                let now = Instant::now();
                self.succeeded(now, reply);
                Ok(u64::try_from(reply[0])
                    .ok()
                    .filter(|us| *us > 0)
                    .and_then(|us| now.checked_add(Duration::from_micros(us)))
                    .map(|at| (at, Source::Shared)))
            }
            Err(why) => {
                let now = Instant::now();
                self.failed(now, &why);
                self.fallback_turn(now)
            }
        }
    }

    async fn ask_confirm(&self) -> Result<Option<(Instant, Source)>, Error> {
        match self.run("confirm", 0).await {
            Ok(reply) => {
                let now = Instant::now();
                self.succeeded(now, reply);
                if reply[0] < 0 {
                    return Ok(None);
                }
                Ok(now
                    .checked_add(Duration::from_micros(reply[0].unsigned_abs()))
                    .map(|at| (at, Source::Shared)))
            }
            Err(why) => {
                // The turn was the shared budget's (the fallback starts after it): it
                // leaves, unless this process knows of a pause.
                let now = Instant::now();
                self.failed(now, &why);
                if self.local.still_open(now) {
                    Ok(None)
                } else {
                    self.fallback_turn(now)
                }
            }
        }
    }

    /// While Redis is down: is it back? The request that asks waits for the answer (one
    /// timeout at most), then takes a turn of the fallback (which becomes a shared turn when
    /// it comes, if Redis is back), or of the shared budget when the fallback is to refuse.
    async fn probe(&self) -> Result<Option<(Instant, Source)>, Error> {
        match self.run("ping", 0).await {
            Ok(reply) => {
                self.succeeded(Instant::now(), reply);
                if self.refuse {
                    return self.ask_reserve().await;
                }
            }
            Err(why) => self.failed(Instant::now(), &why),
        }
        self.fallback_turn(Instant::now())
    }

    /// A turn of the shared budget.
    fn reserve_shared(self: &Arc<Self>) -> Next {
        let store = Arc::clone(self);
        Next::Ask(Box::pin(async move { store.ask_reserve().await }))
    }

    /// A request is called at `now`.
    pub(super) fn reserve(self: &Arc<Self>, now: Instant) -> Next {
        match self.route(now) {
            Route::Shared => return self.reserve_shared(),
            Route::Probe => {
                let store = Arc::clone(self);
                return Next::Ask(Box::pin(async move { store.probe().await }));
            }
            // Back from an outage less than a window ago: a turn of the fallback first, then
            // one of the shared budget when it comes (`at_turn`), so the request is paced by
            // both and recorded in Redis when it leaves. Or Redis is down: the fallback.
            Route::Ramp | Route::Fallback => {}
        }
        match self.fallback_turn(now) {
            Ok(Some((at, source))) => Next::Sleep(at, source),
            Ok(None) => Next::Go,
            Err(err) => Next::Ask(Box::pin(std::future::ready(Err(err)))),
        }
    }

    /// A request's turn, given by `source`, came at `now`.
    pub(super) fn at_turn(self: &Arc<Self>, now: Instant, queued: bool, source: Source) -> Next {
        if !self.local.still_open(now) {
            // A pause this process knows of: a new turn after it.
            return self.reserve(now);
        }
        match source {
            Source::Shared if queued && !self.is_down() => {
                // A pause may have started elsewhere while this request waited.
                let store = Arc::clone(self);
                Next::Ask(Box::pin(async move { store.ask_confirm().await }))
            }
            // Redis answers again: a turn from the fallback becomes a turn of the shared
            // budget, so the process does not add its fallback's pace to its share.
            Source::Fallback if !self.is_down() => self.reserve_shared(),
            _ => Next::Go,
        }
    }

    /// A 429 came back: the pause here at once, and for the fleet through Redis.
    pub(super) fn pause(
        self: &Arc<Self>,
        now: Instant,
        until: Instant,
        wait: Duration,
    ) -> (bool, Option<PauseReport>) {
        let started = self.local.pause(now, until);
        if self.is_down() {
            return (started, None);
        }
        let store = Arc::clone(self);
        let wait_us = micros(wait).unwrap_or(u64::MAX);
        let report: PauseReport = Box::pin(async move {
            match store.run("pause", wait_us).await {
                Ok(reply) => store.succeeded(Instant::now(), reply),
                Err(why) => store.failed(Instant::now(), &why),
            }
        });
        (started, Some(report))
    }

    pub(super) fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.local.paused_until(now)
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.shown_url)
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .field("fallback_per_window", &self.local_limit)
            .field("down", &self.is_down())
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer {
    /// A layer whose state lives in Redis, shared by every process (and every layer) that
    /// uses the same Redis and the same secret key; see `docs/fleet.md`.
    ///
    /// The same placement as [`RateLimitLayer::new`] (an attempt layer is the one to use), the
    /// same pacing (a GCRA bucket, at most `limit - headroom` requests in any window, for the
    /// whole fleet) and the same 429 pause, for every process at once. Each request costs one
    /// Redis round trip (two when it had to queue). Nothing connects here: the first request
    /// does. While Redis is down or slower than [`RedisConfig::timeout`], requests follow the
    /// [`RedisConfig::fallback`].
    ///
    /// Every process of the fleet should use the same [`RateLimitConfig`].
    ///
    /// # Errors
    /// [`Error::Config`] as [`RateLimitLayer::new`], and for bad [`RedisConfig`] settings (a
    /// timeout of zero or over 60 s, a reconnect interval outside 10 ms to 1 hour, a fallback
    /// share of 0 or over 100 %, or too small to pace).
    pub fn redis(config: RateLimitConfig, redis: RedisConfig) -> Result<Self, Error> {
        let derived = config.derive()?;
        let store = RedisStore::new(&config, derived, redis)?;
        Ok(Self::with_store(
            config,
            derived,
            Store::Redis(Arc::new(store)),
        ))
    }

    /// How many times this limiter fell back because Redis was down or slow (once per
    /// outage); 0 for a local limiter.
    pub fn fallbacks(&self) -> u64 {
        match &self.shared.store {
            Store::Redis(store) => store.fallbacks.load(Ordering::Relaxed),
            Store::Local(_) => 0,
        }
    }

    /// Whether this limiter is on its fallback now (Redis failed and has not answered
    /// since); always `false` for a local limiter.
    pub fn on_fallback(&self) -> bool {
        match &self.shared.store {
            Store::Redis(store) => store.is_down(),
            Store::Local(_) => false,
        }
    }

    /// The Redis key of the shared budget (`None` for a local limiter).
    pub fn redis_key(&self) -> Option<&str> {
        match &self.shared.store {
            Store::Redis(store) => Some(&store.key),
            Store::Local(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_names_the_instance_by_a_hash() {
        let a = RedisConfig::new("redis://127.0.0.1/", "sk_live_secretvalue").unwrap();
        let b = RedisConfig::new("redis://127.0.0.1/", " sk_live_secretvalue ").unwrap();
        let c = RedisConfig::new("redis://127.0.0.1/", "sk_live_othervalue").unwrap();
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        assert!(a.key().starts_with(DEFAULT_KEY_PREFIX));
        assert_eq!(a.key().len(), DEFAULT_KEY_PREFIX.len() + 32);
        assert!(!a.key().contains("secret"));
        assert!(!format!("{a:?}").contains("secret"));
        let d = a.clone().key_prefix("app1:");
        assert!(d.key().starts_with("app1:") && d.key().ends_with(&a.key()[a.key().len() - 32..]));
    }

    #[test]
    fn bad_settings_are_config_errors_that_repeat_nothing() {
        let config = RateLimitConfig::new(100, Duration::from_secs(10));
        for url in ["http://x", "not a url", "rediss://127.0.0.1/"] {
            let err = RedisConfig::new(url, "sk_test_x").unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{url}");
            assert!(!err.to_string().contains(url), "{err}");
        }
        assert!(RedisConfig::new("redis://127.0.0.1/", " ").is_err());
        let ok = RedisConfig::new("redis://127.0.0.1/", "sk_test_x").unwrap();
        for bad in [
            ok.clone().timeout(Duration::ZERO),
            ok.clone().timeout(Duration::from_secs(61)),
            ok.clone().reconnect_interval(Duration::from_millis(1)),
            ok.clone().fallback(RedisFallback::local(0)),
            ok.clone().fallback(RedisFallback::local(101)),
            ok.clone().key_prefix(&"x".repeat(201)),
        ] {
            assert!(
                matches!(
                    RateLimitLayer::redis(config, bad.clone()),
                    Err(Error::Config(_))
                ),
                "{bad:?}"
            );
        }
        // 1 % of a limit of 3, burst 3: a limit of 1 with a burst of 1, no headroom: fine.
        let tiny = RateLimitConfig::new(3, Duration::from_secs(1)).burst(2);
        assert!(RateLimitLayer::redis(tiny, ok.clone().fallback(RedisFallback::local(1))).is_ok());
        assert!(RateLimitLayer::redis(config, ok.fallback(RedisFallback::Refuse)).is_ok());
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("redis://user:hunter2@cache.internal:6380/2"),
            "redis://***@cache.internal:6380/2"
        );
        assert_eq!(redact_url("redis://:p@ss@h/"), "redis://***@h/");
        assert_eq!(redact_url("redis://h:1/"), "redis://h:1/");
        let config = RedisConfig::new("redis://user:hunter2@127.0.0.1:6380/", "sk_test_x").unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        let layer = RateLimitLayer::redis(RateLimitConfig::clerk_development(), config).unwrap();
        assert!(!format!("{layer:?}").contains("hunter2"));
        assert_eq!(layer.fallbacks(), 0);
        assert!(!layer.on_fallback());
    }
}
