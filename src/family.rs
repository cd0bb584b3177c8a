//! Refresh-token families: access/refresh pairs, rotation on every refresh,
//! and reuse detection.
//!
//! - [`RefreshFamilies::issue`] starts a family and hands out generation 0: a
//!   short-lived access token and a refresh token. Both carry the family id
//!   (claim `fam`), so revoking the family revokes its access tokens too.
//! - [`RefreshFamilies::refresh`] spends the presented refresh token and issues
//!   the next pair, in one atomic compare-and-swap on the family record.
//!   Revocation goes through the same record, so a refresh cannot resurrect a
//!   family being revoked.
//! - **Reuse detection.** Presenting an older generation revokes the whole
//!   family: every token of it fails from then on
//!   ([`Denial::ReuseDetected`]).
//! - **Grace window**, off by default ([`RefreshFamiliesBuilder::grace`]): for
//!   the lost response and the double-click, the immediately previous
//!   generation may come back within the window, a limited number of times,
//!   and gets the same successor (same generation, same `jti`, same times). The
//!   family never forks. Keep the window short (seconds, at most a minute).
//! - **Lifetimes.** A family's absolute lifetime is fixed when it starts;
//!   rotation never extends it. An idle timeout and a cap on live families per
//!   subject (the oldest is revoked) are optional.
//!
//! Refresh tokens are `v4.local` with their own implicit assertion, so one is
//! never accepted where an access token is expected.
//!
//! # Context binding
//!
//! [`RefreshFamilies::issue_bound`], [`RefreshFamilies::refresh_bound`],
//! [`RefreshFamilies::verify_refresh_bound`] and
//! [`RefreshFamilies::verify_access_bound`] tie a family to a [`Binding`]
//! (see [the binding module](crate::binding) for what binding protects against
//! and what it does not):
//!
//! - **Strict values** go into the implicit assertion of both tokens. The
//!   access token's is [`Binding::implicit_assertion`] itself, so any verifier
//!   that builds the same binding (for example `vaulttoken-axum`) accepts it.
//!   The refresh token's is `PAE("vaulttoken.refresh.bound.v1", that
//!   assertion)`: a PAE of two pieces, where a binding's assertion always has
//!   an odd number of pieces and the unbound refresh assertion is no PAE at
//!   all, so a refresh token never verifies as an access token, bound or not.
//!   A bound token presented in another strict context, or through the unbound
//!   methods (and an unbound one through the bound methods), fails with
//!   [`Error::Verification`].
//! - **Observed values**, when the families were built with an
//!   [`Observer`] ([`RefreshFamiliesBuilder::observer`]), are recorded as keyed
//!   hashes under [`OBSERVED_CLAIM`] in both tokens. Each new pair records the
//!   context it was refreshed in, so a drift is reported once per change, by
//!   [`RefreshFamilies::refresh_bound`] ([`TokenPair::drift`]) and
//!   [`RefreshFamilies::verify_access_bound`], as `binding_drift` audit events.
//!   Drift never refuses anything. Without an observer, observed values are
//!   ignored.
//!
//! **A wrong-context refresh is not reuse.** A refresh token presented in
//! another strict context fails to decrypt, exactly like a forgery: its family
//! is never read, so nothing is rotated or revoked. Someone holding a stolen
//! refresh token in another context can neither use it nor burn the victim's
//! family with it. The other side of this choice: such a presentation does not
//! trigger reuse detection either; it is refused, and audited as a rejected
//! token, only.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), vaulttoken::Error> {
//! use std::sync::Arc;
//! use vaulttoken::error::Denial;
//! use vaulttoken::family::RefreshFamilies;
//! use vaulttoken::store::MemoryStore;
//! use vaulttoken::{Error, LocalKey};
//!
//! let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
//! let first = families.issue("alice").await?;
//! families.verify_access(&first.access).await?;
//!
//! let second = families.refresh(&first.refresh).await?;
//! assert_eq!(second.generation, 1);
//! // The first refresh token, stolen and replayed: the whole family dies.
//! let replay = families.refresh(&first.refresh).await;
//! assert!(matches!(replay, Err(Error::Denied(Denial::ReuseDetected))));
//! let after = families.verify_access(&second.access).await;
//! assert!(matches!(after, Err(Error::Denied(Denial::FamilyRevoked))));
//! # Ok(())
//! # }
//! ```

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::audit::{self, AuditEvent};
use crate::binding::{Binding, Drift, OBSERVED_CLAIM, Observer};
use crate::claims::{Claims, ClaimsBuilder};
use crate::clock::{Clock, SystemClock};
use crate::error::{Denial, Error};
use crate::footer::Footer;
use crate::keyring::{LocalKeyRing, SealingKeys};
use crate::keys::LocalKey;
use crate::pae;
use crate::service::{
    LocalService, OneKey, Providers, Question, ServicePurpose, TokenService, VerifiedToken,
};
use crate::store::{FAMILY_CLAIM, Grace, NewFamily, Rotated, Rotation, TokenStore};

/// The claim both tokens of a pair carry their scope in (RFC 9068 §2.2.3,
/// RFC 8693 §4.2): space-separated scope tokens (RFC 6749 §3.3). A refresh
/// token's is its family's grant, kept by every rotation; an access
/// token's is what its request asked for, within that grant.
pub const SCOPE_CLAIM: &str = "scope";
/// The claim a refresh token carries its generation in.
const GENERATION_CLAIM: &str = "gen";
/// The claim a refresh token carries its family's absolute end in.
const FAMILY_END_CLAIM: &str = "fxp";
/// What a refresh token's implicit assertion says: it is one.
const REFRESH_ASSERTION: &[u8] = b"vaulttoken.refresh.v1";
/// The first PAE piece of a bound refresh token's implicit assertion.
const BOUND_REFRESH_DOMAIN: &[u8] = b"vaulttoken.refresh.bound.v1";

/// An access token and the refresh token that replaces it.
///
/// # Examples
///
/// See the [module documentation](crate::family).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenPair {
    /// The access token: present it to APIs.
    pub access: String,
    /// The refresh token: present it only to [`RefreshFamilies::refresh`].
    pub refresh: String,
    /// The subject both tokens are for: the family's, carried from the
    /// presented refresh token on a refresh. Kept out of `Debug`, like the
    /// tokens.
    pub subject: String,
    /// The family both belong to.
    pub family_id: String,
    /// The refresh token's generation (0 for a new family).
    pub generation: u64,
    /// The access token's scope ([`SCOPE_CLAIM`]), if its family was
    /// granted one ([`RefreshFamilies::issue_scoped`]).
    pub scope: Option<String>,
    /// When the access token expires.
    pub access_expires_at: OffsetDateTime,
    /// When the refresh token expires.
    pub refresh_expires_at: OffsetDateTime,
    /// The observed context values that changed since the presented refresh
    /// token was issued ([`RefreshFamilies::refresh_bound`] with an
    /// [`Observer`]); always empty otherwise.
    pub drift: Vec<Drift>,
}

impl core::fmt::Debug for TokenPair {
    /// No tokens and no subject: `Debug` output ends up in logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenPair")
            .field("family_id", &self.family_id)
            .field("generation", &self.generation)
            .field("scope", &self.scope)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("drift", &self.drift)
            .finish_non_exhaustive()
    }
}

/// What a verification of an access token returns: a boxed future, so an
/// issuer can sit behind `Arc<dyn AccessIssuer>`.
pub type AccessFuture<'a> = Pin<Box<dyn Future<Output = Result<VerifiedToken, Error>> + Send + 'a>>;

/// Issues and verifies the access tokens of refresh families
/// ([`RefreshFamiliesBuilder::access_issuer`]). Every [`TokenService`] is one:
/// it issues with its own key, footer and rules, binds a token to a context's
/// [implicit assertion](Binding::implicit_assertion), and verifies through
/// its store.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vaulttoken::Error> {
/// use std::sync::Arc;
/// use vaulttoken::family::AccessIssuer;
/// use vaulttoken::store::MemoryStore;
/// use vaulttoken::{Claims, LocalKey, LocalService};
///
/// let service = LocalService::builder(LocalKey::generate()?)
///     .store(Arc::new(MemoryStore::new()))
///     .build();
/// let issuer: &dyn AccessIssuer = &service;
/// let token = issuer.issue(Claims::builder().subject("alice"), None)?;
/// let verified = issuer.verify(&token, None).await?;
/// assert_eq!(verified.claims().subject(), Some("alice"));
/// # Ok(())
/// # }
/// ```
pub trait AccessIssuer: Send + Sync + core::fmt::Debug {
    /// Issues an access token from the family's claims (subject, `jti`,
    /// `iat`, `exp`, the family, and any observed context), bound to
    /// `context`'s strict values if given. An issuer may add claims of its
    /// own; it must not drop the family's.
    ///
    /// # Errors
    ///
    /// Any error of issuing: the pair is not handed out.
    fn issue(&self, claims: ClaimsBuilder, context: Option<&Binding>) -> Result<String, Error>;

    /// Verifies an access token issued with `context`, and asks the store
    /// about it (its family must be alive).
    ///
    /// # Errors
    ///
    /// As for [`TokenService::decode_async`].
    fn verify<'a>(&'a self, token: &'a str, context: Option<&'a Binding>) -> AccessFuture<'a>;
}

impl<P: ServicePurpose> AccessIssuer for TokenService<P> {
    fn issue(&self, claims: ClaimsBuilder, context: Option<&Binding>) -> Result<String, Error> {
        let implicit = access_assertion(context)?;
        self.encode_with(&claims.build()?, &Footer::None, &implicit)
    }

    fn verify<'a>(&'a self, token: &'a str, context: Option<&'a Binding>) -> AccessFuture<'a> {
        Box::pin(async move {
            let implicit = access_assertion(context)?;
            self.decode_async_with(token, None, &implicit).await
        })
    }
}

/// The implicit assertion of an access token bound to `context`: the
/// binding's own, so that any verifier that builds the same binding accepts
/// it; empty when unbound.
fn access_assertion(context: Option<&Binding>) -> Result<Vec<u8>, Error> {
    match context {
        Some(context) => Ok(context.implicit_assertion()?.as_bytes().to_vec()),
        None => Ok(Vec::new()),
    }
}

/// Issues and rotates refresh-token families. See the [module
/// documentation](self).
#[derive(Debug)]
pub struct RefreshFamilies {
    /// Seals and opens refresh tokens, through the store door.
    tokens: LocalService,
    /// Issues access tokens, and decodes them through the store door.
    access: Arc<dyn AccessIssuer>,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    observer: Option<Observer>,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    access_lifetime: Duration,
    refresh_lifetime: Duration,
    family_lifetime: Duration,
    idle_timeout: Option<Duration>,
    grace: Option<Grace>,
    max_per_subject: Option<usize>,
}

/// Configures [`RefreshFamilies`].
///
/// The defaults: access tokens live 15 minutes, refresh tokens 14 days, a
/// family 30 days; no idle timeout, no grace, no cap.
///
/// Made from one key ([`RefreshFamilies::builder`], the marker [`OneKey`]) or
/// from a key ring ([`RefreshFamilies::from_ring`], the marker [`Providers`]),
/// which alone can take a [legacy key](RefreshFamiliesBuilder::legacy_key).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vaulttoken::Error> {
/// use std::sync::Arc;
/// use time::Duration;
/// use vaulttoken::family::RefreshFamilies;
/// use vaulttoken::store::MemoryStore;
/// use vaulttoken::LocalKey;
///
/// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
///     .access_lifetime(Duration::minutes(5))
///     .refresh_lifetime(Duration::days(1))
///     .family_lifetime(Duration::days(7))
///     .build();
/// let pair = families.issue("alice").await?;
/// assert_eq!(pair.refresh_expires_at - pair.access_expires_at, Duration::days(1) - Duration::minutes(5));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RefreshFamiliesBuilder<S = OneKey> {
    keys: SealingKeys,
    store: Arc<dyn TokenStore>,
    clock: Option<Arc<dyn Clock>>,
    access: Option<Arc<dyn AccessIssuer>>,
    settings: Settings,
    observer: Option<Observer>,
    source: PhantomData<S>,
}

impl<S> RefreshFamiliesBuilder<S> {
    /// A builder with these keys and the default settings.
    fn with_keys(keys: SealingKeys, store: Arc<dyn TokenStore>) -> Self {
        Self {
            keys,
            store,
            clock: None,
            access: None,
            observer: None,
            settings: Settings {
                access_lifetime: Duration::minutes(15),
                refresh_lifetime: Duration::days(14),
                family_lifetime: Duration::days(30),
                idle_timeout: None,
                grace: None,
                max_per_subject: None,
            },
            source: PhantomData,
        }
    }

    /// How long access tokens live (default 15 minutes).
    ///
    /// # Examples
    ///
    /// See [`RefreshFamiliesBuilder`].
    pub fn access_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.access_lifetime = lifetime;
        self
    }

    /// How long each refresh token lives (default 14 days), never past its
    /// family's end.
    ///
    /// # Examples
    ///
    /// See [`RefreshFamiliesBuilder`].
    pub fn refresh_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.refresh_lifetime = lifetime;
        self
    }

    /// A family's absolute lifetime (default 30 days): rotation never extends
    /// it.
    ///
    /// # Examples
    ///
    /// See [`RefreshFamiliesBuilder`].
    pub fn family_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.family_lifetime = lifetime;
        self
    }

    /// Ends a family that goes unrefreshed this long.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::clock::ManualClock;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .idle_timeout(Duration::days(2))
    ///     .clock(clock.clone())
    ///     .build();
    /// let pair = families.issue("alice").await?;
    /// clock.advance(Duration::days(3));
    /// let idle = families.refresh(&pair.refresh).await;
    /// assert!(matches!(idle, Err(Error::Denied(Denial::FamilyExpired))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.settings.idle_timeout = Some(timeout);
        self
    }

    /// Turns on the grace window (see the [module documentation](crate::family)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::{Grace, MemoryStore};
    /// use vaulttoken::LocalKey;
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .grace(Grace::new(Duration::seconds(30), 2))
    ///     .build();
    /// let first = families.issue("alice").await?;
    /// let second = families.refresh(&first.refresh).await?;
    /// // The response was lost; the client retries with the same token.
    /// let retry = families.refresh(&first.refresh).await?;
    /// assert_eq!(retry.generation, second.generation);
    /// assert_eq!(retry.refresh_expires_at, second.refresh_expires_at);
    /// # Ok(())
    /// # }
    /// ```
    pub fn grace(mut self, grace: Grace) -> Self {
        self.settings.grace = Some(grace);
        self
    }

    /// Caps a subject's live families: starting one more revokes the oldest.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .max_families_per_subject(1)
    ///     .build();
    /// let laptop = families.issue("alice").await?;
    /// let phone = families.issue("alice").await?;
    /// let refused = families.refresh(&laptop.refresh).await;
    /// assert!(matches!(refused, Err(Error::Denied(Denial::FamilyRevoked))));
    /// families.refresh(&phone.refresh).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_families_per_subject(mut self, max: usize) -> Self {
        self.settings.max_per_subject = Some(max);
        self
    }

    /// Who issues and verifies the families' access tokens (default: a
    /// `v4.local` service with the families' key, clock and store). A token
    /// server that signs `v4.public` access tokens with a key ring of its
    /// own, or adds claims (a `client_id`), gives its issuer here, and the
    /// access token of every [`TokenPair`] is then its own: none is made and
    /// thrown away. The issuer must verify through a store that answers for
    /// the families' store, so that a revoked family's access tokens fail.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{LocalKey, PublicService, SecretKey};
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let signer = PublicService::builder(SecretKey::generate()?).store(store.clone()).build();
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, store)
    ///     .access_issuer(Arc::new(signer))
    ///     .build();
    /// let pair = families.issue("alice").await?;
    /// assert!(pair.access.starts_with("v4.public."));
    /// families.verify_access(&pair.access).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn access_issuer(mut self, issuer: Arc<dyn AccessIssuer>) -> Self {
        self.access = Some(issuer);
        self
    }

    /// Records the observed values of a [`Binding`] in bound tokens and reports
    /// their drift (see [Context binding](crate::family#context-binding)). The
    /// key must be secret and shared by every service that checks these
    /// tokens. Defaults to none: observed values are ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::binding::{Binding, DriftKind, Observer};
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::LocalKey;
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .observer(Observer::from_bytes(&[7; 32])) // from your secret store
    ///     .build();
    /// let first = families.issue_bound("alice", &Binding::new().observe("ua", "app/1")).await?;
    /// let second = families.refresh_bound(&first.refresh, &Binding::new().observe("ua", "app/2")).await?;
    /// let drift: Vec<_> = second.drift.iter().map(|d| (d.name(), d.kind())).collect();
    /// assert_eq!(drift, [("ua", DriftKind::Changed)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The clock tokens are issued and refreshed by (default: the system
    /// clock, or the key ring's for families built from one). Families built
    /// from a key ring share it with the ring, as a service built from the
    /// ring does ([`ServiceBuilder::clock`](crate::service::ServiceBuilder::clock)).
    ///
    /// # Examples
    ///
    /// See [`RefreshFamiliesBuilder::idle_timeout`].
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The finished family service.
    ///
    /// # Examples
    ///
    /// See [`RefreshFamiliesBuilder`].
    pub fn build(self) -> RefreshFamilies {
        let clock: Arc<dyn Clock> = self
            .clock
            .or_else(|| self.keys.ring_clock())
            .unwrap_or_else(|| Arc::new(SystemClock));
        let tokens = self
            .keys
            .service(Some(Arc::clone(&clock)), Arc::clone(&self.store));
        let access = self.access.unwrap_or_else(|| {
            Arc::new(
                self.keys
                    .service(Some(Arc::clone(&clock)), Arc::clone(&self.store)),
            )
        });
        RefreshFamilies {
            tokens,
            access,
            store: self.store,
            clock,
            settings: self.settings,
            observer: self.observer,
        }
    }
}

impl RefreshFamiliesBuilder<Providers> {
    /// Keeps opening the tokens sealed before the key ring, by the one key
    /// the families had ([`RefreshFamilies::builder`]): those tokens name no
    /// `kid`, and `legacy` opens them and nothing else. A token that names a
    /// `kid` opens only with the ring key it names, never with `legacy`; a
    /// token without one never with a ring key. Nothing is sealed with
    /// `legacy`. Drop it once the longest token it sealed has expired (the
    /// family lifetime after the switch to the ring).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let old_key = Arc::new(LocalKey::generate()?);
    /// let before = RefreshFamilies::builder(Arc::clone(&old_key), store.clone()).build();
    /// let pair = before.issue("alice").await?; // no `kid`
    ///
    /// let ring = Arc::new(LocalKeyRing::new(Duration::days(30))?);
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// // Without the legacy key, the old token names no key the ring has.
    /// let ring_only = RefreshFamilies::from_ring(Arc::clone(&ring), store.clone()).build();
    /// assert!(matches!(ring_only.verify_refresh(&pair.refresh).await, Err(Error::UnknownKeyId)));
    /// let after = RefreshFamilies::from_ring(ring, store).legacy_key(old_key).build();
    /// let next = after.refresh(&pair.refresh).await?;
    /// after.verify_refresh(&next.refresh).await?; // sealed with the ring's key
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

impl RefreshFamilies {
    /// A builder: tokens are sealed with `key`, families kept in `store`.
    /// Tokens carry no `kid`; to rotate the key, use
    /// [`RefreshFamilies::from_ring`].
    ///
    /// # Examples
    ///
    /// See [`RefreshFamiliesBuilder`].
    pub fn builder(
        key: impl Into<Arc<LocalKey>>,
        store: Arc<dyn TokenStore>,
    ) -> RefreshFamiliesBuilder {
        RefreshFamiliesBuilder::with_keys(SealingKeys::One(key.into()), store)
    }

    /// A builder whose keys rotate: refresh tokens (and, unless an
    /// [access issuer](RefreshFamiliesBuilder::access_issuer) is given,
    /// access tokens) are sealed with the ring's active key and carry its
    /// `kid`; a token opens with whichever ring key its `kid` names, so a
    /// rotation ([`KeyRing::promote`](crate::keyring::KeyRing::promote))
    /// ends no family, and a retired key's tokens are refused
    /// ([`Error::UnknownKeyId`]). Tokens sealed before, with one key, open
    /// only with a [legacy key](RefreshFamiliesBuilder::legacy_key).
    ///
    /// The ring's longest token lifetime bounds every token, as for any
    /// service built from a ring: make it at least the refresh lifetime (the
    /// family lifetime is the safe choice), or issuing fails with
    /// [`Error::Claims`]. The families read the ring's clock unless given one
    /// ([`RefreshFamiliesBuilder::clock`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use time::Duration;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::keyring::LocalKeyRing;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey, LocalService};
    ///
    /// let ring = Arc::new(LocalKeyRing::new(Duration::days(30))?);
    /// let first = ring.add(LocalKey::generate()?)?;
    /// ring.promote(&first)?;
    /// let families = RefreshFamilies::from_ring(Arc::clone(&ring), Arc::new(MemoryStore::new())).build();
    /// let kid = |token: &str| LocalService::builder(LocalKey::generate()?).build().untrusted_key_id(token);
    /// let pair = families.issue("alice").await?;
    /// assert_eq!(kid(&pair.refresh)?.as_deref(), Some(first.as_str()));
    ///
    /// let second = ring.add(LocalKey::generate()?)?;
    /// ring.promote(&second)?;
    /// // Sealed before the rotation, refreshed after it: the new pair names the new key.
    /// let next = families.refresh(&pair.refresh).await?;
    /// assert_eq!(kid(&next.refresh)?.as_deref(), Some(second.as_str()));
    /// // A leaked key, removed at once: its tokens are refused.
    /// let other = families.issue("bob").await?;
    /// ring.retire_immediately(&second)?;
    /// assert!(matches!(families.verify_refresh(&other.refresh).await, Err(Error::UnknownKeyId)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_ring(
        ring: Arc<LocalKeyRing>,
        store: Arc<dyn TokenStore>,
    ) -> RefreshFamiliesBuilder<Providers> {
        RefreshFamiliesBuilder::with_keys(SealingKeys::Ring { ring, legacy: None }, store)
    }

    /// Starts a family for `subject` and issues its first pair.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`], [`Error::Store`], or a claims error for a time
    /// out of range.
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    pub async fn issue(&self, subject: &str) -> Result<TokenPair, Error> {
        self.start(subject, None, None).await
    }

    /// Starts a family for `subject` granted `scope` (space-separated
    /// scope tokens, RFC 6749 §3.3), bound to `context` if given, and
    /// issues its first pair. Both tokens carry the scope
    /// ([`SCOPE_CLAIM`]); the refresh token's is the family's grant, which
    /// every rotation keeps, so that a refresh may narrow an access token's
    /// scope but never widen it ([`RefreshFamilies::refresh_scoped`]).
    ///
    /// # Errors
    ///
    /// As for [`RefreshFamilies::issue_bound`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::family::{RefreshFamilies, SCOPE_CLAIM};
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let pair = families.issue_scoped("alice", None, "read write").await?;
    /// assert_eq!(pair.scope.as_deref(), Some("read write"));
    /// let access = families.verify_access(&pair.access).await?;
    /// assert_eq!(access.claims().custom_str(SCOPE_CLAIM), Some("read write"));
    /// // Narrowed for this access token; the family keeps its grant.
    /// let narrow = families.refresh_scoped(&pair.refresh, None, Some("read")).await?;
    /// assert_eq!(narrow.scope.as_deref(), Some("read"));
    /// let widened = families.refresh_scoped(&narrow.refresh, None, Some("read admin")).await;
    /// assert!(matches!(widened, Err(Error::Denied(Denial::ScopeNotGranted))));
    /// // Refused before anything was spent: the grant is whole again.
    /// let full = families.refresh_scoped(&narrow.refresh, None, None).await?;
    /// assert_eq!(full.scope.as_deref(), Some("read write"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn issue_scoped(
        &self,
        subject: &str,
        context: Option<&Binding>,
        scope: &str,
    ) -> Result<TokenPair, Error> {
        self.start(subject, context, Some(scope)).await
    }

    /// Starts a family for `subject` bound to `context` and issues its first
    /// pair (see [Context binding](self#context-binding)): the strict values go
    /// into both tokens' implicit assertions, the observed ones (with an
    /// [`Observer`]) into their claims.
    ///
    /// # Errors
    ///
    /// As for [`RefreshFamilies::issue`], and [`Error::Binding`] for an
    /// invalid `context` (checked before the family is created).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::binding::Binding;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let laptop = Binding::new().strict("device", "d-1");
    /// let pair = families.issue_bound("alice", &laptop).await?;
    /// families.verify_access_bound(&pair.access, &laptop).await?;
    /// // Elsewhere, or without the binding: refused like a forgery.
    /// let phone = Binding::new().strict("device", "d-2");
    /// assert!(matches!(families.refresh_bound(&pair.refresh, &phone).await, Err(Error::Verification)));
    /// assert!(matches!(families.refresh(&pair.refresh).await, Err(Error::Verification)));
    /// assert!(matches!(families.verify_access(&pair.access).await, Err(Error::Verification)));
    /// // Those attempts burned nothing: the right context still refreshes.
    /// let next = families.refresh_bound(&pair.refresh, &laptop).await?;
    /// assert_eq!(next.generation, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn issue_bound(&self, subject: &str, context: &Binding) -> Result<TokenPair, Error> {
        self.start(subject, Some(context), None).await
    }

    /// [`RefreshFamilies::issue`], [`RefreshFamilies::issue_bound`] and
    /// [`RefreshFamilies::issue_scoped`].
    async fn start(
        &self,
        subject: &str,
        context: Option<&Binding>,
        scope: Option<&str>,
    ) -> Result<TokenPair, Error> {
        // An invalid binding fails before anything is stored.
        let sealing = Sealing::new(context, self.observer.as_ref())?;
        let now = self.now();
        let family_id = Claims::generate_token_id()?;
        let ends = now
            .checked_add(self.settings.family_lifetime)
            .ok_or(crate::error::PayloadError::TimeOutOfRange { claim: "exp" })?;
        let mut family = NewFamily::new(subject, &family_id, now, ends);
        if let Some(max) = self.settings.max_per_subject {
            family = family.max_per_subject(max);
        }
        let revoked = self
            .store
            .create_family(&family)
            .await
            .map_err(audit::store_unavailable)?;
        for old in &revoked {
            audit::emit(
                AuditEvent::FamilyRevoked,
                &audit::Fields {
                    family: Some(old),
                    subject: Some(subject),
                    reason: Some("family-cap"),
                    ..audit::Fields::default()
                },
            );
        }
        audit::emit(
            AuditEvent::FamilyCreated,
            &audit::Fields {
                family: Some(&family_id),
                generation: Some(0),
                subject: Some(subject),
                expires: Some(ends),
                now: Some(now),
                ..audit::Fields::default()
            },
        );
        let scope = Scope {
            granted: scope,
            access: scope.map(str::to_owned),
        };
        self.pair(
            subject,
            &family_id,
            0,
            now,
            ends,
            &sealing,
            scope,
            Vec::new(),
        )
    }

    /// Spends a refresh token and issues the next pair.
    ///
    /// # Errors
    ///
    /// [`Denial::ReuseDetected`] for an older generation (the family is then
    /// revoked), [`Denial::FamilyRevoked`], [`Denial::FamilyExpired`]; any
    /// decoding error ([`Error::Verification`] for an access token presented
    /// as a refresh token); [`Error::Store`].
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        self.rotate(refresh_token, None, None).await
    }

    /// Spends a refresh token, presented in `context` if its family is
    /// bound, and issues the next pair with the access token's scope
    /// narrowed to `scope` (RFC 6749 §6): every scope token asked for must
    /// be in the family's grant ([`RefreshFamilies::issue_scoped`]); `None`
    /// (or no token at all) asks for the whole grant. The new refresh token
    /// keeps the whole grant, so a later refresh may ask for it again.
    ///
    /// # Errors
    ///
    /// As for [`RefreshFamilies::refresh_bound`], and
    /// [`Denial::ScopeNotGranted`] for a scope outside the grant (or any
    /// scope, for a family granted none), checked before anything is
    /// rotated: the token is not spent.
    ///
    /// # Examples
    ///
    /// See [`RefreshFamilies::issue_scoped`].
    pub async fn refresh_scoped(
        &self,
        refresh_token: &str,
        context: Option<&Binding>,
        scope: Option<&str>,
    ) -> Result<TokenPair, Error> {
        self.rotate(refresh_token, context, scope).await
    }

    /// Spends a refresh token of a family started with
    /// [`RefreshFamilies::issue_bound`], presented in `context`, and issues the
    /// next pair, bound to `context`. Strict values must be those the family
    /// was started with; observed values may change: with an [`Observer`],
    /// the changes are in [`TokenPair::drift`] and in `binding_drift` audit
    /// events, and the new pair records the new values.
    ///
    /// # Errors
    ///
    /// As for [`RefreshFamilies::refresh`]; [`Error::Verification`] in another
    /// strict context, which neither rotates nor revokes the family (see
    /// [Context binding](self#context-binding)); [`Error::Binding`] for an
    /// invalid `context`.
    ///
    /// # Examples
    ///
    /// See [`RefreshFamilies::issue_bound`] and [`RefreshFamiliesBuilder::observer`].
    pub async fn refresh_bound(
        &self,
        refresh_token: &str,
        context: &Binding,
    ) -> Result<TokenPair, Error> {
        self.rotate(refresh_token, Some(context), None).await
    }

    /// [`RefreshFamilies::refresh`], [`RefreshFamilies::refresh_bound`] and
    /// [`RefreshFamilies::refresh_scoped`].
    async fn rotate(
        &self,
        refresh_token: &str,
        context: Option<&Binding>,
        asked: Option<&str>,
    ) -> Result<TokenPair, Error> {
        let sealing = Sealing::new(context, self.observer.as_ref())?;
        // A refresh token is refused like any token: revoked, issued before
        // its subject's cutoff ("log out everywhere"), or of a dead family.
        let presented = self
            .tokens
            .decode_checked(refresh_token, None, &sealing.refresh, Question::default())
            .await?;
        let claims = presented.claims();
        let subject = claims.subject().ok_or(Error::Verification)?;
        let family_id = claims.custom_str(FAMILY_CLAIM).ok_or(Error::Verification)?;
        let generation: u64 = claims
            .custom_as(GENERATION_CLAIM)?
            .ok_or(Error::Verification)?;
        let ends = family_end(&presented)?;
        // Checked before the rotation: a scope refused spends nothing.
        let granted = claims.custom_str(SCOPE_CLAIM);
        let scope = Scope {
            granted,
            access: narrowed(granted, asked)?,
        };
        let mut rotation = Rotation::new(subject, family_id, generation, self.now());
        if let Some(timeout) = self.settings.idle_timeout {
            rotation = rotation.idle_timeout(timeout);
        }
        if let Some(grace) = self.settings.grace {
            rotation = rotation.grace(grace);
        }
        let step = self
            .store
            .rotate_family(&rotation)
            .await
            .map_err(audit::store_unavailable)?;
        let event = |event: AuditEvent, generation: Option<u64>| {
            audit::emit(
                event,
                &audit::Fields {
                    family: Some(family_id),
                    generation,
                    subject: Some(subject),
                    ..audit::Fields::default()
                },
            );
        };
        match step {
            Rotated::Advanced {
                generation,
                rotated_at,
            } => {
                event(AuditEvent::FamilyRotated, Some(generation));
                let drift = self.drift(claims, context)?;
                self.pair(
                    subject, family_id, generation, rotated_at, ends, &sealing, scope, drift,
                )
            }
            Rotated::GraceReplay {
                generation,
                rotated_at,
            } => {
                event(AuditEvent::GraceUsed, Some(generation));
                let drift = self.drift(claims, context)?;
                self.pair(
                    subject, family_id, generation, rotated_at, ends, &sealing, scope, drift,
                )
            }
            Rotated::ReuseDetected => {
                event(AuditEvent::FamilyReuseDetected, Some(generation));
                Err(Error::Denied(Denial::ReuseDetected))
            }
            Rotated::Expired => {
                event(AuditEvent::FamilyRevoked, Some(generation));
                Err(Error::Denied(Denial::FamilyExpired))
            }
            Rotated::Revoked => Err(Error::Denied(Denial::FamilyRevoked)),
        }
    }

    /// Checks a refresh token without spending it: authentic, a refresh token,
    /// within its lifetime, its id not revoked nor issued before its subject's
    /// cutoff, and its family alive. Nothing is rotated, so a server can read
    /// the subject and the family (claim [`FAMILY_CLAIM`]) to revoke the family
    /// (RFC 7009) or check who may refresh it before calling
    /// [`RefreshFamilies::refresh`]. An older generation of a live family
    /// passes too: only `refresh` detects reuse.
    ///
    /// # Errors
    ///
    /// Any decoding error ([`Error::Verification`] for an access token or a
    /// forgery); [`Denial::FamilyRevoked`] once the family is revoked or
    /// unknown; [`Error::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::{FAMILY_CLAIM, MemoryStore};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let pair = families.issue("alice").await?;
    /// let seen = families.verify_refresh(&pair.refresh).await?;
    /// assert_eq!(seen.claims().subject(), Some("alice"));
    /// assert_eq!(seen.claims().custom_str(FAMILY_CLAIM), Some(pair.family_id.as_str()));
    /// // Checking did not spend it: it still refreshes, once.
    /// let next = families.refresh(&pair.refresh).await?;
    /// assert_eq!(next.generation, 1);
    /// // An access token is not a refresh token.
    /// let access = families.verify_refresh(&next.access).await;
    /// assert!(matches!(access, Err(Error::Verification)));
    /// families.revoke("alice", &pair.family_id).await?;
    /// let revoked = families.verify_refresh(&next.refresh).await;
    /// assert!(matches!(revoked, Err(Error::Denied(Denial::FamilyRevoked))));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_refresh(&self, refresh_token: &str) -> Result<VerifiedToken, Error> {
        self.check_refresh(refresh_token, REFRESH_ASSERTION).await
    }

    /// [`RefreshFamilies::verify_refresh`] for a refresh token of a bound
    /// family, presented in `context`. Only the strict values are checked;
    /// drift is left to [`RefreshFamilies::refresh_bound`], so a check followed
    /// by a refresh reports it once.
    ///
    /// # Errors
    ///
    /// As for [`RefreshFamilies::verify_refresh`]; [`Error::Verification`] in
    /// another strict context; [`Error::Binding`] for an invalid `context`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::binding::Binding;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let acme = Binding::new().strict("tenant", "acme");
    /// let pair = families.issue_bound("alice", &acme).await?;
    /// let seen = families.verify_refresh_bound(&pair.refresh, &acme).await?;
    /// assert_eq!(seen.claims().subject(), Some("alice"));
    /// let globex = Binding::new().strict("tenant", "globex");
    /// let elsewhere = families.verify_refresh_bound(&pair.refresh, &globex).await;
    /// assert!(matches!(elsewhere, Err(Error::Verification)));
    /// // A bound access token is not a refresh token either.
    /// let access = families.verify_refresh_bound(&pair.access, &acme).await;
    /// assert!(matches!(access, Err(Error::Verification)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_refresh_bound(
        &self,
        refresh_token: &str,
        context: &Binding,
    ) -> Result<VerifiedToken, Error> {
        let sealing = Sealing::new(Some(context), None)?;
        self.check_refresh(refresh_token, &sealing.refresh).await
    }

    /// [`RefreshFamilies::verify_refresh`] with this implicit assertion.
    async fn check_refresh(
        &self,
        refresh_token: &str,
        implicit: &[u8],
    ) -> Result<VerifiedToken, Error> {
        let question = Question {
            family_required: true,
            ..Question::default()
        };
        self.tokens
            .decode_checked(refresh_token, None, implicit, question)
            .await
    }

    /// Checks an access token: authentic, within the rules, and its family
    /// (and id) not revoked.
    ///
    /// # Errors
    ///
    /// As for [`TokenService::decode_async`](crate::service::TokenService::decode_async).
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    pub async fn verify_access(&self, access_token: &str) -> Result<VerifiedToken, Error> {
        self.access.verify(access_token, None).await
    }

    /// Checks an access token of a bound family, presented in `context`: as
    /// [`RefreshFamilies::verify_access`], with the strict values as the
    /// implicit assertion; then, with an [`Observer`], the observed values that
    /// changed (also reported as `binding_drift` audit events). Drift refuses
    /// nothing.
    ///
    /// # Errors
    ///
    /// As for [`RefreshFamilies::verify_access`]; [`Error::Verification`] in
    /// another strict context; [`Error::Binding`] for an invalid `context`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::binding::{Binding, IpPrefix, Observer};
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::LocalKey;
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
    ///     .observer(Observer::from_bytes(&[7; 32]))
    ///     .build();
    /// let at = |ip: [u8; 4]| Binding::new().strict("tenant", "acme").observe_ip("ip", ip, IpPrefix::default());
    /// let pair = families.issue_bound("alice", &at([192, 0, 2, 7])).await?;
    /// let (token, drift) = families.verify_access_bound(&pair.access, &at([192, 0, 2, 99])).await?;
    /// assert!(drift.is_empty()); // same /24
    /// assert_eq!(token.claims().subject(), Some("alice"));
    /// let (_, drift) = families.verify_access_bound(&pair.access, &at([198, 51, 100, 1])).await?;
    /// assert_eq!(drift[0].name(), "ip");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_access_bound(
        &self,
        access_token: &str,
        context: &Binding,
    ) -> Result<(VerifiedToken, Vec<Drift>), Error> {
        let verified = self.access.verify(access_token, Some(context)).await?;
        let drift = self.drift(verified.claims(), Some(context))?;
        Ok((verified, drift))
    }

    /// Revokes a family: its refresh and access tokens fail from now on.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use std::sync::Arc;
    /// use vaulttoken::error::Denial;
    /// use vaulttoken::family::RefreshFamilies;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new())).build();
    /// let pair = families.issue("alice").await?;
    /// families.revoke("alice", &pair.family_id).await?;
    /// let refused = families.refresh(&pair.refresh).await;
    /// assert!(matches!(refused, Err(Error::Denied(Denial::FamilyRevoked))));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn revoke(&self, subject: &str, family_id: &str) -> Result<(), Error> {
        self.store
            .revoke_family(Some(subject), family_id)
            .await
            .map_err(audit::store_unavailable)?;
        audit::emit(
            AuditEvent::FamilyRevoked,
            &audit::Fields {
                family: Some(family_id),
                subject: Some(subject),
                ..audit::Fields::default()
            },
        );
        Ok(())
    }

    /// Now in whole seconds, as tokens count time.
    fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now.replace_nanosecond(0).unwrap_or(now)
    }

    /// What drifted between a verified token's claims and `context`: nothing
    /// without an observer or a context.
    fn drift(&self, claims: &Claims, context: Option<&Binding>) -> Result<Vec<Drift>, Error> {
        match (&self.observer, context) {
            (Some(observer), Some(context)) => observer.drift(claims, context),
            _ => Ok(Vec::new()),
        }
    }

    /// The pair of generation `generation`, issued at `issued_at`: the
    /// refresh token's identity and times depend on nothing else, so a grace
    /// replay gets the same refresh token identity (its observed hashes, if
    /// any, are those of the replay's context).
    #[expect(
        clippy::too_many_arguments,
        reason = "one private constructor, called from three places"
    )]
    fn pair(
        &self,
        subject: &str,
        family_id: &str,
        generation: u64,
        issued_at: OffsetDateTime,
        ends: OffsetDateTime,
        sealing: &Sealing<'_>,
        scope: Scope<'_>,
        drift: Vec<Drift>,
    ) -> Result<TokenPair, Error> {
        let until = |lifetime: Duration| {
            issued_at
                .checked_add(lifetime)
                .map_or(ends, |end| end.min(ends))
        };
        let refresh_expires_at = until(self.settings.refresh_lifetime);
        let mut refresh_claims = Claims::builder()
            .subject(subject)
            .token_id(format!("{family_id}.{generation}"))
            .issued_at(issued_at)
            .not_before(issued_at)
            .expires_at(refresh_expires_at)
            .claim(FAMILY_CLAIM, family_id)
            .claim(GENERATION_CLAIM, generation)
            .claim(FAMILY_END_CLAIM, ends.unix_timestamp());
        if let Some(observed) = &sealing.observed {
            refresh_claims = refresh_claims.claim(OBSERVED_CLAIM, observed.clone());
        }
        if let Some(granted) = scope.granted {
            refresh_claims = refresh_claims.claim(SCOPE_CLAIM, granted);
        }
        let refresh =
            self.tokens
                .encode_with(&refresh_claims.build()?, &Footer::None, &sealing.refresh)?;
        let now = self.now();
        let access_expires_at = now
            .checked_add(self.settings.access_lifetime)
            .map_or(ends, |end| end.min(ends));
        let mut access_claims = Claims::builder()
            .subject(subject)
            .random_token_id()
            .issued_at(now)
            .expires_at(access_expires_at)
            .claim(FAMILY_CLAIM, family_id);
        if let Some(observed) = &sealing.observed {
            access_claims = access_claims.claim(OBSERVED_CLAIM, observed.clone());
        }
        if let Some(access) = &scope.access {
            access_claims = access_claims.claim(SCOPE_CLAIM, access);
        }
        let access = self.access.issue(access_claims, sealing.context)?;
        Ok(TokenPair {
            access,
            refresh,
            subject: subject.to_owned(),
            family_id: family_id.to_owned(),
            generation,
            scope: scope.access,
            access_expires_at,
            refresh_expires_at,
            drift,
        })
    }
}

/// The scope of a pair: the family's grant (the refresh token's) and the
/// access token's, within it.
struct Scope<'g> {
    granted: Option<&'g str>,
    access: Option<String>,
}

/// The access token's scope for a refresh of a family granted `granted`
/// that asks for `asked`: the scope tokens of the grant that were asked
/// for, in the grant's order; the whole grant if nothing is asked.
///
/// # Errors
///
/// [`Denial::ScopeNotGranted`] for a scope token outside the grant.
fn narrowed(granted: Option<&str>, asked: Option<&str>) -> Result<Option<String>, Error> {
    let asked: Vec<&str> =
        asked.map_or_else(Vec::new, |asked| asked.split_ascii_whitespace().collect());
    if asked.is_empty() {
        return Ok(granted.map(str::to_owned));
    }
    let grant: Vec<&str> = granted.map_or_else(Vec::new, |granted| {
        granted.split_ascii_whitespace().collect()
    });
    if !asked.iter().all(|token| grant.contains(token)) {
        return Err(Error::Denied(Denial::ScopeNotGranted));
    }
    let kept: Vec<&str> = grant
        .into_iter()
        .filter(|token| asked.contains(token))
        .collect();
    Ok(Some(kept.join(" ")))
}

/// How a pair is sealed: the implicit assertions of its two tokens, and the
/// observed claim they carry.
struct Sealing<'c> {
    /// The context bound to, if any.
    context: Option<&'c Binding>,
    /// [`REFRESH_ASSERTION`] unbound, else `PAE(BOUND_REFRESH_DOMAIN, access)`.
    refresh: Vec<u8>,
    /// The [`OBSERVED_CLAIM`] value, with an observer and observed values.
    observed: Option<serde_json::Value>,
}

impl<'c> Sealing<'c> {
    fn new(context: Option<&'c Binding>, observer: Option<&Observer>) -> Result<Self, Error> {
        let Some(context) = context else {
            return Ok(Self {
                context: None,
                refresh: REFRESH_ASSERTION.to_vec(),
                observed: None,
            });
        };
        let access = context.implicit_assertion()?.as_bytes().to_vec();
        let refresh = bound_refresh_assertion(&access);
        let observed = match observer {
            Some(observer) => Some(observer.claim_for(context)?)
                .filter(|value| value.as_object().is_some_and(|map| !map.is_empty())),
            None => None,
        };
        Ok(Self {
            context: Some(context),
            refresh,
            observed,
        })
    }
}

/// `PAE(BOUND_REFRESH_DOMAIN, access)`: two pieces, where a binding's own
/// assertion has an odd number, so the two never collide.
fn bound_refresh_assertion(access: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    pae::feed(&[BOUND_REFRESH_DOMAIN, access], &mut |piece| {
        out.extend_from_slice(piece);
    });
    out
}

/// The absolute end of the family a refresh token belongs to.
fn family_end(token: &VerifiedToken) -> Result<OffsetDateTime, Error> {
    let seconds: i64 = token
        .claims()
        .custom_as(FAMILY_END_CLAIM)?
        .ok_or(Error::Verification)?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| Error::Verification)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::keyring::KeyStatus;
    use crate::paserk::KeyId;
    use crate::store::MemoryStore;

    /// A ring of 30-day tokens on a manual clock, with one active key.
    fn ring_at(clock: &ManualClock) -> (Arc<LocalKeyRing>, KeyId) {
        let ring = Arc::new(
            LocalKeyRing::new(Duration::days(30))
                .unwrap()
                .with_clock(clock.clone()),
        );
        let first = ring.add(LocalKey::generate().unwrap()).unwrap();
        ring.promote(&first).unwrap();
        (ring, first)
    }

    fn kid(token: &str) -> Option<String> {
        LocalService::builder(LocalKey::generate().unwrap())
            .build()
            .untrusted_key_id(token)
            .unwrap()
    }

    #[tokio::test]
    async fn a_family_sealed_before_a_rotation_refreshes_after_it_under_the_new_key() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let (ring, first) = ring_at(&clock);
        let families =
            RefreshFamilies::from_ring(Arc::clone(&ring), Arc::new(MemoryStore::new())).build();
        let pair = families.issue("alice").await.unwrap();
        assert_eq!(kid(&pair.refresh).as_deref(), Some(first.as_str()));
        assert_eq!(kid(&pair.access).as_deref(), Some(first.as_str()));
        // The families read the ring's clock.
        assert_eq!(
            pair.refresh_expires_at,
            datetime!(2030-01-15 0:00 UTC),
            "14 days by the ring's clock"
        );

        clock.advance(Duration::minutes(1));
        let second = ring.add(LocalKey::generate().unwrap()).unwrap();
        ring.promote(&second).unwrap();
        families.verify_access(&pair.access).await.unwrap();
        let next = families.refresh(&pair.refresh).await.unwrap();
        assert_eq!(next.generation, 1);
        assert_eq!(kid(&next.refresh).as_deref(), Some(second.as_str()));
        assert_eq!(kid(&next.access).as_deref(), Some(second.as_str()));
        families.verify_refresh(&next.refresh).await.unwrap();
        families.verify_access(&next.access).await.unwrap();
        // Reuse detection works across the rotation too.
        let replay = families.refresh(&pair.refresh).await;
        assert!(matches!(replay, Err(Error::Denied(Denial::ReuseDetected))));
    }

    #[tokio::test]
    async fn a_retired_key_opens_nothing() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let (ring, first) = ring_at(&clock);
        let families = RefreshFamilies::from_ring(Arc::clone(&ring), Arc::new(MemoryStore::new()))
            .refresh_lifetime(Duration::days(30))
            .family_lifetime(Duration::days(60))
            .build();
        let pair = families.issue("alice").await.unwrap();
        ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
            .unwrap();
        clock.advance(Duration::days(29));
        assert!(ring.retire_expired().is_empty());
        families.verify_refresh(&pair.refresh).await.unwrap();
        clock.advance(Duration::days(1));
        assert_eq!(ring.retire_expired(), vec![first.clone()]);
        assert_eq!(ring.status(&first), None);
        let refused = families.verify_refresh(&pair.refresh).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
        let refused = families.refresh(&pair.refresh).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
    }

    #[tokio::test]
    async fn a_token_without_a_kid_opens_only_with_the_legacy_key() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        let old_key = Arc::new(LocalKey::generate().unwrap());
        let before = RefreshFamilies::builder(Arc::clone(&old_key), Arc::clone(&store))
            .clock(clock.clone())
            .build();
        let pair = before.issue("alice").await.unwrap();
        assert_eq!(kid(&pair.refresh), None);

        let (ring, first) = ring_at(&clock);
        let ring_only = RefreshFamilies::from_ring(Arc::clone(&ring), Arc::clone(&store)).build();
        let refused = ring_only.refresh(&pair.refresh).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
        let refused = ring_only.verify_access(&pair.access).await;
        assert!(matches!(refused, Err(Error::UnknownKeyId)), "{refused:?}");
        // Another legacy key does not open it either.
        let wrong = RefreshFamilies::from_ring(Arc::clone(&ring), Arc::clone(&store))
            .legacy_key(LocalKey::generate().unwrap())
            .build();
        let refused = wrong.refresh(&pair.refresh).await;
        assert!(matches!(refused, Err(Error::Verification)), "{refused:?}");

        let after = RefreshFamilies::from_ring(Arc::clone(&ring), store)
            .legacy_key(old_key)
            .build();
        after.verify_access(&pair.access).await.unwrap();
        let next = after.refresh(&pair.refresh).await.unwrap();
        assert_eq!(kid(&next.refresh).as_deref(), Some(first.as_str()));
        // The ring's tokens never need the legacy key.
        ring_only.verify_refresh(&next.refresh).await.unwrap();
        assert_eq!(ring.status(&first), Some(KeyStatus::Active));
    }

    #[tokio::test]
    async fn a_ring_shorter_than_the_refresh_lifetime_issues_nothing() {
        let ring = Arc::new(LocalKeyRing::new(Duration::days(1)).unwrap());
        ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
            .unwrap();
        let families = RefreshFamilies::from_ring(ring, Arc::new(MemoryStore::new())).build();
        let refused = families.issue("alice").await;
        assert!(matches!(refused, Err(Error::Claims(_))), "{refused:?}");
    }

    #[tokio::test]
    async fn a_chosen_clock_drives_the_families_and_their_ring() {
        let ring_clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let (ring, first) = ring_at(&ring_clock);
        let clock = ManualClock::new(datetime!(2040-01-01 0:00 UTC));
        let families = RefreshFamilies::from_ring(Arc::clone(&ring), Arc::new(MemoryStore::new()))
            .clock(clock.clone())
            .build();
        let pair = families.issue("alice").await.unwrap();
        assert_eq!(pair.refresh_expires_at, datetime!(2040-01-15 0:00 UTC));
        ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
            .unwrap();
        assert_eq!(
            ring.status(&first),
            Some(KeyStatus::Previous {
                since: datetime!(2040-01-01 0:00 UTC)
            })
        );
    }

    #[test]
    fn a_refresh_narrows_the_grant_and_never_widens_it() {
        let grant = Some("read write admin");
        let cases = [
            (None, Some("read write admin")),
            (Some(""), Some("read write admin")),
            (Some("  "), Some("read write admin")),
            (Some("write"), Some("write")),
            (Some("admin read"), Some("read admin")),
            (Some("read read"), Some("read")),
            (Some("read  write\tadmin"), Some("read write admin")),
        ];
        for (asked, expected) in cases {
            assert_eq!(
                narrowed(grant, asked).unwrap().as_deref(),
                expected,
                "{asked:?}"
            );
        }
        for asked in ["delete", "read delete", "rea", "READ", "read write admin x"] {
            let refused = narrowed(grant, Some(asked));
            assert!(
                matches!(refused, Err(Error::Denied(Denial::ScopeNotGranted))),
                "{asked:?}"
            );
        }
        assert_eq!(narrowed(None, None).unwrap(), None);
        assert_eq!(narrowed(None, Some(" ")).unwrap(), None);
        assert!(matches!(
            narrowed(None, Some("read")),
            Err(Error::Denied(Denial::ScopeNotGranted))
        ));
    }

    #[test]
    fn bound_refresh_assertions_never_equal_an_access_or_unbound_one() {
        for context in [
            Binding::new(),
            Binding::new().strict("tenant", "acme"),
            Binding::new().strict("a", "b").strict("c", "d"),
        ] {
            let sealing = Sealing::new(Some(&context), None).unwrap();
            let access = access_assertion(Some(&context)).unwrap();
            assert_ne!(sealing.refresh, access);
            assert_ne!(sealing.refresh, REFRESH_ASSERTION);
            assert!(!access.is_empty());
            // A binding whose one value is the bound refresh assertion's
            // second piece still gives another assertion.
            let smuggled = Binding::new().strict("x", &access);
            assert_ne!(access_assertion(Some(&smuggled)).unwrap(), sealing.refresh);
        }
        let unbound = Sealing::new(None, None).unwrap();
        assert_eq!(
            (
                access_assertion(None).unwrap().as_slice(),
                unbound.refresh.as_slice()
            ),
            (&b""[..], REFRESH_ASSERTION)
        );
    }
}
