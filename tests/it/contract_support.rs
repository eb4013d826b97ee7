//! Test support for `tests/contract.rs`: loads Clerk's OpenAPI spec, finds operations by
//! method and path, and turns the spec's schemas into self-contained JSON Schemas that the
//! `jsonschema` crate validates.
//!
//! - The spec is the copy vendored in `spec/` (Clerk's MIT license beside it); the tests
//!   always run.
//! - YAML is parsed with `yaml-rust2` (pure safe Rust, YAML 1.2) and converted to
//!   `serde_json::Value` here, so that integer or boolean mapping keys (`200:` unquoted) become
//!   the strings OpenAPI means, and anything we cannot represent is an error, not a guess.
//! - OpenAPI 3.0 schema objects are a dialect of JSON Schema draft 4 (boolean
//!   `exclusiveMinimum`, `definitions`-style refs). [`Spec::json_schema`] rewrites
//!   `#/components/schemas/X` refs into `#/definitions/X` of a self-contained document, inlines
//!   every other local ref, turns `nullable: true` into a `"null"` type, and turns
//!   `format: int64` / `int32` into the matching `minimum` / `maximum`.
//! - The overlay of corrections (`spec/overlay.yaml`) is read by [`overlay_action`]: the gap
//!   tests check that each gap they pin in the spec has its correction there.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Clerk's spec, vendored in the repository (with Clerk's MIT license beside it).
pub const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/bapi-2026-05-12.yml");

/// The vendored spec, loaded once per test binary.
///
/// # Panics
/// When the file cannot be read or parsed: a missing or broken spec is a failure, never a skip.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC_PATH)
            .unwrap_or_else(|e| panic!("cannot read {SPEC_PATH}: {e}"));
        Spec::parse(&text).unwrap_or_else(|e| panic!("{SPEC_PATH}: {e}"))
    })
}

/// The vendored spec with `spec/overlay.yaml` applied, as the generator reads it (the same
/// code: `xtask/src/spec.rs`), loaded once per test binary. The contract tests over every
/// operation check against it: the corrections are part of the contract.
///
/// # Panics
/// When a file cannot be read or parsed, or an overlay action selects nothing.
pub fn corrected_spec() -> &'static Spec {
    use crate::xtask_spec::{apply_overlay, parse_yaml, Node};
    fn json(node: &Node) -> Value {
        match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => json!(i),
            Node::Float(f) => json!(f),
            Node::Str(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(items.iter().map(json).collect()),
            Node::Map(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.clone(), json(v))).collect())
            }
        }
    }
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let read = |path: &str| {
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        };
        let mut doc = parse_yaml(&read(SPEC_PATH), SPEC_PATH).unwrap_or_else(|e| panic!("{e}"));
        let overlay =
            parse_yaml(&read(OVERLAY_PATH), OVERLAY_PATH).unwrap_or_else(|e| panic!("{e}"));
        apply_overlay(&mut doc, &overlay).unwrap_or_else(|e| panic!("{OVERLAY_PATH}: {e}"));
        Spec::from_json(json(&doc)).unwrap_or_else(|e| panic!("{SPEC_PATH} + overlay: {e}"))
    })
}

/// The overlay of corrections the generator applies to the spec (`spec/overlay.yaml`, OpenAPI
/// Overlay 1.0), vendored beside it.
pub const OVERLAY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/overlay.yaml");

/// The overlay's actions as JSON, loaded once per test binary.
///
/// # Panics
/// When the file cannot be read or parsed.
pub fn overlay() -> &'static [Value] {
    static OVERLAY: OnceLock<Vec<Value>> = OnceLock::new();
    OVERLAY.get_or_init(|| {
        let text = std::fs::read_to_string(OVERLAY_PATH)
            .unwrap_or_else(|e| panic!("cannot read {OVERLAY_PATH}: {e}"));
        let docs = YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{OVERLAY_PATH}: YAML: {e}"));
        let doc = yaml_to_json(&docs[0]).unwrap_or_else(|e| panic!("{OVERLAY_PATH}: {e}"));
        doc["actions"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("{OVERLAY_PATH}: no actions"))
    })
}

/// The overlay's action on `target` (as written in the overlay), with its reason and source.
///
/// # Panics
/// When the overlay has no action on `target`: the gap it corrects lost its correction.
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

/// Converts a YAML document into JSON. Mapping keys that are integers, booleans or reals
/// become their YAML text; aliases we could not resolve and non-scalar keys are errors.
pub fn yaml_to_json(yaml: &Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(text) => {
            let f = yaml
                .as_f64()
                .ok_or_else(|| format!("not a number: {text}"))?;
            Value::Number(
                serde_json::Number::from_f64(f)
                    .ok_or_else(|| format!("{text} has no JSON representation"))?,
            )
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => {
            Value::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Hash(hash) => {
            let mut map = Map::with_capacity(hash.len());
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                if map.insert(key.clone(), yaml_to_json(v)?).is_some() {
                    return Err(format!("duplicate key {key:?}"));
                }
            }
            Value::Object(map)
        }
        Yaml::Alias(n) => return Err(format!("unresolved YAML alias #{n}")),
        Yaml::BadValue => return Err("invalid YAML value".to_owned()),
    })
}

/// Clerk's OpenAPI document as JSON.
pub struct Spec {
    /// The whole document.
    pub doc: Value,
    /// The path of `servers[0].url` (`/v1`): what the client and the mock put before the
    /// spec's paths.
    pub base_path: String,
    /// Compiled validators, by the text of the OpenAPI schema they were made from.
    cache: Mutex<HashMap<String, Arc<Schema>>>,
}

/// One operation of the spec.
#[derive(Clone, Copy)]
pub struct Operation<'a> {
    /// The `operationId`.
    pub id: &'a str,
    /// The method, upper case.
    pub method: &'static str,
    /// The path template, e.g. `/allowlist_identifiers/{identifier_id}`.
    pub path: &'a str,
    /// The operation object.
    pub object: &'a Value,
    /// The path item the operation is in (for path-level parameters).
    pub path_item: &'a Value,
}

/// What [`Spec::route`] found.
pub enum Route<'a> {
    /// The path and method name this operation; the path parameters, percent-decoded.
    Operation(Operation<'a>, Vec<(String, String)>),
    /// The path exists in the spec, but not with this method.
    MethodNotDeclared(&'a str),
    /// No path of the spec matches.
    NoPath,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl Spec {
    /// Parses the YAML text of the spec.
    pub fn parse(text: &str) -> Result<Spec, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| format!("YAML: {e}"))?;
        let [yaml] = docs.as_slice() else {
            return Err(format!("expected one YAML document, found {}", docs.len()));
        };
        Spec::from_json(yaml_to_json(yaml)?)
    }

    /// The spec from its JSON form.
    pub fn from_json(doc: Value) -> Result<Spec, String> {
        let version = doc["openapi"].as_str().unwrap_or_default();
        if !version.starts_with("3.0.") {
            return Err(format!(
                "expected an OpenAPI 3.0 document, found {version:?}"
            ));
        }
        let server = doc["servers"][0]["url"]
            .as_str()
            .ok_or("no servers[0].url")?;
        let after_scheme = server.split_once("://").map_or(server, |(_, rest)| rest);
        let base_path = after_scheme
            .find('/')
            .map_or("", |i| &after_scheme[i..])
            .trim_end_matches('/')
            .to_owned();
        Ok(Spec {
            doc,
            base_path,
            cache: Mutex::default(),
        })
    }

    /// The operation with this `operationId`.
    ///
    /// # Panics
    /// When the spec has no such operation.
    pub fn operation(&self, id: &str) -> Operation<'_> {
        self.operations()
            .find(|op| op.id == id)
            .unwrap_or_else(|| panic!("the spec has no operation {id}"))
    }

    /// Every operation of the spec.
    pub fn operations(&self) -> impl Iterator<Item = Operation<'_>> {
        self.doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(path, item)| {
                METHODS.iter().filter_map(move |m| {
                    let object = item.get(*m)?;
                    Some(Operation {
                        id: object["operationId"].as_str().unwrap_or_default(),
                        method: upper(m),
                        path,
                        object,
                        path_item: item,
                    })
                })
            })
    }

    /// Finds the operation a request names, as an OpenAPI server would: `path` is relative to
    /// the server URL (no `/v1`) and still percent-encoded. A template segment `{name}` matches
    /// one whole non-empty segment; when several paths match, the one with more literal
    /// segments wins (OpenAPI: concrete paths before templated ones).
    pub fn route(&self, method: &str, path: &str) -> Route<'_> {
        let segments: Vec<&str> = path.split('/').collect();
        // (literal segments, template, path item, captures) of the best match so far.
        type Match<'a> = (usize, &'a str, &'a Value, Vec<(String, String)>);
        let mut best: Option<Match<'_>> = None;
        let mut tie = false;
        for (template, item) in self.doc["paths"].as_object().into_iter().flatten() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let mut captures = Vec::new();
            let matched = parts.iter().zip(&segments).all(|(part, seg)| {
                match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) => {
                        let decoded = percent_encoding::percent_decode_str(seg).decode_utf8();
                        match decoded {
                            Ok(value) if !seg.is_empty() => {
                                captures.push((name.to_owned(), value.into_owned()));
                                true
                            }
                            _ => false,
                        }
                    }
                    None => {
                        literal += 1;
                        part == seg
                    }
                }
            });
            if !matched {
                continue;
            }
            match &best {
                Some((n, ..)) if *n > literal => {}
                Some((n, ..)) if *n == literal => tie = true,
                _ => {
                    tie = false;
                    best = Some((literal, template.as_str(), item, captures));
                }
            }
        }
        assert!(
            !tie,
            "{path} matches several paths of the spec equally well"
        );
        let Some((_, template, item, captures)) = best else {
            return Route::NoPath;
        };
        let lower = method.to_ascii_lowercase();
        match item.get(&lower) {
            Some(object) => Route::Operation(
                Operation {
                    id: object["operationId"].as_str().unwrap_or_default(),
                    method: upper(&lower),
                    path: template,
                    object,
                    path_item: item,
                },
                captures,
            ),
            None => Route::MethodNotDeclared(template),
        }
    }

    /// Resolves a local `$ref` (`#/a/b/c`, JSON pointer escapes honoured).
    ///
    /// # Panics
    /// On a ref that is not local or points nowhere.
    pub fn pointer(&self, reference: &str) -> &Value {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local refs are supported: {reference}"));
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling ref {reference}"))
    }

    /// Follows `$ref`s until an object that is not one.
    pub fn deref<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => value = self.pointer(reference),
                None => return value,
            }
        }
        panic!("$ref chain too long");
    }

    /// The operation's parameters (path-item level, then operation level overriding by
    /// name and location), refs resolved.
    pub fn parameters<'a>(&'a self, op: &Operation<'a>) -> Vec<&'a Value> {
        let mut out: Vec<&Value> = Vec::new();
        for list in [&op.path_item["parameters"], &op.object["parameters"]] {
            for p in list.as_array().into_iter().flatten() {
                let p = self.deref(p);
                out.retain(|q| !(q["name"] == p["name"] && q["in"] == p["in"]));
                out.push(p);
            }
        }
        out
    }

    /// The parameter `name` in `location` (`query`, `path`, `header`), if declared.
    pub fn parameter<'a>(
        &'a self,
        op: &Operation<'a>,
        location: &str,
        name: &str,
    ) -> Option<&'a Value> {
        self.parameters(op)
            .into_iter()
            .find(|p| p["in"] == location && p["name"] == name)
    }

    /// The request body object, refs resolved, if the operation has one.
    pub fn request_body<'a>(&'a self, op: &Operation<'a>) -> Option<&'a Value> {
        op.object.get("requestBody").map(|b| self.deref(b))
    }

    /// The statuses the operation declares, as written (`"200"`, `"4XX"`, `"default"`).
    pub fn declared_statuses(&self, op: &Operation<'_>) -> BTreeSet<String> {
        op.object["responses"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The response object for `status`: an exact code, else its range (`4XX`), else
    /// `default`; refs resolved.
    pub fn response<'a>(&'a self, op: &Operation<'a>, status: u16) -> Option<&'a Value> {
        let responses = &op.object["responses"];
        let range = format!("{}XX", status / 100);
        [status.to_string(), range, "default".to_owned()]
            .iter()
            .find_map(|key| responses.get(key))
            .map(|r| self.deref(r))
    }

    /// The JSON schema of `media` (e.g. `application/json`) in a response or request body
    /// object.
    pub fn media_schema<'a>(&'a self, object: &'a Value, media: &str) -> Option<&'a Value> {
        object.get("content")?.get(media)?.get("schema")
    }

    /// `components.schemas.NAME`, as written.
    pub fn component_schema(&self, name: &str) -> &Value {
        self.doc["components"]["schemas"]
            .get(name)
            .unwrap_or_else(|| panic!("the spec has no schema {name}"))
    }

    /// A self-contained JSON Schema (draft 4) for an OpenAPI schema object of this spec.
    pub fn json_schema(&self, schema: &Value) -> Value {
        let mut resolver = Resolver {
            spec: self,
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
            let converted = resolver.convert(self.component_schema(&name));
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

fn upper(method: &str) -> &'static str {
    match method {
        "get" => "GET",
        "put" => "PUT",
        "post" => "POST",
        "delete" => "DELETE",
        "options" => "OPTIONS",
        "head" => "HEAD",
        "patch" => "PATCH",
        "trace" => "TRACE",
        other => panic!("not an HTTP method: {other}"),
    }
}

struct Resolver<'s> {
    spec: &'s Spec,
    definitions: BTreeMap<String, Value>,
    pending: Vec<String>,
    /// Non-schema refs being inlined right now (a cycle among them cannot be inlined).
    inlining: Vec<String>,
}

const SCHEMA_PREFIX: &str = "#/components/schemas/";

impl Resolver<'_> {
    /// Converts one OpenAPI schema object (and every schema under it) to JSON Schema draft 4.
    fn convert(&mut self, schema: &Value) -> Value {
        let Value::Object(map) = schema else {
            // `true`/`false` (e.g. `additionalProperties: false`) and anything unexpected.
            return schema.clone();
        };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            if let Some(name) = reference.strip_prefix(SCHEMA_PREFIX) {
                let name = name.replace("~1", "/").replace("~0", "~");
                self.pending.push(name.clone());
                let escaped = name.replace('~', "~0").replace('/', "~1");
                return json!({ "$ref": format!("#/definitions/{escaped}") });
            }
            assert!(
                !self.inlining.iter().any(|r| r == reference),
                "cyclic non-schema ref {reference}"
            );
            self.inlining.push(reference.to_owned());
            let target = self.convert(self.spec.pointer(reference));
            self.inlining.pop();
            return target;
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
        match out.get("format").and_then(Value::as_str) {
            Some("int64") => {
                out.remove("format");
                out.entry("minimum").or_insert(json!(i64::MIN));
                out.entry("maximum").or_insert(json!(i64::MAX));
            }
            Some("int32") => {
                out.remove("format");
                out.entry("minimum").or_insert(json!(i32::MIN));
                out.entry("maximum").or_insert(json!(i32::MAX));
            }
            _ => {}
        }
        if out.remove("nullable") == Some(Value::Bool(true)) {
            if let Some(Value::Array(values)) = out.get_mut("enum") {
                if !values.contains(&Value::Null) {
                    values.push(Value::Null);
                }
            }
            match out.get_mut("type") {
                Some(Value::String(ty)) => {
                    let ty = std::mem::take(ty);
                    out.insert("type".to_owned(), json!([ty, "null"]));
                }
                Some(_) => {}
                None => return json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] }),
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

/// Splits a raw query string into percent-decoded `(name, value)` pairs, in order. A `+` is
/// kept as is (our client never sends one; Clerk's Go server reads it as a space).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap_or_else(|e| panic!("query {query:?} is not UTF-8: {e}"))
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// Reads a query or path parameter's text as the JSON value its schema's `type` calls for
/// (OpenAPI's default `form` style with `explode`, scalars only). `None` when the text is not
/// a value of that type at all: `"yes"` for a boolean, `"1.0"` or `"+1"` for an integer.
pub fn typed_parameter(schema: &Value, text: &str) -> Option<Value> {
    match schema["type"].as_str() {
        Some("boolean") => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        Some("integer") => {
            let canonical = |s: &str| {
                let digits = s.strip_prefix('-').unwrap_or(s);
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'))
            };
            if !canonical(text) {
                return None;
            }
            text.parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.parse::<u64>().map(Value::from))
                .ok()
        }
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
        Some("string") | None => Some(Value::String(text.to_owned())),
        Some(_) => None,
    }
}

/// Routes `method` `path` (relative to the server URL) as a server would, and checks that it
/// names the operation `expected`; its path parameters, percent-decoded.
pub fn route_to<'a>(
    spec: &'a Spec,
    expected: &str,
    method: &str,
    path: &str,
) -> Result<(Operation<'a>, Vec<(String, String)>), String> {
    match spec.route(method, path) {
        Route::Operation(op, captures) if op.id == expected => Ok((op, captures)),
        Route::Operation(op, _) => Err(format!(
            "{method} {path} is {} in the spec, not {expected}",
            op.id
        )),
        Route::MethodNotDeclared(t) => {
            Err(format!("{method} {path}: {t} has no {method} in the spec"))
        }
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
/// `captures`): each path parameter validates against its schema; every query parameter is
/// declared for `op`, sent once (an array parameter: repeated when exploded, the OpenAPI
/// default, or comma-joined), of its type and range, and the required ones are there; the body
/// is absent when `op` has none, present when required, and otherwise valid against the
/// schema of its media type: `content_type` (with its parameters), or JSON when `None`.
/// Multipart parts must be declared, files must have a filename, text parts validate, and
/// required parts must be there.
pub fn check_parameters_and_body(
    spec: &Spec,
    op: &Operation<'_>,
    captures: Vec<(String, String)>,
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<CheckedRequest, String> {
    let mut path_params = Vec::new();
    for (name, value) in captures {
        let param = spec
            .parameter(op, "path", &name)
            .ok_or_else(|| format!("path parameter {name} is not declared"))?;
        let typed = typed_parameter(&param["schema"], &value)
            .ok_or_else(|| format!("path parameter {name}={value:?} is not of its type"))?;
        let errors = spec.validator(&param["schema"]).errors(&typed);
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
        let param = spec
            .parameter(op, "query", &name)
            .ok_or_else(|| format!("query parameter {name:?} is not declared for {}", op.id))?;
        let schema = spec.deref(&param["schema"]);
        let value = if schema["type"] == "array" {
            let exploded = param["explode"].as_bool().unwrap_or(true);
            let texts: Vec<&str> = match (exploded, values.as_slice()) {
                (true, _) => values.iter().map(String::as_str).collect(),
                (false, [one]) => one.split(',').collect(),
                (false, _) => return Err(format!("{name} is comma-joined, sent {values:?}")),
            };
            let items = spec.deref(&schema["items"]);
            texts
                .iter()
                .map(|t| typed_parameter(items, t))
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
            typed_parameter(schema, text).ok_or_else(|| {
                format!(
                    "query parameter {name}={text:?} is not a {}",
                    schema["type"]
                )
            })?
        };
        let errors = spec.validator(&param["schema"]).errors(&value);
        if !errors.is_empty() {
            return Err(format!("query parameter {name}={values:?}: {errors:?}"));
        }
        typed_query.push((name, value));
    }
    for p in spec.parameters(op) {
        let name = p["name"].as_str().unwrap_or_default();
        if p["required"] == true
            && p["in"] == "query"
            && !typed_query.iter().any(|(n, _)| n == name)
        {
            return Err(format!("required query parameter {name} missing"));
        }
    }

    let mut checked = CheckedRequest {
        path_params,
        query: typed_query,
        body: None,
        parts: Vec::new(),
    };
    let Some(request_body) = spec.request_body(op) else {
        if !body.is_empty() {
            return Err(format!("{} takes no body, got {} bytes", op.id, body.len()));
        }
        return Ok(checked);
    };
    if body.is_empty() {
        if request_body["required"] == true {
            return Err(format!("{} requires a body", op.id));
        }
        return Ok(checked);
    }
    let media = content_type
        .and_then(|ct| ct.split(';').next())
        .map_or("application/json", str::trim);
    let schema = spec
        .media_schema(request_body, media)
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
                .and_then(|ct| ct.split("boundary=").nth(1))
                .map(|b| b.trim_matches('"'))
                .ok_or("multipart without a boundary")?;
            for part in multipart_parts(body, boundary)? {
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
                checked.parts.push(part.name);
            }
            for required in schema["required"].as_array().into_iter().flatten() {
                let required = required.as_str().unwrap_or_default();
                if !checked.parts.iter().any(|p| p == required) {
                    return Err(format!("required part {required} missing"));
                }
            }
        }
        other => return Err(format!("a body of {other}, which the checks cannot read")),
    }
    Ok(checked)
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
    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n{delimiter}");
    let mut parts = Vec::new();
    let mut rest = body
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
