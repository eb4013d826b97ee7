//! An in-memory Clerk Backend API that answers every operation of Clerk's OpenAPI spec, with
//! state for the allow-list, the block-list, the instance restrictions and users, scripted
//! faults and rate limits (feature `mock`).
//!
//! [`MockClerk`] holds the allow-list, the block-list and users, checks the bearer key, validates
//! requests the way Clerk does, answers the stateful operations with the same JSON as
//! `https://api.clerk.com/v1` (built from this crate's [`models`](crate::models), so mock and
//! client agree) and every other operation of the spec with a valid instance of its response
//! schema (see [Every other operation](#every-other-operation)), and records the requests it
//! receives in a bounded log (see [`MockClerk::requests`]; bodies only when asked). It is
//! reachable two ways:
//!
//! - [`MockClerk::service`]: a [`tower::Service`]`<`[`HttpRequest`](crate::HttpRequest)`>`
//!   without any socket, for fast tests (and `tokio::time::pause`d ones);
//! - [`MockClerk::serve`]: a real HTTP/1.1 (and 1.0) server on `127.0.0.1` and a random port,
//!   where connection faults are real closed sockets.
//!
//! Both share one store: what a test inserts with [`MockClerk::insert`] is what the server
//! lists.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation};
//!
//! let mock = MockClerk::new(); // accepts `Bearer sk_test_clerk_tower_mock`
//! mock.insert("ada@example.com").unwrap();
//!
//! // The first create is rate limited, the second fails with a 503 after being applied.
//! mock.set_fault_plan(
//!     FaultPlan::new()
//!         .on(MockOperation::Create, 1, Fault::rate_limited("1"))
//!         .on(MockOperation::Create, 2, Fault::status(503).applied()),
//! );
//!
//! let server = mock.serve().await?;
//! let base_url = server.base_url(); // "http://127.0.0.1:PORT/v1"
//! assert!(base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/v1"));
//! // ... point a client at `base_url` with `MockClerk::DEFAULT_SECRET_KEY` ...
//!
//! assert_eq!(mock.request_count(MockOperation::Create), 0);
//! assert_eq!(mock.identifiers().len(), 1);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! Routes (only under `/v1`): `GET /v1/allowlist_identifiers`, `POST /v1/allowlist_identifiers`,
//! `DELETE /v1/allowlist_identifiers/{identifier_id}` (the id is one percent-decoded path
//! segment); the same three for `/v1/blocklist_identifiers` (a second stateful list, answered
//! as `{data, total_count}` with every entry, `identifier` the only body field);
//! `PATCH /v1/instance/restrictions` (five booleans, all `false` at start; see
//! [`MockClerk::restrictions`]); `GET /v1/jwks`; the user routes (see [Users](#users)); then
//! every other path and method of the spec (see [Every other operation](#every-other-operation)). The key is checked before the route,
//! as Clerk does, so an unknown path without a valid key is a 401, with one a 404; a path the
//! spec has with another method is a 405 whose `Allow` lists the spec's methods. The one
//! operation the spec declares without security (`GET /v1/public/interstitial`,
//! `security: []`) takes no key.
//!
//! - **Rate limit**, on request ([`MockClerk::with_rate_limit`]): at most N requests with a
//!   valid key in any interval of the window; the others get Clerk's 429 with `Retry-After`
//!   before any work or fault.
//! - **List.** `paginated`, `limit` (1..=500, default 10) and `offset` (>= 0, default 0), in any
//!   order; unknown query parameters are ignored and an empty value (`limit=`) counts as absent.
//!   `paginated` takes what Go's `strconv.ParseBool` takes (`true`, `false`, `1`, `0`, `t`,
//!   `f`, ...). With `paginated=true` the answer is `{"data": [...], "total_count": N}` with
//!   `limit`/`offset` applied. Otherwise it is a bare JSON array of **all** identifiers: the
//!   spec's response schema for this operation is a bare array and its `Paginated` parameter
//!   says "If false, the results will not be paginated"; `limit` and `offset` are still
//!   validated. Order: newest first (`created_at` descending, ties by insertion, newest
//!   first), so pages are stable.
//! - **Create.** A JSON body (`application/json`, any parameters, or no `Content-Type` at all)
//!   with `identifier` (string, required) and `notify` (bool, optional). Surrounding
//!   whitespace is trimmed. An e-mail address (`local@domain`, a dot in the domain) is
//!   `email_address`; `+` and 7 to 15 digits is `phone_number`; `0x` and 40 hex digits is
//!   `web3_wallet`. `notify: true` on an e-mail address or phone number sets an
//!   `invitation_id` (`inv_...`); on a wallet it is ignored, as the spec says. Ids are
//!   `alid_` + 27 base62 characters, `instance_id` is one `ins_...` per mock, times are Unix
//!   milliseconds. An empty body counts as `{}`. Wildcard domain entries are not modelled.
//! - **Delete.** `{"object":"allowlist_identifier","id":"...","deleted":true}`.
//! - Every response (but an injected HTML error page) is `application/json` with a
//!   `Content-Length` and a `Clerk-Trace-Id` header (Clerk's Go SDK reads the trace id from
//!   it); every error body is `ClerkErrors` (`errors[]` with `message`, `long_message`,
//!   `code`, and `meta` `{"param_name": ...}` for parameter errors) plus the same 32-hex-digit
//!   id as `clerk_trace_id`.
//! - Bodies over 1 MiB are refused with 413 before anything else. Nothing in the mock panics
//!   on request data; a poisoned lock is recovered.
//! - Over TCP, a body that is not complete within the body timeout (10 s by default,
//!   [`MockClerk::with_body_timeout`]) gets a 408 and the connection is closed; a request head
//!   that does not arrive within the header timeout (30 s, [`MockClerk::with_header_timeout`]),
//!   or a keep-alive connection idle that long, is closed without a response.
//! - Memory stays bounded: the request log keeps at most 100 000 entries and 8 MiB, and the
//!   request hook ([`MockClerk::on_request`]) can log through a [`LogSink`], which drops lines
//!   rather than block a request when its output does not keep up.
//!
//! # Status codes and error codes, and why
//!
//! Main source: Clerk's own error index, `clerk/clerk-docs` `docs/errors/backend-api.mdx`
//! (rendered at `clerk.com/docs/guides/development/errors/backend-api`), which lists each
//! Backend API error with its status, code and messages. Wire details (`meta.param_name`, a
//! 32-hex `clerk_trace_id`) come from real payloads quoted in public issues and test fixtures.
//!
//! | case | status | code | evidence |
//! |---|---|---|---|
//! | no `Authorization`, not `Bearer <key>` | 401 | `authorization_header_format_invalid` | error index (`InvalidAuthorizationHeaderFormat`, 401); a public recording of the live API: a request without a key gets this code, before any routing |
//! | wrong key | 401 | `clerk_key_invalid` | error index (`InvalidClerkSecretKey`, 401); clerk-sdk-python issue #26 quotes the live body |
//! | unknown path | 404 | `resource_not_found` | error index (`ResourceNotFound`, "not found" / "Resource not found") |
//! | known path, wrong method | 405 + `Allow` | `method_not_allowed` | no evidence found; chosen because 405 is the HTTP meaning and the code reads plainly |
//! | body over 1 MiB | 413 | `request_body_too_large` | no evidence found; chosen because 413 is the HTTP meaning |
//! | body not complete within the body timeout (TCP only) | 408 + `Connection: close` | `request_timeout` | no evidence found; chosen because 408 is the HTTP meaning |
//! | `Content-Type` not JSON | 415 | `unsupported_content_type` | error index (`UnsupportedContentType`, 415) |
//! | malformed JSON / not an object | 400 | `request_body_invalid` | error index (`InvalidRequestBody`, 400) |
//! | unknown body field | 422 | `form_param_unknown` | error index (`FormUnknownParameter`, 422); spec: `additionalProperties: false` |
//! | `identifier` missing or empty | 422 | `form_param_missing` | error index (`FormMissingParameter`, 422) |
//! | field of the wrong JSON type; `limit=abc`, `paginated=maybe` | 422 | `form_param_type_invalid` | error index (`FormInvalidTypeParameter`, 422) |
//! | `limit` 0 or 501, negative `offset` | 422 | `form_param_value_invalid` | error index (`FormInvalidParameterValue`, 422); the exact code Clerk uses for these query values is not confirmed |
//! | same query parameter twice | 422 | `form_param_duplicate` | error index (`FormDuplicateParameter`, 422) |
//! | identifier over 320 bytes | 422 | `form_param_max_length_exceeded` | error index (`FormParameterMaxLengthExceeded`, 422); the limit 320 is ours (RFC 5321's address length) |
//! | identifier neither e-mail, phone nor wallet | 422 | `form_param_format_invalid` | error index (`FormInvalidIdentifier`, 422, same long message) |
//! | user: e-mail address, phone number, web3 wallet, username or external id already taken | 422 | `form_identifier_exists` | error index (`FormIdentifierExists`, 422, "That email address is taken. Please try another."); for the external id no evidence found, chosen by analogy |
//! | user: `primary_*_id` not one of the user's own; `created_at` / `legal_accepted_at` not RFC 3339 | 422 | `form_param_value_invalid` | error index (`FormInvalidParameterValue`, 422); the exact code for these cases is not confirmed |
//! | user: unknown `user_id` | 404 | `resource_not_found` | error index (`ResourceNotFound`) |
//! | duplicate identifier (e-mail and wallet without case) | **400** | `duplicate_record` | error index (`DuplicateAllowlistIdentifier`, 400, "duplicate allowlist identifier", "the identifier &lt;identifier&gt; already exists"), not `form_identifier_exists` (a sign-up/FAPI code) |
//! | unknown id on delete | 404 | `resource_not_found` | error index (`AllowlistIdentifierNotFound`, "Identifier not found", "No identifier was found with id ...") |
//! | fault: 429 | 429 | `too_many_requests` | error index (`TooManyRequests`, "Too many requests, retry later") |
//! | fault: 503 | 503 | `maintenance_mode` | error index (`SystemUnderMaintenance`, 503) |
//! | fault: other 5xx | 5xx | `internal_clerk_error` | error index (`Unexpected`, 500) |
//!
//! # Users
//!
//! Users, the resource most applications touch, are kept in memory as Clerk `User` objects
//! (every field of the spec's `User` schema present): `POST /v1/users`, `GET /v1/users`,
//! `GET /v1/users/count`, `GET`, `PATCH` and `DELETE /v1/users/{user_id}`,
//! `PATCH /v1/users/{user_id}/metadata` and `POST /v1/users/{user_id}/ban`, `unban`, `lock`,
//! `unlock` (the eleven [`MockOperation::USERS`]; see also [`MockClerk::insert_user`] and
//! [`MockClerk::users`]). Requests are validated against the spec first, exactly as for the
//! operations below; then:
//!
//! - **Create** makes a `user_...` with one `idn_...` item per `email_address`,
//!   `phone_number` and `web3_wallet` given (the first of each primary), the names, username,
//!   external id, locale and metadata given, `password_enabled` when a password or digest is
//!   given, `totp_enabled` / `backup_code_enabled` likewise, `created_at` from the body (RFC
//!   3339) or now; fields not given are `null` where the spec allows it. E-mail addresses,
//!   phone numbers, wallets, usernames (e-mail, wallet and username without case) and external
//!   ids are unique across the store and within the request.
//! - **List** answers a bare array, newest first (`order_by` `created_at` / `+created_at`
//!   oldest first, `-updated_at` / `updated_at` by update time), filtered by `email_address`,
//!   `phone_number`, `web3_wallet`, `username`, `external_id`, `user_id` (each any of the
//!   values given, without case), `query` (a substring of the id, names, username, external id
//!   or any identifier) and `banned`, then `offset` and `limit` (default 10). **Count** takes
//!   the same filters. Other filters of the spec are accepted and ignored.
//! - **Update** sets the names, username, external id, locale, the `primary_*_id` (one of the
//!   user's own), the flags and limits, `created_at` / `legal_accepted_at`, and the password /
//!   TOTP / backup-code state; other fields of the body are accepted and ignored. **Metadata**
//!   deep-merges each of the three metadata objects (`null` removes a key). **Ban**, **unban**,
//!   **lock**, **unlock** set `banned` / `locked`. **Delete** answers
//!   `{"object":"user","id":"...","deleted":true}`. Each updates `updated_at`.
//! - An unknown `user_id` is a 404 `resource_not_found`. Other operations under
//!   `/v1/users/{user_id}/...` are answered from the spec, without looking at the store.
//!
//! # Every other operation
//!
//! The 230 other operations are driven by Clerk's spec at run time, as stripe-mock is
//! by Stripe's: the spec the client is generated from (`spec/bapi-2026-05-12.yml` with the
//! corrections of `spec/overlay.yaml` applied, 249 operations; `cargo xtask generate` writes it
//! as `src/api/generated/spec.json`) is embedded in the binary, read by the spec engine
//! (`clerk-tower-spec`, shared with the generator and the tests) the first time a request
//! reaches the spec's router (never in [`MockClerk::new`]; about 0.1 s in a debug build, once
//! per process) and indexed: per operation its method, path template, path and query
//! parameters, request body and first 2xx response. An overlay correction is therefore part
//! of what the mock checks and answers.
//!
//! **Routing.** The stateful routes and the JWKS first, then the spec's paths: a template
//! segment `{name}` matches one non-empty segment that decodes to UTF-8, and a literal segment
//! beats a parameter (`/v1/users/count` is `GetUsersCount`, not `GetUser`). No match is a 404
//! `resource_not_found`; a path with other methods a 405.
//!
//! **Validation**, before anything is answered; the first problem found, in this order, is
//! the one answered (all 422s carry `meta.param_name`; nested body fields are named
//! `parent.child`, array items `list[0]`, items of an array body `[0].field`):
//!
//! | what | refused with |
//! |---|---|
//! | path parameter outside its `enum` (`/v1/templates/push`) | 422 `form_param_value_invalid` |
//! | required query parameter absent (an empty value, `limit=`, counts as absent) | 422 `form_param_missing` |
//! | query value not of its type: `integer` (an `i64`), `number`, `boolean` (what Go's `strconv.ParseBool` takes: `true`, `1`, `t`, ...) | 422 `form_param_type_invalid` |
//! | query value outside `enum`, `minimum` / `maximum`, under `minLength`; an array with too few or too many items | 422 `form_param_value_invalid` |
//! | query value over `maxLength` | 422 `form_param_max_length_exceeded` |
//! | scalar query parameter given twice; an `explode: false` array given twice (an exploded array is `a=1&a=2`, the other `a=1,2`) | 422 `form_param_duplicate` |
//! | JSON body with a `Content-Type` other than `application/json` (parameters allowed; none at all is taken as JSON) | 415 `unsupported_content_type` |
//! | JSON body that does not parse, or whose top level is not the schema's object or array (an empty body counts as `{}`) | 400 `request_body_invalid` |
//! | body field not declared, where the schema says `additionalProperties: false` | 422 `form_param_unknown` |
//! | body field of the wrong JSON type (`string`, `integer`, `number`, `boolean`, `object`, `array`), recursively | 422 `form_param_type_invalid` |
//! | body value outside `enum`, `minimum` / `maximum`, `minLength`, `minItems` / `maxItems` | 422 `form_param_value_invalid` |
//! | body string over `maxLength` | 422 `form_param_max_length_exceeded` |
//! | required body field absent, or `null` where the field is not `nullable`; none of the `anyOf` requirement lists met (a SAML connection's `domain` or `domains`) | 422 `form_param_missing` |
//! | multipart body (`SetUserProfileImage`, `UploadOrganizationLogo`, `UploadOAuthApplicationLogo`) sent as another media type, or without one | 415 `unsupported_content_type` |
//! | multipart body without a `boundary`, or whose parts do not parse | 400 `request_body_invalid` |
//! | required part (`file`) absent | 422 `form_param_missing` |
//!
//! Not checked: `pattern`s, `format`s, the branches of `oneOf` / `anyOf` / `allOf` beyond
//! their declared properties, header parameters (the spec has none), and query parameters the
//! spec does not declare (ignored, as for the allow-list). `null` is accepted for any field
//! that is not required. Evidence for the codes: the table below (the same Clerk error index).
//!
//! **Answers.** The operation's first 2xx: a JSON body where the spec declares one, nothing
//! for `204` and `202`, and a small `text/html` page for the interstitial (the spec declares no
//! body; Clerk serves HTML). A JSON body is a valid instance of the response schema: every
//! declared property present (nullable ones with a value), enums their first declared value,
//! formats, bounds and simple patterns honoured, `oneOf` the first branch or the one the
//! discriminator maps; Unix times are `2026-05-12T10:20:30Z` in milliseconds. It is built once
//! per operation and copied for each answer, so an answer costs a clone and a serialization.
//!
//! - **Ids** carry Clerk's prefix for the object's `object` value (`user_`, `org_`,
//!   `orginv_`, `orgmem_`, `orgdmn_`, `sess_`, `client_`, `inv_`, `alid_`, `blid_`, `idn_`
//!   for e-mail addresses, phone numbers and wallets, `eac_`, `samlacc_`, `samlc_`, `ins_`,
//!   `dmn_`, `jtmp_`, `sit_`, `sua_`, `ru_`, `act_`, `role_`, `perm_`, `mch_`; where no
//!   public evidence of the prefix was at hand it is the object name, e.g. `waitlist_entry_`),
//!   or the shape the spec's pattern gives (`ak_` and 32 hex digits). Every `id` is fresh in
//!   each answer (a prefix and 27 base62 characters, or 32 hex digits where the spec says so);
//!   `*_id` fields keep fixed sample ids with the prefix of what they name (`user_id` →
//!   `user_...`).
//! - **The id asked for**: where a path parameter names the object answered
//!   (`GET /v1/sessions/{session_id}` → a `session`; `invitation_id` → an
//!   `organization_invitation`), its value is the answer's `id`; a delete that answers a
//!   `DeletedObject` carries the deleted id and names its type
//!   (`{"object":"organization","id":"org_...","deleted":true}`). Not
//!   when the spec gives the `id` a pattern (API keys, M2M tokens): the answer keeps a valid
//!   generated id.
//! - **Lists**, bare arrays or objects with a `total_count` and one array (`data`, or e.g.
//!   `m2m_tokens`), hold 3 items (fewer when `limit` asks for fewer), each with its own ids,
//!   and `total_count` is the number of items. A list that takes the `paginated` parameter
//!   answers `{data, total_count}` to `paginated=true` and its bare array otherwise (the two
//!   shapes the overlay gives it).
//! - Nothing is stored: a `POST /v1/organizations` answers a new organization, which a later
//!   `GET /v1/organizations/{organization_id}` answers again, generated.
//!
//! Generic operations are recorded in the request log with their spec id
//! ([`RecordedRequest::operation_id`]), count against the rate limit like any request, and
//! get no faults: fault plans name the stateful operations ([`MockOperation`]). Answers are
//! what models generated from the same spec decode: required fields present, types and enum
//! values as declared.
//!
//! # Faults
//!
//! A [`FaultPlan`] picks, per operation and attempt number (or at random, from a seed), a
//! [`Fault`]: an error status with a `Retry-After`, a delay before the head or before the body,
//! a connection closed before the response or halfway through the body, a truncated or
//! malformed JSON body, or a proxy's HTML error page. [`Fault::apply`] says whether the real
//! operation changed the store first (a create that "failed" after Clerk applied it). Each
//! [`RecordedRequest`] tells which fault it got and whether it was applied.
//!
//! Over TCP, `CloseBeforeResponse` and `CloseMidBody` really close the socket. Through
//! [`MockService`], `CloseBeforeResponse` is reported as an [`std::io::Error`] of kind
//! `ConnectionReset` (a client cannot tell whether the request was written, exactly like a
//! reset over TCP) and `CloseMidBody` as one of kind `UnexpectedEof`.

mod auth_tokens;
mod engine;
mod fault;
mod frontend;
mod generic;
mod lists;
mod log;
mod rate_limit;
mod reqlog;
mod server;
mod service;
mod spec;
mod tokens;
mod users;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

pub use self::auth_tokens::TokenClass;
pub use self::fault::{Fault, FaultKind, FaultPlan, MockOperation};
pub use self::frontend::{FrontendInstance, FrontendServer};
pub use self::log::LogSink;
pub use self::server::MockServer;
use self::server::ServerSettings;
pub use self::service::{MockFuture, MockService};
pub use self::tokens::{MintError, TestSigningKey, MOCK_ISSUER, TEST_JWT_PUBLIC_KEY, TEST_KEY_ID};

use self::engine::{Incoming, KeyPolicy, Prepared, SplitMix64, State, Target};
use crate::models::{AllowlistIdentifier, BlocklistIdentifier, ClerkError, InstanceRestrictions};

/// An in-memory Clerk Backend API: every operation of Clerk's spec, the allow-list, the
/// block-list and the instance restrictions with state (see the [module docs](self)).
///
/// Cheap to clone: clones share one store, one request log and one fault plan
/// (`Arc<Mutex<..>>`). `Send + Sync`; no method blocks for long or panics on request data.
///
/// ```
/// use clerk_tower::mock::{MockClerk, MockOperation};
///
/// let mock = MockClerk::new();
/// let ada = mock.insert("ada@example.com").unwrap();
/// assert!(ada.id.starts_with("alid_"));
/// assert!(mock.insert("ADA@example.com").is_err()); // duplicate, e-mail compares without case
/// assert_eq!(mock.identifiers(), vec![ada]);
/// assert_eq!(mock.request_count(MockOperation::Create), 0); // `insert` is not a request
/// ```
#[derive(Clone)]
pub struct MockClerk {
    inner: Arc<Mutex<State>>,
}

impl MockClerk {
    /// The secret key [`MockClerk::new`] accepts.
    pub const DEFAULT_SECRET_KEY: &'static str = "sk_test_clerk_tower_mock";

    /// A mock that accepts only `Authorization: Bearer sk_test_clerk_tower_mock`
    /// ([`MockClerk::DEFAULT_SECRET_KEY`]).
    pub fn new() -> Self {
        Self::with_secret_key(Self::DEFAULT_SECRET_KEY)
    }

    /// A mock that accepts only this secret key.
    pub fn with_secret_key(key: impl Into<String>) -> Self {
        MockClerk {
            inner: Arc::new(Mutex::new(State::new(
                KeyPolicy::Exact(key.into()),
                SplitMix64::entropy(),
            ))),
        }
    }

    /// Accept any bearer key that starts with `sk_test_` (what the `clerk-mock` binary does
    /// by default), instead of one exact key.
    pub fn accept_any_test_key(self) -> Self {
        self.lock().keys = KeyPolicy::AnyTestKey;
        self
    }

    /// Makes ids, trace ids and the instance id deterministic: the same seed and the same
    /// calls give the same ids. Resets the instance id, so call it before anything else.
    pub fn with_seed(self, seed: u64) -> Self {
        {
            let mut state = self.lock();
            let keys = state.keys.clone();
            let hook = state.hook.take();
            let mut log = std::mem::take(&mut state.log);
            log.clear();
            let server = state.server;
            let rate_limit = state.rate_limit.take();
            *state = State::new(keys, seed);
            state.hook = hook;
            state.log = log;
            state.server = server;
            state.rate_limit = rate_limit;
        }
        self
    }

    /// The `instance_id` every identifier of this mock carries (`ins_...`).
    pub fn instance_id(&self) -> String {
        self.lock().instance_id.clone()
    }

    /// The mock as a socket-free [`tower::Service`]`<`[`HttpRequest`](crate::HttpRequest)`>`.
    pub fn service(&self) -> MockService {
        MockService {
            clerk: self.clone(),
        }
    }

    /// Serves the mock over HTTP on `127.0.0.1` and a random free port.
    ///
    /// Must be called inside a tokio runtime (any flavour, `current_thread` included); the
    /// server runs on that runtime until the returned [`MockServer`] is shut down or dropped.
    ///
    /// # Errors
    ///
    /// When the listening socket cannot be bound.
    pub async fn serve(&self) -> std::io::Result<MockServer> {
        self.serve_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
    }

    /// Serves the mock over HTTP on `addr` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// When the listening socket cannot be bound (address in use, no permission, ...).
    pub async fn serve_on(&self, addr: SocketAddr) -> std::io::Result<MockServer> {
        server::serve_on(self.clone(), addr).await
    }

    /// The longest read timeout the server takes: 24 hours.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

    /// The default [body timeout](MockClerk::with_body_timeout): 10 seconds.
    pub const DEFAULT_BODY_TIMEOUT: Duration = ServerSettings::DEFAULT_BODY_TIMEOUT;

    /// The default [header timeout](MockClerk::with_header_timeout): 30 seconds.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = ServerSettings::DEFAULT_HEADER_TIMEOUT;

    /// How long the TCP server waits for the whole body of a request once its head has
    /// arrived (default [`DEFAULT_BODY_TIMEOUT`](MockClerk::DEFAULT_BODY_TIMEOUT), 10 s).
    ///
    /// A request whose body is not complete in time gets a `408 Request Timeout` with Clerk's
    /// error body (code `request_timeout`) and `Connection: close`, and its connection is
    /// closed. It is recorded (status 408, attempt 0) but not counted as a request to its
    /// operation, and no fault applies to it. Takes effect for servers started afterwards
    /// ([`serve`](MockClerk::serve)); the socket-free [`service`](MockClerk::service) has its
    /// bodies in memory and no timeout.
    ///
    /// # Errors
    ///
    /// A timeout of zero or over [`MAX_TIMEOUT`](MockClerk::MAX_TIMEOUT).
    pub fn with_body_timeout(self, timeout: Duration) -> Result<Self, MockSettingError> {
        let timeout = check_timeout("body timeout", timeout)?;
        self.lock().server.body_timeout = timeout;
        Ok(self)
    }

    /// How long the TCP server waits for a request head (default
    /// [`DEFAULT_HEADER_TIMEOUT`](MockClerk::DEFAULT_HEADER_TIMEOUT), 30 s, hyper's own
    /// default). It also bounds how long a keep-alive connection may stay idle between two
    /// requests. When it expires the connection is closed without a response. Takes effect for
    /// servers started afterwards.
    ///
    /// # Errors
    ///
    /// A timeout of zero or over [`MAX_TIMEOUT`](MockClerk::MAX_TIMEOUT).
    pub fn with_header_timeout(self, timeout: Duration) -> Result<Self, MockSettingError> {
        let timeout = check_timeout("header timeout", timeout)?;
        self.lock().server.header_timeout = timeout;
        Ok(self)
    }

    pub(crate) fn server_settings(&self) -> ServerSettings {
        self.lock().server
    }

    pub(crate) fn body_timed_out(
        &self,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        timeout: Duration,
        arrived: std::time::Instant,
    ) -> Prepared {
        self.lock()
            .body_timed_out(method, uri, headers, timeout, arrived)
    }

    /// Adds an identifier to the store, with the same validation as a create request
    /// (`notify: false`). Not recorded as a request, and never subject to faults.
    ///
    /// # Errors
    ///
    /// What Clerk would answer to the same create: a 422 for an identifier that is not an
    /// e-mail address, E.164 phone number or web3 wallet, a 400 `duplicate_record` for one
    /// already present.
    pub fn insert(&self, identifier: &str) -> Result<AllowlistIdentifier, MockError> {
        self.insert_with(identifier, false)
    }

    /// [`insert`](MockClerk::insert) with `notify`: an e-mail address or phone number inserted
    /// with `notify: true` gets an `invitation_id`.
    ///
    /// # Errors
    ///
    /// As [`insert`](MockClerk::insert).
    pub fn insert_with(
        &self,
        identifier: &str,
        notify: bool,
    ) -> Result<AllowlistIdentifier, MockError> {
        self.lock().create(identifier, notify, true)
    }

    /// [`insert`](MockClerk::insert) under a fixed id, e.g. the id a test's sample request
    /// names (`identifier_123`), so that `DELETE /v1/allowlist_identifiers/identifier_123`
    /// finds it.
    ///
    /// ```
    /// use clerk_tower::mock::MockClerk;
    ///
    /// let mock = MockClerk::new();
    /// let ada = mock.insert_with_id("identifier_123", "ada@example.com").unwrap();
    /// assert_eq!(ada.id, "identifier_123");
    /// assert!(mock.insert_with_id("identifier_123", "bob@example.com").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](MockClerk::insert); an empty id, or one already listed, is a 422
    /// (`form_param_value_invalid`, `form_identifier_exists`).
    pub fn insert_with_id(
        &self,
        id: &str,
        identifier: &str,
    ) -> Result<AllowlistIdentifier, MockError> {
        self.lock().create_with_id(id, identifier)
    }

    /// The store, in list order (newest first).
    pub fn identifiers(&self) -> Vec<AllowlistIdentifier> {
        self.lock().sorted()
    }

    /// Adds an identifier to the block-list, with the same validation as a create request.
    /// Not recorded as a request, and never subject to faults or to the rate limit.
    ///
    /// # Errors
    ///
    /// What Clerk would answer to the same create (422 for a malformed identifier, 400
    /// `duplicate_record` for one already blocked).
    pub fn insert_blocked(&self, identifier: &str) -> Result<BlocklistIdentifier, MockError> {
        self.lock().create_blocked(identifier, true)
    }

    /// [`insert_blocked`](MockClerk::insert_blocked) under a fixed id, as
    /// [`insert_with_id`](MockClerk::insert_with_id) does for the allow-list.
    ///
    /// # Errors
    ///
    /// As [`insert_with_id`](MockClerk::insert_with_id).
    pub fn insert_blocked_with_id(
        &self,
        id: &str,
        identifier: &str,
    ) -> Result<BlocklistIdentifier, MockError> {
        self.lock().create_blocked_with_id(id, identifier)
    }

    /// The block-list, in list order (newest first).
    pub fn blocklist(&self) -> Vec<BlocklistIdentifier> {
        self.lock().blocklist.sorted()
    }

    /// The instance's restrictions as they stand (all `false` until a
    /// `PATCH /v1/instance/restrictions` changes them).
    pub fn restrictions(&self) -> InstanceRestrictions {
        self.lock().restrictions.clone()
    }

    /// Adds a user to the store, as `POST /v1/users` with this JSON body would (the same
    /// validation against the spec, the same unique e-mail addresses, phone numbers, web3
    /// wallets, usernames and external ids). Not recorded as a request, and never subject to
    /// faults or to the rate limit.
    ///
    /// ```
    /// use clerk_tower::mock::MockClerk;
    /// use serde_json::json;
    ///
    /// let mock = MockClerk::new();
    /// let ada = mock
    ///     .insert_user(json!({ "email_address": ["ada@example.com"], "first_name": "Ada" }))
    ///     .unwrap();
    /// assert!(ada["id"].as_str().unwrap().starts_with("user_"));
    /// assert_eq!(ada["email_addresses"][0]["email_address"], "ada@example.com");
    /// assert_eq!(ada["primary_email_address_id"], ada["email_addresses"][0]["id"]);
    /// let taken = mock.insert_user(json!({ "email_address": ["ADA@example.com"] })).unwrap_err();
    /// assert_eq!(taken.error.code, "form_identifier_exists");
    /// assert_eq!(mock.users(), vec![ada]);
    /// ```
    ///
    /// # Errors
    ///
    /// What Clerk would answer to the same create: 422 for a body the spec refuses
    /// (`form_param_unknown`, `form_param_type_invalid`, ...) or an identifier already taken
    /// (`form_identifier_exists`), 400 for a body that is not a JSON object, 500 if the
    /// embedded spec cannot be used.
    pub fn insert_user(&self, body: serde_json::Value) -> Result<serde_json::Value, MockError> {
        let index = spec::index().map_err(|err| {
            MockError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ClerkError::new(
                    "internal_clerk_error",
                    "Oops, an unexpected error occurred",
                    err.to_string(),
                ),
            )
        })?;
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let headers = HeaderMap::new();
        let create = index.operation("CreateUser").ok_or_else(|| {
            MockError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ClerkError::new("internal_clerk_error", "no CreateUser", "no CreateUser"),
            )
        })?;
        validate::check(index.doc(), create, &[], None, &headers, &bytes)
            .map_err(|r| MockError::new(r.status, r.error))?;
        let fields = users::body_object(&bytes);
        let mut state = self.lock();
        let state = &mut *state;
        let now = engine::now_millis();
        state
            .users
            .create(users::template(index), &fields, now, &mut state.rng, true)
            .map_err(|r| MockError::new(r.status, r.error))
    }

    /// [`insert_user`](MockClerk::insert_user) with the id to give the user, e.g. the fixed id
    /// of a test's sample request (`user_123`), so that `GET /v1/users/user_123` finds it.
    ///
    /// ```
    /// use clerk_tower::mock::MockClerk;
    /// use serde_json::json;
    ///
    /// let mock = MockClerk::new();
    /// let user = mock.insert_user_with_id("user_123", json!({})).unwrap();
    /// assert_eq!(user["id"], "user_123");
    /// assert!(mock.insert_user_with_id("user_123", json!({})).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert_user`](MockClerk::insert_user); an empty id, or one a user already has, is
    /// a 422 (`form_param_value_invalid`, `form_identifier_exists`).
    pub fn insert_user_with_id(
        &self,
        id: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, MockError> {
        let taken = self.lock().users.get(id).is_some();
        engine::check_fixed_id(id, taken)?;
        let user = self.insert_user(body)?;
        let generated = user
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        Ok(self.lock().users.rename(generated, id).unwrap_or(user))
    }

    /// Changes the stored user `id` in place, for a test that needs a state no request makes:
    /// the fixed ids its sample requests name, a `last_sign_in_at` in the past. The mock does
    /// not validate the result: keep it a Clerk `User` object with its `id`. The user after the
    /// change, `None` when there is no user `id`.
    ///
    /// ```
    /// use clerk_tower::mock::MockClerk;
    /// use serde_json::json;
    ///
    /// let mock = MockClerk::new();
    /// let user = mock.insert_user(json!({ "email_address": ["ada@example.com"] })).unwrap();
    /// let id = user["id"].as_str().unwrap();
    /// let edited = mock.edit_user(id, |u| {
    ///     u["email_addresses"][0]["id"] = json!("idn_fixed");
    ///     u["primary_email_address_id"] = json!("idn_fixed");
    /// });
    /// assert_eq!(edited.unwrap()["primary_email_address_id"], "idn_fixed");
    /// assert!(mock.edit_user("user_missing", |_| {}).is_none());
    /// ```
    pub fn edit_user(
        &self,
        id: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Option<serde_json::Value> {
        let mut state = self.lock();
        let user = state.users.get_mut(id)?;
        edit(user);
        Some(user.clone())
    }

    /// The users, in list order (newest first), as Clerk `User` objects.
    pub fn users(&self) -> Vec<serde_json::Value> {
        self.lock().users.sorted()
    }

    /// The largest rate limit the mock takes: 1,000,000 requests per window.
    pub const MAX_RATE_LIMIT: u32 = 1_000_000;

    /// Enforces Clerk's rate limit: at most `limit` requests with a valid key in any interval
    /// of `window` (a sliding window), counted over every route; past that the answer is
    /// `429 too_many_requests` with `Retry-After` (whole seconds, rounded up, at least 1) and
    /// no work is done. Refused requests do not count against the window. Clerk's limits are
    /// 100 per 10 s for development keys and 1,000 per 10 s for production keys; a shorter
    /// window (100 per 100 ms) runs the same scenario faster. The mock counts all keys
    /// together. Replaces an earlier limit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use clerk_tower::mock::MockClerk;
    ///
    /// let mock = MockClerk::new().with_rate_limit(100, Duration::from_secs(10)).unwrap();
    /// assert_eq!(mock.rate_limited_count(), 0);
    /// ```
    ///
    /// # Errors
    ///
    /// A limit of 0 or over [`MAX_RATE_LIMIT`](MockClerk::MAX_RATE_LIMIT), a window of zero or
    /// over 24 hours.
    pub fn with_rate_limit(self, limit: u32, window: Duration) -> Result<Self, MockSettingError> {
        if limit == 0
            || limit > Self::MAX_RATE_LIMIT
            || window.is_zero()
            || window > Self::MAX_TIMEOUT
        {
            return Err(MockSettingError::RateLimit { limit, window });
        }
        self.lock().rate_limit = Some(rate_limit::RateLimiter::new(limit, window));
        Ok(self)
    }

    /// Removes the rate limit.
    pub fn without_rate_limit(self) -> Self {
        self.lock().rate_limit = None;
        self
    }

    /// The rate limit in force, as `(limit, window)`.
    pub fn rate_limit(&self) -> Option<(u32, Duration)> {
        self.lock().rate_limit.as_ref().map(|r| (r.limit, r.window))
    }

    /// How many requests the rate limit refused (answered 429) since it was set or the mock
    /// was [`reset`](MockClerk::reset). Faults with status 429 are not counted here.
    pub fn rate_limited_count(&self) -> usize {
        self.lock().rate_limit.as_ref().map_or(0, |r| r.rejected)
    }

    /// The request log: the requests received since the mock was made (or
    /// [`reset`](MockClerk::reset), or [`clear_requests`](MockClerk::clear_requests)), oldest
    /// first, as far as the log keeps them.
    ///
    /// The log is bounded twice, the oldest entries going first: by its number of entries
    /// ([`with_request_log_limit`](MockClerk::with_request_log_limit), 100 000 by default) and
    /// by the bytes it holds ([`with_request_log_bytes`](MockClerk::with_request_log_bytes),
    /// 8 MiB by default). Request bodies are not recorded unless asked for
    /// ([`with_request_bodies`](MockClerk::with_request_bodies)). The `Authorization` header
    /// value is marked sensitive, so `Debug` hides it.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().log.records()
    }

    /// How many requests the log keeps by default.
    pub const DEFAULT_REQUEST_LOG_LIMIT: usize = reqlog::DEFAULT_MAX_ENTRIES;

    /// How many bytes of recorded requests the log keeps by default: 8 MiB.
    pub const DEFAULT_REQUEST_LOG_BYTES: usize = reqlog::DEFAULT_MAX_BYTES;

    /// Keeps at most `limit` requests in the log (the oldest are dropped first; 0 records
    /// none). The default is [`DEFAULT_REQUEST_LOG_LIMIT`](MockClerk::DEFAULT_REQUEST_LOG_LIMIT)
    /// (100 000); the byte budget ([`with_request_log_bytes`](MockClerk::with_request_log_bytes))
    /// applies as well. [`request_count`](MockClerk::request_count) stays exact either way.
    pub fn with_request_log_limit(self, limit: usize) -> Self {
        {
            let mut state = self.lock();
            state.log.max_entries = limit;
            state.log.trim();
        }
        self
    }

    /// Keeps at most `bytes` bytes of recorded requests in the log (the oldest are dropped
    /// first). The default is [`DEFAULT_REQUEST_LOG_BYTES`](MockClerk::DEFAULT_REQUEST_LOG_BYTES)
    /// (8 MiB).
    ///
    /// A request counts for its recorded body, the bytes of its method, path, query and header
    /// names and values, plus a fixed overhead for the entry and for each header
    /// ([`request_log_bytes`](MockClerk::request_log_bytes) tells the total). A request larger
    /// than the whole budget is not kept; 0 keeps none. The entry-count limit
    /// ([`with_request_log_limit`](MockClerk::with_request_log_limit)) applies as well.
    pub fn with_request_log_bytes(self, bytes: usize) -> Self {
        {
            let mut state = self.lock();
            state.log.max_bytes = bytes;
            state.log.trim();
        }
        self
    }

    /// Records request bodies in the log ([`RecordedRequest::body`]) when `record` is true.
    /// Off by default: a body is read, validated and dropped, and the log (and the
    /// [`on_request`](MockClerk::on_request) hook) sees an empty body. Turn it on in tests that
    /// look at what a client sent; recorded bodies count against the log's byte budget
    /// ([`with_request_log_bytes`](MockClerk::with_request_log_bytes)). Applies to the
    /// requests received from now on.
    pub fn with_request_bodies(self, record: bool) -> Self {
        self.lock().log.bodies = record;
        self
    }

    /// The bytes the request log holds now, as its byte budget counts them (see
    /// [`with_request_log_bytes`](MockClerk::with_request_log_bytes)); never more than the
    /// budget.
    pub fn request_log_bytes(&self) -> usize {
        self.lock().log.bytes()
    }

    /// How many requests to `op` were received since the mock was made (or reset), faults
    /// included.
    pub fn request_count(&self, op: MockOperation) -> usize {
        self.lock().totals[op.index()]
    }

    /// Forgets the recorded requests (the store, counters and fault plan stay).
    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    /// Replaces the fault plan and restarts the per-operation attempt counters at zero.
    pub fn set_fault_plan(&self, plan: FaultPlan) {
        self.lock().set_plan(plan);
    }

    /// Removes every fault (and restarts the attempt counters).
    pub fn clear_faults(&self) {
        self.set_fault_plan(FaultPlan::default());
    }

    /// Empties the allow-list, the block-list, the users, the request log and the fault plan, sets the
    /// restrictions back to all `false`, and restarts the rate limit's window and count. The
    /// key, the instance id, the rate limit setting and the request hook stay.
    pub fn reset(&self) {
        self.lock().reset();
    }

    /// Calls `hook` for every request, once its response head is out (after any
    /// `DelayHeaders`), or its connection dropped, with the time since the request arrived.
    /// The `clerk-mock` binary logs requests this way. Replaces an earlier hook.
    ///
    /// The hook runs on the server's task: keep it short, never let it block (write to a
    /// [`LogSink`], not straight to stderr: a full pipe would stall the server), and do not
    /// call back into the mock from it in a way that waits for another request. It sees the
    /// request body only when body recording is on.
    pub fn on_request<F>(&self, hook: F)
    where
        F: Fn(&RecordedRequest, Duration) + Send + Sync + 'static,
    {
        self.lock().hook = Some(Arc::new(hook));
    }

    pub(crate) fn handle(&self, req: Incoming<'_>) -> Prepared {
        // Routed before the lock is taken: the first request that reaches the spec's router
        // parses the embedded spec without holding up requests to the stateful routes.
        let target = Target::of(req.method, req.uri.path());
        self.lock().handle(req, target)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for MockClerk {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MockClerk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MockClerk")
            .field("instance_id", &state.instance_id)
            .field("identifiers", &state.len())
            .field("requests", &state.log.len())
            .finish_non_exhaustive()
    }
}

/// One request the mock received, and what it did with it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request headers (`Authorization` marked sensitive).
    pub headers: HeaderMap,
    /// The request body, when body recording is on ([`MockClerk::with_request_bodies`]);
    /// empty otherwise, and when the body was over the 1 MiB limit or timed out.
    pub body: Bytes,
    /// The stateful operation the method and path name, if any (the operations fault plans
    /// and [`MockClerk::request_count`] know).
    pub operation: Option<MockOperation>,
    /// The operation id from Clerk's OpenAPI spec that the method and path name, if any: the
    /// stateful operations (`"CreateAllowlistIdentifier"`), `"GetJWKS"`, and every operation
    /// answered from the spec (`"GetUser"`). `None` for an unknown path or a method the path
    /// does not take.
    pub operation_id: Option<&'static str>,
    /// The n-th request to that operation (1-based) since the fault plan was set; 0 when no
    /// operation matched, or when the body timed out (the request was not counted).
    pub attempt: u32,
    /// The status the mock answered; `None` when it dropped the connection instead. A
    /// `CloseMidBody` request has the status sent before the body was cut.
    pub status: Option<StatusCode>,
    /// Whether this request changed the store.
    pub applied: bool,
    /// The fault the request got, if any.
    pub fault: Option<Fault>,
}

impl RecordedRequest {
    /// The body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The path and query as sent, e.g. `/v1/allowlist_identifiers?paginated=true`.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

fn check_timeout(setting: &'static str, value: Duration) -> Result<Duration, MockSettingError> {
    if value.is_zero() || value > MockClerk::MAX_TIMEOUT {
        Err(MockSettingError::Timeout { setting, value })
    } else {
        Ok(value)
    }
}

/// A setting of [`MockClerk`] that the mock cannot work with.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::mock::{MockClerk, MockSettingError};
///
/// let err = MockClerk::new().with_body_timeout(Duration::ZERO).unwrap_err();
/// assert!(matches!(err, MockSettingError::Timeout { setting: "body timeout", .. }));
/// assert_eq!(
///     err.to_string(),
///     "body timeout must be more than zero and at most 24 hours, not 0ns"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockSettingError {
    /// A timeout of zero, or over [`MockClerk::MAX_TIMEOUT`].
    Timeout {
        /// Which timeout: `"body timeout"` or `"header timeout"`.
        setting: &'static str,
        /// The value refused.
        value: Duration,
    },
    /// A rate limit of 0 or over [`MockClerk::MAX_RATE_LIMIT`] requests, or a window of zero
    /// or over 24 hours.
    RateLimit {
        /// The limit asked for.
        limit: u32,
        /// The window asked for.
        window: Duration,
    },
}

impl fmt::Display for MockSettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MockSettingError::Timeout { setting, value } => write!(
                f,
                "{setting} must be more than zero and at most 24 hours, not {value:?}"
            ),
            MockSettingError::RateLimit { limit, window } => write!(
                f,
                "a rate limit must allow 1 to {} requests per window of more than zero and at \
                 most 24 hours, not {limit} per {window:?}",
                MockClerk::MAX_RATE_LIMIT
            ),
        }
    }
}

impl std::error::Error for MockSettingError {}

/// Why [`MockClerk::insert`] refused an identifier: the status and Clerk error a create
/// request would have got.
#[derive(Debug, Clone, PartialEq)]
pub struct MockError {
    /// The HTTP status a create request would have got.
    pub status: StatusCode,
    /// The Clerk error item a create request would have got.
    pub error: ClerkError,
}

impl MockError {
    pub(crate) fn new(status: StatusCode, error: ClerkError) -> Self {
        MockError { status, error }
    }
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.error.code,
            self.status.as_u16(),
            self.error
                .long_message
                .as_deref()
                .unwrap_or(&self.error.message)
        )
    }
}

impl std::error::Error for MockError {}
