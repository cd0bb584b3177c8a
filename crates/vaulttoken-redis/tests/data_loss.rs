//! A Redis that lost its data (restarted without persistence) is noticed:
//! what the store can no longer vouch for is refused, a spent single-use
//! token stays spent, a revoked token stays refused, and the loss is reported
//! once as the error-level audit event `store_data_lost`. Tokens issued after
//! the loss work.

#[path = "support/loss.rs"]
mod loss;

use std::sync::Arc;
use std::time::Duration;

use loss::{answered, next_second, refused_as_lost};
use vaulttoken::audit::TARGET;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::StoreError;
use vaulttoken::store::{Check, NewFamily, Rotated, Rotation, TokenState, TokenStore};
use vaulttoken::trust::{TrustKind, TrustTokens};
use vaulttoken::{Claims, Error, LocalKey, LocalService};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{EventRecorder, RedisCluster, RedisServer, redis_available};

const BOUND: Duration = Duration::from_secs(60);

fn assert_one_loss_reported(recorder: &EventRecorder) {
    let lost = recorder.events_named("store_data_lost");
    assert_eq!(lost.len(), 1, "one event per loss: {lost:?}");
    assert_eq!(lost[0].level, tracing::Level::ERROR);
    assert_eq!(lost[0].target, TARGET);
    // The other slots' markers were created at once, without a warning;
    // one error line says in words what happened.
    let own: Vec<_> = recorder
        .events()
        .into_iter()
        .filter(|event| event.target == "vaulttoken_redis")
        .collect();
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0].level, tracing::Level::ERROR);
    assert!(
        own[0].fields["message"].starts_with("Redis lost the token store's data"),
        "{own:?}"
    );
}

fn trust_tokens(store: Arc<dyn TokenStore>) -> TrustTokens {
    TrustTokens::builder(LocalKey::generate().expect("key"), store).build()
}

/// Spends a token, loses the data with `lose`, and shows the token stays
/// spent and the loss is reported.
async fn spent_stays_spent(store: Arc<dyn TokenStore>, lose: impl FnOnce()) {
    let tokens = trust_tokens(store);
    let kind = TrustKind::MagicLink;
    let token = tokens
        .issue(tokens.request(kind.clone(), "alice"))
        .await
        .expect("issue");
    tokens
        .consume(&token, &kind, None)
        .await
        .expect("the first use");
    assert!(matches!(
        tokens.consume(&token, &kind, None).await,
        Err(Error::Denied(_))
    ));

    let recorder = EventRecorder::default();
    let _recording = recorder.install();
    lose();
    let again = answered(|| tokens.consume(&token, &kind, None)).await;
    assert!(
        refused_as_lost(&again),
        "a spent token is spent again after the loss: {again:?}"
    );
    let once_more = answered(|| tokens.consume(&token, &kind, None)).await;
    assert!(refused_as_lost(&once_more), "and later: {once_more:?}");
    assert_one_loss_reported(&recorder);

    // A token issued after the loss is spent once, as usual.
    next_second().await;
    let fresh = tokens
        .issue(tokens.request(kind.clone(), "alice"))
        .await
        .expect("issue after the loss");
    tokens
        .consume(&fresh, &kind, None)
        .await
        .expect("a token issued after the loss");
    assert!(matches!(
        tokens.consume(&fresh, &kind, None).await,
        Err(Error::Denied(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_trust_token_stays_spent_after_redis_restarts_empty() {
    if !redis_available("a_spent_trust_token_stays_spent_after_redis_restarts_empty") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        spent_stays_spent(Arc::new(store), || server.restart()).await;
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stays_refused_after_redis_restarts_empty() {
    if !redis_available("a_revoked_token_stays_refused_after_redis_restarts_empty") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        let service = LocalService::builder(LocalKey::generate().expect("key"))
            .store(Arc::new(store))
            .build();
        let claims = || Claims::builder().subject("alice").build().expect("claims");
        let revoked = service.encode(&claims()).expect("encode");
        let kept = service.encode(&claims()).expect("encode");
        let verified = service.decode_async(&revoked).await.expect("live");
        service.revoke(&verified).await.expect("revoke");
        assert!(matches!(
            service.decode_async(&revoked).await,
            Err(Error::Denied(_))
        ));
        service.decode_async(&kept).await.expect("live");

        let recorder = EventRecorder::default();
        let _recording = recorder.install();
        server.restart();
        let after = answered(|| service.decode_async(&revoked)).await;
        assert!(
            refused_as_lost(&after),
            "a revoked token is accepted after the loss: {after:?}"
        );
        // Nothing issued before the loss is vouched for: users sign in again.
        let unrevoked = answered(|| service.decode_async(&kept)).await;
        assert!(
            refused_as_lost(&unrevoked),
            "a token issued before the loss: {unrevoked:?}"
        );
        assert_one_loss_reported(&recorder);

        next_second().await;
        let fresh = service.encode(&claims()).expect("encode");
        service
            .decode_async(&fresh)
            .await
            .expect("a token issued after the loss is accepted");
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_issued_before_the_first_use_of_a_redis_is_refused() {
    if !redis_available("a_token_issued_before_the_first_use_of_a_redis_is_refused") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let key = Arc::new(LocalKey::generate().expect("key"));
        let claims = Claims::builder()
            .subject("alice")
            .random_token_id()
            .build()
            .expect("claims");
        let before = LocalService::builder(Arc::clone(&key))
            .build()
            .encode(&claims)
            .expect("encode");
        let recorder = EventRecorder::default();
        let _recording = recorder.install();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        // A first use cannot be told from the loss of everything: warned of.
        let warned = recorder
            .events()
            .into_iter()
            .filter(|event| event.level == tracing::Level::WARN)
            .filter(|event| event.target == "vaulttoken_redis")
            .count();
        assert_eq!(warned, 1);
        let service = LocalService::builder(key).store(Arc::new(store)).build();
        let refused = service.decode_async(&before).await;
        assert!(refused_as_lost(&refused), "{refused:?}");
        // Connecting waited for the new epoch: what is issued now is accepted.
        let claims = Claims::builder().subject("alice").build().expect("claims");
        let after = service.encode(&claims).expect("encode");
        service
            .decode_async(&after)
            .await
            .expect("issued after the first use");
        assert!(recorder.events_named("store_data_lost").is_empty());
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_that_restarts_empty_is_noticed() {
    if !redis_available("a_cluster_node_that_restarts_empty_is_noticed") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut cluster = RedisCluster::start();
        let store = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
            .await
            .expect("connect");
        spent_stays_spent(Arc::new(store), || {
            let node = cluster.node_holding("*:id:*").expect("a node holds the id");
            cluster.restart_node_empty(node);
        })
        .await;
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_after_the_loss_finds_the_family_gone() {
    if !redis_available("a_rotation_after_the_loss_finds_the_family_gone") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        let now = SystemClock.now();
        let family = NewFamily::new("alice", "fam-1", now, now + time::Duration::days(1));
        store.create_family(&family).await.expect("create");

        let recorder = EventRecorder::default();
        let _recording = recorder.install();
        server.restart();
        let rotation = Rotation::new("alice", "fam-1", 0, now);
        let step = loop {
            match store.rotate_family(&rotation).await {
                Err(StoreError::Unreachable { .. } | StoreError::Timeout { .. }) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => break other,
            }
        };
        assert_eq!(step, Ok(Rotated::Revoked));
        assert_one_loss_reported(&recorder);
        // Every slot begins its new epoch with the first one noticed: no
        // other slot reports the same loss again.
        for subject in ["bob", "carol", "dave", "erin"] {
            let check = Check::token(Some(subject), "x").issued_at(SystemClock.now());
            assert_eq!(
                store.check(&check).await,
                Ok(TokenState::IssuedBeforeStoreEpoch)
            );
        }
        assert_one_loss_reported(&recorder);
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_marker_this_crate_did_not_write_fails_closed() {
    if !redis_available("an_epoch_marker_this_crate_did_not_write_fails_closed") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        // The answer checked is the refusal, not its speed: a generous
        // deadline (CI once saw the 500 ms default pass on a busy machine).
        let options = StoreOptions::default().deadline(Duration::from_secs(5));
        let store = RedisStore::connect(&server.url(), options)
            .await
            .expect("connect");
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "x").issued_at(now);
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));
        let overwrite = "for _, key in ipairs(redis.call('KEYS', '*:epoch')) do \
                         redis.call('SET', key, 'not-a-second') end return 0";
        assert_eq!(server.cli(&["EVAL", overwrite, "0"]).trim(), "0");
        let unreadable = StoreError::Protocol {
            reason: "an epoch marker this crate did not write".into(),
        };
        assert_eq!(store.check(&check).await, Err(unreadable.clone()));
        let until = now + time::Duration::minutes(5);
        assert_eq!(
            store
                .consume_issued_at(Some("alice"), "x", Some(now), until)
                .await,
            Err(unreadable.clone())
        );
        let rotation = Rotation::new("alice", "fam", 0, now);
        assert_eq!(store.rotate_family(&rotation).await, Err(unreadable));
    })
    .await
    .expect("bounded in time");
}

/// `store.health()` again while the store is unreachable (reconnecting
/// after a restart): its first answer.
async fn health_once_answered(store: &RedisStore) -> vaulttoken::store::StoreHealth {
    loop {
        match store.health().await {
            Ok(health) => return health,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_finds_a_loss_without_traffic_and_fails_while_redis_is_down() {
    if !redis_available(
        "the_health_check_finds_a_loss_without_traffic_and_fails_while_redis_is_down",
    ) {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut server = RedisServer::start();
        let options = StoreOptions::default().deadline(Duration::from_millis(500));
        let store = RedisStore::connect(&server.url(), options)
            .await
            .expect("connect");
        let recorder = EventRecorder::default();
        let _guard = recorder.install();
        let fresh = store.health().await.expect("a healthy store answers");
        assert_eq!(fresh.data_lost, None);
        // Down: the check fails (nothing is vouched for), it never says "fine".
        server.kill();
        let down = store.health().await;
        assert!(
            matches!(
                down,
                Err(StoreError::Unreachable { .. } | StoreError::Timeout { .. })
            ),
            "{down:?}"
        );
        // Back, empty: the check itself finds the loss, with no token used.
        let before = SystemClock.now();
        server.restart();
        let after = health_once_answered(&store).await;
        let loss = after.data_lost.expect("the loss is found by the check");
        assert_eq!(loss.times, 1);
        assert!(loss.last_at >= before);
        assert_one_loss_reported(&recorder);
        // Found once: the markers were begun again, so the next check adds
        // no second loss.
        let again = store.health().await.expect("answers");
        assert_eq!(again.data_lost.map(|loss| loss.times), Some(1));
        assert_eq!(recorder.events_named("store_data_lost").len(), 1);
        // A later loss is counted as a second one.
        server.restart();
        let second = health_once_answered(&store).await;
        assert_eq!(second.data_lost.map(|loss| loss.times), Some(2));
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_of_a_cluster_asks_every_primary() {
    if !redis_available("the_health_check_of_a_cluster_asks_every_primary") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut cluster = RedisCluster::start();
        let options = StoreOptions::default().deadline(Duration::from_millis(500));
        let store = RedisStore::connect_cluster(cluster.urls(), options)
            .await
            .expect("connect");
        assert_eq!(store.health().await.expect("answers").data_lost, None);
        // The probe reads the anonymous subjects' slot; a primary that holds
        // other slots is asked too: with it down, the check fails.
        let until = SystemClock.now() + time::Duration::minutes(5);
        store.revoke(None, "probe", until).await.expect("revoke");
        let probed = cluster
            .node_holding("*{anon}*")
            .expect("a node holds the anonymous slot");
        cluster.nodes[(probed + 1) % 3].kill();
        assert!(store.health().await.is_err());
    })
    .await
    .expect("bounded in time");
}
