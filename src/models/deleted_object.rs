//! `DeletedObject`: what Clerk answers to a delete.

use serde::{Deserialize, Serialize};

/// The answer to a successful delete (`DeletedObject` in the spec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedObject {
    /// The type of the deleted object, e.g. `"allowlist_identifier"`.
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub object: String,
    /// The id of the deleted object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The slug of the deleted object, for objects that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Whether the object was deleted.
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub deleted: bool,
    /// The external id of the deleted object, for objects that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_five_fields_round_trip() {
        let json = r#"{"object":"allowlist_identifier","id":"alid_1","slug":"s","deleted":true,"external_id":"e","later":[1]}"#;
        let d: DeletedObject = serde_json::from_str(json).unwrap();
        assert_eq!(d.object, "allowlist_identifier");
        assert_eq!(d.id.as_deref(), Some("alid_1"));
        assert_eq!(d.slug.as_deref(), Some("s"));
        assert!(d.deleted);
        assert_eq!(d.external_id.as_deref(), Some("e"));
        let again: DeletedObject =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(d, again);
        let minimal: DeletedObject =
            serde_json::from_str(r#"{"object":"x","deleted":true,"slug":null}"#).unwrap();
        assert_eq!(minimal.id, None);
        assert_eq!(
            serde_json::to_string(&minimal).unwrap(),
            r#"{"object":"x","deleted":true}"#
        );
    }
}
