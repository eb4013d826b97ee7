//! Key fetches are bounded (issue 19, part 3): a fetch that never completes neither hangs the
//! token checks nor keeps the single-flight slot; the endpoint's recovery is noticed; a key
//! set that drops the keys in use (or comes back empty) does not sign everyone out at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_tower::auth::{Verifier, VerifyError};
use clerk_tower::mock::TestSigningKey;
use clerk_tower::models::Jwks;
use clerk_tower::Error;
use serde_json::json;

use crate::auth_classes::{forge, header, session_claims, CAT_SESSION};

/// What the key endpoint does on each fetch.
#[derive(Clone)]
enum Answer {
    Keys(Jwks),
    Hang,
}

#[derive(Clone)]
struct Endpoint {
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
}

impl Endpoint {
    fn new(answer: Answer) -> Self {
        Endpoint {
            answer: Arc::new(Mutex::new(answer)),
            fetches: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn verifier(&self) -> Verifier {
        let this = self.clone();
        // The verified-token cache is off: these tests are about the key cache.
        Verifier::builder()
            .session_cache_capacity(0)
            .jwks_source(move || {
                let this = this.clone();
                async move {
                    this.fetches.fetch_add(1, Ordering::SeqCst);
                    let answer = this.answer.lock().unwrap().clone();
                    match answer {
                        Answer::Keys(jwks) => Ok::<_, Error>(jwks),
                        Answer::Hang => std::future::pending().await,
                    }
                }
            })
            .build()
            .unwrap()
    }
}

fn mock_jwks() -> Jwks {
    TestSigningKey::mock().unwrap().jwks()
}

fn token() -> String {
    forge(&header(Some(CAT_SESSION), "JWT"), &session_claims())
}

/// Whatever the verifier does, the test gives it at most this long (paused time), so that a
/// hang fails the test instead of hanging it.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(600), f)
        .await
        .expect("the token check hung")
}

#[tokio::test(start_paused = true)]
async fn a_hung_key_fetch_times_out_frees_the_slot_and_recovery_is_noticed() {
    let endpoint = Endpoint::new(Answer::Hang);
    let v = endpoint.verifier();
    // The fetch hangs: the check ends with keys_unavailable (503), not never.
    let err = bounded(v.verify(&token())).await.unwrap_err();
    assert!(matches!(err, VerifyError::KeysUnavailable(_)), "{err:?}");
    assert_eq!(err.status(), 503);
    assert!(
        matches!(&err, VerifyError::KeysUnavailable(e) if e.is_timeout()),
        "{err:?}"
    );
    assert_eq!(endpoint.fetches(), 1);

    // The endpoint recovers; after the minimum interval the next check fetches again (the
    // timed-out fetch no longer holds the single-flight slot) and passes.
    endpoint.set(Answer::Keys(mock_jwks()));
    tokio::time::advance(Duration::from_secs(11)).await;
    let claims = bounded(v.verify(&token())).await.unwrap();
    assert_eq!(claims.sub, "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u");
    assert_eq!(endpoint.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hung_refresh_of_stale_keys_does_not_block_and_is_retried() {
    let endpoint = Endpoint::new(Answer::Keys(mock_jwks()));
    let v = endpoint.verifier();
    bounded(v.verify(&token())).await.unwrap();
    // The keys go stale and the endpoint hangs: checks go on with the known keys.
    endpoint.set(Answer::Hang);
    tokio::time::advance(Duration::from_secs(301)).await;
    for _ in 0..3 {
        bounded(v.verify(&token())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(endpoint.fetches(), 2, "one refresh in flight");
    // Once that fetch timed out, a later one starts (and the endpoint is back).
    endpoint.set(Answer::Keys(mock_jwks()));
    tokio::time::advance(Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    bounded(v.verify(&token())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(endpoint.fetches(), 3, "the slot was freed by the timeout");
}

#[tokio::test(start_paused = true)]
async fn an_empty_key_set_does_not_sign_everyone_out() {
    let endpoint = Endpoint::new(Answer::Keys(mock_jwks()));
    let v = endpoint.verifier();
    bounded(v.verify(&token())).await.unwrap();
    // The endpoint answers `{"keys": []}`, and anyone can make the verifier fetch (a token
    // naming an unknown kid, once the interval has passed).
    endpoint.set(Answer::Keys(Jwks::default()));
    tokio::time::advance(Duration::from_secs(11)).await;
    let unknown = forge(
        &json!({"alg": "RS256", "kid": "ins_unknown", "typ": "JWT"}),
        &session_claims(),
    );
    let err = bounded(v.verify(&unknown)).await.unwrap_err();
    assert_eq!(
        err.code(),
        "keys_unavailable",
        "an empty set is not a key set"
    );
    assert_eq!(endpoint.fetches(), 2);
    // Valid users still pass, again and again.
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(11)).await;
        bounded(v.verify(&token())).await.unwrap();
        bounded(v.verify(&unknown)).await.unwrap_err();
    }
}

#[tokio::test(start_paused = true)]
async fn a_key_that_disappears_is_kept_until_a_later_fetch_confirms() {
    let other = TestSigningKey::from_pkcs8_pem("ins_other", crate::auth::OTHER_KEY).unwrap();
    let endpoint = Endpoint::new(Answer::Keys(mock_jwks()));
    let v = endpoint.verifier();
    bounded(v.verify(&token())).await.unwrap();
    // One answer drops the key in use (a bad deploy, a proxy's stale copy of another
    // instance's set...): the users of that key are not signed out by that one answer.
    endpoint.set(Answer::Keys(other.jwks()));
    tokio::time::advance(Duration::from_secs(11)).await;
    let unknown = forge(
        &json!({"alg": "RS256", "kid": "ins_unknown", "typ": "JWT"}),
        &session_claims(),
    );
    bounded(v.verify(&unknown)).await.unwrap_err();
    assert_eq!(endpoint.fetches(), 2);
    bounded(v.verify(&token())).await.unwrap();
    // The key still in doubt makes the verifier ask again as soon as the interval allows...
    tokio::time::advance(Duration::from_secs(11)).await;
    bounded(v.verify(&token())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(endpoint.fetches(), 3);
    // ...and a second answer without it confirms: now it is gone.
    let err = bounded(v.verify(&token())).await.unwrap_err();
    assert_eq!(err.code(), "unknown_kid");
    // A key that comes back in the second answer is kept.
    endpoint.set(Answer::Keys(Jwks {
        keys: vec![other.jwk(), TestSigningKey::mock().unwrap().jwk()],
    }));
    tokio::time::advance(Duration::from_secs(11)).await;
    bounded(v.verify(&token())).await.unwrap();
}
