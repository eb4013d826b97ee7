//! Contract tests: the requests our client builds and the responses our mock sends, checked
//! against Clerk's published OpenAPI spec (`bapi-2026-05-12.yml`).
//!
//! The spec is the copy vendored in `spec/`, so these tests always run.
//!
//! Where the spec is silent or wrong, the tests follow `docs/spec-notes.md`; every gap listed
//! there is pinned by a `gap_*` test below, so a new spec version that fixes one fails loudly
//! and the note gets updated. The corrections themselves are data in `spec/overlay.yaml`
//! (what the generator applies); the gap tests check that each one is there.

use crate::contract_support;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use crate::contract_support::{
    check_parameters_and_body, full_body, query_pairs, route_to, CheckedRequest, Spec,
};
use bytes::Bytes;
use clerk_tower::api::{
    CreateAllowlistIdentifier, DeleteAllowlistIdentifier, ListAllowlistIdentifiers,
};
use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation, MockService};
use clerk_tower::models::{
    AllowlistIdentifier, AllowlistIdentifierList, ClerkErrors, DeletedObject, IdentifierType,
};
use clerk_tower::{BoxError, Client, Error, HttpRequest, HttpResponse, Operation, RetryConfig};
use clerk_tower_spec::text::{typed, Reading};
use clerk_tower_spec::{Location, Route};
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use tower::{Service, ServiceExt};

/// Cases per property: enough variety, well under the time budget.
const CASES: u32 = 256;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Statuses the mock may answer although an operation does not declare them, each with the
/// section of `docs/spec-notes.md` that documents it. Bodies are `ClerkErrors`.
const GENERAL_STATUSES: &[(u16, &str)] = &[
    (401, "spec-notes.md, \"401 on every operation\": global `security: bearerAuth`; only the list declares it"),
    (405, "spec-notes.md, \"Routing statuses\": a known path with a method it does not have"),
    (413, "spec-notes.md, \"Routing statuses\": a request body over the mock's 1 MiB limit"),
    (415, "spec-notes.md, \"Routing statuses\": a create whose Content-Type is not JSON"),
    (422, "spec-notes.md, \"422 on list\": a query parameter out of range or of the wrong type"),
    (429, "spec-notes.md, \"No 429, no 5xx\": Clerk's rate limits, with Retry-After"),
    (500, "spec-notes.md, \"No 429, no 5xx\": the spec's x-speakeasy-retries names 5XX"),
    (502, "spec-notes.md, \"No 429, no 5xx\""),
    (503, "spec-notes.md, \"No 429, no 5xx\""),
    (504, "spec-notes.md, \"No 429, no 5xx\""),
];

/// Responses whose body is deliberately not a Clerk body: a proxy's HTML error page.
const NON_CLERK_BODIES: &[(u16, &str)] = &[
    (
        502,
        "spec-notes.md, \"Non-Clerk bodies\": a load balancer's HTML page",
    ),
    (503, "spec-notes.md, \"Non-Clerk bodies\""),
    (504, "spec-notes.md, \"Non-Clerk bodies\""),
];

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Checks one request against the operation `expected` of the spec: the method and path name
/// exactly that operation, and its parameters and body conform
/// ([`check_parameters_and_body`]; a body is read as JSON). With `headers` (a request that went
/// through the whole client stack), the bearer token and the `Content-Type` are checked too.
fn check_request(
    spec: &Spec,
    expected: &str,
    method: &Method,
    uri: &Uri,
    headers: Option<&HeaderMap>,
    body: &[u8],
) -> Result<CheckedRequest, String> {
    let raw_path = uri.path();
    let path = if uri.scheme().is_some() {
        raw_path.strip_prefix(spec.base_path()).ok_or_else(|| {
            format!(
                "{uri}: the path does not start with the server's {}",
                spec.base_path()
            )
        })?
    } else {
        raw_path
    };
    let (op, captures) = route_to(spec, expected, method.as_str(), path)?;
    let checked =
        check_parameters_and_body(spec, op, captures, uri.query().unwrap_or(""), None, body)?;

    if let Some(headers) = headers {
        let auth = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header (the spec's bearerAuth)")?;
        if !auth
            .strip_prefix("Bearer ")
            .is_some_and(|t| t.starts_with("sk_"))
        {
            return Err(
                "Authorization is not `Bearer sk_...` (the spec's bearerFormat)".to_owned(),
            );
        }
        if checked.body.is_some() {
            let ct = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if ct.split(';').next().map(str::trim) != Some("application/json") {
                return Err(format!("a JSON body sent with Content-Type {ct:?}"));
            }
        }
    }
    Ok(checked)
}

/// Builds the request the client would send for `endpoint` (no I/O) and checks it.
fn check_endpoint<E: Operation>(
    spec: &Spec,
    endpoint: &E,
) -> Result<CheckedRequest, TestCaseError> {
    let req = endpoint
        .to_request(None)
        .map_err(|e| TestCaseError::fail(format!("the client refused a valid request: {e}")))?;
    assert_eq!(
        req.extensions().get::<clerk_tower::OperationInfo>(),
        Some(&E::INFO)
    );
    let body = req.body().clone();
    let body = full_body(body);
    check_request(spec, E::INFO.id, req.method(), req.uri(), None, &body)
        .map_err(TestCaseError::fail)
}

#[test]
fn the_mock_operations_are_the_specs() {
    // The client's operations are the spec's (`the_registry_and_the_spec_list_the_same_operations`).
    let spec = contract_support::spec();
    for op in MockOperation::ALL {
        assert_eq!(spec.op(op.name()).method, op.method().as_str());
    }
    assert_eq!(spec.base_path(), "/v1", "servers[0].url");
}

/// Any list request the client accepts: `paginated`, `limit` (1..=500) and `offset` as the
/// spec declares them, nothing else, no body.
#[test]
fn list_requests_match_the_spec() {
    let spec = contract_support::spec();
    let strategy = (
        proptest::option::of(any::<bool>()),
        proptest::option::of(1u32..=500),
        proptest::option::of(prop_oneof![0u64..1_000, 0u64..=i64::MAX as u64]),
    );
    runner()
        .run(&strategy, |(paginated, limit, offset)| {
            let mut req = ListAllowlistIdentifiers::new();
            if let Some(p) = paginated {
                req = req.paginated(p);
            }
            if let Some(l) = limit {
                req = req.limit(l);
            }
            if let Some(o) = offset {
                req = req.offset(o);
            }
            let checked = check_endpoint(spec, &req)?;
            let expected: Vec<(String, Value)> = [
                paginated.map(|p| ("paginated".to_owned(), json!(p))),
                limit.map(|l| ("limit".to_owned(), json!(l))),
                offset.map(|o| ("offset".to_owned(), json!(o))),
            ]
            .into_iter()
            .flatten()
            .collect();
            prop_assert_eq!(
                checked.query,
                expected,
                "only what was set is sent, as given"
            );
            prop_assert!(checked.body.is_none());
            Ok(())
        })
        .unwrap();
}

/// Offsets past `i64::MAX` (which Clerk cannot parse) are refused before any I/O.
#[test]
fn list_offsets_past_i64_are_refused_before_io() {
    for offset in [i64::MAX as u64 + 1, u64::MAX] {
        let err = ListAllowlistIdentifiers::new()
            .offset(offset)
            .to_request(None)
            .unwrap_err();
        assert!(
            matches!(&err, clerk_tower::Error::InvalidRequest(e) if e.field() == "offset"),
            "{err:?}"
        );
    }
}

/// A `limit` outside the spec's 1..=500 never reaches the network: `to_request` refuses it,
/// and so does the client, without calling its transport.
#[test]
fn list_limits_outside_the_spec_are_refused_before_io() {
    let spec = contract_support::spec();
    let limit = &spec
        .op("ListAllowlistIdentifiers")
        .param(Location::Query, "limit")
        .unwrap()
        .schema;
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64()),
        (Some(1), Some(500))
    );

    let calls = Arc::new(Mutex::new(0usize));
    let counted = calls.clone();
    let transport = tower::service_fn(move |_req: HttpRequest| {
        *counted.lock().unwrap() += 1;
        async {
            Ok::<_, std::convert::Infallible>(HttpResponse::new(Full::new(Bytes::from_static(
                b"[]",
            ))))
        }
    });
    let client = Client::builder()
        .secret_key("sk_test_contract")
        .transport(transport)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runner()
        .run(&prop_oneof![Just(0u32), 501u32..=u32::MAX], |bad| {
            let req = ListAllowlistIdentifiers::new().paginated(true).limit(bad);
            let err = req
                .to_request(None)
                .expect_err("an out-of-range limit is refused");
            prop_assert!(
                matches!(&err, Error::InvalidRequest(e) if e.field() == "limit"),
                "{:?}",
                err
            );
            let err = rt
                .block_on(std::future::IntoFuture::into_future(client.call(req)))
                .expect_err("refused");
            prop_assert!(
                matches!(&err, Error::InvalidRequest(e) if e.field() == "limit"),
                "{:?}",
                err
            );
            prop_assert_eq!(*calls.lock().unwrap(), 0, "no request was sent");
            Ok(())
        })
        .unwrap();
    // The two edges are accepted.
    for ok in [1, 500] {
        check_endpoint(spec, &ListAllowlistIdentifiers::new().limit(ok)).unwrap();
    }
}

fn identifiers() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,12}\\.[a-z]{2,6}",
        "\\+[1-9][0-9]{6,14}",
        "0x[0-9a-fA-F]{40}",
        "\\*@[a-z]{1,10}\\.com",
        "[\\x00-\\x1f\"\\\\/<>{}]{1,8}[a-z]?",
        any::<String>(),
    ]
}

/// Any create request the client accepts: `POST /allowlist_identifiers`, no query, a JSON
/// body with the identifier as given and `notify` only when set (the schema forbids extra
/// properties and requires `identifier`).
#[test]
fn create_requests_match_the_spec() {
    let spec = contract_support::spec();
    let strategy = (identifiers(), proptest::option::of(any::<bool>()));
    runner()
        .run(&strategy, |(identifier, notify)| {
            let mut req = CreateAllowlistIdentifier::new(identifier.clone());
            if let Some(n) = notify {
                req = req.notify(n);
            }
            if identifier.trim().is_empty() {
                let err = req
                    .to_request(None)
                    .expect_err("a blank identifier is refused");
                prop_assert!(
                    matches!(&err, Error::InvalidRequest(e) if e.field() == "identifier"),
                    "{:?}",
                    err
                );
                return Ok(());
            }
            let checked = check_endpoint(spec, &req)?;
            prop_assert!(checked.query.is_empty() && checked.path_params.is_empty());
            let mut expected = json!({ "identifier": identifier });
            if let Some(n) = notify {
                expected["notify"] = json!(n);
            }
            prop_assert_eq!(checked.body, Some(expected));
            Ok(())
        })
        .unwrap();
}

/// Blank identifiers are refused before any I/O (the spec would accept `""`; Clerk answers
/// 422 to it, so the client saves the round trip).
#[test]
fn blank_identifiers_are_refused_before_io() {
    let _spec = contract_support::spec();
    let action = contract_support::overlay_action(
        "$.paths['/allowlist_identifiers'].post.requestBody.content['application/json'].schema.properties.identifier",
    );
    assert_eq!(action["update"]["x-clerk-not-blank"], true);
    runner()
        .run(&"[ \\t\\r\\n]{0,6}", |blank| {
            let err = CreateAllowlistIdentifier::new(blank)
                .to_request(None)
                .expect_err("refused");
            prop_assert!(
                matches!(&err, Error::InvalidRequest(e) if e.field() == "identifier"),
                "{:?}",
                err
            );
            Ok(())
        })
        .unwrap();
}

/// Any delete the client accepts: `DELETE /allowlist_identifiers/{identifier_id}` with the id
/// as exactly one segment that percent-decodes back to the id (so no id reaches another
/// route), no query, no body.
#[test]
fn delete_requests_match_the_spec() {
    let spec = contract_support::spec();
    let ids = prop_oneof![
        "alid_[0-9A-Za-z]{27}",
        "[./?#%&=+ ;\\\\]{1,6}",
        "\\.\\.[/\\\\][a-z]{0,5}",
        "%[0-9a-fA-F]{2}[a-z/]{0,3}",
        any::<String>(),
    ];
    runner()
        .run(&ids, |id| {
            let req = DeleteAllowlistIdentifier::new(id.clone());
            if matches!(id.as_str(), "" | "." | "..") {
                let err = req.to_request(None).expect_err("refused");
                prop_assert!(
                    matches!(&err, Error::InvalidRequest(e) if e.field() == "identifier_id"),
                    "{:?}",
                    err
                );
                return Ok(());
            }
            let checked = check_endpoint(spec, &req)?;
            prop_assert_eq!(checked.path_params, vec![("identifier_id".to_owned(), id)]);
            prop_assert!(checked.query.is_empty() && checked.body.is_none());
            Ok(())
        })
        .unwrap();
    for refused in ["", ".", ".."] {
        let err = DeleteAllowlistIdentifier::new(refused)
            .to_request(None)
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(e) if e.field() == "identifier_id"),
            "{err:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

/// One request and the mock's response to it, as they crossed the transport.
#[derive(Debug, Clone)]
struct Exchange {
    /// The scenario step, for failure messages.
    label: String,
    /// Whether the request came from our client (then it is checked as a request too).
    from_client: bool,
    method: Method,
    uri: Uri,
    request_headers: HeaderMap,
    request_body: Bytes,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// A tower service that passes requests to the mock and records every exchange.
#[derive(Clone)]
struct Recorder {
    inner: MockService,
    log: Arc<Mutex<Vec<Exchange>>>,
    label: Arc<Mutex<(String, bool)>>,
}

impl Recorder {
    fn new(mock: &MockClerk) -> Self {
        Recorder {
            inner: mock.service(),
            log: Arc::default(),
            label: Arc::default(),
        }
    }

    /// Names the next exchanges (sent by our client).
    fn step(&self, label: &str) {
        *self.label.lock().unwrap() = (label.to_owned(), true);
    }

    /// Sends a hand-made request (not from our client) to the mock and records it.
    async fn raw(
        &self,
        label: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        *self.label.lock().unwrap() = (label.to_owned(), false);
        let mut req = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
        self.clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }
}

impl Service<HttpRequest> for Recorder {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let (label, from_client) = self.label.lock().unwrap().clone();
        let method = req.method().clone();
        let uri = req.uri().clone();
        let request_headers = req.headers().clone();
        let request_body = full_body(req.body().clone());
        let log = self.log.clone();
        let response = self.inner.call(req);
        Box::pin(async move {
            let (parts, body) = response.await?.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            log.lock().unwrap().push(Exchange {
                label,
                from_client,
                method,
                uri,
                request_headers,
                request_body,
                status: parts.status,
                headers: parts.headers.clone(),
                body: body.clone(),
            });
            Ok(http::Response::from_parts(parts, Full::new(body)))
        })
    }
}

/// Of a list's two shapes (the overlay's `oneOf`), the one that answers a request with or
/// without `paginated=true`: the branch marked `x-clerk-paginated`, or the other.
fn list_shape(spec: &Spec, schema: &Value, paginated: bool) -> Value {
    spec.deref(schema)["oneOf"]
        .as_array()
        .and_then(|branches| {
            branches
                .iter()
                .find(|b| (spec.deref(b)["x-clerk-paginated"] == true) == paginated)
        })
        .unwrap_or(schema)
        .clone()
}

/// Reads `paginated` the way the mock (and Go's `strconv.ParseBool`) does.
fn paginated(uri: &Uri) -> bool {
    query_pairs(uri.query().unwrap_or("")).iter().any(|(k, v)| {
        k == "paginated" && matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True")
    })
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Checks one exchange; returns the (operation or route class, status) it covered.
fn check_response(spec: &Spec, ex: &Exchange) -> Result<(String, u16), String> {
    let ctx = format!("[{}] {} {} -> {}", ex.label, ex.method, ex.uri, ex.status);
    let status = ex.status.as_u16();
    let path = ex
        .uri
        .path()
        .strip_prefix(spec.base_path())
        .unwrap_or("\u{0}not under the base path");
    let general = GENERAL_STATUSES.iter().find(|(s, _)| *s == status);

    // Which schema the body must follow, and which model must decode it.
    enum Body {
        List,
        Create,
        Delete,
        Error,
    }
    let (covered, schema, model) = match spec.route(ex.method.as_str(), path) {
        Route::Operation(op, _) => {
            let declared = spec.response(op, status);
            let schema = match declared {
                Some(response) => spec
                    .media_schema(response, "application/json")
                    .cloned()
                    .ok_or_else(|| format!("{ctx}: the spec's {status} response of {} has no JSON body", op.id))?,
                None if general.is_some() => spec.component("ClerkErrors").clone(),
                None => {
                    return Err(format!(
                        "{ctx}: {} declares {:?}; {status} is neither declared nor a documented general status",
                        op.id,
                        spec.declared_statuses(op)
                    ))
                }
            };
            let model = match (op.id.as_str(), ex.status.is_success()) {
                (_, false) => Body::Error,
                ("ListAllowlistIdentifiers", true) => Body::List,
                ("CreateAllowlistIdentifier", true) => Body::Create,
                ("DeleteAllowlistIdentifier", true) => Body::Delete,
                (other, true) => return Err(format!("{ctx}: unexpected operation {other}")),
            };
            let schema = if matches!(model, Body::List) {
                list_shape(spec, &schema, paginated(&ex.uri))
            } else {
                schema
            };
            (op.id.clone(), schema, model)
        }
        route => {
            // Not an operation: only the answers Clerk gives before routing, or to a bad route.
            let (class, fitting) = match route {
                Route::MethodNotAllowed { template, .. } => {
                    let allow = ex
                        .headers
                        .get(http::header::ALLOW)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let allowed: BTreeSet<&str> = allow
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect();
                    let declared: BTreeSet<&str> = spec
                        .operations()
                        .iter()
                        .filter(|o| o.path == template)
                        .map(|o| o.method)
                        .collect();
                    if status == 405 && allowed != declared {
                        return Err(format!(
                            "{ctx}: Allow {allowed:?}, the spec declares {declared:?}"
                        ));
                    }
                    ("method not declared", 405)
                }
                _ => ("unknown route", 404),
            };
            if ![401, 413, fitting].contains(&status) {
                return Err(format!(
                    "{ctx}: {class}: expected {fitting} (or 401/413 before routing)"
                ));
            }
            (
                class.to_owned(),
                spec.component("ClerkErrors").clone(),
                Body::Error,
            )
        }
    };

    if let Some(len) = ex.headers.get(http::header::CONTENT_LENGTH) {
        if len.to_str().ok().and_then(|l| l.parse::<usize>().ok()) != Some(ex.body.len()) {
            return Err(format!(
                "{ctx}: Content-Length {len:?} but {} bytes",
                ex.body.len()
            ));
        }
    }
    if status == 429 && ex.headers.get(http::header::RETRY_AFTER).is_none() {
        return Err(format!("{ctx}: a 429 without Retry-After"));
    }

    let media = media_type(&ex.headers);
    if ex.label.starts_with("broken body") {
        // Faults that damage a JSON body on purpose (truncated, malformed): the status is the
        // real one and the body must really be broken.
        if serde_json::from_slice::<Value>(&ex.body).is_ok() {
            return Err(format!("{ctx}: a body fault sent valid JSON"));
        }
        return Ok((covered, status));
    }
    if media != "application/json" {
        if media == "text/html" && NON_CLERK_BODIES.iter().any(|(s, _)| *s == status) {
            if serde_json::from_slice::<Value>(&ex.body).is_ok() {
                return Err(format!("{ctx}: an HTML error page that parses as JSON"));
            }
            return Ok((covered, status));
        }
        return Err(format!(
            "{ctx}: Content-Type {media:?} is not JSON and not a documented non-Clerk body"
        ));
    }
    let value: Value = serde_json::from_slice(&ex.body)
        .map_err(|e| format!("{ctx}: body is not JSON ({e}): {:?}", ex.body))?;
    let errors = spec.validator(&schema).errors(&value);
    if !errors.is_empty() {
        return Err(format!(
            "{ctx}: {value} does not validate:\n  {}",
            errors.join("\n  ")
        ));
    }
    let decoded = match model {
        Body::List => serde_json::from_value::<AllowlistIdentifierList>(value).map(drop),
        Body::Create => serde_json::from_value::<AllowlistIdentifier>(value).map(drop),
        Body::Delete => serde_json::from_value::<DeletedObject>(value).map(drop),
        Body::Error => serde_json::from_value::<ClerkErrors>(value).map(drop),
    };
    decoded.map_err(|e| format!("{ctx}: our models do not decode it: {e}"))?;
    Ok((covered, status))
}

const KEY: &str = MockClerk::DEFAULT_SECRET_KEY;

fn client(recorder: &Recorder, key: &str) -> Client {
    Client::builder()
        .secret_key(key)
        .transport(recorder.clone())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap()
}

/// The end-to-end scenarios, through our client where it can send the request and raw
/// otherwise; every exchange is then checked against the spec.
#[tokio::test]
async fn every_mock_response_matches_the_spec() {
    let spec = contract_support::spec();
    let mock = MockClerk::new();
    let rec = Recorder::new(&mock);
    let ok = client(&rec, KEY);
    let allowlist = ok.allowlist_identifiers();

    rec.step("create ok");
    let ada = allowlist
        .create("ada@example.com")
        .notify(true)
        .await
        .unwrap();
    assert_eq!(ada.identifier_type, IdentifierType::EmailAddress);
    let phone = allowlist
        .create("+15555550100")
        .notify(false)
        .await
        .unwrap();
    allowlist
        .create(format!("0x{}", "ab".repeat(20)))
        .notify(true)
        .await
        .unwrap();
    for i in 0..12 {
        allowlist
            .create(format!("user{i}@example.org"))
            .await
            .unwrap();
    }
    rec.step("create duplicate");
    let err = allowlist.create("ADA@example.com").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    rec.step("create invalid");
    for bad in ["not an identifier", "@", "+12", &"x".repeat(400)] {
        let err = allowlist.create(bad).await.unwrap_err();
        assert_eq!(
            err.status(),
            Some(StatusCode::UNPROCESSABLE_ENTITY),
            "{bad}"
        );
    }

    rec.step("list");
    let bare = allowlist.list().await.unwrap();
    assert_eq!(bare.data.len(), 15);
    allowlist.list().paginated(false).limit(3).await.unwrap();
    for (limit, offset) in [
        (None, None),
        (Some(1), Some(0)),
        (Some(2), Some(14)),
        (Some(500), Some(3)),
        (Some(10), Some(100)),
    ] {
        let mut req = ListAllowlistIdentifiers::new().paginated(true);
        if let Some(l) = limit {
            req = req.limit(l);
        }
        if let Some(o) = offset {
            req = req.offset(o);
        }
        let page = ok.call(req).await.unwrap();
        assert_eq!(page.total_count, Some(15));
    }

    rec.step("delete ok");
    let deleted = allowlist.delete(&phone.id).await.unwrap();
    assert!(deleted.deleted);
    rec.step("delete unknown");
    for id in ["alid_doesnotexist", &phone.id, "a/b?c#d", "%2e%2e"] {
        let err = allowlist.delete(id).await.unwrap_err();
        assert!(err.is_not_found(), "{id}: {err:?}");
    }

    rec.step("bad token");
    let wrong = client(&rec, "sk_test_not_the_right_key");
    let wrong = wrong.allowlist_identifiers();
    assert_eq!(
        wrong.list().await.unwrap_err().status(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let err = wrong.create("eve@example.com").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(
        wrong.delete(&ada.id).await.unwrap_err().status(),
        Some(StatusCode::UNAUTHORIZED)
    );

    // Faults, one per request, on every operation.
    rec.step("fault");
    let faults = [
        Fault::rate_limited("2"),
        Fault::status(500),
        Fault::status(502),
        Fault::status(503),
        Fault::status(504),
        Fault::html_error_page(502),
        Fault::html_error_page(503),
        Fault::html_error_page(504),
    ];
    let mut plan = FaultPlan::new();
    for (i, fault) in faults.iter().enumerate() {
        let attempt = u32::try_from(i + 1).unwrap();
        for op in MockOperation::ALL {
            plan = plan.on(op, attempt, fault.clone());
        }
    }
    mock.set_fault_plan(plan);
    for fault in &faults {
        let list = allowlist.list().paginated(true).await.unwrap_err();
        let create = allowlist.create("faulty@example.com").await.unwrap_err();
        let delete = allowlist.delete(&ada.id).await.unwrap_err();
        for err in [list, create, delete] {
            assert!(
                err.status().is_some_and(|s| s.as_u16() >= 429),
                "{fault:?}: {err:?}"
            );
        }
    }
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::List, 1, Fault::truncated_json())
            .on(MockOperation::List, 2, Fault::malformed_json())
            .on(
                MockOperation::Create,
                1,
                Fault::truncated_json().not_applied(),
            )
            .on(
                MockOperation::Delete,
                1,
                Fault::malformed_json().not_applied(),
            ),
    );
    rec.step("broken body fault");
    assert!(allowlist.list().await.is_err());
    assert!(allowlist.list().paginated(true).await.is_err());
    assert!(allowlist.create("broken@example.com").await.is_err());
    assert!(allowlist.delete(&ada.id).await.is_err());
    mock.clear_faults();

    // What our client never sends, by hand.
    let auth = format!("Bearer {KEY}");
    let auth = auth.as_str();
    let json = ("content-type", "application/json");
    let a = ("authorization", auth);
    let list = "/v1/allowlist_identifiers";
    rec.raw(
        "create malformed JSON",
        "POST",
        list,
        &[a, json],
        b"{\"identifier\": ",
    )
    .await;
    rec.raw(
        "create body not an object",
        "POST",
        list,
        &[a, json],
        b"[\"a@b.com\"]",
    )
    .await;
    rec.raw(
        "create unknown field",
        "POST",
        list,
        &[a, json],
        br#"{"identifier":"x@y.com","role":"admin"}"#,
    )
    .await;
    rec.raw(
        "create wrong type",
        "POST",
        list,
        &[a, json],
        br#"{"identifier":42}"#,
    )
    .await;
    rec.raw(
        "create notify wrong type",
        "POST",
        list,
        &[a, json],
        br#"{"identifier":"x@y.com","notify":"yes"}"#,
    )
    .await;
    rec.raw("create missing identifier", "POST", list, &[a, json], b"{}")
        .await;
    rec.raw("create empty body", "POST", list, &[a, json], b"")
        .await;
    rec.raw(
        "create charset",
        "POST",
        list,
        &[a, ("content-type", "application/json; charset=utf-8")],
        br#"{"identifier":"cs@example.com"}"#,
    )
    .await;
    rec.raw(
        "create no content type",
        "POST",
        list,
        &[a],
        br#"{"identifier":"nct@example.com"}"#,
    )
    .await;
    rec.raw(
        "create text/plain",
        "POST",
        list,
        &[a, ("content-type", "text/plain")],
        br#"{"identifier":"tp@example.com"}"#,
    )
    .await;
    rec.raw(
        "create too large",
        "POST",
        list,
        &[a, json],
        &vec![b' '; (1 << 20) + 1],
    )
    .await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "offset=-1",
        "offset=9223372036854775808",
        "paginated=maybe",
        "limit=1&limit=2",
        "paginated=true&limit=0",
        "paginated=1&offset=2&limit=3",
        "offset=5&paginated=t",
        "limit=&offset=",
        "unknown=1",
    ] {
        rec.raw(
            &format!("list ?{query}"),
            "GET",
            &format!("{list}?{query}"),
            &[a],
            b"",
        )
        .await;
    }
    rec.raw("no authorization", "GET", list, &[], b"").await;
    rec.raw(
        "not bearer",
        "GET",
        list,
        &[("authorization", "Basic abc")],
        b"",
    )
    .await;
    rec.raw(
        "no authorization on create",
        "POST",
        list,
        &[json],
        br#"{"identifier":"na@example.com"}"#,
    )
    .await;
    rec.raw(
        "no authorization on delete",
        "DELETE",
        &format!("{list}/{}", ada.id),
        &[],
        b"",
    )
    .await;
    rec.raw("unknown route", "GET", "/v1/nope", &[a], b"").await;
    rec.raw(
        "unknown route without /v1",
        "GET",
        "/allowlist_identifiers",
        &[a],
        b"",
    )
    .await;
    rec.raw(
        "unknown route, empty id",
        "DELETE",
        "/v1/allowlist_identifiers/",
        &[a],
        b"",
    )
    .await;
    rec.raw(
        "unknown route, nested id",
        "DELETE",
        "/v1/allowlist_identifiers/a/b",
        &[a],
        b"",
    )
    .await;
    rec.raw("unknown route, no key", "GET", "/v1/nope", &[], b"")
        .await;
    rec.raw("wrong method", "PUT", list, &[a], b"").await;
    rec.raw(
        "wrong method on item",
        "GET",
        &format!("{list}/{}", ada.id),
        &[a],
        b"",
    )
    .await;
    rec.raw(
        "wrong method PATCH",
        "PATCH",
        &format!("{list}/{}", ada.id),
        &[a, json],
        b"{}",
    )
    .await;

    // Check every exchange.
    let exchanges = rec.exchanges();
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for ex in &exchanges {
        match check_response(spec, ex) {
            Ok(c) => {
                covered.insert(c);
            }
            Err(e) => failures.push(e),
        }
        if ex.from_client {
            let expected = match spec.route(
                ex.method.as_str(),
                ex.uri.path().trim_start_matches(spec.base_path()),
            ) {
                Route::Operation(op, _) => op.id.to_owned(),
                _ => "a spec operation".to_owned(),
            };
            if let Err(e) = check_request(
                spec,
                &expected,
                &ex.method,
                &ex.uri,
                Some(&ex.request_headers),
                &ex.request_body,
            ) {
                failures.push(format!("[{}] request: {e}", ex.label));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} exchanges break the contract:\n{}",
        failures.len(),
        exchanges.len(),
        failures.join("\n")
    );

    // The scenarios really covered what they claim.
    let want: &[(&str, u16)] = &[
        ("ListAllowlistIdentifiers", 200),
        ("ListAllowlistIdentifiers", 401),
        ("ListAllowlistIdentifiers", 422),
        ("ListAllowlistIdentifiers", 429),
        ("ListAllowlistIdentifiers", 500),
        ("ListAllowlistIdentifiers", 502),
        ("ListAllowlistIdentifiers", 503),
        ("ListAllowlistIdentifiers", 504),
        ("CreateAllowlistIdentifier", 200),
        ("CreateAllowlistIdentifier", 400),
        ("CreateAllowlistIdentifier", 401),
        ("CreateAllowlistIdentifier", 413),
        ("CreateAllowlistIdentifier", 415),
        ("CreateAllowlistIdentifier", 422),
        ("CreateAllowlistIdentifier", 429),
        ("CreateAllowlistIdentifier", 503),
        ("DeleteAllowlistIdentifier", 200),
        ("DeleteAllowlistIdentifier", 401),
        ("DeleteAllowlistIdentifier", 404),
        ("DeleteAllowlistIdentifier", 429),
        ("DeleteAllowlistIdentifier", 502),
        ("unknown route", 404),
        ("unknown route", 401),
        ("method not declared", 405),
    ];
    for (op, status) in want {
        assert!(
            covered.contains(&(op.to_string(), *status)),
            "no exchange covered {op} {status}; covered: {covered:?}"
        );
    }
    eprintln!(
        "contract: {} exchanges checked, {} (operation, status) pairs",
        exchanges.len(),
        covered.len()
    );
}

/// The mock's documented answers to query values the spec forbids, pinned (422
/// `form_param_*`), and offsets past `i64::MAX` (allowed by the spec, refused by the mock).
#[tokio::test]
async fn gap_list_query_errors_are_422() {
    let _spec = contract_support::spec();
    let mock = MockClerk::new();
    let rec = Recorder::new(&mock);
    let auth = format!("Bearer {KEY}");
    for (query, code) in [
        ("limit=0", "form_param_value_invalid"),
        ("limit=501", "form_param_value_invalid"),
        ("offset=-1", "form_param_value_invalid"),
        ("limit=abc", "form_param_type_invalid"),
        ("paginated=maybe", "form_param_type_invalid"),
        ("offset=9223372036854775808", "form_param_type_invalid"),
        ("limit=1&limit=2", "form_param_duplicate"),
    ] {
        rec.raw(
            query,
            "GET",
            &format!("/v1/allowlist_identifiers?{query}"),
            &[("authorization", &auth)],
            b"",
        )
        .await;
        let ex = rec.exchanges().pop().unwrap();
        assert_eq!(ex.status, 422, "{query}");
        let body: ClerkErrors = serde_json::from_slice(&ex.body).unwrap();
        assert_eq!(body.errors[0].code, code, "{query}");
    }
}

// ---------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------

/// Collects `example` / `examples` under `value` (a schema, response or media object of the
/// spec), following refs once each.
fn collect_examples<'a>(
    spec: &'a Spec,
    value: &'a Value,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<(String, &'a Value)>,
) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                if seen.insert(reference.to_owned()) {
                    let target = clerk_tower_spec::json::pointer(spec.doc(), reference).unwrap();
                    collect_examples(spec, target, seen, out);
                }
                return;
            }
            for (key, v) in map {
                match key.as_str() {
                    "example" => out.push(("example".to_owned(), v)),
                    "examples" => {
                        for (name, ex) in v.as_object().into_iter().flatten() {
                            out.push((format!("examples.{name}"), ex.get("value").unwrap_or(ex)));
                        }
                    }
                    _ => collect_examples(spec, v, seen, out),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_examples(spec, v, seen, out)),
        _ => {}
    }
}

/// The spec's own examples for the allow-list operations decode with our models. Today the
/// spec has none there (checked, and printed); if a later version adds some, they are
/// validated against their schema and decoded. See spec-notes.md, "Examples".
#[test]
fn spec_examples_decode_with_our_models() {
    let spec = contract_support::raw_spec();
    let mut found = 0;
    for id in [
        "ListAllowlistIdentifiers",
        "CreateAllowlistIdentifier",
        "DeleteAllowlistIdentifier",
    ] {
        let op = spec.op(id);
        // Request body examples: our client must be able to send them.
        if let Some(body) = spec.request_body(op) {
            let mut examples = Vec::new();
            collect_examples(spec, body, &mut BTreeSet::new(), &mut examples);
            for (name, example) in examples {
                found += 1;
                if let Some(identifier) = example.get("identifier").and_then(Value::as_str) {
                    let mut req = CreateAllowlistIdentifier::new(identifier);
                    if let Some(n) = example.get("notify").and_then(Value::as_bool) {
                        req = req.notify(n);
                    }
                    let body = req.to_request(None).unwrap().into_body();
                    let sent: Value =
                        serde_json::from_slice(&body.into_inner().unwrap_or_default()).unwrap();
                    assert_eq!(&sent, example, "{id} request {name}");
                }
            }
        }
        for (status, response) in spec.responses(op) {
            let Some(media) = response
                .get("content")
                .and_then(|c| c.get("application/json"))
            else {
                continue;
            };
            let schema = spec.validator(&media["schema"]);
            // Whole-body examples (media-level, or at the root of a named schema).
            let mut whole = Vec::new();
            if let Some(e) = media.get("example") {
                whole.push(e);
            }
            for e in media
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(_, v)| v)
            {
                whole.push(e.get("value").unwrap_or(e));
            }
            if let Some(e) = spec.deref(&media["schema"]).get("example") {
                whole.push(e);
            }
            for example in whole {
                found += 1;
                schema.assert_valid(example, &format!("{id} {status} example"));
                let decoded = match (id, status.starts_with('2')) {
                    (_, false) => serde_json::from_value::<ClerkErrors>(example.clone()).map(drop),
                    ("ListAllowlistIdentifiers", _) => {
                        serde_json::from_value::<AllowlistIdentifierList>(example.clone()).map(drop)
                    }
                    ("CreateAllowlistIdentifier", _) => {
                        serde_json::from_value::<AllowlistIdentifier>(example.clone()).map(drop)
                    }
                    _ => serde_json::from_value::<DeletedObject>(example.clone()).map(drop),
                };
                decoded.unwrap_or_else(|e| panic!("{id} {status} example {example}: {e}"));
            }
            // Examples of single fields: they must fit the field's type in our models, which
            // the full-object examples below exercise; here they are counted and validated.
            let mut parts = Vec::new();
            collect_examples(spec, &media["schema"], &mut BTreeSet::new(), &mut parts);
            found += parts.len();
            for (name, example) in parts {
                assert!(!example.is_null(), "{id} {status} {name} is null");
            }
        }
    }
    eprintln!("contract: the spec has {found} example(s) under the allow-list operations");
    assert_eq!(
        found, 0,
        "the spec now has examples under the allow-list operations: they were checked above; \
         update spec-notes.md (\"Examples\") and this assertion"
    );
}

/// Handcrafted examples taken from Clerk's own documentation and from recordings of the live
/// API (the spec has none for these schemas), validated against the spec and decoded.
#[test]
fn documented_examples_validate_and_decode() {
    let spec = contract_support::spec();
    let identifier = spec.validator(&json!({ "$ref": "#/components/schemas/AllowlistIdentifier" }));
    let errors = spec.validator(&json!({ "$ref": "#/components/schemas/ClerkErrors" }));
    let deleted = spec.validator(&json!({ "$ref": "#/components/schemas/DeletedObject" }));
    let list = spec
        .success_schema(spec.op("ListAllowlistIdentifiers"))
        .unwrap();
    let bare = spec.validator(&list_shape(spec, list, false));
    let paged = spec.validator(&list_shape(spec, list, true));

    // Clerk's JS Backend SDK docs (getAllowlistIdentifierList) print one identifier with
    // id `alid_123`, `test@example.com` and these timestamps; this is its wire form.
    let doc_item = json!({
        "object": "allowlist_identifier",
        "id": "alid_123",
        "identifier": "test@example.com",
        "identifier_type": "email_address",
        "created_at": 1705443883820_i64,
        "updated_at": 1705443883820_i64
    });
    identifier.assert_valid(&doc_item, "docs item");
    let item: AllowlistIdentifier = serde_json::from_value(doc_item.clone()).unwrap();
    assert_eq!(
        (item.id.as_str(), item.created_at, item.invitation_id),
        ("alid_123", 1705443883820, None)
    );
    // The same docs page: `{data: [...], totalCount: 1}` (camelCase in JS, snake_case on the wire).
    let page = json!({ "data": [doc_item.clone()], "total_count": 1 });
    paged.assert_valid(&page, "docs page");
    assert_eq!(
        serde_json::from_value::<AllowlistIdentifierList>(page)
            .unwrap()
            .total_count,
        Some(1)
    );
    bare.assert_valid(&json!([doc_item.clone()]), "bare list");
    assert_eq!(
        serde_json::from_value::<AllowlistIdentifierList>(json!([doc_item]))
            .unwrap()
            .data
            .len(),
        1
    );

    // Every field, invitation included (the SDK docs list `invitationId` and `instanceId`).
    let full = json!({
        "object": "allowlist_identifier", "id": "alid_2x", "invitation_id": "inv_2x",
        "identifier": "+15555550100", "identifier_type": "phone_number", "instance_id": "ins_2x",
        "created_at": 1, "updated_at": 2
    });
    identifier.assert_valid(&full, "full item");
    let a: AllowlistIdentifier = serde_json::from_value(full.clone()).unwrap();
    assert_eq!(serde_json::to_value(&a).unwrap(), full, "round trip");

    // The 401 body the live API sent in clerk/clerk-sdk-python#26 (no clerk_trace_id).
    let live_401 = json!({"errors":[{"code":"clerk_key_invalid","long_message":"The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.","message":"The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct."}]});
    errors.assert_valid(&live_401, "live 401");
    let e: ClerkErrors = serde_json::from_value(live_401).unwrap();
    assert_eq!(e.errors[0].code, "clerk_key_invalid");
    // A parameter error as Clerk's error index documents it, with `meta.param_name`.
    let param = json!({"errors":[{"message":"is unknown","long_message":"role is not a valid parameter for this request.","code":"form_param_unknown","meta":{"param_name":"role"}}],"clerk_trace_id":"0123456789abcdef0123456789abcdef"});
    errors.assert_valid(&param, "param error");
    serde_json::from_value::<ClerkErrors>(param).unwrap();

    // DeletedObject as Clerk answers a delete.
    let del = json!({ "object": "allowlist_identifier", "id": "alid_123", "deleted": true });
    deleted.assert_valid(&del, "deleted");
    assert!(
        serde_json::from_value::<DeletedObject>(del)
            .unwrap()
            .deleted
    );
}

// ---------------------------------------------------------------------------------------
// Spec gaps (docs/spec-notes.md), pinned
// ---------------------------------------------------------------------------------------

/// "List response shape": the spec documents only a bare array; Clerk (and the mock) answer
/// `{data, total_count}` with `paginated=true`; the model decodes both.
#[test]
fn gap_list_response_is_documented_as_a_bare_array() {
    let spec = contract_support::raw_spec();
    let op = spec.op("ListAllowlistIdentifiers");
    let schema = spec.deref(
        spec.media_schema(spec.response(op, 200).unwrap(), "application/json")
            .unwrap(),
    );
    assert_eq!(
        schema["type"], "array",
        "the spec now documents another list shape: update spec-notes.md"
    );
    assert_eq!(
        schema["items"]["$ref"],
        "#/components/schemas/AllowlistIdentifier"
    );
    let page = json!({ "data": [], "total_count": 0 });
    assert!(
        !spec.validator(schema).errors(&page).is_empty(),
        "the page shape is not in the spec"
    );
    // The overlay gives the list both shapes, the page marked as the `paginated=true` one.
    let corrected = contract_support::spec();
    let list = corrected.success_schema(corrected.op("ListAllowlistIdentifiers"));
    let paged = list_shape(corrected, list.unwrap(), true);
    assert_eq!(paged["x-clerk-paginated"], true);
    corrected
        .validator(&paged)
        .assert_valid(&page, "documented page shape");
    assert_eq!(
        serde_json::from_value::<AllowlistIdentifierList>(page).unwrap(),
        AllowlistIdentifierList {
            data: Vec::new(),
            total_count: Some(0)
        }
    );
}

/// "JWKS key shapes": the spec's keys are `oneOf` public and private key schemas, and a private
/// key (RFC 7517: the public members plus `d`) matches both its own schema and its public
/// key's, so none is a valid `oneOf` instance; the overlay makes the list `anyOf`.
#[test]
fn gap_jwks_private_keys_match_two_branches() {
    let spec = contract_support::raw_spec();
    let items = &spec.component("JWKS")["properties"]["keys"]["items"];
    assert_eq!(items["oneOf"].as_array().map(Vec::len), Some(7));
    let private = json!({
        "kid": "k", "alg": "EdDSA", "use": "sig", "kty": "OKP", "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    });
    let public = spec.validator(spec.component("JWKS.ed25519.PublicKey"));
    let own = spec.validator(spec.component("JWKS.ed25519.PrivateKey"));
    assert!(public.errors(&private).is_empty() && own.errors(&private).is_empty());
    let key_set = json!({ "keys": [private] });
    assert!(!spec
        .validator(spec.component("JWKS"))
        .errors(&key_set)
        .is_empty());
    contract_support::overlay_action("$.components.schemas.JWKS.properties.keys.items");
    let corrected = contract_support::spec();
    corrected
        .validator(corrected.component("JWKS"))
        .assert_valid(&key_set, "a private key under anyOf");
}

/// "No 429, no 5xx": none of the three operations declares 429 or any 5xx; which statuses
/// each declares is pinned here, and so is "401 on every operation" (only the list has it)
/// and create's 402/422.
#[test]
fn gap_declared_statuses() {
    let spec = contract_support::raw_spec();
    let declared = |id: &str| {
        spec.declared_statuses(spec.op(id))
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(declared("ListAllowlistIdentifiers"), ["200", "401", "402"]);
    assert_eq!(
        declared("CreateAllowlistIdentifier"),
        ["200", "400", "402", "422"]
    );
    assert_eq!(declared("DeleteAllowlistIdentifier"), ["200", "402", "404"]);
    assert!(
        spec.doc()["security"][0].get("bearerAuth").is_some(),
        "global bearer security"
    );
    let retried = &spec.doc()["x-speakeasy-retries"]["statusCodes"];
    assert_eq!(
        retried,
        &json!(["5XX"]),
        "the spec's retry hint for generated SDKs"
    );
    for (status, why) in GENERAL_STATUSES {
        assert!(why.starts_with("spec-notes.md"), "{status}");
    }
}

/// "AllowlistIdentifier: no field required": `{}` is a valid identifier per the spec; the
/// model decodes it to defaults (empty strings, 0, `None`), and `null`s too although the spec
/// declares no field nullable.
#[test]
fn gap_allowlist_identifier_has_no_required_field() {
    let spec = contract_support::raw_spec();
    let action = contract_support::overlay_action("$.components.schemas.AllowlistIdentifier");
    assert_eq!(
        action["update"]["x-clerk-present"],
        json!([
            "object",
            "id",
            "identifier",
            "identifier_type",
            "created_at",
            "updated_at"
        ]),
        "the fields Clerk always sends, plain in the model"
    );
    let schema = spec.component("AllowlistIdentifier");
    assert!(
        schema.get("required").is_none(),
        "the spec now requires fields: update spec-notes.md"
    );
    assert_eq!(schema["additionalProperties"], false);
    let v = spec.validator(&json!({ "$ref": "#/components/schemas/AllowlistIdentifier" }));
    v.assert_valid(&json!({}), "empty object");
    let a: AllowlistIdentifier = serde_json::from_value(json!({})).unwrap();
    assert_eq!(
        (
            a.id.as_str(),
            a.created_at,
            &a.invitation_id,
            &a.instance_id
        ),
        ("", 0, &None, &None)
    );
    assert!(a.identifier_type.is_unknown());
    let nulls =
        json!({ "id": "alid_1", "invitation_id": null, "instance_id": null, "created_at": null });
    assert!(
        !v.errors(&nulls).is_empty(),
        "the spec declares no field nullable"
    );
    serde_json::from_value::<AllowlistIdentifier>(nulls).expect("the model accepts nulls anyway");
    // An unknown identifier_type is outside the spec's enum, and the model keeps it.
    let newer = json!({ "identifier_type": "passkey" });
    assert!(!v.errors(&newer).is_empty());
    let a: AllowlistIdentifier = serde_json::from_value(newer).unwrap();
    assert_eq!(a.identifier_type, IdentifierType::from("passkey"));
    // int64 timestamps: the largest fits both the schema and the model.
    v.assert_valid(&json!({ "created_at": i64::MAX }), "int64 max");
    assert!(
        !v.errors(&json!({ "created_at": u64::MAX })).is_empty(),
        "past int64"
    );
}

/// "DeletedObject": only `object` and `deleted` are required; `id`, `slug`, `external_id` are
/// optional, which the model mirrors.
#[test]
fn gap_deleted_object_fields() {
    let spec = contract_support::raw_spec();
    let schema = spec.component("DeletedObject");
    assert_eq!(schema["required"], json!(["object", "deleted"]));
    assert_eq!(schema["additionalProperties"], false);
    let v = spec.validator(&json!({ "$ref": "#/components/schemas/DeletedObject" }));
    v.assert_valid(
        &json!({ "object": "allowlist_identifier", "deleted": true }),
        "minimal",
    );
    assert!(!v
        .errors(&json!({ "object": "allowlist_identifier" }))
        .is_empty());
    let d: DeletedObject =
        serde_json::from_value(json!({ "object": "allowlist_identifier", "deleted": true }))
            .unwrap();
    assert_eq!(d.id, None);
}

/// "ClerkError.long_message": the spec requires `message`, `long_message` and `code` on every
/// error item; the model requires `message` and `code` only (real bodies without a long
/// message decode), and the mock always sends all three (checked by the response test).
#[test]
fn gap_clerk_error_long_message() {
    let spec = contract_support::raw_spec();
    let action = contract_support::overlay_action("$.components.schemas.ClerkError");
    assert_eq!(
        action["update"]["x-clerk-rust-type"], "errors::ClerkError",
        "the lenient hand-written model covers the schema"
    );
    assert_eq!(
        spec.component("ClerkError")["required"],
        json!(["message", "long_message", "code"])
    );
    assert_eq!(spec.component("ClerkErrors")["required"], json!(["errors"]));
    let short = json!({ "errors": [{ "message": "m", "code": "c" }] });
    let v = spec.validator(&json!({ "$ref": "#/components/schemas/ClerkErrors" }));
    assert!(!v.errors(&short).is_empty());
    serde_json::from_value::<ClerkErrors>(short).expect("the model is lenient");
}

/// "422 on list" and "limit/offset without paginated": the parameters' text, pinned.
#[test]
fn gap_pagination_parameters() {
    let spec = contract_support::raw_spec();
    let op = spec.op("ListAllowlistIdentifiers");
    let names: Vec<&str> = op.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["paginated", "limit", "offset"]);
    let paginated = op.param(Location::Query, "paginated").unwrap();
    assert!(paginated.object["description"]
        .as_str()
        .unwrap()
        .contains("If false, the results will not be paginated"));
    assert!(
        paginated.schema.get("default").is_none(),
        "no documented default for paginated"
    );
    let offset = &op.param(Location::Query, "offset").unwrap().schema;
    assert_eq!(
        (
            offset["minimum"].as_u64(),
            offset.get("maximum"),
            offset.get("format")
        ),
        (Some(0), None, None)
    );
    let limit = &op.param(Location::Query, "limit").unwrap().schema;
    assert_eq!(limit["default"], 10);
}

// ---------------------------------------------------------------------------------------
// The support code itself
// ---------------------------------------------------------------------------------------

#[test]
fn resolver_handles_openapi_keywords() {
    let yaml = |text: &str| clerk_tower_spec::yaml::parse_yaml(text, "test").unwrap();
    let spec = Spec::new(yaml(
        r#"
openapi: 3.0.3
servers: [{url: "https://example.com/api/v2/"}]
paths: {}
components:
  schemas:
    Node:
      type: object
      nullable: true
      properties:
        nullable: {type: string}
        format: {type: integer, format: int32}
        next: {$ref: '#/components/schemas/Node'}
        kind: {type: string, enum: [a, b], nullable: true}
"#,
    ));
    // Routing is the engine's (its own tests); the conversion to JSON Schema is the tests'.
    let v = spec.validator(&json!({ "$ref": "#/components/schemas/Node" }));
    v.assert_valid(&Value::Null, "nullable object");
    v.assert_valid(&json!({ "nullable": "a property, not the keyword", "next": { "next": null, "kind": null } }), "recursive");
    assert!(
        !v.errors(&json!({ "format": 2_147_483_648_i64 })).is_empty(),
        "int32 bounds"
    );
    assert!(!v.errors(&json!({ "kind": "c" })).is_empty(), "enum");
    assert!(
        !v.errors(&json!({ "nullable": 1 })).is_empty(),
        "property types"
    );
    let canonical = |schema: Value, text: &str| typed(&schema, text, Reading::Canonical);
    assert_eq!(canonical(json!({"type": "integer"}), "007"), None);
    assert_eq!(
        canonical(json!({"type": "integer"}), "18446744073709551615"),
        Some(json!(u64::MAX))
    );
    assert_eq!(canonical(json!({"type": "boolean"}), "1"), None);
    assert!(clerk_tower_spec::Spec::new(yaml("openapi: 3.1.0\nservers: [{url: /}]")).is_err());
}

/// The checks above reject what breaks the contract (so a green run means something).
#[test]
fn the_checks_catch_violations() {
    let spec = contract_support::spec();
    let req = |method: &str, uri: &str, body: &str| {
        let uri: Uri = uri.parse().unwrap();
        let method: Method = method.parse().unwrap();
        let expected = match spec.route(
            method.as_str(),
            uri.path().trim_start_matches(spec.base_path()),
        ) {
            Route::Operation(op, _) => op.id.as_str(),
            _ => "ListAllowlistIdentifiers",
        };
        check_request(spec, expected, &method, &uri, None, body.as_bytes())
    };
    req(
        "GET",
        "/allowlist_identifiers?limit=10&offset=0&paginated=true",
        "",
    )
    .unwrap();
    for (method, uri, body) in [
        ("GET", "/allowlist_identifiers?foo=1", ""),
        ("GET", "/allowlist_identifiers?limit=0", ""),
        ("GET", "/allowlist_identifiers?limit=501", ""),
        ("GET", "/allowlist_identifiers?limit=abc", ""),
        ("GET", "/allowlist_identifiers?limit=010", ""),
        ("GET", "/allowlist_identifiers?offset=-1", ""),
        ("GET", "/allowlist_identifiers?paginated=1", ""),
        ("GET", "/allowlist_identifiers?limit=1&limit=2", ""),
        ("GET", "/allowlist_identifiers", "{}"),
        (
            "POST",
            "/allowlist_identifiers",
            r#"{"identifier":"a@b.com","role":"x"}"#,
        ),
        ("POST", "/allowlist_identifiers", r#"{"notify":true}"#),
        ("POST", "/allowlist_identifiers", r#"{"identifier":5}"#),
        (
            "POST",
            "/allowlist_identifiers",
            r#"{"identifier":"a","notify":"yes"}"#,
        ),
        ("POST", "/allowlist_identifiers", "identifier=a"),
        ("DELETE", "/allowlist_identifiers/a/b", ""),
        ("DELETE", "/allowlist_identifiers/", ""),
        ("DELETE", "/allowlist_identifiers/%FF", ""),
        ("PUT", "/allowlist_identifiers", ""),
        ("GET", "/v1/allowlist_identifiers", ""),
    ] {
        assert!(
            req(method, uri, body).is_err(),
            "{method} {uri} {body} passed"
        );
    }
    // Through the whole stack: no Bearer key, or a JSON body without Content-Type.
    let uri: Uri = "https://api.clerk.com/v1/allowlist_identifiers"
        .parse()
        .unwrap();
    let body = br#"{"identifier":"a@b.com"}"#;
    let mut headers = HeaderMap::new();
    assert!(check_request(
        spec,
        "CreateAllowlistIdentifier",
        &Method::POST,
        &uri,
        Some(&headers),
        body
    )
    .is_err());
    headers.insert("authorization", "Bearer sk_test_x".parse().unwrap());
    assert!(check_request(
        spec,
        "CreateAllowlistIdentifier",
        &Method::POST,
        &uri,
        Some(&headers),
        body
    )
    .is_err());
    headers.insert("content-type", "application/json".parse().unwrap());
    check_request(
        spec,
        "CreateAllowlistIdentifier",
        &Method::POST,
        &uri,
        Some(&headers),
        body,
    )
    .unwrap();

    let item = r#"{"object":"allowlist_identifier","id":"alid_1","identifier":"a@b.com","identifier_type":"email_address","created_at":1,"updated_at":1}"#;
    let error =
        r#"{"errors":[{"message":"m","long_message":"l","code":"c"}],"clerk_trace_id":"t"}"#;
    let res = |method: &str, uri: &str, status: u16, headers: &[(&str, &str)], body: &str| {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        check_response(
            spec,
            &Exchange {
                label: "violation".to_owned(),
                from_client: false,
                method: method.parse().unwrap(),
                uri: uri.parse().unwrap(),
                request_headers: HeaderMap::new(),
                request_body: Bytes::new(),
                status: StatusCode::from_u16(status).unwrap(),
                headers: map,
                body: Bytes::from(body.to_owned()),
            },
        )
    };
    let json = ("content-type", "application/json");
    let list = "/v1/allowlist_identifiers";
    res("GET", list, 200, &[json], &format!("[{item}]")).unwrap();
    res(
        "GET",
        &format!("{list}?paginated=true"),
        200,
        &[json],
        &format!(r#"{{"data":[{item}],"total_count":1}}"#),
    )
    .unwrap();
    let extra = item.replace("\"id\"", "\"extra\":1,\"id\"");
    let wrong_type = item.replace("\"email_address\"", "7");
    let no_long = r#"{"errors":[{"message":"m","code":"c"}]}"#;
    for (method, uri, status, headers, body) in [
        ("GET", list, 200, vec![json], format!("[{extra}]")),
        ("GET", list, 200, vec![json], format!("[{wrong_type}]")),
        (
            "GET",
            list,
            200,
            vec![json],
            format!(r#"{{"data":[{item}],"total_count":1}}"#),
        ),
        (
            "GET",
            &format!("{list}?paginated=true") as &str,
            200,
            vec![json],
            format!("[{item}]"),
        ),
        (
            "GET",
            &format!("{list}?paginated=true") as &str,
            200,
            vec![json],
            format!(r#"{{"data":[{item}]}}"#),
        ),
        (
            "GET",
            list,
            200,
            vec![("content-type", "text/plain")],
            format!("[{item}]"),
        ),
        (
            "GET",
            list,
            200,
            vec![json, ("content-length", "3")],
            format!("[{item}]"),
        ),
        ("GET", list, 418, vec![json], error.to_owned()),
        ("GET", list, 404, vec![json], error.to_owned()),
        ("GET", list, 429, vec![json], error.to_owned()),
        (
            "GET",
            list,
            500,
            vec![("content-type", "text/html")],
            "<html></html>".to_owned(),
        ),
        ("GET", list, 401, vec![json], no_long.to_owned()),
        (
            "GET",
            list,
            401,
            vec![json],
            r#"{"error":"unauthorized"}"#.to_owned(),
        ),
        ("POST", list, 201, vec![json], item.to_owned()),
        ("POST", list, 200, vec![json], error.to_owned()),
        (
            "DELETE",
            &format!("{list}/alid_1") as &str,
            200,
            vec![json],
            r#"{"object":"allowlist_identifier"}"#.to_owned(),
        ),
        (
            "PUT",
            list,
            405,
            vec![json, ("allow", "GET")],
            error.to_owned(),
        ),
        ("GET", "/v1/nope", 405, vec![json], error.to_owned()),
        ("GET", "/v1/nope", 200, vec![json], "[]".to_owned()),
    ] {
        assert!(
            res(method, uri, status, &headers, &body).is_err(),
            "{method} {uri} {status} {body} passed"
        );
    }
}

/// "Create: 400 and 422, notify, wildcards": the spec knows no wildcard identifiers; the mock
/// does not model them and stores `*@example.com` as an e-mail address.
#[test]
fn gap_wildcard_identifiers() {
    let spec = contract_support::raw_spec();
    let types = &spec.component("AllowlistIdentifier")["properties"]["identifier_type"]["enum"];
    assert_eq!(
        types,
        &json!(["email_address", "phone_number", "web3_wallet"])
    );
    let wildcard = MockClerk::new().insert("*@example.com").expect("accepted");
    assert_eq!(wildcard.identifier_type, IdentifierType::EmailAddress);
    let create = spec
        .request_body(spec.op("CreateAllowlistIdentifier"))
        .unwrap();
    let notify = &spec.media_schema(create, "application/json").unwrap()["properties"]["notify"];
    assert_eq!(
        notify["default"], false,
        "the spec's notify default (the JS SDK docs say true)"
    );
}
