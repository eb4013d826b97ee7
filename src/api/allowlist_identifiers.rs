//! The allow-list identifiers resource: `GET`, `POST /allowlist_identifiers` and
//! `DELETE /allowlist_identifiers/{identifier_id}`.
//!
//! ```no_run
//! use clerk_tower::api::{CreateAllowlistIdentifier, ListAllowlistIdentifiers};
//!
//! # async fn demo() -> Result<(), clerk_tower::Error> {
//! let client = clerk_tower::Client::from_env()?;
//! let allowlist = client.allowlist_identifiers();
//! let created = allowlist.create(CreateAllowlistIdentifier::new("ada@example.com").notify(true)).await?;
//! let page = allowlist.list(ListAllowlistIdentifiers::new().paginated(true).limit(50)).await?;
//! println!("{} of {} identifiers", page.data.len(), page.total_count);
//! allowlist.delete(&created.id).await?;
//! # Ok(()) }
//! ```

use std::fmt::Write as _;

use bytes::Bytes;
use http::Method;
use serde::Serialize;
use tower::ServiceExt;

use crate::endpoint::push_path_segment;
use crate::models::{AllowlistIdentifier, AllowlistIdentifierList, DeletedObject};
use crate::{Client, Endpoint, Error, Operation, RequestOptions};

const PATH: &str = "/allowlist_identifiers";

/// The largest `limit` the API accepts (`LimitParameter` in the spec).
pub const MAX_LIMIT: u32 = 500;

/// `GET /allowlist_identifiers`: list the identifiers allowed to sign up.
///
/// Only the parameters you set are sent; Clerk's defaults apply to the rest (`limit` 10,
/// `offset` 0). Without `paginated(true)` Clerk answers with a bare array of all identifiers;
/// with it, with one page and `total_count`. Both decode into [`AllowlistIdentifierList`].
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

    /// Sets `paginated`.
    pub const fn paginated(mut self, paginated: bool) -> Self {
        self.paginated = Some(paginated);
        self
    }

    /// Sets `limit` (1..=500; anything else is refused before any I/O).
    pub const fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets `offset` (at most `i64::MAX`; anything larger is refused before any I/O).
    pub const fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
}

impl Endpoint for ListAllowlistIdentifiers {
    type Output = AllowlistIdentifierList;
    const OPERATION: Operation = Operation::new("ListAllowlistIdentifiers", true);
    const METHOD: Method = Method::GET;

    fn static_path_and_query(&self) -> Option<&'static str> {
        (*self == Self::new()).then_some(PATH)
    }

    fn write_path_and_query(&self, out: &mut String) -> Result<(), Error> {
        if let Some(limit) = self.limit {
            if !(1..=MAX_LIMIT).contains(&limit) {
                return Err(Error::invalid_request(
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}, got {limit}"),
                ));
            }
        }
        if let Some(offset) = self.offset {
            // Clerk parses integers as signed 64-bit; a larger offset can only be refused.
            if offset > i64::MAX as u64 {
                return Err(Error::invalid_request(
                    "offset",
                    format!("must be at most {}, got {offset}", i64::MAX),
                ));
            }
        }
        out.push_str(PATH);
        let mut sep = '?';
        if let Some(paginated) = self.paginated {
            out.push(sep);
            out.push_str(if paginated {
                "paginated=true"
            } else {
                "paginated=false"
            });
            sep = '&';
        }
        if let Some(limit) = self.limit {
            out.push(sep);
            let _ = write!(out, "limit={limit}");
            sep = '&';
        }
        if let Some(offset) = self.offset {
            out.push(sep);
            let _ = write!(out, "offset={offset}");
        }
        Ok(())
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

    /// Sets `notify`.
    pub fn notify(mut self, notify: bool) -> Self {
        self.notify = Some(notify);
        self
    }
}

impl Endpoint for CreateAllowlistIdentifier {
    type Output = AllowlistIdentifier;
    const OPERATION: Operation = Operation::new("CreateAllowlistIdentifier", false);
    const METHOD: Method = Method::POST;

    fn static_path_and_query(&self) -> Option<&'static str> {
        Some(PATH)
    }

    fn write_path_and_query(&self, out: &mut String) -> Result<(), Error> {
        out.push_str(PATH);
        Ok(())
    }

    fn body(&self) -> Result<Option<Bytes>, Error> {
        if self.identifier.trim().is_empty() {
            return Err(Error::invalid_request("identifier", "must not be empty"));
        }
        let body = serde_json::to_vec(self)
            .map_err(|e| Error::invalid_request("identifier", e.to_string()))?;
        Ok(Some(Bytes::from(body)))
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

impl Endpoint for DeleteAllowlistIdentifier {
    type Output = DeletedObject;
    const OPERATION: Operation = Operation::new("DeleteAllowlistIdentifier", true);
    const METHOD: Method = Method::DELETE;

    fn write_path_and_query(&self, out: &mut String) -> Result<(), Error> {
        out.push_str(PATH);
        push_path_segment(out, "identifier_id", &self.identifier_id)
    }
}

/// The allow-list identifiers resource of a [`Client`]; get it from
/// [`Client::allowlist_identifiers`].
///
/// Each method sends one call through the client's services (`oneshot` on a clone), so it is
/// exactly what [`Client::service`] would do.
#[derive(Debug, Clone)]
pub struct AllowlistIdentifiers<'a> {
    client: &'a Client,
    options: Option<RequestOptions>,
}

impl<'a> AllowlistIdentifiers<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self {
            client,
            options: None,
        }
    }

    /// Applies `options` (timeouts, retries) to the calls made through this handle.
    ///
    /// ```
    /// # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
    /// use std::time::Duration;
    /// use clerk_tower::{api::ListAllowlistIdentifiers, RequestOptions};
    ///
    /// let quick = RequestOptions::new().timeout(Duration::from_secs(2)).retry(false);
    /// let all = client.allowlist_identifiers().with_options(quick).list(ListAllowlistIdentifiers::new()).await?;
    /// # Ok(()) }
    /// ```
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    async fn send<E: Endpoint>(&self, endpoint: E) -> Result<E::Output, Error> {
        let mut svc = self.client.service::<E>();
        if let Some(options) = self.options {
            svc = svc.with_options(options);
        }
        svc.oneshot(endpoint).await
    }

    /// Lists identifiers; see [`ListAllowlistIdentifiers`].
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a `limit` outside 1..=500 (no I/O); otherwise any
    /// [`Error`] of a call.
    pub async fn list(
        &self,
        request: ListAllowlistIdentifiers,
    ) -> Result<AllowlistIdentifierList, Error> {
        self.send(request).await
    }

    /// Adds an identifier; see [`CreateAllowlistIdentifier`].
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty identifier (no I/O); [`Error::Api`] with Clerk's
    /// 400/422 for an identifier Clerk refuses (malformed, already on the list).
    pub async fn create(
        &self,
        request: CreateAllowlistIdentifier,
    ) -> Result<AllowlistIdentifier, Error> {
        self.send(request).await
    }

    /// Deletes the identifier with id `identifier_id`.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty id, `.` or `..` (no I/O); an [`Error::Api`] for
    /// which [`Error::is_not_found`] holds when no such identifier exists.
    pub async fn delete(&self, identifier_id: &str) -> Result<DeletedObject, Error> {
        self.send(DeleteAllowlistIdentifier::new(identifier_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path<E: Endpoint>(e: &E) -> Result<String, Error> {
        let mut out = String::new();
        e.write_path_and_query(&mut out).map(|()| out)
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
    fn create_body_has_only_spec_fields() {
        let body = CreateAllowlistIdentifier::new("a@b.com")
            .body()
            .unwrap()
            .unwrap();
        assert_eq!(body, Bytes::from_static(br#"{"identifier":"a@b.com"}"#));
        let body = CreateAllowlistIdentifier::new("a\"@b.com")
            .notify(true)
            .body()
            .unwrap()
            .unwrap();
        assert_eq!(
            body,
            Bytes::from_static(br#"{"identifier":"a\"@b.com","notify":true}"#)
        );
        assert!(matches!(
            CreateAllowlistIdentifier::new(" ").body(),
            Err(Error::InvalidRequest(_))
        ));
    }
}
