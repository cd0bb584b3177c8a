//! Keys a service follows from elsewhere: the hook a fetcher of a published
//! key set (such as the `vaulttoken-keyset` crate) gives a service built from
//! a key ring, so that a token signed by a key announced a moment ago is
//! accepted after one lookup, and keys too stale to trust fail closed.

use core::fmt;
use core::future::Future;
use core::pin::Pin;

use super::{ServicePurpose, TokenService, VerifiedToken};
use crate::error::Error;
use crate::footer::Footer;

/// The future of [`RemoteKeys::look_up`]: boxed, so that the trait stays
/// usable as `dyn RemoteKeys` without an async runtime in this crate.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use vaulttoken::service::LookUp;
///
/// let finished: LookUp<'static> = Box::pin(async { Ok(()) });
/// assert!(finished.await.is_ok());
/// # }
/// ```
pub type LookUp<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// A source of keys a service follows from elsewhere, attached with
/// [`ServiceBuilder::remote_keys`](super::ServiceBuilder::remote_keys) to a
/// service whose key ring it keeps up to date (adding and removing keys in
/// place).
///
/// Every decode first asks [`RemoteKeys::vouch`] whether the ring is fresh
/// enough to decide anything (a cheap, synchronous check: the hit path costs
/// no more than that and the ring lookup). A token whose footer names a `kid`
/// the ring does not hold makes [`TokenService::decode_async`] wait for
/// [`RemoteKeys::look_up`] of that `kid`, then decode once more; the
/// synchronous [`TokenService::decode`] vouches too but never waits, so it
/// refuses such a token with [`Error::UnknownKeyId`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vaulttoken::Error> {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
/// use time::Duration;
/// use vaulttoken::keyring::PublicKeyRing;
/// use vaulttoken::service::{LookUp, RemoteKeys};
/// use vaulttoken::{Claims, Error, PublicKey, PublicService, SecretKey};
///
/// /// Learns one key when asked (a fetcher would read the issuer's key set).
/// #[derive(Debug)]
/// struct Announced { ring: Arc<PublicKeyRing>, key: PublicKey, fresh: AtomicBool, lookups: AtomicUsize }
///
/// impl RemoteKeys for Announced {
///     fn vouch(&self) -> Result<(), Error> {
///         if self.fresh.load(Ordering::Relaxed) { Ok(()) } else { Err(Error::KeysUnavailable) }
///     }
///     fn look_up<'a>(&'a self, _kid: &'a str) -> LookUp<'a> {
///         self.lookups.fetch_add(1, Ordering::Relaxed);
///         Box::pin(async move { self.ring.add(self.key).map(drop) })
///     }
/// }
///
/// let secret = SecretKey::generate()?;
/// let announced = secret.public_key();
/// let issuer = PublicService::builder(secret).key_id(announced.paserk_id()?.as_str()).build();
/// let ring = Arc::new(PublicKeyRing::new(Duration::hours(1))?); // without that key
/// let remote = Arc::new(Announced {
///     ring: Arc::clone(&ring),
///     key: announced,
///     fresh: AtomicBool::new(true),
///     lookups: AtomicUsize::new(0),
/// });
/// let verifier = PublicService::from_ring(ring).remote_keys(remote.clone()).build();
/// let token = issuer.encode(&Claims::builder().subject("u").build()?)?;
/// // The synchronous decode never waits; the asynchronous one looks the key up.
/// assert!(matches!(verifier.decode(&token), Err(Error::UnknownKeyId)));
/// assert_eq!(verifier.decode_async(&token).await?.claims().subject(), Some("u"));
/// assert_eq!(remote.lookups.load(Ordering::Relaxed), 1);
/// // Keys too stale to vouch for decide nothing, on either path.
/// remote.fresh.store(false, Ordering::Relaxed);
/// assert!(matches!(verifier.decode_async(&token).await, Err(Error::KeysUnavailable)));
/// assert!(matches!(verifier.decode(&token), Err(Error::KeysUnavailable)));
/// # Ok(())
/// # }
/// ```
pub trait RemoteKeys: Send + Sync + fmt::Debug {
    /// Whether the keys are fresh enough to decide anything: `Ok` while they
    /// are, [`Error::KeysUnavailable`] once they are too stale to vouch for.
    /// Called on every decode, so it must be cheap and never block.
    ///
    /// # Errors
    ///
    /// [`Error::KeysUnavailable`] when the keys are too stale.
    fn vouch(&self) -> Result<(), Error>;

    /// Looks up `kid`, a key id the ring does not hold (read from an
    /// untrusted footer: never trust it further than a lookup). Resolves when
    /// one lookup that can have learnt it has finished, or at once when the
    /// source refuses to look again so soon. Whether the key was found shows
    /// in the ring: the service decodes once more.
    ///
    /// # Errors
    ///
    /// [`Error::KeysUnavailable`] when the source could not be read.
    fn look_up<'a>(&'a self, kid: &'a str) -> LookUp<'a>;
}

impl<P: ServicePurpose> TokenService<P> {
    /// Whether the service's remote keys, if any, vouch for its ring now.
    pub(super) fn vouch_for_keys(&self) -> Result<(), Error> {
        self.remote_keys
            .as_ref()
            .map_or(Ok(()), |remote| remote.vouch())
    }

    /// Decodes as [`TokenService::decode_async`] does before asking a store:
    /// with the ring alone, or, following remote keys, after they vouch for
    /// it, and once more after one lookup of a `kid` the ring lacks.
    pub(super) async fn decode_following(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        let Some(remote) = &self.remote_keys else {
            return self.decode_unchecked(token, expected_footer, implicit);
        };
        remote.vouch()?;
        match self.decode_unchecked(token, expected_footer, implicit) {
            Err(Error::UnknownKeyId) => {
                // Only a footer that names a `kid` is worth a lookup.
                let Some(kid) = self.untrusted_key_id(token)? else {
                    return Err(Error::UnknownKeyId);
                };
                remote.look_up(&kid).await?;
                self.decode_unchecked(token, expected_footer, implicit)
            }
            decoded => decoded,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use time::Duration;

    use super::*;
    use crate::claims::Claims;
    use crate::keyring::PublicKeyRing;
    use crate::keys::{PublicKey, SecretKey};
    use crate::service::PublicService;
    use crate::store::MemoryStore;

    /// Remote keys that learn one key on a lookup, and record what they are
    /// asked.
    #[derive(Debug)]
    struct Following {
        ring: Arc<PublicKeyRing>,
        learns: Option<PublicKey>,
        fresh: AtomicBool,
        source_down: AtomicBool,
        vouches: AtomicUsize,
        lookups: Mutex<Vec<String>>,
    }

    impl RemoteKeys for Following {
        fn vouch(&self) -> Result<(), Error> {
            self.vouches.fetch_add(1, Ordering::SeqCst);
            if self.fresh.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(Error::KeysUnavailable)
            }
        }

        fn look_up<'a>(&'a self, kid: &'a str) -> LookUp<'a> {
            Box::pin(async move {
                self.lookups.lock().unwrap().push(kid.to_owned());
                if self.source_down.load(Ordering::SeqCst) {
                    return Err(Error::KeysUnavailable);
                }
                if let Some(key) = self.learns {
                    self.ring.add(key)?;
                }
                Ok(())
            })
        }
    }

    struct Setup {
        remote: Arc<Following>,
        verifier: PublicService,
        /// Signs with the key the ring holds from the start.
        known: PublicService,
        /// Signs with the key a lookup learns.
        announced: PublicService,
    }

    fn setup(learns: bool, store: bool) -> Setup {
        let (known_secret, announced_secret) = (
            SecretKey::generate().unwrap(),
            SecretKey::generate().unwrap(),
        );
        let (known_public, announced_public) =
            (known_secret.public_key(), announced_secret.public_key());
        let ring = Arc::new(PublicKeyRing::new(Duration::hours(1)).unwrap());
        ring.add(known_public).unwrap();
        let remote = Arc::new(Following {
            ring: Arc::clone(&ring),
            learns: learns.then_some(announced_public),
            fresh: AtomicBool::new(true),
            source_down: AtomicBool::new(false),
            vouches: AtomicUsize::new(0),
            lookups: Mutex::new(Vec::new()),
        });
        let mut builder = PublicService::from_ring(ring).remote_keys(remote.clone());
        if store {
            builder = builder.store(Arc::new(MemoryStore::new()));
        }
        let signer = |secret: SecretKey, public: PublicKey| {
            let kid = public.paserk_id().unwrap();
            PublicService::builder(secret).key_id(kid.as_str()).build()
        };
        Setup {
            remote,
            verifier: builder.build(),
            known: signer(known_secret, known_public),
            announced: signer(announced_secret, announced_public),
        }
    }

    fn token(service: &PublicService) -> String {
        service
            .encode(&Claims::builder().subject("u").build().unwrap())
            .unwrap()
    }

    fn lookups(setup: &Setup) -> Vec<String> {
        setup.remote.lookups.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_known_kid_needs_no_lookup_and_an_announced_one_one_lookup() {
        let setup = setup(true, false);
        let known = token(&setup.known);
        setup.verifier.decode_async(&known).await.unwrap();
        setup.verifier.decode(&known).unwrap();
        assert!(lookups(&setup).is_empty());
        assert_eq!(setup.remote.vouches.load(Ordering::SeqCst), 2);

        let announced = token(&setup.announced);
        let verified = setup.verifier.decode_async(&announced).await.unwrap();
        assert_eq!(verified.claims().subject(), Some("u"));
        let kid = setup.verifier.untrusted_key_id(&announced).unwrap();
        assert_eq!(lookups(&setup), vec![kid.unwrap()]);
        // Learnt: no second lookup.
        setup.verifier.decode_async(&announced).await.unwrap();
        setup.verifier.decode(&announced).unwrap();
        assert_eq!(lookups(&setup).len(), 1);
    }

    #[tokio::test]
    async fn a_lookup_that_learns_nothing_is_followed_by_one_decode_only() {
        let setup = setup(false, false);
        let announced = token(&setup.announced);
        assert!(matches!(
            setup.verifier.decode_async(&announced).await,
            Err(Error::UnknownKeyId)
        ));
        assert_eq!(lookups(&setup).len(), 1);
        assert_eq!(setup.remote.vouches.load(Ordering::SeqCst), 1);
        // The synchronous decode never looks up.
        assert!(matches!(
            setup.verifier.decode(&announced),
            Err(Error::UnknownKeyId)
        ));
        assert_eq!(lookups(&setup).len(), 1);
    }

    #[tokio::test]
    async fn only_an_unknown_kid_named_in_the_footer_is_looked_up() {
        let setup = setup(true, false);
        // No kid at all: refused as unknown without a lookup.
        let anonymous = PublicService::builder(SecretKey::generate().unwrap()).build();
        assert!(matches!(
            setup.verifier.decode_async(&token(&anonymous)).await,
            Err(Error::UnknownKeyId)
        ));
        // A known kid with a forged signature: refused, no lookup.
        let mut forged = token(&setup.known).into_bytes();
        let last_body_byte = forged.iter().rposition(|b| *b == b'.').unwrap() - 1;
        forged[last_body_byte] = if forged[last_body_byte] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let forged = String::from_utf8(forged).unwrap();
        assert!(matches!(
            setup.verifier.decode_async(&forged).await,
            Err(Error::Verification)
        ));
        assert!(lookups(&setup).is_empty());
    }

    #[tokio::test]
    async fn a_source_out_of_reach_makes_the_decode_unavailable() {
        let setup = setup(true, false);
        setup.remote.source_down.store(true, Ordering::SeqCst);
        let refused = setup
            .verifier
            .decode_async(&token(&setup.announced))
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::KeysUnavailable));
        assert_eq!(lookups(&setup).len(), 1);
    }

    #[tokio::test]
    async fn stale_keys_decide_nothing_on_any_path() {
        for store in [false, true] {
            let setup = setup(true, store);
            setup.remote.fresh.store(false, Ordering::SeqCst);
            let known = token(&setup.known);
            assert!(matches!(
                setup.verifier.decode_async(&known).await,
                Err(Error::KeysUnavailable)
            ));
            assert!(matches!(
                setup.verifier.decode_async(&token(&setup.announced)).await,
                Err(Error::KeysUnavailable)
            ));
            let sync = setup.verifier.decode(&known).unwrap_err();
            if store {
                assert!(matches!(sync, Error::StoreNeedsAsync));
            } else {
                assert!(matches!(sync, Error::KeysUnavailable));
            }
            assert!(lookups(&setup).is_empty());
        }
    }

    #[tokio::test]
    async fn a_service_with_a_store_follows_remote_keys_before_asking_it() {
        let setup = setup(true, true);
        let claims = Claims::builder()
            .subject("u")
            .token_id("t-1")
            .build()
            .unwrap();
        let announced = setup.announced.encode(&claims).unwrap();
        let verified = setup.verifier.decode_async(&announced).await.unwrap();
        assert_eq!(lookups(&setup).len(), 1);
        setup.verifier.revoke(&verified).await.unwrap();
        assert!(matches!(
            setup.verifier.decode_async(&announced).await,
            Err(Error::Denied(_))
        ));
    }

    #[test]
    fn debug_shows_the_remote_keys() {
        let setup = setup(true, false);
        let ring = Arc::new(PublicKeyRing::new(Duration::hours(1)).unwrap());
        let builder = PublicService::from_ring(ring).remote_keys(setup.remote.clone());
        let shown = format!("{builder:?}");
        assert!(shown.contains("remote_keys: Some(Following"), "{shown}");
        let shown = format!("{:?}", setup.verifier);
        assert!(shown.contains("remote_keys: Some(Following"), "{shown}");
        let plain = format!("{:?}", setup.known);
        assert!(plain.contains("remote_keys: None"), "{plain}");
    }
}
