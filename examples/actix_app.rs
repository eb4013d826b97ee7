//! An actix-web app protected by Clerk session tokens (feature `actix`): the same request
//! check as the tower layer.
//!
//! ```text
//! cargo run --example actix_app --features actix,mock
//! cargo run --example actix_app --features actix,mock -- --self-test   # call each route, then exit
//! ```
//!
//! Routes: `GET /` (public: greets a signed-in user) and `GET /api/me` (401 JSON without a
//! valid token). With no `CLERK_SECRET_KEY` it starts the embedded mock on 127.0.0.1 and
//! prints a curl line with a token the mock minted (signed with its **test** key).

use std::process::ExitCode;

use actix_web::{web, App, HttpServer};
use clerk_tower::auth::actix::ClerkMiddleware;
use clerk_tower::auth::{Claims, Verifier};
use clerk_tower::mock::MockClerk;
use clerk_tower::Client;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn home(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!("hello, {}\n", c.sub),
        None => "hello, stranger\n".to_owned(),
    }
}

async fn me(claims: Claims) -> web::Json<serde_json::Value> {
    web::Json(serde_json::json!({"user_id": claims.sub, "session_id": claims.sid}))
}

#[actix_web::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("actix_app failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let (client, mock, _backend) = match std::env::var("CLERK_SECRET_KEY") {
        Ok(key) if !self_test && !key.is_empty() => (Client::from_env()?, None, None),
        _ => {
            let mock = MockClerk::new();
            let backend = mock.serve().await?;
            let client = Client::builder()
                .secret_key(MockClerk::DEFAULT_SECRET_KEY)
                .base_url(backend.base_url())
                .build()?;
            (client, Some(mock), Some(backend))
        }
    };
    let verifier = Verifier::builder().client(client).build()?;
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::scope("/api")
                    .wrap(ClerkMiddleware::required(verifier.clone()))
                    .route("/me", web::get().to(me)),
            )
            .service(
                web::resource("/")
                    .wrap(ClerkMiddleware::optional(verifier.clone()))
                    .route(web::get().to(home)),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", if self_test { 0 } else { 3002 }))?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or("the server bound no address")?;
    let running = server.run();
    let handle = running.handle();
    let base = format!("http://{addr}");
    let token = match &mock {
        Some(mock) => Some(mock.session_token("user_demo")?),
        None => None,
    };
    if !self_test {
        println!("actix_app on {base}");
        if let Some(token) = &token {
            println!("  curl -H 'Authorization: Bearer {token}' {base}/api/me");
        }
        running.await?;
        return Ok(());
    }
    let server_task = actix_web::rt::spawn(running);
    let result = self_test_calls(&base, token.as_deref().unwrap_or("")).await;
    handle.stop(true).await;
    let _ = server_task.await;
    result?;
    println!("actix_app self-test passed");
    Ok(())
}

async fn self_test_calls(base: &str, token: &str) -> Result<(), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let anonymous = http.get(format!("{base}/")).send().await?.text().await?;
    let signed_in = http
        .get(format!("{base}/"))
        .bearer_auth(token)
        .send()
        .await?
        .text()
        .await?;
    let refused = http.get(format!("{base}/api/me")).send().await?;
    let refused_status = refused.status().as_u16();
    let refused_body: serde_json::Value = refused.json().await?;
    let me: serde_json::Value = http
        .get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let checks = [
        (anonymous == "hello, stranger\n", "GET / without a token"),
        (signed_in == "hello, user_demo\n", "GET / with a token"),
        (
            refused_status == 401 && refused_body["reason"] == "missing_token",
            "GET /api/me without a token: 401 missing_token",
        ),
        (me["user_id"] == "user_demo", "GET /api/me with a token"),
    ];
    for (ok, what) in checks {
        if !ok {
            return Err(format!("self-test: {what}").into());
        }
        println!("  ok: {what}");
    }
    Ok(())
}
