//! The stores behind the mock's two identifier lists (allow-list and block-list), with an
//! index that finds duplicates without scanning the list (a sync of 10,000 identifiers would
//! otherwise cost the mock a quadratic number of comparisons).

use std::collections::HashSet;

use crate::models::{AllowlistIdentifier, BlocklistIdentifier, IdentifierType};

/// What a list entry exposes to its store.
pub(crate) trait Stored: Clone {
    fn id(&self) -> &str;
    fn identifier(&self) -> &str;
    fn kind(&self) -> &IdentifierType;
    fn created_at(&self) -> i64;
}

impl Stored for AllowlistIdentifier {
    fn id(&self) -> &str {
        &self.id
    }
    fn identifier(&self) -> &str {
        &self.identifier
    }
    fn kind(&self) -> &IdentifierType {
        &self.identifier_type
    }
    fn created_at(&self) -> i64 {
        self.created_at
    }
}

impl Stored for BlocklistIdentifier {
    fn id(&self) -> &str {
        &self.id
    }
    fn identifier(&self) -> &str {
        &self.identifier
    }
    fn kind(&self) -> &IdentifierType {
        &self.identifier_type
    }
    fn created_at(&self) -> i64 {
        self.created_at
    }
}

/// The key two identifiers are duplicates under: e-mail addresses and hex wallet addresses
/// compare without case, phone numbers exactly.
pub(crate) fn duplicate_key(identifier: &str, kind: &IdentifierType) -> String {
    match kind {
        IdentifierType::EmailAddress | IdentifierType::Web3Wallet => {
            format!("{}:{}", kind.as_str(), identifier.to_lowercase())
        }
        _ => format!("{}:{identifier}", kind.as_str()),
    }
}

#[derive(Debug, Clone)]
struct Entry<T> {
    item: T,
    seq: u64,
}

/// One list: its entries in insertion order, and the duplicate keys they hold.
#[derive(Debug, Clone)]
pub(crate) struct ListStore<T> {
    entries: Vec<Entry<T>>,
    keys: HashSet<String>,
    next_seq: u64,
}

impl<T> Default for ListStore<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            keys: HashSet::new(),
            next_seq: 0,
        }
    }
}

impl<T: Stored> ListStore<T> {
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.keys.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether an identifier of this kind is already listed.
    pub(crate) fn contains(&self, identifier: &str, kind: &IdentifierType) -> bool {
        self.keys.contains(&duplicate_key(identifier, kind))
    }

    pub(crate) fn push(&mut self, item: T) {
        self.keys
            .insert(duplicate_key(item.identifier(), item.kind()));
        self.entries.push(Entry {
            item,
            seq: self.next_seq,
        });
        self.next_seq = self.next_seq.wrapping_add(1);
    }

    /// The entry with this id, removed when `commit`.
    pub(crate) fn delete(&mut self, id: &str, commit: bool) -> Option<T> {
        let index = self.entries.iter().position(|e| e.item.id() == id)?;
        if !commit {
            return self.entries.get(index).map(|e| e.item.clone());
        }
        let removed = self.entries.remove(index).item;
        self.keys
            .remove(&duplicate_key(removed.identifier(), removed.kind()));
        Some(removed)
    }

    /// The entries in list order: newest first (created_at descending, then insertion order,
    /// newest first).
    pub(crate) fn sorted(&self) -> Vec<T> {
        let mut entries: Vec<&Entry<T>> = self.entries.iter().collect();
        entries.sort_by(|a, b| {
            b.item
                .created_at()
                .cmp(&a.item.created_at())
                .then(b.seq.cmp(&a.seq))
        });
        entries.into_iter().map(|e| e.item.clone()).collect()
    }
}
