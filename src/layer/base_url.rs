//! Joins the request's path onto the client's base URL (default `https://api.clerk.com/v1`).
//!
//! Endpoints build requests with a path relative to the API root, such as
//! `/allowlist_identifiers?limit=10`; this layer turns it into
//! `https://api.clerk.com/v1/allowlist_identifiers?limit=10`. A request that already has an
//! absolute URI is left as it is. The base URL is parsed and checked once, when the layer is
//! made.
//!
//! The base URL is the API root with its version (`https://api.clerk.com/v1`), or, as Clerk's
//! own SDKs take `CLERK_API_URL`, without it (`https://api.clerk.com`, a proxy's
//! `https://proxy.example.com/clerk`): a path whose last segment is not a version (`v1`)
//! gets `/v1` added.
//!
//! ```
//! use clerk_tower::layer::BaseUrlLayer;
//!
//! let base = BaseUrlLayer::parse("https://api.clerk.com/v1/")?;
//! assert_eq!(base.join("/allowlist_identifiers?limit=5")?.to_string(),
//!            "https://api.clerk.com/v1/allowlist_identifiers?limit=5");
//! // Clerk's convention, the origin alone: the version is added.
//! assert_eq!(BaseUrlLayer::parse("https://api.clerk.com")?.to_string(), "https://api.clerk.com/v1");
//! // Plain http is refused except to a loopback address (the mock, tests):
//! assert!(BaseUrlLayer::parse("http://api.clerk.com/v1").is_err());
//! assert!(BaseUrlLayer::parse("http://127.0.0.1:8787/v1").is_ok());
//! # Ok::<(), clerk_tower::Error>(())
//! ```
//!
//! # Clone
//! Cloning a [`BaseUrl`] clones the inner service and shares the parsed base URL.
//!
//! # Errors
//! [`BaseUrlLayer::parse`] returns [`Error::Config`] for a malformed base URL, a query or
//! fragment in it, credentials in it, or plain `http` to a host that is not loopback. The
//! service returns [`Error::InvalidRequest`] when a relative path cannot be joined.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::{Authority, PathAndQuery, Scheme};
use http::Uri;
use tower_layer::Layer;
use tower_service::Service;

use super::OrError;
use crate::Error;

/// The default base URL: Clerk's production Backend API.
pub const DEFAULT_BASE_URL: &str = "https://api.clerk.com/v1";

/// Wraps services in [`BaseUrl`].
#[derive(Debug, Clone)]
pub struct BaseUrlLayer {
    scheme: Scheme,
    authority: Authority,
    /// The base path without a trailing slash, e.g. `/v1` (empty for a bare host).
    prefix: Arc<str>,
}

impl BaseUrlLayer {
    /// Parses and checks a base URL.
    ///
    /// # Errors
    /// [`Error::Config`] saying what is wrong. The message never repeats the value, nor any
    /// part of it: a secret key pasted into `CLERK_API_URL` by mistake must not reach a log.
    pub fn parse(base_url: &str) -> Result<Self, Error> {
        let base_url = base_url.trim();
        if base_url.contains('#') {
            return Err(Error::config("the base URL must not have a fragment"));
        }
        let uri: Uri = base_url.parse().map_err(|_| {
            Error::config("the base URL is not a valid URL (expected https://host/path)")
        })?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| Error::config("the base URL has no scheme (expected https://...)"))?;
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::config("the base URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(Error::config("the base URL must not hold credentials"));
        }
        if uri.query().is_some() {
            return Err(Error::config("the base URL must not have a query"));
        }
        if scheme == Scheme::HTTP {
            if !is_loopback(authority.host()) {
                return Err(Error::config(
                    "the base URL uses plain http to a host that is not loopback: use https",
                ));
            }
        } else if scheme != Scheme::HTTPS {
            return Err(Error::config("the base URL scheme must be https"));
        }
        let path = uri.path().trim_end_matches('/');
        let prefix = if ends_with_version(path) {
            path.into()
        } else {
            // Clerk's convention (its JavaScript and Python SDKs, `CLERK_API_URL`): the URL of
            // the API without its version, which the client adds.
            format!("{path}/{API_VERSION_SEGMENT}").into()
        };
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    /// The authority (host and port) requests are sent to.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The scheme, host and port of the base URL, as a URI with the path `/`.
    pub fn origin(&self) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(PathAndQuery::from_static("/"));
        // Scheme and authority were parsed from a valid URI, so this cannot fail; fall back to
        // a URI with no origin (which matches no request) rather than panic.
        Uri::from_parts(parts).unwrap_or_default()
    }

    /// Joins a path relative to the API root (starting with `/`) onto the base URL.
    pub fn join(&self, path_and_query: &str) -> Result<Uri, Error> {
        self.join_with(path_and_query.len(), |joined| {
            joined.push_str(path_and_query);
            Ok(())
        })
    }

    /// The absolute URI of the path (and query) relative to the API root that `write`
    /// appends to the base path, parsed once; `capacity` is about how much it writes.
    pub(crate) fn join_with(
        &self,
        capacity: usize,
        write: impl FnOnce(&mut String) -> Result<(), Error>,
    ) -> Result<Uri, Error> {
        let mut joined = String::with_capacity(self.prefix.len() + capacity);
        joined.push_str(&self.prefix);
        write(&mut joined)?;
        let unsendable = |e: &dyn std::fmt::Display| {
            Error::invalid_request("path", format!("cannot be sent in a URL: {e}"))
        };
        let path_and_query = PathAndQuery::try_from(joined).map_err(|e| unsendable(&e))?;
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).map_err(|e| unsendable(&e))
    }
}

impl std::fmt::Display for BaseUrlLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// The path segment of the API version, added to a base URL that has none.
const API_VERSION_SEGMENT: &str = "v1";

/// Whether the last segment of a path names an API version (`v1`, `V2`, ...).
fn ends_with_version(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    let mut chars = last.chars();
    matches!(chars.next(), Some('v' | 'V'))
        && !chars.as_str().is_empty()
        && chars.all(|c| c.is_ascii_digit())
}

/// Whether a host (as in a URL, IPv6 in brackets) is a loopback address.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl<S> Layer<S> for BaseUrlLayer {
    type Service = BaseUrl<S>;

    fn layer(&self, inner: S) -> BaseUrl<S> {
        BaseUrl {
            inner,
            base: self.clone(),
        }
    }
}

/// Joins request paths onto the base URL; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct BaseUrl<S> {
    inner: S,
    base: BaseUrlLayer,
}

impl<S, B> Service<http::Request<B>> for BaseUrl<S>
where
    S: Service<http::Request<B>, Error = Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = OrError<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if req.uri().scheme().is_none() {
            let joined = match req.uri().path_and_query() {
                Some(pq) => self.base.join(pq.as_str()),
                None => self.base.join("/"),
            };
            match joined {
                Ok(uri) => *req.uri_mut() = uri,
                Err(e) => return OrError::error(e),
            }
        }
        OrError::future(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_validates() {
        let cases = [
            (
                "https://api.clerk.com/v1",
                "/x?a=1",
                "https://api.clerk.com/v1/x?a=1",
            ),
            (
                "https://api.clerk.com/v1/",
                "/x",
                "https://api.clerk.com/v1/x",
            ),
            // The origin alone, as Clerk's SDKs take it: the API version is added.
            ("https://api.clerk.com", "/x", "https://api.clerk.com/v1/x"),
            ("https://api.clerk.com/", "/x", "https://api.clerk.com/v1/x"),
            ("http://127.0.0.1:8787", "/x", "http://127.0.0.1:8787/v1/x"),
            // A proxy path without a version gets it too; one with a version is the API root.
            (
                "https://proxy.internal/clerk",
                "/x",
                "https://proxy.internal/clerk/v1/x",
            ),
            (
                "https://api.clerk.com/V1",
                "/x",
                "https://api.clerk.com/V1/x",
            ),
            (
                "https://api.clerk.com/v2/",
                "/x",
                "https://api.clerk.com/v2/x",
            ),
            (
                "https://proxy.internal:8443/clerk/v1//",
                "/x",
                "https://proxy.internal:8443/clerk/v1/x",
            ),
            (
                "http://localhost:3000/v1",
                "/x",
                "http://localhost:3000/v1/x",
            ),
            ("http://[::1]:3000/v1", "/x", "http://[::1]:3000/v1/x"),
            ("http://127.0.0.2/v1", "/x", "http://127.0.0.2/v1/x"),
        ];
        for (base, path, want) in cases {
            assert_eq!(
                BaseUrlLayer::parse(base)
                    .unwrap()
                    .join(path)
                    .unwrap()
                    .to_string(),
                want,
                "{base}"
            );
        }
        for bad in [
            "",
            "api.clerk.com/v1",
            "/v1",
            "ftp://api.clerk.com/v1",
            "http://api.clerk.com/v1",
            "http://10.0.0.1/v1",
            "https://api.clerk.com/v1?x=1",
            "https://api.clerk.com/v1#frag",
            "https://user:pw@api.clerk.com/v1",
            "https://api clerk.com",
            "https://",
        ] {
            assert!(
                matches!(BaseUrlLayer::parse(bad), Err(Error::Config(_))),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost") && is_loopback("127.0.0.1") && is_loopback("[::1]"));
        assert!(
            !is_loopback("localhost.evil.com")
                && !is_loopback("192.168.1.1")
                && !is_loopback("[::2]")
        );
    }
}
