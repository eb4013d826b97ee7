//! Answers to the spec's operations that the mock does not keep state for: a valid instance of
//! the operation's response schema, as stripe-mock answers from its fixtures.
//!
//! Per operation a skeleton is built once ([`Skeleton`], from [`instance::maximal`]) and each
//! answer is a copy of it with fresh ids, the path parameter echoed as the `id` of the object
//! asked for, and lists filled with a few items.
//!
//! A generated list is a fixed list of [`LIST_ITEMS`] items per operation and path
//! parameters, paged as Clerk pages: `offset` skips, `limit` bounds the page (when the
//! operation has them), `total_count` is the whole list's length, and an item keeps its ids
//! from one page to the next, so a client can walk the list to its end and see each item
//! once.

use clerk_tower_spec::json::{property, schema_type};
use clerk_tower_spec::{Location, Operation, Param};
use http::StatusCode;
use serde_json::Value;

use super::engine::SplitMix64;
use super::spec::{self, SpecIndex};
use super::validate::query_pairs;

/// How many items a generated list holds (a page holds fewer when `limit` or `offset` say).
pub(crate) const LIST_ITEMS: usize = 3;

/// How long a generated id's random part is: Clerk's ids are a prefix and 27 base62
/// characters.
const ID_BODY_LEN: usize = 27;
/// The random part of the ids the spec gives as 32 hex digits (`ak_`, `mt_`, `aplt_`).
const HEX_ID_BODY_LEN: usize = 32;

/// What an operation answers, built once per operation.
#[derive(Debug)]
pub(crate) enum Skeleton {
    /// No body (`204 No Content`, `202 Accepted`).
    Empty,
    /// A small HTML page (the interstitial: the spec declares no schema; Clerk serves HTML).
    Html,
    /// A JSON body.
    Json {
        value: Value,
        list: ListKind,
        /// The path parameter whose value becomes the top-level `id`.
        echo: Option<String>,
        /// A `DeletedObject`: its `object` names the deleted resource.
        deleted: bool,
    },
}

/// Whether a JSON answer is a list, and of which kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// A single object (or scalar).
    None,
    /// A bare JSON array.
    Bare,
    /// `{"data": [...], "total_count": N}`: an object with a `total_count` and one array (this
    /// field), e.g. `data` or `m2m_tokens`.
    Paged(String),
}

/// What a generic answer is: status, body and its media type.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    /// `None` for an empty body.
    pub(crate) media: Option<&'static str>,
}

impl Skeleton {
    /// The skeleton of `op`'s answer, whose JSON schema is `schema` (see
    /// [`SpecIndex::answer_schema`]).
    pub(crate) fn build(index: &SpecIndex, op: &Operation, schema: Option<&Value>) -> Skeleton {
        let Some(schema) = schema else {
            return if index.answers_media(op, "text/html") {
                Skeleton::Html
            } else {
                Skeleton::Empty
            };
        };
        let value = spec::maximal(index.doc(), schema);
        let list = match &value {
            Value::Array(_) => ListKind::Bare,
            Value::Object(map) if map.get("total_count").is_some_and(Value::is_number) => {
                let mut arrays = map.iter().filter(|(_, v)| v.is_array());
                match (arrays.next(), arrays.next()) {
                    (Some((key, _)), None) => ListKind::Paged(key.clone()),
                    _ => ListKind::None,
                }
            }
            _ => ListKind::None,
        };
        let deleted = op.method == "DELETE"
            && value.get("deleted").is_some()
            && value
                .get("object")
                .and_then(Value::as_str)
                .is_some_and(|o| o.starts_with("sample"));
        let echo = match &list {
            ListKind::None => echo_param(index, op, schema, &value, deleted),
            _ => None,
        };
        Skeleton::Json {
            value,
            list,
            echo,
            deleted,
        }
    }

    /// One answer: a copy with fresh ids, the echoed path parameter, and list items.
    pub(crate) fn answer(
        &self,
        op: &Operation,
        path_params: &[(&str, String)],
        query: Option<&str>,
        rng: &mut SplitMix64,
    ) -> Result<Answer, serde_json::Error> {
        let status = StatusCode::from_u16(op.success).unwrap_or(StatusCode::OK);
        let (value, list, echo, deleted) = match self {
            Skeleton::Empty => {
                return Ok(Answer {
                    status,
                    body: Vec::new(),
                    media: None,
                })
            }
            Skeleton::Html => {
                return Ok(Answer {
                    status,
                    body: HTML_PAGE.as_bytes().to_vec(),
                    media: Some("text/html; charset=utf-8"),
                })
            }
            Skeleton::Json {
                value,
                list,
                echo,
                deleted,
            } => (value, list, echo, *deleted),
        };
        let window = list_window(op, query);
        let mut value = value.clone();
        // The page's items, taken out while the rest gets fresh ids, then put back.
        let mut page = None;
        match (list, &mut value) {
            (ListKind::Bare, Value::Array(items)) => {
                page = Some(page_items(items, window, op, path_params));
            }
            (ListKind::Paged(key), Value::Object(map)) => {
                if let Some(Value::Array(items)) = map.get_mut(key) {
                    page = Some(page_items(items, window, op, path_params));
                }
                map.insert("total_count".to_owned(), Value::from(LIST_ITEMS));
            }
            _ => {}
        }
        refresh_ids(&mut value, rng);
        if let Some(page) = page {
            match (list, &mut value) {
                (ListKind::Bare, Value::Array(items)) => *items = page,
                (ListKind::Paged(key), Value::Object(map)) => {
                    map.insert(key.clone(), Value::Array(page));
                }
                _ => {}
            }
        }
        if let (Some(name), Value::Object(map)) = (echo, &mut value) {
            if let Some((_, given)) = path_params.iter().find(|(n, _)| n == name) {
                map.insert("id".to_owned(), Value::String(given.clone()));
                if deleted {
                    let object = snake_stem(name);
                    map.insert("object".to_owned(), Value::String(object));
                }
            }
        }
        Ok(Answer {
            status,
            body: serde_json::to_vec(&value)?,
            media: Some("application/json"),
        })
    }
}

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Clerk interstitial (clerk-mock)</title></head>\n<body></body>\n</html>\n";

/// The `offset` and `limit` of a list request, for the parameters the operation has
/// (validated before: a value that does not parse counts as absent). Clerk's defaults: offset
/// 0, limit 10 (the spec's `LimitParameter`); without a `limit` parameter, the whole list.
fn list_window(op: &Operation, query: Option<&str>) -> (usize, usize) {
    let pairs = query_pairs(query);
    let param = |name: &str, default: usize| {
        if !op.params.iter().any(|p: &Param| p.name == name) {
            return default;
        }
        pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let has_limit = op.params.iter().any(|p: &Param| p.name == "limit");
    (
        param("offset", 0),
        param("limit", if has_limit { 10 } else { LIST_ITEMS }),
    )
}

/// The items `offset..offset + limit` of the operation's list of [`LIST_ITEMS`] copies of the
/// skeleton's first item. Item `i` gets the same ids on every page (seeded by the operation,
/// its path parameters and `i`), so a walk sees each item once.
fn page_items(
    items: &[Value],
    (offset, limit): (usize, usize),
    op: &Operation,
    path_params: &[(&str, String)],
) -> Vec<Value> {
    let Some(first) = items.first() else {
        return Vec::new();
    };
    let end = offset.saturating_add(limit).min(LIST_ITEMS);
    (offset.min(end)..end)
        .map(|index| {
            let mut item = first.clone();
            refresh_ids(
                &mut item,
                &mut SplitMix64::new(item_seed(op, path_params, index)),
            );
            item
        })
        .collect()
}

/// A seed for item `index` of a generated list: the same for the same operation and path
/// parameters within a process.
fn item_seed(op: &Operation, path_params: &[(&str, String)], index: usize) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    op.id.hash(&mut hasher);
    path_params.hash(&mut hasher);
    index.hash(&mut hasher);
    hasher.finish()
}

/// Gives every `id` that has the shape of a generated Clerk id (`prefix_` and 27
/// alphanumerics, or 32 hex digits) a fresh one with the same prefix and shape.
fn refresh_ids(value: &mut Value, rng: &mut SplitMix64) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "id" {
                    if let Value::String(id) = child {
                        if let Some(prefix) = generated_prefix(id) {
                            let fresh = rng.id(prefix);
                            *id = fresh;
                            continue;
                        }
                        if let Some(prefix) = hex_prefix(id) {
                            let fresh =
                                format!("{prefix}{:016x}{:016x}", rng.next_u64(), rng.next_u64());
                            *id = fresh;
                            continue;
                        }
                    }
                }
                refresh_ids(child, rng);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| refresh_ids(item, rng)),
        _ => {}
    }
}

/// The prefix (with its `_`) of an id made of a prefix and 27 alphanumerics.
fn generated_prefix(id: &str) -> Option<&str> {
    let split = id.rfind('_')?;
    let (prefix, body) = (id.get(..=split)?, id.get(split + 1..)?);
    (prefix.len() > 1
        && body.len() == ID_BODY_LEN
        && body.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(prefix)
}

/// The prefix (with its `_`) of an id made of a prefix and 32 hex digits.
fn hex_prefix(id: &str) -> Option<&str> {
    let split = id.rfind('_')?;
    let (prefix, body) = (id.get(..=split)?, id.get(split + 1..)?);
    (prefix.len() > 1
        && body.len() == HEX_ID_BODY_LEN
        && body.bytes().all(|b| b.is_ascii_hexdigit()))
    .then_some(prefix)
}

/// `apiKeyID` → `api_key`, `user_id` → `user`: the resource a path parameter names.
fn snake_stem(name: &str) -> String {
    let stem = name
        .strip_suffix("_id")
        .or_else(|| name.strip_suffix("ID"))
        .or_else(|| name.strip_suffix("Id"))
        .unwrap_or(name);
    let mut out = String::with_capacity(stem.len() + 4);
    for c in stem.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The path parameter whose value is the `id` of the answer: the last one that names the
/// answer's object type (`user_id` for a `user`, `invitation_id` for an
/// `organization_invitation`), or for a delete that answers a `DeletedObject`, the last one.
/// Never when the answer's `id` has a `pattern` the value may not match.
fn echo_param(
    index: &SpecIndex,
    op: &Operation,
    schema: &Value,
    value: &Value,
    deleted: bool,
) -> Option<String> {
    let id_schema = property(index.doc(), schema, "id")?;
    if id_schema.get("pattern").is_some()
        || id_schema.get("format").is_some()
        || schema_type(id_schema) != Some("string")
    {
        return None;
    }
    let path_params = op
        .params
        .iter()
        .filter(|p| p.location == Location::Path)
        .filter(|p| op.path.contains(&format!("{{{}}}", p.name)));
    let mut ordered: Vec<&Param> = path_params.collect();
    ordered.sort_by_key(|p| op.path.find(&format!("{{{}}}", p.name)));
    if deleted {
        return ordered.last().map(|p| p.name.clone());
    }
    let object = value.get("object").and_then(Value::as_str)?;
    ordered.iter().rev().find_map(|p| {
        let stem = snake_stem(&p.name);
        (object == stem || object.ends_with(&format!("_{stem}"))).then(|| p.name.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_stems() {
        let body = "2abcdefghijklmnopqrstuvwxyz";
        assert_eq!(body.len(), ID_BODY_LEN);
        assert_eq!(generated_prefix(&format!("user_{body}")), Some("user_"));
        assert_eq!(generated_prefix(&format!("user_{body}0")), None);
        assert_eq!(generated_prefix(&format!("user_{}", &body[1..])), None);
        let device = format!("trusted_device_{body}");
        assert_eq!(generated_prefix(&device), Some("trusted_device_"));
        assert_eq!(generated_prefix(&format!("_{body}")), None);
        assert_eq!(
            generated_prefix("ak_0123456789abcdef0123456789abcdef"),
            None
        );
        assert_eq!(
            hex_prefix("ak_0123456789abcdef0123456789ABCDEF"),
            Some("ak_")
        );
        assert_eq!(hex_prefix("ak_0123456789abcdef0123456789ABCDEX"), None);
        assert_eq!(snake_stem("apiKeyID"), "api_key");
        assert_eq!(snake_stem("user_id"), "user");
        assert_eq!(snake_stem("template_type"), "template_type");
    }
}
