//! The exact request each operation puts on the wire, and the decoding of what comes back.

use std::time::Duration;

use crate::common::*;
use clerk_tower::api::{
    CreateAllowlistIdentifier, DeleteAllowlistIdentifier, ListAllowlistIdentifiers,
};
use clerk_tower::models::IdentifierType;
use clerk_tower::{Error, Operation, OperationInfo, RequestOptions};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use tower::ServiceExt;

fn assert_common_headers(req: &clerk_tower::HttpRequest) {
    let auth = &req.headers()[AUTHORIZATION];
    assert_eq!(auth, &format!("Bearer {KEY}"));
    assert!(
        auth.is_sensitive(),
        "the bearer token must be marked sensitive"
    );
    assert_eq!(req.headers().get_all(AUTHORIZATION).iter().count(), 1);
    assert_eq!(
        req.headers()[USER_AGENT],
        format!("clerk-tower/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(req.headers()[ACCEPT], "application/json");
    assert_eq!(req.headers()["clerk-api-version"], "2026-05-12");
}

#[tokio::test]
async fn list_request_shape() {
    let (client, mut handle) = mock_client();
    let call = tokio::spawn(async move {
        client
            .allowlist_identifiers()
            .list()
            .paginated(true)
            .limit(25)
            .offset(50)
            .await
    });
    let (req, send) = handle.next_request().await.expect("a request");
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        req.uri(),
        "https://api.clerk.com/v1/allowlist_identifiers?paginated=true&limit=25&offset=50"
    );
    assert_common_headers(&req);
    assert!(
        req.headers().get(CONTENT_TYPE).is_none(),
        "no body, no content type"
    );
    assert!(body_of(&req).await.is_empty());
    assert_eq!(
        req.extensions().get::<OperationInfo>(),
        Some(&ListAllowlistIdentifiers::INFO)
    );
    let body =
        Box::leak(format!(r#"{{"data":[{IDENTIFIER_JSON}],"total_count":51}}"#).into_boxed_str());
    respond(send, 200, body);
    let page = call.await.unwrap().unwrap();
    assert_eq!(page.total_count, Some(51));
    assert_eq!(page.data[0].identifier_type, IdentifierType::EmailAddress);
}

#[tokio::test]
async fn list_without_parameters_sends_none_and_decodes_a_bare_array() {
    let (client, mut handle) = mock_client();
    let call = tokio::spawn(async move { client.allowlist_identifiers().list().await });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.uri(), "https://api.clerk.com/v1/allowlist_identifiers");
    let body = Box::leak(format!("[{IDENTIFIER_JSON},{IDENTIFIER_JSON}]").into_boxed_str());
    respond(send, 200, body);
    let page = call.await.unwrap().unwrap();
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.total_count, None, "a bare array carries no count");
}

#[tokio::test]
async fn create_request_shape() {
    let (client, mut handle) = mock_client();
    let call = tokio::spawn(async move {
        client
            .allowlist_identifiers()
            .create("ada@example.com")
            .notify(true)
            .await
    });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), "https://api.clerk.com/v1/allowlist_identifiers");
    assert_common_headers(&req);
    assert_eq!(req.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        body_of(&req).await,
        r#"{"identifier":"ada@example.com","notify":true}"#
    );
    assert_eq!(
        req.extensions().get::<OperationInfo>(),
        Some(&CreateAllowlistIdentifier::INFO)
    );
    assert!(
        req.headers().get(CONTENT_LENGTH).is_none(),
        "hyper sets the length from the body"
    );
    respond(send, 200, IDENTIFIER_JSON);
    let created = call.await.unwrap().unwrap();
    assert_eq!(created.id, "alid_2abcDEF");
    assert_eq!(created.created_at, 1_700_000_000_000);
}

#[tokio::test]
async fn create_without_notify_sends_only_the_identifier() {
    let (client, mut handle) = mock_client();
    let call =
        tokio::spawn(async move { client.allowlist_identifiers().create("+15555550100").await });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(body_of(&req).await, r#"{"identifier":"+15555550100"}"#);
    respond(send, 200, IDENTIFIER_JSON);
    call.await.unwrap().unwrap();
}

#[tokio::test]
async fn delete_request_shape() {
    let (client, mut handle) = mock_client();
    let call =
        tokio::spawn(async move { client.allowlist_identifiers().delete("alid_2abcDEF").await });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.method(), http::Method::DELETE);
    assert_eq!(
        req.uri(),
        "https://api.clerk.com/v1/allowlist_identifiers/alid_2abcDEF"
    );
    assert_common_headers(&req);
    assert!(req.headers().get(CONTENT_TYPE).is_none());
    assert!(body_of(&req).await.is_empty());
    assert_eq!(
        req.extensions().get::<OperationInfo>(),
        Some(&DeleteAllowlistIdentifier::INFO)
    );
    respond(
        send,
        200,
        r#"{"object":"allowlist_identifier","id":"alid_2abcDEF","deleted":true}"#,
    );
    let deleted = call.await.unwrap().unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.id.as_deref(), Some("alid_2abcDEF"));
}

#[tokio::test]
async fn services_and_convenience_calls_send_the_same_request() {
    let (client, mut handle) = mock_client();
    let svc_client = client.clone();
    let call = tokio::spawn(async move {
        svc_client
            .service::<DeleteAllowlistIdentifier>()
            .oneshot(DeleteAllowlistIdentifier::new("a/b"))
            .await
    });
    let (via_service, send) = handle.next_request().await.unwrap();
    respond(
        send,
        200,
        r#"{"object":"allowlist_identifier","id":"a/b","deleted":true}"#,
    );
    call.await.unwrap().unwrap();
    let call = tokio::spawn(async move { client.allowlist_identifiers().delete("a/b").await });
    let (via_handle, send) = handle.next_request().await.unwrap();
    respond(
        send,
        200,
        r#"{"object":"allowlist_identifier","id":"a/b","deleted":true}"#,
    );
    call.await.unwrap().unwrap();
    assert_eq!(via_service.uri(), via_handle.uri());
    assert_eq!(via_service.uri().path(), "/v1/allowlist_identifiers/a%2Fb");
    assert_eq!(via_service.headers(), via_handle.headers());
}

#[tokio::test]
async fn request_options_travel_in_the_extensions() {
    let (client, mut handle) = mock_client();
    let options = RequestOptions::new()
        .timeout(Duration::from_secs(7))
        .max_retries(1);
    let call = tokio::spawn(async move {
        client
            .allowlist_identifiers()
            .with_options(options)
            .list()
            .await
    });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.extensions().get::<RequestOptions>(), Some(&options));
    assert!(
        req.extensions().get::<clerk_tower::Deadline>().is_some(),
        "the total timeout sets the deadline"
    );
    respond(send, 200, "[]");
    assert!(call.await.unwrap().unwrap().data.is_empty());
}

#[tokio::test]
async fn invalid_requests_fail_before_any_io() {
    let (client, mut handle) = mock_client();
    let allowlist = client.allowlist_identifiers();
    for limit in [0, 501] {
        let err = allowlist.list().limit(limit).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(e) if e.field() == "limit"),
            "{err:?}"
        );
        assert_eq!(err.attempts(), 0);
    }
    let err = allowlist.create("").await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(e) if e.field() == "identifier"),
        "{err:?}"
    );
    for id in ["", ".", ".."] {
        let err = allowlist.delete(id).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(e) if e.field() == "identifier_id"),
            "{id:?}: {err:?}"
        );
    }
    // Nothing reached the transport: once the client is gone, the handle sees no request.
    drop(allowlist);
    drop(client);
    assert!(
        handle.next_request().await.is_none(),
        "a refused request was sent"
    );
}
