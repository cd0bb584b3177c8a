//! What the store leaves in Redis: every key with an absolute expiry (the
//! token's own), subjects hashed, and values this crate did not write
//! refused rather than read as an answer.

use std::time::Duration;

use time::OffsetDateTime;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::StoreError;
use vaulttoken::store::{Check, Consumption, NewFamily, Rotation, TokenState, TokenStore};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

const BOUND: Duration = Duration::from_secs(30);

/// `hours` after a whole second fixed once per run, so that expiries
/// compare exactly however long a test takes.
fn later(hours: i64) -> OffsetDateTime {
    static BASE: std::sync::OnceLock<OffsetDateTime> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        let now = SystemClock.now();
        now.replace_nanosecond(0).expect("whole second")
    });
    *base + time::Duration::hours(hours)
}

fn millis(at: OffsetDateTime) -> String {
    (at.unix_timestamp() * 1000).to_string()
}

/// The only key matching `pattern`.
fn only_key(server: &RedisServer, pattern: &str) -> String {
    let keys = server.cli(&["--scan", "--pattern", pattern]);
    let keys: Vec<&str> = keys.lines().collect();
    assert_eq!(keys.len(), 1, "{pattern}: {keys:?}");
    keys[0].to_owned()
}

fn expiry_of(server: &RedisServer, key: &str) -> String {
    server.cli(&["PEXPIRETIME", key]).trim().to_owned()
}

async fn connect(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url(), StoreOptions::default())
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_expires_with_the_token_it_describes() {
    if !redis_available("every_key_expires_with_the_token_it_describes") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = connect(&server).await;
        let subject = Some("alice@example.com");
        store
            .revoke(subject, "revoked-id", later(1))
            .await
            .expect("revoke");
        store
            .consume(subject, "spent-id", later(2))
            .await
            .expect("consume");
        store
            .supersede(subject, "password_reset", "newest", later(3))
            .await
            .expect("supersede");
        store
            .revoke_issued_before("alice@example.com", later(0), later(4))
            .await
            .expect("cutoff");
        let created = later(0);
        let family = NewFamily::new("alice@example.com", "fam-1", created, later(5));
        store.create_family(&family).await.expect("create");

        for (pattern, until) in [
            ("*:id:revoked-id", later(1)),
            ("*:id:spent-id", later(2)),
            ("*:latest:password_reset", later(3)),
            ("*:cutoff", later(4)),
            ("*:family:fam-1", later(5)),
            ("*:families", later(5)),
        ] {
            let key = only_key(&server, pattern);
            assert_eq!(expiry_of(&server, &key), millis(until), "{key}");
        }
        let ttl: i64 = server
            .cli(&["TTL", &only_key(&server, "*:id:revoked-id")])
            .trim()
            .parse()
            .expect("a TTL");
        assert!((3500..=3600).contains(&ttl), "{ttl}");

        // The epoch markers, one per cluster slot, never expire.
        let all = server.cli(&["--scan"]);
        let (markers, keys): (Vec<&str>, Vec<&str>) =
            all.lines().partition(|key| key.ends_with(":epoch"));
        assert_eq!(markers.len(), 16384);
        for marker in markers.iter().step_by(1000) {
            assert_eq!(server.cli(&["TTL", marker]).trim(), "-1", "{marker}");
        }
        // The change stream and its feed record are the store's, not a
        // subject's: trimmed by time, never expired, and they name no
        // subject either (changes carry digests).
        let (mut feed, keys): (Vec<&str>, Vec<&str>) = keys
            .into_iter()
            .partition(|key| key.starts_with("vaulttoken:{changes}"));
        feed.sort_unstable();
        assert_eq!(feed, ["vaulttoken:{changes}", "vaulttoken:{changes}:feed"]);
        assert_eq!(server.cli(&["TTL", feed[0]]).trim(), "-1");
        assert_eq!(server.cli(&["TTL", feed[1]]).trim(), "-1");
        // One change per write above, in order.
        let changes = server.cli(&["XRANGE", feed[0], "-", "+"]);
        let kinds: String = changes
            .lines()
            .filter(|line| line.contains(' '))
            .map(|line| &line[..1])
            .collect();
        assert_eq!(kinds, "rulcf", "{changes}");
        assert!(!changes.contains("alice"), "a change names the subject");
        // Keys name the subject's hash, never the subject.
        assert_eq!(keys.len(), 6);
        assert!(!all.contains("alice"), "a key names the subject");
        let tags: std::collections::HashSet<&str> = keys
            .iter()
            .map(|key| &key[key.find('{').expect("tag")..=key.find('}').expect("tag")])
            .collect();
        assert_eq!(tags.len(), 1, "one hash tag per subject: {tags:?}");
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_keeps_the_later_expiry_and_a_spent_id_spent() {
    if !redis_available("revoking_keeps_the_later_expiry_and_a_spent_id_spent") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = connect(&server).await;
        assert_eq!(
            store.consume(None, "link", later(1)).await,
            Ok(Consumption::Consumed)
        );
        let key = only_key(&server, "*:id:link");
        store.revoke(None, "link", later(3)).await.expect("revoke");
        assert_eq!(expiry_of(&server, &key), millis(later(3)), "extended");
        assert_eq!(
            store.check(&Check::token(None, "link")).await,
            Ok(TokenState::Used),
            "a spent id stays spent"
        );
        store.revoke(None, "link", later(2)).await.expect("revoke");
        assert_eq!(
            expiry_of(&server, &key),
            millis(later(3)),
            "never shortened"
        );

        store
            .revoke_issued_before("bob", later(0), later(5))
            .await
            .expect("cutoff");
        let cutoff = only_key(&server, "*:cutoff");
        store
            .revoke_issued_before("bob", later(-1), later(4))
            .await
            .expect("earlier cutoff");
        assert_eq!(
            expiry_of(&server, &cutoff),
            millis(later(5)),
            "never shortened"
        );
        let before = Check::token(Some("bob"), "t").issued_at(later(0) - time::Duration::SECOND);
        assert_eq!(
            store.check(&before).await,
            Ok(TokenState::IssuedBeforeCutoff)
        );

        // A revocation that has already expired leaves nothing behind.
        store
            .revoke(None, "long-gone", later(-1))
            .await
            .expect("revoke");
        assert_eq!(
            store.check(&Check::token(None, "long-gone")).await,
            Ok(TokenState::Live)
        );
        assert!(
            server
                .cli(&["--scan", "--pattern", "*long-gone"])
                .is_empty()
        );
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_family_is_kept_until_its_absolute_expiry() {
    if !redis_available("a_revoked_family_is_kept_until_its_absolute_expiry") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = connect(&server).await;
        let family = NewFamily::new("carol", "fam-c", later(0), later(24));
        store.create_family(&family).await.expect("create");
        let step = store
            .rotate_family(&Rotation::new("carol", "fam-c", 0, later(0)))
            .await
            .expect("rotate");
        assert_eq!(step.successor().map(|(generation, _)| generation), Some(1));
        store
            .revoke_family(Some("carol"), "fam-c")
            .await
            .expect("revoke");
        let key = only_key(&server, "*:family:fam-c");
        assert_eq!(expiry_of(&server, &key), millis(later(24)));
        assert_eq!(server.cli(&["HGET", &key, "revoked"]).trim(), "1");
        assert_eq!(server.cli(&["HGET", &key, "gen"]).trim(), "1");
        let again = NewFamily::new("carol", "fam-c", later(0), later(24));
        assert!(matches!(
            store.create_family(&again).await,
            Err(StoreError::Protocol { .. })
        ));
        // Revoking an unknown family creates nothing.
        store
            .revoke_family(Some("carol"), "never")
            .await
            .expect("revoke unknown");
        assert!(server.cli(&["--scan", "--pattern", "*never"]).is_empty());
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_counts_only_live_families() {
    if !redis_available("the_cap_counts_only_live_families") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = connect(&server).await;
        let t = later(0);
        let create = |id: &'static str, at: i64, cap: usize| {
            NewFamily::new("dave", id, t + time::Duration::seconds(at), later(24))
                .max_per_subject(cap)
        };
        assert_eq!(store.create_family(&create("a", 0, 2)).await, Ok(vec![]));
        assert_eq!(store.create_family(&create("b", 1, 2)).await, Ok(vec![]));
        store
            .revoke_family(Some("dave"), "a")
            .await
            .expect("revoke");
        // Only b is live: c joins it under the cap of 2.
        assert_eq!(store.create_family(&create("c", 2, 2)).await, Ok(vec![]));
        // A cap of 1 (or 0, read as 1) keeps only the newest.
        assert_eq!(
            store.create_family(&create("d", 3, 0)).await,
            Ok(vec!["b".to_owned(), "c".to_owned()])
        );
        // Same creation second: the id breaks the tie.
        assert_eq!(store.create_family(&create("f", 3, 3)).await, Ok(vec![]));
        assert_eq!(
            store.create_family(&create("e", 3, 2)).await,
            Ok(vec!["d".to_owned()])
        );
        for (id, state) in [
            ("a", TokenState::FamilyRevoked),
            ("b", TokenState::FamilyRevoked),
            ("c", TokenState::FamilyRevoked),
            ("d", TokenState::FamilyRevoked),
            ("e", TokenState::Live),
            ("f", TokenState::Live),
        ] {
            let check = Check::token(Some("dave"), "x").family(id);
            assert_eq!(store.check(&check).await, Ok(state), "{id}");
        }
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_this_crate_did_not_write_fail_closed() {
    if !redis_available("values_this_crate_did_not_write_fail_closed") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = connect(&server).await;
        store
            .revoke_issued_before("erin", later(0), later(1))
            .await
            .expect("cutoff");
        let cutoff = only_key(&server, "*:cutoff");
        server.cli(&["SET", &cutoff, "not-a-cutoff"]);
        let check = Check::token(Some("erin"), "t").issued_at(later(0));
        assert!(matches!(
            store.check(&check).await,
            Err(StoreError::Protocol { .. })
        ));

        store
            .revoke(None, "listed", later(1))
            .await
            .expect("revoke");
        let id = only_key(&server, "*:id:listed");
        server.cli(&["DEL", &id]);
        server.cli(&["RPUSH", &id, "x"]);
        assert!(matches!(
            store.check(&Check::token(None, "listed")).await,
            Err(StoreError::Protocol { .. })
        ));

        // An id entry with a value of unknown kind counts as revoked.
        store.revoke(None, "odd", later(1)).await.expect("revoke");
        server.cli(&["SET", &only_key(&server, "*:id:odd"), "???"]);
        assert_eq!(
            store.check(&Check::token(None, "odd")).await,
            Ok(TokenState::Revoked)
        );
        assert_eq!(
            store.consume(None, "odd", later(1)).await,
            Ok(Consumption::Revoked)
        );
    })
    .await
    .expect("bounded in time");
}
