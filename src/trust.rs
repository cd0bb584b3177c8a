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
//! use std::sync::Arc;
//! use vaulttoken::error::Denial;
//! use vaulttoken::store::MemoryStore;
//! use vaulttoken::trust::{TrustKind, TrustTokens};
//! use vaulttoken::{Error, LocalKey};
//!
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
//! let password_hash = b"$argon2id$v=19$...current...";
//!
//! let reset = TrustKind::PasswordReset;
//! let token = block_on(tokens.issue(tokens.request(reset.clone(), "alice").bound_to(password_hash)))?;
//! // The emailed link's GET: checks, spends nothing.
//! block_on(tokens.verify(&token, &reset, Some(password_hash)))?;
//! // The form's POST: spends it.
//! let spent = block_on(tokens.consume(&token, &reset, Some(password_hash)))?;
//! assert_eq!(spent.claims().subject(), Some("alice"));
//! let again = block_on(tokens.consume(&token, &reset, Some(password_hash)));
//! assert!(matches!(again, Err(Error::Denied(Denial::AlreadyUsed))));
//! // Never as another kind.
//! let as_email = block_on(tokens.verify(&token, &TrustKind::EmailVerification, Some(password_hash)));
//! assert!(matches!(as_email, Err(Error::Verification)));
//! # Ok::<(), vaulttoken::Error>(())
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use time::Duration;

use crate::audit::{self, AuditEvent};
use crate::claims::Claims;
use crate::clock::Clock;
use crate::error::{Denial, Error};
use crate::footer::Footer;
use crate::keys::LocalKey;
use crate::pae;
use crate::service::{LocalService, VerifiedToken};
use crate::store::{Check, Consumption, TokenStore};

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
    store: Arc<dyn TokenStore>,
    lifetimes: HashMap<TrustKind, Duration>,
    latest_wins: bool,
}

/// Configures [`TrustTokens`].
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
pub struct TrustTokensBuilder {
    key: Arc<LocalKey>,
    store: Arc<dyn TokenStore>,
    lifetimes: HashMap<TrustKind, Duration>,
    latest_wins: bool,
    clock: Option<Arc<dyn Clock>>,
}

impl TrustTokensBuilder {
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
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .latest_wins()
    ///     .build();
    /// let kind = TrustKind::MagicLink;
    /// let older = block_on(tokens.issue(tokens.request(kind.clone(), "alice")))?;
    /// let newer = block_on(tokens.issue(tokens.request(kind.clone(), "alice")))?;
    /// let refused = block_on(tokens.verify(&older, &kind, None));
    /// assert!(matches!(refused, Err(Error::Denied(Denial::Superseded))));
    /// block_on(tokens.consume(&newer, &kind, None))?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn latest_wins(mut self) -> Self {
        self.latest_wins = true;
        self
    }

    /// The clock tokens are issued and checked by.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::clock::ManualClock;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .clock(clock.clone())
    ///     .build();
    /// let link = block_on(tokens.issue(tokens.request(TrustKind::MagicLink, "alice")))?;
    /// clock.advance(Duration::minutes(16));
    /// assert!(matches!(block_on(tokens.verify(&link, &TrustKind::MagicLink, None)), Err(Error::Claims(_))));
    /// # Ok::<(), vaulttoken::Error>(())
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
        let mut service = LocalService::builder(self.key);
        if let Some(clock) = self.clock {
            service = service.clock(clock);
        }
        TrustTokens {
            service: service.build(),
            store: self.store,
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
/// use std::sync::Arc;
/// use vaulttoken::store::MemoryStore;
/// use vaulttoken::trust::{TrustKind, TrustTokens};
/// use vaulttoken::LocalKey;
///
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
/// let invite = tokens.request(TrustKind::OrgInvitation, "bob@example.com").claim("org", "acme");
/// let token = block_on(tokens.issue(invite))?;
/// let spent = block_on(tokens.consume(&token, &TrustKind::OrgInvitation, None))?;
/// assert_eq!(spent.claims().custom_str("org"), Some("acme"));
/// # Ok::<(), vaulttoken::Error>(())
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
    /// use std::sync::Arc;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let kind = TrustKind::EmailVerification;
    /// let token = block_on(tokens.issue(tokens.request(kind.clone(), "u-1").bound_to(b"old@example.com")))?;
    /// // The address changed since: the token is dead.
    /// let stale = block_on(tokens.verify(&token, &kind, Some(b"new@example.com")));
    /// assert!(matches!(stale, Err(Error::Verification)));
    /// # Ok::<(), vaulttoken::Error>(())
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

impl TrustTokens {
    /// A builder: tokens are sealed with `key` and spent in `store`.
    ///
    /// # Examples
    ///
    /// See [`TrustTokensBuilder`].
    pub fn builder(
        key: impl Into<Arc<LocalKey>>,
        store: Arc<dyn TokenStore>,
    ) -> TrustTokensBuilder {
        TrustTokensBuilder {
            key: key.into(),
            store,
            lifetimes: HashMap::new(),
            latest_wins: false,
            clock: None,
        }
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
            let until = claims
                .expiration()
                .unwrap_or_else(|| unreachable!("set above"));
            let token_id = claims.token_id().unwrap_or_default();
            self.store
                .supersede(Some(request.subject), &request.kind.slot(), token_id, until)
                .await
                .map_err(audit::store_unavailable)?;
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
        let verified = self
            .service
            .decode_with(token, None, &implicit_assertion(kind, state))?;
        let claims = verified.claims();
        let token_id = claims.token_id().ok_or(Error::Verification)?;
        let mut check = Check::token(claims.subject(), token_id);
        // The slot name is built only when latest-wins reads it.
        let slot;
        if self.latest_wins {
            slot = kind.slot();
            check = check.latest_of(&slot);
        }
        let found = self
            .store
            .check(&check)
            .await
            .map_err(audit::store_unavailable)?;
        match found.denial() {
            None => Ok(verified),
            Some(denial) => Err(Error::Denied(denial)),
        }
    }

    /// Spends a token exactly once: the first caller gets its claims, every
    /// later one [`Denial::AlreadyUsed`].
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
        let claims = verified.claims();
        let token_id = claims.token_id().unwrap_or_default();
        let until = claims.expiration().ok_or(Error::Verification)?;
        let spent = self
            .store
            .consume_issued_at(claims.subject(), token_id, claims.issued_at(), until)
            .await
            .map_err(audit::store_unavailable)?;
        match spent {
            Consumption::Consumed => {
                audit::emit(
                    AuditEvent::TrustTokenConsumed,
                    &audit::Fields {
                        jti: Some(token_id),
                        kind: Some(kind.name()),
                        subject: claims.subject(),
                        ..audit::Fields::default()
                    },
                );
                Ok(verified)
            }
            Consumption::AlreadyUsed => Err(Error::Denied(Denial::AlreadyUsed)),
            Consumption::Revoked => Err(Error::Denied(Denial::Revoked)),
            Consumption::IssuedBeforeStoreEpoch => {
                Err(Error::Denied(Denial::IssuedBeforeStoreEpoch))
            }
        }
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
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::trust::{TrustKind, TrustTokens};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let kind = TrustKind::OrgInvitation;
    /// let invite = block_on(tokens.issue(tokens.request(kind.clone(), "bob")))?;
    /// block_on(tokens.invalidate(&invite, &kind, None))?;
    /// let refused = block_on(tokens.consume(&invite, &kind, None));
    /// assert!(matches!(refused, Err(Error::Denied(Denial::Revoked))));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub async fn invalidate(
        &self,
        token: &str,
        kind: &TrustKind,
        state: Option<&[u8]>,
    ) -> Result<(), Error> {
        let verified = self.verify(token, kind, state).await?;
        let claims = verified.claims();
        let token_id = claims.token_id().unwrap_or_default();
        let until = claims.expiration().ok_or(Error::Verification)?;
        self.store
            .revoke(claims.subject(), token_id, until)
            .await
            .map_err(audit::store_unavailable)?;
        audit::emit(
            AuditEvent::TokenRevoked,
            &audit::Fields {
                jti: Some(token_id),
                kind: Some(kind.name()),
                subject: claims.subject(),
                ..audit::Fields::default()
            },
        );
        Ok(())
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
    use super::*;

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
