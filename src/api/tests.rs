//! Behaviour the allow-list and JWKS operations had when they were hand-written, pinned on the
//! generated ones.

use crate::api::jwks::GetJwks;
use crate::api::{CreateAllowlistIdentifier, DeleteAllowlistIdentifier, ListAllowlistIdentifiers};
use crate::list::{List, Paginate};
use crate::models::AllowlistIdentifier;
use crate::operation::{to_request, Operation};
use crate::Error;

fn path<O: Operation>(op: &O) -> Result<String, Error> {
    to_request(op, None).map(|req| req.uri().to_string())
}

#[test]
fn list_sends_only_what_is_set() {
    assert_eq!(
        path(&ListAllowlistIdentifiers::new()).unwrap(),
        "/allowlist_identifiers"
    );
    assert_eq!(
        path(&ListAllowlistIdentifiers::new().limit(5)).unwrap(),
        "/allowlist_identifiers?limit=5"
    );
    assert_eq!(
        path(
            &ListAllowlistIdentifiers::new()
                .offset(0)
                .paginated(false)
                .limit(500)
        )
        .unwrap(),
        "/allowlist_identifiers?paginated=false&limit=500&offset=0"
    );
    let err = path(&ListAllowlistIdentifiers::new().offset(u64::MAX)).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(e) if e.field() == "offset"),
        "{err:?}"
    );
    assert!(path(&ListAllowlistIdentifiers::new().offset(i64::MAX as u64)).is_ok());
    for bad in [0, 501, u32::MAX] {
        let err = path(&ListAllowlistIdentifiers::new().limit(bad)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(e) if e.field() == "limit"),
            "{err:?}"
        );
    }
}

#[test]
fn create_body_has_only_spec_fields_and_its_media_type() {
    let req = to_request(&CreateAllowlistIdentifier::new("a@b.com"), None).unwrap();
    assert_eq!(
        req.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
    assert_eq!(
        req.body().clone().into_inner().unwrap_or_default(),
        br#"{"identifier":"a@b.com"}"#.as_slice()
    );
    let req = to_request(
        &CreateAllowlistIdentifier::new("a\"@b.com").notify(true),
        None,
    )
    .unwrap();
    assert_eq!(
        req.into_body().into_inner().unwrap_or_default(),
        br#"{"identifier":"a\"@b.com","notify":true}"#.as_slice()
    );
    assert!(matches!(
        to_request(&CreateAllowlistIdentifier::new(" "), None),
        Err(Error::InvalidRequest(_))
    ));
    let delete = to_request(&DeleteAllowlistIdentifier::new("a/b"), None).unwrap();
    assert_eq!(delete.uri(), "/allowlist_identifiers/a%2Fb");
    assert!(delete.headers().get(http::header::CONTENT_TYPE).is_none());
}

#[test]
fn paging_moves_by_offset_and_stops_on_a_short_page() {
    let first = ListAllowlistIdentifiers::new().first_page();
    assert_eq!(
        (first.paginated, first.limit, first.offset),
        (Some(true), Some(500), None)
    );
    let custom = ListAllowlistIdentifiers::new().limit(2).first_page();
    let full = List {
        data: vec![
            AllowlistIdentifier::default(),
            AllowlistIdentifier::default(),
        ],
        total_count: Some(5),
    };
    let second = custom.next_page(&full).unwrap();
    assert_eq!((second.limit, second.offset), (Some(2), Some(2)));
    let short = List {
        data: vec![AllowlistIdentifier::default()],
        total_count: Some(5),
    };
    assert!(second.next_page(&short).is_none());
}

#[test]
fn jwks_path_is_constant_and_get_is_idempotent() {
    let req = GetJwks::new().to_request(None).unwrap();
    assert_eq!(req.uri(), "/jwks");
    assert_eq!(req.method(), http::Method::GET);
    let info = GetJwks::INFO;
    assert!(info.idempotent);
    assert_eq!(GetJwks::INFO.id, "GetJWKS");
}

#[test]
fn lengths_are_counted_in_characters() {
    use super::check_length;
    assert!(check_length("name", Some("ééé"), Some(3), Some(3)).is_ok());
    assert!(check_length("name", Some("ab"), Some(3), None).is_err());
    assert!(check_length("name", Some("abcd"), None, Some(3)).is_err());
    assert!(check_length("name", None, Some(3), None).is_ok());
}

/// A nullable optional body field has three states, and each reaches the wire as it says:
/// left out, `null`, or the value.
#[cfg(feature = "organizations")]
#[test]
fn nullable_fields_are_unset_null_or_a_value() {
    use crate::api::{Nullable, UpdateOrganization};

    fn body(op: &UpdateOrganization) -> serde_json::Value {
        serde_json::to_value(op).unwrap()
    }
    let unset = UpdateOrganization::new("org_1");
    assert_eq!(unset.slug, Nullable::Unset);
    assert_eq!(body(&unset), serde_json::json!({}));
    let mut cleared = UpdateOrganization::new("org_1").name("Acme");
    cleared.slug = Nullable::Null;
    assert_eq!(
        body(&cleared),
        serde_json::json!({"name": "Acme", "slug": null})
    );
    let set = UpdateOrganization::new("org_1")
        .slug("acme")
        .max_allowed_memberships(5);
    assert_eq!(
        body(&set),
        serde_json::json!({"slug": "acme", "max_allowed_memberships": 5})
    );
}

/// With no user layer, an operation's URI is made absolute at once; it is the URI the
/// base-URL layer would have joined from the relative one.
#[test]
fn absolute_uris_are_the_joined_relative_ones() {
    use crate::layer::BaseUrlLayer;
    use crate::operation::to_request_at;

    fn both<O: Operation>(op: &O, base: &BaseUrlLayer) -> (String, String) {
        let relative = to_request(op, None).unwrap();
        let joined = base
            .join(relative.uri().path_and_query().unwrap().as_str())
            .unwrap();
        let direct = to_request_at(op, None, Some(base)).unwrap();
        (joined.to_string(), direct.uri().to_string())
    }
    for url in ["https://api.clerk.com/v1", "http://127.0.0.1:8787/proxy/v1"] {
        let base = BaseUrlLayer::parse(url).unwrap();
        for (joined, direct) in [
            both(&ListAllowlistIdentifiers::new(), &base),
            both(
                &ListAllowlistIdentifiers::new().limit(5).paginated(true),
                &base,
            ),
            both(&DeleteAllowlistIdentifier::new("a/b é?"), &base),
            both(&CreateAllowlistIdentifier::new("a@b.c"), &base),
        ] {
            assert_eq!(joined, direct);
            assert!(direct.starts_with(url), "{direct}");
        }
    }
}
