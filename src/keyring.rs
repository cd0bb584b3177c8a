//! Key rings: many keys, each named by its PASERK id, one of them active for
//! issuing; and rotation without downtime.
//!
//! A ring is a key source for the token services: tokens it issues carry the
//! active key's id as `kid` in a JSON footer, and a token is decoded with the key
//! its `kid` names. A token whose `kid` is missing or unknown fails closed with
//! [`Error::UnknownKeyId`]; a `kid` that names a key of another type (a `k4.pid.`
//! presented to a local ring) fails with [`Error::WrongKeyType`]. There is never a
//! fallback key.
//!
//! | ring | holds | issues | decodes with |
//! |---|---|---|---|
//! | [`LocalKeyRing`] | [`LocalKey`]s, ids `k4.lid.` | `v4.local` | the same keys |
//! | [`SigningKeyRing`] | [`SecretKey`]s, ids `k4.pid.` of their public keys | `v4.public` | their public keys |
//! | [`PublicKeyRing`] | [`PublicKey`]s only, ids `k4.pid.` | nothing | the same keys |
//!
//! # Rotation
//!
//! 1. [`add`](KeyRing::add) the next key. It is [`KeyStatus::Next`]: trusted for
//!    decoding (distribute it to every verifier now), not yet used to issue.
//! 2. [`promote`](KeyRing::promote) it. It becomes [`KeyStatus::Active`]; the old
//!    active key becomes [`KeyStatus::Previous`] and still decodes the tokens it
//!    issued.
//! 3. [`retire`](KeyRing::retire) the old key once the longest token lifetime has
//!    passed since it stopped issuing; earlier, `retire` refuses with
//!    [`KeyRingError::RetiredTooEarly`]. [`retire_expired`](KeyRing::retire_expired)
//!    retires every key that is due. A compromised key is removed at once with
//!    [`retire_immediately`](KeyRing::retire_immediately).
//!
//! Every step takes `&self`: a ring shared through an [`Arc`] rotates while the
//! services that use it keep running.
//!
//! # Storage
//!
//! A ring is saved as a JSON document of PASERK strings and restored from it.
//! Secret keys leave a ring only wrapped ([`KeyRing::export_wrapped`], `k4.*-wrap.pie.`)
//! or in an explicitly secret form ([`KeyRing::export_secret`], a [`SecretString`]).
//! A [`PublicKeyRing`] exports its public keys as they are. A document holds the
//! keys, their statuses and the token lifetime; every import takes the clock as
//! [`RingSettings`].
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use vaulttoken::keyring::LocalKeyRing;
//! use vaulttoken::service::LocalService;
//! use vaulttoken::{Claims, LocalKey};
//!
//! let ring = Arc::new(LocalKeyRing::new(time::Duration::hours(1))?);
//! let first = ring.add(LocalKey::generate()?)?;
//! ring.promote(&first)?;
//! let service = LocalService::from_ring(Arc::clone(&ring)).build();
//!
//! let token = service.encode(&Claims::builder().subject("u").build()?)?;
//! let next = ring.add(LocalKey::generate()?)?;
//! ring.promote(&next)?; // new tokens use `next`; old ones still decode
//! assert_eq!(service.decode(&token)?.claims().subject(), Some("u"));
//! # Ok::<(), vaulttoken::Error>(())
//! ```
//!
//! [`SecretString`]: crate::keys::SecretString

#[cfg(feature = "serde")]
mod keyset;
mod legacy;
mod storage;

#[cfg(feature = "serde")]
pub use self::keyset::{
    KEY_SET_VERSION, KeySet, KeySetPurpose, MAX_CACHE_SECONDS, MAX_ISSUER_LEN, MAX_KEY_SET_KEYS,
    MAX_KEY_SET_LEN, PublishedKey, PublishedRingKey, PublishedStatus, RingChanges,
};
pub(crate) use self::legacy::SealingKeys;
pub use self::storage::{MAX_DOCUMENT_LEN, SecretRingKey};

use core::fmt;
use core::ops::Range;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use arc_swap::{ArcSwap, Guard};

use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, KeyKind, KeyRingError, PaserkType};
use crate::footer::UntrustedFooter;
use crate::keys::{LocalKey, PublicKey, SecretKey};
use crate::paserk::KeyId;
use crate::service::{
    IssuingKey, IssuingKeyProvider, KeyProvider, LendsDecodingKey, RingLink, ServiceBuilder,
    ServicePurpose, TokenService,
};
use crate::v4::{Local, Public};

/// The most keys a ring holds, and the most a restored document may list.
pub const MAX_KEYS: usize = 10_000;

/// A ring of `v4.local` keys.
pub type LocalKeyRing = KeyRing<LocalKey>;
/// A ring of Ed25519 secret keys that signs `v4.public` tokens and verifies them
/// with the keys' public halves.
pub type SigningKeyRing = KeyRing<SecretKey>;
/// A verification-only ring of Ed25519 public keys.
pub type PublicKeyRing = KeyRing<PublicKey>;

/// The operations behind the ring key traits: private, so only this crate's
/// key types are ring keys and no caller outside the crate reaches them.
pub(crate) mod sealed {
    use std::sync::Arc;

    use super::RingKey;
    use crate::error::{Error, KeyKind};
    use crate::keys::{LocalKey, PublicKey, SecretKey};
    use crate::paserk::KeyId;
    use crate::service::{ServiceBuilder, ServicePurpose};

    pub trait Ring {
        /// The kind of key a token's `kid` must name.
        const KIND: KeyKind;

        /// The id tokens carry as `kid`.
        fn ring_id(&self) -> Result<KeyId, Error>;

        /// The decoding key for this key.
        fn decoding_key(key: &Arc<Self>) -> Arc<<Self as RingKey>::DecodingKey>
        where
            Self: RingKey;
    }

    impl Ring for LocalKey {
        const KIND: KeyKind = KeyKind::Local;

        fn ring_id(&self) -> Result<KeyId, Error> {
            self.paserk_id()
        }

        fn decoding_key(key: &Arc<Self>) -> Arc<Self> {
            Arc::clone(key)
        }
    }

    impl Ring for SecretKey {
        const KIND: KeyKind = KeyKind::Public;

        fn ring_id(&self) -> Result<KeyId, Error> {
            self.public_key().paserk_id()
        }

        fn decoding_key(key: &Arc<Self>) -> Arc<PublicKey> {
            Arc::new(key.public_key())
        }
    }

    /// How a ring becomes a service's keys.
    pub trait ServiceKeys<P: ServicePurpose> {
        /// A builder with the ring as its key providers, within its lifetime.
        fn into_builder(ring: Arc<Self>) -> ServiceBuilder<P>;
    }

    impl Ring for PublicKey {
        const KIND: KeyKind = KeyKind::Public;

        fn ring_id(&self) -> Result<KeyId, Error> {
            self.paserk_id()
        }

        fn decoding_key(key: &Arc<Self>) -> Arc<Self> {
            Arc::clone(key)
        }
    }
}

/// A key type a [`KeyRing`] can hold: [`LocalKey`], [`SecretKey`] and
/// [`PublicKey`]. Sealed.
///
/// # Examples
///
/// ```
/// use vaulttoken::keyring::RingKey;
///
/// fn decodes_with<K: RingKey>() -> &'static str {
///     core::any::type_name::<K::DecodingKey>()
/// }
/// assert!(decodes_with::<vaulttoken::SecretKey>().ends_with("PublicKey"));
/// ```
pub trait RingKey: sealed::Ring + Send + Sync + fmt::Debug + 'static {
    /// The key that decodes tokens: the key itself, or a secret key's public half.
    type DecodingKey: Send + Sync + fmt::Debug + 'static;
}

/// A key type that issues tokens: [`LocalKey`] and [`SecretKey`]. Sealed.
pub trait IssuingRingKey: RingKey {}

impl RingKey for LocalKey {
    type DecodingKey = Self;
}

impl IssuingRingKey for LocalKey {}

impl RingKey for SecretKey {
    type DecodingKey = PublicKey;
}

impl IssuingRingKey for SecretKey {}

impl RingKey for PublicKey {
    type DecodingKey = Self;
}

/// Where a key is in its rotation.
///
/// # Examples
///
/// ```
/// use vaulttoken::keyring::{KeyStatus, LocalKeyRing};
///
/// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
/// let id = ring.add(vaulttoken::LocalKey::generate()?)?;
/// assert_eq!(ring.status(&id), Some(KeyStatus::Next));
/// ring.promote(&id)?;
/// assert_eq!(ring.status(&id), Some(KeyStatus::Active));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStatus {
    /// Trusted for decoding, never used to issue (yet). Verification-only rings
    /// hold only such keys.
    Next,
    /// The one key that issues new tokens.
    Active,
    /// Issued tokens until `since`; decodes them until it is retired.
    Previous {
        /// When the key stopped issuing.
        since: OffsetDateTime,
    },
}

impl KeyStatus {
    fn name(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Previous { .. } => "previous",
        }
    }
}

/// What a ring uses besides its keys and token lifetime: the clock it rotates
/// by. (A ring reads a token's `kid` within the limits of the service that
/// decodes it, so it has no footer limits of its own.)
///
/// A stored ring holds no clock, so every import takes one
/// ([`KeyRing::import_secret`], [`KeyRing::import_wrapped`],
/// [`KeyRing::<PublicKey>::import`]); [`KeyRing::settings`] gives a ring's own.
/// The default is the system clock.
///
/// # Examples
///
/// ```
/// use vaulttoken::clock::{Clock, FixedClock};
/// use vaulttoken::keyring::{LocalKeyRing, RingSettings};
///
/// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
/// let saved = ring.export_secret()?;
///
/// let at = time::macros::datetime!(2030-01-01 0:00 UTC);
/// let settings = RingSettings::new().with_clock(FixedClock::new(at));
/// let restored = LocalKeyRing::import_secret(saved.as_str(), &settings)?;
/// assert_eq!(restored.settings().clock().now(), at);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RingSettings {
    clock: Arc<dyn Clock>,
}

impl Default for RingSettings {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
        }
    }
}

impl RingSettings {
    /// The system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::clock::Clock;
    ///
    /// let settings = vaulttoken::keyring::RingSettings::new();
    /// assert!(settings.clock().now().year() >= 2024);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` for rotation times instead of the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::clock::{Clock, FixedClock};
    ///
    /// let at = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let settings = vaulttoken::keyring::RingSettings::new().with_clock(FixedClock::new(at));
    /// assert_eq!(settings.clock().now(), at);
    /// ```
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::clock::{Clock, ManualClock};
    /// use vaulttoken::keyring::RingSettings;
    ///
    /// let at = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let clock = ManualClock::new(at);
    /// let settings = RingSettings::new().with_clock(clock.clone());
    /// assert_eq!(settings.clock().now(), at);
    /// clock.advance(Duration::hours(1));
    /// assert_eq!(settings.clock().now(), at + Duration::hours(1));
    /// ```
    #[must_use]
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }
}

/// One key in a ring.
#[derive(Debug)]
struct Entry<K: RingKey> {
    key: Arc<K>,
    decoding: Arc<K::DecodingKey>,
    status: KeyStatus,
}

// By hand: a derive would ask for `K: Clone`, and only the `Arc`s are cloned.
impl<K: RingKey> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Self {
            key: Arc::clone(&self.key),
            decoding: Arc::clone(&self.decoding),
            status: self.status,
        }
    }
}

/// One immutable snapshot of a ring: readers load it without a lock, writers
/// replace it whole.
#[derive(Debug)]
struct RingState<K: RingKey> {
    entries: HashMap<KeyId, Entry<K>>,
    active: Option<KeyId>,
}

impl<K: RingKey> Clone for RingState<K> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            active: self.active.clone(),
        }
    }
}

impl<K: RingKey> RingState<K> {
    fn empty() -> Self {
        Self {
            entries: HashMap::new(),
            active: None,
        }
    }
}

/// Many keys of one type, each named by its PASERK id, with at most one active.
///
/// Use the aliases [`LocalKeyRing`], [`SigningKeyRing`] and [`PublicKeyRing`].
/// See the [module documentation](self) for rotation and storage.
pub struct KeyRing<K: RingKey> {
    /// The current snapshot. Decoding and issuing only `load` it, so readers never
    /// contend with each other (an `RwLock` would bump one shared counter on every
    /// decode) and never wait for a writer.
    state: ArcSwap<RingState<K>>,
    /// Serialises writers: each clones the snapshot, changes the copy and stores
    /// it, so no change is lost to a concurrent one.
    writer: Mutex<()>,
    max_token_lifetime: Duration,
    /// Read by rotations; a service built from the ring may replace it with
    /// its own (see [`ServiceBuilder::clock`]).
    clock: RwLock<Arc<dyn Clock>>,
}

impl<K: RingKey> fmt::Debug for KeyRing<K> {
    /// Lists ids and statuses only; keys print as their own redacted `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.snapshot();
        let mut keys: Vec<_> = state
            .entries
            .iter()
            .map(|(id, entry)| (id.as_str(), entry.status.name()))
            .collect();
        keys.sort_unstable();
        f.debug_struct("KeyRing")
            .field("keys", &keys)
            .field("max_token_lifetime", &self.max_token_lifetime)
            .finish_non_exhaustive()
    }
}

impl<K: RingKey> KeyRing<K> {
    /// An empty ring. `max_token_lifetime` is the longest time any token issued
    /// with this ring's keys stays valid: a key that stopped issuing is retired
    /// only after that much time. It may be zero, never negative.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::NegativeLifetime`] if `max_token_lifetime` is negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Error;
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::error::KeyRingError;
    ///
    /// let ring = LocalKeyRing::new(time::Duration::hours(24))?;
    /// assert!(ring.is_empty());
    /// assert!(matches!(
    ///     LocalKeyRing::new(time::Duration::seconds(-1)),
    ///     Err(Error::KeyRing(KeyRingError::NegativeLifetime))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn new(max_token_lifetime: Duration) -> Result<Self, Error> {
        if max_token_lifetime.is_negative() {
            return Err(KeyRingError::NegativeLifetime.into());
        }
        Ok(Self::from_state(
            RingState::empty(),
            max_token_lifetime,
            Arc::new(SystemClock),
        ))
    }

    /// A ring holding `state`; `max_token_lifetime` is not checked here.
    fn from_state(
        state: RingState<K>,
        max_token_lifetime: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            state: ArcSwap::from_pointee(state),
            writer: Mutex::new(()),
            max_token_lifetime,
            clock: RwLock::new(clock),
        }
    }

    /// The clock rotations read now.
    fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Uses `clock` for rotation times instead of the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::clock::ManualClock;
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::LocalKey;
    ///
    /// let clock = ManualClock::new(time::macros::datetime!(2030-01-01 0:00 UTC));
    /// let ring = LocalKeyRing::new(Duration::hours(1))?.with_clock(clock.clone());
    /// let old = ring.add(LocalKey::generate()?)?;
    /// ring.promote(&old)?;
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// assert!(ring.retire(&old).is_err()); // its tokens may still be valid
    /// clock.advance(Duration::hours(1));
    /// ring.retire(&old)?;
    /// assert_eq!(ring.status(&old), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = RwLock::new(Arc::new(clock));
        self
    }

    /// The clock this ring uses: pass it to an import to restore a saved ring
    /// the way this one works.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::clock::{Clock, FixedClock};
    /// use vaulttoken::keyring::LocalKeyRing;
    ///
    /// let at = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?.with_clock(FixedClock::new(at));
    /// let copy = LocalKeyRing::import_secret(ring.export_secret()?.as_str(), &ring.settings())?;
    /// assert_eq!(copy.settings().clock().now(), at);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn settings(&self) -> RingSettings {
        RingSettings {
            clock: self.clock(),
        }
    }

    /// The longest token lifetime this ring was configured with.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = vaulttoken::keyring::LocalKeyRing::new(time::Duration::hours(2))?;
    /// assert_eq!(ring.max_token_lifetime(), time::Duration::hours(2));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn max_token_lifetime(&self) -> Duration {
        self.max_token_lifetime
    }

    /// Adds a key as [`KeyStatus::Next`]: trusted for decoding, not issuing.
    /// Returns its id.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::DuplicateKey`] if the ring holds it already,
    /// [`KeyRingError::Full`] at [`MAX_KEYS`], and [`Error::KeyCleared`] for a
    /// cleared key.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = vaulttoken::keyring::PublicKeyRing::new(time::Duration::hours(1))?;
    /// let public = vaulttoken::SecretKey::generate()?.public_key();
    /// let id = ring.add(public.clone())?;
    /// assert_eq!(id, public.paserk_id()?);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn add(&self, key: K) -> Result<KeyId, Error> {
        let id = key.ring_id()?;
        self.update(|state| {
            if state.entries.contains_key(&id) {
                return Err(KeyRingError::DuplicateKey.into());
            }
            if state.entries.len() >= MAX_KEYS {
                return Err(KeyRingError::Full { max: MAX_KEYS }.into());
            }
            let key = Arc::new(key);
            let entry = Entry {
                decoding: K::decoding_key(&key),
                key,
                status: KeyStatus::Next,
            };
            state.entries.insert(id.clone(), entry);
            Ok::<_, Error>(())
        })?;
        Ok(id)
    }

    /// The status of the key with this id, if the ring holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::clock::FixedClock;
    /// use vaulttoken::keyring::{KeyStatus, LocalKeyRing};
    /// use vaulttoken::LocalKey;
    ///
    /// let at = datetime!(2030-01-01 0:00 UTC);
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?.with_clock(FixedClock::new(at));
    /// let first = ring.add(LocalKey::generate()?)?;
    /// assert_eq!(ring.status(&first), Some(KeyStatus::Next));
    /// ring.promote(&first)?;
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// assert_eq!(ring.status(&first), Some(KeyStatus::Previous { since: at }));
    /// ring.retire_immediately(&first)?;
    /// assert_eq!(ring.status(&first), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn status(&self, id: &KeyId) -> Option<KeyStatus> {
        self.snapshot().entries.get(id).map(|entry| entry.status)
    }

    /// Every key id with its status, sorted by id.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = vaulttoken::keyring::LocalKeyRing::new(time::Duration::hours(1))?;
    /// ring.add(vaulttoken::LocalKey::generate()?)?;
    /// assert_eq!(ring.keys().len(), 1);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn keys(&self) -> Vec<(KeyId, KeyStatus)> {
        let mut keys: Vec<_> = self
            .snapshot()
            .entries
            .iter()
            .map(|(id, entry)| (id.clone(), entry.status))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        keys
    }

    /// How many keys the ring holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = vaulttoken::keyring::LocalKeyRing::new(time::Duration::hours(1))?;
    /// assert_eq!(ring.len(), 0);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.snapshot().entries.len()
    }

    /// Whether the ring holds no key.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(vaulttoken::keyring::LocalKeyRing::new(time::Duration::hours(1))?.is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.snapshot().entries.is_empty()
    }

    /// Removes a key that can no longer have valid tokens: a [`KeyStatus::Next`]
    /// key (it never issued), or a [`KeyStatus::Previous`] key once
    /// the ring's maximum token lifetime has passed since it stopped issuing.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::NoSuchKey`], [`KeyRingError::ActiveKey`], or
    /// [`KeyRingError::RetiredTooEarly`] with the time left.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::error::KeyRingError;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
    /// let old = ring.add(LocalKey::generate()?)?;
    /// ring.promote(&old)?;
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// // `old` issued tokens a moment ago: they are valid for another hour.
    /// assert!(matches!(
    ///     ring.retire(&old),
    ///     Err(Error::KeyRing(KeyRingError::RetiredTooEarly { .. }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn retire(&self, id: &KeyId) -> Result<(), Error> {
        let now = self.clock().now();
        self.update(|state| {
            let entry = state.entries.get(id).ok_or(KeyRingError::NoSuchKey)?;
            match entry.status {
                KeyStatus::Active => return Err(KeyRingError::ActiveKey.into()),
                KeyStatus::Previous { since } => {
                    let remaining = self.remaining(since, now);
                    if remaining.is_positive() {
                        return Err(KeyRingError::RetiredTooEarly { remaining }.into());
                    }
                }
                KeyStatus::Next => {}
            }
            state.entries.remove(id);
            Ok(())
        })
    }

    /// Removes a key at once, whatever its status: for a compromised key. Tokens
    /// it issued stop decoding immediately; if it was active, the ring cannot
    /// issue until another key is promoted.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::NoSuchKey`].
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = vaulttoken::keyring::LocalKeyRing::new(time::Duration::hours(1))?;
    /// let id = ring.add(vaulttoken::LocalKey::generate()?)?;
    /// ring.promote(&id)?;
    /// ring.retire_immediately(&id)?;
    /// assert!(ring.active_id().is_none());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn retire_immediately(&self, id: &KeyId) -> Result<(), Error> {
        self.update(|state| {
            state.entries.remove(id).ok_or(KeyRingError::NoSuchKey)?;
            if state.active.as_ref() == Some(id) {
                state.active = None;
            }
            Ok(())
        })
    }

    /// Retires every [`KeyStatus::Previous`] key whose tokens have all expired,
    /// and returns their ids.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = vaulttoken::keyring::LocalKeyRing::new(time::Duration::hours(1))?;
    /// assert!(ring.retire_expired().is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn retire_expired(&self) -> Vec<KeyId> {
        let now = self.clock().now();
        let Ok(due) = self.update(|state| {
            let due: Vec<KeyId> = state
                .entries
                .iter()
                .filter(|(_, entry)| match entry.status {
                    KeyStatus::Previous { since } => !self.remaining(since, now).is_positive(),
                    _ => false,
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in &due {
                state.entries.remove(id);
            }
            Ok::<_, core::convert::Infallible>(due)
        });
        due
    }

    /// Time left until a key that stopped issuing at `since` may be retired.
    fn remaining(&self, since: OffsetDateTime, now: OffsetDateTime) -> Duration {
        let elapsed = now - since;
        self.max_token_lifetime
            .checked_sub(elapsed)
            .unwrap_or(Duration::ZERO)
    }

    /// The decoding key for a token's untrusted footer: the key its `kid` names.
    fn lookup(&self, footer: &UntrustedFooter<'_>) -> Result<Arc<K::DecodingKey>, Error> {
        let kid = Self::wanted_key_id(footer)?;
        self.snapshot()
            .entries
            .get(kid)
            .map(|entry| Arc::clone(&entry.decoding))
            .ok_or(Error::UnknownKeyId)
    }

    /// The `kid` a footer names, if it is a well-formed id of this ring's kind.
    fn wanted_key_id<'a>(footer: &'a UntrustedFooter<'_>) -> Result<&'a str, Error> {
        let kid = footer.untrusted_key_id()?.ok_or(Error::UnknownKeyId)?;
        // The same checks as `KeyId::parse`, without allocating a `KeyId`: the
        // map is looked up with the checked `&str` (`KeyId: Borrow<str>`).
        let kind = KeyId::check(kid).map_err(|_| Error::UnknownKeyId)?;
        let found = match kind {
            PaserkType::Lid => KeyKind::Local,
            PaserkType::Pid => KeyKind::Public,
            _ => KeyKind::Secret,
        };
        if found != K::KIND {
            return Err(Error::WrongKeyType {
                expected: K::KIND,
                found,
            });
        }
        Ok(kid)
    }

    /// The current state, without taking any lock.
    fn snapshot(&self) -> Guard<Arc<RingState<K>>> {
        self.state.load()
    }

    /// Changes the state: one writer at a time clones the current snapshot,
    /// applies `change` and publishes the copy. On an error nothing is published.
    fn update<T, E>(&self, change: impl FnOnce(&mut RingState<K>) -> Result<T, E>) -> Result<T, E> {
        // The guarded value is `()`: a writer that panicked left no half-made
        // change behind (it was never stored), so a poisoned lock is safe to reuse.
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = RingState::clone(&self.state.load());
        let out = change(&mut state)?;
        self.state.store(Arc::new(state));
        Ok(out)
    }
}

impl<K: IssuingRingKey> KeyRing<K> {
    /// Makes the key with this id the one that issues. The previously active key
    /// becomes [`KeyStatus::Previous`] from now.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::NoSuchKey`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{KeyStatus, SigningKeyRing};
    ///
    /// let ring = SigningKeyRing::new(time::Duration::hours(1))?;
    /// let a = ring.add(vaulttoken::SecretKey::generate()?)?;
    /// let b = ring.add(vaulttoken::SecretKey::generate()?)?;
    /// ring.promote(&a)?;
    /// ring.promote(&b)?;
    /// assert_eq!(ring.active_id(), Some(b));
    /// assert!(matches!(ring.status(&a), Some(KeyStatus::Previous { .. })));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn promote(&self, id: &KeyId) -> Result<(), Error> {
        let now = self.clock().now();
        self.update(|state| {
            if !state.entries.contains_key(id) {
                return Err(KeyRingError::NoSuchKey.into());
            }
            if state.active.as_ref() == Some(id) {
                return Ok(());
            }
            if let Some(old) = state.active.take()
                && let Some(entry) = state.entries.get_mut(&old)
            {
                entry.status = KeyStatus::Previous { since: now };
            }
            if let Some(entry) = state.entries.get_mut(id) {
                entry.status = KeyStatus::Active;
            }
            state.active = Some(id.clone());
            Ok(())
        })
    }

    /// The id of the active key, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = vaulttoken::keyring::LocalKeyRing::new(time::Duration::hours(1))?;
    /// assert_eq!(ring.active_id(), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn active_id(&self) -> Option<KeyId> {
        self.snapshot().active.clone()
    }
}

impl SigningKeyRing {
    /// A verification-only ring with the public halves of this ring's keys (all
    /// of them [`KeyStatus::Next`]), to hand to the services that only verify.
    ///
    /// # Examples
    ///
    /// ```
    /// let signing = vaulttoken::keyring::SigningKeyRing::new(time::Duration::hours(1))?;
    /// let id = signing.add(vaulttoken::SecretKey::generate()?)?;
    /// let public = signing.public_ring();
    /// assert!(public.status(&id).is_some());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn public_ring(&self) -> PublicKeyRing {
        let mut target = RingState::empty();
        for (id, entry) in &self.snapshot().entries {
            let entry = Entry {
                key: Arc::clone(&entry.decoding),
                decoding: Arc::clone(&entry.decoding),
                status: KeyStatus::Next,
            };
            target.entries.insert(id.clone(), entry);
        }
        PublicKeyRing::from_state(target, self.max_token_lifetime, self.clock())
    }
}

impl<K: RingKey> KeyProvider<K::DecodingKey> for KeyRing<K> {
    fn decoding_key(&self, footer: &UntrustedFooter<'_>) -> Result<Arc<K::DecodingKey>, Error> {
        self.lookup(footer)
    }
}

impl<K: RingKey> LendsDecodingKey<K::DecodingKey> for KeyRing<K> {
    /// Lends the key from the current snapshot, which the guard keeps alive:
    /// no reference count is touched, so decodes on many threads share nothing
    /// they write to.
    fn open_with_key(
        &self,
        footer: &UntrustedFooter<'_>,
        open: &mut dyn FnMut(&K::DecodingKey) -> Result<Range<usize>, Error>,
    ) -> Result<Range<usize>, Error> {
        let kid = Self::wanted_key_id(footer)?;
        let state = self.snapshot();
        let entry = state.entries.get(kid).ok_or(Error::UnknownKeyId)?;
        open(&entry.decoding)
    }
}

impl<K: RingKey> RingLink for KeyRing<K> {
    fn max_token_lifetime(&self) -> Duration {
        self.max_token_lifetime
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock()
    }

    fn set_clock(&self, clock: Arc<dyn Clock>) {
        *self.clock.write().unwrap_or_else(PoisonError::into_inner) = clock;
    }
}

impl<K: IssuingRingKey> IssuingKeyProvider<K> for KeyRing<K> {
    fn issuing_key(&self) -> Result<IssuingKey<K>, Error> {
        let state = self.snapshot();
        let id = state.active.as_ref().ok_or(Error::NoIssuingKey)?;
        let entry = state.entries.get(id).ok_or(Error::NoIssuingKey)?;
        Ok(IssuingKey {
            key: Arc::clone(&entry.key),
            key_id: Some(id.as_str().to_owned()),
        })
    }
}

/// A key ring a service of purpose `P` can take its keys from: a
/// [`LocalKeyRing`] for a [`LocalService`](crate::LocalService); a
/// [`SigningKeyRing`] (issues and verifies) or a [`PublicKeyRing`] (verifies
/// only) for a [`PublicService`](crate::PublicService). Sealed.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use vaulttoken::keyring::{ServiceRing, SigningKeyRing};
/// use vaulttoken::v4::Public;
/// use vaulttoken::{Claims, Error, PublicService, SecretKey};
///
/// fn service<R: ServiceRing<Public>>(ring: R) -> PublicService {
///     PublicService::from_ring(Arc::new(ring)).build()
/// }
///
/// let signing = SigningKeyRing::new(time::Duration::hours(1))?;
/// signing.promote(&signing.add(SecretKey::generate()?)?)?;
/// let verifier = service(signing.public_ring());
/// let issuer = service(signing);
/// let token = issuer.encode(&Claims::builder().build()?)?;
/// verifier.decode(&token)?;
/// // A public ring verifies only.
/// assert!(matches!(verifier.encode(&Claims::builder().build()?), Err(Error::NoIssuingKey)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub trait ServiceRing<P: ServicePurpose>: sealed::ServiceKeys<P> {}

impl ServiceRing<Local> for LocalKeyRing {}
impl ServiceRing<Public> for SigningKeyRing {}
impl ServiceRing<Public> for PublicKeyRing {}

impl sealed::ServiceKeys<Local> for LocalKeyRing {
    fn into_builder(ring: Arc<Self>) -> ServiceBuilder<Local> {
        TokenService::from_ring_parts(ring.clone(), Some(ring.clone()), ring)
    }
}

impl sealed::ServiceKeys<Public> for SigningKeyRing {
    fn into_builder(ring: Arc<Self>) -> ServiceBuilder<Public> {
        TokenService::from_ring_parts(ring.clone(), Some(ring.clone()), ring)
    }
}

impl sealed::ServiceKeys<Public> for PublicKeyRing {
    fn into_builder(ring: Arc<Self>) -> ServiceBuilder<Public> {
        TokenService::from_ring_parts(ring.clone(), None, ring)
    }
}

impl<P: ServicePurpose> TokenService<P> {
    /// A builder for a service whose keys come from a key ring: it issues with
    /// the ring's active key (if the ring can issue) and decodes with whichever
    /// key a token's `kid` names. No token it issues or accepts outlives the
    /// ring's longest token lifetime (see [`ServiceBuilder::build`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::keyring::SigningKeyRing;
    /// use vaulttoken::{Claims, PublicService, SecretKey};
    ///
    /// let ring = Arc::new(SigningKeyRing::new(time::Duration::hours(1))?);
    /// ring.promote(&ring.add(SecretKey::generate()?)?)?;
    /// let issuer = PublicService::from_ring(Arc::clone(&ring)).build();
    /// let token = issuer.encode(&Claims::builder().subject("u").build()?)?;
    ///
    /// let verifier = PublicService::from_ring(Arc::new(ring.public_ring())).build();
    /// assert_eq!(verifier.decode(&token)?.claims().subject(), Some("u"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_ring<R: ServiceRing<P>>(ring: Arc<R>) -> ServiceBuilder<P> {
        R::into_builder(ring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::footer::{Footer, FooterClaims};

    fn at(hours: i64) -> Arc<dyn Clock> {
        let start = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        Arc::new(FixedClock::new(start + Duration::hours(hours)))
    }

    fn footer_with_kid(kid: &str) -> Vec<u8> {
        Footer::Claims(FooterClaims::new().with_key_id(kid)).to_bytes()
    }

    fn lookup_kid(ring: &LocalKeyRing, footer: &[u8]) -> Result<Arc<LocalKey>, Error> {
        ring.lookup(&UntrustedFooter::new(footer))
    }

    #[test]
    fn lookup_fails_closed() {
        let ring = LocalKeyRing::new(Duration::hours(1)).unwrap();
        let id = ring.add(LocalKey::generate().unwrap()).unwrap();
        assert!(lookup_kid(&ring, &footer_with_kid(id.as_str())).is_ok());

        let other = LocalKey::generate().unwrap().paserk_id().unwrap();
        for footer in [
            footer_with_kid(other.as_str()),
            footer_with_kid("not-an-id"),
            footer_with_kid(""),
            Footer::None.to_bytes(),
            Footer::Text("hello".into()).to_bytes(),
            Footer::Claims(FooterClaims::new()).to_bytes(),
        ] {
            assert!(matches!(
                lookup_kid(&ring, &footer),
                Err(Error::UnknownKeyId)
            ));
        }
    }

    #[test]
    fn a_kid_of_another_key_type_is_a_wrong_key_type() {
        let ring = LocalKeyRing::new(Duration::hours(1)).unwrap();
        let secret = SecretKey::generate().unwrap();
        for kid in [
            secret.public_key().paserk_id().unwrap(),
            secret.paserk_id().unwrap(),
        ] {
            assert!(matches!(
                lookup_kid(&ring, &footer_with_kid(kid.as_str())),
                Err(Error::WrongKeyType {
                    expected: KeyKind::Local,
                    ..
                })
            ));
        }
    }

    #[test]
    fn retiring_waits_for_the_longest_token_lifetime() {
        let key_a = LocalKey::from_bytes(&[1; 32]).unwrap();
        let key_b = LocalKey::from_bytes(&[2; 32]).unwrap();
        let ring = LocalKeyRing::new(Duration::hours(2))
            .unwrap()
            .with_clock(at(0));
        let a = ring.add(key_a).unwrap();
        ring.promote(&a).unwrap();
        let b = ring.add(key_b).unwrap();
        ring.promote(&b).unwrap();

        let early = ring.retire(&a).unwrap_err();
        assert!(matches!(
            early,
            Error::KeyRing(KeyRingError::RetiredTooEarly { remaining }) if remaining == Duration::hours(2)
        ));
        assert!(matches!(
            ring.retire(&b),
            Err(Error::KeyRing(KeyRingError::ActiveKey))
        ));

        // The same ring state, two hours later.
        let later = LocalKeyRing {
            clock: RwLock::new(at(2)),
            ..ring
        };
        assert_eq!(later.retire_expired(), vec![a.clone()]);
        assert!(later.status(&a).is_none());
        assert_eq!(later.status(&b), Some(KeyStatus::Active));
    }

    #[test]
    fn next_keys_retire_at_once_and_unknown_ids_are_errors() {
        let ring = LocalKeyRing::new(Duration::hours(1)).unwrap();
        let id = ring.add(LocalKey::generate().unwrap()).unwrap();
        ring.retire(&id).unwrap();
        assert!(matches!(
            ring.retire(&id),
            Err(Error::KeyRing(KeyRingError::NoSuchKey))
        ));
        assert!(matches!(
            ring.promote(&id),
            Err(Error::KeyRing(KeyRingError::NoSuchKey))
        ));
    }

    #[test]
    fn issuing_needs_an_active_key() {
        let ring = LocalKeyRing::new(Duration::hours(1)).unwrap();
        assert!(matches!(ring.issuing_key(), Err(Error::NoIssuingKey)));
        let id = ring.add(LocalKey::generate().unwrap()).unwrap();
        assert!(matches!(ring.issuing_key(), Err(Error::NoIssuingKey)));
        ring.promote(&id).unwrap();
        assert_eq!(
            ring.issuing_key().unwrap().key_id.as_deref(),
            Some(id.as_str())
        );
    }

    #[test]
    fn debug_shows_ids_and_statuses_but_no_key_material() {
        let ring = LocalKeyRing::new(Duration::hours(1)).unwrap();
        let key = LocalKey::from_bytes(&[0xAB; 32]).unwrap();
        let secret_hex = key.to_hex().unwrap().as_str().to_owned();
        let id = ring.add(key).unwrap();
        let debug = format!("{ring:?}");
        assert!(debug.contains(id.as_str()), "{debug}");
        assert!(debug.contains("next"), "{debug}");
        assert!(!debug.contains(&secret_hex), "{debug}");
    }

    #[test]
    fn keys_lists_every_id_with_its_status_and_is_empty_follows_them() {
        let ring = LocalKeyRing::new(Duration::hours(1))
            .unwrap()
            .with_clock(at(0));
        assert!(ring.is_empty());
        assert!(ring.keys().is_empty());
        let a = ring.add(LocalKey::from_bytes(&[1; 32]).unwrap()).unwrap();
        let b = ring.add(LocalKey::from_bytes(&[2; 32]).unwrap()).unwrap();
        ring.promote(&a).unwrap();
        assert!(!ring.is_empty());
        let mut expected = vec![(a, KeyStatus::Active), (b, KeyStatus::Next)];
        expected.sort_unstable_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(ring.keys(), expected);
    }
}
