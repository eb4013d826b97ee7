//! The allow-list identifiers resource: `GET`, `POST /allowlist_identifiers` and
//! `DELETE /allowlist_identifiers/{identifier_id}`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), clerk_tower::Error> {
//! let client = clerk_tower::Client::from_env()?;
//! let allowlist = client.allowlist_identifiers();
//! let created = allowlist.create("ada@example.com").notify(true).await?;
//! let page = allowlist.list().paginated(true).limit(50).await?;
//! println!("{} of {:?} identifiers", page.data.len(), page.total_count);
//! let everyone = allowlist.list().paginate().items().collect_all().await?;
//! allowlist.delete(&created.id).await?;
//! # Ok(()) }
//! ```

use serde::Serialize;

use crate::list::{next_offset, Identified, List, Paginate, MAX_PAGE_SIZE};
use crate::models::{AllowlistIdentifier, DeletedObject};
use crate::operation::{
    check_not_blank, check_range, Operation, OperationInfo, PathParams, QueryWriter, RequestBody,
};
use crate::{CallBuilder, Client, Error, RequestOptions};

/// The largest `limit` the API accepts (`LimitParameter` in the spec).
pub const MAX_LIMIT: u32 = MAX_PAGE_SIZE;

/// `GET /allowlist_identifiers`: list the identifiers allowed to sign up.
///
/// Only the parameters you set are sent; Clerk's defaults apply to the rest (`limit` 10,
/// `offset` 0). Without `paginated(true)` Clerk answers with a bare array of all identifiers;
/// with it, with one page and `total_count`. Both decode into [`List`].
///
/// ```
/// use clerk_tower::api::ListAllowlistIdentifiers;
///
/// let second_page = ListAllowlistIdentifiers::new().paginated(true).limit(20).offset(20);
/// assert_eq!(second_page.limit, Some(20));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListAllowlistIdentifiers {
    /// Whether to paginate the results (`{data, total_count}` instead of a bare array).
    pub paginated: Option<bool>,
    /// How many identifiers to return, 1..=500 (Clerk's default: 10).
    pub limit: Option<u32>,
    /// How many identifiers to skip (Clerk's default: 0).
    pub offset: Option<u64>,
}

impl ListAllowlistIdentifiers {
    /// A list request with no parameters set.
    pub const fn new() -> Self {
        Self {
            paginated: None,
            limit: None,
            offset: None,
        }
    }
}

super::setters! {
    ListAllowlistIdentifiers {
        /// Sets `paginated`: `{data, total_count}` instead of a bare array of everything.
        paginated: bool,
        /// Sets `limit` (1..=500; anything else is refused before any I/O).
        limit: u32,
        /// Sets `offset` (at most `i64::MAX`; anything larger is refused before any I/O).
        offset: u64,
    }
}

impl Operation for ListAllowlistIdentifiers {
    type Output = List<AllowlistIdentifier>;
    const INFO: OperationInfo =
        OperationInfo::get("ListAllowlistIdentifiers", "/allowlist_identifiers");

    fn validate(&self) -> Result<(), Error> {
        check_range("limit", self.limit, 1, MAX_LIMIT)?;
        // Clerk parses integers as signed 64-bit; a larger offset can only be refused.
        check_range("offset", self.offset, 0, i64::MAX as u64)
    }

    fn query(&self, query: &mut QueryWriter) {
        query.opt("paginated", self.paginated);
        query.opt("limit", self.limit);
        query.opt("offset", self.offset);
    }
}

impl Paginate for ListAllowlistIdentifiers {
    type Item = AllowlistIdentifier;

    fn first_page(self) -> Self {
        Self {
            paginated: Some(true),
            limit: Some(self.limit.unwrap_or(MAX_PAGE_SIZE)),
            offset: self.offset,
        }
    }

    fn next_page(&self, page: &List<AllowlistIdentifier>) -> Option<Self> {
        let limit = self.limit.unwrap_or(MAX_PAGE_SIZE);
        let offset = next_offset(
            limit,
            self.offset.unwrap_or(0),
            page.data.len(),
            page.total_count,
        )?;
        Some(Self {
            offset: Some(offset),
            ..*self
        })
    }
}

impl Identified for AllowlistIdentifier {
    fn id(&self) -> &str {
        &self.id
    }
}

/// `POST /allowlist_identifiers`: allow an e-mail address, phone number or web3 wallet to
/// sign up.
///
/// Not idempotent: the client never repeats it after it may have reached Clerk (a 5xx, a
/// timeout, a broken connection); it only retries when Clerk refused it before doing any work
/// (429) or the connection was never made.
///
/// ```
/// use clerk_tower::api::CreateAllowlistIdentifier;
///
/// let req = CreateAllowlistIdentifier::new("+15555550100").notify(false);
/// assert_eq!(req.identifier, "+15555550100");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CreateAllowlistIdentifier {
    /// The identifier: an e-mail address, a phone number or a web3 wallet.
    pub identifier: String,
    /// Whether to send the identifier an invitation to join (e-mail and phone only; Clerk's
    /// default: false). Sent only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
}

impl CreateAllowlistIdentifier {
    /// A create request for `identifier`.
    pub fn new(identifier: impl Into<String>) -> Self {
        Self {
            identifier: identifier.into(),
            notify: None,
        }
    }
}

super::setters! {
    CreateAllowlistIdentifier {
        /// Sets `notify`: send the identifier an invitation (e-mail and phone only).
        notify: bool,
    }
}

impl Operation for CreateAllowlistIdentifier {
    type Output = AllowlistIdentifier;
    const INFO: OperationInfo =
        OperationInfo::post("CreateAllowlistIdentifier", "/allowlist_identifiers");

    fn validate(&self) -> Result<(), Error> {
        check_not_blank("identifier", &self.identifier)
    }

    fn body(&self) -> Result<RequestBody, Error> {
        RequestBody::json(self)
    }
}

/// `DELETE /allowlist_identifiers/{identifier_id}`: remove an identifier from the allow-list.
///
/// The id is percent-encoded as one path segment: no id can reach another route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteAllowlistIdentifier {
    /// The id of the identifier to delete (`alid_...`).
    pub identifier_id: String,
}

impl DeleteAllowlistIdentifier {
    /// A delete request for `identifier_id`.
    pub fn new(identifier_id: impl Into<String>) -> Self {
        Self {
            identifier_id: identifier_id.into(),
        }
    }
}

impl Operation for DeleteAllowlistIdentifier {
    type Output = DeletedObject;
    const INFO: OperationInfo = OperationInfo::delete(
        "DeleteAllowlistIdentifier",
        "/allowlist_identifiers/{identifier_id}",
    );

    fn path<'a>(&'a self, path: &mut PathParams<'a>) -> Result<(), Error> {
        path.set("identifier_id", &self.identifier_id)
    }
}

/// The allow-list identifiers resource; get it from [`Client::allowlist_identifiers`].
///
/// It owns a clone of the client (one reference count): store it, clone it, move it into a
/// task. Each method returns a [`CallBuilder`] to await.
///
/// ```no_run
/// # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
/// let allowlist = client.allowlist_identifiers();
/// let handle = tokio::spawn(async move { allowlist.list().await });
/// let all = handle.await.expect("the task ran")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AllowlistIdentifiers {
    client: Client,
    options: Option<RequestOptions>,
}

impl AllowlistIdentifiers {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            options: None,
        }
    }

    /// Applies `options` (timeouts, retries) to the calls made through this handle (a call's
    /// own [`CallBuilder::options`] replaces them).
    ///
    /// ```
    /// # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
    /// use std::time::Duration;
    /// use clerk_tower::RequestOptions;
    ///
    /// let quick = RequestOptions::new().timeout(Duration::from_secs(2)).retry(false);
    /// let all = client.allowlist_identifiers().with_options(quick).list().await?;
    /// # Ok(()) }
    /// ```
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    fn builder<O: Operation>(&self, request: O) -> CallBuilder<O> {
        CallBuilder::new(self.client.clone(), request, self.options)
    }

    /// Lists identifiers; see [`ListAllowlistIdentifiers`] for the parameters, and
    /// [`CallBuilder::paginate`] to walk every page.
    ///
    /// Errors: [`Error::InvalidRequest`] for a `limit` outside 1..=500 (no I/O); otherwise any
    /// [`Error`] of a call.
    pub fn list(&self) -> CallBuilder<ListAllowlistIdentifiers> {
        self.builder(ListAllowlistIdentifiers::new())
    }

    /// Adds `identifier`; see [`CreateAllowlistIdentifier`].
    ///
    /// Errors: [`Error::InvalidRequest`] for an empty identifier (no I/O); [`Error::Api`] with
    /// Clerk's 400/422 for an identifier Clerk refuses (malformed, already on the list).
    pub fn create(&self, identifier: impl Into<String>) -> CallBuilder<CreateAllowlistIdentifier> {
        self.builder(CreateAllowlistIdentifier::new(identifier))
    }

    /// Deletes the identifier with id `identifier_id`.
    ///
    /// Errors: [`Error::InvalidRequest`] for an empty id, `.` or `..` (no I/O); an
    /// [`Error::Api`] for which [`Error::is_not_found`] holds when no such identifier exists.
    pub fn delete(
        &self,
        identifier_id: impl Into<String>,
    ) -> CallBuilder<DeleteAllowlistIdentifier> {
        self.builder(DeleteAllowlistIdentifier::new(identifier_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::to_request;

    fn path<O: Operation>(op: &O) -> Result<String, Error> {
        to_request(op, None).map(|req| req.uri().to_string())
    }

    #[test]
    fn list_sends_only_what_is_set() {
        assert_eq!(
            path(&ListAllowlistIdentifiers::new()).unwrap(),
            "/allowlist_identifiers"
        );
        assert_eq!(
            path(&ListAllowlistIdentifiers::new().limit(5)).unwrap(),
            "/allowlist_identifiers?limit=5"
        );
        assert_eq!(
            path(
                &ListAllowlistIdentifiers::new()
                    .offset(0)
                    .paginated(false)
                    .limit(500)
            )
            .unwrap(),
            "/allowlist_identifiers?paginated=false&limit=500&offset=0"
        );
        let err = path(&ListAllowlistIdentifiers::new().offset(u64::MAX)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(e) if e.field() == "offset"),
            "{err:?}"
        );
        assert!(path(&ListAllowlistIdentifiers::new().offset(i64::MAX as u64)).is_ok());
        for bad in [0, 501, u32::MAX] {
            let err = path(&ListAllowlistIdentifiers::new().limit(bad)).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidRequest(e) if e.field() == "limit"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn create_body_has_only_spec_fields_and_its_media_type() {
        let req = to_request(&CreateAllowlistIdentifier::new("a@b.com"), None).unwrap();
        assert_eq!(
            req.headers()[http::header::CONTENT_TYPE],
            "application/json"
        );
        assert_eq!(
            req.body().clone().into_inner().unwrap_or_default(),
            br#"{"identifier":"a@b.com"}"#.as_slice()
        );
        let req = to_request(
            &CreateAllowlistIdentifier::new("a\"@b.com").notify(true),
            None,
        )
        .unwrap();
        assert_eq!(
            req.into_body().into_inner().unwrap_or_default(),
            br#"{"identifier":"a\"@b.com","notify":true}"#.as_slice()
        );
        assert!(matches!(
            to_request(&CreateAllowlistIdentifier::new(" "), None),
            Err(Error::InvalidRequest(_))
        ));
        let delete = to_request(&DeleteAllowlistIdentifier::new("a/b"), None).unwrap();
        assert_eq!(delete.uri(), "/allowlist_identifiers/a%2Fb");
        assert!(delete.headers().get(http::header::CONTENT_TYPE).is_none());
    }

    #[test]
    fn paging_moves_by_offset_and_stops_on_a_short_page() {
        let first = ListAllowlistIdentifiers::new().first_page();
        assert_eq!(
            (first.paginated, first.limit, first.offset),
            (Some(true), Some(500), None)
        );
        let custom = ListAllowlistIdentifiers::new().limit(2).first_page();
        let full = List {
            data: vec![
                AllowlistIdentifier::default(),
                AllowlistIdentifier::default(),
            ],
            total_count: Some(5),
        };
        let second = custom.next_page(&full).unwrap();
        assert_eq!((second.limit, second.offset), (Some(2), Some(2)));
        let short = List {
            data: vec![AllowlistIdentifier::default()],
            total_count: Some(5),
        };
        assert!(second.next_page(&short).is_none());
    }
}
