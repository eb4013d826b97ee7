//! The transport-free core of the mock: state, routing, validation and responses.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
};
use http::{HeaderMap, Method, Response, StatusCode, Uri};
use serde_json::{json, Map, Value};

use super::fault::{Fault, FaultKind, FaultPlan, MockOperation};
use super::lists::ListStore;
use super::rate_limit::{retry_after_secs, RateLimiter};
use super::reqlog::{headers_to_record, RequestLog};
use super::server::ServerSettings;
use super::spec::{self, SpecError, SpecIndex};
use super::users::{self, Flag, UserStore};
use super::validate::{decode_query, param_error, type_invalid, unknown};
use super::{MockError, RecordedRequest};
use crate::models::{
    AllowlistIdentifier, AllowlistIdentifierList, AllowlistObject, BlocklistIdentifier,
    BlocklistIdentifiers, BlocklistObject, ClerkError, ClerkErrors, DeletedObject, IdentifierType,
    InstanceRestrictions,
};
use clerk_tower_spec::text::{typed, Reading};
use clerk_tower_spec::{Location, Operation, Route};

/// Request bodies larger than this are refused with 413.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Identifiers longer than this (in bytes) are refused with 422.
pub(crate) const MAX_IDENTIFIER_BYTES: usize = 320;

const LIST_PATH: &str = "/v1/allowlist_identifiers";
const ITEM_PREFIX: &str = "/v1/allowlist_identifiers/";
const BLOCKLIST_PATH: &str = "/v1/blocklist_identifiers";
const BLOCKLIST_ITEM_PREFIX: &str = "/v1/blocklist_identifiers/";
const RESTRICTIONS_PATH: &str = "/v1/instance/restrictions";
const JSON: &str = "application/json";
/// The response header that carries the trace id (read by Clerk's Go SDK as `Clerk-Trace-Id`).
const TRACE_HEADER: &str = "clerk-trace-id";

/// A callback told about every request once its response head is out (or the connection
/// was dropped), with the time since the request arrived.
pub(crate) type Hook = Arc<dyn Fn(&RecordedRequest, Duration) + Send + Sync>;

/// The mock's random numbers: ids, trace ids, fault draws (the spec engine's SplitMix64).
pub(crate) use clerk_tower_spec::SplitMix64;

/// Which bearer tokens the mock accepts.
#[derive(Debug, Clone)]
pub(crate) enum KeyPolicy {
    Exact(String),
    AnyTestKey,
}

impl KeyPolicy {
    fn accepts(&self, token: &str) -> bool {
        match self {
            KeyPolicy::Exact(key) => constant_time_eq(key.as_bytes(), token.as_bytes()),
            KeyPolicy::AnyTestKey => {
                token.len() > "sk_test_".len() && token.starts_with("sk_test_")
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Everything behind the mock's mutex.
pub(crate) struct State {
    pub(crate) keys: KeyPolicy,
    pub(crate) instance_id: String,
    store: ListStore<AllowlistIdentifier>,
    pub(crate) blocklist: ListStore<BlocklistIdentifier>,
    pub(crate) restrictions: InstanceRestrictions,
    pub(crate) users: UserStore,
    /// Sessions and machine tokens the mock minted (`auth_tokens.rs`).
    pub(crate) auth: super::auth_tokens::AuthStore,
    pub(crate) rate_limit: Option<RateLimiter>,
    pub(crate) rng: SplitMix64,
    pub(crate) log: RequestLog,
    pub(crate) totals: [usize; MockOperation::COUNT],
    plan: FaultPlan,
    attempts: [u32; MockOperation::COUNT],
    fault_rng: SplitMix64,
    pub(crate) hook: Option<Hook>,
    pub(crate) server: ServerSettings,
}

impl State {
    pub(crate) fn new(keys: KeyPolicy, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let instance_id = rng.id("ins_");
        State {
            keys,
            instance_id,
            store: ListStore::default(),
            blocklist: ListStore::default(),
            restrictions: InstanceRestrictions::default(),
            users: UserStore::default(),
            auth: Default::default(),
            rate_limit: None,
            rng,
            log: RequestLog::default(),
            totals: [0; MockOperation::COUNT],
            plan: FaultPlan::default(),
            attempts: [0; MockOperation::COUNT],
            fault_rng: SplitMix64::new(0),
            hook: None,
            server: ServerSettings::default(),
        }
    }

    pub(crate) fn set_plan(&mut self, plan: FaultPlan) {
        self.fault_rng = SplitMix64::new(plan.random_seed());
        self.plan = plan;
        self.attempts = [0; MockOperation::COUNT];
    }

    pub(crate) fn reset(&mut self) {
        self.store.clear();
        self.blocklist.clear();
        self.restrictions = InstanceRestrictions::default();
        self.users.clear();
        if let Some(rate_limit) = &mut self.rate_limit {
            rate_limit.clear();
        }
        self.log.clear();
        self.totals = [0; MockOperation::COUNT];
        self.set_plan(FaultPlan::default());
    }

    /// The store in list order: newest first (created_at descending, then insertion order,
    /// newest first).
    pub(crate) fn sorted(&self) -> Vec<AllowlistIdentifier> {
        self.store.sorted()
    }

    /// How many identifiers the allow-list holds.
    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }

    /// Validates and (when `commit`) stores an identifier, as the create operation does.
    pub(crate) fn create(
        &mut self,
        raw: &str,
        notify: bool,
        commit: bool,
    ) -> Result<AllowlistIdentifier, MockError> {
        let (identifier, kind) = validate_identifier(raw)?;
        if self.store.contains(identifier, &kind) {
            return Err(MockError::new(
                StatusCode::BAD_REQUEST,
                ClerkError::new(
                    "duplicate_record",
                    "duplicate allowlist identifier",
                    format!("the identifier {identifier} already exists"),
                ),
            ));
        }
        let now = now_millis();
        let invitation_id =
            (notify && kind != IdentifierType::Web3Wallet).then(|| self.rng.id("inv_"));
        let item = AllowlistIdentifier {
            object: AllowlistObject::AllowlistIdentifier,
            id: self.rng.id("alid_"),
            invitation_id,
            identifier: identifier.to_owned(),
            identifier_type: kind,
            instance_id: Some(self.instance_id.clone()),
            created_at: now,
            updated_at: now,
        };
        if commit {
            self.store.push(item.clone());
        }
        Ok(item)
    }

    fn delete(&mut self, id: &str, commit: bool) -> Option<AllowlistIdentifier> {
        self.store.delete(id, commit)
    }

    /// Validates and (when `commit`) stores a block-list identifier, as its create operation
    /// does: the same validation as the allow-list, no `notify`.
    pub(crate) fn create_blocked(
        &mut self,
        raw: &str,
        commit: bool,
    ) -> Result<BlocklistIdentifier, MockError> {
        let (identifier, kind) = validate_identifier(raw)?;
        if self.blocklist.contains(identifier, &kind) {
            return Err(MockError::new(
                StatusCode::BAD_REQUEST,
                ClerkError::new(
                    "duplicate_record",
                    "duplicate blocklist identifier",
                    format!("the identifier {identifier} already exists"),
                ),
            ));
        }
        let now = now_millis();
        let item = BlocklistIdentifier {
            object: BlocklistObject::BlocklistIdentifier,
            id: self.rng.id("blid_"),
            identifier: identifier.to_owned(),
            identifier_type: kind,
            instance_id: Some(self.instance_id.clone()),
            created_at: now,
            updated_at: now,
        };
        if commit {
            self.blocklist.push(item.clone());
        }
        Ok(item)
    }

    /// [`create`](State::create) (`notify: false`, committed) under the id `id`, for tests
    /// whose requests name fixed ids.
    pub(crate) fn create_with_id(
        &mut self,
        id: &str,
        raw: &str,
    ) -> Result<AllowlistIdentifier, MockError> {
        check_fixed_id(id, self.store.delete(id, false).is_some())?;
        let mut item = self.create(raw, false, false)?;
        item.id = id.to_owned();
        self.store.push(item.clone());
        Ok(item)
    }

    /// [`create_blocked`](State::create_blocked) (committed) under the id `id`.
    pub(crate) fn create_blocked_with_id(
        &mut self,
        id: &str,
        raw: &str,
    ) -> Result<BlocklistIdentifier, MockError> {
        check_fixed_id(id, self.blocklist.delete(id, false).is_some())?;
        let mut item = self.create_blocked(raw, false)?;
        item.id = id.to_owned();
        self.blocklist.push(item.clone());
        Ok(item)
    }
}

/// A fixed id given to an inserted user or identifier: not empty, not taken (422 otherwise).
pub(crate) fn check_fixed_id(id: &str, taken: bool) -> Result<(), MockError> {
    let refuse = |code: &str, message: &str| {
        let error = param_error(code, message, message, "id");
        MockError::new(StatusCode::UNPROCESSABLE_ENTITY, error)
    };
    if id.is_empty() {
        return Err(refuse("form_param_value_invalid", "id must not be empty."));
    }
    if taken {
        return Err(refuse(
            "form_identifier_exists",
            "That id is taken. Please try another.",
        ));
    }
    Ok(())
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What an identifier is: e-mail address, E.164 phone number or web3 wallet.
pub(crate) fn classify(identifier: &str) -> Option<IdentifierType> {
    if let Some(hex) = identifier.strip_prefix("0x") {
        return (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(IdentifierType::Web3Wallet);
    }
    if let Some(digits) = identifier.strip_prefix('+') {
        return ((7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(IdentifierType::PhoneNumber);
    }
    is_email(identifier).then_some(IdentifierType::EmailAddress)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let no_space = |p: &str| !p.chars().any(|c| c.is_whitespace() || c.is_control());
    !local.is_empty()
        && local.len() <= 64
        && no_space(local)
        && !domain.contains('@')
        && no_space(domain)
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Validates an identifier as a create request does: trimmed, present, at most 320 bytes, and
/// an e-mail address, an E.164 phone number or a web3 wallet.
pub(crate) fn validate_identifier(raw: &str) -> Result<(&str, IdentifierType), MockError> {
    let identifier = raw.trim();
    if identifier.is_empty() {
        return Err(MockError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            param_error(
                "form_param_missing",
                "is missing",
                "identifier must be included.",
                "identifier",
            ),
        ));
    }
    if identifier.len() > MAX_IDENTIFIER_BYTES {
        return Err(MockError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            param_error(
                "form_param_max_length_exceeded",
                "exceeds maximum length",
                &format!("identifier should not exceed {MAX_IDENTIFIER_BYTES} characters."),
                "identifier",
            ),
        ));
    }
    match classify(identifier) {
        Some(kind) => Ok((identifier, kind)),
        None => Err(MockError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            param_error(
                "form_param_format_invalid",
                "is invalid",
                "identifier must be either a valid email address, a valid phone number according to E.164 \
                 international standard or a valid web3 wallet.",
                "identifier",
            ),
        )),
    }
}

/// What the transport must do with a prepared response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Respond,
    DelayHeaders(Duration),
    DelayBody(Duration),
    CloseBeforeResponse,
    CloseMidBody,
}

/// A response ready for the transport, with the instructions of the fault (if any).
pub(crate) struct Prepared {
    pub(crate) response: Response<Bytes>,
    pub(crate) action: Action,
    notice: Option<(Hook, RecordedRequest)>,
    started: std::time::Instant,
}

impl Prepared {
    /// Tells the request hook (if any) that the response head is out or the connection gone.
    pub(crate) fn notify(&mut self) {
        if let Some((hook, record)) = self.notice.take() {
            hook(&record, self.started.elapsed());
        }
    }
}

/// An incoming request, transport-independent.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) too_large: bool,
}

/// The id segment of an item path (`PREFIX{id}`): one non-empty segment.
fn item_id<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    path.strip_prefix(prefix)
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

fn route(method: &Method, path: &str) -> Option<MockOperation> {
    match (path, method) {
        (LIST_PATH, &Method::GET) => Some(MockOperation::ListAllowlistIdentifiers),
        (LIST_PATH, &Method::POST) => Some(MockOperation::CreateAllowlistIdentifier),
        (BLOCKLIST_PATH, &Method::GET) => Some(MockOperation::ListBlocklistIdentifiers),
        (BLOCKLIST_PATH, &Method::POST) => Some(MockOperation::CreateBlocklistIdentifier),
        (RESTRICTIONS_PATH, &Method::PATCH) => Some(MockOperation::UpdateInstanceRestrictions),
        (_, &Method::DELETE) if item_id(path, ITEM_PREFIX).is_some() => {
            Some(MockOperation::DeleteAllowlistIdentifier)
        }
        (_, &Method::DELETE) if item_id(path, BLOCKLIST_ITEM_PREFIX).is_some() => {
            Some(MockOperation::DeleteBlocklistIdentifier)
        }
        _ => None,
    }
}

/// What a request's method and path name: a stateful operation, the JWKS, or what the spec's
/// router found.
#[derive(Debug)]
pub(crate) enum Target {
    Stateful(MockOperation),
    /// A user operation: the spec's router found it, and the store answers it.
    Users(
        MockOperation,
        &'static SpecIndex,
        &'static Operation,
        Vec<(&'static str, String)>,
    ),
    Jwks,
    Spec(&'static SpecIndex, Route<'static>),
    /// A path under `/v1` that is not stateful, while the embedded spec cannot be used.
    SpecUnavailable(&'static SpecError),
    /// Not under `/v1/`.
    Outside,
}

impl Target {
    /// Routes a request: the stateful routes first, then the JWKS, then the spec (parsed on
    /// the first request that gets this far).
    pub(crate) fn of(method: &Method, path: &str) -> Target {
        if let Some(op) = route(method, path) {
            return Target::Stateful(op);
        }
        if path == super::tokens::JWKS_PATH && method == Method::GET {
            return Target::Jwks;
        }
        let Some(rest) = path
            .strip_prefix(spec::BASE_PATH)
            .filter(|rest| rest.starts_with('/'))
        else {
            return Target::Outside;
        };
        match spec::index() {
            Ok(index) => match index.spec.route(method.as_str(), rest) {
                Route::Operation(op, params) => {
                    match MockOperation::USERS.iter().find(|u| u.name() == op.id) {
                        Some(user_op) => Target::Users(*user_op, index, op, params),
                        None => Target::Spec(index, Route::Operation(op, params)),
                    }
                }
                other => Target::Spec(index, other),
            },
            Err(err) => Target::SpecUnavailable(err),
        }
    }

    /// The spec's operation id of the request, if it names one.
    pub(crate) fn operation_id(&self) -> Option<&'static str> {
        match self {
            Target::Stateful(op) | Target::Users(op, ..) => Some(op.name()),
            Target::Jwks => Some("GetJWKS"),
            Target::Spec(_, Route::Operation(op, _)) => Some(op.id.as_str()),
            _ => None,
        }
    }

    fn stateful(&self) -> Option<MockOperation> {
        match self {
            Target::Stateful(op) | Target::Users(op, ..) => Some(*op),
            _ => None,
        }
    }

    /// An operation the spec declares without security (`security: []`): no key needed.
    fn public(&self) -> bool {
        matches!(self, Target::Spec(_, Route::Operation(op, _)) if op.public)
    }
}

impl State {
    /// Handles one request: records it, picks a fault, runs the operation (for real or as a
    /// dry run) and builds the response.
    pub(crate) fn handle(&mut self, req: Incoming<'_>, target: Target) -> Prepared {
        let started = std::time::Instant::now();
        let path = req.uri.path();
        let op = target.stateful();
        let attempt = match op {
            Some(op) => {
                let i = op.index();
                self.totals[i] += 1;
                self.attempts[i] = self.attempts[i].saturating_add(1);
                self.attempts[i]
            }
            None => 0,
        };
        // Clerk's rate limit (when set) comes before anything else an authenticated request
        // meets: a limited request does no work and gets no fault.
        let limited = self.rate_limited(&req);
        let fault = match (op, limited) {
            (Some(op), None) => self.plan.pick(op, attempt, &mut self.fault_rng),
            _ => None,
        };

        let run_real = limited.is_none()
            && fault
                .as_ref()
                .is_none_or(|f| f.apply || f.kind.wraps_response());
        let commit = fault.as_ref().is_none_or(|f| f.apply);
        let (real, applied) = if run_real {
            self.dispatch(&req, commit, &target)
        } else {
            (None, false)
        };

        let (response, action) = match (limited, &fault) {
            (Some(wait), _) => (self.too_many_requests(wait), Action::Respond),
            (None, None) => (
                real.unwrap_or_else(|| self.internal_error()),
                Action::Respond,
            ),
            (None, Some(f)) => self.apply_fault(f, real),
        };
        let status = (action != Action::CloseBeforeResponse).then(|| response.status());

        let record = RecordedRequest {
            method: req.method.clone(),
            path: path.to_owned(),
            query: req.uri.query().map(str::to_owned),
            headers: headers_to_record(req.headers),
            body: self.log.body_to_record(&req.body),
            operation: op,
            operation_id: target.operation_id(),
            attempt,
            status,
            applied,
            fault,
        };
        let notice = self.hook.clone().map(|hook| (hook, record.clone()));
        self.log.push(record);
        Prepared {
            response,
            action,
            notice,
            started,
        }
    }

    /// A request whose body did not arrive within `timeout`: a 408 with Clerk's error shape
    /// and `Connection: close`. Recorded with its operation (if any) but attempt 0: it is not
    /// counted as a request to that operation and no fault applies to it.
    pub(crate) fn body_timed_out(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        timeout: Duration,
        arrived: std::time::Instant,
    ) -> Prepared {
        let path = uri.path();
        let target = Target::of(method, path);
        let err = ClerkError::new(
            "request_timeout",
            "Request timeout",
            format!("The request body did not arrive within {timeout:?}."),
        );
        let mut response = self.error_response(StatusCode::REQUEST_TIMEOUT, err);
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        let record = RecordedRequest {
            method: method.clone(),
            path: path.to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers_to_record(headers),
            body: Bytes::new(),
            operation: target.stateful(),
            operation_id: target.operation_id(),
            attempt: 0,
            status: Some(StatusCode::REQUEST_TIMEOUT),
            applied: false,
            fault: None,
        };
        let notice = self.hook.clone().map(|hook| (hook, record.clone()));
        self.log.push(record);
        Prepared {
            response,
            action: Action::Respond,
            notice,
            started: arrived,
        }
    }

    fn apply_fault(
        &mut self,
        fault: &Fault,
        real: Option<Response<Bytes>>,
    ) -> (Response<Bytes>, Action) {
        let real =
            || real.unwrap_or_else(|| json_response(StatusCode::OK, Bytes::from_static(b"{}")));
        match &fault.kind {
            FaultKind::Status {
                status,
                retry_after,
            } => {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = self.error_response(status, status_error(status));
                if let Some(value) = retry_after
                    .as_deref()
                    .and_then(|v| HeaderValue::from_str(v).ok())
                {
                    response.headers_mut().insert(RETRY_AFTER, value);
                }
                (response, Action::Respond)
            }
            FaultKind::HtmlErrorPage { status } => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
                (html_page(status), Action::Respond)
            }
            FaultKind::CloseBeforeResponse => (real(), Action::CloseBeforeResponse),
            FaultKind::DelayHeaders(d) => (real(), Action::DelayHeaders(*d)),
            FaultKind::DelayBody(d) => (real(), Action::DelayBody(*d)),
            FaultKind::CloseMidBody => (real(), Action::CloseMidBody),
            FaultKind::TruncatedJson => {
                let response = real();
                let (parts, body) = response.into_parts();
                let half = body.slice(..body.len() / 2);
                (
                    with_length(Response::from_parts(parts, half)),
                    Action::Respond,
                )
            }
            FaultKind::MalformedJson => {
                let response = real();
                let (parts, _) = response.into_parts();
                let broken = Bytes::from_static(
                    b"{\"object\": \"allowlist_identifier\", \"id\": alid_<malformed>,,}",
                );
                (
                    with_length(Response::from_parts(parts, broken)),
                    Action::Respond,
                )
            }
        }
    }

    /// The real answer to a request. `commit: false` computes it without changing the store.
    /// Returns the response and whether the store was changed.
    fn dispatch(
        &mut self,
        req: &Incoming<'_>,
        commit: bool,
        target: &Target,
    ) -> (Option<Response<Bytes>>, bool) {
        if req.too_large {
            let err = ClerkError::new(
                "request_body_too_large",
                "Request body too large",
                format!("The request body must not exceed {MAX_BODY_BYTES} bytes."),
            );
            return (
                Some(self.error_response(StatusCode::PAYLOAD_TOO_LARGE, err)),
                false,
            );
        }
        if !target.public() {
            if let Err(err) = self.authenticate(req.headers) {
                return (
                    Some(self.error_response(StatusCode::UNAUTHORIZED, err)),
                    false,
                );
            }
        }
        let path = req.uri.path();
        let stateful = match target {
            Target::Stateful(op) => *op,
            Target::Jwks => match super::tokens::respond(req) {
                Some(response) => return (Some(response), false),
                None => return (Some(self.internal_error()), false),
            },
            Target::Spec(index, Route::Operation(op, params)) => {
                if let Some((response, applied)) =
                    super::auth_tokens::respond(self, req, index, op, params, commit)
                {
                    return (Some(response), applied);
                }
                return (Some(self.generic(req, index, op, params)), false);
            }
            Target::Users(user_op, index, op, params) => {
                let (response, applied) =
                    self.users_request(*user_op, req, commit, index, op, params);
                return (Some(response), applied);
            }
            Target::Spec(_, Route::MethodNotAllowed { allow, .. }) => {
                return (Some(self.method_not_allowed(req.method, allow)), false)
            }
            Target::Outside if path.starts_with(super::auth_tokens::TEST_ROUTES) => {
                if let Some((response, applied)) = super::auth_tokens::test_route(self, req, commit)
                {
                    return (Some(response), applied);
                }
                let err = ClerkError::new("resource_not_found", "not found", "Resource not found");
                return (Some(self.error_response(StatusCode::NOT_FOUND, err)), false);
            }
            Target::Spec(_, Route::NoPath) | Target::Outside => {
                let err = ClerkError::new("resource_not_found", "not found", "Resource not found");
                return (Some(self.error_response(StatusCode::NOT_FOUND, err)), false);
            }
            Target::SpecUnavailable(err) => {
                let err = ClerkError::new(
                    "internal_clerk_error",
                    "Oops, an unexpected error occurred",
                    err.to_string(),
                );
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                return (Some(self.error_response(status, err)), false);
            }
        };
        match stateful {
            MockOperation::ListAllowlistIdentifiers => (Some(self.list(req.uri.query())), false),
            MockOperation::CreateAllowlistIdentifier => {
                let (response, applied) = self.create_from_request(req, commit);
                (Some(response), applied)
            }
            MockOperation::ListBlocklistIdentifiers => {
                let data = self.blocklist.sorted();
                let total_count = i64::try_from(data.len()).ok();
                (
                    Some(self.json_ok(&BlocklistIdentifiers { data, total_count })),
                    false,
                )
            }
            MockOperation::CreateBlocklistIdentifier => {
                let (response, applied) = self.create_blocked_from_request(req, commit);
                (Some(response), applied)
            }
            MockOperation::DeleteBlocklistIdentifier => {
                let raw = path.strip_prefix(BLOCKLIST_ITEM_PREFIX).unwrap_or_default();
                let id = percent_encoding::percent_decode_str(raw)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .ok();
                match id.and_then(|id| self.blocklist.delete(&id, commit)) {
                    Some(item) => {
                        let deleted = DeletedObject {
                            object: "blocklist_identifier".to_owned(),
                            id: Some(item.id),
                            slug: None,
                            deleted: true,
                            external_id: None,
                        };
                        (Some(self.json_ok(&deleted)), commit)
                    }
                    None => (Some(self.identifier_not_found(raw)), false),
                }
            }
            MockOperation::UpdateInstanceRestrictions => {
                let (response, applied) = self.update_restrictions(req, commit);
                (Some(response), applied)
            }
            MockOperation::DeleteAllowlistIdentifier => {
                let raw = path.strip_prefix(ITEM_PREFIX).unwrap_or_default();
                let id = percent_encoding::percent_decode_str(raw)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .ok();
                match id.and_then(|id| self.delete(&id, commit)) {
                    Some(item) => {
                        let deleted = DeletedObject {
                            object: "allowlist_identifier".to_owned(),
                            id: Some(item.id),
                            slug: None,
                            deleted: true,
                            external_id: None,
                        };
                        (Some(self.json_ok(&deleted)), commit)
                    }
                    None => (Some(self.identifier_not_found(raw)), false),
                }
            }
            // The user operations arrive as `Target::Users`.
            _ => (Some(self.internal_error()), false),
        }
    }

    /// 405 with the methods the path takes in `Allow`.
    fn method_not_allowed(&mut self, method: &Method, allow: &str) -> Response<Bytes> {
        let err = ClerkError::new(
            "method_not_allowed",
            "Method not allowed",
            format!("{method} is not allowed on this path. Allowed methods: {allow}."),
        );
        let mut response = self.error_response(StatusCode::METHOD_NOT_ALLOWED, err);
        if let Ok(value) = HeaderValue::from_str(allow) {
            response.headers_mut().insert(ALLOW, value);
        }
        response
    }

    /// A user operation: checked against the spec like a generic one, then answered from
    /// the store. Returns the response and whether the store changed.
    fn users_request(
        &mut self,
        op: MockOperation,
        req: &Incoming<'_>,
        commit: bool,
        index: &'static SpecIndex,
        info: &'static Operation,
        params: &[(&'static str, String)],
    ) -> (Response<Bytes>, bool) {
        let query = req.uri.query();
        if let Err(refusal) =
            super::validate::check(index.doc(), info, params, query, req.headers, &req.body)
        {
            return (self.error_response(refusal.status, refusal.error), false);
        }
        let user_id = params
            .iter()
            .find(|(name, _)| *name == "user_id")
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        let now = now_millis();
        let body = users::body_object(&req.body);
        let found = |state: &mut State, user: Option<serde_json::Value>, changes: bool| match user {
            Some(user) => (state.json_ok(&user), commit && changes),
            None => (
                state.error_response(StatusCode::NOT_FOUND, users::not_found()),
                false,
            ),
        };
        match op {
            MockOperation::CreateUser => {
                let template = users::template(index);
                match self
                    .users
                    .create(template, &body, now, &mut self.rng, commit)
                {
                    Ok(user) => (self.json_ok(&user), commit),
                    Err(refusal) => (self.error_response(refusal.status, refusal.error), false),
                }
            }
            MockOperation::GetUserList => {
                let pairs = super::validate::query_pairs(query);
                match self.users.page(&pairs) {
                    Ok(page) => (self.json_ok(&page), false),
                    Err(refusal) => (self.error_response(refusal.status, refusal.error), false),
                }
            }
            MockOperation::GetUsersCount => {
                let pairs = super::validate::query_pairs(query);
                let total = self.users.select(&pairs).len();
                let count = json!({ "object": "total_count", "total_count": total });
                (self.json_ok(&count), false)
            }
            MockOperation::GetUser => {
                let user = self.users.get(user_id).cloned();
                found(self, user, false)
            }
            MockOperation::UpdateUser => match self.users.update(user_id, &body, now, commit) {
                Ok(user) => found(self, user, true),
                Err(refusal) => (self.error_response(refusal.status, refusal.error), false),
            },
            MockOperation::UpdateUserMetadata => {
                let user = self.users.merge_metadata(user_id, &body, now, commit);
                found(self, user, true)
            }
            MockOperation::BanUser
            | MockOperation::UnbanUser
            | MockOperation::LockUser
            | MockOperation::UnlockUser => {
                let flag = match op {
                    MockOperation::BanUser => Flag::Ban,
                    MockOperation::UnbanUser => Flag::Unban,
                    MockOperation::LockUser => Flag::Lock,
                    _ => Flag::Unlock,
                };
                let user = self.users.set_flag(user_id, flag, now, commit);
                found(self, user, true)
            }
            MockOperation::DeleteUser => match self.users.delete(user_id, commit) {
                Some(user) => {
                    let deleted = DeletedObject {
                        object: "user".to_owned(),
                        id: user.get("id").and_then(|v| v.as_str()).map(str::to_owned),
                        slug: None,
                        deleted: true,
                        external_id: None,
                    };
                    (self.json_ok(&deleted), commit)
                }
                None => (
                    self.error_response(StatusCode::NOT_FOUND, users::not_found()),
                    false,
                ),
            },
            _ => (self.internal_error(), false),
        }
    }

    /// A spec operation without state: the request is checked against the spec, then
    /// answered with an instance of the response schema (see `generic`).
    pub(crate) fn generic(
        &mut self,
        req: &Incoming<'_>,
        index: &'static SpecIndex,
        op: &'static Operation,
        params: &[(&'static str, String)],
    ) -> Response<Bytes> {
        let query = req.uri.query();
        if let Err(refusal) =
            super::validate::check(index.doc(), op, params, query, req.headers, &req.body)
        {
            return self.error_response(refusal.status, refusal.error);
        }
        // A list the overlay gives both shapes answers `{data, total_count}` to
        // `paginated=true` (validated above: a boolean as Go's strconv.ParseBool reads it).
        let paginated = op.param(Location::Query, "paginated").is_some_and(|p| {
            super::validate::query_pairs(query).iter().any(|(k, v)| {
                k == "paginated" && typed(&p.schema, v, Reading::Lenient) == Some(Value::Bool(true))
            })
        });
        let Some(skeleton) = index.skeleton(op, paginated) else {
            return self.internal_error();
        };
        let answer = match skeleton.answer(op, params, query, &mut self.rng) {
            Ok(answer) => answer,
            Err(_) => return self.internal_error(),
        };
        let mut response = Response::new(Bytes::from(answer.body));
        *response.status_mut() = answer.status;
        if let Some(media) = answer.media {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(media));
        }
        if answer.status != StatusCode::NO_CONTENT {
            response = with_length(response);
        }
        let trace_id = self.rng.trace_id();
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            response.headers_mut().insert(TRACE_HEADER, value);
        }
        response
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), ClerkError> {
        let format_invalid = || {
            ClerkError::new(
                "authorization_header_format_invalid",
                "Invalid Authorization header format",
                "Invalid Authorization header format. Must be 'Bearer <YOUR_API_KEY>'",
            )
        };
        let value = headers.get(AUTHORIZATION).ok_or_else(format_invalid)?;
        let value = value.to_str().map_err(|_| format_invalid())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(format_invalid)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(format_invalid());
        }
        if self.keys.accepts(token) {
            Ok(())
        } else {
            let msg = "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.";
            Err(ClerkError::new("clerk_key_invalid", msg, msg))
        }
    }

    fn list(&mut self, query: Option<&str>) -> Response<Bytes> {
        let params = match ListParams::parse(query) {
            Ok(params) => params,
            Err(err) => return self.error_response(StatusCode::UNPROCESSABLE_ENTITY, err),
        };
        let all = self.sorted();
        if params.paginated {
            let total_count = i64::try_from(all.len()).unwrap_or(i64::MAX);
            let data = all
                .into_iter()
                .skip(params.offset)
                .take(params.limit)
                .collect();
            self.json_ok(&AllowlistIdentifierList {
                data,
                total_count: Some(total_count),
            })
        } else {
            self.json_ok(&all)
        }
    }

    /// The JSON object of a request body (an empty body counts as `{}`), or the error
    /// response: 415 for a media type that is not JSON, 400 for a body that is not an object.
    #[allow(clippy::result_large_err)] // an error response, built once per bad request
    fn json_fields(&mut self, req: &Incoming<'_>) -> Result<Map<String, Value>, Response<Bytes>> {
        if let Some(ct) = req.headers.get(CONTENT_TYPE) {
            let media = ct
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim();
            if !media.eq_ignore_ascii_case(JSON) {
                let shown = String::from_utf8_lossy(ct.as_bytes()).into_owned();
                let err = ClerkError::new(
                    "unsupported_content_type",
                    "Content-Type is unsupported",
                    format!("Content-Type {shown} is unsupported. You should use {JSON} instead."),
                );
                return Err(self.error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, err));
            }
        }
        if req.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => {
                let err = ClerkError::new(
                    "request_body_invalid",
                    "Request body invalid",
                    "The request body is invalid. Please consult the API documentation for more information.",
                );
                Err(self.error_response(StatusCode::BAD_REQUEST, err))
            }
        }
    }

    fn create_from_request(&mut self, req: &Incoming<'_>, commit: bool) -> (Response<Bytes>, bool) {
        let fields = match self.json_fields(req) {
            Ok(fields) => fields,
            Err(response) => return (response, false),
        };
        let mut identifier = None;
        let mut notify = false;
        for (key, value) in &fields {
            match (key.as_str(), value) {
                ("identifier", Value::String(s)) => identifier = Some(s.as_str()),
                ("identifier", Value::Null) => {}
                ("identifier", _) => {
                    return (
                        self.error_response(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            type_invalid("identifier", "string"),
                        ),
                        false,
                    )
                }
                ("notify", Value::Bool(b)) => notify = *b,
                ("notify", Value::Null) => {}
                ("notify", _) => {
                    return (
                        self.error_response(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            type_invalid("notify", "boolean"),
                        ),
                        false,
                    )
                }
                (other, _) => {
                    let err = unknown(other);
                    return (
                        self.error_response(StatusCode::UNPROCESSABLE_ENTITY, err),
                        false,
                    );
                }
            }
        }
        match self.create(identifier.unwrap_or(""), notify, commit) {
            Ok(item) => (self.json_ok(&item), commit),
            Err(err) => (self.error_response(err.status, err.error), false),
        }
    }

    /// `POST /v1/blocklist_identifiers`: `identifier` only (the spec's body has no `notify`).
    fn create_blocked_from_request(
        &mut self,
        req: &Incoming<'_>,
        commit: bool,
    ) -> (Response<Bytes>, bool) {
        let fields = match self.json_fields(req) {
            Ok(fields) => fields,
            Err(response) => return (response, false),
        };
        let mut identifier = "";
        for (key, value) in &fields {
            match (key.as_str(), value) {
                ("identifier", Value::String(s)) => identifier = s.as_str(),
                ("identifier", Value::Null) => {}
                ("identifier", _) => {
                    let err = type_invalid("identifier", "string");
                    return (
                        self.error_response(StatusCode::UNPROCESSABLE_ENTITY, err),
                        false,
                    );
                }
                (other, _) => {
                    let err = unknown(other);
                    return (
                        self.error_response(StatusCode::UNPROCESSABLE_ENTITY, err),
                        false,
                    );
                }
            }
        }
        match self.create_blocked(identifier, commit) {
            Ok(item) => (self.json_ok(&item), commit),
            Err(err) => (self.error_response(err.status, err.error), false),
        }
    }

    /// `PATCH /v1/instance/restrictions`: each of the five booleans may be set, or `null`
    /// (no change); anything else is a 422.
    fn update_restrictions(&mut self, req: &Incoming<'_>, commit: bool) -> (Response<Bytes>, bool) {
        let fields = match self.json_fields(req) {
            Ok(fields) => fields,
            Err(response) => return (response, false),
        };
        let mut next = self.restrictions.clone();
        for (key, value) in &fields {
            let slot = match key.as_str() {
                "allowlist" => &mut next.allowlist,
                "blocklist" => &mut next.blocklist,
                "allowlist_blocklist_disabled_on_sign_in" => {
                    &mut next.allowlist_blocklist_disabled_on_sign_in
                }
                "block_email_subaddresses" => &mut next.block_email_subaddresses,
                "block_disposable_email_domains" => &mut next.block_disposable_email_domains,
                other => {
                    let err = unknown(other);
                    return (
                        self.error_response(StatusCode::UNPROCESSABLE_ENTITY, err),
                        false,
                    );
                }
            };
            match value {
                Value::Bool(b) => *slot = *b,
                Value::Null => {}
                _ => {
                    let err = type_invalid(key, "boolean");
                    return (
                        self.error_response(StatusCode::UNPROCESSABLE_ENTITY, err),
                        false,
                    );
                }
            }
        }
        let changed = next != self.restrictions;
        if commit {
            self.restrictions = next.clone();
        }
        (self.json_ok(&next), commit && changed)
    }

    /// 404 for a delete whose id matches nothing (`raw`: the id segment as sent).
    fn identifier_not_found(&mut self, raw: &str) -> Response<Bytes> {
        let shown = percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned();
        let err = ClerkError::new(
            "resource_not_found",
            "Identifier not found",
            format!("No identifier was found with id {shown}"),
        );
        self.error_response(StatusCode::NOT_FOUND, err)
    }

    /// Whether the rate limit (when set) refuses this request, and for how long. Only
    /// requests with a valid key count, as Clerk counts per key.
    fn rate_limited(&mut self, req: &Incoming<'_>) -> Option<Duration> {
        if self.rate_limit.is_none() || req.too_large || self.authenticate(req.headers).is_err() {
            return None;
        }
        let now = tokio::time::Instant::now();
        self.rate_limit.as_mut()?.check(now).err()
    }

    /// Clerk's 429: `too_many_requests` with `Retry-After` in whole seconds.
    fn too_many_requests(&mut self, wait: Duration) -> Response<Bytes> {
        let status = StatusCode::TOO_MANY_REQUESTS;
        let mut response = self.error_response(status, status_error(status));
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
        response
    }

    fn json_ok<T: serde::Serialize>(&mut self, value: &T) -> Response<Bytes> {
        match serde_json::to_vec(value) {
            Ok(body) => {
                let mut response = json_response(StatusCode::OK, Bytes::from(body));
                let trace_id = self.rng.trace_id();
                if let Ok(value) = HeaderValue::from_str(&trace_id) {
                    response.headers_mut().insert(TRACE_HEADER, value);
                }
                response
            }
            Err(_) => self.internal_error(),
        }
    }

    fn internal_error(&mut self) -> Response<Bytes> {
        self.error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            status_error(StatusCode::INTERNAL_SERVER_ERROR),
        )
    }

    /// A Clerk error response: `ClerkErrors` with a fresh `clerk_trace_id`.
    pub(crate) fn error_response(
        &mut self,
        status: StatusCode,
        error: ClerkError,
    ) -> Response<Bytes> {
        let trace_id = self.rng.trace_id();
        let header = HeaderValue::from_str(&trace_id).ok();
        let body = ClerkErrors {
            errors: vec![error],
            meta: None,
            clerk_trace_id: Some(trace_id),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"errors\":[]}".to_vec());
        let mut response = json_response(status, Bytes::from(bytes));
        if let Some(value) = header {
            response.headers_mut().insert(TRACE_HEADER, value);
        }
        response
    }
}

/// The Clerk error a [`FaultKind::Status`] fault sends for `status`.
fn status_error(status: StatusCode) -> ClerkError {
    match status.as_u16() {
        429 => ClerkError::new("too_many_requests", "Too many requests", "Too many requests, retry later"),
        503 => ClerkError::new(
            "maintenance_mode",
            "System under maintenance",
            "We are currently undergoing maintenance and only essential operations are permitted. We will be back shortly.",
        ),
        500..=599 => ClerkError::new(
            "internal_clerk_error",
            "Oops, an unexpected error occurred",
            "There was an internal error on our servers. We've been notified and are working on fixing it.",
        ),
        400 => ClerkError::new("bad_request", "Bad request", "Bad request"),
        401 => ClerkError::new(
            "authentication_invalid",
            "Invalid authentication",
            "Unable to authenticate the request, you need to supply an active session",
        ),
        403 => ClerkError::new("authorization_invalid", "Unauthorized request", "You are not authorized to perform this request"),
        404 => ClerkError::new("resource_not_found", "not found", "Resource not found"),
        code => ClerkError::new("mock_fault", "Injected fault", format!("The mock answered {code} as its fault plan asked.")),
    }
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    with_length(response)
}

fn with_length(mut response: Response<Bytes>) -> Response<Bytes> {
    let len = response.body().len();
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn html_page(status: StatusCode) -> Response<Bytes> {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let page = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n\
         <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = Response::new(Bytes::from(page));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    with_length(response)
}

/// The list operation's query: `paginated`, `limit`, `offset`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ListParams {
    pub(crate) paginated: bool,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
}

impl ListParams {
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, ClerkError> {
        let mut params = ListParams {
            paginated: false,
            limit: 10,
            offset: 0,
        };
        let mut seen = [false; 3];
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode_query(key);
            let value = decode_query(value);
            let index = match key.as_str() {
                "paginated" => 0,
                "limit" => 1,
                "offset" => 2,
                _ => continue, // Unknown query parameters are ignored.
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(param_error(
                    "form_param_duplicate",
                    "is duplicate",
                    &format!("{key} included multiple times. There should only be one."),
                    &key,
                ));
            }
            if value.is_empty() {
                continue; // `limit=` is the same as no `limit`.
            }
            match index {
                0 => {
                    params.paginated = match value.as_str() {
                        "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                        "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                        _ => return Err(type_invalid(&key, "boolean")),
                    }
                }
                _ => {
                    let n: i64 = value.parse().map_err(|_| type_invalid(&key, "integer"))?;
                    let (min, max) = if index == 1 { (1, 500) } else { (0, i64::MAX) };
                    if n < min || n > max {
                        let range = if index == 1 {
                            "between 1 and 500"
                        } else {
                            "greater than or equal to 0"
                        };
                        return Err(param_error(
                            "form_param_value_invalid",
                            "is invalid",
                            &format!("{key} must be {range}."),
                            &key,
                        ));
                    }
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    if index == 1 {
                        params.limit = n;
                    } else {
                        params.offset = n;
                    }
                }
            }
        }
        Ok(params)
    }
}
