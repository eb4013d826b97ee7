use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::engine::{classify, ListParams};
use super::*;
use crate::models::{AllowlistIdentifierList, ClerkErrors, DeletedObject, IdentifierType};
use crate::{BoxError, HttpRequest};

const KEY: &str = MockClerk::DEFAULT_SECRET_KEY;
const LIST: &str = "/v1/allowlist_identifiers";

fn request(method: Method, path: &str, body: Option<&str>) -> HttpRequest {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("http://mock{path}"))
        .header("authorization", format!("Bearer {KEY}"));
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    builder
        .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
        .unwrap()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Checks the ClerkErrors shape and returns the first error's code and meta.param_name.
    fn clerk_error(&self) -> (String, Option<String>) {
        assert_eq!(self.headers["content-type"], "application/json");
        let errors: ClerkErrors = serde_json::from_slice(&self.body).unwrap();
        let trace = errors.clerk_trace_id.as_deref().unwrap();
        assert_eq!(trace.len(), 32);
        assert!(trace.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            self.headers["clerk-trace-id"], trace,
            "header and body carry the same trace id"
        );
        let first = &errors.errors[0];
        assert!(!first.message.is_empty());
        assert!(first.long_message.as_deref().is_some_and(|m| !m.is_empty()));
        let param = first
            .meta
            .as_ref()
            .and_then(|m| m["param_name"].as_str())
            .map(str::to_owned);
        (first.code.clone(), param)
    }
}

async fn try_send(mock: &MockClerk, req: HttpRequest) -> Result<Reply, BoxError> {
    let response = mock.service().oneshot(req).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    if let Some(len) = parts.headers.get("content-length") {
        assert_eq!(len.to_str().unwrap(), body.len().to_string());
    }
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

async fn send(mock: &MockClerk, req: HttpRequest) -> Reply {
    try_send(mock, req).await.unwrap()
}

async fn create(mock: &MockClerk, body: &str) -> Reply {
    send(mock, request(Method::POST, LIST, Some(body))).await
}

fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 27 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

// ---------------------------------------------------------------- routes and auth

#[tokio::test]
async fn auth_is_checked_before_routing() {
    let mock = MockClerk::new();
    let mut no_auth = request(Method::GET, LIST, None);
    no_auth.headers_mut().remove("authorization");
    let reply = send(&mock, no_auth).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.clerk_error().0, "authorization_header_format_invalid");

    for bad in ["Basic abc", "Bearer", "Bearer ", "sk_test_clerk_tower_mock"] {
        let mut req = request(Method::GET, LIST, None);
        req.headers_mut()
            .insert("authorization", bad.parse().unwrap());
        let reply = send(&mock, req).await;
        assert_eq!(reply.status, 401, "{bad}");
        assert_eq!(reply.clerk_error().0, "authorization_header_format_invalid");
    }

    let mut wrong = request(Method::GET, "/v1/nowhere", None);
    wrong
        .headers_mut()
        .insert("authorization", "Bearer sk_test_other".parse().unwrap());
    let reply = send(&mock, wrong).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.clerk_error().0, "clerk_key_invalid");

    // Scheme is case-insensitive.
    let mut lower = request(Method::GET, LIST, None);
    lower
        .headers_mut()
        .insert("authorization", format!("bearer {KEY}").parse().unwrap());
    assert_eq!(send(&mock, lower).await.status, 200);
}

#[tokio::test]
async fn custom_and_any_test_keys() {
    let mock = MockClerk::with_secret_key("sk_live_custom");
    let mut req = request(Method::GET, LIST, None);
    req.headers_mut()
        .insert("authorization", "Bearer sk_live_custom".parse().unwrap());
    assert_eq!(send(&mock, req).await.status, 200);
    assert_eq!(
        send(&mock, request(Method::GET, LIST, None)).await.status,
        401
    );

    let any = MockClerk::new().accept_any_test_key();
    for (key, ok) in [
        ("sk_test_abc", true),
        (KEY, true),
        ("sk_test_", false),
        ("sk_live_abc", false),
    ] {
        let mut req = request(Method::GET, LIST, None);
        req.headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        assert_eq!(send(&any, req).await.status == 200, ok, "{key}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let mock = MockClerk::new();
    for path in [
        "/allowlist_identifiers",
        "/v2/allowlist_identifiers",
        "/v1/allowlist_identifiers/",
        "/v1/no_such_resource",
        "/",
        "/v1/allowlist_identifiers/a/b",
    ] {
        let reply = send(&mock, request(Method::GET, path, None)).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.clerk_error().0, "resource_not_found");
    }
    let reply = send(&mock, request(Method::PUT, LIST, None)).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "GET, POST");
    assert_eq!(reply.clerk_error().0, "method_not_allowed");
    let reply = send(
        &mock,
        request(Method::GET, "/v1/allowlist_identifiers/alid_x", None),
    )
    .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "DELETE");
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.operation.is_none() && r.attempt == 0));
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn create_classifies_and_shapes_identifiers() {
    let mock = MockClerk::new();
    let wallet = format!("0x{}", "aB".repeat(20));
    for (identifier, kind) in [
        ("ada@example.com", "email_address"),
        ("+15555550100", "phone_number"),
        (wallet.as_str(), "web3_wallet"),
    ] {
        let reply = create(&mock, &json!({ "identifier": identifier }).to_string()).await;
        assert_eq!(reply.status, 200, "{identifier}");
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(reply.headers["clerk-trace-id"].len(), 32);
        let v = reply.json();
        assert_eq!(v["object"], "allowlist_identifier");
        assert_eq!(v["identifier"], identifier);
        assert_eq!(v["identifier_type"], kind);
        assert!(is_id(v["id"].as_str().unwrap(), "alid_"));
        assert_eq!(v["instance_id"], mock.instance_id());
        assert!(is_id(&mock.instance_id(), "ins_"));
        let created = v["created_at"].as_i64().unwrap();
        assert!(created > 1_600_000_000_000, "milliseconds: {created}");
        assert_eq!(v["updated_at"], v["created_at"]);
        assert!(v.get("invitation_id").is_none());
        // Exactly the spec's properties, nothing else.
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for key in &keys {
            assert!([
                "object",
                "id",
                "invitation_id",
                "identifier",
                "identifier_type",
                "instance_id",
                "created_at",
                "updated_at"
            ]
            .contains(key));
        }
    }
    assert_eq!(mock.identifiers().len(), 3);
}

#[tokio::test]
async fn create_notify_sets_an_invitation_for_email_and_phone_only() {
    let mock = MockClerk::new();
    let v = create(&mock, r#"{"identifier":"bob@example.com","notify":true}"#)
        .await
        .json();
    assert!(is_id(v["invitation_id"].as_str().unwrap(), "inv_"));
    let v = create(&mock, r#"{"notify":true,"identifier":"+4915112345678"}"#)
        .await
        .json();
    assert!(is_id(v["invitation_id"].as_str().unwrap(), "inv_"));
    let wallet = format!("0x{}", "1".repeat(40));
    let v = create(
        &mock,
        &json!({"identifier": wallet, "notify": true}).to_string(),
    )
    .await
    .json();
    assert!(v.get("invitation_id").is_none());
    let v = create(
        &mock,
        r#"{"identifier":"carol@example.com","notify":false}"#,
    )
    .await
    .json();
    assert!(v.get("invitation_id").is_none());
}

#[tokio::test]
async fn create_content_types() {
    let mock = MockClerk::new();
    let mut req = request(
        Method::POST,
        LIST,
        Some(r#"{"identifier":"a@example.com"}"#),
    );
    req.headers_mut().insert(
        "content-type",
        "Application/JSON; charset=utf-8".parse().unwrap(),
    );
    assert_eq!(send(&mock, req).await.status, 200);

    let mut req = request(
        Method::POST,
        LIST,
        Some(r#"{"identifier":"b@example.com"}"#),
    );
    req.headers_mut().remove("content-type");
    assert_eq!(send(&mock, req).await.status, 200);

    let mut req = request(Method::POST, LIST, Some("identifier=c@example.com"));
    req.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let reply = send(&mock, req).await;
    assert_eq!(reply.status, 415);
    assert_eq!(reply.clerk_error().0, "unsupported_content_type");
    assert_eq!(mock.identifiers().len(), 2);
}

#[tokio::test]
async fn create_validation_errors() {
    let mock = MockClerk::new();
    let long = format!("{}@example.com", "a".repeat(320));
    let cases: Vec<(String, u16, &str, Option<&str>)> = vec![
        ("{}".into(), 422, "form_param_missing", Some("identifier")),
        ("".into(), 422, "form_param_missing", Some("identifier")),
        (
            r#"{"identifier":""}"#.into(),
            422,
            "form_param_missing",
            Some("identifier"),
        ),
        (
            r#"{"identifier":"   "}"#.into(),
            422,
            "form_param_missing",
            Some("identifier"),
        ),
        (
            r#"{"identifier":null}"#.into(),
            422,
            "form_param_missing",
            Some("identifier"),
        ),
        (
            r#"{"identifier":"a@b.com","extra":1}"#.into(),
            422,
            "form_param_unknown",
            Some("extra"),
        ),
        (
            r#"{"identifier":42}"#.into(),
            422,
            "form_param_type_invalid",
            Some("identifier"),
        ),
        (
            r#"{"identifier":"a@b.com","notify":"yes"}"#.into(),
            422,
            "form_param_type_invalid",
            Some("notify"),
        ),
        (
            r#"{"identifier":"not an identifier"}"#.into(),
            422,
            "form_param_format_invalid",
            Some("identifier"),
        ),
        (
            r#"{"identifier":"a@localhost"}"#.into(),
            422,
            "form_param_format_invalid",
            Some("identifier"),
        ),
        (
            r#"{"identifier":"+123"}"#.into(),
            422,
            "form_param_format_invalid",
            Some("identifier"),
        ),
        (
            r#"{"identifier":"0x123"}"#.into(),
            422,
            "form_param_format_invalid",
            Some("identifier"),
        ),
        (
            json!({ "identifier": long }).to_string(),
            422,
            "form_param_max_length_exceeded",
            Some("identifier"),
        ),
        (
            r#"{"identifier":"a@b.com""#.into(),
            400,
            "request_body_invalid",
            None,
        ),
        ("[1,2]".into(), 400, "request_body_invalid", None),
        ("\"a@b.com\"".into(), 400, "request_body_invalid", None),
        (
            "\u{0}\u{1}garbage".into(),
            400,
            "request_body_invalid",
            None,
        ),
    ];
    for (body, status, code, param) in cases {
        let reply = create(&mock, &body).await;
        assert_eq!(reply.status, status, "{body}");
        let (got_code, got_param) = reply.clerk_error();
        assert_eq!(got_code, code, "{body}");
        assert_eq!(got_param.as_deref(), param, "{body}");
    }
    assert!(mock.identifiers().is_empty());
    assert!(mock.requests().iter().all(|r| !r.applied));
}

#[tokio::test]
async fn bodies_over_one_mib_are_413() {
    let mock = MockClerk::new();
    let big = format!(
        r#"{{"identifier":"a@b.com","pad":"{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let reply = create(&mock, &big).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.clerk_error().0, "request_body_too_large");
}

#[tokio::test]
async fn duplicates_are_400_duplicate_record() {
    let mock = MockClerk::new();
    assert_eq!(
        create(&mock, r#"{"identifier":"Ada@Example.com"}"#)
            .await
            .status,
        200
    );
    for dup in ["ada@example.com", " ADA@EXAMPLE.COM "] {
        let reply = create(&mock, &json!({ "identifier": dup }).to_string()).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.clerk_error().0, "duplicate_record");
    }
    let lower = format!("0x{}", "ab".repeat(20));
    mock.insert(&lower).unwrap();
    assert_eq!(
        mock.insert(&lower.to_uppercase().replacen("0X", "0x", 1))
            .unwrap_err()
            .error
            .code,
        "duplicate_record"
    );
    mock.insert("+15555550100").unwrap();
    let err = mock.insert("+15555550100").unwrap_err();
    assert_eq!(err.status, 400);
    assert!(err.to_string().contains("duplicate_record"));
    assert_eq!(mock.identifiers().len(), 3);
}

#[test]
fn classification() {
    assert_eq!(
        classify("a.b+c@sub.example.co.uk"),
        Some(IdentifierType::EmailAddress)
    );
    assert_eq!(
        classify("üser@exämple.de"),
        Some(IdentifierType::EmailAddress)
    );
    assert_eq!(classify("+1234567"), Some(IdentifierType::PhoneNumber));
    assert_eq!(
        classify("+123456789012345"),
        Some(IdentifierType::PhoneNumber)
    );
    assert_eq!(
        classify(&format!("0x{}", "F".repeat(40))),
        Some(IdentifierType::Web3Wallet)
    );
    for bad in [
        "",
        "@",
        "a@",
        "@b.com",
        "a@b",
        "a@@b.com",
        "a@b..com",
        "a@.b.com",
        "a b@c.com",
        "+123456",
        "+1234567890123456",
        "+12 34567",
        "0x",
        "0xZZ",
        "plain",
        "a@b.com.",
    ] {
        assert_eq!(classify(bad), None, "{bad}");
    }
}

// ---------------------------------------------------------------- list

async fn preload(mock: &MockClerk, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(mock.insert(&format!("user{i}@example.com")).unwrap().id);
    }
    ids.reverse(); // newest first
    ids
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_without_paginated_is_a_bare_array_of_everything() {
    let mock = MockClerk::new();
    let ids = preload(&mock, 15).await;
    for path in [
        LIST.to_owned(),
        format!("{LIST}?paginated=false"),
        format!("{LIST}?limit=2&offset=3"),
        format!("{LIST}?paginated=0&unknown=1"),
    ] {
        let reply = send(&mock, request(Method::GET, &path, None)).await;
        assert_eq!(reply.status, 200);
        assert_eq!(ids_of(&reply.json()), ids, "{path}");
        let decoded: AllowlistIdentifierList = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(decoded.data.len(), 15, "{path}");
        assert_eq!(
            decoded.total_count, None,
            "a bare array has no count: {path}"
        );
    }
    assert_eq!(
        mock.identifiers()
            .iter()
            .map(|i| i.id.clone())
            .collect::<Vec<_>>(),
        ids
    );
}

#[tokio::test]
async fn list_paginated_applies_limit_and_offset_newest_first() {
    let mock = MockClerk::new();
    let ids = preload(&mock, 25).await;
    let page = |q: &str| {
        let mock = mock.clone();
        let q = q.to_owned();
        async move {
            let reply = send(&mock, request(Method::GET, &format!("{LIST}?{q}"), None)).await;
            assert_eq!(reply.status, 200, "{q}");
            let v = reply.json();
            assert_eq!(v["total_count"], 25, "{q}");
            let decoded: AllowlistIdentifierList = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(decoded.total_count, Some(25));
            ids_of(&v["data"])
        }
    };
    assert_eq!(page("paginated=true").await, ids[..10].to_vec());
    assert_eq!(
        page("limit=5&paginated=true&offset=20").await,
        ids[20..].to_vec()
    );
    assert_eq!(
        page("offset=22&limit=10&paginated=true").await,
        ids[22..].to_vec()
    );
    assert_eq!(page("paginated=true&offset=25").await, Vec::<String>::new());
    assert_eq!(
        page("paginated=true&offset=1000").await,
        Vec::<String>::new()
    );
    assert_eq!(page("paginated=true&limit=500").await, ids);
    assert_eq!(page("paginated=true&limit=").await, ids[..10].to_vec());
    assert_eq!(page("paginated=%74rue&limit=%33").await, ids[..3].to_vec());
    // Paging through gives every id once, in order.
    let mut all = Vec::new();
    for offset in (0..25).step_by(7) {
        all.extend(page(&format!("paginated=true&limit=7&offset={offset}")).await);
    }
    assert_eq!(all, ids);
}

#[tokio::test]
async fn list_rejects_invalid_query_values() {
    let mock = MockClerk::new();
    for (q, code, param) in [
        ("limit=0", "form_param_value_invalid", "limit"),
        ("limit=501", "form_param_value_invalid", "limit"),
        ("limit=-1", "form_param_value_invalid", "limit"),
        ("limit=abc", "form_param_type_invalid", "limit"),
        ("limit=1.5", "form_param_type_invalid", "limit"),
        (
            "limit=99999999999999999999999",
            "form_param_type_invalid",
            "limit",
        ),
        ("offset=-1", "form_param_value_invalid", "offset"),
        ("offset=x", "form_param_type_invalid", "offset"),
        ("paginated=maybe", "form_param_type_invalid", "paginated"),
        (
            "paginated=true&limit=5&limit=6",
            "form_param_duplicate",
            "limit",
        ),
    ] {
        let reply = send(&mock, request(Method::GET, &format!("{LIST}?{q}"), None)).await;
        assert_eq!(reply.status, 422, "{q}");
        let (got, got_param) = reply.clerk_error();
        assert_eq!(got, code, "{q}");
        assert_eq!(got_param.as_deref(), Some(param), "{q}");
    }
    assert_eq!(
        ListParams::parse(Some("&&paginated=T&")).unwrap(),
        ListParams {
            paginated: true,
            limit: 10,
            offset: 0
        }
    );
}

// ---------------------------------------------------------------- delete

#[tokio::test]
async fn delete_removes_and_404s_unknown_ids() {
    let mock = MockClerk::new();
    let a = mock.insert("a@example.com").unwrap();
    let b = mock.insert("b@example.com").unwrap();
    let reply = send(
        &mock,
        request(Method::DELETE, &format!("{LIST}/{}", a.id), None),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"object": "allowlist_identifier", "id": a.id, "deleted": true})
    );
    let decoded: DeletedObject = serde_json::from_slice(&reply.body).unwrap();
    assert!(decoded.deleted);
    assert_eq!(mock.identifiers(), vec![b.clone()]);

    let reply = send(
        &mock,
        request(Method::DELETE, &format!("{LIST}/{}", a.id), None),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.clerk_error().0, "resource_not_found");
    let errors: ClerkErrors = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(errors.errors[0].message, "Identifier not found");

    // The id is percent-decoded: `%5F` is `_`.
    let encoded = b.id.replacen('_', "%5F", 1);
    assert_eq!(
        send(
            &mock,
            request(Method::DELETE, &format!("{LIST}/{encoded}"), None)
        )
        .await
        .status,
        200
    );
    assert!(mock.identifiers().is_empty());
    for odd in ["%2F..%2Fusers", "%FF", "%", "alid_%00"] {
        assert_eq!(
            send(
                &mock,
                request(Method::DELETE, &format!("{LIST}/{odd}"), None)
            )
            .await
            .status,
            404,
            "{odd}"
        );
    }
}

// ---------------------------------------------------------------- recording

#[tokio::test]
async fn requests_are_recorded() {
    let mock = MockClerk::new().with_request_bodies(true);
    create(&mock, r#"{"identifier":"a@example.com"}"#).await;
    create(&mock, r#"{"identifier":"a@example.com"}"#).await;
    send(
        &mock,
        request(Method::GET, &format!("{LIST}?paginated=true"), None),
    )
    .await;
    let log = mock.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].operation, Some(MockOperation::Create));
    assert_eq!(
        (log[0].attempt, log[0].status, log[0].applied),
        (1, Some(StatusCode::OK), true)
    );
    assert_eq!(
        (log[1].attempt, log[1].status, log[1].applied),
        (2, Some(StatusCode::BAD_REQUEST), false)
    );
    assert_eq!(log[1].body_json().unwrap()["identifier"], "a@example.com");
    assert_eq!(log[2].path, LIST);
    assert_eq!(log[2].query.as_deref(), Some("paginated=true"));
    assert_eq!(log[2].path_and_query(), format!("{LIST}?paginated=true"));
    assert_eq!(log[2].method, Method::GET);
    assert!(log.iter().all(|r| r.fault.is_none()));
    assert!(
        !format!("{:?}", log[0]).contains(KEY),
        "Debug must hide the key"
    );
    assert_eq!(mock.request_count(MockOperation::Create), 2);
    assert_eq!(mock.request_count(MockOperation::List), 1);
    assert_eq!(mock.request_count(MockOperation::Delete), 0);
    mock.clear_requests();
    assert!(mock.requests().is_empty());
    let mock = mock.with_request_log_limit(2);
    for _ in 0..3 {
        send(&mock, request(Method::GET, &format!("{LIST}?n"), None)).await;
    }
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(mock.requests()[1].attempt, 4, "the oldest were dropped");
    assert_eq!(mock.request_count(MockOperation::List), 4);
    assert_eq!(mock.request_count(MockOperation::Create), 2);
    mock.reset();
    assert_eq!(mock.request_count(MockOperation::Create), 0);
    assert!(mock.identifiers().is_empty());
}

#[tokio::test]
async fn the_hook_sees_every_request() {
    let mock = MockClerk::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    mock.on_request(move |r, _elapsed| sink.lock().unwrap().push((r.path.clone(), r.status)));
    create(&mock, r#"{"identifier":"a@example.com"}"#).await;
    mock.set_fault_plan(
        FaultPlan::new().always(MockOperation::List, Fault::close_before_response()),
    );
    assert!(try_send(&mock, request(Method::GET, LIST, None))
        .await
        .is_err());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (LIST.to_owned(), Some(StatusCode::OK)),
            (LIST.to_owned(), None)
        ]
    );
}

#[tokio::test]
async fn seeded_mocks_make_the_same_ids() {
    let a = MockClerk::new().with_seed(7);
    let b = MockClerk::new().with_seed(7);
    assert_eq!(a.instance_id(), b.instance_id());
    assert_eq!(
        a.insert("x@example.com").unwrap().id,
        b.insert("x@example.com").unwrap().id
    );
    assert_ne!(
        MockClerk::new().instance_id(),
        MockClerk::new().instance_id()
    );
}

#[tokio::test]
async fn odd_input_never_panics() {
    let mock = MockClerk::new().with_seed(1);
    let paths = [
        "/v1/allowlist_identifiers?%",
        "/v1/allowlist_identifiers?limit=%ZZ",
        "/v1/allowlist_identifiers?=&=&limit",
        "/v1/allowlist_identifiers?paginated=true&offset=18446744073709551615",
        "/v1/%",
        "/v1/allowlist_identifiers/%C3%28",
        "/v1//allowlist_identifiers",
    ];
    for path in paths {
        for method in [
            Method::GET,
            Method::POST,
            Method::DELETE,
            Method::PATCH,
            Method::HEAD,
        ] {
            let reply = send(
                &mock,
                request(
                    method.clone(),
                    path,
                    Some("{\"identifier\":\"\u{feff}a@b.c\"}"),
                ),
            )
            .await;
            assert!(
                reply.status.is_client_error() || reply.status.is_success(),
                "{method} {path}: {}",
                reply.status
            );
        }
    }
    let mut rng = engine::SplitMix64::new(99);
    for _ in 0..300 {
        let len = (rng.next_u64() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let req = http::Request::post(format!("http://mock{LIST}"))
            .header("authorization", format!("Bearer {KEY}"))
            .body(Full::new(Bytes::from(bytes)))
            .unwrap();
        let reply = send(&mock, req).await;
        assert!(reply.status.is_client_error() || reply.status.is_success());
    }
    let mut bad_header = request(Method::GET, LIST, None);
    bad_header.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
    );
    assert_eq!(send(&mock, bad_header).await.status, 401);
}

// ---------------------------------------------------------------- faults in service mode

#[tokio::test]
async fn status_faults_send_clerk_errors_with_retry_after() {
    let mock = MockClerk::new();
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::Create, 1, Fault::rate_limited("2"))
            .on(MockOperation::Create, 2, Fault::status(503).applied())
            .on(MockOperation::Create, 3, Fault::status(500))
            .on(
                MockOperation::Create,
                4,
                Fault::status_with_retry_after(503, "Wed, 21 Oct 2015 07:28:00 GMT"),
            ),
    );
    let reply = create(&mock, r#"{"identifier":"a@example.com"}"#).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.headers["retry-after"], "2");
    assert_eq!(reply.clerk_error().0, "too_many_requests");
    assert!(mock.identifiers().is_empty());

    let reply = create(&mock, r#"{"identifier":"a@example.com"}"#).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.clerk_error().0, "maintenance_mode");
    assert!(reply.headers.get("retry-after").is_none());
    assert_eq!(mock.identifiers().len(), 1, "applied before the 503");

    let reply = create(&mock, r#"{"identifier":"b@example.com"}"#).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.clerk_error().0, "internal_clerk_error");
    let reply = create(&mock, r#"{"identifier":"b@example.com"}"#).await;
    assert_eq!(
        reply.headers["retry-after"],
        "Wed, 21 Oct 2015 07:28:00 GMT"
    );

    // The fifth has no fault: the duplicate of the applied create.
    let reply = create(&mock, r#"{"identifier":"a@example.com"}"#).await;
    assert_eq!(reply.status, 400);
    let log = mock.requests();
    let summary: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r.attempt,
                r.status.map(|s| s.as_u16()),
                r.applied,
                r.fault.is_some(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, Some(429), false, true),
            (2, Some(503), true, true),
            (3, Some(500), false, true),
            (4, Some(503), false, true),
            (5, Some(400), false, false)
        ]
    );
}

#[tokio::test]
async fn html_error_pages() {
    let mock = MockClerk::new();
    mock.set_fault_plan(FaultPlan::new().always(MockOperation::List, Fault::html_error_page(502)));
    let reply = send(&mock, request(Method::GET, LIST, None)).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.headers["content-type"], "text/html");
    assert!(std::str::from_utf8(&reply.body)
        .unwrap()
        .contains("502 Bad Gateway"));
}

#[tokio::test(start_paused = true)]
async fn delays_use_tokio_time() {
    let mock = MockClerk::new();
    mock.set_fault_plan(
        FaultPlan::new()
            .on(
                MockOperation::Create,
                1,
                Fault::delay_headers(Duration::from_secs(30)),
            )
            .on(
                MockOperation::Create,
                2,
                Fault::delay_body(Duration::from_secs(5)).not_applied(),
            ),
    );
    let start = tokio::time::Instant::now();
    let reply = create(&mock, r#"{"identifier":"a@example.com"}"#).await;
    assert_eq!(reply.status, 200);
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert_eq!(mock.identifiers().len(), 1, "delays apply by default");

    let start = tokio::time::Instant::now();
    let reply = create(&mock, r#"{"identifier":"b@example.com"}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["identifier"], "b@example.com");
    assert!(start.elapsed() >= Duration::from_secs(5));
    assert_eq!(mock.identifiers().len(), 1, "not applied: a dry run");
    assert!(!mock.requests()[1].applied);
}

#[tokio::test]
async fn connection_faults_are_io_errors_in_service_mode() {
    let mock = MockClerk::new();
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::Create, 1, Fault::close_before_response())
            .on(MockOperation::Create, 2, Fault::close_mid_body())
            .on(
                MockOperation::Create,
                3,
                Fault::close_before_response().applied(),
            ),
    );
    let err = try_send(
        &mock,
        request(
            Method::POST,
            LIST,
            Some(r#"{"identifier":"a@example.com"}"#),
        ),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        err.downcast_ref::<std::io::Error>().unwrap().kind(),
        ErrorKind::ConnectionReset
    );
    assert!(mock.identifiers().is_empty());

    let err = try_send(
        &mock,
        request(
            Method::POST,
            LIST,
            Some(r#"{"identifier":"a@example.com"}"#),
        ),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        err.downcast_ref::<std::io::Error>().unwrap().kind(),
        ErrorKind::UnexpectedEof
    );
    assert_eq!(
        mock.identifiers().len(),
        1,
        "CloseMidBody applies by default"
    );

    try_send(
        &mock,
        request(
            Method::POST,
            LIST,
            Some(r#"{"identifier":"b@example.com"}"#),
        ),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(mock.identifiers().len(), 2);
    let log = mock.requests();
    assert_eq!(log[0].status, None);
    assert_eq!(log[1].status, Some(StatusCode::OK));
    assert_eq!(log[2].status, None);
    assert_eq!(
        log.iter().map(|r| r.applied).collect::<Vec<_>>(),
        vec![false, true, true]
    );
}

#[tokio::test]
async fn truncated_and_malformed_json() {
    let mock = MockClerk::new();
    mock.insert("a@example.com").unwrap();
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::List, 1, Fault::truncated_json())
            .on(MockOperation::List, 2, Fault::malformed_json()),
    );
    for _ in 0..2 {
        let reply = send(&mock, request(Method::GET, LIST, None)).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["content-type"], "application/json");
        assert!(!reply.body.is_empty());
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
        assert!(serde_json::from_slice::<AllowlistIdentifierList>(&reply.body).is_err());
    }
    // Third list: no fault left.
    assert_eq!(
        send(&mock, request(Method::GET, LIST, None))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn attempts_restart_with_each_plan_and_always_rules_apply_after_on_rules() {
    let mock = MockClerk::new();
    send(&mock, request(Method::GET, LIST, None)).await;
    mock.set_fault_plan(
        FaultPlan::new()
            .always(MockOperation::List, Fault::status(502))
            .on(MockOperation::List, 2, Fault::status(504)),
    );
    let statuses: Vec<u16> = futures_statuses(&mock, 3).await;
    assert_eq!(statuses, vec![502, 504, 502]);
    mock.clear_faults();
    assert_eq!(
        send(&mock, request(Method::GET, LIST, None)).await.status,
        200
    );
    assert_eq!(mock.requests().last().unwrap().attempt, 1);
    assert_eq!(mock.request_count(MockOperation::List), 5);
    // A rule for another operation does not touch this one; attempt 0 never matches.
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::Delete, 1, Fault::status(500))
            .on(MockOperation::List, 0, Fault::status(500)),
    );
    assert_eq!(
        send(&mock, request(Method::GET, LIST, None)).await.status,
        200
    );
}

async fn futures_statuses(mock: &MockClerk, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            send(mock, request(Method::GET, LIST, None))
                .await
                .status
                .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn random_faults_are_deterministic_from_the_seed() {
    let plan = FaultPlan::new().random(42, 0.3, vec![Fault::status(500), Fault::status(503)]);
    let run = |plan: FaultPlan| async move {
        let mock = MockClerk::new();
        mock.set_fault_plan(plan);
        futures_statuses(&mock, 60).await
    };
    let first = run(plan.clone()).await;
    assert_eq!(first, run(plan.clone()).await);
    let faulted = first.iter().filter(|s| **s != 200).count();
    assert!((5..=35).contains(&faulted), "{faulted} of 60 at rate 0.3");
    assert!(first.contains(&500) && first.contains(&503));
    assert_ne!(
        first,
        run(FaultPlan::new().random(43, 0.3, vec![Fault::status(500), Fault::status(503)])).await
    );
    assert!(
        run(FaultPlan::new().random(1, 0.0, vec![Fault::status(500)]))
            .await
            .iter()
            .all(|s| *s == 200)
    );
    assert!(
        run(FaultPlan::new().random(1, f64::NAN, vec![Fault::status(500)]))
            .await
            .iter()
            .all(|s| *s == 200)
    );
    assert!(
        run(FaultPlan::new().random(1, 7.0, vec![Fault::status(500)]))
            .await
            .iter()
            .all(|s| *s == 500)
    );
    assert!(run(FaultPlan::new().random(1, 1.0, vec![]))
        .await
        .iter()
        .all(|s| *s == 200));
}

#[test]
fn fault_plan_json_round_trip() {
    let plan = FaultPlan::new()
        .on(MockOperation::Create, 1, Fault::rate_limited("1"))
        .on(MockOperation::Create, 2, Fault::status(503).applied())
        .always(
            MockOperation::List,
            Fault::delay_headers(Duration::from_millis(200)),
        )
        .on(
            MockOperation::Delete,
            1,
            Fault::delay_body(Duration::from_millis(1500)).not_applied(),
        )
        .on(MockOperation::Delete, 2, Fault::close_before_response())
        .on(MockOperation::Delete, 3, Fault::close_mid_body())
        .on(MockOperation::Delete, 4, Fault::truncated_json())
        .on(MockOperation::Delete, 5, Fault::malformed_json())
        .on(MockOperation::Delete, 6, Fault::html_error_page(502))
        .random(7, 0.1, vec![Fault::close_before_response()]);
    let json = serde_json::to_string_pretty(&plan).unwrap();
    let back: FaultPlan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
    assert!(!plan.is_empty());
    assert!(FaultPlan::new().is_empty());

    // The documented example, with short names and default `apply`.
    let doc = r#"{
      "rules": [
        { "operation": "CreateAllowlistIdentifier", "attempt": 1,
          "fault": { "kind": "status", "status": 429, "retry_after": "1" } },
        { "operation": "create", "attempt": 2, "fault": { "kind": "status", "status": 503, "apply": true } },
        { "operation": "list", "fault": { "kind": "delay_headers", "delay_ms": 200 } }
      ],
      "random": { "seed": 7, "rate": 0.1,
                  "faults": [ { "kind": "close_before_response" }, { "kind": "html_error_page", "status": 502 } ] }
    }"#;
    let parsed: FaultPlan = serde_json::from_str(doc).unwrap();
    let expected = FaultPlan::new()
        .on(MockOperation::Create, 1, Fault::rate_limited("1"))
        .on(MockOperation::Create, 2, Fault::status(503).applied())
        .always(
            MockOperation::List,
            Fault::delay_headers(Duration::from_millis(200)),
        )
        .random(
            7,
            0.1,
            vec![Fault::close_before_response(), Fault::html_error_page(502)],
        );
    assert_eq!(parsed, expected);

    let truncated: Fault = serde_json::from_str(r#"{"kind":"truncated_json"}"#).unwrap();
    assert!(truncated.apply);
    assert_eq!(
        serde_json::from_str::<MockOperation>(r#""delete""#).unwrap(),
        MockOperation::DeleteAllowlistIdentifier
    );
    assert!(serde_json::from_str::<FaultPlan>(r#"{"rulez":[]}"#).is_err());
    assert!(serde_json::from_str::<Fault>(r#"{"kind":"explode"}"#).is_err());
    assert!(serde_json::from_str::<Fault>(r#"{"kind":"status"}"#).is_err());
    assert_eq!(Fault::status(503).applied().label(), "status(503)+applied");
    assert_eq!(Fault::truncated_json().label(), "truncated_json");
}

#[test]
fn mock_types_are_send_sync_and_the_service_fits_the_stack() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<MockClerk>();
    check::<MockService>();
    fn future_is_send<F: std::future::Future + Send + 'static>(_: &F) {}
    let mut svc = MockClerk::new().service();
    let fut = tower_service::Service::call(&mut svc, request(Method::GET, LIST, None));
    future_is_send(&fut);
    // Boxes into the crate's HttpService shape once errors are mapped.
    let _boxed: tower::util::BoxCloneSyncService<HttpRequest, crate::HttpResponse, BoxError> =
        tower::util::BoxCloneSyncService::new(MockClerk::new().service());
}

// ---------------------------------------------------------------- over TCP

async fn raw(addr: std::net::SocketAddr, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server must close the connection");
    out
}

fn split_response(raw: &[u8]) -> (String, Vec<u8>) {
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full head");
    (
        String::from_utf8_lossy(&raw[..at]).into_owned(),
        raw[at + 4..].to_vec(),
    )
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length")
}

#[tokio::test]
async fn tcp_http10_and_connection_close() {
    let mock = MockClerk::new();
    mock.insert("a@example.com").unwrap();
    let server = mock.serve().await.unwrap();
    assert_eq!(
        server.base_url(),
        format!("http://127.0.0.1:{}/v1", server.addr().port())
    );

    let out = raw(
        server.addr(),
        &format!("GET {LIST} HTTP/1.0\r\nAuthorization: Bearer {KEY}\r\n\r\n"),
    )
    .await;
    let (head, body) = split_response(&out);
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert_eq!(content_length(&head), body.len());
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()[0]["identifier"],
        "a@example.com"
    );

    let out = raw(
        server.addr(),
        &format!("POST {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 30\r\nConnection: close\r\n\r\n{{\"identifier\":\"b@example.com\"}}"),
    )
    .await;
    let (head, body) = split_response(&out);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["identifier"],
        "b@example.com"
    );

    let out = raw(
        server.addr(),
        "GET /v1/allowlist_identifiers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = split_response(&out);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["errors"][0]["code"],
        "authorization_header_format_invalid"
    );
    assert_eq!(mock.identifiers().len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_keep_alive_serves_many_requests_on_one_connection() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    for i in 0..3 {
        let body = format!("{{\"identifier\":\"k{i}@example.com\"}}");
        let req = format!("POST {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed early");
            got.extend_from_slice(&buf[..n]);
            if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..at]).into_owned();
                if got.len() - at - 4 >= content_length(&head) {
                    break;
                }
            }
        }
        assert!(got.starts_with(b"HTTP/1.1 200"));
    }
    assert_eq!(mock.identifiers().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_close_before_response_closes_the_socket() {
    let mock = MockClerk::new();
    mock.set_fault_plan(FaultPlan::new().on(
        MockOperation::List,
        1,
        Fault::close_before_response(),
    ));
    let server = mock.serve().await.unwrap();
    let req = format!("GET {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n");
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("closed, not hanging");
    assert!(
        read.is_err() || out.is_empty(),
        "no response bytes: {:?}",
        String::from_utf8_lossy(&out)
    );
    // The next connection works normally.
    let out = raw(server.addr(), &format!("GET {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n")).await;
    assert!(out.starts_with(b"HTTP/1.1 200"));
    assert_eq!(mock.requests()[0].status, None);
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_close_mid_body_sends_half_then_closes() {
    let mock = MockClerk::new();
    for i in 0..20 {
        mock.insert(&format!("u{i}@example.com")).unwrap();
    }
    mock.set_fault_plan(FaultPlan::new().always(MockOperation::List, Fault::close_mid_body()));
    let server = mock.serve().await.unwrap();
    let req = format!("GET {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n");
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server must close the connection");
    let (head, body) = split_response(&out);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let full = content_length(&head);
    assert!(full > 1000);
    assert_eq!(body.len(), full / 2, "half the body, then the close");
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_delay_body_sends_the_head_first() {
    let mock = MockClerk::new();
    mock.set_fault_plan(FaultPlan::new().always(
        MockOperation::List,
        Fault::delay_body(Duration::from_millis(400)),
    ));
    let server = mock.serve().await.unwrap();
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let start = std::time::Instant::now();
    stream
        .write_all(format!("GET {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    let head_at = start.elapsed();
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        first.ends_with("\r\n\r\n"),
        "only the head arrives first: {first:?}"
    );
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"[]");
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert!(
        head_at < Duration::from_millis(400),
        "head after {head_at:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_oversized_bodies_are_413() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let out = raw(
        server.addr(),
        &format!("POST {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n{{}}"),
    )
    .await;
    assert!(
        out.starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_close_everything() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let addr = server.addr();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    // Make sure the idle connection was accepted and is being served.
    idle.write_all(
        format!("GET {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = [0u8; 4096];
    assert!(idle.read(&mut buf).await.unwrap() > 0);
    server.shutdown().await;
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .expect("closed by shutdown");
    assert!(matches!(n, Ok(0) | Err(_)));
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );

    let server = mock.serve().await.unwrap();
    let addr = server.addr();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "dropping stops the server"
    );
}

#[test]
fn serve_works_on_a_current_thread_runtime_built_by_hand() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mock = MockClerk::new();
        let server = mock.serve().await.unwrap();
        let out = raw(
            server.addr(),
            &format!("GET {LIST} HTTP/1.0\r\nAuthorization: Bearer {KEY}\r\n\r\n"),
        )
        .await;
        assert!(out.ends_with(b"[]"));
        server.shutdown().await;
    });
}

// ---------------------------------------------------------------- log bounds

/// Issue: the log kept every request body (1 000 POSTs of 1 MiB took the binary from 12 MiB
/// to 1 GiB). Bodies are recorded only when asked.
#[tokio::test]
async fn bodies_are_recorded_only_when_asked() {
    let body = r#"{"identifier":"a@example.com"}"#;
    let mock = MockClerk::new();
    assert_eq!(create(&mock, body).await.status, StatusCode::OK);
    let log = mock.requests();
    assert!(log[0].body.is_empty(), "{:?}", log[0].body);
    assert_eq!(log[0].body_json(), None);

    let mock = MockClerk::new().with_request_bodies(true);
    create(&mock, body).await;
    assert_eq!(mock.requests()[0].body, body.as_bytes());
    let mock = mock.with_request_bodies(false);
    create(&mock, body).await;
    assert!(mock.requests()[1].body.is_empty());
    assert_eq!(mock.requests()[1].status, Some(StatusCode::BAD_REQUEST));

    // `with_seed` starts afresh but keeps the settings.
    let mock = MockClerk::new()
        .with_request_bodies(true)
        .with_request_log_bytes(1)
        .with_body_timeout(Duration::from_secs(1))
        .unwrap()
        .with_seed(3);
    create(&mock, body).await;
    assert!(mock.requests().is_empty(), "the 1-byte budget still holds");
    let mock = mock.with_request_log_bytes(MockClerk::DEFAULT_REQUEST_LOG_BYTES);
    create(&mock, body).await;
    assert_eq!(mock.requests()[0].body, body.as_bytes(), "bodies still on");
    assert_eq!(mock.server_settings().body_timeout, Duration::from_secs(1));
}

/// Issue: the log was bounded by its number of entries only (100 000 by default, 2 GiB after
/// 2 000 requests of 1 MiB). It is bounded by bytes too, the oldest entries going first.
#[tokio::test]
async fn the_request_log_is_bounded_by_bytes() {
    const MIB: usize = 1024 * 1024;
    const REQUESTS: usize = 20;
    let big = format!(r#"{{"identifier":"{}"}}"#, "x".repeat(MIB - 100));
    async fn flood(mock: &MockClerk, body: &str) {
        for _ in 0..REQUESTS {
            assert_eq!(create(mock, body).await.status, 422);
        }
    }

    let budget = 4 * MIB;
    let mock = MockClerk::new()
        .with_request_bodies(true)
        .with_request_log_bytes(budget);
    flood(&mock, &big).await;
    let log = mock.requests();
    let bytes = mock.request_log_bytes();
    assert!(bytes <= budget, "{bytes} > {budget}");
    let bodies: usize = log.iter().map(|r| r.body.len()).sum();
    assert!(bodies <= bytes, "bodies are accounted: {bodies} > {bytes}");
    assert!((3..=4).contains(&log.len()), "{}", log.len());
    let last = log.last().unwrap();
    assert_eq!(last.attempt as usize, REQUESTS, "the newest are kept");
    assert_eq!(last.body.len(), big.len());
    assert_eq!(mock.request_count(MockOperation::Create), REQUESTS);

    // The default budget.
    let mock = MockClerk::new().with_request_bodies(true);
    flood(&mock, &big).await;
    let bytes = mock.request_log_bytes();
    assert!(bytes <= MockClerk::DEFAULT_REQUEST_LOG_BYTES, "{bytes}");
    assert!(bytes > MockClerk::DEFAULT_REQUEST_LOG_BYTES / 2, "{bytes}");

    // Without bodies (the default) the same requests are all kept, in little memory.
    let mock = MockClerk::new();
    flood(&mock, &big).await;
    assert_eq!(mock.requests().len(), REQUESTS);
    let bytes = mock.request_log_bytes();
    assert!(bytes > 0 && bytes < 64 * 1024, "{bytes}");
    mock.clear_requests();
    assert_eq!(mock.request_log_bytes(), 0);

    // An entry larger than the whole budget is not kept; smaller ones are.
    let mock = MockClerk::new()
        .with_request_bodies(true)
        .with_request_log_bytes(4096);
    create(&mock, &big).await;
    assert!(mock.requests().is_empty());
    assert_eq!(mock.request_log_bytes(), 0);
    send(&mock, request(Method::GET, LIST, None)).await;
    assert_eq!(mock.requests().len(), 1);
    assert!(mock.request_log_bytes() <= 4096);
    assert_eq!(mock.request_count(MockOperation::Create), 1);

    // Shrinking the budget evicts at once.
    let mock = MockClerk::new().with_request_bodies(true);
    flood(&mock, &big).await;
    let mock = mock.with_request_log_bytes(2 * MIB);
    assert!(mock.request_log_bytes() <= 2 * MIB);
    assert_eq!(mock.requests().last().unwrap().attempt as usize, REQUESTS);
}

/// Issue: `--addr 0.0.0.0:PORT` printed `http://0.0.0.0:PORT/v1`, which the client refuses.
/// An unspecified address becomes the loopback address of its family.
#[test]
fn base_urls_name_an_address_a_client_can_reach() {
    use super::server::base_url_for;
    let url = |s: &str| base_url_for(s.parse().unwrap());
    assert_eq!(url("0.0.0.0:8787"), "http://127.0.0.1:8787/v1");
    assert_eq!(url("[::]:8787"), "http://[::1]:8787/v1");
    assert_eq!(url("127.0.0.1:1"), "http://127.0.0.1:1/v1");
    assert_eq!(url("[::1]:2"), "http://[::1]:2/v1");
    assert_eq!(url("192.0.2.7:3"), "http://192.0.2.7:3/v1");
    for u in [url("0.0.0.0:8787"), url("[::]:8787")] {
        crate::Client::builder()
            .secret_key(KEY)
            .base_url(&u)
            .build()
            .unwrap_or_else(|e| panic!("{u}: {e}"));
    }
}

// ---------------------------------------------------------------- logging

/// A writer that never returns: a stderr pipe that nobody reads.
struct Stuck;

impl std::io::Write for Stuck {
    fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        loop {
            std::thread::park();
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        loop {
            std::thread::park();
        }
    }
}

/// Issue: the binary stopped answering after about 600 requests when its stderr was a full
/// pipe, because each request wrote its log line synchronously. Through a [`LogSink`], a
/// writer that never returns costs dropped lines, never requests.
#[test]
fn requests_never_wait_for_a_log_writer_that_never_returns() {
    const REQUESTS: usize = 10_000;
    let sink = LogSink::new(Stuck).unwrap();
    let mock = MockClerk::new();
    let log = sink.clone();
    mock.on_request(move |r, elapsed| {
        log.line(format!("{} {} {elapsed:?}", r.method, r.path_and_query()))
    });
    // The requests run on a thread of their own: if the hook blocked, this test would fail
    // on the timeout below instead of hanging.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let worker = mock.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for _ in 0..REQUESTS {
                send(&worker, request(Method::GET, LIST, None)).await;
            }
        });
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("every request completes although the log writer never returns");
    assert_eq!(mock.request_count(MockOperation::List), REQUESTS);
    // At most the queue and the one line in the writer's hands got through.
    let kept = LogSink::DEFAULT_CAPACITY.get() as u64 + 1;
    assert!(
        sink.dropped() >= REQUESTS as u64 - kept,
        "{}",
        sink.dropped()
    );
    assert!(
        !sink.flush(Duration::from_millis(20)),
        "nothing can be flushed"
    );
}

/// A writer that blocks until its gate opens, and tells when it first starts a write.
struct Gated {
    started: std::sync::mpsc::Sender<()>,
    gate: std::sync::mpsc::Receiver<()>,
    open: bool,
    out: Arc<Mutex<Vec<u8>>>,
}

impl std::io::Write for Gated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.open {
            let _ = self.started.send(());
            let _ = self.gate.recv();
            self.open = true;
        }
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_log_sink_keeps_the_order_and_notes_dropped_lines() {
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (gate_tx, gate_rx) = std::sync::mpsc::channel();
    let out = Arc::new(Mutex::new(Vec::new()));
    let writer = Gated {
        started: started_tx,
        gate: gate_rx,
        open: false,
        out: out.clone(),
    };
    let sink = LogSink::with_capacity(writer, std::num::NonZeroUsize::new(2).unwrap()).unwrap();
    assert!(format!("{sink:?}").contains("LogSink"));
    sink.line("one");
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the writer took the first line");
    // The writer is stuck on "one": two lines fit in the queue, the next two are dropped.
    for line in ["two", "three", "four", "five"] {
        sink.line(line);
    }
    assert_eq!(sink.dropped(), 2);
    gate_tx.send(()).unwrap();
    // The flush writes the note: the drops came after "three".
    assert!(sink.flush(Duration::from_secs(10)));
    sink.line("six");
    assert!(sink.flush(Duration::from_secs(10)));
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text,
        "one\ntwo\nthree\n(2 log lines dropped: the output did not keep up)\nsix\n"
    );
    assert_eq!(sink.dropped(), 2);
}

// ---------------------------------------------------------------- spec-driven routes

/// Nothing a client sends to the spec's routes makes the mock panic: arbitrary methods, paths
/// built from the spec's templates with arbitrary segments, queries, media types and bodies,
/// with and without a key. Every answer is a response with a status the mock gives.
#[test]
fn spec_routes_never_panic() {
    use proptest::prelude::*;

    let templates: Vec<String> = super::spec::index()
        .unwrap()
        .spec
        .operations()
        .iter()
        .map(|op| op.path.clone())
        .collect();
    let mock = MockClerk::new().with_seed(3);
    let segment = prop_oneof![
        Just(String::new()),
        "[a-z_]{1,12}",
        "%[0-9A-Fa-f]{2}[a-z]{0,3}",
        "%FF%FE",
        "\\PC{0,8}".prop_map(|s| percent_encoding::utf8_percent_encode(
            &s,
            percent_encoding::NON_ALPHANUMERIC
        )
        .to_string()),
    ];
    let body = prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(b"{\"email_address\":[\"a@b.c\"],\"x\":{\"y\":[1,null,{}]}}".to_vec()),
        Just(b"[{\"email_address\":1}]".to_vec()),
        Just(b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--".to_vec()),
        "\\PC{0,40}".prop_map(String::into_bytes),
    ];
    let strategy = (
        0..templates.len(),
        proptest::collection::vec(segment, 3),
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::PATCH),
            Just(Method::PUT),
            Just(Method::DELETE),
            Just(Method::HEAD)
        ],
        "[a-z_=&%0-9,+\\-.]{0,40}",
        prop_oneof![
            Just(None),
            Just(Some("application/json")),
            Just(Some("multipart/form-data; boundary=b")),
            Just(Some("multipart/form-data")),
            Just(Some("text/plain")),
        ],
        body,
        any::<bool>(),
    );
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 512,
        failure_persistence: None,
        ..Default::default()
    });
    runner
        .run(
            &strategy,
            |(template, segments, method, query, content_type, body, keyed)| {
                let mut parts = segments.iter();
                let path: Vec<String> = templates[template]
                    .split('/')
                    .map(|part| match part.starts_with('{') {
                        true => parts.next().cloned().unwrap_or_default(),
                        false => part.to_owned(),
                    })
                    .collect();
                let uri: http::Uri = format!("/v1{}?{query}", path.join("/"))
                    .parse()
                    .unwrap_or_else(|_| http::Uri::from_static("/v1/users"));
                let mut headers = HeaderMap::new();
                if keyed {
                    headers.insert("authorization", format!("Bearer {KEY}").parse().unwrap());
                }
                if let Some(ct) = content_type {
                    headers.insert("content-type", ct.parse().unwrap());
                }
                let prepared = mock.handle(engine::Incoming {
                    method: &method,
                    uri: &uri,
                    headers: &headers,
                    body: Bytes::from(body),
                    too_large: false,
                });
                let status = prepared.response.status().as_u16();
                prop_assert!(
                    [200, 201, 202, 204, 400, 401, 404, 405, 415, 422].contains(&status),
                    "{method} {uri}: {status}"
                );
                Ok(())
            },
        )
        .unwrap();
}

#[tokio::test]
async fn user_operations_take_faults() {
    let mock = MockClerk::new();
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::CreateUser, 1, Fault::status(503).applied())
            .on(
                MockOperation::CreateUser,
                2,
                Fault::truncated_json().not_applied(),
            ),
    );
    let body = |n: u8| format!(r#"{{"email_address":["u{n}@example.com"]}}"#);
    let reply = send(&mock, request(Method::POST, "/v1/users", Some(&body(1)))).await;
    assert_eq!(reply.status, 503);
    assert_eq!(mock.users().len(), 1, "applied before the 503");
    let reply = send(&mock, request(Method::POST, "/v1/users", Some(&body(2)))).await;
    assert_eq!(reply.status, 200);
    assert!(
        serde_json::from_slice::<Value>(&reply.body).is_err(),
        "truncated"
    );
    assert_eq!(mock.users().len(), 1, "a dry run stores nothing");
    let reply = send(&mock, request(Method::POST, "/v1/users", Some(&body(2)))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(mock.users().len(), 2);
    assert_eq!(mock.request_count(MockOperation::CreateUser), 3);
    let log = mock.requests();
    assert_eq!(log[0].operation_id, Some("CreateUser"));
    assert!(log[0].applied && !log[1].applied && log[2].applied);
}
