//! The mock answers every operation of Clerk's spec (`spec/bapi-2026-05-12.yml`): for each one,
//! a raw HTTP request with sample arguments gets the operation's first 2xx, with a body that
//! validates against the spec's response schema; leaving out a required parameter or body
//! field, or sending one of the wrong type, is a 422 naming it; unknown paths, wrong methods
//! and missing keys are refused on generic routes as on the stateful ones.
//!
//! One server, one keep-alive connection, requests one after the other.

use std::collections::BTreeMap;
use std::time::Instant;

use clerk_tower::mock::{MockClerk, MockOperation, TokenClass};
use serde_json::{json, Value};

use clerk_tower_spec::text::to_text;
use clerk_tower_spec::{instance, Location, Operation, Shape};

use crate::contract_support::{spec, Spec};
use crate::raw_http::{request, Conn, RawResponse};

const BOUNDARY: &str = "clerk-tower-every-op-boundary";

/// The operations the mock keeps state for: they get real arguments.
fn stateful_ids() -> Vec<&'static str> {
    let mut ids: Vec<&str> = MockOperation::ALL.iter().map(|op| op.name()).collect();
    ids.push("GetJWKS");
    ids
}

/// The stateful operations with validation of their own (the allow-list, block-list and
/// restrictions predate the spec-driven routes); the user operations go through the spec's
/// validation like the generic ones.
fn own_validation_ids() -> Vec<&'static str> {
    stateful_ids()
        .into_iter()
        .filter(|id| !MockOperation::USERS.iter().any(|op| op.name() == *id))
        .collect()
}

/// A stored user with an e-mail address, a phone number and a wallet, for the user operations.
fn seed_user(mock: &MockClerk, n: usize) -> Value {
    mock.insert_user(json!({
        "email_address": [format!("user{n}@example.com")],
        "phone_number": [format!("+1555555{n:04}")],
        "web3_wallet": [format!("0x{n:040x}")],
    }))
    .unwrap()
}

/// A request to one operation, in parts, so that tests can take a part out.
#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    /// Part names and their text.
    Multipart(Vec<(String, String)>),
}

impl Call {
    fn raw(&self) -> Vec<u8> {
        let mut target = format!("/v1{}", self.path);
        if !self.query.is_empty() {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.query)
                .finish();
            target.push('?');
            target.push_str(&query);
        }
        let start = format!("{} {target} HTTP/1.1", self.method);
        match &self.body {
            Body::None => request(&start, &[], ""),
            Body::Json(value) => request(
                &start,
                &["Content-Type: application/json"],
                &value.to_string(),
            ),
            Body::Multipart(parts) => {
                let mut body = String::new();
                for (name, text) in parts {
                    body.push_str(&format!("--{BOUNDARY}\r\n"));
                    if name == "file" {
                        body.push_str(
                            "Content-Disposition: form-data; name=\"file\"; filename=\"logo.png\"\r\n\
                             Content-Type: image/png\r\n\r\n",
                        );
                    } else {
                        body.push_str(&format!(
                            "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                        ));
                    }
                    body.push_str(text);
                    body.push_str("\r\n");
                }
                body.push_str(&format!("--{BOUNDARY}--\r\n"));
                let ct = format!("Content-Type: multipart/form-data; boundary={BOUNDARY}");
                request(&start, &[&ct], &body)
            }
        }
    }
}

/// A valid text for a path or query parameter of this schema: a plain string names the
/// parameter (`sample_user_id`, which the user tests replace); other values are the engine's.
fn sample_text(spec: &Spec, schema: &Value, name: &str) -> String {
    let schema = spec.deref(schema);
    let plain = schema["type"].as_str().is_none_or(|t| t == "string")
        && schema.get("enum").is_none()
        && schema.get("format").is_none();
    if plain {
        return format!("sample_{name}");
    }
    to_text(&instance(spec.doc(), schema, Shape::Maximal, 1))
}

/// The request that should succeed: every path parameter, every query parameter (only the
/// required ones for stateful operations) and a maximal body.
fn valid_call(spec: &Spec, op: &Operation, stateful: bool) -> Call {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    for p in &op.params {
        let name = p.name.as_str();
        let schema = &p.schema;
        match p.location {
            Location::Path => {
                path = path.replace(&format!("{{{name}}}"), &sample_text(spec, schema, name));
            }
            Location::Query if !stateful || p.required => {
                let resolved = spec.deref(schema);
                if resolved["type"] == "array" {
                    let item = sample_text(spec, &resolved["items"], name);
                    if !p.explode {
                        query.push((name.to_owned(), format!("{item},{item}")));
                    } else {
                        query.push((name.to_owned(), item.clone()));
                        query.push((name.to_owned(), item));
                    }
                } else {
                    query.push((name.to_owned(), sample_text(spec, schema, name)));
                }
            }
            _ => {}
        }
    }
    let body = match spec.request_body(op) {
        None => Body::None,
        Some(body) => {
            if let Some(schema) = spec.media_schema(body, "application/json") {
                Body::Json(instance(spec.doc(), schema, Shape::Maximal, 1))
            } else {
                let schema = spec
                    .media_schema(body, "multipart/form-data")
                    .unwrap_or_else(|| panic!("{}: neither JSON nor multipart", op.id));
                let schema = spec.deref(schema);
                let parts = schema["properties"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|name| {
                        let text = if name == "file" {
                            "\u{1}PNG data"
                        } else {
                            "user_sample"
                        };
                        (name.clone(), text.to_owned())
                    })
                    .collect();
                Body::Multipart(parts)
            }
        }
    };
    Call {
        method: op.method,
        path,
        query,
        body,
    }
}

/// Checks one answer against the operation's first 2xx; an error message when it does not fit.
fn check_success(spec: &Spec, op: &Operation, res: &RawResponse) -> Result<(), String> {
    let (status, schema) = (op.success, spec.success_schema(op));
    let ctx = format!("{} {} {}", op.id, op.method, op.path);
    if res.status != status {
        return Err(format!(
            "{ctx}: status {} (want {status}): {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        ));
    }
    let media = res
        .header("content-type")
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_owned());
    match schema {
        Some(schema) => {
            if media.as_deref() != Some("application/json") {
                return Err(format!("{ctx}: content type {media:?}"));
            }
            let len: usize = res
                .header("content-length")
                .unwrap_or("x")
                .parse()
                .unwrap_or(0);
            if len != res.body.len() {
                return Err(format!(
                    "{ctx}: Content-Length {len}, body {}",
                    res.body.len()
                ));
            }
            let body: Value =
                serde_json::from_slice(&res.body).map_err(|e| format!("{ctx}: not JSON: {e}"))?;
            let errors = spec.validator(schema).errors(&body);
            if !errors.is_empty() {
                return Err(format!("{ctx}: {}\n    {body}", errors.join("; ")));
            }
        }
        None if status == 200 => {
            // The interstitial: the spec declares no body; Clerk serves an HTML page.
            if media.as_deref() != Some("text/html") || res.body.is_empty() {
                return Err(format!("{ctx}: {media:?}, {} bytes", res.body.len()));
            }
        }
        None => {
            if !res.body.is_empty() || media.is_some() {
                return Err(format!("{ctx}: a body on a {status}: {media:?}"));
            }
        }
    }
    Ok(())
}

async fn send(conn: &mut Conn, raw: &[u8]) -> RawResponse {
    conn.send(raw).await;
    conn.response().await
}

/// A Clerk error body with this status and code, naming `param` (when given).
fn check_refusal(
    res: &RawResponse,
    status: u16,
    code: &str,
    param: Option<&str>,
    ctx: &str,
) -> Result<(), String> {
    let body: Value = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
    let error = &body["errors"][0];
    let named = param.is_none_or(|p| error["meta"]["param_name"] == p);
    if res.status != status
        || error["code"] != code
        || !named
        || !body["clerk_trace_id"].is_string()
    {
        return Err(format!(
            "{ctx}: want {status} {code} {param:?}, got {} {body}",
            res.status
        ));
    }
    let errors = spec()
        .validator(spec().component("ClerkErrors"))
        .errors(&body);
    if !errors.is_empty() {
        return Err(format!("{ctx}: not ClerkErrors: {}", errors.join("; ")));
    }
    Ok(())
}

#[tokio::test]
async fn every_operation_answers_with_an_instance_of_its_response_schema() {
    let started = Instant::now();
    let spec = spec();
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    let stateful = stateful_ids();
    let mut failures = Vec::new();
    let mut answered = 0;
    let mut first = None;

    for (n, op) in spec.operations().iter().enumerate() {
        let is_stateful = stateful.contains(&op.id.as_str());
        let mut call = valid_call(spec, op, is_stateful);
        // The stateful operations get real arguments.
        match op.id.as_str() {
            "CreateAllowlistIdentifier" => {
                call.body = Body::Json(
                    json!({ "identifier": format!("op{n}@example.com"), "notify": true }),
                )
            }
            "CreateBlocklistIdentifier" => {
                call.body = Body::Json(json!({ "identifier": format!("op{n}@example.com") }))
            }
            "DeleteAllowlistIdentifier" => {
                let id = mock.insert(&format!("op{n}@example.com")).unwrap().id;
                call.path = format!("/allowlist_identifiers/{id}");
            }
            // The machine-token verify operations and `CreateSessionToken` answer only for
            // tokens and sessions the mock knows.
            "verifyApiKey" => {
                let key = mock.mint(TokenClass::ApiKey, None).unwrap();
                call.body = Body::Json(json!({ "secret": key }));
            }
            "verifyM2MToken" => {
                let token = mock.mint(TokenClass::M2mToken, None).unwrap();
                call.body = Body::Json(json!({ "token": token }));
            }
            "verifyOAuthAccessToken" => {
                let token = mock.mint(TokenClass::OAuthToken, None).unwrap();
                call.body = Body::Json(json!({ "access_token": token }));
            }
            "CreateSessionToken" => {
                let sid = mock.create_session("user_sample");
                call.path = format!("/sessions/{sid}/tokens");
            }
            // `RefreshSession` answers only for a refresh token the mock handed out.
            "RefreshSession" => {
                let sid = mock.create_session("user_sample");
                mock.insert_refresh_token("rt_sample", &sid);
                call.path = format!("/sessions/{sid}/refresh");
                call.body = Body::Json(json!({ "expired_token": "expired", "refresh_token":
                    "rt_sample", "request_origin": "https://app.example.com" }));
            }
            "DeleteBlocklistIdentifier" => {
                let id = mock
                    .insert_blocked(&format!("op{n}@example.com"))
                    .unwrap()
                    .id;
                call.path = format!("/blocklist_identifiers/{id}");
            }
            _ => {}
        }
        // The user operations on a user that exists; dates as RFC 3339.
        if MockOperation::USERS.iter().any(|u| u.name() == op.id) {
            let user = seed_user(&mock, n);
            let id = user["id"].as_str().unwrap();
            call.path = call.path.replace("sample_user_id", id);
            if let Body::Json(Value::Object(fields)) = &mut call.body {
                for (field, list) in [
                    ("primary_email_address_id", "email_addresses"),
                    ("primary_phone_number_id", "phone_numbers"),
                    ("primary_web3_wallet_id", "web3_wallets"),
                ] {
                    if fields.contains_key(field) {
                        fields.insert(field.to_owned(), user[list][0]["id"].clone());
                    }
                }
                // Unique across the instance.
                for field in ["username", "external_id"] {
                    if fields.contains_key(field) {
                        fields.insert(field.to_owned(), json!(format!("{field}{n}")));
                    }
                }
                for field in ["created_at", "legal_accepted_at"] {
                    if fields.contains_key(field) {
                        fields.insert(field.to_owned(), json!("2026-05-12T10:20:30Z"));
                    }
                }
            }
        }
        let sent = Instant::now();
        let res = send(&mut conn, &call.raw()).await;
        if first.is_none() && !is_stateful {
            first = Some(sent.elapsed());
        }
        match check_success(spec, op, &res) {
            Ok(()) => answered += 1,
            Err(e) => failures.push(e),
        }
    }
    let total = spec.operations().len();
    assert!(
        failures.is_empty(),
        "{} of {total} operations answer wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(answered, 249, "every operation of the spec answered");

    // The log names each operation by its spec id.
    let ids: Vec<_> = mock
        .requests()
        .iter()
        .filter_map(|r| r.operation_id)
        .collect();
    assert_eq!(ids.len(), total);
    assert!(ids.contains(&"GetUser") && ids.contains(&"CreateAllowlistIdentifier"));
    eprintln!(
        "mock_every_op: {answered} operations answered in {:?} (first generic request, which \
         parses the spec: {:?})",
        started.elapsed(),
        first.unwrap_or_default()
    );
    server.shutdown().await;
}

/// A body (object, or items of an array body) without one required field, with the name the
/// mock must report.
fn without_required(spec: &Spec, body: &Value, schema: &Value) -> Vec<(Value, String)> {
    let schema = spec.deref(schema);
    let mut out = Vec::new();
    let (object, prefix) = match (body, schema["type"].as_str()) {
        (Value::Object(_), _) => (body, String::new()),
        (Value::Array(items), Some("array")) if !items.is_empty() => (&items[0], "[0].".to_owned()),
        _ => return out,
    };
    let schema = if prefix.is_empty() {
        schema
    } else {
        spec.deref(&schema["items"])
    };
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap();
        let mut changed = object.clone();
        changed.as_object_mut().unwrap().remove(name);
        let body = if prefix.is_empty() {
            changed
        } else {
            let mut items = body.as_array().unwrap().clone();
            items[0] = changed;
            Value::Array(items)
        };
        out.push((body, format!("{prefix}{name}")));
    }
    out
}

/// A wrong JSON value for a property of this schema, and the code the mock must answer.
fn wrong_value(spec: &Spec, schema: &Value) -> Option<Value> {
    let schema = spec.deref(schema);
    match schema["type"].as_str()? {
        "string" => Some(json!(12345)),
        "integer" | "number" | "boolean" | "object" | "array" => Some(json!("not of this type")),
        _ => None,
    }
}

#[tokio::test]
async fn missing_and_mistyped_parameters_are_422_naming_them() {
    let spec = spec();
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    let stateful = own_validation_ids();
    let mut failures = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();

    for op in spec
        .operations()
        .iter()
        .filter(|op| !stateful.contains(&op.id.as_str()))
    {
        let valid = valid_call(spec, op, false);
        let ctx = |what: &str| format!("{} {} {}: {what}", op.id, op.method, op.path);
        for p in &op.params {
            if p.location != Location::Query {
                continue;
            }
            let name = p.name.as_str();
            // Left out.
            if p.required {
                let mut call = valid.clone();
                call.query.retain(|(k, _)| k != name);
                let res = send(&mut conn, &call.raw()).await;
                let check = check_refusal(&res, 422, "form_param_missing", Some(name), &ctx(name));
                failures.extend(check.err());
                *counts.entry("missing query").or_default() += 1;
            }
            // Of the wrong type.
            let ty = p.schema["type"].as_str().unwrap_or("").to_owned();
            if ["integer", "number", "boolean"].contains(&ty.as_str()) {
                let mut call = valid.clone();
                call.query.retain(|(k, _)| k != name);
                call.query.push((name.to_owned(), "not-a-value".to_owned()));
                let res = send(&mut conn, &call.raw()).await;
                let check =
                    check_refusal(&res, 422, "form_param_type_invalid", Some(name), &ctx(name));
                failures.extend(check.err());
                *counts.entry("mistyped query").or_default() += 1;
            }
        }
        let Some(body) = spec.request_body(op) else {
            continue;
        };
        match &valid.body {
            Body::Json(value) => {
                let schema = spec.media_schema(body, "application/json").unwrap();
                for (changed, name) in without_required(spec, value, schema) {
                    let mut call = valid.clone();
                    call.body = Body::Json(changed);
                    let res = send(&mut conn, &call.raw()).await;
                    let check =
                        check_refusal(&res, 422, "form_param_missing", Some(&name), &ctx(&name));
                    failures.extend(check.err());
                    *counts.entry("missing body field").or_default() += 1;
                }
                // The first declared property, of the wrong type.
                let resolved = spec.deref(schema);
                let properties = resolved["properties"].as_object();
                let typed = properties
                    .into_iter()
                    .flatten()
                    .find_map(|(name, property)| {
                        wrong_value(spec, property).map(|wrong| (name.clone(), wrong))
                    });
                if let (Some((name, wrong)), Value::Object(fields)) = (typed, value) {
                    let mut fields = fields.clone();
                    fields.insert(name.clone(), wrong);
                    let mut call = valid.clone();
                    call.body = Body::Json(Value::Object(fields));
                    let res = send(&mut conn, &call.raw()).await;
                    let check = check_refusal(
                        &res,
                        422,
                        "form_param_type_invalid",
                        Some(&name),
                        &ctx(&name),
                    );
                    failures.extend(check.err());
                    *counts.entry("mistyped body field").or_default() += 1;
                }
                // Not JSON at all.
                let mut call = valid.clone();
                call.body = Body::None;
                let mut raw = call.raw();
                let broken = "{\"a\": ";
                raw.truncate(raw.len() - 2);
                raw.extend_from_slice(
                    format!(
                        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{broken}",
                        broken.len()
                    )
                    .as_bytes(),
                );
                let res = send(&mut conn, &raw).await;
                failures.extend(
                    check_refusal(&res, 400, "request_body_invalid", None, &ctx("malformed")).err(),
                );
                // Not JSON by its media type.
                let mut call = valid.clone();
                call.body = Body::None;
                let mut raw = call.raw();
                raw.truncate(raw.len() - 2);
                raw.extend_from_slice(b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}");
                let res = send(&mut conn, &raw).await;
                failures.extend(
                    check_refusal(
                        &res,
                        415,
                        "unsupported_content_type",
                        None,
                        &ctx("text/plain"),
                    )
                    .err(),
                );
                *counts.entry("JSON bodies").or_default() += 1;
            }
            Body::Multipart(parts) => {
                let schema = spec.deref(spec.media_schema(body, "multipart/form-data").unwrap());
                for name in schema["required"].as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap();
                    let mut call = valid.clone();
                    call.body =
                        Body::Multipart(parts.iter().filter(|(k, _)| k != name).cloned().collect());
                    let res = send(&mut conn, &call.raw()).await;
                    let check =
                        check_refusal(&res, 422, "form_param_missing", Some(name), &ctx(name));
                    failures.extend(check.err());
                    *counts.entry("missing part").or_default() += 1;
                }
                let mut call = valid.clone();
                call.body = Body::Json(json!({}));
                let res = send(&mut conn, &call.raw()).await;
                failures.extend(
                    check_refusal(&res, 415, "unsupported_content_type", None, &ctx("JSON")).err(),
                );
            }
            Body::None => unreachable!(),
        }
    }
    assert!(
        failures.is_empty(),
        "{} refusals are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("mock_every_op refusals checked: {counts:?}");
    for what in [
        "missing query",
        "mistyped query",
        "missing body field",
        "mistyped body field",
        "missing part",
    ] {
        assert!(
            counts.get(what).is_some_and(|n| *n > 0),
            "no {what} case: {counts:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn generic_routes_refuse_unknown_paths_wrong_methods_and_missing_keys() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    let mut failures = Vec::new();
    for (start, status, code) in [
        ("GET /v1/userz HTTP/1.1", 404, "resource_not_found"),
        (
            "GET /v1/users/user_1/nope/deeper HTTP/1.1",
            404,
            "resource_not_found",
        ),
        ("GET /v1/users/ HTTP/1.1", 404, "resource_not_found"),
        ("GET /users HTTP/1.1", 404, "resource_not_found"),
        ("PUT /v1/users HTTP/1.1", 405, "method_not_allowed"),
        ("POST /v1/users/count HTTP/1.1", 405, "method_not_allowed"),
        ("POST /v1/jwks HTTP/1.1", 405, "method_not_allowed"),
    ] {
        let res = send(&mut conn, &request(start, &[], "")).await;
        failures.extend(check_refusal(&res, status, code, None, start).err());
        if status == 405 {
            let allow = res.header("allow").unwrap_or_default().to_owned();
            let want = match start {
                s if s.contains("/users/count") => "GET",
                s if s.contains("/jwks") => "GET",
                _ => "GET, POST",
            };
            if allow != want {
                failures.push(format!("{start}: Allow {allow:?}, want {want:?}"));
            }
        }
    }
    // Without a key, with a wrong one, or another scheme: 401 before routing, on generic
    // routes too; the interstitial is public (`security: []`) and needs none.
    for (auth, code) in [
        (None, "authorization_header_format_invalid"),
        (Some("Bearer sk_test_wrong"), "clerk_key_invalid"),
        (Some("Basic abc"), "authorization_header_format_invalid"),
    ] {
        for path in [
            "/v1/users",
            "/v1/organizations",
            "/v1/userz",
            "/v1/users/user_1",
        ] {
            let mut raw = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            if let Some(auth) = auth {
                raw.push_str(&format!("Authorization: {auth}\r\n"));
            }
            raw.push_str("\r\n");
            let res = send(&mut conn, raw.as_bytes()).await;
            failures
                .extend(check_refusal(&res, 401, code, None, &format!("{auth:?} {path}")).err());
        }
    }
    let res = send(
        &mut conn,
        b"GET /v1/public/interstitial?frontend_api=x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 200);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    server.shutdown().await;
}

/// The mock reads the contract the client is generated from (the spec with the overlay
/// applied), so the overlay's corrections show in its validation and its answers: `limit` of
/// the API key list is an integer (the spec says `number`: `limit=1.5` was accepted), and
/// every list with the `paginated` parameter answers `{data, total_count}` to
/// `paginated=true` (the spec declares bare arrays; Clerk's JS SDK reads the envelope).
#[tokio::test]
async fn overlay_corrections_reach_the_mock_validation_and_answers() {
    let (spec, raw) = (spec(), crate::contract_support::raw_spec());
    let limit = |s: &Spec| {
        s.op("getApiKeys")
            .param(Location::Query, "limit")
            .unwrap()
            .schema["type"]
            .clone()
    };
    assert_eq!(
        (limit(raw), limit(spec)),
        (json!("number"), json!("integer"))
    );
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    let get = |target: &str| request(&format!("GET /v1{target} HTTP/1.1"), &[], "");
    let res = send(&mut conn, &get("/api_keys?subject=user_1&limit=1.5")).await;
    check_refusal(
        &res,
        422,
        "form_param_type_invalid",
        Some("limit"),
        "limit=1.5",
    )
    .unwrap();
    assert_eq!(
        send(&mut conn, &get("/api_keys?subject=user_1&limit=2"))
            .await
            .status,
        200
    );

    let mut lists = 0;
    for op in spec.operations() {
        if op.param(Location::Query, "paginated").is_none() {
            continue;
        }
        lists += 1;
        let schema = spec.success_schema(op).unwrap();
        let path = op
            .params
            .iter()
            .filter(|p| p.location == Location::Path)
            .fold(op.path.clone(), |path, p| {
                path.replace(
                    &format!("{{{}}}", p.name),
                    &sample_text(spec, &p.schema, &p.name),
                )
            });
        let required: String = op
            .params
            .iter()
            .filter(|p| p.location == Location::Query && p.required)
            .map(|p| format!("&{}={}", p.name, sample_text(spec, &p.schema, &p.name)))
            .collect();
        for paginated in [true, false] {
            let target = format!("{path}?paginated={paginated}{required}");
            let res = send(&mut conn, &get(&target)).await;
            assert_eq!(res.status, 200, "{} {target}: {:?}", op.id, res.body);
            let body = res.json();
            spec.validator(schema).assert_valid(&body, &target);
            let enveloped = body["data"].is_array() && body["total_count"].is_i64();
            let declared = spec.deref(schema);
            let bare_without = declared["oneOf"].is_array() || declared["type"] == "array";
            assert_eq!(
                enveloped,
                paginated || !bare_without,
                "{} {target}: {body}",
                op.id
            );
        }
    }
    // The seven lists the overlay corrects, the allow-list and five billing lists.
    assert_eq!(lists, 13);
    server.shutdown().await;
}

/// What the answers carry beyond the schema: the id asked for, Clerk's prefixes, fresh ids,
/// and lists of a few items whose `total_count` matches.
#[tokio::test]
async fn answers_echo_path_ids_and_carry_clerk_prefixes() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    let get = |path: &str| request(&format!("GET /v1{path} HTTP/1.1"), &[], "");

    let session = send(&mut conn, &get("/sessions/sess_2abc")).await.json();
    assert_eq!(session["id"], "sess_2abc");
    assert_eq!(session["object"], "session");
    assert!(session["user_id"].as_str().unwrap().starts_with("user_"));
    let client = send(&mut conn, &get("/clients/client_2abc")).await.json();
    assert_eq!(client["id"], "client_2abc");
    assert!(client["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("sess_"));
    let org = send(&mut conn, &get("/organizations/org_9")).await.json();
    assert_eq!(org["id"], "org_9");
    let invitation = send(&mut conn, &get("/organizations/org_9/invitations/orginv_7"))
        .await
        .json();
    assert_eq!(invitation["id"], "orginv_7");
    let membership_list = send(&mut conn, &get("/organizations/org_9/memberships"))
        .await
        .json();
    let memberships = membership_list["data"].as_array().unwrap();
    assert_eq!(memberships.len(), 3);
    assert_eq!(membership_list["total_count"], 3);
    let ids: Vec<&str> = memberships
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.iter()
            .all(|id| id.starts_with("orgmem_") && id.len() == 7 + 27),
        "{ids:?}"
    );
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2],
        "fresh ids per item: {ids:?}"
    );

    // Bare arrays, and `limit` below three.
    let invitations = send(&mut conn, &get("/invitations?limit=2")).await.json();
    assert_eq!(invitations.as_array().unwrap().len(), 2);
    let invitations = send(&mut conn, &get("/invitations")).await.json();
    let invitations = invitations.as_array().unwrap();
    assert_eq!(invitations.len(), 3);
    assert!(invitations[0]["id"].as_str().unwrap().starts_with("inv_"));

    // A create gets a fresh id each time.
    let body = r#"{"name":"Acme","created_by":"user_1"}"#;
    let start = "POST /v1/organizations HTTP/1.1";
    let a = send(
        &mut conn,
        &request(start, &["Content-Type: application/json"], body),
    )
    .await;
    let b = send(
        &mut conn,
        &request(start, &["Content-Type: application/json"], body),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let (a, b) = (a.json(), b.json());
    assert!(a["id"].as_str().unwrap().starts_with("org_"));
    assert_ne!(a["id"], b["id"]);

    // A delete answers a DeletedObject naming what was asked.
    let start = "DELETE /v1/organizations/org_gone HTTP/1.1";
    let deleted = send(&mut conn, &request(start, &[], "")).await.json();
    assert_eq!(deleted["object"], "organization");
    assert_eq!(deleted["id"], "org_gone");
    assert_eq!(deleted["deleted"], true);

    // The log names generic operations by their spec id, and they never count as stateful.
    let log = mock.requests();
    assert_eq!(log[0].operation_id, Some("GetSession"));
    assert_eq!(log[0].operation, None);
    assert_eq!(log[0].attempt, 0);
    server.shutdown().await;
}

/// Users are stateful: what a create stores, get, list, count, update, metadata, ban, lock and
/// delete see and change; unknown ids are 404; taken identifiers are 422.
#[tokio::test]
async fn users_are_kept_in_memory() {
    let spec = spec();
    let user_schema = spec.validator(spec.component("User"));
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    let json_ct = ["Content-Type: application/json"];
    let call = |start: &str, body: &str| {
        if body.is_empty() {
            request(start, &[], "")
        } else {
            request(start, &json_ct, body)
        }
    };

    let res = send(
        &mut conn,
        &call(
            "POST /v1/users HTTP/1.1",
            r#"{"email_address":["ada@example.com"],"first_name":"Ada","username":"ada","public_metadata":{"plan":"pro","n":{"a":1}},"password":"correct horse"}"#,
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let ada = res.json();
    user_schema.assert_valid(&ada, "created user");
    let id = ada["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("user_"));
    assert_eq!(ada["first_name"], "Ada");
    assert_eq!(ada["password_enabled"], true);
    assert_eq!(
        ada["primary_email_address_id"],
        ada["email_addresses"][0]["id"]
    );
    assert_eq!(ada["last_name"], Value::Null);

    for (body, param) in [
        (r#"{"email_address":["ADA@example.com"]}"#, "email_address"),
        (
            r#"{"email_address":["x@example.com"],"username":"ADA"}"#,
            "username",
        ),
    ] {
        let res = send(&mut conn, &call("POST /v1/users HTTP/1.1", body)).await;
        check_refusal(&res, 422, "form_identifier_exists", Some(param), body).unwrap();
    }
    let grace = mock
        .insert_user(json!({"email_address": ["grace@example.com"], "last_name": "Hopper"}))
        .unwrap();

    let got = send(
        &mut conn,
        &call(&format!("GET /v1/users/{id} HTTP/1.1"), ""),
    )
    .await
    .json();
    assert_eq!(got, ada);
    let list = send(&mut conn, &call("GET /v1/users HTTP/1.1", ""))
        .await
        .json();
    assert_eq!(list, json!([grace.clone(), ada.clone()]), "newest first");
    let list = send(
        &mut conn,
        &call("GET /v1/users?limit=1&offset=1 HTTP/1.1", ""),
    )
    .await
    .json();
    assert_eq!(list, json!([ada.clone()]));
    let list = send(
        &mut conn,
        &call("GET /v1/users?email_address=GRACE@example.com HTTP/1.1", ""),
    )
    .await
    .json();
    assert_eq!(list, json!([grace.clone()]));
    let list = send(&mut conn, &call("GET /v1/users?query=hop HTTP/1.1", ""))
        .await
        .json();
    assert_eq!(list, json!([grace.clone()]));
    let count = send(&mut conn, &call("GET /v1/users/count HTTP/1.1", ""))
        .await
        .json();
    assert_eq!(count, json!({"object": "total_count", "total_count": 2}));
    let count = send(
        &mut conn,
        &call(
            &format!("GET /v1/users/count?user_id={id}&user_id=user_x HTTP/1.1"),
            "",
        ),
    )
    .await
    .json();
    assert_eq!(count["total_count"], 1);

    let res = send(
        &mut conn,
        &call(
            &format!("PATCH /v1/users/{id} HTTP/1.1"),
            r#"{"last_name":"Lovelace","username":"grace"}"#,
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    let updated = res.json();
    assert_eq!(updated["last_name"], "Lovelace");
    user_schema.assert_valid(&updated, "updated user");
    let res = send(
        &mut conn,
        &call(
            &format!("PATCH /v1/users/{id} HTTP/1.1"),
            r#"{"primary_phone_number_id":"idn_nope"}"#,
        ),
    )
    .await;
    check_refusal(
        &res,
        422,
        "form_param_value_invalid",
        Some("primary_phone_number_id"),
        "primary",
    )
    .unwrap();

    let res = send(
        &mut conn,
        &call(
            &format!("PATCH /v1/users/{id}/metadata HTTP/1.1"),
            r#"{"public_metadata":{"plan":null,"n":{"b":2}}}"#,
        ),
    )
    .await;
    assert_eq!(
        res.json()["public_metadata"],
        json!({"n": {"a": 1, "b": 2}})
    );
    for (action, field, value) in [
        ("ban", "banned", true),
        ("unban", "banned", false),
        ("lock", "locked", true),
        ("unlock", "locked", false),
    ] {
        let res = send(
            &mut conn,
            &call(&format!("POST /v1/users/{id}/{action} HTTP/1.1"), ""),
        )
        .await;
        assert_eq!(res.status, 200, "{action}");
        let user = res.json();
        assert_eq!(user[field], value, "{action}");
        user_schema.assert_valid(&user, action);
    }
    assert_eq!(mock.users()[1]["last_name"], "Lovelace");

    let res = send(
        &mut conn,
        &call(&format!("DELETE /v1/users/{id} HTTP/1.1"), ""),
    )
    .await;
    assert_eq!(
        res.json(),
        json!({"object": "user", "id": id, "deleted": true})
    );
    for start in [
        format!("GET /v1/users/{id} HTTP/1.1"),
        format!("PATCH /v1/users/{id} HTTP/1.1"),
        format!("DELETE /v1/users/{id} HTTP/1.1"),
        format!("POST /v1/users/{id}/ban HTTP/1.1"),
    ] {
        let res = send(&mut conn, &call(&start, "")).await;
        check_refusal(&res, 404, "resource_not_found", None, &start).unwrap();
    }
    // Validation still comes first; sub-resources without state stay generic.
    let res = send(&mut conn, &call("GET /v1/users?limit=0 HTTP/1.1", "")).await;
    check_refusal(
        &res,
        422,
        "form_param_value_invalid",
        Some("limit"),
        "limit=0",
    )
    .unwrap();
    let res = send(
        &mut conn,
        &call("POST /v1/users HTTP/1.1", r#"{"role":"admin"}"#),
    )
    .await;
    check_refusal(&res, 422, "form_param_unknown", Some("role"), "unknown").unwrap();
    let res = send(
        &mut conn,
        &call("GET /v1/users/user_x/organization_memberships HTTP/1.1", ""),
    )
    .await;
    assert_eq!(res.status, 200);
    let log = mock.requests();
    assert_eq!(log[0].operation, Some(MockOperation::CreateUser));
    assert_eq!(mock.request_count(MockOperation::GetUser), 2);
    assert_eq!(mock.users().len(), 1);
    mock.reset();
    assert!(mock.users().is_empty());
    server.shutdown().await;
}
