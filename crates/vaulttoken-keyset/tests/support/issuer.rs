//! The issuer the tests follow: a signing ring, its key-set documents and
//! its tokens.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use vaulttoken::keyring::{KeySet, SigningKeyRing};
use vaulttoken::paserk::KeyId;
use vaulttoken::{Claims, PublicService, SecretKey};

/// The issuer the followers expect.
pub(crate) const ISSUER: &str = "https://auth.test";

/// Runs a test body, bounded in time.
pub(crate) async fn bounded<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("the test took longer than 60 s")
}

/// Waits until `condition` holds (the caller bounds the wait, with
/// [`bounded`]).
pub(crate) async fn until(mut condition: impl FnMut() -> bool) {
    while !condition() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A signing ring with one active key.
pub(crate) struct Issuer {
    pub(crate) ring: Arc<SigningKeyRing>,
}

impl Issuer {
    pub(crate) fn new() -> Self {
        let ring = Arc::new(SigningKeyRing::new(time::Duration::hours(1)).unwrap());
        ring.promote(&ring.add(SecretKey::generate().unwrap()).unwrap())
            .unwrap();
        Self { ring }
    }

    /// The key set, with this cache time.
    pub(crate) fn document(&self, cache_seconds: i64) -> String {
        self.document_as(ISSUER, cache_seconds)
    }

    /// The key set as published by `issuer`.
    pub(crate) fn document_as(&self, issuer: &str, cache_seconds: i64) -> String {
        KeySet::of_ring(issuer, time::Duration::seconds(cache_seconds), &*self.ring)
            .unwrap()
            .to_json()
    }

    /// A token signed with the active key.
    pub(crate) fn token(&self) -> String {
        PublicService::from_ring(Arc::clone(&self.ring))
            .build()
            .encode(&Claims::builder().subject("alice").build().unwrap())
            .unwrap()
    }

    /// Adds a key, `next` until promoted.
    pub(crate) fn announce(&self) -> KeyId {
        self.ring.add(SecretKey::generate().unwrap()).unwrap()
    }

    /// Makes `id` the signing key.
    pub(crate) fn promote(&self, id: &KeyId) {
        self.ring.promote(id).unwrap();
    }
}
