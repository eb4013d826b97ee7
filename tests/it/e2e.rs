//! Helpers for the end-to-end tests against the embedded mock (`faults.rs`, `budget.rs`,
//! `soak.rs`): clients pointed at a `MockClerk` over TCP or without a socket, and readers of
//! the mock's request log.
#![allow(dead_code)]

use std::time::Duration;

use clerk_tower::mock::{MockClerk, MockOperation, MockServer, RecordedRequest};
use clerk_tower::{Client, ClientBuilder, RetryConfig};

/// Backoff range of the end-to-end tests: small, so that retries cost almost no wall time.
pub const MIN_BACKOFF: Duration = Duration::from_millis(1);
pub const MAX_BACKOFF: Duration = Duration::from_millis(5);

/// The default retry rules (3 retries, default budget) with a 1..5 ms backoff.
pub fn fast_retry() -> RetryConfig {
    RetryConfig::default().backoff(MIN_BACKOFF, MAX_BACKOFF)
}

/// A builder talking to `server` over real TCP with the mock's key and [`fast_retry`].
pub fn tcp_builder(server: &MockServer) -> ClientBuilder {
    Client::builder()
        .secret_key(MockClerk::DEFAULT_SECRET_KEY)
        .base_url(server.base_url())
        .retry(fast_retry())
}

/// A builder whose transport is the socket-free `mock.service()` (works with paused time).
pub fn service_builder(mock: &MockClerk) -> ClientBuilder {
    Client::builder()
        .secret_key(MockClerk::DEFAULT_SECRET_KEY)
        .transport(mock.service())
        .retry(fast_retry())
}

/// The requests the mock recorded for `op`, in arrival order.
pub fn requests_for(mock: &MockClerk, op: MockOperation) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.operation == Some(op))
        .collect()
}

/// The `identifier` a recorded create request asked for.
pub fn created_identifier(request: &RecordedRequest) -> Option<String> {
    request
        .body_json()?
        .get("identifier")?
        .as_str()
        .map(str::to_owned)
}

/// The id a recorded delete request targeted.
pub fn deleted_id(request: &RecordedRequest) -> Option<String> {
    request
        .path
        .strip_prefix("/v1/allowlist_identifiers/")
        .map(str::to_owned)
}

/// The identifiers in the store, sorted (for exact comparisons).
pub fn stored(mock: &MockClerk) -> Vec<String> {
    let mut all: Vec<String> = mock
        .identifiers()
        .into_iter()
        .map(|i| i.identifier)
        .collect();
    all.sort();
    all
}
