//! `Client::from_env`. One test in its own binary: environment variables are process-wide.

use clerk_tower::{Client, Error};

#[test]
fn from_env_reads_the_key_and_the_optional_url() {
    std::env::remove_var("CLERK_SECRET_KEY");
    std::env::remove_var("CLERK_API_URL");
    let err = Client::from_env().unwrap_err();
    assert!(
        matches!(&err, Error::Config(c) if c.message().contains("CLERK_SECRET_KEY")),
        "{err:?}"
    );

    std::env::set_var("CLERK_SECRET_KEY", "sk_test_from_env");
    let client = Client::from_env().unwrap();
    assert_eq!(client.base_url(), "https://api.clerk.com/v1");

    std::env::set_var("CLERK_API_URL", "http://127.0.0.1:8787/v1/");
    assert_eq!(
        Client::from_env().unwrap().base_url(),
        "http://127.0.0.1:8787/v1"
    );

    std::env::set_var("CLERK_API_URL", "http://clerk.internal/v1");
    assert!(
        matches!(Client::from_env(), Err(Error::Config(_))),
        "plain http to a non-loopback host"
    );

    std::env::set_var("CLERK_API_URL", "");
    std::env::set_var("CLERK_SECRET_KEY", "sk_test_has space");
    let err = Client::from_env().unwrap_err();
    assert!(
        !err.to_string().contains("has space"),
        "the key is never echoed: {err}"
    );
    std::env::remove_var("CLERK_SECRET_KEY");
    std::env::remove_var("CLERK_API_URL");
}
