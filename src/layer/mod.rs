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
pub use retry::RetryConfig;

pin_project_lite::pin_project! {
    /// A future that is either the inner service's future or an error known before calling it
    /// (a request refused before any I/O).
    pub struct OrError<F> {
        #[pin]
        future: Option<F>,
        error: Option<crate::Error>,
    }
}

impl<F> OrError<F> {
    pub(crate) fn future(future: F) -> Self {
        OrError {
            future: Some(future),
            error: None,
        }
    }

    pub(crate) fn error(error: crate::Error) -> Self {
        OrError {
            future: None,
            error: Some(error),
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
        let this = self.project();
        if let Some(error) = this.error.take() {
            return std::task::Poll::Ready(Err(error));
        }
        match this.future.as_pin_mut() {
            Some(future) => future.poll(cx),
            None => std::task::Poll::Ready(Err(crate::Error::invalid_request(
                "future",
                "polled after completion",
            ))),
        }
    }
}
