//! Every paginated operation of the registry walked to its end against the mock over TCP,
//! with pages of 1, 2 and 3 items (issue 19): the walk ends, yields each item once, and sends
//! no more requests than the pages need. The stateful lists (allow-list, users) hold three
//! entries; the spec-derived lists hold three items each.

use std::collections::HashSet;
use std::time::Duration;

use clerk_tower::api::registry::OPERATIONS;

use crate::generated;
use crate::local_server::setup;

#[tokio::test]
async fn every_paginated_operation_pages_to_its_end() {
    let (mock, server, client) = setup().await;
    for i in 0..3 {
        mock.insert(&format!("p{i}@example.com")).unwrap();
        mock.insert_user(serde_json::json!({ "email_address": [format!("u{i}@example.com")] }))
            .unwrap();
    }
    let mut walked = Vec::new();
    for entry in OPERATIONS.iter().filter(|e| e.paginated) {
        let id = entry.info.id;
        for limit in 1..=3u32 {
            let Some(walk) = generated::paginate_ids(&client, id, limit) else {
                continue;
            };
            mock.clear_requests();
            let ids = tokio::time::timeout(Duration::from_secs(30), walk)
                .await
                .unwrap_or_else(|_| panic!("{id}, pages of {limit}: the walk never ended"))
                .unwrap_or_else(|e| panic!("{id}, pages of {limit}: {e}"));
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "{id}, pages of {limit}: {ids:?}");
            assert_eq!(ids.len(), 3, "{id}, pages of {limit}: every item: {ids:?}");
            // The pages the items need, and at most one empty page to learn it was the end.
            let requests = mock.requests().len();
            let pages = 3usize.div_ceil(limit as usize);
            assert!(
                (pages..=pages + 1).contains(&requests),
                "{id}, pages of {limit}: {requests} requests"
            );
            if limit == 1 {
                walked.push(id);
            }
        }
    }
    let enabled = OPERATIONS
        .iter()
        .filter(|e| e.paginated && generated::sample_request(e.info.id).is_some())
        .count();
    assert_eq!(walked.len(), enabled, "{walked:?}");
    assert!(walked.contains(&"ListAllowlistIdentifiers"));
    server.shutdown().await;
}
