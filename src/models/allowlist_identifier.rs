//! `AllowlistIdentifier`: an e-mail address, phone number or web3 wallet allowed to sign up.

use serde::{Deserialize, Serialize};

use super::{null_as_default, open_enum};

open_enum! {
    /// The `object` field of an [`AllowlistIdentifier`].
    pub enum AllowlistObject {
        /// `"allowlist_identifier"`.
        AllowlistIdentifier => "allowlist_identifier",
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro; `#[default]` cannot reach its variant
impl Default for AllowlistObject {
    fn default() -> Self {
        AllowlistObject::AllowlistIdentifier
    }
}

open_enum! {
    /// What kind of identifier an [`AllowlistIdentifier`] holds.
    ///
    /// ```
    /// use clerk_tower::models::IdentifierType;
    ///
    /// let known: IdentifierType = serde_json::from_str(r#""email_address""#).unwrap();
    /// assert_eq!(known, IdentifierType::EmailAddress);
    /// // A value added by Clerk after this crate was released is kept, not an error:
    /// let newer: IdentifierType = serde_json::from_str(r#""passkey""#).unwrap();
    /// assert!(newer.is_unknown());
    /// assert_eq!(newer.as_str(), "passkey");
    /// ```
    pub enum IdentifierType {
        /// `"email_address"`.
        EmailAddress => "email_address",
        /// `"phone_number"`.
        PhoneNumber => "phone_number",
        /// `"web3_wallet"`.
        Web3Wallet => "web3_wallet",
    }
}

impl Default for IdentifierType {
    /// An empty `Unknown`: what a response that leaves the field out decodes to.
    fn default() -> Self {
        IdentifierType::Unknown(super::UnknownValue::default())
    }
}

/// An identifier on the instance's allow-list (`AllowlistIdentifier` in the spec).
///
/// The spec marks no field as required. Fields Clerk always sends decode to their default
/// (`""`, `0`) when missing or `null`; fields that are genuinely optional are `Option`s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistIdentifier {
    /// Always `allowlist_identifier`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: AllowlistObject,
    /// The id, e.g. `alid_2abc...`: pass it to `delete`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The invitation sent when the identifier was created with `notify: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
    /// The e-mail address, phone number or web3 wallet.
    #[serde(default, deserialize_with = "null_as_default")]
    pub identifier: String,
    /// What kind of identifier this is.
    #[serde(default, deserialize_with = "null_as_default")]
    pub identifier_type: IdentifierType,
    /// The Clerk instance the identifier belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Creation time, Unix milliseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update time, Unix milliseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub updated_at: i64,
}

/// A page (or the whole) of the allow-list, as the list operation returns it.
pub type AllowlistIdentifierList = crate::list::List<AllowlistIdentifier>;

#[cfg(test)]
mod tests {
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
            serde_json::from_str(r#"{"id":"alid_3","invitation_id":null,"created_at":null}"#)
                .unwrap();
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
        let bare: AllowlistIdentifierList =
            serde_json::from_str(&format!("[{ONE},{ONE}]")).unwrap();
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
}
