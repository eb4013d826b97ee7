//! The concrete type of the client's stack.
//!
//! The stack is kept as a concrete, unboxed type so that a call clones no box and allocates no
//! future per layer: cloning it (once per call, by `oneshot` and by tower's `Retry`) only bumps
//! reference counts. User layers are the one place where types are erased: with any, the part
//! of the stack below them is boxed once into an [`HttpService`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::retry::Retry;
use tower_service::Service;

use crate::layer::{
    Auth, BaseUrl, ClerkRetryPolicy, DecodeErrors, DefaultHeaders, OrError, Timeout,
};
use crate::transport::{Transport, TransportFuture};
use crate::{Error, HttpRequest, HttpResponse, HttpService};

/// What every attempt goes through below the user layers.
pub(crate) type Core = BaseUrl<DefaultHeaders<Auth<DecodeErrors<Transport>>>>;

type CoreFuture = OrError<crate::layer::decode::ResponseFuture<TransportFuture>>;
type BoxedFuture = <HttpService as Service<HttpRequest>>::Future;

/// One attempt: the core directly, or the user layers over the (boxed) core.
// Boxing the core would cost an allocation on every clone, which is what this type avoids.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Attempt {
    Core(Core),
    Layered(HttpService),
}

impl Service<HttpRequest> for Attempt {
    type Response = HttpResponse;
    type Error = Error;
    type Future = AttemptFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match self {
            Attempt::Core(s) => s.poll_ready(cx),
            Attempt::Layered(s) => s.poll_ready(cx),
        }
    }

    fn call(&mut self, req: HttpRequest) -> AttemptFuture {
        match self {
            Attempt::Core(s) => AttemptFuture::Core {
                future: s.call(req),
            },
            Attempt::Layered(s) => AttemptFuture::Layered {
                future: s.call(req),
            },
        }
    }
}

pin_project! {
    /// The future of one attempt.
    #[project = AttemptProj]
    pub(crate) enum AttemptFuture {
        Core { #[pin] future: CoreFuture },
        Layered { #[pin] future: BoxedFuture },
    }
}

impl Future for AttemptFuture {
    type Output = Result<HttpResponse, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AttemptProj::Core { future } => future.poll(cx),
            AttemptProj::Layered { future } => future.poll(cx),
        }
    }
}

/// The whole stack of a client: total timeout, retry, attempt timeout, then one attempt.
pub(crate) type Stack = Timeout<Retry<ClerkRetryPolicy, Timeout<Attempt>>>;

/// The future of a call through [`Stack`].
pub(crate) type StackFuture = <Stack as Service<HttpRequest>>::Future;
