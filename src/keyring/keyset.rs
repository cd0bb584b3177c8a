//! The published key set: the document an issuer serves so that verifiers
//! elsewhere can follow its keys (what JWKS is to JWT), read strictly and
//! written the same way by this crate. See `docs/KEYSET.md` for the format.
//!
//! ```json
//! {
//!   "version": 1,
//!   "issuer": "https://auth.example.com",
//!   "purpose": "public",
//!   "cache_seconds": 300,
//!   "keys": [
//!     { "kid": "k4.pid.…", "public_key": "k4.public.…", "status": "next",
//!       "signs_from": "2026-12-06T10:05:00Z" },
//!     { "kid": "k4.pid.…", "public_key": "k4.public.…", "status": "active" },
//!     { "kid": "k4.pid.…", "public_key": "k4.public.…", "status": "retiring",
//!       "signs_until": "2026-12-06T09:00:00Z", "verifies_until": "2026-12-06T09:15:00Z" }
//!   ]
//! }
//! ```
//!
//! A `local` key set (an issuer of `v4.local` tokens, whose keys never leave
//! it) names its keys by `k4.lid` id only, with no `public_key`: it tells an
//! introspecting resource server which ids exist, nothing more.

use core::fmt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

mod document;

use self::document::{only_known, read_key, text, write_key};
use super::{Entry, KeyRing, KeyStatus, PublicKeyRing, RingKey, RingSettings, RingState};
use crate::error::{Error, KeyRingError, KeySetError, PaserkType};
use crate::json;
use crate::keys::PublicKey;
use crate::paserk::KeyId;

/// The one version of the document this crate reads and writes.
pub const KEY_SET_VERSION: u64 = 1;
/// The most keys a key set holds (a rotation keeps two or three).
pub const MAX_KEY_SET_KEYS: usize = 64;
/// The largest key-set document read, in bytes: room for
/// [`MAX_KEY_SET_KEYS`] keys.
pub const MAX_KEY_SET_LEN: usize = 64 * 1024;
/// The longest `cache_seconds`: one day.
pub const MAX_CACHE_SECONDS: u64 = 86_400;
/// The longest `issuer`, in bytes.
pub const MAX_ISSUER_LEN: usize = 512;

const TOP_FIELDS: [&str; 5] = ["version", "issuer", "purpose", "cache_seconds", "keys"];
const KEY_FIELDS: [&str; 6] = [
    "kid",
    "public_key",
    "status",
    "signs_from",
    "signs_until",
    "verifies_until",
];

/// What the keys of a key set verify.
///
/// # Examples
///
/// ```
/// use vaulttoken::keyring::KeySetPurpose;
///
/// assert_eq!(KeySetPurpose::Public.as_str(), "public");
/// assert_eq!(KeySetPurpose::Local.as_str(), "local");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySetPurpose {
    /// `v4.public` tokens: each key is published with its `k4.public` key.
    Public,
    /// `v4.local` tokens: keys are named by `k4.lid` id only.
    Local,
}

impl KeySetPurpose {
    /// The name in the document.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::keyring::KeySetPurpose::Public.as_str(), "public");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Local => "local",
        }
    }

    /// The type of this purpose's key ids.
    fn id_type(self) -> PaserkType {
        match self {
            Self::Public => PaserkType::Pid,
            Self::Local => PaserkType::Lid,
        }
    }
}

/// Where a published key is in its rotation, with the instants that bound
/// it.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::keyring::PublishedStatus;
///
/// let retiring = PublishedStatus::Retiring {
///     signs_until: datetime!(2030-01-01 0:00 UTC),
///     verifies_until: datetime!(2030-01-01 0:15 UTC),
/// };
/// assert_eq!(retiring.name(), "retiring");
/// assert!(retiring.verifies_at(datetime!(2030-01-01 0:10 UTC)));
/// assert!(!retiring.verifies_at(datetime!(2030-01-01 0:20 UTC)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishedStatus {
    /// Published, not signing yet: verifiers fetch it before it signs.
    Next {
        /// When it starts signing at the earliest, if scheduled.
        signs_from: Option<OffsetDateTime>,
    },
    /// The one key that signs now.
    Active {
        /// Since when, if known.
        signs_from: Option<OffsetDateTime>,
    },
    /// No longer signing; still verifies the tokens it signed.
    Retiring {
        /// When it stopped signing.
        signs_until: OffsetDateTime,
        /// When the longest token it signed expires: then it leaves the set.
        verifies_until: OffsetDateTime,
    },
}

impl PublishedStatus {
    /// The status's name in the document.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::PublishedStatus;
    ///
    /// assert_eq!(PublishedStatus::Next { signs_from: None }.name(), "next");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Next { .. } => "next",
            Self::Active { .. } => "active",
            Self::Retiring { .. } => "retiring",
        }
    }

    /// Whether a key with this status verifies tokens at `now`: every key
    /// but a retiring one past `verifies_until`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::keyring::PublishedStatus;
    ///
    /// let at = datetime!(2030-01-01 0:00 UTC);
    /// assert!(PublishedStatus::Active { signs_from: None }.verifies_at(at));
    /// ```
    #[must_use]
    pub fn verifies_at(self, now: OffsetDateTime) -> bool {
        match self {
            Self::Retiring { verifies_until, .. } => now < verifies_until,
            Self::Next { .. } | Self::Active { .. } => true,
        }
    }
}

/// One key of a key set: its id, its public key (`public` sets only) and
/// its status.
///
/// # Examples
///
/// ```
/// use vaulttoken::SecretKey;
/// use vaulttoken::keyring::{PublishedKey, PublishedStatus};
///
/// let public = SecretKey::generate()?.public_key();
/// let key = PublishedKey::public(public.clone(), PublishedStatus::Active { signs_from: None })?;
/// assert_eq!(key.kid(), &public.paserk_id()?);
/// assert_eq!(key.public_key(), Some(&public));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PublishedKey {
    kid: KeyId,
    public_key: Option<PublicKey>,
    status: PublishedStatus,
}

impl fmt::Debug for PublishedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedKey")
            .field("kid", &self.kid.as_str())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl PublishedKey {
    /// A public key, named by its `k4.pid` id.
    ///
    /// # Errors
    ///
    /// Any error of [`PublicKey::paserk_id`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{PublishedKey, PublishedStatus};
    ///
    /// let public = vaulttoken::SecretKey::generate()?.public_key();
    /// let key = PublishedKey::public(public, PublishedStatus::Next { signs_from: None })?;
    /// assert!(key.kid().as_str().starts_with("k4.pid."));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn public(public_key: PublicKey, status: PublishedStatus) -> Result<Self, Error> {
        Ok(Self {
            kid: public_key.paserk_id()?,
            public_key: Some(public_key),
            status,
        })
    }

    /// A key named by its id only (a `k4.lid` of a `local` set).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{PublishedKey, PublishedStatus};
    ///
    /// let lid = vaulttoken::LocalKey::generate()?.paserk_id()?;
    /// let key = PublishedKey::id_only(lid.clone(), PublishedStatus::Active { signs_from: None });
    /// assert_eq!((key.kid(), key.public_key()), (&lid, None));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn id_only(kid: KeyId, status: PublishedStatus) -> Self {
        Self {
            kid,
            public_key: None,
            status,
        }
    }

    /// The key's PASERK id, the `kid` of the tokens it signs.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{PublishedKey, PublishedStatus};
    ///
    /// let lid = vaulttoken::LocalKey::generate()?.paserk_id()?;
    /// let key = PublishedKey::id_only(lid.clone(), PublishedStatus::Next { signs_from: None });
    /// assert_eq!(key.kid(), &lid);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn kid(&self) -> &KeyId {
        &self.kid
    }

    /// The public key (`public` sets), or `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{PublishedKey, PublishedStatus};
    ///
    /// let lid = vaulttoken::LocalKey::generate()?.paserk_id()?;
    /// let key = PublishedKey::id_only(lid, PublishedStatus::Next { signs_from: None });
    /// assert!(key.public_key().is_none());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.public_key.as_ref()
    }

    /// The key's status.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{PublishedKey, PublishedStatus};
    ///
    /// let lid = vaulttoken::LocalKey::generate()?.paserk_id()?;
    /// let next = PublishedStatus::Next { signs_from: None };
    /// assert_eq!(PublishedKey::id_only(lid, next).status(), next);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn status(&self) -> PublishedStatus {
        self.status
    }
}

/// A published key set: issuer, purpose, how long a reader may cache it,
/// and its keys. Read with [`KeySet::parse`], written with
/// [`KeySet::to_json`], made from a ring with [`KeySet::of_ring`], loaded
/// into a [`PublicKeyRing`] with [`KeySet::public_ring`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use time::Duration;
/// use vaulttoken::keyring::{KeySet, RingSettings, SigningKeyRing};
/// use vaulttoken::service::PublicService;
/// use vaulttoken::{Claims, SecretKey};
///
/// // The issuer publishes its ring...
/// let signing = Arc::new(SigningKeyRing::new(Duration::minutes(15))?);
/// let id = signing.add(SecretKey::generate()?)?;
/// signing.promote(&id)?;
/// let document = KeySet::of_ring("https://auth.example", Duration::minutes(5), &*signing)?.to_json();
///
/// // ...and a verifier elsewhere reads it and verifies the issuer's tokens.
/// let set = KeySet::parse(&document)?;
/// assert_eq!(set.issuer(), "https://auth.example");
/// let ring = Arc::new(set.public_ring(&RingSettings::new(), Duration::minutes(15))?);
/// let issuer = PublicService::from_ring(Arc::clone(&signing)).build();
/// let verifier = PublicService::from_ring(ring).build();
/// let token = issuer.encode(&Claims::builder().subject("u").build()?)?;
/// assert_eq!(verifier.decode(&token)?.claims().subject(), Some("u"));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    issuer: String,
    purpose: KeySetPurpose,
    cache_time: Duration,
    keys: Vec<PublishedKey>,
}

/// What [`KeySet::update_ring`] changed in a ring, each list sorted by id.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use vaulttoken::keyring::{KeySet, RingChanges, RingSettings, SigningKeyRing};
///
/// let signing = SigningKeyRing::new(Duration::hours(1))?;
/// signing.add(vaulttoken::SecretKey::generate()?)?;
/// let set = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing)?;
/// let ring = set.public_ring(&RingSettings::new(), Duration::hours(1))?;
/// // Read again unchanged: nothing to do.
/// assert_eq!(set.update_ring(&ring)?, RingChanges::default());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RingChanges {
    /// The keys added: newly published.
    pub added: Vec<KeyId>,
    /// The keys removed: no longer published, or past `verifies_until`.
    pub removed: Vec<KeyId>,
}

/// A refusal naming `field`.
fn refuse(field: impl Into<String>, problem: &'static str) -> Error {
    KeySetError {
        field: field.into(),
        problem,
    }
    .into()
}

impl KeySet {
    /// A key set of `keys`, checked as [`KeySet::parse`] checks a document.
    ///
    /// # Errors
    ///
    /// [`Error::KeySet`] naming the field at fault: an empty, overlong or
    /// non-printable issuer, a cache time out of `0..=86400` s, more than
    /// [`MAX_KEY_SET_KEYS`] keys, a duplicate id, a key of the other purpose,
    /// more than one active key, or a retiring key that verifies less long
    /// than it signed.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, KeySetPurpose, PublishedKey, PublishedStatus};
    ///
    /// let public = vaulttoken::SecretKey::generate()?.public_key();
    /// let key = PublishedKey::public(public, PublishedStatus::Active { signs_from: None })?;
    /// let set = KeySet::new("https://auth.example", KeySetPurpose::Public, Duration::minutes(5), vec![key])?;
    /// assert!(set.active().is_some());
    /// assert!(KeySet::new("", KeySetPurpose::Public, Duration::minutes(5), vec![]).is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn new(
        issuer: impl Into<String>,
        purpose: KeySetPurpose,
        cache_time: Duration,
        keys: Vec<PublishedKey>,
    ) -> Result<Self, Error> {
        let set = Self {
            issuer: issuer.into(),
            purpose,
            cache_time,
            keys,
        };
        set.check()?;
        Ok(set)
    }

    /// The key set of `ring`, published by `issuer` with `cache_time`: a
    /// [`SigningKeyRing`](super::SigningKeyRing) or a
    /// [`PublicKeyRing`] gives a `public` set (with each public key), a
    /// [`LocalKeyRing`](super::LocalKeyRing) a `local` one (ids only).
    /// A previous key is `retiring`, verifying until it stopped signing plus
    /// the ring's longest token lifetime.
    ///
    /// # Errors
    ///
    /// As [`KeySet::new`] (a ring of more than [`MAX_KEY_SET_KEYS`] keys).
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, KeySetPurpose, LocalKeyRing, PublishedStatus};
    ///
    /// let ring = LocalKeyRing::new(Duration::hours(1))?;
    /// let id = ring.add(vaulttoken::LocalKey::generate()?)?;
    /// ring.promote(&id)?;
    /// let set = KeySet::of_ring("https://auth.example", Duration::minutes(5), &ring)?;
    /// assert_eq!(set.purpose(), KeySetPurpose::Local);
    /// assert_eq!(set.keys()[0].kid(), &id);
    /// assert!(set.keys()[0].public_key().is_none());
    /// assert_eq!(set.keys()[0].status(), PublishedStatus::Active { signs_from: None });
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn of_ring<K: PublishedRingKey>(
        issuer: impl Into<String>,
        cache_time: Duration,
        ring: &KeyRing<K>,
    ) -> Result<Self, Error> {
        let state = ring.snapshot();
        let mut ids: Vec<&KeyId> = state.entries.keys().collect();
        ids.sort_unstable();
        let lifetime = ring.max_token_lifetime;
        let keys = ids
            .into_iter()
            .map(|id| {
                let entry = &state.entries[id];
                let status = match entry.status {
                    KeyStatus::Next => PublishedStatus::Next { signs_from: None },
                    KeyStatus::Active => PublishedStatus::Active { signs_from: None },
                    KeyStatus::Previous { since } => PublishedStatus::Retiring {
                        signs_until: since,
                        verifies_until: since.saturating_add(lifetime),
                    },
                };
                PublishedKey {
                    kid: id.clone(),
                    public_key: K::published_key(&entry.decoding),
                    status,
                }
            })
            .collect();
        Self::new(issuer, K::PURPOSE, cache_time, keys)
    }

    /// Reads a key-set document, strictly: at most [`MAX_KEY_SET_LEN`]
    /// bytes, unique and known fields only, `version` 1, and every check of
    /// [`KeySet::new`]; each `kid` must be the id its `public_key` computes
    /// to.
    ///
    /// # Errors
    ///
    /// [`Error::KeySet`] naming the field at fault (such as `version`, or
    /// `keys[2].public_key`) and what is wrong, never a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Error;
    /// use vaulttoken::keyring::KeySet;
    ///
    /// let newer = r#"{"version":2,"issuer":"i","purpose":"public","cache_seconds":60,"keys":[]}"#;
    /// let Err(Error::KeySet(refused)) = KeySet::parse(newer) else { panic!() };
    /// assert_eq!(refused.field, "version");
    /// assert_eq!(refused.to_string(), "key set: `version`: an unsupported version (this library reads 1)");
    /// ```
    pub fn parse(document: &str) -> Result<Self, Error> {
        if document.len() > MAX_KEY_SET_LEN {
            return Err(refuse("(document)", "larger than MAX_KEY_SET_LEN"));
        }
        let max_fields = TOP_FIELDS.len() + MAX_KEY_SET_KEYS * KEY_FIELDS.len();
        json::check_shape(document.as_bytes(), 3, max_fields)
            .map_err(|_| refuse("(document)", "nested too deep or too many fields"))?;
        let top = json::parse_object(document.as_bytes())
            .map_err(|_| refuse("(document)", "not a JSON object with unique keys"))?;
        only_known(&top, &TOP_FIELDS, "")?;
        match top.get("version") {
            None => return Err(refuse("version", "missing")),
            Some(version) if version.as_u64() == Some(KEY_SET_VERSION) => {}
            Some(version) if version.is_u64() => {
                return Err(refuse(
                    "version",
                    "an unsupported version (this library reads 1)",
                ));
            }
            Some(_) => return Err(refuse("version", "not a whole number")),
        }
        let issuer = text(&top, "issuer", "issuer")?.to_owned();
        let purpose = match text(&top, "purpose", "purpose")? {
            "public" => KeySetPurpose::Public,
            "local" => KeySetPurpose::Local,
            _ => return Err(refuse("purpose", "neither public nor local")),
        };
        let cache_seconds = match top.get("cache_seconds") {
            None => return Err(refuse("cache_seconds", "missing")),
            Some(value) => value
                .as_u64()
                .filter(|seconds| *seconds <= MAX_CACHE_SECONDS)
                .ok_or_else(|| {
                    refuse("cache_seconds", "not a whole number of seconds up to 86400")
                })?,
        };
        let Some(Value::Array(entries)) = top.get("keys") else {
            return Err(refuse("keys", "missing or not an array"));
        };
        if entries.len() > MAX_KEY_SET_KEYS {
            return Err(refuse("keys", "more than MAX_KEY_SET_KEYS keys"));
        }
        let keys = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| read_key(entry, index))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(
            issuer,
            purpose,
            Duration::seconds(i64::try_from(cache_seconds).unwrap_or(i64::MAX)),
            keys,
        )
    }

    /// The document, in the form [`KeySet::parse`] reads.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, SigningKeyRing};
    ///
    /// let ring = SigningKeyRing::new(Duration::hours(1))?;
    /// ring.add(vaulttoken::SecretKey::generate()?)?;
    /// let set = KeySet::of_ring("https://auth.example", Duration::minutes(5), &ring)?;
    /// assert_eq!(KeySet::parse(&set.to_json())?, set);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        let keys: Vec<Value> = self.keys.iter().map(write_key).collect();
        json!({
            "version": KEY_SET_VERSION,
            "issuer": self.issuer,
            "purpose": self.purpose.as_str(),
            "cache_seconds": self.cache_time.whole_seconds(),
            "keys": keys,
        })
        .to_string()
    }

    /// A verification-only ring of the public keys that verify now (by the
    /// clock of `settings`): every key but a retiring one past its
    /// `verifies_until`. Every key in it is [`KeyStatus::Next`], as in any
    /// [`PublicKeyRing`]. `max_token_lifetime` is the verifier's own bound
    /// on the tokens it accepts (a service built on the ring refuses a
    /// token valid for longer), as for [`KeyRing::new`].
    ///
    /// # Errors
    ///
    /// [`Error::KeySet`] (field `purpose`) for a `local` set: it has no keys
    /// to verify with; [`KeyRingError::NegativeLifetime`](crate::error::KeyRingError::NegativeLifetime)
    /// for a negative lifetime.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, RingSettings, SigningKeyRing};
    ///
    /// let signing = SigningKeyRing::new(Duration::hours(1))?;
    /// let id = signing.add(vaulttoken::SecretKey::generate()?)?;
    /// let set = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing)?;
    /// let ring = set.public_ring(&RingSettings::new(), Duration::hours(1))?;
    /// assert!(ring.status(&id).is_some());
    /// assert_eq!(ring.max_token_lifetime(), Duration::hours(1));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn public_ring(
        &self,
        settings: &RingSettings,
        max_token_lifetime: Duration,
    ) -> Result<PublicKeyRing, Error> {
        self.require_public()?;
        if max_token_lifetime.is_negative() {
            return Err(KeyRingError::NegativeLifetime.into());
        }
        let now = settings.clock().now();
        let ring = PublicKeyRing::from_state(
            RingState::empty(),
            max_token_lifetime,
            Arc::clone(&settings.clock),
        );
        for key in &self.keys {
            if let (Some(public), true) = (&key.public_key, key.status.verifies_at(now)) {
                ring.add(*public)?;
            }
        }
        Ok(ring)
    }

    /// Makes `ring` hold exactly the public keys of this set that verify now
    /// (by the ring's clock), in one step: keys the set no longer lists, or
    /// that stopped verifying, leave; keys it newly lists are added. Decodes
    /// running meanwhile see the ring before or after, never half of it. This
    /// is how a verifier follows a key set it reads again: the ring (and
    /// every service built on it) is updated in place. The ring then holds at
    /// most [`MAX_KEY_SET_KEYS`] keys.
    ///
    /// # Errors
    ///
    /// [`Error::KeySet`] (field `purpose`) for a `local` set, as
    /// [`KeySet::public_ring`]; the ring is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, RingSettings, SigningKeyRing};
    /// use vaulttoken::{Claims, PublicService, SecretKey};
    ///
    /// let signing = Arc::new(SigningKeyRing::new(Duration::hours(1))?);
    /// let first = signing.add(SecretKey::generate()?)?;
    /// signing.promote(&first)?;
    /// let publish = || KeySet::of_ring("https://auth.example", Duration::minutes(5), &*signing);
    /// let ring = Arc::new(publish()?.public_ring(&RingSettings::new(), Duration::hours(1))?);
    /// let verifier = PublicService::from_ring(Arc::clone(&ring)).build();
    ///
    /// // The issuer announces a key; the verifier reads the set again.
    /// let second = signing.add(SecretKey::generate()?)?;
    /// let changes = publish()?.update_ring(&ring)?;
    /// assert_eq!((changes.added, changes.removed), (vec![second.clone()], vec![]));
    /// signing.promote(&second)?;
    /// let issuer = PublicService::from_ring(Arc::clone(&signing)).build();
    /// verifier.decode(&issuer.encode(&Claims::builder().build()?)?)?;
    ///
    /// // The first key leaves the set: it leaves the ring.
    /// signing.retire_immediately(&first)?;
    /// let changes = publish()?.update_ring(&ring)?;
    /// assert_eq!(changes.removed, vec![first.clone()]);
    /// assert!(ring.status(&first).is_none());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn update_ring(&self, ring: &PublicKeyRing) -> Result<RingChanges, Error> {
        self.require_public()?;
        let now = ring.clock().now();
        let verifying: HashMap<&KeyId, PublicKey> = self
            .keys
            .iter()
            .filter(|key| key.status.verifies_at(now))
            .filter_map(|key| Some((&key.kid, key.public_key?)))
            .collect();
        ring.update(|state| {
            let mut removed: Vec<KeyId> = state
                .entries
                .keys()
                .filter(|id| !verifying.contains_key(id))
                .cloned()
                .collect();
            for id in &removed {
                state.entries.remove(id);
            }
            let mut added = Vec::new();
            for (id, public) in &verifying {
                if !state.entries.contains_key(*id) {
                    let key = Arc::new(*public);
                    let entry = Entry {
                        decoding: Arc::clone(&key),
                        key,
                        status: KeyStatus::Next,
                    };
                    state.entries.insert((*id).clone(), entry);
                    added.push((*id).clone());
                }
            }
            added.sort_unstable();
            removed.sort_unstable();
            Ok(RingChanges { added, removed })
        })
    }

    /// Refuses a `local` set where keys to verify with are needed.
    fn require_public(&self) -> Result<(), Error> {
        if self.purpose == KeySetPurpose::Public {
            Ok(())
        } else {
            Err(refuse(
                "purpose",
                "a local key set has no keys to verify with",
            ))
        }
    }

    /// Who publishes this set: the `iss` of its tokens.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{KeySet, KeySetPurpose};
    ///
    /// let set = KeySet::new("https://auth.example", KeySetPurpose::Public, time::Duration::ZERO, vec![])?;
    /// assert_eq!(set.issuer(), "https://auth.example");
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// What the keys verify.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{KeySet, KeySetPurpose};
    ///
    /// let set = KeySet::new("i", KeySetPurpose::Local, time::Duration::ZERO, vec![])?;
    /// assert_eq!(set.purpose(), KeySetPurpose::Local);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn purpose(&self) -> KeySetPurpose {
        self.purpose
    }

    /// How long a reader may keep the set before reading it again.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, KeySetPurpose};
    ///
    /// let set = KeySet::new("i", KeySetPurpose::Public, Duration::minutes(5), vec![])?;
    /// assert_eq!(set.cache_time(), Duration::minutes(5));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn cache_time(&self) -> Duration {
        self.cache_time
    }

    /// The keys, in the document's order.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{KeySet, KeySetPurpose};
    ///
    /// let set = KeySet::new("i", KeySetPurpose::Public, time::Duration::ZERO, vec![])?;
    /// assert!(set.keys().is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn keys(&self) -> &[PublishedKey] {
        &self.keys
    }

    /// The key that signs now, if one does.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, SigningKeyRing};
    ///
    /// let ring = SigningKeyRing::new(Duration::hours(1))?;
    /// let id = ring.add(vaulttoken::SecretKey::generate()?)?;
    /// let set = KeySet::of_ring("i", Duration::ZERO, &ring)?;
    /// assert!(set.active().is_none());
    /// ring.promote(&id)?;
    /// let set = KeySet::of_ring("i", Duration::ZERO, &ring)?;
    /// assert_eq!(set.active().map(|key| key.kid()), Some(&id));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn active(&self) -> Option<&PublishedKey> {
        self.keys
            .iter()
            .find(|key| matches!(key.status, PublishedStatus::Active { .. }))
    }

    /// The key named `kid`, if the set has it.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::keyring::{KeySet, SigningKeyRing};
    ///
    /// let ring = SigningKeyRing::new(Duration::hours(1))?;
    /// let id = ring.add(vaulttoken::SecretKey::generate()?)?;
    /// let set = KeySet::of_ring("i", Duration::ZERO, &ring)?;
    /// assert!(set.key(id.as_str()).is_some());
    /// assert!(set.key("k4.pid.unknown").is_none());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn key(&self, kid: &str) -> Option<&PublishedKey> {
        self.keys.iter().find(|key| key.kid.as_str() == kid)
    }

    /// The checks of [`KeySet::new`].
    fn check(&self) -> Result<(), Error> {
        if self.issuer.is_empty()
            || self.issuer.len() > MAX_ISSUER_LEN
            || self.issuer.chars().any(char::is_control)
        {
            return Err(refuse(
                "issuer",
                "empty, longer than 512 bytes, or with a control character",
            ));
        }
        let max_cache = Duration::seconds(i64::try_from(MAX_CACHE_SECONDS).unwrap_or(i64::MAX));
        if self.cache_time.is_negative() || self.cache_time > max_cache {
            return Err(refuse(
                "cache_seconds",
                "not a whole number of seconds up to 86400",
            ));
        }
        if self.keys.len() > MAX_KEY_SET_KEYS {
            return Err(refuse("keys", "more than MAX_KEY_SET_KEYS keys"));
        }
        let mut seen = HashSet::new();
        let mut active = 0usize;
        for (index, key) in self.keys.iter().enumerate() {
            let field = |name: &str| format!("keys[{index}].{name}");
            if key.kid.kind() != self.purpose.id_type() {
                return Err(refuse(field("kid"), "an id of the other purpose's type"));
            }
            if key.public_key.is_some() != (self.purpose == KeySetPurpose::Public) {
                return Err(refuse(
                    field("public_key"),
                    "required in a public set, not allowed in a local one",
                ));
            }
            if !seen.insert(key.kid.as_str()) {
                return Err(refuse(field("kid"), "a duplicate id"));
            }
            match key.status {
                PublishedStatus::Active { .. } => active += 1,
                PublishedStatus::Retiring {
                    signs_until,
                    verifies_until,
                } if verifies_until < signs_until => {
                    return Err(refuse(field("verifies_until"), "before signs_until"));
                }
                PublishedStatus::Next { .. } | PublishedStatus::Retiring { .. } => {}
            }
            if active > 1 {
                return Err(refuse(field("status"), "a second active key"));
            }
        }
        Ok(())
    }
}

/// A key type whose ring can be published as a key set: [`SecretKey`](crate::SecretKey)
/// and [`PublicKey`] (a `public` set), [`LocalKey`](crate::LocalKey) (a
/// `local` one, ids only). Sealed.
pub trait PublishedRingKey: RingKey + sealed::Sealed {
    /// The purpose of the set.
    #[doc(hidden)]
    const PURPOSE: KeySetPurpose;

    /// The key to publish for a ring entry's decoding key, if any.
    #[doc(hidden)]
    fn published_key(decoding: &Self::DecodingKey) -> Option<PublicKey>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::keys::LocalKey {}
    impl Sealed for crate::keys::SecretKey {}
    impl Sealed for crate::keys::PublicKey {}
}

impl PublishedRingKey for crate::keys::LocalKey {
    const PURPOSE: KeySetPurpose = KeySetPurpose::Local;

    fn published_key(_: &Self::DecodingKey) -> Option<PublicKey> {
        None
    }
}

impl PublishedRingKey for crate::keys::SecretKey {
    const PURPOSE: KeySetPurpose = KeySetPurpose::Public;

    fn published_key(decoding: &PublicKey) -> Option<PublicKey> {
        Some(*decoding)
    }
}

impl PublishedRingKey for PublicKey {
    const PURPOSE: KeySetPurpose = KeySetPurpose::Public;

    fn published_key(decoding: &Self) -> Option<Self> {
        Some(*decoding)
    }
}

#[cfg(test)]
mod tests;
