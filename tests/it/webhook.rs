//! Clerk webhooks (Svix scheme): valid deliveries, replays, tampering, several signatures,
//! wrong secrets, and the typed event.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_tower::auth::{EventType, Webhook, WebhookError};
use http::HeaderMap;
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_c2Vjb25kIHNlY3JldCBmb3IgdGVzdHMgb25seQ==";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn body() -> Vec<u8> {
    json!({
        "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC", "email_addresses": [{"email_address": "ada@example.com"}]},
        "event_attributes": {"http_request": {"client_ip": "192.0.2.1", "user_agent": "test"}},
        "instance_id": "ins_123",
        "object": "event",
        "timestamp": 1_654_012_591_835_i64,
        "type": "user.created"
    })
    .to_string()
    .into_bytes()
}

fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("svix-id", id.parse().unwrap());
    h.insert("svix-timestamp", timestamp.to_string().parse().unwrap());
    h.insert("svix-signature", signature.parse().unwrap());
    h
}

fn signed(webhook: &Webhook, timestamp: i64, body: &[u8]) -> HeaderMap {
    headers(
        "msg_2ZxY",
        timestamp,
        &webhook.sign("msg_2ZxY", timestamp, body),
    )
}

#[test]
fn a_valid_delivery_is_a_typed_event() {
    let webhook = Webhook::new(SECRET).unwrap();
    let body = body();
    let event = webhook
        .verify(&signed(&webhook, now(), &body), &body)
        .unwrap();
    assert_eq!(event.event_type, EventType::UserCreated);
    assert_eq!(event.id, "msg_2ZxY");
    assert_eq!(event.timestamp, Some(1_654_012_591_835));
    assert_eq!(event.instance_id.as_deref(), Some("ins_123"));
    assert_eq!(event.object.as_deref(), Some("event"));
    assert_eq!(event.data["id"], "user_29w83sxmDNGwOuEthce5gg56FcC");
    #[derive(serde::Deserialize)]
    struct User {
        id: String,
    }
    assert_eq!(
        event.data_as::<User>().unwrap().id,
        "user_29w83sxmDNGwOuEthce5gg56FcC"
    );
    let shown = format!("{event:?}");
    assert!(
        !shown.contains("ada@example.com") && !shown.contains("192.0.2.1"),
        "{shown}"
    );
}

#[test]
fn unknown_event_types_are_kept() {
    let webhook = Webhook::new(SECRET).unwrap();
    let body = br#"{"type":"subscriptionItem.freeTrialEnding","object":"event","data":{}}"#;
    let event = webhook
        .verify(&signed(&webhook, now(), body), body)
        .unwrap();
    assert_eq!(
        event.event_type,
        EventType::from("subscriptionItem.freeTrialEnding")
    );
    assert_eq!(
        event.event_type.as_str(),
        "subscriptionItem.freeTrialEnding"
    );
}

#[test]
fn replays_with_an_old_timestamp_are_refused() {
    let webhook = Webhook::new(SECRET).unwrap();
    let body = body();
    let sent = now() - 6 * 60;
    // A genuine signature, captured and replayed six minutes later.
    let h = signed(&webhook, sent, &body);
    assert_eq!(
        webhook.verify(&h, &body),
        Err(WebhookError::TimestampTooOld)
    );
    // Re-dating the captured delivery breaks the signature.
    let redated = headers("msg_2ZxY", now(), h["svix-signature"].to_str().unwrap());
    assert_eq!(
        webhook.verify(&redated, &body),
        Err(WebhookError::InvalidSignature)
    );
    // Within a wider tolerance, the same delivery passes.
    let wide = Webhook::new(SECRET)
        .unwrap()
        .tolerance(Duration::from_secs(600));
    assert!(wide.verify(&h, &body).is_ok());
    // And a timestamp too far ahead is refused too.
    let ahead = signed(&webhook, now() + 6 * 60, &body);
    assert_eq!(
        webhook.verify(&ahead, &body),
        Err(WebhookError::TimestampTooNew)
    );
    // `verify_at` pins the clock.
    let at = UNIX_EPOCH + Duration::from_secs(sent as u64 + 60);
    assert!(webhook.verify_at(&h, &body, at).is_ok());
}

#[test]
fn tampered_bodies_and_headers_are_refused() {
    let webhook = Webhook::new(SECRET).unwrap();
    let body = body();
    let ts = now();
    let h = signed(&webhook, ts, &body);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("user.created", "user.deleted");
    assert_eq!(
        webhook.verify(&h, tampered.as_bytes()),
        Err(WebhookError::InvalidSignature)
    );
    let mut extra_space = body.clone();
    extra_space.push(b' ');
    assert_eq!(
        webhook.verify(&h, &extra_space),
        Err(WebhookError::InvalidSignature)
    );
    let other_id = headers("msg_other", ts, h["svix-signature"].to_str().unwrap());
    assert_eq!(
        webhook.verify(&other_id, &body),
        Err(WebhookError::InvalidSignature)
    );
    for name in ["svix-id", "svix-timestamp", "svix-signature"] {
        let mut missing = h.clone();
        missing.remove(name);
        assert_eq!(
            webhook.verify(&missing, &body),
            Err(WebhookError::MissingHeader(name))
        );
    }
    // A valid signature over a body that is not an event.
    let not_event = br#"[1,2,3]"#;
    let h = signed(&webhook, ts, not_event);
    assert_eq!(
        webhook.verify(&h, not_event),
        Err(WebhookError::InvalidPayload)
    );
    assert_eq!(WebhookError::InvalidPayload.status(), 400);
}

#[test]
fn one_matching_signature_among_several_is_enough() {
    let current = Webhook::new(SECRET).unwrap();
    let previous = Webhook::new(OTHER_SECRET).unwrap();
    let body = body();
    let ts = now();
    let good = current.sign("msg_1", ts, &body);
    let old = previous.sign("msg_1", ts, &body);
    // During a secret rotation Svix signs with both secrets; unknown versions are skipped.
    for header in [
        format!("{old} {good}"),
        format!("{good} {old}"),
        format!("v2,AAAA {good}"),
        format!("v1,not-base64 {good}"),
        format!("v1,{} {good}", "A".repeat(44)),
    ] {
        assert!(
            current
                .verify(&headers("msg_1", ts, &header), &body)
                .is_ok(),
            "{header}"
        );
    }
    // Only the old secret's signature: refused by the new secret's verifier.
    assert_eq!(
        current.verify(&headers("msg_1", ts, &old), &body),
        Err(WebhookError::InvalidSignature)
    );
    assert_eq!(
        current.verify(&headers("msg_1", ts, "v1,"), &body),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn a_wrong_secret_never_verifies_and_errors_hold_nothing() {
    let sender = Webhook::new(OTHER_SECRET).unwrap();
    let receiver = Webhook::new(SECRET).unwrap();
    let body = body();
    let h = signed(&sender, now(), &body);
    let err = receiver.verify(&h, &body).unwrap_err();
    assert_eq!(err, WebhookError::InvalidSignature);
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(
            !shown.contains("msg_2ZxY") && !shown.contains("user_29w"),
            "{shown}"
        );
    }
    let err = Webhook::new("whsec_???").unwrap_err();
    assert!(!err.to_string().contains("???"), "{err}");
}
