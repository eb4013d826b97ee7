//! [`Webhook`]: verifies Clerk webhooks (Svix signatures) into a typed [`WebhookEvent`].
//!
//! Clerk delivers webhooks through Svix. Each delivery carries three headers: `svix-id` (the
//! message id, the same on every retry), `svix-timestamp` (Unix seconds) and `svix-signature`
//! (one or more space-separated `v1,<base64>` signatures; several during a secret rotation).
//! A `v1` signature is HMAC-SHA256, keyed with the base64 part of the `whsec_...` signing
//! secret, over `{svix-id}.{svix-timestamp}.{raw body}`. The unbranded `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` headers (Standard Webhooks) are read too.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::hmac;
use serde::de::DeserializeOwned;
use serde_json::Value;
use subtle::ConstantTimeEq as _;

use crate::models::open_enum;
use crate::Error;

/// How far a webhook's timestamp may be from now (Svix's own default): older deliveries are
/// refused as replays, newer ones as forged.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// At most this many signatures of one header are tried.
const MAX_SIGNATURES: usize = 16;

/// Verifies Clerk webhooks with the endpoint's signing secret (`whsec_...`, from the Clerk
/// dashboard).
///
/// ```
/// use clerk_tower::auth::{EventType, Webhook};
///
/// let webhook = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// # let body = br#"{"type":"user.created","object":"event","data":{"id":"user_1"},"timestamp":1}"#;
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
/// # let mut headers = http::HeaderMap::new();
/// # headers.insert("svix-id", "msg_1".parse().unwrap());
/// # headers.insert("svix-timestamp", now.to_string().parse().unwrap());
/// # headers.insert("svix-signature", webhook.sign("msg_1", now, body).parse().unwrap());
/// // In your handler: the headers and the raw body, exactly as received.
/// let event = webhook.verify(&headers, body)?;
/// if event.event_type == EventType::UserCreated {
///     println!("new user {}", event.data["id"]);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Webhook {
    key: hmac::Key,
    tolerance: Duration,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

/// Why a webhook was refused. Never holds a header value or anything from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent (`svix-id`, `svix-timestamp` or `svix-signature`).
    MissingHeader(&'static str),
    /// A header is not what the scheme expects (a timestamp that is not a number...).
    InvalidHeader(&'static str),
    /// The timestamp is older than the tolerance: a replay, or a delivery held too long.
    TimestampTooOld,
    /// The timestamp is further ahead than the tolerance.
    TimestampTooNew,
    /// No `v1` signature matches: wrong secret, or the body or headers were changed.
    InvalidSignature,
    /// The signature is valid but the body is not a Clerk event (JSON with a `type`).
    InvalidPayload,
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::MissingHeader(name) => write!(f, "webhook header `{name}` is missing"),
            WebhookError::InvalidHeader(name) => write!(f, "webhook header `{name}` is invalid"),
            WebhookError::TimestampTooOld => f.write_str("webhook timestamp is too old"),
            WebhookError::TimestampTooNew => {
                f.write_str("webhook timestamp is too far in the future")
            }
            WebhookError::InvalidSignature => f.write_str("no webhook signature matches"),
            WebhookError::InvalidPayload => f.write_str("webhook body is not a Clerk event"),
        }
    }
}

impl std::error::Error for WebhookError {}

impl WebhookError {
    /// The status a server answers with: 400 for a payload that is not an event after a valid
    /// signature, 401 for everything else.
    pub fn status(&self) -> http::StatusCode {
        match self {
            WebhookError::InvalidPayload => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

open_enum! {
    /// The `type` of a Clerk webhook event. Types this version does not list are kept as
    /// `Unknown`, with their name.
    pub enum EventType {
        /// `user.created`.
        UserCreated => "user.created",
        /// `user.updated`.
        UserUpdated => "user.updated",
        /// `user.deleted`.
        UserDeleted => "user.deleted",
        /// `session.created`.
        SessionCreated => "session.created",
        /// `session.ended`.
        SessionEnded => "session.ended",
        /// `session.removed`.
        SessionRemoved => "session.removed",
        /// `session.revoked`.
        SessionRevoked => "session.revoked",
        /// `session.pending`.
        SessionPending => "session.pending",
        /// `email.created`.
        EmailCreated => "email.created",
        /// `sms.created`.
        SmsCreated => "sms.created",
        /// `organization.created`.
        OrganizationCreated => "organization.created",
        /// `organization.updated`.
        OrganizationUpdated => "organization.updated",
        /// `organization.deleted`.
        OrganizationDeleted => "organization.deleted",
        /// `organizationMembership.created`.
        OrganizationMembershipCreated => "organizationMembership.created",
        /// `organizationMembership.updated`.
        OrganizationMembershipUpdated => "organizationMembership.updated",
        /// `organizationMembership.deleted`.
        OrganizationMembershipDeleted => "organizationMembership.deleted",
        /// `organizationInvitation.created`.
        OrganizationInvitationCreated => "organizationInvitation.created",
        /// `organizationInvitation.accepted`.
        OrganizationInvitationAccepted => "organizationInvitation.accepted",
        /// `organizationInvitation.revoked`.
        OrganizationInvitationRevoked => "organizationInvitation.revoked",
        /// `organizationDomain.created`.
        OrganizationDomainCreated => "organizationDomain.created",
        /// `organizationDomain.updated`.
        OrganizationDomainUpdated => "organizationDomain.updated",
        /// `organizationDomain.deleted`.
        OrganizationDomainDeleted => "organizationDomain.deleted",
        /// `role.created`.
        RoleCreated => "role.created",
        /// `role.updated`.
        RoleUpdated => "role.updated",
        /// `role.deleted`.
        RoleDeleted => "role.deleted",
        /// `permission.created`.
        PermissionCreated => "permission.created",
        /// `permission.updated`.
        PermissionUpdated => "permission.updated",
        /// `permission.deleted`.
        PermissionDeleted => "permission.deleted",
        /// `waitlistEntry.created`.
        WaitlistEntryCreated => "waitlistEntry.created",
        /// `waitlistEntry.updated`.
        WaitlistEntryUpdated => "waitlistEntry.updated",
    }
}

/// A verified Clerk webhook event.
///
/// `data` is the object the event is about (a user, a session, an organization...) as JSON;
/// [`data_as`](WebhookEvent::data_as) decodes it into your own type. `Debug` leaves `data`
/// out: it holds e-mail addresses and names.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The message id (`svix-id`): the same on every retry of a delivery, so use it to
    /// process each event once.
    pub id: String,
    /// `type`.
    pub event_type: EventType,
    /// `data`: the object of the event.
    pub data: Value,
    /// `timestamp`: when the event happened, in milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
    /// `object` (`"event"`).
    pub object: Option<String>,
    /// `instance_id`, when Clerk sends it.
    pub instance_id: Option<String>,
    /// `event_attributes` (e.g. the `http_request` that caused the event), as sent.
    pub event_attributes: Option<Value>,
}

impl fmt::Debug for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEvent")
            .field("id", &self.id)
            .field("event_type", &self.event_type)
            .field("timestamp", &self.timestamp)
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

impl WebhookEvent {
    /// Decodes `data` into `T`.
    ///
    /// # Errors
    /// When `data` does not have the shape of `T`.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

impl Webhook {
    /// A verifier for this signing secret: `whsec_` followed by base64 (the prefix may be
    /// left out).
    ///
    /// # Errors
    /// [`Error::Config`] when the secret is empty or not base64. The message never holds it.
    pub fn new(secret: &str) -> Result<Self, Error> {
        let secret = secret.trim();
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let bytes = STANDARD.decode(encoded).map_err(|_| {
            Error::config("the webhook signing secret is not `whsec_` followed by base64")
        })?;
        if bytes.is_empty() {
            return Err(Error::config("the webhook signing secret is empty"));
        }
        Ok(Webhook {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// A verifier for the secret in `CLERK_WEBHOOK_SIGNING_SECRET`.
    ///
    /// # Errors
    /// [`Error::Config`] when it is not set or not valid.
    pub fn from_env() -> Result<Self, Error> {
        let secret = std::env::var("CLERK_WEBHOOK_SIGNING_SECRET")
            .map_err(|_| Error::config("CLERK_WEBHOOK_SIGNING_SECRET is not set"))?;
        Self::new(&secret)
    }

    /// How far the timestamp may be from now, either way (default 5 minutes).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery (its headers and raw body, byte for byte as received) and decodes
    /// the event.
    ///
    /// # Errors
    /// The [`WebhookError`] of the first check that failed.
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// [`verify`](Self::verify) as if the time were `now`.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn verify_at(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookError> {
        let id = header(headers, "svix-id", "webhook-id")?;
        let timestamp = header(headers, "svix-timestamp", "webhook-timestamp")?;
        let signatures = header(headers, "svix-signature", "webhook-signature")?;
        if id.is_empty() {
            return Err(WebhookError::InvalidHeader("svix-id"));
        }
        let sent: i64 = timestamp
            .parse()
            .map_err(|_| WebhookError::InvalidHeader("svix-timestamp"))?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if sent < now.saturating_sub(tolerance) {
            return Err(WebhookError::TimestampTooOld);
        }
        if sent > now.saturating_add(tolerance) {
            return Err(WebhookError::TimestampTooNew);
        }

        let mut signed = Vec::with_capacity(
            id.len()
                .saturating_add(timestamp.len())
                .saturating_add(body.len())
                .saturating_add(2),
        );
        signed.extend_from_slice(id.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(timestamp.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(body);
        // One HMAC over the delivery, whatever the number of listed signatures (the body can
        // be large, and the header is the sender's to fill); each candidate is then compared
        // with it in constant time.
        #[cfg(test)]
        tests::HMACS.with(|n| n.set(n.get() + 1));
        let expected = hmac::sign(&self.key, &signed);
        let expected = expected.as_ref();
        let valid = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .take(MAX_SIGNATURES)
            .filter_map(|s| STANDARD.decode(s).ok())
            .any(|tag| bool::from(tag.as_slice().ct_eq(expected)));
        if !valid {
            return Err(WebhookError::InvalidSignature);
        }

        let mut event = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            _ => return Err(WebhookError::InvalidPayload),
        };
        let event_type = match event.remove("type") {
            Some(Value::String(t)) if !t.is_empty() => EventType::from(t.as_str()),
            _ => return Err(WebhookError::InvalidPayload),
        };
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Ok(WebhookEvent {
            id: id.to_owned(),
            event_type,
            data: event.remove("data").unwrap_or(Value::Null),
            timestamp: event.get("timestamp").and_then(Value::as_i64),
            object: text(event.remove("object")),
            instance_id: text(event.remove("instance_id")),
            event_attributes: event.remove("event_attributes"),
        })
    }

    /// The `svix-signature` value for a delivery (`v1,<base64>`): for tests of your own
    /// handlers, or to replay a delivery to a development server.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
    }
}

fn header<'a>(
    headers: &'a http::HeaderMap,
    name: &'static str,
    unbranded: &'static str,
) -> Result<&'a str, WebhookError> {
    let value = headers
        .get(name)
        .or_else(|| headers.get(unbranded))
        .ok_or(WebhookError::MissingHeader(name))?;
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| WebhookError::InvalidHeader(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// HMAC-SHA256 computations over a delivery on this thread.
        pub(super) static HMACS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A delivery listing many signatures (a rotation, or an attacker padding the header)
    /// costs one HMAC over the body, not one per signature: the body can be large.
    #[test]
    fn one_hmac_per_delivery_whatever_the_signatures() {
        let webhook = Webhook::new(SECRET).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(TS as u64);
        let wrong = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let mut many = vec![wrong; 15];
        many.push(SIGNATURE);
        // The reference body is not a Clerk event: past the signature, it is InvalidPayload.
        for (sigs, expected) in [
            (many.join(" "), WebhookError::InvalidPayload),
            (vec![wrong; 16].join(" "), WebhookError::InvalidSignature),
        ] {
            HMACS.with(|n| n.set(0));
            let got = webhook.verify_at(&headers(ID, &TS.to_string(), &sigs), BODY, now);
            assert_eq!(got, Err(expected));
            assert_eq!(HMACS.with(|n| n.get()), 1, "{sigs}");
        }
    }

    // Svix's documented example: secret, message id, timestamp, body and signature.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, ts: &str, sig: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("svix-id", id.parse().unwrap());
        h.insert("svix-timestamp", ts.parse().unwrap());
        h.insert("svix-signature", sig.parse().unwrap());
        h
    }

    fn at(ts: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(ts as u64)
    }

    #[test]
    fn svix_reference_vector() {
        let webhook = Webhook::new(SECRET).unwrap();
        assert_eq!(webhook.sign(ID, TS, BODY), SIGNATURE);
        // The reference body is not a Clerk event: the signature passes, the payload does not.
        let h = headers(ID, &TS.to_string(), SIGNATURE);
        assert_eq!(
            webhook.verify_at(&h, BODY, at(TS)),
            Err(WebhookError::InvalidPayload)
        );
        assert_eq!(
            webhook.verify_at(&h, br#"{"test": 2432232315}"#, at(TS)),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn secrets() {
        assert!(Webhook::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        for bad in ["", "whsec_", "whsec_!!!", "whsec_not base64"] {
            let err = Webhook::new(bad).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad:?}");
        }
        let shown = format!("{:?}", Webhook::new(SECRET).unwrap());
        assert!(!shown.contains("MfKQ"), "{shown}");
    }

    #[test]
    fn header_problems() {
        let webhook = Webhook::new(SECRET).unwrap();
        let mut h = headers(ID, "soon", SIGNATURE);
        assert_eq!(
            webhook.verify_at(&h, BODY, at(TS)),
            Err(WebhookError::InvalidHeader("svix-timestamp"))
        );
        h.remove("svix-signature");
        assert_eq!(
            webhook.verify_at(&h, BODY, at(TS)),
            Err(WebhookError::MissingHeader("svix-signature"))
        );
        let mut unbranded = http::HeaderMap::new();
        let body = br#"{"type":"user.deleted","data":{"id":"user_1","deleted":true}}"#;
        unbranded.insert("webhook-id", ID.parse().unwrap());
        unbranded.insert("webhook-timestamp", TS.to_string().parse().unwrap());
        unbranded.insert(
            "webhook-signature",
            webhook.sign(ID, TS, body).parse().unwrap(),
        );
        let event = webhook.verify_at(&unbranded, body, at(TS)).unwrap();
        assert_eq!(event.event_type, EventType::UserDeleted);
        assert_eq!(event.id, ID);
    }
}
