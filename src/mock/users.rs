//! The mock's users: the resource most applications touch, kept in memory.
//!
//! Users are Clerk `User` objects (JSON, shaped by the spec's `User` schema: every field the
//! schema declares is present), created from a `POST /v1/users` body and changed by the
//! update, metadata, ban, unban, lock and unlock operations. Requests reach this store only
//! after the spec's validation (`validate`); what it adds is Clerk's behaviour: unique
//! identifiers, the id asked for, `404` for an unknown user.

use std::sync::OnceLock;

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::engine::SplitMix64;
use super::spec::{self, SpecIndex};
use super::validate::{param_error, Refusal};
use crate::models::ClerkError;

/// The user fields the spec declares `nullable`, cleared when a create does not set them.
const NULLABLE: [&str; 17] = [
    "external_id",
    "primary_email_address_id",
    "primary_phone_number_id",
    "primary_web3_wallet_id",
    "username",
    "first_name",
    "last_name",
    "locale",
    "mfa_enabled_at",
    "mfa_disabled_at",
    "password_last_updated_at",
    "last_sign_in_at",
    "lockout_expires_in_seconds",
    "create_organizations_limit",
    "last_active_at",
    "legal_accepted_at",
    "scim",
];

/// The user's lists of related objects that a new user starts without.
const EMPTY_LISTS: [&str; 5] = [
    "passkeys",
    "external_accounts",
    "saml_accounts",
    "enterprise_accounts",
    "organization_memberships",
];

/// A `User` with every field of the spec's schema (values replaced on create), built once.
pub(crate) fn template(index: &SpecIndex) -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| spec::maximal(index.doc(), &json!({ "$ref": "#/components/schemas/User" })))
}

/// The flag operations: ban, unban, lock, unlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    Ban,
    Unban,
    Lock,
    Unlock,
}

/// The users, in insertion order.
#[derive(Debug, Default)]
pub(crate) struct UserStore {
    users: Vec<Value>,
}

/// An object's string field.
fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The strings of a body field that is an array of strings.
fn strings(body: &Map<String, Value>, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The identifiers of one kind (`email_address` of `email_addresses`, ...) a user holds.
fn identifiers<'a>(user: &'a Value, list: &str, field: &str) -> Vec<&'a str> {
    user.get(list)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|item| text(item, field)).collect())
        .unwrap_or_default()
}

fn taken(param: &str, what: &str) -> Refusal {
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        error: param_error(
            "form_identifier_exists",
            &format!("That {what} is taken. Please try another."),
            &format!("That {what} is taken. Please try another."),
            param,
        ),
    }
}

fn invalid(param: &str, why: &str) -> Refusal {
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        error: param_error("form_param_value_invalid", "is invalid", why, param),
    }
}

/// 404 for an unknown user id.
pub(crate) fn not_found() -> ClerkError {
    ClerkError::new("resource_not_found", "not found", "Resource not found")
}

/// The body as a JSON object (`{}` when empty); the spec's validation ran before.
pub(crate) fn body_object(body: &[u8]) -> Map<String, Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Map::new();
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

impl UserStore {
    pub(crate) fn clear(&mut self) {
        self.users.clear();
    }

    /// The users in list order: newest first (`created_at` descending, then insertion order,
    /// newest first).
    pub(crate) fn sorted(&self) -> Vec<Value> {
        let mut all: Vec<(usize, &Value)> = self.users.iter().enumerate().collect();
        all.sort_by_key(|(i, user)| {
            let created = user.get("created_at").and_then(Value::as_i64).unwrap_or(0);
            std::cmp::Reverse((created, *i))
        });
        all.into_iter().map(|(_, u)| u.clone()).collect()
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.users.iter().position(|u| text(u, "id") == Some(id))
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Value> {
        self.position(id).and_then(|i| self.users.get(i))
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.position(id).and_then(|i| self.users.get_mut(i))
    }

    /// Whether another user than `except` holds this identifier.
    fn holder(&self, list: &str, field: &str, value: &str, except: Option<&str>) -> bool {
        let fold = field != "phone_number";
        self.users
            .iter()
            .filter(|u| except.is_none_or(|id| text(u, "id") != Some(id)))
            .any(|u| {
                identifiers(u, list, field).iter().any(|held| {
                    if fold {
                        held.eq_ignore_ascii_case(value)
                    } else {
                        *held == value
                    }
                })
            })
    }

    fn scalar_taken(&self, field: &str, value: &str, except: Option<&str>) -> bool {
        self.users
            .iter()
            .filter(|u| except.is_none_or(|id| text(u, "id") != Some(id)))
            .any(|u| match text(u, field) {
                Some(held) if field == "username" => held.eq_ignore_ascii_case(value),
                Some(held) => held == value,
                None => false,
            })
    }

    /// `POST /v1/users`: a new user from a validated body; stored when `commit`.
    pub(crate) fn create(
        &mut self,
        template: &Value,
        body: &Map<String, Value>,
        now: i64,
        rng: &mut SplitMix64,
        commit: bool,
    ) -> Result<Value, Refusal> {
        let emails = strings(body, "email_address");
        let phones = strings(body, "phone_number");
        let wallets = strings(body, "web3_wallet");
        // Unique across the instance (and within the request).
        for (i, email) in emails.iter().enumerate() {
            let repeated = emails.iter().take(i).any(|e| e.eq_ignore_ascii_case(email));
            if repeated || self.holder("email_addresses", "email_address", email, None) {
                return Err(taken("email_address", "email address"));
            }
        }
        for (i, phone) in phones.iter().enumerate() {
            if phones.iter().take(i).any(|p| p == phone)
                || self.holder("phone_numbers", "phone_number", phone, None)
            {
                return Err(taken("phone_number", "phone number"));
            }
        }
        for (i, wallet) in wallets.iter().enumerate() {
            let repeated = wallets
                .iter()
                .take(i)
                .any(|w| w.eq_ignore_ascii_case(wallet));
            if repeated || self.holder("web3_wallets", "web3_wallet", wallet, None) {
                return Err(taken("web3_wallet", "web3 wallet"));
            }
        }
        for field in ["username", "external_id"] {
            if let Some(value) = body.get(field).and_then(Value::as_str) {
                if self.scalar_taken(field, value, None) {
                    let what = if field == "username" {
                        "username"
                    } else {
                        "external ID"
                    };
                    return Err(taken(field, what));
                }
            }
        }
        let created_at = match body.get("created_at").and_then(Value::as_str) {
            Some(stamp) => parse_rfc3339_millis(stamp)
                .ok_or_else(|| invalid("created_at", "created_at must be an RFC3339 date-time."))?,
            None => now,
        };
        let legal_accepted_at = match body.get("legal_accepted_at").and_then(Value::as_str) {
            Some(stamp) => Some(parse_rfc3339_millis(stamp).ok_or_else(|| {
                invalid(
                    "legal_accepted_at",
                    "legal_accepted_at must be an RFC3339 date-time.",
                )
            })?),
            None => None,
        };

        let mut user = match template {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        for field in NULLABLE {
            user.insert(field.to_owned(), Value::Null);
        }
        for list in EMPTY_LISTS {
            user.insert(list.to_owned(), json!([]));
        }
        user.insert("id".to_owned(), json!(rng.id("user_")));
        user.insert("object".to_owned(), json!("user"));
        let item = |list: &str, field: &str, value: &str, rng: &mut SplitMix64| {
            let mut item = template
                .get(list)
                .and_then(|l| l.get(0))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            item.insert("id".to_owned(), json!(rng.id("idn_")));
            item.insert(field.to_owned(), json!(value));
            item.insert("created_at".to_owned(), json!(now));
            item.insert("updated_at".to_owned(), json!(now));
            for key in ["linked_to"] {
                if item.contains_key(key) {
                    item.insert(key.to_owned(), json!([]));
                }
            }
            for key in [
                "reserved",
                "matches_sso_connection",
                "reserved_for_second_factor",
                "default_second_factor",
            ] {
                if item.contains_key(key) {
                    item.insert(key.to_owned(), json!(false));
                }
            }
            Value::Object(item)
        };
        for (list, field, values, primary) in [
            (
                "email_addresses",
                "email_address",
                &emails,
                "primary_email_address_id",
            ),
            (
                "phone_numbers",
                "phone_number",
                &phones,
                "primary_phone_number_id",
            ),
            (
                "web3_wallets",
                "web3_wallet",
                &wallets,
                "primary_web3_wallet_id",
            ),
        ] {
            let items: Vec<Value> = values.iter().map(|v| item(list, field, v, rng)).collect();
            if let Some(id) = items.first().and_then(|i| i.get("id")).cloned() {
                user.insert(primary.to_owned(), id);
            }
            user.insert(list.to_owned(), Value::Array(items));
        }
        for field in [
            "external_id",
            "first_name",
            "last_name",
            "locale",
            "username",
        ] {
            if let Some(value) = body.get(field).filter(|v| v.is_string()) {
                user.insert(field.to_owned(), value.clone());
            }
        }
        for field in ["public_metadata", "private_metadata", "unsafe_metadata"] {
            let value = body.get(field).filter(|v| v.is_object()).cloned();
            user.insert(field.to_owned(), value.unwrap_or_else(|| json!({})));
        }
        let password = ["password", "password_digest"]
            .iter()
            .any(|k| body.get(*k).is_some_and(Value::is_string));
        let totp = body.get("totp_secret").is_some_and(Value::is_string);
        let backup = !strings(body, "backup_codes").is_empty();
        let flag =
            |key: &str, default: bool| body.get(key).and_then(Value::as_bool).unwrap_or(default);
        for (key, value) in [
            ("password_enabled", json!(password)),
            ("totp_enabled", json!(totp)),
            ("backup_code_enabled", json!(backup)),
            ("two_factor_enabled", json!(totp || backup)),
            ("has_image", json!(false)),
            ("banned", json!(flag("banned", false))),
            ("locked", json!(flag("locked", false))),
            ("deprovisioned", json!(false)),
            (
                "bypass_client_trust",
                json!(flag("bypass_client_trust", false)),
            ),
            (
                "delete_self_enabled",
                json!(flag("delete_self_enabled", true)),
            ),
            (
                "create_organization_enabled",
                json!(flag("create_organization_enabled", true)),
            ),
            ("created_at", json!(created_at)),
            ("updated_at", json!(now)),
        ] {
            user.insert(key.to_owned(), value);
        }
        if password {
            user.insert("password_last_updated_at".to_owned(), json!(now));
        }
        if totp || backup {
            user.insert("mfa_enabled_at".to_owned(), json!(now));
        }
        if let Some(at) = legal_accepted_at {
            user.insert("legal_accepted_at".to_owned(), json!(at));
        }
        if let Some(limit) = body
            .get("create_organizations_limit")
            .filter(|v| v.is_i64())
        {
            user.insert("create_organizations_limit".to_owned(), limit.clone());
        }
        let user = Value::Object(user);
        if commit {
            self.users.push(user.clone());
        }
        Ok(user)
    }

    /// `PATCH /v1/users/{user_id}`; `Ok(None)` for an unknown user.
    pub(crate) fn update(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        now: i64,
        commit: bool,
    ) -> Result<Option<Value>, Refusal> {
        let Some(i) = self.position(id) else {
            return Ok(None);
        };
        for field in ["username", "external_id"] {
            if let Some(value) = body.get(field).and_then(Value::as_str) {
                if self.scalar_taken(field, value, Some(id)) {
                    let what = if field == "username" {
                        "username"
                    } else {
                        "external ID"
                    };
                    return Err(taken(field, what));
                }
            }
        }
        let Some(Value::Object(current)) = self.users.get(i) else {
            return Ok(None);
        };
        let mut user = current.clone();
        for field in [
            "external_id",
            "first_name",
            "last_name",
            "locale",
            "username",
        ] {
            match body.get(field) {
                Some(Value::String(s)) => {
                    user.insert(field.to_owned(), json!(s));
                }
                Some(Value::Null) | None => {}
                Some(_) => {}
            }
        }
        for (field, list) in [
            ("primary_email_address_id", "email_addresses"),
            ("primary_phone_number_id", "phone_numbers"),
            ("primary_web3_wallet_id", "web3_wallets"),
        ] {
            if let Some(wanted) = body.get(field).and_then(Value::as_str) {
                let owned = identifiers(&Value::Object(user.clone()), list, "id").contains(&wanted);
                if !owned {
                    return Err(invalid(
                        field,
                        &format!("{field} must be the id of one of the user's {list}."),
                    ));
                }
                user.insert(field.to_owned(), json!(wanted));
            }
        }
        for field in [
            "delete_self_enabled",
            "create_organization_enabled",
            "bypass_client_trust",
        ] {
            if let Some(value) = body.get(field).filter(|v| v.is_boolean()) {
                user.insert(field.to_owned(), value.clone());
            }
        }
        if let Some(limit) = body
            .get("create_organizations_limit")
            .filter(|v| v.is_i64())
        {
            user.insert("create_organizations_limit".to_owned(), limit.clone());
        }
        for field in ["created_at", "legal_accepted_at"] {
            if let Some(stamp) = body.get(field).and_then(Value::as_str) {
                let at = parse_rfc3339_millis(stamp).ok_or_else(|| {
                    invalid(field, &format!("{field} must be an RFC3339 date-time."))
                })?;
                user.insert(field.to_owned(), json!(at));
            }
        }
        if ["password", "password_digest"]
            .iter()
            .any(|k| body.get(*k).is_some_and(Value::is_string))
        {
            user.insert("password_enabled".to_owned(), json!(true));
            user.insert("password_last_updated_at".to_owned(), json!(now));
        }
        if body.get("totp_secret").is_some_and(Value::is_string) {
            user.insert("totp_enabled".to_owned(), json!(true));
            user.insert("two_factor_enabled".to_owned(), json!(true));
        }
        if !strings(body, "backup_codes").is_empty() {
            user.insert("backup_code_enabled".to_owned(), json!(true));
            user.insert("two_factor_enabled".to_owned(), json!(true));
        }
        user.insert("updated_at".to_owned(), json!(now));
        let user = Value::Object(user);
        if commit {
            if let Some(slot) = self.users.get_mut(i) {
                *slot = user.clone();
            }
        }
        Ok(Some(user))
    }

    /// `PATCH /v1/users/{user_id}/metadata`: each metadata object is deep-merged, a `null`
    /// value removing its key; `None` for an unknown user.
    pub(crate) fn merge_metadata(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        now: i64,
        commit: bool,
    ) -> Option<Value> {
        let i = self.position(id)?;
        let mut user = self.users.get(i)?.clone();
        for field in ["public_metadata", "private_metadata", "unsafe_metadata"] {
            if let Some(patch) = body.get(field).filter(|v| v.is_object()) {
                let target = user.get_mut(field)?;
                if !target.is_object() {
                    *target = json!({});
                }
                merge(target, patch, 0);
            }
        }
        if let Value::Object(map) = &mut user {
            map.insert("updated_at".to_owned(), json!(now));
        }
        if commit {
            *self.users.get_mut(i)? = user.clone();
        }
        Some(user)
    }

    /// Ban, unban, lock or unlock; `None` for an unknown user.
    pub(crate) fn set_flag(
        &mut self,
        id: &str,
        flag: Flag,
        now: i64,
        commit: bool,
    ) -> Option<Value> {
        let i = self.position(id)?;
        let mut user = self.users.get(i)?.clone();
        let map = user.as_object_mut()?;
        match flag {
            Flag::Ban => map.insert("banned".to_owned(), json!(true)),
            Flag::Unban => map.insert("banned".to_owned(), json!(false)),
            Flag::Lock => map.insert("locked".to_owned(), json!(true)),
            Flag::Unlock => {
                map.insert("lockout_expires_in_seconds".to_owned(), Value::Null);
                map.insert("locked".to_owned(), json!(false))
            }
        };
        map.insert("updated_at".to_owned(), json!(now));
        if commit {
            *self.users.get_mut(i)? = user.clone();
        }
        Some(user)
    }

    /// Gives the user `from` the id `to`; the user after the change, `None` if unknown.
    pub(crate) fn rename(&mut self, from: &str, to: &str) -> Option<Value> {
        let i = self.position(from)?;
        let user = self.users.get_mut(i)?.as_object_mut()?;
        user.insert("id".to_owned(), json!(to));
        self.users.get(i).cloned()
    }

    /// `DELETE /v1/users/{user_id}`: the user removed (when `commit`), `None` if unknown.
    pub(crate) fn delete(&mut self, id: &str, commit: bool) -> Option<Value> {
        let i = self.position(id)?;
        if commit {
            Some(self.users.remove(i))
        } else {
            self.users.get(i).cloned()
        }
    }

    /// `GET /v1/users`: one page of what the query selects, with the spec's paging
    /// parameters: `limit` (default 10), `offset` (default 0) and the `starting_after` cursor
    /// (the users that follow that user in the list's order). As the spec says, the cursor
    /// needs a `created_at` ordering and no non-zero `offset` (else 422
    /// `form_param_value_invalid`). A cursor naming no user is a 422 too (the spec does not
    /// say; the mock refuses rather than guess a place in the list).
    pub(crate) fn page(&self, pairs: &[(String, String)]) -> Result<Vec<Value>, Refusal> {
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str, default: usize| {
            value(name)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(default)
        };
        let (limit, offset) = (number("limit", 10), number("offset", 0));
        let selected = self.select(pairs);
        let Some(cursor) = value("starting_after") else {
            return Ok(selected.into_iter().skip(offset).take(limit).collect());
        };
        let invalid = |long: &str| Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: param_error(
                "form_param_value_invalid",
                "is invalid",
                long,
                "starting_after",
            ),
        };
        if !matches!(
            value("order_by"),
            None | Some("created_at" | "+created_at" | "-created_at")
        ) {
            return Err(invalid(
                "starting_after requires ordering by created_at (order_by omitted, created_at, +created_at or -created_at).",
            ));
        }
        if offset != 0 {
            return Err(invalid(
                "starting_after cannot be combined with a non-zero offset.",
            ));
        }
        // Where each user sits in the list's order, filters aside: the cursor user need not
        // match the filters.
        let order: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k == "order_by")
            .cloned()
            .collect();
        let position: std::collections::HashMap<String, usize> = self
            .select(&order)
            .iter()
            .enumerate()
            .filter_map(|(i, u)| text(u, "id").map(|id| (id.to_owned(), i)))
            .collect();
        let Some(&after) = position.get(cursor) else {
            return Err(invalid("starting_after must be the id of a user."));
        };
        Ok(selected
            .into_iter()
            .filter(|u| {
                text(u, "id")
                    .and_then(|id| position.get(id))
                    .is_some_and(|&p| p > after)
            })
            .take(limit)
            .collect())
    }

    /// The users a list or count query selects, in its order (before `limit` / `offset`).
    pub(crate) fn select(&self, pairs: &[(String, String)]) -> Vec<Value> {
        let values = |name: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let mut users = self.sorted();
        for (param, list, field) in [
            ("email_address", Some("email_addresses"), "email_address"),
            ("phone_number", Some("phone_numbers"), "phone_number"),
            ("web3_wallet", Some("web3_wallets"), "web3_wallet"),
            ("username", None, "username"),
            ("external_id", None, "external_id"),
            ("user_id", None, "id"),
        ] {
            let wanted = values(param);
            if wanted.is_empty() {
                continue;
            }
            users.retain(|u| {
                let held: Vec<&str> = match list {
                    Some(list) => identifiers(u, list, field),
                    None => text(u, field).into_iter().collect(),
                };
                held.iter()
                    .any(|h| wanted.iter().any(|w| h.eq_ignore_ascii_case(w)))
            });
        }
        if let Some(query) = values("query").first().map(|q| q.to_lowercase()) {
            users.retain(|u| {
                let mut texts: Vec<&str> =
                    ["id", "username", "first_name", "last_name", "external_id"]
                        .iter()
                        .filter_map(|f| text(u, f))
                        .collect();
                texts.extend(identifiers(u, "email_addresses", "email_address"));
                texts.extend(identifiers(u, "phone_numbers", "phone_number"));
                texts.extend(identifiers(u, "web3_wallets", "web3_wallet"));
                texts.iter().any(|t| t.to_lowercase().contains(&query))
            });
        }
        if let Some(banned) = values("banned").first() {
            let banned = matches!(*banned, "1" | "t" | "T" | "true" | "TRUE" | "True");
            users.retain(|u| u.get("banned").and_then(Value::as_bool) == Some(banned));
        }
        match values("order_by").first().copied() {
            Some("created_at" | "+created_at") => users.reverse(),
            Some(order @ ("updated_at" | "+updated_at" | "-updated_at")) => {
                let key = |u: &Value| u.get("updated_at").and_then(Value::as_i64).unwrap_or(0);
                users.sort_by_key(key);
                if order == "-updated_at" {
                    users.reverse();
                }
            }
            _ => {}
        }
        users
    }
}

/// Deep-merges `patch` into `target`: objects merge key by key, `null` removes a key, any
/// other value replaces. Bounded depth (JSON bodies are at most 128 levels deep anyway).
fn merge(target: &mut Value, patch: &Value, depth: usize) {
    let (Value::Object(into), Value::Object(from)) = (target, patch) else {
        return;
    };
    for (key, value) in from {
        match value {
            Value::Null => {
                into.remove(key);
            }
            Value::Object(_) if depth < 64 => {
                let slot = into.entry(key.clone()).or_insert_with(|| json!({}));
                if !slot.is_object() {
                    *slot = json!({});
                }
                merge(slot, value, depth + 1);
            }
            other => {
                into.insert(key.clone(), other.clone());
            }
        }
    }
}

/// Parses an RFC 3339 date-time (`2012-10-20T07:15:20.902Z`, `2012-10-20T09:15:20+02:00`)
/// into Unix milliseconds; `None` for anything else.
pub(crate) fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = 19;
    let mut millis = 0;
    if b.get(rest) == Some(&b'.') {
        let start = rest + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        // The first three fraction digits, padded.
        let take = (end - start).min(3);
        let fraction = digits(start..start + take)?;
        millis = fraction * 10_i64.pow(u32::try_from(3 - take).ok()?);
        rest = end;
    }
    let offset_minutes = match b.get(rest..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let h = digits(rest + 1..rest + 3)?;
            let m = digits(rest + 4..rest + 6)?;
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_millis("2026-05-12T10:20:30Z"),
            Some(spec::SAMPLE_MILLIS)
        );
        assert_eq!(
            parse_rfc3339_millis("2026-05-12T12:20:30.5+02:00"),
            Some(spec::SAMPLE_MILLIS + 500)
        );
        assert_eq!(
            parse_rfc3339_millis("2012-10-20T07:15:20.902123Z"),
            Some(1_350_717_320_902)
        );
        for bad in [
            "",
            "2026-05-12",
            "2026-13-12T10:20:30Z",
            "2026-05-12T10:20:30",
            "2026-05-12T10:20:30.Z",
            "９９９９-05-12T10:20:30Z",
            "2026-05-12T10:20:30+2:00",
        ] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn metadata_merges_deeply() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut target, &json!({"a": null, "b": {"c": 4}, "e": [1]}), 0);
        assert_eq!(target, json!({"b": {"c": 4, "d": 3}, "e": [1]}));
    }
}
