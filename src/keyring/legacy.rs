//! The keys of a service that seals internal tokens (refresh tokens, trust
//! tokens): one key, or a [`LocalKeyRing`] with, optionally, the one key used
//! before the ring ("legacy"), which opens only tokens that name no `kid`.

use core::ops::Range;
use std::sync::Arc;

use super::LocalKeyRing;
use crate::clock::Clock;
use crate::error::Error;
use crate::footer::UntrustedFooter;
use crate::keys::LocalKey;
use crate::service::{LendsDecodingKey, LocalService, RingLink, TokenService};
use crate::store::TokenStore;

/// Where a token family or trust-token service takes its keys from.
#[derive(Debug)]
pub(crate) enum SealingKeys {
    /// One key: tokens carry no `kid`.
    One(Arc<LocalKey>),
    /// A ring: tokens carry the active key's `kid` and open with the key
    /// their `kid` names; a token without a `kid` opens with `legacy` only.
    Ring {
        ring: Arc<LocalKeyRing>,
        legacy: Option<Arc<LocalKey>>,
    },
}

impl SealingKeys {
    /// The ring's clock, for a service built from a ring.
    pub(crate) fn ring_clock(&self) -> Option<Arc<dyn Clock>> {
        match self {
            Self::One(_) => None,
            Self::Ring { ring, .. } => Some(RingLink::clock(&**ring)),
        }
    }

    /// A service sealing with these keys, reading `clock` (the ring's, if
    /// `None` and there is one), checking tokens against `store`.
    pub(crate) fn service(
        &self,
        clock: Option<Arc<dyn Clock>>,
        store: Arc<dyn TokenStore>,
    ) -> LocalService {
        match self {
            Self::One(key) => {
                let builder = LocalService::builder(Arc::clone(key)).store(store);
                match clock {
                    Some(clock) => builder.clock(clock).build(),
                    None => builder.build(),
                }
            }
            Self::Ring { ring, legacy } => {
                let decoding: Arc<dyn LendsDecodingKey<LocalKey>> = match legacy {
                    Some(legacy) => Arc::new(RingOrLegacy {
                        ring: Arc::clone(ring),
                        legacy: Arc::clone(legacy),
                    }),
                    None => Arc::clone(ring) as Arc<dyn LendsDecodingKey<LocalKey>>,
                };
                let builder = TokenService::from_ring_parts(
                    decoding,
                    Some(Arc::clone(ring) as _),
                    Arc::clone(ring) as _,
                )
                .store(store);
                match clock {
                    Some(clock) => builder.clock(clock).build(),
                    None => builder.build(),
                }
            }
        }
    }
}

/// A ring's keys for tokens that name a `kid`, and one legacy key for tokens
/// that name none. Never both for one token: a token naming a `kid` the ring
/// lacks is refused, whichever key sealed it.
#[derive(Debug)]
struct RingOrLegacy {
    ring: Arc<LocalKeyRing>,
    legacy: Arc<LocalKey>,
}

impl LendsDecodingKey<LocalKey> for RingOrLegacy {
    fn open_with_key(
        &self,
        footer: &UntrustedFooter<'_>,
        open: &mut dyn FnMut(&LocalKey) -> Result<Range<usize>, Error>,
    ) -> Result<Range<usize>, Error> {
        if footer.untrusted_key_id()?.is_some() {
            return self.ring.open_with_key(footer, open);
        }
        open(&self.legacy)
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::claims::Claims;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;

    fn claims() -> Claims {
        Claims::builder()
            .subject("u")
            .random_token_id()
            .build()
            .unwrap()
    }

    async fn opens(service: &LocalService, token: &str) -> Result<(), Error> {
        service.decode_async(token).await.map(drop)
    }

    #[tokio::test]
    async fn the_legacy_key_opens_only_tokens_without_a_kid() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let ring = Arc::new(
            LocalKeyRing::new(Duration::hours(1))
                .unwrap()
                .with_clock(clock.clone()),
        );
        let active = LocalKey::from_bytes(&[7; 32]).unwrap();
        let active_copy = LocalKey::from_bytes(&[7; 32]).unwrap();
        ring.promote(&ring.add(active).unwrap()).unwrap();
        let legacy = Arc::new(LocalKey::generate().unwrap());
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        let keys = SealingKeys::Ring {
            ring: Arc::clone(&ring),
            legacy: Some(Arc::clone(&legacy)),
        };
        let service = keys.service(None, Arc::clone(&store));

        // Kid-less, sealed by the legacy key: opens.
        let old = LocalService::builder(Arc::clone(&legacy))
            .clock(clock.clone())
            .store(Arc::clone(&store))
            .build();
        opens(&service, &old.encode(&claims()).unwrap())
            .await
            .unwrap();
        // Kid-less, sealed by the ring's own key: the legacy key is tried,
        // never the ring.
        let ring_key_no_kid = LocalService::builder(active_copy)
            .clock(clock.clone())
            .store(Arc::clone(&store))
            .build();
        let refused = opens(&service, &ring_key_no_kid.encode(&claims()).unwrap()).await;
        assert!(matches!(refused, Err(Error::Verification)), "{refused:?}");
        // Sealed by the legacy key but naming a kid (its own id): the ring
        // answers alone, and lacks it.
        let legacy_id = legacy.paserk_id().unwrap();
        let named = LocalService::builder(Arc::clone(&legacy))
            .key_id(legacy_id.as_str())
            .clock(clock.clone())
            .store(Arc::clone(&store))
            .build();
        let refused = opens(&service, &named.encode(&claims()).unwrap()).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
        // The ring's tokens name their kid and open.
        let sealed = service.encode(&claims()).unwrap();
        assert_eq!(
            service.untrusted_key_id(&sealed).unwrap(),
            ring.active_id().map(|id| id.as_str().to_owned())
        );
        opens(&service, &sealed).await.unwrap();
    }

    #[tokio::test]
    async fn without_a_legacy_key_a_token_without_a_kid_is_refused() {
        let ring = Arc::new(LocalKeyRing::new(Duration::hours(1)).unwrap());
        ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
            .unwrap();
        let legacy = Arc::new(LocalKey::generate().unwrap());
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        let keys = SealingKeys::Ring { ring, legacy: None };
        let service = keys.service(None, Arc::clone(&store));
        let old = LocalService::builder(legacy).store(store).build();
        let refused = opens(&service, &old.encode(&claims()).unwrap()).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
    }

    #[test]
    fn a_ring_lends_its_clock_and_one_key_has_none() {
        let at = datetime!(2031-05-01 0:00 UTC);
        let ring = Arc::new(
            LocalKeyRing::new(Duration::hours(1))
                .unwrap()
                .with_clock(ManualClock::new(at)),
        );
        let keys = SealingKeys::Ring { ring, legacy: None };
        assert_eq!(keys.ring_clock().map(|clock| clock.now()), Some(at));
        let one = SealingKeys::One(Arc::new(LocalKey::generate().unwrap()));
        assert!(one.ring_clock().is_none());
    }
}
