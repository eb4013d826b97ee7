//! The bottom of the stack: sending requests over the network and reading whole, size-limited
//! response bodies.
//!
//! The default transport is hyper-util's pooled client over hyper-rustls, speaking HTTP/1.1,
//! with TLS by rustls (never OpenSSL). The crate's features choose the crypto provider (`ring`
//! by default, or `aws-lc-rs`, or none: the application's process default) and the root
//! certificates ([`TlsRoots`]: Mozilla's compiled in by default, or the operating system's);
//! [`TransportConfig`] adds extra PEM roots (a corporate CA), an HTTPS [`Proxy`] (from
//! `HTTPS_PROXY` / `NO_PROXY` by default), the connect timeout (TCP and TLS together) and the
//! pool settings. `docs/transport.md` tells the whole story.
//!
//! Idle pooled connections are closed after [`TransportConfig::pool_idle_timeout`] by a real
//! timer, not only when next checked out.
//!
//! [`CollectBody`] reads a response body into [`Bytes`] with a size limit, so the connection
//! goes back to the pool before any layer looks at the response, and an endless body is an
//! error instead of an out-of-memory crash. It wraps the default transport and any transport
//! you give to [`ClientBuilder::transport`](crate::ClientBuilder::transport).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::error::{Attempted, BoxError, TransportError, TransportErrorKind};
use crate::{Error, HttpRequest, HttpResponse, HttpService};

mod connect;
mod proxy;
mod tls;

pub use self::connect::{Connecting, Connection, Connector};
pub use self::proxy::Proxy;
pub use self::tls::TlsRoots;

/// The default limit on a response body: 4 MiB (a 500-identifier page is about 150 KB).
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 4 * 1024 * 1024;

/// Settings of the default network transport.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::transport::{Proxy, TransportConfig};
///
/// # let corporate_ca_pem = b"";
/// let config = TransportConfig {
///     connect_timeout: Duration::from_secs(3),
///     // Trusted besides the default roots (e.g. `std::fs::read("corp-ca.pem")?`).
///     extra_root_certificates: vec![corporate_ca_pem.to_vec()],
///     proxy: Proxy::url("http://proxy.corp.example:3128"),
///     ..TransportConfig::default()
/// };
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct TransportConfig {
    /// How long an unused pooled connection is kept open (default 90 s; 30 years or more,
    /// `Duration::MAX` included, keeps it until the server closes it).
    pub pool_idle_timeout: Duration,
    /// How many idle connections are kept per host (default: no limit, as hyper-util and
    /// reqwest; idle connections still close after `pool_idle_timeout`). A small limit makes
    /// many concurrent callers reconnect over and over.
    pub pool_max_idle_per_host: usize,
    /// How long establishing a connection may take, TCP connect and TLS handshake together
    /// (default 10 s). Running out is a connect error, which is retried for any operation. Zero
    /// is refused by [`ClientBuilder::build`](crate::ClientBuilder::build); `Duration::MAX`
    /// (any duration of 30 years or more) means no limit.
    pub connect_timeout: Duration,
    /// TCP keep-alive probe interval (default 60 s).
    pub tcp_keepalive: Option<Duration>,
    /// Where the root certificates come from (default: see [`TlsRoots`]).
    pub tls_roots: TlsRoots,
    /// Root certificates trusted besides [`tls_roots`](Self::tls_roots): each entry a PEM
    /// document (the contents of a `.pem` or `.crt` file) with one or more `CERTIFICATE`
    /// blocks; other blocks are skipped. A document that is not PEM, has no certificate, or
    /// holds an unusable certificate makes [`ClientBuilder::build`](crate::ClientBuilder::build)
    /// return [`Error::Config`]. Default: none.
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// The HTTPS proxy (default [`Proxy::from_env`]: `HTTPS_PROXY` / `NO_PROXY`, read when the
    /// client is built). Loopback destinations never go through a proxy.
    pub proxy: Proxy,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: usize::MAX,
            connect_timeout: Duration::from_secs(10),
            tcp_keepalive: Some(Duration::from_secs(60)),
            tls_roots: TlsRoots::default(),
            extra_root_certificates: Vec::new(),
            proxy: Proxy::default(),
        }
    }
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("connect_timeout", &self.connect_timeout)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field("tls_roots", &self.tls_roots)
            .field(
                "extra_root_certificates",
                &format_args!("[{} PEM documents]", self.extra_root_certificates.len()),
            )
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// Durations at least this long mean "no limit": timers that far out overflow the clock on
/// some platforms (Tokio itself caps sleeps at about 30 years), and such a timer never fires.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `Some(d)`, or `None` (no limit) for a duration too long to ever elapse.
fn finite(d: Duration) -> Option<Duration> {
    (d < FOREVER).then_some(d)
}

/// The hyper-util client the default transport is made of.
pub type HyperClient = hyper_util::client::legacy::Client<Connector, Full<Bytes>>;

/// Builds the default hyper-util client: pooled, HTTP/1.1, rustls, through the configured
/// proxy. Needs no runtime to be built; its futures run on Tokio. Reads the process
/// environment when `config.proxy` is [`Proxy::from_env`], and the system's certificates for
/// `TlsRoots::Native` and `TlsRoots::Platform`.
///
/// # Errors
/// [`Error::Config`] for a zero `connect_timeout`, no crypto provider, extra root
/// certificates that cannot be used, no root certificate at all, or an unusable proxy URL.
pub fn hyper_client(config: &TransportConfig) -> Result<HyperClient, Error> {
    let tls = tls::client_config(config)?;
    let proxy = config.proxy.resolve()?;
    let connector = Connector::new(config, tls, proxy)?;
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(finite(config.pool_idle_timeout))
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector),
    )
}

/// Reads response bodies into memory with a size limit; see the [module docs](self).
///
/// # Errors
/// The inner service's errors become [`Error::Transport`] (connect failures told apart from
/// the rest) unless they already are an [`Error`]; a body over the limit is a
/// [`TransportErrorKind::BodyTooLarge`] error, a body that breaks off is a
/// [`TransportErrorKind::Io`] error.
#[derive(Clone)]
pub struct CollectBody<S> {
    inner: S,
    limit: usize,
}

impl<S> CollectBody<S> {
    /// Wraps `inner`, refusing bodies over `limit` bytes.
    pub fn new(inner: S, limit: usize) -> Self {
        Self { inner, limit }
    }
}

impl<S> fmt::Debug for CollectBody<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectBody")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<HttpRequest> for CollectBody<S>
where
    S: Service<HttpRequest, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = Error;
    type Future = CollectFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::from_boxed(e.into()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        CollectFuture {
            state: CollectState::Calling {
                future: self.inner.call(req),
                limit: self.limit,
            },
        }
    }
}

pin_project! {
    /// The future of [`CollectBody`].
    pub struct CollectFuture<F, B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        #[pin]
        state: CollectState<F, B>,
    }
}

pin_project! {
    #[project = CollectProj]
    enum CollectState<F, B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        Calling { #[pin] future: F, limit: usize },
        Reading { #[pin] collect: Collect<Limited<B>>, parts: Option<http::response::Parts> },
    }
}

impl<F, B, E> Future for CollectFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<HttpResponse, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                CollectProj::Calling { future, limit } => {
                    let res = std::task::ready!(future.poll(cx))
                        .map_err(|e| Error::from_boxed(e.into()))?;
                    let limit = *limit;
                    let (parts, body) = res.into_parts();
                    if body.size_hint().lower() > limit as u64 {
                        return Poll::Ready(Err(too_large(limit)));
                    }
                    let collect = Limited::new(body, limit).collect();
                    state.set(CollectState::Reading {
                        collect,
                        parts: Some(parts),
                    });
                }
                CollectProj::Reading { collect, parts } => {
                    let collected = std::task::ready!(collect.poll(cx)).map_err(|e| {
                        if e.is::<LengthLimitError>() {
                            too_large(0)
                        } else {
                            Error::Transport(Attempted::new(TransportError::new(
                                TransportErrorKind::Io,
                                e,
                            )))
                        }
                    })?;
                    let parts = parts.take().expect("future polled after completion");
                    return Poll::Ready(Ok(http::Response::from_parts(
                        parts,
                        Full::new(collected.to_bytes()),
                    )));
                }
            }
        }
    }
}

fn too_large(limit: usize) -> Error {
    let message = if limit > 0 {
        format!("the response body is larger than the limit of {limit} bytes")
    } else {
        "the response body is larger than the configured limit".to_owned()
    };
    Error::Transport(Attempted::new(TransportError::new(
        TransportErrorKind::BodyTooLarge,
        message,
    )))
}

/// The transport a client was built with: the default network client (no boxing), or any
/// service given to [`ClientBuilder::transport`](crate::ClientBuilder::transport).
pub(crate) type Transport = tower::util::Either<CollectBody<SharedHyper>, HttpService>;

/// The hyper-util client behind one `Arc`: it sends through `&self`, so a clone of the stack
/// (one per call) copies a pointer instead of the whole client.
#[derive(Clone)]
pub(crate) struct SharedHyper(Arc<HyperClient>);

impl SharedHyper {
    pub(crate) fn new(client: HyperClient) -> Self {
        Self(Arc::new(client))
    }
}

impl Service<HttpRequest> for SharedHyper {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = hyper_util::client::legacy::ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The pooled client is always ready; it waits for a connection inside the future.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        self.0.request(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn collects_and_limits() {
        let svc = CollectBody::new(
            tower::service_fn(|_req: HttpRequest| async {
                Ok::<_, std::io::Error>(http::Response::new(Full::new(Bytes::from_static(
                    b"0123456789",
                ))))
            }),
            10,
        );
        let res = svc.oneshot(HttpRequest::default()).await.unwrap();
        assert_eq!(
            res.into_body().into_inner().unwrap_or_default(),
            "0123456789"
        );

        let small = CollectBody::new(
            tower::service_fn(|_req: HttpRequest| async {
                Ok::<_, std::io::Error>(http::Response::new(Full::new(Bytes::from_static(
                    b"0123456789",
                ))))
            }),
            9,
        );
        let err = small.oneshot(HttpRequest::default()).await.unwrap_err();
        assert!(
            matches!(&err, Error::Transport(t) if t.kind() == TransportErrorKind::BodyTooLarge),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn maps_transport_errors() {
        let svc = CollectBody::new(
            tower::service_fn(|_req: HttpRequest| async {
                Err::<http::Response<Full<Bytes>>, _>(std::io::Error::from(
                    std::io::ErrorKind::ConnectionRefused,
                ))
            }),
            10,
        );
        let err = svc.oneshot(HttpRequest::default()).await.unwrap_err();
        assert!(
            matches!(&err, Error::Transport(t) if t.is_connect()),
            "{err:?}"
        );
    }

    #[test]
    fn builds_outside_a_runtime() {
        assert!(hyper_client(&TransportConfig::default()).is_ok());
    }
}
