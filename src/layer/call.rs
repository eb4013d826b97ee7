//! One whole call: the total deadline, the retry loop and the per-attempt deadline, in one
//! service whose future owns the call's state (attempt count, last error, time left).
//!
//! Keeping the three together is what lets every wait be checked against the time left, lets
//! a total timeout report how many attempts it cut short and why the last one failed, and
//! lets one tracing span cover the whole call, without any state shared between layers.
//!
//! The retry rules themselves are [`ClerkRetryPolicy`]'s; this loop asks it after each failed
//! attempt.
//!
//! Each attempt's request comes from the call's [`Attempts`]: a call started from an
//! operation (the client's call builders and services) sends the request built when it
//! started, and builds a retry's request from the operation again ([`Rebuilds`]), so the calls
//! that succeed at once copy nothing; a call started from a request (under your call layers,
//! or `Client::http_service`) sends copies of it while a retry may follow ([`Copies`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::retry::{ClerkRetryPolicy, Decision};
use crate::error::{Attempted, TimeoutError, TimeoutKind};
use crate::http::AttemptCount;
use crate::layer::BaseUrlLayer;
use crate::operation::{to_request_at, Operation};
use crate::trace::{self, CallSpan};
use crate::{Deadline, Error, HttpRequest, HttpResponse, OperationInfo, RequestOptions};

/// The client's call service: see the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct Call<S> {
    inner: S,
    config: CallConfig,
}

/// What every call of a client starts from.
#[derive(Clone, Debug)]
struct CallConfig {
    policy: ClerkRetryPolicy,
    timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
}

impl<S> Call<S> {
    pub(crate) fn new(
        inner: S,
        policy: ClerkRetryPolicy,
        timeout: Option<Duration>,
        attempt_timeout: Option<Duration>,
    ) -> Self {
        Self {
            inner,
            config: CallConfig {
                policy,
                timeout,
                attempt_timeout,
            },
        }
    }
}

/// `now + duration`, or `None` ("no limit") when that instant cannot be represented.
fn instant_after(now: Instant, duration: Duration) -> Option<Instant> {
    now.checked_add(duration)
}

impl<S> Service<HttpRequest> for Call<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error> + Clone,
{
    type Response = HttpResponse;
    type Error = Error;
    type Future = CallFuture<S, Copies>;

    /// Always ready: the call's future waits for the attempt service to be ready before each
    /// attempt (so a call layer of yours above it sees backpressure through the future).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> CallFuture<S, Copies> {
        self.config
            .start(req, self.inner.clone(), |req, _| Copies(Some(req)))
    }
}

impl<S> Call<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error> + Clone,
{
    /// Starts a call of `operation`: the one way a call starts from the client's call
    /// builders and services (through `&self`, so a call copies the stack once: into its
    /// future). The request is built at once; an operation the spec refuses is an error
    /// before any I/O. The future waits for its copy of the attempt service to be ready, then
    /// sends every attempt through it.
    ///
    /// With `base`, the requests are built with their absolute URI (see
    /// [`to_request_at`]).
    pub(crate) fn start<O: Operation>(
        &self,
        operation: O,
        options: Option<RequestOptions>,
        base: Option<&BaseUrlLayer>,
    ) -> Result<CallFuture<S, Rebuilds<O>>, Error> {
        let first = to_request_at(&operation, options, base)?;
        Ok(self
            .config
            .start(first, self.inner.clone(), |first, deadline| Rebuilds {
                first: Some(first),
                operation,
                options,
                base: base.cloned(),
                deadline: deadline.map(|instant| Deadline { instant }),
            }))
    }
}

/// Where a call's attempts get their request.
pub(crate) trait Attempts {
    /// The request of the next attempt; `last` when no retry can follow it.
    fn request(&mut self, last: bool) -> Result<HttpRequest, Error>;
}

/// The request a call was started with; each attempt but the last sends a copy of it (the
/// body is shared bytes; the headers and extensions are copied).
#[derive(Debug)]
pub(crate) struct Copies(Option<HttpRequest>);

impl Attempts for Copies {
    fn request(&mut self, last: bool) -> Result<HttpRequest, Error> {
        Ok(match (last, &self.0) {
            (false, Some(request)) => request.clone(),
            // A retry is only decided while another attempt is allowed: one is kept.
            _ => self.0.take().expect(KEPT_REQUEST),
        })
    }
}

/// The operation a call was started with: the first attempt sends the request built when the
/// call started, and a retry builds its own from the operation again (rendering the path,
/// the query and the body once more, which only retried calls pay).
#[derive(Debug)]
pub(crate) struct Rebuilds<O> {
    first: Option<HttpRequest>,
    operation: O,
    options: Option<RequestOptions>,
    base: Option<BaseUrlLayer>,
    deadline: Option<Deadline>,
}

impl<O: Operation> Attempts for Rebuilds<O> {
    fn request(&mut self, _last: bool) -> Result<HttpRequest, Error> {
        if let Some(first) = self.first.take() {
            return Ok(first);
        }
        let mut request = to_request_at(&self.operation, self.options, self.base.as_ref())?;
        if let Some(deadline) = self.deadline {
            request.extensions_mut().insert(deadline);
        }
        Ok(request)
    }
}

impl CallConfig {
    /// The call's future; its first attempt is sent through `inner` once it is ready, with
    /// the request `attempts` makes from `req` and the call's deadline.
    fn start<S, A>(
        &self,
        mut req: HttpRequest,
        inner: S,
        attempts: impl FnOnce(HttpRequest, Option<Instant>) -> A,
    ) -> CallFuture<S, A>
    where
        S: Service<HttpRequest, Response = HttpResponse, Error = Error>,
    {
        let now = Instant::now();
        let extensions = req.extensions();
        let options = extensions.get::<RequestOptions>().copied();
        let operation = extensions.get::<OperationInfo>();
        let idempotent = operation.map_or_else(|| req.method().is_idempotent(), |op| op.idempotent);
        let operation_id = operation.map(|op| op.id);
        let max_retries = self.policy.max_retries(options.as_ref());
        let total = options.and_then(|o| o.timeout).or(self.timeout);
        let mut deadline = total.and_then(|d| instant_after(now, d));
        // A deadline set further out (by a layer of the user's above us) is kept if earlier.
        if let Some(outer) = extensions.get::<Deadline>() {
            deadline = Some(deadline.map_or(outer.instant, |d| d.min(outer.instant)));
        }
        if let Some(instant) = deadline {
            req.extensions_mut().insert(Deadline { instant });
        }
        let attempt_timeout = options
            .and_then(|o| o.attempt_timeout)
            .or(self.attempt_timeout);
        let span = trace::call_span(operation_id, req.method());
        CallFuture {
            state: State::Ready,
            inner,
            attempts: attempts(req, deadline),
            policy: self.policy.clone(),
            idempotent,
            max_retries,
            total,
            deadline,
            attempt_timeout,
            last_error: None,
            span,
            deadline_sleep: deadline.map(tokio::time::sleep_until),
        }
    }
}

pin_project! {
    /// The future of one call through the client's stack.
    #[project = CallProj]
    pub(crate) struct CallFuture<S, A>
    where
        S: Service<HttpRequest>,
    {
        inner: S,
        // Where each attempt gets its request.
        attempts: A,
        policy: ClerkRetryPolicy,
        idempotent: bool,
        max_retries: u32,
        total: Option<Duration>,
        deadline: Option<Instant>,
        attempt_timeout: Option<Duration>,
        last_error: Option<Error>,
        span: CallSpan,
        #[pin]
        deadline_sleep: Option<Sleep>,
        #[pin]
        state: State<S::Future>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Attempt { #[pin] future: F, #[pin] timeout: Option<Sleep> },
        Backoff { #[pin] sleep: Sleep },
        Ready,
        Done,
    }
}

impl<S, A> Future for CallFuture<S, A>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error>,
    A: Attempts,
{
    type Output = Result<HttpResponse, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // A handle on the span (a reference count, or nothing when disabled), so that the
        // guard does not borrow the future while it is driven.
        let span = this.span.clone();
        let _entered = span.enter();
        if let Poll::Ready(out) = step(&mut this, cx) {
            return Poll::Ready(out);
        }
        // Only while waiting: the call's deadline ends the call whatever the attempt is doing.
        // (A timer that is never polled is never registered: a call answered at once costs no
        // timer at all.)
        let Some(sleep) = this.deadline_sleep.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        std::task::ready!(sleep.poll(cx));
        // An attempt in flight counts; between attempts, only the finished ones.
        let in_flight = matches!(this.state.as_mut().project(), StateProj::Attempt { .. });
        this.state.set(State::Done);
        let mut err = TimeoutError::new(TimeoutKind::Total, this.total.unwrap_or_default());
        err.last_error = this.last_error.take();
        let attempts = this
            .policy
            .attempts()
            .saturating_add(u32::from(in_flight))
            .max(1);
        let err = Error::Timeout(Attempted::with_attempts(err, attempts));
        trace::finished(this.span, attempts, Err(&err));
        Poll::Ready(Err(err))
    }
}

/// Drives the attempts and the waits between them; `Pending` while one of them waits.
fn step<S, A>(
    this: &mut CallProj<'_, S, A>,
    cx: &mut Context<'_>,
) -> Poll<Result<HttpResponse, Error>>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error>,
    A: Attempts,
{
    loop {
        match this.state.as_mut().project() {
            StateProj::Attempt { future, timeout } => {
                let result = match future.poll(cx) {
                    Poll::Ready(result) => result,
                    Poll::Pending => match timeout.as_pin_mut().map(|s| s.poll(cx)) {
                        Some(Poll::Ready(())) => {
                            let after = this.attempt_timeout.unwrap_or_default();
                            Err(Error::Timeout(Attempted::new(TimeoutError::new(
                                TimeoutKind::Attempt,
                                after,
                            ))))
                        }
                        _ => return Poll::Pending,
                    },
                };
                let mut err = match result {
                    Ok(mut res) => {
                        this.policy.succeeded();
                        let attempts = this.policy.attempts();
                        if attempts > 1 {
                            // For a body that fails to decode above us: say how many it took.
                            res.extensions_mut().insert(AttemptCount(attempts));
                        }
                        this.state.set(State::Done);
                        trace::finished(this.span, attempts, Ok(&res));
                        return Poll::Ready(Ok(res));
                    }
                    Err(err) => err,
                };
                let remaining = this
                    .deadline
                    .map(|d| d.saturating_duration_since(Instant::now()));
                let decision =
                    this.policy
                        .decide(&err, *this.idempotent, *this.max_retries, remaining);
                match decision {
                    Decision::Retry { wait, reason } => {
                        trace::retrying(this.policy.attempts(), reason, wait, &err);
                        *this.last_error = Some(err);
                        this.state.set(State::Backoff {
                            sleep: tokio::time::sleep(wait),
                        });
                    }
                    _ => {
                        err.set_attempts(this.policy.attempts());
                        this.state.set(State::Done);
                        trace::finished(this.span, this.policy.attempts(), Err(&err));
                        return Poll::Ready(Err(err));
                    }
                }
            }
            StateProj::Backoff { sleep } => {
                std::task::ready!(sleep.poll(cx));
                this.state.set(State::Ready);
            }
            StateProj::Ready => {
                if let Err(mut err) = std::task::ready!(this.inner.poll_ready(cx)) {
                    err.set_attempts(this.policy.attempts());
                    this.state.set(State::Done);
                    trace::finished(this.span, this.policy.attempts(), Err(&err));
                    return Poll::Ready(Err(err));
                }
                let last = this.policy.attempts() >= *this.max_retries;
                let request = match this.attempts.request(last) {
                    Ok(request) => request,
                    Err(mut err) => {
                        err.set_attempts(this.policy.attempts());
                        this.state.set(State::Done);
                        trace::finished(this.span, this.policy.attempts(), Err(&err));
                        return Poll::Ready(Err(err));
                    }
                };
                let future = this.inner.call(request);
                let timeout = attempt_sleep(Instant::now(), *this.attempt_timeout, *this.deadline);
                this.state.set(State::Attempt { future, timeout });
            }
            StateProj::Done => panic!("future polled after completion"),
        }
    }
}

/// The per-attempt deadline's timer, when the attempt timeout comes before the call's.
fn attempt_sleep(
    now: Instant,
    attempt_timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> Option<Sleep> {
    let at = instant_after(now, attempt_timeout?)?;
    match deadline {
        Some(deadline) if deadline <= at => None,
        _ => Some(tokio::time::sleep_until(at)),
    }
}

/// The invariant behind the one `expect` of [`Copies`]: an attempt is only started (first, or
/// after a retry was decided, which the policy does only while another attempt is allowed)
/// while the request is kept.
const KEPT_REQUEST: &str = "an attempt starts only while the request is kept";

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    use tower::ServiceExt;

    use super::*;
    use crate::layer::RetryConfig;

    fn ok_call() -> Call<tower::util::BoxCloneSyncService<HttpRequest, HttpResponse, Error>> {
        let inner =
            tower::util::BoxCloneSyncService::new(tower::service_fn(|_req: HttpRequest| async {
                Ok::<_, Error>(HttpResponse::default())
            }));
        let policy = ClerkRetryPolicy::new(&RetryConfig::default()).unwrap();
        Call::new(inner, policy, Some(Duration::from_secs(5)), None)
    }

    #[tokio::test]
    #[should_panic(expected = "future polled after completion")]
    async fn a_call_polled_again_panics() {
        let mut call = ok_call();
        let future = call.ready().await.unwrap().call(HttpRequest::default());
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
        // A bug in the caller: never an error a user could mistake for a refused request.
        let _ = future.as_mut().poll(&mut cx);
    }

    /// A retried call from an operation sends a request built from it again, equal to the
    /// first in all the transport sees: method, URI, headers, body, and the extensions.
    #[cfg(feature = "allow_list_block_list")]
    #[tokio::test(start_paused = true)]
    async fn a_retry_rebuilt_from_the_operation_is_the_same_request() {
        use std::sync::{Arc, Mutex};

        type Seen = (
            http::Method,
            http::Uri,
            http::HeaderMap,
            bytes::Bytes,
            bool,
            bool,
        );
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = Arc::clone(&seen);
        let client = crate::Client::builder()
            .secret_key("sk_test_x")
            .transport(tower::service_fn(move |req: HttpRequest| {
                let mut log = log.lock().unwrap();
                let extensions = req.extensions();
                let marked = (
                    extensions.get::<OperationInfo>().map(|op| op.id)
                        == Some("CreateAllowlistIdentifier"),
                    extensions.get::<Deadline>().is_some(),
                );
                let (parts, body) = req.into_parts();
                log.push((
                    parts.method,
                    parts.uri,
                    parts.headers,
                    body.into_inner().unwrap_or_default(),
                    marked.0,
                    marked.1,
                ));
                // A 429 first (retried for a create too), then the identifier.
                let status = if log.len() == 1 { 429 } else { 200 };
                let body = r#"{"object":"allowlist_identifier","id":"alid_1","identifier":"a@b.c","identifier_type":"email_address","created_at":1,"updated_at":1}"#;
                let mut res = HttpResponse::new(bytes::Bytes::from_static(body.as_bytes()).into());
                *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
                async move { Ok::<_, std::convert::Infallible>(res) }
            }))
            .build()
            .unwrap();
        let created = client
            .allowlist_identifiers()
            .create("a@b.c")
            .notify(true)
            .await
            .unwrap();
        assert_eq!(created.id, "alid_1");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[1].0, http::Method::POST);
        assert!(
            seen[1].4 && seen[1].5,
            "OperationInfo and Deadline on the retry"
        );
        assert_eq!(&seen[1].3[..], br#"{"identifier":"a@b.c","notify":true}"#);
    }
}
