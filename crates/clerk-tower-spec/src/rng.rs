//! SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for ids, samples and fault
//! draws; the same seed gives the same sequence on every platform.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Base62, the alphabet of Clerk's KSUID-style ids.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// How long the random part of a Clerk id is: a prefix and 27 base62 characters.
pub const ID_BODY_LEN: usize = 27;

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A seed that differs between calls and between runs.
    pub fn entropy() -> u64 {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        SplitMix64(t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A uniformly chosen element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let len = u64::try_from(items.len()).ok()?;
        items.get(usize::try_from(self.below(len)).ok()?)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub fn in_range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        // The span fits in a u64 (two's complement difference); +1 may wrap for the full range.
        let span = hi.wrapping_sub(lo) as u64;
        let offset = match span.checked_add(1) {
            Some(n) => self.below(n),
            None => self.next_u64(),
        };
        lo.wrapping_add(offset as i64)
    }

    /// `prefix` + 27 base62 characters, the shape of Clerk's ids.
    pub fn id(&mut self, prefix: &str) -> String {
        let mut id = String::with_capacity(prefix.len() + ID_BODY_LEN);
        id.push_str(prefix);
        for _ in 0..ID_BODY_LEN {
            id.push(char::from(BASE62[(self.next_u64() % 62) as usize]));
        }
        id
    }

    /// 32 lowercase hex characters, the shape of Clerk's `clerk_trace_id`.
    pub fn trace_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_ids() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..1000 {
            let n = rng.in_range(-3, 3);
            assert!((-3..=3).contains(&n));
        }
        let _ = rng.in_range(i64::MIN, i64::MAX);
        assert_eq!(rng.in_range(5, 1), 5);
        let id = rng.id("user_");
        assert_eq!(id.len(), 5 + ID_BODY_LEN);
        assert!(id[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(rng.trace_id().len(), 32);
        assert_eq!(rng.below(0), 0);
        assert!(rng.pick::<u8>(&[]).is_none());
        let a = SplitMix64::new(1).next_u64();
        assert_eq!(a, SplitMix64::new(1).next_u64());
    }
}
