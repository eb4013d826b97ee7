//! The socket-free transport: the mock as a `tower::Service<HttpRequest>`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::engine::{Action, Incoming, MAX_BODY_BYTES};
use super::MockClerk;
use crate::{BoxError, HttpRequest, HttpResponse};

/// The future returned by [`MockService`].
pub type MockFuture =
    Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

/// The mock as a [`tower::Service`]: requests go straight to the in-memory server, without a
/// socket. Made by [`MockClerk::service`]; `Clone + Send + Sync`, always ready.
///
/// Faults behave as close to the TCP server as a body-in-memory service can:
/// [`DelayHeaders`](super::FaultKind::DelayHeaders) and
/// [`DelayBody`](super::FaultKind::DelayBody) sleep with `tokio::time::sleep` (so paused-time
/// tests work) and then answer; [`CloseBeforeResponse`](super::FaultKind::CloseBeforeResponse)
/// is an `Err` holding an [`std::io::Error`] of kind `ConnectionReset` (a client cannot tell
/// whether the request was written, exactly as with a reset over TCP);
/// [`CloseMidBody`](super::FaultKind::CloseMidBody) is an `Err` holding an `io::Error` of kind
/// `UnexpectedEof`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Full};
/// use tower::ServiceExt;
/// use clerk_tower::mock::MockClerk;
///
/// let mock = MockClerk::new();
/// mock.insert("ada@example.com").unwrap();
/// let request = http::Request::get("http://mock/v1/allowlist_identifiers")
///     .header("authorization", format!("Bearer {}", MockClerk::DEFAULT_SECRET_KEY))
///     .body(Full::new(Bytes::new()))
///     .unwrap();
/// let response = mock.service().oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// let body = response.into_body().collect().await.unwrap().to_bytes();
/// assert!(body.starts_with(b"[{\"object\":\"allowlist_identifier\""));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct MockService {
    pub(crate) clerk: MockClerk,
}

impl tower_service::Service<HttpRequest> for MockService {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = MockFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let clerk = self.clerk.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body: Bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let too_large = body.len() > MAX_BODY_BYTES;
            let mut prepared = clerk.handle(Incoming {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
                body,
                too_large,
            });
            match prepared.action {
                Action::Respond => {}
                Action::DelayHeaders(d) | Action::DelayBody(d) => tokio::time::sleep(d).await,
                Action::CloseBeforeResponse => {
                    prepared.notify();
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "clerk-tower mock: connection closed before the response (injected fault)",
                    )
                    .into());
                }
                Action::CloseMidBody => {
                    prepared.notify();
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "clerk-tower mock: connection closed in the middle of the body (injected fault)",
                    )
                    .into());
                }
            }
            prepared.notify();
            Ok(prepared.response.map(Full::new))
        })
    }
}
