//! Two service instances, each with its own connection to one Redis: what
//! one revokes, the other refuses.

use std::sync::Arc;
use std::time::Duration;

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::Denial;
use vaulttoken::store::{FAMILY_CLAIM, NewFamily, TokenStore};
use vaulttoken::{Claims, Error, LocalKey, LocalService};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

struct Instance {
    service: LocalService,
    store: Arc<RedisStore>,
}

async fn instance(server: &RedisServer, key: &Arc<LocalKey>) -> Instance {
    let store = Arc::new(
        RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect"),
    );
    let service = LocalService::builder(Arc::clone(key))
        .store(store.clone())
        .build();
    Instance { service, store }
}

fn refused_with(result: Result<vaulttoken::service::VerifiedToken, Error>, denial: Denial) {
    assert!(
        matches!(&result, Err(Error::Denied(found)) if *found == denial),
        "expected {denial:?}: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_instance_revokes_the_other_refuses() {
    if !redis_available("what_one_instance_revokes_the_other_refuses") {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let server = RedisServer::start();
        let key = Arc::new(LocalKey::generate().expect("key"));
        let (a, b) = (instance(&server, &key).await, instance(&server, &key).await);

        // A token revoked through A.
        let token = a
            .service
            .encode(&Claims::builder().subject("alice").build().expect("claims"))
            .expect("encode");
        let verified = b.service.decode_async(&token).await.expect("live on B");
        a.service.revoke(&verified).await.expect("revoke on A");
        refused_with(b.service.decode_async(&token).await, Denial::Revoked);

        // A subject cut off through A ("log out everywhere").
        let bobs = b
            .service
            .encode(&Claims::builder().subject("bob").build().expect("claims"))
            .expect("encode");
        let carols = b
            .service
            .encode(&Claims::builder().subject("carol").build().expect("claims"))
            .expect("encode");
        b.service.decode_async(&bobs).await.expect("live on B");
        a.service.revoke_subject("bob").await.expect("cutoff on A");
        refused_with(
            b.service.decode_async(&bobs).await,
            Denial::IssuedBeforeCutoff,
        );
        b.service
            .decode_async(&carols)
            .await
            .expect("carol untouched");

        // A refresh family revoked through A's store.
        let now = SystemClock.now();
        let family = NewFamily::new("dave", "fam-dave", now, now + time::Duration::days(1));
        a.store.create_family(&family).await.expect("create");
        let access = b
            .service
            .encode(
                &Claims::builder()
                    .subject("dave")
                    .claim(FAMILY_CLAIM, "fam-dave")
                    .build()
                    .expect("claims"),
            )
            .expect("encode");
        b.service
            .decode_async(&access)
            .await
            .expect("family alive on B");
        a.store
            .revoke_family(Some("dave"), "fam-dave")
            .await
            .expect("revoke family on A");
        refused_with(b.service.decode_async(&access).await, Denial::FamilyRevoked);
        refused_with(a.service.decode_async(&access).await, Denial::FamilyRevoked);
    })
    .await
    .expect("bounded in time");
}
