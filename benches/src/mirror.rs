//! The fixture of the revocation mirror's measures (issue 25): a real
//! redis-server filled with revocations through [`RedisStore::revoke`] (so
//! the change stream holds them, as the store's script appends them), and a
//! [`MirroredStore`] that replayed them.
//!
//! - `decode-local-mirror` / `decode-local-mirror-10000` (`examples/profile.rs`,
//!   `benches/mirror-callgrind.sh`): the `decode-local-store` decode through a
//!   service whose store is a [`MirroredStore`] holding 1,000,000 / 10,000
//!   revocations of other tokens.
//! - `examples/mirror.rs`: `fill`, `memory` (table bytes and the RSS a replay
//!   adds) and `propagation` (revoke on one store, the time until three
//!   mirrors refuse).
//!
//! The revocations are those of the memory store's fixture, scaled: id
//! `revoked-{i}` of subject `user:{i % 1000}`, until 2049, so none is the
//! claims set's token (`jti` `c2a7d5e1-…`, `sub` `user:8f14e45f-ceea`), which
//! stays live. The token decoded is the claims set [issued
//! now](claims_issued_now), after the store's epoch.

use std::error::Error as StdError;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::service::{LocalService, VerifiedToken};
use vaulttoken::store::TokenStore;
use vaulttoken_redis::{MirrorOptions, MirrorStatus, MirroredStore, RedisStore, StoreOptions};

use crate::implementations::decode::{block_on, rules};
use crate::{CLAIMS, LOCAL_KEY};

/// The environment variable naming the Redis server of the mirror's
/// operations (`redis://127.0.0.1:PORT`).
pub const URL_VAR: &str = "VAULTTOKEN_BENCH_REDIS_URL";

/// The revocation counts measured: the issue's 1,000,000, and the memory
/// store's 10,000 for comparison.
pub const COUNTS: [usize; 2] = [1_000_000, 10_000];

/// When every fixture revocation ends: 2049-03-22, so none expires (and is
/// trimmed or purged) during a run.
pub const UNTIL_UNIX: i64 = 2_500_000_000;

/// [`CLAIMS`] issued now: its `iat` set to the current second, the same
/// 248 bytes. A Redis store refuses a token issued before its epoch (the
/// moment its data began: `IssuedBeforeStoreEpoch`), which the claims set's
/// 2024 `iat` is; the memory store has no epoch.
///
/// # Panics
///
/// If [`CLAIMS`] no longer holds its 2024 `iat`.
#[must_use]
pub fn claims_issued_now() -> Vec<u8> {
    const IAT: &str = r#""iat":"2024-01-01T00:00:00Z""#;
    let claims = std::str::from_utf8(CLAIMS).expect("UTF-8 claims");
    assert!(claims.contains(IAT), "the claims set's iat");
    let now = SystemClock.now();
    let iat = format!(
        r#""iat":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z""#,
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let issued_now = claims.replace(IAT, &iat).into_bytes();
    assert_eq!(issued_now.len(), CLAIMS.len());
    issued_now
}

/// The key prefix holding `count` revocations, so that both counts live in
/// one server: `bench-mirror-1000000`, `bench-mirror-10000`.
#[must_use]
pub fn prefix(count: usize) -> String {
    format!("bench-mirror-{count}")
}

/// The store options of the fixture's stores: the defaults, under
/// [`prefix`]`(count)`, with a 10 s deadline, since the replay runs under
/// valgrind for the callgrind operations (each `XRANGE` page of 1,000
/// changes is parsed there tens of times slower than natively).
#[must_use]
pub fn store_options(count: usize) -> StoreOptions {
    StoreOptions::default()
        .prefix(prefix(count))
        .deadline(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(30))
}

/// A multi-threaded tokio runtime of `workers` worker threads, for the
/// mirror's feed task and the Redis connections.
///
/// # Panics
///
/// If the runtime cannot be built.
#[must_use]
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Revokes `revoked-{i}` of `user:{i % 1000}` for every `i` in `range`,
/// through [`RedisStore::revoke`] (the store's script: the change stream
/// holds each), with `in_flight` revocations sent at once on the store's
/// multiplexed connection (so they are pipelined).
///
/// # Errors
///
/// The first revocation the store refused.
pub async fn fill(
    store: &RedisStore,
    range: Range<usize>,
    in_flight: usize,
) -> Result<(), Box<dyn StdError + Send + Sync>> {
    let until = time::OffsetDateTime::from_unix_timestamp(UNTIL_UNIX)?;
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..in_flight {
        let store = store.clone();
        let range = range.clone();
        tasks.spawn(async move {
            let mut i = range.start + lane;
            while i < range.end {
                let subject = format!("user:{}", i % 1000);
                let id = format!("revoked-{i}");
                store.revoke(Some(&subject), &id, until).await?;
                i += in_flight;
            }
            Ok::<(), vaulttoken::error::StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// The process's resident set size, from `/proc/self/status` (`VmRSS`), in
/// bytes.
///
/// # Panics
///
/// Where `/proc/self/status` has no `VmRSS` line (not Linux).
#[must_use]
pub fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .expect("a VmRSS line in kB");
    kib * 1024
}

/// A `v4.local` service whose store is a [`MirroredStore`] that replayed
/// `count` revocations, and the runtime its feed runs on.
pub struct Fixture {
    service: LocalService,
    store: MirroredStore,
    /// Runs the feed task and the connections; dropped last.
    _runtime: tokio::runtime::Runtime,
}

impl Fixture {
    /// Connects a mirror (the default staleness bound, 2 s) to the server
    /// at `url` under [`prefix`]`(count)`, waits until it is current and
    /// holds at least `count` entries, and checks that a decode of `token`
    /// answers from memory.
    ///
    /// # Panics
    ///
    /// If the mirror cannot connect, does not become current within 10
    /// minutes, holds fewer than `count` entries, or did not answer the check
    /// of `token` from memory (status `answered` did not grow): the
    /// operation would measure something else.
    #[must_use]
    pub fn new(url: &str, count: usize, token: &str) -> Self {
        let runtime = runtime(1);
        let store = runtime.block_on(async {
            let store = MirroredStore::connect(url, store_options(count), MirrorOptions::default())
                .await
                .expect("connect the mirror");
            assert!(
                store.wait_current(Duration::from_secs(600)).await,
                "the mirror is current: {:?}",
                store.status()
            );
            store
        });
        let status = store.status();
        assert!(
            status.entries >= count && !status.overflowed && status.rebuilds == 0,
            "the mirror holds the {count} revocations: {status:?}"
        );
        let service = LocalService::builder(
            vaulttoken::LocalKey::from_bytes(&LOCAL_KEY).expect("the fixture key"),
        )
        .rules(rules())
        .store(Arc::new(store.clone()) as Arc<dyn TokenStore>)
        .build();
        let fixture = Self {
            service,
            store,
            _runtime: runtime,
        };
        let before = fixture.status();
        let decoded = fixture.decode(token);
        assert!(
            decoded.claims().token_id().is_some() && decoded.claims().subject().is_some(),
            "the token has a jti and a sub, so the store is asked"
        );
        let after = fixture.status();
        assert_eq!(
            (after.answered, after.stale, after.unknown),
            (before.answered + 1, before.stale, before.unknown),
            "the check answered from memory"
        );
        fixture
    }

    /// Decodes `token` through the mirrored service, polling with a no-op
    /// waker as `decode-local-store` does: a check answered from memory is
    /// ready at once. The calling thread is outside the runtime, so a check
    /// that went to Redis instead would panic (no reactor) rather than be
    /// counted; [`Fixture::status`] after the loop shows none did.
    ///
    /// # Panics
    ///
    /// If the decode fails (the token is live: it must not), or the check
    /// was not answered from memory.
    #[must_use]
    pub fn decode(&self, token: &str) -> VerifiedToken {
        block_on(self.service.decode_async(token)).expect("decode through the mirror")
    }

    /// The mirror's status.
    #[must_use]
    pub fn status(&self) -> MirrorStatus {
        self.store.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claims_issued_now_differ_from_the_claims_set_only_in_iat() {
        let before = SystemClock.now().unix_timestamp();
        let claims = vaulttoken::Claims::from_payload(&claims_issued_now()).expect("claims");
        let after = SystemClock.now().unix_timestamp();
        let iat = claims.issued_at().expect("an iat").unix_timestamp();
        assert!(
            (before..=after).contains(&iat),
            "{iat} within {before}..={after}"
        );
        let original = vaulttoken::Claims::from_payload(CLAIMS).expect("claims");
        assert_eq!(claims.token_id(), original.token_id());
        assert_eq!(claims.subject(), original.subject());
        assert_eq!(claims.expiration(), original.expiration());
    }

    #[test]
    fn each_count_has_its_own_prefix() {
        assert_eq!(prefix(COUNTS[0]), "bench-mirror-1000000");
        assert_ne!(prefix(COUNTS[0]), prefix(COUNTS[1]));
        assert_eq!(store_options(10_000).prefix, "bench-mirror-10000");
    }
}
