//! `sync`: plans from the current list, applies under the rate limiter, converges from any
//! state, and a second run has nothing to do. Paused time, socket-free mock.

use std::collections::BTreeSet;
use std::time::Duration;

use clerk_tower::layer::{RateLimitConfig, RateLimitLayer};
use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation};
use clerk_tower::sync::{parse_list, Identifier, MaxDeletes, Notify, SyncAction, SyncError};
use clerk_tower::{Client, Error, RetryConfig};

use crate::e2e::service_builder;

/// The mock enforcing 20 requests per second, and a client paced for it.
fn limited() -> (MockClerk, Client, RateLimitLayer) {
    let mock = MockClerk::new()
        .with_rate_limit(20, Duration::from_secs(1))
        .unwrap()
        .with_request_bodies(true);
    let limiter = RateLimitLayer::new(RateLimitConfig::new(20, Duration::from_secs(1))).unwrap();
    let client = service_builder(&mock)
        .layer(limiter.clone())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    (mock, client, limiter)
}

fn ids<'a>(list: impl IntoIterator<Item = &'a str>) -> Vec<Identifier> {
    list.into_iter().map(|s| s.parse().unwrap()).collect()
}

fn allowlist(mock: &MockClerk) -> BTreeSet<String> {
    mock.identifiers()
        .into_iter()
        .map(|i| i.identifier)
        .collect()
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

#[tokio::test(start_paused = true)]
async fn converges_from_preexisting_entries_and_a_second_run_has_nothing_to_do() {
    let (mock, client, limiter) = limited();
    mock.insert("Ada@Example.com").unwrap(); // desired, listed with other case
    mock.insert("+15555550100").unwrap(); // desired
    mock.insert("old@example.com").unwrap(); // not desired
    let file = "identifier\nada@example.com\n+1 (555) 555-0100\nnew@example.com\nNEW@example.com\n\
                not an identifier\n555-0199\n*@partner.example\n0x52908400098527886E0F7030069857D2E4169EE7\n";
    let parsed = parse_list(file).unwrap();
    assert_eq!(parsed.identifiers.len(), 5);
    let lines: Vec<usize> = parsed.issues.iter().map(|i| i.line).collect();
    assert_eq!(
        lines,
        [5, 6, 7],
        "the duplicate, the junk, the local phone number"
    );

    let report = client
        .allowlist_identifiers()
        .sync(parsed.clone())
        .delete_extra(true)
        // The file's bad lines would stop a sync that deletes; this one says to go on.
        .skip_bad_lines(true)
        .max_deletes(MaxDeletes::Unlimited)
        .run()
        .await
        .unwrap();
    assert!(report.is_success(), "{:?}", report.failed);
    assert_eq!(
        sorted(&report.created),
        [
            "*@partner.example",
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "new@example.com"
        ]
    );
    assert_eq!(report.deleted, ["old@example.com"]);
    assert_eq!(
        sorted(&report.unchanged),
        ["+15555550100", "Ada@Example.com"]
    );
    assert_eq!(
        allowlist(&mock),
        BTreeSet::from(
            [
                "*@partner.example",
                "+15555550100",
                "0x52908400098527886E0F7030069857D2E4169EE7",
                "Ada@Example.com",
                "new@example.com",
            ]
            .map(String::from)
        )
    );
    assert_eq!(mock.rate_limited_count(), 0);
    assert_eq!(limiter.pauses(), 0);

    mock.clear_requests();
    let again = client
        .allowlist_identifiers()
        .sync(parsed)
        .delete_extra(true)
        .skip_bad_lines(true)
        .run()
        .await
        .unwrap();
    assert!(again.nothing_to_do(), "{again:?}");
    assert_eq!(again.unchanged.len(), 5);
    // The second run only read.
    let sent: Vec<_> = mock.requests().into_iter().map(|r| r.operation).collect();
    assert_eq!(sent, [Some(MockOperation::List)]);
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_plans_only_and_extra_entries_are_kept_by_default() {
    let (mock, client, _) = limited();
    mock.insert("keep@example.com").unwrap();
    mock.insert("extra@example.com").unwrap();
    let desired = ids(["keep@example.com", "add@example.com"]);
    let dry = client
        .allowlist_identifiers()
        .sync(desired.clone())
        .delete_extra(true)
        .max_deletes(MaxDeletes::Unlimited)
        .dry_run(true)
        .run()
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.created, ["add@example.com"]);
    assert_eq!(dry.deleted, ["extra@example.com"]);
    assert_eq!(mock.request_count(MockOperation::Create), 0);
    assert_eq!(mock.request_count(MockOperation::Delete), 0);

    let additive = client
        .allowlist_identifiers()
        .sync(desired)
        .run()
        .await
        .unwrap();
    assert_eq!(additive.created, ["add@example.com"]);
    assert!(additive.deleted.is_empty());
    assert_eq!(additive.extra, ["extra@example.com"]);
    assert_eq!(allowlist(&mock).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn concurrent_changes_by_others_count_as_done() {
    let (mock, client, _) = limited();
    let gone = mock.insert("gone@example.com").unwrap();
    let sync = client
        .allowlist_identifiers()
        .sync(ids(["raced@example.com", "mine@example.com"]))
        .delete_extra(true)
        .max_deletes(MaxDeletes::Count(1));
    let plan = sync.plan().await.unwrap();
    assert_eq!(plan.creates.len(), 2);
    assert_eq!(plan.deletes.len(), 1);
    // Someone else adds one identifier and deletes the other between the read and the apply.
    let other = service_builder(&mock).build().unwrap();
    other
        .allowlist_identifiers()
        .create("RACED@example.com")
        .await
        .unwrap();
    other
        .allowlist_identifiers()
        .delete(&gone.id)
        .await
        .unwrap();

    let report = sync.apply(plan).await.unwrap();
    assert!(report.is_success(), "{:?}", report.failed);
    assert_eq!(report.created, ["mine@example.com"]);
    assert_eq!(report.already_present, ["raced@example.com"]);
    assert_eq!(report.already_gone, ["gone@example.com"]);
    let again = sync.run().await.unwrap();
    assert!(again.nothing_to_do(), "{again:?}");
}

#[tokio::test(start_paused = true)]
async fn a_crashed_run_resumes_and_converges() {
    let (mock, client, _) = limited();
    let desired: Vec<Identifier> = (0..200)
        .map(|i| format!("user{i:03}@example.com").parse().unwrap())
        .collect();
    // The 30th create fails after Clerk applied it: an answer lost in transit.
    mock.set_fault_plan(FaultPlan::new().on(
        MockOperation::Create,
        30,
        Fault::status(503).applied(),
    ));
    let run = client
        .allowlist_identifiers()
        .sync(desired.clone())
        .concurrency(4)
        .run();
    // 19 requests per second: the run needs about 10.5 s. Stop it after 5 s, as a crash would.
    let crashed = tokio::time::timeout(Duration::from_secs(5), run).await;
    assert!(crashed.is_err(), "the run was cut short");
    let halfway = allowlist(&mock).len();
    assert!((50..150).contains(&halfway), "{halfway}");

    mock.clear_faults();
    let resumed = client
        .allowlist_identifiers()
        .sync(desired.clone())
        .concurrency(4)
        .run()
        .await
        .unwrap();
    assert!(resumed.is_success(), "{:?}", resumed.failed);
    assert_eq!(resumed.created.len(), 200 - halfway);
    assert_eq!(resumed.unchanged.len(), halfway);
    assert_eq!(allowlist(&mock).len(), 200);
    assert_eq!(mock.rate_limited_count(), 0);

    let third = client
        .allowlist_identifiers()
        .sync(desired)
        .run()
        .await
        .unwrap();
    assert!(third.nothing_to_do());
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_create_is_reported_then_found_by_the_next_run() {
    let mock = MockClerk::new();
    let client = service_builder(&mock).build().unwrap();
    mock.set_fault_plan(FaultPlan::new().on(
        MockOperation::Create,
        1,
        Fault::status(503).applied(),
    ));
    let desired = ids(["maybe@example.com"]);
    let report = client
        .allowlist_identifiers()
        .sync(desired.clone())
        .run()
        .await
        .unwrap();
    let failure = &report.failed[0];
    assert_eq!(failure.action, SyncAction::Create);
    assert_eq!(failure.identifier, "maybe@example.com");
    assert_eq!(
        failure.error.status(),
        Some(http::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert!(failure.error.clerk_trace_id().is_some());
    assert!(!failure.to_string().contains("maybe@"), "{failure}");
    assert_eq!(
        mock.request_count(MockOperation::Create),
        1,
        "a create is never repeated blindly"
    );
    let next = client
        .allowlist_identifiers()
        .sync(desired)
        .run()
        .await
        .unwrap();
    assert!(next.nothing_to_do());
    assert_eq!(next.unchanged, ["maybe@example.com"]);
}

#[tokio::test(start_paused = true)]
async fn a_429_that_ends_a_call_is_sent_again_after_retry_after() {
    let mock = MockClerk::new();
    let client = service_builder(&mock)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    mock.set_fault_plan(
        FaultPlan::new()
            .on(MockOperation::Create, 2, Fault::rate_limited("2"))
            .on(MockOperation::Delete, 1, Fault::rate_limited("2")),
    );
    let gone = mock.insert("gone@example.com").unwrap();
    let start = tokio::time::Instant::now();
    let report = client
        .allowlist_identifiers()
        .sync(ids(["a@example.com", "b@example.com", "c@example.com"]))
        .delete_extra(true)
        .max_deletes(MaxDeletes::Unlimited)
        .concurrency(1)
        .run()
        .await
        .unwrap();
    assert!(report.is_success(), "{:?}", report.failed);
    assert_eq!(report.created.len(), 3);
    assert_eq!(report.deleted, [gone.identifier]);
    assert_eq!(mock.request_count(MockOperation::Create), 4);
    assert_eq!(mock.request_count(MockOperation::Delete), 2);
    assert!(tokio::time::Instant::now() - start >= Duration::from_secs(4));

    // With no retries left, the 429 is a typed failure.
    mock.set_fault_plan(FaultPlan::new().always(MockOperation::Create, Fault::rate_limited("1")));
    let report = client
        .allowlist_identifiers()
        .sync(ids(["d@example.com"]))
        .rate_limit_retries(1)
        .run()
        .await
        .unwrap();
    assert_eq!(
        report.failed[0].error.status(),
        Some(http::StatusCode::TOO_MANY_REQUESTS)
    );
    assert_eq!(
        report.failed[0].error.retry_after(),
        Some(Duration::from_secs(1))
    );
}

#[tokio::test(start_paused = true)]
async fn the_notify_policy_invites_new_emails_and_phones_only() {
    let mock = MockClerk::new().with_request_bodies(true);
    let client = service_builder(&mock).build().unwrap();
    let desired = ids([
        "ada@example.com",
        "+15555550100",
        "*@partner.example",
        "0x52908400098527886E0F7030069857D2E4169EE7",
    ]);
    client
        .allowlist_identifiers()
        .sync(desired)
        .notify(Notify::Always)
        .run()
        .await
        .unwrap();
    for item in mock.identifiers() {
        let invited = item.invitation_id.is_some();
        let expected = !item.identifier.starts_with("*@") && !item.identifier.starts_with("0x");
        assert_eq!(invited, expected, "{}", item.identifier);
    }
    mock.reset();
    client
        .allowlist_identifiers()
        .sync(ids(["grace@example.com", "*@partner.example"]))
        .run()
        .await
        .unwrap();
    let bodies: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.operation == Some(MockOperation::Create))
        .filter_map(|r| r.body_json())
        .collect();
    assert!(bodies
        .iter()
        .any(|b| b["identifier"] == "grace@example.com" && b["notify"] == false));
    assert!(bodies
        .iter()
        .any(|b| b["identifier"] == "*@partner.example" && b.get("notify").is_none()));
}

#[tokio::test(start_paused = true)]
async fn the_blocklist_syncs_the_same_way() {
    let (mock, client, _) = limited();
    mock.insert_blocked("spam@example.com").unwrap();
    mock.insert_blocked("+15555550199").unwrap();
    let desired = ids(["SPAM@example.com", "*@disposable.example"]);
    let report = client
        .blocklist_identifiers()
        .sync(desired.clone())
        .delete_extra(true)
        .max_deletes(MaxDeletes::Percent(50))
        .notify(Notify::Always)
        .run()
        .await
        .unwrap();
    assert!(report.is_success(), "{:?}", report.failed);
    assert_eq!(report.created, ["*@disposable.example"]);
    assert_eq!(report.deleted, ["+15555550199"]);
    assert_eq!(report.unchanged, ["spam@example.com"]);
    assert!(mock.identifiers().is_empty(), "the allow-list is untouched");
    let again = client
        .blocklist_identifiers()
        .sync(desired)
        .delete_extra(true)
        .run()
        .await
        .unwrap();
    assert!(again.nothing_to_do());
    assert_eq!(mock.rate_limited_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn read_failures_change_nothing_and_bad_options_are_typed() {
    let mock = MockClerk::new();
    let client = service_builder(&mock)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    mock.insert("a@example.com").unwrap();
    mock.set_fault_plan(FaultPlan::new().always(MockOperation::List, Fault::status(500)));
    let err = client
        .allowlist_identifiers()
        .sync(ids(["b@example.com"]))
        .delete_extra(true)
        .run()
        .await
        .unwrap_err();
    assert!(matches!(&err, SyncError::List(Error::Api(_))), "{err:?}");
    assert!(err.api_error().and_then(Error::clerk_trace_id).is_some());
    assert_eq!(mock.request_count(MockOperation::Create), 0);
    let err = client
        .allowlist_identifiers()
        .sync(ids(["b@example.com"]))
        .concurrency(0)
        .run()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SyncError::InvalidOption {
            option: "concurrency",
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn progress_is_reported_while_reading_and_applying() {
    let (mock, client, _) = limited();
    for i in 0..3 {
        mock.insert(&format!("old{i}@example.com")).unwrap();
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    client
        .allowlist_identifiers()
        .sync(ids(["new@example.com"]))
        .delete_extra(true)
        .max_deletes(MaxDeletes::Unlimited)
        .on_progress(move |p| seen2.lock().unwrap().push(p))
        .run()
        .await
        .unwrap();
    use clerk_tower::sync::SyncProgress::*;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&Reading { read: 3 }));
    assert_eq!(seen.last(), Some(&Applying { done: 4, total: 4 }));
}

/// Issue 19: a line that was not understood stops a sync that deletes, before any request
/// (dry run included); without `delete_extra` it is only skipped.
#[tokio::test(start_paused = true)]
async fn a_bad_line_stops_a_sync_that_deletes_before_any_request() {
    let (mock, client, _) = limited();
    mock.insert("ada@example.com").unwrap();
    mock.insert("bob@example.com").unwrap();
    // Line 3 meant bob; a sync that deleted what the file does not name would delete him.
    let parsed = parse_list("ada@example.com\nnew@example.com\nbob@example,com\n").unwrap();
    assert_eq!(parsed.bad_lines().count(), 1);
    mock.clear_requests();
    for dry_run in [true, false] {
        let err = client
            .allowlist_identifiers()
            .sync(parsed.clone())
            .delete_extra(true)
            .max_deletes(MaxDeletes::Unlimited)
            .dry_run(dry_run)
            .run()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SyncError::BadInput {
                    lines: 1,
                    first_line: 3
                }
            ),
            "{err:?}"
        );
    }
    assert!(mock.requests().is_empty(), "refused before the read");
    assert_eq!(allowlist(&mock).len(), 2);
    // check_plan says the same of a plan made by hand.
    let sync = client
        .allowlist_identifiers()
        .sync(parsed.clone())
        .delete_extra(true);
    let plan = sync.plan().await.unwrap();
    assert_eq!(plan.deletes.len(), 1);
    assert!(matches!(
        sync.check_plan(&plan),
        Err(SyncError::BadInput { .. })
    ));
    // Without delete_extra nothing can be deleted: the good lines are synced.
    let additive = client
        .allowlist_identifiers()
        .sync(parsed)
        .run()
        .await
        .unwrap();
    assert_eq!(additive.created, ["new@example.com"]);
    assert_eq!(additive.extra, ["bob@example.com"]);
}

/// Issue 19: an input that names nothing never empties the list, whatever `max_deletes`.
#[tokio::test(start_paused = true)]
async fn an_input_naming_nothing_never_empties_the_list() {
    let (mock, client, _) = limited();
    mock.insert("ada@example.com").unwrap();
    for input in ["", "# nobody\n\n", "email\n", "name,email\n"] {
        let parsed = parse_list(input).unwrap();
        assert!(parsed.is_understood(), "{input:?}");
        for dry_run in [true, false] {
            let err = client
                .allowlist_identifiers()
                .sync(parsed.clone())
                .delete_extra(true)
                .max_deletes(MaxDeletes::Unlimited)
                .dry_run(dry_run)
                .run()
                .await
                .unwrap_err();
            assert!(
                matches!(err, SyncError::NothingDesired { listed: 1 }),
                "{input:?}: {err:?}"
            );
        }
    }
    assert_eq!(mock.request_count(MockOperation::Delete), 0);
    assert_eq!(allowlist(&mock).len(), 1);
    // An empty list and an empty input: nothing to do, nothing refused.
    mock.reset();
    let report = client
        .allowlist_identifiers()
        .sync(Vec::new())
        .delete_extra(true)
        .run()
        .await
        .unwrap();
    assert!(report.nothing_to_do());
}

/// Issue 19: deleting more than `max_deletes` (10 % of the list by default) is refused before
/// any change, dry run included.
#[tokio::test(start_paused = true)]
async fn deletes_past_max_deletes_are_refused() {
    let (mock, client, _) = limited();
    let all: Vec<String> = (0..20).map(|i| format!("user{i:02}@example.com")).collect();
    for id in &all {
        mock.insert(id).unwrap();
    }
    let keep = |n: usize| ids(all.iter().take(n).map(String::as_str));
    let sync = |n: usize, max: Option<MaxDeletes>, dry_run: bool| {
        let mut sync = client
            .allowlist_identifiers()
            .sync(keep(n))
            .delete_extra(true)
            .dry_run(dry_run);
        if let Some(max) = max {
            sync = sync.max_deletes(max);
        }
        sync.run()
    };
    // 2 of 20 is 10 %: allowed by default.
    let dry = sync(18, None, true).await.unwrap();
    assert_eq!(dry.deleted.len(), 2);
    for dry_run in [true, false] {
        let err = sync(17, None, dry_run).await.unwrap_err();
        assert!(
            matches!(
                err,
                SyncError::TooManyDeletes {
                    deletes: 3,
                    listed: 20,
                    allowed: 2
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("nothing was changed"), "{err}");
    }
    assert_eq!(mock.request_count(MockOperation::Delete), 0);
    assert!(sync(17, Some(MaxDeletes::Percent(15)), true).await.is_ok());
    assert!(sync(17, Some(MaxDeletes::Count(3)), true).await.is_ok());
    assert!(sync(17, Some(MaxDeletes::Count(2)), true).await.is_err());
    assert!(sync(1, Some(MaxDeletes::Percent(90)), true).await.is_err());
    let done = sync(1, Some(MaxDeletes::Unlimited), false).await.unwrap();
    assert_eq!(done.deleted.len(), 19);
    assert_eq!(allowlist(&mock).len(), 1);
    let err = sync(1, Some(MaxDeletes::Percent(101)), true)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SyncError::InvalidOption {
            option: "max_deletes",
            ..
        }
    ));
    assert_eq!(MaxDeletes::Percent(10).allowed(usize::MAX), usize::MAX / 10);
}
