//! Clerk's rate limit, on request: at most `limit` requests in any interval of `window`,
//! counted over every authenticated request, answered 429 with `Retry-After` past that.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// A sliding-window log: the instants of the requests let through during the last window.
/// Memory: one instant per request of a window (the limit is capped at 1,000,000).
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    pub(crate) limit: u32,
    pub(crate) window: Duration,
    sent: VecDeque<Instant>,
    pub(crate) rejected: usize,
}

impl RateLimiter {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            sent: VecDeque::new(),
            rejected: 0,
        }
    }

    /// Lets a request through (`Ok`) or says how long until one may pass (`Err`). Rejected
    /// requests do not count against the window.
    pub(crate) fn check(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(first) = self.sent.front() {
            match first.checked_add(self.window) {
                Some(end) if end <= now => {
                    self.sent.pop_front();
                }
                _ => break,
            }
        }
        let full = match u32::try_from(self.sent.len()) {
            Ok(n) => n >= self.limit,
            Err(_) => true,
        };
        if !full {
            self.sent.push_back(now);
            return Ok(());
        }
        self.rejected = self.rejected.saturating_add(1);
        let wait = self
            .sent
            .front()
            .and_then(|first| first.checked_add(self.window))
            .map_or(self.window, |end| end.saturating_duration_since(now));
        Err(wait)
    }

    pub(crate) fn clear(&mut self) {
        self.sent.clear();
        self.rejected = 0;
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1 (HTTP has no finer unit).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs();
    let secs = if wait.subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    };
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_window() {
        let start = Instant::now();
        let mut rl = RateLimiter::new(2, Duration::from_secs(10));
        assert!(rl.check(start).is_ok());
        assert!(rl.check(start + Duration::from_secs(4)).is_ok());
        assert_eq!(
            rl.check(start + Duration::from_secs(5)),
            Err(Duration::from_secs(5))
        );
        assert!(rl.check(start + Duration::from_secs(10)).is_ok());
        assert_eq!(
            rl.check(start + Duration::from_secs(11)),
            Err(Duration::from_secs(3))
        );
        assert_eq!(rl.rejected, 2);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
