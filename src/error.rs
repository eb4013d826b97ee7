//! The one error type of the crate.
//!
//! Every failure a call can meet is a variant of [`Error`]: the API answered with a non-2xx
//! status ([`Error::Api`]), the call ran out of time ([`Error::Timeout`]), the network failed
//! ([`Error::Transport`]), a 2xx body did not have the expected shape ([`Error::Decode`]), the
//! request was refused before any I/O ([`Error::InvalidRequest`]), the client was misconfigured
//! ([`Error::Config`]), or a user layer failed with an error of its own ([`Error::Middleware`]).
//!
//! `Error` is `Clone + Send + Sync + 'static` and two words wide. The variants that end a
//! call ([`Error::Api`], [`Error::Timeout`], [`Error::Transport`], [`Error::Decode`],
//! [`Error::Middleware`]) hold their details in an [`Attempted`], which also holds how many
//! attempts the call made: one count per error, set by the call's retry loop, the one owner
//! of it.
//!
//! # Display and `source()`
//!
//! `Display` (`{}`) says all there is in one line: for [`Error::Transport`] the network
//! error's whole chain ("could not connect to Clerk: client error (Connect): tcp connect
//! error: Connection refused"), for [`Error::Timeout`] the last attempt's error, for
//! [`Error::Middleware`] your layer's error and its causes; then ", after N attempts" when
//! the call made more than one. So [`Error`]'s `source()` is `None`: no cause is printed
//! twice by reporters that walk `source()` (`{:#}` of `anyhow`, `eyre`). The underlying
//! errors stay reachable: [`TransportError::error`], [`TimeoutError::last_error`], the
//! [`Error::Middleware`] value.
//!
//! # Logging errors without personal data
//!
//! `Debug` and the default `Display` (`{}`) of every error are safe to log: they never hold
//! the secret key, a response body, a value read from a body, the base URL, or Clerk's
//! `long_message` (which can name the identifier, an e-mail address or a phone number). They
//! do hold the status, Clerk's error `code` and short `message`, the `clerk_trace_id`, the
//! attempt count, and for a decode error the kind and position of the failure.
//!
//! The details are there when you ask for them, for a debugging session or a place that may
//! hold personal data: the alternate form (`{:#}`) adds Clerk's `long_message`;
//! [`ApiError::errors`] has every item with its `long_message` and `meta`;
//! [`ApiError::raw_body`] and [`DecodeError::body`] have the bodies.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::StatusCode;

pub use crate::models::errors::{ClerkError, ClerkErrors};

/// A boxed error as tower layers return it.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A shared, cloneable error source: what [`Error::Middleware`] holds.
pub type SharedError = Arc<BoxError>;

/// The details of an error that ended a call, and how many attempts the call made: what the
/// variants [`Error::Api`], [`Error::Timeout`], [`Error::Transport`], [`Error::Decode`] and
/// [`Error::Middleware`] hold. It derefs to the details (`api.status()`,
/// `timeout.kind()`, ...).
///
/// The count is stored here only, once per error, and set by the call's retry loop when the
/// call ends. `Display` shows the details and then, when the call made more than one
/// attempt, ", after N attempts" (as [`Error`]'s does, which adds the causes before it).
///
/// ```
/// # async fn demo(client: clerk_tower::Client) {
/// if let Err(clerk_tower::Error::Api(api)) = client.allowlist_identifiers().list().await {
///     println!("{} after {} attempts", api.status(), api.attempts());
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Attempted<E>(Box<AttemptedInner<E>>);

#[derive(Clone)]
struct AttemptedInner<E> {
    error: E,
    attempts: u32,
}

impl<E> Attempted<E> {
    /// `error`, from one attempt.
    pub(crate) fn new(error: E) -> Self {
        Self::with_attempts(error, 1)
    }

    pub(crate) fn with_attempts(error: E, attempts: u32) -> Self {
        Self(Box::new(AttemptedInner { error, attempts }))
    }

    /// How many attempts the call made (the last one ended with this error, or, for a total
    /// timeout, was cut short by it).
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// The details, without the count.
    pub fn into_inner(self) -> E {
        self.0.error
    }
}

impl<E> std::ops::Deref for Attempted<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.0.error
    }
}

impl<E: fmt::Debug> fmt::Debug for Attempted<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempted")
            .field("error", &self.0.error)
            .field("attempts", &self.0.attempts)
            .finish()
    }
}

impl<E: fmt::Display> fmt::Display for Attempted<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.error.fmt(f)?;
        if self.0.attempts > 1 {
            write!(f, ", after {} attempts", self.0.attempts)?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in a call to Clerk.
///
/// ```
/// # async fn demo(client: clerk_tower::Client) {
/// match client.allowlist_identifiers().delete("alid_123").await {
///     Ok(deleted) => println!("deleted: {}", deleted.deleted),
///     Err(e) if e.is_not_found() => println!("already gone"),
///     Err(e) => {
///         eprintln!("{e} (status {:?}, trace id {:?})", e.status(), e.clerk_trace_id());
///         if let Some(wait) = e.retry_after() {
///             eprintln!("Clerk asks us to come back in {wait:?}");
///         }
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// Clerk (or a proxy in front of it) answered with a non-2xx status.
    Api(Attempted<ApiError>),
    /// The call, or one attempt of it, ran out of time.
    Timeout(Attempted<TimeoutError>),
    /// The request could not be sent or the response could not be read.
    Transport(Attempted<TransportError>),
    /// A 2xx response whose body did not have the documented shape.
    Decode(Attempted<DecodeError>),
    /// The request was refused before any I/O: an argument is out of the range the API allows.
    InvalidRequest(Box<InvalidRequestError>),
    /// The client could not be built from its configuration.
    Config(Box<ConfigError>),
    /// A user layer failed with an error that is not one of ours.
    Middleware(Attempted<SharedError>),
    /// Auto-pagination stopped: the server kept answering pages that bring nothing new, or
    /// the next request was the one just sent (see [`crate::list`]).
    Pagination(Box<PaginationError>),
}

impl From<ApiError> for Error {
    /// An [`Error::Api`] from one attempt (for test doubles that answer as Clerk would).
    fn from(error: ApiError) -> Self {
        Error::Api(Attempted::new(error))
    }
}

impl Error {
    /// Maps an error coming back through a user layer to the typed error.
    ///
    /// Our own errors (boxed by a layer in between) come back as they were; `tower`'s timeout
    /// becomes [`Error::Timeout`]; network errors from hyper become [`Error::Transport`];
    /// anything else is kept as [`Error::Middleware`].
    pub fn from_boxed(err: BoxError) -> Self {
        let err = match err.downcast::<Error>() {
            Ok(e) => return *e,
            Err(err) => err,
        };
        let err = match err.downcast::<tower::timeout::error::Elapsed>() {
            Ok(_) => {
                return Error::Timeout(Attempted::new(TimeoutError {
                    kind: TimeoutKind::Attempt,
                    after: None,
                    last_error: None,
                }))
            }
            Err(err) => err,
        };
        if err.is::<hyper_util::client::legacy::Error>()
            || err.is::<hyper::Error>()
            || err.is::<std::io::Error>()
        {
            return Error::Transport(Attempted::new(TransportError::from_source(err)));
        }
        Error::Middleware(Attempted::new(Arc::new(err)))
    }

    pub(crate) fn invalid_request(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidRequest(Box::new(InvalidRequestError {
            field,
            message: message.into(),
        }))
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config(Box::new(ConfigError {
            message: message.into(),
        }))
    }

    /// The HTTP status of an [`Error::Api`] (or of a [`Error::Decode`]d 2xx response), if any.
    /// For a timeout, the status of the last attempt's error, if it had one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode(e) => Some(e.status),
            Error::Timeout(e) => e.last_error.as_ref().and_then(Error::status),
            _ => None,
        }
    }

    /// Whether Clerk answered 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api(e) if e.status == StatusCode::NOT_FOUND)
    }

    /// Whether this is a timeout (total or per attempt).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }

    /// Whether sending the same request again later could succeed: a 429, a 5xx, a timeout
    /// or a transport failure. Says nothing about whether a retry is *safe* (a create that
    /// timed out may already have been applied).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => {
                e.status == StatusCode::TOO_MANY_REQUESTS || e.status.is_server_error()
            }
            Error::Timeout(_) | Error::Transport(_) => true,
            _ => false,
        }
    }

    /// How long the server asked us to wait (`Retry-After`), on this error or, for a timeout,
    /// on the last attempt's error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            Error::Timeout(e) => e.last_error.as_ref().and_then(Error::retry_after),
            _ => None,
        }
    }

    /// The `clerk_trace_id` Clerk put in the error body: quote it to Clerk's support.
    pub fn clerk_trace_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.clerk_trace_id.as_deref(),
            Error::Timeout(e) => e.last_error.as_ref().and_then(Error::clerk_trace_id),
            _ => None,
        }
    }

    /// How many attempts were sent before the call ended with this error (0 when it was
    /// refused before any I/O).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Api(e) => e.attempts(),
            Error::Timeout(e) => e.attempts(),
            Error::Transport(e) => e.attempts(),
            Error::Decode(e) => e.attempts(),
            Error::Middleware(e) => e.attempts(),
            Error::InvalidRequest(_) | Error::Config(_) | Error::Pagination(_) => 0,
        }
    }

    /// The [`ApiError`], when Clerk answered with a non-2xx status.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Records how many attempts the call made: the call's retry loop does, once, on the
    /// error that ends the call.
    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        let count = match self {
            Error::Api(e) => &mut e.0.attempts,
            Error::Timeout(e) => &mut e.0.attempts,
            Error::Transport(e) => &mut e.0.attempts,
            Error::Decode(e) => &mut e.0.attempts,
            Error::Middleware(e) => &mut e.0.attempts,
            Error::InvalidRequest(_) | Error::Config(_) | Error::Pagination(_) => return,
        };
        *count = attempts;
    }
}

/// Writes `err` and its `source()` chain, each after ": ".
fn write_chain(f: &mut fmt::Formatter<'_>, err: &(dyn StdError + 'static)) -> fmt::Result {
    let mut next = Some(err);
    while let Some(e) = next {
        write!(f, ": {e}")?;
        next = e.source();
    }
    Ok(())
}

impl fmt::Display for Error {
    /// One line with everything (see the [module docs](self)): the details, the causes, and
    /// the attempt count. `{:#}` adds details that may hold personal data (Clerk's
    /// `long_message`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Display;
        let attempts = match self {
            Error::Api(e) => {
                Display::fmt(&**e, f)?;
                e.attempts()
            }
            Error::Timeout(e) => {
                // The count belongs to the call, before what its last attempt met.
                Display::fmt(e, f)?;
                if let Some(last) = &e.last_error {
                    f.write_str("; last attempt: ")?;
                    Display::fmt(last, f)?;
                }
                return Ok(());
            }
            Error::Transport(e) => {
                Display::fmt(&**e, f)?;
                write_chain(f, &**e.source)?;
                e.attempts()
            }
            Error::Decode(e) => {
                Display::fmt(&**e, f)?;
                e.attempts()
            }
            Error::InvalidRequest(e) => return Display::fmt(e, f),
            Error::Config(e) => return Display::fmt(e, f),
            Error::Pagination(e) => return Display::fmt(e, f),
            Error::Middleware(e) => {
                f.write_str("middleware error")?;
                write_chain(f, &****e)?;
                e.attempts()
            }
        };
        if attempts > 1 {
            write!(f, ", after {attempts} attempts")?;
        }
        Ok(())
    }
}

/// `source()` is `None`: `Display` already prints every cause (see the [module docs](self)).
impl StdError for Error {}

/// A non-2xx answer from Clerk, or from a proxy in front of it.
#[derive(Clone)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) errors: Vec<ClerkError>,
    pub(crate) meta: Option<serde_json::Value>,
    pub(crate) clerk_trace_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) raw_body: Option<Bytes>,
}

impl ApiError {
    /// Decodes a non-2xx response: a `ClerkErrors` JSON body becomes its items and trace id;
    /// any other body (an HTML page from a proxy, an empty body) is kept raw. When the body
    /// carries no trace id, a `Clerk-Trace-Id` response header (which Clerk also sends) is used.
    pub fn from_response(status: StatusCode, headers: &http::HeaderMap, body: Bytes) -> Self {
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let header_trace_id = || {
            headers
                .get("clerk-trace-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // A body that is not UTF-8 everywhere (one Latin-1 byte from a proxy or a bug) is read
        // with its bad bytes replaced by U+FFFD, so that its code and message are kept.
        let (parsed, lossy) = if body.is_empty() {
            (None, false)
        } else {
            match std::str::from_utf8(&body) {
                Ok(text) => (serde_json::from_str::<ClerkErrors>(text).ok(), false),
                Err(_) => (
                    serde_json::from_str::<ClerkErrors>(&String::from_utf8_lossy(&body)).ok(),
                    true,
                ),
            }
        };
        match parsed {
            Some(ClerkErrors {
                errors,
                meta,
                clerk_trace_id,
            }) => ApiError {
                status,
                errors,
                meta,
                clerk_trace_id: clerk_trace_id.or_else(header_trace_id),
                retry_after,
                raw_body: lossy.then_some(body),
            },
            None => ApiError {
                status,
                errors: Vec::new(),
                meta: None,
                clerk_trace_id: header_trace_id(),
                retry_after,
                raw_body: Some(body),
            },
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Every error item of Clerk's `ClerkErrors` body, in order (empty when the body was not
    /// Clerk JSON).
    pub fn errors(&self) -> &[ClerkError] {
        &self.errors
    }

    /// The `code` of the first error item, e.g. `"resource_not_found"`.
    pub fn code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }

    /// The top-level `meta` object of the `ClerkErrors` body, if any.
    pub fn meta(&self) -> Option<&serde_json::Value> {
        self.meta.as_ref()
    }

    /// Clerk's trace id for this failure.
    pub fn clerk_trace_id(&self) -> Option<&str> {
        self.clerk_trace_id.as_deref()
    }

    /// The wait the server asked for in `Retry-After` (seconds or an HTTP date).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The body as received, when it was not a `ClerkErrors` JSON document (an HTML error page
    /// from a proxy, plain text, an empty body), or was one only once its bytes that are not
    /// UTF-8 were replaced (the errors then hold U+FFFD in their place).
    pub fn raw_body(&self) -> Option<&Bytes> {
        self.raw_body.as_ref()
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Codes and short messages only: `long_message` and `meta` can hold personal data.
        let errors: Vec<(&str, &str)> = self
            .errors
            .iter()
            .map(|e| (e.code.as_str(), e.message.as_str()))
            .collect();
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("errors", &errors)
            .field("clerk_trace_id", &self.clerk_trace_id)
            .field("retry_after", &self.retry_after)
            .field("raw_body_len", &self.raw_body.as_ref().map(Bytes::len))
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clerk API error {}", self.status)?;
        if let Some(first) = self.errors.first() {
            write!(f, ": {} (code {})", first.message, first.code)?;
            // Only on request (`{:#}`): the long message can name the identifier.
            if let Some(long) = first.long_message.as_deref().filter(|_| f.alternate()) {
                write!(f, ": {long}")?;
            }
            if self.errors.len() > 1 {
                write!(f, " and {} more", self.errors.len() - 1)?;
            }
        } else if let Some(body) = &self.raw_body {
            write!(f, " with a non-Clerk body of {} bytes", body.len())?;
        }
        if let Some(id) = &self.clerk_trace_id {
            write!(f, ", trace id {id}")?;
        }
        if let Some(wait) = self.retry_after {
            write!(f, ", retry after {wait:?}")?;
        }
        Ok(())
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (a date in the past means 0).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Which deadline ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The whole call (all attempts and backoff sleeps) ran out of time.
    Total,
    /// One attempt ran out of time.
    Attempt,
}

/// A call, or one attempt of it, ran out of time.
#[derive(Debug, Clone)]
pub struct TimeoutError {
    pub(crate) kind: TimeoutKind,
    pub(crate) after: Option<Duration>,
    pub(crate) last_error: Option<Error>,
}

impl TimeoutError {
    pub(crate) fn new(kind: TimeoutKind, after: Duration) -> Self {
        Self {
            kind,
            after: Some(after),
            last_error: None,
        }
    }

    /// Whether the whole call or one attempt ran out of time.
    pub fn kind(&self) -> TimeoutKind {
        self.kind
    }

    /// The timeout that elapsed, when known.
    pub fn after(&self) -> Option<Duration> {
        self.after
    }

    /// What the previous attempt failed with, when time ran out during a retry (which
    /// [`Error`]'s `Display` adds).
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TimeoutKind::Total => f.write_str("the call timed out")?,
            TimeoutKind::Attempt => f.write_str("the attempt timed out")?,
        }
        if let Some(after) = self.after {
            write!(f, " after {after:?}")?;
        }
        Ok(())
    }
}

/// What kind of network failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be established: the request was never written, so it is safe
    /// to send again whatever its method.
    Connect,
    /// The connection failed after the request may have been written.
    Io,
    /// The response body was larger than the configured limit.
    BodyTooLarge,
}

/// The request could not be sent or the response could not be read.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub(crate) kind: TransportErrorKind,
    pub(crate) source: SharedError,
}

impl TransportError {
    pub(crate) fn new(kind: TransportErrorKind, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            source: Arc::new(source.into()),
        }
    }

    /// Classifies a boxed network error: connect failures are told apart from failures after
    /// the request may have been written.
    pub(crate) fn from_source(source: BoxError) -> Self {
        let kind = if is_connect_error(&*source) {
            TransportErrorKind::Connect
        } else {
            TransportErrorKind::Io
        };
        Self {
            kind,
            source: Arc::new(source),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether the request was never written (a connect failure).
    pub fn is_connect(&self) -> bool {
        self.kind == TransportErrorKind::Connect
    }

    /// The network error (hyper's, an I/O error, ...), to inspect or downcast; its message
    /// and its `source()` chain are in [`Error`]'s `Display`.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &**self.source
    }
}

fn is_connect_error(err: &(dyn StdError + 'static)) -> bool {
    if let Some(e) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
        return e.is_connect();
    }
    if let Some(e) = err.downcast_ref::<std::io::Error>() {
        return matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::NotFound
        );
    }
    false
}

impl fmt::Display for TransportError {
    /// What failed; why is [`error`](Self::error) (which [`Error`]'s `Display` adds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            TransportErrorKind::Connect => "could not connect to Clerk",
            TransportErrorKind::Io => "connection to Clerk failed",
            TransportErrorKind::BodyTooLarge => "response body too large",
        })
    }
}

/// A 2xx response whose body did not have the documented shape.
///
/// Its message says what kind of failure it was and where (line and column), never the values
/// it read; the body itself is available through [`DecodeError::body`].
#[derive(Clone)]
pub struct DecodeError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) body: Bytes,
}

impl DecodeError {
    /// The status of the response that could not be decoded.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What went wrong and where (line, column, and what was expected), without any value
    /// from the body.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The body as received.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

impl DecodeError {
    pub(crate) fn new(status: StatusCode, message: String, body: Bytes) -> Self {
        Self {
            status,
            message,
            body,
        }
    }

    /// A decode error for a JSON body that `error` refused.
    pub(crate) fn json(status: StatusCode, error: &serde_json::Error, body: Bytes) -> Self {
        Self {
            status,
            message: describe_json_error(error),
            body,
        }
    }
}

/// Describes a JSON error by its kind and position, leaving out every value from the input.
///
/// serde's messages quote what they met (`invalid type: string "ada@example.com", expected
/// i64`); only what our own types expected, and field names, are kept.
fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Io => "the body could not be read".to_owned(),
        Category::Syntax => "the body is not valid JSON".to_owned(),
        Category::Eof => "the body ends too early".to_owned(),
        Category::Data => describe_data_error(&error.to_string()),
    };
    format!("{what} at line {} column {}", error.line(), error.column())
}

fn describe_data_error(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    // What follows the last ", expected " comes from our types (a value can hold the words
    // too, but only before the last occurrence).
    let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
    let with_expected = |what: &str| match expected {
        Some(expected) => format!("{what}, expected {expected}"),
        None => what.to_owned(),
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let kind = UNEXPECTED_KINDS
                .iter()
                .find(|k| rest.starts_with(*k))
                .copied()
                .unwrap_or("value");
            return with_expected(&format!("{prefix}{kind}"));
        }
    }
    for (prefix, what) in [
        ("invalid length ", "invalid length"),
        ("unknown variant ", "unknown variant"),
        ("unknown field ", "unknown field"),
    ] {
        if message.starts_with(prefix) {
            return with_expected(what);
        }
    }
    // Field names come from our types, not from the body.
    if message.starts_with("missing field `") || message.starts_with("duplicate field `") {
        return message.to_owned();
    }
    "the body does not have the expected shape".to_owned()
}

/// How serde names what it met (`serde::de::Unexpected`'s `Display`), longest first where one
/// is a prefix of another.
const UNEXPECTED_KINDS: &[&str] = &[
    "string",
    "integer",
    "floating point",
    "boolean",
    "character",
    "byte array",
    "unit value",
    "unit variant",
    "unit",
    "Option value",
    "newtype struct",
    "newtype variant",
    "tuple variant",
    "struct variant",
    "sequence",
    "map",
    "enum",
];

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("status", &self.status)
            .field("message", &self.message)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not decode a {} response body of {} bytes: {}",
            self.status,
            self.body.len(),
            self.message
        )
    }
}

/// A request refused before any I/O.
#[derive(Debug, Clone)]
pub struct InvalidRequestError {
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

impl InvalidRequestError {
    /// The request field at fault, e.g. `"limit"`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why it was refused.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid request: `{}` {}", self.field, self.message)
    }
}

/// Why auto-pagination stopped a stream (see [`crate::list`]): the server kept answering
/// without progress, and asking again would loop.
#[derive(Debug, Clone)]
pub struct PaginationError {
    pub(crate) operation: &'static str,
    pub(crate) kind: PaginationErrorKind,
    pub(crate) pages: u32,
}

/// What the last page without progress looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaginationErrorKind {
    /// Every item on the page had been yielded before (a repeated page, an offset that is
    /// ignored, a cursor that goes back).
    NoNewItems,
    /// The request for the next page was the request just sent (a cursor that does not
    /// move).
    RequestRepeated,
}

impl PaginationError {
    /// The list operation, e.g. `"GetUserList"`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// What the last page without progress looked like.
    pub fn kind(&self) -> PaginationErrorKind {
        self.kind
    }

    /// How many pages in a row brought no progress
    /// ([`MAX_STALLED_PAGES`](crate::list::MAX_STALLED_PAGES)).
    pub fn pages(&self) -> u32 {
        self.pages
    }
}

impl fmt::Display for PaginationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            PaginationErrorKind::NoNewItems => "brought no new item",
            PaginationErrorKind::RequestRepeated => "asked for the page just read",
        };
        write!(
            f,
            "pagination of {} stopped: {} pages in a row {what}",
            self.operation, self.pages
        )
    }
}

/// The client could not be built from its configuration. The message never holds the secret.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub(crate) message: String,
}

impl ConfigError {
    /// What is wrong with the configuration.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid client configuration: {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_two_words() {
        assert!(std::mem::size_of::<Error>() <= 2 * std::mem::size_of::<usize>());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn clerk_errors_body_is_decoded() {
        let body = Bytes::from_static(
            br#"{"errors":[{"message":"a","long_message":"A long","code":"x","meta":{"k":1}},{"message":"b","long_message":"B","code":"y"}],"clerk_trace_id":"trace_1"}"#,
        );
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("3"),
        );
        let e = ApiError::from_response(StatusCode::UNPROCESSABLE_ENTITY, &headers, body);
        assert_eq!(e.errors().len(), 2);
        assert_eq!(e.code(), Some("x"));
        assert_eq!(e.errors()[1].code, "y");
        assert_eq!(e.clerk_trace_id(), Some("trace_1"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(e.raw_body().is_none());
        let shown = e.to_string();
        assert!(
            shown.contains("422") && shown.contains(": a (code x)") && shown.contains("1 more"),
            "{shown}"
        );
        assert!(
            !shown.contains("A long"),
            "long messages only on request: {shown}"
        );
        let detailed = format!("{e:#}");
        assert!(detailed.contains("A long"), "{detailed}");
    }

    #[test]
    fn non_clerk_bodies_are_kept_raw() {
        let html = Bytes::from_static(b"<html><body>502 Bad Gateway</body></html>");
        let e = ApiError::from_response(
            StatusCode::BAD_GATEWAY,
            &http::HeaderMap::new(),
            html.clone(),
        );
        assert!(e.errors().is_empty());
        assert_eq!(e.raw_body(), Some(&html));
        let mut traced = http::HeaderMap::new();
        traced.insert(
            "clerk-trace-id",
            http::HeaderValue::from_static("hdr_trace"),
        );
        let from_header = ApiError::from_response(StatusCode::BAD_GATEWAY, &traced, html.clone());
        assert_eq!(
            from_header.clerk_trace_id(),
            Some("hdr_trace"),
            "header used when the body has none"
        );
        let body_wins = ApiError::from_response(
            StatusCode::NOT_FOUND,
            &traced,
            Bytes::from_static(br#"{"errors":[],"clerk_trace_id":"body_trace"}"#),
        );
        assert_eq!(body_wins.clerk_trace_id(), Some("body_trace"));
        let empty = ApiError::from_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &http::HeaderMap::new(),
            Bytes::new(),
        );
        assert_eq!(empty.raw_body().map(Bytes::len), Some(0));
    }

    #[test]
    fn boxed_errors_map_back() {
        let original = Error::invalid_request("limit", "must be 1..=500");
        let boxed: BoxError = Box::new(original);
        assert!(matches!(Error::from_boxed(boxed), Error::InvalidRequest(_)));
        let boxed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert!(Error::from_boxed(boxed).is_timeout());
        let boxed: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        match Error::from_boxed(boxed) {
            Error::Transport(t) => assert!(t.is_connect()),
            other => panic!("unexpected {other:?}"),
        }
        let boxed: BoxError = "rate limited by my layer".into();
        assert!(matches!(Error::from_boxed(boxed), Error::Middleware(_)));
    }

    /// A user error with a cause of its own, as a layer might return.
    #[derive(Debug)]
    struct LayerFailed(std::io::Error);

    impl fmt::Display for LayerFailed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the layer failed")
        }
    }

    impl StdError for LayerFailed {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    /// The messages of `err` and of its `source()` chain, outermost first.
    fn chain(err: &Error) -> Vec<String> {
        std::iter::successors(Some(err as &(dyn StdError + 'static)), |e| (*e).source())
            .map(ToString::to_string)
            .collect()
    }

    /// No cause is printed twice: no message of the `source()` chain repeats another's, and
    /// anyhow's `{:#}` (which walks the chain) holds each of them exactly once.
    fn assert_each_cause_once(err: &Error) {
        let links = chain(err);
        for (i, a) in links.iter().enumerate() {
            for (j, b) in links.iter().enumerate() {
                assert!(i == j || !a.contains(b.as_str()), "{links:#?}");
            }
        }
        let report = format!("{:#}", anyhow::Error::from(err.clone()));
        for link in &links {
            assert_eq!(
                report.matches(link.as_str()).count(),
                1,
                "{link:?} in {report}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn display_and_source_never_print_a_cause_twice() {
        use std::sync::atomic::{AtomicU32, Ordering};

        // A connect error with a cause, as hyper-util's are.
        let refused = || {
            std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                LayerFailed(std::io::Error::other("tcp connect: connection refused")),
            )
        };
        let transport = Error::from_boxed(Box::new(refused()));
        assert!(matches!(transport, Error::Transport(_)), "{transport:?}");
        assert_each_cause_once(&transport);

        // A layer's error, with its own cause.
        let layer = Error::from_boxed(Box::new(LayerFailed(std::io::Error::other("disk full"))));
        assert!(matches!(layer, Error::Middleware(_)), "{layer:?}");
        assert_each_cause_once(&layer);

        // A call that timed out in its second attempt, after a 503.
        let calls = std::sync::Arc::new(AtomicU32::new(0));
        let client = crate::Client::builder()
            .secret_key("sk_test_x")
            .timeout(Duration::from_secs(2))
            .transport(tower::service_fn(move |_req: crate::HttpRequest| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n > 0 {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    let mut res = crate::HttpResponse::new(Bytes::from_static(b"").into());
                    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    Ok::<_, std::convert::Infallible>(res)
                }
            }))
            .build()
            .unwrap();
        let timeout = client
            .allowlist_identifiers()
            .list()
            .await
            .expect_err("the second attempt never answers");
        assert!(timeout.is_timeout(), "{timeout:?}");
        assert_eq!(timeout.attempts(), 2);
        assert_eq!(timeout.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_each_cause_once(&timeout);

        // Every cause is there, in `{}` and in anyhow's `{:#}`, once.
        for (err, causes) in [
            (&transport, &["could not connect", "connection refused"][..]),
            (&layer, &["the layer failed", "disk full"][..]),
            (&timeout, &["timed out", "503", "after 2 attempts"][..]),
        ] {
            let report = format!("{:#}", anyhow::Error::from(err.clone()));
            for cause in causes {
                assert_eq!(err.to_string().matches(cause).count(), 1, "{cause}: {err}");
                assert_eq!(report.matches(cause).count(), 1, "{cause}: {report}");
            }
        }
    }
}
