//! Contract tests over the registry, for every operation of the vendored spec
//! (`spec/bapi-2026-05-12.yml`):
//!
//! 1. the registry (`api::registry::OPERATIONS`) and the spec's operation list are equal;
//! 2. each operation's request, built with sample arguments (`generated::sample_request`, every
//!    parameter set), validates against the spec's parameters and request schema: path
//!    parameters, query scalars and arrays, JSON and multipart bodies;
//! 3. for every response schema, instances built from the schema (minimal, maximal, with an
//!    enum value the spec does not list, with an unknown field) decode into the output type;
//! 4. each sample request, sent through a `Client` (the whole stack) to clerk-mock over TCP,
//!    gets a 2xx whose body decodes into the output type.
//!
//! With fewer features than `full`, the operations compiled out are skipped (and counted);
//! `.ci/run` runs these with every feature.

use std::collections::{BTreeMap, BTreeSet};

use clerk_tower::api::registry::OPERATIONS;
use clerk_tower::mock::MockClerk;
use clerk_tower::Client;
use http::header::CONTENT_TYPE;
use http::Request;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{json, Value};

use crate::contract_support::{
    corrected_spec as spec, query_pairs, typed_parameter, Operation, Route, Spec,
};
use crate::generated::{decode_as_output, sample_call, sample_request};
use crate::instances::{instance, Shape, UNKNOWN_ENUM_VALUE};

/// Whether every operation is compiled in: then none may be skipped.
const FULL: bool = cfg!(feature = "full");

/// What the sample requests exercised, summed over the operations.
#[derive(Debug, Default)]
struct Kinds {
    path: usize,
    query_scalar: usize,
    query_array: usize,
    json_body: usize,
    multipart_body: usize,
}

#[test]
fn the_registry_and_the_spec_list_the_same_operations() {
    let spec = spec();
    let from_spec: BTreeSet<(String, String, String)> = spec
        .operations()
        .map(|op| (op.id.to_owned(), op.method.to_owned(), op.path.to_owned()))
        .collect();
    let from_registry: BTreeSet<(String, String, String)> = OPERATIONS
        .iter()
        .map(|entry| {
            let info = &entry.info;
            (
                info.id.to_owned(),
                info.method.as_str().to_owned(),
                info.path_template.to_owned(),
            )
        })
        .collect();
    let missing: Vec<_> = from_spec.difference(&from_registry).collect();
    let extra: Vec<_> = from_registry.difference(&from_spec).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from the registry: {missing:?}; not in the spec: {extra:?}"
    );
    // No id twice on either side (a set would hide it).
    assert_eq!(OPERATIONS.len(), from_registry.len());
    assert_eq!(spec.operations().count(), from_spec.len());
    assert_eq!(
        OPERATIONS.len(),
        249,
        "Clerk's spec 2026-05-12 has 249 operations"
    );
    for entry in OPERATIONS {
        let found = clerk_tower::api::registry::find(entry.info.id);
        assert_eq!(found.map(|e| &e.info), Some(&entry.info));
    }
    assert!(clerk_tower::api::registry::find("NoSuchOperation").is_none());
}

#[test]
fn every_sample_request_validates_against_the_spec() {
    let spec = spec();
    let mut kinds = Kinds::default();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for op in spec.operations() {
        let Some(request) = sample_request(op.id) else {
            skipped.push(op.id);
            continue;
        };
        let checked = request
            .map_err(|e| format!("the client refused its own sample: {e}"))
            .and_then(|request| check_request(spec, &op, &request, &mut kinds));
        if let Err(e) = checked {
            failures.push(format!("{}: {e}", op.id));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!FULL || skipped.is_empty(), "no sample for {skipped:?}");
    if FULL {
        // Every kind of parameter the spec has was built and checked at least once.
        assert!(kinds.path >= 187, "{kinds:?}");
        assert!(kinds.query_scalar >= 150, "{kinds:?}");
        assert!(kinds.query_array >= 25, "{kinds:?}");
        assert!(kinds.json_body >= 100, "{kinds:?}");
        assert_eq!(kinds.multipart_body, 3, "{kinds:?}");
    }
}

/// Checks a sample request against the operation `op`: the method and path route to it; each
/// path parameter, each query parameter (arrays exploded or comma-joined as declared) and the
/// body (JSON, or multipart parts) validates against its schema; every parameter and top-level
/// body field the spec declares was sent (the samples set them all), so that none escapes the
/// check; the `Content-Type` is the spec's media type.
fn check_request(
    spec: &Spec,
    op: &Operation<'_>,
    request: &Request<Full<Bytes>>,
    kinds: &mut Kinds,
) -> Result<(), String> {
    let path = request.uri().path();
    let captures = match spec.route(request.method().as_str(), path) {
        Route::Operation(found, captures) if found.id == op.id => captures,
        Route::Operation(found, _) => return Err(format!("{path} routes to {}", found.id)),
        Route::MethodNotDeclared(t) => return Err(format!("{t} has no {}", request.method())),
        Route::NoPath => return Err(format!("no path of the spec matches {path}")),
    };
    for (name, value) in &captures {
        let param = spec
            .parameter(op, "path", name)
            .ok_or_else(|| format!("path parameter {name} is not declared"))?;
        let typed = typed_parameter(&param["schema"], value)
            .ok_or_else(|| format!("path parameter {name}={value:?} is not of its type"))?;
        let errors = spec.validator(&param["schema"]).errors(&typed);
        if !errors.is_empty() {
            return Err(format!("path parameter {name}={value:?}: {errors:?}"));
        }
        kinds.path += 1;
    }

    let mut sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in query_pairs(request.uri().query().unwrap_or("")) {
        sent.entry(name).or_default().push(value);
    }
    for (name, values) in &sent {
        let param = spec
            .parameter(op, "query", name)
            .ok_or_else(|| format!("query parameter {name:?} is not declared"))?;
        let schema = spec.deref(&param["schema"]);
        let value = if schema["type"] == "array" {
            // OpenAPI's default for query parameters: style form, explode true.
            let exploded = param["explode"].as_bool().unwrap_or(true);
            let texts: Vec<&str> = match (exploded, values.as_slice()) {
                (true, _) => values.iter().map(String::as_str).collect(),
                (false, [one]) => one.split(',').collect(),
                (false, _) => return Err(format!("{name} is comma-joined, sent {values:?}")),
            };
            let items = spec.deref(&schema["items"]);
            let typed = texts
                .iter()
                .map(|t| typed_parameter(items, t))
                .collect::<Option<Vec<Value>>>()
                .ok_or_else(|| format!("query parameter {name}={values:?}: item types"))?;
            kinds.query_array += 1;
            Value::Array(typed)
        } else {
            let [text] = values.as_slice() else {
                return Err(format!(
                    "query parameter {name} sent {} times",
                    values.len()
                ));
            };
            kinds.query_scalar += 1;
            typed_parameter(schema, text)
                .ok_or_else(|| format!("query parameter {name}={text:?} is not of its type"))?
        };
        let errors = spec.validator(&param["schema"]).errors(&value);
        if !errors.is_empty() {
            return Err(format!("query parameter {name}={values:?}: {errors:?}"));
        }
    }
    for param in spec.parameters(op) {
        let name = param["name"].as_str().unwrap_or_default();
        if param["in"] == "query" && !sent.contains_key(name) {
            return Err(format!("query parameter {name} was not sent"));
        }
    }

    let body: &[u8] = &full_bytes(request.body());
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let Some(request_body) = spec.request_body(op) else {
        return match (body.is_empty(), content_type) {
            (true, None) => Ok(()),
            _ => Err(format!(
                "no body declared, sent {} bytes ({content_type:?})",
                body.len()
            )),
        };
    };
    let media = content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .ok_or("a body without Content-Type")?;
    let schema = spec
        .media_schema(request_body, media)
        .ok_or_else(|| format!("{media} is not a media type of the request body"))?;
    let schema = spec.deref(schema);
    let declared: BTreeSet<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    match media {
        "application/json" => {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
            let errors = spec.validator(schema).errors(&value);
            if !errors.is_empty() {
                return Err(format!("body {value}: {errors:?}"));
            }
            if let Some(fields) = value.as_object() {
                if let Some(missing) = declared.iter().find(|k| !fields.contains_key(**k)) {
                    return Err(format!("body field {missing} was not sent"));
                }
            }
            kinds.json_body += 1;
        }
        "multipart/form-data" => {
            let boundary = content_type
                .and_then(|ct| ct.split("boundary=").nth(1))
                .map(|b| b.trim_matches('"'))
                .ok_or("multipart without a boundary")?;
            let parts = multipart_parts(body, boundary)?;
            for part in &parts {
                let property = &schema["properties"][&part.name];
                if property.is_null() {
                    return Err(format!("part {} is not declared", part.name));
                }
                let property = spec.deref(property);
                if property["format"] == "binary" {
                    if part.filename.is_none() {
                        return Err(format!("file part {} has no filename", part.name));
                    }
                } else {
                    let text = std::str::from_utf8(&part.data)
                        .map_err(|_| format!("part {} is not text", part.name))?;
                    let typed = typed_parameter(property, text)
                        .ok_or_else(|| format!("part {}={text:?} is not of its type", part.name))?;
                    let errors = spec.validator(property).errors(&typed);
                    if !errors.is_empty() {
                        return Err(format!("part {}: {errors:?}", part.name));
                    }
                }
            }
            let names: BTreeSet<&str> = parts.iter().map(|p| p.name.as_str()).collect();
            if let Some(missing) = declared.iter().find(|k| !names.contains(**k)) {
                return Err(format!("part {missing} was not sent"));
            }
            kinds.multipart_body += 1;
        }
        other => return Err(format!("a body of {other}, which the test cannot read")),
    }
    Ok(())
}

/// One part of a `multipart/form-data` body.
struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

/// Splits a multipart body (RFC 7578) into its parts; strict about the framing our client
/// writes (CRLF line ends, a closing delimiter).
fn multipart_parts(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let text = body.to_vec();
    let mut parts = Vec::new();
    let mut rest: &[u8] = &text;
    rest = rest
        .strip_prefix(delimiter.as_bytes())
        .ok_or("the body does not start with the boundary")?;
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("no CRLF after a boundary")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("a part without headers")?;
        let head = std::str::from_utf8(&rest[..head_end]).map_err(|_| "non-UTF-8 headers")?;
        rest = &rest[head_end + 4..];
        let next = format!("\r\n{delimiter}");
        let data_end = find(rest, next.as_bytes()).ok_or("a part without a closing boundary")?;
        let data = rest[..data_end].to_vec();
        rest = &rest[data_end + next.len()..];
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or("a part without Content-Disposition")?;
        let param = |key: &str| {
            let start = disposition.find(&format!("{key}=\""))? + key.len() + 2;
            let len = disposition[start..].find('"')?;
            Some(disposition[start..start + len].to_owned())
        };
        parts.push(Part {
            name: param("name").ok_or("a part without a name")?,
            filename: param("filename"),
            data,
        });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The bytes of a `Full<Bytes>` body (always ready: no runtime needed).
fn full_bytes(body: &Full<Bytes>) -> Bytes {
    use http_body::Body as _;
    let mut body = std::pin::pin!(body.clone());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    while let std::task::Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
        let Ok(frame) = frame;
        out.extend_from_slice(&frame.into_data().unwrap_or_default());
    }
    Bytes::from(out)
}

#[test]
fn every_response_schema_instance_decodes_into_the_output_type() {
    let spec = spec();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let mut decoded = 0;
    for op in spec.operations() {
        if decode_as_output(op.id, Value::Null).is_none() {
            skipped.push(op.id);
            continue;
        }
        let mut successes = 0;
        for (status, response) in op.object["responses"].as_object().into_iter().flatten() {
            if !status.starts_with('2') {
                continue;
            }
            successes += 1;
            let response = spec.deref(response);
            let Some(schema) = spec.media_schema(response, "application/json") else {
                // No content: the body is empty, which decodes as `null`; a text body (the
                // interstitial's HTML) is a string.
                let body = match response["content"].as_object() {
                    Some(media) if !media.is_empty() => json!("<html>sample</html>"),
                    _ => Value::Null,
                };
                match decode_as_output(op.id, body) {
                    Some(Ok(())) => decoded += 1,
                    other => failures.push(format!("{} {status} (no JSON): {other:?}", op.id)),
                }
                continue;
            };
            for shape in [
                Shape::Minimal,
                Shape::Maximal,
                Shape::UnknownEnum,
                Shape::ExtraField,
            ] {
                let value = instance(spec, schema, shape);
                // The minimal and maximal instances are ones the spec allows, so that decoding
                // them proves something; the other two depart from it on purpose (an unknown
                // enum value; an unknown field, which `additionalProperties: false` refuses).
                if matches!(shape, Shape::Minimal | Shape::Maximal) {
                    let errors = spec.validator(schema).errors(&value);
                    if !errors.is_empty() {
                        failures.push(format!("{} {status} {shape:?}: invalid: {errors:?}", op.id));
                        continue;
                    }
                }
                match decode_as_output(op.id, value) {
                    Some(Ok(())) => decoded += 1,
                    Some(Err(e)) => failures.push(format!("{} {status} {shape:?}: {e}", op.id)),
                    None => failures.push(format!("{}: no decoder", op.id)),
                }
            }
        }
        if successes == 0 {
            failures.push(format!("{}: no 2xx response declared", op.id));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!FULL || skipped.is_empty(), "no decoder for {skipped:?}");
    if FULL {
        // 243 JSON answers in four shapes, 6 without a body.
        assert_eq!(decoded, 243 * 4 + 6);
    }
}

/// An instance with an unknown enum value really carries one somewhere, for the operations
/// whose answers have enums: otherwise the shape would test nothing.
#[test]
fn unknown_enum_instances_carry_the_unknown_value() {
    let spec = spec();
    let user = spec.component_schema("User");
    let value = instance(spec, user, Shape::UnknownEnum);
    assert!(value.to_string().contains(UNKNOWN_ENUM_VALUE), "{value}");
    assert_eq!(
        decode_as_output("GetUser", value),
        cfg!(feature = "users").then_some(Ok(()))
    );
}

/// Every sample request goes through a `Client` to clerk-mock over TCP and gets a 2xx whose
/// body decodes into the operation's output type: the same stack as the allow-list (auth,
/// retries, timeouts, error decoding) for every operation. Each operation gets a mock of its
/// own, seeded with what the samples name, so that no operation sees another's writes (the
/// samples of `CreateUser` and `UpdateUser` share a username).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_through_the_client() {
    let spec = spec();
    let mut failures = Vec::new();
    let mut answered = 0;
    let mut skipped = Vec::new();
    for op in spec.operations() {
        let mock = MockClerk::new();
        seed(&mock);
        let server = mock.serve().await.expect("the mock serves");
        let client = Client::builder()
            .secret_key(MockClerk::DEFAULT_SECRET_KEY)
            .base_url(server.base_url())
            .build()
            .expect("a client for the mock");
        let Some(call) = sample_call(&client, op.id) else {
            skipped.push(op.id);
            continue;
        };
        match call.await {
            Ok(()) => answered += 1,
            Err(e) => failures.push(format!("{} {} {}: {e:#}", op.id, op.method, op.path)),
        }
        // The request reached the mock as this operation (not another route).
        let log = mock.requests();
        let ids: Vec<&str> = log.iter().filter_map(|r| r.operation_id).collect();
        if ids != [op.id] {
            failures.push(format!("{}: the mock saw {ids:?}", op.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        !FULL || skipped.is_empty(),
        "no sample call for {skipped:?}"
    );
    assert!(answered > 0);
    if FULL {
        assert_eq!(answered, 249);
    }
}

/// The state the stateful routes need to find what the samples name: the user `user_123`
/// with the e-mail address, phone number and wallet ids `UpdateUser` makes primary, and the
/// allow-list and block-list entries `identifier_123`.
fn seed(mock: &MockClerk) {
    mock.insert_user_with_id(
        "user_123",
        json!({
            "email_address": ["sample@example.com"],
            "phone_number": ["+15555550100"],
            "web3_wallet": ["0x0000000000000000000000000000000000000001"],
        }),
    )
    .expect("a user to seed");
    mock.edit_user("user_123", |user| {
        for (list, field) in [
            ("email_addresses", "primary_email_address_id"),
            ("phone_numbers", "primary_phone_number_id"),
            ("web3_wallets", "primary_web3_wallet_id"),
        ] {
            let id = format!("{}_123", field.trim_end_matches("_id"));
            user[list][0]["id"] = json!(id);
            user[field] = json!(id);
        }
    })
    .expect("the seeded user");
    mock.insert_with_id("identifier_123", "seeded@example.com")
        .expect("an allow-list entry to seed");
    mock.insert_blocked_with_id("identifier_123", "seeded-blocked@example.com")
        .expect("a block-list entry to seed");
}
