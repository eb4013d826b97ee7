//! The block-list and instance-restrictions operations against the embedded mock's stateful
//! block-list and restrictions.

use std::time::Duration;

use clerk_tower::mock::{MockClerk, MockOperation};
use clerk_tower::models::IdentifierType;

use crate::e2e::{service_builder, tcp_builder};

#[tokio::test]
async fn blocklist_create_list_delete_over_tcp() {
    let mock = MockClerk::new();
    mock.insert_blocked("spam@example.com").unwrap();
    let server = mock.serve().await.unwrap();
    let client = tcp_builder(&server).build().unwrap();
    let blocklist = client.blocklist_identifiers();

    let phone = blocklist.create("+15555550100").await.unwrap();
    assert!(phone.id.starts_with("blid_"));
    assert_eq!(phone.identifier_type, IdentifierType::PhoneNumber);
    let all = blocklist.list().await.unwrap();
    assert_eq!(all.total_count, Some(2));
    assert_eq!(all.data[0].id, phone.id, "newest first");

    let dup = blocklist.create("SPAM@example.com").await.unwrap_err();
    assert_eq!(dup.status(), Some(http::StatusCode::BAD_REQUEST));
    assert_eq!(
        dup.as_api().and_then(|a| a.code()),
        Some("duplicate_record")
    );
    let bad = blocklist.create("not an identifier").await.unwrap_err();
    assert_eq!(bad.status(), Some(http::StatusCode::UNPROCESSABLE_ENTITY));

    let deleted = blocklist.delete(&phone.id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.object, "blocklist_identifier");
    assert!(blocklist
        .delete(&phone.id)
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(mock.blocklist().len(), 1);
    // The allow-list is a separate store.
    assert!(mock.identifiers().is_empty());
    assert_eq!(
        mock.request_count(MockOperation::CreateBlocklistIdentifier),
        3
    );
    assert_eq!(mock.request_count(MockOperation::Create), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn restrictions_change_only_what_is_sent() {
    let mock = MockClerk::new();
    let client = service_builder(&mock).build().unwrap();
    let settings = client.instance_settings();
    assert!(!mock.restrictions().allowlist);
    let r = settings
        .update_restrictions()
        .allowlist(true)
        .await
        .unwrap();
    assert!(r.allowlist && !r.blocklist);
    let r = settings
        .update_restrictions()
        .blocklist(true)
        .block_email_subaddresses(true)
        .await
        .unwrap();
    assert!(r.allowlist, "unchanged: not sent");
    assert!(r.blocklist && r.block_email_subaddresses);
    assert_eq!(mock.restrictions(), r);
    let r = settings
        .update_restrictions()
        .allowlist(false)
        .await
        .unwrap();
    assert!(!r.allowlist && r.blocklist);
    assert_eq!(
        mock.request_count(MockOperation::UpdateInstanceRestrictions),
        3
    );
}

#[tokio::test]
async fn the_mock_refuses_bodies_outside_the_spec() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let http = client_http(&server);
    let send = |method: &str, path: &str, body: &str| {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.to_owned().into())
            .unwrap();
        let svc = http.clone();
        async move {
            use tower::ServiceExt;
            svc.oneshot(req).await
        }
    };
    let err = send(
        "POST",
        "/blocklist_identifiers",
        r#"{"identifier":"a@b.com","notify":true}"#,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.as_api().and_then(|a| a.code()),
        Some("form_param_unknown")
    );
    let err = send("PATCH", "/instance/restrictions", r#"{"allowlist":"yes"}"#)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_api().and_then(|a| a.code()),
        Some("form_param_type_invalid")
    );
    let err = send("PATCH", "/instance/restrictions", r#"{"sign_up_mode":"x"}"#)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_api().and_then(|a| a.code()),
        Some("form_param_unknown")
    );
    send("PATCH", "/instance/restrictions", r#"{"allowlist":null}"#)
        .await
        .unwrap();
    let err = send("PUT", "/blocklist_identifiers", "{}")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::METHOD_NOT_ALLOWED));
    server.shutdown().await;
}

fn client_http(server: &clerk_tower::mock::MockServer) -> clerk_tower::HttpService {
    tcp_builder(server)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .http_service()
}
