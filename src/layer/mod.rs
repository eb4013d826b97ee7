//! The middleware the client is made of, one module per concern.
//!
//! Each middleware follows tower's shape: a `FooLayer` that wraps a service into a `Foo<S>`,
//! whose `call` returns a named `ResponseFuture` (no boxing per layer). All of them work on
//! [`HttpRequest`](crate::HttpRequest) / [`HttpResponse`](crate::HttpResponse) with
//! [`Error`](crate::Error), so they compose with each other and with your own layers.
//!
//! The order of the client's stack, and which of these pieces it uses, is drawn in one place:
//! `docs/architecture.md`. The total deadline, the retries and the per-attempt deadline are
//! not layers: the client runs them in one call service of its own, configured with
//! [`RetryConfig`] and the builder's timeouts, which is the one way a call is run.
//!
//! ```compile_fail
//! // No second pipeline: the deadlines and the retries are the client's call service.
//! use clerk_tower::layer::TimeoutLayer;
//! ```
//!
//! ```compile_fail
//! // The retry rules are not a `tower::retry::Policy` for stacks of your own.
//! use clerk_tower::layer::ClerkRetryPolicy;
//! ```

pub mod auth;
pub mod base_url;
pub(crate) mod call;
pub mod decode;
pub mod headers;
pub mod rate_limit;
pub mod retry;

pub use auth::{Auth, AuthLayer};
pub use base_url::{BaseUrl, BaseUrlLayer};
pub use decode::{DecodeErrors, DecodeErrorsLayer};
pub use headers::{DefaultHeaders, DefaultHeadersLayer};
pub use rate_limit::{RateLimit, RateLimitConfig, RateLimitLayer};
#[cfg(feature = "redis")]
pub use rate_limit::{RateLimitUnavailable, RedisConfig, RedisFallback};
pub use retry::RetryConfig;

pin_project_lite::pin_project! {
    /// A future that is either the inner service's future or an error known before calling it
    /// (a request refused before any I/O).
    ///
    /// # Panics
    /// When polled again after it completed with the early error (a bug in the caller, as for
    /// any future); with the inner future, whatever that future does.
    pub struct OrError<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Future { #[pin] future: F },
        Error { error: Option<crate::Error> },
    }
}

impl<F> OrError<F> {
    pub(crate) fn future(future: F) -> Self {
        OrError {
            kind: Kind::Future { future },
        }
    }

    pub(crate) fn error(error: crate::Error) -> Self {
        OrError {
            kind: Kind::Error { error: Some(error) },
        }
    }
}

impl<F, T> std::future::Future for OrError<F>
where
    F: std::future::Future<Output = Result<T, crate::Error>>,
{
    type Output = Result<T, crate::Error>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Future { future } => future.poll(cx),
            KindProj::Error { error } => {
                std::task::Poll::Ready(Err(error.take().expect("future polled after completion")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    use super::OrError;
    use crate::{Error, HttpResponse};

    type Ready = std::future::Ready<Result<HttpResponse, Error>>;

    #[test]
    #[should_panic(expected = "future polled after completion")]
    fn an_early_error_polled_again_panics() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut future = std::pin::pin!(OrError::<Ready>::error(Error::config("x")));
        assert!(matches!(
            future.as_mut().poll(&mut cx),
            Poll::Ready(Err(Error::Config(_)))
        ));
        // A bug in the caller: never an error a user could mistake for a refused request.
        let _ = future.as_mut().poll(&mut cx);
    }
}
