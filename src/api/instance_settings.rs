//! The instance settings resource: `PATCH /instance/restrictions` (`UpdateInstanceRestrictions`).
//!
//! Turning the allow-list or the block-list on or off is one call:
//!
//! ```no_run
//! # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
//! let restrictions = client.instance_settings().update_restrictions().allowlist(true).await?;
//! assert!(restrictions.allowlist);
//! # Ok(()) }
//! ```

use serde::Serialize;

use crate::models::InstanceRestrictions;
use crate::operation::{Operation, OperationInfo, RequestBody};
use crate::{CallBuilder, Client, RequestOptions};

/// `PATCH /instance/restrictions`: update the restriction settings of the instance.
///
/// Only the fields you set are sent; the others keep their current value.
///
/// ```
/// use clerk_tower::api::UpdateInstanceRestrictions;
///
/// let req = UpdateInstanceRestrictions::new().allowlist(true).blocklist(false);
/// assert_eq!((req.allowlist, req.blocklist, req.block_email_subaddresses), (Some(true), Some(false), None));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UpdateInstanceRestrictions {
    /// Whether only identifiers on the allow-list may sign up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<bool>,
    /// Whether identifiers on the block-list are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocklist: Option<bool>,
    /// Whether the allow-list and block-list are not checked on sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowlist_blocklist_disabled_on_sign_in: Option<bool>,
    /// Whether e-mail sub-addresses are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_email_subaddresses: Option<bool>,
    /// Whether e-mail addresses of disposable-mail domains are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_disposable_email_domains: Option<bool>,
}

impl UpdateInstanceRestrictions {
    /// A request that changes nothing until fields are set.
    pub const fn new() -> Self {
        Self {
            allowlist: None,
            blocklist: None,
            allowlist_blocklist_disabled_on_sign_in: None,
            block_email_subaddresses: None,
            block_disposable_email_domains: None,
        }
    }
}

super::setters! {
    UpdateInstanceRestrictions {
        /// Sets `allowlist`: only identifiers on the allow-list may sign up.
        allowlist: bool,
        /// Sets `blocklist`: identifiers on the block-list are refused.
        blocklist: bool,
        /// Sets `allowlist_blocklist_disabled_on_sign_in`.
        allowlist_blocklist_disabled_on_sign_in: bool,
        /// Sets `block_email_subaddresses`.
        block_email_subaddresses: bool,
        /// Sets `block_disposable_email_domains`.
        block_disposable_email_domains: bool,
    }
}

impl Operation for UpdateInstanceRestrictions {
    type Output = InstanceRestrictions;
    const INFO: OperationInfo =
        OperationInfo::patch("UpdateInstanceRestrictions", "/instance/restrictions");

    fn body(&self) -> Result<RequestBody, crate::Error> {
        RequestBody::json(self)
    }
}

/// The instance settings resource; get it from [`Client::instance_settings`].
#[derive(Debug, Clone)]
pub struct InstanceSettings {
    client: Client,
    options: Option<RequestOptions>,
}

impl InstanceSettings {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            options: None,
        }
    }

    /// Applies `options` (timeouts, retries) to the calls made through this handle.
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Updates the instance's restrictions; set the fields to change on the builder (see
    /// [`UpdateInstanceRestrictions`]).
    ///
    /// Errors: any [`Error`](crate::Error) of a call; Clerk answers 402 when the plan does not
    /// include the feature.
    pub fn update_restrictions(&self) -> CallBuilder<UpdateInstanceRestrictions> {
        CallBuilder::new(
            self.client.clone(),
            UpdateInstanceRestrictions::new(),
            self.options,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::to_request;

    #[test]
    fn only_set_fields_are_sent() {
        let req = to_request(&UpdateInstanceRestrictions::new(), None).unwrap();
        assert_eq!(req.method(), http::Method::PATCH);
        assert_eq!(req.uri(), "/instance/restrictions");
        assert_eq!(
            req.into_body().into_inner().unwrap_or_default(),
            b"{}".as_slice()
        );
        let req = to_request(
            &UpdateInstanceRestrictions::new()
                .allowlist(false)
                .block_disposable_email_domains(true),
            None,
        )
        .unwrap();
        assert_eq!(
            req.into_body().into_inner().unwrap_or_default(),
            br#"{"allowlist":false,"block_disposable_email_domains":true}"#.as_slice()
        );
    }
}
