//! Instances of the spec's schemas: what a request or an answer may look like.
//!
//! [`instance`] builds one JSON value for an OpenAPI schema object of a document, in one of the
//! [`Shape`]s: only the required fields, every field, every string enum replaced by a value the
//! spec does not list, every object carrying a field the spec does not know, or a value drawn
//! from a seed among everything the schema allows. Formats (`date-time`, `email`, `uri`, ...),
//! bounds (`minimum`, `exclusiveMaximum`, `maxLength`, `minItems`, ...), `pattern`s,
//! `nullable`, `allOf`, `oneOf` / `anyOf` (the first branch or the one a discriminator names; any
//! of them when drawn), enums and `additionalProperties` are honoured. Ids carry Clerk's
//! prefixes ([`id_prefix`]), Unix times are times. The same schema, shape and seed give the
//! same value.
//!
//! Nothing here panics: a `$ref` that points nowhere is a schema that allows anything, and
//! recursion stops at a fixed depth.

use serde_json::{json, Map, Value};

use crate::json::{nullable, required, resolve, schema_type, Json};
use crate::rng::SplitMix64;
use crate::sample::{format_sample, random_format, Draw, Regex};

/// Which instance of a schema to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Required properties only; optional fields left out.
    Minimal,
    /// Every property the schema declares (nullable ones with a value).
    Maximal,
    /// [`Shape::Maximal`], with every string enum given a value the spec does not list.
    UnknownEnum,
    /// [`Shape::Maximal`], with an extra, undeclared field in every object.
    ExtraField,
    /// Anything the schema allows, drawn from the seed: optional fields present or not,
    /// `null` where the schema is nullable, any enum value or `oneOf` branch, integers and
    /// numbers anywhere in their bounds (negative ones where the spec has no minimum), strings
    /// of any allowed length, arrays of a few items, maps with a few keys.
    Random,
}

/// The enum value no spec lists.
pub const UNKNOWN_ENUM_VALUE: &str = "zz_value_from_a_later_release";
/// The field no spec declares.
pub const EXTRA_FIELD: &str = "zz_field_from_a_later_release";
/// A fixed Unix time in milliseconds (2026-05-12T10:20:30Z) for integer `*_at` fields.
pub const SAMPLE_MILLIS: i64 = 1_778_581_230_000;

/// How deep optional parts are followed.
const MAX_DEPTH: usize = 8;
/// The most `build` calls that may run inside each other (compositions recurse without going
/// deeper).
const MAX_NESTING: usize = 256;
/// The most items any array gets, whatever its `minItems`.
const MAX_ITEMS: u64 = 64;
/// The longest string padded to its `minLength`.
const MAX_PAD: u64 = 4096;

/// An instance of `schema` (an OpenAPI schema object of `doc`, refs allowed) in `shape`; the
/// ids (and, for [`Shape::Random`], everything else) drawn from `seed`.
pub fn instance(doc: &Value, schema: &Value, shape: Shape, seed: u64) -> Value {
    Builder {
        doc,
        shape,
        rng: SplitMix64::new(seed),
        nesting: 0,
    }
    .build(schema, 0, None, None)
}

/// Clerk's id prefix for an object type (the value of its `object` field).
///
/// The prefixes marked "seen" appear in Clerk's public API payloads, documentation or in the
/// spec's own patterns and examples; for the others no public evidence was at hand, so the
/// prefix is derived from the object name (`{object}_`), which is clearly not Clerk's.
pub fn id_prefix(object: &str) -> String {
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

/// A realistic sample for the fields whose name says what they hold.
fn by_name(field: &str) -> Option<&'static str> {
    Some(match field {
        "email_address" | "email" => "sample@example.com",
        "phone_number" => "+15555550100",
        "web3_wallet" => "0x52908400098527886e0f7030069857d2e4169ee7",
        _ if field == "url" || field.ends_with("_url") => "https://example.com/sample",
        _ => return None,
    })
}

/// Whether a numeric field holds a Unix time (`created_at`, `expiration`).
fn is_time(field: &str) -> bool {
    field.ends_with("_at") || field == "expiration"
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

/// A JSON number, written as an integer when it is one (`1`, not `1.0`): it fits a schema of
/// type `number` either way, and decodes into an integer field as well as a float one.
fn number(value: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        json!(value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

/// Characters random strings are made of: letters, digits, punctuation JSON escapes, and a
/// few that are more than one byte in UTF-8.
const TEXT_CHARS: &[char] = &[
    'a', 'b', 'z', 'A', 'Z', '0', '9', ' ', '_', '-', '.', '@', '"', '\\', '/', '\n', '\t', 'é',
    'ß', 'Ж', '中', '🦀', '\u{7f}',
];

struct Builder<'a> {
    doc: &'a Value,
    shape: Shape,
    rng: SplitMix64,
    nesting: usize,
}

impl Builder<'_> {
    fn random(&self) -> bool {
        self.shape == Shape::Random
    }

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
        let schema = resolve(doc, schema);
        if self.random() && nullable(schema) && self.rng.one_in(5) {
            return Value::Null;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            return self.all_of(schema, all, depth, name, object);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                if schema.get("properties").is_none() {
                    return self.one_of(schema, branches, depth, name, object);
                }
                // Properties beside the choice: the object, plus what the branch requires (a
                // branch can be nothing but a `required` list) or adds.
                let branch = self.branch_index(branches);
                let chosen = branches.get(branch).map(|b| resolve(doc, b));
                let extra: Vec<String> = chosen
                    .map(|b| required(b).into_iter().map(str::to_owned).collect())
                    .unwrap_or_default();
                let mut value = self.object_with(schema, depth, &extra, name);
                let adds = chosen
                    .is_some_and(|b| b.get("properties").is_some() || b.get("allOf").is_some());
                if let (true, Some(b)) = (adds, chosen) {
                    if let (Value::Object(own), Value::Object(more)) =
                        (&mut value, self.build(b, depth, name, object))
                    {
                        own.extend(more);
                    }
                }
                return value;
            }
        }
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if self.random() {
                return self.rng.pick(values).cloned().unwrap_or(Value::Null);
            }
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
            Some("object") => self.object_with(schema, depth, &[], name),
            Some("array") => self.array(schema, depth, name, object),
            Some("string") => self.string(schema, name, object),
            Some("integer") => self.integer(schema, name),
            Some("number") => self.number(schema, name),
            Some("boolean") => json!(!self.random() || self.rng.one_in(2)),
            // No type: anything goes; an object says the most.
            _ if schema.get("properties").is_some() => self.object_with(schema, depth, &[], name),
            _ if self.random() => self.anything(depth),
            _ => json!({}),
        }
    }

    fn all_of(
        &mut self,
        schema: &Value,
        parts: &[Value],
        depth: usize,
        name: Option<&str>,
        object: Option<&str>,
    ) -> Value {
        let doc = self.doc;
        // Siblings of allOf first; the parts declare the required names, so their values win,
        // but a placeholder never replaces a value another part built.
        let mut merged = match self.object_with(schema, depth, &[], name) {
            Value::Object(own) => own,
            _ => Map::new(),
        };
        let outer: Vec<String> = required(schema).into_iter().map(str::to_owned).collect();
        for part in parts {
            let part = resolve(doc, part);
            let plain = part.get("properties").is_some()
                && part.get("allOf").is_none()
                && part.get("oneOf").is_none()
                && part.get("anyOf").is_none();
            let value = if plain {
                self.object_with(part, depth, &outer, name)
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
        // A part that declares a property again narrows it (`status: enum [revoked]` over an
        // `Invitation`): the last declaration of a property present decides its value.
        let object_type = merged
            .get("object")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for part in parts {
            let part = resolve(doc, part);
            for (key, property) in part
                .get("properties")
                .map(Json::entries)
                .into_iter()
                .flatten()
            {
                if merged.contains_key(key) {
                    let value = self.build(property, depth + 1, Some(key), object_type.as_deref());
                    merged.insert(key.clone(), value);
                }
            }
        }
        self.fix_id(&mut merged);
        Value::Object(merged)
    }

    /// Which branch of a `oneOf` / `anyOf` to build: the first, or any when drawing.
    fn branch_index(&mut self, branches: &[Value]) -> usize {
        if self.random() {
            let len = u64::try_from(branches.len()).unwrap_or(1);
            usize::try_from(self.rng.below(len)).unwrap_or(0)
        } else {
            0
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
        let index = self.branch_index(branches);
        let Some(chosen) = branches.get(index) else {
            return json!({});
        };
        let discriminator = schema.get("discriminator");
        let Some(property) = discriminator.and_then(|d| d.str("propertyName")) else {
            return self.build(chosen, depth, name, object);
        };
        // The mapping entry that names the chosen branch (any when drawing, else the first
        // branch's; the smallest value when no entry names it), and the value that selects it.
        let mapping: Vec<(&String, &Value)> = discriminator
            .and_then(|d| d.get("mapping"))
            .map(|m| m.entries().collect())
            .unwrap_or_default();
        let entry = if self.random() {
            self.rng.pick(&mapping).copied()
        } else {
            mapping
                .iter()
                .find(|(_, r)| chosen.get("$ref") == Some(*r))
                .or_else(|| mapping.iter().min_by_key(|(tag, _)| *tag))
                .copied()
        };
        let (branch, tag) = match entry {
            Some((tag, reference)) => (json!({ "$ref": reference }), Some(tag.clone())),
            None => (chosen.clone(), None),
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
        let mut names: Vec<String> = required(schema).into_iter().map(str::to_owned).collect();
        names.extend_from_slice(extra);
        let mut out = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        // A name the spec requires without declaring it (a gap of the spec): any value fits.
        for name in &names {
            if !properties.is_some_and(|p| p.contains_key(name)) {
                out.insert(name.clone(), json!("sample"));
            }
        }
        // The object's type, for the prefix of its `id`.
        let object_type = properties
            .and_then(|p| p.get("object"))
            .map(|o| resolve(doc, o))
            .and_then(|o| {
                o.get("const")
                    .or_else(|| o.get("enum").and_then(|e| e.get(0)))
                    .and_then(Value::as_str)
            })
            .map(str::to_owned)
            .or_else(|| name.map(singular));
        for (key, property) in properties.into_iter().flatten() {
            let include = if names.contains(key) {
                true
            } else {
                match self.shape {
                    Shape::Minimal => false,
                    Shape::Random => depth < MAX_DEPTH && self.rng.one_in(2),
                    _ => depth < MAX_DEPTH,
                }
            };
            if include {
                let value = self.build(property, depth + 1, Some(key), object_type.as_deref());
                out.insert(key.clone(), value);
            }
        }
        let additional = schema.get("additionalProperties");
        if self.shape != Shape::Minimal && depth < MAX_DEPTH {
            let keys = match (self.shape, additional) {
                (Shape::Random, Some(Value::Bool(true) | Value::Object(_))) => self.rng.below(3),
                (_, Some(Value::Bool(true) | Value::Object(_))) => 1,
                _ => 0,
            };
            for i in 0..keys {
                let key = if i == 0 {
                    "key".to_owned()
                } else {
                    format!("key{i}")
                };
                let value = match additional {
                    Some(Value::Object(values)) if !values.is_empty() => {
                        let values = Value::Object(values.clone());
                        self.build(&values, depth + 1, None, None)
                    }
                    _ if self.random() => self.anything(depth + 1),
                    _ => json!("value"),
                };
                out.insert(key, value);
            }
        }
        if self.shape == Shape::ExtraField {
            // In a map with typed values, an unknown key is one more entry of that type.
            let value = match additional {
                Some(Value::Object(values)) if !values.is_empty() && depth < MAX_DEPTH => {
                    self.build(&Value::Object(values.clone()), depth + 1, None, None)
                }
                _ => json!({ "nested": [1, "two", null] }),
            };
            out.insert(EXTRA_FIELD.into(), value);
        }
        self.fix_id(&mut out);
        Value::Object(out)
    }

    fn array(
        &mut self,
        schema: &Value,
        depth: usize,
        name: Option<&str>,
        object: Option<&str>,
    ) -> Value {
        let items = schema.get("items").unwrap_or(&crate::json::NULL);
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let max = schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let count = match self.shape {
            _ if depth >= MAX_DEPTH => min,
            Shape::Minimal => min,
            Shape::Random => min + self.rng.below(max.saturating_sub(min).min(3) + 1),
            _ => min.max(1),
        };
        let count = usize::try_from(count.min(max).min(MAX_ITEMS)).unwrap_or(0);
        let unique = schema.flag("uniqueItems");
        let mut out: Vec<Value> = Vec::with_capacity(count);
        // Distinct items where the schema asks for them: a few more tries than items.
        for _ in 0..count.saturating_mul(if unique { 8 } else { 1 }) {
            if out.len() == count {
                break;
            }
            let item = self.build(items, depth + 1, name, object);
            if !(unique && out.contains(&item)) {
                out.push(item);
            }
        }
        Value::Array(out)
    }

    /// A string that fits the schema's format, pattern and length; ids get Clerk's prefixes.
    fn string(&mut self, schema: &Value, name: Option<&str>, object: Option<&str>) -> Value {
        let format = schema.str("format");
        let by_format = match (self.random(), format) {
            (true, Some(f)) => random_format(f, &mut self.rng),
            (false, Some(f)) => format_sample(f).map(str::to_owned),
            (_, None) => None,
        };
        let draw = if self.random() {
            Draw::Any
        } else {
            Draw::Plain
        };
        let by_pattern = schema.str("pattern").map(|p| {
            Regex::parse(p)
                .and_then(|r| r.sample(&mut self.rng, draw))
                .unwrap_or_else(|| literal_prefix(p))
        });
        let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        let max = schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let id_like = |field: &str| field == "id" || (field.ends_with("_id") && field.len() > 3);
        let mut text = match (by_format, by_pattern) {
            (Some(text), _) | (None, Some(text)) => text,
            (None, None) => match name {
                Some("id") => self.rng.id(&id_prefix(object.unwrap_or("object"))),
                Some(field) if id_like(field) => {
                    let stem = field.get(..field.len() - 3).unwrap_or("object");
                    self.rng.id(&field_prefix(stem))
                }
                _ if self.random() => {
                    let top = max.min(min.saturating_add(24)).min(MAX_PAD);
                    let len = min.min(MAX_PAD) + self.rng.below(top.saturating_sub(min) + 1);
                    (0..len)
                        .filter_map(|_| self.rng.pick(TEXT_CHARS).copied())
                        .collect()
                }
                Some(field) => by_name(field)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("sample {field}")),
                None => "sample".to_owned(),
            },
        };
        let min = usize::try_from(min.min(MAX_PAD)).unwrap_or(0);
        while text.chars().count() < min {
            text.push('x');
        }
        if u64::try_from(text.chars().count()).unwrap_or(u64::MAX) > max {
            let max = usize::try_from(max).unwrap_or(0);
            text = text.chars().take(max.max(min)).collect();
        }
        json!(text)
    }

    /// An integer within the schema's bounds; a Unix time in milliseconds for `*_at` fields.
    fn integer(&mut self, schema: &Value, name: Option<&str>) -> Value {
        let (lo, hi) = match schema.str("format") {
            Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
            _ => (i64::MIN, i64::MAX),
        };
        let bound = |key: &str, exclusive: &str, step: i64| {
            let value = schema.get(key)?;
            let n = value.as_i64().or_else(|| {
                value
                    .as_f64()
                    .map(|f| if step > 0 { f.ceil() } else { f.floor() } as i64)
            })?;
            Some(if schema.flag(exclusive) {
                n.saturating_add(step)
            } else {
                n
            })
        };
        let lo = bound("minimum", "exclusiveMinimum", 1).map_or(lo, |m| m.max(lo));
        let hi = bound("maximum", "exclusiveMaximum", -1).map_or(hi, |m| m.min(hi));
        let time = name.is_some_and(is_time);
        let value = if self.random() {
            let candidates = [
                lo,
                hi,
                0,
                1,
                -1,
                SAMPLE_MILLIS,
                self.rng.in_range(lo, hi),
                self.rng.in_range(-1000, 1000),
            ];
            let pick = *self.rng.pick(&candidates).unwrap_or(&0);
            pick
        } else if time {
            SAMPLE_MILLIS
        } else {
            1
        };
        json!(value.max(lo).min(hi))
    }

    fn number(&mut self, schema: &Value, name: Option<&str>) -> Value {
        let step = 0.5;
        let bound = |key: &str, exclusive: &str, step: f64| {
            let n = schema.get(key).and_then(Value::as_f64)?;
            Some(if schema.flag(exclusive) { n + step } else { n })
        };
        let lo = bound("minimum", "exclusiveMinimum", step).unwrap_or(f64::MIN);
        let hi = bound("maximum", "exclusiveMaximum", -step).unwrap_or(f64::MAX);
        let value = if self.random() {
            let spread = (self.rng.next_f64() - 0.5) * 2e6;
            let candidates = [lo, hi, 0.0, -1.5, 1.5, spread, spread.trunc()];
            *self.rng.pick(&candidates).unwrap_or(&0.0)
        } else if name.is_some_and(is_time) {
            SAMPLE_MILLIS as f64
        } else {
            1.0
        };
        number(value.max(lo).min(hi))
    }

    /// Any JSON value, for a schema that says nothing.
    fn anything(&mut self, depth: usize) -> Value {
        match self.rng.below(if depth < MAX_DEPTH { 6 } else { 4 }) {
            0 => Value::Null,
            1 => json!(self.rng.one_in(2)),
            2 => json!(self.rng.in_range(-1000, 1000)),
            3 => json!("text"),
            4 => json!([self.anything(depth + 1)]),
            _ => json!({ "key": self.anything(depth + 1) }),
        }
    }

    /// `id` built before the object's type was known (inside `allOf` parts): keep it as
    /// built, unless the object says what it is and the id was a placeholder.
    fn fix_id(&mut self, object: &mut Map<String, Value>) {
        // Free-text `object` fields hold a sample ("sample object"), not a type.
        let Some(kind) = object
            .get("object")
            .and_then(Value::as_str)
            .filter(|kind| !kind.contains(' ') && !kind.is_empty())
        else {
            return;
        };
        let prefix = id_prefix(kind);
        if let Some(Value::String(id)) = object.get("id") {
            if id.starts_with("object_") && prefix != "object_" {
                let fresh = self.rng.id(&prefix);
                object.insert("id".to_owned(), Value::String(fresh));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "components": { "schemas": {
                "Thing": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["object", "id", "count", "kind"],
                    "properties": {
                        "object": { "type": "string", "enum": ["user"] },
                        "id": { "type": "string" },
                        "count": { "type": "integer", "format": "int64" },
                        "ratio": { "type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1 },
                        "kind": { "type": "string", "enum": ["a", "b", null], "nullable": true },
                        "name": { "type": "string", "minLength": 2, "maxLength": 3 },
                        "code": { "type": "string", "pattern": "^[A-Z]{2}$" },
                        "at": { "type": "string", "format": "date-time" },
                        "created_at": { "type": "integer" },
                        "tags": { "type": "array", "items": { "type": "string" }, "minItems": 1, "maxItems": 2 },
                        "flags": { "type": "array", "items": { "type": "boolean" }, "uniqueItems": true, "minItems": 2 },
                        "meta": { "type": "object", "additionalProperties": true }
                    }
                }
            } }
        })
    }

    #[test]
    fn shapes_do_what_they_say() {
        let doc = doc();
        let thing = json!({ "$ref": "#/components/schemas/Thing" });
        let max = instance(&doc, &thing, Shape::Maximal, 1);
        assert_eq!(max, instance(&doc, &thing, Shape::Maximal, 1));
        assert_eq!(max["object"], "user");
        assert!(max["id"].as_str().unwrap().starts_with("user_"));
        assert_eq!(max["created_at"], SAMPLE_MILLIS);
        assert_eq!(max["name"].as_str().unwrap().chars().count(), 3);
        assert_eq!(max["code"].as_str().unwrap().len(), 2);
        assert_eq!(max["ratio"], 1);
        assert_eq!(max["meta"]["key"], "value");
        let min = instance(&doc, &thing, Shape::Minimal, 1);
        assert_eq!(min.as_object().unwrap().len(), 4);
        assert_eq!(
            instance(&doc, &thing, Shape::UnknownEnum, 1)["kind"],
            UNKNOWN_ENUM_VALUE
        );
        assert!(instance(&doc, &thing, Shape::ExtraField, 1)
            .get(EXTRA_FIELD)
            .is_some());
        // A ref to nowhere is a schema that allows anything; cycles end.
        assert_eq!(
            instance(&doc, &json!({ "$ref": "#/nowhere" }), Shape::Maximal, 1),
            json!({})
        );
        let looped = json!({ "type": "array", "minItems": 1, "items": { "$ref": "#/x" } });
        let cyclic = json!({ "x": looped.clone(), "y": { "allOf": [{ "$ref": "#/y" }] } });
        let _ = instance(&cyclic, &looped, Shape::Random, 1);
        let _ = instance(&cyclic, &json!({ "$ref": "#/y" }), Shape::Maximal, 1);
    }

    #[test]
    fn random_instances_range_over_what_the_schema_allows() {
        let doc = doc();
        let thing = json!({ "$ref": "#/components/schemas/Thing" });
        let (mut negative, mut null_kind, mut without_name, mut many_tags) = (0, 0, 0, 0);
        for seed in 0..400 {
            let v = instance(&doc, &thing, Shape::Random, seed);
            for key in ["object", "id", "count", "kind"] {
                assert!(v.get(key).is_some(), "{v}");
            }
            let count = v["count"].as_i64().unwrap();
            negative += usize::from(count < 0);
            null_kind += usize::from(v["kind"].is_null());
            without_name += usize::from(v.get("name").is_none());
            if let Some(name) = v.get("name").and_then(Value::as_str) {
                assert!((2..=3).contains(&name.chars().count()), "{name:?}");
            }
            if let Some(ratio) = v.get("ratio").and_then(Value::as_f64) {
                assert!(ratio > 0.0 && ratio <= 1.0, "{ratio}");
            }
            if let Some(tags) = v.get("tags").and_then(Value::as_array) {
                assert!((1..=2).contains(&tags.len()));
                many_tags += usize::from(tags.len() == 2);
            }
            if let Some(flags) = v.get("flags").and_then(Value::as_array) {
                assert!(flags.len() == 2 && flags[0] != flags[1], "{flags:?}");
            }
            if let Some(code) = v.get("code").and_then(Value::as_str) {
                assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()));
            }
        }
        for (what, n) in [
            ("negative counts", negative),
            ("null kinds", null_kind),
            ("missing names", without_name),
            ("two tags", many_tags),
        ] {
            assert!(n > 10, "{what}: {n}");
        }
    }
}
