//! The HTTP types every layer of the stack speaks, and the request extensions that travel with
//! each call.
//!
//! Requests and responses carry their whole body as [`Bytes`] (in [`Full`]), so a request can be
//! cloned for a retry without losing its body, and a response has been read (within a size limit)
//! before any layer looks at it. Both are still `http_body::Body`, so tower-http layers fit.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::Error;

/// A request as it travels down the stack: the whole body in memory.
pub type HttpRequest = http::Request<Full<Bytes>>;

/// A response as it travels up the stack: the body has already been read, within the
/// configured size limit.
pub type HttpResponse = http::Response<Full<Bytes>>;

/// A type-erased HTTP service, `Clone + Send + Sync` (no `Buffer` needed): what
/// [`Client::http_service`](crate::Client::http_service) returns, what your layers wrap (the
/// part of the stack below them), and what a custom transport becomes.
pub type HttpService = tower::util::BoxCloneSyncService<HttpRequest, HttpResponse, Error>;

/// Per-call overrides of the client's defaults, carried in the request's extensions.
///
/// Every field left unset falls back to the client's configuration.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::RequestOptions;
///
/// // A create that must finish within 2 s, each attempt within 500 ms, and retried at most once.
/// let options = RequestOptions::new()
///     .timeout(Duration::from_secs(2))
///     .attempt_timeout(Duration::from_millis(500))
///     .max_retries(1);
/// assert_eq!(options.get_timeout(), Some(Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) max_retries: Option<u32>,
}

impl RequestOptions {
    /// Options that change nothing.
    pub const fn new() -> Self {
        Self {
            timeout: None,
            attempt_timeout: None,
            max_retries: None,
        }
    }

    /// The total time this call may take, retries and backoff sleeps included.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time each single attempt may take. An attempt that runs out is retried only for
    /// idempotent operations.
    pub const fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The maximum number of retries for this call (0: one attempt only), whatever the
    /// client's [`RetryConfig`](crate::RetryConfig) says.
    pub const fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = Some(max_retries);
        self
    }

    /// The total timeout set on these options, if any.
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The per-attempt timeout set on these options, if any.
    pub const fn get_attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    /// The retry limit set on these options, if any.
    pub const fn get_max_retries(&self) -> Option<u32> {
        self.max_retries
    }
}

/// The instant by which a call must be finished, put into the request's extensions when the
/// call has a total timeout: retries never start a wait that would outlive it, and your
/// attempt layers can read it (to pass the remaining time on, for example). A call layer of
/// yours can insert one to shorten the call's deadline (never to extend it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub(crate) instant: tokio::time::Instant,
}

impl Deadline {
    /// A deadline at `instant`.
    pub fn new(instant: tokio::time::Instant) -> Self {
        Self { instant }
    }

    /// The instant the call's total timeout ends.
    pub fn instant(&self) -> tokio::time::Instant {
        self.instant
    }

    /// The time left until the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.instant
            .saturating_duration_since(tokio::time::Instant::now())
    }
}

/// How many attempts a call made, set on a 2xx response by the retry layer when it took more
/// than one (so that a body that then fails to decode reports them all).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptCount(pub(crate) u32);
