//! Scripted faults: which request gets which failure.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A stateful operation of the mock, named after the operation ids of Clerk's OpenAPI spec:
/// the three allow-list operations, the three block-list operations,
/// `UpdateInstanceRestrictions`, and eleven user operations (create, list, count, get, update,
/// delete, metadata, ban, unban, lock, unlock). These are the operations fault plans and
/// [`MockClerk::request_count`](super::MockClerk::request_count) know; the mock answers every
/// other operation of the spec too, without state (see
/// [`RecordedRequest::operation_id`](super::RecordedRequest::operation_id)).
///
/// In JSON (a [`FaultPlan`] file) an operation is written as its spec id
/// (`"ListAllowlistIdentifiers"`); the allow-list operations also take their short names
/// (`"list"`, `"create"`, `"delete"`). More operations may be added: match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MockOperation {
    /// `GET /v1/allowlist_identifiers`.
    #[serde(rename = "ListAllowlistIdentifiers", alias = "list")]
    ListAllowlistIdentifiers,
    /// `POST /v1/allowlist_identifiers`.
    #[serde(rename = "CreateAllowlistIdentifier", alias = "create")]
    CreateAllowlistIdentifier,
    /// `DELETE /v1/allowlist_identifiers/{identifier_id}`.
    #[serde(rename = "DeleteAllowlistIdentifier", alias = "delete")]
    DeleteAllowlistIdentifier,
    /// `GET /v1/blocklist_identifiers`.
    #[serde(rename = "ListBlocklistIdentifiers")]
    ListBlocklistIdentifiers,
    /// `POST /v1/blocklist_identifiers`.
    #[serde(rename = "CreateBlocklistIdentifier")]
    CreateBlocklistIdentifier,
    /// `DELETE /v1/blocklist_identifiers/{identifier_id}`.
    #[serde(rename = "DeleteBlocklistIdentifier")]
    DeleteBlocklistIdentifier,
    /// `PATCH /v1/instance/restrictions`.
    #[serde(rename = "UpdateInstanceRestrictions")]
    UpdateInstanceRestrictions,
    /// `POST /v1/users`.
    #[serde(rename = "CreateUser")]
    CreateUser,
    /// `GET /v1/users`.
    #[serde(rename = "GetUserList")]
    GetUserList,
    /// `GET /v1/users/count`.
    #[serde(rename = "GetUsersCount")]
    GetUsersCount,
    /// `GET /v1/users/{user_id}`.
    #[serde(rename = "GetUser")]
    GetUser,
    /// `PATCH /v1/users/{user_id}`.
    #[serde(rename = "UpdateUser")]
    UpdateUser,
    /// `DELETE /v1/users/{user_id}`.
    #[serde(rename = "DeleteUser")]
    DeleteUser,
    /// `PATCH /v1/users/{user_id}/metadata`.
    #[serde(rename = "UpdateUserMetadata")]
    UpdateUserMetadata,
    /// `POST /v1/users/{user_id}/ban`.
    #[serde(rename = "BanUser")]
    BanUser,
    /// `POST /v1/users/{user_id}/unban`.
    #[serde(rename = "UnbanUser")]
    UnbanUser,
    /// `POST /v1/users/{user_id}/lock`.
    #[serde(rename = "LockUser")]
    LockUser,
    /// `POST /v1/users/{user_id}/unlock`.
    #[serde(rename = "UnlockUser")]
    UnlockUser,
}

impl MockOperation {
    /// Short alias of [`MockOperation::ListAllowlistIdentifiers`].
    #[allow(non_upper_case_globals)]
    pub const List: MockOperation = MockOperation::ListAllowlistIdentifiers;
    /// Short alias of [`MockOperation::CreateAllowlistIdentifier`].
    #[allow(non_upper_case_globals)]
    pub const Create: MockOperation = MockOperation::CreateAllowlistIdentifier;
    /// Short alias of [`MockOperation::DeleteAllowlistIdentifier`].
    #[allow(non_upper_case_globals)]
    pub const Delete: MockOperation = MockOperation::DeleteAllowlistIdentifier;

    /// How many operations the mock serves.
    pub const COUNT: usize = 18;

    /// Every operation, in spec order.
    pub const ALL: [MockOperation; Self::COUNT] = [
        MockOperation::ListAllowlistIdentifiers,
        MockOperation::CreateAllowlistIdentifier,
        MockOperation::DeleteAllowlistIdentifier,
        MockOperation::ListBlocklistIdentifiers,
        MockOperation::CreateBlocklistIdentifier,
        MockOperation::DeleteBlocklistIdentifier,
        MockOperation::UpdateInstanceRestrictions,
        MockOperation::CreateUser,
        MockOperation::GetUserList,
        MockOperation::GetUsersCount,
        MockOperation::GetUser,
        MockOperation::UpdateUser,
        MockOperation::DeleteUser,
        MockOperation::UpdateUserMetadata,
        MockOperation::BanUser,
        MockOperation::UnbanUser,
        MockOperation::LockUser,
        MockOperation::UnlockUser,
    ];

    /// The three allow-list operations.
    pub const ALLOWLIST: [MockOperation; 3] = [
        MockOperation::ListAllowlistIdentifiers,
        MockOperation::CreateAllowlistIdentifier,
        MockOperation::DeleteAllowlistIdentifier,
    ];

    /// The three block-list operations.
    pub const BLOCKLIST: [MockOperation; 3] = [
        MockOperation::ListBlocklistIdentifiers,
        MockOperation::CreateBlocklistIdentifier,
        MockOperation::DeleteBlocklistIdentifier,
    ];

    /// The eleven user operations.
    pub const USERS: [MockOperation; 11] = [
        MockOperation::CreateUser,
        MockOperation::GetUserList,
        MockOperation::GetUsersCount,
        MockOperation::GetUser,
        MockOperation::UpdateUser,
        MockOperation::DeleteUser,
        MockOperation::UpdateUserMetadata,
        MockOperation::BanUser,
        MockOperation::UnbanUser,
        MockOperation::LockUser,
        MockOperation::UnlockUser,
    ];

    /// The operation id from Clerk's OpenAPI spec, e.g. `"CreateAllowlistIdentifier"`
    /// (the same string the client puts in [`OperationInfo::id`](crate::OperationInfo)).
    pub const fn name(self) -> &'static str {
        match self {
            MockOperation::ListAllowlistIdentifiers => "ListAllowlistIdentifiers",
            MockOperation::CreateAllowlistIdentifier => "CreateAllowlistIdentifier",
            MockOperation::DeleteAllowlistIdentifier => "DeleteAllowlistIdentifier",
            MockOperation::ListBlocklistIdentifiers => "ListBlocklistIdentifiers",
            MockOperation::CreateBlocklistIdentifier => "CreateBlocklistIdentifier",
            MockOperation::DeleteBlocklistIdentifier => "DeleteBlocklistIdentifier",
            MockOperation::UpdateInstanceRestrictions => "UpdateInstanceRestrictions",
            MockOperation::CreateUser => "CreateUser",
            MockOperation::GetUserList => "GetUserList",
            MockOperation::GetUsersCount => "GetUsersCount",
            MockOperation::GetUser => "GetUser",
            MockOperation::UpdateUser => "UpdateUser",
            MockOperation::DeleteUser => "DeleteUser",
            MockOperation::UpdateUserMetadata => "UpdateUserMetadata",
            MockOperation::BanUser => "BanUser",
            MockOperation::UnbanUser => "UnbanUser",
            MockOperation::LockUser => "LockUser",
            MockOperation::UnlockUser => "UnlockUser",
        }
    }

    /// The HTTP method of the operation.
    pub fn method(self) -> http::Method {
        match self {
            MockOperation::ListAllowlistIdentifiers
            | MockOperation::ListBlocklistIdentifiers
            | MockOperation::GetUserList
            | MockOperation::GetUsersCount
            | MockOperation::GetUser => http::Method::GET,
            MockOperation::CreateAllowlistIdentifier
            | MockOperation::CreateBlocklistIdentifier
            | MockOperation::CreateUser
            | MockOperation::BanUser
            | MockOperation::UnbanUser
            | MockOperation::LockUser
            | MockOperation::UnlockUser => http::Method::POST,
            MockOperation::DeleteAllowlistIdentifier
            | MockOperation::DeleteBlocklistIdentifier
            | MockOperation::DeleteUser => http::Method::DELETE,
            MockOperation::UpdateInstanceRestrictions
            | MockOperation::UpdateUser
            | MockOperation::UpdateUserMetadata => http::Method::PATCH,
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            MockOperation::ListAllowlistIdentifiers => 0,
            MockOperation::CreateAllowlistIdentifier => 1,
            MockOperation::DeleteAllowlistIdentifier => 2,
            MockOperation::ListBlocklistIdentifiers => 3,
            MockOperation::CreateBlocklistIdentifier => 4,
            MockOperation::DeleteBlocklistIdentifier => 5,
            MockOperation::UpdateInstanceRestrictions => 6,
            MockOperation::CreateUser => 7,
            MockOperation::GetUserList => 8,
            MockOperation::GetUsersCount => 9,
            MockOperation::GetUser => 10,
            MockOperation::UpdateUser => 11,
            MockOperation::DeleteUser => 12,
            MockOperation::UpdateUserMetadata => 13,
            MockOperation::BanUser => 14,
            MockOperation::UnbanUser => 15,
            MockOperation::LockUser => 16,
            MockOperation::UnlockUser => 17,
        }
    }
}

impl fmt::Display for MockOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What goes wrong with a request that a [`FaultPlan`] picks.
///
/// In JSON each kind is an object with a `"kind"` tag (see [`FaultPlan`] for the whole format).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer with this status and a Clerk error body (`ClerkErrors`, with a `clerk_trace_id`).
    ///
    /// The code follows Clerk's error index: 429 `too_many_requests`, 503 `maintenance_mode`,
    /// other 5xx `internal_clerk_error`, 400 `bad_request`, 401 `authentication_invalid`,
    /// 403 `authorization_invalid`, 404 `resource_not_found`, other statuses
    /// `mock_fault`. A status outside 100..=999 is sent as 500.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The raw `Retry-After` header value to send, if any: seconds (`"2"`) or an HTTP date.
        retry_after: Option<String>,
    },
    /// Wait this long, then send the normal response.
    DelayHeaders(Duration),
    /// Send the status and headers now, the body after this delay. Without a socket
    /// ([`MockService`](super::MockService)) the whole response comes after the delay.
    DelayBody(Duration),
    /// Drop the connection without sending any response. Without a socket: an
    /// [`std::io::Error`] of kind `ConnectionReset`.
    CloseBeforeResponse,
    /// Send the head with the full `Content-Length`, half of the body, then drop the connection.
    /// Without a socket: an [`std::io::Error`] of kind `UnexpectedEof`.
    CloseMidBody,
    /// The normal status and headers, but the body is the first half of the JSON, with a
    /// `Content-Length` that matches what is sent (so only a JSON parser notices).
    TruncatedJson,
    /// The normal status and headers, but a body that is not JSON.
    MalformedJson,
    /// A proxy's HTML error page (`text/html`) with this status, e.g. a 502 from a load balancer.
    HtmlErrorPage {
        /// The HTTP status code.
        status: u16,
    },
}

impl FaultKind {
    /// Whether this kind, by default, lets the real operation change the store before the
    /// fault hits. True for the kinds where the server did the work and only the response got
    /// lost or damaged (delays, `CloseMidBody`, `TruncatedJson`, `MalformedJson`).
    pub fn applies_by_default(&self) -> bool {
        matches!(
            self,
            FaultKind::DelayHeaders(_)
                | FaultKind::DelayBody(_)
                | FaultKind::CloseMidBody
                | FaultKind::TruncatedJson
                | FaultKind::MalformedJson
        )
    }

    /// Whether the fault alters the real response (true) or replaces it (false).
    pub(crate) fn wraps_response(&self) -> bool {
        self.applies_by_default()
    }

    /// A short label for logs, e.g. `status(429)` or `delay_headers(1500ms)`.
    pub fn label(&self) -> String {
        match self {
            FaultKind::Status { status, .. } => format!("status({status})"),
            FaultKind::DelayHeaders(d) => format!("delay_headers({}ms)", d.as_millis()),
            FaultKind::DelayBody(d) => format!("delay_body({}ms)", d.as_millis()),
            FaultKind::CloseBeforeResponse => "close_before_response".to_owned(),
            FaultKind::CloseMidBody => "close_mid_body".to_owned(),
            FaultKind::TruncatedJson => "truncated_json".to_owned(),
            FaultKind::MalformedJson => "malformed_json".to_owned(),
            FaultKind::HtmlErrorPage { status } => format!("html_error_page({status})"),
        }
    }
}

/// A fault: what goes wrong ([`FaultKind`]) and whether the real operation still runs first.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::mock::{Fault, FaultKind};
///
/// let busy = Fault::rate_limited("2");
/// assert_eq!(busy.kind, FaultKind::Status { status: 429, retry_after: Some("2".into()) });
/// assert!(!busy.apply);
///
/// // A create that Clerk performed, but whose response never arrived:
/// let lost = Fault::status(502).applied();
/// assert!(lost.apply);
///
/// // A slow response: the operation is applied unless told otherwise.
/// let slow = Fault::delay_headers(Duration::from_secs(3));
/// assert!(slow.apply);
/// assert!(!slow.not_applied().apply);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FaultRepr", into = "FaultRepr")]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// Whether the real operation runs (and changes the store) before the fault takes effect:
    /// a create that "failed" after Clerk had applied it.
    pub apply: bool,
}

impl Fault {
    /// A fault of this kind, with its default [`apply`](Fault::apply)
    /// ([`FaultKind::applies_by_default`]).
    pub fn new(kind: FaultKind) -> Self {
        let apply = kind.applies_by_default();
        Self { kind, apply }
    }

    /// An error status with a Clerk error body (not applied).
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status {
            status,
            retry_after: None,
        })
    }

    /// An error status with a `Retry-After` header (raw value: seconds or an HTTP date).
    pub fn status_with_retry_after(status: u16, retry_after: &str) -> Self {
        Self::new(FaultKind::Status {
            status,
            retry_after: Some(retry_after.to_owned()),
        })
    }

    /// 429 Too Many Requests with `Retry-After: {retry_after}` (not applied: Clerk rejects a
    /// rate-limited request before doing any work).
    pub fn rate_limited(retry_after: &str) -> Self {
        Self::status_with_retry_after(429, retry_after)
    }

    /// Wait `delay` before sending the response (applied).
    pub fn delay_headers(delay: Duration) -> Self {
        Self::new(FaultKind::DelayHeaders(delay))
    }

    /// Send the head now and the body after `delay` (applied).
    pub fn delay_body(delay: Duration) -> Self {
        Self::new(FaultKind::DelayBody(delay))
    }

    /// Drop the connection without a response (not applied).
    pub fn close_before_response() -> Self {
        Self::new(FaultKind::CloseBeforeResponse)
    }

    /// Drop the connection halfway through the body (applied).
    pub fn close_mid_body() -> Self {
        Self::new(FaultKind::CloseMidBody)
    }

    /// A body cut in half (applied).
    pub fn truncated_json() -> Self {
        Self::new(FaultKind::TruncatedJson)
    }

    /// A body that is not JSON (applied).
    pub fn malformed_json() -> Self {
        Self::new(FaultKind::MalformedJson)
    }

    /// A proxy's HTML error page with this status (not applied).
    pub fn html_error_page(status: u16) -> Self {
        Self::new(FaultKind::HtmlErrorPage { status })
    }

    /// The same fault, but the real operation runs (and changes the store) first.
    pub fn applied(mut self) -> Self {
        self.apply = true;
        self
    }

    /// The same fault, but the store is left unchanged. For the kinds that alter the real
    /// response, the response is what the operation would have answered (a dry run).
    pub fn not_applied(mut self) -> Self {
        self.apply = false;
        self
    }

    /// A short label for logs, e.g. `status(503)` or `close_mid_body+applied`.
    pub fn label(&self) -> String {
        let mut label = self.kind.label();
        if self.apply != self.kind.applies_by_default() {
            label.push_str(if self.apply {
                "+applied"
            } else {
                "+not_applied"
            });
        }
        label
    }
}

impl From<FaultKind> for Fault {
    fn from(kind: FaultKind) -> Self {
        Fault::new(kind)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The JSON shape of a [`Fault`].
#[derive(Serialize, Deserialize)]
struct FaultRepr {
    #[serde(flatten)]
    kind: KindRepr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    apply: Option<bool>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum KindRepr {
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
    },
    DelayHeaders {
        delay_ms: u64,
    },
    DelayBody {
        delay_ms: u64,
    },
    CloseBeforeResponse,
    CloseMidBody,
    TruncatedJson,
    MalformedJson,
    HtmlErrorPage {
        status: u16,
    },
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<Fault> for FaultRepr {
    fn from(fault: Fault) -> Self {
        let kind = match fault.kind {
            FaultKind::Status {
                status,
                retry_after,
            } => KindRepr::Status {
                status,
                retry_after,
            },
            FaultKind::DelayHeaders(d) => KindRepr::DelayHeaders {
                delay_ms: millis(d),
            },
            FaultKind::DelayBody(d) => KindRepr::DelayBody {
                delay_ms: millis(d),
            },
            FaultKind::CloseBeforeResponse => KindRepr::CloseBeforeResponse,
            FaultKind::CloseMidBody => KindRepr::CloseMidBody,
            FaultKind::TruncatedJson => KindRepr::TruncatedJson,
            FaultKind::MalformedJson => KindRepr::MalformedJson,
            FaultKind::HtmlErrorPage { status } => KindRepr::HtmlErrorPage { status },
        };
        FaultRepr {
            kind,
            apply: Some(fault.apply),
        }
    }
}

impl From<FaultRepr> for Fault {
    fn from(repr: FaultRepr) -> Self {
        let kind = match repr.kind {
            KindRepr::Status {
                status,
                retry_after,
            } => FaultKind::Status {
                status,
                retry_after,
            },
            KindRepr::DelayHeaders { delay_ms } => {
                FaultKind::DelayHeaders(Duration::from_millis(delay_ms))
            }
            KindRepr::DelayBody { delay_ms } => {
                FaultKind::DelayBody(Duration::from_millis(delay_ms))
            }
            KindRepr::CloseBeforeResponse => FaultKind::CloseBeforeResponse,
            KindRepr::CloseMidBody => FaultKind::CloseMidBody,
            KindRepr::TruncatedJson => FaultKind::TruncatedJson,
            KindRepr::MalformedJson => FaultKind::MalformedJson,
            KindRepr::HtmlErrorPage { status } => FaultKind::HtmlErrorPage { status },
        };
        let apply = repr.apply.unwrap_or_else(|| kind.applies_by_default());
        Fault { kind, apply }
    }
}

/// A script of faults: which request to which operation gets which [`Fault`].
///
/// Attempts are counted per operation, from 1, starting when the plan is set with
/// [`MockClerk::set_fault_plan`](super::MockClerk::set_fault_plan). For each request the mock
/// takes, in this order: an [`on`](FaultPlan::on) rule for exactly this attempt, else an
/// [`always`](FaultPlan::always) rule for the operation, else a [`random`](FaultPlan::random)
/// draw. Among rules of the same sort the first one added wins. Requests that match no
/// [`MockOperation`] (unknown paths, wrong methods, and the spec's operations the mock answers
/// without state) never get a fault.
///
/// ```
/// use clerk_tower::mock::{Fault, FaultPlan, MockOperation};
///
/// // The first create gets a 429, the second a 503 after Clerk applied it; every list is slow.
/// let plan = FaultPlan::new()
///     .on(MockOperation::Create, 1, Fault::rate_limited("1"))
///     .on(MockOperation::Create, 2, Fault::status(503).applied())
///     .always(MockOperation::List, Fault::delay_headers(std::time::Duration::from_millis(200)));
///
/// // The same plan as JSON (the format `clerk-mock --faults FILE` reads):
/// let json = serde_json::to_string(&plan).unwrap();
/// let back: FaultPlan = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, plan);
/// ```
///
/// # JSON format
///
/// ```json
/// {
///   "rules": [
///     { "operation": "CreateAllowlistIdentifier", "attempt": 1,
///       "fault": { "kind": "status", "status": 429, "retry_after": "1" } },
///     { "operation": "create", "attempt": 2,
///       "fault": { "kind": "status", "status": 503, "apply": true } },
///     { "operation": "list",
///       "fault": { "kind": "delay_headers", "delay_ms": 200 } }
///   ],
///   "random": { "seed": 7, "rate": 0.1,
///               "faults": [ { "kind": "close_before_response" }, { "kind": "html_error_page", "status": 502 } ] }
/// }
/// ```
///
/// A rule without `"attempt"` applies to every request to the operation. Fault kinds:
/// `status` (`status`, optional `retry_after`), `delay_headers` / `delay_body` (`delay_ms`),
/// `close_before_response`, `close_mid_body`, `truncated_json`, `malformed_json`,
/// `html_error_page` (`status`); each takes an optional `apply` (default: see
/// [`FaultKind::applies_by_default`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rules: Vec<FaultRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    random: Option<RandomFaults>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRule {
    operation: MockOperation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    fault: Fault,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomFaults {
    seed: u64,
    rate: f64,
    faults: Vec<Fault>,
}

impl FaultPlan {
    /// A plan with no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `attempt`-th request (1-based, counted per operation since the plan was set) to
    /// `op` gets `fault`. Attempt 0 never matches.
    pub fn on(mut self, op: MockOperation, attempt: u32, fault: Fault) -> Self {
        self.rules.push(FaultRule {
            operation: op,
            attempt: Some(attempt),
            fault,
        });
        self
    }

    /// Every request to `op` gets `fault` (unless an [`on`](FaultPlan::on) rule matches first).
    pub fn always(mut self, op: MockOperation, fault: Fault) -> Self {
        self.rules.push(FaultRule {
            operation: op,
            attempt: None,
            fault,
        });
        self
    }

    /// Every request (to any operation) that no rule matched gets, with probability `rate`
    /// (clamped to 0..=1), one of `faults`, chosen at random. The draws are deterministic
    /// from `seed`: the same requests in the same order get the same faults. Replaces an
    /// earlier `random` setting.
    pub fn random(mut self, seed: u64, rate: f64, faults: Vec<Fault>) -> Self {
        self.random = Some(RandomFaults { seed, rate, faults });
        self
    }

    /// Whether the plan holds no fault at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self
                .random
                .as_ref()
                .is_none_or(|r| r.faults.is_empty() || r.rate.is_nan() || r.rate <= 0.0)
    }

    pub(crate) fn random_seed(&self) -> u64 {
        self.random.as_ref().map_or(0, |r| r.seed)
    }

    /// The fault for the `attempt`-th request to `op`, drawing from `rng` for random faults.
    pub(crate) fn pick(
        &self,
        op: MockOperation,
        attempt: u32,
        rng: &mut super::engine::SplitMix64,
    ) -> Option<Fault> {
        if let Some(rule) = self
            .rules
            .iter()
            .find(|r| r.operation == op && r.attempt == Some(attempt))
        {
            return Some(rule.fault.clone());
        }
        if let Some(rule) = self
            .rules
            .iter()
            .find(|r| r.operation == op && r.attempt.is_none())
        {
            return Some(rule.fault.clone());
        }
        let random = self.random.as_ref()?;
        if random.faults.is_empty() {
            return None;
        }
        let rate = if random.rate.is_nan() {
            0.0
        } else {
            random.rate.clamp(0.0, 1.0)
        };
        // Draw both numbers for every request, so one request's outcome never shifts the next.
        let roll = rng.next_f64();
        let which = rng.next_u64();
        if roll < rate {
            let index = usize::try_from(which % random.faults.len() as u64).unwrap_or(0);
            random.faults.get(index).cloned()
        } else {
            None
        }
    }
}
