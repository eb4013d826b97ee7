//! The claims of a verified Clerk session token.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::VerifyError;

/// The claims of a verified Clerk session token.
///
/// The registered claims and Clerk's own are typed; the organization claims of both token
/// versions (v1's `org_id`, `org_role`, `org_slug`, `org_permissions`; v2's compact `o`
/// object with `fea`) are read into one [`OrganizationClaims`]; every other claim (custom
/// claims of your session token template, `fva`, `fea`, `pla`, ...) is kept in
/// [`extra`](Claims::extra).
///
/// `Debug` shows the ids and times, and only the *names* of the extra claims (a template can
/// put e-mail addresses or metadata there).
///
/// ```
/// # fn demo(claims: clerk_tower::auth::Claims) {
/// println!("user {} in session {:?}", claims.sub, claims.sid);
/// if let Some(org) = &claims.org {
///     let can_manage = claims.has_permission("org:billing:manage");
///     println!("org {} as {:?}; can manage billing: {can_manage}", org.id, org.role);
/// }
/// if let Some(actor) = &claims.act {
///     println!("impersonated by {}", actor.sub);
/// }
/// # }
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Claims {
    /// `sub`: the user id (`user_...`).
    pub sub: String,
    /// `sid`: the session id (`sess_...`).
    pub sid: Option<String>,
    /// `azp`: the authorized party, the origin of the page the token was minted for.
    pub azp: Option<String>,
    /// `iss`: the issuer, the instance's Frontend API URL.
    pub iss: Option<String>,
    /// `exp`: expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// `nbf`: not valid before, seconds since the Unix epoch.
    pub nbf: Option<i64>,
    /// `iat`: issued at, seconds since the Unix epoch.
    pub iat: Option<i64>,
    /// `v`: the session token version (1 when absent).
    pub version: u64,
    /// `sts`: the session status (`"active"`, `"pending"`), when the instance sends it.
    pub session_status: Option<String>,
    /// The active organization, from either token version.
    pub org: Option<OrganizationClaims>,
    /// `act`: who is impersonating the user, for an impersonation session.
    pub act: Option<Actor>,
    /// Every other claim, as sent.
    pub extra: Map<String, Value>,
}

/// The active organization of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrganizationClaims {
    /// The organization id (`org_...`): v1 `org_id`, v2 `o.id`.
    pub id: String,
    /// The user's role, with its `org:` prefix (`"org:admin"`): v1 `org_role`, v2 `o.rol`
    /// (sent without the prefix and given it here, as Clerk's SDKs do).
    pub role: Option<String>,
    /// The organization slug: v1 `org_slug`, v2 `o.slg`.
    pub slug: Option<String>,
    /// The user's permissions in full form (`"org:billing:manage"`): v1 `org_permissions`;
    /// for v2, decoded from `o.per`, `o.fpm` and the organization features of `fea`, the way
    /// Clerk's JavaScript SDK does.
    pub permissions: Vec<String>,
}

/// The `act` claim: the actor of an impersonation session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Actor {
    /// The id of the user doing the impersonation (often a Clerk dashboard user).
    pub sub: String,
    /// The other members of `act` (e.g. `iss`, `sid`), as sent.
    pub extra: Map<String, Value>,
}

impl Claims {
    /// The user id (`sub`).
    pub fn user_id(&self) -> &str {
        &self.sub
    }

    /// The session id (`sid`).
    pub fn session_id(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The active organization's id.
    pub fn org_id(&self) -> Option<&str> {
        self.org.as_ref().map(|o| o.id.as_str())
    }

    /// Whether the user has `permission` (full form, `"org:feature:action"`) in the active
    /// organization.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.org
            .as_ref()
            .is_some_and(|o| o.permissions.iter().any(|p| p == permission))
    }

    /// Whether the user has `role` in the active organization (`"org:admin"`; the `org:`
    /// prefix may be left out).
    pub fn has_role(&self, role: &str) -> bool {
        let want = role.strip_prefix("org:").unwrap_or(role);
        self.org
            .as_ref()
            .and_then(|o| o.role.as_deref())
            .is_some_and(|r| r.strip_prefix("org:").unwrap_or(r) == want)
    }

    /// Whether the session is pending (`sts: "pending"`): its user still has a session task
    /// to complete. A verifier refuses such sessions unless it
    /// [accepts them](super::VerifierBuilder::accept_pending_sessions).
    pub fn is_pending(&self) -> bool {
        self.session_status.as_deref() == Some("pending")
    }

    /// `fva`: the minutes since the user last verified their first factor and their second
    /// factor (`-1` when never, or no second factor), when the token has it.
    pub fn factor_verification_age(&self) -> Option<(i64, i64)> {
        match self.extra.get("fva")?.as_array()?.as_slice() {
            [first, second] => Some((first.as_i64()?, second.as_i64()?)),
            _ => None,
        }
    }

    /// Whether the user must verify again before a sensitive action: `true` unless the
    /// factors `level` asks for were verified less than `max_age` ago (whole minutes, as
    /// Clerk counts them). The rules of Clerk's SDKs (`has({ reverification })`, Go's
    /// `NeedsReverification`): [`SecondFactor`](Reverification::SecondFactor) and
    /// [`MultiFactor`](Reverification::MultiFactor) ask for the first factor only when the
    /// user has no second factor. A token without `fva` always needs reverification.
    ///
    /// ```
    /// use std::time::Duration;
    /// use clerk_tower::auth::{Claims, Reverification};
    ///
    /// let claims = Claims::builder("user_1").claim("fva", serde_json::json!([2, 30])).build();
    /// let ten_minutes = Duration::from_secs(600);
    /// assert!(!claims.needs_reverification(Reverification::FirstFactor, ten_minutes));
    /// assert!(claims.needs_reverification(Reverification::SecondFactor, ten_minutes));
    /// ```
    pub fn needs_reverification(&self, level: Reverification, max_age: Duration) -> bool {
        let Some((first, second)) = self.factor_verification_age() else {
            return true;
        };
        let minutes = i64::try_from(max_age.as_secs() / 60).unwrap_or(i64::MAX);
        let fresh = |age: i64| age != -1 && minutes > age;
        let verified = match level {
            Reverification::FirstFactor => fresh(first),
            Reverification::SecondFactor if second == -1 => fresh(first),
            Reverification::SecondFactor => fresh(second),
            Reverification::MultiFactor if second == -1 => fresh(first),
            Reverification::MultiFactor => fresh(first) && fresh(second),
        };
        !verified
    }

    /// Whether the user (or the active organization) has `plan`, from the v2 `pla` claim:
    /// `"pro"` in any scope, `"org:pro"` / `"o:pro"` for the organization's, `"user:pro"` /
    /// `"u:pro"` for the user's (the rules of Clerk's `has({ plan })`).
    pub fn has_plan(&self, plan: &str) -> bool {
        billing_has(self.extra.get("pla"), plan)
    }

    /// Whether the user (or the active organization) has `feature`, from the v2 `fea`
    /// claim, scoped as in [`has_plan`](Self::has_plan).
    pub fn has_feature(&self, feature: &str) -> bool {
        billing_has(self.extra.get("fea"), feature)
    }

    /// Every claim decoded into your own type (custom claims of your session token template,
    /// with the registered ones: `sub`, `sid`, `azp`, `iss`, `exp`, `nbf`, `iat`, `sts`, `v`).
    ///
    /// # Errors
    /// When the claims do not have the shape of `T`.
    pub fn claims_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let mut all = self.extra.clone();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                all.insert(name.to_owned(), value);
            }
        };
        put("sub", Some(self.sub.clone().into()));
        put("sid", self.sid.clone().map(Value::from));
        put("azp", self.azp.clone().map(Value::from));
        put("iss", self.iss.clone().map(Value::from));
        put("exp", Some(self.exp.into()));
        put("nbf", self.nbf.map(Value::from));
        put("iat", self.iat.map(Value::from));
        put("sts", self.session_status.clone().map(Value::from));
        put("v", Some(self.version.into()));
        serde_json::from_value(Value::Object(all))
    }

    /// Claims built by hand, for tests of your own handlers: a user id, then what the test
    /// needs. `exp` is an hour from now; nothing is signed or verified.
    ///
    /// ```
    /// use clerk_tower::auth::Claims;
    ///
    /// let claims = Claims::builder("user_1")
    ///     .session_id("sess_1")
    ///     .org("org_1", "admin", ["org:billing:manage"])
    ///     .build();
    /// assert!(claims.has_permission("org:billing:manage"));
    /// ```
    pub fn builder(user_id: impl Into<String>) -> ClaimsBuilder {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .saturating_add(3600);
        ClaimsBuilder {
            claims: Claims {
                sub: user_id.into(),
                sid: None,
                azp: None,
                iss: None,
                exp,
                nbf: None,
                iat: None,
                version: 2,
                session_status: Some("active".to_owned()),
                org: None,
                act: None,
                extra: Map::new(),
            },
        }
    }

    /// Whether this is an impersonation session.
    pub fn is_impersonated(&self) -> bool {
        self.act.is_some()
    }

    /// Reads the claims of a payload whose signature has been checked.
    pub(crate) fn from_payload(payload: &[u8]) -> Result<Self, VerifyError> {
        let malformed = || VerifyError::Malformed(super::TokenPart::Payload);
        // One UTF-8 check, then `from_str`: the JSON parser does not check each string again.
        let text = std::str::from_utf8(payload).map_err(|_| malformed())?;
        let mut slots: Slots = serde_json::from_str(text).map_err(|_| malformed())?;
        let sub = match slots.sub.take() {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(VerifyError::MissingClaim("sub"))
            }
            Some(_) => return Err(VerifyError::InvalidClaim("sub")),
        };
        let exp = numeric_date(slots.exp.take(), "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        let nbf = numeric_date(slots.nbf.take(), "nbf")?;
        let iat = numeric_date(slots.iat.take(), "iat")?;
        let sid = string(slots.sid.take(), "sid")?;
        let azp = string(slots.azp.take(), "azp")?;
        let iss = string(slots.iss.take(), "iss")?;
        let session_status = string(slots.sts.take(), "sts")?;
        let version = match slots.v.take() {
            None | Some(Value::Null) => 1,
            Some(Value::Number(n)) => n.as_u64().ok_or(VerifyError::InvalidClaim("v"))?,
            Some(_) => return Err(VerifyError::InvalidClaim("v")),
        };
        let act = match slots.act.take() {
            None | Some(Value::Null) => None,
            Some(Value::Object(mut act)) => match act.remove("sub") {
                Some(Value::String(sub)) => Some(Actor { sub, extra: act }),
                _ => return Err(VerifyError::InvalidClaim("act")),
            },
            Some(_) => return Err(VerifyError::InvalidClaim("act")),
        };
        let org = if version == 2 {
            org_v2(slots.o.take(), slots.extra.get("fea"))?
        } else {
            org_v1(&mut slots)?
        };
        // What this version did not read stays with the other claims.
        let mut extra = std::mem::take(&mut slots.extra);
        for (name, value) in [
            ("o", slots.o),
            ("org_id", slots.org_id),
            ("org_role", slots.org_role),
            ("org_slug", slots.org_slug),
            ("org_permissions", slots.org_permissions),
        ] {
            if let Some(value) = value {
                extra.insert(name.to_owned(), value);
            }
        }
        Ok(Claims {
            sub,
            sid,
            azp,
            iss,
            exp,
            nbf,
            iat,
            version,
            session_status,
            org,
            act,
            extra,
        })
    }
}

/// The factors a reverification asks for ([`Claims::needs_reverification`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reverification {
    /// The first factor (password, e-mail code, ...).
    FirstFactor,
    /// The second factor, or the first when the user has none.
    SecondFactor,
    /// Both factors, or the first when the user has no second factor.
    MultiFactor,
}

/// Builds [`Claims`] by hand for handler tests ([`Claims::builder`]).
#[derive(Debug, Clone)]
pub struct ClaimsBuilder {
    claims: Claims,
}

impl ClaimsBuilder {
    /// `sid`.
    pub fn session_id(mut self, sid: impl Into<String>) -> Self {
        self.claims.sid = Some(sid.into());
        self
    }

    /// `azp`.
    pub fn authorized_party(mut self, azp: impl Into<String>) -> Self {
        self.claims.azp = Some(azp.into());
        self
    }

    /// `exp`, in Unix seconds.
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.claims.exp = exp;
        self
    }

    /// `sts` (`"active"` by default; `"pending"` for a pending session).
    pub fn session_status(mut self, status: impl Into<String>) -> Self {
        self.claims.session_status = Some(status.into());
        self
    }

    /// The active organization: its id, the user's role (the `org:` prefix is added when
    /// missing) and permissions (full form, `org:feature:action`).
    pub fn org<I, P>(mut self, id: impl Into<String>, role: &str, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let role = if role.starts_with("org:") {
            role.to_owned()
        } else {
            format!("org:{role}")
        };
        self.claims.org = Some(OrganizationClaims {
            id: id.into(),
            role: Some(role),
            slug: None,
            permissions: permissions.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// `act`: the session is an impersonation by `actor`.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.claims.act = Some(Actor {
            sub: actor.into(),
            extra: Map::new(),
        });
        self
    }

    /// Any other claim (`fva`, `pla`, `fea`, custom claims), as JSON.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.extra.insert(name.into(), value.into());
        self
    }

    /// The claims.
    pub fn build(self) -> Claims {
        self.claims
    }
}

/// Clerk's `has({ plan })` / `has({ feature })` over a `pla` / `fea` claim: a comma-separated
/// list of `scope:name` (scope `o` organization, `u` user, `ou`/`uo` both). `name` alone
/// matches either scope; `org:name` / `o:name` and `user:name` / `u:name` one; any other scope
/// matches nothing.
fn billing_has(claim: Option<&Value>, wanted: &str) -> bool {
    let Some(list) = claim.and_then(Value::as_str) else {
        return false;
    };
    let (want_org, want_user, name) = match wanted.split_once(':') {
        None => (true, true, wanted),
        Some(("org" | "o", name)) => (true, false, name),
        Some(("user" | "u", name)) => (false, true, name),
        Some(_) => return false,
    };
    list.split(',').any(|item| {
        let Some((scope, value)) = item.trim().split_once(':') else {
            return false;
        };
        let (org, user) = match scope {
            "o" => (true, false),
            "u" => (false, true),
            "ou" | "uo" => (true, true),
            _ => (false, false),
        };
        value == name && ((want_org && org) || (want_user && user))
    })
}

/// The payload read in one pass: the claims we type go to their slot, every other one to
/// `extra` (no map insert and remove for the known ones).
#[derive(Default)]
struct Slots {
    sub: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    sid: Option<Value>,
    azp: Option<Value>,
    iss: Option<Value>,
    sts: Option<Value>,
    v: Option<Value>,
    act: Option<Value>,
    o: Option<Value>,
    org_id: Option<Value>,
    org_role: Option<Value>,
    org_slug: Option<Value>,
    org_permissions: Option<Value>,
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Slots {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SlotsVisitor;
        impl<'de> Visitor<'de> for SlotsVisitor {
            type Value = Slots;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Slots, A::Error> {
                let mut slots = Slots::default();
                while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
                    let slot = match &*name {
                        "sub" => &mut slots.sub,
                        "exp" => &mut slots.exp,
                        "nbf" => &mut slots.nbf,
                        "iat" => &mut slots.iat,
                        "sid" => &mut slots.sid,
                        "azp" => &mut slots.azp,
                        "iss" => &mut slots.iss,
                        "sts" => &mut slots.sts,
                        "v" => &mut slots.v,
                        "act" => &mut slots.act,
                        "o" => &mut slots.o,
                        "org_id" => &mut slots.org_id,
                        "org_role" => &mut slots.org_role,
                        "org_slug" => &mut slots.org_slug,
                        "org_permissions" => &mut slots.org_permissions,
                        _ => {
                            let value = map.next_value()?;
                            slots.extra.insert(name.into_owned(), value);
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(slots)
            }
        }
        deserializer.deserialize_map(SlotsVisitor)
    }
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra: Vec<&str> = self.extra.keys().map(String::as_str).collect();
        f.debug_struct("Claims")
            .field("sub", &self.sub)
            .field("sid", &self.sid)
            .field("azp", &self.azp)
            .field("iss", &self.iss)
            .field("exp", &self.exp)
            .field("nbf", &self.nbf)
            .field("iat", &self.iat)
            .field("version", &self.version)
            .field("session_status", &self.session_status)
            .field("org", &self.org)
            .field("act", &self.act.as_ref().map(|a| &a.sub))
            .field("extra_claims", &extra)
            .finish()
    }
}

/// A NumericDate (RFC 7519): seconds since the epoch, an integer or a number with a fraction
/// (rounded down).
pub(crate) fn numeric_date(
    value: Option<Value>,
    name: &'static str,
) -> Result<Option<i64>, VerifyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                // The f64 -> i64 cast saturates; the range check keeps the meaning exact.
                Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(Some(f.floor() as i64)),
                _ => Err(VerifyError::InvalidClaim(name)),
            }
        }
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

fn string(value: Option<Value>, name: &'static str) -> Result<Option<String>, VerifyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

/// v1: `org_id`, `org_role`, `org_slug`, `org_permissions`.
fn org_v1(slots: &mut Slots) -> Result<Option<OrganizationClaims>, VerifyError> {
    let id = string(slots.org_id.take(), "org_id")?;
    let role = string(slots.org_role.take(), "org_role")?;
    let slug = string(slots.org_slug.take(), "org_slug")?;
    let permissions = match slots.org_permissions.take() {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|p| match p {
                Value::String(s) => Ok(s),
                _ => Err(VerifyError::InvalidClaim("org_permissions")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(VerifyError::InvalidClaim("org_permissions")),
    };
    Ok(id.filter(|id| !id.is_empty()).map(|id| OrganizationClaims {
        id,
        role,
        slug,
        permissions,
    }))
}

/// v2: `o: {id, rol, slg, per, fpm}` with the organization features of `fea`.
fn org_v2(
    o: Option<Value>,
    fea: Option<&Value>,
) -> Result<Option<OrganizationClaims>, VerifyError> {
    let mut o = match o {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(VerifyError::InvalidClaim("o")),
    };
    let Some(id) = string(o.remove("id"), "o")? else {
        return Ok(None);
    };
    let role = string(o.remove("rol"), "o")?.map(|r| {
        if r.starts_with("org:") {
            r
        } else {
            format!("org:{r}")
        }
    });
    let slug = string(o.remove("slg"), "o")?;
    let per = string(o.remove("per"), "o")?;
    let fpm = string(o.remove("fpm"), "o")?;
    let fea = match fea {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(VerifyError::InvalidClaim("fea")),
    };
    let permissions = match (per, fpm, fea) {
        (Some(per), Some(fpm), Some(fea)) => v2_permissions(&per, &fpm, fea),
        _ => Vec::new(),
    };
    Ok(Some(OrganizationClaims {
        id,
        role,
        slug,
        permissions,
    }))
}

/// Decodes v2 permissions: `fea` lists features as `scope:name` (organization features have
/// an `o` in their scope); `fpm` has one decimal bit mask per organization feature, whose bit
/// `i` (least significant first) grants the `i`-th permission of `per`. Each granted pair is
/// `org:{feature}:{permission}`.
fn v2_permissions(per: &str, fpm: &str, fea: &str) -> Vec<String> {
    let permissions: Vec<&str> = per.split(',').map(str::trim).collect();
    let org_features = fea.split(',').filter_map(|f| {
        let (scope, name) = f.trim().split_once(':')?;
        scope.contains('o').then_some(name)
    });
    let mut out = Vec::new();
    for (feature, mask) in org_features.zip(fpm.split(',')) {
        let Some(bits) = decimal_bits(mask.trim()) else {
            continue;
        };
        for (permission, set) in permissions.iter().zip(bits) {
            if set {
                out.push(format!("org:{feature}:{permission}"));
            }
        }
    }
    out
}

/// The bits of a decimal number of any length, least significant first (`None` when it is
/// not a decimal number).
fn decimal_bits(decimal: &str) -> Option<Vec<bool>> {
    if decimal.is_empty() || !decimal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: Vec<u8> = decimal.bytes().map(|b| b - b'0').collect();
    let mut bits = Vec::new();
    while digits.iter().any(|&d| d != 0) {
        // Divide by two, keeping the remainder.
        let mut remainder = 0u8;
        for d in &mut digits {
            // At most 1 * 10 + 9.
            let value = remainder * 10 + *d;
            *d = value / 2;
            remainder = value % 2;
        }
        bits.push(remainder == 1);
    }
    Some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Result<Claims, VerifyError> {
        Claims::from_payload(v.to_string().as_bytes())
    }

    #[test]
    fn v1_org_claims() {
        let c = claims(json!({
            "sub": "user_1", "exp": 2000, "iat": 1000.9, "sid": "sess_1",
            "org_id": "org_1", "org_role": "org:admin", "org_slug": "acme",
            "org_permissions": ["org:billing:manage"], "email": "ada@example.com"
        }))
        .unwrap();
        assert_eq!(c.iat, Some(1000));
        assert_eq!(c.version, 1);
        let org = c.org.as_ref().unwrap();
        assert_eq!(org.id, "org_1");
        assert!(c.has_role("admin") && c.has_role("org:admin"));
        assert!(c.has_permission("org:billing:manage"));
        assert_eq!(c.extra.len(), 1);
        let shown = format!("{c:?}");
        assert!(
            shown.contains("\"email\"") && !shown.contains("ada@"),
            "{shown}"
        );
    }

    #[test]
    fn v2_compact_org_claims() {
        // Features: o:billing and o:reports are organization features, u:beta a user one.
        // per = [read, manage]; fpm: billing 3 (read + manage), reports 1 (read).
        let c = claims(json!({
            "sub": "user_1", "exp": 2000, "v": 2, "fea": "o:billing,u:beta,o:reports",
            "o": {"id": "org_2", "rol": "admin", "slg": "acme", "per": "read,manage", "fpm": "3,1"},
            "act": {"sub": "user_admin", "iss": "https://dashboard.clerk.com"}
        }))
        .unwrap();
        let org = c.org.as_ref().unwrap();
        assert_eq!(org.role.as_deref(), Some("org:admin"));
        assert_eq!(
            org.permissions,
            ["org:billing:read", "org:billing:manage", "org:reports:read"]
        );
        assert_eq!(c.act.as_ref().unwrap().sub, "user_admin");
        assert!(c.is_impersonated());
        assert!(c.extra.contains_key("fea"));
        let none = claims(json!({"sub": "u", "exp": 1, "v": 2, "org_id": "org_v1"})).unwrap();
        assert!(none.org.is_none());
        assert_eq!(
            none.extra["org_id"], "org_v1",
            "v1 claims in a v2 token are kept"
        );
        let v1 = Claims::from_payload(br#"{"sub":"u","exp":1,"o":{"id":"org_2"},"sub\u0020x":1}"#)
            .unwrap();
        assert!(v1.org.is_none());
        assert_eq!(
            v1.extra["o"]["id"], "org_2",
            "v2 claims in a v1 token are kept"
        );
        assert_eq!(v1.extra["sub x"], 1, "escaped names are read");
    }

    #[test]
    fn decimal_bits_of_any_size() {
        assert_eq!(decimal_bits("0"), Some(vec![]));
        assert_eq!(decimal_bits("6"), Some(vec![false, true, true]));
        let big = decimal_bits("340282366920938463463374607431768211456").unwrap();
        assert_eq!(big.len(), 129);
        assert!(big[128] && big[..128].iter().all(|b| !b));
        assert_eq!(decimal_bits("-1"), None);
        assert_eq!(decimal_bits(""), None);
    }

    #[test]
    fn claim_types_are_checked() {
        assert!(matches!(
            claims(json!({"exp": 1})),
            Err(VerifyError::MissingClaim("sub"))
        ));
        assert!(matches!(
            claims(json!({"sub": "u"})),
            Err(VerifyError::MissingClaim("exp"))
        ));
        assert!(matches!(
            claims(json!({"sub": "u", "exp": "soon"})),
            Err(VerifyError::InvalidClaim("exp"))
        ));
        assert!(matches!(
            claims(json!({"sub": "u", "exp": 1e300})),
            Err(VerifyError::InvalidClaim("exp"))
        ));
        assert!(matches!(
            claims(json!({"sub": "u", "exp": 1, "azp": 5})),
            Err(VerifyError::InvalidClaim("azp"))
        ));
        assert!(matches!(
            claims(json!({"sub": "u", "exp": 1, "act": {"iss": "x"}})),
            Err(VerifyError::InvalidClaim("act"))
        ));
        assert!(matches!(
            claims(json!({"sub": "u", "exp": 1, "v": 2, "o": {"id": 3}})),
            Err(VerifyError::InvalidClaim("o"))
        ));
        assert!(matches!(
            Claims::from_payload(b"[1]"),
            Err(VerifyError::Malformed(_))
        ));
    }
}
