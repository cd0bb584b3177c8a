//! Token services: the everyday API. One service per purpose, bound to a key
//! source, a rule set and footer options.
//!
//! [`LocalService`] issues and accepts `v4.local` tokens; [`PublicService`] signs
//! and verifies `v4.public` tokens (a verification-only `PublicService` needs just
//! the public key). Decoding is the only way to a [`VerifiedToken`], and it runs,
//! in order: the length limit, format checks, key selection from the untrusted
//! footer, decryption or verification, payload parsing, footer parsing within
//! limits, and every rule.

use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;

use time::Duration;

use crate::claims::{Claims, ClaimsBuilder, DEFAULT_VALIDITY};
use crate::error::{Error, FooterError};
use crate::footer::{Footer, FooterClaims, FooterLimits, FooterMode, UntrustedFooter};
use crate::keys::{LocalKey, PublicKey, SecretKey};
use crate::rules::{Mode, RuleSet};
use crate::v4::{self, Local, Public, Purpose, TokenParts};

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
/// use vaulttoken::footer::{FooterLimits, UntrustedFooter};
/// use vaulttoken::service::KeyProvider;
/// use vaulttoken::{Error, LocalKey};
///
/// #[derive(Debug)]
/// struct ByKid(HashMap<String, Arc<LocalKey>>);
///
/// impl KeyProvider<LocalKey> for ByKid {
///     fn decoding_key(&self, footer: &UntrustedFooter) -> Result<Arc<LocalKey>, Error> {
///         let kid = footer.untrusted_key_id(&FooterLimits::default())?.ok_or(Error::UnknownKeyId)?;
///         self.0.get(&kid).cloned().ok_or(Error::UnknownKeyId)
///     }
/// }
/// ```
pub trait KeyProvider<K>: Send + Sync + fmt::Debug {
    /// The key for a token with this footer.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKeyId`] (or another error) when no key fits: decoding fails.
    fn decoding_key(&self, footer: &UntrustedFooter) -> Result<Arc<K>, Error>;
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
/// use vaulttoken::service::StaticKey;
///
/// let key = StaticKey::new(vaulttoken::LocalKey::generate()?).with_key_id("2026-11");
/// # let _ = key;
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug)]
pub struct StaticKey<K> {
    key: Arc<K>,
    key_id: Option<String>,
    limits: FooterLimits,
}

impl<K> StaticKey<K> {
    /// A provider that always answers with `key`.
    ///
    /// # Examples
    ///
    /// See [`StaticKey`].
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
    /// let key = Arc::new(vaulttoken::LocalKey::generate()?);
    /// let provider = vaulttoken::service::StaticKey::shared(Arc::clone(&key));
    /// # let _ = provider;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn shared(key: Arc<K>) -> Self {
        Self {
            key,
            key_id: None,
            limits: FooterLimits::default(),
        }
    }

    /// Gives the key an id, written as `kid` and checked on decode.
    ///
    /// # Examples
    ///
    /// See [`StaticKey`].
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    fn check_key_id(&self, footer: &UntrustedFooter) -> Result<(), Error> {
        let Some(mine) = &self.key_id else {
            return Ok(());
        };
        let theirs = footer
            .untrusted_key_id(&self.limits)?
            .ok_or(Error::UnknownKeyId)?;
        if crate::rules::constant_time_eq(mine, &theirs) {
            Ok(())
        } else {
            Err(Error::UnknownKeyId)
        }
    }
}

impl<K: Send + Sync + fmt::Debug> KeyProvider<K> for StaticKey<K> {
    fn decoding_key(&self, footer: &UntrustedFooter) -> Result<Arc<K>, Error> {
        self.check_key_id(footer)?;
        Ok(Arc::clone(&self.key))
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
    /// See [`VerifiedToken`].
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

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::v4::Local {}
    impl Sealed for crate::v4::Public {}
}

/// A purpose a [`TokenService`] can serve, with its key types. Sealed.
pub trait ServicePurpose: Purpose + sealed::Sealed + Send + Sync + 'static {
    /// The key that issues tokens.
    type IssuingKey: Send + Sync + fmt::Debug + 'static;
    /// The key that decodes tokens.
    type DecodingKey: Send + Sync + fmt::Debug + 'static;

    #[doc(hidden)]
    fn seal(
        key: &Self::IssuingKey,
        payload: &[u8],
        footer: &[u8],
        implicit: &[u8],
    ) -> Result<String, Error>;

    /// Authenticates an already split and decoded token.
    #[doc(hidden)]
    fn open(
        key: &Self::DecodingKey,
        body: Vec<u8>,
        footer: &[u8],
        expected_footer: Option<&[u8]>,
        implicit: &[u8],
    ) -> Result<Vec<u8>, Error>;
}

impl ServicePurpose for Local {
    type IssuingKey = LocalKey;
    type DecodingKey = LocalKey;

    fn seal(
        key: &LocalKey,
        payload: &[u8],
        footer: &[u8],
        implicit: &[u8],
    ) -> Result<String, Error> {
        v4::local::encrypt(key, payload, footer, implicit)
    }

    fn open(
        key: &LocalKey,
        body: Vec<u8>,
        footer: &[u8],
        expected_footer: Option<&[u8]>,
        implicit: &[u8],
    ) -> Result<Vec<u8>, Error> {
        v4::local::decrypt_decoded(key, body, footer, expected_footer, implicit)
    }
}

impl ServicePurpose for Public {
    type IssuingKey = SecretKey;
    type DecodingKey = PublicKey;

    fn seal(
        key: &SecretKey,
        payload: &[u8],
        footer: &[u8],
        implicit: &[u8],
    ) -> Result<String, Error> {
        v4::public::sign(key, payload, footer, implicit)
    }

    fn open(
        key: &PublicKey,
        body: Vec<u8>,
        footer: &[u8],
        expected_footer: Option<&[u8]>,
        implicit: &[u8],
    ) -> Result<Vec<u8>, Error> {
        v4::public::verify_decoded(key, body, footer, expected_footer, implicit)
    }
}

/// A token service for one purpose. Use the aliases [`LocalService`] and
/// [`PublicService`].
pub struct TokenService<P: ServicePurpose> {
    decoding_keys: Arc<dyn KeyProvider<P::DecodingKey>>,
    issuing_keys: Option<Arc<dyn IssuingKeyProvider<P::IssuingKey>>>,
    rules: RuleSet,
    footer_mode: FooterMode,
    footer_limits: FooterLimits,
    max_token_len: usize,
    validity: Duration,
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

impl LocalService {
    /// A builder for a service that issues and accepts tokens with one key.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, service::LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// # let _ = service;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn builder(key: LocalKey) -> ServiceBuilder<Local> {
        let provider = Arc::new(StaticKey::new(key));
        ServiceBuilder::new(provider.clone(), Some(provider))
    }
}

impl PublicService {
    /// A builder for a service that signs with `secret` and verifies with its
    /// public key.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{SecretKey, service::PublicService};
    ///
    /// let service = PublicService::signing(SecretKey::generate()?).build();
    /// # let _ = service;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn signing(secret: SecretKey) -> ServiceBuilder<Public> {
        let public = Arc::new(StaticKey::new(secret.public_key()));
        ServiceBuilder::new(public, Some(Arc::new(StaticKey::new(secret))))
    }

    /// A builder for a verification-only service: it holds just the public key and
    /// cannot issue tokens.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, Claims, SecretKey, service::PublicService};
    ///
    /// let verifier = PublicService::verifying(SecretKey::generate()?.public_key()).build();
    /// let err = verifier.encode(&Claims::builder().build()?).unwrap_err();
    /// assert!(matches!(err, Error::NoIssuingKey));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn verifying(public: PublicKey) -> ServiceBuilder<Public> {
        ServiceBuilder::new(Arc::new(StaticKey::new(public)), None)
    }
}

impl<P: ServicePurpose> TokenService<P> {
    /// A builder for a service whose keys come from providers (for example a key
    /// ring). Pass `None` as `issuing` for a service that only decodes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::service::{LocalService, StaticKey};
    ///
    /// let keys = Arc::new(StaticKey::new(vaulttoken::LocalKey::generate()?).with_key_id("k1"));
    /// let service = LocalService::with_providers(keys.clone(), Some(keys)).build();
    /// # let _ = service;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn with_providers(
        decoding: Arc<dyn KeyProvider<P::DecodingKey>>,
        issuing: Option<Arc<dyn IssuingKeyProvider<P::IssuingKey>>>,
    ) -> ServiceBuilder<P> {
        ServiceBuilder::new(decoding, issuing)
    }

    /// A claims builder preset with this service's default validity (1 hour unless
    /// [`ServiceBuilder::default_validity`] changed it).
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
        Claims::builder().expires_in(self.validity)
    }

    /// Issues a token for `claims` with no footer (or just the key's `kid`).
    ///
    /// # Errors
    ///
    /// [`Error::Claims`] if the claims break a rule (an expired token is never
    /// issued), [`Error::NoIssuingKey`], [`Error::TokenTooLong`], or a key error.
    ///
    /// # Examples
    ///
    /// See [`VerifiedToken`].
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
    /// See [`VerifiedToken::footer`].
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
        if let Footer::Claims(footer_claims) = &footer {
            footer_claims.check_no_plaintext_key()?;
        }
        self.rules.check(claims, &footer, Mode::Encode)?;
        let payload = claims.to_payload()?;
        let footer_bytes = footer.to_bytes();
        self.footer_limits.check_len(&footer_bytes)?;
        let token = P::seal(&key, &payload, &footer_bytes, implicit)?;
        self.check_token_len(&token)?;
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
    /// See [`VerifiedToken`].
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
    /// See [`TokenService::encode_with`].
    pub fn decode_with(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        self.check_token_len(token)?;
        let parts = TokenParts::split::<P>(token)?;
        parts.check_body_len::<P>()?;
        let untrusted = UntrustedFooter::new(parts.decode_footer()?);
        self.footer_limits
            .check_len(untrusted.as_untrusted_bytes())?;
        let key = self.decoding_keys.decoding_key(&untrusted)?;
        let body = parts.decode_body::<P>()?;
        let expected_bytes = expected_footer.map(Footer::to_bytes);
        let payload = P::open(
            &key,
            body,
            untrusted.as_untrusted_bytes(),
            expected_bytes.as_deref(),
            implicit,
        )?;
        let claims = Claims::from_payload(&payload)?;
        let footer = Footer::parse(
            untrusted.as_untrusted_bytes(),
            self.footer_mode,
            &self.footer_limits,
        )?;
        self.rules.check(&claims, &footer, Mode::Decode)?;
        Ok(VerifiedToken { claims, footer })
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
/// use vaulttoken::{LocalKey, service::LocalService};
///
/// let service = LocalService::builder(LocalKey::generate()?)
///     .rules(RuleSet::default().issued_by("auth.example"))
///     .footer_mode(FooterMode::Claims)
///     .footer_limits(FooterLimits::default().max_len(1024))
///     .max_token_len(8 * 1024)
///     .build();
/// # let _ = service;
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ServiceBuilder<P: ServicePurpose> {
    service: TokenService<P>,
}

impl<P: ServicePurpose> fmt::Debug for ServiceBuilder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ServiceBuilder")
            .field(&self.service)
            .finish()
    }
}

impl<P: ServicePurpose> ServiceBuilder<P> {
    fn new(
        decoding_keys: Arc<dyn KeyProvider<P::DecodingKey>>,
        issuing_keys: Option<Arc<dyn IssuingKeyProvider<P::IssuingKey>>>,
    ) -> Self {
        Self {
            service: TokenService {
                decoding_keys,
                issuing_keys,
                rules: RuleSet::default(),
                footer_mode: FooterMode::Auto,
                footer_limits: FooterLimits::default(),
                max_token_len: DEFAULT_MAX_TOKEN_LEN,
                validity: DEFAULT_VALIDITY,
                purpose: PhantomData,
            },
        }
    }

    /// The rules every token must pass, on encode and on decode.
    ///
    /// # Examples
    ///
    /// See [`ServiceBuilder`].
    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.service.rules = rules;
        self
    }

    /// How decoded footers are read (default [`FooterMode::Auto`]).
    ///
    /// # Examples
    ///
    /// See [`ServiceBuilder`].
    pub fn footer_mode(mut self, mode: FooterMode) -> Self {
        self.service.footer_mode = mode;
        self
    }

    /// Bounds on footers (default [`FooterLimits::default`]).
    ///
    /// # Examples
    ///
    /// See [`ServiceBuilder`].
    pub fn footer_limits(mut self, limits: FooterLimits) -> Self {
        self.service.footer_limits = limits;
        self
    }

    /// The longest token accepted or issued, in bytes (default 64 KiB); checked
    /// before any decoding.
    ///
    /// # Examples
    ///
    /// See [`ServiceBuilder`].
    pub fn max_token_len(mut self, max_len: usize) -> Self {
        self.service.max_token_len = max_len;
        self
    }

    /// The validity of claims made with [`TokenService::claims_builder`] (default
    /// 1 hour).
    ///
    /// # Examples
    ///
    /// See [`TokenService::claims_builder`].
    pub fn default_validity(mut self, validity: Duration) -> Self {
        self.service.validity = validity;
        self
    }

    /// The finished service.
    ///
    /// # Examples
    ///
    /// See [`ServiceBuilder`].
    pub fn build(self) -> TokenService<P> {
        self.service
    }
}
