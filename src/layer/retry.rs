//! Retries that respect Clerk's rate limits and never repeat a create by accident.
//!
//! [`RetryConfig`] sets how the client retries; the client's call service (which also owns
//! the call's deadlines) asks the retry policy after each failed attempt. It decides from what
//! happened and from the request's [`OperationInfo`](crate::OperationInfo) (is it
//! idempotent?):
//!
//! | outcome | retried? | delay |
//! |---|---|---|
//! | 2xx | no (deposits into the retry budget) | |
//! | connect error (the request was never written) | any operation | backoff |
//! | other transport error, attempt timeout | idempotent only (GET, DELETE) | backoff |
//! | 429 Too Many Requests | any operation (Clerk rejected it before doing any work) | max(`Retry-After`, backoff) |
//! | 500, 502, 503, 504 | idempotent only: a create may already have happened | `Retry-After` if sent, else backoff |
//! | any other status, decode errors, body too large | never | |
//!
//! A retry is never started when its wait would pass the call's [`Deadline`](crate::Deadline)
//! (set by the total timeout): the call ends at once with the error it has, `Retry-After`
//! included, so the caller can schedule its own retry. Every retry withdraws from a budget
//! shared by all calls of a client ([`TpsBudget`]), so an outage does not turn into a retry
//! storm. The final error records how many attempts were made ([`Error::attempts`]).
//!
//! ```
//! use std::time::Duration;
//! use clerk_tower::{Client, RetryConfig};
//!
//! let config = RetryConfig::default().max_retries(5).backoff(Duration::from_millis(100), Duration::from_secs(2));
//! let client = Client::builder().secret_key("sk_test_example").retry(config).build()?;
//! # Ok::<(), clerk_tower::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use std::fmt;

use http::StatusCode;
use tower::retry::budget::{Budget, TpsBudget};
use tower::util::rng::{HasherRng, Rng};

use crate::error::{TimeoutKind, TransportErrorKind};
use crate::{Error, RequestOptions};

/// How the client retries; set it with [`ClientBuilder::retry`](crate::ClientBuilder::retry).
///
/// Defaults: 3 retries, exponential backoff from 200 ms to 5 s with jitter (each wait is
/// between the exponential base and twice it, capped at the maximum), a retry budget that
/// allows retries of up to 20 % of the requests of the last 10 s plus 10 per second, and a
/// cap of 60 s on the wait a server can ask for with `Retry-After`.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::RetryConfig;
///
/// let patient = RetryConfig::default()
///     .max_retries(6)
///     .backoff(Duration::from_millis(500), Duration::from_secs(30))
///     .budget(Duration::from_secs(10), 5, 0.1);
/// let never = RetryConfig::disabled();
/// assert_eq!(never, RetryConfig::default().max_retries(0));
/// assert_eq!(never.get_max_retries(), 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    max_retries: u32,
    min_backoff: Duration,
    max_backoff: Duration,
    budget_ttl: Duration,
    budget_min_per_sec: u32,
    budget_retry_percent: f32,
    max_retry_after: Duration,
}

/// The longest `Retry-After` honoured by default; see [`RetryConfig::max_retry_after`].
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            budget_ttl: Duration::from_secs(10),
            budget_min_per_sec: 10,
            budget_retry_percent: 0.2,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl RetryConfig {
    /// No retries: every call sends exactly one attempt. The same as `max_retries(0)`, the one
    /// setting for how many retries (a call can still ask for some with
    /// [`RequestOptions::max_retries`]).
    pub fn disabled() -> Self {
        Self::default().max_retries(0)
    }

    /// The most retries a call makes after its first attempt (default 3; 0: none).
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The exponential backoff range: the first retry waits about `min`, each next one about
    /// twice as long, never more than `max`.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }

    /// The wait before the first retry (default 200 ms); see [`backoff`](Self::backoff).
    pub fn min_backoff(mut self, min: Duration) -> Self {
        self.min_backoff = min;
        self
    }

    /// The longest wait between two attempts (default 5 s); see [`backoff`](Self::backoff).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// The longest wait a server may ask for with `Retry-After` (default 60 s). A longer one
    /// ends the call at once with the server's error, whose [`Error::retry_after`] tells the
    /// caller when to come back; so does a wait that would pass the call's deadline. Waits are
    /// computed with saturating arithmetic: no value a server sends can overflow them.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The retry budget shared by every call of a client: over a window of `ttl` (1 s ..= 60 s),
    /// retries may add `retry_percent` (0.0 ..= 1000.0) of the successful requests, plus
    /// `min_per_sec` (below `i32::MAX`) retries per second whatever happens. Values outside
    /// these ranges are an [`Error::Config`] from `build()`.
    pub fn budget(mut self, ttl: Duration, min_per_sec: u32, retry_percent: f32) -> Self {
        self.budget_ttl = ttl;
        self.budget_min_per_sec = min_per_sec;
        self.budget_retry_percent = retry_percent;
        self
    }

    /// The most retries a call makes (0: retries are off).
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The backoff range `(min, max)`.
    pub fn get_backoff(&self) -> (Duration, Duration) {
        (self.min_backoff, self.max_backoff)
    }

    /// The longest `Retry-After` honoured.
    pub fn get_max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    fn validate(&self) -> Result<(), Error> {
        if self.max_backoff.is_zero() || self.min_backoff > self.max_backoff {
            return Err(Error::config(
                "retry backoff: the maximum must be non-zero and not below the minimum",
            ));
        }
        if self.budget_ttl < Duration::from_secs(1) || self.budget_ttl > Duration::from_secs(60) {
            return Err(Error::config(
                "retry budget: the window must be between 1 s and 60 s",
            ));
        }
        if !(0.0..=1000.0).contains(&self.budget_retry_percent) {
            return Err(Error::config(
                "retry budget: retry_percent must be between 0.0 and 1000.0",
            ));
        }
        // tower's TpsBudget asserts this; refuse it here instead of panicking there.
        if self.budget_min_per_sec >= i32::MAX as u32 {
            return Err(Error::config(
                "retry budget: min_per_sec must be below 2147483647",
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Shared {
    max_retries: u32,
    min_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    budget: TpsBudget,
}

/// The retry policy of the client; see the [module docs](self).
///
/// One policy value is made per client; each call works on its own copy (its attempt count
/// and backoff state), and every copy shares the budget. The client's call service asks it
/// after each failed attempt.
#[derive(Debug, Clone)]
pub(crate) struct ClerkRetryPolicy {
    shared: Arc<Shared>,
    attempts: u32,
    backoff: Backoff,
}

/// Why an outcome may or may not be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Never,
    IdempotentOnly,
    Always,
}

/// What the policy decided about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The call ends with the error.
    Stop,
    /// Send the request again after `wait`.
    Retry { wait: Duration, reason: RetryReason },
}

/// Why an attempt is retried: the `reason` field of the client's retry events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryReason {
    Status(StatusCode),
    Connect,
    Io,
    AttemptTimeout,
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryReason::Status(status) => write!(f, "status {}", status.as_u16()),
            RetryReason::Connect => f.write_str("connect error"),
            RetryReason::Io => f.write_str("transport error"),
            RetryReason::AttemptTimeout => f.write_str("attempt timeout"),
        }
    }
}

impl ClerkRetryPolicy {
    /// A policy for `config`, with a budget of its own.
    ///
    /// # Errors
    /// [`Error::Config`] for a backoff range, budget or cap that cannot work (see the setters
    /// of [`RetryConfig`]).
    pub(crate) fn new(config: &RetryConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            shared: Arc::new(Shared {
                max_retries: config.max_retries,
                min_backoff: config.min_backoff,
                max_backoff: config.max_backoff,
                max_retry_after: config.max_retry_after,
                budget: TpsBudget::new(
                    config.budget_ttl,
                    config.budget_min_per_sec,
                    config.budget_retry_percent,
                ),
            }),
            attempts: 0,
            backoff: Backoff::default(),
        })
    }

    /// How many retries this call may make: the per-call options', else the client's.
    pub(crate) fn max_retries(&self, options: Option<&RequestOptions>) -> u32 {
        options
            .and_then(|o| o.max_retries)
            .unwrap_or(self.shared.max_retries)
    }

    /// How many attempts have failed or succeeded so far in this call.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    fn verdict(err: &Error) -> (Verdict, RetryReason) {
        match err {
            Error::Api(api) => {
                let verdict = match api.status {
                    StatusCode::TOO_MANY_REQUESTS => Verdict::Always,
                    StatusCode::INTERNAL_SERVER_ERROR
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT => Verdict::IdempotentOnly,
                    _ => Verdict::Never,
                };
                (verdict, RetryReason::Status(api.status))
            }
            Error::Transport(t) => match t.kind {
                TransportErrorKind::Connect => (Verdict::Always, RetryReason::Connect),
                TransportErrorKind::Io => (Verdict::IdempotentOnly, RetryReason::Io),
                TransportErrorKind::BodyTooLarge => (Verdict::Never, RetryReason::Io),
            },
            Error::Timeout(t) if t.kind == TimeoutKind::Attempt => {
                (Verdict::IdempotentOnly, RetryReason::AttemptTimeout)
            }
            _ => (Verdict::Never, RetryReason::Io),
        }
    }

    /// Counts a successful attempt (a deposit into the budget).
    pub(crate) fn succeeded(&mut self) {
        self.attempts = self.attempts.saturating_add(1);
        self.shared.budget.deposit();
    }

    /// Counts a failed attempt and decides whether to send the request again.
    ///
    /// `remaining` is the time left before the call's deadline (`None`: no deadline). Every
    /// wait is computed without overflow; a wait the server asks for that is longer than the
    /// configured cap, or than the time left, ends the call at once.
    pub(crate) fn decide(
        &mut self,
        err: &Error,
        idempotent: bool,
        max_retries: u32,
        remaining: Option<Duration>,
    ) -> Decision {
        self.attempts = self.attempts.saturating_add(1);
        let (verdict, reason) = Self::verdict(err);
        let allowed = match verdict {
            Verdict::Always => true,
            Verdict::IdempotentOnly => idempotent,
            Verdict::Never => false,
        };
        if !allowed || self.attempts > max_retries {
            return Decision::Stop;
        }
        let backoff = self
            .backoff
            .next(self.shared.min_backoff, self.shared.max_backoff);
        let wait = match err.retry_after() {
            Some(asked) if asked > self.shared.max_retry_after => return Decision::Stop,
            Some(asked) if reason == RetryReason::Status(StatusCode::TOO_MANY_REQUESTS) => {
                asked.max(backoff)
            }
            Some(asked) => asked,
            None => backoff,
        };
        if remaining.is_some_and(|left| wait >= left) {
            return Decision::Stop;
        }
        if !self.shared.budget.withdraw() {
            return Decision::Stop;
        }
        Decision::Retry { wait, reason }
    }
}

/// Jittered exponential backoff: the n-th wait is drawn uniformly between `min * 2^n` and
/// twice that, never above `max`. The random state is made at the first retry only.
#[derive(Debug, Clone, Default)]
struct Backoff {
    iterations: u32,
    rng: Option<HasherRng>,
}

impl Backoff {
    fn next(&mut self, min: Duration, max: Duration) -> Duration {
        let base = min
            .checked_mul(2_u32.saturating_pow(self.iterations))
            .unwrap_or(max)
            .min(max);
        self.iterations = self.iterations.saturating_add(1);
        // A fresh random state per call, so that concurrent calls do not retry in step.
        let factor = self.rng.get_or_insert_with(HasherRng::default).next_f64();
        let jitter = Duration::try_from_secs_f64(base.as_secs_f64() * factor)
            .unwrap_or(Duration::ZERO)
            .min(max.saturating_sub(base));
        base.saturating_add(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(ClerkRetryPolicy::new(&RetryConfig::default()).is_ok());
        let bad = RetryConfig::default().backoff(Duration::from_secs(2), Duration::from_secs(1));
        assert!(matches!(ClerkRetryPolicy::new(&bad), Err(Error::Config(_))));
        let split = RetryConfig::default()
            .min_backoff(Duration::from_millis(50))
            .max_backoff(Duration::from_secs(1));
        assert_eq!(
            split.get_backoff(),
            (Duration::from_millis(50), Duration::from_secs(1))
        );
        let bad = RetryConfig::default().min_backoff(Duration::from_secs(9));
        assert!(
            ClerkRetryPolicy::new(&bad).is_err(),
            "min above the default max"
        );
        let bad = RetryConfig::default().backoff(Duration::ZERO, Duration::ZERO);
        assert!(ClerkRetryPolicy::new(&bad).is_err());
        let bad = RetryConfig::default().budget(Duration::from_secs(10), 1, -1.0);
        assert!(ClerkRetryPolicy::new(&bad).is_err());
        assert_eq!(RetryConfig::disabled().get_max_retries(), 0);
        assert_eq!(RetryConfig::disabled().max_retries(2).get_max_retries(), 2);
    }

    /// One knob for "how many retries": 0 is off, on the client and per call alike; a call
    /// can ask for retries on a client that has none.
    #[test]
    fn one_knob_for_how_many_retries() {
        let off = ClerkRetryPolicy::new(&RetryConfig::disabled()).unwrap();
        assert_eq!(off.max_retries(None), 0);
        assert_eq!(
            off.max_retries(Some(&RequestOptions::new().max_retries(2))),
            2
        );
        let on = ClerkRetryPolicy::new(&RetryConfig::default()).unwrap();
        assert_eq!(
            on.max_retries(Some(&RequestOptions::new().max_retries(0))),
            0
        );
    }

    #[test]
    fn per_call_options_override() {
        let policy = ClerkRetryPolicy::new(&RetryConfig::default()).unwrap();
        assert_eq!(policy.max_retries(None), 3);
        assert_eq!(
            policy.max_retries(Some(&RequestOptions::new().max_retries(0))),
            0
        );
        assert_eq!(
            policy.max_retries(Some(&RequestOptions::new().max_retries(7))),
            7
        );
    }
}
