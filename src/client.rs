//! [`Client`]: the entry point.

use std::fmt;

use crate::api::AllowlistIdentifiers;
use crate::endpoint::{Endpoint, EndpointService};
use crate::stack::Stack;
use crate::{ClientBuilder, Error, HttpService};

/// A Clerk Backend API client.
///
/// Cheap to clone (one reference count), `Send + Sync`, and needs no `Buffer`: share one client
/// across your application. It can be built outside a Tokio runtime; its calls run on Tokio.
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
    pub(crate) inner: Stack,
    pub(crate) base_url: std::sync::Arc<str>,
}

impl Client {
    /// A builder with the defaults (Clerk's production API, 30 s total timeout, 3 retries).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from the environment: `CLERK_SECRET_KEY` (required) and
    /// `CLERK_API_URL` (optional, default `https://api.clerk.com/v1`).
    ///
    /// # Errors
    /// [`Error::Config`] when `CLERK_SECRET_KEY` is not set or either value is invalid.
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::new().load_env().build()
    }

    /// The typed service for one endpoint: a `tower::Service<E>` going through the whole stack.
    pub fn service<E: Endpoint>(&self) -> EndpointService<E> {
        EndpointService::new(self.inner.clone())
    }

    /// The whole stack as an HTTP service: requests with a path relative to the API root go
    /// through timeouts, retries, your layers, auth and error decoding.
    pub fn http_service(&self) -> HttpService {
        tower::util::BoxCloneSyncService::new(self.inner.clone())
    }

    /// The allow-list identifiers resource.
    pub fn allowlist_identifiers(&self) -> AllowlistIdentifiers<'_> {
        AllowlistIdentifiers::new(self)
    }

    /// The base URL requests are sent to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}
