//! `InstanceRestrictions`: whether the instance enforces its allow-list and block-list, and
//! the other sign-up restrictions.

use serde::{Deserialize, Serialize};

use super::{null_as_default, open_enum};

open_enum! {
    /// The `object` field of [`InstanceRestrictions`].
    pub enum InstanceRestrictionsObject {
        /// `"instance_restrictions"`.
        InstanceRestrictions => "instance_restrictions",
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro; `#[default]` cannot reach its variant
impl Default for InstanceRestrictionsObject {
    fn default() -> Self {
        InstanceRestrictionsObject::InstanceRestrictions
    }
}

/// The restriction settings of an instance (`InstanceRestrictions` in the spec).
///
/// Every field is required by the spec; a missing or `null` one decodes to its default
/// (`false`) rather than failing the response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRestrictions {
    /// Always `instance_restrictions`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: InstanceRestrictionsObject,
    /// Whether only identifiers on the allow-list may sign up.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowlist: bool,
    /// Whether identifiers on the block-list are refused.
    #[serde(default, deserialize_with = "null_as_default")]
    pub blocklist: bool,
    /// Whether the allow-list and block-list are not checked on sign-in (sign-up only).
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowlist_blocklist_disabled_on_sign_in: bool,
    /// Whether e-mail sub-addresses (`ada+tag@example.com`) are refused.
    #[serde(default, deserialize_with = "null_as_default")]
    pub block_email_subaddresses: bool,
    /// Whether e-mail addresses of disposable-mail domains are refused.
    #[serde(default, deserialize_with = "null_as_default")]
    pub block_disposable_email_domains: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_defaults() {
        let json = r#"{"object":"instance_restrictions","allowlist":true,"blocklist":false,"allowlist_blocklist_disabled_on_sign_in":false,"block_email_subaddresses":true,"block_disposable_email_domains":false}"#;
        let r: InstanceRestrictions = serde_json::from_str(json).unwrap();
        assert!(r.allowlist && r.block_email_subaddresses && !r.blocklist);
        assert_eq!(serde_json::to_string(&r).unwrap(), json);
        let sparse: InstanceRestrictions =
            serde_json::from_str(r#"{"allowlist":null,"new_flag":true}"#).unwrap();
        assert_eq!(sparse, InstanceRestrictions::default());
    }
}
