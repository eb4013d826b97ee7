//! Turns every non-2xx response into [`Error::Api`].
//!
//! A `ClerkErrors` JSON body gives the error its items and `clerk_trace_id`; any other body
//! (an HTML page from a proxy, plain text, nothing) is kept raw in the error, so a 502 from a
//! load balancer is an API error with its status, never a decode failure. `Retry-After` is
//! parsed (seconds or an HTTP date).
//!
//! ```
//! use clerk_tower::layer::DecodeErrorsLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//! # use clerk_tower::{HttpRequest, HttpResponse, Error};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let transport = tower::service_fn(|_req: HttpRequest| async {
//!     let mut res = HttpResponse::new(r#"{"errors":[{"message":"not found","long_message":"No identifier","code":"resource_not_found"}]}"#.into());
//!     *res.status_mut() = http::StatusCode::NOT_FOUND;
//!     Ok::<_, Error>(res)
//! });
//! let svc = ServiceBuilder::new().layer(DecodeErrorsLayer::new()).service(transport);
//! let err = svc.oneshot(HttpRequest::default()).await.unwrap_err();
//! assert!(err.is_not_found());
//! # }
//! ```
//!
//! # Clone
//! Cloning a [`DecodeErrors`] clones the inner service.
//!
//! # Errors
//! [`Error::Api`] for every non-2xx response; the inner service's errors are passed through.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::ApiError;
use crate::{Error, HttpRequest, HttpResponse};

/// Wraps services in [`DecodeErrors`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeErrorsLayer {
    _priv: (),
}

impl DecodeErrorsLayer {
    /// The layer.
    pub const fn new() -> Self {
        Self { _priv: () }
    }
}

impl<S> Layer<S> for DecodeErrorsLayer {
    type Service = DecodeErrors<S>;

    fn layer(&self, inner: S) -> DecodeErrors<S> {
        DecodeErrors { inner }
    }
}

/// Maps non-2xx responses to [`Error::Api`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct DecodeErrors<S> {
    inner: S,
}

impl<S> Service<HttpRequest> for DecodeErrors<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Error>,
{
    type Response = HttpResponse;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        ResponseFuture {
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// The future of [`DecodeErrors`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<HttpResponse, Error>>,
{
    type Output = Result<HttpResponse, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let res = std::task::ready!(self.project().inner.poll(cx))?;
        if res.status().is_success() {
            return Poll::Ready(Ok(res));
        }
        let (parts, body) = res.into_parts();
        let body = body.into_inner().unwrap_or_default();
        Poll::Ready(Err(Error::from(ApiError::from_response(
            parts.status,
            &parts.headers,
            body,
        ))))
    }
}
