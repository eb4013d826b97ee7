//! `BlocklistIdentifier`: an e-mail address, e-mail domain, phone number or web3 wallet
//! blocked from accessing an instance.

use serde::{Deserialize, Serialize};

use super::{null_as_default, open_enum, IdentifierType};

open_enum! {
    /// The `object` field of a [`BlocklistIdentifier`].
    pub enum BlocklistObject {
        /// `"blocklist_identifier"`.
        BlocklistIdentifier => "blocklist_identifier",
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro; `#[default]` cannot reach its variant
impl Default for BlocklistObject {
    fn default() -> Self {
        BlocklistObject::BlocklistIdentifier
    }
}

/// An identifier on the instance's block-list (`BlocklistIdentifier` in the spec).
///
/// The spec marks no field as required. Fields Clerk always sends decode to their default
/// (`""`, `0`) when missing or `null`; `instance_id` is an `Option`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocklistIdentifier {
    /// Always `blocklist_identifier`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: BlocklistObject,
    /// The id, e.g. `blid_2abc...`: pass it to `delete`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The e-mail address, e-mail domain, phone number or web3 wallet.
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

/// The block-list, as the list operation returns it (`BlocklistIdentifiers` in the spec:
/// `{data, total_count}`).
pub type BlocklistIdentifiers = crate::list::List<BlocklistIdentifier>;

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{"object":"blocklist_identifier","id":"blid_1","identifier":"spam@example.com","identifier_type":"email_address","instance_id":"ins_1","created_at":1700000000000,"updated_at":1700000000001}"#;

    #[test]
    fn all_seven_fields_round_trip() {
        let b: BlocklistIdentifier = serde_json::from_str(ONE).unwrap();
        assert_eq!(b.object, BlocklistObject::BlocklistIdentifier);
        assert_eq!(b.id, "blid_1");
        assert_eq!(b.identifier, "spam@example.com");
        assert_eq!(b.identifier_type, IdentifierType::EmailAddress);
        assert_eq!(b.instance_id.as_deref(), Some("ins_1"));
        assert_eq!(
            (b.created_at, b.updated_at),
            (1_700_000_000_000, 1_700_000_000_001)
        );
        assert_eq!(serde_json::to_string(&b).unwrap(), ONE);
    }

    #[test]
    fn lists_unknown_values_and_nulls() {
        let list: BlocklistIdentifiers =
            serde_json::from_str(&format!(r#"{{"data":[{ONE}],"total_count":1}}"#)).unwrap();
        assert_eq!((list.data.len(), list.total_count), (1, Some(1)));
        let odd: BlocklistIdentifier = serde_json::from_str(
            r#"{"object":"blocklist_identifier_v2","id":null,"identifier_type":"email_domain","later":1}"#,
        )
        .unwrap();
        assert!(odd.object.is_unknown());
        assert_eq!(odd.id, "");
        assert_eq!(odd.identifier_type.as_str(), "email_domain");
    }
}
