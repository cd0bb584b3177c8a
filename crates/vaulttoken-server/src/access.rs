//! Access tokens: a key ring of either purpose, the service over it, and
//! rotation.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::clock::FixedClock;
use vaulttoken::footer::Footer;
use vaulttoken::keyring::{
    KeyRing, KeyStatus, LocalKeyRing, RingSettings, SecretRingKey, SigningKeyRing,
};
use vaulttoken::paserk::KeyId;
use vaulttoken::rules::RuleSet;
use vaulttoken::service::VerifiedToken;
use vaulttoken::store::TokenStore;
use vaulttoken::{Claims, Error, LocalKey, LocalService, PublicService, SecretKey};

use crate::config::AccessPurpose;

/// The access-token ring and the service that issues and checks with it.
#[derive(Debug)]
pub(crate) enum AccessKeys {
    Public {
        ring: Arc<SigningKeyRing>,
        service: PublicService,
        promotion: Option<(KeyId, OffsetDateTime)>,
    },
    Local {
        ring: Arc<LocalKeyRing>,
        service: LocalService,
        promotion: Option<(KeyId, OffsetDateTime)>,
    },
}

/// The rules the server reads its own access tokens with: the defaults,
/// and any audience (a token names one of its client's audiences; the
/// server introspects and revokes them all, and introspection reports it).
fn own_tokens() -> RuleSet {
    RuleSet::default().accept_any_audience()
}

/// A key a ring can be rotated to.
trait FreshKey: SecretRingKey + Sized {
    fn generate() -> Result<Self, Error>;
}

impl FreshKey for LocalKey {
    fn generate() -> Result<Self, Error> {
        Self::generate()
    }
}

impl FreshKey for SecretKey {
    fn generate() -> Result<Self, Error> {
        Self::generate()
    }
}

impl AccessKeys {
    /// A fresh ring of `purpose` with one active key.
    pub(crate) fn generate(
        purpose: AccessPurpose,
        lifetime: Duration,
        store: Arc<dyn TokenStore>,
    ) -> Result<Self, Error> {
        match purpose {
            AccessPurpose::Public => {
                let ring = SigningKeyRing::new(lifetime)?;
                ring.promote(&ring.add(SecretKey::generate()?)?)?;
                Ok(Self::public(Arc::new(ring), store))
            }
            AccessPurpose::Local => {
                let ring = LocalKeyRing::new(lifetime)?;
                ring.promote(&ring.add(LocalKey::generate()?)?)?;
                Ok(Self::local(Arc::new(ring), store))
            }
        }
    }

    /// The ring of `purpose` saved in `document`, wrapped with `kek`.
    pub(crate) fn import(
        purpose: AccessPurpose,
        document: &str,
        kek: &LocalKey,
        store: Arc<dyn TokenStore>,
    ) -> Result<Self, Error> {
        let settings = RingSettings::new();
        match purpose {
            AccessPurpose::Public => {
                let ring = SigningKeyRing::import_wrapped(document, kek, &settings)?;
                Ok(Self::public(Arc::new(ring), store))
            }
            AccessPurpose::Local => {
                let ring = LocalKeyRing::import_wrapped(document, kek, &settings)?;
                Ok(Self::local(Arc::new(ring), store))
            }
        }
    }

    fn public(ring: Arc<SigningKeyRing>, store: Arc<dyn TokenStore>) -> Self {
        let service = PublicService::from_ring(Arc::clone(&ring))
            .rules(own_tokens())
            .store(store)
            .build();
        Self::Public {
            ring,
            service,
            promotion: None,
        }
    }

    fn local(ring: Arc<LocalKeyRing>, store: Arc<dyn TokenStore>) -> Self {
        let service = LocalService::from_ring(Arc::clone(&ring))
            .rules(own_tokens())
            .store(store)
            .build();
        Self::Local {
            ring,
            service,
            promotion: None,
        }
    }

    pub(crate) fn purpose(&self) -> AccessPurpose {
        match self {
            Self::Public { .. } => AccessPurpose::Public,
            Self::Local { .. } => AccessPurpose::Local,
        }
    }

    /// The longest lifetime the ring lets a token have.
    pub(crate) fn max_token_lifetime(&self) -> Duration {
        match self {
            Self::Public { ring, .. } => ring.max_token_lifetime(),
            Self::Local { ring, .. } => ring.max_token_lifetime(),
        }
    }

    /// Issues an access token with this implicit assertion (empty unless
    /// bound to a context).
    pub(crate) fn encode(&self, claims: &Claims, implicit: &[u8]) -> Result<String, Error> {
        match self {
            Self::Public { service, .. } => service.encode_with(claims, &Footer::None, implicit),
            Self::Local { service, .. } => service.encode_with(claims, &Footer::None, implicit),
        }
    }

    /// Verifies an access token with this implicit assertion and asks the
    /// store about it.
    pub(crate) async fn decode(
        &self,
        token: &str,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        match self {
            Self::Public { service, .. } => service.decode_async_with(token, None, implicit).await,
            Self::Local { service, .. } => service.decode_async_with(token, None, implicit).await,
        }
    }

    pub(crate) async fn revoke(&self, token: &VerifiedToken) -> Result<(), Error> {
        match self {
            Self::Public { service, .. } => service.revoke(token).await,
            Self::Local { service, .. } => service.revoke(token).await,
        }
    }

    /// The ring, every key wrapped with `kek`.
    pub(crate) fn export_wrapped(&self, kek: &LocalKey) -> Result<String, Error> {
        match self {
            Self::Public { ring, .. } => ring.export_wrapped(kek),
            Self::Local { ring, .. } => ring.export_wrapped(kek),
        }
    }

    /// The active key's id and the public ring document (`None` for a
    /// local ring: nothing in it may be published).
    pub(crate) fn published(&self) -> (Option<String>, Option<String>) {
        match self {
            Self::Public { ring, .. } => (
                ring.active_id().map(|id| id.as_str().to_owned()),
                Some(ring.public_ring().export()),
            ),
            Self::Local { ring, .. } => (ring.active_id().map(|id| id.as_str().to_owned()), None),
        }
    }

    /// The status of every key, in the ring's order.
    pub(crate) fn statuses(&self) -> Vec<KeyStatus> {
        let keys = match self {
            Self::Public { ring, .. } => ring.keys(),
            Self::Local { ring, .. } => ring.keys(),
        };
        keys.into_iter().map(|(_, status)| status).collect()
    }

    /// Every key id, sorted.
    pub(crate) fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = match self {
            Self::Public { ring, .. } => ring
                .keys()
                .into_iter()
                .map(|(id, _)| id.as_str().to_owned())
                .collect(),
            Self::Local { ring, .. } => ring
                .keys()
                .into_iter()
                .map(|(id, _)| id.as_str().to_owned())
                .collect(),
        };
        ids.sort_unstable();
        ids
    }

    /// The ring changed as `change` says, saved (wrapped with `kek`) and
    /// not applied: a copy of this ring, with a new key added (and promoted
    /// at once if asked; the previous active key keeps verifying), the keys
    /// of `change.remove` removed at once, and every key past its lifetime
    /// retired. The live ring is untouched; the caller saves the result and
    /// swaps in a ring imported from it.
    pub(crate) fn changed_ring(
        &self,
        kek: &LocalKey,
        change: &RingChange<'_>,
    ) -> Result<StagedRing, RetireRefusal> {
        match self {
            Self::Public { ring, .. } => changed(ring, kek, change),
            Self::Local { ring, .. } => changed(ring, kek, change),
        }
    }

    /// The ring document `document` (wrapped with `kek`) with the key `kid`
    /// promoted as of `at`: the key that was active becomes previous
    /// since `at`, whenever this runs, so every instance that applies one
    /// announced promotion computes the same ring.
    pub(crate) fn promoted_document(
        purpose: AccessPurpose,
        document: &str,
        kek: &LocalKey,
        kid: &str,
        at: OffsetDateTime,
    ) -> Result<String, Error> {
        match purpose {
            AccessPurpose::Public => promoted::<SecretKey>(document, kek, kid, at),
            AccessPurpose::Local => promoted::<LocalKey>(document, kek, kid, at),
        }
    }

    /// This ring with `promotion` as its pending promotion (see
    /// [`AccessKeys::pending_promotion`]).
    pub(crate) fn with_promotion(mut self, pending: Option<(KeyId, OffsetDateTime)>) -> Self {
        match &mut self {
            Self::Public { promotion, .. } | Self::Local { promotion, .. } => *promotion = pending,
        }
        self
    }

    /// The announced promotion not yet in force: the `next` key that will
    /// sign, and the instant it starts to (the key set's `signs_from`).
    /// `None` when no rotation is announced. Read from the same snapshot as
    /// the ring, so the key it names is in the ring as `next`.
    pub(crate) fn pending_promotion(&self) -> Option<(KeyId, OffsetDateTime)> {
        match self {
            Self::Public { promotion, .. } | Self::Local { promotion, .. } => promotion.clone(),
        }
    }

    /// The status of the key `kid`, if the ring holds it.
    pub(crate) fn status_of(&self, kid: &str) -> Option<KeyStatus> {
        let find = |keys: Vec<(KeyId, KeyStatus)>| {
            keys.into_iter()
                .find(|(id, _)| id.as_str() == kid)
                .map(|(_, status)| status)
        };
        match self {
            Self::Public { ring, .. } => find(ring.keys()),
            Self::Local { ring, .. } => find(ring.keys()),
        }
    }

    /// When the first previous key's tokens have all expired (it may then
    /// leave the ring); `None` if no key is previous (or only keys whose
    /// instant is past the end of time: a document's instants are not
    /// authenticated, and never make this panic).
    pub(crate) fn next_retirement(&self) -> Option<OffsetDateTime> {
        let keys = match self {
            Self::Public { ring, .. } => ring.keys(),
            Self::Local { ring, .. } => ring.keys(),
        };
        let lifetime = self.max_token_lifetime();
        keys.into_iter()
            .filter_map(|(_, status)| match status {
                KeyStatus::Previous { since } => since.checked_add(lifetime),
                _ => None,
            })
            .min()
    }
}

/// How a ring changes: see [`AccessKeys::changed_ring`].
#[derive(Debug, Default)]
pub(crate) struct RingChange<'a> {
    /// A fresh key is added: `Some(false)` as next, `Some(true)` promoted at
    /// once.
    pub(crate) add: Option<bool>,
    /// Keys removed at once, whatever their status (the active one only if
    /// a new key is promoted first).
    pub(crate) remove: Vec<&'a str>,
}

/// A changed ring, saved and not applied: the wrapped document, the ids
/// of the keys the change removed, and the key it added.
#[derive(Debug)]
pub(crate) struct StagedRing {
    pub(crate) wrapped: String,
    pub(crate) retired: Vec<String>,
    pub(crate) added: Option<String>,
}

/// Why a key cannot be retired.
#[derive(Debug)]
pub(crate) enum RetireRefusal {
    /// No key of the ring has this id.
    Unknown,
    /// It is the key that signs: rotate first.
    Active,
    /// A key operation failed.
    Keys(Error),
}

fn changed<K: FreshKey>(
    live: &KeyRing<K>,
    kek: &LocalKey,
    change: &RingChange<'_>,
) -> Result<StagedRing, RetireRefusal> {
    let held = live.keys();
    let mut removed = Vec::new();
    for kid in &change.remove {
        let Some((id, _)) = held.iter().find(|(id, _)| id.as_str() == *kid) else {
            return Err(RetireRefusal::Unknown);
        };
        if !removed.contains(id) {
            removed.push(id.clone());
        }
    }
    let staged = live
        .export_wrapped(kek)
        .and_then(|doc| KeyRing::<K>::import_wrapped(&doc, kek, &live.settings()))
        .map_err(RetireRefusal::Keys)?;
    let mut added = None;
    if let Some(promote) = change.add {
        let id = K::generate()
            .and_then(|key| staged.add(key))
            .map_err(RetireRefusal::Keys)?;
        if promote {
            staged.promote(&id).map_err(RetireRefusal::Keys)?;
        }
        added = Some(id.as_str().to_owned());
    }
    for id in &removed {
        if staged.active_id().as_ref() == Some(id) {
            return Err(RetireRefusal::Active);
        }
        staged.retire_immediately(id).map_err(RetireRefusal::Keys)?;
    }
    removed.extend(staged.retire_expired());
    Ok(StagedRing {
        wrapped: staged.export_wrapped(kek).map_err(RetireRefusal::Keys)?,
        retired: removed.iter().map(|id| id.as_str().to_owned()).collect(),
        added,
    })
}

fn promoted<K: FreshKey>(
    document: &str,
    kek: &LocalKey,
    kid: &str,
    at: OffsetDateTime,
) -> Result<String, Error> {
    let settings = RingSettings::new().with_clock(FixedClock::new(at));
    let ring = KeyRing::<K>::import_wrapped(document, kek, &settings)?;
    ring.promote(&KeyId::parse(kid)?)?;
    ring.export_wrapped(kek)
}
