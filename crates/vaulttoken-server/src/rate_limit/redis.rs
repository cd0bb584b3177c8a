//! Rate limits counted in Redis: one counter key per key and window, created
//! with the window as its expiry, so every instance counts against the same
//! numbers and Redis forgets past windows by itself.
//!
//! An instance counts ahead: it leases part of a key's window from its
//! counter and admits that many requests without asking again (see
//! [`lease`](super::lease): the leases of a busy key grow, a quiet key's
//! lease is one request, and no lease takes a counter past its limit). A
//! request whose keys need a lease asks for them in one script call, one
//! round trip, on a single Redis server. On a cluster the counters of a
//! request live in different slots, which one script cannot touch: each is
//! then a script of its own, in turn, on the primary of its slot.

use core::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::Script;
use vaulttoken::clock::{Clock as _, SystemClock};

use super::lease::{Ask, LeaseBook, Take};
use super::{Key, MAX_COUNTERS, Refusal};
use crate::redis_connection::RedisConnection;

/// The prefix of the counter keys.
const PREFIX: &str = "vaulttoken:server:rl:";

/// For each counter `KEYS[i]` in turn, with `ARGV[2i + 1]` its limit and
/// `ARGV[2i + 2]` the lease wanted: adds the lease to it, or as much of it
/// as its limit leaves room for (created with an expiry of `ARGV[2]` ms),
/// unless that room is less than the cost `ARGV[1]`; stops at the first
/// counter without that room. Answers `{i, the milliseconds until its
/// window ends}` for that counter, or `{0, 0}`, followed by what each
/// counter before it was granted. A limit of -1: add the "lease" whatever
/// the limit (a penalty), only to a counter that exists.
const LEASE: &str = r"
local cost = tonumber(ARGV[1])
local answer = {0, 0}
for i, counter in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i + 1])
  local wanted = tonumber(ARGV[2 * i + 2])
  local current = tonumber(redis.call('GET', counter) or '-1')
  if limit < 0 then
    if current >= 0 then redis.call('INCRBY', counter, wanted) end
    answer[i + 2] = 0
  else
    if current < 0 then current = 0 end
    local room = limit - current
    if room < cost then
      local left = redis.call('PTTL', counter)
      if left < 1 then left = 1 end
      answer[1] = i
      answer[2] = left
      return answer
    end
    local grant = math.min(wanted, room)
    if redis.call('INCRBY', counter, grant) == grant then
      redis.call('PEXPIRE', counter, ARGV[2])
    end
    answer[i + 2] = grant
  end
end
return answer
";

/// The limit argument of a penalty.
const PENALTY: i64 = -1;

/// One counter of a script call: its key, its limit (or [`PENALTY`]) and
/// what is wanted of it.
type Counted<'k> = (&'k Key, i64, u32);

/// What a script call answered: what each counter was granted, up to the
/// one that refused, if one did (its index and the milliseconds until its
/// window ends).
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    grants: Vec<u32>,
    refused: Option<(usize, u64)>,
}

/// A key of a request that needs a lease: its index in the request's keys,
/// the key, its limit and what to ask for.
type Asked<'k> = (usize, &'k Key, u32, Ask);

/// Counters in Redis, and this instance's leases of them.
pub(crate) struct RedisLimiter {
    connection: RedisConnection,
    script: Script,
    per_ip: u32,
    per_client: u32,
    window: Duration,
    book: Mutex<LeaseBook>,
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
            script: Script::new(LEASE),
            per_ip,
            per_client,
            window,
            book: Mutex::new(LeaseBook::new(MAX_COUNTERS)),
        }
    }

    /// The counter key of `key` in window `slot`: kind, id, and the window.
    fn counter(key: &Key, slot: u64) -> String {
        match key {
            Key::Ip(ip) => format!("{PREFIX}ip:{ip}:{slot}"),
            Key::Client(id) => format!("{PREFIX}client:{id}:{slot}"),
        }
    }

    fn book(&self) -> MutexGuard<'_, LeaseBook> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The window now. The window is the instance's: clocks a little apart
    /// only shift a window.
    fn slot(&self) -> u64 {
        window_slot(
            SystemClock.now().unix_timestamp().unsigned_abs(),
            self.window,
        )
    }

    /// Runs [`LEASE`] over `counted`: in one call on a single server, one
    /// call a counter on a cluster (up to the first that refuses). A
    /// counter that cannot be reached is an error naming its index (the
    /// first one's on a single server).
    async fn run(&self, counted: &[Counted<'_>], slot: u64, cost: u32) -> Result<Answer, usize> {
        if !self.connection.is_cluster() {
            return self.call(counted, slot, cost).await.map_err(|()| 0);
        }
        let mut grants = Vec::with_capacity(counted.len());
        for (at, one) in counted.iter().enumerate() {
            let answer = self
                .call(core::slice::from_ref(one), slot, cost)
                .await
                .map_err(|()| at)?;
            grants.extend(answer.grants);
            if let Some((_, left_ms)) = answer.refused {
                return Ok(Answer {
                    grants,
                    refused: Some((at, left_ms)),
                });
            }
        }
        Ok(Answer {
            grants,
            refused: None,
        })
    }

    /// One script call over `counted`.
    async fn call(&self, counted: &[Counted<'_>], slot: u64, cost: u32) -> Result<Answer, ()> {
        let mut connection = self.connection.clone();
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(cost).arg(window_ms);
        for (key, limit, wanted) in counted {
            invocation
                .key(Self::counter(key, slot))
                .arg(*limit)
                .arg(*wanted);
        }
        let deadline = connection.deadline();
        let reply = tokio::time::timeout(
            deadline,
            invocation.invoke_async::<Vec<i64>>(&mut connection),
        )
        .await;
        match reply.map(|reply| reply.ok().and_then(|r| answer(&r, counted.len()))) {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) | Err(_) => {
                tracing::warn!("rate limit counters in Redis cannot be reached; refusing");
                Err(())
            }
        }
    }

    /// The limit of `key`, 0 for none.
    fn limit(&self, key: &Key) -> u32 {
        key.limit(self.per_ip, self.per_client)
    }

    /// Counts `cost` against each of `keys` in turn, up to the first that
    /// would go over its limit; a refusal names that key's index. Keys
    /// with budget left are counted here; those without are leased in one
    /// call.
    pub(crate) async fn hit(&self, keys: &[Key], cost: u32) -> Result<(), (usize, Refusal)> {
        let slot = self.slot();
        let now = Instant::now();
        let mut taken: Vec<usize> = Vec::new();
        let mut asked: Vec<Asked<'_>> = Vec::new();
        let mut full = None;
        {
            let mut book = self.book();
            for (at, key) in keys.iter().enumerate() {
                let limit = self.limit(key);
                if limit == 0 {
                    continue;
                }
                match book.take(key, limit, slot, cost, now) {
                    Take::Taken => taken.push(at),
                    Take::Lease(ask) => asked.push((at, key, limit, ask)),
                    Take::Full(seconds) => {
                        full = Some((at, seconds));
                        break;
                    }
                }
            }
        }
        if !asked.is_empty() {
            self.lease(keys, &asked, &taken, slot, cost).await?;
        }
        match full {
            Some((at, seconds)) => Err((at, Refusal::Limited(seconds))),
            None => Ok(()),
        }
    }

    /// Takes the leases `asked` for, in one call (or one a key on a
    /// cluster), and keeps what they grant. If one is refused, the keys
    /// after it that were `taken` here get their count back: a request is
    /// counted up to the key that refuses. If Redis cannot be reached,
    /// nothing was decided, and every key `taken` gets its count back.
    async fn lease(
        &self,
        keys: &[Key],
        asked: &[Asked<'_>],
        taken: &[usize],
        slot: u64,
        cost: u32,
    ) -> Result<(), (usize, Refusal)> {
        let counted: Vec<Counted<'_>> = asked
            .iter()
            .map(|&(_, key, limit, ask)| (key, i64::from(limit), ask.wanted))
            .collect();
        let answer = self.run(&counted, slot, cost).await;
        let now = Instant::now();
        let mut book = self.book();
        let grants = answer.as_ref().map_or(&[][..], |answer| &answer.grants);
        for (at, &(_, key, _, ask)) in asked.iter().enumerate() {
            match grants.get(at) {
                Some(&granted) => book.granted(key, slot, ask, granted, cost, now),
                None => book.not_granted(key, ask),
            }
        }
        let (stop, refusal) = match answer {
            Ok(Answer { refused: None, .. }) => return Ok(()),
            Ok(Answer {
                refused: Some((at, left_ms)),
                ..
            }) => {
                let key = asked[at].1;
                book.full(key, slot, now + Duration::from_millis(left_ms));
                (at, Refusal::Limited(left_ms.div_ceil(1000).max(1)))
            }
            Err(at) => (at, Refusal::Unavailable),
        };
        let stop_at = asked[stop].0;
        let unavailable = refusal == Refusal::Unavailable;
        // `at > stop_at` and `at >= stop_at` are the same here (a mutant
        // that swaps them is equivalent): `stop_at` is a key `asked` for,
        // and `hit` puts each key in `taken` or in `asked`, never in both.
        for &at in taken.iter().filter(|&&at| unavailable || at > stop_at) {
            book.refund(&keys[at], slot, cost);
        }
        Err((stop_at, refusal))
    }

    /// Counts `cost` more against each of `keys` that is counted already:
    /// out of this instance's lease where it has one, the rest in Redis.
    pub(crate) async fn penalize(&self, keys: &[Key], cost: u32) {
        let slot = self.slot();
        let counted: Vec<Counted<'_>> = {
            let mut book = self.book();
            keys.iter()
                .filter(|key| self.limit(key) != 0)
                .map(|key| (key, PENALTY, book.spend(key, slot, cost)))
                .filter(|&(_, _, rest)| rest > 0)
                .collect()
        };
        if !counted.is_empty() {
            let _ = self.run(&counted, slot, cost).await;
        }
    }
}

/// A script's reply for `counters` counters, if it has the shape
/// [`LEASE`] answers: none else is believed.
fn answer(reply: &[i64], counters: usize) -> Option<Answer> {
    let (&refused_at, rest) = reply.split_first()?;
    let (&left_ms, grants) = rest.split_first()?;
    let grants: Vec<u32> = grants
        .iter()
        .map(|&grant| u32::try_from(grant).ok())
        .collect::<Option<_>>()?;
    let refused = match usize::try_from(refused_at).ok()? {
        0 if grants.len() == counters => None,
        // Lua counts from 1; the counters before it were granted.
        at if at >= 1 && at <= counters && grants.len() == at - 1 => {
            Some((at - 1, u64::try_from(left_ms).ok()?))
        }
        _ => return None,
    };
    Some(Answer { grants, refused })
}

/// Which window `now` (Unix seconds) falls in: every instance numbers the
/// windows of a length alike, so their counters meet in one key.
fn window_slot(now: u64, window: Duration) -> u64 {
    now / window.as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;

    use vaulttoken_test_redis::{RedisCluster, RedisServer, command_calls, redis_available};

    use super::*;
    use crate::config::{RedisDeadlines, RedisTarget};
    use crate::secret::Secret;

    #[test]
    fn a_window_is_one_slot_from_its_first_second_to_its_last() {
        let hour = Duration::from_secs(3600);
        assert_eq!(window_slot(7200, hour), 2);
        assert_eq!(window_slot(10_799, hour), 2);
        assert_eq!(window_slot(10_800, hour), 3);
        // Under a second is a one-second window, never a division by zero.
        assert_eq!(window_slot(42, Duration::from_millis(500)), 42);
    }

    #[test]
    fn only_a_reply_of_the_scripts_shape_is_believed() {
        let grants = |grants: &[u32], refused| {
            Some(Answer {
                grants: grants.to_vec(),
                refused,
            })
        };
        assert_eq!(answer(&[0, 0, 5, 1], 2), grants(&[5, 1], None));
        assert_eq!(answer(&[2, 1500, 5], 2), grants(&[5], Some((1, 1500))));
        assert_eq!(answer(&[1, 1, 9], 1), None);
        assert_eq!(answer(&[1, 7], 1), grants(&[], Some((0, 7))));
        for hostile in [
            &[][..],
            &[0],
            &[0, 0],
            &[0, 0, 5],
            &[0, 0, 5, 1, 1],
            &[0, 0, -1, 1],
            &[0, 0, 1 << 40, 1],
            &[-1, 0, 5, 1],
            &[3, 0, 5, 1],
            &[1, -5],
            &[2, 9, 5, 1],
        ] {
            assert_eq!(answer(hostile, 2), None, "{hostile:?}");
        }
    }

    /// A day-long window: no test here crosses into the next one, as
    /// [`bounded`] starts none in the last minute of a window.
    const WINDOW: Duration = Duration::from_secs(86_400);

    async fn limiter(target: RedisTarget, per_ip: u32, per_client: u32) -> RedisLimiter {
        let deadline = Duration::from_secs(2);
        let deadlines = RedisDeadlines {
            store: deadline,
            rate_limit: deadline,
            keys: deadline,
            connect: Duration::from_secs(5),
        };
        let connection = RedisConnection::connect(&target, &deadlines).await.unwrap();
        RedisLimiter::new(connection, per_ip, per_client, WINDOW)
    }

    fn on(server: &RedisServer) -> RedisTarget {
        RedisTarget::Server(Secret::new(server.url()))
    }

    fn ip(last: u8) -> Key {
        Key::Ip(IpAddr::from([192, 0, 2, last]))
    }

    fn client(id: &str) -> Key {
        Key::Client(id.to_owned())
    }

    /// Script calls Redis ran (by digest or whole).
    fn script_calls(server: &RedisServer) -> u64 {
        command_calls(server, "evalsha") + command_calls(server, "eval")
    }

    /// The counter of `key` in the window now, as Redis holds it.
    fn counted(server: &RedisServer, limiter: &RedisLimiter, key: &Key) -> u64 {
        let counter = RedisLimiter::counter(key, limiter.slot());
        // A bulk string: `$<length>`, then the number.
        server
            .raw_command(&["GET", &counter])
            .and_then(|reply| reply.lines().nth(1).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }

    /// What `limiter` has left of `key` here in the window now (spent, then
    /// given back).
    fn left(limiter: &RedisLimiter, key: &Key) -> u32 {
        let slot = limiter.slot();
        let mut book = limiter.book();
        let left = u32::MAX - book.spend(key, slot, u32::MAX);
        book.refund(key, slot, left);
        left
    }

    /// Runs `test` within 60 s, all in one window: in the last minute of a
    /// window (UTC midnight, as [`WINDOW`] is a day) it first waits for the
    /// next, so that no test's counts fall into two windows.
    async fn bounded(test: impl Future<Output = ()>) {
        let window = WINDOW.as_secs();
        let left = window - SystemClock.now().unix_timestamp().unsigned_abs() % window;
        if left <= 60 {
            tokio::time::sleep(Duration::from_secs(left + 1)).await;
        }
        let bounded = tokio::time::timeout(Duration::from_secs(60), test).await;
        assert!(bounded.is_ok(), "bounded in time");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_key_takes_a_few_leases_and_a_small_limit_one_count_a_request() {
        if !redis_available("a_busy_key_takes_a_few_leases") {
            return;
        }
        bounded(async {
            let server = RedisServer::start();
            let limiter = limiter(on(&server), 120, 1_000_000_000).await;
            let busy = client("busy");
            for _ in 0..5_000 {
                limiter.hit(core::slice::from_ref(&busy), 1).await.unwrap();
            }
            // Leases of 1, 2, 4, ... : 5,000 requests in a handful of calls.
            let calls = script_calls(&server);
            assert!((13..=20).contains(&calls), "{calls} calls");
            // Redis counted every lease, at least what was admitted.
            let held = counted(&server, &limiter, &busy);
            assert_eq!(held, 5_000 + u64::from(left(&limiter, &busy)));
            // The per-IP limit of 120 leases one at a time: a call a request.
            for _ in 0..10 {
                limiter.hit(&[ip(1)], 1).await.unwrap();
            }
            assert_eq!(script_calls(&server), calls + 10);
            assert_eq!(counted(&server, &limiter, &ip(1)), 10);
            // In the key of the window the clock is in: day numbers since 1970.
            let day = SystemClock.now().unix_timestamp().unsigned_abs() / 86_400;
            assert_eq!(limiter.slot(), day);
            let key = format!("vaulttoken:server:rl:ip:192.0.2.1:{day}");
            assert_eq!(server.raw_command(&["GET", &key]).unwrap(), "$2\r\n10\r\n");
            // Its Debug names the limits and the deadline, not the URL.
            assert_eq!(
                format!("{limiter:?}"),
                "RedisLimiter { per_ip: 120, per_client: 1000000000, window: 86400s, deadline: 2s, .. }"
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_sharing_a_limit_never_admit_more_than_it_together() {
        if !redis_available("instances_sharing_a_limit_never_admit_more") {
            return;
        }
        bounded(async {
            let server = RedisServer::start();
            const LIMIT: u32 = 6_400;
            let instances = [
                Arc::new(limiter(on(&server), 0, LIMIT).await),
                Arc::new(limiter(on(&server), 0, LIMIT).await),
            ];
            let key = client("shared");
            // Each instance in 16 tasks at once, until every task is refused.
            let mut tasks = Vec::new();
            for instance in &instances {
                for _ in 0..16 {
                    let instance = Arc::clone(instance);
                    let key = key.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut admitted = 0_u32;
                        loop {
                            match instance.hit(core::slice::from_ref(&key), 1).await {
                                Ok(()) => admitted += 1,
                                Err((0, Refusal::Limited(seconds))) => {
                                    assert!(seconds >= 1);
                                    return admitted;
                                }
                                Err(other) => panic!("{other:?}"),
                            }
                        }
                    }));
                }
            }
            let mut admitted = 0;
            for task in tasks {
                admitted += task.await.unwrap();
            }
            assert_eq!(counted(&server, &instances[0], &key), u64::from(LIMIT));
            // Never more than the limit; fewer by at most what each instance
            // held unspent when the other took the last of it.
            let cap = LeaseBook::cap(LIMIT);
            assert!(
                admitted <= LIMIT && admitted > LIMIT - 2 * cap,
                "{admitted} admitted"
            );
            let unspent: u32 = instances.iter().map(|i| left(i, &key)).sum();
            assert_eq!(admitted + unspent, LIMIT);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_redis_refused_is_refused_here_without_asking_again() {
        if !redis_available("a_key_redis_refused_is_refused_here") {
            return;
        }
        bounded(async {
            let server = RedisServer::start();
            let limiter = limiter(on(&server), 3, 0).await;
            for _ in 0..3 {
                limiter.hit(&[ip(1)], 1).await.unwrap();
            }
            let calls = script_calls(&server);
            let refused = limiter.hit(&[ip(1)], 1).await;
            let Err((0, Refusal::Limited(first))) = refused else {
                panic!("{refused:?}");
            };
            assert!((86_399..=86_400).contains(&first), "{first}");
            assert_eq!(script_calls(&server), calls + 1);
            let again = limiter.hit(&[ip(1)], 1).await;
            assert!(
                matches!(again, Err((0, Refusal::Limited(s))) if s <= first && s >= first - 1),
                "{again:?}"
            );
            assert_eq!(script_calls(&server), calls + 1);
            // Another key is not.
            limiter.hit(&[ip(2)], 1).await.unwrap();
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_refused_at_a_key_gives_back_the_counts_after_it() {
        if !redis_available("a_request_refused_at_a_key_gives_back") {
            return;
        }
        bounded(async {
            let server = RedisServer::start();
            let limiter = limiter(on(&server), 1, 1_000_000).await;
            let web = client("web");
            // The client leases ahead; each request's IP is a new one.
            for last in 1..=20 {
                limiter.hit(&[ip(last), web.clone()], 1).await.unwrap();
            }
            let held = left(&limiter, &web);
            assert!(held > 0);
            let refused = limiter.hit(&[ip(1), web.clone()], 1).await;
            assert!(
                matches!(refused, Err((0, Refusal::Limited(_)))),
                "{refused:?}"
            );
            assert_eq!(left(&limiter, &web), held);
            // Refused here too now, before the client is counted.
            let refused = limiter.hit(&[ip(1), web.clone()], 1).await;
            assert!(
                matches!(refused, Err((0, Refusal::Limited(_)))),
                "{refused:?}"
            );
            assert_eq!(left(&limiter, &web), held);
            limiter.hit(&[ip(21), web.clone()], 1).await.unwrap();
            assert_eq!(left(&limiter, &web), held - 1);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_redis_only_a_lease_held_already_admits() {
        if !redis_available("without_redis_only_a_lease_held_already_admits") {
            return;
        }
        bounded(async {
            let mut server = RedisServer::start();
            let limiter = limiter(on(&server), 1_000_000, 1_000_000).await;
            let web = client("web");
            for _ in 0..100 {
                limiter.hit(core::slice::from_ref(&web), 1).await.unwrap();
            }
            let held = left(&limiter, &web);
            assert!(held > 0);
            server.kill();
            // Redis counted these already.
            for _ in 0..held {
                limiter.hit(core::slice::from_ref(&web), 1).await.unwrap();
            }
            let refused = limiter.hit(core::slice::from_ref(&web), 1).await;
            assert_eq!(refused, Err((0, Refusal::Unavailable)));
            // A key with budget before one that needs a lease: refused at
            // the second, and the first gets its count back.
            limiter.book().refund(&web, limiter.slot(), 1);
            let refused = limiter.hit(&[web.clone(), ip(1)], 1).await;
            assert_eq!(refused, Err((1, Refusal::Unavailable)));
            assert_eq!(left(&limiter, &web), 1);
            let refused = limiter.hit(&[ip(1), web.clone()], 1).await;
            assert_eq!(refused, Err((0, Refusal::Unavailable)));
            assert_eq!(left(&limiter, &web), 1);
            // Redis back, empty: counting starts again.
            server.restart();
            let mut answered = false;
            for _ in 0..50 {
                if limiter.hit(&[ip(1)], 1).await.is_ok() {
                    answered = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(answered, "counts again once Redis is back");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_penalty_is_paid_out_of_a_lease_then_in_redis() {
        if !redis_available("a_penalty_is_paid_out_of_a_lease_then_in_redis") {
            return;
        }
        bounded(async {
            let server = RedisServer::start();
            let limiter = limiter(on(&server), 5, 1_000_000).await;
            let web = client("web");
            for _ in 0..10 {
                limiter.hit(core::slice::from_ref(&web), 1).await.unwrap();
            }
            let held = left(&limiter, &web);
            assert!(held >= 2, "{held}");
            let calls = script_calls(&server);
            let in_redis = counted(&server, &limiter, &web);
            limiter.penalize(core::slice::from_ref(&web), 2).await;
            assert_eq!(left(&limiter, &web), held - 2);
            assert_eq!(script_calls(&server), calls);
            // More than is left: the rest in Redis.
            limiter.penalize(core::slice::from_ref(&web), held).await;
            assert_eq!(left(&limiter, &web), 0);
            assert_eq!(counted(&server, &limiter, &web), in_redis + 2);
            // A key with no counter is not counted; one with a lease of one
            // pays in Redis, and is refused at its limit.
            limiter.penalize(&[ip(1)], 1).await;
            assert_eq!(counted(&server, &limiter, &ip(1)), 0);
            limiter.hit(&[ip(1)], 1).await.unwrap();
            limiter.penalize(&[ip(1)], 3).await;
            assert_eq!(counted(&server, &limiter, &ip(1)), 4);
            limiter.hit(&[ip(1)], 1).await.unwrap();
            assert!(limiter.hit(&[ip(1)], 1).await.is_err());
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_cluster_each_key_leases_on_its_own_primary() {
        if !redis_available("on_a_cluster_each_key_leases_on_its_own_primary") {
            return;
        }
        bounded(async {
            let cluster = RedisCluster::start();
            let target =
                RedisTarget::Cluster(cluster.urls().into_iter().map(Secret::new).collect());
            let limiter = limiter(target, 2, 1_000_000).await;
            let web = client("web");
            for last in 1..=50 {
                limiter.hit(&[ip(last), web.clone()], 1).await.unwrap();
                limiter.hit(&[ip(last), web.clone()], 1).await.unwrap();
            }
            assert!(left(&limiter, &web) > 0);
            let refused = limiter.hit(&[ip(7), web.clone()], 1).await;
            assert!(
                matches!(refused, Err((0, Refusal::Limited(_)))),
                "{refused:?}"
            );
            // A client refused at its own limit, its IP counted first.
            let solo = client("solo");
            limiter.hit(&[ip(101), solo.clone()], 1).await.unwrap();
            limiter.hit(&[ip(101), solo.clone()], 1).await.unwrap();
            assert!(left(&limiter, &solo) > 0);
            let small = limiter_on(&cluster, 1).await;
            let refused = small.hit(&[ip(102), solo.clone()], 1).await;
            assert!(
                matches!(refused, Err((1, Refusal::Limited(_)))),
                "{refused:?}"
            );
            // That request counted its IP: one more of the two.
            assert_eq!(small.hit(&[ip(102)], 1).await, Ok(()));
            let refused = small.hit(&[ip(102)], 1).await;
            assert!(
                matches!(refused, Err((0, Refusal::Limited(_)))),
                "{refused:?}"
            );
        })
        .await;
    }

    /// A second instance on `cluster`, with a per-client limit of its own.
    async fn limiter_on(cluster: &RedisCluster, per_client: u32) -> RedisLimiter {
        let target = RedisTarget::Cluster(cluster.urls().into_iter().map(Secret::new).collect());
        limiter(target, 2, per_client).await
    }
}
