//! The request log: what [`MockClerk::requests`](super::MockClerk::requests) returns, bounded
//! by a number of entries and by bytes, the oldest entries going first.

use std::collections::VecDeque;
use std::mem::size_of;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use super::{FaultKind, RecordedRequest};

/// How many requests the log keeps by default.
pub(crate) const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// How many bytes of recorded data the log keeps by default (8 MiB).
pub(crate) const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;

/// What one header costs beyond the bytes of its name and value: an estimate from the layout
/// of `http`'s `HeaderMap` on 64-bit targets (a bucket of about 100 bytes holding the name's and
/// the value's `Bytes` handles, plus its index slot), rounded up.
const HEADER_OVERHEAD: usize = 128;

/// The bounded log.
#[derive(Debug)]
pub(crate) struct RequestLog {
    /// Each entry with its accounted size.
    entries: VecDeque<(usize, RecordedRequest)>,
    /// The sum of the accounted sizes of `entries`.
    bytes: usize,
    pub(crate) max_entries: usize,
    pub(crate) max_bytes: usize,
    /// Whether request bodies are recorded.
    pub(crate) bodies: bool,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
            bodies: false,
        }
    }
}

impl RequestLog {
    /// Appends a record, then drops the oldest entries until both bounds hold. A record larger
    /// than the whole byte budget is not kept (nor is any when `max_entries` is 0).
    pub(crate) fn push(&mut self, record: RecordedRequest) {
        let size = accounted_size(&record);
        if self.max_entries == 0 || size > self.max_bytes {
            return;
        }
        self.entries.push_back((size, record));
        self.bytes = self.bytes.saturating_add(size);
        self.trim();
    }

    /// Drops the oldest entries until both bounds hold.
    pub(crate) fn trim(&mut self) {
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            match self.entries.pop_front() {
                Some((size, _)) => self.bytes = self.bytes.saturating_sub(size),
                None => {
                    self.bytes = 0;
                    break;
                }
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    pub(crate) fn records(&self) -> Vec<RecordedRequest> {
        self.entries.iter().map(|(_, r)| r.clone()).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The body to record: a copy (so that the log never pins a larger buffer it was read
    /// into), or nothing when bodies are not recorded.
    pub(crate) fn body_to_record(&self, body: &Bytes) -> Bytes {
        if self.bodies {
            Bytes::copy_from_slice(body)
        } else {
            Bytes::new()
        }
    }
}

/// Headers to record: copies of the values (a server's header values are views into its read
/// buffer, which they would keep alive), `Authorization` marked sensitive.
pub(crate) fn headers_to_record(headers: &HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let mut owned = match HeaderValue::from_bytes(value.as_bytes()) {
            Ok(owned) => owned,
            // Cannot happen (the bytes came from a valid value); keep the original then.
            Err(_) => value.clone(),
        };
        if name == http::header::AUTHORIZATION || value.is_sensitive() {
            owned.set_sensitive(true);
        }
        copy.append(name.clone(), owned);
    }
    copy
}

/// The bytes a record holds, as the log accounts them: the entry itself, the lengths of
/// everything it owns on the heap, and a fixed overhead per header.
pub(crate) fn accounted_size(r: &RecordedRequest) -> usize {
    let method = match r.method.as_str() {
        // The standard methods are stored inline; an extension method is on the heap.
        "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "OPTIONS" | "CONNECT" | "PATCH" | "TRACE" => 0,
        other => other.len(),
    };
    let headers = r.headers.iter().fold(0usize, |acc, (name, value)| {
        acc.saturating_add(name.as_str().len())
            .saturating_add(value.len())
            .saturating_add(HEADER_OVERHEAD)
    });
    let fault = match r.fault.as_ref().map(|f| &f.kind) {
        Some(FaultKind::Status {
            retry_after: Some(value),
            ..
        }) => value.len(),
        _ => 0,
    };
    size_of::<(usize, RecordedRequest)>()
        .saturating_add(method)
        .saturating_add(r.path.len())
        .saturating_add(r.query.as_ref().map_or(0, String::len))
        .saturating_add(headers)
        .saturating_add(r.body.len())
        .saturating_add(fault)
}
