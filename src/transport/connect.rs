//! The connector of the default transport: it opens one connection (TCP, directly or through
//! an HTTPS proxy's `CONNECT` tunnel, then TLS for `https` URLs), the whole of it bounded by
//! [`TransportConfig::connect_timeout`].
//!
//! hyper-util's `HttpConnector` can only bound the TCP connect; a peer that accepts and then
//! never answers the TLS `ClientHello` would hold the attempt until the call's total timeout.
//! Here the timer covers everything a connection needs before the request can be written, and
//! its expiry fails the connector, which the pooled client reports as a connect error: the
//! request was never written, so the retry layer may send it again whatever its method.
//!
//! Everything here runs once per new connection, never per request on a pooled connection.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use pin_project_lite::pin_project;
use tokio::net::TcpStream;
use tower_service::Service;

use super::proxy::ProxyRules;
use super::{finite, TransportConfig};
use crate::error::BoxError;
use crate::Error;

/// A connection of the default transport: TCP, with TLS on top for `https` URLs.
pub type Connection = MaybeHttpsStream<TokioIo<TcpStream>>;

/// Opens the connections of the default transport (a `tower::Service<Uri>`, as hyper-util's
/// pooled client wants): TCP, directly or through the HTTPS proxy's `CONNECT` tunnel, then the
/// TLS handshake for `https` URLs, the whole bounded by [`TransportConfig::connect_timeout`].
/// Built by [`hyper_client`](super::hyper_client).
///
/// hyper-util clones its connector for every request, pooled or not, so a clone is one
/// reference count; the parts are cloned only when a connection is really opened.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    https: HttpsConnector<Route>,
    timeout: Option<Duration>,
    proxy: Option<ProxyRules>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("timeout", &self.inner.timeout)
            .field("proxy", &self.inner.proxy)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// The connector for `config`, speaking TLS with `tls` and tunnelling through `proxy`.
    pub(crate) fn new(
        config: &TransportConfig,
        tls: rustls::ClientConfig,
        proxy: Option<ProxyRules>,
    ) -> Result<Self, Error> {
        if config.connect_timeout.is_zero() {
            return Err(Error::config(
                "TransportConfig::connect_timeout is zero: no connection could ever be made",
            ));
        }
        let timeout = finite(config.connect_timeout);
        let mut http = HttpConnector::new();
        // hyper-rustls decides between TLS and plain TCP; the base URL layer has already
        // refused plain http to anything but loopback.
        http.enforce_http(false);
        http.set_nodelay(true);
        // Bounds each TCP connect too (split between the addresses a name resolves to), so
        // one unreachable address leaves time for the next; `timeout` bounds the whole.
        http.set_connect_timeout(timeout);
        http.set_keepalive(config.tcp_keepalive);
        let route = Route {
            http,
            proxy: proxy.clone(),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(route);
        Ok(Self {
            inner: Arc::new(Inner {
                https,
                timeout,
                proxy,
            }),
        })
    }
}

impl Service<Uri> for Connector {
    type Response = Connection;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Always ready: hyper-util's `HttpConnector` (with its getaddrinfo resolver) is, and
        // so are the TLS and tunnel wrappers around it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Connecting {
        let connecting = self.inner.https.clone().call(dst);
        match self.inner.timeout {
            Some(limit) => Connecting(Box::pin(async move {
                match tokio::time::timeout(limit, connecting).await {
                    Ok(done) => done,
                    Err(_elapsed) => Err(Box::new(ConnectTimeout(limit)) as BoxError),
                }
            })),
            None => Connecting(connecting),
        }
    }
}

/// The TCP stream to a destination: a direct connection, or a `CONNECT` tunnel through the
/// proxy. TLS (hyper-rustls) runs on top of either, end to end with the destination.
#[derive(Clone)]
pub(crate) struct Route {
    http: HttpConnector,
    proxy: Option<ProxyRules>,
}

type DirectFuture = <HttpConnector as Service<Uri>>::Future;
type TunnelFuture = <Tunnel<HttpConnector> as Service<Uri>>::Future;

impl Service<Uri> for Route {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = RouteFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The tunnel connects through a clone of the same connector.
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> RouteFuture {
        if let Some(proxy) = self.proxy.as_ref().and_then(|p| p.intercept(&dst)) {
            let mut tunnel = Tunnel::new(proxy.uri().clone(), self.http.clone());
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            return RouteFuture::Tunnel {
                future: tunnel.call(dst),
            };
        }
        RouteFuture::Direct {
            future: self.http.call(dst),
        }
    }
}

pin_project! {
    /// The future of one [`Route`] call.
    #[project = RouteProj]
    pub(crate) enum RouteFuture {
        Direct { #[pin] future: DirectFuture },
        Tunnel { #[pin] future: TunnelFuture },
    }
}

impl Future for RouteFuture {
    type Output = Result<TokioIo<TcpStream>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            RouteProj::Direct { future } => future.poll(cx).map_err(Into::into),
            RouteProj::Tunnel { future } => future.poll(cx).map_err(Into::into),
        }
    }
}

/// The future of one [`Connector`] call: a connection, or why none could be made.
pub struct Connecting(Pin<Box<dyn Future<Output = Result<Connection, BoxError>> + Send>>);

impl fmt::Debug for Connecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connecting")
    }
}

impl Future for Connecting {
    type Output = Result<Connection, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// No connection within `connect_timeout`. hyper-util's client wraps every connector error in
/// its own error with `is_connect() == true`, which [`TransportError`](crate::error::TransportError)
/// classifies as [`TransportErrorKind::Connect`](crate::error::TransportErrorKind::Connect).
#[derive(Debug)]
struct ConnectTimeout(Duration);

impl fmt::Display for ConnectTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no connection within the connect timeout of {:?} (TCP, proxy tunnel and TLS \
             handshake together)",
            self.0
        )
    }
}

impl StdError for ConnectTimeout {}
