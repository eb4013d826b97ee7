//! The integration tests, in one crate (one link step): a module per concern, sharing the
//! support modules below.
//!
//! - `common`: a client over a `tower_test` mock transport; `e2e`: clients against the
//!   embedded `MockClerk` over TCP or without a socket; `contract_support`: the vendored
//!   OpenAPI spec as JSON Schemas.
//! - `tls_proxy`: TLS with a test CA and HTTPS proxies, through a CONNECT proxy the test runs.

mod common;
mod contract_support;
mod e2e;
mod instances;
mod raw_http;

#[cfg(feature = "auth")]
mod auth;
mod blocklist;
mod budget;
#[cfg(feature = "cli")]
mod cli;
mod contract;
mod endpoints;
mod errors;
mod faults;
mod hardening;
mod local_server;
mod middleware;
mod mock_ci;
mod mock_compat;
mod mock_every_op;
mod pagination;
mod rate_limit;
mod retry;
mod safety;
mod send_sync;
mod soak;
mod sync;
mod timeout;
mod tls_proxy;
mod trace_output;
mod transport;
#[cfg(feature = "auth")]
mod webhook;
