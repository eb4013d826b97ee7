//! The mock's side of authentication (issue 16, part 5): it mints every class of token from
//! Rust and over HTTP on its test-only routes, answers `POST /sessions/{id}/tokens` with a
//! real signed token for a session it knows, and its three machine-token verify operations
//! accept only the tokens it created, refusing others in Clerk's error shape. Then every class
//! the mock mints goes through the layer, as configured, end to end over TCP.

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use clerk_tower::auth::{
    AcceptsToken, Auth, Authenticator, MachineVerifier, SessionLayer, Verifier,
};
use clerk_tower::mock::{MockClerk, TokenClass};
use clerk_tower::Client;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

fn client(mock: &MockClerk) -> Client {
    crate::e2e::service_builder(mock).build().unwrap()
}

#[tokio::test]
async fn verify_operations_accept_only_tokens_the_mock_created() {
    let mock = MockClerk::new();
    let client = client(&mock);
    let key = mock
        .mint_with(
            TokenClass::ApiKey,
            Some("user_1"),
            json!({"team": "infra"}),
            &["read"],
        )
        .unwrap();
    let verified = client.api_keys().verify(&key).await.unwrap();
    assert_eq!(verified.subject, "user_1");
    assert_eq!(verified.scopes, ["read"]);
    assert!(!verified.revoked && !verified.expired);

    let m2m = mock.mint(TokenClass::M2mToken, None).unwrap();
    let verified = client.m2m().verify_token(&m2m).await.unwrap();
    assert!(verified.subject.starts_with("mch_"));
    let oauth = mock.mint(TokenClass::OAuthToken, Some("user_2")).unwrap();
    let verified = client
        .oauth_access_tokens()
        .verify()
        .access_token(&oauth)
        .await
        .unwrap();
    assert!(matches!(
        verified,
        clerk_tower::models::VerifyOauthAccessTokenResponse::Response1(r) if r.subject == "user_2"
    ));

    // Created through the Backend API: the answer's secret is then known.
    let created = client.api_keys().create("ci key", "user_3").await.unwrap();
    let secret = created.secret.clone();
    assert_eq!(
        client.api_keys().verify(&secret).await.unwrap().subject,
        "user_3"
    );

    // Anything else is a 404 in Clerk's error shape: an unknown secret, another class's token.
    for (what, result) in [
        (
            "unknown key",
            client.api_keys().verify("ak_not_a_real_key").await.err(),
        ),
        (
            "an M2M token as a key",
            client.api_keys().verify(&m2m).await.err(),
        ),
    ] {
        let err = result.unwrap_or_else(|| panic!("{what} was accepted"));
        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{what}");
        assert_eq!(
            err.as_api().unwrap().code(),
            Some("resource_not_found"),
            "{what}"
        );
        assert!(!err.to_string().contains("ak_not_a_real_key"));
    }
    let err = client.m2m().verify_token("mt_random").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    let err = client
        .oauth_access_tokens()
        .verify()
        .access_token(&key)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn create_session_token_signs_a_real_token_for_a_known_session() {
    let mock = MockClerk::new();
    let client = client(&mock);
    let verifier = Verifier::builder().client(client.clone()).build().unwrap();
    let sid = mock.create_session("user_42");
    let answer = client.sessions().create_token(&sid).await.unwrap();
    let jwt = answer.jwt.clone().unwrap();
    let claims = verifier.verify(&jwt).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.sid.as_deref()),
        ("user_42", Some(sid.as_str()))
    );
    // A session minted with `session_token` is known too.
    let token = mock.session_token("user_7").unwrap();
    let sid = verifier.verify(&token).await.unwrap().sid.unwrap();
    let again = client.sessions().create_token(&sid).await.unwrap();
    assert_eq!(
        verifier.verify(&again.jwt.unwrap()).await.unwrap().sub,
        "user_7"
    );
    // An unknown session: 404, resource_not_found.
    let err = client
        .sessions()
        .create_token("sess_unknown")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.as_api().unwrap().code(), Some("resource_not_found"));
}

async fn post(base: &str, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = http::Request::post(format!("{base}{path}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let res = http.request(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn app(auth: Authenticator) -> Router {
    async fn who(auth: Auth) -> String {
        match auth {
            Auth::Session(c) => format!("session {}", c.sub),
            Auth::ApiKey(k) => format!("api_key {}", k.subject),
            Auth::M2m(m) => format!("m2m {}", m.machine_id),
            Auth::OAuth(o) => format!("oauth {}", o.user_id),
            _ => "other".to_owned(),
        }
    }
    Router::new()
        .route("/who", get(who))
        .layer(SessionLayer::required(auth))
}

/// Every class minted over HTTP by the mock's test-only routes goes through the layer of an
/// axum app (its verifier and machine verifier pointed at the same mock over TCP).
#[tokio::test]
async fn every_class_minted_over_http_goes_through_the_layer_as_configured() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let base = server
        .base_url()
        .trim_end_matches("/v1")
        .trim_end_matches('/')
        .to_owned();
    let client = crate::e2e::tcp_builder(&server).build().unwrap();
    let verifier = Verifier::builder().client(client.clone()).build().unwrap();
    let machines = MachineVerifier::builder(client).build().unwrap();
    let any = app(Authenticator::new(verifier.clone())
        .machine_tokens(machines.clone())
        .accepts(AcceptsToken::ANY));
    let sessions_only = app(Authenticator::new(verifier));
    let key = MockClerk::DEFAULT_SECRET_KEY;

    let expected = [
        (TokenClass::Session, 200, "session user_http", 200),
        (TokenClass::PendingSession, 401, "session_pending", 401),
        (TokenClass::JwtTemplate, 401, "jwt_template_token", 401),
        (TokenClass::M2mJwt, 200, "m2m mch_http", 401),
        (TokenClass::OAuthJwt, 200, "oauth user_http", 401),
        (TokenClass::ApiKey, 200, "api_key user_http", 401),
        (TokenClass::M2mToken, 200, "m2m mch_http", 401),
        (TokenClass::OAuthToken, 200, "oauth user_http", 401),
    ];
    for (class, status_any, answer, status_sessions) in expected {
        let subject = if matches!(class, TokenClass::M2mJwt | TokenClass::M2mToken) {
            "mch_http"
        } else {
            "user_http"
        };
        let (status, minted) = post(
            &base,
            &format!("/__mock/tokens/{}", class.name()),
            key,
            json!({"subject": subject, "scopes": ["read"]}),
        )
        .await;
        assert_eq!(status, 200, "{class}: {minted}");
        assert_eq!(minted["class"], class.name());
        let token = minted["token"].as_str().unwrap().to_owned();
        for (app, want_status) in [(&any, status_any), (&sessions_only, status_sessions)] {
            let res = tower::ServiceExt::oneshot(
                app.clone(),
                http::Request::get("/who")
                    .header("authorization", format!("Bearer {token}"))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert_eq!(status.as_u16(), want_status, "{class}: {body}");
            if status == 200 {
                assert_eq!(body, answer, "{class}");
            } else if std::ptr::eq(app, &any) {
                let reason = serde_json::from_str::<Value>(&body).unwrap()["reason"].clone();
                assert_eq!(reason, answer, "{class}");
            }
        }
    }

    // The session route and the guard rails of the test-only routes.
    let (status, session) =
        post(&base, "/__mock/sessions", key, json!({"user_id": "user_s"})).await;
    assert_eq!(status, 200);
    assert!(session["id"].as_str().unwrap().starts_with("sess_"));
    let (status, err) = post(&base, "/__mock/tokens/nonsense", key, json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(err["errors"][0]["code"], "resource_not_found");
    let (status, _) = post(
        &base,
        "/__mock/tokens/api_key",
        key,
        json!({"scopes": "read"}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = post(&base, "/__mock/tokens/api_key", "sk_test_wrong", json!({})).await;
    assert_eq!(status, 401, "the test routes need the mock's secret key");
}

/// The same classes, minted by the mock from Rust, against `Verifier` itself: only the
/// session passes; each other class is refused with its own code.
#[tokio::test]
async fn the_verifier_refuses_every_other_class_the_mock_mints() {
    let mock = MockClerk::new();
    let verifier = Verifier::builder().client(client(&mock)).build().unwrap();
    for (class, expected) in [
        (TokenClass::Session, None),
        (TokenClass::PendingSession, Some("session_pending")),
        (TokenClass::JwtTemplate, Some("jwt_template_token")),
        (TokenClass::M2mJwt, Some("m2m_token")),
        (TokenClass::OAuthJwt, Some("oauth_access_token")),
        (TokenClass::ApiKey, Some("token_malformed")),
    ] {
        let token = mock.mint(class, Some("user_rust")).unwrap();
        let got = verifier
            .verify(&token)
            .await
            .map(|c| c.sub)
            .map_err(|e| e.code());
        match expected {
            None => assert_eq!(got, Ok("user_rust".to_owned()), "{class}"),
            Some(code) => assert_eq!(got, Err(code), "{class}"),
        }
    }
}
