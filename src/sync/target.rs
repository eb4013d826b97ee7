//! The two lists a sync works on, behind one small trait.

use std::future::Future;

use crate::api::{AllowlistIdentifiers, BlocklistIdentifiers};
use crate::Error;

use super::{Identifier, ParsedList, SyncBuilder};

/// Which list a sync works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListKind {
    /// The allow-list (`/allowlist_identifiers`).
    Allowlist,
    /// The block-list (`/blocklist_identifiers`).
    Blocklist,
}

impl ListKind {
    /// `allow-list` or `block-list`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Allowlist => "allow-list",
            ListKind::Blocklist => "block-list",
        }
    }
}

/// An identifier as the list holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteEntry {
    /// Its id (`alid_...`, `blid_...`).
    pub id: String,
    /// The identifier as Clerk lists it.
    pub identifier: String,
}

impl RemoteEntry {
    /// An entry with this id and identifier.
    pub fn new(id: impl Into<String>, identifier: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            identifier: identifier.into(),
        }
    }
}

/// A list a sync can read and change: the allow-list and block-list handles implement it.
///
/// Every future is `'static` (it owns what it needs), so a sync can run many at once.
pub trait SyncTarget: Clone + Send + Sync + 'static {
    /// Which list this is.
    const LIST: ListKind;

    /// Every entry of the list. `read` is told how many entries have been read so far, page
    /// after page.
    fn fetch(
        &self,
        read: impl Fn(usize) + Send + 'static,
    ) -> impl Future<Output = Result<Vec<RemoteEntry>, super::SyncError>> + Send + 'static;

    /// Adds `identifier`; `notify` asks Clerk to invite it (ignored where the list or the
    /// identifier's kind has no invitations).
    fn create(
        &self,
        identifier: Identifier,
        notify: bool,
    ) -> impl Future<Output = Result<RemoteEntry, Error>> + Send + 'static;

    /// Removes the entry with id `id`.
    fn delete(&self, id: String) -> impl Future<Output = Result<(), Error>> + Send + 'static;
}

impl SyncTarget for AllowlistIdentifiers {
    const LIST: ListKind = ListKind::Allowlist;

    fn fetch(
        &self,
        read: impl Fn(usize) + Send + 'static,
    ) -> impl Future<Output = Result<Vec<RemoteEntry>, super::SyncError>> + Send + 'static {
        // Every page (500 at a time); no id is yielded twice.
        let mut pages = self.list().paginate();
        async move {
            let mut all = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(super::SyncError::List)?;
                all.extend(
                    page.data
                        .into_iter()
                        .map(|item| RemoteEntry::new(item.id, item.identifier)),
                );
                read(all.len());
            }
            Ok(all)
        }
    }

    fn create(
        &self,
        identifier: Identifier,
        notify: bool,
    ) -> impl Future<Output = Result<RemoteEntry, Error>> + Send + 'static {
        let mut call = self.create(identifier.as_str());
        if identifier.kind().can_notify() {
            // Always explicit: the spec's default is false, some SDKs document true.
            call = call.notify(notify);
        }
        async move {
            let created = call.await?;
            Ok(RemoteEntry::new(created.id, created.identifier))
        }
    }

    fn delete(&self, id: String) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let call = self.delete(id);
        async move { call.await.map(|_| ()) }
    }
}

impl SyncTarget for BlocklistIdentifiers {
    const LIST: ListKind = ListKind::Blocklist;

    fn fetch(
        &self,
        read: impl Fn(usize) + Send + 'static,
    ) -> impl Future<Output = Result<Vec<RemoteEntry>, super::SyncError>> + Send + 'static {
        // The spec's list has no paging parameters: one call returns the whole list. A
        // `total_count` above what came back means it did not, and a plan made from part of
        // the list could delete what it did not see: refuse it.
        let call = self.list();
        async move {
            let list = call.await.map_err(super::SyncError::List)?;
            let listed = list.data.len();
            // A negative count (the spec allows one) says nothing about what is missing.
            if let Some(total) = list.total_count.and_then(|t| u64::try_from(t).ok()) {
                if u64::try_from(listed).is_ok_and(|n| n < total) {
                    return Err(super::SyncError::Incomplete { listed, total });
                }
            }
            read(listed);
            Ok(list
                .data
                .into_iter()
                .map(|item| RemoteEntry::new(item.id, item.identifier))
                .collect())
        }
    }

    fn create(
        &self,
        identifier: Identifier,
        _notify: bool,
    ) -> impl Future<Output = Result<RemoteEntry, Error>> + Send + 'static {
        let call = self.create(identifier.as_str());
        async move {
            let created = call.await?;
            Ok(RemoteEntry::new(created.id, created.identifier))
        }
    }

    fn delete(&self, id: String) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let call = self.delete(id);
        async move { call.await.map(|_| ()) }
    }
}

impl AllowlistIdentifiers {
    /// A sync that makes the allow-list hold exactly `desired` (with
    /// [`delete_extra`](SyncBuilder::delete_extra)), or at least `desired`; see
    /// [`crate::sync`]. `desired` is a [`ParsedList`] (its bad lines stop a sync that
    /// deletes) or a `Vec<Identifier>`.
    pub fn sync(&self, desired: impl Into<ParsedList>) -> SyncBuilder<AllowlistIdentifiers> {
        SyncBuilder::new(self.clone(), desired)
    }
}

impl BlocklistIdentifiers {
    /// A sync of the block-list to `desired`; see [`crate::sync`] and
    /// [`AllowlistIdentifiers::sync`].
    pub fn sync(&self, desired: impl Into<ParsedList>) -> SyncBuilder<BlocklistIdentifiers> {
        SyncBuilder::new(self.clone(), desired)
    }
}
