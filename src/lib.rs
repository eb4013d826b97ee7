//! # clerk-tower
//!
//! A client for [Clerk](https://clerk.com)'s Backend API built as a
//! [tower](https://docs.rs/tower) middleware stack.
//!
//! Every operation is a `tower::Service`, composed from layers for auth, retries with backoff,
//! timeouts and error decoding, and open to your own layers (tracing, rate limiting, metrics).
//! Resource handles return call builders that you await.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), clerk_tower::Error> {
//! let client = clerk_tower::Client::builder()
//!     .secret_key(std::env::var("CLERK_SECRET_KEY").unwrap_or_default())
//!     .timeout(Duration::from_secs(10))
//!     .layer(tower_http::trace::TraceLayer::new_for_http())
//!     .build()?;
//!
//! let allowlist = client.allowlist_identifiers();
//! let created = allowlist.create("ada@example.com").notify(true).await?;
//! let page = allowlist.list().paginated(true).limit(50).await?;
//! println!("{:?} identifiers in total", page.total_count);
//! let everyone = allowlist.list().paginate().items().collect_all().await?;
//! allowlist.delete(&created.id).await?;
//! # Ok(()) }
//! ```
//!
//! [`layer::RateLimitLayer`] paces requests for Clerk's rate limits (shared by every clone of a
//! client, one pause for all callers on a 429), and [`sync`] keeps the allow-list or block-list
//! equal to a list kept elsewhere.
//!
//! The stack, from the outside in: [`OperationService`] (typed request in, typed output out)
//! → your call layers → total timeout, retries and attempt timeout → your attempt layers →
//! base URL, headers, auth → error decoding → transport (hyper + rustls, size-limited body
//! read). `docs/architecture.md` has the picture.
//!
//! ## Features
//! - `ring` (default), `aws-lc-rs`: the rustls crypto provider compiled in; with neither, the
//!   provider the application installed as the process default.
//! - `webpki-roots` (default), `native-roots`, `platform-verifier`: where trusted root
//!   certificates come from (see `docs/transport.md`).
//! - `tracing` (default): a `tracing` span per call with its retries as events; see
//!   `docs/middleware.md`. Never the secret, bodies or identifier values.
//! - `auth` (default): [`auth`], server-side verification of Clerk session tokens (JWKS
//!   cached per instance, or networkless with a PEM key), a tower layer for servers, and
//!   Clerk webhook signatures. Adds `base64`; the crypto is ring, already used by rustls.
//! - `axum`: [`auth::Claims`] as an axum extractor (`Claims`, `Option<Claims>`); needs only
//!   `axum-core`.
//! - `cli`: the `clerk-allowlist` binary (clap, indicatif): list, add, remove and [`sync`] the
//!   allow-list and block-list from a file, paced for the key; turn the restrictions on or off.
//!   Enables `mock` (for `--mock`).
//! - `mock`: [`mock::MockClerk`], an in-memory Clerk that answers every operation of the spec
//!   over TCP on 127.0.0.1 or as a socket-free transport, with scriptable faults. The
//!   allow-list, block-list, restrictions and users are stateful; the other operations answer
//!   with a valid instance of their response schema. It validates requests against the spec,
//!   serves `GET /v1/jwks` for a published test key and mints session tokens with it (enables
//!   `auth`). See `docs/clerk-mock.md`.
//! - `clerk-mock`: the `clerk-mock` binary, the mock as a standalone server (clap; enables
//!   `mock`).
//! - The Backend API, a feature per tag of Clerk's spec: `allow_list_block_list` and `jwks`
//!   (default), `users`, `organizations`, `sessions`, ... and `full` for all 249 operations.
//!   `docs/coverage.md` lists every operation with its method and feature; [`api::registry`]
//!   has their metadata.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

pub mod api;
#[cfg(feature = "auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
pub mod auth;
mod builder;
mod client;
pub mod error;
pub mod http;
pub mod layer;
pub mod list;
pub mod models;
pub mod operation;
pub mod service;
mod stack;
#[cfg(feature = "allow_list_block_list")]
#[cfg_attr(docsrs, doc(cfg(feature = "allow_list_block_list")))]
pub mod sync;
mod trace;
pub mod transport;

#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;

pub use crate::builder::{ClientBuilder, DEFAULT_TIMEOUT};
pub use crate::client::Client;
pub use crate::error::{BoxError, Error};
pub use crate::http::{Deadline, HttpRequest, HttpResponse, HttpService, RequestOptions};
pub use crate::layer::{RateLimitConfig, RateLimitLayer, RetryConfig};
pub use crate::list::{Items, List, Pages, Paginate};
pub use crate::operation::{Operation, OperationInfo};
pub use crate::service::{CallBuilder, CallFuture, OperationFuture, OperationService};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
