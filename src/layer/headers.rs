//! Sets the headers every Clerk request carries: `User-Agent`, `Accept: application/json` and
//! `Clerk-API-Version`. (`Content-Type` comes with the body: see
//! [`RequestBody`](crate::operation::RequestBody).) Works for any request body type.
//!
//! Every value is built once, when the layer is made; a call only clones them (a reference
//! count, or a copy of a static string).
//!
//! ```
//! use clerk_tower::layer::DefaultHeadersLayer;
//!
//! let layer = DefaultHeadersLayer::new(Some("my-app/2.1"), "2026-05-12")?;
//! assert_eq!(layer.user_agent(), format!("my-app/2.1 clerk-tower/{}", env!("CARGO_PKG_VERSION")));
//! # Ok::<(), clerk_tower::Error>(())
//! ```
//!
//! # Clone
//! Cloning a [`DefaultHeaders`] clones the inner service and shares the header values.
//!
//! # Errors
//! [`DefaultHeadersLayer::new`] returns [`Error::Config`] when the user agent or API version
//! cannot be a header value. The service adds no errors.

use std::task::{Context, Poll};

use http::header::{ACCEPT, USER_AGENT};
use http::{HeaderName, HeaderValue, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::Error;
#[cfg(test)]
use crate::HttpRequest;

/// The header that selects the Backend API version.
pub const CLERK_API_VERSION: HeaderName = HeaderName::from_static("clerk-api-version");

/// The API version this crate was written against (the spec's `info.version`).
pub const DEFAULT_API_VERSION: &str = "2026-05-12";

/// The crate's own product token, e.g. `clerk-tower/0.1.0`.
pub const CRATE_USER_AGENT: &str = concat!("clerk-tower/", env!("CARGO_PKG_VERSION"));

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Wraps services in [`DefaultHeaders`].
#[derive(Debug, Clone)]
pub struct DefaultHeadersLayer {
    user_agent: HeaderValue,
    api_version: HeaderValue,
}

impl DefaultHeadersLayer {
    /// Headers with `product` (if any) prepended to `clerk-tower/<version>` as the user agent,
    /// and `api_version` as `Clerk-API-Version`.
    pub fn new(product: Option<&str>, api_version: &str) -> Result<Self, Error> {
        let user_agent = match product.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => HeaderValue::try_from(format!("{p} {CRATE_USER_AGENT}"))
                .map_err(|_| Error::config("the user agent is not a valid header value"))?,
            None => HeaderValue::from_static(CRATE_USER_AGENT),
        };
        let api_version = HeaderValue::try_from(api_version.trim())
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::config("the API version is not a valid header value"))?;
        Ok(Self {
            user_agent,
            api_version,
        })
    }

    /// The `User-Agent` this layer sends.
    pub fn user_agent(&self) -> &str {
        self.user_agent.to_str().unwrap_or_default()
    }
}

impl<S> Layer<S> for DefaultHeadersLayer {
    type Service = DefaultHeaders<S>;

    fn layer(&self, inner: S) -> DefaultHeaders<S> {
        DefaultHeaders {
            inner,
            layer: self.clone(),
        }
    }
}

/// Sets the default headers; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct DefaultHeaders<S> {
    inner: S,
    layer: DefaultHeadersLayer,
}

impl<S, B> Service<Request<B>> for DefaultHeaders<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let headers = req.headers_mut();
        headers.insert(USER_AGENT, self.layer.user_agent.clone());
        headers.insert(ACCEPT, APPLICATION_JSON);
        headers.insert(CLERK_API_VERSION, self.layer.api_version.clone());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;
    use tower::ServiceExt;

    #[tokio::test]
    async fn sets_headers_for_any_body_and_leaves_content_type_alone() {
        let svc = DefaultHeadersLayer::new(None, DEFAULT_API_VERSION)
            .unwrap()
            .layer(tower::service_fn(|req: HttpRequest| async move {
                Ok::<_, Error>(req)
            }));
        let get = svc.clone().oneshot(HttpRequest::default()).await.unwrap();
        assert_eq!(get.headers()[USER_AGENT], CRATE_USER_AGENT);
        assert_eq!(get.headers()[ACCEPT], "application/json");
        assert_eq!(get.headers()[CLERK_API_VERSION], "2026-05-12");
        assert!(get.headers().get(http::header::CONTENT_TYPE).is_none());

        let mut post = HttpRequest::new(Full::new(Bytes::from_static(b"--b--")));
        post.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=b"),
        );
        let post = svc.oneshot(post).await.unwrap();
        assert_eq!(
            post.headers()[http::header::CONTENT_TYPE],
            "multipart/form-data; boundary=b"
        );
        assert_eq!(post.headers().get_all(USER_AGENT).iter().count(), 1);

        // Any body type: a string body here.
        let plain = DefaultHeadersLayer::new(Some("app/1"), DEFAULT_API_VERSION)
            .unwrap()
            .layer(tower::service_fn(|req: Request<String>| async move {
                Ok::<_, Error>(req)
            }));
        let sent = plain.oneshot(Request::new(String::new())).await.unwrap();
        assert!(sent.headers()[USER_AGENT]
            .to_str()
            .unwrap()
            .starts_with("app/1 "));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(DefaultHeadersLayer::new(Some("bad\nagent"), "2026-05-12").is_err());
        assert!(DefaultHeadersLayer::new(None, "").is_err());
        assert!(DefaultHeadersLayer::new(None, "20\r\n26").is_err());
        let blank = DefaultHeadersLayer::new(Some("  "), "2026-05-12").unwrap();
        assert_eq!(blank.user_agent(), CRATE_USER_AGENT);
    }
}
