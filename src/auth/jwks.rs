//! Where the keys come from ([`JwksSource`]) and the per-instance cache that keeps them.
//!
//! # The cache
//!
//! One cache per [`Verifier`](super::Verifier) (clones share it), never a global one: a cache
//! shared between two Clerk instances would let instance B's tokens pass at instance A
//! (the bug of clerk-sdk-ruby #140 and clerk-sdk-csharp #90).
//!
//! - A key found and younger than the TTL is used at once: a read lock, no I/O.
//! - A key found but older than the TTL is still used at once (stale while revalidate), and
//!   one refresh is started in the background.
//! - A `kid` not in the set waits for a refresh: the one in flight if there is one, or a new
//!   one if the last attempt is older than the minimum interval. Otherwise it is refused
//!   without any fetch: a flood of tokens with random `kid`s costs at most one fetch per
//!   minimum interval.
//!
//! A refresh runs as its own task: a request that gives up (its client went away) does not
//! cancel the fetch the others are waiting for, and cannot make the cache start another.
//! When a refresh fails, the keys already known stay in use.
//!
//! A fetch is bounded by its own timeout, whatever the client's settings or the key source:
//! a fetch that never completes ends as a failure, which frees the single-flight slot, so the
//! next allowed fetch starts and sees the endpoint's recovery.
//!
//! A key set is trusted only so far:
//! - a set with no signing key (`{"keys": []}`) is a failed fetch, not a new set: the known
//!   keys stay;
//! - a key that a fetch drops is kept, marked unconfirmed, until a later fetch confirms it is
//!   gone; a token with an unconfirmed key still verifies and makes the cache refresh as soon
//!   as the minimum interval allows. One bad answer (which anyone can trigger with a token
//!   naming an unknown `kid`) cannot sign everyone out; a key Clerk really removed is dropped
//!   at the second answer without it, about one minimum interval later.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::keys::CachedKey;
use super::VerifyError;
use crate::error::{Attempted, TimeoutError, TimeoutKind};
use crate::models::Jwks;
use crate::{Client, Error};

/// The future a [`JwksSource`] returns.
pub type JwksFuture = Pin<Box<dyn Future<Output = Result<Jwks, Error>> + Send + 'static>>;

/// Where a [`Verifier`](super::Verifier) gets the instance's JSON Web Key Set.
///
/// A [`Client`] is one: it fetches `GET /jwks` through its whole stack (retries, timeouts,
/// typed errors). A closure returning a future of `Result<Jwks, Error>` is one too, for keys
/// that come from somewhere else (a file, a test):
///
/// ```
/// use clerk_tower::auth::Verifier;
/// use clerk_tower::models::Jwks;
///
/// let verifier = Verifier::builder()
///     .jwks_source(|| async { Ok::<_, clerk_tower::Error>(Jwks::default()) })
///     .build()?;
/// # Ok::<(), clerk_tower::Error>(())
/// ```
pub trait JwksSource: Send + Sync + 'static {
    /// Fetches the current key set.
    fn fetch(&self) -> JwksFuture;
}

impl JwksSource for Client {
    fn fetch(&self) -> JwksFuture {
        let client = self.clone();
        Box::pin(async move { client.jwks().await })
    }
}

impl<F, Fut> JwksSource for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Jwks, Error>> + Send + 'static,
{
    fn fetch(&self) -> JwksFuture {
        Box::pin(self())
    }
}

/// What the cache knows.
#[derive(Default)]
struct KeySet {
    keys: HashMap<Box<str>, Arc<CachedKey>>,
    /// The keys the last successful fetch did not have: kept until a later one confirms.
    unconfirmed: HashSet<Box<str>>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<Instant>,
    /// How many refreshes have completed (successfully or not).
    generation: u64,
    /// Why the last refresh failed, if it did.
    last_error: Option<Error>,
}

#[derive(Default)]
struct RefreshState {
    in_flight: bool,
    last_attempt: Option<Instant>,
}

/// The outcome of a lookup without I/O.
pub(crate) enum Lookup {
    /// A key younger than the TTL.
    Fresh(Arc<CachedKey>),
    /// A key older than the TTL: usable, and a refresh is due.
    Stale(Arc<CachedKey>),
    /// No such `kid` in the set as of this generation.
    Missing(u64),
}

/// The key cache of one verifier (one Clerk instance).
pub(crate) struct KeyCache {
    source: Box<dyn JwksSource>,
    ttl: Duration,
    fetch_timeout: Duration,
    min_interval: Duration,
    set: RwLock<KeySet>,
    refresh: Mutex<RefreshState>,
    done: watch::Sender<u64>,
}

impl KeyCache {
    pub(crate) fn new(
        source: Box<dyn JwksSource>,
        ttl: Duration,
        min_interval: Duration,
        fetch_timeout: Duration,
    ) -> Self {
        KeyCache {
            source,
            ttl,
            fetch_timeout,
            min_interval,
            set: RwLock::new(KeySet::default()),
            refresh: Mutex::new(RefreshState::default()),
            done: watch::Sender::new(0),
        }
    }

    fn read_set(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.set.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn refresh_state(&self) -> MutexGuard<'_, RefreshState> {
        self.refresh.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Looks `kid` up without any I/O.
    pub(crate) fn lookup(&self, kid: &str) -> Lookup {
        let set = self.read_set();
        match set.keys.get(kid) {
            Some(key) => {
                // An unconfirmed key is used, and asks for the confirming fetch.
                let fresh = set.fetched_at.is_some_and(|at| at.elapsed() < self.ttl)
                    && !set.unconfirmed.contains(kid);
                if fresh {
                    Lookup::Fresh(Arc::clone(key))
                } else {
                    Lookup::Stale(Arc::clone(key))
                }
            }
            None => Lookup::Missing(set.generation),
        }
    }

    /// The key for `kid`, refreshing the set when needed (see the module docs).
    pub(crate) async fn resolve(
        self: &Arc<Self>,
        kid: &str,
    ) -> Result<Arc<CachedKey>, VerifyError> {
        match self.lookup(kid) {
            Lookup::Fresh(key) => Ok(key),
            Lookup::Stale(key) => {
                let generation = self.read_set().generation;
                // Start a refresh if none is running and the interval allows; do not wait
                // for it (unless there is no runtime to run it on).
                if let Start::Started(Some(inline)) = self.start_refresh(generation) {
                    inline.await;
                }
                Ok(key)
            }
            Lookup::Missing(generation) => {
                let mut done = self.done.subscribe();
                match self.start_refresh(generation) {
                    Start::Throttled => return Err(self.missing_error()),
                    Start::AlreadyDone => {}
                    Start::Started(Some(inline)) => inline.await,
                    Start::Started(None) | Start::Running => {
                        // Woken when the refresh completes (or its task is gone).
                        let _ = done.changed().await;
                    }
                }
                match self.lookup(kid) {
                    Lookup::Fresh(key) | Lookup::Stale(key) => Ok(key),
                    Lookup::Missing(_) => Err(self.missing_error()),
                }
            }
        }
    }

    /// Why a `kid` cannot be found: the keys could not be fetched, or it is not in them.
    fn missing_error(&self) -> VerifyError {
        match &self.read_set().last_error {
            Some(error) => VerifyError::KeysUnavailable(error.clone()),
            None => VerifyError::UnknownKeyId,
        }
    }

    /// Starts a refresh unless one is running, one completed since `seen_generation`, or the
    /// last attempt is younger than the minimum interval.
    fn start_refresh(self: &Arc<Self>, seen_generation: u64) -> Start {
        let mut state = self.refresh_state();
        if self.read_set().generation != seen_generation {
            return Start::AlreadyDone;
        }
        if state.in_flight {
            return Start::Running;
        }
        let now = Instant::now();
        if state
            .last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < self.min_interval)
        {
            return Start::Throttled;
        }
        state.in_flight = true;
        state.last_attempt = Some(now);
        drop(state);

        let fetch = self.source.fetch();
        let guard = InFlight {
            cache: Arc::clone(self),
            result: None,
        };
        let timeout = self.fetch_timeout;
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let task = async move {
                    let mut guard = guard;
                    guard.result = Some(match tokio::time::timeout(timeout, fetch).await {
                        Ok(result) => result,
                        Err(_) => Err(Error::Timeout(Attempted::new(TimeoutError::new(
                            TimeoutKind::Total,
                            timeout,
                        )))),
                    });
                    // Dropping the guard stores the result and wakes the waiters.
                };
                drop(handle.spawn(task));
                Start::Started(None)
            }
            // Not on a Tokio runtime: nothing to spawn on, and no Tokio timer to bound the
            // fetch with. The caller runs the fetch where it is (bounded by the caller's own
            // deadline, if any); if that future is dropped, the guard still ends the refresh.
            Err(_) => {
                let task = async move {
                    let mut guard = guard;
                    guard.result = Some(fetch.await);
                };
                Start::Started(Some(Box::pin(task)))
            }
        }
    }

    /// Stores the outcome of a refresh and wakes everyone waiting for it.
    fn complete(&self, result: Option<Result<Jwks, Error>>) {
        {
            let mut set = self.set.write().unwrap_or_else(PoisonError::into_inner);
            match result {
                Some(Ok(jwks)) => {
                    let mut keys = HashMap::with_capacity(jwks.keys.len());
                    for jwk in &jwks.keys {
                        if jwk.kid.is_empty() {
                            continue;
                        }
                        if let Some(key) = CachedKey::from_jwk(jwk) {
                            keys.entry(jwk.kid.as_str().into())
                                .or_insert_with(|| Arc::new(key));
                        }
                    }
                    if !keys.is_empty() {
                        // A key this answer drops is kept once, unconfirmed; dropped when
                        // the next answer does not have it either.
                        let old = std::mem::take(&mut set.keys);
                        let was_unconfirmed = std::mem::take(&mut set.unconfirmed);
                        for (kid, key) in old {
                            if !keys.contains_key(&kid) && !was_unconfirmed.contains(&kid) {
                                set.unconfirmed.insert(kid.clone());
                                keys.insert(kid, key);
                            }
                        }
                        set.keys = keys;
                        set.fetched_at = Some(Instant::now());
                        set.last_error = None;
                    } else {
                        set.last_error = Some(Error::from_boxed(
                            "the instance's key set has no signing key; the keys known are kept"
                                .into(),
                        ));
                    }
                }
                Some(Err(error)) => set.last_error = Some(error),
                // The task was dropped before the fetch finished (the runtime is shutting
                // down): nothing learned, but waiters must not wait forever.
                None => {}
            }
            set.generation = set.generation.wrapping_add(1);
        }
        self.refresh_state().in_flight = false;
        self.done.send_modify(|g| *g = g.wrapping_add(1));
    }
}

enum Start {
    /// A refresh was started: on its own task (`None`), or to be run by the caller.
    Started(Option<Pin<Box<dyn Future<Output = ()> + Send>>>),
    Running,
    AlreadyDone,
    Throttled,
}

/// Ends a refresh whatever happens to the task running it (completion, panic, runtime
/// shutdown).
struct InFlight {
    cache: Arc<KeyCache>,
    result: Option<Result<Jwks, Error>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.cache.complete(self.result.take());
    }
}
