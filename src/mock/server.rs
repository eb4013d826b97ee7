//! The TCP transport: a hyper 1 HTTP/1.x server on a loopback (or any) address.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

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
    /// The base URL to give a client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

pub(crate) async fn serve_on(clerk: MockClerk, addr: SocketAddr) -> std::io::Result<MockServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, clerk, stop_rx));
    Ok(MockServer {
        addr,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

async fn accept_loop(listener: TcpListener, clerk: MockClerk, mut stop: oneshot::Receiver<()>) {
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
                    let service = service_fn(move |req| handle(clerk.clone(), req));
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
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
    req: http::Request<IncomingBody>,
) -> Result<Response<MockBody>, BoxError> {
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
        match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => (collected.to_bytes(), false),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => (Bytes::new(), true),
            // The client went away while sending its body: nobody to answer.
            Err(err) => return Err(err),
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
