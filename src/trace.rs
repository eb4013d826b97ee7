//! Built-in `tracing` (feature `tracing`, on by default): one span per call, events for its
//! retries and its end.
//!
//! What is recorded, all under the target `clerk_tower`:
//!
//! - span `clerk.call` (level INFO), for the whole call (attempts, backoff waits, the time
//!   spent in your attempt layers), with the fields `operation` and `otel.name` (the spec's
//!   `operationId`, e.g. `CreateAllowlistIdentifier`, so OpenTelemetry names the span after
//!   the operation), `http.request.method`, and, once the call ends, `attempts`,
//!   `http.response.status_code`, `clerk_trace_id`, `error.kind` and `error.code`;
//! - event `retrying` (INFO) before each retry: `attempt` (the one that failed), `reason`
//!   (`status 429`, `connect error`, `transport error`, `attempt timeout`), `wait_ms`, and the
//!   failed attempt's `status` and `clerk_trace_id` when it had them;
//! - event `call finished` (DEBUG) at the end, with the same fields as the span.
//!
//! What is never recorded: the secret key, request or response bodies, URIs (a path can hold
//! an id, a query anything a caller passes), header values, and error messages (Clerk's
//! `long_message` can name the identifier). Error codes (`duplicate_record`) and statuses are
//! Clerk's own vocabulary and are recorded.

//!
//! Without the feature, the same functions exist and do nothing, so the call service has no
//! `cfg` of its own.

#[cfg(feature = "tracing")]
pub(crate) use enabled::*;

#[cfg(not(feature = "tracing"))]
pub(crate) use disabled::*;

#[cfg(feature = "tracing")]
mod enabled {
    use std::time::Duration;

    /// The span a call runs in.
    pub(crate) type CallSpan = Span;

    use http::Method;
    use tracing::field::Empty;
    use tracing::Span;

    use crate::layer::retry::RetryReason;
    use crate::{Error, HttpResponse};

    /// The span of one call.
    pub(crate) fn call_span(operation: Option<&'static str>, method: &Method) -> CallSpan {
        let name = operation.unwrap_or("unknown");
        tracing::info_span!(
            target: "clerk_tower",
            "clerk.call",
            operation = name,
            otel.name = name,
            http.request.method = method.as_str(),
            attempts = Empty,
            http.response.status_code = Empty,
            clerk_trace_id = Empty,
            error.kind = Empty,
            error.code = Empty,
        )
    }

    /// A failed attempt is about to be retried after `wait`.
    pub(crate) fn retrying(attempt: u32, reason: RetryReason, wait: Duration, err: &Error) {
        tracing::info!(
            target: "clerk_tower",
            attempt,
            reason = %reason,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            status = err.status().map(|s| s.as_u16()),
            clerk_trace_id = err.clerk_trace_id(),
            "retrying",
        );
    }

    /// The call ended after `attempts` attempts.
    pub(crate) fn finished(span: &CallSpan, attempts: u32, result: Result<&HttpResponse, &Error>) {
        if span.is_disabled() {
            return;
        }
        span.record("attempts", attempts);
        match result {
            Ok(res) => {
                span.record("http.response.status_code", res.status().as_u16());
                let trace_id = res
                    .headers()
                    .get("clerk-trace-id")
                    .and_then(|v| v.to_str().ok());
                if let Some(id) = trace_id {
                    span.record("clerk_trace_id", id);
                }
                tracing::debug!(
                    target: "clerk_tower",
                    attempts,
                    status = res.status().as_u16(),
                    clerk_trace_id = trace_id,
                    "call finished",
                );
            }
            Err(err) => {
                let kind = kind(err);
                let code = err.as_api().and_then(|api| api.code());
                let status = err.status().map(|s| s.as_u16());
                span.record("error.kind", kind);
                if let Some(status) = status {
                    span.record("http.response.status_code", status);
                }
                if let Some(code) = code {
                    span.record("error.code", code);
                }
                if let Some(id) = err.clerk_trace_id() {
                    span.record("clerk_trace_id", id);
                }
                tracing::debug!(
                    target: "clerk_tower",
                    attempts,
                    status,
                    error.kind = kind,
                    error.code = code,
                    clerk_trace_id = err.clerk_trace_id(),
                    "call finished",
                );
            }
        }
    }

    /// A short name for the kind of error (never its message).
    fn kind(err: &Error) -> &'static str {
        match err {
            Error::Api(_) => "api",
            Error::Timeout(_) => "timeout",
            Error::Transport(_) => "transport",
            Error::Decode(_) => "decode",
            Error::InvalidRequest(_) => "invalid_request",
            Error::Config(_) => "config",
            Error::Middleware(_) => "middleware",
            Error::Pagination(_) => "pagination",
        }
    }
}

#[cfg(not(feature = "tracing"))]
mod disabled {
    use std::time::Duration;

    use http::Method;

    use crate::layer::retry::RetryReason;
    use crate::{Error, HttpResponse};

    /// No span: the feature `tracing` is off.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct CallSpan;

    /// Stands for a span guard.
    pub(crate) struct Entered;

    impl CallSpan {
        pub(crate) fn enter(&self) -> Entered {
            Entered
        }
    }

    pub(crate) fn call_span(_operation: Option<&'static str>, _method: &Method) -> CallSpan {
        CallSpan
    }

    pub(crate) fn retrying(_attempt: u32, _reason: RetryReason, _wait: Duration, _err: &Error) {}

    pub(crate) fn finished(
        _span: &CallSpan,
        _attempts: u32,
        _result: Result<&HttpResponse, &Error>,
    ) {
    }
}
