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
use crate::claims::{Claims, ClaimsBuilder};
use crate::clock::Clock;
use crate::error::{Error, FooterError};
use crate::footer::{Footer, FooterClaims, FooterLimits, FooterMode, UntrustedFooter};
use crate::keys::{LocalKey, PublicKey, SecretKey};
use crate::rules::{Mode, RuleSet};
use crate::store::TokenStore;
use crate::v4::{Local, Public, UntrustedToken};

mod builder;
mod providers;
mod remote;
mod stateful;

pub use self::builder::{OneKey, Providers, ServiceBuilder};
pub use self::providers::{StaticKey, key_provider_fn};
pub use self::remote::{LookUp, RemoteKeys};
pub(crate) use self::stateful::Question;
pub use self::stateful::SubjectCutoff;

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
    /// How long a "log out everywhere" cutoff is kept (plus the leeway);
    /// `None`: for ever.
    cutoff_retention: Option<Duration>,
    /// The keys the service follows from elsewhere, if any.
    remote_keys: Option<Arc<dyn RemoteKeys>>,
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
            .field("has_store", &self.store.is_some())
            .field("cutoff_retention", &self.cutoff_retention)
            .field("remote_keys", &self.remote_keys)
            .finish_non_exhaustive()
    }
}

impl<P: ServicePurpose> TokenService<P> {
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
    /// [`Error::StoreNeedsAsync`] on a service with a store, and
    /// [`Error::KeysUnavailable`] on a service following
    /// [remote keys](ServiceBuilder::remote_keys) they no longer vouch for
    /// (this decode vouches, but never waits for a lookup of an unknown `kid`:
    /// use [`TokenService::decode_async`] for that).
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
            self.vouch_for_keys()
                .and_then(|()| self.decode_unchecked(token, expected_footer, implicit))
        };
        result.inspect_err(audit_rejection)
    }

    pub(super) fn decode_unchecked(
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
