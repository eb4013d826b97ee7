//! Instances of the spec's schemas: what a generic answer looks like.
//!
//! [`maximal`] builds one JSON value for an OpenAPI schema object of the embedded spec with
//! every property the schema declares (nullable ones with a value, so that a client's model
//! finds every field of the right type). Formats (`date-time`, `email`, `uri`, ...), bounds
//! (`minimum`, `maxLength`, `minItems`, ...), simple `pattern`s, `allOf`, `oneOf` / `anyOf` (the
//! first branch, or the one a discriminator names), enums (the first declared value) and
//! `additionalProperties` are honoured. Ids carry Clerk's prefixes ([`id_prefix`]). The
//! output is deterministic: the same schema gives the same value.
//!
//! A port of the contract tests' generator (`tests/it/instances.rs`), without panics: a `$ref`
//! that points nowhere is a schema that allows anything, and recursion stops at a fixed depth.

use serde_json::{json, Map, Value};

use super::engine::SplitMix64;
use super::spec::deref_in;

/// How deep recursive schemas are followed before optional parts are left out.
const MAX_DEPTH: usize = 8;

/// The seed of the ids in skeletons (answers get fresh ids, see `generic`).
const SKELETON_SEED: u64 = 0x636c_6572_6b5f_6d6f;

/// A fixed Unix time in milliseconds (2026-05-12T10:20:30Z) for integer `*_at` fields.
pub(crate) const SAMPLE_MILLIS: i64 = 1_778_581_230_000;

/// Clerk's id prefix for an object type (the value of its `object` field).
///
/// The prefixes marked "seen" appear in Clerk's public API payloads, documentation or in the
/// spec's own patterns and examples; for the others no public evidence was at hand, so the
/// prefix is derived from the object name (`{object}_`), which is clearly not Clerk's.
pub(crate) fn id_prefix(object: &str) -> String {
    let known = match object {
        // Seen.
        "user" => "user_",
        "organization" => "org_",
        "organization_invitation" => "orginv_",
        "organization_membership" => "orgmem_",
        "organization_domain" => "orgdmn_",
        "session" => "sess_",
        "client" => "client_",
        "invitation" => "inv_",
        "allowlist_identifier" => "alid_",
        "blocklist_identifier" => "blid_",
        "email_address" | "phone_number" | "web3_wallet" => "idn_",
        "external_account" | "facebook_account" | "google_account" => "eac_",
        "saml_account" => "samlacc_",
        "saml_connection" => "samlc_",
        "instance" => "ins_",
        "domain" => "dmn_",
        "jwt_template" => "jtmp_",
        "sign_in_token" => "sit_",
        "sign_up_attempt" => "sua_",
        "redirect_url" => "ru_",
        "actor_token" => "act_",
        "role" => "role_",
        "permission" => "perm_",
        "machine" => "mch_",
        "sms_message" => "sms_",
        // Not known: derived from the object name.
        _ => return format!("{object}_"),
    };
    known.to_owned()
}

/// The id prefix for a `{stem}_id` field (`user_id` → `user_`), for the stems whose object
/// is known by another name too.
fn field_prefix(stem: &str) -> String {
    match stem {
        "primary_email_address"
        | "email_address"
        | "primary_phone_number"
        | "phone_number"
        | "primary_web3_wallet"
        | "web3_wallet" => "idn_".to_owned(),
        "membership" => "orgmem_".to_owned(),
        "external_account" => "eac_".to_owned(),
        other => {
            // `last_active_organization` is an `organization`: the longest known suffix.
            let mut rest = other;
            while let Some((_, tail)) = rest.split_once('_') {
                let prefix = id_prefix(tail);
                if prefix != format!("{tail}_") {
                    return prefix;
                }
                rest = tail;
            }
            id_prefix(other)
        }
    }
}

/// `email_addresses` → `email_address`, `users` → `user`: the type of a list's items.
fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("sses") {
        return format!("{stem}ss");
    }
    match name.strip_suffix('s') {
        Some(stem) if !stem.ends_with('s') && !stem.is_empty() => stem.to_owned(),
        _ => name.to_owned(),
    }
}

/// The maximal instance of `schema` (an OpenAPI schema object of `doc`, refs allowed).
pub(crate) fn maximal(doc: &Value, schema: &Value) -> Value {
    Builder {
        doc,
        rng: SplitMix64::new(SKELETON_SEED),
        nesting: 0,
    }
    .build(schema, 0, None, None)
}

struct Builder<'a> {
    doc: &'a Value,
    rng: SplitMix64,
    /// How many `build` calls are running (compositions recurse without going deeper).
    nesting: usize,
}

/// The most `build` calls that may run inside each other.
const MAX_NESTING: usize = 256;

impl Builder<'_> {
    /// `name` is the property the value is for, `object` the object type of the enclosing
    /// object (ids get a prefix from them).
    fn build(
        &mut self,
        schema: &Value,
        depth: usize,
        name: Option<&str>,
        object: Option<&str>,
    ) -> Value {
        if depth > MAX_DEPTH * 4 || self.nesting >= MAX_NESTING {
            return Value::Null;
        }
        self.nesting += 1;
        let value = self.build_inner(schema, depth, name, object);
        self.nesting -= 1;
        value
    }

    fn build_inner(
        &mut self,
        schema: &Value,
        depth: usize,
        name: Option<&str>,
        object: Option<&str>,
    ) -> Value {
        let doc = self.doc;
        let schema = deref_in(doc, schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            // Siblings of allOf first; the parts declare the required names, so their values
            // win, but a placeholder never replaces a value another part built.
            let mut merged = match self.object_with(schema, depth, &[], name) {
                Value::Object(own) => own,
                _ => Map::new(),
            };
            let outer_required = required_names(schema);
            for part in all {
                let part = deref_in(doc, part);
                let plain = part.get("properties").is_some()
                    && part.get("allOf").is_none()
                    && part.get("oneOf").is_none()
                    && part.get("anyOf").is_none();
                let value = if plain {
                    self.object_with(part, depth, &outer_required, name)
                } else {
                    self.build(part, depth, name, object)
                };
                if let Value::Object(built) = value {
                    for (key, value) in built {
                        let declared = part.get("properties").and_then(|p| p.get(&key)).is_some();
                        let placeholder = value == json!("sample") && !declared;
                        if !(placeholder && merged.contains_key(&key)) {
                            merged.insert(key, value);
                        }
                    }
                }
            }
            fix_id(&mut merged, &mut self.rng);
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                if schema.get("properties").is_none() {
                    return self.one_of(schema, branches, depth, name, object);
                }
                // Properties beside the choice: the object, plus what the first branch
                // requires (a branch can be nothing but a `required` list) or adds.
                let first = branches.first().map(|b| deref_in(doc, b));
                let extra = first.map(required_names).unwrap_or_default();
                let mut value = self.object_with(schema, depth, &extra, name);
                let adds = first
                    .is_some_and(|b| b.get("properties").is_some() || b.get("allOf").is_some());
                if adds {
                    if let (Value::Object(own), Value::Object(branch)) = (
                        &mut value,
                        self.one_of(schema, branches, depth, name, object),
                    ) {
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
            return values
                .iter()
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null);
        }
        match schema_type(schema) {
            Some("object") => self.object_with(schema, depth, &[], name),
            Some("array") => {
                let items = schema.get("items").unwrap_or(&Value::Null);
                let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let max = schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                let count = if depth >= MAX_DEPTH { min } else { min.max(1) }.min(max);
                // Bounded: a schema asking for more items than this gets what it asks, but
                // never more than 64.
                let count = count.min(64);
                Value::Array(
                    (0..count)
                        .map(|_| self.build(items, depth + 1, name, object))
                        .collect(),
                )
            }
            Some("string") => self.string(schema, name, object),
            Some("integer") => integer(schema, name),
            Some("number") => {
                let min = schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.5);
                let max = schema
                    .get("maximum")
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::MAX);
                let preferred = match name {
                    // Unix milliseconds, as for integers (exactly representable).
                    Some(field) if is_time(field) => SAMPLE_MILLIS as f64,
                    _ => 1.0,
                };
                number(preferred.max(min).min(max))
            }
            Some("boolean") => json!(true),
            // No type: anything goes; an object says the most.
            _ if schema.get("properties").is_some() => self.object_with(schema, depth, &[], name),
            _ => json!({}),
        }
    }

    fn one_of(
        &mut self,
        schema: &Value,
        branches: &[Value],
        depth: usize,
        name: Option<&str>,
        object: Option<&str>,
    ) -> Value {
        let Some(first) = branches.first() else {
            return json!({});
        };
        let discriminator = schema.get("discriminator");
        let Some(property) = discriminator
            .and_then(|d| d.get("propertyName"))
            .and_then(Value::as_str)
        else {
            return self.build(first, depth, name, object);
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
        let mut value = self.build(&branch, depth, name, object);
        if let (Some(tag), Value::Object(built)) = (tag, &mut value) {
            built.insert(property.to_owned(), json!(tag));
        }
        value
    }

    /// The object, with `extra` names required beside the schema's own; `name` is the
    /// property it is the value of (the type of its `id` when it has no `object` field).
    fn object_with(
        &mut self,
        schema: &Value,
        depth: usize,
        extra: &[String],
        name: Option<&str>,
    ) -> Value {
        let doc = self.doc;
        let mut required = required_names(schema);
        required.extend_from_slice(extra);
        let mut out = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        // A name the spec requires without declaring it (a gap of the spec): any value fits.
        for name in &required {
            if !properties.is_some_and(|p| p.contains_key(name)) {
                out.insert(name.clone(), json!("sample"));
            }
        }
        // The object's type, for the prefix of its `id`.
        let object_type = properties
            .and_then(|p| p.get("object"))
            .map(|o| deref_in(doc, o))
            .and_then(|o| {
                o.get("const")
                    .or_else(|| o.get("enum").and_then(|e| e.get(0)))
                    .and_then(Value::as_str)
            })
            .map(str::to_owned)
            .or_else(|| name.map(singular));
        if let Some(properties) = properties {
            for (key, property) in properties {
                if required.contains(key) || depth < MAX_DEPTH {
                    let value = self.build(property, depth + 1, Some(key), object_type.as_deref());
                    out.insert(key.clone(), value);
                }
            }
        }
        if depth < MAX_DEPTH {
            match schema.get("additionalProperties") {
                Some(Value::Object(values)) if !values.is_empty() => {
                    let values = Value::Object(values.clone());
                    let value = self.build(&values, depth + 1, None, None);
                    out.insert("key".into(), value);
                }
                Some(Value::Bool(true)) | Some(Value::Object(_)) => {
                    out.insert("key".into(), json!("value"));
                }
                _ => {}
            }
        }
        fix_id(&mut out, &mut self.rng);
        Value::Object(out)
    }

    /// A string that fits the schema's format, pattern and length; ids get Clerk's prefixes.
    fn string(&mut self, schema: &Value, name: Option<&str>, object: Option<&str>) -> Value {
        let by_format = match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => Some("2026-05-12T10:20:30Z".to_owned()),
            Some("date") => Some("2026-05-12".to_owned()),
            Some("email") => Some("sample@example.com".to_owned()),
            Some("uri") | Some("url") => Some("https://example.com/sample".to_owned()),
            Some("uuid") => Some("123e4567-e89b-12d3-a456-426614174000".to_owned()),
            Some("byte") => Some("c2FtcGxl".to_owned()),
            _ => None,
        };
        let by_pattern = schema
            .get("pattern")
            .and_then(Value::as_str)
            .and_then(|p| super::pattern::sample(p, &mut self.rng));
        let mut text = match (by_format, by_pattern) {
            (Some(text), _) | (None, Some(text)) => text,
            (None, None) => match name {
                Some("id") => self.rng.id(&id_prefix(object.unwrap_or("object"))),
                Some(field) if field.ends_with("_id") && field.len() > 3 => {
                    let stem = field.get(..field.len() - 3).unwrap_or("object");
                    self.rng.id(&field_prefix(stem))
                }
                Some(field) => by_name(field).unwrap_or_else(|| format!("sample {field}")),
                None => "sample".to_owned(),
            },
        };
        let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        let max = schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let min = usize::try_from(min.min(4096)).unwrap_or(4096);
        while text.chars().count() < min {
            text.push('x');
        }
        if u64::try_from(text.chars().count()).unwrap_or(u64::MAX) > max {
            text = "x".repeat(usize::try_from(max).unwrap_or(0).max(min));
        }
        json!(text)
    }
}

/// `id` built before the object's type was known (inside `allOf` parts): keep it as built,
/// unless the object says what it is and the id was a placeholder.
fn fix_id(object: &mut Map<String, Value>, rng: &mut SplitMix64) {
    // Free-text `object` fields hold a sample ("sample object"), not a type.
    let Some(kind) = object
        .get("object")
        .and_then(Value::as_str)
        .filter(|kind| !kind.contains(' '))
    else {
        return;
    };
    let prefix = id_prefix(kind);
    if let Some(Value::String(id)) = object.get("id") {
        if id.starts_with("object_") && prefix != "object_" {
            let fresh = rng.id(&prefix);
            object.insert("id".to_owned(), Value::String(fresh));
        }
    }
}

/// A realistic sample for the fields whose name says what they hold.
fn by_name(field: &str) -> Option<String> {
    let text = match field {
        "email_address" | "email" => "sample@example.com",
        "phone_number" => "+15555550100",
        "web3_wallet" => "0x52908400098527886e0f7030069857d2e4169ee7",
        _ if field == "url" || field.ends_with("_url") => "https://example.com/sample",
        _ => return None,
    };
    Some(text.to_owned())
}

fn required_names(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An integer within the schema's bounds; a Unix time in milliseconds for `*_at` fields.
fn integer(schema: &Value, name: Option<&str>) -> Value {
    let min = schema.get("minimum").and_then(Value::as_i64);
    let max = schema
        .get("maximum")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    let preferred = match name {
        Some(field) if is_time(field) => SAMPLE_MILLIS,
        _ => 1,
    };
    let value = match min {
        Some(min) => preferred.max(min),
        None => preferred,
    };
    json!(value.min(max))
}

/// A JSON number, written as an integer when it is one (`1`, not `1.0`): it fits a schema of
/// type `number` either way, and decodes into an integer field as well as a float one.
fn number(value: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// Whether a numeric field holds a Unix time (`created_at`, `expiration`).
fn is_time(field: &str) -> bool {
    field.ends_with("_at") || field == "expiration"
}

/// The schema's type: `type` as written, or the first non-null entry of a list of types.
pub(crate) fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_deterministic_and_prefixed() {
        let spec = super::super::spec::index().unwrap();
        let user = json!({ "$ref": "#/components/schemas/User" });
        let a = maximal(&spec.doc, &user);
        let b = maximal(&spec.doc, &user);
        assert_eq!(a, b);
        assert_eq!(a["object"], "user");
        let id = a["id"].as_str().unwrap();
        assert!(id.starts_with("user_") && id.len() == 5 + 27, "{id}");
        assert!(a["email_addresses"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("idn_"));
        assert_eq!(a["created_at"], SAMPLE_MILLIS);
        // A ref to nowhere is a schema that allows anything.
        assert_eq!(
            maximal(&spec.doc, &json!({ "$ref": "#/nowhere" })),
            json!({})
        );
        // Cycles end, with or without going deeper.
        let looped = json!({ "type": "array", "minItems": 1, "items": { "$ref": "#/x" } });
        let doc = json!({ "x": looped.clone(), "y": { "allOf": [{ "$ref": "#/y" }] } });
        let _ = maximal(&doc, &looped);
        let _ = maximal(&doc, &json!({ "$ref": "#/y" }));
    }
}
