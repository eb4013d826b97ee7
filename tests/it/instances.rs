//! Instances of the spec's schemas, for the contract tests: what a response may look like.
//!
//! [`instance`] builds one JSON value for an OpenAPI schema object of the vendored spec in one
//! of four [`Shape`]s: only the required fields, every field, every enum replaced by a value
//! the spec does not list, and every object carrying a field the spec does not know. Formats
//! (`date-time`, `email`, `uri`...), bounds (`minimum`, `minLength`, `maxItems`...), `nullable`,
//! `allOf`, `oneOf`/`anyOf` (the first branch, or the one a discriminator names) and
//! `additionalProperties` are honoured, so that the minimal and maximal instances validate
//! against the spec (the contract tests check that too, before decoding them).

use serde_json::{json, Map, Value};

use crate::contract_support::Spec;

/// Which instance of a schema to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Required properties only; optional and nullable fields left out.
    Minimal,
    /// Every property the schema declares.
    Maximal,
    /// [`Shape::Maximal`], with every string enum given a value the spec does not list.
    UnknownEnum,
    /// [`Shape::Maximal`], with an extra, undeclared field in every object.
    ExtraField,
}

/// The enum value no spec lists.
pub const UNKNOWN_ENUM_VALUE: &str = "zz_value_from_a_later_release";
/// The field no spec declares.
pub const EXTRA_FIELD: &str = "zz_field_from_a_later_release";

/// How deep recursive schemas are followed before optional parts are left out.
const MAX_DEPTH: usize = 8;

/// An instance of `schema` (an OpenAPI schema object of `spec`, refs allowed) in `shape`.
pub fn instance(spec: &Spec, schema: &Value, shape: Shape) -> Value {
    Builder { spec, shape }.build(schema, 0, None)
}

struct Builder<'a> {
    spec: &'a Spec,
    shape: Shape,
}

impl Builder<'_> {
    /// `name` is the property the value is for (ids get a prefix from it).
    fn build(&self, schema: &Value, depth: usize, name: Option<&str>) -> Value {
        let schema = self.spec.deref(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            // Siblings of allOf (properties, or names required beside it) first; the parts
            // declare the required names, so their values win.
            let mut merged = match self.object(schema, depth) {
                Value::Object(own) => own,
                _ => Map::new(),
            };
            let outer_required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for part in all {
                let part = self.spec.deref(part);
                // A part with plain properties gets the names required around it too.
                let value = match part.get("properties").is_some()
                    && part.get("allOf").is_none()
                    && part.get("oneOf").is_none()
                    && part.get("anyOf").is_none()
                {
                    true => self.object_with(part, depth, &outer_required),
                    false => self.build(part, depth, name),
                };
                if let Value::Object(object) = value {
                    for (key, value) in object {
                        // A placeholder of a part never replaces a value another part built.
                        let placeholder =
                            value == json!("sample") && part["properties"].get(&key).is_none();
                        if !(placeholder && merged.contains_key(&key)) {
                            merged.insert(key, value);
                        }
                    }
                }
            }
            // A part that declares a property again narrows it (`status: enum [revoked]` over
            // an `Invitation`): the last declaration of a property present decides its value.
            for part in all {
                let part = self.spec.deref(part);
                for (key, property) in part["properties"].as_object().into_iter().flatten() {
                    if merged.contains_key(key) {
                        merged.insert(key.clone(), self.build(property, depth + 1, Some(key)));
                    }
                }
            }
            // Names required around the parts that none of them declares stay placeholders.
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                if schema.get("properties").is_none() {
                    return self.one_of(schema, branches, depth, name);
                }
                // Properties beside the choice: the object, plus what the first branch
                // requires (a branch can be nothing but a `required` list) or adds.
                let first = branches.first().map(|b| self.spec.deref(b));
                let extra: Vec<&str> = first
                    .and_then(|b| b.get("required"))
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut value = self.object_with(schema, depth, &extra);
                let adds = first
                    .is_some_and(|b| b.get("properties").is_some() || b.get("allOf").is_some());
                if let (true, Value::Object(own)) = (adds, &mut value) {
                    if let Value::Object(branch) = self.one_of(schema, branches, depth, name) {
                        own.extend(branch);
                    }
                }
                return value;
            }
        }
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let first = values
                .iter()
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null);
            return match (&first, self.shape) {
                (Value::String(_), Shape::UnknownEnum) => json!(UNKNOWN_ENUM_VALUE),
                _ => first,
            };
        }
        match schema_type(schema) {
            Some("object") => self.object(schema, depth),
            Some("array") => {
                let items = schema.get("items").unwrap_or(&Value::Null);
                let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let count = match self.shape {
                    Shape::Minimal => min,
                    _ if depth >= MAX_DEPTH => min,
                    _ => min.max(1),
                };
                let count = usize::try_from(count).unwrap_or(1);
                Value::Array(
                    (0..count)
                        .map(|_| self.build(items, depth + 1, name))
                        .collect(),
                )
            }
            Some("string") => string(schema, name),
            Some("integer") => {
                let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(1);
                let max = schema
                    .get("maximum")
                    .and_then(Value::as_i64)
                    .unwrap_or(i64::MAX);
                json!(min.max(1).min(max))
            }
            Some("number") => {
                let min = schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.5);
                json!(min.max(1.5))
            }
            Some("boolean") => json!(true),
            // No type: anything goes; an object says the most.
            _ if schema.get("properties").is_some() => self.object(schema, depth),
            _ => json!({}),
        }
    }

    fn one_of(
        &self,
        schema: &Value,
        branches: &[Value],
        depth: usize,
        name: Option<&str>,
    ) -> Value {
        let Some(first) = branches.first() else {
            return json!({});
        };
        let discriminator = schema.get("discriminator");
        let Some(property) = discriminator
            .and_then(|d| d.get("propertyName"))
            .and_then(Value::as_str)
        else {
            return self.build(first, depth, name);
        };
        // The mapping's first entry names a branch and the value that selects it.
        let mapping = discriminator
            .and_then(|d| d.get("mapping"))
            .and_then(Value::as_object)
            .and_then(|m| m.iter().next());
        let (branch, tag) = match mapping {
            Some((tag, reference)) => (json!({ "$ref": reference }), Some(tag.clone())),
            None => (first.clone(), None),
        };
        let mut value = self.build(&branch, depth, name);
        if let (Some(tag), Value::Object(object)) = (tag, &mut value) {
            object.insert(property.to_owned(), json!(tag));
        }
        value
    }

    fn object(&self, schema: &Value, depth: usize) -> Value {
        self.object_with(schema, depth, &[])
    }

    /// The object, with `extra` names required beside the schema's own.
    fn object_with(&self, schema: &Value, depth: usize, extra: &[&str]) -> Value {
        let mut required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        required.extend_from_slice(extra);
        let mut out = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        // A name the spec requires without declaring it (a gap of the spec): any value fits.
        for name in &required {
            if !properties.is_some_and(|p| p.contains_key(*name)) {
                out.insert((*name).to_owned(), json!("sample"));
            }
        }
        if let Some(properties) = properties {
            for (key, property) in properties {
                let is_required = required.contains(&key.as_str());
                let include = is_required || (self.shape != Shape::Minimal && depth < MAX_DEPTH);
                if include {
                    out.insert(key.clone(), self.build(property, depth + 1, Some(key)));
                }
            }
        }
        if self.shape != Shape::Minimal && depth < MAX_DEPTH {
            match schema.get("additionalProperties") {
                Some(Value::Object(values)) if !values.is_empty() => {
                    out.insert(
                        "key".into(),
                        self.build(&Value::Object(values.clone()), depth + 1, None),
                    );
                }
                Some(Value::Bool(true)) | Some(Value::Object(_)) => {
                    out.insert("key".into(), json!("value"));
                }
                _ => {}
            }
        }
        if self.shape == Shape::ExtraField {
            // In a map with typed values, an unknown key is one more entry of that type.
            let value = match schema.get("additionalProperties") {
                Some(Value::Object(values)) if !values.is_empty() && depth < MAX_DEPTH => {
                    self.build(&Value::Object(values.clone()), depth + 1, None)
                }
                _ => json!({ "nested": [1, "two", null] }),
            };
            out.insert(EXTRA_FIELD.into(), value);
        }
        Value::Object(out)
    }
}

/// For a pattern the sampler cannot read: the pattern's literal start, then `sample`.
fn literal_prefix(pattern: &str) -> String {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let literal: String = body
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    format!("{literal}sample")
}

/// The schema's type: `type` as written, or the first non-null entry of a list of types.
fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// A string that fits the schema's format and length, with an id-like prefix for ids.
fn string(schema: &Value, name: Option<&str>) -> Value {
    let by_format = schema
        .get("format")
        .and_then(Value::as_str)
        .and_then(crate::pattern::format_sample)
        .map(str::to_owned);
    let pattern_prefix = schema
        .get("pattern")
        .and_then(Value::as_str)
        .map(|p| crate::pattern::pattern_sample(p).unwrap_or_else(|| literal_prefix(p)));
    let mut text = by_format.or(pattern_prefix).unwrap_or_else(|| match name {
        Some("id") => "obj_2sample".to_owned(),
        Some(field) if field.ends_with("_id") => {
            format!("{}_2sample", field.trim_end_matches("_id"))
        }
        Some(field) => format!("sample {field}"),
        None => "sample".to_owned(),
    });
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    while (text.chars().count() as u64) < min {
        text.push('x');
    }
    if (text.chars().count() as u64) > max {
        text = "x".repeat(usize::try_from(max).unwrap_or(0));
    }
    json!(text)
}

/// The shapes do what they say on a schema of the spec, and the minimal and maximal
/// instances validate against it.
#[test]
fn shapes_of_the_allowlist_identifier() {
    let spec = crate::contract_support::spec();
    let schema = spec.component_schema("AllowlistIdentifier");
    let maximal = instance(spec, schema, Shape::Maximal);
    let minimal = instance(spec, schema, Shape::Minimal);
    assert!(maximal.as_object().unwrap().len() > minimal.as_object().unwrap().len());
    let validator = spec.validator(schema);
    validator.assert_valid(&maximal, "maximal");
    validator.assert_valid(&minimal, "minimal");
    let unknown = instance(spec, schema, Shape::UnknownEnum);
    assert_eq!(unknown["identifier_type"], UNKNOWN_ENUM_VALUE);
    let extra = instance(spec, schema, Shape::ExtraField);
    assert!(extra.get(EXTRA_FIELD).is_some());
}

/// Over every component schema of the spec, the minimal and maximal instances are valid
/// instances of it: the generator the contract tests rely on produces what the spec allows.
#[test]
fn every_component_schema_gets_valid_instances() {
    let spec = crate::contract_support::spec();
    let schemas = spec.doc["components"]["schemas"].as_object().unwrap();
    let mut failures = Vec::new();
    for (name, schema) in schemas {
        let validator = spec.validator(schema);
        for shape in [Shape::Minimal, Shape::Maximal] {
            let value = instance(spec, schema, shape);
            let errors = validator.errors(&value);
            if !errors.is_empty() {
                failures.push(format!("{name} {shape:?}: {}", errors.join("; ")));
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
