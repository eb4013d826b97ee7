//! The quick start: create an allow-list identifier, list the allow-list, delete the identifier.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no `CLERK_SECRET_KEY` in the environment it starts the embedded mock of Clerk on
//! 127.0.0.1 and talks to it over TCP; with `CLERK_SECRET_KEY` set it talks to real Clerk (or
//! to `CLERK_API_URL` when that is set too).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_tower::mock::MockClerk;
use clerk_tower::{Client, Error};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            if let Some(id) = e.clerk_trace_id() {
                eprintln!("  Clerk trace id: {id}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    // Keep the mock server alive until the end of `run`.
    let (client, _mock_server) =
        if std::env::var_os("CLERK_SECRET_KEY").is_some_and(|k| !k.is_empty()) {
            let client = Client::builder()
                .load_env()
                .user_agent("clerk-tower-quickstart")
                .timeout(Duration::from_secs(20))
                .build()?;
            println!(
                "Using Clerk at {} (CLERK_SECRET_KEY is set)",
                client.base_url()
            );
            (client, None)
        } else {
            let mock = MockClerk::new();
            let server = mock.serve().await.map_err(|e| {
                Error::from_boxed(format!("could not start the embedded mock: {e}").into())
            })?;
            println!(
                "No CLERK_SECRET_KEY set: using the embedded Clerk mock at {}",
                server.base_url()
            );
            let client = Client::builder()
                .secret_key(MockClerk::DEFAULT_SECRET_KEY)
                .base_url(server.base_url())
                .user_agent("clerk-tower-quickstart")
                .build()?;
            (client, Some(server))
        };
    let allowlist = client.allowlist_identifiers();

    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let identifier = format!("quickstart+{millis}@example.com");
    let created = allowlist.create(&identifier).await?;
    println!(
        "1. created  {} ({}, {}) at {} ms",
        created.id, created.identifier, created.identifier_type, created.created_at
    );

    let page = allowlist.list().paginated(true).limit(10).await?;
    let total = page.total_count.unwrap_or_default();
    println!(
        "2. listed   {} of total_count={total} identifiers on the allow-list:",
        page.data.len(),
    );
    for item in &page.data {
        println!("             - {} {}", item.id, item.identifier);
    }

    // Every page, 500 at a time, as a stream of items (no id is yielded twice).
    let everyone = allowlist.list().paginate().items().collect_all().await?;
    println!("3. paged    through all {} identifiers", everyone.len());
    if !everyone.iter().any(|i| i.id == created.id) {
        return Err(Error::from_boxed(
            "the identifier just created is missing from the list".into(),
        ));
    }

    let deleted = allowlist.delete(&created.id).await?;
    println!(
        "4. deleted  {} (object={}, deleted={})",
        deleted.id.as_deref().unwrap_or(&created.id),
        deleted.object,
        deleted.deleted
    );

    match allowlist.delete(&created.id).await {
        Err(e) if e.is_not_found() => println!("5. deleting it again is a typed 404: {e}"),
        Err(e) => return Err(e),
        Ok(_) => {
            return Err(Error::from_boxed(
                "a second delete of the same id succeeded".into(),
            ))
        }
    }
    println!("Done.");
    Ok(())
}
