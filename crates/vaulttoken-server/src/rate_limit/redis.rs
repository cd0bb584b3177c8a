//! Rate limits counted in Redis: one counter key per key and window, created
//! with the window as its expiry, so every instance counts against the same
//! numbers and Redis forgets past windows by itself. Each count is one
//! script on one key, so on a cluster it runs on the primary of that key's
//! slot.

use core::fmt;
use std::time::Duration;

use redis::Script;
use vaulttoken::clock::{Clock as _, SystemClock};

use super::{Key, Refusal};
use crate::redis_connection::RedisConnection;

/// The prefix of the counter keys.
const PREFIX: &str = "vaulttoken:server:rl:";

/// Adds `ARGV[1]` to the counter `KEYS[1]` (created with an expiry of
/// `ARGV[2]` ms) unless that takes it over `ARGV[3]`; answers 0, or the
/// milliseconds until the window ends. `ARGV[3]` = -1: add whatever the
/// limit (a penalty), only to a counter that exists.
const HIT: &str = r"
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if limit < 0 then
  if current >= 0 then redis.call('INCRBY', KEYS[1], cost) end
  return 0
end
if current < 0 then current = 0 end
if current + cost > limit then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = 1 end
  return left
end
if redis.call('INCRBY', KEYS[1], cost) == cost then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

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

    /// The counter key of `key`: kind, id, and the window it falls in (the
    /// time is the instance's; clocks a little apart only shift a window).
    fn counter(&self, key: &Key) -> String {
        let now = SystemClock.now().unix_timestamp().unsigned_abs();
        let slot = window_slot(now, self.window);
        match key {
            Key::Ip(ip) => format!("{PREFIX}ip:{ip}:{slot}"),
            Key::Client(id) => format!("{PREFIX}client:{id}:{slot}"),
        }
    }

    async fn run(&self, key: &Key, cost: u32, limit: i64) -> Result<u64, Refusal> {
        let mut connection = self.connection.clone();
        let counter = self.counter(key);
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.script.key(counter);
        invocation.arg(cost).arg(window_ms).arg(limit);
        let deadline = connection.deadline();
        match tokio::time::timeout(deadline, invocation.invoke_async::<u64>(&mut connection)).await
        {
            Ok(Ok(left_ms)) => Ok(left_ms),
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("rate limit counters in Redis cannot be reached; refusing");
                Err(Refusal::Unavailable)
            }
        }
    }

    pub(crate) async fn hit(&self, key: &Key, cost: u32) -> Result<(), Refusal> {
        let limit = key.limit(self.per_ip, self.per_client);
        if limit == 0 {
            return Ok(());
        }
        match self.run(key, cost, i64::from(limit)).await? {
            0 => Ok(()),
            left_ms => Err(Refusal::Limited(left_ms.div_ceil(1000).max(1))),
        }
    }

    pub(crate) async fn penalize(&self, key: &Key, cost: u32) {
        if key.limit(self.per_ip, self.per_client) == 0 {
            return;
        }
        let _ = self.run(key, cost, -1).await;
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
