//! Adds `Authorization: Bearer <secret key>` to requests bound for Clerk.
//!
//! The header value is built once, marked [sensitive](http::HeaderValue::set_sensitive) (so
//! `Debug` of the request and well-behaved tracing layers print no secret), and *inserted*:
//! any `Authorization` header already on the request is replaced, never duplicated. The
//! header is only added to requests bound for the configured base URL's origin: the same
//! scheme, the same host (without regard to case) and the same port (an explicit default port
//! counts as the default). A request sent elsewhere, or to the same host over plain `http`,
//! leaves without the key (and without any `Authorization` header it carried).
//!
//! In the client's stack this layer sits below your layers: a tracing layer you add never
//! sees the secret.
//!
//! ```
//! use clerk_tower::layer::AuthLayer;
//! use tower::ServiceBuilder;
//! # use clerk_tower::{HttpRequest, HttpResponse, Error};
//! # let transport = tower::service_fn(|_req: HttpRequest| async { Ok::<_, Error>(HttpResponse::default()) });
//!
//! let layer = AuthLayer::new("sk_test_123", &"https://api.clerk.com".parse()?)?;
//! let svc = ServiceBuilder::new().layer(layer).service(transport);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Clone
//! Cloning an [`Auth`] clones the inner service and shares the header value.
//!
//! # Errors
//! [`AuthLayer::new`] returns [`Error::Config`] for a key that cannot be a header value
//! (empty, whitespace, control characters) or an origin without a scheme or host. The service
//! itself adds no errors.

use std::fmt;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::uri::{Authority, Scheme, Uri};
use http::HeaderValue;
use tower_layer::Layer;
use tower_service::Service;

use crate::Error;
#[cfg(test)]
use crate::HttpRequest;

/// Wraps services in [`Auth`].
#[derive(Clone)]
pub struct AuthLayer {
    value: HeaderValue,
    origin: Origin,
}

/// The scheme, host and port the key may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: Scheme,
    /// The authority exactly as the base URL has it: requests the base URL layer built carry
    /// the same bytes, which settles the usual case with one comparison.
    authority: Authority,
    host: std::sync::Arc<str>,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Option<Self> {
        let scheme = uri.scheme()?.clone();
        let port = uri.port_u16().or_else(|| default_port(&scheme))?;
        Some(Self {
            authority: uri.authority()?.clone(),
            host: uri.host()?.into(),
            scheme,
            port,
        })
    }

    fn matches(&self, uri: &Uri) -> bool {
        if uri.scheme_str() != Some(self.scheme.as_str()) {
            return false;
        }
        match uri.authority() {
            Some(authority) if authority.as_str() == self.authority.as_str() => true,
            Some(authority) => {
                authority.host().eq_ignore_ascii_case(&self.host)
                    && authority.port_u16().or_else(|| default_port(&self.scheme))
                        == Some(self.port)
            }
            None => false,
        }
    }
}

fn default_port(scheme: &Scheme) -> Option<u16> {
    if *scheme == Scheme::HTTPS {
        Some(443)
    } else if *scheme == Scheme::HTTP {
        Some(80)
    } else {
        None
    }
}

impl AuthLayer {
    /// A layer that authenticates requests to `origin`'s scheme, host and port (any path of
    /// it) with `secret_key`.
    ///
    /// # Errors
    /// [`Error::Config`] for a key that cannot be sent in a header, or an origin without a
    /// scheme (`http` or `https`) and host.
    pub fn new(secret_key: &str, origin: &Uri) -> Result<Self, Error> {
        let origin = Origin::of(origin).ok_or_else(|| {
            Error::config("the origin for the secret key needs an http(s) scheme and a host")
        })?;
        Ok(Self {
            value: bearer_value(secret_key)?,
            origin,
        })
    }
}

/// Builds the sensitive `Bearer` header value, refusing keys that are not plain tokens.
pub(crate) fn bearer_value(secret_key: &str) -> Result<HeaderValue, Error> {
    if secret_key.is_empty() {
        return Err(Error::config("the secret key is empty"));
    }
    if let Some(pos) = secret_key.bytes().position(|b| !b.is_ascii_graphic()) {
        return Err(Error::config(format!(
            "the secret key holds a character that cannot be sent in a header (whitespace, a control or non-ASCII character) at byte {pos}"
        )));
    }
    let mut value = HeaderValue::try_from(format!("Bearer {secret_key}"))
        .map_err(|_| Error::config("the secret key cannot be sent as a header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("authorization", &"[redacted]")
            .field("origin", &self.origin)
            .finish()
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            value: self.value.clone(),
            origin: self.origin.clone(),
        }
    }
}

/// Adds the `Authorization` header; see the [module docs](self).
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    value: HeaderValue,
    origin: Origin,
}

impl<S: fmt::Debug> fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("authorization", &"[redacted]")
            .field("origin", &self.origin)
            .finish()
    }
}

impl<S, B> Service<http::Request<B>> for Auth<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if self.origin.matches(req.uri()) {
            req.headers_mut().insert(AUTHORIZATION, self.value.clone());
        } else {
            req.headers_mut().remove(AUTHORIZATION);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn clerk() -> Uri {
        Uri::from_static("https://api.clerk.com/v1")
    }

    fn echo() -> impl Service<
        HttpRequest,
        Response = HttpRequest,
        Error = Error,
        Future = std::future::Ready<Result<HttpRequest, Error>>,
    > + Clone {
        tower::service_fn(|req: HttpRequest| std::future::ready(Ok::<_, Error>(req)))
    }

    #[tokio::test]
    async fn inserts_one_sensitive_header_for_clerk_only() {
        let layer = AuthLayer::new("sk_test_abc", &clerk()).unwrap();
        let svc = layer.layer(echo());
        let mut req = HttpRequest::default();
        *req.uri_mut() = "https://api.clerk.com/v1/x".parse().unwrap();
        req.headers_mut()
            .append(AUTHORIZATION, HeaderValue::from_static("Bearer other"));
        req.headers_mut()
            .append(AUTHORIZATION, HeaderValue::from_static("Bearer other2"));
        let out = svc.clone().oneshot(req).await.unwrap();
        let values: Vec<_> = out.headers().get_all(AUTHORIZATION).iter().collect();
        assert_eq!(
            values,
            vec![&HeaderValue::from_static("Bearer sk_test_abc")]
        );
        assert!(values[0].is_sensitive());
        assert!(!format!("{out:?}").contains("sk_test_abc"));

        let mut elsewhere = HttpRequest::default();
        *elsewhere.uri_mut() = "https://evil.example/v1/x".parse().unwrap();
        elsewhere
            .headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("Bearer stale"));
        let out = svc.oneshot(elsewhere).await.unwrap();
        assert!(out.headers().get(AUTHORIZATION).is_none());
    }

    #[test]
    fn bad_keys_are_config_errors_without_the_key() {
        for key in ["", "sk_test abc", "sk_test\nabc", "sk_tést", "sk\0"] {
            let err = AuthLayer::new(key, &clerk()).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{key:?}");
            if !key.is_empty() {
                assert!(!err.to_string().contains(key) && !format!("{err:?}").contains(key));
            }
        }
        let layer = AuthLayer::new("sk_live_secret", &clerk()).unwrap();
        assert!(matches!(
            AuthLayer::new("sk_live_secret", &Uri::from_static("/v1")),
            Err(Error::Config(_))
        ));
        assert!(!format!("{layer:?}").contains("sk_live_secret"));
    }
}
