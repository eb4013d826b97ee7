//! Test support for the contract tests: Clerk's spec as the spec engine (`clerk-tower-spec`)
//! reads it, and an independent oracle, the `jsonschema` crate, to validate against it.
//!
//! - [`spec`] is the contract: the resolved spec that `cargo xtask generate` writes
//!   (`src/api/generated/spec.json`, Clerk's spec with `spec/overlay.yaml` applied), the same
//!   document the client is generated from and the mock embeds. [`raw_spec`] is Clerk's spec as
//!   it ships (`spec/bapi-2026-05-12.yml`): the `gap_*` tests pin its gaps there.
//! - Routing, `$ref`s, parameters and instances are the engine's; what only the tests do is
//!   here: turning the spec's schemas into self-contained JSON Schemas for `jsonschema`
//!   ([`Spec::json_schema`]: `#/components/schemas/X` refs become `#/definitions/X`, other local
//!   refs are inlined, `nullable: true` becomes a `"null"` type, `format: int64` / `int32` the
//!   matching bounds), and checking a request against an operation
//!   ([`check_parameters_and_body`]).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use clerk_tower_spec::json::{deref, pointer, Json};
use clerk_tower_spec::text::{typed, Reading};
use clerk_tower_spec::{multipart, Location, Operation, Route};
use serde_json::{json, Map, Value};

/// Clerk's spec, vendored in the repository (with Clerk's MIT license beside it).
pub const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/bapi-2026-05-12.yml");
/// The overlay of corrections the generator applies to it (OpenAPI Overlay 1.0).
pub const OVERLAY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/overlay.yaml");
/// The spec with the overlay applied, as the generator writes it.
pub const RESOLVED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/generated/spec.json");

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The contract: the resolved spec, loaded once per test binary.
///
/// # Panics
/// When the file cannot be read or indexed: a missing or broken spec is a failure, never a skip.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::new(serde_json::from_str(&read(RESOLVED_PATH)).unwrap()))
}

/// Clerk's spec as it ships, without the overlay, loaded once per test binary.
///
/// # Panics
/// When the file cannot be read or parsed.
pub fn raw_spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let doc = clerk_tower_spec::yaml::parse_yaml(&read(SPEC_PATH), SPEC_PATH)
            .unwrap_or_else(|e| panic!("{e}"));
        Spec::new(doc)
    })
}

/// The overlay's actions, loaded once per test binary.
pub fn overlay() -> &'static [Value] {
    static OVERLAY: OnceLock<Vec<Value>> = OnceLock::new();
    OVERLAY.get_or_init(|| {
        let doc = clerk_tower_spec::yaml::parse_yaml(&read(OVERLAY_PATH), OVERLAY_PATH)
            .unwrap_or_else(|e| panic!("{e}"));
        doc["actions"].items().to_vec()
    })
}

/// The overlay's update of `target` (as written in the overlay), with its reason and source.
///
/// # Panics
/// When the overlay has no update of `target`: the gap it corrects lost its correction.
pub fn overlay_action(target: &str) -> &'static Value {
    let action = overlay()
        .iter()
        .find(|a| a["target"] == target && a.get("update").is_some())
        .unwrap_or_else(|| panic!("spec/overlay.yaml has no update of {target}"));
    assert!(
        action["description"].is_string() && action["x-source"].is_string(),
        "the overlay action on {target} needs a description (reason) and an x-source"
    );
    action
}

/// A spec indexed by the engine, with the tests' validators (what `Deref` does not cover: the
/// engine's own API is there, `spec.route(..)`, `spec.operations()`, ...).
pub struct Spec {
    engine: clerk_tower_spec::Spec,
    /// Compiled validators, by the text of the OpenAPI schema they were made from.
    cache: Mutex<HashMap<String, Arc<Schema>>>,
}

impl Deref for Spec {
    type Target = clerk_tower_spec::Spec;

    fn deref(&self) -> &clerk_tower_spec::Spec {
        &self.engine
    }
}

impl Spec {
    /// Indexes `doc`.
    ///
    /// # Panics
    /// When the engine refuses it.
    pub fn new(doc: Value) -> Spec {
        Spec {
            engine: clerk_tower_spec::Spec::new(doc).unwrap_or_else(|e| panic!("the spec: {e}")),
            cache: Mutex::default(),
        }
    }

    /// The operation with this id.
    ///
    /// # Panics
    /// When the spec has none.
    pub fn op(&self, id: &str) -> &Operation {
        self.operation(id)
            .unwrap_or_else(|| panic!("the spec has no operation {id}"))
    }

    /// `components.schemas.NAME`, as written.
    ///
    /// # Panics
    /// When the spec has no such schema.
    pub fn component(&self, name: &str) -> &Value {
        self.component_schema(name)
            .unwrap_or_else(|| panic!("the spec has no schema {name}"))
    }

    /// Follows `$ref`s.
    ///
    /// # Panics
    /// On a ref that is not local or points nowhere.
    pub fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        deref(self.doc(), value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The request body object of `op`, refs resolved, if it takes one.
    pub fn request_body(&self, op: &Operation) -> Option<&Value> {
        self.object(op).get("requestBody").map(|b| self.deref(b))
    }

    /// The statuses `op` declares, as written (`"200"`, `"4XX"`, `"default"`).
    pub fn declared_statuses(&self, op: &Operation) -> BTreeSet<String> {
        self.responses(op)
            .into_iter()
            .map(|(s, _)| s.to_owned())
            .collect()
    }

    /// A self-contained JSON Schema (draft 4) for an OpenAPI schema object of this spec.
    pub fn json_schema(&self, schema: &Value) -> Value {
        let mut resolver = Resolver {
            doc: self.doc(),
            definitions: BTreeMap::new(),
            pending: Vec::new(),
            inlining: Vec::new(),
        };
        let root = resolver.convert(schema);
        while let Some(name) = resolver.pending.pop() {
            if resolver.definitions.contains_key(&name) {
                continue;
            }
            // Reserve the name first, so a schema that refers to itself terminates.
            resolver.definitions.insert(name.clone(), Value::Null);
            let converted = resolver.convert(self.component(&name));
            resolver.definitions.insert(name, converted);
        }
        json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "allOf": [root],
            "definitions": resolver.definitions,
        })
    }

    /// [`json_schema`](Spec::json_schema), compiled (once per schema and test binary).
    pub fn validator(&self, schema: &Value) -> Arc<Schema> {
        let key = schema.to_string();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| Arc::new(Schema::compile(self.json_schema(schema))))
            .clone()
    }
}

struct Resolver<'s> {
    doc: &'s Value,
    definitions: BTreeMap<String, Value>,
    pending: Vec<String>,
    /// Non-schema refs being inlined right now (a cycle among them cannot be inlined).
    inlining: Vec<String>,
}

impl Resolver<'_> {
    /// Converts one OpenAPI schema object (and every schema under it) to JSON Schema draft 4.
    fn convert(&mut self, schema: &Value) -> Value {
        let Value::Object(map) = schema else {
            // `true`/`false` (e.g. `additionalProperties: false`) and anything unexpected.
            return schema.clone();
        };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            if let Some(name) = clerk_tower_spec::json::component_name(reference) {
                self.pending.push(name.clone());
                let escaped = name.replace('~', "~0").replace('/', "~1");
                return json!({ "$ref": format!("#/definitions/{escaped}") });
            }
            assert!(
                !self.inlining.iter().any(|r| r == reference),
                "cyclic non-schema ref {reference}"
            );
            self.inlining.push(reference.to_owned());
            let target = pointer(self.doc, reference).unwrap_or_else(|e| panic!("{e}"));
            let converted = self.convert(target);
            self.inlining.pop();
            return converted;
        }
        let mut out = Map::with_capacity(map.len());
        for (key, value) in map {
            let converted = match (key.as_str(), value) {
                // Maps of names to schemas.
                ("properties" | "patternProperties" | "definitions", Value::Object(m)) => {
                    Value::Object(
                        m.iter()
                            .map(|(k, v)| (k.clone(), self.convert(v)))
                            .collect(),
                    )
                }
                // Lists of schemas.
                ("allOf" | "anyOf" | "oneOf" | "items", Value::Array(list)) => {
                    Value::Array(list.iter().map(|v| self.convert(v)).collect())
                }
                // One schema.
                ("items" | "additionalProperties" | "not", _) => self.convert(value),
                // Everything else (enum, default, example, required, x-...) is data.
                _ => value.clone(),
            };
            out.insert(key.clone(), converted);
        }
        let bounds = match out.get("format").and_then(Value::as_str) {
            Some("int64") => Some((json!(i64::MIN), json!(i64::MAX))),
            Some("int32") => Some((json!(i32::MIN), json!(i32::MAX))),
            _ => None,
        };
        if let Some((min, max)) = bounds {
            out.remove("format");
            out.entry("minimum").or_insert(min);
            out.entry("maximum").or_insert(max);
        }
        // `nullable: true` admits `null` for the whole schema, compositions included
        // (`{type: object, nullable: true, allOf: [$ref]}` is Clerk's way to say "this object,
        // or null"; OpenAPI 3.0.3's narrower reading would refuse the null its SDKs decode).
        if out.remove("nullable") == Some(Value::Bool(true)) {
            if let Some(Value::Array(values)) = out.get_mut("enum") {
                if !values.contains(&Value::Null) {
                    values.push(Value::Null);
                }
            }
            let composed = ["allOf", "anyOf", "oneOf"]
                .iter()
                .any(|k| out.contains_key(*k));
            match out.get_mut("type") {
                Some(Value::String(ty)) if !composed => {
                    let ty = std::mem::take(ty);
                    out.insert("type".to_owned(), json!([ty, "null"]));
                }
                _ => return json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] }),
            }
        }
        Value::Object(out)
    }
}

/// A compiled JSON Schema.
pub struct Schema {
    /// The self-contained schema document.
    pub json: Value,
    validator: jsonschema::Validator,
}

impl Schema {
    /// Compiles a draft 4 schema.
    ///
    /// # Panics
    /// When the schema is not valid JSON Schema.
    pub fn compile(json: Value) -> Schema {
        let validator = jsonschema::draft4::new(&json)
            .unwrap_or_else(|e| panic!("invalid JSON Schema: {e}\n{json:#}"));
        Schema { json, validator }
    }

    /// Every validation error, as `path: message` lines; empty when valid.
    pub fn errors(&self, instance: &Value) -> Vec<String> {
        self.validator
            .iter_errors(instance)
            .map(|e| format!("at `{}`: {e}", e.instance_path()))
            .collect()
    }

    /// Panics with every error, the instance and `context` unless `instance` is valid.
    pub fn assert_valid(&self, instance: &Value, context: &str) {
        let errors = self.errors(instance);
        assert!(
            errors.is_empty(),
            "{context}: {instance} does not validate:\n  {}",
            errors.join("\n  ")
        );
    }
}

/// A raw query string as decoded `(name, value)` pairs, in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// An operation and its path parameters (name, percent-decoded value).
pub type Routed<'a> = (&'a Operation, Vec<(String, String)>);

/// Routes `method` `path` (relative to the server URL) as a server would, and checks that it
/// names the operation `expected`; its path parameters, percent-decoded.
pub fn route_to<'a>(
    spec: &'a Spec,
    expected: &str,
    method: &str,
    path: &str,
) -> Result<Routed<'a>, String> {
    match spec.route(method, path) {
        Route::Operation(op, captures) if op.id == expected => Ok((
            op,
            captures
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
        )),
        Route::Operation(op, _) => Err(format!(
            "{method} {path} is {} in the spec, not {expected}",
            op.id
        )),
        Route::MethodNotAllowed { template, .. } => Err(format!(
            "{method} {path}: {template} has no {method} in the spec"
        )),
        Route::NoPath => Err(format!("{method} {path}: no path of the spec matches")),
    }
}

/// What [`check_parameters_and_body`] read from a request that conforms.
#[derive(Debug)]
pub struct CheckedRequest {
    /// Path parameters, percent-decoded, in template order.
    pub path_params: Vec<(String, String)>,
    /// Query parameters as typed values (an array parameter as one JSON array), in the order
    /// first sent.
    pub query: Vec<(String, Value)>,
    /// The JSON body.
    pub body: Option<Value>,
    /// The names of the parts of a multipart body.
    pub parts: Vec<String>,
}

/// Checks the parameters and body of a request already routed to `op` (its path parameters
/// `captures`), each value against its schema with the oracle: each path parameter; every
/// query parameter is declared for `op`, sent once (an array parameter: repeated when
/// exploded, the OpenAPI default, or comma-joined), in the canonical text of its type, and the
/// required ones are there; the body is absent when `op` has none, present when required, and
/// otherwise valid against the schema of its media type: `content_type` (with its parameters),
/// or JSON when `None`. Multipart parts must be declared, files must have a filename, text parts
/// validate, required parts must be there, and nothing comes before the first delimiter.
pub fn check_parameters_and_body(
    spec: &Spec,
    op: &Operation,
    captures: Vec<(String, String)>,
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<CheckedRequest, String> {
    let mut path_params = Vec::new();
    for (name, value) in captures {
        let param = op
            .param(Location::Path, &name)
            .ok_or_else(|| format!("path parameter {name} is not declared"))?;
        let typed = typed(&param.schema, &value, Reading::Canonical)
            .ok_or_else(|| format!("path parameter {name}={value:?} is not of its type"))?;
        let errors = spec.validator(&param.schema).errors(&typed);
        if !errors.is_empty() {
            return Err(format!("path parameter {name}={value:?}: {errors:?}"));
        }
        path_params.push((name, value));
    }

    // Values by name, in the order first sent.
    let mut sent: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in query_pairs(query) {
        match sent.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => sent.push((name, vec![value])),
        }
    }
    let mut typed_query = Vec::new();
    for (name, values) in sent {
        let param = op
            .param(Location::Query, &name)
            .ok_or_else(|| format!("query parameter {name:?} is not declared for {}", op.id))?;
        let schema = &param.schema;
        let value = if schema["type"] == "array" {
            let texts: Vec<&str> = match (param.explode, values.as_slice()) {
                (true, _) => values.iter().map(String::as_str).collect(),
                (false, [one]) => one.split(',').collect(),
                (false, _) => return Err(format!("{name} is comma-joined, sent {values:?}")),
            };
            let items = spec.deref(&schema["items"]);
            texts
                .iter()
                .map(|t| typed(items, t, Reading::Canonical))
                .collect::<Option<Vec<Value>>>()
                .map(Value::Array)
                .ok_or_else(|| format!("query parameter {name}={values:?}: item types"))?
        } else {
            let [text] = values.as_slice() else {
                return Err(format!(
                    "query parameter {name} sent {} times",
                    values.len()
                ));
            };
            typed(schema, text, Reading::Canonical).ok_or_else(|| {
                format!(
                    "query parameter {name}={text:?} is not a {}",
                    schema["type"]
                )
            })?
        };
        let errors = spec.validator(schema).errors(&value);
        if !errors.is_empty() {
            return Err(format!("query parameter {name}={values:?}: {errors:?}"));
        }
        typed_query.push((name, value));
    }
    for p in &op.params {
        if p.required
            && p.location == Location::Query
            && !typed_query.iter().any(|(n, _)| *n == p.name)
        {
            return Err(format!("required query parameter {} missing", p.name));
        }
    }

    let mut checked = CheckedRequest {
        path_params,
        query: typed_query,
        body: None,
        parts: Vec::new(),
    };
    let Some(request_body) = &op.body else {
        if !body.is_empty() {
            return Err(format!("{} takes no body, got {} bytes", op.id, body.len()));
        }
        return Ok(checked);
    };
    if body.is_empty() {
        if request_body.required {
            return Err(format!("{} requires a body", op.id));
        }
        return Ok(checked);
    }
    let media = content_type
        .and_then(|ct| ct.split(';').next())
        .map_or("application/json", str::trim);
    let schema = request_body
        .schema(media)
        .map(|s| spec.deref(s))
        .ok_or_else(|| format!("{} has no {media} body", op.id))?;
    match media {
        "application/json" => {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
            let errors = spec.validator(schema).errors(&value);
            if !errors.is_empty() {
                return Err(format!("body {value}: {errors:?}"));
            }
            checked.body = Some(value);
        }
        "multipart/form-data" => {
            let boundary = content_type
                .and_then(multipart::boundary)
                .ok_or("multipart without a boundary")?;
            let parsed = multipart::parse(body, &boundary)?;
            if !parsed.preamble.is_empty() {
                return Err("bytes before the first multipart delimiter".to_owned());
            }
            for part in parsed.parts {
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
                    let text = std::str::from_utf8(part.data)
                        .map_err(|_| format!("part {} is not text", part.name))?;
                    let typed = typed(property, text, Reading::Canonical)
                        .ok_or_else(|| format!("part {}={text:?} is not of its type", part.name))?;
                    let errors = spec.validator(property).errors(&typed);
                    if !errors.is_empty() {
                        return Err(format!("part {}: {errors:?}", part.name));
                    }
                }
                checked.parts.push(part.name);
            }
            for required in schema.strings("required") {
                if !checked.parts.contains(&required) {
                    return Err(format!("required part {required} missing"));
                }
            }
        }
        other => return Err(format!("a body of {other}, which the checks cannot read")),
    }
    Ok(checked)
}

/// The bytes of a `Full<Bytes>` body (it is always ready: no runtime needed).
pub fn full_body(body: http_body_util::Full<bytes::Bytes>) -> bytes::Bytes {
    use http_body::Body as _;
    let mut body = std::pin::pin!(body);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    while let std::task::Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
        let Ok(frame) = frame;
        out.extend_from_slice(&frame.into_data().unwrap_or_default());
    }
    bytes::Bytes::from(out)
}
