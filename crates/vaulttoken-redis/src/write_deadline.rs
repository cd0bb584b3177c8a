//! Write deadlines in Redis's own clock, so that "unavailable" means nothing
//! was decided.
//!
//! A caller stops waiting at its deadline, but a script that reaches Redis
//! later (a slow network, a paused server) would still run: a rotation the
//! caller saw fail would have happened, and its retry would look like reuse.
//! So every write script carries, as its last argument, the last Redis
//! `TIME` (in microseconds) at which it may still run, and refuses itself
//! past it ([`DEADLINE_GUARD`]), changing nothing.
//!
//! The deadline is set in Redis's clock from a sample of it: `TIME` read
//! between two instants of this host's monotonic clock. Redis read its clock
//! somewhere between them, so at any later instant `m`, Redis's clock shows
//! at least `redis + (m - after)`: a deadline computed from that bound can
//! only be early, whatever the offset between the two hosts' wall clocks.
//! It is made earlier still by the sample's round trip and
//! [`StoreOptions::reply_margin`](crate::StoreOptions::reply_margin), so that
//! a write that runs has time to answer before the caller gives up. The
//! sample is taken at connect, and again before a write once it is older
//! than [`StoreOptions::clock_sample_interval`](crate::StoreOptions::clock_sample_interval)
//! (bounding the drift between the clocks, or a step of Redis's clock), or
//! after a write was refused while its caller still waited (the sign of a
//! forward step).
//!
//! On a cluster, each write reads `TIME` of its own key's primary first
//! (one more round trip per write): its deadline is then set in the clock
//! of the server that runs it, and a lost primary stops only the writes of
//! its own slots (a reading of every primary would stop every write of the
//! cluster while one is down).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::{RedisResult, Value, cmd};

use crate::connection::Connection;

/// The lines every write script runs first (after the primary guard): past
/// its deadline (its last argument, Redis `TIME` in microseconds), it
/// refuses with [`PAST_DEADLINE_CODE`] before reading or writing anything.
/// Scripts replicate their effects (Redis 5 and later), so `TIME` may come
/// before a write.
pub(crate) const DEADLINE_GUARD: &str = r"
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000000 + tonumber(clock[2]) > tonumber(ARGV[#ARGV]) then
  return redis.error_reply('PASTDEADLINE the caller has stopped waiting')
end";

/// The error code of [`DEADLINE_GUARD`]'s refusal.
pub(crate) const PAST_DEADLINE_CODE: &str = "PASTDEADLINE";

/// One reading of Redis's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Redis `TIME` in microseconds (on a cluster, the earliest primary).
    redis_micros: i64,
    /// This host's instant just after the answer came.
    after: Instant,
    /// How long the reading took.
    round_trip: Duration,
}

impl Sample {
    /// Reads `TIME` of every primary.
    pub(crate) async fn take(connection: &Connection) -> RedisResult<Self> {
        let before = Instant::now();
        let answers = connection.query_each_primary(cmd("TIME")).await?;
        let after = Instant::now();
        let earliest = answers
            .iter()
            .map(micros_of_time)
            .collect::<Option<Vec<_>>>()
            .and_then(|all| all.into_iter().min());
        Self::read(earliest, before, after)
    }

    /// Reads `TIME` of the primary that holds `key` (the server itself on a
    /// single server).
    pub(crate) async fn take_at(connection: &Connection, key: &str) -> RedisResult<Self> {
        let before = Instant::now();
        let answer = connection.query_at(key, cmd("TIME")).await?;
        let after = Instant::now();
        Self::read(micros_of_time(&answer), before, after)
    }

    /// The sample of a `TIME` reading (`None`: an unreadable answer) asked
    /// at `before` and answered at `after`.
    fn read(redis_micros: Option<i64>, before: Instant, after: Instant) -> RedisResult<Self> {
        let redis_micros = redis_micros.ok_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "an unreadable answer to TIME",
            ))
        })?;
        Ok(Self {
            redis_micros,
            after,
            round_trip: after.saturating_duration_since(before),
        })
    }

    /// The Redis `TIME` (microseconds) after which a write the caller waits
    /// for until `gives_up` may no longer run, so that its answer still has
    /// `reply_margin` (and the sample's round trip) to arrive.
    pub(crate) fn deadline_micros(&self, gives_up: Instant, reply_margin: Duration) -> i64 {
        let ahead = signed_micros(gives_up, self.after);
        let early = micros(self.round_trip.saturating_add(reply_margin));
        self.redis_micros
            .saturating_add(ahead)
            .saturating_sub(early)
    }

    /// Whether the sample is older than `interval`.
    // `>=` here instead of `>` is an equivalent mutant: the two differ only
    // when the elapsed time equals the interval to the nanosecond, which no
    // caller can arrange or observe, and either answer is safe there (a new
    // sample taken one nanosecond early only makes the deadline fresher).
    fn older_than(&self, interval: Duration) -> bool {
        self.after.elapsed() > interval
    }
}

/// The store's latest sample, shared by its clones.
#[derive(Debug)]
pub(crate) struct RedisClock {
    latest: Mutex<Sample>,
    /// Set when a write was refused while its caller still waited: the
    /// sample may be off (Redis's clock stepped forward), so the next write
    /// takes another.
    doubtful: AtomicBool,
}

impl RedisClock {
    /// A clock from its first sample.
    pub(crate) fn new(first: Sample) -> Self {
        Self {
            latest: Mutex::new(first),
            doubtful: AtomicBool::new(false),
        }
    }

    /// The sample for a write of `key`: on a cluster, a new one of `key`'s
    /// primary; on a single server, the latest, taken again first if it is
    /// older than `interval` or in doubt.
    pub(crate) async fn sample(
        &self,
        connection: &Connection,
        interval: Duration,
        key: &str,
    ) -> RedisResult<Sample> {
        if connection.is_cluster() {
            return Sample::take_at(connection, key).await;
        }
        let latest = *self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if !latest.older_than(interval) && !self.doubtful.load(Ordering::SeqCst) {
            return Ok(latest);
        }
        let fresh = Sample::take(connection).await?;
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
        self.doubtful.store(false, Ordering::SeqCst);
        Ok(fresh)
    }

    /// Marks the sample as in doubt after `error`, if it is a write's
    /// refusal past its deadline.
    pub(crate) fn doubt_after(&self, error: &redis::RedisError) {
        if error.code() == Some(PAST_DEADLINE_CODE) {
            self.doubtful.store(true, Ordering::SeqCst);
        }
    }
}

/// `TIME`'s answer (seconds, microseconds) in microseconds.
fn micros_of_time(answer: &Value) -> Option<i64> {
    let Value::Array(parts) = answer else {
        return None;
    };
    let [seconds, micros] = parts.as_slice() else {
        return None;
    };
    let number = |value: &Value| match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse::<i64>().ok(),
        Value::Int(number) => Some(*number),
        _ => None,
    };
    let (seconds, micros) = (number(seconds)?, number(micros)?);
    if !(0..1_000_000).contains(&micros) {
        return None;
    }
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// `to - from` in microseconds, negative when `to` is earlier.
fn signed_micros(to: Instant, from: Instant) -> i64 {
    match to.checked_duration_since(from) {
        Some(ahead) => micros(ahead),
        None => micros(from.duration_since(to)).saturating_neg(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn time(seconds: &str, micros: &str) -> Value {
        Value::Array(vec![bulk(seconds), bulk(micros)])
    }

    #[test]
    fn time_answers_are_read_in_microseconds() {
        assert_eq!(
            micros_of_time(&time("1893456000", "250000")),
            Some(1_893_456_000_250_000)
        );
        assert_eq!(
            micros_of_time(&Value::Array(vec![Value::Int(2), Value::Int(999_999)])),
            Some(2_999_999)
        );
        assert_eq!(micros_of_time(&time("1", "1000000")), None);
        assert_eq!(micros_of_time(&time("1", "-1")), None);
        assert_eq!(micros_of_time(&time("x", "0")), None);
        assert_eq!(micros_of_time(&time(&i64::MAX.to_string(), "0")), None);
        assert_eq!(micros_of_time(&Value::Array(vec![bulk("1")])), None);
        assert_eq!(micros_of_time(&Value::Nil), None);
    }

    #[test]
    fn the_deadline_is_early_by_the_round_trip_and_the_margin() {
        let after = Instant::now();
        let sample = Sample {
            redis_micros: 1_000_000_000,
            after,
            round_trip: Duration::from_micros(300),
        };
        let gives_up = after + Duration::from_millis(500);
        assert_eq!(
            sample.deadline_micros(gives_up, Duration::from_millis(50)),
            1_000_000_000 + 500_000 - 300 - 50_000
        );
        // A caller that started before the sample: its deadline is earlier.
        let before = after - Duration::from_millis(100);
        assert_eq!(
            sample.deadline_micros(before, Duration::ZERO),
            1_000_000_000 - 100_000 - 300
        );
    }

    #[test]
    fn signed_differences_have_their_sign() {
        let now = Instant::now();
        let later = now + Duration::from_micros(7);
        assert_eq!(signed_micros(later, now), 7);
        assert_eq!(signed_micros(now, later), -7);
        assert_eq!(signed_micros(now, now), 0);
        assert_eq!(micros(Duration::MAX), i64::MAX);
    }

    #[test]
    fn a_sample_ages() {
        let sample = Sample {
            redis_micros: 0,
            after: Instant::now(),
            round_trip: Duration::ZERO,
        };
        assert!(!sample.older_than(Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(5));
        assert!(sample.older_than(Duration::from_millis(1)));
    }

    #[test]
    fn every_supported_server_replicates_script_effects() {
        // TIME before a write needs effects replication, the default from
        // Redis 5 (and the only mode from 7).
        use crate::server_check::{MINIMUM_VERSION, ServerVersion};
        assert!(MINIMUM_VERSION >= ServerVersion::new(5, 0, 0));
    }

    #[test]
    fn the_guard_refuses_with_its_code_on_the_last_argument() {
        assert!(DEADLINE_GUARD.contains(PAST_DEADLINE_CODE));
        assert!(DEADLINE_GUARD.contains("ARGV[#ARGV]"));
    }
}
