//! The rules engine: built-in claim rules, custom rules, and every failure
//! collected into one [`Violations`] list.
//!
//! A [`RuleSet`] is defined once and shared (it is cheap to clone); extend a copy
//! to make a stricter set. The default set requires `exp` and checks that it has
//! not passed. It checks that `iat` and `nbf` are not in the future only when they
//! are present, because peers such as Node's `paseto` never write `nbf`. The
//! default leeway is zero, and the leeway applies on decode only: nothing
//! expired is ever issued. A token without `exp` fails unless
//! [`RuleSet::allow_non_expiring`] was called; to require `iat` and `nbf` as
//! well, add [`RuleSet::require_claims`]`(["iat", "nbf"])`. A token that names an
//! audience (`aud`) is refused on decode unless the set names that audience
//! ([`RuleSet::for_audience`]) or accepts any ([`RuleSet::accept_any_audience`]).
//!
//! Built-in rules are data: each is an entry in the set's list of rules, run by
//! the same loop as custom rules, always in the same order (the built-ins, then
//! custom rules in the order added), whatever order they were configured in.
//!
//! Expiry checking cannot be switched off through [`RuleSet::without`]: the only
//! ways to weaken it are the explicit [`RuleSet::allow_non_expiring`] and the
//! loudly named [`RuleSet::dangerously_accept_expired`].
//!
//! The time rules never panic, whatever the times: they compare differences
//! (`now - exp < leeway`) instead of computing `exp + leeway`, which overflows
//! near the ends of the range `time` can represent. Every claim time the parser
//! accepts (0000-01-01 to 9999-12-31, any offset), any clock reading, and any
//! leeway or maximum age is evaluated exactly.

use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::claims::Claims;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, RuleId, Violation, Violations};
use crate::footer::Footer;

mod builtin;

use self::builtin::{Audiences, Builtin, Required, Unshown};

/// Whether rules run because a token is being issued or being accepted.
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::Mode;
///
/// assert_ne!(Mode::Encode, Mode::Decode);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// The claims are about to be issued as a token.
    Encode,
    /// The claims come from a token that has just been verified.
    Decode,
}

/// What a rule sees: the claims, the verified footer, the mode, the evaluation
/// time, and the outcome of every rule that ran before it.
#[derive(Debug)]
pub struct RuleContext<'a> {
    /// The claims being issued or accepted.
    pub claims: &'a Claims,
    /// The footer (verified, when decoding).
    pub footer: &'a Footer,
    /// Encoding or decoding.
    pub mode: Mode,
    /// "Now", from the rule set's clock.
    ///
    /// `OffsetDateTime + Duration` panics on overflow, and claim times can be as
    /// late as 9999-12-31: compare differences (`ctx.now - exp < ctx.leeway`),
    /// which never overflow, or use `checked_add`.
    pub now: OffsetDateTime,
    /// The rule set's leeway for clock skew (never negative; it may be as large
    /// as [`Duration::MAX`]).
    pub leeway: Duration,
    /// Earlier rules: which, and whether they passed.
    pub earlier: &'a [(RuleId, bool)],
}

/// A claim rule. Implement it for your own checks, or wrap a closure with
/// [`rule_fn`].
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::{Rule, RuleContext};
/// use vaulttoken::error::Violation;
///
/// #[derive(Debug)]
/// struct HasTenant;
///
/// impl Rule for HasTenant {
///     fn name(&self) -> &str { "has-tenant" }
///     fn check(&self, ctx: &RuleContext<'_>) -> Result<(), Violation> {
///         ctx.claims.custom_str("tenant").map(|_| ()).ok_or_else(|| {
///             Violation::new("is required").on_claim("tenant")
///         })
///     }
/// }
/// ```
pub trait Rule: Send + Sync + fmt::Debug {
    /// The rule's name, used in violations.
    fn name(&self) -> &str;

    /// Checks one token.
    ///
    /// # Errors
    ///
    /// The [`Violation`] when the rule fails.
    fn check(&self, ctx: &RuleContext<'_>) -> Result<(), Violation>;
}

/// A rule made from a name and a closure.
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::{Mode, RuleSet, rule_fn};
/// use vaulttoken::error::{RuleId, Violation};
/// use vaulttoken::{Claims, Error};
///
/// let rules = RuleSet::default().with_rule(rule_fn("role-is-admin", |ctx| {
///     match ctx.claims.custom_str("role") {
///         Some(role) if vaulttoken::rules::constant_time_eq(role, "admin") => Ok(()),
///         _ => Err(Violation::new("role must be admin").on_claim("role")),
///     }
/// }));
/// let hour = time::Duration::hours(1);
/// let admin = Claims::builder().claim("role", "admin").expires_in(hour).build()?;
/// rules.check(&admin, &Default::default(), Mode::Decode)?;
/// let user = Claims::builder().claim("role", "user").expires_in(hour).build()?;
/// let Err(Error::Claims(violations)) = rules.check(&user, &Default::default(), Mode::Decode) else {
///     panic!("a user is not an admin");
/// };
/// assert!(violations.contains(&RuleId::Custom("role-is-admin".into())));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub fn rule_fn<F>(name: impl Into<String>, check: F) -> impl Rule
where
    F: Fn(&RuleContext<'_>) -> Result<(), Violation> + Send + Sync + 'static,
{
    FnRule {
        name: name.into(),
        check,
    }
}

struct FnRule<F> {
    name: String,
    check: F,
}

impl<F> fmt::Debug for FnRule<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnRule")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<F> Rule for FnRule<F>
where
    F: Fn(&RuleContext<'_>) -> Result<(), Violation> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self, ctx: &RuleContext<'_>) -> Result<(), Violation> {
        (self.check)(ctx)
    }
}

pub use crate::primitives::{constant_time_eq, constant_time_eq_bytes};

/// Whether `value` equals any of `accepted`, checking every entry.
fn matches_any(value: &str, accepted: &[String]) -> bool {
    accepted.iter().fold(false, |found, candidate| {
        found | constant_time_eq(value, candidate)
    })
}

/// The built-in rules that can be removed, to name one for [`RuleSet::without`].
///
/// The expiry rule, `not-expired`, deliberately has no variant, so no generic
/// call can switch expiry checking off. Accepting tokens without `exp` takes
/// [`RuleSet::allow_non_expiring`] (and, to issue them,
/// [`ClaimsBuilder::without_expiry`](crate::claims::ClaimsBuilder::without_expiry));
/// accepting expired tokens takes [`RuleSet::dangerously_accept_expired`].
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::Claims;
/// use vaulttoken::rules::{BuiltinRule, Mode, RuleSet};
///
/// let not_yet = Claims::builder()
///     .not_before(datetime!(2999-01-01 0:00 UTC))
///     .expires_at(datetime!(2999-01-02 0:00 UTC))
///     .build()?;
/// assert!(RuleSet::default().check(&not_yet, &Default::default(), Mode::Decode).is_err());
/// let rules = RuleSet::default().without(BuiltinRule::NotBefore);
/// rules.check(&not_yet, &Default::default(), Mode::Decode)?;
/// # Ok::<(), vaulttoken::Error>(())
/// ```
///
/// Expiry is not among them:
///
/// ```compile_fail,E0599
/// use vaulttoken::rules::{BuiltinRule, RuleSet};
///
/// let rules = RuleSet::default().without(BuiltinRule::NotExpired);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuiltinRule {
    /// `issued-in-past`: `iat`, if present, is not in the future (beyond the
    /// leeway). On by default.
    IssuedInPast,
    /// `not-before`: `nbf`, if present, has passed (within the leeway). On by
    /// default.
    NotBefore,
    /// `issued-by`: `iss` is one of the accepted issuers.
    IssuedBy,
    /// `for-audience`: `aud` is one of the accepted audiences or, by default,
    /// absent on decode. Removing it accepts any audience, as
    /// [`RuleSet::accept_any_audience`] does.
    ForAudience,
    /// `subject`: `sub` is the expected subject.
    Subject,
    /// `identified-by`: `jti` is the expected identifier.
    IdentifiedBy,
    /// `max-age`: `iat` is no older than the maximum age.
    MaxAge,
    /// `max-validity`: `exp` is no further from now than the maximum validity.
    MaxValidity,
    /// `valid-at`: `iat`, `nbf` and `exp` are satisfied at a fixed instant.
    ValidAt,
    /// `required-claims`: every named claim is present.
    RequiredClaims,
}

impl BuiltinRule {
    fn kind(self) -> RuleId {
        match self {
            Self::IssuedInPast => RuleId::IssuedInPast,
            Self::NotBefore => RuleId::NotBefore,
            Self::IssuedBy => RuleId::IssuedBy,
            Self::ForAudience => RuleId::ForAudience,
            Self::Subject => RuleId::Subject,
            Self::IdentifiedBy => RuleId::IdentifiedBy,
            Self::MaxAge => RuleId::MaxAge,
            Self::MaxValidity => RuleId::MaxValidity,
            Self::ValidAt => RuleId::ValidAt,
            Self::RequiredClaims => RuleId::RequiredClaims,
        }
    }
}

/// A reusable set of rules. Cheap to clone; every method returns a new set.
///
/// Defaults:
/// - `not-expired` on: `exp` is required and must not have passed. Tokens without
///   `exp` are refused unless [`RuleSet::allow_non_expiring`] is called; expired
///   tokens are refused unless [`RuleSet::dangerously_accept_expired`] is called.
///   Neither [`RuleSet::without`] nor any other call removes this rule.
/// - `issued-in-past` and `not-before` on: `iat` and `nbf` must not be in the
///   future, but only when present. Require them with
///   [`RuleSet::require_claims`]`(["iat", "nbf"])`.
/// - Leeway 0, the system clock, and no other rules.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use vaulttoken::Claims;
/// use vaulttoken::rules::{Mode, RuleSet};
///
/// let base = RuleSet::default().leeway(Duration::seconds(30));
/// let api = base.clone().issued_by_any(["auth-a", "auth-b"]).for_audience("api");
/// let admin = api.clone().require_claims(["role"]);
///
/// let claims = Claims::builder()
///     .issuer("auth-b")
///     .audience("api")
///     .expires_in(Duration::hours(1))
///     .build()?;
/// api.check(&claims, &Default::default(), Mode::Decode)?;
/// // The stricter copy also wants a `role`; the base set refuses the audience.
/// assert!(admin.check(&claims, &Default::default(), Mode::Decode).is_err());
/// assert!(base.check(&claims, &Default::default(), Mode::Decode).is_err());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RuleSet {
    clock: Arc<dyn Clock>,
    /// Whether `with_clock` chose the clock (a service then keeps it).
    clock_chosen: bool,
    leeway: Duration,
    /// Every rule, in the order they run: the built-ins in [`Kind`] order, then
    /// the custom rules in the order added.
    rules: Vec<Entry>,
}

/// One rule of a set.
#[derive(Debug, Clone)]
enum Entry {
    Builtin(Builtin),
    Custom(Arc<dyn Rule>),
}

impl Entry {
    fn id(&self) -> RuleId {
        match self {
            Self::Builtin(rule) => rule.kind(),
            Self::Custom(rule) => RuleId::Custom(Cow::Owned(rule.name().to_owned())),
        }
    }

    fn builtin_kind(&self) -> Option<RuleId> {
        match self {
            Self::Builtin(rule) => Some(rule.kind()),
            Self::Custom(_) => None,
        }
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            clock_chosen: false,
            leeway: Duration::ZERO,
            rules: vec![
                Entry::Builtin(Builtin::IssuedInPast),
                Entry::Builtin(Builtin::NotBefore),
                Entry::Builtin(Builtin::NotExpired {
                    allow_non_expiring: false,
                    dangerously_accept_expired: false,
                }),
                Entry::Builtin(Builtin::ForAudience(Audiences::None)),
            ],
        }
    }
}

impl RuleSet {
    /// Evaluates time rules against `clock` instead of the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::Claims;
    /// use vaulttoken::clock::FixedClock;
    /// use vaulttoken::rules::{Mode, RuleSet};
    ///
    /// let claims = Claims::builder().expires_at(datetime!(2020-01-01 1:00 UTC)).build()?;
    /// // Long expired by the system clock, but valid as of 2020-01-01 00:00.
    /// assert!(RuleSet::default().check(&claims, &Default::default(), Mode::Decode).is_err());
    /// let then = RuleSet::default().with_clock(FixedClock::new(datetime!(2020-01-01 0:00 UTC)));
    /// then.check(&claims, &Default::default(), Mode::Decode)?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self.clock_chosen = true;
        self
    }

    /// The clock the time rules read.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The clock [`RuleSet::with_clock`] chose, if it was called.
    pub(crate) fn chosen_clock(&self) -> Option<Arc<dyn Clock>> {
        self.clock_chosen.then(|| Arc::clone(&self.clock))
    }

    /// The leeway the time rules allow on decode.
    pub(crate) fn leeway_limit(&self) -> Duration {
        self.leeway
    }

    /// Tolerates this much clock skew in every time rule (default 0). A negative
    /// leeway counts as its absolute value.
    ///
    /// # Security
    ///
    /// A leeway extends the life of every token by as much, so a huge one switches
    /// the time rules off in effect: keep it to seconds or minutes. (Any value is
    /// safe to evaluate, however large.)
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::{Claims, clock::FixedClock};
    /// use vaulttoken::rules::{Mode, RuleSet};
    ///
    /// // Expired 30 seconds ago.
    /// let claims = Claims::builder().expires_at(datetime!(2030-01-01 12:00 UTC)).build()?;
    /// let strict = RuleSet::default().with_clock(FixedClock::new(datetime!(2030-01-01 12:00:30 UTC)));
    /// assert!(strict.check(&claims, &Default::default(), Mode::Decode).is_err());
    /// let lenient = strict.leeway(time::Duration::seconds(60));
    /// lenient.check(&claims, &Default::default(), Mode::Decode)?;
    /// // The leeway applies on decode only.
    /// assert!(lenient.check(&claims, &Default::default(), Mode::Encode).is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.abs();
        self
    }

    /// Accepts tokens without `exp`. Needed, together with
    /// [`ClaimsBuilder::without_expiry`](crate::claims::ClaimsBuilder::without_expiry), for
    /// non-expiring tokens.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let forever = Claims::builder().subject("device-1").without_expiry().build()?;
    /// let Err(Error::Claims(v)) = RuleSet::default().check(&forever, &Default::default(), Mode::Decode) else {
    ///     panic!("a token without `exp` is refused by default");
    /// };
    /// assert!(v.contains(&RuleId::NotExpired));
    /// let rules = RuleSet::default().allow_non_expiring();
    /// rules.check(&forever, &Default::default(), Mode::Decode)?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn allow_non_expiring(mut self) -> Self {
        if let Some(Builtin::NotExpired {
            allow_non_expiring, ..
        }) = self.builtin_mut(RuleId::NotExpired)
        {
            *allow_non_expiring = true;
        }
        self
    }

    /// Accepts tokens whose `exp` has passed, when decoding: for the rare endpoint
    /// that must read an expired token, such as a session refresh, together with a
    /// rule of your own that bounds how long ago it expired.
    ///
    /// Only the time comparison is switched off, and only for [`Mode::Decode`]:
    /// - `exp` is still required, unless [`RuleSet::allow_non_expiring`] is also
    ///   called, so `not-expired` still runs (and custom rules see it pass);
    /// - in [`Mode::Encode`] expired claims are still refused, so a service never
    ///   issues an expired token;
    /// - [`RuleSet::valid_at`] still checks `exp` at its fixed instant.
    ///
    /// This is the only way to stop expired tokens from being refused:
    /// [`BuiltinRule`] has no variant for `not-expired`.
    ///
    /// # Security
    ///
    /// Expired tokens are accepted for ever, unless a rule of your own bounds
    /// their age: a stolen token never stops working against this rule set. Never
    /// use it for ordinary authentication.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use time::macros::datetime;
    /// use vaulttoken::rules::{Mode, RuleSet, rule_fn};
    /// use vaulttoken::error::Violation;
    /// use vaulttoken::{Claims, clock::FixedClock};
    ///
    /// let now = FixedClock::new(datetime!(2030-01-01 12:00 UTC));
    /// // Issued two hours ago, so expired one hour ago.
    /// let expired = Claims::builder()
    ///     .issued_at(datetime!(2030-01-01 10:00 UTC))
    ///     .expires_in(Duration::hours(1))
    ///     .build_with_clock(&now)?;
    ///
    /// let refresh = RuleSet::default()
    ///     .with_clock(now)
    ///     .dangerously_accept_expired()
    ///     .with_rule(rule_fn("expired-within-a-day", |ctx| match ctx.claims.expiration() {
    ///         Some(exp) if ctx.now - exp <= Duration::days(1) => Ok(()),
    ///         _ => Err(Violation::new("expired too long ago").on_claim("exp")),
    ///     }));
    /// refresh.check(&expired, &Default::default(), Mode::Decode)?;
    /// // Issuing is unaffected: expired claims are still refused.
    /// assert!(refresh.check(&expired, &Default::default(), Mode::Encode).is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn dangerously_accept_expired(mut self) -> Self {
        if let Some(Builtin::NotExpired {
            dangerously_accept_expired,
            ..
        }) = self.builtin_mut(RuleId::NotExpired)
        {
            *dangerously_accept_expired = true;
        }
        self
    }

    /// Requires `iss` to be `issuer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().issued_by("auth.example");
    /// let hour = time::Duration::hours(1);
    /// let good = Claims::builder().issuer("auth.example").expires_in(hour).build()?;
    /// rules.check(&good, &Default::default(), Mode::Decode)?;
    /// let bad = Claims::builder().issuer("evil.example").expires_in(hour).build()?;
    /// let Err(Error::Claims(v)) = rules.check(&bad, &Default::default(), Mode::Decode) else {
    ///     panic!("another issuer");
    /// };
    /// assert!(v.contains(&RuleId::IssuedBy));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn issued_by(self, issuer: impl Into<String>) -> Self {
        self.issued_by_any([issuer])
    }

    /// Requires `iss` to be one of `issuers`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().issued_by_any(["a", "b"]);
    /// let hour = time::Duration::hours(1);
    /// let good = Claims::builder().issuer("b").expires_in(hour).build()?;
    /// rules.check(&good, &Default::default(), Mode::Decode)?;
    /// let bad = Claims::builder().issuer("c").expires_in(hour).build()?;
    /// let Err(Error::Claims(v)) = rules.check(&bad, &Default::default(), Mode::Decode) else {
    ///     panic!("an issuer not listed");
    /// };
    /// assert!(v.contains(&RuleId::IssuedBy));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn issued_by_any<S: Into<String>>(self, issuers: impl IntoIterator<Item = S>) -> Self {
        self.with_builtin(Builtin::IssuedBy(
            issuers.into_iter().map(Into::into).collect(),
        ))
    }

    /// Requires `aud` to be `audience`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().for_audience("api");
    /// let hour = time::Duration::hours(1);
    /// let good = Claims::builder().audience("api").expires_in(hour).build()?;
    /// rules.check(&good, &Default::default(), Mode::Decode)?;
    /// let bad = Claims::builder().audience("admin-api").expires_in(hour).build()?;
    /// let Err(Error::Claims(v)) = rules.check(&bad, &Default::default(), Mode::Decode) else {
    ///     panic!("another audience");
    /// };
    /// assert!(v.contains(&RuleId::ForAudience));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn for_audience(self, audience: impl Into<String>) -> Self {
        self.for_any_audience([audience])
    }

    /// Requires `aud` to be one of `audiences`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().for_any_audience(["api", "web"]);
    /// let hour = time::Duration::hours(1);
    /// let good = Claims::builder().audience("web").expires_in(hour).build()?;
    /// rules.check(&good, &Default::default(), Mode::Decode)?;
    /// let bad = Claims::builder().audience("admin-api").expires_in(hour).build()?;
    /// let Err(Error::Claims(v)) = rules.check(&bad, &Default::default(), Mode::Decode) else {
    ///     panic!("an audience not listed");
    /// };
    /// assert!(v.contains(&RuleId::ForAudience));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn for_any_audience<S: Into<String>>(self, audiences: impl IntoIterator<Item = S>) -> Self {
        self.with_builtin(Builtin::ForAudience(Audiences::OneOf(
            audiences.into_iter().map(Into::into).collect(),
        )))
    }

    /// Accepts a token whatever audience it names.
    ///
    /// Without this call or an audience rule ([`RuleSet::for_audience`],
    /// [`RuleSet::for_any_audience`]), a token that names an audience (`aud`) is
    /// refused on decode: a token minted for `admin-api` must not be accepted by
    /// every other service that shares the key. Tokens without `aud` pass either
    /// way. Issuing is not affected: an issuer names audiences it does not serve.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let for_admin = Claims::builder()
    ///     .audience("admin-api")
    ///     .expires_in(time::Duration::hours(1))
    ///     .build()?;
    /// let Err(Error::Claims(v)) = RuleSet::default().check(&for_admin, &Default::default(), Mode::Decode) else {
    ///     panic!("a token for an audience is refused by a rule set that names none");
    /// };
    /// assert!(v.contains(&RuleId::ForAudience));
    /// RuleSet::default().accept_any_audience().check(&for_admin, &Default::default(), Mode::Decode)?;
    /// RuleSet::default().check(&for_admin, &Default::default(), Mode::Encode)?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn accept_any_audience(self) -> Self {
        self.without(BuiltinRule::ForAudience)
    }

    /// Requires `sub` to be `subject`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().subject("user-1");
    /// let hour = time::Duration::hours(1);
    /// let good = Claims::builder().subject("user-1").expires_in(hour).build()?;
    /// rules.check(&good, &Default::default(), Mode::Decode)?;
    /// let bad = Claims::builder().subject("user-2").expires_in(hour).build()?;
    /// let Err(Error::Claims(v)) = rules.check(&bad, &Default::default(), Mode::Decode) else {
    ///     panic!("another subject");
    /// };
    /// assert!(v.contains(&RuleId::Subject));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn subject(self, subject: impl Into<String>) -> Self {
        self.with_builtin(Builtin::Subject(Unshown(subject.into())))
    }

    /// Requires `jti` to be `token_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().identified_by("t-1");
    /// let hour = time::Duration::hours(1);
    /// let good = Claims::builder().token_id("t-1").expires_in(hour).build()?;
    /// rules.check(&good, &Default::default(), Mode::Decode)?;
    /// let bad = Claims::builder().token_id("t-2").expires_in(hour).build()?;
    /// let Err(Error::Claims(v)) = rules.check(&bad, &Default::default(), Mode::Decode) else {
    ///     panic!("another token id");
    /// };
    /// assert!(v.contains(&RuleId::IdentifiedBy));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn identified_by(self, token_id: impl Into<String>) -> Self {
        self.with_builtin(Builtin::IdentifiedBy(Unshown(token_id.into())))
    }

    /// Refuses tokens whose `iat` is older than `max_age` (plus leeway). Tokens
    /// without `iat` are refused too, as their age is unknown. Any `max_age` is safe
    /// to evaluate, however large.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use time::macros::datetime;
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error, clock::FixedClock};
    ///
    /// let rules = RuleSet::default()
    ///     .with_clock(FixedClock::new(datetime!(2030-01-01 12:00 UTC)))
    ///     .max_age(Duration::minutes(15));
    /// let issued = |at| Claims::builder().issued_at(at).expires_in(Duration::hours(1)).build();
    /// rules.check(&issued(datetime!(2030-01-01 11:50 UTC))?, &Default::default(), Mode::Decode)?;
    /// let old = issued(datetime!(2030-01-01 11:30 UTC))?;
    /// let Err(Error::Claims(v)) = rules.check(&old, &Default::default(), Mode::Decode) else {
    ///     panic!("issued 30 minutes ago");
    /// };
    /// assert!(v.contains(&RuleId::MaxAge));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn max_age(self, max_age: Duration) -> Self {
        self.with_builtin(Builtin::MaxAge(max_age))
    }

    /// Refuses tokens that stay valid for longer than `max_validity` from now
    /// (`exp - now`, plus the leeway on decode), and tokens with no `exp` at all.
    ///
    /// A service built from a key ring sets this to the ring's longest token
    /// lifetime unless the rule set already has one, so no token outlives the
    /// ring's retirement schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().max_validity(Duration::hours(1));
    /// let day = Claims::builder().expires_in(Duration::days(1)).build()?;
    /// assert!(matches!(rules.check(&day, &Default::default(), Mode::Encode), Err(Error::Claims(_))));
    /// let hour = Claims::builder().expires_in(Duration::minutes(59)).build()?;
    /// rules.check(&hour, &Default::default(), Mode::Encode)?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn max_validity(self, max_validity: Duration) -> Self {
        self.with_builtin(Builtin::MaxValidity(max_validity))
    }

    /// The configured [`RuleSet::max_validity`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::rules::RuleSet;
    ///
    /// assert_eq!(RuleSet::default().max_validity_limit(), None);
    /// let capped = RuleSet::default().max_validity(Duration::hours(2));
    /// assert_eq!(capped.max_validity_limit(), Some(Duration::hours(2)));
    /// ```
    #[must_use]
    pub fn max_validity_limit(&self) -> Option<Duration> {
        self.rules.iter().find_map(|entry| match entry {
            Entry::Builtin(Builtin::MaxValidity(max)) => Some(*max),
            _ => None,
        })
    }

    /// Also requires `iat`, `nbf` and `exp` to be satisfied at `instant`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let claims = Claims::builder().expires_in(Duration::hours(1)).build()?;
    /// let iat = claims.issued_at().unwrap();
    /// let soon = RuleSet::default().valid_at(iat + Duration::minutes(30));
    /// soon.check(&claims, &Default::default(), Mode::Decode)?;
    /// let later = RuleSet::default().valid_at(iat + Duration::hours(2));
    /// let Err(Error::Claims(v)) = later.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("expired by then");
    /// };
    /// assert!(v.contains(&RuleId::ValidAt));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn valid_at(self, instant: OffsetDateTime) -> Self {
        self.with_builtin(Builtin::ValidAt(instant))
    }

    /// Requires each named claim (registered or custom) to be present; a missing
    /// one fails the `required-claims` rule.
    ///
    /// This is also how to require `iat` and `nbf`, which the default rules check
    /// only when present.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().require_claims(["sub", "role"]);
    /// let claims = Claims::builder()
    ///     .subject("user-1")
    ///     .claim("role", "admin")
    ///     .expires_in(time::Duration::hours(1))
    ///     .build()?;
    /// rules.check(&claims, &Default::default(), Mode::Decode)?;
    ///
    /// // A peer's token with `exp` and `iat` but no `nbf`: accepted by default.
    /// let peer = Claims::from_payload(br#"{"iat":"2020-01-01T00:00:00Z","exp":"9999-01-01T00:00:00Z"}"#)?;
    /// RuleSet::default().check(&peer, &Default::default(), Mode::Decode)?;
    ///
    /// // ... and refused by a rule set that requires `nbf`.
    /// let strict = RuleSet::default().require_claims(["iat", "nbf"]);
    /// let Err(Error::Claims(violations)) = strict.check(&peer, &Default::default(), Mode::Decode) else {
    ///     panic!("expected a violation");
    /// };
    /// assert!(violations.contains(&RuleId::RequiredClaims));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn require_claims<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        let names = names.into_iter().map(Into::into);
        if let Some(Builtin::RequiredClaims(required)) = self.builtin_mut(RuleId::RequiredClaims) {
            required.extend(names);
            return self;
        }
        let mut required = Required::default();
        required.extend(names);
        self.with_builtin(Builtin::RequiredClaims(required))
    }

    /// Adds a custom rule; custom rules run after the built-ins, in the order added.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::error::Violation;
    /// use vaulttoken::rules::{Mode, RuleSet, rule_fn};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().with_rule(rule_fn("has-tenant", |ctx| {
    ///     ctx.claims.custom_str("tenant").map(|_| ()).ok_or_else(|| Violation::new("is required"))
    /// }));
    /// let expired = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// let Err(Error::Claims(v)) = rules.check(&expired, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and no tenant");
    /// };
    /// // The custom rule runs after the built-ins.
    /// let failed: Vec<&str> = v.iter().map(|v| v.rule()).collect();
    /// assert_eq!(failed, ["not-expired", "has-tenant"]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn with_rule(mut self, rule: impl Rule + 'static) -> Self {
        self.rules.push(Entry::Custom(Arc::new(rule)));
        self
    }

    /// Removes a built-in rule (replace it by adding a custom rule).
    ///
    /// The expiry rule cannot be removed: see [`BuiltinRule`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Claims;
    /// use vaulttoken::rules::{BuiltinRule, Mode, RuleSet};
    ///
    /// let claims = Claims::builder()
    ///     .issuer("other.example")
    ///     .expires_in(time::Duration::hours(1))
    ///     .build()?;
    /// let strict = RuleSet::default().issued_by("auth.example");
    /// assert!(strict.check(&claims, &Default::default(), Mode::Decode).is_err());
    /// let any_issuer = strict.without(BuiltinRule::IssuedBy);
    /// any_issuer.check(&claims, &Default::default(), Mode::Decode)?;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn without(mut self, rule: BuiltinRule) -> Self {
        let kind = rule.kind();
        self.rules
            .retain(|entry| entry.builtin_kind().as_ref() != Some(&kind));
        self
    }

    /// Adds a built-in rule in its place in the running order, replacing the
    /// one of the same kind, if any.
    fn with_builtin(mut self, rule: Builtin) -> Self {
        let kind = rule.kind();
        match self
            .rules
            .iter()
            .position(|entry| entry.builtin_kind().is_none_or(|k| k >= kind))
        {
            Some(at) if self.rules[at].builtin_kind().as_ref() == Some(&kind) => {
                self.rules[at] = Entry::Builtin(rule);
            }
            Some(at) => self.rules.insert(at, Entry::Builtin(rule)),
            None => self.rules.push(Entry::Builtin(rule)),
        }
        self
    }

    fn builtin_mut(&mut self, kind: RuleId) -> Option<&mut Builtin> {
        self.rules.iter_mut().find_map(|entry| match entry {
            Entry::Builtin(rule) if rule.kind() == kind => Some(rule),
            _ => None,
        })
    }

    /// Runs every rule and reports all failures together.
    ///
    /// # Errors
    ///
    /// [`Error::Claims`] listing every violation.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default();
    /// let fresh = Claims::builder().expires_in(time::Duration::hours(1)).build()?;
    /// rules.check(&fresh, &Default::default(), Mode::Decode)?;
    ///
    /// let stale = Claims::builder()
    ///     .audience("admin-api")
    ///     .expires_at(datetime!(2020-01-01 0:00 UTC))
    ///     .build()?;
    /// let Err(Error::Claims(v)) = rules.check(&stale, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and for an audience");
    /// };
    /// // Every failure is reported, not just the first.
    /// assert!(v.contains(&RuleId::NotExpired) && v.contains(&RuleId::ForAudience));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn check(&self, claims: &Claims, footer: &Footer, mode: Mode) -> Result<(), Error> {
        let now = self.clock.now();
        // Leeway forgives clock skew between an issuer and a verifier; an issuer
        // never needs it for its own clock, so nothing expired is ever issued.
        let leeway = match mode {
            Mode::Encode => Duration::ZERO,
            Mode::Decode => self.leeway,
        };
        // Only custom rules read the earlier outcomes: without any, keep none
        // (and allocate nothing on the hot path). Mutants that make this always
        // true are equivalent: they only cost the allocation.
        let custom_rules = self
            .rules
            .iter()
            .any(|rule| matches!(rule, Entry::Custom(_)));
        let mut earlier: Vec<(RuleId, bool)> = Vec::new();
        let mut violations = Vec::new();
        for rule in &self.rules {
            let ctx = RuleContext {
                claims,
                footer,
                mode,
                now,
                leeway,
                earlier: &earlier,
            };
            let before = violations.len();
            let id = rule.id();
            match rule {
                Entry::Builtin(rule) => rule.check(&ctx, &mut violations),
                Entry::Custom(rule) => {
                    // The rule's own name, written once, in the rule.
                    violations.extend(rule.check(&ctx).err().map(|violation| Violation {
                        rule: id.clone(),
                        ..violation
                    }));
                }
            }
            if custom_rules {
                earlier.push((id, violations.len() == before));
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::Claims(Violations(violations)))
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::clock::FixedClock;

    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

    fn rules() -> RuleSet {
        RuleSet::default().with_clock(FixedClock::new(NOW))
    }

    fn claims_at(iat: OffsetDateTime) -> Claims {
        Claims::builder()
            .issued_at(iat)
            .not_before(iat)
            .expires_in(Duration::hours(1))
            .build_with_clock(FixedClock::new(iat))
            .unwrap()
    }

    fn failed(result: Result<(), Error>) -> Vec<String> {
        match result {
            Ok(()) => Vec::new(),
            Err(Error::Claims(v)) => v.iter().map(|v| v.rule().to_owned()).collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_fresh_token_passes_the_defaults() {
        let claims = claims_at(NOW);
        assert!(rules().check(&claims, &Footer::None, Mode::Decode).is_ok());
    }

    #[test]
    fn expiry_is_exclusive_and_leeway_extends_it() {
        let claims = claims_at(NOW - Duration::hours(1));
        assert_eq!(
            failed(rules().check(&claims, &Footer::None, Mode::Decode)),
            ["not-expired"]
        );
        let lenient = rules().leeway(Duration::seconds(1));
        assert!(lenient.check(&claims, &Footer::None, Mode::Decode).is_ok());
    }

    #[test]
    fn future_tokens_fail_issued_in_past_and_not_before() {
        let claims = claims_at(NOW + Duration::minutes(5));
        assert_eq!(
            failed(rules().check(&claims, &Footer::None, Mode::Decode)),
            ["issued-in-past", "not-before"]
        );
        let skew = rules().leeway(Duration::minutes(5));
        assert!(skew.check(&claims, &Footer::None, Mode::Decode).is_ok());
    }

    #[test]
    fn non_expiring_tokens_need_the_explicit_opt_in() {
        let claims = Claims::builder()
            .without_expiry()
            .build_with_clock(FixedClock::new(NOW))
            .unwrap();
        assert_eq!(
            failed(rules().check(&claims, &Footer::None, Mode::Decode)),
            ["not-expired"]
        );
        assert!(
            rules()
                .allow_non_expiring()
                .check(&claims, &Footer::None, Mode::Decode)
                .is_ok()
        );
    }

    #[test]
    fn every_failure_is_reported_together() {
        let claims = Claims::builder()
            .issuer("evil")
            .audience("other")
            .issued_at(NOW - Duration::days(2))
            .expires_in(Duration::hours(1))
            .build_with_clock(FixedClock::new(NOW))
            .unwrap();
        let set = rules()
            .issued_by_any(["a", "b"])
            .for_audience("api")
            .subject("u")
            .identified_by("j")
            .max_age(Duration::hours(1))
            .require_claims(["role"]);
        let Err(Error::Claims(violations)) = set.check(&claims, &Footer::None, Mode::Decode) else {
            panic!("expected violations");
        };
        let rules: Vec<&str> = violations.iter().map(Violation::rule).collect();
        assert_eq!(
            rules,
            [
                "not-expired",
                "max-age",
                "issued-by",
                "for-audience",
                "subject",
                "identified-by",
                "required-claims"
            ]
        );
        let text = violations.to_string();
        assert!(text.contains("one of `a`, `b`"), "{text}");
        assert!(!text.contains("evil") && !text.contains("other"), "{text}");
    }

    #[test]
    fn valid_at_checks_a_fixed_instant() {
        let claims = claims_at(NOW);
        let later = rules().valid_at(NOW + Duration::hours(2));
        assert_eq!(
            failed(later.check(&claims, &Footer::None, Mode::Decode)),
            ["valid-at"]
        );
        let inside = rules().valid_at(NOW + Duration::minutes(30));
        assert!(inside.check(&claims, &Footer::None, Mode::Decode).is_ok());
    }

    #[test]
    fn removed_rules_do_not_run() {
        let claims = claims_at(NOW + Duration::minutes(5));
        let set = rules()
            .without(BuiltinRule::IssuedInPast)
            .without(BuiltinRule::NotBefore);
        assert!(set.check(&claims, &Footer::None, Mode::Decode).is_ok());
    }

    #[test]
    fn no_removable_rule_turns_expiry_checking_off() {
        let expired = claims_at(NOW - Duration::hours(2));
        let forever = payload(r#"{"iat":"2030-01-01T12:00:00Z"}"#);
        let mut set = rules();
        for rule in [
            BuiltinRule::IssuedInPast,
            BuiltinRule::NotBefore,
            BuiltinRule::IssuedBy,
            BuiltinRule::ForAudience,
            BuiltinRule::Subject,
            BuiltinRule::IdentifiedBy,
            BuiltinRule::MaxAge,
            BuiltinRule::MaxValidity,
            BuiltinRule::ValidAt,
            BuiltinRule::RequiredClaims,
        ] {
            set = set.without(rule);
        }
        for claims in [&expired, &forever] {
            for mode in [Mode::Decode, Mode::Encode] {
                assert_eq!(
                    failed(set.check(claims, &Footer::None, mode)),
                    ["not-expired"]
                );
            }
        }
    }

    #[test]
    fn dangerously_accept_expired_only_skips_the_time_check_on_decode() {
        let expired = claims_at(NOW - Duration::hours(2));
        let set = rules().dangerously_accept_expired();
        assert!(set.check(&expired, &Footer::None, Mode::Decode).is_ok());
        // A service never issues an expired token, whatever the rule set says.
        assert_eq!(
            failed(set.check(&expired, &Footer::None, Mode::Encode)),
            ["not-expired"]
        );
        // `exp` is still required: non-expiry is a separate, explicit opt-in.
        let forever = payload(r#"{"iat":"2030-01-01T12:00:00Z"}"#);
        assert_eq!(
            failed(set.check(&forever, &Footer::None, Mode::Decode)),
            ["not-expired"]
        );
        let both = set.clone().allow_non_expiring();
        assert!(both.check(&forever, &Footer::None, Mode::Decode).is_ok());
        // An explicitly configured instant still checks `exp`.
        let at_now = set.valid_at(NOW);
        assert_eq!(
            failed(at_now.check(&expired, &Footer::None, Mode::Decode)),
            ["valid-at"]
        );
        assert!(format!("{both:?}").contains("dangerously_accept_expired: true"));
    }

    #[test]
    fn custom_rules_see_not_expired_pass_when_expired_tokens_are_accepted() {
        let set = rules()
            .dangerously_accept_expired()
            .with_rule(rule_fn("saw", |ctx| {
                if ctx.earlier.contains(&(RuleId::NotExpired, true)) {
                    Ok(())
                } else {
                    Err(Violation::new("not-expired did not pass"))
                }
            }));
        let expired = claims_at(NOW - Duration::hours(2));
        assert!(set.check(&expired, &Footer::None, Mode::Decode).is_ok());
    }

    fn payload(json: &str) -> Claims {
        Claims::from_payload(json.as_bytes()).unwrap()
    }

    #[test]
    fn iat_and_nbf_are_optional_by_default_but_checked_when_present() {
        // What Node's paseto issues: `iat` and `exp`, never `nbf`.
        let node = payload(r#"{"iat":"2030-01-01T11:00:00Z","exp":"2030-01-01T13:00:00Z"}"#);
        assert!(rules().check(&node, &Footer::None, Mode::Decode).is_ok());
        let exp_only = payload(r#"{"exp":"2030-01-01T13:00:00Z"}"#);
        assert!(
            rules()
                .check(&exp_only, &Footer::None, Mode::Decode)
                .is_ok()
        );
        let future = payload(
            r#"{"iat":"2030-01-01T12:00:01Z","nbf":"2030-01-01T12:00:01Z","exp":"2030-01-01T13:00:00Z"}"#,
        );
        assert_eq!(
            failed(rules().check(&future, &Footer::None, Mode::Decode)),
            ["issued-in-past", "not-before"]
        );
        let none = payload("{}");
        assert_eq!(
            failed(rules().check(&none, &Footer::None, Mode::Decode)),
            ["not-expired"]
        );
    }

    #[test]
    fn require_claims_makes_iat_and_nbf_mandatory() {
        let exp_only = payload(r#"{"exp":"2030-01-01T13:00:00Z"}"#);
        let strict = rules().require_claims(["iat", "nbf"]);
        let Err(Error::Claims(violations)) = strict.check(&exp_only, &Footer::None, Mode::Decode)
        else {
            panic!("expected violations");
        };
        let missing: Vec<_> = violations
            .iter()
            .map(|v| (v.rule(), v.claim().unwrap()))
            .collect();
        assert_eq!(
            missing,
            [("required-claims", "iat"), ("required-claims", "nbf")]
        );
        assert!(
            strict
                .check(&claims_at(NOW), &Footer::None, Mode::Decode)
                .is_ok()
        );
    }

    /// Each claim a rule set can require, registered or custom, refuses a
    /// token without it and accepts one with it; the missing ones are named
    /// in the order they were required.
    #[test]
    fn every_required_claim_is_checked_and_the_missing_are_named_in_order() {
        let names = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "role"];
        let all = [
            r#""iss":"i""#,
            r#""sub":"s""#,
            r#""aud":"a""#,
            r#""exp":"2030-01-01T13:00:00Z""#,
            r#""nbf":"2030-01-01T11:00:00Z""#,
            r#""iat":"2030-01-01T11:00:00Z""#,
            r#""jti":"j""#,
            r#""role":"r""#,
        ];
        let of = |fields: Vec<&str>| payload(&format!("{{{}}}", fields.join(",")));
        let set = |required: &[&str]| {
            rules()
                .for_audience("a")
                .allow_non_expiring()
                .require_claims(required.iter().copied())
        };
        let missing = |set: &RuleSet, claims: &Claims| -> Vec<String> {
            match set.check(claims, &Footer::None, Mode::Decode) {
                Ok(()) => Vec::new(),
                Err(Error::Claims(v)) => v
                    .iter()
                    .filter(|v| v.rule() == "required-claims")
                    .map(|v| v.claim().unwrap_or_default().to_owned())
                    .collect(),
                Err(other) => panic!("unexpected {other:?}"),
            }
        };
        let full = of(all.to_vec());
        for (i, name) in names.iter().enumerate() {
            let without: Vec<&str> = all
                .iter()
                .enumerate()
                .filter_map(|(j, field)| (j != i).then_some(*field))
                .collect();
            let lacking = of(without);
            assert_eq!(missing(&set(&[name]), &lacking), [*name], "{name}");
            assert!(missing(&set(&[name]), &full).is_empty(), "{name}");
            // Required with every other claim: only this one is missing.
            assert_eq!(missing(&set(&names), &lacking), [*name], "{name}");
        }
        // Named in the order required, custom and registered alike.
        let bare = of(vec![all[3]]);
        assert_eq!(
            missing(&set(&["role", "jti", "x", "iss"]), &bare),
            ["role", "jti", "x", "iss"]
        );
        assert!(missing(&set(&names), &full).is_empty());
    }

    #[test]
    fn max_age_still_requires_iat() {
        let exp_only = payload(r#"{"exp":"2030-01-01T13:00:00Z"}"#);
        let set = rules().max_age(Duration::hours(1));
        assert_eq!(
            failed(set.check(&exp_only, &Footer::None, Mode::Decode)),
            ["max-age"]
        );
    }

    /// The parser's extremes (with the farthest offsets), ordinary times, and the
    /// farthest instants `time` can represent at all (clocks can return those).
    fn edge_times() -> Vec<OffsetDateTime> {
        use time::PrimitiveDateTime;
        use time::macros::offset;

        let mut times: Vec<OffsetDateTime> = [
            "0000-01-01T00:00:00+23:59",
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:00:01Z",
            "2030-01-01T12:00:00Z",
            "9999-12-31T23:59:58Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-23:59",
        ]
        .iter()
        .map(|t| Claims::from_payload(format!(r#"{{"exp":"{t}"}}"#).as_bytes()))
        .map(|c| c.unwrap().expiration().unwrap())
        .collect();
        times.push(PrimitiveDateTime::MIN.assume_offset(offset!(+23:59:59)));
        times.push(PrimitiveDateTime::MAX.assume_offset(offset!(-23:59:59)));
        times
    }

    /// The rules that should fail, computed in exact `i128` nanoseconds, where
    /// nothing can overflow.
    fn oracle(
        (iat, exp): (OffsetDateTime, OffsetDateTime),
        now: OffsetDateTime,
        leeway: Duration,
        max_age: Option<Duration>,
        valid_at: Option<OffsetDateTime>,
    ) -> Vec<&'static str> {
        let ns = OffsetDateTime::unix_timestamp_nanos;
        let lw = leeway.abs().whole_nanoseconds();
        let in_future = |at: OffsetDateTime| ns(iat) - ns(at) > lw;
        let expired = |at: OffsetDateTime| ns(at) - ns(exp) >= lw;
        let mut expected = Vec::new();
        if in_future(now) {
            expected.extend(["issued-in-past", "not-before"]);
        }
        if expired(now) {
            expected.push("not-expired");
        }
        if max_age.is_some_and(|max| ns(now) - ns(iat) > max.whole_nanoseconds() + lw) {
            expected.push("max-age");
        }
        if valid_at.is_some_and(|at| in_future(at) || expired(at)) {
            expected.push("valid-at");
        }
        expected
    }

    /// Every time rule, at every combination of edge times (for `iat` = `nbf`,
    /// `exp`, the clock and `valid_at`), leeways and maximum ages, against the
    /// oracle: no panic, and the exact answer.
    #[test]
    fn time_rules_are_exact_and_never_panic_at_the_ends_of_the_range() {
        let times = edge_times();
        let leeways = [
            Duration::ZERO,
            Duration::seconds(1),
            Duration::days(1),
            Duration::days(366 * 20_000),
            Duration::MAX,
            Duration::MIN,
        ];
        let max_ages = [
            None,
            Some(Duration::ZERO),
            Some(Duration::hours(1)),
            Some(Duration::MAX),
            Some(Duration::MIN),
        ];
        let valid_ats: Vec<Option<OffsetDateTime>> = [None]
            .into_iter()
            .chain(times.iter().copied().map(Some))
            .collect();
        // Only times RFC 3339 can write are possible in a token.
        let tokens: Vec<((OffsetDateTime, OffsetDateTime), Claims)> = times
            .iter()
            .flat_map(|&iat| times.iter().map(move |&exp| (iat, exp)))
            .filter_map(|(iat, exp)| {
                let (iat_text, exp_text) = (rfc3339(iat)?, rfc3339(exp)?);
                let json =
                    format!(r#"{{"iat":"{iat_text}","nbf":"{iat_text}","exp":"{exp_text}"}}"#);
                Some(((iat, exp), Claims::from_payload(json.as_bytes()).unwrap()))
            })
            .collect();
        let mut settings = Vec::new();
        for &now in &times {
            for leeway in leeways {
                for max_age in max_ages {
                    for &valid_at in &valid_ats {
                        settings.push((now, leeway, max_age, valid_at));
                    }
                }
            }
        }
        let mut checked = 0_u32;
        for (times_of_token, claims) in &tokens {
            for &(now, leeway, max_age, valid_at) in &settings {
                let mut set = RuleSet::default()
                    .with_clock(FixedClock::new(now))
                    .leeway(leeway);
                if let Some(max_age) = max_age {
                    set = set.max_age(max_age);
                }
                if let Some(at) = valid_at {
                    set = set.valid_at(at);
                }
                for mode in [Mode::Decode, Mode::Encode] {
                    // Leeway forgives a verifier's clock skew, never an issuer's.
                    let leeway = if mode == Mode::Encode {
                        Duration::ZERO
                    } else {
                        leeway
                    };
                    let expected = oracle(*times_of_token, now, leeway, max_age, valid_at);
                    assert_eq!(
                        failed(set.check(claims, &Footer::None, mode)),
                        expected,
                        "{times_of_token:?} now {now} leeway {leeway} max_age {max_age:?} \
                         valid_at {valid_at:?}"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 7 * 9 * 6 * 5 * 10);
    }

    fn rfc3339(t: OffsetDateTime) -> Option<String> {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    }

    #[test]
    fn custom_rules_see_mode_and_earlier_results_and_run_last() {
        let set = rules()
            .with_rule(rule_fn("first", |ctx| {
                if ctx.mode == Mode::Encode {
                    Err(Violation::new("no issuing here"))
                } else {
                    Ok(())
                }
            }))
            .with_rule(rule_fn("second", |ctx| {
                let expired = ctx
                    .earlier
                    .iter()
                    .any(|(rule, ok)| *rule == RuleId::NotExpired && !ok);
                let first_ran = ctx.earlier.iter().any(|(rule, _)| rule.name() == "first");
                if expired && first_ran {
                    Err(Violation::new("saw the failure"))
                } else {
                    Ok(())
                }
            }));
        let expired = claims_at(NOW - Duration::hours(2));
        assert_eq!(
            failed(set.check(&expired, &Footer::None, Mode::Decode)),
            ["not-expired", "second"]
        );
        let fresh = claims_at(NOW);
        assert_eq!(
            failed(set.check(&fresh, &Footer::None, Mode::Encode)),
            ["first"]
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("", ""));
        assert!(!constant_time_eq("a", "ab"));
        assert!(matches_any("b", &["a".into(), "b".into()]));
        assert!(!matches_any("c", &["a".into(), "b".into()]));
    }

    #[test]
    fn built_ins_run_in_one_order_whatever_order_they_were_configured_in() {
        let claims = Claims::builder()
            .issuer("evil")
            .audience("other")
            .expires_in(Duration::hours(1))
            .build_with_clock(FixedClock::new(NOW))
            .unwrap();
        let forwards = rules()
            .issued_by("a")
            .for_audience("api")
            .require_claims(["role"]);
        let backwards = rules()
            .require_claims(["role"])
            .for_audience("api")
            .issued_by("a");
        for set in [forwards, backwards] {
            assert_eq!(
                failed(set.check(&claims, &Footer::None, Mode::Decode)),
                ["issued-by", "for-audience", "required-claims"]
            );
        }
    }

    #[test]
    fn configuring_a_built_in_again_replaces_it() {
        let claims = Claims::builder()
            .issuer("b")
            .expires_in(Duration::hours(1))
            .build_with_clock(FixedClock::new(NOW))
            .unwrap();
        let set = rules().issued_by("a").issued_by("b");
        assert!(set.check(&claims, &Footer::None, Mode::Decode).is_ok());
        let set = rules()
            .max_validity(Duration::minutes(1))
            .max_validity(Duration::hours(2));
        assert_eq!(set.max_validity_limit(), Some(Duration::hours(2)));
        assert!(set.check(&claims, &Footer::None, Mode::Decode).is_ok());
        // `require_claims` adds to the list instead.
        let both = rules().require_claims(["x"]).require_claims(["y"]);
        let Err(Error::Claims(violations)) = both.check(&claims, &Footer::None, Mode::Decode)
        else {
            panic!("expected violations");
        };
        let missing: Vec<_> = violations.iter().filter_map(Violation::claim).collect();
        assert_eq!(missing, ["x", "y"]);
    }

    #[test]
    fn removing_the_audience_rule_accepts_any_audience() {
        let claims = Claims::builder()
            .audience("admin-api")
            .expires_in(Duration::hours(1))
            .build_with_clock(FixedClock::new(NOW))
            .unwrap();
        assert_eq!(
            failed(rules().check(&claims, &Footer::None, Mode::Decode)),
            ["for-audience"]
        );
        let open = rules().without(BuiltinRule::ForAudience);
        assert!(open.check(&claims, &Footer::None, Mode::Decode).is_ok());
        assert!(
            rules()
                .accept_any_audience()
                .check(&claims, &Footer::None, Mode::Decode)
                .is_ok()
        );
        // Configuring audiences after accepting any brings the rule back.
        let api = rules().accept_any_audience().for_audience("api");
        assert_eq!(
            failed(api.check(&claims, &Footer::None, Mode::Decode)),
            ["for-audience"]
        );
    }

    #[test]
    fn custom_rules_see_every_earlier_rule_by_name_and_outcome() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let set = rules()
            .issued_by("a")
            .with_rule(rule_fn("first", |_| Err(Violation::new("always"))))
            .with_rule(rule_fn("spy", move |ctx| {
                *record.lock().unwrap() = ctx.earlier.to_vec();
                Ok(())
            }));
        let claims = claims_at(NOW);
        assert_eq!(
            failed(set.check(&claims, &Footer::None, Mode::Encode)),
            ["issued-by", "first"]
        );
        let seen = seen.lock().unwrap().clone();
        let expected = vec![
            (RuleId::IssuedInPast, true),
            (RuleId::NotBefore, true),
            (RuleId::NotExpired, true),
            (RuleId::IssuedBy, false),
            (RuleId::ForAudience, true),
            (RuleId::Custom("first".into()), false),
        ];
        assert_eq!(seen, expected);
    }

    #[test]
    fn rule_set_debug_never_shows_an_expected_subject_or_token_id() {
        let set = rules()
            .subject("secret-subject")
            .identified_by("secret-jti");
        let debug = format!("{set:?}");
        assert!(
            !debug.contains("secret-subject") && !debug.contains("secret-jti"),
            "{debug}"
        );
        assert!(
            debug.contains("Subject") && debug.contains("IdentifiedBy"),
            "{debug}"
        );
        assert_eq!(debug.matches("<configured>").count(), 2, "{debug}");
    }

    #[test]
    fn an_accepted_value_listed_twice_still_matches() {
        let claims = Claims::builder()
            .issuer("a")
            .audience("api")
            .expires_in(Duration::hours(1))
            .build_with_clock(FixedClock::new(NOW))
            .unwrap();
        let set = rules()
            .issued_by_any(["a", "a"])
            .for_any_audience(["api", "web", "api"]);
        assert!(set.check(&claims, &Footer::None, Mode::Decode).is_ok());
    }

    #[test]
    fn a_custom_rule_shows_its_name_in_debug() {
        let set = rules().with_rule(rule_fn("tenant-matches", |_| Ok(())));
        let debug = format!("{set:?}");
        assert!(debug.contains("tenant-matches"), "{debug}");
    }

    #[test]
    fn the_expected_subject_and_token_id_pass_when_they_match() {
        let claims = Claims::builder()
            .subject("user-7")
            .token_id("jti-1")
            .expires_in(Duration::hours(1))
            .build_with_clock(FixedClock::new(NOW))
            .unwrap();
        let set = rules().subject("user-7").identified_by("jti-1");
        assert!(set.check(&claims, &Footer::None, Mode::Decode).is_ok());
        let other = rules().subject("user-8").identified_by("jti-2");
        assert_eq!(
            failed(other.check(&claims, &Footer::None, Mode::Decode)),
            ["subject", "identified-by"]
        );
    }
}
