//! The constructors of a [`TokenService`] and its [`ServiceBuilder`].

use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;

use time::Duration;

use super::providers::{EphemeralCopies, Provided};
use super::{
    DEFAULT_MAX_TOKEN_LEN, IssuingKeyProvider, KeyProvider, LendsDecodingKey, RemoteKeys, RingLink,
    ServicePurpose, StaticKey, TokenService,
};
use crate::claims::DEFAULT_VALIDITY;
use crate::clock::Clock;
use crate::footer::{FooterLimits, FooterMode};
use crate::rules::RuleSet;
use crate::store::TokenStore;

impl<P: ServicePurpose> TokenService<P> {
    /// A builder for a service that issues and decodes tokens with one key: a
    /// [`LocalKey`](crate::LocalKey) for a [`LocalService`](super::LocalService), a [`SecretKey`](crate::SecretKey) for a
    /// [`PublicService`](super::PublicService) (which verifies with its public half). The key may be
    /// given by value or as an [`Arc`] shared with other services.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{Claims, LocalKey, LocalService, PublicService, SecretKey};
    ///
    /// let key = Arc::new(LocalKey::generate()?);
    /// let issuer = LocalService::builder(Arc::clone(&key)).key_id("sessions-1").build();
    /// let reader = LocalService::builder(key).key_id("sessions-1").build();
    /// let token = issuer.encode(&Claims::builder().subject("u").build()?)?;
    /// assert_eq!(reader.decode(&token)?.claims().subject(), Some("u"));
    ///
    /// let signer = PublicService::builder(SecretKey::generate()?).build();
    /// signer.decode(&signer.encode(&Claims::builder().build()?)?)?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn builder(key: impl Into<Arc<P::IssuingKey>>) -> ServiceBuilder<P, OneKey> {
        let key = key.into();
        let decoding = P::decoding_key_of(&key);
        ServiceBuilder::with_keys(Keys::One {
            decoding,
            issuing: Some(key),
            key_id: None,
            ephemeral: false,
        })
    }

    /// A builder for a service that only decodes, with one key: a [`LocalKey`](crate::LocalKey)
    /// for a [`LocalService`](super::LocalService), a [`PublicKey`](crate::PublicKey) for a [`PublicService`](super::PublicService). It cannot
    /// issue tokens.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, Error, PublicService, SecretKey};
    ///
    /// let secret = SecretKey::generate()?;
    /// let verifier = PublicService::verifier(secret.public_key()).build();
    /// let token = PublicService::builder(secret).build().encode(&Claims::builder().build()?)?;
    /// verifier.decode(&token)?;
    /// assert!(matches!(verifier.encode(&Claims::builder().build()?), Err(Error::NoIssuingKey)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn verifier(key: impl Into<Arc<P::DecodingKey>>) -> ServiceBuilder<P, OneKey> {
        ServiceBuilder::with_keys(Keys::One {
            decoding: key.into(),
            issuing: None,
            key_id: None,
            ephemeral: false,
        })
    }
}

impl<P: ServicePurpose> TokenService<P> {
    /// A builder for a service whose keys come from providers: your own, a
    /// closure ([`key_provider_fn`](super::key_provider_fn)) or a [`StaticKey`]. Pass `None` as
    /// `issuing` for a service that only decodes. (For a key ring, use
    /// `from_ring`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::service::{LocalService, StaticKey};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let keys = Arc::new(StaticKey::new(vaulttoken::LocalKey::generate()?).with_key_id("k1"));
    /// let service = LocalService::from_providers(keys.clone(), Some(keys.clone())).build();
    /// let token = service.encode(&Claims::builder().subject("u").build()?)?;
    /// assert_eq!(service.decode(&token)?.claims().subject(), Some("u"));
    ///
    /// // Without an issuing provider, the service only decodes.
    /// let reader = LocalService::from_providers(keys, None).build();
    /// reader.decode(&token)?;
    /// assert!(matches!(reader.encode(&Claims::builder().build()?), Err(Error::NoIssuingKey)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_providers(
        decoding: Arc<dyn KeyProvider<P::DecodingKey>>,
        issuing: Option<Arc<dyn IssuingKeyProvider<P::IssuingKey>>>,
    ) -> ServiceBuilder<P> {
        ServiceBuilder::with_keys(Keys::Providers {
            decoding: Arc::new(Provided(decoding)),
            issuing,
        })
    }

    /// A builder for a service whose keys come from a key ring, sharing its
    /// clock and bound by its token lifetime.
    pub(crate) fn from_ring_parts(
        decoding: Arc<dyn LendsDecodingKey<P::DecodingKey>>,
        issuing: Option<Arc<dyn IssuingKeyProvider<P::IssuingKey>>>,
        ring: Arc<dyn RingLink>,
    ) -> ServiceBuilder<P> {
        let mut builder = ServiceBuilder::with_keys(Keys::Providers { decoding, issuing });
        builder.ring = Some(ring);
        builder
    }
}

/// Configures a [`TokenService`].
///
/// Defaults: [`RuleSet::default`], [`FooterMode::Auto`], [`FooterLimits::default`],
/// a maximum token length of [`DEFAULT_MAX_TOKEN_LEN`] (64 KiB), and a default
/// validity of 1 hour.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::{FooterLimits, FooterMode};
/// use vaulttoken::rules::RuleSet;
/// use vaulttoken::{Claims, LocalKey, service::LocalService};
///
/// let service = LocalService::builder(LocalKey::generate()?)
///     .rules(RuleSet::default().issued_by("auth.example"))
///     .footer_mode(FooterMode::Claims)
///     .footer_limits(FooterLimits::default().max_len(1024))
///     .max_token_len(8 * 1024)
///     .build();
/// let token = service.encode(&Claims::builder().issuer("auth.example").build()?)?;
/// assert_eq!(service.decode(&token)?.claims().issuer(), Some("auth.example"));
/// assert!(service.encode(&Claims::builder().build()?).is_err());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ServiceBuilder<P: ServicePurpose, S = Providers> {
    keys: Keys<P>,
    rules: RuleSet,
    footer_mode: FooterMode,
    footer_limits: FooterLimits,
    max_token_len: usize,
    validity: Duration,
    /// Whether `default_validity` was called.
    validity_chosen: bool,
    clock: Option<Arc<dyn Clock>>,
    /// The key ring the keys come from, if any.
    ring: Option<Arc<dyn RingLink>>,
    store: Option<Arc<dyn TokenStore>>,
    cutoff_retention: Option<Duration>,
    remote_keys: Option<Arc<dyn RemoteKeys>>,
    source: PhantomData<S>,
}

/// Marks a [`ServiceBuilder`] made from one key ([`TokenService::builder`],
/// [`TokenService::verifier`]): it can give that key an id
/// ([`ServiceBuilder::key_id`]) and issue with ephemeral copies of it
/// ([`ServiceBuilder::ephemeral_key_per_token`]).
#[derive(Debug)]
pub enum OneKey {}

/// Marks a [`ServiceBuilder`] whose keys come from providers or a key ring,
/// which name their own keys.
#[derive(Debug)]
pub enum Providers {}

/// Where a builder's keys come from.
enum Keys<P: ServicePurpose> {
    One {
        decoding: Arc<P::DecodingKey>,
        issuing: Option<Arc<P::IssuingKey>>,
        key_id: Option<String>,
        ephemeral: bool,
    },
    Providers {
        decoding: Arc<dyn LendsDecodingKey<P::DecodingKey>>,
        issuing: Option<Arc<dyn IssuingKeyProvider<P::IssuingKey>>>,
    },
}

impl<P: ServicePurpose, S> fmt::Debug for ServiceBuilder<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("purpose", &P::HEADER)
            .field("rules", &self.rules)
            .field("footer_mode", &self.footer_mode)
            .field("footer_limits", &self.footer_limits)
            .field("max_token_len", &self.max_token_len)
            .field("validity", &self.validity)
            .field("from_ring", &self.ring.is_some())
            .field("remote_keys", &self.remote_keys)
            .finish_non_exhaustive()
    }
}

impl<P: ServicePurpose, S> ServiceBuilder<P, S> {
    fn with_keys(keys: Keys<P>) -> Self {
        Self {
            keys,
            rules: RuleSet::default(),
            footer_mode: FooterMode::Auto,
            footer_limits: FooterLimits::default(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            validity: DEFAULT_VALIDITY,
            validity_chosen: false,
            clock: None,
            ring: None,
            store: None,
            cutoff_retention: None,
            remote_keys: None,
            source: PhantomData,
        }
    }

    /// The one clock this service reads: it replaces the rule set's clock,
    /// stamps the times [`TokenService::encode`] fills in and presets
    /// [`TokenService::claims_builder`]. A service built from a key ring shares
    /// the ring's clock: this one becomes the ring's clock too (its rotations
    /// and retirements read it). Without it, a service reads the clock its
    /// rule set was given ([`RuleSet::with_clock`]), else its ring's, else the
    /// system clock. One [`ManualClock`](crate::clock::ManualClock) thus
    /// drives all three in a test.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use time::macros::datetime;
    /// use vaulttoken::clock::ManualClock;
    /// use vaulttoken::{Error, LocalKey, LocalService};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let service = LocalService::builder(LocalKey::generate()?).clock(clock.clone()).build();
    /// let token = service.encode(&service.claims_builder().build()?)?;
    /// service.decode(&token)?;
    /// clock.advance(Duration::hours(2));
    /// assert!(matches!(service.decode(&token), Err(Error::Claims(_))));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks every token against a token store (revocations, spent ids,
    /// subject cutoffs, refresh families) after the cryptography and the
    /// rules. Such a service decodes only with [`TokenService::decode_async`]
    /// (the synchronous decode refuses with [`Error::StoreNeedsAsync`](crate::Error::StoreNeedsAsync) rather
    /// than skip the check), requires a `jti` in every token, and gives each
    /// token it issues one if its claims have none.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let token = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let verified = service.decode_async(&token).await?;
    /// service.revoke(&verified).await?;
    /// assert!(matches!(service.decode_async(&token).await, Err(Error::Denied(Denial::Revoked))));
    /// assert!(matches!(service.decode(&token), Err(Error::StoreNeedsAsync)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How long the store keeps a "log out everywhere" cutoff made by
    /// [`TokenService::revoke_subject`]: the longest lifetime of any token the
    /// store answers for (this service's, refresh families' to their absolute
    /// end, trust tokens'), to which the leeway is added. Without it, a cutoff
    /// is kept for ever (see [`SubjectCutoff`](super::SubjectCutoff)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey, LocalService};
    ///
    /// // Sessions of 15 minutes share the store with 30-day refresh families.
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .default_validity(Duration::minutes(15))
    ///     .cutoff_retention(Duration::days(30))
    ///     .build();
    /// let token = service.encode(&service.claims_builder().subject("alice").build()?)?;
    /// service.revoke_subject("alice").await?;
    /// let refused = service.decode_async(&token).await;
    /// assert!(matches!(refused, Err(Error::Denied(Denial::IssuedBeforeCutoff))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn cutoff_retention(mut self, longest: Duration) -> Self {
        self.cutoff_retention = Some(longest);
        self
    }

    /// The rules every token must pass, on encode and on decode.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::RuleSet;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .rules(RuleSet::default().issued_by("auth.example"))
    ///     .build();
    /// let token = service.encode(&Claims::builder().issuer("auth.example").build()?)?;
    /// service.decode(&token)?;
    /// // The rules run on encode too: the service issues nothing they refuse.
    /// let Err(Error::Claims(v)) = service.encode(&Claims::builder().build()?) else {
    ///     panic!("no issuer");
    /// };
    /// assert!(v.contains(&RuleId::IssuedBy));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.rules = rules;
        self
    }

    /// How decoded footers are read (default [`FooterMode::Auto`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::error::FooterError;
    /// use vaulttoken::footer::{Footer, FooterMode};
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let key = Arc::new(LocalKey::generate()?);
    /// let auto = LocalService::builder(Arc::clone(&key)).build();
    /// let claims_only = LocalService::builder(key).footer_mode(FooterMode::Claims).build();
    /// let token = auto.encode_with_footer(&Claims::builder().build()?, &Footer::Text("plain".into()))?;
    /// auto.decode(&token)?;
    /// assert!(matches!(
    ///     claims_only.decode(&token),
    ///     Err(Error::Footer(FooterError::NotJsonObject))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn footer_mode(mut self, mode: FooterMode) -> Self {
        self.footer_mode = mode;
        self
    }

    /// Bounds on footers (default [`FooterLimits::default`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::error::FooterError;
    /// use vaulttoken::footer::{Footer, FooterLimits};
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let key = Arc::new(LocalKey::generate()?);
    /// let roomy = LocalService::builder(Arc::clone(&key)).build();
    /// let tight = LocalService::builder(key)
    ///     .footer_limits(FooterLimits::default().max_len(16))
    ///     .build();
    /// let footer = Footer::Text("x".repeat(32));
    /// let token = roomy.encode_with_footer(&Claims::builder().build()?, &footer)?;
    /// assert!(matches!(
    ///     tight.decode(&token),
    ///     Err(Error::Footer(FooterError::TooLong { max_len: 16 }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn footer_limits(mut self, limits: FooterLimits) -> Self {
        self.footer_limits = limits;
        self
    }

    /// The longest token accepted or issued, in bytes (default 64 KiB); checked
    /// before any decoding.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).max_token_len(512).build();
    /// service.encode(&Claims::builder().subject("u").build()?)?;
    /// let big = Claims::builder().claim("blob", "x".repeat(1024)).build()?;
    /// assert!(matches!(service.encode(&big), Err(Error::TokenTooLong { max_len: 512 })));
    /// // Checked before any decoding.
    /// let long = "v4.local.".repeat(100);
    /// assert!(matches!(service.decode(&long), Err(Error::TokenTooLong { max_len: 512 })));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn max_token_len(mut self, max_len: usize) -> Self {
        self.max_token_len = max_len;
        self
    }

    /// The validity of a token whose claims have no `exp`: [`TokenService::encode`]
    /// sets `exp` to `iat` plus this, and [`TokenService::claims_builder`]
    /// presets it. The default is 1 hour, or for a service built from a key
    /// ring, the ring's longest token lifetime.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::{Claims, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .default_validity(Duration::minutes(5))
    ///     .build();
    /// let token = service.encode(&Claims::builder().subject("u").build()?)?;
    /// let claims = service.decode(&token)?.into_parts().0;
    /// assert_eq!(claims.expiration().unwrap() - claims.issued_at().unwrap(), Duration::minutes(5));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn default_validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self.validity_chosen = true;
        self
    }

    /// The finished service.
    ///
    /// A service built from a key ring never issues or accepts a token that
    /// outlives the ring's retirement schedule: unless the rule set already has
    /// a [`RuleSet::max_validity`], it gets the ring's longest token lifetime,
    /// which is also its default validity unless one was chosen.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::service::LocalService;
    /// use vaulttoken::{Claims, Error, LocalKey};
    ///
    /// let ring = Arc::new(LocalKeyRing::new(Duration::minutes(30))?);
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// let service = LocalService::from_ring(ring).build();
    /// // Tokens live 30 minutes unless their claims say otherwise...
    /// let token = service.encode(&Claims::builder().build()?)?;
    /// let claims = service.decode(&token)?.into_parts().0;
    /// assert_eq!(claims.expiration().unwrap() - claims.issued_at().unwrap(), Duration::minutes(30));
    /// // ... and longer-lived claims are refused.
    /// let day = Claims::builder().expires_in(Duration::days(1)).build()?;
    /// assert!(matches!(service.encode(&day), Err(Error::Claims(_))));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn build(self) -> TokenService<P> {
        let mut rules = self.rules;
        // One clock: the builder's, else one the rule set was given, else the
        // ring's, else the rule set's (the system clock).
        let clock = match (self.clock, rules.chosen_clock(), &self.ring) {
            (Some(clock), _, Some(ring)) => {
                ring.set_clock(Arc::clone(&clock));
                clock
            }
            (Some(clock), _, None) | (None, Some(clock), _) => clock,
            (None, None, Some(ring)) => ring.clock(),
            (None, None, None) => rules.clock(),
        };
        rules = rules.with_clock(Arc::clone(&clock));
        if self.store.is_some() {
            // Only a token with an id can be revoked or spent, and only one
            // with an `iat` can be held against a cutoff.
            rules = rules.require_claims(["jti", "iat"]);
        }
        let mut validity = self.validity;
        if let Some(ring) = &self.ring {
            let lifetime = ring.max_token_lifetime();
            if rules.max_validity_limit().is_none() {
                rules = rules.max_validity(lifetime);
            }
            if !self.validity_chosen {
                validity = lifetime;
            }
        }
        let (decoding_keys, issuing_keys) = match self.keys {
            Keys::Providers { decoding, issuing } => (decoding, issuing),
            Keys::One {
                decoding,
                issuing,
                key_id,
                ephemeral,
            } => {
                let decoding: Arc<dyn LendsDecodingKey<P::DecodingKey>> = Arc::new(StaticKey {
                    key: decoding,
                    key_id: key_id.clone(),
                });
                let issuing = issuing.map(|key| -> Arc<dyn IssuingKeyProvider<P::IssuingKey>> {
                    if ephemeral {
                        Arc::new(EphemeralCopies::<P> { key, key_id })
                    } else {
                        Arc::new(StaticKey { key, key_id })
                    }
                });
                (decoding, issuing)
            }
        };
        TokenService {
            decoding_keys,
            issuing_keys,
            rules,
            footer_mode: self.footer_mode,
            footer_limits: self.footer_limits,
            max_token_len: self.max_token_len,
            validity,
            clock,
            store: self.store,
            cutoff_retention: self.cutoff_retention,
            remote_keys: self.remote_keys,
            purpose: PhantomData,
        }
    }
}

impl<P: ServicePurpose> ServiceBuilder<P, Providers> {
    /// Follows keys kept elsewhere: `remote` keeps this service's key ring
    /// (or provider) up to date, as a fetcher of a published key set does
    /// (the `vaulttoken-keyset` crate). Every decode then runs only while
    /// [`RemoteKeys::vouch`] vouches for the keys, else fails closed with
    /// [`Error::KeysUnavailable`](crate::Error::KeysUnavailable);
    /// [`TokenService::decode_async`] also waits for one
    /// [`RemoteKeys::look_up`] of a `kid` the ring lacks and decodes once
    /// more. The synchronous [`TokenService::decode`] vouches as well, and
    /// never waits: it refuses such a token with
    /// [`Error::UnknownKeyId`](crate::Error::UnknownKeyId).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::keyring::PublicKeyRing;
    /// use vaulttoken::service::{LookUp, RemoteKeys};
    /// use vaulttoken::{Claims, Error, PublicService, SecretKey};
    ///
    /// /// Keys whose source is out of reach for too long.
    /// #[derive(Debug)]
    /// struct TooStale;
    ///
    /// impl RemoteKeys for TooStale {
    ///     fn vouch(&self) -> Result<(), Error> {
    ///         Err(Error::KeysUnavailable)
    ///     }
    ///     fn look_up<'a>(&'a self, _kid: &'a str) -> LookUp<'a> {
    ///         Box::pin(async { Err(Error::KeysUnavailable) })
    ///     }
    /// }
    ///
    /// let secret = SecretKey::generate()?;
    /// let ring = Arc::new(PublicKeyRing::new(Duration::hours(1))?);
    /// let public = secret.public_key();
    /// ring.add(public)?;
    /// let issuer = PublicService::builder(secret).key_id(public.paserk_id()?.as_str()).build();
    /// let token = issuer.encode(&Claims::builder().build()?)?;
    /// // The ring holds the key, but nothing vouches for it any more.
    /// let service = PublicService::from_ring(ring).remote_keys(Arc::new(TooStale)).build();
    /// let refused = service.decode_async(&token).await.unwrap_err();
    /// assert!(matches!(refused, Error::KeysUnavailable));
    /// assert_eq!(refused.kind(), vaulttoken::error::ErrorKind::Unavailable);
    /// # Ok(())
    /// # }
    /// ```
    pub fn remote_keys(mut self, remote: Arc<dyn RemoteKeys>) -> Self {
        self.remote_keys = Some(remote);
        self
    }
}

impl<P: ServicePurpose> ServiceBuilder<P, OneKey> {
    /// Gives the service's key an id: issued tokens carry it as `kid` in a JSON
    /// footer, and a token whose footer names another id, or none, is refused
    /// with [`Error::UnknownKeyId`](crate::Error::UnknownKeyId).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let key = Arc::new(LocalKey::generate()?);
    /// let v1 = LocalService::builder(Arc::clone(&key)).key_id("v1").build();
    /// let v2 = LocalService::builder(key).key_id("v2").build();
    /// let token = v1.encode(&Claims::builder().build()?)?;
    /// assert_eq!(v1.untrusted_key_id(&token)?.as_deref(), Some("v1"));
    /// assert!(matches!(v2.decode(&token), Err(Error::UnknownKeyId)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        if let Keys::One { key_id: id, .. } = &mut self.keys {
            *id = Some(key_id.into());
        }
        self
    }

    /// Issues every token with a fresh ephemeral copy of the key, wiped as soon
    /// as that token is made, so no key material outlives an operation outside
    /// the one long-lived original.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .ephemeral_key_per_token()
    ///     .build();
    /// // Every token is issued, and decodes, although each copy works only once.
    /// for _ in 0..3 {
    ///     service.decode(&service.encode(&Claims::builder().build()?)?)?;
    /// }
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn ephemeral_key_per_token(mut self) -> Self {
        if let Keys::One { ephemeral, .. } = &mut self.keys {
            *ephemeral = true;
        }
        self
    }
}
