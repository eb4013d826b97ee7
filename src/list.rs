//! Lists and auto-pagination.
//!
//! [`List<T>`] is what every list operation returns: Clerk answers some lists with a bare JSON
//! array and others (or the same one, with `paginated=true`) with `{"data": [...],
//! "total_count": N}`; both decode into it.
//!
//! A list operation that implements [`Paginate`] can be walked page by page with
//! [`CallBuilder::paginate`](crate::CallBuilder::paginate): [`Pages`] is a `Stream` of pages,
//! [`Items`] a `Stream` of their items. Both also have an inherent `next()`, so a plain
//! `while let` loop needs no stream library:
//!
//! ```no_run
//! # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
//! let mut items = client.allowlist_identifiers().list().paginate().items();
//! while let Some(identifier) = items.next().await {
//!     println!("{}", identifier?.identifier);
//! }
//! # Ok(()) }
//! ```
//!
//! # How a walk ends
//!
//! - **At the end of the list**: on an empty or short page, once `offset` reaches
//!   `total_count`, or (cursor paging) on a page shorter than `limit`.
//! - **After an error** of a page call: the error is the stream's last item.
//! - **When the server makes no progress**: a page is *stalled* when every item on it was
//!   yielded before (a server or proxy that repeats a page, ignores `offset` or a cursor, or a
//!   cursor that goes back), or when the request for the next page is the request just sent
//!   (a cursor that does not move). After [`MAX_STALLED_PAGES`] (3) stalled pages in a row
//!   the stream ends with [`Error::Pagination`] (its [`PaginationErrorKind`] says which),
//!   after yielding what was new, instead of asking again forever; `collect_all` returns that
//!   error. A page that brings something new resets the count. So a walk sends at most
//!   `MAX_STALLED_PAGES` requests more than it needs.
//!
//! **Memory.** The streams remember every item they yielded, to never yield one twice, as a
//! 128-bit keyed hash of its id (two SipHash keys drawn per stream): 16 bytes per item
//! whatever the length of the ids a server sends, plus the hash table's overhead (at most
//! about twice that). Two different ids with the same 128-bit hash would make the second
//! one skipped; with random keys the chance is about n²/2¹²⁹ for n items (below 10⁻²⁴ for
//! ten million).
//!
//! # Paging while the list changes
//!
//! Offset paging (`limit`/`offset`, up to 500 per page) reads a list that may change between
//! two pages. Clerk lists allow-list identifiers newest first, so:
//!
//! - an identifier **added** while paging moves every older one down by one place: the next
//!   page starts with an item already seen. The streams remember the ids they have yielded
//!   and **never yield one id twice**. (Were more items added between two reads than a
//!   page holds, [`MAX_STALLED_PAGES`] pages in a row could hold only items already seen,
//!   and the walk would end with [`Error::Pagination`]: read again.)
//! - an identifier **deleted** from a page already read moves every later one up by one
//!   place: the next page starts one item further on, and the item that moved across the
//!   page boundary is **not yielded** at all. No offset-based reader can see it; if you need
//!   every surviving item, page again until a pass yields nothing new, or read while nothing
//!   deletes.
//! - items added or deleted on pages not read yet are simply read or not read.
//!
//! Cursor paging (`starting_after`, as Clerk's user list has) fits the same trait: its
//! [`Paginate::next_page`] takes the last item's id instead of an offset. A cursor never
//! moves an item across pages, so nothing is skipped or repeated while the list changes.
//!
//! The paging is written once: each list operation of the API implements [`ListRequest`]
//! (it lends its paging parameters, [`PageParams`]), and [`Paginate`] is implemented for every
//! `ListRequest`.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::operation::Operation;
use crate::service::{CallBuilder, CallFuture};
use crate::{Client, Error, RequestOptions};

pub use crate::error::{PaginationError, PaginationErrorKind};

/// How many pages in a row may bring no progress (no new item, or a next request equal to
/// the one just sent) before a walk ends with [`Error::Pagination`]; see the [module
/// docs](self#how-a-walk-ends).
pub const MAX_STALLED_PAGES: u32 = 3;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The largest page Clerk serves (`LimitParameter`'s maximum in the spec).
pub const MAX_PAGE_SIZE: u32 = 500;

/// One page of a list, or a whole list.
///
/// `total_count` is Clerk's count of all items across pages when it sends one (the
/// `{data, total_count}` shape); `None` for a bare array, which says nothing about other
/// pages. It is signed because the spec types it so (`integer`, `int64`, no minimum): every
/// value the spec allows decodes, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct List<T> {
    /// The items.
    pub data: Vec<T>,
    /// How many items exist across all pages, when Clerk says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            total_count: None,
        }
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.data.into_iter()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<fn() -> T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array or an object with `data` and `total_count`")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut data = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(512));
                while let Some(item) = seq.next_element()? {
                    data.push(item);
                }
                Ok(List {
                    data,
                    total_count: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut data: Option<Vec<T>> = None;
                let mut total_count: Option<i64> = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Data => {
                            if data.is_some() {
                                return Err(de::Error::duplicate_field("data"));
                            }
                            data = Some(map.next_value()?);
                        }
                        Key::TotalCount => {
                            if total_count.is_some() {
                                return Err(de::Error::duplicate_field("total_count"));
                            }
                            total_count = map.next_value()?;
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let data = data.ok_or_else(|| de::Error::missing_field("data"))?;
                Ok(List { data, total_count })
            }
        }

        enum Key {
            Data,
            TotalCount,
            Other,
        }

        impl<'de> Deserialize<'de> for Key {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl Visitor<'_> for KeyVisitor {
                    type Value = Key;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                        Ok(match v {
                            "data" => Key::Data,
                            "total_count" => Key::TotalCount,
                            _ => Key::Other,
                        })
                    }
                }
                deserializer.deserialize_identifier(KeyVisitor)
            }
        }

        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

/// An item with an id, which the pagination streams use to never yield an item twice.
pub trait Identified {
    /// The item's id (`alid_...`, `user_...`).
    fn id(&self) -> &str;
}

/// A list operation that can be walked page by page.
pub trait Paginate: Operation<Output = List<Self::Item>> + Clone {
    /// What the list holds.
    type Item: Identified + Send + 'static;

    /// The request for the first page: the caller's request with what paging needs set (a
    /// page size when none was set, the paginated shape).
    fn first_page(self) -> Self;

    /// The request for the page after `page` (which this request fetched), or `None` when
    /// `page` was the last one.
    fn next_page(&self, page: &List<Self::Item>) -> Option<Self>;
}

/// The offset of the page after one of `page_len` items fetched at `offset` with `limit`, or
/// `None` when that page was the last: empty, short, or reaching `total_count` (a negative
/// count says nothing: the page lengths decide).
pub fn next_offset(
    limit: u32,
    offset: u64,
    page_len: usize,
    total_count: Option<i64>,
) -> Option<u64> {
    let len = u64::try_from(page_len).ok()?;
    if len == 0 || len < u64::from(limit) {
        return None;
    }
    let next = offset.checked_add(len)?;
    match total_count.and_then(|t| u64::try_from(t).ok()) {
        Some(total) if next >= total => None,
        _ => Some(next),
    }
}

/// A `Stream` of pages; see the [module docs](self).
pub struct Pages<O: Paginate> {
    client: Client,
    options: Option<RequestOptions>,
    next: Option<O>,
    current: Option<O>,
    /// The URI (path and query) of the request in flight.
    sent: Option<String>,
    in_flight: Option<Pin<Box<CallFuture<O>>>>,
    seen: Seen,
    /// Pages in a row without progress.
    stalled: u32,
    /// The error that ends the stream after the page being yielded.
    ending: Option<Error>,
}

/// The ids yielded so far, as 128-bit keyed hashes: 16 bytes each whatever their length.
#[derive(Default)]
struct Seen {
    keys: (RandomState, RandomState),
    hashes: HashSet<u128>,
}

impl Seen {
    /// Whether `id` is new (and remembers it).
    fn insert(&mut self, id: &str) -> bool {
        let high = u128::from(self.keys.0.hash_one(id));
        let low = u128::from(self.keys.1.hash_one(id));
        self.hashes.insert((high << 64) | low)
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }
}

/// The path and query a request would be sent to, to tell two requests apart.
fn target_of<O: Operation>(request: &O) -> Option<String> {
    let request = request.to_request(None).ok()?;
    Some(
        request
            .uri()
            .path_and_query()
            .map_or_else(String::new, ToString::to_string),
    )
}

// Nothing is pinned in place: the in-flight future is boxed.
impl<O: Paginate> Unpin for Pages<O> {}

impl<O: Paginate> fmt::Debug for Pages<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("operation", &O::INFO.id)
            .field("in_flight", &self.in_flight.is_some())
            .field("done", &(self.next.is_none() && self.in_flight.is_none()))
            .field("seen", &self.seen.len())
            .field("stalled", &self.stalled)
            .finish()
    }
}

impl<O: Paginate> Pages<O> {
    pub(crate) fn new(client: Client, request: O, options: Option<RequestOptions>) -> Self {
        Self {
            client,
            options,
            next: Some(request.first_page()),
            current: None,
            sent: None,
            in_flight: None,
            seen: Seen::default(),
            stalled: 0,
            ending: None,
        }
    }

    /// The stream of items of these pages.
    pub fn items(self) -> Items<O> {
        Items {
            pages: self,
            buffer: VecDeque::new(),
        }
    }

    /// The next page, `None` after the last one. After an error the stream ends.
    pub async fn next(&mut self) -> Option<Result<List<O::Item>, Error>> {
        std::future::poll_fn(|cx| self.poll_page(cx)).await
    }

    fn poll_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<List<O::Item>, Error>>> {
        loop {
            if let Some(error) = self.ending.take() {
                return Poll::Ready(Some(Err(error)));
            }
            if let Some(future) = self.in_flight.as_mut() {
                let result = std::task::ready!(future.as_mut().poll(cx));
                self.in_flight = None;
                let current = self.current.take();
                let sent = self.sent.take();
                let mut page = match result {
                    Ok(page) => page,
                    Err(err) => {
                        self.next = None;
                        return Poll::Ready(Some(Err(err)));
                    }
                };
                self.next = current.and_then(|request| request.next_page(&page));
                let seen = &mut self.seen;
                page.data.retain(|item| seen.insert(item.id()));
                if let Some(next) = &self.next {
                    let repeated = sent.is_some() && target_of(next) == sent;
                    if repeated || page.data.is_empty() {
                        self.stalled = self.stalled.saturating_add(1);
                        if self.stalled >= MAX_STALLED_PAGES {
                            self.next = None;
                            self.ending = Some(Error::Pagination(Box::new(PaginationError {
                                operation: O::INFO.id,
                                kind: if repeated {
                                    PaginationErrorKind::RequestRepeated
                                } else {
                                    PaginationErrorKind::NoNewItems
                                },
                                pages: self.stalled,
                            })));
                        }
                    } else {
                        self.stalled = 0;
                    }
                    if page.data.is_empty() {
                        // Nothing new on it (the list moved, or the server repeats): read
                        // on, or end with the error above.
                        continue;
                    }
                }
                return Poll::Ready(Some(Ok(page)));
            }
            let Some(request) = self.next.take() else {
                return Poll::Ready(None);
            };
            self.sent = target_of(&request);
            self.current = Some(request.clone());
            let call = CallBuilder::new(self.client.clone(), request, self.options).send();
            self.in_flight = Some(Box::pin(call));
        }
    }
}

impl<O: Paginate> futures_core::Stream for Pages<O> {
    type Item = Result<List<O::Item>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_page(cx)
    }
}

/// A `Stream` of the items of every page; see the [module docs](self).
pub struct Items<O: Paginate> {
    pages: Pages<O>,
    buffer: VecDeque<O::Item>,
}

impl<O: Paginate> Unpin for Items<O> {}

impl<O: Paginate> fmt::Debug for Items<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<O: Paginate> Items<O> {
    /// The next item, `None` after the last one. After an error the stream ends.
    pub async fn next(&mut self) -> Option<Result<O::Item, Error>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Every remaining item, or the first error.
    ///
    /// # Errors
    /// The first error of a page call, or [`Error::Pagination`] when the server stopped
    /// making progress (see [how a walk ends](self#how-a-walk-ends)).
    pub async fn collect_all(mut self) -> Result<Vec<O::Item>, Error> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<O::Item, Error>>> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match std::task::ready!(self.pages.poll_page(cx)) {
                Some(Ok(page)) => self.buffer.extend(page.data),
                Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl<O: Paginate> futures_core::Stream for Items<O> {
    type Item = Result<O::Item, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

/// A list request's paging parameters, lent by [`ListRequest::page_params`]: its `limit` and
/// `offset`, the largest page the operation serves, and where the operation has them, the
/// flag asking for the `{data, total_count}` shape and the cursor of cursor paging.
#[derive(Debug)]
pub struct PageParams<'a> {
    max: u32,
    limit: &'a mut Option<u32>,
    offset: &'a mut Option<u64>,
    paginated: Option<&'a mut Option<bool>>,
    cursor: Option<&'a mut Option<String>>,
}

impl<'a> PageParams<'a> {
    /// Offset paging with `limit` and `offset`, at most `max` items per page (the page size
    /// when the request sets none).
    pub fn new(max: u32, limit: &'a mut Option<u32>, offset: &'a mut Option<u64>) -> Self {
        Self {
            max,
            limit,
            offset,
            paginated: None,
            cursor: None,
        }
    }

    /// The flag that asks for the `{data, total_count}` shape: paging sets it.
    pub fn paginated(mut self, flag: &'a mut Option<bool>) -> Self {
        self.paginated = Some(flag);
        self
    }

    /// Cursor paging (the next page starts after the last item's id), when `usable` (the
    /// request's ordering allows it) and the walk starts at offset 0; offset paging otherwise.
    pub fn cursor(mut self, cursor: &'a mut Option<String>, usable: bool) -> Self {
        self.cursor = usable.then_some(cursor);
        self
    }
}

/// What paging needs of a list operation: its paging parameters. Generated for each list
/// operation of the API; [`Paginate`] is implemented once, here, for every `ListRequest`.
pub trait ListRequest: Operation<Output = List<Self::Item>> + Clone {
    /// What the list holds.
    type Item: Identified + Send + 'static;

    /// The paging parameters, to read and set.
    fn page_params(&mut self) -> PageParams<'_>;
}

impl<T: ListRequest> Paginate for T {
    type Item = <T as ListRequest>::Item;

    fn first_page(mut self) -> Self {
        let params = self.page_params();
        if let Some(flag) = params.paginated {
            *flag = Some(true);
        }
        *params.limit = Some(params.limit.unwrap_or(params.max));
        self
    }

    fn next_page(&self, page: &List<Self::Item>) -> Option<Self> {
        let mut next = self.clone();
        let params = next.page_params();
        let limit = params.limit.unwrap_or(params.max);
        let offset = params.offset.unwrap_or(0);
        match params.cursor {
            Some(cursor) if offset == 0 => {
                // A short or empty page is the last one.
                next_offset(limit, 0, page.data.len(), None)?;
                *cursor = Some(page.data.last()?.id().to_owned());
            }
            _ => {
                *params.offset = Some(next_offset(
                    limit,
                    offset,
                    page.data.len(),
                    page.total_count,
                )?)
            }
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_offsets() {
        assert_eq!(next_offset(10, 0, 10, None), Some(10));
        assert_eq!(next_offset(10, 0, 9, None), None, "short page");
        assert_eq!(next_offset(10, 0, 0, None), None, "empty page");
        assert_eq!(next_offset(10, 10, 10, Some(20)), None, "total reached");
        assert_eq!(next_offset(10, 10, 10, Some(21)), Some(20));
        assert_eq!(next_offset(10, u64::MAX - 5, 10, None), None, "no overflow");
    }

    #[test]
    fn lists_decode_both_shapes() {
        let bare: List<u32> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(bare.data, vec![1, 2]);
        assert_eq!(bare.total_count, None);
        let paged: List<u32> =
            serde_json::from_str(r#"{"data":[1],"total_count":25,"next":null}"#).unwrap();
        assert_eq!(paged.total_count, Some(25));
        let reordered: List<u32> = serde_json::from_str(r#"{"total_count":7,"data":[3]}"#).unwrap();
        assert_eq!((reordered.data, reordered.total_count), (vec![3], Some(7)));
        let null_total: List<u32> =
            serde_json::from_str(r#"{"data":[],"total_count":null}"#).unwrap();
        assert_eq!(null_total.total_count, None);
        let round: List<u32> =
            serde_json::from_str(&serde_json::to_string(&paged).unwrap()).unwrap();
        assert_eq!(round, paged);
        assert!(serde_json::from_str::<List<u32>>(r#""nope""#).is_err());
        assert!(serde_json::from_str::<List<u32>>(r#"{"total_count":3}"#).is_err());
        assert!(serde_json::from_str::<List<u32>>(r#"{"data":[],"data":[]}"#).is_err());
    }

    /// The spec types `total_count` as a signed 64-bit integer with no minimum: every value it
    /// allows decodes, kept as sent (a negative count says nothing about other pages).
    #[test]
    fn every_total_count_the_spec_allows_decodes() {
        for total in [i64::MIN, -1, 0, i64::MAX] {
            let page: List<u32> =
                serde_json::from_str(&format!(r#"{{"data":[],"total_count":{total}}}"#)).unwrap();
            assert_eq!(page.total_count, Some(total));
        }
        assert_eq!(
            next_offset(10, 0, 10, Some(-1)),
            Some(10),
            "no count to go by"
        );
    }

    /// A list request as the generator writes them: the paging parameters and nothing else.
    #[derive(Debug, Clone, Default, PartialEq)]
    struct Listing {
        limit: Option<u32>,
        offset: Option<u64>,
        paginated: Option<bool>,
        starting_after: Option<String>,
        order_by: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Item(String);

    impl Identified for Item {
        fn id(&self) -> &str {
            &self.0
        }
    }

    impl Operation for Listing {
        type Output = List<Item>;
        const INFO: crate::OperationInfo = crate::OperationInfo::get("Listing", "/items");
    }

    impl ListRequest for Listing {
        type Item = Item;

        fn page_params(&mut self) -> PageParams<'_> {
            let by_cursor = matches!(self.order_by.as_deref(), None | Some("-created_at"));
            PageParams::new(3, &mut self.limit, &mut self.offset)
                .paginated(&mut self.paginated)
                .cursor(&mut self.starting_after, by_cursor)
        }
    }

    fn page(ids: &[&str], total_count: Option<i64>) -> List<Item> {
        List {
            data: ids.iter().map(|id| Item((*id).to_owned())).collect(),
            total_count,
        }
    }

    /// Paging is written once, for every `ListRequest`: the first page gets the largest size
    /// and the paginated shape, the next ones a cursor or an offset.
    #[test]
    fn list_requests_page_by_cursor_or_offset() {
        let first = Listing::default().first_page();
        assert_eq!((first.limit, first.paginated), (Some(3), Some(true)));
        let full = page(&["a", "b", "c"], Some(10));
        let next = first.next_page(&full).unwrap();
        assert_eq!(next.starting_after.as_deref(), Some("c"));
        assert_eq!(next.offset, None);
        assert!(
            next.next_page(&page(&["d"], None)).is_none(),
            "a short page ends it"
        );

        // An ordering the cursor cannot follow, or an offset to start from: offset paging.
        let ordered = Listing {
            order_by: Some("name".into()),
            ..Listing::default()
        }
        .first_page();
        let next = ordered.next_page(&full).unwrap();
        assert_eq!(
            (next.offset, next.starting_after.as_deref()),
            (Some(3), None)
        );
        let from = Listing {
            limit: Some(2),
            offset: Some(4),
            ..Listing::default()
        }
        .first_page();
        assert_eq!(from.limit, Some(2), "the caller's page size is kept");
        let next = from.next_page(&page(&["e", "f"], Some(10))).unwrap();
        assert_eq!(next.offset, Some(6));
        assert!(
            next.next_page(&page(&["g", "h"], Some(8))).is_none(),
            "total reached"
        );
    }
}
