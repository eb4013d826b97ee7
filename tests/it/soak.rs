//! Soak: 2,000 calls (mixed list / create / delete, 16 concurrent workers) over loopback TCP
//! against the mock with a 10 % random fault rate from a fixed seed, every fault of the fault
//! matrix in the mix. Bounded at 20 s of wall time.
//!
//! The fault draws are fixed by the seed in arrival order; which call meets which fault also
//! depends on how the workers interleave, so the assertions are invariants that hold for every
//! interleaving, never counts of a particular run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::e2e::*;
use clerk_tower::error::{TimeoutKind, TransportErrorKind};
use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation, RecordedRequest};
use clerk_tower::{Client, Error};
use tokio::task::JoinSet;

const FIXED_SEED: u64 = 0x5EED_0003;
const RATE: f64 = 0.10;
const CALLS: usize = 2_000;
const WORKERS: usize = 16;
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(150);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
const WALL_LIMIT: Duration = Duration::from_secs(20);

/// The whole fault set of the matrix, with short delays.
fn faults() -> Vec<Fault> {
    vec![
        Fault::status(503),
        Fault::status(503).applied(),
        Fault::rate_limited("1"),
        Fault::rate_limited("Wed, 21 Oct 2015 07:28:00 GMT"), // an HTTP date in the past: no wait
        Fault::delay_headers(Duration::from_millis(300)),     // beyond the attempt timeout
        Fault::delay_headers(Duration::from_millis(20)),      // slow but in time
        Fault::delay_body(Duration::from_millis(300)),
        Fault::close_before_response(),
        Fault::close_mid_body(),
        Fault::truncated_json(),
        Fault::malformed_json(),
        Fault::html_error_page(502),
    ]
}

/// What one call did, as the caller saw it.
#[derive(Debug)]
enum Call {
    List(Result<(), Error>),
    /// The identifier asked for (unique per call) and the id Clerk returned.
    Create {
        identifier: String,
        result: Result<String, Error>,
    },
    /// The id (of an identifier this worker created) and its identifier.
    Delete {
        id: String,
        identifier: String,
        result: Result<(), Error>,
    },
}

/// A tiny deterministic generator for the workers' choices (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One worker: 30 % lists, 30 % deletes of an identifier it created (when it has one), the
/// rest creates of identifiers unique to the call.
async fn worker(client: Client, w: usize, calls: usize) -> Vec<Call> {
    let mut rng = Rng(FIXED_SEED ^ (w as u64).wrapping_mul(0x1000_0001));
    let mut live: Vec<(String, String)> = Vec::new();
    let mut log = Vec::with_capacity(calls);
    let ids = client.allowlist_identifiers();
    for i in 0..calls {
        let roll = rng.next() % 10;
        if roll < 3 {
            let page = ids.list().paginated(true).limit(20);
            log.push(Call::List(page.await.map(drop)));
        } else if roll < 6 && !live.is_empty() {
            let (id, identifier) = live.swap_remove((rng.next() % live.len() as u64) as usize);
            let result = ids.delete(&id).await.map(|d| assert!(d.deleted));
            log.push(Call::Delete {
                id,
                identifier,
                result,
            });
        } else {
            let identifier = format!("w{w}-c{i}@example.com");
            let result = ids.create(identifier.clone()).await.map(|c| {
                assert_eq!(c.identifier, identifier);
                c.id
            });
            if let Ok(id) = &result {
                live.push((id.clone(), identifier.clone()));
            }
            log.push(Call::Create { identifier, result });
        }
    }
    log
}

/// Every error must be one of these; returns a label for the summary.
fn classify(op: MockOperation, err: &Error) -> String {
    match err {
        Error::Api(e) => {
            let status = e.status().as_u16();
            match status {
                429 | 502 | 503 => {}
                // A DELETE whose first attempt was applied but whose answer was lost: the
                // retry finds nothing. Its Clerk body may itself be cut or garbled by a
                // truncated / malformed JSON fault, and is then kept raw.
                404 if op == MockOperation::Delete && err.attempts() >= 2 => assert!(
                    e.code() == Some("resource_not_found") || e.raw_body().is_some(),
                    "{err:?}"
                ),
                _ => panic!("{op}: unexpected API error {err:?}"),
            }
            format!("api {status}")
        }
        Error::Timeout(t) => {
            assert_eq!(
                t.kind(),
                TimeoutKind::Attempt,
                "{op}: the total timeout is never reached: {err:?}"
            );
            "attempt timeout".to_owned()
        }
        Error::Transport(t) => {
            assert_eq!(t.kind(), TransportErrorKind::Io, "{op}: {err:?}");
            "transport io".to_owned()
        }
        Error::Decode(d) => {
            assert_eq!(d.status().as_u16(), 200, "{op}: {err:?}");
            "decode".to_owned()
        }
        other => panic!("{op}: unexpected error {other:?}"),
    }
}

/// The attempts a failed call reports agree with the requests the mock saw for it; returns
/// how many of them the mock never saw.
///
/// The mock never sees more requests than the client says it sent. It may see fewer: an
/// attempt whose deadline passed before the server read the request (a loaded machine) is
/// gone before the mock records it. A decode error always comes from an answer the mock sent,
/// so the mock saw at least that attempt.
fn check_attempts(label: &str, err: &Error, seen: &[&RecordedRequest]) -> usize {
    let reported = err.attempts() as usize;
    assert!((1..=4).contains(&reported), "{label}: {err:?}");
    if matches!(err, Error::Decode(_)) {
        assert!(!seen.is_empty(), "{label}: {err:?}");
    }
    assert!(
        seen.len() <= reported,
        "{label}: {err:?}, the mock saw more: {seen:#?}"
    );
    if seen.is_empty() {
        assert!(
            err.is_timeout(),
            "{label}: only a timeout ends a call the mock never saw: {err:?}"
        );
    }
    reported - seen.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_2000_calls_with_random_faults() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks_before = metrics.num_alive_tasks();
    let started = Instant::now();

    // The audit below reads the identifier of every create from its recorded body.
    let mock = MockClerk::new()
        .with_seed(FIXED_SEED)
        .with_request_bodies(true);
    mock.set_fault_plan(FaultPlan::new().random(FIXED_SEED, RATE, faults()));
    let server = mock.serve().await.expect("bind 127.0.0.1");
    let client = tcp_builder(&server)
        .attempt_timeout(ATTEMPT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .build()
        .expect("valid config");

    let mut workers = JoinSet::new();
    for w in 0..WORKERS {
        workers.spawn(worker(client.clone(), w, CALLS / WORKERS));
    }
    let mut calls = Vec::with_capacity(CALLS);
    let joined = tokio::time::timeout(WALL_LIMIT, async {
        while let Some(done) = workers.join_next().await {
            calls.extend(done.expect("no worker panicked"));
        }
    })
    .await;
    assert!(
        joined.is_ok(),
        "the soak did not finish within {WALL_LIMIT:?}"
    );
    assert_eq!(calls.len(), CALLS);

    // Stop everything before reading the log, so that it is final.
    drop(client);
    server.shutdown().await;
    let requests = mock.requests();
    let store: BTreeMap<String, String> = mock
        .identifiers()
        .into_iter()
        .map(|i| (i.identifier, i.id))
        .collect();

    // The requests, by the identifier a create asked for and by the id a delete targeted.
    let mut creates: BTreeMap<String, Vec<&RecordedRequest>> = BTreeMap::new();
    let mut deletes: BTreeMap<String, Vec<&RecordedRequest>> = BTreeMap::new();
    for r in &requests {
        match r.operation {
            Some(MockOperation::CreateAllowlistIdentifier) => creates
                .entry(created_identifier(r).expect("create body"))
                .or_default()
                .push(r),
            Some(MockOperation::DeleteAllowlistIdentifier) => deletes
                .entry(deleted_id(r).expect("delete path"))
                .or_default()
                .push(r),
            Some(MockOperation::ListAllowlistIdentifiers) => {}
            _ => panic!("a request the client should never send: {r:?}"),
        }
    }
    let faulted = requests.iter().filter(|r| r.fault.is_some()).count();
    let applied = |rs: &[&RecordedRequest]| rs.iter().filter(|r| r.applied).count();

    // The store invariant. Creates ask for identifiers unique to the call, and a worker
    // deletes only ids it created, once. With
    //   OK_CREATES   = identifiers of create calls that returned Ok,
    //   LOST_CREATES = identifiers of create calls that returned an error although one of
    //                  their requests was applied (recorded `applied`; the answer was lost:
    //                  attempt timeout, reset mid-body, truncated or malformed JSON, a 503
    //                  after the write),
    //   DELETED      = identifiers of delete calls that returned Ok, or returned an error
    //                  although one of their requests was applied (a lost answer),
    // the final store holds exactly (OK_CREATES ∪ LOST_CREATES) \ DELETED, each with the id
    // the create call returned when it returned one; no create call ever stored two
    // identifiers (at most one applied request each), and the mock applied no create that
    // no call asked for.
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let mut ok_ids: BTreeMap<String, String> = BTreeMap::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut lost_creates = 0;
    let mut lost_deletes = 0;
    let mut list_requests_expected = 0;
    let mut unseen_attempts = 0;

    for call in &calls {
        match call {
            Call::List(result) => {
                list_requests_expected += 1;
                let label = match result {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => classify(MockOperation::List, e),
                };
                *outcomes.entry(format!("list {label}")).or_default() += 1;
            }
            Call::Create { identifier, result } => {
                let label = format!("create {identifier}");
                let seen = creates
                    .get(identifier)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let n_applied = applied(seen);
                assert!(
                    n_applied <= 1,
                    "{label}: {n_applied} identifiers from one call: {seen:#?}"
                );
                // A create is only retried after a 429 (Clerk did no work).
                for r in &seen[..seen.len().saturating_sub(1)] {
                    assert_eq!(
                        r.status,
                        Some(http::StatusCode::TOO_MANY_REQUESTS),
                        "{label}: retried after {r:#?}"
                    );
                }
                match result {
                    Ok(id) => {
                        assert_eq!(
                            n_applied, 1,
                            "{label}: returned Ok but not applied: {seen:#?}"
                        );
                        assert!(seen.last().unwrap().applied, "{label}");
                        expected.insert(identifier.clone());
                        ok_ids.insert(identifier.clone(), id.clone());
                        *outcomes.entry("create ok".to_owned()).or_default() += 1;
                    }
                    Err(e) => {
                        let kind = classify(MockOperation::Create, e);
                        unseen_attempts += check_attempts(&label, e, seen);
                        if n_applied == 1 {
                            lost_creates += 1;
                            expected.insert(identifier.clone());
                        }
                        *outcomes.entry(format!("create {kind}")).or_default() += 1;
                    }
                }
            }
            Call::Delete {
                id,
                identifier,
                result,
            } => {
                let label = format!("delete {id} ({identifier})");
                let seen = deletes.get(id).map(Vec::as_slice).unwrap_or_default();
                let n_applied = applied(seen);
                assert!(n_applied <= 1, "{label}: {seen:#?}");
                match result {
                    Ok(()) => {
                        assert_eq!(
                            n_applied, 1,
                            "{label}: returned Ok but not applied: {seen:#?}"
                        );
                        deleted.insert(identifier.clone());
                        *outcomes.entry("delete ok".to_owned()).or_default() += 1;
                    }
                    Err(e) => {
                        let kind = classify(MockOperation::Delete, e);
                        unseen_attempts += check_attempts(&label, e, seen);
                        if e.is_not_found() {
                            assert_eq!(
                                n_applied, 1,
                                "{label}: a 404 only after an applied attempt"
                            );
                        }
                        if n_applied == 1 {
                            lost_deletes += 1;
                            deleted.insert(identifier.clone());
                        }
                        *outcomes.entry(format!("delete {kind}")).or_default() += 1;
                    }
                }
            }
        }
    }
    let expected: BTreeSet<String> = expected.difference(&deleted).cloned().collect();
    let actual: BTreeSet<String> = store.keys().cloned().collect();
    assert_eq!(
        actual.symmetric_difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "the store differs from the calls' outcomes"
    );
    for (identifier, id) in &store {
        if let Some(ok_id) = ok_ids.get(identifier) {
            assert_eq!(id, ok_id, "{identifier}: the id the create returned");
        }
    }
    let applied_creates = creates.values().map(|rs| applied(rs)).sum::<usize>();
    assert_eq!(
        applied_creates,
        ok_ids.len() + lost_creates,
        "no applied create outside a call"
    );
    let list_requests = requests
        .iter()
        .filter(|r| r.operation == Some(MockOperation::List))
        .count();
    assert!(list_requests <= 4 * list_requests_expected);
    // The faults really happened (10 % of the requests, give or take).
    assert!(
        faulted * 20 > requests.len() && faulted * 6 < requests.len(),
        "{faulted} of {}",
        requests.len()
    );

    // No task left behind: the workers are joined, the client dropped, the server shut down;
    // hyper's connection tasks end as their sockets close.
    let mut alive = metrics.num_alive_tasks();
    let wait = Instant::now();
    while alive > tasks_before && wait.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        alive = metrics.num_alive_tasks();
    }
    assert_eq!(alive, tasks_before, "tasks leaked");

    let elapsed = started.elapsed();
    eprintln!(
        "soak: {CALLS} calls, {} requests ({faulted} faulted), {lost_creates} lost creates, \
         {lost_deletes} lost deletes, {unseen_attempts} attempts of failed calls unseen by the mock, \
         {} identifiers stored, {elapsed:?}\n{outcomes:#?}",
        requests.len(),
        store.len()
    );
    assert!(elapsed < WALL_LIMIT, "took {elapsed:?}");
}
