//! The spec as one indexed document: its operations (parameters, request body, responses)
//! and the router from a method and a path to an operation and its path parameters.

use serde_json::Value;

use crate::json::{deref, Json};

/// The HTTP methods a path item may hold, in the order OpenAPI lists them.
const METHODS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("trace", "TRACE"),
];

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A segment of the path.
    Path,
    /// The query string.
    Query,
    /// A header.
    Header,
    /// A cookie.
    Cookie,
}

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param {
    /// The name on the wire.
    pub name: String,
    /// Where it goes.
    pub location: Location,
    /// Required (path parameters always are).
    pub required: bool,
    /// The parameter's schema, the `$ref`s of its top level resolved.
    pub schema: Value,
    /// For arrays: `a=1&a=2` (true, the default of the `form` style) or `a=1,2`.
    pub explode: bool,
    /// The parameter object, `$ref`s resolved.
    pub object: Value,
}

/// The request body an operation takes.
#[derive(Debug, Clone)]
pub struct RequestBody {
    /// Whether a request must have one.
    pub required: bool,
    /// `(media type, schema as written)`, in the spec's order.
    pub content: Vec<(String, Value)>,
}

impl RequestBody {
    /// The schema (as written) of this media type's essence (`application/json`), if the body
    /// takes it.
    pub fn schema(&self, media: &str) -> Option<&Value> {
        self.content
            .iter()
            .find(|(m, _)| {
                m.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case(media)
            })
            .map(|(_, schema)| schema)
    }
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The `operationId`, e.g. `GetUser`.
    pub id: String,
    /// The method, upper case.
    pub method: &'static str,
    /// The path template, relative to the server URL: `/users/{user_id}`.
    pub path: String,
    /// Path-item parameters, then the operation's (which override them by name and location).
    pub params: Vec<Param>,
    /// The request body, if it takes one.
    pub body: Option<RequestBody>,
    /// `security: []`: the operation takes no key (`GetPublicInterstitial`).
    pub public: bool,
    /// The lowest 2xx status the operation declares.
    pub success: u16,
    /// Its position in [`Spec::operations`], for tables kept beside the spec.
    pub index: usize,
    /// Where the operation object is in the document (a JSON pointer).
    object: String,
}

impl Operation {
    /// The parameter `name` in `location`, if declared.
    pub fn param(&self, location: Location, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.location == location && p.name == name)
    }
}

/// What [`Spec::route`] found for a method and a path.
#[derive(Debug)]
pub enum Route<'a> {
    /// The operation, with its path parameters (name, percent-decoded value) in template order.
    Operation(&'a Operation, Vec<(&'a str, String)>),
    /// The path exists with other methods.
    MethodNotAllowed {
        /// The path template that matched.
        template: &'a str,
        /// The methods it has, for an `Allow` header: `GET, POST`.
        allow: &'a str,
    },
    /// No path of the spec matches.
    NoPath,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug)]
struct PathEntry {
    template: String,
    segments: Vec<Segment>,
    /// `(method, index into ops)`.
    methods: Vec<(&'static str, usize)>,
    allow: String,
}

/// An OpenAPI 3.0 document and its index.
#[derive(Debug)]
pub struct Spec {
    doc: Value,
    base_path: String,
    ops: Vec<Operation>,
    paths: Vec<PathEntry>,
}

/// `/` and `~` escaped for a JSON pointer.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl Spec {
    /// Parses and indexes the JSON text of an OpenAPI 3.0 document.
    ///
    /// # Errors
    /// As [`Spec::new`], and for text that is not JSON.
    pub fn from_json(text: &str) -> Result<Spec, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("JSON: {e}"))?;
        Spec::new(doc)
    }

    /// Indexes an OpenAPI 3.0 document.
    ///
    /// # Errors
    /// Not OpenAPI 3.0; no `paths`; an operation without an `operationId` (or with one
    /// another operation has), without a 2xx response, or with a `$ref` that points nowhere;
    /// two path templates that differ only in their parameter names.
    pub fn new(doc: Value) -> Result<Spec, String> {
        let version = doc.str("openapi").unwrap_or("");
        if !version.starts_with("3.0.") {
            return Err(format!("expected OpenAPI 3.0, found {version:?}"));
        }
        let server = doc
            .get("servers")
            .and_then(|s| s.items().first())
            .and_then(|s| s.str("url"))
            .unwrap_or("");
        let after_scheme = server.split_once("://").map_or(server, |(_, rest)| rest);
        let base_path = after_scheme
            .find('/')
            .and_then(|i| after_scheme.get(i..))
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        let mut ops = Vec::new();
        let mut paths: Vec<PathEntry> = Vec::new();
        let path_items = doc
            .get("paths")
            .filter(|p| p.is_object())
            .ok_or("no `paths`")?;
        for (template, item) in path_items.entries() {
            let segments: Vec<Segment> = template
                .split('/')
                .skip(1)
                .map(
                    |s| match s.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => Segment::Param(name.to_owned()),
                        None => Segment::Literal(s.to_owned()),
                    },
                )
                .collect();
            let shape = |segments: &[Segment]| -> Vec<Option<String>> {
                segments
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(l) => Some(l.clone()),
                        Segment::Param(_) => None,
                    })
                    .collect()
            };
            if let Some(other) = paths
                .iter()
                .find(|p| shape(&p.segments) == shape(&segments))
            {
                return Err(format!(
                    "the paths {} and {template} differ only in parameter names",
                    other.template
                ));
            }
            let mut entry = PathEntry {
                template: template.clone(),
                segments,
                methods: Vec::new(),
                allow: String::new(),
            };
            for (lower, upper) in METHODS {
                let Some(object) = item.get(lower) else {
                    continue;
                };
                let pointer = format!("/paths/{}/{lower}", escape(template));
                let mut op = operation(&doc, template, upper, item, object, pointer)?;
                op.index = ops.len();
                if ops.iter().any(|o: &Operation| o.id == op.id) {
                    return Err(format!("two operations are {}", op.id));
                }
                entry.methods.push((upper, ops.len()));
                ops.push(op);
            }
            entry.allow = entry
                .methods
                .iter()
                .map(|(m, _)| *m)
                .collect::<Vec<_>>()
                .join(", ");
            paths.push(entry);
        }
        Ok(Spec {
            doc,
            base_path,
            ops,
            paths,
        })
    }

    /// The whole document.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The path of `servers[0].url` (`/v1`): what clients put before the spec's paths.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// Every operation, in the document's order.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.ops.iter().find(|op| op.id == id)
    }

    /// The operation object of `op`, as written.
    pub fn object(&self, op: &Operation) -> &Value {
        self.doc.pointer(&op.object).unwrap_or(&crate::json::NULL)
    }

    /// `components.schemas.NAME`, as written.
    pub fn component_schema(&self, name: &str) -> Option<&Value> {
        self.doc.get("components")?.get("schemas")?.get(name)
    }

    /// Follows `$ref`s in this document (see [`crate::json::resolve`]).
    pub fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        crate::json::resolve(&self.doc, value)
    }

    /// The responses `op` declares, by status as written (`"200"`, `"4XX"`, `"default"`),
    /// `$ref`s resolved.
    pub fn responses<'a>(&'a self, op: &Operation) -> Vec<(&'a str, &'a Value)> {
        self.object(op)
            .get("responses")
            .map(|r| {
                r.entries()
                    .map(|(status, response)| (status.as_str(), self.resolve(response)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The response object for `status`: the exact code, else its range (`4XX`), else
    /// `default`; `$ref`s resolved.
    pub fn response<'a>(&'a self, op: &Operation, status: u16) -> Option<&'a Value> {
        let responses = self.object(op).get("responses")?;
        let range = format!("{}XX", status / 100);
        [status.to_string(), range, "default".to_owned()]
            .iter()
            .find_map(|key| responses.get(key))
            .map(|r| self.resolve(r))
    }

    /// The schema (as written) of the `media` body of a response or request body object.
    pub fn media_schema<'a>(&self, object: &'a Value, media: &str) -> Option<&'a Value> {
        object.get("content")?.get(media)?.get("schema")
    }

    /// The JSON schema (as written) of `op`'s first 2xx response, if that has a JSON body.
    pub fn success_schema(&self, op: &Operation) -> Option<&Value> {
        self.media_schema(self.response(op, op.success)?, "application/json")
    }

    /// Finds the operation for a method (upper case) and a path relative to the server URL
    /// (`/users/user_123`, still percent-encoded), as an OpenAPI server does: a template
    /// segment `{name}` matches one whole non-empty segment that decodes to UTF-8, and when
    /// several paths match, the one with a literal segment at the first position where they
    /// differ wins (`/users/count` before `/users/{user_id}`).
    pub fn route<'a>(&'a self, method: &str, path: &str) -> Route<'a> {
        let Some(rest) = path.strip_prefix('/') else {
            return Route::NoPath;
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
            return Route::NoPath;
        };
        let Some(op) = entry
            .methods
            .iter()
            .find(|(m, _)| *m == method)
            .and_then(|(_, i)| self.ops.get(*i))
        else {
            return Route::MethodNotAllowed {
                template: &entry.template,
                allow: &entry.allow,
            };
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
        Route::Operation(op, captures)
    }
}

/// Indexes one operation object.
fn operation(
    doc: &Value,
    template: &str,
    method: &'static str,
    item: &Value,
    object: &Value,
    pointer: String,
) -> Result<Operation, String> {
    let id = object
        .str("operationId")
        .ok_or_else(|| format!("{method} {template} has no operationId"))?
        .to_owned();
    let mut params: Vec<Param> = Vec::new();
    for list in [item.get("parameters"), object.get("parameters")]
        .into_iter()
        .flatten()
    {
        for raw in list.items() {
            let p = deref(doc, raw).map_err(|e| format!("{id}: {e}"))?;
            let name = p
                .str("name")
                .ok_or_else(|| format!("{id}: a parameter without a name"))?;
            let location = match p.str("in") {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                Some("header") => Location::Header,
                Some("cookie") => Location::Cookie,
                other => return Err(format!("{id}: parameter {name} in {other:?}")),
            };
            let schema = match p.get("schema") {
                Some(s) => deref(doc, s)
                    .map_err(|e| format!("{id}: {name}: {e}"))?
                    .clone(),
                None => Value::Null,
            };
            let explode = match p.get("explode") {
                Some(Value::Bool(b)) => *b,
                _ => p.str("style").is_none_or(|s| s == "form"),
            };
            params.retain(|q| !(q.name == name && q.location == location));
            params.push(Param {
                name: name.to_owned(),
                location,
                required: location == Location::Path || p.flag("required"),
                schema,
                explode,
                object: p.clone(),
            });
        }
    }
    let body = match object.get("requestBody") {
        None => None,
        Some(raw) => {
            let body = deref(doc, raw).map_err(|e| format!("{id}: request body: {e}"))?;
            Some(RequestBody {
                required: body.flag("required"),
                content: body
                    .get("content")
                    .map(|c| {
                        c.entries()
                            .map(|(media, m)| {
                                (
                                    media.clone(),
                                    m.get("schema").cloned().unwrap_or(Value::Null),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        }
    };
    let responses = object
        .get("responses")
        .filter(|r| r.is_object())
        .ok_or_else(|| format!("{id} has no responses"))?;
    let success = responses
        .entries()
        .filter_map(|(code, _)| code.parse::<u16>().ok())
        .filter(|code| (200..300).contains(code))
        .min()
        .ok_or_else(|| format!("{id} declares no 2xx response"))?;
    for (status, response) in responses.entries() {
        deref(doc, response).map_err(|e| format!("{id} {status}: {e}"))?;
    }
    Ok(Operation {
        id,
        method,
        path: template.to_owned(),
        params,
        body,
        public: object
            .get("security")
            .is_some_and(|s| s.items().is_empty() && s.is_array()),
        success,
        index: 0,
        object: pointer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "openapi": "3.0.3",
            "servers": [{ "url": "https://api.example.com/v1/" }],
            "components": { "parameters": { "Limit": { "name": "limit", "in": "query", "schema": { "type": "integer" } } } },
            "paths": {
                "/users/{user_id}": {
                    "parameters": [{ "name": "user_id", "in": "path", "schema": { "type": "string" } }],
                    "get": { "operationId": "GetUser", "responses": { "200": {}, "404": {} } },
                    "delete": { "operationId": "DeleteUser", "security": [], "responses": { "204": {}, "200": {} } }
                },
                "/users/count": {
                    "get": { "operationId": "Count", "parameters": [{ "$ref": "#/components/parameters/Limit" }], "responses": { "200": {} } }
                },
                "/a~b/{x}": { "post": { "operationId": "Odd", "requestBody": { "required": true, "content": { "application/json; charset=utf-8": { "schema": { "type": "object" } } } }, "responses": { "201": {} } } }
            }
        })
    }

    #[test]
    fn routes_and_operations() {
        let spec = Spec::new(doc()).unwrap();
        assert_eq!(spec.base_path(), "/v1");
        assert_eq!(spec.operations().len(), 4);
        match spec.route("GET", "/users/user_%41b") {
            Route::Operation(op, params) => {
                assert_eq!(op.id, "GetUser");
                assert_eq!(params, vec![("user_id", "user_Ab".to_owned())]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(spec.route("GET", "/users/count"), Route::Operation(op, _) if op.id == "Count")
        );
        assert!(
            matches!(spec.route("GET", "/users/a%2Fb"), Route::Operation(_, c) if c[0].1 == "a/b")
        );
        assert!(matches!(
            spec.route("PUT", "/users/x"),
            Route::MethodNotAllowed {
                allow: "GET, DELETE",
                template: "/users/{user_id}"
            }
        ));
        for path in ["/nope", "/users/", "/users//x", "", "users", "/users/%FF"] {
            assert!(matches!(spec.route("GET", path), Route::NoPath), "{path}");
        }
        let delete = spec.operation("DeleteUser").unwrap();
        assert!(delete.public && delete.success == 200);
        let count = spec.operation("Count").unwrap();
        assert_eq!(
            count.param(Location::Query, "limit").unwrap().schema["type"],
            "integer"
        );
        let odd = spec.operation("Odd").unwrap();
        assert_eq!(spec.object(odd)["operationId"], "Odd");
        assert!(odd
            .body
            .as_ref()
            .unwrap()
            .schema("application/json")
            .is_some());
        assert_eq!(spec.responses(odd).len(), 1);
        assert!(spec
            .response(spec.operation("GetUser").unwrap(), 404)
            .is_some());
        assert!(spec
            .response(spec.operation("GetUser").unwrap(), 500)
            .is_none());
    }

    #[test]
    fn broken_documents_are_errors() {
        let mut twice = doc();
        twice["paths"]["/users/{id}"] = json!({});
        let mut no_2xx = doc();
        no_2xx["paths"]["/users/count"]["get"]["responses"] = json!({ "400": {} });
        let mut dangling = doc();
        dangling["paths"]["/users/count"]["get"]["parameters"] = json!([{ "$ref": "#/x" }]);
        let mut same_id = doc();
        same_id["paths"]["/users/count"]["get"]["operationId"] = json!("GetUser");
        for (what, doc) in [
            ("twice", twice),
            ("no 2xx", no_2xx),
            ("dangling", dangling),
            ("same id", same_id),
            ("2.0", json!({ "openapi": "2.0", "paths": {} })),
            ("no paths", json!({ "openapi": "3.0.0" })),
        ] {
            assert!(Spec::new(doc).is_err(), "{what}");
        }
        assert!(Spec::from_json("{").is_err());
    }
}
