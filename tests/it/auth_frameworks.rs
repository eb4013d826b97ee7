//! The same cases against the tower layer (in an axum app) and the actix-web middleware
//! (issue 17): written once, run against both. Sessions, machine tokens, required and
//! optional, 401 / 403 / 503 with the same JSON bodies, and the handshake redirect.

use std::time::Duration;

use actix_web::test::{call_service, init_service, read_body, TestRequest};
use axum::routing::get;
use clerk_tower::auth::actix::ClerkMiddleware;
use clerk_tower::auth::{
    AcceptsToken, ApiKeyIdentity, Authenticator, Claims, Handshake, MachineVerifier, SessionLayer,
    Verifier,
};
use clerk_tower::mock::{MockClerk, TokenClass, TEST_JWT_PUBLIC_KEY};
use clerk_tower::models::Jwks;
use clerk_tower::Error;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::auth_classes::{forge, header, now, CAT_SESSION};

const FAPI: &str = "clerk.app.test";

fn token(exp_in: i64) -> String {
    let now = now();
    forge(
        &header(Some(CAT_SESSION), "JWT"),
        &json!({"sub": "user_1", "sid": "sess_1", "iss": format!("https://{FAPI}"),
                "iat": now - 70, "exp": now + exp_in}),
    )
}

/// What every app is built from: the same `Authenticator`s.
struct Auths {
    sessions: Authenticator,
    machines: Authenticator,
    down: Authenticator,
    pages: Authenticator,
}

fn auths(mock: &MockClerk) -> Auths {
    let verifier = Verifier::builder()
        .jwt_key(TEST_JWT_PUBLIC_KEY)
        .build()
        .unwrap();
    let client = crate::e2e::service_builder(mock).build().unwrap();
    let machines = MachineVerifier::builder(client).build().unwrap();
    let down = Verifier::builder()
        .jwks_source(|| async { Err::<Jwks, _>(Error::from_boxed("down".into())) })
        .jwks_fetch_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let pk = format!("pk_test_{}", base64_std(&format!("{FAPI}$")));
    Auths {
        sessions: Authenticator::new(verifier.clone()),
        machines: Authenticator::new(verifier.clone())
            .machine_tokens(machines)
            .accepts(AcceptsToken::ANY),
        down: Authenticator::new(down),
        pages: Authenticator::new(verifier).handshake(Handshake::builder(&pk).build().unwrap()),
    }
}

fn base64_std(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// One request and what both frameworks must answer.
struct Case {
    name: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    status: u16,
    /// The JSON `reason`, for a refusal.
    reason: Option<&'static str>,
    /// The body, for a handler's answer.
    body: Option<&'static str>,
    /// The start of `Location`, for a redirect.
    location: Option<String>,
}

fn cases(api_key: &str) -> Vec<Case> {
    let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];
    let case = |name, path, headers, status| Case {
        name,
        path,
        headers,
        status,
        reason: None,
        body: None,
        location: None,
    };
    vec![
        Case {
            reason: Some("missing_token"),
            ..case("required, no token", "/required/me", vec![], 401)
        },
        Case {
            body: Some("user user_1"),
            ..case("required, valid", "/required/me", bearer(&token(60)), 200)
        },
        Case {
            reason: Some("token_expired"),
            ..case(
                "required, expired",
                "/required/me",
                bearer(&token(-30)),
                401,
            )
        },
        Case {
            reason: Some("token_type_not_accepted"),
            ..case(
                "required, an API key on a sessions route",
                "/required/me",
                bearer(api_key),
                401,
            )
        },
        Case {
            body: Some("anonymous"),
            ..case("optional, no token", "/optional/home", vec![], 200)
        },
        Case {
            body: Some("anonymous"),
            ..case(
                "optional, expired",
                "/optional/home",
                bearer(&token(-30)),
                200,
            )
        },
        Case {
            body: Some("hello user_1"),
            ..case("optional, valid", "/optional/home", bearer(&token(60)), 200)
        },
        Case {
            body: Some("key user_1"),
            ..case(
                "machine route, an API key",
                "/machine/key",
                bearer(api_key),
                200,
            )
        },
        Case {
            reason: Some("wrong_token_type"),
            ..case(
                "machine route, a session",
                "/machine/key",
                bearer(&token(60)),
                403,
            )
        },
        Case {
            reason: Some("missing_token"),
            ..case("machine route, nothing", "/machine/key", vec![], 401)
        },
        Case {
            reason: Some("keys_unavailable"),
            ..case(
                "keys cannot be fetched",
                "/down/me",
                bearer(&token(60)),
                503,
            )
        },
        Case {
            location: Some(format!("https://{FAPI}/v1/client/handshake?")),
            ..case(
                "a page load with an expired cookie",
                "/page",
                vec![
                    (
                        "cookie",
                        format!(
                            "__session={}; __client_uat=1; __clerk_db_jwt=dvb_1",
                            token(-30)
                        ),
                    ),
                    ("sec-fetch-dest", "document".to_owned()),
                    ("host", "app.test".to_owned()),
                ],
                307,
            )
        },
        Case {
            reason: Some("handshake_required"),
            ..case(
                "a fetch with the same cookie, required",
                "/page-required",
                vec![
                    ("cookie", format!("__session={}; __client_uat=1", token(60))),
                    ("sec-fetch-dest", "empty".to_owned()),
                    ("host", "app.test".to_owned()),
                ],
                401,
            )
        },
    ]
}

/// The answer of one framework, reduced to what the cases check.
struct Answer {
    status: u16,
    body: Vec<u8>,
    location: Option<String>,
    www_authenticate: Option<String>,
    set_cookie: Vec<String>,
}

fn check(framework: &str, case: &Case, answer: &Answer) {
    let what = format!("{framework}: {}", case.name);
    assert_eq!(answer.status, case.status, "{what}");
    if let Some(reason) = case.reason {
        let json: Value = serde_json::from_slice(&answer.body).expect(&what);
        assert_eq!(json["reason"], reason, "{what}");
        let kind = match case.status {
            401 => "unauthorized",
            403 => "forbidden",
            _ => "service_unavailable",
        };
        assert_eq!(json["error"], kind, "{what}");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        if case.status == 401 {
            assert!(answer.www_authenticate.is_some(), "{what}");
        }
    }
    if let Some(body) = case.body {
        assert_eq!(String::from_utf8_lossy(&answer.body), body, "{what}");
    }
    if let Some(location) = &case.location {
        let got = answer.location.as_deref().unwrap_or("");
        assert!(got.starts_with(location.as_str()), "{what}: {got}");
        assert!(
            answer
                .set_cookie
                .iter()
                .any(|c| c.starts_with("__clerk_redirect_count=1")),
            "{what}"
        );
    }
}

async fn me(claims: Claims) -> String {
    format!("user {}", claims.sub)
}

async fn home(claims: Option<Claims>) -> String {
    claims.map_or("anonymous".to_owned(), |c| format!("hello {}", c.sub))
}

async fn key(key: ApiKeyIdentity) -> String {
    format!("key {}", key.subject)
}

fn axum_app(a: &Auths) -> axum::Router {
    axum::Router::new()
        .route(
            "/required/me",
            get(me).layer(SessionLayer::required(a.sessions.clone())),
        )
        .route(
            "/optional/home",
            get(home).layer(SessionLayer::optional(a.sessions.clone())),
        )
        .route(
            "/machine/key",
            get(key).layer(SessionLayer::optional(a.machines.clone())),
        )
        .route(
            "/down/me",
            get(me).layer(SessionLayer::required(a.down.clone())),
        )
        .route(
            "/page",
            get(home).layer(SessionLayer::optional(a.pages.clone())),
        )
        .route(
            "/page-required",
            get(me).layer(SessionLayer::required(a.pages.clone())),
        )
}

#[tokio::test]
async fn the_same_cases_pass_against_the_tower_layer_and_the_actix_middleware() {
    let mock = MockClerk::new();
    let api_key = mock.mint(TokenClass::ApiKey, Some("user_1")).unwrap();
    let a = auths(&mock);
    let cases = cases(&api_key);

    let router = axum_app(&a);
    for case in &cases {
        let mut req = http::Request::get(case.path);
        for (k, v) in &case.headers {
            req = req.header(*k, v);
        }
        let response = router
            .clone()
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |n: &str| {
            response
                .headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let answer = Answer {
            status: response.status().as_u16(),
            location: header("location"),
            www_authenticate: header("www-authenticate"),
            set_cookie: response
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect(),
            body: response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        };
        check("tower", case, &answer);
    }

    use actix_web::web;
    let app = init_service(
        actix_web::App::new()
            .service(
                web::resource("/required/me")
                    .wrap(ClerkMiddleware::required(a.sessions.clone()))
                    .route(web::get().to(me)),
            )
            .service(
                web::resource("/optional/home")
                    .wrap(ClerkMiddleware::optional(a.sessions.clone()))
                    .route(web::get().to(home)),
            )
            .service(
                web::resource("/machine/key")
                    .wrap(ClerkMiddleware::optional(a.machines.clone()))
                    .route(web::get().to(key)),
            )
            .service(
                web::resource("/down/me")
                    .wrap(ClerkMiddleware::required(a.down.clone()))
                    .route(web::get().to(me)),
            )
            .service(
                web::resource("/page")
                    .wrap(ClerkMiddleware::optional(a.pages.clone()))
                    .route(web::get().to(home)),
            )
            .service(
                web::resource("/page-required")
                    .wrap(ClerkMiddleware::required(a.pages.clone()))
                    .route(web::get().to(me)),
            ),
    )
    .await;
    for case in &cases {
        let mut req = TestRequest::get().uri(case.path);
        for (k, v) in &case.headers {
            req = req.insert_header((*k, v.as_str()));
        }
        let response = call_service(&app, req.to_request()).await;
        let header = |n: &str| {
            response
                .headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let status = response.status().as_u16();
        let location = header("location");
        let www_authenticate = header("www-authenticate");
        let set_cookie = response
            .headers()
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = read_body(response).await.to_vec();
        let answer = Answer {
            status,
            body,
            location,
            www_authenticate,
            set_cookie,
        };
        check("actix", case, &answer);
    }
}
