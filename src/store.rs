//! Token state that outlives one decode: revoked and spent token ids, "log out
//! everywhere" cutoffs, the latest token of a kind, and refresh-token families.
//!
//! PASETO alone cannot revoke a token or stop a replay. A [`TokenStore`] can:
//! a service given one ([`ServiceBuilder::store`](crate::service::ServiceBuilder::store))
//! asks it about every token after the cryptography and the rules, in one
//! call ([`TokenStore::check`]), through
//! [`TokenService::decode_async`](crate::service::TokenService::decode_async).
//!
//! - **Keyed by the authenticated `jti`**, never by token bytes: a re-encoded
//!   token has the same identity.
//! - **Scoped by subject.** Every entry belongs to one subject (`sub`, or none),
//!   so a store can keep a subject's entries together (one Redis Cluster slot)
//!   and answer a decode in one round trip.
//! - **Bounded.** Every entry carries the instant after which it no longer
//!   matters (the token's expiry plus the verifier's leeway), and a store
//!   forgets it then. Its size follows the live tokens, not history.
//! - **Fail closed.** A store that cannot answer returns
//!   [`StoreError`]: the decode fails with [`Error::Store`](crate::Error::Store),
//!   never "valid" and never "invalid token".
//!
//! - **Lost state is noticed.** A store whose data can be lost while tokens
//!   live on (Redis restarted without persistence, flushed, or replaced)
//!   keeps the instant its state began, its *epoch*, and refuses every token
//!   issued before it ([`TokenState::IssuedBeforeStoreEpoch`],
//!   [`Consumption::IssuedBeforeStoreEpoch`]): it can no longer say whether
//!   such a token was revoked or spent. Finding its data gone, it starts a new
//!   epoch and reports the error-level audit event `store_data_lost`
//!   ([`AuditEvent::StoreDataLost`](crate::audit::AuditEvent::StoreDataLost));
//!   users sign in again. `vaulttoken-redis` does this; [`MemoryStore`] has
//!   no epoch (see its documentation). [`TokenStore::health`] tells a
//!   readiness check whether the store answers and what losses it found.
//!
//! [`MemoryStore`] is the embedded default; `vaulttoken-redis` shares state
//! across a fleet. Both pass the same conformance suite.

#[cfg(feature = "conformance")]
pub mod conformance;
mod health;
mod memory;

use core::fmt;
use core::future::Future;
use core::pin::Pin;

use time::{Duration, OffsetDateTime};

use crate::error::StoreError;

pub use self::health::{DataLoss, StoreHealth};
pub use self::memory::MemoryStore;

/// The custom claim in which a token names its refresh family: a service with
/// a store refuses the token once that family is revoked.
pub const FAMILY_CLAIM: &str = "fam";

/// What a store operation returns: a boxed future, so a store can sit behind
/// `Arc<dyn TokenStore>`. The memory store's futures are ready at once and need
/// no runtime.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where a service keeps token state. See the [module documentation](self).
///
/// Every method is one atomic operation on the store. Implementations must
/// fail closed: an answer they cannot give is an error, never a default.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vaulttoken::Error> {
/// use time::{Duration, OffsetDateTime};
/// use vaulttoken::store::{Check, MemoryStore, TokenState, TokenStore};
///
/// let store = MemoryStore::new();
/// let until = OffsetDateTime::now_utc() + Duration::hours(1);
/// store.revoke(Some("alice"), "jti-1", until).await?;
/// let state = store.check(&Check::token(Some("alice"), "jti-1")).await?;
/// assert_eq!(state, TokenState::Revoked);
/// // Another subject's token with the same id is untouched.
/// let other = store.check(&Check::token(Some("bob"), "jti-1")).await?;
/// assert_eq!(other, TokenState::Live);
/// # Ok(())
/// # }
/// ```
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Everything a decode asks, in one call: is the id revoked or spent, was
    /// the token issued before its subject's cutoff, is its family alive, is
    /// it still the latest of its kind.
    fn check<'a>(&'a self, check: &'a Check<'a>) -> StoreFuture<'a, TokenState>;

    /// Revokes a token id until `until` (its expiry plus the leeway). Revoking
    /// again, or revoking a spent id, keeps it refused.
    fn revoke<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()>;

    /// Spends a token id exactly once: an atomic check-and-set. The first call
    /// gets [`Consumption::Consumed`]; every later one, and any call for a
    /// revoked id, does not.
    fn consume<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption>;

    /// Spends a token id exactly once, as [`TokenStore::consume`], for a
    /// token issued at `issued_at` (its `iat`): a store with an epoch (see
    /// the [module documentation](self)) also refuses, in the same atomic
    /// step, a token issued before it, with
    /// [`Consumption::IssuedBeforeStoreEpoch`]. A store without one (the
    /// default) calls [`TokenStore::consume`]; a store that wraps another
    /// should pass this call on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use time::{Duration, OffsetDateTime};
    /// use vaulttoken::store::{Consumption, MemoryStore, TokenStore};
    ///
    /// let store = MemoryStore::new();
    /// let now = OffsetDateTime::now_utc();
    /// let until = now + Duration::minutes(15);
    /// let first = store.consume_issued_at(None, "link-1", Some(now), until).await?;
    /// assert_eq!(first, Consumption::Consumed);
    /// let again = store.consume_issued_at(None, "link-1", Some(now), until).await?;
    /// assert_eq!(again, Consumption::AlreadyUsed);
    /// # Ok(())
    /// # }
    /// ```
    fn consume_issued_at<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        issued_at: Option<OffsetDateTime>,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        let _ = issued_at;
        self.consume(subject, token_id, until)
    }

    /// Revokes every token of `subject` issued before `cutoff` ("log out
    /// everywhere"), remembered until `until` (when the last such token would
    /// have expired). A later cutoff replaces an earlier one; an earlier one
    /// never moves it back.
    fn revoke_issued_before<'a>(
        &'a self,
        subject: &'a str,
        cutoff: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()>;

    /// Records `token_id` as the only valid token of `slot` (for example a
    /// trust-token kind) for `subject`, until `until`: older ones are
    /// [`TokenState::Superseded`].
    fn supersede<'a>(
        &'a self,
        subject: Option<&'a str>,
        slot: &'a str,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()>;

    /// Creates a refresh family at generation 0. With a cap, the subject's
    /// oldest live families beyond it are revoked; their ids are returned.
    fn create_family<'a>(&'a self, family: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>>;

    /// One atomic compare-and-swap on a family record: the refresh step.
    fn rotate_family<'a>(&'a self, rotation: &'a Rotation<'a>) -> StoreFuture<'a, Rotated>;

    /// Revokes a family: its refresh and access tokens fail from now on. The
    /// record is kept, revoked, until its absolute expiry.
    fn revoke_family<'a>(
        &'a self,
        subject: Option<&'a str>,
        family_id: &'a str,
    ) -> StoreFuture<'a, ()>;

    /// For a readiness check: whether the store can answer now (an error if
    /// not), and the data losses it found. A remote store asks its server;
    /// the default, for a store in this process's memory, answers at once
    /// with no loss (its data lives and dies with the process). A store
    /// that wraps another should pass this call on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use vaulttoken::store::{MemoryStore, TokenStore};
    ///
    /// let health = MemoryStore::new().health().await?;
    /// assert!(health.data_lost.is_none());
    /// # Ok(())
    /// # }
    /// ```
    fn health(&self) -> StoreFuture<'_, StoreHealth> {
        Box::pin(core::future::ready(Ok(StoreHealth::default())))
    }
}

/// The questions [`TokenStore::check`] answers about one token.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::store::Check;
///
/// let check = Check::token(Some("alice"), "jti-1")
///     .issued_at(datetime!(2030-01-01 0:00 UTC))
///     .family("fam-1")
///     .latest_of("password_reset");
/// assert_eq!(check.token_id, "jti-1");
/// assert_eq!(check.family, Some("fam-1"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check<'a> {
    /// The token's subject (`sub`), if any.
    pub subject: Option<&'a str>,
    /// The token's id (`jti`).
    pub token_id: &'a str,
    /// When it was issued (`iat`); a token without one is refused by any
    /// cutoff. A store compares it with its epoch too; without it, such a
    /// store refuses the token only while it finds its data lost.
    pub issued_at: Option<OffsetDateTime>,
    /// The refresh family it belongs to, if any: the family must be alive.
    pub family: Option<&'a str>,
    /// The slot it must be the latest token of, if any.
    pub latest_of: Option<&'a str>,
}

impl<'a> Check<'a> {
    /// Asks about the id alone (and the subject's cutoff, which refuses a
    /// token with no `iat`; set [`Check::issued_at`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::store::Check;
    ///
    /// let check = Check::token(None, "jti-1");
    /// assert_eq!((check.subject, check.issued_at, check.family), (None, None, None));
    /// ```
    #[must_use]
    pub fn token(subject: Option<&'a str>, token_id: &'a str) -> Self {
        Self {
            subject,
            token_id,
            issued_at: None,
            family: None,
            latest_of: None,
        }
    }

    /// Sets the token's `iat`, compared with the subject's cutoff.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::store::Check;
    ///
    /// let at = datetime!(2030-01-01 0:00 UTC);
    /// assert_eq!(Check::token(None, "j").issued_at(at).issued_at, Some(at));
    /// ```
    #[must_use]
    pub fn issued_at(mut self, issued_at: OffsetDateTime) -> Self {
        self.issued_at = Some(issued_at);
        self
    }

    /// The family that must be alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::store::Check;
    ///
    /// assert_eq!(Check::token(None, "j").family("fam-1").family, Some("fam-1"));
    /// ```
    #[must_use]
    pub fn family(mut self, family: &'a str) -> Self {
        self.family = Some(family);
        self
    }

    /// The slot the token must be the latest of.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::store::Check;
    ///
    /// assert_eq!(Check::token(None, "j").latest_of("magic_link").latest_of, Some("magic_link"));
    /// ```
    #[must_use]
    pub fn latest_of(mut self, slot: &'a str) -> Self {
        self.latest_of = Some(slot);
        self
    }
}

/// What a store knows about a token: [`TokenState::Live`], or why not.
///
/// # Examples
///
/// ```
/// use vaulttoken::error::Denial;
/// use vaulttoken::store::TokenState;
///
/// assert_eq!(TokenState::Live.denial(), None);
/// assert_eq!(TokenState::Used.denial(), Some(Denial::AlreadyUsed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenState {
    /// Nothing against it.
    Live,
    /// Its id was revoked.
    Revoked,
    /// Its id was spent ([`TokenStore::consume`]).
    Used,
    /// Issued before its subject's cutoff (or with no `iat` while a cutoff is set).
    IssuedBeforeCutoff,
    /// A newer token holds its slot.
    Superseded,
    /// Its family is revoked, expired or unknown.
    FamilyRevoked,
    /// Issued before the store's state began (its epoch): the store lost its
    /// data (or is used for the first time) and cannot vouch for it.
    IssuedBeforeStoreEpoch,
}

impl TokenState {
    /// The [`Denial`](crate::error::Denial) a decode reports, or `None` for a
    /// live token.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::store::TokenState;
    ///
    /// assert_eq!(TokenState::Revoked.denial(), Some(Denial::Revoked));
    /// assert_eq!(TokenState::FamilyRevoked.denial(), Some(Denial::FamilyRevoked));
    /// ```
    #[must_use]
    pub fn denial(self) -> Option<crate::error::Denial> {
        use crate::error::Denial;
        match self {
            Self::Live => None,
            Self::Revoked => Some(Denial::Revoked),
            Self::Used => Some(Denial::AlreadyUsed),
            Self::IssuedBeforeCutoff => Some(Denial::IssuedBeforeCutoff),
            Self::Superseded => Some(Denial::Superseded),
            Self::FamilyRevoked => Some(Denial::FamilyRevoked),
            Self::IssuedBeforeStoreEpoch => Some(Denial::IssuedBeforeStoreEpoch),
        }
    }
}

/// What [`TokenStore::consume`] did.
///
/// # Examples
///
/// ```
/// use vaulttoken::store::Consumption;
///
/// assert!(Consumption::Consumed.is_first_use());
/// assert!(!Consumption::AlreadyUsed.is_first_use());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Consumption {
    /// This call spent the id: the caller may act on the token.
    Consumed,
    /// An earlier call spent it.
    AlreadyUsed,
    /// The id was revoked before it was used.
    Revoked,
    /// Nothing was spent: the token was issued before the store's state began
    /// (its epoch), so the store cannot tell whether it was spent already.
    IssuedBeforeStoreEpoch,
}

impl Consumption {
    /// Whether this call was the one that spent the id.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::store::Consumption;
    ///
    /// assert!(!Consumption::Revoked.is_first_use());
    /// ```
    #[must_use]
    pub fn is_first_use(self) -> bool {
        matches!(self, Self::Consumed)
    }
}

/// A refresh family to create ([`TokenStore::create_family`]).
///
/// # Examples
///
/// ```
/// use time::{Duration, macros::datetime};
/// use vaulttoken::store::NewFamily;
///
/// let now = datetime!(2030-01-01 0:00 UTC);
/// let family = NewFamily::new("alice", "fam-1", now, now + Duration::days(30));
/// assert_eq!(family.max_per_subject, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewFamily<'a> {
    /// Whose family it is.
    pub subject: &'a str,
    /// Its id, carried by every token of the family.
    pub id: &'a str,
    /// When it was created (generation 0 issued).
    pub created_at: OffsetDateTime,
    /// Its absolute end: rotation never extends it.
    pub expires_at: OffsetDateTime,
    /// The most live families the subject may have; the oldest beyond it are
    /// revoked.
    pub max_per_subject: Option<usize>,
}

impl<'a> NewFamily<'a> {
    /// A family with no per-subject cap.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::store::NewFamily;
    ///
    /// let now = datetime!(2030-01-01 0:00 UTC);
    /// let family = NewFamily::new("alice", "fam-1", now, now + Duration::days(30));
    /// assert_eq!((family.subject, family.id), ("alice", "fam-1"));
    /// ```
    #[must_use]
    pub fn new(
        subject: &'a str,
        id: &'a str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            subject,
            id,
            created_at,
            expires_at,
            max_per_subject: None,
        }
    }

    /// Caps the subject's live families.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::store::NewFamily;
    ///
    /// let now = datetime!(2030-01-01 0:00 UTC);
    /// let family = NewFamily::new("alice", "f", now, now + Duration::days(1)).max_per_subject(5);
    /// assert_eq!(family.max_per_subject, Some(5));
    /// ```
    #[must_use]
    pub fn max_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = Some(max);
        self
    }
}

/// One refresh step ([`TokenStore::rotate_family`]): the generation presented,
/// the time, and the rules for an idle family and a replay.
///
/// # Examples
///
/// ```
/// use time::{Duration, macros::datetime};
/// use vaulttoken::store::{Grace, Rotation};
///
/// let rotation = Rotation::new("alice", "fam-1", 3, datetime!(2030-01-01 0:00 UTC))
///     .idle_timeout(Duration::days(7))
///     .grace(Grace::new(Duration::seconds(30), 3));
/// assert_eq!(rotation.presented_generation, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation<'a> {
    /// Whose family it is.
    pub subject: &'a str,
    /// The family id.
    pub family_id: &'a str,
    /// The generation of the refresh token presented.
    pub presented_generation: u64,
    /// Now, by the service's clock.
    pub now: OffsetDateTime,
    /// The longest a family may go unused.
    pub idle_timeout: Option<Duration>,
    /// The grace window for the immediately previous generation, if any.
    pub grace: Option<Grace>,
}

impl<'a> Rotation<'a> {
    /// A rotation with no idle timeout and no grace.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::store::Rotation;
    ///
    /// let rotation = Rotation::new("alice", "fam-1", 0, datetime!(2030-01-01 0:00 UTC));
    /// assert_eq!((rotation.idle_timeout, rotation.grace), (None, None));
    /// ```
    #[must_use]
    pub fn new(
        subject: &'a str,
        family_id: &'a str,
        presented_generation: u64,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            subject,
            family_id,
            presented_generation,
            now,
            idle_timeout: None,
            grace: None,
        }
    }

    /// The longest the family may go unused before it expires.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::store::Rotation;
    ///
    /// let rotation = Rotation::new("a", "f", 0, datetime!(2030-01-01 0:00 UTC)).idle_timeout(Duration::days(7));
    /// assert_eq!(rotation.idle_timeout, Some(Duration::days(7)));
    /// ```
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Allows the grace window.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::store::{Grace, Rotation};
    ///
    /// let grace = Grace::new(Duration::seconds(10), 1);
    /// let rotation = Rotation::new("a", "f", 0, datetime!(2030-01-01 0:00 UTC)).grace(grace);
    /// assert_eq!(rotation.grace, Some(grace));
    /// ```
    #[must_use]
    pub fn grace(mut self, grace: Grace) -> Self {
        self.grace = Some(grace);
        self
    }
}

/// The grace window of a refresh family: for a window after a rotation, the
/// immediately previous generation may be presented again, at most `max_uses`
/// times, and gets the same successor. Never older generations.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use vaulttoken::store::Grace;
///
/// let grace = Grace::new(Duration::seconds(30), 3);
/// assert_eq!((grace.window, grace.max_uses), (Duration::seconds(30), 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grace {
    /// How long after a rotation the previous generation may come back.
    pub window: Duration,
    /// How many times it may.
    pub max_uses: u32,
}

impl Grace {
    /// A grace window.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::store::Grace;
    ///
    /// assert_eq!(Grace::new(Duration::seconds(5), 0).max_uses, 0);
    /// ```
    #[must_use]
    pub fn new(window: Duration, max_uses: u32) -> Self {
        Self { window, max_uses }
    }
}

/// What a refresh step found ([`TokenStore::rotate_family`]).
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::store::Rotated;
///
/// let at = datetime!(2030-01-01 0:00 UTC);
/// let step = Rotated::Advanced { generation: 4, rotated_at: at };
/// assert_eq!(step.successor(), Some((4, at)));
/// assert_eq!(Rotated::ReuseDetected.successor(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rotated {
    /// The presented generation was the current one: the family moved on to
    /// `generation`, at `rotated_at`.
    Advanced {
        /// The successor's generation.
        generation: u64,
        /// When the step happened: the successor's `iat`.
        rotated_at: OffsetDateTime,
    },
    /// The previous generation, again, inside the grace window: the same
    /// successor as the first time.
    GraceReplay {
        /// The successor's generation.
        generation: u64,
        /// When the step happened: the successor's `iat`.
        rotated_at: OffsetDateTime,
    },
    /// An older generation (or the previous one outside its grace): the family
    /// is now revoked.
    ReuseDetected,
    /// The family was already revoked, or is unknown.
    Revoked,
    /// The family passed its absolute lifetime or its idle timeout; it is now
    /// revoked.
    Expired,
}

impl Rotated {
    /// The successor's generation and `iat`, if the step issues one.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::store::Rotated;
    ///
    /// let at = datetime!(2030-01-01 0:00 UTC);
    /// let replay = Rotated::GraceReplay { generation: 2, rotated_at: at };
    /// assert_eq!(replay.successor(), Some((2, at)));
    /// assert_eq!(Rotated::Expired.successor(), None);
    /// ```
    #[must_use]
    pub fn successor(self) -> Option<(u64, OffsetDateTime)> {
        match self {
            Self::Advanced {
                generation,
                rotated_at,
            }
            | Self::GraceReplay {
                generation,
                rotated_at,
            } => Some((generation, rotated_at)),
            Self::ReuseDetected | Self::Revoked | Self::Expired => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Denial;

    #[test]
    fn a_token_from_before_the_store_epoch_is_denied_as_such() {
        assert_eq!(
            TokenState::IssuedBeforeStoreEpoch.denial(),
            Some(Denial::IssuedBeforeStoreEpoch)
        );
        assert!(!Consumption::IssuedBeforeStoreEpoch.is_first_use());
    }
}
