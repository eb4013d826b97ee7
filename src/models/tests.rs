//! Behaviour the allow-list models had when they were hand-written, pinned on the generated
//! ones: every field round-trips, unknown values and fields are kept or ignored, missing and
//! `null` fields default.

use super::*;

const ONE: &str = r#"{"object":"allowlist_identifier","id":"alid_1","invitation_id":"inv_1","identifier":"a@b.com","identifier_type":"email_address","instance_id":"ins_1","created_at":1700000000000,"updated_at":1700000000001}"#;

#[test]
fn all_eight_fields_round_trip() {
    let a: AllowlistIdentifier = serde_json::from_str(ONE).unwrap();
    assert_eq!(a.object, AllowlistObject::AllowlistIdentifier);
    assert_eq!(a.id, "alid_1");
    assert_eq!(a.invitation_id.as_deref(), Some("inv_1"));
    assert_eq!(a.identifier, "a@b.com");
    assert_eq!(a.identifier_type, IdentifierType::EmailAddress);
    assert_eq!(a.instance_id.as_deref(), Some("ins_1"));
    assert_eq!(a.created_at, 1_700_000_000_000);
    assert_eq!(a.updated_at, 1_700_000_000_001);
    let back = serde_json::to_string(&a).unwrap();
    assert_eq!(back, ONE);
}

#[test]
fn unknown_values_and_fields_are_kept_or_ignored() {
    let json = r#"{"object":"allowlist_identifier_v2","id":"alid_2","identifier":"0xabc","identifier_type":"passkey","created_at":1,"updated_at":2,"brand_new":{"x":1}}"#;
    let a: AllowlistIdentifier = serde_json::from_str(json).unwrap();
    assert!(a.object.is_unknown());
    assert_eq!(a.object.as_str(), "allowlist_identifier_v2");
    assert_eq!(a.identifier_type, IdentifierType::from("passkey"));
    assert!(a.identifier_type.is_unknown());
    assert_eq!(a.identifier_type.as_str(), "passkey");
    let back: AllowlistIdentifier =
        serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(a, back);
}

#[test]
fn missing_and_null_fields_default() {
    let a: AllowlistIdentifier =
        serde_json::from_str(r#"{"id":"alid_3","invitation_id":null,"created_at":null}"#).unwrap();
    assert_eq!(a.id, "alid_3");
    assert_eq!(a.invitation_id, None);
    assert_eq!(a.created_at, 0);
    assert_eq!(a.object, AllowlistObject::AllowlistIdentifier);
    assert!(a.identifier_type.is_unknown());
    assert_eq!(a.identifier_type.as_str(), "");
}

#[test]
fn wrong_types_are_errors() {
    assert!(serde_json::from_str::<AllowlistIdentifier>(r#"{"id":5}"#).is_err());
    assert!(serde_json::from_str::<AllowlistIdentifier>(r#"{"identifier_type":7}"#).is_err());
    assert!(serde_json::from_str::<AllowlistIdentifierList>(r#""nope""#).is_err());
    assert!(serde_json::from_str::<AllowlistIdentifierList>(r#"{"total_count":3}"#).is_err());
}

#[test]
fn list_decodes_both_shapes() {
    let bare: AllowlistIdentifierList = serde_json::from_str(&format!("[{ONE},{ONE}]")).unwrap();
    assert_eq!(bare.data.len(), 2);
    assert_eq!(bare.total_count, None);
    let paged: AllowlistIdentifierList = serde_json::from_str(&format!(
        r#"{{"data":[{ONE}],"total_count":25,"next":null}}"#
    ))
    .unwrap();
    assert_eq!(paged.data.len(), 1);
    assert_eq!(paged.total_count, Some(25));
    let empty: AllowlistIdentifierList = serde_json::from_str("[]").unwrap();
    assert_eq!(empty, AllowlistIdentifierList::default());
}

#[test]
fn all_five_fields_round_trip() {
    let json = r#"{"object":"allowlist_identifier","id":"alid_1","slug":"s","deleted":true,"external_id":"e","later":[1]}"#;
    let d: DeletedObject = serde_json::from_str(json).unwrap();
    assert_eq!(d.object, "allowlist_identifier");
    assert_eq!(d.id.as_deref(), Some("alid_1"));
    assert_eq!(d.slug.as_deref(), Some("s"));
    assert!(d.deleted);
    assert_eq!(d.external_id.as_deref(), Some("e"));
    let again: DeletedObject = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    assert_eq!(d, again);
    let minimal: DeletedObject =
        serde_json::from_str(r#"{"object":"x","deleted":true,"slug":null}"#).unwrap();
    assert_eq!(minimal.id, None);
    assert_eq!(
        serde_json::to_string(&minimal).unwrap(),
        r#"{"object":"x","deleted":true}"#
    );
}
