//! Token services: the everyday API. One service per purpose, bound to a key
//! source, a rule set and footer options.
//!
//! [`LocalService`] issues and accepts `v4.local` tokens; [`PublicService`] signs
//! and verifies `v4.public` tokens (a verification-only `PublicService` needs just
//! the public key). Decoding is the only way to a [`VerifiedToken`], and it runs,
//! in order: the length limit; the header, layout and lengths; the body decoded
//! in full; the footer's limits; key selection from the untrusted footer; the
//! expected footer, then decryption or verification; payload parsing; the
//! footer's claims (read at most once per decode); and every rule. Nothing
//! malformed ever reaches a key provider, which may make a network call.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Range;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::audit::{self, AuditEvent};
use crate::claims::{Claims, ClaimsBuilder, DEFAULT_VALIDITY};
use crate::clock::Clock;
use crate::error::{Error, FooterError};
use crate::footer::{Footer, FooterClaims, FooterLimits, FooterMode, UntrustedFooter};
use crate::keys::{LocalKey, PublicKey, SecretKey};
use crate::primitives::constant_time_eq;
use crate::rules::{Mode, RuleSet};
use crate::store::{Check, FAMILY_CLAIM, TokenStore};
use crate::v4::{Local, Public, UntrustedToken};

/// The default maximum token length a service accepts: 64 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 64 * 1024;

/// Chooses the key that decodes a token, from its *untrusted* footer.
///
/// Return [`Error::UnknownKeyId`] for a key id you do not know: never fall back to
/// a default key.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Arc;
/// use vaulttoken::footer::{Footer, FooterClaims, UntrustedFooter};
/// use vaulttoken::service::KeyProvider;
/// use vaulttoken::{Error, LocalKey};
///
/// #[derive(Debug)]
/// struct ByKid(HashMap<String, Arc<LocalKey>>);
///
/// impl KeyProvider<LocalKey> for ByKid {
///     fn decoding_key(&self, footer: &UntrustedFooter<'_>) -> Result<Arc<LocalKey>, Error> {
///         let kid = footer.untrusted_key_id()?.ok_or(Error::UnknownKeyId)?;
///         self.0.get(kid).cloned().ok_or(Error::UnknownKeyId)
///     }
/// }
///
/// let key = Arc::new(LocalKey::generate()?);
/// let provider = ByKid(HashMap::from([("k1".to_owned(), Arc::clone(&key))]));
/// let footer = Footer::Claims(FooterClaims::new().with_key_id("k1")).to_bytes();
/// assert_eq!(*provider.decoding_key(&UntrustedFooter::new(&footer))?, *key);
/// assert!(matches!(provider.decoding_key(&UntrustedFooter::new(b"")), Err(Error::UnknownKeyId)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub trait KeyProvider<K>: Send + Sync + fmt::Debug {
    /// The key for a token with this footer. The footer carries the limits and
    /// mode of the service that read it, and has passed its length limit.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKeyId`] (or another error) when no key fits: decoding fails.
    fn decoding_key(&self, footer: &UntrustedFooter<'_>) -> Result<Arc<K>, Error>;
}

/// Opens a token with a key borrowed for that one operation: a key ring or a
/// single key lends it straight from where it lives, so concurrent decodes
/// write to no shared reference count.
pub(crate) trait LendsDecodingKey<K>: Send + Sync + fmt::Debug {
    /// Runs `open` with the key for this footer.
    fn open_with_key(
        &self,
        footer: &UntrustedFooter<'_>,
        open: &mut dyn FnMut(&K) -> Result<Range<usize>, Error>,
    ) -> Result<Range<usize>, Error>;
}

/// Any [`KeyProvider`], lending the `Arc` it hands out.
struct Provided<K>(Arc<dyn KeyProvider<K>>);

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

/// What a service built from a key ring reads from it: its longest token
/// lifetime and its clock, which the service shares.
pub(crate) trait RingLink: Send + Sync {
    /// The ring's longest token lifetime.
    fn max_token_lifetime(&self) -> Duration;
    /// The ring's clock.
    fn clock(&self) -> Arc<dyn Clock>;
    /// Makes `clock` the ring's clock.
    fn set_clock(&self, clock: Arc<dyn Clock>);
}

/// Supplies the key that issues new tokens, and the key id to put in their footer.
///
/// # Examples
///
/// ```
/// use vaulttoken::service::{IssuingKey, IssuingKeyProvider, StaticKey};
/// use vaulttoken::LocalKey;
///
/// let provider = StaticKey::new(LocalKey::generate()?).with_key_id("k1");
/// let issuing: IssuingKey<LocalKey> = provider.issuing_key()?;
/// assert_eq!(issuing.key_id.as_deref(), Some("k1"));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub trait IssuingKeyProvider<K>: Send + Sync + fmt::Debug {
    /// The key to issue with now.
    ///
    /// # Errors
    ///
    /// Any error that prevents issuing (for example a cleared key).
    fn issuing_key(&self) -> Result<IssuingKey<K>, Error>;
}

/// A key to issue with, and the id that tokens made with it carry as `kid`.
#[derive(Debug)]
pub struct IssuingKey<K> {
    /// The key.
    pub key: Arc<K>,
    /// The key id for the footer, if tokens should carry one.
    pub key_id: Option<String>,
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
    key: Arc<K>,
    key_id: Option<String>,
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
struct EphemeralCopies<P: ServicePurpose> {
    key: Arc<P::IssuingKey>,
    key_id: Option<String>,
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

/// A token that decoded, authenticated, parsed and passed every rule.
///
/// The only way to get one is through a service's `decode`.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Claims, LocalKey, service::LocalService};
///
/// let service = LocalService::builder(LocalKey::generate()?).build();
/// let token = service.encode(&Claims::builder().subject("u").build()?)?;
/// let verified = service.decode(&token)?;
/// assert_eq!(verified.claims().subject(), Some("u"));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    claims: Claims,
    footer: Footer,
}

impl VerifiedToken {
    /// The verified claims.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let claims = Claims::builder().subject("u").claim("role", "admin").build()?;
    /// let verified = service.decode(&service.encode(&claims)?)?;
    /// assert_eq!(verified.claims().subject(), Some("u"));
    /// assert_eq!(verified.claims().custom_str("role"), Some("admin"));
    /// // The times the claims left out, as the service filled them in.
    /// assert!(verified.claims().expiration().is_some());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The verified footer.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::{Claims, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let footer = Footer::Text("hello".into());
    /// let token = service.encode_with_footer(&Claims::builder().build()?, &footer)?;
    /// assert_eq!(service.decode(&token)?.footer(), &footer);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    /// The verified claims, registered ones included, deserialized into your
    /// own type (as `jsonwebtoken::decode::<T>` gives them).
    ///
    /// # Errors
    ///
    /// [`PayloadError::CustomType`](crate::error::PayloadError::CustomType) if
    /// the claims do not fit `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, LocalKey, LocalService};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Session { sub: String, role: String }
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let token = service.encode(&Claims::builder().subject("u-1").claim("role", "admin").build()?)?;
    /// let session: Session = service.decode(&token)?.deserialize_claims()?;
    /// assert_eq!((session.sub.as_str(), session.role.as_str()), ("u-1", "admin"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn deserialize_claims<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        self.claims.deserialize()
    }

    /// Takes the claims and footer out.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let token = service.encode(&Claims::builder().build()?)?;
    /// let (claims, _footer) = service.decode(&token)?.into_parts();
    /// assert!(claims.expiration().is_some());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn into_parts(self) -> (Claims, Footer) {
        (self.claims, self.footer)
    }
}

/// "For ever", for entries about tokens that never expire: the last instant
/// RFC 3339 can write.
const FOREVER: OffsetDateTime = OffsetDateTime::new_utc(
    match time::Date::from_ordinal_date(9999, 365) {
        Ok(date) => date,
        Err(_) => unreachable!(),
    },
    match time::Time::from_hms(23, 59, 59) {
        Ok(time) => time,
        Err(_) => unreachable!(),
    },
);

/// Reports a refused decode.
fn audit_rejection(error: &Error) {
    audit::emit(
        AuditEvent::TokenRejected,
        &audit::Fields {
            reason: Some(audit::reason_code(error)),
            ..audit::Fields::default()
        },
    );
}

/// The key id a footer names, for the audit log.
fn footer_key_id(footer: &Footer) -> Option<&str> {
    match footer {
        Footer::Claims(claims) => claims.key_id(),
        _ => None,
    }
}

/// A purpose a [`TokenService`] can serve, with its key types. Sealed: the
/// operations a service runs live in a private supertrait.
///
/// # Examples
///
/// ```
/// use vaulttoken::service::ServicePurpose;
/// use vaulttoken::v4::{Local, Public};
///
/// fn decoding_key_name<P: ServicePurpose>() -> &'static str {
///     core::any::type_name::<P::DecodingKey>()
/// }
/// assert!(decoding_key_name::<Local>().ends_with("LocalKey"));
/// assert!(decoding_key_name::<Public>().ends_with("PublicKey"));
/// ```
pub trait ServicePurpose: sealed::Operations + Send + Sync + 'static {
    /// The key that issues tokens.
    type IssuingKey: Send + Sync + fmt::Debug + 'static;
    /// The key that decodes tokens.
    type DecodingKey: Send + Sync + fmt::Debug + 'static;
}

// The sealed trait is unreachable from outside the crate, so the crate-only
// `ParsedParts` in its signatures hides nothing a caller could name.
#[allow(private_interfaces)]
mod sealed {
    use core::ops::Range;
    use std::sync::Arc;

    use super::ServicePurpose;
    use crate::error::Error;
    use crate::v4::{self, Local, ParsedParts, Public, Purpose};

    /// The token operations behind a service: private, so no purpose but these
    /// two exists and no caller outside the crate reaches them.
    pub trait Operations: Purpose + Sized {
        /// Issues a token.
        fn seal(
            key: &<Self as ServicePurpose>::IssuingKey,
            payload: &[u8],
            footer: &[u8],
            implicit: &[u8],
        ) -> Result<String, Error>
        where
            Self: ServicePurpose;

        /// The key that decodes what `key` issues.
        fn decoding_key_of(
            key: &Arc<<Self as ServicePurpose>::IssuingKey>,
        ) -> Arc<<Self as ServicePurpose>::DecodingKey>
        where
            Self: ServicePurpose;

        /// A copy of `key` wiped after one operation.
        fn ephemeral_copy(
            key: &<Self as ServicePurpose>::IssuingKey,
        ) -> Result<<Self as ServicePurpose>::IssuingKey, Error>
        where
            Self: ServicePurpose;

        /// Authenticates a parsed token in place; returns where its message is.
        fn open(
            key: &<Self as ServicePurpose>::DecodingKey,
            parts: ParsedParts<'_, Self>,
            expected_footer: Option<&[u8]>,
            implicit: &[u8],
        ) -> Result<Range<usize>, Error>
        where
            Self: ServicePurpose;
    }

    impl Operations for Local {
        fn decoding_key_of(key: &Arc<crate::LocalKey>) -> Arc<crate::LocalKey> {
            Arc::clone(key)
        }

        fn ephemeral_copy(key: &crate::LocalKey) -> Result<crate::LocalKey, Error> {
            key.ephemeral_copy()
        }

        fn seal(
            key: &crate::LocalKey,
            payload: &[u8],
            footer: &[u8],
            implicit: &[u8],
        ) -> Result<String, Error> {
            v4::local::encrypt(key, payload, footer, implicit)
        }

        fn open(
            key: &crate::LocalKey,
            parts: ParsedParts<'_, Self>,
            expected_footer: Option<&[u8]>,
            implicit: &[u8],
        ) -> Result<Range<usize>, Error> {
            v4::local::decrypt_parsed(key, parts, expected_footer, implicit)
        }
    }

    impl Operations for Public {
        fn decoding_key_of(key: &Arc<crate::SecretKey>) -> Arc<crate::PublicKey> {
            Arc::new(key.public_key())
        }

        fn ephemeral_copy(key: &crate::SecretKey) -> Result<crate::SecretKey, Error> {
            key.ephemeral_copy()
        }

        fn seal(
            key: &crate::SecretKey,
            payload: &[u8],
            footer: &[u8],
            implicit: &[u8],
        ) -> Result<String, Error> {
            v4::public::sign(key, payload, footer, implicit)
        }

        fn open(
            key: &crate::PublicKey,
            parts: ParsedParts<'_, Self>,
            expected_footer: Option<&[u8]>,
            implicit: &[u8],
        ) -> Result<Range<usize>, Error> {
            v4::public::verify_parsed(key, parts, expected_footer, implicit)
        }
    }
}

impl ServicePurpose for Local {
    type IssuingKey = LocalKey;
    type DecodingKey = LocalKey;
}

impl ServicePurpose for Public {
    type IssuingKey = SecretKey;
    type DecodingKey = PublicKey;
}

/// A token service for one purpose. Use the aliases [`LocalService`] and
/// [`PublicService`].
pub struct TokenService<P: ServicePurpose> {
    decoding_keys: Arc<dyn LendsDecodingKey<P::DecodingKey>>,
    issuing_keys: Option<Arc<dyn IssuingKeyProvider<P::IssuingKey>>>,
    rules: RuleSet,
    footer_mode: FooterMode,
    footer_limits: FooterLimits,
    max_token_len: usize,
    validity: Duration,
    /// The one clock: the rules read it too.
    clock: Arc<dyn Clock>,
    /// Where revocations and spent ids live, if anywhere.
    store: Option<Arc<dyn TokenStore>>,
    purpose: PhantomData<P>,
}

/// Issues and accepts `v4.local` tokens.
pub type LocalService = TokenService<Local>;
/// Signs and verifies `v4.public` tokens.
pub type PublicService = TokenService<Public>;

impl<P: ServicePurpose> fmt::Debug for TokenService<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("purpose", &P::HEADER)
            .field("can_issue", &self.issuing_keys.is_some())
            .field("rules", &self.rules)
            .field("footer_mode", &self.footer_mode)
            .field("footer_limits", &self.footer_limits)
            .field("max_token_len", &self.max_token_len)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

impl<P: ServicePurpose> TokenService<P> {
    /// A builder for a service that issues and decodes tokens with one key: a
    /// [`LocalKey`] for a [`LocalService`], a [`SecretKey`] for a
    /// [`PublicService`] (which verifies with its public half). The key may be
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

    /// A builder for a service that only decodes, with one key: a [`LocalKey`]
    /// for a [`LocalService`], a [`PublicKey`] for a [`PublicService`]. It cannot
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
    /// closure ([`key_provider_fn`]) or a [`StaticKey`]. Pass `None` as
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

    /// A claims builder preset with this service's default validity (1 hour unless
    /// [`ServiceBuilder::default_validity`] changed it) and its clock
    /// ([`ServiceBuilder::clock`]). Plain [`Claims::builder`] does as well:
    /// [`TokenService::encode`] fills in the times it leaves out.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::{LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .default_validity(Duration::minutes(5))
    ///     .build();
    /// let claims = service.claims_builder().subject("u").build()?;
    /// assert_eq!(claims.expiration().unwrap() - claims.issued_at().unwrap(), Duration::minutes(5));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn claims_builder(&self) -> ClaimsBuilder {
        Claims::builder()
            .expires_in(self.validity)
            .clock(Arc::clone(&self.clock))
    }

    /// Issues a token for `claims` with no footer (or just the key's `kid`).
    ///
    /// Times the claims leave out are filled in by the service: `iat` and
    /// `nbf` with now (by its [clock](ServiceBuilder::clock)), `exp` with
    /// `iat` plus its [default validity](ServiceBuilder::default_validity),
    /// unless the claims declare they never expire
    /// ([`Claims::without_expiry`]). Then the rules run, as on decode.
    ///
    /// # Errors
    ///
    /// [`Error::Claims`] if the claims break a rule (an expired token is never
    /// issued), [`Error::NoIssuingKey`], [`Error::TokenTooLong`], or a key error.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use time::macros::datetime;
    /// use vaulttoken::{Claims, Error, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let token = service.encode(&Claims::builder().subject("u").build()?)?;
    /// assert!(token.starts_with("v4.local."));
    /// let claims = service.decode(&token)?.into_parts().0;
    /// assert_eq!(claims.not_before(), claims.issued_at());
    /// assert_eq!(claims.expiration().unwrap() - claims.issued_at().unwrap(), Duration::hours(1));
    /// // An expired token is never issued.
    /// let expired = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// assert!(matches!(service.encode(&expired), Err(Error::Claims(_))));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn encode(&self, claims: &Claims) -> Result<String, Error> {
        self.encode_with(claims, &Footer::None, b"")
    }

    /// Issues a token with a footer.
    ///
    /// # Errors
    ///
    /// As for [`TokenService::encode`], and [`FooterError::KeyIdConflict`] if the
    /// footer's `kid` differs from the issuing key's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::error::FooterError;
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::{Claims, Error, LocalKey, service::LocalService};
    ///
    /// let key = Arc::new(LocalKey::generate()?);
    /// let service = LocalService::builder(Arc::clone(&key)).build();
    /// let footer = Footer::Text("hello".into());
    /// let claims = Claims::builder().build()?;
    /// let token = service.encode_with_footer(&claims, &footer)?;
    /// assert!(token.ends_with(".aGVsbG8")); // the footer travels in clear
    /// assert_eq!(service.decode(&token)?.footer(), &footer);
    /// // A key with an id writes it as `kid`, which a text footer cannot hold.
    /// let keyed = LocalService::builder(key).key_id("k1").build();
    /// assert!(matches!(
    ///     keyed.encode_with_footer(&claims, &footer),
    ///     Err(Error::Footer(FooterError::KeyIdConflict))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn encode_with_footer(&self, claims: &Claims, footer: &Footer) -> Result<String, Error> {
        self.encode_with(claims, footer, b"")
    }

    /// Issues a token with a footer and an implicit assertion (authenticated, never
    /// sent; the decoder must supply the same bytes).
    ///
    /// # Errors
    ///
    /// As for [`TokenService::encode_with_footer`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::{Claims, Error, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let token = service.encode_with(&Claims::builder().build()?, &Footer::None, b"session-9")?;
    /// assert!(service.decode_with(&token, None, b"session-9").is_ok());
    /// assert!(matches!(service.decode(&token), Err(Error::Verification)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn encode_with(
        &self,
        claims: &Claims,
        footer: &Footer,
        implicit: &[u8],
    ) -> Result<String, Error> {
        let issuing = self.issuing_keys.as_ref().ok_or(Error::NoIssuingKey)?;
        let IssuingKey { key, key_id } = issuing.issuing_key()?;
        let footer = with_key_id(footer, key_id)?;
        let now = self.now();
        let mut filled = claims.with_times_filled(now, self.validity)?;
        if self.store.is_some() && claims.token_id().is_none() {
            let with_id = filled.get_or_insert_with(|| claims.clone());
            with_id.set_token_id(&Claims::generate_token_id()?);
        }
        let claims = filled.as_ref().unwrap_or(claims);
        self.rules.check(claims, &footer, Mode::Encode)?;
        let payload = claims.to_payload()?;
        let footer_bytes = footer.to_bytes();
        // Never issue what this service would refuse: the footer is read back
        // exactly as decode reads it (mode, limits, where keys may appear).
        Footer::parse(&footer_bytes, self.footer_mode, &self.footer_limits)?;
        let token = P::seal(&key, &payload, &footer_bytes, implicit)?;
        self.check_token_len(&token)?;
        audit::emit(
            AuditEvent::TokenIssued,
            &audit::Fields {
                jti: claims.token_id(),
                kid: footer_key_id(&footer),
                subject: claims.subject(),
                expires: claims.expiration(),
                now: Some(now),
                ..audit::Fields::default()
            },
        );
        Ok(token)
    }

    /// Decodes a token: authenticates it, parses its claims and footer, and runs
    /// every rule.
    ///
    /// # Errors
    ///
    /// [`Error::TokenTooLong`], any format error, [`Error::UnknownKeyId`],
    /// [`Error::Verification`], [`Error::Payload`], [`Error::Footer`], or
    /// [`Error::Claims`] listing every rule that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, Error, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let token = service.encode(&Claims::builder().subject("u").build()?)?;
    /// assert_eq!(service.decode(&token)?.claims().subject(), Some("u"));
    /// // A token from another key does not verify.
    /// let other = LocalService::builder(LocalKey::generate()?).build();
    /// assert!(matches!(other.decode(&token), Err(Error::Verification)));
    /// assert!(service.decode("v4.public.not-a-local-token").is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn decode(&self, token: &str) -> Result<VerifiedToken, Error> {
        self.decode_with(token, None, b"")
    }

    /// Decodes a token whose footer must equal `expected` exactly (compared in
    /// constant time, before the payload is accepted).
    ///
    /// # Errors
    ///
    /// As for [`TokenService::decode`], and [`Error::FooterMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::{Claims, Error, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let footer = Footer::Text("v1".into());
    /// let token = service.encode_with_footer(&Claims::builder().build()?, &footer)?;
    /// assert!(service.decode_with_footer(&token, &footer).is_ok());
    /// let other = Footer::Text("v2".into());
    /// assert!(matches!(service.decode_with_footer(&token, &other), Err(Error::FooterMismatch)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn decode_with_footer(
        &self,
        token: &str,
        expected: &Footer,
    ) -> Result<VerifiedToken, Error> {
        self.decode_with(token, Some(expected), b"")
    }

    /// Decodes with an optional expected footer and an implicit assertion.
    ///
    /// # Errors
    ///
    /// As for [`TokenService::decode_with_footer`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::{Claims, Error, LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let footer = Footer::Text("v1".into());
    /// let token = service.encode_with(&Claims::builder().build()?, &footer, b"session-9")?;
    /// service.decode_with(&token, Some(&footer), b"session-9")?;
    /// service.decode_with(&token, None, b"session-9")?;
    /// let wrong_footer = Footer::Text("v2".into());
    /// assert!(matches!(
    ///     service.decode_with(&token, Some(&wrong_footer), b"session-9"),
    ///     Err(Error::FooterMismatch)
    /// ));
    /// assert!(matches!(service.decode_with(&token, None, b"session-8"), Err(Error::Verification)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn decode_with(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        let result = if self.store.is_some() {
            Err(Error::StoreNeedsAsync)
        } else {
            self.decode_unchecked(token, expected_footer, implicit)
        };
        result.inspect_err(audit_rejection)
    }

    /// Decodes a token and then asks the service's token store about it (see
    /// [`ServiceBuilder::store`]): the decode for a service with a store. A
    /// service without one decodes as [`TokenService::decode`] does.
    ///
    /// # Errors
    ///
    /// As for [`TokenService::decode`], and [`Error::Denied`] when the store
    /// refuses the token, or [`Error::Store`] when it cannot answer (fail
    /// closed: never valid, never "invalid token").
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::{MemoryStore, TokenStore};
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let store = Arc::new(MemoryStore::new());
    /// let service = LocalService::builder(LocalKey::generate()?).store(store.clone()).build();
    /// let token = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let verified = block_on(service.decode_async(&token))?;
    /// assert_eq!(verified.claims().subject(), Some("alice"));
    /// // Spending the token's id through the store makes it refused as used.
    /// let id = verified.claims().token_id().unwrap();
    /// block_on(store.consume(Some("alice"), id, verified.claims().expiration().unwrap()))?;
    /// let refused = block_on(service.decode_async(&token));
    /// assert!(matches!(refused, Err(Error::Denied(Denial::AlreadyUsed))));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub async fn decode_async(&self, token: &str) -> Result<VerifiedToken, Error> {
        self.decode_async_with(token, None, b"").await
    }

    /// [`TokenService::decode_async`] with an optional expected footer and an
    /// implicit assertion.
    ///
    /// # Errors
    ///
    /// As for [`TokenService::decode_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let token = service.encode_with(&Claims::builder().build()?, &Footer::None, b"device-7")?;
    /// block_on(service.decode_async_with(&token, None, b"device-7"))?;
    /// let elsewhere = block_on(service.decode_async_with(&token, None, b"device-8"));
    /// assert!(matches!(elsewhere, Err(Error::Verification)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub async fn decode_async_with(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        let result = self
            .decode_and_check(token, expected_footer, implicit)
            .await;
        result.inspect_err(audit_rejection)
    }

    async fn decode_and_check(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        let verified = self.decode_unchecked(token, expected_footer, implicit)?;
        let Some(store) = &self.store else {
            return Ok(verified);
        };
        let claims = verified.claims();
        // The rules require a `jti` when there is a store.
        let token_id = claims.token_id().unwrap_or_default();
        let mut check = Check::token(claims.subject(), token_id);
        if let Some(issued_at) = claims.issued_at() {
            check = check.issued_at(issued_at);
        }
        if let Some(family) = claims.custom_str(FAMILY_CLAIM) {
            check = check.family(family);
        }
        let state = store
            .check(&check)
            .await
            .map_err(audit::store_unavailable)?;
        match state.denial() {
            None => Ok(verified),
            Some(denial) => Err(Error::Denied(denial)),
        }
    }

    /// Revokes a verified token until it would have expired (plus the rules'
    /// leeway): from now on every decode of it is refused with
    /// [`Denial::Revoked`](crate::error::Denial::Revoked), whichever encoding
    /// of it is presented.
    ///
    /// # Errors
    ///
    /// [`Error::StoreNeedsAsync`] on a service with no store; [`Error::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let claims = Claims::builder().subject("alice").token_id("session-9").build()?;
    /// let (first, second) = (service.encode(&claims)?, service.encode(&claims)?);
    /// block_on(service.revoke(&block_on(service.decode_async(&first))?))?;
    /// // Revocation follows the id, not the token's bytes.
    /// let refused = block_on(service.decode_async(&second));
    /// assert!(matches!(refused, Err(Error::Denied(Denial::Revoked))));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub async fn revoke(&self, token: &VerifiedToken) -> Result<(), Error> {
        let store = self.store.as_ref().ok_or(Error::StoreNeedsAsync)?;
        let claims = token.claims();
        let token_id = claims.token_id().unwrap_or_default();
        let until = self.remembered_until(claims.expiration());
        store
            .revoke(claims.subject(), token_id, until)
            .await
            .map_err(audit::store_unavailable)?;
        audit::emit(
            AuditEvent::TokenRevoked,
            &audit::Fields {
                jti: Some(token_id),
                subject: claims.subject(),
                expires: claims.expiration(),
                now: Some(self.now()),
                ..audit::Fields::default()
            },
        );
        Ok(())
    }

    /// Revokes every token of `subject` issued up to now ("log out
    /// everywhere"), including any issued in this same second: `iat` counts
    /// whole seconds. The store remembers the cutoff for as long as such a
    /// token could live: the rule set's [`RuleSet::max_validity`], or for ever
    /// without one.
    ///
    /// # Errors
    ///
    /// [`Error::StoreNeedsAsync`] on a service with no store; [`Error::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let laptop = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let phone = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let bob = service.encode(&Claims::builder().subject("bob").build()?)?;
    /// block_on(service.revoke_subject("alice"))?;
    /// for token in [&laptop, &phone] {
    ///     let refused = block_on(service.decode_async(token));
    ///     assert!(matches!(refused, Err(Error::Denied(Denial::IssuedBeforeCutoff))));
    /// }
    /// block_on(service.decode_async(&bob))?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub async fn revoke_subject(&self, subject: &str) -> Result<(), Error> {
        let store = self.store.as_ref().ok_or(Error::StoreNeedsAsync)?;
        let now = self.now();
        // Up to and including this whole second.
        let cutoff = now
            .replace_nanosecond(0)
            .ok()
            .and_then(|second| second.checked_add(Duration::SECOND))
            .unwrap_or(now);
        let until = match self.rules.max_validity_limit() {
            Some(max) => self.remembered_until(cutoff.checked_add(max)),
            None => self.remembered_until(None),
        };
        store
            .revoke_issued_before(subject, cutoff, until)
            .await
            .map_err(audit::store_unavailable)?;
        audit::emit(
            AuditEvent::SubjectRevoked,
            &audit::Fields {
                subject: Some(subject),
                ..audit::Fields::default()
            },
        );
        Ok(())
    }

    /// How long a store must remember something about a token that expires
    /// at `expiration`: until then plus the leeway, or for ever.
    fn remembered_until(&self, expiration: Option<OffsetDateTime>) -> OffsetDateTime {
        expiration
            .and_then(|exp| exp.checked_add(self.rules.leeway_limit()))
            .unwrap_or(FOREVER)
    }

    fn decode_unchecked(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        self.check_token_len(token)?;
        let mut token = UntrustedToken::<P>::parse(token)?;
        let mut parts = token.parts();
        let untrusted = self.untrusted_footer(parts.footer);
        self.footer_limits
            .check_len(untrusted.as_untrusted_bytes())?;
        let expected_bytes = expected_footer.map(Footer::to_bytes);
        let message = self.decoding_keys.open_with_key(&untrusted, &mut |key| {
            P::open(key, parts.reborrow(), expected_bytes.as_deref(), implicit)
        })?;
        let pending_footer = untrusted.into_pending();
        let claims = Claims::from_payload(&parts.body[message])?;
        let footer = pending_footer.finish(parts.footer)?;
        self.rules.check(&claims, &footer, Mode::Decode)?;
        Ok(VerifiedToken { claims, footer })
    }

    /// The key id a token's footer names, read *without verifying anything*,
    /// within this service's footer mode and limits: for logging or routing
    /// before a decode, never for a decision that trusts it.
    ///
    /// # Errors
    ///
    /// [`Error::TokenTooLong`], any format error, or [`Error::Footer`] for a
    /// footer that must be read as claims but cannot be.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).key_id("k-2026").build();
    /// let token = service.encode(&Claims::builder().build()?)?;
    /// assert_eq!(service.untrusted_key_id(&token)?.as_deref(), Some("k-2026"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn untrusted_key_id(&self, token: &str) -> Result<Option<String>, Error> {
        self.check_token_len(token)?;
        let token = UntrustedToken::<P>::parse(token)?;
        let footer = self.untrusted_footer(token.untrusted_footer());
        Ok(footer.untrusted_key_id()?.map(str::to_owned))
    }

    /// A parsed token's footer, to be read in this service's mode and limits.
    fn untrusted_footer<'t>(&self, footer: &'t [u8]) -> UntrustedFooter<'t> {
        UntrustedFooter::new(footer)
            .with_limits(self.footer_limits)
            .with_mode(self.footer_mode)
    }

    /// The claims with missing times filled in as [`TokenService::encode`]
    /// does, with `validity` instead of the default validity.
    pub(crate) fn stamp(
        &self,
        claims: &Claims,
        validity: Duration,
    ) -> Result<Option<Claims>, Error> {
        claims.with_times_filled(self.now(), validity)
    }

    /// Now, by the service's clock.
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn check_token_len(&self, token: &str) -> Result<(), Error> {
        if token.len() > self.max_token_len {
            return Err(Error::TokenTooLong {
                max_len: self.max_token_len,
            });
        }
        Ok(())
    }
}

/// Puts the issuing key's id into the footer as `kid`.
fn with_key_id(footer: &Footer, key_id: Option<String>) -> Result<Footer, Error> {
    let Some(key_id) = key_id else {
        return Ok(footer.clone());
    };
    match footer {
        Footer::None => Ok(Footer::Claims(FooterClaims::new().with_key_id(key_id))),
        Footer::Claims(claims) => match claims.key_id() {
            None => Ok(Footer::Claims(claims.clone().with_key_id(key_id))),
            Some(existing) if existing == key_id => Ok(footer.clone()),
            Some(_) => Err(FooterError::KeyIdConflict.into()),
        },
        Footer::Text(_) => Err(FooterError::KeyIdConflict.into()),
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
    /// (the synchronous decode refuses with [`Error::StoreNeedsAsync`] rather
    /// than skip the check), requires a `jti` in every token, and gives each
    /// token it issues one if its claims have none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let token = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let verified = block_on(service.decode_async(&token))?;
    /// block_on(service.revoke(&verified))?;
    /// assert!(matches!(block_on(service.decode_async(&token)), Err(Error::Denied(Denial::Revoked))));
    /// assert!(matches!(service.decode(&token), Err(Error::StoreNeedsAsync)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
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
            // Only a token with an id can be revoked or spent.
            rules = rules.require_claims(["jti"]);
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
            purpose: PhantomData,
        }
    }
}

impl<P: ServicePurpose> ServiceBuilder<P, OneKey> {
    /// Gives the service's key an id: issued tokens carry it as `kid` in a JSON
    /// footer, and a token whose footer names another id, or none, is refused
    /// with [`Error::UnknownKeyId`].
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
