//! Contract tests over the registry, for every operation of the vendored spec
//! (`spec/bapi-2026-05-12.yml`):
//!
//! 1. the registry (`api::registry::OPERATIONS`) and the spec's operation list are equal;
//! 2. each operation's request, built with sample arguments (`generated::sample_request`, every
//!    parameter set), validates against the spec's parameters and request schema: path
//!    parameters, query scalars and arrays, JSON and multipart bodies;
//! 3. for every response schema, instances built from the schema (minimal, maximal, with an
//!    enum value the spec does not list, with an unknown field) decode into the output type;
//! 4. for every response schema, many instances drawn from seeds among everything the schema
//!    allows (as Prism's dynamic mode answers) are allowed by the oracle and decode;
//! 5. each sample request, sent through a `Client` (the whole stack) to clerk-mock over TCP,
//!    gets a 2xx whose body decodes into the output type.
//!
//! The spec here is the contract: Clerk's spec with the overlay applied, as generated.
//!
//! With fewer features than `full`, the operations compiled out are skipped (and counted);
//! `.ci/run` runs these with every feature.

use std::collections::BTreeSet;

use clerk_tower::api::registry::OPERATIONS;
use clerk_tower::mock::{MockClerk, TokenClass};
use clerk_tower::Client;
use http::header::CONTENT_TYPE;
use http::Request;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{json, Value};

use clerk_tower_spec::instance::{EXTRA_FIELD, UNKNOWN_ENUM_VALUE};
use clerk_tower_spec::{instance, Location, Operation, Shape};

use crate::contract_support::{check_parameters_and_body, full_body, route_to, spec, Spec};
use crate::generated::{decode_as_output, sample_call, sample_request};

/// The seed of the deterministic shapes' ids.
const SEED: u64 = 21;

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
        .iter()
        .map(|op| (op.id.clone(), op.method.to_owned(), op.path.clone()))
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
    assert_eq!(spec.operations().len(), from_spec.len());
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
        let Some(request) = sample_request(&op.id) else {
            skipped.push(&op.id);
            continue;
        };
        let checked = request
            .map_err(|e| format!("the client refused its own sample: {e}"))
            .and_then(|request| check_request(spec, op, &request, &mut kinds));
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

/// Checks a sample request against the operation `op`: it routes to `op`, and its
/// parameters and body conform ([`check_parameters_and_body`], the body read as its
/// `Content-Type` says); every query parameter and top-level body field or part the spec
/// declares was sent (the samples set them all), so that none escapes the check.
fn check_request(
    spec: &Spec,
    op: &Operation,
    request: &Request<Full<Bytes>>,
    kinds: &mut Kinds,
) -> Result<(), String> {
    let uri = request.uri();
    let (_, captures) = route_to(spec, &op.id, request.method().as_str(), uri.path())?;
    let body = full_body(request.body().clone());
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match (body.is_empty(), content_type) {
        (true, Some(ct)) => return Err(format!("no body, but Content-Type {ct}")),
        (false, None) => return Err("a body without Content-Type".to_owned()),
        _ => {}
    }
    let checked = check_parameters_and_body(
        spec,
        op,
        captures,
        uri.query().unwrap_or(""),
        content_type,
        &body,
    )?;

    for param in op.params.iter().filter(|p| p.location == Location::Query) {
        if !checked.query.iter().any(|(n, _)| *n == param.name) {
            return Err(format!("query parameter {} was not sent", param.name));
        }
    }
    if let Some(request_body) = &op.body {
        let media = content_type
            .and_then(|ct| ct.split(';').next())
            .ok_or("the operation has a body; none was sent")?;
        let schema = request_body
            .schema(media.trim())
            .map_or(&Value::Null, |s| spec.deref(s));
        // Top-level fields of an object body, or parts; a body that is an array has none.
        let sent: Option<Vec<&str>> = match &checked.body {
            Some(Value::Object(fields)) => Some(fields.keys().map(String::as_str).collect()),
            Some(_) => None,
            None => Some(checked.parts.iter().map(String::as_str).collect()),
        };
        let declared = schema["properties"].as_object().into_iter().flatten();
        for (name, _) in declared {
            if sent
                .as_ref()
                .is_some_and(|sent| !sent.contains(&name.as_str()))
            {
                return Err(format!("body field {name} was not sent"));
            }
        }
    }

    kinds.path += checked.path_params.len();
    for (_, value) in &checked.query {
        match value {
            Value::Array(_) => kinds.query_array += 1,
            _ => kinds.query_scalar += 1,
        }
    }
    match (&checked.body, checked.parts.is_empty()) {
        (Some(_), _) => kinds.json_body += 1,
        (None, false) => kinds.multipart_body += 1,
        (None, true) => {}
    }
    Ok(())
}

#[test]
fn every_response_schema_instance_decodes_into_the_output_type() {
    let spec = spec();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let mut decoded = 0;
    for op in spec.operations() {
        if decode_as_output(&op.id, Value::Null).is_none() {
            skipped.push(&op.id);
            continue;
        }
        let mut successes = 0;
        for (status, response) in spec.responses(op) {
            if !status.starts_with('2') {
                continue;
            }
            successes += 1;
            let Some(schema) = spec.media_schema(response, "application/json") else {
                // No content: the body is empty, which decodes as `null`; a text body (the
                // interstitial's HTML) is a string.
                let body = match response["content"].as_object() {
                    Some(media) if !media.is_empty() => json!("<html>sample</html>"),
                    _ => Value::Null,
                };
                match decode_as_output(&op.id, body) {
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
                let value = instance(spec.doc(), schema, shape, SEED);
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
                match decode_as_output(&op.id, value) {
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

/// How many instances the random run draws per response schema (`CONTRACT_INSTANCES`
/// changes it), and the base of their seeds (`CONTRACT_SEED`: another value explores other
/// instances; a failure names the seed that reproduces it). `CONTRACT_DUMP` prints every
/// failure, not only the first 20.
fn random_run() -> (u64, u64) {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (
        var("CONTRACT_INSTANCES", 64),
        var("CONTRACT_SEED", 0x00c1_e4c5),
    )
}

/// The seed of instance `i` of a schema (`key` names the schema), from the run's base seed.
fn seed_of(base: u64, key: &str, i: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    base ^ h ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Random instances of every 2xx response schema, as Prism's dynamic mode answers: a seeded,
/// property-style run over every schema, many instances each, drawn by the spec engine among
/// everything the schema allows (optional fields present or not, `null` where nullable, any
/// enum value or branch, numbers anywhere in their bounds, negative where there is no
/// minimum). Each instance must be one the oracle allows (else the engine is wrong), and must
/// decode into the operation's output type: no model may fail on an instance the spec allows.
#[test]
fn random_response_instances_decode_into_the_output_type() {
    let spec = spec();
    let (per_schema, base) = random_run();
    let (mut schemas, mut instances) = (0, 0);
    let mut invalid = Vec::new();
    let mut failed = Vec::new();
    for op in spec.operations() {
        if decode_as_output(&op.id, Value::Null).is_none() {
            continue;
        }
        for (status, response) in spec.responses(op) {
            let Some(schema) = spec
                .media_schema(response, "application/json")
                .filter(|_| status.starts_with('2'))
            else {
                continue;
            };
            schemas += 1;
            let validator = spec.validator(schema);
            for i in 0..per_schema {
                let seed = seed_of(base, &format!("{} {status}", op.id), i);
                let value = instance(spec.doc(), schema, Shape::Random, seed);
                instances += 1;
                let errors = validator.errors(&value);
                if !errors.is_empty() {
                    invalid.push(format!("{} {status} seed {seed:#x}: {errors:?}", op.id));
                    continue;
                }
                if let Some(Err(e)) = decode_as_output(&op.id, value) {
                    failed.push(format!("{} {status} seed {seed:#x}: {e}", op.id));
                }
            }
        }
    }
    eprintln!(
        "contract: {instances} random instances of {schemas} response schemas (base seed \
         {base:#x}): {} not allowed by the spec, {} not decoded",
        invalid.len(),
        failed.len()
    );
    if std::env::var_os("CONTRACT_DUMP").is_some() {
        for line in invalid.iter().chain(&failed) {
            eprintln!("DUMP {line}");
        }
    }
    let show = |list: &[String]| list.iter().take(20).cloned().collect::<Vec<_>>().join("\n");
    assert!(
        invalid.is_empty(),
        "instances the oracle refuses:\n{}",
        show(&invalid)
    );
    assert!(
        failed.is_empty(),
        "instances the models refuse:\n{}",
        show(&failed)
    );
    if FULL {
        assert_eq!(schemas, 243);
    }
}

/// Over every component schema of the spec, the minimal, maximal and random instances are
/// ones the spec allows (the oracle says so): the instances the contract tests and the mock
/// rely on are what they claim to be.
#[test]
fn every_component_schema_gets_valid_instances() {
    let spec = spec();
    let (per_schema, base) = random_run();
    let schemas = spec.doc()["components"]["schemas"].as_object().unwrap();
    let mut failures = Vec::new();
    for (name, schema) in schemas {
        let validator = spec.validator(schema);
        let random = (0..per_schema / 4).map(|i| (Shape::Random, seed_of(base, name, i)));
        for (shape, seed) in [(Shape::Minimal, SEED), (Shape::Maximal, SEED)]
            .into_iter()
            .chain(random)
        {
            let value = instance(spec.doc(), schema, shape, seed);
            let errors = validator.errors(&value);
            if !errors.is_empty() {
                failures.push(format!("{name} {shape:?} {seed:#x}: {}", errors.join("; ")));
            }
        }
    }
    assert!(schemas.len() >= 160, "{}", schemas.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The shapes do what they say on a schema of the spec.
#[test]
fn shapes_of_the_allowlist_identifier() {
    let spec = spec();
    let schema = spec.component("AllowlistIdentifier");
    let build = |shape| instance(spec.doc(), schema, shape, SEED);
    let maximal = build(Shape::Maximal);
    let minimal = build(Shape::Minimal);
    assert!(maximal.as_object().unwrap().len() > minimal.as_object().unwrap().len());
    assert_eq!(
        build(Shape::UnknownEnum)["identifier_type"],
        UNKNOWN_ENUM_VALUE
    );
    assert!(build(Shape::ExtraField).get(EXTRA_FIELD).is_some());
}

/// An instance with an unknown enum value really carries one somewhere, for the operations
/// whose answers have enums: otherwise the shape would test nothing.
#[test]
fn unknown_enum_instances_carry_the_unknown_value() {
    let spec = spec();
    let user = spec.component("User");
    let value = instance(spec.doc(), user, Shape::UnknownEnum, SEED);
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
        let Some(call) = sample_call(&client, &op.id) else {
            skipped.push(&op.id);
            continue;
        };
        match call.await {
            Ok(()) => answered += 1,
            Err(e) => failures.push(format!("{} {} {}: {e:#}", op.id, op.method, op.path)),
        }
        // The request reached the mock as this operation (not another route).
        let log = mock.requests();
        let ids: Vec<&str> = log.iter().filter_map(|r| r.operation_id).collect();
        if ids != [op.id.as_str()] {
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
    // The machine tokens the verify samples name, and the session `CreateSessionToken`'s does:
    // the mock accepts only tokens and sessions it knows.
    for (class, secret) in [
        (TokenClass::ApiKey, "secret_123"),
        (TokenClass::M2mToken, "token_123"),
        (TokenClass::OAuthToken, "XXXXXXXXXXXXXX"),
    ] {
        mock.insert_token(class, secret, None)
            .expect("a machine token to seed");
    }
    mock.insert_session("session_123", "user_123");
    mock.insert_refresh_token("refresh_token_123", "session_123");
}
