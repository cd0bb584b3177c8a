//! `revoke`, `revoke-family` and `revoke-subject`, on a Redis token store.
//!
//! Entries are scoped by subject (Redis keys carry a hash tag of `sub`), so a
//! token id or family is revoked under the subject of its tokens: `--sub`, or
//! `--no-sub` for tokens without one. A store that cannot be reached exits 5.

use serde_json::json;
use vaulttoken::rules::RuleSet;
use vaulttoken::service::SubjectCutoff;
use vaulttoken::store::TokenStore as _;
use vaulttoken::time::{Date, Duration, OffsetDateTime, Time};

use super::decode::{KeyChoice, verify_any};
use super::{connect, duration_flag, instant_flag, load_kek, now, read_token_file, runtime};
use crate::args::{RevokeArgs, RevokeFamilyArgs, RevokeSubjectArgs, ScopeArgs};
use crate::exit::Failure;
use crate::keys_io::KeySource;
use crate::output::Report;
use crate::times::format_instant;

/// The last instant RFC 3339 can write: "for ever".
fn forever() -> OffsetDateTime {
    let date = Date::from_ordinal_date(9999, 365).unwrap_or(Date::MAX);
    OffsetDateTime::new_utc(date, Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT))
}

fn scope(args: &ScopeArgs) -> Result<Option<&str>, Failure> {
    match (&args.sub, args.no_sub) {
        (Some(sub), false) => Ok(Some(sub)),
        (None, true) => Ok(None),
        _ => Err(Failure::usage(
            "say which subject the token has: --sub SUB, or --no-sub for tokens without one (revocations are stored per subject)",
        )),
    }
}

fn store_failed(error: vaulttoken::error::StoreError) -> Failure {
    Failure::library("revoking", &vaulttoken::Error::from(error))
}

/// What `revoke` acts on.
struct Target {
    subject: Option<String>,
    jti: String,
    until: OffsetDateTime,
}

pub(super) fn revoke(args: &RevokeArgs) -> Result<Report, Failure> {
    let target = match &args.token {
        Some(path) => match target_of_token(args, path)? {
            Some(target) => target,
            None => {
                return Ok(Report::new(
                    "the token has expired (plus the leeway): nothing to revoke",
                    json!({ "revoked": false, "reason": "expired" }),
                ));
            }
        },
        None => Target {
            subject: scope(&args.scope)?.map(str::to_owned),
            jti: args
                .jti
                .clone()
                .ok_or_else(|| Failure::usage("give a JTI or --token FILE"))?,
            until: instant_flag(
                args.until
                    .as_deref()
                    .ok_or_else(|| Failure::usage("--until is required with a JTI"))?,
                "--until",
            )?,
        },
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        let store = connect(&args.redis.redis).await?;
        store
            .revoke(target.subject.as_deref(), &target.jti, target.until)
            .await
            .map_err(store_failed)
    })?;
    let until = format_instant(target.until);
    Ok(Report::new(
        format!(
            "revoked jti {} (sub {}) until {until}",
            target.jti,
            target.subject.as_deref().unwrap_or("(none)")
        ),
        json!({ "revoked": true, "jti": target.jti, "sub": target.subject, "until": until }),
    ))
}

/// Verifies the token (its expiry aside) and reads its `jti`, `sub` and
/// `exp`; `None` when it has expired beyond the leeway already.
fn target_of_token(args: &RevokeArgs, path: &std::path::Path) -> Result<Option<Target>, Failure> {
    let token = read_token_file(path)?;
    let choice = KeyChoice {
        key: KeySource::from_flags(args.key_file.as_deref(), args.key_env.as_deref()),
        ring: args.ring_file.as_deref(),
        kek: load_kek(&args.kek)?,
    };
    let leeway = duration_flag(&args.leeway, "--leeway")?;
    let rules = RuleSet::default()
        .accept_any_audience()
        .allow_non_expiring()
        .dangerously_accept_expired();
    let verified = verify_any(&token, &choice, rules)?;
    let claims = verified.claims();
    let jti = claims.token_id().ok_or_else(|| {
        Failure::usage("the token has no jti, so it cannot be revoked alone: use revoke-subject")
    })?;
    let until = match claims.expiration() {
        Some(exp) => exp.checked_add(leeway).unwrap_or_else(forever),
        None => forever(),
    };
    if until <= now() {
        return Ok(None);
    }
    Ok(Some(Target {
        subject: claims.subject().map(str::to_owned),
        jti: jti.to_owned(),
        until,
    }))
}

pub(super) fn revoke_family(args: &RevokeFamilyArgs) -> Result<Report, Failure> {
    let subject = scope(&args.scope)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let store = connect(&args.redis.redis).await?;
        store
            .revoke_family(subject, &args.id)
            .await
            .map_err(store_failed)
    })?;
    Ok(Report::new(
        format!(
            "revoked family {} (sub {})",
            args.id,
            subject.unwrap_or("(none)")
        ),
        json!({ "revoked": true, "family": args.id, "sub": subject }),
    ))
}

pub(super) fn revoke_subject(args: &RevokeSubjectArgs) -> Result<Report, Failure> {
    // The library's one rule for a cutoff: `now` covers this whole second
    // (`iat` counts whole seconds), and with no retention given it is kept
    // for ever, since the CLI cannot know every token kind the store holds.
    let rule = SubjectCutoff::new(now(), None, Duration::ZERO);
    let before = if args.before == "now" {
        rule.at()
    } else {
        instant_flag(&args.before, "--before")?
    };
    let until = match &args.until {
        Some(until) => instant_flag(until, "--until")?,
        None => rule.kept_until(),
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        let store = connect(&args.redis.redis).await?;
        store
            .revoke_issued_before(&args.sub, before, until)
            .await
            .map_err(store_failed)
    })?;
    let (before, until) = (format_instant(before), format_instant(until));
    Ok(Report::new(
        format!(
            "revoked every token of sub {} issued before {before} (remembered until {until})",
            args.sub
        ),
        json!({ "revoked": true, "sub": args.sub, "before": before, "until": until }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forever_is_the_last_rfc3339_second() {
        assert_eq!(format_instant(forever()), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn a_revocation_is_scoped_explicitly() {
        let with = ScopeArgs {
            sub: Some("alice".into()),
            no_sub: false,
        };
        assert_eq!(scope(&with).unwrap(), Some("alice"));
        let without = ScopeArgs {
            sub: None,
            no_sub: true,
        };
        assert_eq!(scope(&without).unwrap(), None);
        let neither = ScopeArgs {
            sub: None,
            no_sub: false,
        };
        assert!(scope(&neither).is_err());
    }
}
