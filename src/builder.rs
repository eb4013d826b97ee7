//! [`ClientBuilder`]: configuration, validated once in [`ClientBuilder::build`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tower::util::{BoxCloneSyncService, Either};
use tower::ServiceBuilder;
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::base_url::DEFAULT_BASE_URL;
use crate::layer::call::Call;
use crate::layer::headers::DEFAULT_API_VERSION;
use crate::layer::retry::ClerkRetryPolicy;
use crate::layer::{AuthLayer, BaseUrlLayer, DecodeErrorsLayer, DefaultHeadersLayer, RetryConfig};
use crate::stack::{Core, Stack};
use crate::transport::{
    hyper_client, CollectBody, SharedHyper, TransportConfig, DEFAULT_MAX_RESPONSE_BODY,
};
use crate::{BoxError, Client, Error, HttpRequest, HttpService};

/// The default total timeout of a call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

type LayerFn = Box<dyn Fn(HttpService) -> HttpService + Send + Sync>;
type TransportFn = Box<dyn FnOnce(usize) -> HttpService + Send + Sync>;

/// A Clerk secret key. Its `Debug` output never shows the key.
#[derive(Clone)]
struct SecretKey(Arc<str>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// Builds a [`Client`]. Not generic: layers and transports are boxed as they are added.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::{Client, RetryConfig};
///
/// let client = Client::builder()
///     .secret_key("sk_test_example")
///     .user_agent("my-app/1.4")
///     .timeout(Duration::from_secs(10))
///     .attempt_timeout(Duration::from_secs(3))
///     .retry(RetryConfig::default().max_retries(5))
///     .layer(tower_http::trace::TraceLayer::new_for_http())
///     .layer(tower::limit::ConcurrencyLimitLayer::new(16))
///     .build()?;
/// # Ok::<(), clerk_tower::Error>(())
/// ```
pub struct ClientBuilder {
    secret_key: Option<SecretKey>,
    base_url: Option<String>,
    user_agent: Option<String>,
    api_version: String,
    timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    retry: RetryConfig,
    max_response_body: usize,
    transport_config: TransportConfig,
    transport: Option<TransportFn>,
    layers: Vec<LayerFn>,
    call_layers: Vec<LayerFn>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("secret_key", &self.secret_key)
            .field("base_url", &self.base_url)
            .field("user_agent", &self.user_agent)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("retry", &self.retry)
            .field("max_response_body", &self.max_response_body)
            .field("transport_config", &self.transport_config)
            .field("custom_transport", &self.transport.is_some())
            .field("layers", &self.layers.len())
            .field("call_layers", &self.call_layers.len())
            .finish()
    }
}

impl ClientBuilder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Self {
            secret_key: None,
            base_url: None,
            user_agent: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: Some(DEFAULT_TIMEOUT),
            attempt_timeout: None,
            retry: RetryConfig::default(),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            transport_config: TransportConfig::default(),
            transport: None,
            layers: Vec::new(),
            call_layers: Vec::new(),
        }
    }

    /// Reads `CLERK_SECRET_KEY` and `CLERK_API_URL` when they are set (and not empty).
    pub fn load_env(self) -> Self {
        self.load_vars(|name| std::env::var(name).ok())
    }

    /// [`load_env`](Self::load_env) over any source of variables (tests use a map, so that
    /// they never touch the process-wide environment).
    fn load_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(key) = var("CLERK_SECRET_KEY").filter(|k| !k.is_empty()) {
            self = self.secret_key(key);
        }
        if let Some(url) = var("CLERK_API_URL").filter(|u| !u.is_empty()) {
            self = self.base_url(url);
        }
        self
    }

    /// The secret key (`sk_live_...` or `sk_test_...`) sent as a bearer token.
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(SecretKey(Arc::from(secret_key.into())));
        self
    }

    /// The API root (default `https://api.clerk.com/v1`). Plain `http` is accepted only to
    /// loopback addresses.
    ///
    /// Both forms in use are accepted: with the API version (`https://api.clerk.com/v1`, as
    /// Clerk's Python SDK takes its `server_url`), and without it (`https://api.clerk.com`, as
    /// Clerk's JavaScript SDK takes `CLERK_API_URL`): a URL whose path does not end with a
    /// version segment (`/v1`) gets `/v1` added, so one `.env` serves every SDK.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Your product token, sent before `clerk-tower/<version>` in `User-Agent`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The `Clerk-API-Version` to request (default `2026-05-12`, the spec this crate follows).
    pub fn api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = api_version.into();
        self
    }

    /// The total time a call may take, retries included (default 30 s). A duration too large
    /// to add to the current instant (such as `Duration::MAX`) means no limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No total timeout (a call may then wait as long as its retries and the server take).
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The time each attempt may take (default: none, only the total timeout applies). An
    /// attempt that runs out is retried for idempotent operations only. A duration too large
    /// to add to the current instant means no limit.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// How calls are retried (default [`RetryConfig::default`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The largest response body accepted, in bytes (default 4 MiB).
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes;
        self
    }

    /// Settings of the default network transport (pool, connect timeout). Ignored when a
    /// transport is given with [`transport`](Self::transport).
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport_config = config;
        self
    }

    /// Replaces the network with any service: the embedded mock, a test double, a proxy.
    ///
    /// The service receives requests with an absolute URI and every header set; its response
    /// body is read with the size limit like the network's.
    ///
    /// ```
    /// use clerk_tower::{Client, HttpRequest, HttpResponse};
    ///
    /// let always_empty = tower::service_fn(|_req: HttpRequest| async {
    ///     Ok::<_, std::convert::Infallible>(HttpResponse::new("[]".into()))
    /// });
    /// let client = Client::builder().secret_key("sk_test_x").transport(always_empty).build()?;
    /// # Ok::<(), clerk_tower::Error>(())
    /// ```
    pub fn transport<S, B>(mut self, transport: S) -> Self
    where
        S: Service<HttpRequest, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.transport = Some(Box::new(move |limit| {
            BoxCloneSyncService::new(CollectBody::new(transport, limit))
        }));
        self
    }

    /// Adds an **attempt layer**: a tower layer that runs once per attempt, below the retries
    /// and the timeouts and above auth (it never sees the secret key). For per-request
    /// metrics, per-attempt tracing, a limit on what reaches the network.
    ///
    /// The first layer added is the outermost. Each request carries an
    /// [`Operation`](crate::Operation) extension to key on, and a [`Deadline`](crate::Deadline)
    /// when the call has one. Any response body type is accepted (it is read back into
    /// memory), and errors are mapped back to [`Error`] by downcasting, so a layer that returns
    /// our error unchanged keeps it typed. See `docs/middleware.md` for where each kind of
    /// layer sits.
    pub fn layer<L, S, B>(mut self, layer: L) -> Self
    where
        L: Layer<HttpService, Service = S> + Send + Sync + 'static,
        S: Service<HttpRequest, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.layers.push(boxed_layer(layer));
        self
    }

    /// Adds a **call layer**: a tower layer that runs once per call, above the total timeout
    /// and the retries, so it sees the whole call (its retries, its backoff waits, a success
    /// that took three attempts) as one request and one outcome. For a span or a metric per
    /// call, a rate or concurrency limit per call, a cache.
    ///
    /// The first call layer added is the outermost. Requests carry the path relative to the
    /// API root (`/allowlist_identifiers`), their [`Operation`](crate::Operation) and their
    /// [`RequestOptions`](crate::RequestOptions); no authorization header. Errors map back to
    /// [`Error`] as for [`layer`](Self::layer).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let client = clerk_tower::Client::builder()
    ///     .secret_key("sk_test_example")
    ///     // At most 8 calls in flight, however many attempts each takes.
    ///     .call_layer(tower::limit::ConcurrencyLimitLayer::new(8))
    ///     // One tower-http span per attempt.
    ///     .layer(tower_http::trace::TraceLayer::new_for_http())
    ///     .build()?;
    /// # Ok::<(), clerk_tower::Error>(())
    /// ```
    pub fn call_layer<L, S, B>(mut self, layer: L) -> Self
    where
        L: Layer<HttpService, Service = S> + Send + Sync + 'static,
        S: Service<HttpRequest, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.call_layers.push(boxed_layer(layer));
        self
    }

    /// Checks the configuration and builds the client. Needs no runtime.
    ///
    /// # Errors
    /// [`Error::Config`] for a missing or malformed secret key, a malformed base URL, plain
    /// `http` to a non-loopback host, an invalid user agent or API version, or an invalid
    /// retry configuration. Never panics.
    pub fn build(self) -> Result<Client, Error> {
        let secret = self.secret_key.ok_or_else(|| {
            Error::config("no secret key: set CLERK_SECRET_KEY or call ClientBuilder::secret_key")
        })?;
        let base = BaseUrlLayer::parse(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let auth = AuthLayer::new(&secret.0, &base.origin())?;
        let headers = DefaultHeadersLayer::new(self.user_agent.as_deref(), &self.api_version)?;
        let policy = ClerkRetryPolicy::new(&self.retry)?;
        let transport = match self.transport {
            Some(make) => Either::Right(make(self.max_response_body)),
            None => Either::Left(CollectBody::new(
                SharedHyper::new(hyper_client(&self.transport_config)?),
                self.max_response_body,
            )),
        };
        let base_url = base.to_string();
        // With no layer of the user's, no one sees a relative URI: operations are sent with
        // their absolute one (see `operation::to_request_at`).
        let direct = (self.layers.is_empty() && self.call_layers.is_empty()).then(|| base.clone());

        let core: Core = ServiceBuilder::new()
            .layer(base)
            .layer(headers)
            .layer(auth)
            .layer(DecodeErrorsLayer::new())
            .service(transport);
        let attempt = match self.layers.is_empty() {
            true => Either::Left(core),
            false => Either::Right(wrap(&self.layers, BoxCloneSyncService::new(core))),
        };
        let call = Call::new(attempt, policy, self.timeout, self.attempt_timeout);
        let stack: Stack = match self.call_layers.is_empty() {
            true => Either::Left(call),
            false => Either::Right(wrap(&self.call_layers, BoxCloneSyncService::new(call))),
        };
        Ok(Client::new(stack, base_url, direct))
    }
}

/// Boxes a user layer so that layers of any type can be kept in one list.
fn boxed_layer<L, S, B>(layer: L) -> LayerFn
where
    L: Layer<HttpService, Service = S> + Send + Sync + 'static,
    S: Service<HttpRequest, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Box::new(move |inner| {
        BoxCloneSyncService::new(CollectBody::new(layer.layer(inner), usize::MAX))
    })
}

/// `inner` wrapped in `layers`, the first one outermost.
fn wrap(layers: &[LayerFn], inner: HttpService) -> HttpService {
    layers.iter().rev().fold(inner, |svc, layer| layer(svc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_vars(vars: &[(&str, &str)]) -> Result<Client, Error> {
        ClientBuilder::new()
            .load_vars(|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .build()
    }

    #[test]
    fn env_gives_the_key_and_the_optional_url() {
        let err = from_vars(&[]).unwrap_err();
        assert!(
            matches!(&err, Error::Config(c) if c.message().contains("CLERK_SECRET_KEY")),
            "{err:?}"
        );
        let key = ("CLERK_SECRET_KEY", "sk_test_from_env");
        assert_eq!(
            from_vars(&[key]).unwrap().base_url(),
            "https://api.clerk.com/v1"
        );
        assert_eq!(
            from_vars(&[key, ("CLERK_API_URL", "http://127.0.0.1:8787/v1/")])
                .unwrap()
                .base_url(),
            "http://127.0.0.1:8787/v1"
        );
        // Clerk's own SDKs take the API's origin, without the version: a shared `.env` works.
        for origin in ["https://api.clerk.com", "https://api.clerk.com/"] {
            assert_eq!(
                from_vars(&[key, ("CLERK_API_URL", origin)])
                    .unwrap()
                    .base_url(),
                "https://api.clerk.com/v1",
                "{origin}"
            );
        }
        assert!(
            matches!(
                from_vars(&[key, ("CLERK_API_URL", "http://clerk.internal/v1")]),
                Err(Error::Config(_))
            ),
            "plain http to a non-loopback host"
        );
        let err = from_vars(&[
            ("CLERK_API_URL", ""),
            ("CLERK_SECRET_KEY", "sk_test_has space"),
        ])
        .unwrap_err();
        assert!(
            !err.to_string().contains("has space"),
            "the key is never echoed: {err}"
        );
    }
}
