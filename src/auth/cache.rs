//! The hot path: verified session tokens, cached per verifier by the SHA-256 of the exact
//! token, until their expiry.
//!
//! A session token lives 60 s and comes with many requests; its RS256 check costs tens of
//! microseconds. The cache keeps the claims of tokens that passed every check, for the exact
//! token: it is keyed by the SHA-256 of the token's signature part, and a hit also compares
//! the rest of the token (header and payload, which the entry keeps) byte for byte, so a
//! token that differs in one byte anywhere is a miss. Hashing the signature part only (a
//! third of the token) halves the cost of a hit; the entry never holds the signature, so it
//! holds no usable token (the header and payload alone are the claims, which the entry holds
//! decoded anyway). At each hit the claims' times
//! are checked again: `exp` (with the leeway) and `nbf`; an entry also ends after a maximum
//! age. Everything else a verification checks depends on the token's bytes and the
//! verifier's settings only, so it holds as long as the entry does, with one trade-off: a
//! token verified with a key the instance has since removed stays accepted until its entry
//! ends (at most the maximum age, 60 s by default). The cache belongs to one verifier (its
//! clones share it): never across instances.
//!
//! quick_cache bounds the entries (CLOCK-Pro eviction, no background thread); an entry past
//! its time is removed when it is next looked up, or evicted by newer ones.

use std::sync::Arc;

use ring::digest::{digest, SHA256};

use super::{Claims, VerifyError};

/// The SHA-256 of a token (of a machine token, whole; of a session token, its signature part).
pub(crate) type TokenKey = [u8; 32];

pub(crate) fn token_key(token: &str) -> TokenKey {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    key
}

/// A session token as the cache looks it up: the digest of its signature part, and the rest.
pub(crate) struct SessionKey<'t> {
    pub(crate) digest: TokenKey,
    pub(crate) signing_input: &'t str,
}

impl<'t> SessionKey<'t> {
    pub(crate) fn of(token: &'t str) -> Self {
        let (signing_input, signature) = token.rsplit_once('.').unwrap_or(("", token));
        SessionKey {
            digest: token_key(signature),
            signing_input,
        }
    }
}

struct Entry {
    /// The token's header and payload, compared at each hit.
    signing_input: Box<str>,
    claims: Claims,
    /// The entry is not used from this time on (Unix seconds): `exp` + leeway, or the
    /// maximum age, whichever comes first.
    until: i64,
}

/// The verified-token cache of one verifier.
pub(crate) struct SessionCache {
    entries: quick_cache::sync::Cache<TokenKey, Arc<Entry>>,
    max_age: i64,
}

impl SessionCache {
    /// A cache of at most `capacity` tokens, each kept at most `max_age` seconds; `None` when
    /// `capacity` is zero (no cache).
    pub(crate) fn new(capacity: usize, max_age: i64) -> Option<Self> {
        (capacity > 0).then(|| SessionCache {
            entries: quick_cache::sync::Cache::new(capacity),
            max_age,
        })
    }

    /// The cached outcome for a token: `None` when it must be verified in full.
    pub(crate) fn get(
        &self,
        key: &SessionKey<'_>,
        now: i64,
        leeway: i64,
    ) -> Option<Result<Claims, VerifyError>> {
        let entry = self.entries.get(&key.digest)?;
        if *entry.signing_input != *key.signing_input {
            // Another token with this signature: verify it in full (its signature cannot
            // match its content).
            return None;
        }
        if now >= entry.claims.exp.saturating_add(leeway) {
            self.entries.remove(&key.digest);
            return Some(Err(VerifyError::Expired));
        }
        if entry
            .claims
            .nbf
            .is_some_and(|nbf| now < nbf.saturating_sub(leeway))
        {
            return Some(Err(VerifyError::NotYetValid));
        }
        if now >= entry.until {
            self.entries.remove(&key.digest);
            return None;
        }
        Some(Ok(entry.claims.clone()))
    }

    /// Keeps the claims of a token that passed every check at `now`.
    pub(crate) fn insert(&self, key: &SessionKey<'_>, claims: &Claims, now: i64, leeway: i64) {
        let until = claims
            .exp
            .saturating_add(leeway)
            .min(now.saturating_add(self.max_age));
        self.entries.insert(
            key.digest,
            Arc::new(Entry {
                signing_input: key.signing_input.into(),
                claims: claims.clone(),
                until,
            }),
        );
    }

    /// How many tokens are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64, nbf: Option<i64>) -> Claims {
        let mut payload = serde_json::json!({"sub": "user_1", "sid": "sess_1", "exp": exp});
        if let Some(nbf) = nbf {
            payload["nbf"] = nbf.into();
        }
        Claims::from_payload(payload.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn exp_and_nbf_are_checked_at_each_hit() {
        let cache = SessionCache::new(10, 60).unwrap();
        let key = SessionKey::of("a.b.c");
        cache.insert(&key, &claims(1_030, Some(990)), 1_000, 5);
        assert!(matches!(cache.get(&key, 1_010, 5), Some(Ok(_))));
        // Past exp + leeway: expired, and the entry is gone.
        assert!(matches!(
            cache.get(&key, 1_035, 5),
            Some(Err(VerifyError::Expired))
        ));
        assert!(cache.get(&key, 1_010, 5).is_none());
        // nbf (only reachable with a clock that went back).
        cache.insert(&key, &claims(1_030, Some(990)), 1_000, 5);
        assert!(matches!(
            cache.get(&key, 900, 5),
            Some(Err(VerifyError::NotYetValid))
        ));
    }

    #[test]
    fn entries_end_at_the_maximum_age() {
        let cache = SessionCache::new(10, 60).unwrap();
        let key = SessionKey::of("a.b.c");
        cache.insert(&key, &claims(100_000, None), 1_000, 5);
        assert!(matches!(cache.get(&key, 1_059, 5), Some(Ok(_))));
        assert!(cache.get(&key, 1_060, 5).is_none(), "verify in full again");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded_and_keyed_by_the_exact_token() {
        assert!(SessionCache::new(0, 60).is_none());
        let cache = SessionCache::new(100, 60).unwrap();
        for i in 0..1_000 {
            cache.insert(
                &SessionKey::of(&format!("h.p.t{i}")),
                &claims(2_000, None),
                1_000,
                5,
            );
        }
        assert!(cache.len() <= 100, "{}", cache.len());
        // The same signature part with another header or payload is a miss.
        let key = SessionKey::of("h.p.sig");
        cache.insert(&key, &claims(2_000, None), 1_000, 5);
        assert!(cache.get(&key, 1_000, 5).is_some());
        assert!(cache.get(&SessionKey::of("h.q.sig"), 1_000, 5).is_none());
        assert!(cache.get(&SessionKey::of("h.p.sih"), 1_000, 5).is_none());
    }
}
