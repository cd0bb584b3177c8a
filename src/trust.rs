//! Single-use trust tokens: email verification, password reset, invitations,
//! magic links, and kinds of your own.
//!
//! - **Typed.** Every token has a [`TrustKind`], bound into the implicit
//!   assertion: a password-reset token never verifies as an email-verification
//!   token, even under the same key.
//! - **Per-kind lifetimes**: 24 hours, 1 hour, 7 days and 15 minutes by
//!   default, configurable ([`TrustTokensBuilder::lifetime`]).
//! - **[`verify`](TrustTokens::verify) has no side effect**, for the GET behind
//!   an emailed link: a mail scanner that fetches links cannot spend it.
//!   [`consume`](TrustTokens::consume) spends it exactly once, atomically, and
//!   only that caller gets its claims; [`invalidate`](TrustTokens::invalidate)
//!   revokes one never used.
//! - **State binding, no store needed.** A fingerprint of the state the token
//!   acts on (a hash of the current password hash, the address being
//!   verified) goes into the implicit assertion, never into the token: once
//!   the state changes, the token is dead.
//! - **Latest wins**, if chosen: a new token of a kind for a subject supersedes
//!   the older ones.
//!
//! Tokens are `v4.local`: their claims are encrypted.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), vaulttoken::Error> {
//! use std::sync::Arc;
//! use vaulttoken::error::Denial;
//! use vaulttoken::store::MemoryStore;
//! use vaulttoken::trust::{TrustKind, TrustTokens};
//! use vaulttoken::{Error, LocalKey};
//!
//! let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
//! let password_hash = b"$argon2id$v=19$...current...";
//!
//! let reset = TrustKind::PasswordReset;
//! let token = tokens.issue(tokens.request(reset.clone(), "alice").bound_to(password_hash)).await?;
//! // The emailed link's GET: checks, spends nothing.
//! tokens.verify(&token, &reset, Some(password_hash)).await?;
//! // The form's POST: spends it.
//! let spent = tokens.consume(&token, &reset, Some(password_hash)).await?;
//! assert_eq!(spent.claims().subject(), Some("alice"));
//! let again = tokens.consume(&token, &reset, Some(password_hash)).await;
//! assert!(matches!(again, Err(Error::Denied(Denial::AlreadyUsed))));
//! // Never as another kind.
//! let as_email = tokens.verify(&token, &TrustKind::EmailVerification, Some(password_hash)).await;
//! assert!(matches!(as_email, Err(Error::Verification)));
//! # Ok(())
//! # }
//! ```

use core::marker::PhantomData;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use time::Duration;

use crate::claims::Claims;
use crate::clock::Clock;
use crate::error::Error;
use crate::footer::Footer;
use crate::keyring::{LocalKeyRing, SealingKeys};
use crate::keys::LocalKey;
use crate::pae;
use crate::service::{LocalService, OneKey, Providers, Question, VerifiedToken};
use crate::store::TokenStore;

/// The kind of a trust token: what it may be used for.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use vaulttoken::trust::TrustKind;
///
/// assert_eq!(TrustKind::MagicLink.name(), "magic_link");
/// assert_eq!(TrustKind::MagicLink.default_lifetime(), Duration::minutes(15));
/// assert_eq!(TrustKind::custom("device_pairing").name(), "device_pairing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrustKind {
    /// Confirms an email address (default lifetime 24 hours).
    EmailVerification,
    /// Lets its holder set a new password (1 hour).
    PasswordReset,
    /// Invites into an organisation (7 days).
    OrgInvitation,
    /// Signs in without a password (15 minutes).
    MagicLink,
    /// A kind of your own (1 hour unless configured).
    Custom(Cow<'static, str>),
}

impl TrustKind {
    /// A kind of your own.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::trust::TrustKind;
    ///
    /// assert_ne!(TrustKind::custom("a"), TrustKind::custom("b"));
    /// ```
    #[must_use]
    pub fn custom(name: impl Into<Cow<'static, str>>) -> Self {
        Self::Custom(name.into())
    }

    /// The kind's name, bound into its tokens and reported in audit events.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::trust::TrustKind;
    ///
    /// assert_eq!(TrustKind::OrgInvitation.name(), "org_invitation");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
            Self::OrgInvitation => "org_invitation",
            Self::MagicLink => "magic_link",
            Self::Custom(name) => name,
        }
    }

    /// How long its tokens live unless configured otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::trust::TrustKind;
    ///
    /// assert_eq!(TrustKind::OrgInvitation.default_lifetime(), Duration::days(7));
    /// assert_eq!(TrustKind::custom("x").default_lifetime(), Duration::hours(1));
    /// ```
    #[must_use]
    pub fn default_lifetime(&self) -> Duration {
        match self {
            Self::EmailVerification => Duration::hours(24),
            Self::PasswordReset | Self::Custom(_) => Duration::hours(1),
            Self::OrgInvitation => Duration::days(7),
            Self::MagicLink => Duration::minutes(15),
        }
    }

    /// The store slot of "latest wins" for this kind.
    fn slot(&self) -> String {
        format!("trust:{}", self.name())
    }
}

/// Issues, checks and spends trust tokens. See the [module documentation](self).
#[derive(Debug)]
pub struct TrustTokens {
    service: LocalService,
    lifetimes: HashMap<TrustKind, Duration>,
    latest_wins: bool,
}

/// Configures [`TrustTokens`].
///
/// Made from one key ([`TrustTokens::builder`], the marker [`OneKey`]) or
/// from a key ring ([`TrustTokens::from_ring`], the marker [`Providers`]),
/// which alone can take a [legacy key](TrustTokensBuilder::legacy_key).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use time::Duration;
/// use vaulttoken::store::MemoryStore;
/// use vaulttoken::trust::{TrustKind, TrustTokens};
/// use vaulttoken::LocalKey;
///
/// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
///     .lifetime(TrustKind::MagicLink, Duration::minutes(5))
///     .build();
/// assert_eq!(tokens.lifetime(&TrustKind::MagicLink), Duration::minutes(5));
/// assert_eq!(tokens.lifetime(&TrustKind::PasswordReset), Duration::hours(1));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TrustTokensBuilder<S = OneKey> {
    keys: SealingKeys,
    store: Arc<dyn TokenStore>,
    lifetimes: HashMap<TrustKind, Duration>,
    latest_wins: bool,
    clock: Option<Arc<dyn Clock>>,
    source: PhantomData<S>,
}

impl<S> TrustTokensBuilder<S> {
    /// A builder with these keys and the default settings.
    fn with_keys(keys: SealingKeys, store: Arc<dyn TokenStore>) -> Self {
        Self {
            keys,
            store,
            lifetimes: HashMap::new(),
            latest_wins: false,
            clock: None,
            source: PhantomData,
        }
    }

    /// Sets the lifetime of one kind's tokens.
    ///
    /// # Examples
    ///
    /// See [`TrustTokensBuilder`].
    pub fn lifetime(mut self, kind: TrustKind, lifetime: Duration) -> Self {
        self.lifetimes.insert(kind, lifetime);
        self
    }

    /// Makes a new token of a kind for a subject supersede that subject's older
    /// tokens of the kind.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .latest_wins()
    ///     .build();
    /// let kind = TrustKind::MagicLink;
    /// let older = tokens.issue(tokens.request(kind.clone(), "alice")).await?;
    /// let newer = tokens.issue(tokens.request(kind.clone(), "alice")).await?;
    /// let refused = tokens.verify(&older, &kind, None).await;
    /// assert!(matches!(refused, Err(Error::Denied(Denial::Superseded))));
    /// tokens.consume(&newer, &kind, None).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn latest_wins(mut self) -> Self {
        self.latest_wins = true;
        self
    }

    /// The clock tokens are issued and checked by (default: the system
    /// clock, or the key ring's for tokens built from one, which then shares
    /// this one).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::clock::ManualClock;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .clock(clock.clone())
    ///     .build();
    /// let link = tokens.issue(tokens.request(TrustKind::MagicLink, "alice")).await?;
    /// clock.advance(Duration::minutes(16));
    /// assert!(matches!(tokens.verify(&link, &TrustKind::MagicLink, None).await, Err(Error::Claims(_))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The finished trust-token service.
    ///
    /// # Examples
    ///
    /// See [`TrustTokensBuilder`].
    pub fn build(self) -> TrustTokens {
        TrustTokens {
            service: self.keys.service(self.clock, self.store),
            lifetimes: self.lifetimes,
            latest_wins: self.latest_wins,
        }
    }
}

/// One token to issue ([`TrustTokens::request`]): its kind, subject, state
/// fingerprint and extra claims.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vaulttoken::Error> {
/// use std::sync::Arc;
/// use vaulttoken::store::MemoryStore;
/// use vaulttoken::trust::{TrustKind, TrustTokens};
/// use vaulttoken::LocalKey;
///
/// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
/// let invite = tokens.request(TrustKind::OrgInvitation, "bob@example.com").claim("org", "acme");
/// let token = tokens.issue(invite).await?;
/// let spent = tokens.consume(&token, &TrustKind::OrgInvitation, None).await?;
/// assert_eq!(spent.claims().custom_str("org"), Some("acme"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a request does nothing until it is issued"]
pub struct TrustRequest<'a> {
    kind: TrustKind,
    subject: &'a str,
    state: Option<&'a [u8]>,
    claims: crate::claims::ClaimsBuilder,
}

impl<'a> TrustRequest<'a> {
    /// Binds the token to a fingerprint of the state it acts on: checking or
    /// spending it needs the same fingerprint. The fingerprint never appears
    /// in the token.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let kind = TrustKind::EmailVerification;
    /// let token = tokens.issue(tokens.request(kind.clone(), "u-1").bound_to(b"old@example.com")).await?;
    /// // The address changed since: the token is dead.
    /// let stale = tokens.verify(&token, &kind, Some(b"new@example.com")).await;
    /// assert!(matches!(stale, Err(Error::Verification)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn bound_to(mut self, state: &'a [u8]) -> Self {
        self.state = Some(state);
        self
    }

    /// Adds a claim the token carries (encrypted), such as an organisation id.
    ///
    /// # Examples
    ///
    /// See [`TrustRequest`].
    pub fn claim(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        self.claims = self.claims.claim(name, value);
        self
    }
}

impl TrustTokensBuilder<Providers> {
    /// Keeps opening the tokens sealed before the key ring, by the one key
    /// the service had ([`TrustTokens::builder`]): those tokens name no
    /// `kid`, and `legacy` opens them and nothing else. A token that names a
    /// `kid` opens only with the ring key it names, never with `legacy`; a
    /// token without one never with a ring key. Nothing is sealed with
    /// `legacy`. Drop it once the longest token it sealed has expired (the
    /// longest kind's lifetime after the switch to the ring).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let old_key = Arc::new(LocalKey::generate()?);
    /// let before = TrustTokens::builder(Arc::clone(&old_key), store.clone()).build();
    /// let link = before.issue(before.request(TrustKind::MagicLink, "alice")).await?;
    ///
    /// let ring = Arc::new(LocalKeyRing::new(Duration::days(7))?);
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// let ring_only = TrustTokens::from_ring(Arc::clone(&ring), store.clone()).build();
    /// let refused = ring_only.verify(&link, &TrustKind::MagicLink, None).await;
    /// assert!(matches!(refused, Err(Error::UnknownKeyId)));
    /// let after = TrustTokens::from_ring(ring, store).legacy_key(old_key).build();
    /// after.consume(&link, &TrustKind::MagicLink, None).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn legacy_key(mut self, legacy: impl Into<Arc<LocalKey>>) -> Self {
        if let SealingKeys::Ring { legacy: slot, .. } = &mut self.keys {
            *slot = Some(legacy.into());
        }
        self
    }
}

impl TrustTokens {
    /// A builder: tokens are sealed with `key` and spent in `store`. Tokens
    /// carry no `kid`; to rotate the key, use [`TrustTokens::from_ring`].
    ///
    /// # Examples
    ///
    /// See [`TrustTokensBuilder`].
    pub fn builder(
        key: impl Into<Arc<LocalKey>>,
        store: Arc<dyn TokenStore>,
    ) -> TrustTokensBuilder {
        TrustTokensBuilder::with_keys(SealingKeys::One(key.into()), store)
    }

    /// A builder whose keys rotate: tokens are sealed with the ring's active
    /// key and carry its `kid`; a token opens with whichever ring key its
    /// `kid` names, so a rotation
    /// ([`KeyRing::promote`](crate::keyring::KeyRing::promote)) leaves the
    /// links already sent working, and a retired key's tokens are refused
    /// ([`Error::UnknownKeyId`]). Tokens sealed before, with one key, open
    /// only with a [legacy key](TrustTokensBuilder::legacy_key).
    ///
    /// The ring's longest token lifetime bounds every token, as for any
    /// service built from a ring: make it at least the longest kind's
    /// lifetime, or issuing that kind fails with [`Error::Claims`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let ring = Arc::new(LocalKeyRing::new(Duration::days(7))?);
    /// let first = ring.add(LocalKey::generate()?)?;
    /// ring.promote(&first)?;
    /// let tokens = TrustTokens::from_ring(Arc::clone(&ring), Arc::new(MemoryStore::new())).build();
    /// let kind = TrustKind::OrgInvitation;
    /// let invite = tokens.issue(tokens.request(kind.clone(), "bob")).await?;
    ///
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// // Sent before the rotation, spent after it.
    /// tokens.consume(&invite, &kind, None).await?;
    /// // A leaked key, removed at once: its tokens are refused.
    /// let second = tokens.issue(tokens.request(kind.clone(), "carol")).await?;
    /// ring.retire_immediately(&ring.active_id().unwrap())?;
    /// assert!(matches!(tokens.verify(&second, &kind, None).await, Err(Error::UnknownKeyId)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_ring(
        ring: Arc<LocalKeyRing>,
        store: Arc<dyn TokenStore>,
    ) -> TrustTokensBuilder<Providers> {
        TrustTokensBuilder::with_keys(SealingKeys::Ring { ring, legacy: None }, store)
    }

    /// How long tokens of `kind` live.
    ///
    /// # Examples
    ///
    /// See [`TrustTokensBuilder`].
    #[must_use]
    pub fn lifetime(&self, kind: &TrustKind) -> Duration {
        self.lifetimes
            .get(kind)
            .copied()
            .unwrap_or_else(|| kind.default_lifetime())
    }

    /// Starts a token of `kind` for `subject`.
    ///
    /// # Examples
    ///
    /// See [`TrustRequest`].
    pub fn request<'a>(&self, kind: TrustKind, subject: &'a str) -> TrustRequest<'a> {
        TrustRequest {
            kind,
            subject,
            state: None,
            claims: Claims::builder(),
        }
    }

    /// Issues a token.
    ///
    /// # Errors
    ///
    /// A claims error from the request, [`Error::Randomness`], or
    /// [`Error::Store`] if latest-wins cannot be recorded (no token is then
    /// handed out).
    ///
    /// # Examples
    ///
    /// See [`TrustRequest`].
    pub async fn issue(&self, request: TrustRequest<'_>) -> Result<String, Error> {
        let lifetime = self.lifetime(&request.kind);
        let claims = request
            .claims
            .subject(request.subject)
            .random_token_id()
            .build()?;
        let implicit = implicit_assertion(&request.kind, request.state);
        let claims = claims_with_lifetime(claims, &self.service, lifetime)?;
        let token = self
            .service
            .encode_with(&claims, &Footer::None, &implicit)?;
        if self.latest_wins {
            self.service
                .supersede(&claims, &request.kind.slot())
                .await?;
        }
        Ok(token)
    }

    /// Checks a token for `kind` and the state fingerprint (if it was bound to
    /// one), with no side effect: for the GET behind an emailed link.
    ///
    /// # Errors
    ///
    /// [`Error::Verification`] for another kind, another state or a forgery;
    /// [`Error::Claims`] once expired; [`Error::Denied`] once used,
    /// invalidated or superseded; [`Error::Store`].
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    pub async fn verify(
        &self,
        token: &str,
        kind: &TrustKind,
        state: Option<&[u8]>,
    ) -> Result<VerifiedToken, Error> {
        // The slot name is built only when latest-wins reads it.
        let slot = self.latest_wins.then(|| kind.slot());
        let question = Question {
            latest_of: slot.as_deref(),
            ..Question::default()
        };
        self.service
            .decode_checked(token, None, &implicit_assertion(kind, state), question)
            .await
    }

    /// Spends a token exactly once: the first caller gets its claims, every
    /// later one [`Denial::AlreadyUsed`](crate::error::Denial::AlreadyUsed).
    ///
    /// # Errors
    ///
    /// As for [`TrustTokens::verify`].
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    pub async fn consume(
        &self,
        token: &str,
        kind: &TrustKind,
        state: Option<&[u8]>,
    ) -> Result<VerifiedToken, Error> {
        let verified = self.verify(token, kind, state).await?;
        self.service.consume(&verified, kind.name()).await?;
        Ok(verified)
    }

    /// Revokes a token that was never used: it can no longer be verified or
    /// spent.
    ///
    /// # Errors
    ///
    /// As for [`TrustTokens::verify`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let kind = TrustKind::OrgInvitation;
    /// let invite = tokens.issue(tokens.request(kind.clone(), "bob")).await?;
    /// tokens.invalidate(&invite, &kind, None).await?;
    /// let refused = tokens.consume(&invite, &kind, None).await;
    /// assert!(matches!(refused, Err(Error::Denied(Denial::Revoked))));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn invalidate(
        &self,
        token: &str,
        kind: &TrustKind,
        state: Option<&[u8]>,
    ) -> Result<(), Error> {
        let verified = self.verify(token, kind, state).await?;
        self.service.revoke_as(&verified, Some(kind.name())).await
    }
}

/// The claims with `exp` = now + `lifetime`, by the service's clock.
fn claims_with_lifetime(
    claims: Claims,
    service: &LocalService,
    lifetime: Duration,
) -> Result<Claims, Error> {
    let filled = service.stamp(&claims, lifetime)?;
    Ok(filled.unwrap_or(claims))
}

/// The implicit assertion of a trust token: PAE of a domain, the kind, and
/// the state fingerprint if there is one (marked, so "no state" and "empty
/// state" differ).
fn implicit_assertion(kind: &TrustKind, state: Option<&[u8]>) -> Vec<u8> {
    let (marker, state): (&[u8], &[u8]) = match state {
        Some(state) => (b"state", state),
        None => (b"no-state", b""),
    };
    // A custom kind never takes a built-in kind's domain, whatever its name.
    let family: &[u8] = match kind {
        TrustKind::Custom(_) => b"custom",
        _ => b"builtin",
    };
    let mut out = Vec::new();
    pae::feed(
        &[
            b"vaulttoken.trust.v1",
            family,
            kind.name().as_bytes(),
            marker,
            state,
        ],
        &mut |piece| out.extend_from_slice(piece),
    );
    out
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::error::Denial;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_token_sealed_before_a_rotation_is_spent_after_it_until_its_key_retires() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let ring = Arc::new(
            LocalKeyRing::new(Duration::days(7))
                .unwrap()
                .with_clock(clock.clone()),
        );
        let first = ring.add(LocalKey::generate().unwrap()).unwrap();
        ring.promote(&first).unwrap();
        let tokens =
            TrustTokens::from_ring(Arc::clone(&ring), Arc::new(MemoryStore::new())).build();
        let kind = TrustKind::OrgInvitation;
        let spent_later = tokens
            .issue(tokens.request(kind.clone(), "bob"))
            .await
            .unwrap();
        let kept = tokens
            .issue(tokens.request(kind.clone(), "carol"))
            .await
            .unwrap();
        assert_eq!(
            tokens.service.untrusted_key_id(&kept).unwrap().as_deref(),
            Some(first.as_str())
        );

        let second = ring.add(LocalKey::generate().unwrap()).unwrap();
        ring.promote(&second).unwrap();
        let fresh = tokens
            .issue(tokens.request(kind.clone(), "dan"))
            .await
            .unwrap();
        assert_eq!(
            tokens.service.untrusted_key_id(&fresh).unwrap().as_deref(),
            Some(second.as_str())
        );
        tokens.consume(&spent_later, &kind, None).await.unwrap();
        let again = tokens.consume(&spent_later, &kind, None).await;
        assert!(matches!(again, Err(Error::Denied(Denial::AlreadyUsed))));
        // Seven days by the ring's clock: the tokens expire, the key retires.
        clock.advance(Duration::days(7));
        assert_eq!(ring.retire_expired(), vec![first]);
        let refused = tokens.verify(&kept, &kind, None).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
    }

    #[tokio::test]
    async fn a_token_without_a_kid_opens_only_with_the_legacy_key() {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        let old_key = Arc::new(LocalKey::generate().unwrap());
        let before = TrustTokens::builder(Arc::clone(&old_key), Arc::clone(&store)).build();
        let kind = TrustKind::PasswordReset;
        let link = before
            .issue(before.request(kind.clone(), "alice").bound_to(b"h1"))
            .await
            .unwrap();
        assert_eq!(before.service.untrusted_key_id(&link).unwrap(), None);

        let ring = Arc::new(LocalKeyRing::new(Duration::days(7)).unwrap());
        ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
            .unwrap();
        let ring_only = TrustTokens::from_ring(Arc::clone(&ring), Arc::clone(&store)).build();
        let refused = ring_only.verify(&link, &kind, Some(b"h1")).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
        let wrong = TrustTokens::from_ring(Arc::clone(&ring), Arc::clone(&store))
            .legacy_key(LocalKey::generate().unwrap())
            .build();
        let refused = wrong.verify(&link, &kind, Some(b"h1")).await;
        assert!(matches!(refused, Err(Error::Verification)), "{refused:?}");

        let after = TrustTokens::from_ring(ring, store)
            .legacy_key(old_key)
            .lifetime(kind.clone(), Duration::minutes(5))
            .build();
        assert_eq!(after.lifetime(&kind), Duration::minutes(5));
        after.consume(&link, &kind, Some(b"h1")).await.unwrap();
        let new = after
            .issue(after.request(kind.clone(), "alice"))
            .await
            .unwrap();
        assert!(after.service.untrusted_key_id(&new).unwrap().is_some());
        ring_only.verify(&new, &kind, None).await.unwrap();
    }

    #[tokio::test]
    async fn a_ring_shorter_than_a_kind_lifetime_refuses_that_kind() {
        let ring = Arc::new(LocalKeyRing::new(Duration::days(1)).unwrap());
        ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
            .unwrap();
        let tokens = TrustTokens::from_ring(ring, Arc::new(MemoryStore::new())).build();
        tokens
            .issue(tokens.request(TrustKind::PasswordReset, "a"))
            .await
            .unwrap();
        let refused = tokens
            .issue(tokens.request(TrustKind::OrgInvitation, "a"))
            .await;
        assert!(matches!(refused, Err(Error::Claims(_))), "{refused:?}");
    }

    #[test]
    fn kinds_and_states_give_distinct_assertions() {
        let reset = TrustKind::PasswordReset;
        let email = TrustKind::EmailVerification;
        assert_ne!(
            implicit_assertion(&reset, None),
            implicit_assertion(&email, None)
        );
        assert_ne!(
            implicit_assertion(&reset, None),
            implicit_assertion(&reset, Some(b""))
        );
        assert_ne!(
            implicit_assertion(&reset, Some(b"a")),
            implicit_assertion(&reset, Some(b"b"))
        );
        assert_ne!(
            implicit_assertion(&TrustKind::custom("password_reset"), Some(b"x")),
            implicit_assertion(&TrustKind::custom("password_rese"), Some(b"tx"))
        );
        assert_ne!(
            implicit_assertion(&TrustKind::custom("password_reset"), None),
            implicit_assertion(&reset, None),
            "a custom kind named like a built-in one is another kind"
        );
    }
}
