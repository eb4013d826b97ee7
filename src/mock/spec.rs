//! Clerk's OpenAPI spec, embedded in the binary and indexed once per process: what the mock's
//! generic routes are made of.
//!
//! The spec (`spec/bapi-2026-05-12.yml`, Clerk's MIT license beside it) is parsed with
//! `yaml-rust2` into a [`serde_json::Value`] the first time a request needs it (never in
//! [`MockClerk::new`](super::MockClerk::new)), and indexed: per operation its id, method, path
//! template, path and query parameters, request body and first 2xx response. Nothing here
//! panics: a spec that does not parse or does not have the expected shape is a [`SpecError`],
//! and the generic routes then answer 500.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::generic::Skeleton;

/// The vendored spec, as shipped in the repository.
const SPEC_YAML: &str = include_str!("../../spec/bapi-2026-05-12.yml");

/// The path prefix of every Clerk route (`servers[0].url` is `https://api.clerk.com/v1`).
pub(crate) const BASE_PATH: &str = "/v1";

/// How many `$ref` hops [`SpecIndex::deref`] follows before giving up.
const MAX_REF_HOPS: usize = 32;

/// The HTTP methods OpenAPI path items may hold, in the spec's order.
const METHODS: [(&str, Method); 8] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("head", Method::HEAD),
    ("patch", Method::PATCH),
    ("trace", Method::TRACE),
];

static NULL: Value = Value::Null;

/// Why the embedded spec could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecError(pub(crate) String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the embedded OpenAPI spec cannot be used: {}", self.0)
    }
}

impl std::error::Error for SpecError {}

/// Converts a YAML document into JSON. Mapping keys that are integers, booleans or reals
/// become their YAML text (`200:` is the status `"200"`); aliases, non-scalar keys, duplicate
/// keys and reals without a JSON representation are errors.
pub(crate) fn yaml_to_json(yaml: &Yaml) -> Result<Value, SpecError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(text) => {
            let number = yaml
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .ok_or_else(|| SpecError(format!("{text} is not a JSON number")))?;
            Value::Number(number)
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
                    other => return Err(SpecError(format!("unsupported mapping key {other:?}"))),
                };
                if map.insert(key.clone(), yaml_to_json(v)?).is_some() {
                    return Err(SpecError(format!("duplicate key {key:?}")));
                }
            }
            Value::Object(map)
        }
        Yaml::Alias(n) => return Err(SpecError(format!("unresolved YAML alias #{n}"))),
        Yaml::BadValue => return Err(SpecError("invalid YAML value".to_owned())),
    })
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
}

/// One path or query parameter of an operation.
#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) required: bool,
    /// The parameter's schema, `$ref`s of the top level resolved.
    pub(crate) schema: Value,
    /// For arrays: `true` (the default of the `form` style) sends `a=1&a=2`, `false` sends
    /// `a=1,2`.
    pub(crate) explode: bool,
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Multipart,
}

/// The request body an operation takes.
#[derive(Debug)]
pub(crate) struct BodySpec {
    pub(crate) kind: BodyKind,
    pub(crate) required: bool,
    pub(crate) schema: Value,
}

/// The answer an operation gives: its first 2xx response.
#[derive(Debug)]
pub(crate) struct AnswerSpec {
    pub(crate) status: StatusCode,
    /// `application/json` when the response has a JSON body, `None` when it declares none.
    pub(crate) json_schema: Option<Value>,
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// One operation of the spec.
#[derive(Debug)]
pub(crate) struct OpInfo {
    /// The `operationId`, e.g. `GetUser`.
    pub(crate) id: String,
    pub(crate) method: Method,
    /// The path template, without `/v1`, e.g. `/users/{user_id}`.
    pub(crate) template: String,
    pub(crate) params: Vec<Param>,
    pub(crate) body: Option<BodySpec>,
    pub(crate) answer: AnswerSpec,
    /// `security: []`: the operation takes no key (`GetPublicInterstitial`).
    pub(crate) public: bool,
    /// The answer's skeleton, built on first use.
    pub(crate) skeleton: OnceLock<Skeleton>,
}

/// One path of the spec and the operations on it.
#[derive(Debug)]
struct PathEntry {
    segments: Vec<Segment>,
    /// `(method, index into ops)`, in the spec's method order.
    methods: Vec<(Method, usize)>,
    /// The value of a 405's `Allow` header, e.g. `GET, POST`.
    allow: String,
}

/// The parsed spec and its index.
#[derive(Debug)]
pub(crate) struct SpecIndex {
    /// The whole document as JSON.
    pub(crate) doc: Value,
    pub(crate) ops: Vec<OpInfo>,
    paths: Vec<PathEntry>,
    /// How long parsing and indexing took.
    pub(crate) load_time: Duration,
}

/// What [`SpecIndex::route`] found for a method and path.
#[derive(Debug)]
pub(crate) enum SpecRoute<'a> {
    /// The operation, with its path parameters (name, percent-decoded value).
    Operation(&'a OpInfo, Vec<(&'a str, String)>),
    /// The path exists with other methods: the value of `Allow`.
    MethodNotAllowed(&'a str),
    /// No path of the spec matches.
    NoPath,
}

/// The embedded spec, parsed and indexed on first use (once per process).
pub(crate) fn index() -> Result<&'static SpecIndex, &'static SpecError> {
    static INDEX: OnceLock<Result<SpecIndex, SpecError>> = OnceLock::new();
    INDEX.get_or_init(|| SpecIndex::load(SPEC_YAML)).as_ref()
}

impl SpecIndex {
    /// Parses and indexes the YAML text of an OpenAPI 3.0 spec.
    pub(crate) fn load(text: &str) -> Result<SpecIndex, SpecError> {
        let started = Instant::now();
        let docs = YamlLoader::load_from_str(text).map_err(|e| SpecError(format!("YAML: {e}")))?;
        let [yaml] = docs.as_slice() else {
            return Err(SpecError(format!(
                "expected one YAML document, found {}",
                docs.len()
            )));
        };
        let doc = yaml_to_json(yaml)?;
        let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
        if !version.starts_with("3.0.") {
            return Err(SpecError(format!(
                "expected OpenAPI 3.0, found {version:?}"
            )));
        }
        let mut index = SpecIndex {
            doc: Value::Null,
            ops: Vec::new(),
            paths: Vec::new(),
            load_time: Duration::ZERO,
        };
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| SpecError("no `paths`".to_owned()))?;
        for (template, item) in paths {
            let segments = template
                .split('/')
                .skip(1)
                .map(
                    |s| match s.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => Segment::Param(name.to_owned()),
                        None => Segment::Literal(s.to_owned()),
                    },
                )
                .collect();
            let mut entry = PathEntry {
                segments,
                methods: Vec::new(),
                allow: String::new(),
            };
            for (name, method) in &METHODS {
                let Some(object) = item.get(*name) else {
                    continue;
                };
                let op = index_operation(&doc, template, method.clone(), item, object)?;
                entry.methods.push((method.clone(), index.ops.len()));
                index.ops.push(op);
            }
            entry.allow = entry
                .methods
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            index.paths.push(entry);
        }
        index.doc = doc;
        index.load_time = started.elapsed();
        Ok(index)
    }

    /// Finds the operation for a method and a path under `/v1` (still percent-encoded, e.g.
    /// `/users/user_123`), as an OpenAPI server does: a template segment `{name}` matches one
    /// whole non-empty segment that decodes to UTF-8, and when several paths match, the one
    /// whose first literal segment comes earliest among the differing positions wins
    /// (`/users/count` before `/users/{user_id}`).
    pub(crate) fn route<'a>(&'a self, method: &Method, path: &str) -> SpecRoute<'a> {
        let Some(rest) = path.strip_prefix('/') else {
            return SpecRoute::NoPath;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut best: Option<(&PathEntry, Vec<bool>)> = None;
        for entry in &self.paths {
            if entry.segments.len() != parts.len() {
                continue;
            }
            let mut literal = Vec::with_capacity(parts.len());
            let matched = entry
                .segments
                .iter()
                .zip(&parts)
                .all(|(seg, part)| match seg {
                    Segment::Literal(text) => {
                        literal.push(true);
                        text == part
                    }
                    Segment::Param(_) => {
                        literal.push(false);
                        !part.is_empty()
                            && percent_encoding::percent_decode_str(part)
                                .decode_utf8()
                                .is_ok()
                    }
                });
            if matched && best.as_ref().is_none_or(|(_, b)| literal > *b) {
                best = Some((entry, literal));
            }
        }
        let Some((entry, _)) = best else {
            return SpecRoute::NoPath;
        };
        let Some(op) = entry
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .and_then(|(_, i)| self.ops.get(*i))
        else {
            return SpecRoute::MethodNotAllowed(&entry.allow);
        };
        let captures = entry
            .segments
            .iter()
            .zip(&parts)
            .filter_map(|(seg, part)| match seg {
                Segment::Param(name) => Some((
                    name.as_str(),
                    percent_encoding::percent_decode_str(part)
                        .decode_utf8_lossy()
                        .into_owned(),
                )),
                Segment::Literal(_) => None,
            })
            .collect();
        SpecRoute::Operation(op, captures)
    }

    /// The operation with this id.
    pub(crate) fn operation(&self, id: &str) -> Option<&OpInfo> {
        self.ops.iter().find(|op| op.id == id)
    }
}

/// Follows `$ref`s (local JSON pointers into `doc`) until a value that is not one; a ref that
/// points nowhere, or a chain longer than 32 hops, gives `null` (a schema that allows
/// anything).
pub(crate) fn deref_in<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        value = reference
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .unwrap_or(&NULL);
    }
    &NULL
}

/// Indexes one operation object.
fn index_operation(
    doc: &Value,
    template: &str,
    method: Method,
    item: &Value,
    object: &Value,
) -> Result<OpInfo, SpecError> {
    let id = object
        .get("operationId")
        .and_then(Value::as_str)
        .ok_or_else(|| SpecError(format!("{method} {template} has no operationId")))?
        .to_owned();
    // Path-item parameters first, then the operation's, which override by name and location.
    let mut params: Vec<Param> = Vec::new();
    for list in [item.get("parameters"), object.get("parameters")] {
        for raw in list.and_then(Value::as_array).into_iter().flatten() {
            let p = deref_in(doc, raw);
            let location = match p.get("in").and_then(Value::as_str) {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                // Header and cookie parameters: none in Clerk's spec; not checked.
                _ => continue,
            };
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            let schema = deref_in(doc, p.get("schema").unwrap_or(&NULL)).clone();
            let explode = p
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or_else(|| {
                    p.get("style")
                        .and_then(Value::as_str)
                        .is_none_or(|s| s == "form")
                });
            params.retain(|q| !(q.name == name && q.location == location));
            params.push(Param {
                name: name.to_owned(),
                location,
                required: location == Location::Path
                    || p.get("required").and_then(Value::as_bool).unwrap_or(false),
                schema,
                explode,
            });
        }
    }
    let body = object.get("requestBody").and_then(|raw| {
        let body = deref_in(doc, raw);
        let content = body.get("content")?.as_object()?;
        let required = body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (kind, media) = content.iter().find_map(|(media, object)| {
            let essence = media.split(';').next().unwrap_or("").trim();
            if essence.eq_ignore_ascii_case("application/json") {
                Some((BodyKind::Json, object))
            } else if essence.eq_ignore_ascii_case("multipart/form-data") {
                Some((BodyKind::Multipart, object))
            } else {
                None
            }
        })?;
        Some(BodySpec {
            kind,
            required,
            schema: media.get("schema").cloned().unwrap_or(Value::Null),
        })
    });
    let responses = object
        .get("responses")
        .and_then(Value::as_object)
        .ok_or_else(|| SpecError(format!("{id} has no responses")))?;
    let (status, response) = responses
        .iter()
        .filter_map(|(code, response)| {
            let code: u16 = code.parse().ok()?;
            (200..300).contains(&code).then_some((code, response))
        })
        .min_by_key(|(code, _)| *code)
        .ok_or_else(|| SpecError(format!("{id} declares no 2xx response")))?;
    let status =
        StatusCode::from_u16(status).map_err(|_| SpecError(format!("{id}: status {status}")))?;
    let json_schema = deref_in(doc, response)
        .get("content")
        .and_then(|c| c.get("application/json"))
        .map(|media| media.get("schema").cloned().unwrap_or(Value::Null));
    let public = object
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty);
    Ok(OpInfo {
        id,
        method,
        template: template.to_owned(),
        params,
        body,
        answer: AnswerSpec {
            status,
            json_schema,
        },
        public,
        skeleton: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_spec_indexes_every_operation() {
        let spec = index().unwrap();
        eprintln!("spec parsed and indexed in {:?}", spec.load_time);
        assert_eq!(spec.ops.len(), 249);
        let count = spec.route(&Method::GET, "/users/count");
        assert!(matches!(count, SpecRoute::Operation(op, _) if op.id == "GetUsersCount"));
        match spec.route(&Method::GET, "/users/user_%41b") {
            SpecRoute::Operation(op, params) => {
                assert_eq!(op.id, "GetUser");
                assert_eq!(params, vec![("user_id", "user_Ab".to_owned())]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            spec.route(&Method::PUT, "/allowlist_identifiers"),
            SpecRoute::MethodNotAllowed("GET, POST")
        ));
        for path in ["/nope", "/users/", "/users//x", "", "users"] {
            assert!(
                matches!(spec.route(&Method::GET, path), SpecRoute::NoPath),
                "{path}"
            );
        }
        let interstitial = spec.operation("GetPublicInterstitial").unwrap();
        assert!(interstitial.public);
        assert!(interstitial.answer.json_schema.is_none());
    }

    #[test]
    fn broken_specs_are_errors_not_panics() {
        for text in [
            "",
            "a: [",
            "openapi: 2.0\npaths: {}",
            "openapi: 3.0.0",
            "openapi: 3.0.0\npaths:\n  /x:\n    get: {}",
            "openapi: 3.0.0\npaths:\n  /x:\n    get:\n      operationId: X\n      responses: {400: {}}",
            "a: 1\na: 2",
            "--- 1\n--- 2",
            "? [a]\n: 1",
        ] {
            assert!(SpecIndex::load(text).is_err(), "{text:?}");
        }
        // Whatever yaml-rust2 makes of these, loading returns instead of panicking.
        for text in [
            "a: &x 1\nb: *x",
            "a: !!binary x",
            "{a: .nan}",
            "- .inf",
            "\u{0}",
        ] {
            let _ = SpecIndex::load(text);
        }
    }
}
