//! Refresh families bound to a context: strict values in the implicit
//! assertions, observed values as keyed hashes with drift reported.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::net::IpAddr;
use std::sync::Arc;

use vaulttoken::binding::{Binding, DriftKind, IpPrefix, OBSERVED_CLAIM, Observer};
use vaulttoken::error::Denial;
use vaulttoken::family::RefreshFamilies;
use vaulttoken::store::{Grace, MemoryStore};
use vaulttoken::{Error, LocalKey};

fn families(observer: Option<Observer>) -> RefreshFamilies {
    let key = LocalKey::from_bytes(&[0x29; 32]).unwrap();
    let mut builder = RefreshFamilies::builder(key, Arc::new(MemoryStore::new()));
    if let Some(observer) = observer {
        builder = builder.observer(observer);
    }
    builder.build()
}

fn strict(ip: &str) -> Binding {
    Binding::new().strict("device", "d-1").strict_ip(
        "ip",
        ip.parse::<IpAddr>().unwrap(),
        IpPrefix::default(),
    )
}

fn observed(ip: &str, agent: &str) -> Binding {
    Binding::new()
        .observe_ip("ip", ip.parse::<IpAddr>().unwrap(), IpPrefix::default())
        .observe("ua", agent)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn a_strict_pair_refreshes_only_in_its_own_context() {
    runtime().block_on(async {
        let families = families(None);
        let first = families
            .issue_bound("alice", &strict("192.0.2.7"))
            .await
            .unwrap();
        // Same /24, another host: the same context.
        let second = families
            .refresh_bound(&first.refresh, &strict("192.0.2.200"))
            .await
            .unwrap();
        assert_eq!(second.generation, 1);
        assert!(second.drift.is_empty());
        let (access, drift) = families
            .verify_access_bound(&second.access, &strict("192.0.2.9"))
            .await
            .unwrap();
        assert_eq!(access.claims().subject(), Some("alice"));
        assert!(drift.is_empty());
        assert!(access.claims().custom_object(OBSERVED_CLAIM).is_none());
        // Another /24, or another device.
        for elsewhere in [
            strict("192.0.3.7"),
            Binding::new().strict("device", "d-2").strict_ip(
                "ip",
                "192.0.2.7".parse::<IpAddr>().unwrap(),
                IpPrefix::default(),
            ),
            Binding::new(),
        ] {
            assert!(matches!(
                families.refresh_bound(&second.refresh, &elsewhere).await,
                Err(Error::Verification)
            ));
            assert!(matches!(
                families
                    .verify_refresh_bound(&second.refresh, &elsewhere)
                    .await,
                Err(Error::Verification)
            ));
            assert!(matches!(
                families
                    .verify_access_bound(&second.access, &elsewhere)
                    .await,
                Err(Error::Verification)
            ));
        }
    });
}

#[test]
fn a_wrong_context_attempt_neither_rotates_nor_revokes_the_family() {
    runtime().block_on(async {
        let families = families(None);
        let home = strict("192.0.2.7");
        let first = families.issue_bound("alice", &home).await.unwrap();
        let second = families.refresh_bound(&first.refresh, &home).await.unwrap();
        let thief = strict("203.0.113.5");
        // The thief replays both the spent and the live refresh token.
        for stolen in [&first.refresh, &second.refresh] {
            assert!(matches!(
                families.refresh_bound(stolen, &thief).await,
                Err(Error::Verification)
            ));
        }
        // Nothing was burned: the victim's access token and live refresh
        // token still work, and the family advances normally.
        families
            .verify_access_bound(&second.access, &home)
            .await
            .unwrap();
        let third = families
            .refresh_bound(&second.refresh, &home)
            .await
            .unwrap();
        assert_eq!(third.generation, 2);
        // Reuse in the right context is still detected.
        let reuse = families.refresh_bound(&first.refresh, &home).await;
        assert!(matches!(reuse, Err(Error::Denied(Denial::ReuseDetected))));
    });
}

#[test]
fn bound_and_unbound_tokens_do_not_mix() {
    runtime().block_on(async {
        let families = families(None);
        let context = strict("192.0.2.7");
        let bound = families.issue_bound("alice", &context).await.unwrap();
        assert!(matches!(
            families.refresh(&bound.refresh).await,
            Err(Error::Verification)
        ));
        assert!(matches!(
            families.verify_access(&bound.access).await,
            Err(Error::Verification)
        ));
        let unbound = families.issue("alice").await.unwrap();
        assert!(matches!(
            families
                .refresh_bound(&unbound.refresh, &Binding::new())
                .await,
            Err(Error::Verification)
        ));
        assert!(matches!(
            families
                .verify_access_bound(&unbound.access, &Binding::new())
                .await,
            Err(Error::Verification)
        ));
        // A bound refresh token is never an access token, nor the reverse.
        assert!(matches!(
            families.verify_access_bound(&bound.refresh, &context).await,
            Err(Error::Verification)
        ));
        assert!(matches!(
            families.refresh_bound(&bound.access, &context).await,
            Err(Error::Verification)
        ));
        families
            .refresh_bound(&bound.refresh, &context)
            .await
            .unwrap();
    });
}

#[test]
fn observe_mode_refreshes_across_contexts_and_reports_drift() {
    runtime().block_on(async {
        let families = families(Some(Observer::from_bytes(&[5; 32])));
        let first = families
            .issue_bound("alice", &observed("192.0.2.7", "app/1"))
            .await
            .unwrap();
        assert!(first.drift.is_empty());
        let (_, drift) = families
            .verify_access_bound(&first.access, &observed("192.0.2.99", "app/1"))
            .await
            .unwrap();
        assert!(drift.is_empty());
        // Another network and agent: refreshed, and both reported.
        let second = families
            .refresh_bound(&first.refresh, &observed("198.51.100.1", "app/2"))
            .await
            .unwrap();
        let kinds: Vec<_> = second.drift.iter().map(|d| (d.name(), d.kind())).collect();
        assert_eq!(
            kinds,
            [("ip", DriftKind::Changed), ("ua", DriftKind::Changed)]
        );
        // The new pair records where it was refreshed: no drift there.
        let (_, drift) = families
            .verify_access_bound(&second.access, &observed("198.51.100.1", "app/2"))
            .await
            .unwrap();
        assert!(drift.is_empty());
        let (_, drift) = families
            .verify_access_bound(&second.access, &observed("192.0.2.7", "app/2"))
            .await
            .unwrap();
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].name(), "ip");
        // No context values at all: every recorded one is missing.
        let third = families
            .refresh_bound(&second.refresh, &Binding::new())
            .await
            .unwrap();
        let kinds: Vec<_> = third.drift.iter().map(|d| d.kind()).collect();
        assert_eq!(
            kinds,
            [DriftKind::MissingInContext, DriftKind::MissingInContext]
        );
    });
}

#[test]
fn without_an_observer_observed_values_are_ignored() {
    runtime().block_on(async {
        let families = families(None);
        let first = families
            .issue_bound("alice", &observed("192.0.2.7", "app/1"))
            .await
            .unwrap();
        let (access, drift) = families
            .verify_access_bound(&first.access, &observed("198.51.100.1", "app/2"))
            .await
            .unwrap();
        assert!(drift.is_empty());
        assert!(access.claims().custom_object(OBSERVED_CLAIM).is_none());
    });
}

#[test]
fn a_grace_replay_needs_the_same_strict_context_and_gets_the_same_successor() {
    runtime().block_on(async {
        let key = LocalKey::from_bytes(&[0x29; 32]).unwrap();
        let families = RefreshFamilies::builder(key, Arc::new(MemoryStore::new()))
            .grace(Grace::new(time::Duration::seconds(30), 2))
            .build();
        let home = strict("192.0.2.7");
        let first = families.issue_bound("alice", &home).await.unwrap();
        let second = families.refresh_bound(&first.refresh, &home).await.unwrap();
        // The lost response, retried from elsewhere: refused, nothing burned.
        assert!(matches!(
            families
                .refresh_bound(&first.refresh, &strict("198.51.100.1"))
                .await,
            Err(Error::Verification)
        ));
        let retry = families.refresh_bound(&first.refresh, &home).await.unwrap();
        assert_eq!(retry.generation, second.generation);
        assert_eq!(retry.refresh_expires_at, second.refresh_expires_at);
        assert_eq!(retry.family_id, second.family_id);
    });
}

#[test]
fn an_invalid_context_is_a_binding_error_before_anything_is_issued() {
    runtime().block_on(async {
        let families = families(None);
        let twice = Binding::new().strict("ip", "a").observe("ip", "b");
        assert!(matches!(
            families.issue_bound("alice", &twice).await,
            Err(Error::Binding(_))
        ));
    });
}
