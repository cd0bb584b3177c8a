//! Rate limits per client IP and per client id: fixed windows, counted in
//! memory (one instance) or, with Redis, in Redis so that the limits hold
//! across instances.

mod memory;
mod redis;

use std::net::IpAddr;
use std::time::Duration;

pub use self::memory::{MAX_COUNTERS, MemoryLimiter};
pub(crate) use self::redis::RedisLimiter;

use crate::config::RateLimits;

/// What a counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client IP.
    Ip(IpAddr),
    /// A configured client id.
    Client(String),
}

impl Key {
    /// The limit of this kind of key.
    fn limit(&self, per_ip: u32, per_client: u32) -> u32 {
        match self {
            Self::Ip(_) => per_ip,
            Self::Client(_) => per_client,
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

/// The limiter in use.
#[derive(Debug)]
pub(crate) enum Limiter {
    Memory(MemoryLimiter),
    Redis(RedisLimiter),
}

impl Limiter {
    /// In memory, for `limits`.
    pub(crate) fn memory(limits: &RateLimits) -> Self {
        Self::Memory(MemoryLimiter::new(
            limits.per_ip,
            limits.per_client,
            window(limits),
        ))
    }

    /// In Redis over `connection`, for `limits`.
    pub(crate) fn redis(connection: ::redis::aio::ConnectionManager, limits: &RateLimits) -> Self {
        Self::Redis(RedisLimiter::new(
            connection,
            limits.per_ip,
            limits.per_client,
            window(limits),
        ))
    }

    /// Counts `cost` requests against `key`.
    pub(crate) async fn hit(&self, key: &Key, cost: u32) -> Result<(), Refusal> {
        match self {
            Self::Memory(limiter) => limiter.hit(key, cost).map_err(Refusal::Limited),
            Self::Redis(limiter) => limiter.hit(key, cost).await,
        }
    }

    /// Counts `cost` more against `key`, whatever the limit.
    pub(crate) async fn penalize(&self, key: &Key, cost: u32) {
        match self {
            Self::Memory(limiter) => limiter.penalize(key, cost),
            Self::Redis(limiter) => limiter.penalize(key, cost).await,
        }
    }
}

fn window(limits: &RateLimits) -> Duration {
    Duration::from_secs(limits.window.whole_seconds().unsigned_abs())
}
