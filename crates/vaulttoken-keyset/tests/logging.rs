//! What a follower logs (target `vaulttoken_keyset`), in a test binary of
//! its own so that no other test's events interleave: the keys it learnt
//! (INFO `key_set_changed`, with the ids), a refused document (ERROR
//! `key_set_refused`, saying why and never echoing a key), and a failed
//! fetch (WARN `key_set_unavailable`). Nothing is logged for an unchanged
//! set.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/issuer.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod issuer;
#[path = "support/keyserver.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod keyserver;

use std::time::Duration;

use tracing::Level;
use vaulttoken_keyset::RemoteKeySet;
use vaulttoken_test_redis::EventRecorder;

use self::issuer::{ISSUER, Issuer, bounded, until};
use self::keyserver::KeyServer;

#[tokio::test]
async fn changes_refusals_and_failures_are_logged() {
    let recorder = EventRecorder::default();
    let _guard = recorder.install();
    bounded(async {
        let issuer = Issuer::new();
        let first = issuer.ring.active_id().unwrap();
        let mut server = KeyServer::start(issuer.document(1)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .min_lookup_interval(Duration::from_millis(100))
            .build()
            .await
            .unwrap();
        let changed = recorder.events_named("key_set_changed");
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(changed[0].level, Level::INFO);
        assert_eq!(changed[0].target, "vaulttoken_keyset");
        assert_eq!(
            changed[0].fields["added"],
            format!("[\"{}\"]", first.as_str())
        );
        assert_eq!(changed[0].fields["url"], server.url());

        // Unchanged (304s): nothing more.
        until(|| server.not_modified() >= 1).await;
        assert_eq!(recorder.events_named("key_set_changed").len(), 1);
        // Unchanged but answered 200 (a new tag): nothing more either. (The
        // fetch after next starts only once that one is applied.)
        let fetches = keys.counts().fetches;
        server.publish(issuer.document(1));
        until(|| keys.counts().fetches > fetches + 1).await;
        assert_eq!(recorder.events_named("key_set_changed").len(), 1);

        // A next key, then the first one gone.
        let next = issuer.announce();
        issuer.promote(&next);
        issuer.ring.retire_immediately(&first).unwrap();
        server.publish(issuer.document(1));
        until(|| keys.ring().status(&next).is_some()).await;
        let changed = recorder.events_named("key_set_changed");
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert_eq!(
            changed[1].fields["added"],
            format!("[\"{}\"]", next.as_str())
        );
        assert_eq!(
            changed[1].fields["removed"],
            format!("[\"{}\"]", first.as_str())
        );

        // Another issuer's set: refused, at ERROR, saying why, no key in it.
        server.publish(Issuer::new().document_as("https://evil.test", 1));
        until(|| !recorder.events_named("key_set_refused").is_empty()).await;
        let refused = &recorder.events_named("key_set_refused")[0];
        assert_eq!(refused.level, Level::ERROR);
        assert!(
            refused.fields["error"].contains("another issuer"),
            "{refused:?}"
        );
        assert_eq!(refused.fields["keys_still_vouched_for"], "true");
        let everything = format!("{:?}", recorder.events());
        assert!(!everything.contains("k4.public"), "{everything}");

        // Down: WARN.
        server.stop().await;
        until(|| !recorder.events_named("key_set_unavailable").is_empty()).await;
        let unavailable = &recorder.events_named("key_set_unavailable")[0];
        assert_eq!(unavailable.level, Level::WARN);
        assert!(
            unavailable.fields["error"].contains("could not be reached"),
            "{unavailable:?}"
        );
        // Stale keys are still served meanwhile (the stale bound is 10 min).
        keys.service().decode_async(&issuer.token()).await.unwrap();
    })
    .await;
}
