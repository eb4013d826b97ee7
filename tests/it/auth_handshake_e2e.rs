//! The handshake as a browser goes through it (issue 17): an axum app with a
//! `SessionLayer` over cookie sessions, the mock's Backend API and Frontend API on their own
//! listeners on 127.0.0.1, and reqwest as the browser (a cookie jar, redirects followed,
//! `Sec-Fetch-Dest: document`). Session tokens live 2 s here, and the tests wait for them to
//! expire in real time: the verifier reads the system clock, which a paused runtime does not
//! move.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use clerk_tower::auth::{Authenticator, Claims, Handshake, SessionLayer, Verifier};
use clerk_tower::mock::{FrontendInstance, FrontendServer, MockClerk, MockServer};
use reqwest::header::{HeaderMap, HeaderValue};

struct World {
    _bapi: MockServer,
    fapi: FrontendServer,
    app: String,
    browser: reqwest::Client,
}

async fn dashboard(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!("signed in as {}", c.sub),
        None => "signed out".to_owned(),
    }
}

async fn world(instance: FrontendInstance, refresh: bool) -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockClerk::new();
    let bapi = mock.serve().await.unwrap();
    let fapi = mock.serve_frontend(instance).await.unwrap();
    fapi.set_token_lifetime(Duration::from_secs(2));
    let client = crate::e2e::tcp_builder(&bapi).build().unwrap();
    let verifier = Verifier::builder()
        .client(client.clone())
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let handshake = Handshake::builder(fapi.publishable_key());
    #[cfg(feature = "sessions")]
    let handshake = if refresh {
        handshake.refresh_with(client)
    } else {
        handshake
    };
    #[cfg(not(feature = "sessions"))]
    let _ = refresh;
    let auth = Authenticator::new(verifier).handshake(handshake.build().unwrap());
    let router = Router::new()
        .route("/dashboard", get(dashboard))
        .layer(SessionLayer::optional(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut headers = HeaderMap::new();
    headers.insert("sec-fetch-dest", HeaderValue::from_static("document"));
    headers.insert("accept", HeaderValue::from_static("text/html"));
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap();
    World {
        _bapi: bapi,
        fapi,
        app,
        browser,
    }
}

impl World {
    async fn sign_in(&self) -> reqwest::Response {
        let back = format!("{}/dashboard", self.app);
        let url = format!(
            "{}/__mock/sign_in?user_id=user_1&redirect_url={}",
            self.fapi.url(),
            form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        );
        self.browser.get(url).send().await.unwrap()
    }

    async fn load(&self) -> (String, String) {
        let r = self
            .browser
            .get(format!("{}/dashboard", self.app))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let url = r.url().to_string();
        (url, r.text().await.unwrap())
    }

    async fn wait_for_expiry(&self) {
        tokio::time::sleep(Duration::from_millis(3100)).await;
    }
}

#[tokio::test]
async fn an_expired_session_comes_back_signed_in_through_the_handshake() {
    let w = world(FrontendInstance::Development, false).await;
    let r = w.sign_in().await;
    // Signed in, on the clean URL (the handshake payload stripped by the app's redirect).
    assert_eq!(r.url().as_str(), format!("{}/dashboard", w.app));
    assert_eq!(r.text().await.unwrap(), "signed in as user_1");
    w.wait_for_expiry().await;
    let before = w.fapi.handshake_count();
    let (url, body) = w.load().await;
    assert_eq!(body, "signed in as user_1", "through the handshake");
    assert_eq!(
        url,
        format!("{}/dashboard", w.app),
        "back on the original URL"
    );
    assert_eq!(w.fapi.handshake_count(), before + 1, "one trip");
    // The fresh token is good for the next load without any trip.
    let (_, body) = w.load().await;
    assert_eq!(body, "signed in as user_1");
    assert_eq!(w.fapi.handshake_count(), before + 1);
}

#[tokio::test]
async fn a_signed_out_client_comes_back_signed_out() {
    let w = world(FrontendInstance::Development, false).await;
    w.sign_in().await;
    let out = w
        .browser
        .post(format!("{}/__mock/sign_out", w.fapi.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    w.wait_for_expiry().await;
    let (url, body) = w.load().await;
    assert_eq!(body, "signed out");
    assert_eq!(url, format!("{}/dashboard", w.app));
    assert_eq!(w.fapi.handshake_count(), 1);
    // The cookies say signed out now (`__client_uat=0`): no more trips.
    let (_, body) = w.load().await;
    assert_eq!(body, "signed out");
    assert_eq!(w.fapi.handshake_count(), 1);
}

#[tokio::test]
async fn a_frontend_api_that_answers_badly_ends_signed_out_after_three_trips() {
    let w = world(FrontendInstance::Development, false).await;
    w.sign_in().await;
    w.fapi.set_broken(true);
    w.wait_for_expiry().await;
    let (url, body) = w.load().await;
    assert_eq!(body, "signed out", "no redirect loop");
    assert_eq!(url, format!("{}/dashboard", w.app));
    assert_eq!(w.fapi.handshake_count(), 3);
}

#[tokio::test]
async fn production_handshake_comes_back_in_a_cookie() {
    let w = world(FrontendInstance::Production, false).await;
    let r = w.sign_in().await;
    assert_eq!(r.url().as_str(), format!("{}/dashboard", w.app));
    assert_eq!(r.text().await.unwrap(), "signed in as user_1");
    w.wait_for_expiry().await;
    let (url, body) = w.load().await;
    assert_eq!(body, "signed in as user_1");
    assert_eq!(url, format!("{}/dashboard", w.app));
    assert_eq!(w.fapi.handshake_count(), 1);
}

#[cfg(feature = "sessions")]
#[tokio::test]
async fn with_a_refresh_cookie_the_token_is_refreshed_without_a_trip() {
    let w = world(FrontendInstance::Development, true).await;
    w.sign_in().await;
    w.wait_for_expiry().await;
    let (url, body) = w.load().await;
    assert_eq!(body, "signed in as user_1");
    assert_eq!(url, format!("{}/dashboard", w.app));
    assert_eq!(
        w.fapi.handshake_count(),
        0,
        "refreshed through the Backend API"
    );
}
