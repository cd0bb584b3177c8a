//! The built-in rules, as data: each is a [`Builtin`] value in a rule set's
//! list, checked by the same loop as custom rules. A rule's name is written once,
//! in `RuleId::name`, and the built-ins run in `RuleId`'s order; adding a
//! built-in means a variant there and here, its check, and the `RuleSet` method
//! that configures it.
//!
//! The time rules never panic, whatever the times: they compare differences
//! (`now - exp < leeway`) instead of computing `exp + leeway`, which overflows
//! near the ends of the range `time` can represent.

use core::fmt;
use std::borrow::Cow;

use time::{Duration, OffsetDateTime};

use super::{RuleContext, matches_any};
use crate::claims::Claims;
use crate::error::{RuleId, Violation};
use crate::primitives::constant_time_eq;

/// A violation of the built-in `rule`.
fn violation(rule: RuleId, reason: impl Into<Cow<'static, str>>) -> Violation {
    Violation::of(rule, reason)
}

/// A configured value the rules never show: not in errors, not in `Debug`.
#[derive(Clone)]
pub(super) struct Unshown(pub(super) String);

impl fmt::Debug for Unshown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<configured>")
    }
}

/// Which audiences a rule set accepts.
#[derive(Debug, Clone)]
pub(super) enum Audiences {
    /// None: a token that names an audience is refused on decode.
    None,
    /// One of these.
    OneOf(Vec<String>),
}

/// One built-in rule and its configuration.
#[derive(Debug, Clone)]
pub(super) enum Builtin {
    /// `iat`, if present, is not in the future (beyond the leeway).
    IssuedInPast,
    /// `nbf`, if present, has passed (within the leeway).
    NotBefore,
    /// `exp` is present (unless allowed not to be) and has not passed.
    NotExpired {
        allow_non_expiring: bool,
        dangerously_accept_expired: bool,
    },
    /// `iat` is present and no older than this.
    MaxAge(Duration),
    /// `exp` is present and no further from now than this.
    MaxValidity(Duration),
    /// `iat`, `nbf` and `exp`, where present, are satisfied at this instant.
    ValidAt(OffsetDateTime),
    /// `iss` is one of these.
    IssuedBy(Vec<String>),
    /// `aud` is one of these, or absent when none is accepted.
    ForAudience(Audiences),
    /// `sub` is this.
    Subject(Unshown),
    /// `jti` is this.
    IdentifiedBy(Unshown),
    /// Each of these claims is present.
    RequiredClaims(Required),
}

/// The claims a rule set requires, in the order they were named, with the
/// registered ones also kept as a set of bits: a token that has them all, the
/// usual case, is checked with a few field reads instead of a string match
/// per name.
#[derive(Debug, Clone, Default)]
pub(super) struct Required {
    /// Every name, in order: the violations name the missing ones in it.
    names: Vec<String>,
    /// The registered claims among `names`, one bit each ([`registered_bit`]).
    registered: u8,
    /// The other names: custom claims.
    custom: Vec<String>,
}

/// The bits of the registered claims.
const ISS: u8 = 1;
const SUB: u8 = 1 << 1;
const AUD: u8 = 1 << 2;
const EXP: u8 = 1 << 3;
const NBF: u8 = 1 << 4;
const IAT: u8 = 1 << 5;
const JTI: u8 = 1 << 6;

/// The bit of a registered claim's name, or `None` for a custom claim.
fn registered_bit(name: &str) -> Option<u8> {
    match name {
        "iss" => Some(ISS),
        "sub" => Some(SUB),
        "aud" => Some(AUD),
        "exp" => Some(EXP),
        "nbf" => Some(NBF),
        "iat" => Some(IAT),
        "jti" => Some(JTI),
        _ => None,
    }
}

/// Whether `claims` has every registered claim whose bit is in `bits`.
fn has_registered(claims: &Claims, bits: u8) -> bool {
    // Each claim is read only when its bit is asked for.
    (bits & ISS == 0 || claims.issuer().is_some())
        && (bits & SUB == 0 || claims.subject().is_some())
        && (bits & AUD == 0 || claims.audience().is_some())
        && (bits & EXP == 0 || claims.expiration().is_some())
        && (bits & NBF == 0 || claims.not_before().is_some())
        && (bits & IAT == 0 || claims.issued_at().is_some())
        && (bits & JTI == 0 || claims.token_id().is_some())
}

impl Required {
    /// Adds `names` to the set, after those it has.
    pub(super) fn extend(&mut self, names: impl IntoIterator<Item = String>) {
        for name in names {
            match registered_bit(&name) {
                Some(bit) => self.registered |= bit,
                None => self.custom.push(name.clone()),
            }
            self.names.push(name);
        }
    }

    /// Adds a violation to `out` for each name `claims` lacks, in order.
    fn check(&self, claims: &Claims, out: &mut Vec<Violation>) {
        let all_present = has_registered(claims, self.registered)
            && self.custom.iter().all(|name| claims.custom(name).is_some());
        if all_present {
            return;
        }
        out.extend(
            self.names
                .iter()
                .filter(|name| !has_claim(claims, name))
                .map(|name| {
                    violation(RuleId::RequiredClaims, "is required").on_claim(name.clone())
                }),
        );
    }
}

impl Builtin {
    pub(super) fn kind(&self) -> RuleId {
        match self {
            Self::IssuedInPast => RuleId::IssuedInPast,
            Self::NotBefore => RuleId::NotBefore,
            Self::NotExpired { .. } => RuleId::NotExpired,
            Self::MaxAge(_) => RuleId::MaxAge,
            Self::MaxValidity(_) => RuleId::MaxValidity,
            Self::ValidAt(_) => RuleId::ValidAt,
            Self::IssuedBy(_) => RuleId::IssuedBy,
            Self::ForAudience(_) => RuleId::ForAudience,
            Self::Subject(_) => RuleId::Subject,
            Self::IdentifiedBy(_) => RuleId::IdentifiedBy,
            Self::RequiredClaims(_) => RuleId::RequiredClaims,
        }
    }

    /// Checks one token, adding every violation to `out`.
    pub(super) fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Violation>) {
        let claims = ctx.claims;
        let result = match self {
            Self::IssuedInPast => issued_in_past(claims, ctx.now, ctx.leeway),
            Self::NotBefore => not_before(claims, ctx.now, ctx.leeway),
            Self::NotExpired {
                allow_non_expiring,
                dangerously_accept_expired,
            } => {
                let check_time = !(*dangerously_accept_expired && ctx.mode == super::Mode::Decode);
                not_expired(claims, *allow_non_expiring, check_time, ctx)
            }
            Self::MaxAge(max_age) => max_age_rule(claims, ctx.now, ctx.leeway, *max_age),
            Self::MaxValidity(max) => max_validity_rule(claims, ctx.now, ctx.leeway, *max),
            Self::ValidAt(at) => valid_at(claims, *at, ctx.leeway),
            Self::IssuedBy(issuers) => one_of(RuleId::IssuedBy, "iss", claims.issuer(), issuers),
            Self::ForAudience(Audiences::OneOf(audiences)) => {
                one_of(RuleId::ForAudience, "aud", claims.audience(), audiences)
            }
            Self::ForAudience(Audiences::None) => no_audience(claims, ctx.mode),
            Self::Subject(subject) => {
                equals_unshown(RuleId::Subject, "sub", claims.subject(), subject)
            }
            Self::IdentifiedBy(token_id) => {
                equals_unshown(RuleId::IdentifiedBy, "jti", claims.token_id(), token_id)
            }
            Self::RequiredClaims(required) => {
                required.check(claims, out);
                Ok(())
            }
        };
        if let Err(violation) = result {
            out.push(violation);
        }
    }
}

/// The signed time from `from` to `to` (`to - from`), exactly. The time rules
/// compare it with the leeway instead of computing `from + leeway`, which panics
/// near the ends of the representable range.
///
/// Never panics: every `OffsetDateTime` lies within about ±10,000 years (±1
/// million with `time`'s `large-dates`), so the difference of any two, offsets
/// included, is far inside `Duration`'s range of ±2^63 seconds.
pub(super) fn elapsed(from: OffsetDateTime, to: OffsetDateTime) -> Duration {
    to - from
}

/// `iat`, if present, is not in the future: `iat <= now + leeway`.
fn issued_in_past(claims: &Claims, now: OffsetDateTime, leeway: Duration) -> Result<(), Violation> {
    match claims.issued_at() {
        Some(iat) if elapsed(now, iat) > leeway => {
            Err(violation(RuleId::IssuedInPast, "is in the future").on_claim("iat"))
        }
        _ => Ok(()),
    }
}

/// `nbf`, if present, has passed: `nbf <= now + leeway`.
fn not_before(claims: &Claims, now: OffsetDateTime, leeway: Duration) -> Result<(), Violation> {
    match claims.not_before() {
        Some(nbf) if elapsed(now, nbf) > leeway => {
            Err(violation(RuleId::NotBefore, "token is not valid yet").on_claim("nbf"))
        }
        _ => Ok(()),
    }
}

/// `exp` is present (unless non-expiring tokens are allowed) and, if
/// `check_time`, has not passed: `now < exp + leeway`.
fn not_expired(
    claims: &Claims,
    allow_non_expiring: bool,
    check_time: bool,
    ctx: &RuleContext<'_>,
) -> Result<(), Violation> {
    match claims.expiration() {
        None if allow_non_expiring => Ok(()),
        None => Err(violation(
            RuleId::NotExpired,
            "is required (non-expiring tokens are not allowed)",
        )
        .on_claim("exp")),
        Some(exp) if check_time && elapsed(exp, ctx.now) >= ctx.leeway => {
            Err(violation(RuleId::NotExpired, "token has expired").on_claim("exp"))
        }
        Some(_) => Ok(()),
    }
}

fn max_age_rule(
    claims: &Claims,
    now: OffsetDateTime,
    leeway: Duration,
    max_age: Duration,
) -> Result<(), Violation> {
    match claims.issued_at() {
        None => Err(violation(RuleId::MaxAge, "is required").on_claim("iat")),
        // Saturating is exact here: `elapsed` is far inside `Duration`'s range, so
        // a sum that saturates is beyond any age anyway.
        Some(iat) if elapsed(iat, now) <= max_age.saturating_add(leeway) => Ok(()),
        Some(_) => Err(violation(RuleId::MaxAge, "token is too old")
            .on_claim("iat")
            .expecting(format!("at most {max_age}"))),
    }
}

/// `exp` is present and no further from `now` than `max_validity` (plus leeway).
fn max_validity_rule(
    claims: &Claims,
    now: OffsetDateTime,
    leeway: Duration,
    max_validity: Duration,
) -> Result<(), Violation> {
    match claims.expiration() {
        None => Err(violation(RuleId::MaxValidity, "is required").on_claim("exp")),
        // As in `max_age_rule`, saturating is exact.
        Some(exp) if elapsed(now, exp) <= max_validity.saturating_add(leeway) => Ok(()),
        Some(_) => Err(
            violation(RuleId::MaxValidity, "token is valid for too long")
                .on_claim("exp")
                .expecting(format!("at most {max_validity}")),
        ),
    }
}

/// `iat`, `nbf` and `exp`, where present, are satisfied at `at`: the first
/// that is not, reported as `valid-at`.
fn valid_at(claims: &Claims, at: OffsetDateTime, leeway: Duration) -> Result<(), Violation> {
    let expired = claims
        .expiration()
        .filter(|&exp| elapsed(exp, at) >= leeway)
        .map(|_| Cow::Borrowed("token has expired"));
    let failure = [
        issued_in_past(claims, at, leeway).err().map(|v| v.reason),
        not_before(claims, at, leeway).err().map(|v| v.reason),
        expired,
    ];
    let claim_of = ["iat", "nbf", "exp"];
    match failure.into_iter().zip(claim_of).find(|(f, _)| f.is_some()) {
        Some((Some(reason), claim)) => Err(violation(RuleId::ValidAt, reason).on_claim(claim)),
        _ => Ok(()),
    }
}

/// With no audience configured, a token must not name one (checked on decode:
/// an issuer names audiences it does not serve itself).
fn no_audience(claims: &Claims, mode: super::Mode) -> Result<(), Violation> {
    match (claims.audience(), mode) {
        (Some(_), super::Mode::Decode) => Err(violation(
            RuleId::ForAudience,
            "the token names an audience and this rule set accepts none \
                 (configure `for_audience` or `accept_any_audience`)",
        )
        .on_claim("aud")),
        _ => Ok(()),
    }
}

fn one_of(
    rule: RuleId,
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
        Some(_) => Err(violation(rule, "does not match")
            .on_claim(claim)
            .expecting(expected())),
        None => Err(violation(rule, "is required")
            .on_claim(claim)
            .expecting(expected())),
    }
}

/// `value` equals `expected`, with a violation that does not say what was
/// expected: anyone holding a valid token could read it from the error.
fn equals_unshown(
    rule: RuleId,
    claim: &'static str,
    value: Option<&str>,
    expected: &Unshown,
) -> Result<(), Violation> {
    match value {
        Some(value) if constant_time_eq(value, &expected.0) => Ok(()),
        Some(_) => Err(violation(rule, "does not match").on_claim(claim)),
        None => Err(violation(rule, "is required").on_claim(claim)),
    }
}

/// Whether `claims` has the claim `name`, registered or custom.
fn has_claim(claims: &Claims, name: &str) -> bool {
    match registered_bit(name) {
        Some(bit) => has_registered(claims, bit),
        None => claims.custom(name).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_never_overflows_between_the_farthest_instants() {
        use time::PrimitiveDateTime;
        use time::macros::offset;

        let first = PrimitiveDateTime::MIN.assume_offset(offset!(+23:59:59));
        let last = PrimitiveDateTime::MAX.assume_offset(offset!(-23:59:59));
        let span = elapsed(first, last);
        assert_eq!(
            span.whole_nanoseconds(),
            last.unix_timestamp_nanos() - first.unix_timestamp_nanos()
        );
        assert_eq!(elapsed(last, first), -span);
        assert!(span < Duration::MAX);
    }
}
