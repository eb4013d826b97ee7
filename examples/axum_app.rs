//! An axum app protected by Clerk session tokens, with a Clerk webhook endpoint.
//!
//! ```text
//! cargo run --example axum_app --features axum,mock
//! cargo run --example axum_app --features axum,mock -- --self-test   # call every route, then exit
//! ```
//!
//! Routes:
//! - `GET /`: public; greets the signed-in user when the request has a valid token.
//! - `GET /api/me`, `GET /api/org`: protected (401 JSON without a valid token).
//! - `GET /machine/whoami` (with the `machine_auth` feature): for machines, an API key or an
//!   M2M token (a session is 401 `token_type_not_accepted`); the keys are checked with Clerk,
//!   behind the verifier's caches and call limit.
//! - `POST /webhooks/clerk`: a Clerk webhook (Svix signature checked).
//! - `GET /dev/token?user=user_123`: with the embedded mock only, mints a session token.
//!
//! With no `CLERK_SECRET_KEY` (and no `CLERK_JWT_KEY`) it starts the embedded Clerk mock on
//! 127.0.0.1: the verifier fetches the mock's key set over TCP, the mock mints tokens signed
//! with its **test** key, and the app prints curl lines to call it. With `CLERK_SECRET_KEY`
//! (or `CLERK_JWT_KEY`) set it verifies real Clerk tokens; set `CLERK_AUTHORIZED_PARTIES`
//! (comma-separated origins) and `CLERK_WEBHOOK_SIGNING_SECRET` too.
//! The app listens on `APP_ADDR` (default `127.0.0.1:3000`, or a free port if it is taken).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use clerk_tower::auth::{Claims, SessionLayer, Verifier, Webhook};
use clerk_tower::mock::{MockClerk, MockServer};
use clerk_tower::Client;
use serde_json::{json, Value};

/// The origin the demo tokens are minted for, and the app's authorized party.
const DEMO_ORIGIN: &str = "http://localhost:3000";
/// The demo webhook signing secret used with the mock. A test secret: never use it for real.
const DEMO_WEBHOOK_SECRET: &str = "whsec_ZGVtbyBzZWNyZXQsIHRlc3RzIG9ubHkh";

#[derive(Clone)]
struct AppState {
    webhook: Webhook,
    /// The embedded mock, when running without Clerk credentials (mints demo tokens).
    mock: Option<MockClerk>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum_app failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let real = ["CLERK_SECRET_KEY", "CLERK_JWT_KEY"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));

    // Keep the mock server alive as long as the app.
    let (verifier, state, _mock_server, client): (
        Verifier,
        AppState,
        Option<MockServer>,
        Option<Client>,
    ) = if real {
        let parties: Vec<String> = std::env::var("CLERK_AUTHORIZED_PARTIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let verifier = Verifier::builder()
            .load_env()
            .authorized_parties(parties)
            .build()?;
        let state = AppState {
            webhook: Webhook::from_env()?,
            mock: None,
        };
        (verifier, state, None, Client::from_env().ok())
    } else {
        let mock = MockClerk::new();
        let server = mock.serve().await?;
        println!(
            "No Clerk credentials: using the embedded Clerk mock at {}",
            server.base_url()
        );
        let client = Client::builder()
            .secret_key(MockClerk::DEFAULT_SECRET_KEY)
            .base_url(server.base_url())
            .build()?;
        let verifier = Verifier::builder()
            .client(client.clone())
            .authorized_parties([DEMO_ORIGIN])
            .build()?;
        let state = AppState {
            webhook: Webhook::new(DEMO_WEBHOOK_SECRET)?,
            mock: Some(mock),
        };
        (verifier, state, Some(server), Some(client))
    };

    let api = Router::new()
        .route("/me", get(me))
        .route("/org", get(org))
        .route_layer(SessionLayer::required(verifier.clone()));
    let app = Router::new()
        .route("/", get(home))
        .route("/dev/token", get(dev_token))
        .layer(SessionLayer::optional(verifier.clone()))
        .nest("/api", api)
        .route("/webhooks/clerk", post(clerk_webhook))
        .with_state(state.clone());
    #[cfg(feature = "machine_auth")]
    let app = match client {
        Some(client) => app.nest("/machine", machine_routes(verifier, client)?),
        None => app,
    };
    #[cfg(not(feature = "machine_auth"))]
    let _ = (verifier, client);

    let wanted: SocketAddr = std::env::var("APP_ADDR")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
    let listener = match tokio::net::TcpListener::bind(wanted).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?,
    };
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    println!("Listening on {base}");
    if let Some(mock) = &state.mock {
        print_curl_lines(&base, mock, &state.webhook)?;
    }

    if self_test {
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let result = self_test_routes(&base, &state).await;
        server.abort();
        return result;
    }
    axum::serve(listener, app).await?;
    Ok(())
}

/// `GET /`: public. `Option<Claims>`: the page works signed in or not.
async fn home(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!(
            "Hello, {}! (session {})\n",
            c.sub,
            c.sid.as_deref().unwrap_or("?")
        ),
        None => "Hello, stranger. Send a Clerk session token to be recognised.\n".to_owned(),
    }
}

/// `GET /api/me`: protected by the required layer; `Claims` is always there.
async fn me(claims: Claims) -> Json<Value> {
    Json(json!({
        "user_id": claims.sub,
        "session_id": claims.sid,
        "authorized_party": claims.azp,
        "expires_at": claims.exp,
        "impersonated_by": claims.act.as_ref().map(|a| &a.sub),
    }))
}

/// `GET /api/org`: protected, and needs an active organization with the admin role.
async fn org(claims: Claims) -> impl IntoResponse {
    match &claims.org {
        Some(org) if claims.has_role("org:admin") => (
            StatusCode::OK,
            Json(json!({"org_id": org.id, "slug": org.slug, "permissions": org.permissions})),
        ),
        Some(_) => (StatusCode::FORBIDDEN, Json(json!({"error": "admins only"}))),
        None => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "no active organization"})),
        ),
    }
}

/// `POST /webhooks/clerk`: the raw body and headers, exactly as received, go to the verifier.
async fn clerk_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    match state.webhook.verify(&headers, &body) {
        Ok(event) => {
            // `event.id` is the same on every retry of a delivery: process each id once.
            println!(
                "webhook {} {}: {}",
                event.id, event.event_type, event.data["id"]
            );
            (StatusCode::NO_CONTENT, String::new())
        }
        Err(e) => (e.status(), format!("{e}\n")),
    }
}

/// `GET /dev/token?user=...`: a fresh session token from the embedded mock (404 otherwise).
async fn dev_token(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let Some(mock) = state.mock else {
        return (StatusCode::NOT_FOUND, String::new());
    };
    let user = q.get("user").map_or("user_demo", String::as_str);
    match demo_token(&mock, user, q.contains_key("admin")) {
        Ok(token) => (StatusCode::OK, token),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn demo_token(mock: &MockClerk, user: &str, admin: bool) -> Result<String, BoxError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut claims = json!({"azp": DEMO_ORIGIN, "exp": now + 3600});
    if admin {
        claims["fea"] = json!("o:billing");
        claims["o"] =
            json!({"id": "org_demo", "rol": "admin", "slg": "demo", "per": "manage", "fpm": "1"});
    }
    Ok(mock.session_token_with(user, claims)?)
}

fn demo_webhook(webhook: &Webhook) -> Result<(String, i64, String, String), BoxError> {
    let body =
        json!({"type": "user.created", "object": "event", "timestamp": 1_700_000_000_000_i64,
                      "data": {"id": "user_demo", "object": "user"}})
        .to_string();
    let ts = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let id = "msg_demo".to_owned();
    let signature = webhook.sign(&id, ts, body.as_bytes());
    Ok((id, ts, signature, body))
}

fn print_curl_lines(base: &str, mock: &MockClerk, webhook: &Webhook) -> Result<(), BoxError> {
    let token = demo_token(mock, "user_demo", false)?;
    let (id, ts, signature, body) = demo_webhook(webhook)?;
    println!("\nTokens are minted by the mock with its TEST key (valid for one hour):\n");
    println!("  TOKEN={token}\n");
    println!("  curl {base}/                                         # public");
    println!("  curl -H \"Authorization: Bearer $TOKEN\" {base}/api/me  # protected: header");
    println!("  curl --cookie \"__session=$TOKEN\" {base}/api/me        # protected: cookie");
    println!("  curl -i {base}/api/me                                # 401 with a JSON reason");
    println!(
        "  curl -H \"Authorization: Bearer $(curl -s '{base}/dev/token?admin')\" {base}/api/org"
    );
    println!(
        "  curl -i -X POST {base}/webhooks/clerk -H 'svix-id: {id}' -H 'svix-timestamp: {ts}' \\\n       -H 'svix-signature: {signature}' -d '{body}'\n"
    );
    Ok(())
}

/// `/machine/whoami`: API keys and M2M tokens only, verified with Clerk (cached, at most 20
/// verify calls a second).
#[cfg(feature = "machine_auth")]
fn machine_routes(verifier: Verifier, client: Client) -> Result<Router, BoxError> {
    use clerk_tower::auth::{AcceptsToken, Auth, Authenticator, MachineVerifier, TokenType};

    async fn whoami(auth: Auth) -> Json<Value> {
        Json(match auth {
            Auth::ApiKey(key) => json!({"api_key": key.name, "subject": key.subject}),
            Auth::M2m(m2m) => json!({"machine": m2m.machine_id, "scopes": m2m.scopes}),
            other => json!({"caller": format!("{:?}", other.token_type())}),
        })
    }
    let auth = Authenticator::new(verifier)
        .machine_tokens(MachineVerifier::builder(client).build()?)
        .accepts(AcceptsToken::only(TokenType::ApiKey).and(TokenType::M2mToken));
    Ok(Router::new()
        .route("/whoami", get(whoami))
        .layer(SessionLayer::required(auth)))
}

/// Calls every route the way the curl lines do and checks the answers.
async fn self_test_routes(base: &str, state: &AppState) -> Result<(), BoxError> {
    use http_body_util::{BodyExt, Full};
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mock = state
        .mock
        .as_ref()
        .ok_or("--self-test needs the embedded mock")?;
    let token = demo_token(mock, "user_demo", false)?;
    let admin = demo_token(mock, "user_admin", true)?;
    let (id, ts, signature, body) = demo_webhook(&state.webhook)?;
    // (method, path, headers, body, expected status)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, String, u16);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/", vec![], String::new(), 200),
        (
            "GET",
            "/",
            vec![("cookie", format!("__session={token}"))],
            String::new(),
            200,
        ),
        (
            "GET",
            "/api/me",
            vec![("authorization", format!("Bearer {token}"))],
            String::new(),
            200,
        ),
        ("GET", "/api/me", vec![], String::new(), 401),
        (
            "GET",
            "/api/org",
            vec![("authorization", format!("Bearer {token}"))],
            String::new(),
            403,
        ),
        (
            "GET",
            "/api/org",
            vec![("authorization", format!("Bearer {admin}"))],
            String::new(),
            200,
        ),
        (
            "POST",
            "/webhooks/clerk",
            vec![
                ("svix-id", id.clone()),
                ("svix-timestamp", ts.to_string()),
                ("svix-signature", signature.clone()),
            ],
            body.clone(),
            204,
        ),
        (
            "POST",
            "/webhooks/clerk",
            vec![
                ("svix-id", id),
                ("svix-timestamp", ts.to_string()),
                ("svix-signature", signature),
            ],
            body.replace("user_demo", "user_evil"),
            401,
        ),
    ];
    #[cfg(feature = "machine_auth")]
    let cases = {
        use clerk_tower::mock::TokenClass;
        let mut cases = cases;
        let key = mock.mint(TokenClass::ApiKey, Some("user_demo"))?;
        let m2m = mock.mint(TokenClass::M2mToken, None)?;
        for (auth, want) in [
            (key, 200),
            (m2m, 200),
            ("ak_not_a_key_the_mock_made".to_owned(), 401),
            (token.clone(), 401),
        ] {
            let header = vec![("authorization", format!("Bearer {auth}"))];
            cases.push(("GET", "/machine/whoami", header, String::new(), want));
        }
        cases
    };
    let mut failed = 0;
    for (method, path, headers, body, want) in cases {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let res = http
            .request(req.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = res.status().as_u16();
        let text =
            String::from_utf8_lossy(&res.into_body().collect().await?.to_bytes()).into_owned();
        let mark = if status == want { "ok  " } else { "FAIL" };
        println!("{mark} {method} {path} -> {status} {}", text.trim());
        if status != want {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} self-test request(s) failed").into());
    }
    println!("self-test passed");
    Ok(())
}
