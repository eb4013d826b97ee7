//! Auto-pagination against the mock over real TCP: every identifier once, page requests as
//! documented, and no id twice while the list changes under the reader.

use std::collections::HashSet;
use std::time::Duration;

use crate::local_server::setup;
use clerk_tower::mock::{MockClerk, MockOperation};
use clerk_tower::Error;

fn insert_many(mock: &MockClerk, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            mock.insert(&format!("{prefix}{i:03}@example.com"))
                .unwrap()
                .id
        })
        .collect()
}

#[tokio::test]
async fn items_walk_every_page_once() {
    let (mock, server, client) = setup().await;
    let mut created = insert_many(&mock, "user", 25);
    created.reverse(); // Clerk lists newest first.

    let all = client
        .allowlist_identifiers()
        .list()
        .limit(10)
        .paginate()
        .items()
        .collect_all()
        .await
        .unwrap();
    let ids: Vec<String> = all.into_iter().map(|i| i.id).collect();
    assert_eq!(ids, created);
    let queries: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.operation == Some(MockOperation::List))
        .map(|r| r.path_and_query())
        .collect();
    assert_eq!(
        queries,
        [
            "/v1/allowlist_identifiers?paginated=true&limit=10",
            "/v1/allowlist_identifiers?paginated=true&limit=10&offset=10",
            "/v1/allowlist_identifiers?paginated=true&limit=10&offset=20",
        ],
        "three pages, the last one short"
    );

    // A page size that divides the count exactly ends on total_count, with no empty page.
    mock.clear_requests();
    let mut pages = client.allowlist_identifiers().list().limit(5).paginate();
    let mut sizes = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        assert_eq!(page.total_count, Some(25));
        sizes.push(page.data.len());
    }
    assert_eq!(sizes, [5, 5, 5, 5, 5]);
    assert_eq!(mock.requests().len(), 5, "no request for an empty page");

    // The default page is the largest Clerk serves: one request for everything.
    mock.clear_requests();
    let everything = client
        .allowlist_identifiers()
        .list()
        .paginate()
        .items()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(everything.len(), 25);
    assert_eq!(
        mock.requests()[0].path_and_query(),
        "/v1/allowlist_identifiers?paginated=true&limit=500"
    );
    server.shutdown().await;
}

/// Identifiers added while paging push older ones onto the next page: the streams skip what
/// they already yielded, and (with inserts only) still yield every identifier that was there.
#[tokio::test]
async fn concurrent_inserts_never_repeat_an_id_nor_lose_one() {
    let (mock, server, client) = setup().await;
    let original: HashSet<String> = insert_many(&mock, "old", 80).into_iter().collect();

    let writer = {
        let mock = mock.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                mock.insert(&format!("new{i:03}@example.com")).unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut items = client
        .allowlist_identifiers()
        .list()
        .limit(7)
        .paginate()
        .items();
    let mut yielded = Vec::new();
    while let Some(item) = items.next().await {
        yielded.push(item.unwrap().id);
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();

    let unique: HashSet<&String> = yielded.iter().collect();
    assert_eq!(unique.len(), yielded.len(), "an id was yielded twice");
    for id in &original {
        assert!(
            unique.contains(id),
            "{id} was there all along but not yielded"
        );
    }
    server.shutdown().await;
}

/// Deletes of identifiers on pages already read move later ones up: those can be missed (as
/// documented), but nothing is yielded twice and nothing deleted before the walk appears.
#[tokio::test]
async fn concurrent_deletes_never_repeat_an_id() {
    let (mock, server, client) = setup().await;
    let ids = insert_many(&mock, "user", 60);
    let mut pages = client.allowlist_identifiers().list().limit(10).paginate();
    let mut yielded = Vec::new();
    let mut late = Vec::new();
    let mut deleted = 0;
    let mut read = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        read += 1;
        // Delete two identifiers from the page just read, and add one new.
        for item in page.data.iter().take(2) {
            client
                .allowlist_identifiers()
                .delete(&item.id)
                .await
                .unwrap();
            deleted += 1;
        }
        late.push(
            mock.insert(&format!("late{}@example.com", yielded.len()))
                .unwrap()
                .id,
        );
        yielded.extend(page.data.into_iter().map(|i| i.id));
    }
    let unique: HashSet<&String> = yielded.iter().collect();
    assert_eq!(unique.len(), yielded.len(), "an id was yielded twice");
    assert_eq!(deleted, 2 * read, "two from each page read");
    assert!(read >= 5, "{read} pages");
    // Every yielded id existed when its page was read: an original or a late one.
    for id in &yielded {
        assert!(
            ids.contains(id) || late.contains(id),
            "{id} came from nowhere"
        );
    }
    // Offset paging skips survivors that moved up across a page boundary: documented, and
    // visible here (60 originals + 7 late ones, 14 deleted, fewer yielded than survived).
    assert!(yielded.len() < ids.len() + late.len(), "{}", yielded.len());
    server.shutdown().await;
}

/// An error ends the stream after reporting it.
#[tokio::test]
async fn an_error_ends_the_stream() {
    let (mock, server, client) = setup().await;
    insert_many(&mock, "user", 12);
    mock.set_fault_plan(clerk_tower::mock::FaultPlan::new().on(
        MockOperation::List,
        2,
        clerk_tower::mock::Fault::status(422),
    ));
    let mut items = client
        .allowlist_identifiers()
        .list()
        .limit(10)
        .paginate()
        .items();
    let mut ok = 0;
    let mut errors = Vec::new();
    while let Some(item) = items.next().await {
        match item {
            Ok(_) => ok += 1,
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], Error::Api(a) if a.status().as_u16() == 422));
    server.shutdown().await;
}

/// Issue 19: `client.users().list().limit(2).paginate().items()` against the mock holding 3
/// users used to never end (the mock ignored `starting_after`, the stream asked again). It
/// ends, with each user once, in two cursor pages.
#[cfg(feature = "users")]
#[tokio::test]
async fn the_user_list_pages_by_cursor_to_its_end() {
    let (mock, server, client) = setup().await;
    let mut created = Vec::new();
    for i in 0..3 {
        let user = mock
            .insert_user(serde_json::json!({ "email_address": [format!("u{i}@example.com")] }))
            .unwrap();
        created.push(user["id"].as_str().unwrap().to_owned());
    }
    created.reverse(); // newest first
    let users = tokio::time::timeout(
        Duration::from_secs(30),
        client
            .users()
            .list()
            .limit(2)
            .paginate()
            .items()
            .collect_all(),
    )
    .await
    .expect("the stream ends")
    .unwrap();
    let ids: Vec<String> = users.into_iter().map(|u| u.id).collect();
    assert_eq!(ids, created);
    let queries: Vec<String> = mock.requests().iter().map(|r| r.path_and_query()).collect();
    assert_eq!(
        queries,
        [
            "/v1/users?limit=2".to_owned(),
            format!("/v1/users?limit=2&starting_after={}", created[1]),
        ]
    );
    server.shutdown().await;
}

/// A transport that answers every request with `body` (a server or proxy that ignores the
/// query), counting the requests.
fn repeating(
    body: &'static str,
) -> (
    clerk_tower::Client,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    let transport = tower::service_fn(move |_req: clerk_tower::HttpRequest| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { Ok::<_, std::convert::Infallible>(crate::common::response(200, body)) }
    });
    let client = clerk_tower::Client::builder()
        .secret_key(crate::common::KEY)
        .transport(transport)
        .build()
        .unwrap();
    (client, count)
}

const TWO_OF_MANY: &str = r#"{"data":[
 {"object":"allowlist_identifier","id":"alid_1","identifier":"a@example.com","identifier_type":"email_address","created_at":1,"updated_at":1},
 {"object":"allowlist_identifier","id":"alid_2","identifier":"b@example.com","identifier_type":"email_address","created_at":1,"updated_at":1}
],"total_count":1000}"#;

/// Issue 19: a server that repeats a page (a cache that drops the query string) ends offset
/// paging with a typed error after a few pages that bring nothing new, instead of asking
/// again forever.
#[tokio::test]
async fn a_repeated_page_ends_offset_paging_with_a_typed_error() {
    let (client, count) = repeating(TWO_OF_MANY);
    let mut items = client
        .allowlist_identifiers()
        .list()
        .limit(2)
        .paginate()
        .items();
    let mut ok = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match items.next().await {
                Some(Ok(item)) => ok.push(item.id),
                Some(Err(e)) => return Some(e),
                None => return None,
            }
        }
    })
    .await
    .expect("the stream ends");
    assert_eq!(ok, ["alid_1", "alid_2"], "each item once");
    let err = outcome.expect("an error ends it");
    assert!(
        matches!(&err, Error::Pagination(p) if p.pages() == clerk_tower::list::MAX_STALLED_PAGES),
        "{err:?}"
    );
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1 + clerk_tower::list::MAX_STALLED_PAGES as usize
    );
    assert!(items.next().await.is_none(), "ended");
}

/// Issue 19: the same for cursor paging (the user list), where the next request is the one
/// just sent; and `collect_all` returns the error instead of hanging.
#[cfg(feature = "users")]
#[tokio::test]
async fn a_cursor_that_does_not_move_ends_cursor_paging_with_a_typed_error() {
    // Two users as the mock makes them, served again and again.
    let source = MockClerk::new();
    for i in 0..2 {
        source
            .insert_user(serde_json::json!({ "email_address": [format!("u{i}@example.com")] }))
            .unwrap();
    }
    let page: &'static str = Box::leak(
        serde_json::to_string(&source.users())
            .unwrap()
            .into_boxed_str(),
    );
    let (client, count) = repeating(page);
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        client
            .users()
            .list()
            .limit(2)
            .paginate()
            .items()
            .collect_all(),
    )
    .await
    .expect("collect_all ends");
    let err = result.expect_err("the cursor never moves");
    assert!(
        matches!(&err, Error::Pagination(p) if p.kind() == clerk_tower::list::PaginationErrorKind::RequestRepeated),
        "{err:?}"
    );
    assert!(count.load(std::sync::atomic::Ordering::SeqCst) <= 4);
}

/// The mock refuses what the spec says the cursor cannot be combined with.
#[cfg(feature = "users")]
#[tokio::test]
async fn the_user_list_cursor_follows_the_spec_rules() {
    let (mock, server, client) = setup().await;
    let user = mock
        .insert_user(serde_json::json!({ "email_address": ["a@example.com"] }))
        .unwrap();
    let id = user["id"].as_str().unwrap();
    let status = |r: Result<clerk_tower::List<clerk_tower::models::User>, Error>| {
        r.err().and_then(|e| e.status()).map(|s| s.as_u16())
    };
    let users = client.users();
    assert_eq!(
        status(users.list().starting_after(id).order_by("username").await),
        Some(422)
    );
    assert_eq!(
        status(users.list().starting_after(id).offset(1).await),
        Some(422)
    );
    assert_eq!(
        status(users.list().starting_after("user_unknown").await),
        Some(422)
    );
    let after = users
        .list()
        .starting_after(id)
        .order_by("-created_at")
        .await
        .unwrap();
    assert!(after.data.is_empty());
    // Paging by offset when the ordering rules the cursor out.
    let by_offset = users
        .list()
        .order_by("username")
        .limit(1)
        .paginate()
        .items()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(by_offset.len(), 1);
    server.shutdown().await;
}
