//! Reading the spec's JSON: short accessors for schema objects ([`Json`]) and `$ref`
//! resolution ([`pointer`], [`deref`], [`resolve`]).

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// Where component schemas live: a `$ref` with this prefix names a type.
pub const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// How many `$ref` hops [`deref`] follows before giving up.
pub const MAX_REF_HOPS: usize = 32;

/// `null`, for lookups that find nothing.
pub static NULL: Value = Value::Null;

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

/// Accessors the spec's readers use on every schema, parameter and operation object.
pub trait Json {
    /// The string at `key` of an object.
    fn str(&self, key: &str) -> Option<&str>;
    /// Whether `key` of an object is `true`.
    fn flag(&self, key: &str) -> bool;
    /// The members of an object, in the document's order (none for anything else).
    fn entries(&self) -> serde_json::map::Iter<'_>;
    /// The items of an array (none for anything else).
    fn items(&self) -> &[Value];
    /// The strings of the array at `key` (`required`, `enum`, `tags`).
    fn strings(&self, key: &str) -> Vec<String>;
}

impl Json for Value {
    fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    fn entries(&self) -> serde_json::map::Iter<'_> {
        self.as_object().unwrap_or_else(|| empty_map()).iter()
    }

    fn items(&self) -> &[Value] {
        self.as_array().map_or(&[], Vec::as_slice)
    }

    fn strings(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.items()
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Resolves a local `$ref` (`#/a/b/c`, JSON pointer escapes honoured).
///
/// # Errors
/// A ref that is not local, or that points nowhere.
pub fn pointer<'a>(doc: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let path = reference
        .strip_prefix('#')
        .filter(|p| p.is_empty() || p.starts_with('/'))
        .ok_or_else(|| format!("only local refs are supported: {reference}"))?;
    doc.pointer(path)
        .ok_or_else(|| format!("dangling ref {reference}"))
}

/// Follows `$ref`s until a value that is not one.
///
/// # Errors
/// A ref [`pointer`] refuses, or a chain of more than [`MAX_REF_HOPS`].
pub fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..MAX_REF_HOPS {
        match value.str("$ref") {
            Some(reference) => value = pointer(doc, reference)?,
            None => return Ok(value),
        }
    }
    Err("$ref chain too long".to_owned())
}

/// [`deref`] for readers that must not fail: a ref that points nowhere, or a chain too long,
/// is `null` (a schema that allows anything).
pub fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    deref(doc, value).unwrap_or(&NULL)
}

/// The component name a schema `$ref` names (`#/components/schemas/User` → `User`).
pub fn component_name(reference: &str) -> Option<String> {
    reference
        .strip_prefix(SCHEMA_PREFIX)
        .map(|name| name.replace("~1", "/").replace("~0", "~"))
}

/// A schema's type: `type` as written, or the first non-null entry of a list of types.
pub fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// Whether `null` is an instance of the schema: `nullable: true`, `null` among the `enum`
/// values, or `"null"` among the types.
pub fn nullable(schema: &Value) -> bool {
    schema.flag("nullable")
        || schema
            .get("enum")
            .is_some_and(|e| e.items().contains(&NULL))
        || schema
            .get("type")
            .is_some_and(|t| t.items().iter().any(|t| t == "null"))
}

/// The schema (refs resolved) of property `name` of an object schema, looking into its `allOf`
/// parts.
pub fn property<'a>(doc: &'a Value, schema: &'a Value, name: &str) -> Option<&'a Value> {
    fn find<'a>(doc: &'a Value, schema: &'a Value, name: &str, depth: usize) -> Option<&'a Value> {
        let schema = resolve(doc, schema);
        if let Some(p) = schema.get("properties").and_then(|p| p.get(name)) {
            return Some(resolve(doc, p));
        }
        if depth >= MAX_REF_HOPS {
            return None;
        }
        schema
            .get("allOf")?
            .items()
            .iter()
            .find_map(|part| find(doc, part, name, depth + 1))
    }
    find(doc, schema, name, 0)
}

/// The names a schema requires.
pub fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .map(|r| r.items().iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_resolve_or_fail_plainly() {
        let doc = json!({
            "components": { "schemas": { "a/b": { "$ref": "#/components/schemas/C" }, "C": { "type": "string" } } },
            "loop": { "$ref": "#/loop" }
        });
        let a = json!({ "$ref": "#/components/schemas/a~1b" });
        assert_eq!(deref(&doc, &a).unwrap(), &json!({ "type": "string" }));
        assert!(deref(&doc, &json!({ "$ref": "#/nowhere" })).is_err());
        assert!(deref(&doc, &json!({ "$ref": "other.yml#/x" })).is_err());
        assert!(deref(&doc, &json!({ "$ref": "#/loop" })).is_err());
        assert_eq!(resolve(&doc, &json!({ "$ref": "#/loop" })), &NULL);
        assert_eq!(
            component_name("#/components/schemas/a~1b").as_deref(),
            Some("a/b")
        );
        assert_eq!(
            schema_type(&json!({ "type": ["null", "integer"] })),
            Some("integer")
        );
        assert!(nullable(&json!({ "enum": ["a", null] })));
        assert!(!nullable(&json!({ "type": "string" })));
        assert_eq!(required(&json!({ "required": ["a", 1, "b"] })), ["a", "b"]);
        let parts = json!({ "allOf": [{ "$ref": "#/components/schemas/P" }] });
        let doc = json!({ "components": { "schemas": { "P": { "properties": { "id": { "type": "string" } } } } } });
        assert_eq!(
            property(&doc, &parts, "id"),
            Some(&json!({ "type": "string" }))
        );
        assert_eq!(property(&doc, &parts, "other"), None);
        let v = json!({ "s": "x", "f": true, "l": ["a", 2], "m": { "k": 1 } });
        assert_eq!(v.str("s"), Some("x"));
        assert!(v.flag("f") && !v.flag("s"));
        assert_eq!(v.strings("l"), ["a"]);
        assert_eq!(v["m"].entries().len(), 1);
        assert_eq!(v["s"].entries().len(), 0);
        assert_eq!(v["l"].items().len(), 2);
    }
}
