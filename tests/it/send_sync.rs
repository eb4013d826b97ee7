//! Compile-time proof of the auto traits the crate promises.

use clerk_tower::api::{
    CreateAllowlistIdentifier, DeleteAllowlistIdentifier, ListAllowlistIdentifiers,
};
use clerk_tower::{Client, ClientBuilder, Error, HttpService, OperationService};

const fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>() {}
const fn assert_send_sync<T: Send + Sync + 'static>() {}
const fn assert_send<T: Send>(_: &T) {}

const _: () = {
    assert_clone_send_sync::<Client>();
    assert_clone_send_sync::<HttpService>();
    assert_clone_send_sync::<OperationService<ListAllowlistIdentifiers>>();
    assert_clone_send_sync::<OperationService<CreateAllowlistIdentifier>>();
    assert_clone_send_sync::<OperationService<DeleteAllowlistIdentifier>>();
    assert_clone_send_sync::<Error>();
    assert_send_sync::<ClientBuilder>();
};

#[test]
fn error_is_a_std_error_that_boxes() {
    fn takes_box(_: Box<dyn std::error::Error + Send + Sync + 'static>) {}
    takes_box(Box::new(Error::from_boxed("x".into())));
    assert!(std::mem::size_of::<Error>() <= 16);
}

#[test]
fn futures_are_send() {
    let client = Client::builder()
        .secret_key("sk_test_x")
        .build()
        .expect("valid config");
    // Futures are only created, never polled: no runtime, no I/O.
    let allowlist = client.allowlist_identifiers();
    assert_send(&allowlist.list());
    assert_send(&allowlist.create("a@b.com"));
    assert_send(&allowlist.delete("alid_1"));
    let svc = client.service::<ListAllowlistIdentifiers>();
    assert_send(&tower::ServiceExt::oneshot(
        svc,
        ListAllowlistIdentifiers::new(),
    ));
}

#[test]
fn client_builds_outside_a_runtime() {
    assert!(tokio::runtime::Handle::try_current().is_err());
    let client = Client::builder()
        .secret_key("sk_test_x")
        .build()
        .expect("valid config");
    let _copy = client.clone();
}
