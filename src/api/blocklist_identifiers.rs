//! The block-list identifiers resource: `GET`, `POST /blocklist_identifiers` and
//! `DELETE /blocklist_identifiers/{identifier_id}`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), clerk_tower::Error> {
//! let client = clerk_tower::Client::from_env()?;
//! let blocklist = client.blocklist_identifiers();
//! let blocked = blocklist.create("spam@example.com").await?;
//! let all = blocklist.list().await?;
//! println!("{} of {:?} identifiers", all.data.len(), all.total_count);
//! blocklist.delete(&blocked.id).await?;
//! # Ok(()) }
//! ```

use serde::Serialize;

use crate::list::{Identified, List};
use crate::models::{BlocklistIdentifier, DeletedObject};
use crate::operation::{check_not_blank, Operation, OperationInfo, PathParams, RequestBody};
use crate::{CallBuilder, Client, Error, RequestOptions};

/// `GET /blocklist_identifiers`: list every identifier blocked from accessing the instance.
///
/// The spec declares no parameters: the answer is the whole block-list as
/// `{data, total_count}`, decoded into [`List`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListBlocklistIdentifiers {}

impl ListBlocklistIdentifiers {
    /// The request (it has no parameters).
    pub const fn new() -> Self {
        Self {}
    }
}

impl Operation for ListBlocklistIdentifiers {
    type Output = List<BlocklistIdentifier>;
    const INFO: OperationInfo =
        OperationInfo::get("ListBlocklistIdentifiers", "/blocklist_identifiers");
}

impl Identified for BlocklistIdentifier {
    fn id(&self) -> &str {
        &self.id
    }
}

/// `POST /blocklist_identifiers`: block an e-mail address, e-mail domain, phone number or web3
/// wallet.
///
/// Not idempotent: the client never repeats it after it may have reached Clerk; it only
/// retries when Clerk refused it before doing any work (429) or the connection was never made.
///
/// ```
/// use clerk_tower::api::CreateBlocklistIdentifier;
///
/// let req = CreateBlocklistIdentifier::new("spam@example.com");
/// assert_eq!(req.identifier, "spam@example.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CreateBlocklistIdentifier {
    /// The identifier: an e-mail address, a phone number or a web3 wallet.
    pub identifier: String,
}

impl CreateBlocklistIdentifier {
    /// A create request for `identifier`.
    pub fn new(identifier: impl Into<String>) -> Self {
        Self {
            identifier: identifier.into(),
        }
    }
}

impl Operation for CreateBlocklistIdentifier {
    type Output = BlocklistIdentifier;
    const INFO: OperationInfo =
        OperationInfo::post("CreateBlocklistIdentifier", "/blocklist_identifiers");

    fn validate(&self) -> Result<(), Error> {
        check_not_blank("identifier", &self.identifier)
    }

    fn body(&self) -> Result<RequestBody, Error> {
        RequestBody::json(self)
    }
}

/// `DELETE /blocklist_identifiers/{identifier_id}`: remove an identifier from the block-list.
///
/// The id is percent-encoded as one path segment: no id can reach another route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteBlocklistIdentifier {
    /// The id of the identifier to delete (`blid_...`).
    pub identifier_id: String,
}

impl DeleteBlocklistIdentifier {
    /// A delete request for `identifier_id`.
    pub fn new(identifier_id: impl Into<String>) -> Self {
        Self {
            identifier_id: identifier_id.into(),
        }
    }
}

impl Operation for DeleteBlocklistIdentifier {
    type Output = DeletedObject;
    const INFO: OperationInfo = OperationInfo::delete(
        "DeleteBlocklistIdentifier",
        "/blocklist_identifiers/{identifier_id}",
    );

    fn path<'a>(&'a self, path: &mut PathParams<'a>) -> Result<(), Error> {
        path.set("identifier_id", &self.identifier_id)
    }
}

/// The block-list identifiers resource; get it from [`Client::blocklist_identifiers`].
///
/// It owns a clone of the client (one reference count): store it, clone it, move it into a
/// task. Each method returns a [`CallBuilder`] to await.
#[derive(Debug, Clone)]
pub struct BlocklistIdentifiers {
    client: Client,
    options: Option<RequestOptions>,
}

impl BlocklistIdentifiers {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            options: None,
        }
    }

    /// Applies `options` (timeouts, retries) to the calls made through this handle (a call's
    /// own [`CallBuilder::options`] replaces them).
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    fn builder<O: Operation>(&self, request: O) -> CallBuilder<O> {
        CallBuilder::new(self.client.clone(), request, self.options)
    }

    /// Lists every blocked identifier; see [`ListBlocklistIdentifiers`].
    ///
    /// Errors: any [`Error`] of a call.
    pub fn list(&self) -> CallBuilder<ListBlocklistIdentifiers> {
        self.builder(ListBlocklistIdentifiers::new())
    }

    /// Blocks `identifier`; see [`CreateBlocklistIdentifier`].
    ///
    /// Errors: [`Error::InvalidRequest`] for an empty identifier (no I/O); [`Error::Api`] with
    /// Clerk's 400/422 for an identifier Clerk refuses (malformed, already on the list).
    pub fn create(&self, identifier: impl Into<String>) -> CallBuilder<CreateBlocklistIdentifier> {
        self.builder(CreateBlocklistIdentifier::new(identifier))
    }

    /// Deletes the blocked identifier with id `identifier_id`.
    ///
    /// Errors: [`Error::InvalidRequest`] for an empty id, `.` or `..` (no I/O); an
    /// [`Error::Api`] for which [`Error::is_not_found`] holds when no such identifier exists.
    pub fn delete(
        &self,
        identifier_id: impl Into<String>,
    ) -> CallBuilder<DeleteBlocklistIdentifier> {
        self.builder(DeleteBlocklistIdentifier::new(identifier_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::to_request;

    #[test]
    fn requests_have_the_spec_shape() {
        let list = to_request(&ListBlocklistIdentifiers::new(), None).unwrap();
        assert_eq!(list.uri(), "/blocklist_identifiers");
        assert_eq!(list.method(), http::Method::GET);
        let create = to_request(&CreateBlocklistIdentifier::new("a@b.com"), None).unwrap();
        assert_eq!(create.method(), http::Method::POST);
        assert_eq!(
            create.into_body().into_inner().unwrap_or_default(),
            br#"{"identifier":"a@b.com"}"#.as_slice()
        );
        let create_info = CreateBlocklistIdentifier::INFO;
        assert!(!create_info.idempotent);
        assert!(matches!(
            to_request(&CreateBlocklistIdentifier::new(""), None),
            Err(Error::InvalidRequest(_))
        ));
        let delete = to_request(&DeleteBlocklistIdentifier::new("blid/1"), None).unwrap();
        assert_eq!(delete.uri(), "/blocklist_identifiers/blid%2F1");
        let delete_info = DeleteBlocklistIdentifier::INFO;
        assert!(delete_info.idempotent);
    }
}
