//! Rate limits counted in Redis: one counter key per key and window, created
//! with the window as its expiry, so every instance counts against the same
//! numbers and Redis forgets past windows by itself.
//!
//! A request's counts (its IP's and its client's) are one script call, one
//! round trip, on a single Redis server. On a cluster the counters of a
//! request live in different slots, which one script cannot touch: each is
//! then a script of its own, in turn, on the primary of its slot.

use core::fmt;
use std::time::Duration;

use redis::Script;
use vaulttoken::clock::{Clock as _, SystemClock};

use super::{Key, Refusal};
use crate::redis_connection::RedisConnection;

/// The prefix of the counter keys.
const PREFIX: &str = "vaulttoken:server:rl:";

/// For each counter `KEYS[i]` in turn, adds `ARGV[1]` to it (created with
/// an expiry of `ARGV[2]` ms) unless that takes it over its limit
/// `ARGV[i + 2]`; stops at the first counter that would go over, and
/// answers `{i, the milliseconds until its window ends}`, or `{0, 0}` when
/// all were counted. A limit of -1: add whatever the limit (a penalty),
/// only to a counter that exists.
const HIT: &str = r"
local cost = tonumber(ARGV[1])
for i, counter in ipairs(KEYS) do
  local limit = tonumber(ARGV[i + 2])
  local current = tonumber(redis.call('GET', counter) or '-1')
  if limit < 0 then
    if current >= 0 then redis.call('INCRBY', counter, cost) end
  else
    if current < 0 then current = 0 end
    if current + cost > limit then
      local left = redis.call('PTTL', counter)
      if left < 1 then left = 1 end
      return {i, left}
    end
    if redis.call('INCRBY', counter, cost) == cost then
      redis.call('PEXPIRE', counter, ARGV[2])
    end
  end
end
return {0, 0}
";

/// The limit argument of a penalty.
const PENALTY: i64 = -1;

/// Counters in Redis.
pub(crate) struct RedisLimiter {
    connection: RedisConnection,
    script: Script,
    per_ip: u32,
    per_client: u32,
    window: Duration,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("per_ip", &self.per_ip)
            .field("per_client", &self.per_client)
            .field("window", &self.window)
            .field("deadline", &self.connection.deadline())
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    pub(crate) fn new(
        connection: RedisConnection,
        per_ip: u32,
        per_client: u32,
        window: Duration,
    ) -> Self {
        Self {
            connection,
            script: Script::new(HIT),
            per_ip,
            per_client,
            window,
        }
    }

    /// The counter key of `key` in window `slot`: kind, id, and the window.
    fn counter(key: &Key, slot: u64) -> String {
        match key {
            Key::Ip(ip) => format!("{PREFIX}ip:{ip}:{slot}"),
            Key::Client(id) => format!("{PREFIX}client:{id}:{slot}"),
        }
    }

    /// Runs [`HIT`] over `keys` (each with its limit argument), in one
    /// call on a single server, one call a key on a cluster. A refusal
    /// names the index of the key that refused; one that cannot be reached
    /// is charged to the first key not yet counted.
    async fn run(&self, keys: &[(&Key, i64)], cost: u32) -> Result<(), (usize, Refusal)> {
        // The window is the instance's: clocks a little apart only shift
        // a window.
        let now = SystemClock.now().unix_timestamp().unsigned_abs();
        let slot = window_slot(now, self.window);
        if self.connection.is_cluster() {
            for (at, key) in keys.iter().enumerate() {
                self.call(core::slice::from_ref(key), slot, cost)
                    .await
                    .map_err(|(_, refusal)| (at, refusal))?;
            }
            return Ok(());
        }
        self.call(keys, slot, cost).await
    }

    /// One script call over `keys`.
    async fn call(
        &self,
        keys: &[(&Key, i64)],
        slot: u64,
        cost: u32,
    ) -> Result<(), (usize, Refusal)> {
        let mut connection = self.connection.clone();
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(cost).arg(window_ms);
        for (key, limit) in keys {
            invocation.key(Self::counter(key, slot)).arg(*limit);
        }
        let deadline = connection.deadline();
        let answer = tokio::time::timeout(
            deadline,
            invocation.invoke_async::<(usize, u64)>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok((0, _))) => Ok(()),
            // Lua counts from 1.
            Ok(Ok((at, left_ms))) => Err((at - 1, Refusal::Limited(left_ms.div_ceil(1000).max(1)))),
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("rate limit counters in Redis cannot be reached; refusing");
                Err((0, Refusal::Unavailable))
            }
        }
    }

    /// The keys of `keys` that have a limit, with it.
    fn limited<'k>(&self, keys: &'k [Key]) -> Vec<(usize, &'k Key, u32)> {
        keys.iter()
            .enumerate()
            .map(|(at, key)| (at, key, key.limit(self.per_ip, self.per_client)))
            .filter(|&(_, _, limit)| limit != 0)
            .collect()
    }

    /// Counts `cost` against each of `keys` in turn, up to the first that
    /// would go over its limit; a refusal names that key's index.
    pub(crate) async fn hit(&self, keys: &[Key], cost: u32) -> Result<(), (usize, Refusal)> {
        let limited = self.limited(keys);
        if limited.is_empty() {
            return Ok(());
        }
        let args: Vec<(&Key, i64)> = limited
            .iter()
            .map(|&(_, key, limit)| (key, i64::from(limit)))
            .collect();
        self.run(&args, cost)
            .await
            .map_err(|(at, refusal)| (limited[at].0, refusal))
    }

    /// Counts `cost` more against each of `keys` that is counted already.
    pub(crate) async fn penalize(&self, keys: &[Key], cost: u32) {
        let args: Vec<(&Key, i64)> = self
            .limited(keys)
            .iter()
            .map(|&(_, key, _)| (key, PENALTY))
            .collect();
        if !args.is_empty() {
            let _ = self.run(&args, cost).await;
        }
    }
}

/// Which window `now` (Unix seconds) falls in: every instance numbers the
/// windows of a length alike, so their counters meet in one key.
fn window_slot(now: u64, window: Duration) -> u64 {
    now / window.as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_one_slot_from_its_first_second_to_its_last() {
        let hour = Duration::from_secs(3600);
        assert_eq!(window_slot(7200, hour), 2);
        assert_eq!(window_slot(10_799, hour), 2);
        assert_eq!(window_slot(10_800, hour), 3);
        // Under a second is a one-second window, never a division by zero.
        assert_eq!(window_slot(42, Duration::from_millis(500)), 42);
    }
}
