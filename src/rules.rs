//! The rules engine: built-in claim rules, custom rules, and every failure
//! collected into one [`Violations`] list.
//!
//! A [`RuleSet`] is defined once and shared (it is cheap to clone); extend a copy
//! to make a stricter set. The default set checks that the token was issued in
//! the past, is not used before `nbf`, and has not expired, with no leeway. A
//! token without `exp` fails unless [`RuleSet::allow_non_expiring`] was called.

use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::claims::Claims;
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::footer::Footer;

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

/// One rule that failed: which rule, which claim, why, and (only where the rule
/// was configured with one) the expected value. Never a value from the token.
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::Violation;
///
/// let v = Violation::new("tenant", "must be set").on_claim("tenant");
/// assert_eq!(v.to_string(), "rule `tenant` failed on `tenant`: must be set");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    rule: Cow<'static, str>,
    claim: Option<Cow<'static, str>>,
    reason: Cow<'static, str>,
    expected: Option<String>,
}

impl Violation {
    /// A violation of `rule`, for `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = vaulttoken::rules::Violation::new("r", "why");
    /// assert_eq!(v.rule(), "r");
    /// ```
    #[must_use]
    pub fn new(rule: impl Into<Cow<'static, str>>, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            rule: rule.into(),
            claim: None,
            reason: reason.into(),
            expected: None,
        }
    }

    /// Names the claim the violation is about.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = vaulttoken::rules::Violation::new("r", "why").on_claim("sub");
    /// assert_eq!(v.claim(), Some("sub"));
    /// ```
    #[must_use]
    pub fn on_claim(mut self, claim: impl Into<Cow<'static, str>>) -> Self {
        self.claim = Some(claim.into());
        self
    }

    /// Records the value the rule was configured to expect. Never pass a value
    /// taken from the token.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = vaulttoken::rules::Violation::new("r", "why").expecting("api");
    /// assert_eq!(v.expected(), Some("api"));
    /// ```
    #[must_use]
    pub fn expecting(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// The rule's name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::rules::Violation::new("r", "w").rule(), "r");
    /// ```
    #[must_use]
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The claim, if the rule is about one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::rules::Violation::new("r", "w").claim(), None);
    /// ```
    #[must_use]
    pub fn claim(&self) -> Option<&str> {
        self.claim.as_deref()
    }

    /// Why the rule failed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::rules::Violation::new("r", "w").reason(), "w");
    /// ```
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The configured expected value, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::rules::Violation::new("r", "w").expected(), None);
    /// ```
    #[must_use]
    pub fn expected(&self) -> Option<&str> {
        self.expected.as_deref()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule `{}` failed", self.rule)?;
        if let Some(claim) = &self.claim {
            write!(f, " on `{claim}`")?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some(expected) = &self.expected {
            write!(f, " (expected {expected})")?;
        }
        Ok(())
    }
}

/// Every rule that failed for one token, in the order the rules ran.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::rules::{Mode, RuleSet};
/// use vaulttoken::{Claims, Error, FixedClock};
///
/// let claims = Claims::builder()
///     .issued_at(datetime!(2020-01-01 0:00 UTC))
///     .build()?;
/// let rules = RuleSet::default()
///     .with_clock(FixedClock::new(datetime!(2030-01-01 0:00 UTC)))
///     .issued_by("auth.example");
/// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
///     panic!("expected violations");
/// };
/// let failed: Vec<&str> = violations.iter().map(|v| v.rule()).collect();
/// assert_eq!(failed, ["not-expired", "issued-by"]);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// The violations, in rule order.
    ///
    /// # Examples
    ///
    /// See [`Violations`].
    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// How many rules failed (at least one).
    ///
    /// # Examples
    ///
    /// See [`Violations`].
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a `Violations` value lists at least one failure.
    ///
    /// # Examples
    ///
    /// See [`Violations`].
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the named rule is among the failures.
    ///
    /// # Examples
    ///
    /// See [`Violations`].
    #[must_use]
    pub fn contains_rule(&self, rule: &str) -> bool {
        self.0.iter().any(|v| v.rule() == rule)
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, violation) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
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
    pub now: OffsetDateTime,
    /// The rule set's leeway for clock skew.
    pub leeway: Duration,
    /// Earlier rules: their names and whether they passed.
    pub earlier: &'a [(Cow<'static, str>, bool)],
}

/// A claim rule. Implement it for your own checks, or wrap a closure with
/// [`rule_fn`].
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::{Rule, RuleContext, Violation};
///
/// #[derive(Debug)]
/// struct HasTenant;
///
/// impl Rule for HasTenant {
///     fn name(&self) -> &str { "has-tenant" }
///     fn check(&self, ctx: &RuleContext<'_>) -> Result<(), Violation> {
///         ctx.claims.custom_str("tenant").map(|_| ()).ok_or_else(|| {
///             Violation::new("has-tenant", "is required").on_claim("tenant")
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
/// use vaulttoken::rules::{RuleSet, Violation, rule_fn};
///
/// let rules = RuleSet::default().with_rule(rule_fn("role-is-admin", |ctx| {
///     match ctx.claims.custom_str("role") {
///         Some(role) if vaulttoken::rules::constant_time_eq(role, "admin") => Ok(()),
///         _ => Err(Violation::new("role-is-admin", "role must be admin").on_claim("role")),
///     }
/// }));
/// # let _ = rules;
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

/// Compares two strings in constant time (for equal lengths). Use it in custom
/// rules that compare secrets or identifiers.
///
/// # Examples
///
/// ```
/// assert!(vaulttoken::rules::constant_time_eq("abc", "abc"));
/// assert!(!vaulttoken::rules::constant_time_eq("abc", "abd"));
/// ```
#[must_use]
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether `value` equals any of `accepted`, checking every entry.
fn matches_any(value: &str, accepted: &[String]) -> bool {
    accepted.iter().fold(false, |found, candidate| {
        found | constant_time_eq(value, candidate)
    })
}

/// The built-in rules, to name one for [`RuleSet::without`].
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::{BuiltinRule, RuleSet};
///
/// let rules = RuleSet::default().without(BuiltinRule::NotBefore);
/// # let _ = rules;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuiltinRule {
    /// `issued-in-past`: `iat` is present and not in the future.
    IssuedInPast,
    /// `not-before`: `nbf` is present and has passed.
    NotBefore,
    /// `not-expired`: `exp` is present (unless non-expiring tokens are allowed) and
    /// has not passed.
    NotExpired,
    /// `issued-by`: `iss` is one of the accepted issuers.
    IssuedBy,
    /// `for-audience`: `aud` is one of the accepted audiences.
    ForAudience,
    /// `subject`: `sub` is the expected subject.
    Subject,
    /// `identified-by`: `jti` is the expected identifier.
    IdentifiedBy,
    /// `max-age`: `iat` is no older than the maximum age.
    MaxAge,
    /// `valid-at`: `iat`, `nbf` and `exp` are satisfied at a fixed instant.
    ValidAt,
    /// `required-claims`: every named claim is present.
    RequiredClaims,
}

/// A reusable set of rules. Cheap to clone; every method returns a new set.
///
/// Defaults: `issued-in-past`, `not-before` and `not-expired` on; leeway 0; the
/// system clock; non-expiring tokens refused.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use vaulttoken::rules::RuleSet;
///
/// let base = RuleSet::default().leeway(Duration::seconds(30));
/// let api = base.clone().issued_by_any(["auth-a", "auth-b"]).for_audience("api");
/// let admin = api.clone().require_claims(["role"]);
/// # let _ = admin;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RuleSet {
    clock: Arc<dyn Clock>,
    leeway: Duration,
    issued_in_past: bool,
    not_before: bool,
    not_expired: bool,
    allow_non_expiring: bool,
    max_age: Option<Duration>,
    valid_at: Option<OffsetDateTime>,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    subject: Option<String>,
    token_id: Option<String>,
    required: Vec<String>,
    custom: Vec<Arc<dyn Rule>>,
}

impl Default for RuleSet {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            leeway: Duration::ZERO,
            issued_in_past: true,
            not_before: true,
            not_expired: true,
            allow_non_expiring: false,
            max_age: None,
            valid_at: None,
            issuers: None,
            audiences: None,
            subject: None,
            token_id: None,
            required: Vec::new(),
            custom: Vec::new(),
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
    ///
    /// let rules = vaulttoken::rules::RuleSet::default()
    ///     .with_clock(vaulttoken::FixedClock::new(datetime!(2030-01-01 0:00 UTC)));
    /// # let _ = rules;
    /// ```
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Tolerates this much clock skew in every time rule (default 0).
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().leeway(time::Duration::seconds(60));
    /// # let _ = rules;
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.abs();
        self
    }

    /// Accepts tokens without `exp`. Needed, together with
    /// [`ClaimsBuilder::without_expiry`](crate::ClaimsBuilder::without_expiry), for
    /// non-expiring tokens.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().allow_non_expiring();
    /// # let _ = rules;
    /// ```
    pub fn allow_non_expiring(mut self) -> Self {
        self.allow_non_expiring = true;
        self
    }

    /// Requires `iss` to be `issuer`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().issued_by("auth.example");
    /// # let _ = rules;
    /// ```
    pub fn issued_by(self, issuer: impl Into<String>) -> Self {
        self.issued_by_any([issuer])
    }

    /// Requires `iss` to be one of `issuers`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().issued_by_any(["a", "b"]);
    /// # let _ = rules;
    /// ```
    pub fn issued_by_any<S: Into<String>>(mut self, issuers: impl IntoIterator<Item = S>) -> Self {
        self.issuers = Some(issuers.into_iter().map(Into::into).collect());
        self
    }

    /// Requires `aud` to be `audience`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().for_audience("api");
    /// # let _ = rules;
    /// ```
    pub fn for_audience(self, audience: impl Into<String>) -> Self {
        self.for_any_audience([audience])
    }

    /// Requires `aud` to be one of `audiences`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().for_any_audience(["api", "web"]);
    /// # let _ = rules;
    /// ```
    pub fn for_any_audience<S: Into<String>>(
        mut self,
        audiences: impl IntoIterator<Item = S>,
    ) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Requires `sub` to be `subject`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().subject("user-1");
    /// # let _ = rules;
    /// ```
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Requires `jti` to be `token_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().identified_by("t-1");
    /// # let _ = rules;
    /// ```
    pub fn identified_by(mut self, token_id: impl Into<String>) -> Self {
        self.token_id = Some(token_id.into());
        self
    }

    /// Refuses tokens whose `iat` is older than `max_age` (plus leeway).
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().max_age(time::Duration::minutes(15));
    /// # let _ = rules;
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Also requires `iat`, `nbf` and `exp` to be satisfied at `instant`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    ///
    /// let rules = vaulttoken::rules::RuleSet::default().valid_at(datetime!(2030-01-01 0:00 UTC));
    /// # let _ = rules;
    /// ```
    pub fn valid_at(mut self, instant: OffsetDateTime) -> Self {
        self.valid_at = Some(instant);
        self
    }

    /// Requires each named claim (registered or custom) to be present.
    ///
    /// # Examples
    ///
    /// ```
    /// let rules = vaulttoken::rules::RuleSet::default().require_claims(["sub", "role"]);
    /// # let _ = rules;
    /// ```
    pub fn require_claims<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.required.extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds a custom rule; custom rules run after the built-ins, in the order added.
    ///
    /// # Examples
    ///
    /// See [`rule_fn`].
    pub fn with_rule(mut self, rule: impl Rule + 'static) -> Self {
        self.custom.push(Arc::new(rule));
        self
    }

    /// Removes a built-in rule (replace it by adding a custom rule).
    ///
    /// # Examples
    ///
    /// See [`BuiltinRule`].
    pub fn without(mut self, rule: BuiltinRule) -> Self {
        match rule {
            BuiltinRule::IssuedInPast => self.issued_in_past = false,
            BuiltinRule::NotBefore => self.not_before = false,
            BuiltinRule::NotExpired => self.not_expired = false,
            BuiltinRule::IssuedBy => self.issuers = None,
            BuiltinRule::ForAudience => self.audiences = None,
            BuiltinRule::Subject => self.subject = None,
            BuiltinRule::IdentifiedBy => self.token_id = None,
            BuiltinRule::MaxAge => self.max_age = None,
            BuiltinRule::ValidAt => self.valid_at = None,
            BuiltinRule::RequiredClaims => self.required.clear(),
        }
        self
    }

    /// Runs every rule and reports all failures together.
    ///
    /// # Errors
    ///
    /// [`Error::Claims`] listing every violation.
    ///
    /// # Examples
    ///
    /// See [`Violations`].
    pub fn check(&self, claims: &Claims, footer: &Footer, mode: Mode) -> Result<(), Error> {
        let now = self.clock.now();
        let mut outcomes: Vec<(Cow<'static, str>, bool)> = Vec::new();
        let mut violations = Vec::new();
        let mut record = |name: &'static str, result: Result<(), Violation>| {
            outcomes.push((Cow::Borrowed(name), result.is_ok()));
            if let Err(violation) = result {
                violations.push(violation);
            }
        };
        let leeway = self.leeway;
        if self.issued_in_past {
            record("issued-in-past", issued_in_past(claims, now, leeway));
        }
        if self.not_before {
            record("not-before", not_before(claims, now, leeway));
        }
        if self.not_expired {
            record("not-expired", self.not_expired(claims, now));
        }
        if let Some(max_age) = self.max_age {
            record("max-age", max_age_rule(claims, now, leeway, max_age));
        }
        if let Some(at) = self.valid_at {
            let at_time = [
                issued_in_past(claims, at, leeway),
                not_before(claims, at, leeway),
                self.not_expired(claims, at),
            ];
            let first_failure = at_time.into_iter().find_map(Result::err);
            record(
                "valid-at",
                first_failure.map_or(Ok(()), |v| {
                    Err(Violation {
                        rule: Cow::Borrowed("valid-at"),
                        ..v
                    })
                }),
            );
        }
        if let Some(issuers) = &self.issuers {
            record(
                "issued-by",
                one_of("issued-by", "iss", claims.issuer(), issuers),
            );
        }
        if let Some(audiences) = &self.audiences {
            record(
                "for-audience",
                one_of("for-audience", "aud", claims.audience(), audiences),
            );
        }
        if let Some(subject) = &self.subject {
            record(
                "subject",
                one_of(
                    "subject",
                    "sub",
                    claims.subject(),
                    core::slice::from_ref(subject),
                ),
            );
        }
        if let Some(token_id) = &self.token_id {
            record(
                "identified-by",
                one_of(
                    "identified-by",
                    "jti",
                    claims.token_id(),
                    core::slice::from_ref(token_id),
                ),
            );
        }
        let before_required = violations.len();
        for name in &self.required {
            if !has_claim(claims, name) {
                violations
                    .push(Violation::new("required-claims", "is required").on_claim(name.clone()));
            }
        }
        outcomes.push((
            Cow::Borrowed("required-claims"),
            violations.len() == before_required,
        ));
        for rule in &self.custom {
            let ctx = RuleContext {
                claims,
                footer,
                mode,
                now,
                leeway,
                earlier: &outcomes,
            };
            let result = rule.check(&ctx);
            outcomes.push((Cow::Owned(rule.name().to_owned()), result.is_ok()));
            if let Err(violation) = result {
                violations.push(violation);
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::Claims(Violations(violations)))
        }
    }

    fn not_expired(&self, claims: &Claims, now: OffsetDateTime) -> Result<(), Violation> {
        match claims.expiration() {
            None if self.allow_non_expiring => Ok(()),
            None => Err(Violation::new(
                "not-expired",
                "is required (non-expiring tokens are not allowed)",
            )
            .on_claim("exp")),
            Some(exp) if now < exp + self.leeway => Ok(()),
            Some(_) => Err(Violation::new("not-expired", "token has expired").on_claim("exp")),
        }
    }
}

fn issued_in_past(claims: &Claims, now: OffsetDateTime, leeway: Duration) -> Result<(), Violation> {
    match claims.issued_at() {
        None => Err(Violation::new("issued-in-past", "is required").on_claim("iat")),
        Some(iat) if iat <= now + leeway => Ok(()),
        Some(_) => Err(Violation::new("issued-in-past", "is in the future").on_claim("iat")),
    }
}

fn not_before(claims: &Claims, now: OffsetDateTime, leeway: Duration) -> Result<(), Violation> {
    match claims.not_before() {
        None => Err(Violation::new("not-before", "is required").on_claim("nbf")),
        Some(nbf) if nbf <= now + leeway => Ok(()),
        Some(_) => Err(Violation::new("not-before", "token is not valid yet").on_claim("nbf")),
    }
}

fn max_age_rule(
    claims: &Claims,
    now: OffsetDateTime,
    leeway: Duration,
    max_age: Duration,
) -> Result<(), Violation> {
    match claims.issued_at() {
        None => Err(Violation::new("max-age", "is required").on_claim("iat")),
        Some(iat) if now - iat <= max_age + leeway => Ok(()),
        Some(_) => Err(Violation::new("max-age", "token is too old")
            .on_claim("iat")
            .expecting(format!("at most {max_age}"))),
    }
}

fn one_of(
    rule: &'static str,
    claim: &'static str,
    value: Option<&str>,
    accepted: &[String],
) -> Result<(), Violation> {
    let expected = || match accepted {
        [one] => format!("`{one}`"),
        many => format!(
            "one of {}",
            many.iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match value {
        Some(value) if matches_any(value, accepted) => Ok(()),
        Some(_) => Err(Violation::new(rule, "does not match")
            .on_claim(claim)
            .expecting(expected())),
        None => Err(Violation::new(rule, "is required")
            .on_claim(claim)
            .expecting(expected())),
    }
}

fn has_claim(claims: &Claims, name: &str) -> bool {
    match name {
        "iss" => claims.issuer().is_some(),
        "sub" => claims.subject().is_some(),
        "aud" => claims.audience().is_some(),
        "exp" => claims.expiration().is_some(),
        "nbf" => claims.not_before().is_some(),
        "iat" => claims.issued_at().is_some(),
        "jti" => claims.token_id().is_some(),
        custom => claims.custom(custom).is_some(),
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
            .build_with_clock(&FixedClock::new(iat))
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
            .build_with_clock(&FixedClock::new(NOW))
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
            .build_with_clock(&FixedClock::new(NOW))
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
        let claims = claims_at(NOW - Duration::hours(2));
        let set = rules().without(BuiltinRule::NotExpired);
        assert!(set.check(&claims, &Footer::None, Mode::Decode).is_ok());
    }

    #[test]
    fn custom_rules_see_mode_and_earlier_results_and_run_last() {
        let set = rules()
            .with_rule(rule_fn("first", |ctx| {
                if ctx.mode == Mode::Encode {
                    Err(Violation::new("first", "no issuing here"))
                } else {
                    Ok(())
                }
            }))
            .with_rule(rule_fn("second", |ctx| {
                let expired = ctx.earlier.iter().any(|(n, ok)| n == "not-expired" && !ok);
                let first_ran = ctx.earlier.iter().any(|(n, _)| n == "first");
                if expired && first_ran {
                    Err(Violation::new("second", "saw the failure"))
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
}
