//! A resource server sees the token server's revocations without write
//! access to Redis: a read-only store (`StoreOptions::read_only`), connected
//! as a Redis ACL user that may only read the store's keys, refuses a token
//! the token server revoked, accepts a live one, cannot write (Redis refuses
//! the user's writes; the store refuses its own without sending them), and
//! after a data loss refuses what it can no longer vouch for.

#[path = "support/loss.rs"]
mod loss;

use std::sync::Arc;
use std::time::Duration;

use loss::{answered, next_second, refused_as_lost};
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::{Denial, StoreError};
use vaulttoken::store::{Check, NewFamily, Rotation, TokenState, TokenStore};
use vaulttoken::{Claims, Error, LocalKey, LocalService};
use vaulttoken_redis::{MirrorOptions, MirroredStore, RedisStore, StoreOptions};
use vaulttoken_test_redis::{
    EventRecorder, RedisCluster, RedisServer, all_calls_but_info, command_calls, redis_available,
};

const BOUND: Duration = Duration::from_secs(60);

const READER: &str = "reader";
const READER_PASSWORD: &str = "reader-secret";

/// The ACL rules of a user that may only read the token store's keys (the
/// default prefix, then a hash tag, which the server's other keys,
/// `vaulttoken:server:*`, do not have) and run the commands a read-only
/// store sends: the read-only scripts, the commands they call, and the
/// connect checks (`INFO`, and `TIME` for the clock reading). `CONFIG` is
/// not allowed: the eviction policy is then reported unchecked. The password
/// is [`READER_PASSWORD`].
const READER_RULES: [&str; 13] = [
    "on",
    ">reader-secret",
    "resetkeys",
    "%R~vaulttoken:{*",
    "resetchannels",
    "-@all",
    "+eval_ro",
    "+evalsha_ro",
    "+get",
    "+hget",
    "+exists",
    "+info",
    "+time",
];

/// What a read-only store's revocation mirror sends besides
/// ([`MirroredStore`]): it names its connection and reads the change stream,
/// its feed record and the epoch markers.
const MIRROR_RULES: [&str; 5] = ["+client|setname", "+xread", "+xrange", "+hmget", "+mget"];

/// What a read-only cluster mirror sends besides [`MIRROR_RULES`]: RESP3
/// (`HELLO`), the topology, the wake-ups' channel, and `PING`, which the
/// cluster client sends to check a connection it makes (the feed's
/// heartbeat reads epoch markers, with `GET`).
const CLUSTER_MIRROR_RULES: [&str; 5] = [
    "+hello",
    "+cluster|slots",
    "+subscribe",
    "+ping",
    "&vaulttoken:changes",
];

/// A server with the reader user, given as `redis-server` arguments
/// (`--user …`) so a restarted server has it again.
fn server_with_reader() -> RedisServer {
    let mut args = vec!["--user", READER];
    args.extend(READER_RULES);
    RedisServer::start_with(&args)
}

/// [`server_with_reader`], the reader also allowed [`MIRROR_RULES`].
fn server_with_mirror_reader() -> RedisServer {
    let mut args = vec!["--user", READER];
    args.extend(READER_RULES);
    args.extend(MIRROR_RULES);
    RedisServer::start_with(&args)
}

fn reader_url(server: &RedisServer) -> String {
    format!(
        "redis://{READER}:{READER_PASSWORD}@127.0.0.1:{}",
        server.port()
    )
}

/// `redis-cli` as the reader user.
fn as_reader(server: &RedisServer, args: &[&str]) -> String {
    let mut all = vec![
        "--no-auth-warning",
        "--user",
        READER,
        "--pass",
        READER_PASSWORD,
    ];
    all.extend(args);
    server.cli(&all)
}

/// The commands (or keys) Redis refused so far, from `ACL LOG`, oldest
/// first.
fn denied(server: &RedisServer) -> Vec<String> {
    let log = server.cli(&["ACL", "LOG"]);
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    let mut objects: Vec<String> = lines
        .windows(2)
        .filter(|pair| pair[0] == "object")
        .map(|pair| pair[1].to_owned())
        .collect();
    objects.reverse();
    objects
}

async fn read_only_store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&reader_url(server), StoreOptions::default().read_only(true))
        .await
        .expect("a read-only store connects as the reader user")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_server_refuses_what_the_token_server_revoked() {
    if !redis_available("a_resource_server_refuses_what_the_token_server_revoked") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = server_with_reader();
        let key = Arc::new(LocalKey::generate().expect("key"));
        let writer = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("the token server's store");
        assert!(!writer.is_read_only());
        let token_server = LocalService::builder(Arc::clone(&key))
            .store(Arc::new(writer))
            .build();
        let reader = read_only_store(&server).await;
        assert!(reader.is_read_only());
        let resource_server = LocalService::builder(key).store(Arc::new(reader)).build();

        let claims = || Claims::builder().subject("alice").build().expect("claims");
        let revoked = token_server.encode(&claims()).expect("encode");
        let live = token_server.encode(&claims()).expect("encode");
        resource_server
            .decode_async(&revoked)
            .await
            .expect("live before the revocation");
        let verified = token_server.decode_async(&revoked).await.expect("live");
        token_server.revoke(&verified).await.expect("revoke");

        assert!(
            matches!(
                resource_server.decode_async(&revoked).await,
                Err(Error::Denied(Denial::Revoked))
            ),
            "the resource server sees the revocation"
        );
        resource_server
            .decode_async(&live)
            .await
            .expect("a live token is accepted");
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_server_mirrors_the_revocations_as_the_reader_user() {
    if !redis_available("a_resource_server_mirrors_the_revocations_as_the_reader_user") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = server_with_mirror_reader();
        let writer = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("the token server's store");
        let staleness = Duration::from_millis(500);
        let mirror = MirroredStore::connect(
            &reader_url(&server),
            StoreOptions::default().read_only(true),
            MirrorOptions::default().max_staleness(staleness),
        )
        .await
        .expect("a read-only mirror connects as the reader user");
        assert!(mirror.status().current, "{:?}", mirror.status());
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "t").issued_at(now);
        assert_eq!(mirror.check(&check).await, Ok(TokenState::Live));
        writer
            .revoke(Some("alice"), "t", now + time::Duration::minutes(5))
            .await
            .expect("revoke");
        tokio::time::sleep(staleness).await;
        let answered = mirror.status().answered;
        assert_eq!(mirror.check(&check).await, Ok(TokenState::Revoked));
        assert_eq!(mirror.status().answered, answered + 1, "from memory");
        assert_eq!(mirror.status().rebuilds, 0);
        // The mirror needed no command the user lacks (the store's check of
        // the eviction policy is refused, as for any read-only store).
        assert_eq!(denied(&server), ["config|get"]);
        assert!(mirror.revoke(None, "x", now).await.is_err());
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_server_mirrors_a_clusters_revocations_as_the_reader_user() {
    if !redis_available("a_resource_server_mirrors_a_clusters_revocations_as_the_reader_user") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut args = vec!["--user", READER];
        args.extend(READER_RULES);
        args.extend(MIRROR_RULES);
        args.extend(CLUSTER_MIRROR_RULES);
        let cluster = RedisCluster::start_with_args(&args);
        let writer = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
            .await
            .expect("the token server's store");
        let urls: Vec<String> = cluster.nodes.iter().map(reader_url).collect();
        let staleness = Duration::from_millis(500);
        let mirror = MirroredStore::connect_cluster(
            &urls,
            StoreOptions::default().read_only(true),
            MirrorOptions::default().max_staleness(staleness),
        )
        .await
        .expect("a read-only cluster mirror connects as the reader user");
        assert!(mirror.status().current, "{:?}", mirror.status());
        let now = SystemClock.now();
        let subjects: Vec<String> = (0..12).map(|n| format!("user-{n}")).collect();
        for subject in &subjects {
            writer
                .revoke(Some(subject), "t", now + time::Duration::minutes(5))
                .await
                .expect("revoke");
        }
        tokio::time::sleep(staleness).await;
        let answered = mirror.status().answered;
        for subject in &subjects {
            let check = Check::token(Some(subject), "t").issued_at(now);
            assert_eq!(
                mirror.check(&check).await,
                Ok(TokenState::Revoked),
                "{subject}"
            );
        }
        assert_eq!(mirror.status().answered, answered + 12, "from memory");
        for node in &cluster.nodes {
            let refused: Vec<String> = denied(node)
                .into_iter()
                .filter(|object| object != "config|get")
                .collect();
            assert_eq!(
                refused,
                Vec::<String>::new(),
                "only the eviction policy check"
            );
        }
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_cannot_write() {
    if !redis_available("the_reader_cannot_write") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = server_with_reader();
        let _writer = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("the token server's store");
        let reader = read_only_store(&server).await;
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "t").issued_at(now);
        assert_eq!(reader.check(&check).await, Ok(TokenState::Live));
        assert!(reader.health().await.expect("ready").data_lost.is_none());
        // Connect, check and health needed no command the user lacks but
        // `CONFIG GET` (the eviction policy is then reported unchecked).
        assert_eq!(denied(&server), ["config|get"]);

        // Redis refuses the user's writes, in a script or not.
        let key = "vaulttoken:{anon}:id:forged";
        let set = as_reader(&server, &["SET", key, "1"]);
        assert!(set.contains("NOPERM"), "SET: {set}");
        let eval = as_reader(
            &server,
            &["EVAL", "return redis.call('SET', KEYS[1], '1')", "1", key],
        );
        assert!(eval.contains("NOPERM"), "EVAL: {eval}");
        let eval_ro = as_reader(
            &server,
            &[
                "EVAL_RO",
                "return redis.call('SET', KEYS[1], '1')",
                "1",
                key,
            ],
        );
        assert!(eval_ro.contains("ERR"), "EVAL_RO with a write: {eval_ro}");
        let delete = as_reader(&server, &["DEL", "vaulttoken:{anon}:epoch"]);
        assert!(delete.contains("NOPERM"), "DEL: {delete}");
        // It may read the store's keys, and no others.
        let read = "return redis.call('GET', KEYS[1])";
        // (Every key is an epoch marker the token server's store created.)
        let marker = server.cli(&["RANDOMKEY"]).trim().to_owned();
        assert!(marker.starts_with("vaulttoken:{"), "{marker}");
        let epoch = as_reader(&server, &["EVAL_RO", read, "1", &marker]);
        assert!(
            epoch.trim().parse::<i64>().is_ok(),
            "the store's key: {epoch}"
        );
        for other in ["vaulttoken:server:keys", "x"] {
            let refused = as_reader(&server, &["EVAL_RO", read, "1", other]);
            assert!(refused.contains("NOPERM"), "{other}: {refused}");
        }
        assert_eq!(server.cli(&["EXISTS", key]).trim(), "0");

        // The store refuses its writes without sending them.
        let until = now + time::Duration::minutes(5);
        let sent = all_calls_but_info(&server);
        let refusals = [
            reader.revoke(Some("alice"), "t", until).await,
            reader.consume(Some("alice"), "t", until).await.map(|_| ()),
            reader
                .consume_issued_at(Some("alice"), "t", Some(now), until)
                .await
                .map(|_| ()),
            reader.revoke_issued_before("alice", now, until).await,
            reader
                .supersede(Some("alice"), "password_reset", "t", until)
                .await,
            reader
                .create_family(&NewFamily::new("alice", "fam", now, until))
                .await
                .map(|_| ()),
            reader
                .rotate_family(&Rotation::new("alice", "fam", 0, now))
                .await
                .map(|_| ()),
            reader.revoke_family(Some("alice"), "fam").await,
        ];
        for refusal in refusals {
            match refusal {
                Err(StoreError::Unreachable { reason }) => {
                    assert!(reason.contains("read-only"), "{reason}");
                }
                other => panic!("a write of a read-only store: {other:?}"),
            }
        }
        assert_eq!(all_calls_but_info(&server), sent, "nothing was sent");
        // And the check still answers.
        assert_eq!(reader.check(&check).await, Ok(TokenState::Live));
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_a_read_only_store_writes_nothing() {
    if !redis_available("connecting_a_read_only_store_writes_nothing") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let recorder = EventRecorder::default();
        let _recording = recorder.install();
        // As the default user, which could write: it does not.
        let reader = RedisStore::connect(&server.url(), StoreOptions::default().read_only(true))
            .await
            .expect("connect");
        assert_eq!(server.cli(&["DBSIZE"]).trim(), "0");
        // With no epoch marker (no writing store yet), nothing is vouched
        // for, and still nothing is written.
        let check = Check::token(Some("alice"), "t").issued_at(SystemClock.now());
        assert_eq!(
            reader.check(&check).await,
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        assert_eq!(recorder.events_named("store_data_lost").len(), 1);
        assert_eq!(
            reader.check(&check).await,
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        let health = reader.health().await.expect("answers");
        assert_eq!(health.data_lost.map(|loss| loss.times), Some(1));
        assert_eq!(recorder.events_named("store_data_lost").len(), 1);
        assert_eq!(server.cli(&["DBSIZE"]).trim(), "0");
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_data_loss_the_resource_server_refuses_older_tokens() {
    if !redis_available("after_a_data_loss_the_resource_server_refuses_older_tokens") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut server = server_with_reader();
        let key = Arc::new(LocalKey::generate().expect("key"));
        let writer = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("the token server's store");
        let token_server = LocalService::builder(Arc::clone(&key))
            .store(Arc::new(writer))
            .build();
        let reader = read_only_store(&server).await;
        let reader_handle = reader.clone();
        let resource_server = LocalService::builder(key).store(Arc::new(reader)).build();

        let claims = || Claims::builder().subject("alice").build().expect("claims");
        let revoked = token_server.encode(&claims()).expect("encode");
        let kept = token_server.encode(&claims()).expect("encode");
        let verified = token_server.decode_async(&revoked).await.expect("live");
        token_server.revoke(&verified).await.expect("revoke");
        resource_server.decode_async(&kept).await.expect("live");

        let recorder = EventRecorder::default();
        let _recording = recorder.install();
        server.restart();
        // Before the token server notices: the epoch marker is missing, and
        // the read-only store neither vouches for anything nor writes.
        for token in [&revoked, &kept, &revoked] {
            let after = answered(|| resource_server.decode_async(token)).await;
            assert!(refused_as_lost(&after), "after the loss: {after:?}");
        }
        assert_eq!(server.cli(&["DBSIZE"]).trim(), "0");
        assert_eq!(
            recorder.events_named("store_data_lost").len(),
            1,
            "the checks report the loss, once"
        );
        let health = reader_handle.health().await.expect("answers");
        assert_eq!(health.data_lost.map(|loss| loss.times), Some(1));
        assert_eq!(
            recorder.events_named("store_data_lost").len(),
            1,
            "the loss is reported once"
        );

        // The token server begins the new epoch; what was issued before it
        // stays refused at the resource server, what is issued after works.
        let at_token_server = answered(|| token_server.decode_async(&kept)).await;
        assert!(refused_as_lost(&at_token_server), "{at_token_server:?}");
        assert!(refused_as_lost(
            &resource_server.decode_async(&revoked).await
        ));
        assert!(refused_as_lost(&resource_server.decode_async(&kept).await));
        next_second().await;
        let fresh = token_server.encode(&claims()).expect("encode");
        resource_server
            .decode_async(&fresh)
            .await
            .expect("a token issued after the new epoch");
        assert!(
            reader_handle
                .health()
                .await
                .expect("ready")
                .data_lost
                .is_some(),
            "the loss stays on record"
        );
        assert_eq!(recorder.events_named("store_data_lost").len(), 2);
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_cluster_store_checks_every_primary() {
    if !redis_available("a_read_only_cluster_store_checks_every_primary") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let writer = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
            .await
            .expect("the token server's store");
        let keys = |cluster: &RedisCluster| -> u64 {
            cluster
                .nodes
                .iter()
                .map(|node| node.cli(&["DBSIZE"]).trim().parse::<u64>().expect("DBSIZE"))
                .sum()
        };
        let before = keys(&cluster);
        let reader =
            RedisStore::connect_cluster(cluster.urls(), StoreOptions::default().read_only(true))
                .await
                .expect("a read-only cluster store");
        assert_eq!(keys(&cluster), before, "connect wrote nothing");

        let now = SystemClock.now();
        let until = now + time::Duration::minutes(5);
        // Subjects in slots of every primary.
        let subjects: Vec<String> = (0..24).map(|n| format!("user-{n}")).collect();
        for subject in &subjects {
            writer
                .revoke(Some(subject), "revoked", until)
                .await
                .expect("revoke");
        }
        for subject in &subjects {
            let revoked = Check::token(Some(subject), "revoked").issued_at(now);
            assert_eq!(reader.check(&revoked).await, Ok(TokenState::Revoked));
            let live = Check::token(Some(subject), "live").issued_at(now);
            assert_eq!(reader.check(&live).await, Ok(TokenState::Live));
        }
        for node in &cluster.nodes {
            assert!(
                command_calls(node, "evalsha_ro") + command_calls(node, "eval_ro") > 0,
                "every primary answered read-only scripts"
            );
        }
        assert!(reader.health().await.expect("ready").data_lost.is_none());
        assert!(matches!(
            reader.revoke(Some("user-1"), "live", until).await,
            Err(StoreError::Unreachable { .. })
        ));
        assert_eq!(
            reader
                .check(&Check::token(Some("user-1"), "live").issued_at(now))
                .await,
            Ok(TokenState::Live)
        );
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_the_user_may_not_run_fails_closed() {
    if !redis_available("a_check_the_user_may_not_run_fails_closed") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = server_with_reader();
        let _writer = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("the token server's store");
        let reader = read_only_store(&server).await;
        let check = Check::token(Some("alice"), "t").issued_at(SystemClock.now());
        assert_eq!(reader.check(&check).await, Ok(TokenState::Live));
        // The script is cached now; the user loses GET.
        assert_eq!(server.cli(&["ACL", "SETUSER", READER, "-get"]).trim(), "OK");
        let by_source = command_calls(&server, "eval_ro");
        let refused = reader.check(&check).await;
        assert!(
            matches!(refused, Err(StoreError::Unreachable { .. })),
            "{refused:?}"
        );
        // Only NOSCRIPT is answered by sending the script's source.
        assert_eq!(command_calls(&server, "eval_ro"), by_source);
    })
    .await
    .expect("bounded in time");
}
