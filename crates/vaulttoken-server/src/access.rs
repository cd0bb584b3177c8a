//! Access tokens: a key ring of either purpose, the service over it, and
//! rotation.

use std::sync::Arc;

use time::Duration;
use vaulttoken::keyring::{KeyRing, LocalKeyRing, RingSettings, SecretRingKey, SigningKeyRing};
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

/// A key a ring can be rotated to.
trait FreshKey: SecretRingKey + Sized {
    fn generate() -> Result<Self, Error>;
    /// A second copy of the key: one for the staged ring, one for the live.
    fn duplicate(&self) -> Result<Self, Error>;
}

impl FreshKey for LocalKey {
    fn generate() -> Result<Self, Error> {
        Self::generate()
    }

    fn duplicate(&self) -> Result<Self, Error> {
        Self::from_paserk(self.to_paserk()?.as_str())
    }
}

impl FreshKey for SecretKey {
    fn generate() -> Result<Self, Error> {
        Self::generate()
    }

    fn duplicate(&self) -> Result<Self, Error> {
        Self::from_paserk(self.to_paserk()?.as_str())
    }
}

/// Why a rotation failed.
#[derive(Debug)]
pub(crate) enum RotateError {
    /// A key operation failed; nothing changed.
    Keys(Error),
    /// The new ring could not be saved; nothing changed.
    Persist(std::io::Error),
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
            .store(store)
            .build();
        Self::Public { ring, service }
    }

    fn local(ring: Arc<LocalKeyRing>, store: Arc<dyn TokenStore>) -> Self {
        let service = LocalService::from_ring(Arc::clone(&ring))
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

    pub(crate) fn encode(&self, claims: &Claims) -> Result<String, Error> {
        match self {
            Self::Public { service, .. } => service.encode(claims),
            Self::Local { service, .. } => service.encode(claims),
        }
    }

    /// Verifies an access token and asks the store about it.
    pub(crate) async fn decode(&self, token: &str) -> Result<VerifiedToken, Error> {
        match self {
            Self::Public { service, .. } => service.decode_async(token).await,
            Self::Local { service, .. } => service.decode_async(token).await,
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

    /// Adds a new key and promotes it; the previous active key keeps
    /// verifying until it is retired, keys past their lifetime are retired.
    /// `persist` saves the new ring (wrapped with `kek`) first: if it fails,
    /// the live ring is unchanged. Returns the new key's id.
    pub(crate) fn rotate(
        &self,
        kek: &LocalKey,
        persist: impl FnOnce(&str) -> std::io::Result<()>,
    ) -> Result<String, RotateError> {
        match self {
            Self::Public { ring, .. } => rotate_ring(ring, kek, persist),
            Self::Local { ring, .. } => rotate_ring(ring, kek, persist),
        }
    }
}

fn rotate_ring<K: FreshKey>(
    live: &KeyRing<K>,
    kek: &LocalKey,
    persist: impl FnOnce(&str) -> std::io::Result<()>,
) -> Result<String, RotateError> {
    let key = K::generate().map_err(RotateError::Keys)?;
    let copy = key.duplicate().map_err(RotateError::Keys)?;
    let staged = live
        .export_wrapped(kek)
        .and_then(|doc| KeyRing::<K>::import_wrapped(&doc, kek, &live.settings()))
        .map_err(RotateError::Keys)?;
    let id = staged.add(key).map_err(RotateError::Keys)?;
    staged.promote(&id).map_err(RotateError::Keys)?;
    staged.retire_expired();
    let document = staged.export_wrapped(kek).map_err(RotateError::Keys)?;
    persist(&document).map_err(RotateError::Persist)?;
    // The same steps on the live ring: it now matches what was saved.
    live.add(copy).map_err(RotateError::Keys)?;
    live.promote(&id).map_err(RotateError::Keys)?;
    live.retire_expired();
    Ok(id.as_str().to_owned())
}
