//! Rate limits per client IP and per client id: fixed windows, counted in
//! memory (one instance) or, with Redis, in Redis so that the limits hold
//! across instances.

mod lease;
mod memory;
mod redis;

use std::net::IpAddr;
use std::time::Duration;

pub use self::memory::{MAX_COUNTERS, MemoryLimiter};
pub(crate) use self::redis::RedisLimiter;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::config::RateLimits;
use crate::redis_connection::RedisConnection;

/// What a counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client IP.
    Ip(IpAddr),
    /// A configured client id.
    Client(String),
}

impl Key {
    /// The key that counts the requests of the client at `ip`: an IPv4
    /// address (an IPv4-mapped IPv6 address too) is counted by itself, an
    /// IPv6 address by its network of `ipv6_prefix` bits (at most 128), as
    /// one site or subscriber usually holds a whole /64 and would otherwise
    /// get a fresh budget with each of its addresses.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_server::rate_limit::Key;
    ///
    /// let key = |ip: &str| Key::ip(ip.parse().unwrap(), 64);
    /// assert_eq!(key("2001:db8:1:2::7"), key("2001:db8:1:2:ffff::1"));
    /// assert_eq!(key("2001:db8:1:2::7"), Key::Ip("2001:db8:1:2::".parse().unwrap()));
    /// assert_ne!(key("2001:db8:1:2::7"), key("2001:db8:1:3::7"));
    /// assert_eq!(key("::ffff:192.0.2.1"), Key::Ip("192.0.2.1".parse().unwrap()));
    /// ```
    #[must_use]
    pub fn ip(ip: IpAddr, ipv6_prefix: u8) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let kept = u128::MAX
                    .checked_shl(128_u32.saturating_sub(u32::from(ipv6_prefix)))
                    .unwrap_or(0);
                Self::Ip(IpAddr::V6((u128::from(v6) & kept).into()))
            }
            v4 => Self::Ip(v4),
        }
    }

    /// The limit of this kind of key.
    fn limit(&self, per_ip: u32, per_client: u32) -> u32 {
        match self {
            Self::Ip(_) => per_ip,
            Self::Client(_) => per_client,
        }
    }

    /// The kind of key, as the metrics name it: `ip` or `client`.
    fn kind(&self) -> &'static str {
        match self {
            Self::Ip(_) => "ip",
            Self::Client(_) => "client",
        }
    }
}

/// Why a request was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Over the limit: retry after this many seconds.
    Limited(u64),
    /// The shared counters cannot be reached: fail closed.
    Unavailable,
}

/// The refusals counted, by `key` (`ip`, `client`) and `reason`
/// (`limited`, `unavailable`): `vaulttoken_rate_limit_refusals_total`.
pub(crate) type Refusals = Family<[(&'static str, &'static str); 2], Counter>;

/// The limiter in use, and the count of its refusals.
#[derive(Debug)]
pub(crate) struct Limiter {
    counters: Counters,
    refusals: Refusals,
}

/// Where the counts are kept.
#[derive(Debug)]
enum Counters {
    Memory(MemoryLimiter),
    Redis(RedisLimiter),
}

impl Limiter {
    /// In memory, for `limits`.
    pub(crate) fn memory(limits: &RateLimits, refusals: Refusals) -> Self {
        let counters = Counters::Memory(MemoryLimiter::new(
            limits.per_ip,
            limits.per_client,
            window(limits),
        ));
        Self { counters, refusals }
    }

    /// In Redis over `connection` (each count within its deadline), for
    /// `limits`.
    pub(crate) fn redis(
        connection: RedisConnection,
        limits: &RateLimits,
        refusals: Refusals,
    ) -> Self {
        let counters = Counters::Redis(RedisLimiter::new(
            connection,
            limits.per_ip,
            limits.per_client,
            window(limits),
        ));
        Self { counters, refusals }
    }

    /// Counts `cost` requests against each of `keys` in turn (a request's
    /// IP, then its client): all in one Redis call on a single server. The
    /// first key over its limit refuses, and the keys after it are not
    /// counted; a refusal is counted by that key's kind (`unavailable` by
    /// the kind of the first key not yet counted).
    pub(crate) async fn hit(&self, keys: &[Key], cost: u32) -> Result<(), Refusal> {
        let counted = match &self.counters {
            Counters::Memory(limiter) => keys.iter().enumerate().try_for_each(|(at, key)| {
                limiter
                    .hit(key, cost)
                    .map_err(|seconds| (at, Refusal::Limited(seconds)))
            }),
            Counters::Redis(limiter) => limiter.hit(keys, cost).await,
        };
        counted.map_err(|(at, refusal)| {
            let reason = match refusal {
                Refusal::Limited(_) => "limited",
                Refusal::Unavailable => "unavailable",
            };
            let kind = keys.get(at).map_or("ip", Key::kind);
            self.refusals
                .get_or_create(&[("key", kind), ("reason", reason)])
                .inc();
            refusal
        })
    }

    /// Counts `cost` more against each of `keys`, whatever the limit (in
    /// one Redis call on a single server).
    pub(crate) async fn penalize(&self, keys: &[Key], cost: u32) {
        match &self.counters {
            Counters::Memory(limiter) => {
                for key in keys {
                    limiter.penalize(key, cost);
                }
            }
            Counters::Redis(limiter) => limiter.penalize(keys, cost).await,
        }
    }
}

fn window(limits: &RateLimits) -> Duration {
    Duration::from_secs(limits.window.whole_seconds().unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str, ipv6_prefix: u8) -> Key {
        Key::ip(ip.parse().unwrap(), ipv6_prefix)
    }

    fn ip_key(ip: &str) -> Key {
        Key::Ip(ip.parse().unwrap())
    }

    /// The refusal counter's value for `key` and `reason`.
    fn refused(refusals: &Refusals, key: &'static str, reason: &'static str) -> u64 {
        refusals
            .get_or_create(&[("key", key), ("reason", reason)])
            .get()
    }

    #[tokio::test]
    async fn each_refusal_is_counted_by_its_kind_of_key() {
        let limits = RateLimits {
            per_ip: 1,
            per_client: 2,
            window: time::Duration::minutes(1),
            ipv6_prefix: 64,
        };
        let refusals = Refusals::default();
        let limiter = Limiter::memory(&limits, refusals.clone());
        let ip = ip_key("192.0.2.1");
        let client = Key::Client("web".to_owned());
        assert_eq!(limiter.hit(core::slice::from_ref(&ip), 1).await, Ok(()));
        assert!(matches!(
            limiter.hit(core::slice::from_ref(&ip), 1).await,
            Err(Refusal::Limited(_))
        ));
        assert_eq!(refused(&refusals, "ip", "limited"), 1);
        assert_eq!(refused(&refusals, "client", "limited"), 0);
        assert_eq!(limiter.hit(core::slice::from_ref(&client), 1).await, Ok(()));
        assert_eq!(limiter.hit(core::slice::from_ref(&client), 1).await, Ok(()));
        assert_eq!(refused(&refusals, "client", "limited"), 0);
        // A penalty moves the count, not the refusals.
        limiter.penalize(core::slice::from_ref(&client), 1).await;
        assert_eq!(refused(&refusals, "client", "limited"), 0);
        assert!(matches!(
            limiter.hit(core::slice::from_ref(&client), 1).await,
            Err(Refusal::Limited(_))
        ));
        assert_eq!(refused(&refusals, "client", "limited"), 1);
        assert_eq!(refused(&refusals, "ip", "limited"), 1);
        assert_eq!(refused(&refusals, "ip", "unavailable"), 0);
    }

    #[test]
    fn an_ipv4_client_is_counted_by_its_whole_address() {
        for prefix in [1, 64, 128] {
            assert_eq!(key("192.0.2.255", prefix), ip_key("192.0.2.255"));
        }
        assert_ne!(key("192.0.2.1", 64), key("192.0.2.2", 64));
    }

    #[test]
    fn an_ipv4_mapped_client_is_counted_as_its_ipv4_address() {
        assert_eq!(key("::ffff:192.0.2.7", 64), ip_key("192.0.2.7"));
        assert_eq!(key("::ffff:192.0.2.7", 1), key("192.0.2.7", 1));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_network_of_the_prefix() {
        let full = "2001:db8:1:2:ffff:ffff:ffff:ffff";
        assert_eq!(key(full, 64), ip_key("2001:db8:1:2::"));
        assert_eq!(key("2001:db8:1:2::1", 64), key(full, 64));
        assert_ne!(key("2001:db8:1:3::1", 64), key(full, 64));
        assert_eq!(key(full, 56), ip_key("2001:db8:1::"));
        assert_eq!(key("2001:db8:1:ff::1", 56), key("2001:db8:1:1::", 56));
        assert_eq!(key(full, 63), ip_key("2001:db8:1:2::"));
        assert_eq!(key("2001:db8:1:3::", 63), ip_key("2001:db8:1:2::"));
        assert_eq!(key(full, 65), ip_key("2001:db8:1:2:8000::"));
        assert_eq!(key(full, 128), ip_key(full));
        assert_eq!(key(full, 1), ip_key("::"));
        assert_eq!(key("ffff::1", 1), ip_key("8000::"));
        // Past 128 bits is the whole address; 0 bits is one network.
        assert_eq!(key(full, 200), ip_key(full));
        assert_eq!(key(full, 0), ip_key("::"));
        // IPv4-compatible (not mapped) addresses are IPv6.
        assert_eq!(key("::192.0.2.7", 64), ip_key("::"));
    }
}
