//! Typed endpoints as tower services.
//!
//! Each Clerk operation is a type implementing [`Endpoint`]: it knows its method, its path and
//! query, its JSON body and its output type. [`EndpointService<E>`] is a `tower::Service<E>`
//! that turns an `E` into an [`HttpRequest`], sends it down the client's stack, and decodes the
//! 2xx response into `E::Output`. Because it is a plain service, everything tower offers
//! composes with it:
//!
//! ```
//! use clerk_tower::{api::CreateAllowlistIdentifier, Client};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # async fn demo(client: Client) -> Result<(), clerk_tower::BoxError> {
//! // At most 4 creates in flight, from anywhere in the program.
//! let mut create = ServiceBuilder::new()
//!     .concurrency_limit(4)
//!     .service(client.service::<CreateAllowlistIdentifier>());
//! let created = create.ready().await?.call(CreateAllowlistIdentifier::new("a@example.com")).await?;
//! println!("{}", created.id);
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::error::DecodeError;
use crate::http::AttemptCount;
use crate::layer::OrError;
use crate::stack::{Stack, StackFuture};
use crate::{Error, HttpRequest, HttpResponse, Operation, RequestOptions};

/// One operation of the Clerk Backend API.
///
/// Implement it to call an operation this crate does not cover yet; the whole stack (auth,
/// retries, timeouts, errors) applies to it.
pub trait Endpoint: Send + 'static {
    /// What a 2xx response decodes into.
    type Output: DeserializeOwned + Send + 'static;

    /// The operation's name (its `operationId` in the spec) and whether it is idempotent.
    const OPERATION: Operation;

    /// The HTTP method.
    const METHOD: Method;

    /// Writes the path relative to the API root (starting with `/`) and the query string.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an argument the API does not accept; no I/O happens.
    fn write_path_and_query(&self, out: &mut String) -> Result<(), Error>;

    /// The JSON body, if the operation has one.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an argument the API does not accept.
    fn body(&self) -> Result<Option<Bytes>, Error> {
        Ok(None)
    }

    /// The path and query when this request has a constant one (for example a list without
    /// parameters): the request then points at the static string, with no buffer to fill.
    /// `None` (the default) means [`write_path_and_query`](Self::write_path_and_query) is used.
    fn static_path_and_query(&self) -> Option<&'static str> {
        None
    }

    /// Builds the request: path, body and the [`Operation`] / [`RequestOptions`] extensions.
    fn to_request(&self, options: Option<RequestOptions>) -> Result<HttpRequest, Error> {
        let uri = match self.static_path_and_query() {
            Some(path) => http::Uri::from_maybe_shared(Bytes::from_static(path.as_bytes())),
            None => {
                let mut path = String::with_capacity(64);
                self.write_path_and_query(&mut path)?;
                http::Uri::try_from(path)
            }
        }
        .map_err(|e| Error::invalid_request("path", format!("cannot be sent in a URL: {e}")))?;
        let body = self.body()?.unwrap_or_default();
        let mut req = http::Request::new(Full::new(body));
        *req.method_mut() = Self::METHOD;
        *req.uri_mut() = uri;
        req.extensions_mut().insert(Self::OPERATION);
        if let Some(options) = options {
            req.extensions_mut().insert(options);
        }
        Ok(req)
    }
}

/// Characters left as they are in a path segment: RFC 3986 unreserved characters. Everything
/// else (`/`, `?`, `#`, `%`, spaces, non-ASCII...) is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Appends `/` and `value` percent-encoded as exactly one path segment.
///
/// # Errors
/// [`Error::InvalidRequest`] (naming `field`) when `value` is empty, or is `.` or `..`, which
/// a server or proxy would read as a relative path.
pub fn push_path_segment(out: &mut String, field: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid_request(field, "must not be empty"));
    }
    if value == "." || value == ".." {
        return Err(Error::invalid_request(field, "must not be `.` or `..`"));
    }
    out.push('/');
    out.extend(percent_encoding::utf8_percent_encode(value, SEGMENT));
    Ok(())
}

/// Decodes a 2xx response body into `T`.
///
/// The body is checked as UTF-8 once and then parsed from `&str` (faster than letting the JSON
/// parser re-check every string).
///
/// # Errors
/// [`Error::Decode`] with the status, what went wrong and where (never a value from the
/// body), and the body.
pub fn decode_json<T: DeserializeOwned>(res: HttpResponse) -> Result<T, Error> {
    let (parts, body) = res.into_parts();
    let body = crate::http::body_bytes(body);
    let parsed = match std::str::from_utf8(&body) {
        Ok(text) => serde_json::from_str(text),
        // Let the JSON parser find the bad byte and report where it is.
        Err(_) => serde_json::from_slice(&body),
    };
    parsed.map_err(|e| {
        let attempts = parts.extensions.get::<AttemptCount>().map_or(1, |n| n.0);
        Error::Decode(Box::new(DecodeError::json(
            parts.status,
            &e,
            body,
            attempts,
        )))
    })
}

/// A `tower::Service<E>` for one endpoint type; get one from
/// [`Client::service`](crate::Client::service).
pub struct EndpointService<E> {
    inner: Stack,
    options: Option<RequestOptions>,
    _endpoint: PhantomData<fn(E) -> E>,
}

impl<E> EndpointService<E> {
    pub(crate) fn new(inner: Stack) -> Self {
        Self {
            inner,
            options: None,
            _endpoint: PhantomData,
        }
    }

    /// Applies `options` (timeouts, retries) to every call of this service.
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }
}

impl<E> Clone for EndpointService<E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            options: self.options,
            _endpoint: PhantomData,
        }
    }
}

impl<E> fmt::Debug for EndpointService<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointService")
            .field("endpoint", &std::any::type_name::<E>())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<E: Endpoint> Service<E> for EndpointService<E> {
    type Response = E::Output;
    type Error = Error;
    type Future = EndpointFuture<E::Output>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, endpoint: E) -> Self::Future {
        let inner = match endpoint.to_request(self.options) {
            Ok(req) => OrError::future(self.inner.call(req)),
            Err(e) => OrError::error(e),
        };
        EndpointFuture {
            inner,
            _output: PhantomData,
        }
    }
}

pin_project! {
    /// The future of [`EndpointService`].
    pub struct EndpointFuture<T> {
        #[pin]
        inner: OrError<StackFuture>,
        _output: PhantomData<fn() -> T>,
    }
}

impl<T: DeserializeOwned> Future for EndpointFuture<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let res = std::task::ready!(self.project().inner.poll(cx))?;
        Poll::Ready(decode_json(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_as_one() {
        let cases = [
            ("alid_123", "/alid_123"),
            ("a/b", "/a%2Fb"),
            ("a?b#c", "/a%3Fb%23c"),
            ("100%", "/100%25"),
            ("a b", "/a%20b"),
            ("../admin", "/..%2Fadmin"),
            ("a..b", "/a..b"),
            ("é", "/%C3%A9"),
            ("~-_.", "/~-_."),
        ];
        for (id, want) in cases {
            let mut out = String::new();
            push_path_segment(&mut out, "identifier_id", id).unwrap();
            assert_eq!(out, want, "{id:?}");
        }
        for bad in ["", ".", ".."] {
            assert!(matches!(
                push_path_segment(&mut String::new(), "identifier_id", bad),
                Err(Error::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn decode_errors_keep_status_and_body() {
        let mut res = HttpResponse::new(Full::new(Bytes::from_static(b"{\"id\": 5}")));
        *res.status_mut() = http::StatusCode::OK;
        let err = decode_json::<crate::models::AllowlistIdentifier>(res).unwrap_err();
        match err {
            Error::Decode(d) => {
                assert_eq!(d.status(), http::StatusCode::OK);
                assert_eq!(d.body(), &Bytes::from_static(b"{\"id\": 5}"));
                assert!(d.message().contains("line 1"), "{}", d.message());
            }
            other => panic!("unexpected {other:?}"),
        }
        let res = HttpResponse::new(Full::new(Bytes::from_static(b"\xff\xfe")));
        assert!(matches!(
            decode_json::<serde_json::Value>(res),
            Err(Error::Decode(_))
        ));
    }
}
