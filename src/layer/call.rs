//! One whole call: the total deadline, the retry loop and the per-attempt deadline, in one
//! service whose future owns the call's state (attempt count, last error, time left).
//!
//! Keeping the three together is what lets every wait be checked against the time left, lets
//! a total timeout report how many attempts it cut short and why the last one failed, and
//! lets one tracing span cover the whole call, without any state shared between layers.
//!
//! The retry rules themselves are [`ClerkRetryPolicy`]'s; this loop asks it after each failed
//! attempt.

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
    type Future = CallFuture<S>;

    /// Always ready: the call's future waits for the attempt service to be ready before each
    /// attempt (so a call layer of yours above it sees backpressure through the future).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> CallFuture<S> {
        self.start(req)
    }
}

impl<S> Call<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error> + Clone,
{
    /// Starts a call: the one way a call starts, from the client's call builders and
    /// services (through `&self`, so a call copies the stack once: into its future) and from
    /// `Service::call` under your call layers. The future waits for its copy of the attempt
    /// service to be ready, then sends every attempt through it.
    pub(crate) fn start(&self, req: HttpRequest) -> CallFuture<S> {
        self.config.start(req, self.inner.clone())
    }
}

impl CallConfig {
    /// The call's future; its first attempt is sent through `inner` once it is ready.
    fn start<S>(&self, mut req: HttpRequest, inner: S) -> CallFuture<S>
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
            request: Some(req),
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
    pub(crate) struct CallFuture<S>
    where
        S: Service<HttpRequest>,
    {
        inner: S,
        // The request of the next attempt (copied for each attempt while another one may
        // follow), `None` once no more attempt is allowed.
        request: Option<HttpRequest>,
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

impl<S> Future for CallFuture<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error>,
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
fn step<S>(this: &mut CallProj<'_, S>, cx: &mut Context<'_>) -> Poll<Result<HttpResponse, Error>>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error>,
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
                    Decision::Retry { wait, reason } if this.request.is_some() => {
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
                // Keep a copy while another retry may follow; the last one takes it. (A retry
                // is only decided while a request is kept, so there is one here.)
                let more = this.policy.attempts() < *this.max_retries;
                let request = match (more, this.request.as_ref()) {
                    (true, Some(request)) => request.clone(),
                    _ => this.request.take().expect(KEPT_REQUEST),
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

/// The invariant behind the one `expect` of the loop: an attempt is only started (first, or
/// after a retry was decided) while the request is kept.
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
}
