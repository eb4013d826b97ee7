//! End to end over real TCP on 127.0.0.1: the client against the embedded mock server.

use std::collections::HashSet;

use clerk_tower::mock::{MockClerk, MockOperation, MockServer};
use clerk_tower::models::IdentifierType;
use clerk_tower::Client;

/// The mock on 127.0.0.1 and a client for it.
pub(crate) async fn setup() -> (MockClerk, MockServer, Client) {
    let mock = MockClerk::new();
    let server = mock.serve().await.expect("bind 127.0.0.1");
    let client = Client::builder()
        .secret_key(MockClerk::DEFAULT_SECRET_KEY)
        .base_url(server.base_url())
        .build()
        .expect("valid config");
    (mock, server, client)
}

#[tokio::test]
async fn create_list_delete() {
    let (mock, server, client) = setup().await;
    let allowlist = client.allowlist_identifiers();

    let email = allowlist
        .create("ada@example.com")
        .notify(true)
        .await
        .unwrap();
    assert!(email.id.starts_with("alid_"), "{}", email.id);
    assert_eq!(email.identifier, "ada@example.com");
    assert_eq!(email.identifier_type, IdentifierType::EmailAddress);
    assert!(email
        .invitation_id
        .as_deref()
        .is_some_and(|i| i.starts_with("inv_")));
    assert!(
        email.created_at > 1_600_000_000_000,
        "Unix millis: {}",
        email.created_at
    );
    let phone = allowlist.create("+15555550100").await.unwrap();
    assert_eq!(phone.identifier_type, IdentifierType::PhoneNumber);
    assert_eq!(phone.invitation_id, None);

    let bare = allowlist.list().await.unwrap();
    assert_eq!(bare.total_count, None, "a bare array carries no count");
    assert_eq!(
        bare.data,
        vec![phone.clone(), email.clone()],
        "newest first"
    );
    let paged = allowlist.list().paginated(true).limit(1).await.unwrap();
    assert_eq!(paged.total_count, Some(2));
    assert_eq!(paged.data, vec![phone.clone()]);

    let deleted = allowlist.delete(&phone.id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.id.as_deref(), Some(phone.id.as_str()));
    assert_eq!(deleted.object, "allowlist_identifier");
    assert_eq!(mock.identifiers(), vec![email]);

    // What went over the wire, as the server saw it.
    let requests = mock.requests();
    assert_eq!(requests.len(), 5);
    let first = &requests[0];
    assert_eq!(first.operation, Some(MockOperation::Create));
    assert_eq!(
        first.headers["authorization"],
        format!("Bearer {}", MockClerk::DEFAULT_SECRET_KEY)
    );
    assert_eq!(first.headers["clerk-api-version"], "2026-05-12");
    assert_eq!(first.headers["content-type"], "application/json");
    assert!(first.headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("clerk-tower/"));
    server.shutdown().await;
}

#[tokio::test]
async fn paging_through_25_identifiers() {
    let (mock, server, client) = setup().await;
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(mock.insert(&format!("user{i:02}@example.com")).unwrap().id);
    }
    let allowlist = client.allowlist_identifiers();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = allowlist
            .list()
            .paginated(true)
            .limit(10)
            .offset(offset)
            .await
            .unwrap();
        assert_eq!(page.total_count, Some(25));
        if page.data.is_empty() {
            break;
        }
        assert!(page.data.len() <= 10);
        offset += page.data.len() as u64;
        seen.extend(page.data.into_iter().map(|i| i.id));
    }
    assert_eq!(seen.len(), 25, "three pages: 10 + 10 + 5");
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 25, "no identifier twice across pages");
    created.reverse();
    assert_eq!(seen, created, "newest first, stable across pages");

    // Without `paginated`, Clerk answers a bare array of everything.
    let all = allowlist.list().await.unwrap();
    assert_eq!(all.data.len(), 25);
    assert_eq!(all.total_count, None, "a bare array carries no count");
    // The largest page the API allows.
    let max = allowlist.list().paginated(true).limit(500).await.unwrap();
    assert_eq!(max.data.len(), 25);
    let past_end = allowlist.list().paginated(true).offset(1000).await.unwrap();
    assert!(past_end.data.is_empty());
    assert_eq!(past_end.total_count, Some(25));
    server.shutdown().await;
}

#[tokio::test]
async fn delete_of_an_unknown_id_is_a_typed_404() {
    let (_mock, server, client) = setup().await;
    let err = client
        .allowlist_identifiers()
        .delete("alid_doesnotexist")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let api = err.as_api().unwrap();
    assert_eq!(api.code(), Some("resource_not_found"));
    assert!(
        err.clerk_trace_id().is_some_and(|t| t.len() == 32),
        "{err:?}"
    );
    assert_eq!(err.attempts(), 1, "a 404 is not retried");
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_token_is_a_typed_401() {
    let (mock, server, _client) = setup().await;
    let client = Client::builder()
        .secret_key("sk_test_wrong")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let err = client.allowlist_identifiers().list().await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert!(!err.as_api().unwrap().errors().is_empty());
    assert!(err.clerk_trace_id().is_some());
    assert!(!format!("{err:?}{err}").contains("sk_test_wrong"));
    assert_eq!(mock.requests().len(), 1, "a 401 is not retried");
    server.shutdown().await;
}

#[tokio::test]
async fn clerk_validation_errors_come_back_typed() {
    let (mock, server, client) = setup().await;
    let allowlist = client.allowlist_identifiers();
    allowlist.create("ada@example.com").await.unwrap();
    let dup = allowlist.create("ada@example.com").await.unwrap_err();
    assert_eq!(dup.status(), Some(http::StatusCode::BAD_REQUEST));
    assert_eq!(
        dup.as_api().and_then(|a| a.code()),
        Some("duplicate_record")
    );
    let invalid = allowlist.create("not an identifier").await.unwrap_err();
    assert_eq!(
        invalid.status(),
        Some(http::StatusCode::UNPROCESSABLE_ENTITY)
    );
    for hostile in [
        "x".repeat(10 * 1024) + "@example.com",
        "é".repeat(5000),
        "\u{0}\"}{".to_owned(),
    ] {
        let err = allowlist.create(hostile).await.unwrap_err();
        assert_eq!(
            err.status(),
            Some(http::StatusCode::UNPROCESSABLE_ENTITY),
            "{err:?}"
        );
    }
    assert_eq!(mock.identifiers().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn adversarial_ids_reach_the_delete_route_only() {
    let (mock, server, client) = setup().await;
    let keep = mock.insert("keep@example.com").unwrap();
    let allowlist = client.allowlist_identifiers();
    let ten_kb = "x".repeat(10 * 1024);
    for id in [
        "../allowlist_identifiers",
        "a/b",
        "?paginated=true",
        "#",
        "%2F..%2F",
        " ",
        "ünï cødé",
        "..%2F..",
        ten_kb.as_str(),
    ] {
        let err = allowlist.delete(id).await.unwrap_err();
        assert!(err.is_not_found(), "{id:?}: {err:?}");
    }
    // Every request hit the delete operation with the id intact, and nothing was deleted.
    let requests = mock.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.operation == Some(MockOperation::Delete)),
        "{requests:?}"
    );
    assert_eq!(mock.identifiers(), vec![keep]);
    server.shutdown().await;
}
