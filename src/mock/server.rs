//! The TCP transport: a hyper 1 HTTP/1.x server on a loopback (or any) address.
//!
//! Requests hyper cannot parse (bad bytes in the request line or a header, a URI over 65,534
//! bytes, a head over hyper's buffer or with more than 100 headers) are answered by hyper
//! itself, before any service sees them, with a bodiless 400, 414 or 431. [`ProtocolErrors`]
//! turns those answers into Clerk's error shape on their way out; a body that breaks off
//! mid-way or is malformed chunked gets a 400 `request_body_invalid` from [`handle`]. Each is
//! followed by the end of the connection.

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
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;

use super::engine::{Action, Incoming, SplitMix64, MAX_BODY_BYTES};
use super::MockClerk;
use crate::models::{ClerkError, ClerkErrors};
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
                        .serve_connection(TokioIo::new(ProtocolErrors::new(stream)), service)
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
            // A malformed chunked body, or one cut off: answered (if the client is gone, the
            // write fails and nothing is lost), then hyper closes the connection, whose
            // reading cannot go on.
            Ok(Err(_)) => {
                let status = http::StatusCode::BAD_REQUEST;
                let (body, trace_id) = protocol_error_body(ClerkError::new(
                    "request_body_invalid",
                    "Request body invalid",
                    "The request body could not be read: malformed chunked encoding, or cut off.",
                ));
                let mut response = Response::new(MockBody::full(Bytes::from(body)));
                *response.status_mut() = status;
                let headers = response.headers_mut();
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                headers.insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
                if let Ok(value) = http::HeaderValue::from_str(&trace_id) {
                    headers.insert("clerk-trace-id", value);
                }
                return Ok(response);
            }
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

/// The Clerk error hyper's bodiless answer with `status` stands for.
fn parse_error(status: http::StatusCode) -> ClerkError {
    match status.as_u16() {
        414 => ClerkError::new(
            "request_uri_too_long",
            "Request URI too long",
            "The request's URI is longer than the server accepts.",
        ),
        431 => ClerkError::new(
            "request_header_fields_too_large",
            "Request header fields too large",
            "The request's header fields are larger, or more, than the server accepts.",
        ),
        _ if status == http::StatusCode::BAD_REQUEST => ClerkError::new(
            "request_invalid",
            "Request invalid",
            "The request is not valid HTTP: its request line or a header could not be parsed.",
        ),
        _ => ClerkError::new("bad_request", "Bad request", "Bad request"),
    }
}

/// A `ClerkErrors` body (JSON bytes) holding `error`, and its trace id.
fn protocol_error_body(error: ClerkError) -> (Vec<u8>, String) {
    let trace_id = SplitMix64::new(SplitMix64::entropy()).trace_id();
    let body = ClerkErrors {
        errors: vec![error],
        meta: None,
        clerk_trace_id: Some(trace_id.clone()),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"errors\":[]}".to_vec());
    (bytes, trace_id)
}

/// A connection whose bodiless 400, 414 and 431 answers (hyper's own, for requests it cannot
/// parse: the mock's services always send a JSON body) are rewritten into Clerk's error shape
/// with `Connection: close`. Everything else passes through untouched.
///
/// It tells hyper it has no vectored writes, so that hyper hands it each response in one
/// buffer, head first.
pub(crate) struct ProtocolErrors<S> {
    inner: S,
    /// A rewritten answer being written: its bytes, how many are written, and how many bytes
    /// of hyper's to report once it is.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<S> ProtocolErrors<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The status of `buf` when it is a whole response head with `content-length: 0` and a status
/// hyper answers parse errors with.
fn bodiless_parse_error(buf: &[u8]) -> Option<http::StatusCode> {
    if buf.len() > 1024 || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = match rest.get(..4)? {
        b"400 " => http::StatusCode::BAD_REQUEST,
        b"414 " => http::StatusCode::URI_TOO_LONG,
        b"431 " => http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let head = String::from_utf8_lossy(buf).to_ascii_lowercase();
    head.contains("\r\ncontent-length: 0\r\n").then_some(status)
}

/// The whole response that replaces hyper's bodiless answer with `status`.
fn clerk_shaped(status: http::StatusCode) -> Vec<u8> {
    let (body, trace_id) = protocol_error_body(parse_error(status));
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nclerk-trace-id: {trace_id}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl<S: AsyncRead + Unpin> AsyncRead for ProtocolErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProtocolErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match bodiless_parse_error(buf) {
                Some(status) => this.pending = Some((clerk_shaped(status), 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        loop {
            let Some((bytes, written, report)) = this.pending.as_mut() else {
                return Poll::Ready(Ok(0));
            };
            let Some(rest) = bytes.get(*written..).filter(|r| !r.is_empty()) else {
                let report = *report;
                this.pending = None;
                return Poll::Ready(Ok(report));
            };
            match std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, rest)) {
                Ok(0) => {
                    this.pending = None;
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => *written = written.saturating_add(n),
                Err(e) => {
                    this.pending = None;
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
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
