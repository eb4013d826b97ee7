//! [`Client`]: the entry point.

use std::fmt;
use std::sync::Arc;

use crate::layer::BaseUrlLayer;
use crate::operation::Operation;
use crate::service::{CallBuilder, OperationService};
use crate::stack::Stack;
use crate::{ClientBuilder, Error, HttpService};

/// A Clerk Backend API client.
///
/// Cheap to clone (one reference count: the stack sits behind one `Arc`), `Send + Sync`, and
/// needs no `Buffer`: share one client across your application, or clone it into each task.
/// Each call copies the stack out of the `Arc` (a handful of reference counts, no allocation
/// and no lock). It can be built outside a Tokio runtime; its calls run on Tokio.
///
/// ```
/// use std::time::Duration;
///
/// let client = clerk_tower::Client::builder()
///     .secret_key("sk_test_example")
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// # Ok::<(), clerk_tower::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    stack: Stack,
    base_url: Box<str>,
    /// The base URL, when no layer of the user's sees a request: operations are then sent
    /// with their absolute URI, written and parsed once.
    direct: Option<BaseUrlLayer>,
}

impl Client {
    pub(crate) fn new(
        stack: Stack,
        base_url: impl Into<Box<str>>,
        direct: Option<BaseUrlLayer>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                stack,
                base_url: base_url.into(),
                direct,
            }),
        }
    }

    /// The base URL to make operations' URIs absolute on, when no user layer sees them.
    pub(crate) fn direct_base(&self) -> Option<&BaseUrlLayer> {
        self.inner.direct.as_ref()
    }

    /// A copy of the stack, for one call or one service.
    pub(crate) fn stack(&self) -> Stack {
        self.inner.stack.clone()
    }

    /// The stack itself, shared: a call started from it copies only what it needs.
    pub(crate) fn shared_stack(&self) -> &Stack {
        &self.inner.stack
    }

    /// A builder with the defaults (Clerk's production API, 30 s total timeout, 3 retries).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from the environment: `CLERK_SECRET_KEY` (required) and
    /// `CLERK_API_URL` (optional, default `https://api.clerk.com/v1`; the origin alone, as
    /// Clerk's other SDKs take it, gets `/v1` added: see [`ClientBuilder::base_url`]).
    ///
    /// # Errors
    /// [`Error::Config`] when `CLERK_SECRET_KEY` is not set or either value is invalid.
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::new().load_env().build()
    }

    /// The typed service for one operation: a `tower::Service<O>` going through the whole
    /// stack.
    pub fn service<O: Operation>(&self) -> OperationService<O> {
        OperationService::new(self.clone(), None)
    }

    /// A call of any operation, as the resource handles make them: await it to send it.
    /// The resource handles themselves (`client.users()`, `client.allowlist_identifiers()`,
    /// ...) are generated, one per resource group: see [`crate::api`].
    ///
    /// ```no_run
    /// use clerk_tower::api::ListAllowlistIdentifiers;
    /// # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
    /// let page = client.call(ListAllowlistIdentifiers::new().limit(5)).await?;
    /// # Ok(()) }
    /// ```
    pub fn call<O: Operation>(&self, request: O) -> CallBuilder<O> {
        CallBuilder::new(self.clone(), request, None)
    }

    /// The whole stack as an HTTP service: requests with a path relative to the API root go
    /// through your call layers, timeouts, retries, your attempt layers, auth and error
    /// decoding. A request with an absolute URI is sent as it is, and gets the secret key only
    /// when its scheme, host and port are the base URL's.
    pub fn http_service(&self) -> HttpService {
        tower::util::BoxCloneSyncService::new(self.stack())
    }

    /// The base URL requests are sent to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}
