//! Access tokens: a key ring of either purpose, the service over it, and
//! rotation.

use std::sync::Arc;

use time::Duration;
use vaulttoken::footer::Footer;
use vaulttoken::keyring::{KeyRing, LocalKeyRing, RingSettings, SecretRingKey, SigningKeyRing};
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
    },
    Local {
        ring: Arc<LocalKeyRing>,
        service: LocalService,
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
        Self::Public { ring, service }
    }

    fn local(ring: Arc<LocalKeyRing>, store: Arc<dyn TokenStore>) -> Self {
        let service = LocalService::from_ring(Arc::clone(&ring))
            .rules(own_tokens())
            .store(store)
            .build();
        Self::Local { ring, service }
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

    /// The ring rotated, saved (wrapped with `kek`) and not applied: a
    /// copy of this ring with a new key added and promoted (the previous
    /// active key keeps verifying) and every key past its lifetime retired.
    /// The live ring is untouched; the caller saves the result and swaps in a
    /// ring imported from it.
    pub(crate) fn rotated_ring(&self, kek: &LocalKey) -> Result<StagedRing, Error> {
        match self {
            Self::Public { ring, .. } => rotated(ring, kek),
            Self::Local { ring, .. } => rotated(ring, kek),
        }
    }
}

/// A changed ring, saved and not applied: the wrapped document and the ids
/// of the keys the change removed.
#[derive(Debug)]
pub(crate) struct StagedRing {
    pub(crate) wrapped: String,
    pub(crate) retired: Vec<String>,
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

impl AccessKeys {
    /// The ring without the key `kid`, saved (wrapped with `kek`) and not
    /// applied: tokens it signed stop verifying once it is in force. The
    /// active key is refused.
    pub(crate) fn retired_ring(
        &self,
        kek: &LocalKey,
        kid: &str,
    ) -> Result<StagedRing, RetireRefusal> {
        match self {
            Self::Public { ring, .. } => retired(ring, kek, kid),
            Self::Local { ring, .. } => retired(ring, kek, kid),
        }
    }
}

fn retired<K: FreshKey>(
    live: &KeyRing<K>,
    kek: &LocalKey,
    kid: &str,
) -> Result<StagedRing, RetireRefusal> {
    let Some((id, _)) = live.keys().into_iter().find(|(id, _)| id.as_str() == kid) else {
        return Err(RetireRefusal::Unknown);
    };
    if live.active_id().as_ref() == Some(&id) {
        return Err(RetireRefusal::Active);
    }
    let staged = live
        .export_wrapped(kek)
        .and_then(|doc| KeyRing::<K>::import_wrapped(&doc, kek, &live.settings()))
        .map_err(RetireRefusal::Keys)?;
    staged
        .retire_immediately(&id)
        .map_err(RetireRefusal::Keys)?;
    Ok(StagedRing {
        wrapped: staged.export_wrapped(kek).map_err(RetireRefusal::Keys)?,
        retired: vec![id.as_str().to_owned()],
    })
}

fn rotated<K: FreshKey>(live: &KeyRing<K>, kek: &LocalKey) -> Result<StagedRing, Error> {
    let staged = KeyRing::<K>::import_wrapped(&live.export_wrapped(kek)?, kek, &live.settings())?;
    let id = staged.add(K::generate()?)?;
    staged.promote(&id)?;
    let retired = staged
        .retire_expired()
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    Ok(StagedRing {
        wrapped: staged.export_wrapped(kek)?,
        retired,
    })
}
