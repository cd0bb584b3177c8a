//! What the mirror's tests share: the staleness bound they run with, a
//! mirror and a writing store on one server, expiries from now, and the
//! feed's connection in `CLIENT LIST`.
//! Declared with `#[path = "support/mirror.rs"] mod mirror_support;`.

use std::time::Duration;

use time::OffsetDateTime;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken_redis::{
    MIRROR_CLIENT_NAME, MirrorOptions, MirroredStore, RedisStore, StoreOptions,
};
use vaulttoken_test_redis::RedisServer;

/// The staleness bound every mirror test runs with.
pub(crate) const STALENESS: Duration = Duration::from_millis(500);

/// [`STALENESS`] as options.
pub(crate) fn mirror_options() -> MirrorOptions {
    MirrorOptions::default().max_staleness(STALENESS)
}

/// A mirror on `url`; it waits at most `wait` to be current.
pub(crate) async fn mirror_waiting(url: &str, wait: Duration) -> MirroredStore {
    let options = StoreOptions::default().connect_timeout(wait);
    MirroredStore::connect(url, options, mirror_options())
        .await
        .expect("connect the mirror")
}

/// A mirror on `url`, current.
pub(crate) async fn mirror(url: &str) -> MirroredStore {
    let store = mirror_waiting(url, Duration::from_secs(5)).await;
    assert!(
        store.status().current,
        "current after connect: {:?}",
        store.status()
    );
    store
}

/// Another instance, writing straight to Redis.
pub(crate) async fn writer(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url(), StoreOptions::default())
        .await
        .expect("connect the writer")
}

/// `minutes` from now.
pub(crate) fn later(minutes: i64) -> OffsetDateTime {
    SystemClock.now() + time::Duration::minutes(minutes)
}

/// The id of the mirror's feed connection to `server` in `CLIENT LIST`
/// (a cluster node: its feed link).
pub(crate) fn feed_client_id(server: &RedisServer) -> Option<String> {
    let needle = format!(" name={MIRROR_CLIENT_NAME} ");
    server
        .cli(&["CLIENT", "LIST"])
        .lines()
        .find(|line| line.contains(&needle))
        .and_then(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")))
        .map(str::to_owned)
}

/// Kills the mirror's feed connection to `server`; answers its id.
pub(crate) fn kill_feed_connection(server: &RedisServer) -> String {
    let id = feed_client_id(server).expect("the feed's connection is named");
    assert_eq!(
        server.cli(&["CLIENT", "KILL", "ID", &id]).trim(),
        "1",
        "killed"
    );
    id
}
