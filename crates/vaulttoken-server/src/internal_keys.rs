//! The internal keys: each client's refresh-token ring and the trust-token
//! ring. They rotate with every access rotation, promoted at once (nobody
//! outside the server opens these tokens, so nothing is announced), and a
//! key leaves once the longest token it sealed has expired: a refresh
//! family (`VAULTTOKEN_FAMILY_TTL_SECS`), a trust token ([`TRUST_LIFETIME`]).
//!
//! A key document written before rings holds one key per client and one
//! trust key. Such a key opens as a ring of that one key, active, and as the
//! ring's *legacy* key, which opens the tokens it sealed without a `kid`.
//! The legacy key is kept while the ring holds the same key: every token
//! without a `kid` was sealed before the ring existed, so before that key
//! stopped being active, and the ring retires it only once the longest
//! token it sealed has expired.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::keyring::{KeyStatus, LocalKeyRing, RingSettings};
use vaulttoken::{Error, LocalKey};

/// The longest trust token the server issues (an organisation invitation).
pub(crate) const TRUST_LIFETIME: Duration = Duration::days(7);

/// One internal ring, and the key of a document written before rings while
/// it still opens tokens.
#[derive(Debug, Clone)]
pub(crate) struct Sealing {
    pub(crate) ring: Arc<LocalKeyRing>,
    pub(crate) legacy: Option<Arc<LocalKey>>,
}

/// Every internal ring of a key document.
#[derive(Debug, Clone)]
pub(crate) struct InternalKeys {
    /// Each client's refresh-token keys.
    pub(crate) refresh: BTreeMap<String, Sealing>,
    /// The trust-token keys.
    pub(crate) trust: Sealing,
}

impl Sealing {
    /// A ring of one new key, active.
    pub(crate) fn generate(lifetime: Duration) -> Result<Self, Error> {
        let ring = LocalKeyRing::new(lifetime)?;
        ring.promote(&ring.add(LocalKey::generate()?)?)?;
        Ok(Self {
            ring: Arc::new(ring),
            legacy: None,
        })
    }

    /// The ring stored as `ring` (wrapped with `kek`), or, for a document
    /// written before rings, the ring of its one key `legacy`; with the
    /// legacy key while the ring holds it. `Ok(None)` if there is neither.
    pub(crate) fn open(
        ring: Option<&str>,
        legacy: Option<&str>,
        kek: &LocalKey,
        lifetime: Duration,
    ) -> Result<Option<Self>, Error> {
        let legacy = legacy
            .map(|wrapped| LocalKey::from_paserk_wrapped(wrapped, kek))
            .transpose()?;
        let ring = match (ring, &legacy) {
            (Some(text), _) => LocalKeyRing::import_wrapped(text, kek, &RingSettings::new())?,
            (None, Some(key)) => {
                let ring = LocalKeyRing::new(lifetime)?;
                let copy = LocalKey::from_paserk_wrapped(&key.to_paserk_wrapped(kek)?, kek)?;
                ring.promote(&ring.add(copy)?)?;
                ring
            }
            (None, None) => return Ok(None),
        };
        let legacy = match legacy {
            Some(key) if ring.status(&key.paserk_id()?).is_some() => Some(Arc::new(key)),
            _ => None,
        };
        Ok(Some(Self {
            ring: Arc::new(ring),
            legacy,
        }))
    }

    /// A copy of the ring, to change before it is published.
    fn copy(&self) -> Result<LocalKeyRing, Error> {
        LocalKeyRing::import_secret(self.ring.export_secret()?.as_str(), &self.ring.settings())
    }

    /// The ring after a rotation: a new key, active at once; the keys whose
    /// tokens have all expired leave.
    fn rotated(&self) -> Result<Self, Error> {
        let ring = self.copy()?;
        ring.promote(&ring.add(LocalKey::generate()?)?)?;
        ring.retire_expired();
        Ok(self.with_ring(ring))
    }

    /// The ring without the keys whose tokens have all expired.
    fn expired(&self) -> Result<Self, Error> {
        let ring = self.copy()?;
        ring.retire_expired();
        Ok(self.with_ring(ring))
    }

    /// `ring` in place of this ring, with the legacy key while it holds it.
    fn with_ring(&self, ring: LocalKeyRing) -> Self {
        let legacy = self
            .legacy
            .as_ref()
            .filter(|key| key.paserk_id().is_ok_and(|id| ring.status(&id).is_some()));
        Self {
            legacy: legacy.cloned(),
            ring: Arc::new(ring),
        }
    }

    /// When the next key whose tokens have all expired may leave.
    fn next_retirement(&self) -> Option<OffsetDateTime> {
        let lifetime = self.ring.max_token_lifetime();
        self.ring
            .keys()
            .into_iter()
            .filter_map(|(_, status)| match status {
                KeyStatus::Previous { since } => since.checked_add(lifetime),
                _ => None,
            })
            .min()
    }
}

impl InternalKeys {
    /// Every ring after a rotation: see [`Sealing::rotated`].
    pub(crate) fn rotated(&self) -> Result<Self, Error> {
        self.map(Sealing::rotated)
    }

    /// Every ring without its expired keys.
    pub(crate) fn expired(&self) -> Result<Self, Error> {
        self.map(Sealing::expired)
    }

    /// When the next internal key may leave.
    pub(crate) fn next_retirement(&self) -> Option<OffsetDateTime> {
        self.refresh
            .values()
            .chain([&self.trust])
            .filter_map(Sealing::next_retirement)
            .min()
    }

    fn map(&self, change: impl Fn(&Sealing) -> Result<Sealing, Error>) -> Result<Self, Error> {
        let mut refresh = BTreeMap::new();
        for (client, sealing) in &self.refresh {
            refresh.insert(client.clone(), change(sealing)?);
        }
        Ok(Self {
            refresh,
            trust: change(&self.trust)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(kek: &LocalKey) -> (String, vaulttoken::paserk::KeyId) {
        let key = LocalKey::generate().unwrap();
        (
            key.to_paserk_wrapped(kek).unwrap(),
            key.paserk_id().unwrap(),
        )
    }

    #[test]
    fn a_legacy_key_opens_as_a_ring_of_itself_and_leaves_with_it() {
        let kek = LocalKey::generate().unwrap();
        let (legacy, id) = wrapped(&kek);
        let day = Duration::days(1);
        let sealing = Sealing::open(None, Some(&legacy), &kek, day)
            .unwrap()
            .unwrap();
        assert_eq!(sealing.ring.active_id(), Some(id.clone()));
        assert_eq!(sealing.ring.max_token_lifetime(), day);
        assert_eq!(sealing.legacy.as_ref().unwrap().paserk_id().unwrap(), id);

        let rotated = sealing.rotated().unwrap();
        assert_ne!(rotated.ring.active_id(), Some(id.clone()));
        assert!(rotated.legacy.is_some(), "the ring still holds the key");
        assert!(sealing.ring.active_id() == Some(id.clone()), "unchanged");
        assert_eq!(
            rotated
                .next_retirement()
                .map(|at| at > crate::key_file::now()),
            Some(true)
        );

        // Stored and opened again: the same ring, the legacy key kept.
        let text = rotated.ring.export_wrapped(&kek).unwrap();
        let again = Sealing::open(Some(&text), Some(&legacy), &kek, day)
            .unwrap()
            .unwrap();
        assert_eq!(again.ring.keys(), rotated.ring.keys());
        assert!(again.legacy.is_some());
        // Once the ring no longer holds the key, neither is it legacy.
        again.ring.retire_immediately(&id).unwrap();
        let text = again.ring.export_wrapped(&kek).unwrap();
        let gone = Sealing::open(Some(&text), Some(&legacy), &kek, day)
            .unwrap()
            .unwrap();
        assert!(gone.legacy.is_none());
        assert!(Sealing::open(None, None, &kek, day).unwrap().is_none());
    }

    #[test]
    fn expired_keys_leave_and_a_fresh_ring_has_one_active_key() {
        let fresh = Sealing::generate(Duration::ZERO).unwrap();
        assert_eq!(fresh.ring.len(), 1);
        assert!(fresh.ring.active_id().is_some() && fresh.legacy.is_none());
        let keys = InternalKeys {
            refresh: BTreeMap::from([("web".to_owned(), fresh.clone())]),
            trust: Sealing::generate(Duration::days(7)).unwrap(),
        };
        assert_eq!(keys.next_retirement(), None);
        let rotated = keys.rotated().unwrap();
        // A lifetime of zero: the key it replaced left at once.
        assert_eq!(rotated.refresh["web"].ring.len(), 1);
        assert_eq!(rotated.trust.ring.len(), 2);
        let due = rotated.next_retirement().unwrap();
        assert!(due > crate::key_file::now() + Duration::days(6));
        assert_eq!(rotated.expired().unwrap().trust.ring.len(), 2);
    }
}
