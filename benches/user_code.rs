//! How to benchmark *your own* code that calls Clerk: criterion plus the in-process mock
//! transport (feature `mock`). No socket, no Clerk account, no network noise: what you
//! measure is your code and the client stack.
//!
//! Copy this file into your project's `benches/`, with in `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! clerk-tower = { version = "0.1", features = ["mock"] }
//! criterion = { version = "0.5", features = ["async_tokio"] }
//! tokio = { version = "1", features = ["rt"] }
//!
//! [[bench]]
//! name = "user_code"
//! harness = false
//! ```
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench user_code
//! ```

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use clerk_tower::mock::MockClerk;
use clerk_tower::{Client, Error};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

// ---------------------------------------------------------------------------------------------
// The code under test: yours. Here, a function that makes the allow-list contain every
// address of `wanted`, and says how many it had to add.
// ---------------------------------------------------------------------------------------------

async fn sync_allowlist(client: &Client, wanted: &[String]) -> Result<usize, Error> {
    let allowlist = client.allowlist_identifiers();
    let current = allowlist.list().await?;
    let present: HashSet<&str> = current.data.iter().map(|a| a.identifier.as_str()).collect();
    let mut added = 0;
    for address in wanted.iter().filter(|a| !present.contains(a.as_str())) {
        allowlist.create(address.as_str()).await?;
        added += 1;
    }
    Ok(added)
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

/// A client whose transport is the mock: every call stays in memory, through the whole stack
/// (auth, retries, timeouts, error decoding) exactly as in production.
fn client_for(mock: &MockClerk) -> Client {
    Client::builder()
        .secret_key(MockClerk::DEFAULT_SECRET_KEY)
        .transport(mock.service())
        .build()
        .expect("client")
}

fn addresses(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("member.{i}@example.com")).collect()
}

fn bench_sync(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let wanted = addresses(100);
    let mut group = c.benchmark_group("user_code_sync_allowlist");

    // Nothing to do: one list call of 100 identifiers. The mock's state does not change, so
    // one mock serves every iteration.
    let mock = MockClerk::new();
    for address in &wanted {
        mock.insert(address).expect("insert");
    }
    let client = client_for(&mock);
    group.bench_function("in_sync_100", |b| {
        b.to_async(&rt).iter(|| async {
            assert_eq!(
                black_box(sync_allowlist(&client, &wanted).await.expect("sync")),
                0
            )
        })
    });

    // Ten to add: each iteration needs a fresh mock (the previous one already has them), so
    // the state is built in the untimed setup of `iter_batched`.
    group.bench_function("add_10_of_100", |b| {
        b.to_async(&rt).iter_batched(
            || {
                let mock = MockClerk::new();
                for address in &wanted[10..] {
                    mock.insert(address).expect("insert");
                }
                client_for(&mock)
            },
            |client| {
                let wanted = &wanted;
                async move {
                    assert_eq!(
                        black_box(sync_allowlist(&client, wanted).await.expect("sync")),
                        10
                    )
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_sync
}
criterion_main!(benches);
