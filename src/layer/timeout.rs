//! Deadlines: one for the whole call (retries and backoff sleeps included), and an optional
//! one per attempt.
//!
//! The duration comes from the call's [`RequestOptions`] (in the request's extensions) when
//! it sets one, else from the layer's default; with neither, the layer adds no deadline. A
//! call that runs out of time ends with [`Error::Timeout`], whose
//! [`kind`](crate::error::TimeoutError::kind) says which deadline it was.
//!
//! The total-timeout layer also records the call's [`Deadline`] in the request's extensions,
//! so that a [`ClerkRetryPolicy`](super::ClerkRetryPolicy) below it never starts a wait that
//! would outlive the call. A duration too large to add to the current instant (such as
//! `Duration::MAX`) means no deadline.
//!
//! The client itself does not use these layers: its own call service owns the total
//! deadline, the retries and the per-attempt deadline together (see `docs/architecture.md`).
//! They are here for stacks you assemble yourself.
//!
//! ```
//! use std::time::Duration;
//! use clerk_tower::layer::TimeoutLayer;
//! use tower::ServiceBuilder;
//! # use clerk_tower::{HttpRequest, HttpResponse, Error};
//! # let transport = tower::service_fn(|_req: HttpRequest| async { Ok::<_, Error>(HttpResponse::default()) });
//!
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::total(Some(Duration::from_secs(10))))
//!     .service(transport);
//! ```
//!
//! # Clone
//! Cloning a [`Timeout`] clones the inner service.
//!
//! # Errors
//! [`Error::Timeout`] when the deadline passes; the inner service's errors otherwise.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{TimeoutError, TimeoutKind};
use crate::{Deadline, Error, HttpRequest, RequestOptions};

/// Wraps services in [`Timeout`].
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    kind: TimeoutKind,
    default: Option<Duration>,
}

impl TimeoutLayer {
    /// A deadline for the whole call: [`RequestOptions::timeout`], else `default`.
    pub const fn total(default: Option<Duration>) -> Self {
        Self {
            kind: TimeoutKind::Total,
            default,
        }
    }

    /// A deadline for each attempt: [`RequestOptions::attempt_timeout`], else `default`.
    pub const fn attempt(default: Option<Duration>) -> Self {
        Self {
            kind: TimeoutKind::Attempt,
            default,
        }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            layer: *self,
        }
    }
}

/// Applies a deadline; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    layer: TimeoutLayer,
}

impl<S> Service<HttpRequest> for Timeout<S>
where
    S: Service<HttpRequest, Error = Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        let options = req.extensions().get::<RequestOptions>();
        let duration = match self.layer.kind {
            TimeoutKind::Total => options.and_then(|o| o.timeout),
            TimeoutKind::Attempt => options.and_then(|o| o.attempt_timeout),
        }
        .or(self.layer.default);
        // A duration too large for an `Instant` means no limit.
        let mut deadline = duration.and_then(|d| Instant::now().checked_add(d));
        if self.layer.kind == TimeoutKind::Total {
            // A deadline set further out is kept when it comes first.
            if let Some(outer) = req.extensions().get::<Deadline>() {
                deadline = Some(deadline.map_or(outer.instant, |d| d.min(outer.instant)));
            }
            if let Some(instant) = deadline {
                req.extensions_mut().insert(Deadline { instant });
            }
        }
        ResponseFuture {
            inner: self.inner.call(req),
            sleep: deadline.map(tokio::time::sleep_until),
            kind: self.layer.kind,
            duration: duration.unwrap_or_default(),
        }
    }
}

pin_project! {
    /// The future of [`Timeout`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
        kind: TimeoutKind,
        duration: Duration,
    }
}

impl<F, T> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, Error>>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.inner.poll(cx) {
            return Poll::Ready(out);
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(Error::Timeout(Box::new(TimeoutError::new(
                *this.kind,
                *this.duration,
            ))))),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HttpResponse;
    use tower::ServiceExt;

    fn slow(
        delay: Duration,
    ) -> impl Service<HttpRequest, Response = HttpResponse, Error = Error, Future = impl Send> + Clone
    {
        tower::service_fn(move |req: HttpRequest| async move {
            assert!(req.extensions().get::<Deadline>().is_some() || delay.is_zero());
            tokio::time::sleep(delay).await;
            Ok::<_, Error>(HttpResponse::default())
        })
    }

    #[tokio::test(start_paused = true)]
    async fn default_and_per_call_timeouts() {
        let svc =
            TimeoutLayer::total(Some(Duration::from_secs(5))).layer(slow(Duration::from_secs(3)));
        assert!(svc.clone().oneshot(HttpRequest::default()).await.is_ok());

        let mut req = HttpRequest::default();
        req.extensions_mut()
            .insert(RequestOptions::new().timeout(Duration::from_secs(1)));
        let start = Instant::now();
        let err = svc.oneshot(req).await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        match err {
            Error::Timeout(t) => {
                assert_eq!(t.kind(), TimeoutKind::Total);
                assert_eq!(t.after(), Some(Duration::from_secs(1)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_default_means_no_deadline() {
        let svc = TimeoutLayer::attempt(None).layer(slow(Duration::ZERO));
        assert!(svc.oneshot(HttpRequest::default()).await.is_ok());
        let svc = TimeoutLayer::attempt(None).layer(tower::service_fn(|_req: HttpRequest| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, Error>(HttpResponse::default())
        }));
        let mut req = HttpRequest::default();
        req.extensions_mut()
            .insert(RequestOptions::new().attempt_timeout(Duration::from_millis(250)));
        let err = svc.oneshot(req).await.unwrap_err();
        assert!(
            matches!(&err, Error::Timeout(t) if t.kind() == TimeoutKind::Attempt),
            "{err:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_outer_deadline_is_kept() {
        // Two total timeouts nested: the inner (60 s) keeps the outer's earlier deadline (2 s).
        let svc = TimeoutLayer::total(Some(Duration::from_secs(2))).layer(
            TimeoutLayer::total(Some(Duration::from_secs(60))).layer(tower::service_fn(
                |req: HttpRequest| async move {
                    let d = req.extensions().get::<Deadline>().unwrap();
                    assert!(d.instant() <= Instant::now() + Duration::from_secs(2));
                    assert!(d.remaining() <= Duration::from_secs(2));
                    Ok::<_, Error>(HttpResponse::default())
                },
            )),
        );
        svc.oneshot(HttpRequest::default()).await.unwrap();
    }
}
