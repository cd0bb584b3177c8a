//! The one door to the token store. Every question a flow asks the store
//! about a token goes through here, so that the rule for building it is
//! written once: a service with a store requires `jti` and `iat` in every
//! token, and the [`Check`] always carries both, the subject and the family
//! the token names. A flow adds its own question (the family must be named,
//! the token must be the latest of a slot) through a [`Question`], never by
//! building a check of its own. This file is the only caller of
//! [`TokenStore::check`](crate::store::TokenStore::check).
//!
//! The writes that follow a decode live here too: revoking a token, spending
//! it once, and "log out everywhere" with the rule for how long a cutoff is
//! kept ([`SubjectCutoff`]).

use time::{Duration, OffsetDateTime};

use super::{ServicePurpose, TokenService, VerifiedToken, audit_rejection};
use crate::audit::{self, AuditEvent};
use crate::claims::Claims;
use crate::error::{Denial, Error};
use crate::footer::Footer;
use crate::store::{Check, Consumption, FAMILY_CLAIM, TokenStore};

/// "For ever", for entries about tokens that never expire: the last instant
/// RFC 3339 can write.
pub(crate) const FOREVER: OffsetDateTime = OffsetDateTime::new_utc(
    match time::Date::from_ordinal_date(9999, 365) {
        Ok(date) => date,
        Err(_) => unreachable!(),
    },
    match time::Time::from_hms(23, 59, 59) {
        Ok(time) => time,
        Err(_) => unreachable!(),
    },
);

/// What a flow asks the store about a token on top of what every check asks
/// (its id, its subject's cutoff, and the family it names, if any).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Question<'q> {
    /// The token must name a family (`fam`): a refresh token does.
    pub(crate) family_required: bool,
    /// The slot the token must be the latest of.
    pub(crate) latest_of: Option<&'q str>,
}

/// The check every token gets: its id and `iat` (both required by the rules
/// of a service with a store), its subject, and the family it names.
fn check_of(claims: &Claims) -> Result<Check<'_>, Error> {
    // The rules of a service with a store require both claims, so a verified
    // token always has them; a missing one would refuse, never skip.
    let token_id = claims.token_id().ok_or(Error::Verification)?;
    let issued_at = claims.issued_at().ok_or(Error::Verification)?;
    let check = Check::token(claims.subject(), token_id).issued_at(issued_at);
    Ok(match claims.custom_str(FAMILY_CLAIM) {
        Some(family) => check.family(family),
        None => check,
    })
}

/// A "log out everywhere" cutoff: every token of the subject issued before
/// [`SubjectCutoff::at`] is refused, and the store keeps the cutoff until
/// [`SubjectCutoff::kept_until`].
///
/// The rule, stated once: a cutoff is kept as long as the longest-lived
/// token of *any* kind the store answers for could still be accepted (access
/// tokens, refresh families to their absolute end, trust tokens), plus the
/// verifier's leeway. Kept any shorter, an older token comes back to life when
/// the cutoff is forgotten. A service cannot know every kind that shares its
/// store, so unless it is told the longest ([`ServiceBuilder::cutoff_retention`](super::ServiceBuilder::cutoff_retention)),
/// the cutoff is kept for ever: one entry per subject, replaced by the next.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use time::macros::datetime;
/// use vaulttoken::service::SubjectCutoff;
///
/// let now = datetime!(2030-01-01 12:00:00.250 UTC);
/// // Up to and including this whole second: `iat` counts whole seconds.
/// let cutoff = SubjectCutoff::new(now, Some(Duration::days(30)), Duration::seconds(60));
/// assert_eq!(cutoff.at(), datetime!(2030-01-01 12:00:01 UTC));
/// assert_eq!(cutoff.kept_until(), datetime!(2030-01-31 12:01:01 UTC));
/// // Without a longest lifetime, for ever.
/// let forever = SubjectCutoff::new(now, None, Duration::ZERO);
/// assert_eq!(forever.kept_until(), datetime!(9999-12-31 23:59:59 UTC));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectCutoff {
    at: OffsetDateTime,
    kept_until: OffsetDateTime,
}

impl SubjectCutoff {
    /// The cutoff for "log out everywhere" at `now`: it covers every token
    /// issued up to and including `now`'s whole second. It is kept for
    /// `longest` (the longest token lifetime the store answers for) plus
    /// `leeway` past that, or for ever with no `longest`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use time::macros::datetime;
    /// use vaulttoken::service::SubjectCutoff;
    ///
    /// let cutoff = SubjectCutoff::new(datetime!(2030-01-01 0:00 UTC), Some(Duration::hours(1)), Duration::ZERO);
    /// assert_eq!(cutoff.at(), datetime!(2030-01-01 0:00:01 UTC));
    /// assert_eq!(cutoff.kept_until(), datetime!(2030-01-01 1:00:01 UTC));
    /// ```
    #[must_use]
    pub fn new(now: OffsetDateTime, longest: Option<Duration>, leeway: Duration) -> Self {
        let at = now
            .replace_nanosecond(0)
            .ok()
            .and_then(|second| second.checked_add(Duration::SECOND))
            .unwrap_or(now);
        let kept_until = longest
            .and_then(|longest| at.checked_add(longest))
            .and_then(|end| end.checked_add(leeway.max(Duration::ZERO)))
            .map_or(FOREVER, |end| end.min(FOREVER));
        Self { at, kept_until }
    }

    /// Tokens of the subject issued before this instant are refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::service::SubjectCutoff;
    ///
    /// let cutoff = SubjectCutoff::new(datetime!(2030-01-01 0:00:00.999 UTC), None, time::Duration::ZERO);
    /// assert_eq!(cutoff.at(), datetime!(2030-01-01 0:00:01 UTC));
    /// ```
    #[must_use]
    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    /// The store may forget the cutoff after this instant.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use time::macros::datetime;
    /// use vaulttoken::service::SubjectCutoff;
    ///
    /// let cutoff = SubjectCutoff::new(datetime!(2030-01-01 0:00 UTC), Some(Duration::days(14)), Duration::minutes(1));
    /// assert_eq!(cutoff.kept_until() - cutoff.at(), Duration::days(14) + Duration::minutes(1));
    /// ```
    #[must_use]
    pub fn kept_until(&self) -> OffsetDateTime {
        self.kept_until
    }
}

impl<P: ServicePurpose> TokenService<P> {
    /// Decodes a token and then asks the service's token store about it (see
    /// [`ServiceBuilder::store`](super::ServiceBuilder::store)): the decode for a service with a store. A
    /// service without one decodes as [`TokenService::decode`] does.
    ///
    /// # Errors
    ///
    /// As for [`TokenService::decode`], and [`Error::Denied`] when the store
    /// refuses the token, or [`Error::Store`] when it cannot answer (fail
    /// closed: never valid, never "invalid token").
    /// On a service following [remote keys](super::ServiceBuilder::remote_keys),
    /// a token whose `kid` the ring lacks waits for one lookup and is decoded
    /// once more; [`Error::KeysUnavailable`] when the keys are too stale or
    /// the lookup could not reach their source.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::{MemoryStore, TokenStore};
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let service = LocalService::builder(LocalKey::generate()?).store(store.clone()).build();
    /// let token = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let verified = service.decode_async(&token).await?;
    /// assert_eq!(verified.claims().subject(), Some("alice"));
    /// // Spending the token's id through the store makes it refused as used.
    /// let id = verified.claims().token_id().unwrap();
    /// store.consume(Some("alice"), id, verified.claims().expiration().unwrap()).await?;
    /// let refused = service.decode_async(&token).await;
    /// assert!(matches!(refused, Err(Error::Denied(Denial::AlreadyUsed))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn decode_async<'a>(
        &'a self,
        token: &'a str,
    ) -> impl Future<Output = Result<VerifiedToken, Error>> + 'a {
        // The future of `decode_async_with` itself, not one wrapping it: a
        // layer fewer to move the verified token through.
        self.decode_async_with(token, None, b"")
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let token = service.encode_with(&Claims::builder().build()?, &Footer::None, b"device-7")?;
    /// service.decode_async_with(&token, None, b"device-7").await?;
    /// let elsewhere = service.decode_async_with(&token, None, b"device-8").await;
    /// assert!(matches!(elsewhere, Err(Error::Verification)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn decode_async_with(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        let result = match &self.store {
            Some(store) => {
                self.decode_checked_in(
                    store.as_ref(),
                    token,
                    expected_footer,
                    implicit,
                    Question::default(),
                )
                .await
            }
            None => {
                self.decode_following(token, expected_footer, implicit)
                    .await
            }
        };
        result.inspect_err(audit_rejection)
    }

    /// The door: decodes a token, then asks the service's store about it,
    /// with the flow's own `question` added. Refusals are audited.
    pub(crate) async fn decode_checked(
        &self,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
        question: Question<'_>,
    ) -> Result<VerifiedToken, Error> {
        let result = match &self.store {
            Some(store) => {
                self.decode_checked_in(store.as_ref(), token, expected_footer, implicit, question)
                    .await
            }
            None => Err(Error::StoreNeedsAsync),
        };
        result.inspect_err(audit_rejection)
    }

    async fn decode_checked_in(
        &self,
        store: &dyn TokenStore,
        token: &str,
        expected_footer: Option<&Footer>,
        implicit: &[u8],
        question: Question<'_>,
    ) -> Result<VerifiedToken, Error> {
        let verified = if self.remote_keys.is_some() {
            self.decode_following(token, expected_footer, implicit)
                .await?
        } else {
            // Nothing to wait for: the token is not moved through a future.
            self.decode_unchecked(token, expected_footer, implicit)?
        };
        let mut check = check_of(verified.claims())?;
        if question.family_required && check.family.is_none() {
            return Err(Error::Verification);
        }
        if let Some(slot) = question.latest_of {
            check = check.latest_of(slot);
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
    /// [`Denial::Revoked`], whichever encoding
    /// of it is presented.
    ///
    /// # Errors
    ///
    /// [`Error::StoreNeedsAsync`] on a service with no store; [`Error::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let claims = Claims::builder().subject("alice").token_id("session-9").build()?;
    /// let (first, second) = (service.encode(&claims)?, service.encode(&claims)?);
    /// service.revoke(&service.decode_async(&first).await?).await?;
    /// // Revocation follows the id, not the token's bytes.
    /// let refused = service.decode_async(&second).await;
    /// assert!(matches!(refused, Err(Error::Denied(Denial::Revoked))));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn revoke(&self, token: &VerifiedToken) -> Result<(), Error> {
        self.revoke_as(token, None).await
    }

    /// [`TokenService::revoke`], with the trust kind the audit log names.
    pub(crate) async fn revoke_as(
        &self,
        token: &VerifiedToken,
        kind: Option<&str>,
    ) -> Result<(), Error> {
        let store = self.store.as_ref().ok_or(Error::StoreNeedsAsync)?;
        let claims = token.claims();
        let token_id = claims.token_id().ok_or(Error::Verification)?;
        let until = self.remembered_until(claims.expiration());
        store
            .revoke(claims.subject(), token_id, until)
            .await
            .map_err(audit::store_unavailable)?;
        audit::emit(
            AuditEvent::TokenRevoked,
            &audit::Fields {
                jti: Some(token_id),
                kind,
                subject: claims.subject(),
                expires: claims.expiration(),
                now: Some(self.now()),
                ..audit::Fields::default()
            },
        );
        Ok(())
    }

    /// Spends a verified token's id exactly once, remembered until it would
    /// have expired plus the leeway (as long as a decode could accept it).
    /// Only the first call succeeds; `kind` names the trust kind in the audit
    /// log.
    pub(crate) async fn consume(&self, token: &VerifiedToken, kind: &str) -> Result<(), Error> {
        let store = self.store.as_ref().ok_or(Error::StoreNeedsAsync)?;
        let claims = token.claims();
        let token_id = claims.token_id().ok_or(Error::Verification)?;
        let until = self.remembered_until(claims.expiration());
        let spent = store
            .consume_issued_at(claims.subject(), token_id, claims.issued_at(), until)
            .await
            .map_err(audit::store_unavailable)?;
        match spent {
            Consumption::Consumed => {
                audit::emit(
                    AuditEvent::TrustTokenConsumed,
                    &audit::Fields {
                        jti: Some(token_id),
                        kind: Some(kind),
                        subject: claims.subject(),
                        ..audit::Fields::default()
                    },
                );
                Ok(())
            }
            Consumption::AlreadyUsed => Err(Error::Denied(Denial::AlreadyUsed)),
            Consumption::Revoked => Err(Error::Denied(Denial::Revoked)),
            Consumption::IssuedBeforeStoreEpoch => {
                Err(Error::Denied(Denial::IssuedBeforeStoreEpoch))
            }
        }
    }

    /// Makes an issued token the only valid one of `slot` for its subject
    /// (older ones are then [`Denial::Superseded`]), remembered until it would
    /// have expired plus the leeway.
    pub(crate) async fn supersede(&self, claims: &Claims, slot: &str) -> Result<(), Error> {
        let store = self.store.as_ref().ok_or(Error::StoreNeedsAsync)?;
        let token_id = claims.token_id().ok_or(Error::Verification)?;
        let until = self.remembered_until(claims.expiration());
        store
            .supersede(claims.subject(), slot, token_id, until)
            .await
            .map_err(audit::store_unavailable)
    }

    /// Revokes every token of `subject` issued up to now ("log out
    /// everywhere"), including any issued in this same second: `iat` counts
    /// whole seconds. The store keeps the cutoff as [`SubjectCutoff`] says:
    /// for the [cutoff retention](super::ServiceBuilder::cutoff_retention)
    /// plus the leeway, or for ever without one. (Not the service's own
    /// longest token: the store answers for refresh families and trust tokens
    /// too, which may live far longer.)
    ///
    /// # Errors
    ///
    /// [`Error::StoreNeedsAsync`] on a service with no store; [`Error::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build();
    /// let laptop = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let phone = service.encode(&Claims::builder().subject("alice").build()?)?;
    /// let bob = service.encode(&Claims::builder().subject("bob").build()?)?;
    /// service.revoke_subject("alice").await?;
    /// for token in [&laptop, &phone] {
    ///     let refused = service.decode_async(token).await;
    ///     assert!(matches!(refused, Err(Error::Denied(Denial::IssuedBeforeCutoff))));
    /// }
    /// service.decode_async(&bob).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn revoke_subject(&self, subject: &str) -> Result<(), Error> {
        let store = self.store.as_ref().ok_or(Error::StoreNeedsAsync)?;
        let cutoff =
            SubjectCutoff::new(self.now(), self.cutoff_retention, self.rules.leeway_limit());
        store
            .revoke_issued_before(subject, cutoff.at(), cutoff.kept_until())
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
}
