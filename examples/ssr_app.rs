//! A server-rendered axum app whose pages stay signed in across the 60-second session token:
//! cookie sessions with Clerk's handshake (`Authenticator::handshake`).
//!
//! ```text
//! cargo run --example ssr_app --features axum,mock
//! cargo run --example ssr_app --features axum,mock -- --self-test   # a browser's round trip, then exit
//! ```
//!
//! Pages: `GET /` (public: says who is signed in) and `GET /dashboard` (protected: sends a
//! signed-out browser to the sign-in page). With no `CLERK_PUBLISHABLE_KEY` it starts the
//! embedded mock's Backend API and Frontend API on 127.0.0.1 (session tokens live 10 s there,
//! so the handshake shows up quickly) and prints a sign-in link to open in a browser. With
//! `CLERK_PUBLISHABLE_KEY` and `CLERK_SECRET_KEY` set it runs against your Clerk instance
//! (`CLERK_SIGN_IN_URL`: your sign-in page, e.g. the Account Portal's). The app listens on
//! `APP_ADDR` (default `127.0.0.1:3001`, or a free port if it is taken).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use clerk_tower::auth::{Authenticator, Claims, Handshake, SessionLayer, Verifier};
use clerk_tower::mock::{FrontendInstance, FrontendServer, MockClerk, MockServer};
use clerk_tower::Client;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
struct AppState {
    sign_in_url: String,
}

/// What runs besides the app when there are no Clerk keys: the mock's two APIs.
struct Embedded {
    _backend: MockServer,
    frontend: FrontendServer,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssr_app failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let listener = bind().await?;
    let app_url = format!("http://{}", listener.local_addr()?);
    let (client, publishable_key, embedded) = match std::env::var("CLERK_PUBLISHABLE_KEY") {
        Ok(pk) if !self_test && !pk.is_empty() => (Client::from_env()?, pk, None),
        _ => {
            let mock = MockClerk::new();
            let backend = mock.serve().await?;
            let frontend = mock.serve_frontend(FrontendInstance::Development).await?;
            let lifetime = if self_test { 2 } else { 10 };
            frontend.set_token_lifetime(Duration::from_secs(lifetime));
            let client = Client::builder()
                .secret_key(MockClerk::DEFAULT_SECRET_KEY)
                .base_url(backend.base_url())
                .build()?;
            let pk = frontend.publishable_key().to_owned();
            (
                client,
                pk,
                Some(Embedded {
                    _backend: backend,
                    frontend,
                }),
            )
        }
    };
    let sign_in_url = match &embedded {
        Some(e) => format!(
            "{}/__mock/sign_in?user_id=user_demo&redirect_url={}",
            e.frontend.url(),
            encode(&format!("{app_url}/dashboard"))
        ),
        None => std::env::var("CLERK_SIGN_IN_URL").unwrap_or_else(|_| "/".to_owned()),
    };
    let verifier = Verifier::builder()
        .client(client.clone())
        .leeway(Duration::ZERO)
        .build()?;
    let handshake = Handshake::builder(&publishable_key)
        .origin(app_url.clone())
        .build()?;
    let auth = Authenticator::new(verifier).handshake(handshake);
    let app = Router::new()
        .route("/", get(home))
        .route("/dashboard", get(dashboard))
        .layer(SessionLayer::optional(auth))
        .with_state(AppState {
            sign_in_url: sign_in_url.clone(),
        });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    if self_test {
        let result = match &embedded {
            Some(e) => self_test_round_trip(&app_url, &e.frontend, &sign_in_url).await,
            None => Err("the self-test runs against the embedded mock only".into()),
        };
        server.abort();
        result?;
        println!("ssr_app self-test passed");
        return Ok(());
    }
    println!("ssr_app on {app_url}");
    println!("  public page:    {app_url}/");
    println!("  protected page: {app_url}/dashboard");
    if embedded.is_some() {
        println!("  sign in (mock): {sign_in_url}");
        println!(
            "  session tokens live 10 s: reload the dashboard after that to see the handshake"
        );
    }
    server.await??;
    Ok(())
}

async fn bind() -> std::io::Result<tokio::net::TcpListener> {
    let addr: SocketAddr = std::env::var("APP_ADDR")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3001)));
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(_) => tokio::net::TcpListener::bind(SocketAddr::from((addr.ip(), 0))).await,
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    ))
}

async fn home(State(state): State<AppState>, claims: Option<Claims>) -> Html<String> {
    let who = match &claims {
        Some(c) => format!("<p>Signed in as <b>{}</b>.</p>", escape(&c.sub)),
        None => format!(
            "<p>Signed out. <a href=\"{}\">Sign in</a></p>",
            escape(&state.sign_in_url)
        ),
    };
    page(
        "Home",
        &format!("{who}<p><a href=\"/dashboard\">Dashboard</a></p>"),
    )
}

async fn dashboard(State(state): State<AppState>, claims: Option<Claims>) -> Response {
    match claims {
        Some(c) => page(
            "Dashboard",
            &format!(
                "<p>Welcome, <b>{}</b> (session {}).</p>",
                escape(&c.sub),
                escape(c.sid.as_deref().unwrap_or(""))
            ),
        )
        .into_response(),
        None => Redirect::to(&state.sign_in_url).into_response(),
    }
}

/// A browser's round trip: sign in, let the token expire, load the dashboard again (through
/// the handshake), and check the page each time.
async fn self_test_round_trip(
    app: &str,
    frontend: &FrontendServer,
    sign_in_url: &str,
) -> Result<(), BoxError> {
    let check = |ok: bool, what: &str| -> Result<(), BoxError> {
        if ok {
            println!("  ok: {what}");
            Ok(())
        } else {
            Err(format!("self-test: {what}").into())
        }
    };
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("sec-fetch-dest", "document".parse()?);
    headers.insert("accept", "text/html".parse()?);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()?;
    let home = browser.get(format!("{app}/")).send().await?.text().await?;
    check(home.contains("Signed out"), "the public page, signed out")?;
    let signed_in = browser.get(sign_in_url).send().await?;
    let url = signed_in.url().to_string();
    let body = signed_in.text().await?;
    check(
        url == format!("{app}/dashboard") && body.contains("Welcome, <b>user_demo</b>"),
        "signed in, on the dashboard",
    )?;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let before = frontend.handshake_count();
    let again = browser.get(format!("{app}/dashboard")).send().await?;
    let url = again.url().to_string();
    let body = again.text().await?;
    check(
        url == format!("{app}/dashboard") && body.contains("Welcome, <b>user_demo</b>"),
        "after the token expired, still signed in on the dashboard",
    )?;
    check(
        frontend.handshake_count() == before + 1,
        "through one handshake with the Frontend API",
    )?;
    Ok(())
}
