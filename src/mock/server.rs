//! The TCP transport: a hyper 1 HTTP/1.x server on a loopback (or any) address.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming as IncomingBody;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;

use super::engine::{Action, Incoming, MAX_BODY_BYTES};
use super::MockClerk;
use crate::BoxError;

/// How long a `CloseMidBody` body waits after its first half, so the half is flushed to the
/// socket before the connection is torn down.
const MID_BODY_PAUSE: Duration = Duration::from_millis(20);

/// The read timeouts of the TCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerSettings {
    /// How long the whole body of a request may take to arrive once its head is in.
    pub(crate) body_timeout: Duration,
    /// How long a request head may take to arrive, and a keep-alive connection may stay idle.
    pub(crate) header_timeout: Duration,
}

impl ServerSettings {
    pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
    pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
        }
    }
}

/// A running mock server. Made by [`MockClerk::serve`] or [`MockClerk::serve_on`].
///
/// Dropping it (or calling [`shutdown`](MockServer::shutdown)) stops accepting and closes every
/// open connection; no task is left behind.
pub struct MockServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// The base URL to give a client on this machine: `http://127.0.0.1:PORT/v1`.
    ///
    /// It always names the address the server was bound to, except when that address is
    /// unspecified (`0.0.0.0` or `[::]`, every interface): a client cannot connect to that, so
    /// the URL names the loopback address of the same family (`127.0.0.1` or `[::1]`), which
    /// the client accepts over plain http.
    pub fn base_url(&self) -> String {
        base_url_for(self.addr)
    }

    /// The address the server listens on, as bound (`0.0.0.0:PORT` when it listens on every
    /// IPv4 interface).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server listens on every interface (it was bound to `0.0.0.0` or `[::]`),
    /// and so is reachable from other hosts.
    pub fn listens_on_every_interface(&self) -> bool {
        self.addr.ip().is_unspecified()
    }

    /// Stops the server and waits until the accept loop and every connection are gone.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            // Aborting the accept loop drops its JoinSet, which aborts every connection task.
            task.abort();
        }
    }
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// `http://ADDR/v1`, with the loopback address of the same family for an unspecified one.
pub(crate) fn base_url_for(addr: SocketAddr) -> String {
    let mut addr = addr;
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => {}
    }
    format!("http://{addr}/v1")
}

pub(crate) async fn serve_on(clerk: MockClerk, addr: SocketAddr) -> std::io::Result<MockServer> {
    let settings = clerk.server_settings();
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, clerk, settings, stop_rx));
    Ok(MockServer {
        addr,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

async fn accept_loop(
    listener: TcpListener,
    clerk: MockClerk,
    settings: ServerSettings,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Out of file descriptors and the like: back off a little and go on.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let clerk = clerk.clone();
                connections.spawn(async move {
                    let service =
                        service_fn(move |req| handle(clerk.clone(), settings.body_timeout, req));
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(settings.header_timeout)
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// The error a hyper service returns to make hyper drop the connection.
#[derive(Debug)]
struct InjectedClose(&'static str);

impl fmt::Display for InjectedClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InjectedClose {}

async fn handle(
    clerk: MockClerk,
    body_timeout: Duration,
    req: http::Request<IncomingBody>,
) -> Result<Response<MockBody>, BoxError> {
    let arrived = Instant::now();
    let (parts, body) = req.into_parts();
    let declared_too_large = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let (body, too_large) = if declared_too_large {
        (Bytes::new(), true)
    } else {
        let read = Limited::new(body, MAX_BODY_BYTES).collect();
        match tokio::time::timeout(body_timeout, read).await {
            Ok(Ok(collected)) => (collected.to_bytes(), false),
            Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => (Bytes::new(), true),
            // The client went away while sending its body: nobody to answer.
            Ok(Err(err)) => return Err(err),
            // The body stalls: a 408 with `Connection: close`, then hyper closes the
            // connection (it cannot be reused with a body half read).
            Err(_elapsed) => {
                let mut prepared = clerk.body_timed_out(
                    &parts.method,
                    &parts.uri,
                    &parts.headers,
                    body_timeout,
                    arrived,
                );
                prepared.notify();
                return Ok(prepared.response.map(MockBody::full));
            }
        }
    };
    let mut prepared = clerk.handle(Incoming {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        body,
        too_large,
    });
    let action = prepared.action;
    match action {
        Action::CloseBeforeResponse => {
            prepared.notify();
            return Err(Box::new(InjectedClose(
                "connection closed before the response (injected fault)",
            )));
        }
        Action::DelayHeaders(d) => tokio::time::sleep(d).await,
        _ => {}
    }
    prepared.notify();
    let (parts, bytes) = prepared.response.into_parts();
    let body = match action {
        Action::DelayBody(d) => MockBody::delayed(bytes, d),
        Action::CloseMidBody => MockBody::half_then_error(bytes),
        _ => MockBody::full(bytes),
    };
    Ok(Response::from_parts(parts, body))
}

/// The response body of the TCP server: whole, delayed, or cut off with an error.
pub(crate) struct MockBody {
    state: BodyState,
    len: u64,
}

enum BodyState {
    Full(Option<Bytes>),
    Delayed {
        sleep: Pin<Box<Sleep>>,
        data: Option<Bytes>,
    },
    HalfThenError {
        first: Option<Bytes>,
        pause: Option<Pin<Box<Sleep>>>,
    },
    Done,
}

impl MockBody {
    fn full(bytes: Bytes) -> Self {
        let len = bytes.len() as u64;
        MockBody {
            state: BodyState::Full(Some(bytes).filter(|b| !b.is_empty())),
            len,
        }
    }

    fn delayed(bytes: Bytes, delay: Duration) -> Self {
        let len = bytes.len() as u64;
        MockBody {
            state: BodyState::Delayed {
                sleep: Box::pin(tokio::time::sleep(delay)),
                data: Some(bytes),
            },
            len,
        }
    }

    fn half_then_error(bytes: Bytes) -> Self {
        let len = bytes.len() as u64;
        let first = bytes.slice(..bytes.len() / 2);
        MockBody {
            state: BodyState::HalfThenError {
                first: Some(first).filter(|b| !b.is_empty()),
                pause: None,
            },
            len,
        }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match &mut this.state {
            BodyState::Full(data) => {
                let out = data.take().map(|d| Ok(Frame::data(d)));
                if out.is_none() {
                    this.state = BodyState::Done;
                }
                Poll::Ready(out)
            }
            BodyState::Delayed { sleep, data } => {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let out = data
                    .take()
                    .filter(|d| !d.is_empty())
                    .map(|d| Ok(Frame::data(d)));
                this.state = BodyState::Done;
                Poll::Ready(out)
            }
            BodyState::HalfThenError { first, pause } => {
                if let Some(first) = first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(first))));
                }
                let pause =
                    pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(MID_BODY_PAUSE)));
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.state = BodyState::Done;
                Poll::Ready(Some(Err(Box::new(InjectedClose(
                    "connection closed in the middle of the body (injected fault)",
                )))))
            }
            BodyState::Done => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            BodyState::Full(data) => data.is_none(),
            BodyState::Done => true,
            _ => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}
