//! Operations as tower services, and the call builders on top of them.
//!
//! [`OperationService<O>`] is a `tower::Service<O>`: it turns an `O` into an
//! [`HttpRequest`], sends it through the client's whole stack, and
//! decodes the 2xx response into `O::Output`. Everything tower offers composes with it:
//!
//! ```
//! use clerk_tower::api::CreateAllowlistIdentifier;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::BoxError> {
//! // At most 4 creates in flight, from anywhere in the program.
//! let mut create = ServiceBuilder::new()
//!     .concurrency_limit(4)
//!     .service(client.service::<CreateAllowlistIdentifier>());
//! let created = create.ready().await?.call(CreateAllowlistIdentifier::new("a@example.com")).await?;
//! println!("{}", created.id);
//! # Ok(()) }
//! ```
//!
//! [`CallBuilder<O>`] is what resource methods return (`client.allowlist_identifiers().list()`):
//! it owns a clone of the client (one reference count) and the request, takes the
//! operation's optional parameters and per-call [`RequestOptions`], and is awaited directly
//! (`IntoFuture`, with the nameable future [`CallFuture<O>`]: no box per call). It is
//! `Clone + Send + 'static` when the request is, so it can move into a spawned task.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::util::{Either, Oneshot};
use tower::ServiceExt;
use tower_service::Service;

use crate::layer::call::{CallFuture as StackCallFuture, Rebuilds};
use crate::layer::OrError;
use crate::list::{Pages, Paginate};
use crate::operation::{to_request, Decode, Operation};
use crate::stack::Attempt;
use crate::{Client, Error, HttpRequest, HttpResponse, HttpService, RequestOptions};

/// A `tower::Service<O>` for one operation type; get one from
/// [`Client::service`](crate::Client::service). See the [module docs](self).
///
/// Always ready: each call waits in its own future for the stack (your call and attempt
/// layers) to be ready, as an awaited [`CallBuilder`] does. Cloning it is one reference count.
pub struct OperationService<O> {
    client: Client,
    options: Option<RequestOptions>,
    _operation: PhantomData<fn(O) -> O>,
}

impl<O> OperationService<O> {
    pub(crate) fn new(client: Client, options: Option<RequestOptions>) -> Self {
        Self {
            client,
            options,
            _operation: PhantomData,
        }
    }

    /// Applies `options` (timeouts, retries) to every call of this service.
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }
}

impl<O> Clone for OperationService<O> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            options: self.options,
            _operation: PhantomData,
        }
    }
}

impl<O> fmt::Debug for OperationService<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationService")
            .field("operation", &std::any::type_name::<O>())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<O: Operation> Service<O> for OperationService<O> {
    type Response = O::Output;
    type Error = Error;
    type Future = OperationFuture<O>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, operation: O) -> Self::Future {
        OperationFuture::start(&self.client, operation, self.options)
    }
}

pin_project! {
    /// The future of [`OperationService`] and of an awaited [`CallBuilder`]: the call through
    /// the stack, then the output decoded.
    pub struct OperationFuture<O> {
        #[pin]
        inner: OrError<Sending<O>>,
        _operation: PhantomData<fn() -> O>,
    }
}

pin_project! {
    /// A request on its way through the stack: the client's call service (which waits for
    /// the attempt service to be ready itself, and builds a retry's request from the
    /// operation), or, with call layers, those layers (waited for first).
    #[project = SendingProj]
    enum Sending<O> {
        Call { #[pin] future: StackCallFuture<Attempt, Rebuilds<O>> },
        Layered { #[pin] future: Oneshot<HttpService, HttpRequest> },
    }
}

impl<O: Operation> Future for Sending<O> {
    type Output = Result<HttpResponse, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            SendingProj::Call { future } => future.poll(cx),
            SendingProj::Layered { future } => future.poll(cx),
        }
    }
}

impl<O: Operation> OperationFuture<O> {
    /// The one way a call starts, for [`OperationService`] and [`CallBuilder`] alike: the
    /// request is built (and validated) at once, then sent through the client's stack. A
    /// request refused by validation never waits for readiness.
    fn start(client: &Client, operation: O, options: Option<RequestOptions>) -> Self {
        OperationFuture {
            inner: send(client, operation, options),
            _operation: PhantomData,
        }
    }
}

/// Sends an operation through the stack, copying of it only what the call keeps: to the call
/// service, the operation itself (a retry's request is built from it again); under call
/// layers, its request (which they may change, and a retry copies).
fn send<O: Operation>(
    client: &Client,
    operation: O,
    options: Option<RequestOptions>,
) -> OrError<Sending<O>> {
    let sending = match client.shared_stack() {
        Either::Left(call) => call
            .start(operation, options, client.direct_base())
            .map(|future| Sending::Call { future }),
        Either::Right(layered) => to_request(&operation, options).map(|req| Sending::Layered {
            future: layered.clone().oneshot(req),
        }),
    };
    match sending {
        Ok(sending) => OrError::future(sending),
        Err(e) => OrError::error(e),
    }
}

impl<O: Operation> Future for OperationFuture<O> {
    type Output = Result<O::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let res = std::task::ready!(self.project().inner.poll(cx))?;
        Poll::Ready(O::Output::decode(res))
    }
}

/// The future of an awaited [`CallBuilder`]: the same as [`OperationService`]'s.
pub type CallFuture<O> = OperationFuture<O>;

/// One call being built: the request, its per-call options, and a clone of the client.
/// Await it to send it; see the [module docs](self).
///
/// ```no_run
/// use std::time::Duration;
/// use clerk_tower::RequestOptions;
///
/// # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
/// let page = client
///     .allowlist_identifiers()
///     .list()
///     .paginated(true)
///     .limit(50)
///     .options(RequestOptions::new().timeout(Duration::from_secs(2)))
///     .await?;
///
/// // A builder is `Clone + Send + 'static`: it can be sent to a task and awaited there.
/// let create = client.allowlist_identifiers().create("ada@example.com").notify(true);
/// let created = tokio::spawn(create.send()).await.expect("the task ran")?;
/// # Ok(()) }
/// ```
#[must_use = "a call does nothing until it is awaited"]
#[derive(Clone)]
pub struct CallBuilder<O> {
    client: Client,
    request: O,
    options: Option<RequestOptions>,
}

impl<O: fmt::Debug> fmt::Debug for CallBuilder<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallBuilder")
            .field("request", &self.request)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<O: Operation> CallBuilder<O> {
    pub(crate) fn new(client: Client, request: O, options: Option<RequestOptions>) -> Self {
        Self {
            client,
            request,
            options,
        }
    }

    /// Timeouts and retries for this call (they replace any options of the resource handle).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// The request as built so far.
    pub fn request(&self) -> &O {
        &self.request
    }

    /// Changes the request with `f` (for a parameter without a setter of its own).
    pub fn map_request(mut self, f: impl FnOnce(O) -> O) -> Self {
        self.request = f(self.request);
        self
    }

    /// The request, without sending it.
    pub fn into_request(self) -> O {
        self.request
    }

    /// Sends the call; the same as awaiting the builder.
    pub fn send(self) -> CallFuture<O> {
        self.into_future()
    }
}

impl<O: Paginate> CallBuilder<O> {
    /// Walks the list page by page, starting from this request's page (the page size is the
    /// request's `limit`, or the largest Clerk serves when it has none); see [`Pages`] and
    /// [`Pages::items`].
    pub fn paginate(self) -> Pages<O> {
        Pages::new(self.client, self.request, self.options)
    }
}

impl<O: Operation> IntoFuture for CallBuilder<O> {
    type Output = Result<O::Output, Error>;
    type IntoFuture = CallFuture<O>;

    fn into_future(self) -> Self::IntoFuture {
        OperationFuture::start(&self.client, self.request, self.options)
    }
}
