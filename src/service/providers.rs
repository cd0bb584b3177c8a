//! The stock key providers: one fixed key ([`StaticKey`]), a closure
//! ([`key_provider_fn`]), any [`KeyProvider`] lent by reference, and
//! ephemeral copies of one key.

use core::fmt;
use core::ops::Range;
use std::sync::Arc;

use super::{IssuingKey, IssuingKeyProvider, KeyProvider, LendsDecodingKey, ServicePurpose};
use crate::error::Error;
use crate::footer::UntrustedFooter;
use crate::primitives::constant_time_eq;

/// Any [`KeyProvider`], lending the `Arc` it hands out.
pub(super) struct Provided<K>(pub(super) Arc<dyn KeyProvider<K>>);

impl<K> fmt::Debug for Provided<K> {
    // Equivalent mutant: nothing ever formats a `Provided` (it is private and a
    // service's Debug leaves its keys out), so an empty `fmt` is unobservable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<K> LendsDecodingKey<K> for Provided<K> {
    fn open_with_key(
        &self,
        footer: &UntrustedFooter<'_>,
        open: &mut dyn FnMut(&K) -> Result<Range<usize>, Error>,
    ) -> Result<Range<usize>, Error> {
        open(&*self.0.decoding_key(footer)?)
    }
}

/// One fixed key, optionally with a key id.
///
/// With a key id, issued tokens carry it as `kid`, and a token whose footer names
/// a different kid, or none, is refused with [`Error::UnknownKeyId`].
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::UntrustedFooter;
/// use vaulttoken::service::{KeyProvider, StaticKey};
/// use vaulttoken::Error;
///
/// let key = StaticKey::new(vaulttoken::LocalKey::generate()?).with_key_id("2026-11");
/// assert!(key.decoding_key(&UntrustedFooter::new(br#"{"kid":"2026-11"}"#)).is_ok());
/// let other = UntrustedFooter::new(br#"{"kid":"2026-10"}"#);
/// assert!(matches!(key.decoding_key(&other), Err(Error::UnknownKeyId)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug)]
pub struct StaticKey<K> {
    pub(super) key: Arc<K>,
    pub(super) key_id: Option<String>,
}

impl<K> StaticKey<K> {
    /// A provider that always answers with `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::UntrustedFooter;
    /// use vaulttoken::service::{KeyProvider, StaticKey};
    ///
    /// let provider = StaticKey::new(vaulttoken::LocalKey::generate()?);
    /// // With no key id, any footer gets the key.
    /// assert!(provider.decoding_key(&UntrustedFooter::new(b"anything")).is_ok());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn new(key: K) -> Self {
        Self::shared(Arc::new(key))
    }

    /// A provider that always answers with a shared `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use vaulttoken::service::{IssuingKeyProvider, StaticKey};
    ///
    /// let key = Arc::new(vaulttoken::LocalKey::generate()?);
    /// let provider = StaticKey::shared(Arc::clone(&key));
    /// assert!(Arc::ptr_eq(&provider.issuing_key()?.key, &key));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn shared(key: Arc<K>) -> Self {
        Self { key, key_id: None }
    }

    /// Gives the key an id, written as `kid` and checked on decode.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::service::{LocalService, StaticKey};
    /// use vaulttoken::{Claims, Error, LocalKey};
    ///
    /// let key = Arc::new(LocalKey::generate()?);
    /// let keys = Arc::new(StaticKey::shared(Arc::clone(&key)).with_key_id("k1"));
    /// let service = LocalService::from_providers(keys.clone(), Some(keys)).build();
    /// let token = service.encode(&Claims::builder().build()?)?;
    /// assert_eq!(service.untrusted_key_id(&token)?.as_deref(), Some("k1"));
    /// // Checked on decode: a token from the same key without the id is refused.
    /// let no_kid = LocalService::builder(key).build().encode(&Claims::builder().build()?)?;
    /// assert!(matches!(service.decode(&no_kid), Err(Error::UnknownKeyId)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    fn check_key_id(&self, footer: &UntrustedFooter<'_>) -> Result<(), Error> {
        let Some(mine) = &self.key_id else {
            return Ok(());
        };
        let theirs = footer.untrusted_key_id()?.ok_or(Error::UnknownKeyId)?;
        if constant_time_eq(mine, theirs) {
            Ok(())
        } else {
            Err(Error::UnknownKeyId)
        }
    }
}

impl<K: Send + Sync + fmt::Debug> KeyProvider<K> for StaticKey<K> {
    fn decoding_key(&self, footer: &UntrustedFooter<'_>) -> Result<Arc<K>, Error> {
        self.check_key_id(footer)?;
        Ok(Arc::clone(&self.key))
    }
}

impl<K: Send + Sync + fmt::Debug> LendsDecodingKey<K> for StaticKey<K> {
    fn open_with_key(
        &self,
        footer: &UntrustedFooter<'_>,
        open: &mut dyn FnMut(&K) -> Result<Range<usize>, Error>,
    ) -> Result<Range<usize>, Error> {
        self.check_key_id(footer)?;
        open(&self.key)
    }
}

impl<K: Send + Sync + fmt::Debug> IssuingKeyProvider<K> for StaticKey<K> {
    fn issuing_key(&self) -> Result<IssuingKey<K>, Error> {
        Ok(IssuingKey {
            key: Arc::clone(&self.key),
            key_id: self.key_id.clone(),
        })
    }
}

/// Issues with a fresh ephemeral copy of one key per token.
pub(super) struct EphemeralCopies<P: ServicePurpose> {
    pub(super) key: Arc<P::IssuingKey>,
    pub(super) key_id: Option<String>,
}

impl<P: ServicePurpose> fmt::Debug for EphemeralCopies<P> {
    // Equivalent mutant: nothing ever formats an `EphemeralCopies` (it is private
    // and a service's Debug shows only `can_issue`), so an empty `fmt` is unobservable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EphemeralCopies")
            .field("key", &self.key)
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl<P: ServicePurpose> IssuingKeyProvider<P::IssuingKey> for EphemeralCopies<P> {
    fn issuing_key(&self) -> Result<IssuingKey<P::IssuingKey>, Error> {
        Ok(IssuingKey {
            key: Arc::new(P::ephemeral_copy(&self.key)?),
            key_id: self.key_id.clone(),
        })
    }
}

/// A [`KeyProvider`] made from a closure, for key lookups that need no type of
/// their own.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use vaulttoken::service::{key_provider_fn, LocalService};
/// use vaulttoken::{Claims, Error, LocalKey};
///
/// let current = Arc::new(LocalKey::generate()?);
/// let key = Arc::clone(&current);
/// let provider = key_provider_fn(move |footer| match footer.untrusted_key_id()? {
///     Some("current") => Ok(Arc::clone(&key)),
///     _ => Err(Error::UnknownKeyId),
/// });
/// let reader = LocalService::from_providers(Arc::new(provider), None).build();
/// let token = LocalService::builder(current).key_id("current").build().encode(&Claims::builder().build()?)?;
/// reader.decode(&token)?;
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub fn key_provider_fn<K, F>(lookup: F) -> impl KeyProvider<K>
where
    K: Send + Sync + fmt::Debug,
    F: Fn(&UntrustedFooter<'_>) -> Result<Arc<K>, Error> + Send + Sync + 'static,
{
    FnProvider { lookup }
}

struct FnProvider<F> {
    lookup: F,
}

impl<F> fmt::Debug for FnProvider<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnProvider").finish_non_exhaustive()
    }
}

impl<K, F> KeyProvider<K> for FnProvider<F>
where
    K: Send + Sync + fmt::Debug,
    F: Fn(&UntrustedFooter<'_>) -> Result<Arc<K>, Error> + Send + Sync,
{
    fn decoding_key(&self, footer: &UntrustedFooter<'_>) -> Result<Arc<K>, Error> {
        (self.lookup)(footer)
    }
}
