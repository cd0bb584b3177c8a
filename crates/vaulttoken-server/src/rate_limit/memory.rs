//! In-memory rate limits: a fixed-window counter per client IP and per
//! client id, in one bounded map. For one instance.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Key;

/// The most counters held at once. When the map is full, counters of past
/// windows are swept; if it is still full, a request with a new key is
/// refused (429) rather than memory growing.
pub const MAX_COUNTERS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Counter {
    window_start: Instant,
    count: u32,
}

/// The limiter: refuses a key that used up its window, and tells how long
/// until the window ends.
///
/// # Examples
///
/// ```
/// use vaulttoken_server::rate_limit::{Key, MemoryLimiter};
///
/// let limiter = MemoryLimiter::new(2, 100, std::time::Duration::from_secs(60));
/// let ip = Key::Ip("192.0.2.1".parse().unwrap());
/// assert!(limiter.hit(&ip, 1).is_ok());
/// assert!(limiter.hit(&ip, 1).is_ok());
/// let wait = limiter.hit(&ip, 1).unwrap_err();
/// assert!((1..=60).contains(&wait));
/// ```
#[derive(Debug)]
pub struct MemoryLimiter {
    per_ip: u32,
    per_client: u32,
    window: Duration,
    capacity: usize,
    counters: Mutex<HashMap<Key, Counter>>,
}

impl MemoryLimiter {
    /// A limiter of `per_ip` and `per_client` requests (0: no limit) per
    /// `window`.
    ///
    /// # Examples
    ///
    /// See [`MemoryLimiter`].
    #[must_use]
    pub fn new(per_ip: u32, per_client: u32, window: Duration) -> Self {
        Self {
            per_ip,
            per_client,
            window,
            capacity: MAX_COUNTERS,
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// Counts `cost` requests against `key`.
    ///
    /// # Errors
    ///
    /// The seconds until the key's window ends (at least 1) if the request
    /// would go over the limit; it is then not counted.
    ///
    /// # Examples
    ///
    /// See [`MemoryLimiter`].
    pub fn hit(&self, key: &Key, cost: u32) -> Result<(), u64> {
        self.hit_at(key, cost, Instant::now())
    }

    /// Counts `cost` more against `key` whatever the limit: a failed
    /// client-secret check pays this on top of its request.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_server::rate_limit::{Key, MemoryLimiter};
    ///
    /// let limiter = MemoryLimiter::new(3, 100, std::time::Duration::from_secs(60));
    /// let ip = Key::Ip("192.0.2.1".parse().unwrap());
    /// limiter.hit(&ip, 1).unwrap();
    /// limiter.penalize(&ip, 1);
    /// limiter.hit(&ip, 1).unwrap();
    /// assert!(limiter.hit(&ip, 1).is_err());
    /// ```
    pub fn penalize(&self, key: &Key, cost: u32) {
        let now = Instant::now();
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = counters.get_mut(key) {
            self.roll(counter, now);
            counter.count = counter.count.saturating_add(cost);
        }
    }

    fn limit(&self, key: &Key) -> u32 {
        key.limit(self.per_ip, self.per_client)
    }

    fn roll(&self, counter: &mut Counter, now: Instant) {
        if now.saturating_duration_since(counter.window_start) >= self.window {
            *counter = Counter {
                window_start: now,
                count: 0,
            };
        }
    }

    fn retry_after(&self, counter: &Counter, now: Instant) -> u64 {
        let left = self
            .window
            .saturating_sub(now.saturating_duration_since(counter.window_start));
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }

    fn hit_at(&self, key: &Key, cost: u32, now: Instant) -> Result<(), u64> {
        let limit = self.limit(key);
        if limit == 0 {
            return Ok(());
        }
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if !counters.contains_key(key) && counters.len() >= self.capacity {
            let window = self.window;
            counters.retain(|_, c| now.saturating_duration_since(c.window_start) < window);
            if counters.len() >= self.capacity {
                return Err(self.window.as_secs().max(1));
            }
        }
        let counter = counters.entry(key.clone()).or_insert(Counter {
            window_start: now,
            count: 0,
        });
        self.roll(counter, now);
        match counter.count.checked_add(cost) {
            Some(count) if count <= limit => {
                counter.count = count;
                Ok(())
            }
            _ => Err(self.retry_after(counter, now).max(1)),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn ip(last: u8) -> Key {
        Key::Ip(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn a_key_gets_its_limit_per_window_then_waits_for_the_next() {
        let limiter = MemoryLimiter::new(3, 0, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            limiter.hit_at(&ip(1), 1, start).unwrap();
        }
        let later = start + Duration::from_millis(20_500);
        assert_eq!(limiter.hit_at(&ip(1), 1, later), Err(40));
        // Another key has its own count.
        limiter.hit_at(&ip(2), 1, later).unwrap();
        // The next window starts afresh.
        let next = start + Duration::from_secs(60);
        limiter.hit_at(&ip(1), 1, next).unwrap();
    }

    /// `Retry-After` is the rest of the window in whole seconds, rounded up
    /// only when there is a fraction left.
    #[test]
    fn retry_after_rounds_up_a_fraction_only() {
        let limiter = MemoryLimiter::new(1, 0, Duration::from_secs(60));
        let start = Instant::now();
        limiter.hit_at(&ip(1), 1, start).unwrap();
        let whole = start + Duration::from_secs(20);
        assert_eq!(limiter.hit_at(&ip(1), 1, whole), Err(40));
        let fraction = start + Duration::from_millis(59_001);
        assert_eq!(limiter.hit_at(&ip(1), 1, fraction), Err(1));
    }

    /// A counter a whole window old is stale: the sweep of a full map drops
    /// it at that instant, as a hit would start its next window.
    #[test]
    fn a_full_map_sweeps_counters_exactly_a_window_old() {
        let mut limiter = MemoryLimiter::new(5, 0, Duration::from_secs(60));
        limiter.capacity = 2;
        let start = Instant::now();
        limiter.hit_at(&ip(0), 1, start).unwrap();
        limiter.hit_at(&ip(1), 1, start).unwrap();
        let almost = start + Duration::from_millis(59_999);
        assert_eq!(limiter.hit_at(&ip(9), 1, almost), Err(60));
        let exactly = start + Duration::from_secs(60);
        limiter.hit_at(&ip(9), 1, exactly).unwrap();
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn a_refused_request_is_not_counted_and_costs_can_be_two() {
        let limiter = MemoryLimiter::new(3, 0, Duration::from_secs(60));
        let now = Instant::now();
        limiter.hit_at(&ip(1), 2, now).unwrap();
        assert!(limiter.hit_at(&ip(1), 2, now).is_err());
        limiter.hit_at(&ip(1), 1, now).unwrap();
    }

    #[test]
    fn zero_means_no_limit_and_no_counter() {
        let limiter = MemoryLimiter::new(0, 1, Duration::from_secs(60));
        for _ in 0..10 {
            limiter.hit(&ip(1), 1).unwrap();
        }
        assert_eq!(limiter.len(), 0);
        let client = Key::Client("web".to_owned());
        limiter.hit(&client, 1).unwrap();
        assert!(limiter.hit(&client, 1).is_err());
    }

    #[test]
    fn the_map_is_bounded_and_swept_of_past_windows() {
        let mut limiter = MemoryLimiter::new(5, 0, Duration::from_secs(60));
        limiter.capacity = 4;
        let start = Instant::now();
        for last in 0..4 {
            limiter.hit_at(&ip(last), 1, start).unwrap();
        }
        // Full of live counters: a new key is refused, a known one is not.
        assert_eq!(limiter.hit_at(&ip(9), 1, start), Err(60));
        limiter.hit_at(&ip(0), 1, start).unwrap();
        assert_eq!(limiter.len(), 4);
        // A window later every counter is stale and swept.
        let later = start + Duration::from_secs(61);
        limiter.hit_at(&ip(9), 1, later).unwrap();
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn a_penalty_only_touches_a_known_counter() {
        let limiter = MemoryLimiter::new(2, 0, Duration::from_secs(60));
        limiter.penalize(&ip(1), 5);
        assert_eq!(limiter.len(), 0);
        limiter.hit(&ip(1), 1).unwrap();
        limiter.penalize(&ip(1), 1);
        assert!(limiter.hit(&ip(1), 1).is_err());
    }
}
