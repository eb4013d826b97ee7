//! Server side: verify Clerk session tokens and Clerk webhooks (feature `auth`).
//!
//! - [`Verifier`] checks a session token: RS256 only, the signature with the instance's key
//!   (a JWKS fetched through the [`Client`](crate::Client) and cached per instance, or a PEM
//!   key without any network), `exp` / `nbf` / `iat` with a leeway, `azp` against your
//!   authorized parties, `iss` if you ask, a bound on the token's size. It returns typed
//!   [`Claims`] or a [`VerifyError`] that says which check failed.
//! - [`SessionLayer`] is a tower layer for servers (axum, hyper, tonic...): it takes the token
//!   from `Authorization: Bearer` or the `__session` cookie and puts the [`Claims`] in the
//!   request's extensions; required (401) or optional. With the `axum` feature, [`Claims`] is
//!   an extractor (`Claims` or `Option<Claims>`).
//! - [`Webhook`] verifies a Clerk webhook (Svix signatures) into a [`WebhookEvent`].
//!
//! ```no_run
//! use clerk_tower::auth::{SessionLayer, Verifier};
//!
//! # fn demo() -> Result<(), clerk_tower::Error> {
//! let verifier = Verifier::builder()
//!     .client(clerk_tower::Client::from_env()?)
//!     .authorized_parties(["https://app.example.com"])
//!     .build()?;
//! let layer = SessionLayer::required(verifier);
//! // axum: Router::new().route("/me", get(me)).layer(layer)
//! # Ok(()) }
//! ```
//!
//! `docs/authentication.md` has the threat model: what is checked, what is not, and why.

mod cache;
mod claims;
mod handshake;
mod jwks;
mod keys;
mod layer;
#[cfg(feature = "machine_auth")]
mod machine;
mod request;
mod verify;
mod webhook;

#[cfg(feature = "axum")]
mod axum;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;

pub use self::claims::{Actor, Claims, ClaimsBuilder, OrganizationClaims, Reverification};
pub use self::handshake::{
    AuthStatus, Handshake, HandshakeBuilder, HandshakeReason, InstanceType, RefreshFailure,
    RequestFuture, RequestInfo, RequestState,
};
#[cfg(feature = "sessions")]
#[cfg_attr(docsrs, doc(cfg(feature = "sessions")))]
pub use self::handshake::{DEFAULT_REFRESH_CALLS_PER_SECOND, DEFAULT_REFRESH_TIMEOUT};
pub use self::jwks::{JwksFuture, JwksSource};
pub use self::layer::{ResponseFuture, SessionBody, SessionLayer, SessionService};
#[cfg(feature = "machine_auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "machine_auth")))]
pub use self::machine::{
    ApiKeyIdentity, M2mIdentity, MachineVerifier, MachineVerifierBuilder, OAuthIdentity,
    DEFAULT_MACHINE_CACHE_CAPACITY, DEFAULT_MACHINE_CACHE_TTL, DEFAULT_NEGATIVE_CACHE_TTL,
    DEFAULT_VERIFY_CALLS_PER_SECOND, DEFAULT_VERIFY_CALL_TIMEOUT,
};
#[cfg(feature = "mock")]
pub(crate) use self::request::find_cookie;
pub use self::request::{
    cookie_suffix, request_token, session_token, AcceptsToken, Auth, AuthFuture, AuthOutcome,
    Authenticator, PendingSession, TokenType, SESSION_COOKIE,
};
pub use self::verify::{
    TokenPart, Verifier, VerifierBuilder, VerifyError, DEFAULT_JWKS_FETCH_TIMEOUT,
    DEFAULT_JWKS_TTL, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_MIN_REFRESH_INTERVAL,
    DEFAULT_SESSION_CACHE_CAPACITY, DEFAULT_SESSION_CACHE_MAX_AGE, MAX_HANDSHAKE_TOKEN_BYTES,
    MAX_JWKS_FETCH_TIMEOUT, MAX_LEEWAY,
};
pub use self::webhook::{EventType, Webhook, WebhookError, WebhookEvent, DEFAULT_TOLERANCE};

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::axum::AuthRejection;
