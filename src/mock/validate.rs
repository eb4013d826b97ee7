//! Requests to the spec's operations, checked against the spec before they are answered.
//!
//! Every refusal is deterministic: path parameters first (in template order), then the query
//! parameters (in the order the spec declares them), then the body: its media type, whether it
//! parses, its top-level type, then each field in name order (unknown, wrong type, value out of
//! range, recursively), and last the required fields that are missing (in the order the spec
//! lists them). The first problem found is the one answered.

use clerk_tower_spec::json::{required, resolve, schema_type, Json};
use clerk_tower_spec::text::{typed, Reading};
use clerk_tower_spec::{multipart, Location, Operation, Param, RequestBody};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use crate::models::ClerkError;

/// Why a request is refused: the status and the Clerk error it gets.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) error: ClerkError,
}

impl Refusal {
    fn unprocessable(error: ClerkError) -> Self {
        Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error,
        }
    }
}

/// A parameter error with `meta.param_name`, as Clerk sends them.
pub(crate) fn param_error(
    code: &str,
    message: &str,
    long_message: &str,
    param: &str,
) -> ClerkError {
    ClerkError {
        message: message.to_owned(),
        long_message: Some(long_message.to_owned()),
        code: code.to_owned(),
        meta: Some(json!({ "param_name": param })),
    }
}

pub(crate) fn missing(param: &str) -> ClerkError {
    param_error(
        "form_param_missing",
        "is missing",
        &format!("{param} must be included."),
        param,
    )
}

pub(crate) fn type_invalid(param: &str, ty: &str) -> ClerkError {
    param_error(
        "form_param_type_invalid",
        "is invalid",
        &format!("`{param}` must be a `{ty}`."),
        param,
    )
}

pub(crate) fn value_invalid(param: &str, why: &str) -> ClerkError {
    param_error(
        "form_param_value_invalid",
        "is invalid",
        &format!("{param} {why}."),
        param,
    )
}

pub(crate) fn too_long(param: &str, max: u64) -> ClerkError {
    param_error(
        "form_param_max_length_exceeded",
        "exceeds maximum length",
        &format!("{param} should not exceed {max} characters."),
        param,
    )
}

pub(crate) fn unknown(param: &str) -> ClerkError {
    param_error(
        "form_param_unknown",
        "is unknown",
        &format!("{param} is not a valid parameter for this request."),
        param,
    )
}

pub(crate) fn duplicate(param: &str) -> ClerkError {
    param_error(
        "form_param_duplicate",
        "is duplicate",
        &format!("{param} included multiple times. There should only be one."),
        param,
    )
}

/// 400 `request_body_invalid`.
pub(crate) fn body_invalid() -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        error: ClerkError::new(
            "request_body_invalid",
            "Request body invalid",
            "The request body is invalid. Please consult the API documentation for more information.",
        ),
    }
}

/// 415 `unsupported_content_type`.
fn unsupported(content_type: &[u8], wanted: &str) -> Refusal {
    let shown = String::from_utf8_lossy(content_type).into_owned();
    Refusal {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        error: ClerkError::new(
            "unsupported_content_type",
            "Content-Type is unsupported",
            format!("Content-Type {shown} is unsupported. You should use {wanted} instead."),
        ),
    }
}

/// Decodes one query component: `+` is a space, percent escapes are decoded (lossily).
pub(crate) fn decode_query(s: &str) -> String {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

/// The query as decoded `(name, value)` pairs, in order.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Checks a request to `op`; `Ok` when it may be answered.
pub(crate) fn check(
    doc: &Value,
    op: &Operation,
    path_params: &[(&str, String)],
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refusal> {
    for (name, value) in path_params {
        let Some(param) = op
            .params
            .iter()
            .find(|p| p.location == Location::Path && p.name == *name)
        else {
            continue;
        };
        check_text(doc, value, &param.schema, name).map_err(Refusal::unprocessable)?;
    }
    let pairs = query_pairs(query);
    for param in op.params.iter().filter(|p| p.location == Location::Query) {
        check_query_param(doc, &pairs, param).map_err(Refusal::unprocessable)?;
    }
    match &op.body {
        Some(spec) => check_body(doc, spec, headers, body),
        None => Ok(()),
    }
}

fn check_query_param(
    doc: &Value,
    pairs: &[(String, String)],
    param: &Param,
) -> Result<(), ClerkError> {
    let name = param.name.as_str();
    // An empty value (`limit=`) counts as absent.
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    let schema = &param.schema;
    if schema_type(schema) == Some("array") {
        if !param.explode && values.len() > 1 {
            return Err(duplicate(name));
        }
        let items: Vec<&str> = if param.explode {
            values
        } else {
            values
                .first()
                .map(|v| v.split(',').collect())
                .unwrap_or_default()
        };
        if items.is_empty() {
            return if param.required {
                Err(missing(name))
            } else {
                Ok(())
            };
        }
        check_count(schema, items.len(), name)?;
        let item_schema = resolve(doc, schema.get("items").unwrap_or(&Value::Null));
        for item in items {
            check_text(doc, item, item_schema, name)?;
        }
        return Ok(());
    }
    match values.as_slice() {
        [] if param.required => Err(missing(name)),
        [] => Ok(()),
        [value] => check_text(doc, value, schema, name),
        _ => Err(duplicate(name)),
    }
}

/// A path or query value (text) against a scalar schema.
fn check_text(doc: &Value, text: &str, schema: &Value, name: &str) -> Result<(), ClerkError> {
    let schema = resolve(doc, schema);
    let value = match schema_type(schema) {
        // Booleans as Go's strconv.ParseBool takes them, integers within int64, as Clerk's
        // servers read them.
        Some(ty @ ("boolean" | "integer" | "number")) => {
            typed(schema, text, Reading::Lenient).ok_or_else(|| type_invalid(name, ty))?
        }
        _ => Value::String(text.to_owned()),
    };
    check_scalar(&value, schema, name)
}

/// `enum`, `minimum` / `maximum` (with OpenAPI 3.0's boolean `exclusiveMinimum` /
/// `exclusiveMaximum`) and `minLength` / `maxLength` of a scalar of the right type.
fn check_scalar(value: &Value, schema: &Value, name: &str) -> Result<(), ClerkError> {
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let listed: Vec<String> = allowed
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            return Err(value_invalid(
                name,
                &format!("must be one of: {}", listed.join(", ")),
            ));
        }
    }
    if let Some(n) = value.as_f64() {
        let exclusive = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            let (below, bound) = if exclusive("exclusiveMinimum") {
                (n <= min, "greater than")
            } else {
                (n < min, "at least")
            };
            if below {
                return Err(value_invalid(
                    name,
                    &format!("must be {bound} {}", schema["minimum"]),
                ));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            let (above, bound) = if exclusive("exclusiveMaximum") {
                (n >= max, "less than")
            } else {
                (n > max, "at most")
            };
            if above {
                return Err(value_invalid(
                    name,
                    &format!("must be {bound} {}", schema["maximum"]),
                ));
            }
        }
    }
    if let Some(text) = value.as_str() {
        let len = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if len < min {
                return Err(value_invalid(
                    name,
                    &format!("must be at least {min} characters long"),
                ));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if len > max {
                return Err(too_long(name, max));
            }
        }
    }
    Ok(())
}

fn check_count(schema: &Value, len: usize, name: &str) -> Result<(), ClerkError> {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
        if len < min {
            return Err(value_invalid(
                name,
                &format!("must have at least {min} items"),
            ));
        }
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
        if len > max {
            return Err(value_invalid(
                name,
                &format!("must have at most {max} items"),
            ));
        }
    }
    Ok(())
}

/// The media type of `Content-Type` (before any parameter), lower-cased; `None` without one.
fn media_type(headers: &HeaderMap) -> Option<(String, &[u8])> {
    let raw = headers.get(CONTENT_TYPE)?;
    let text = raw.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some((essence, raw.as_bytes()))
}

fn check_body(
    doc: &Value,
    spec: &RequestBody,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refusal> {
    match (
        spec.schema("application/json"),
        spec.schema("multipart/form-data"),
    ) {
        (Some(schema), _) => {
            if let Some((essence, raw)) = media_type(headers) {
                if essence != "application/json" {
                    return Err(unsupported(raw, "application/json"));
                }
            }
            let schema = resolve(doc, schema);
            let empty = body.iter().all(u8::is_ascii_whitespace);
            let value = if empty {
                match schema_type(schema) {
                    // An empty body counts as `{}`, as for the allow-list.
                    Some("object") | None => Value::Object(Map::new()),
                    _ if spec.required => return Err(body_invalid()),
                    _ => return Ok(()),
                }
            } else {
                serde_json::from_slice::<Value>(body).map_err(|_| body_invalid())?
            };
            // The top level must be what the schema says (an object, an array).
            let top_ok = match schema_type(schema) {
                Some("object") => value.is_object(),
                Some("array") => value.is_array(),
                _ => true,
            };
            if !top_ok {
                return Err(body_invalid());
            }
            check_json(doc, &value, schema, "").map_err(Refusal::unprocessable)
        }
        (None, Some(schema)) => {
            let Some((essence, raw)) = media_type(headers) else {
                return Err(unsupported(b"(none)", "multipart/form-data"));
            };
            if essence != "multipart/form-data" {
                return Err(unsupported(raw, "multipart/form-data"));
            }
            let content_type = std::str::from_utf8(raw).map_err(|_| body_invalid())?;
            let boundary = multipart::boundary(content_type).ok_or_else(body_invalid)?;
            let parts = multipart::parse(body, &boundary).map_err(|_| body_invalid())?;
            for name in required(resolve(doc, schema)) {
                if !parts.parts.iter().any(|p| p.name == name) {
                    return Err(Refusal::unprocessable(missing(name)));
                }
            }
            Ok(())
        }
        // A body of another media type: not checked.
        (None, None) => Ok(()),
    }
}

/// `parent.child`, `list[0]`, or the name alone at the top.
fn child_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// A JSON value against its schema: type, enum, bounds, and for objects unknown and missing
/// fields, recursively. `null` is accepted where the schema is `nullable`, and for fields that
/// are not required (Clerk's servers read it as "not given").
fn check_json(doc: &Value, value: &Value, schema: &Value, path: &str) -> Result<(), ClerkError> {
    let schema = resolve(doc, schema);
    if value.is_null() {
        return Ok(());
    }
    let shown = if path.is_empty() { "body" } else { path };
    match schema_type(schema) {
        Some("object") => {
            let Value::Object(fields) = value else {
                return Err(type_invalid(shown, "object"));
            };
            check_object(doc, fields, schema, path)
        }
        Some("array") => {
            let Value::Array(items) = value else {
                return Err(type_invalid(shown, "array"));
            };
            check_count(schema, items.len(), shown)?;
            let item_schema = schema.get("items").unwrap_or(&Value::Null);
            for (i, item) in items.iter().enumerate() {
                check_json(doc, item, item_schema, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Some("string") if !value.is_string() => Err(type_invalid(shown, "string")),
        Some("integer") if value.as_i64().is_none() && value.as_u64().is_none() => {
            Err(type_invalid(shown, "integer"))
        }
        Some("number") if !value.is_number() => Err(type_invalid(shown, "number")),
        Some("boolean") if !value.is_boolean() => Err(type_invalid(shown, "boolean")),
        Some("string" | "integer" | "number" | "boolean") => check_scalar(value, schema, shown),
        // No type, or a composition (allOf / oneOf / anyOf): the declared properties of an
        // object are still checked; the choice itself is not.
        _ => match value {
            Value::Object(fields) if schema.get("properties").is_some() => {
                check_object(doc, fields, schema, path)
            }
            _ => Ok(()),
        },
    }
}

fn check_object(
    doc: &Value,
    fields: &Map<String, Value>,
    schema: &Value,
    path: &str,
) -> Result<(), ClerkError> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let branches: Vec<&Value> = ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array))
        .flatten()
        .map(|b| resolve(doc, b))
        .collect();
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false))
        && schema.get("allOf").is_none();
    let extra_schema = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, value) in fields {
        let child = child_path(path, key);
        match properties.and_then(|p| p.get(key)) {
            Some(property) => check_json(doc, value, property, &child)?,
            None => {
                let in_branch = branches
                    .iter()
                    .any(|b| b.get("properties").and_then(|p| p.get(key)).is_some());
                if closed && !in_branch {
                    return Err(unknown(&child));
                }
                if let Some(extra) = extra_schema {
                    check_json(doc, value, extra, &child)?;
                }
            }
        }
    }
    for name in required(schema) {
        let nullable = properties
            .and_then(|p| p.get(name))
            .is_some_and(|p| resolve(doc, p).flag("nullable"));
        match fields.get(name) {
            None => return Err(missing(&child_path(path, name))),
            Some(Value::Null) if !nullable => return Err(missing(&child_path(path, name))),
            Some(_) => {}
        }
    }
    // `anyOf` / `oneOf` branches that are nothing but `required` lists (a SAML connection
    // takes `domain` or `domains`): at least one must hold.
    let requirement_lists: Vec<Vec<&str>> = branches
        .iter()
        .filter(|b| b.get("properties").is_none() && b.get("required").is_some())
        .map(|b| required(b))
        .collect();
    if !requirement_lists.is_empty()
        && !requirement_lists.iter().any(|names| {
            names
                .iter()
                .all(|n| fields.get(*n).is_some_and(|v| !v.is_null()))
        })
    {
        let first = requirement_lists
            .first()
            .and_then(|names| names.first())
            .map_or_else(String::new, |n| child_path(path, n));
        return Err(missing(&first));
    }
    Ok(())
}
