//! `encrypt` and `sign`: claims from a JSON file or stdin, overridden by the
//! flags, into a `v4.local` or `v4.public` token. The key comes from a file or
//! the environment only. Claims on standard input without `--claims -` are
//! refused, never dropped.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
use vaulttoken::rules::RuleSet;
use vaulttoken::service::{ServiceBuilder, ServicePurpose, TokenService};
use vaulttoken::{Claims, LocalService, PublicService};

use super::instant_flag;
use crate::args::{IssueArgs, KeyArgs};
use crate::exit::{Exit, Failure};
use crate::files::{self, MAX_INPUT_LEN, Unread};
use crate::keys_io::{self, KeySource};
use crate::output::Report;
use crate::times;

pub(super) fn encrypt(args: &IssueArgs) -> Result<Report, Failure> {
    let key = keys_io::load_local(&key_source(&args.key)?, "the key")?;
    let kid = key
        .paserk_id()
        .map_err(|e| Failure::library("reading the key's id", &e))?;
    issue(LocalService::builder(Arc::new(key)), kid.as_str(), args)
}

pub(super) fn sign(args: &IssueArgs) -> Result<Report, Failure> {
    let key = keys_io::load_secret(&key_source(&args.key)?, "the key")?;
    // Tokens name the public key's id, as a signing ring's tokens do.
    let kid = key
        .public_key()
        .paserk_id()
        .map_err(|e| Failure::library("reading the key's id", &e))?;
    issue(PublicService::builder(Arc::new(key)), kid.as_str(), args)
}

/// The key's source (clap's group makes exactly one flag present).
pub(crate) fn key_source(args: &KeyArgs) -> Result<KeySource, Failure> {
    KeySource::from_flags(args.key_file.as_deref(), args.key_env.as_deref())
        .ok_or_else(|| Failure::usage("a key is needed: --key-file FILE or --key-env NAME"))
}

fn issue<P: ServicePurpose>(
    builder: ServiceBuilder<P, vaulttoken::service::OneKey>,
    default_kid: &str,
    args: &IssueArgs,
) -> Result<Report, Failure> {
    let claims = build_claims(args)?;
    let footer = match &args.footer {
        Some(text) => Footer::parse(text.as_bytes(), FooterMode::Auto, &FooterLimits::default())
            .map_err(|e| Failure::new(Exit::Usage, format!("--footer: {e}")))?,
        None => Footer::None,
    };
    let kid = match (&args.kid, &footer) {
        (Some(kid), _) => Some(kid.clone()),
        // A text footer cannot hold a `kid`.
        (None, Footer::Text(_)) => None,
        (None, _) => Some(default_kid.to_owned()),
    };
    let mut rules = RuleSet::default().accept_any_audience();
    if args.no_exp {
        rules = rules.allow_non_expiring();
    }
    let builder = builder.rules(rules);
    let service: TokenService<P> = match &kid {
        Some(kid) => builder.key_id(kid.clone()).build(),
        None => builder.build(),
    };
    let implicit = args.implicit.as_deref().unwrap_or_default().as_bytes();
    let token = service
        .encode_with(&claims, &footer, implicit)
        .map_err(|e| Failure::new(issue_exit(&e), format!("issuing the token: {e}")))?;
    let exp = issued_exp(&service, &token, implicit);
    Ok(Report::new(
        token.clone(),
        json!({ "token": token, "kid": kid, "exp": exp }),
    ))
}

/// Every refusal to issue is the caller's input, except the OS failing to
/// supply randomness (not reproducible in a test: cargo-mutants reports the
/// arm, which maps it as `classify` does).
fn issue_exit(error: &vaulttoken::Error) -> Exit {
    match error {
        vaulttoken::Error::Randomness => Exit::Io,
        _ => Exit::Usage,
    }
}

/// The `exp` the token was given, for the JSON report: read back from the
/// token the service just made, with the same key (`None` if the token is
/// not valid yet, e.g. a future `nbf`).
fn issued_exp<P: ServicePurpose>(
    service: &TokenService<P>,
    token: &str,
    implicit: &[u8],
) -> Option<String> {
    let verified = service.decode_with(token, None, implicit).ok()?;
    verified.claims().expiration().map(times::format_instant)
}

/// How long standard input that no flag asked to read may stay open
/// before `encrypt`/`sign` refuse (see [`refuse_unread_claims`]).
const STDIN_WAIT: Duration = Duration::from_secs(1);

/// Claims piped in without `--claims -` are not dropped silently: without
/// `--claims`, standard input must be a terminal or hold nothing (`<
/// /dev/null`, an empty pipe that ends at once); data, or a pipe still open
/// after [`STDIN_WAIT`], is refused and nothing is issued. Not looked at
/// when the key itself is read from standard input (`--key-file -`).
fn refuse_unread_claims(args: &IssueArgs) -> Result<(), Failure> {
    let stdin_read = args.claims.is_some() || args.key.key_file.as_deref() == Some(Path::new("-"));
    if stdin_read {
        return Ok(());
    }
    match files::unread_stdin(STDIN_WAIT) {
        Unread::Nothing => Ok(()),
        Unread::Data => Err(Failure::usage(
            "standard input holds data but --claims was not given: nothing was issued; \
             to issue the claims on standard input, add --claims -",
        )),
        Unread::StillOpen => Err(Failure::usage(format!(
            "standard input is still open after {}s and --claims was not given: nothing was \
             issued; to read claims from it add --claims -, to issue without, close it \
             (< /dev/null, ssh -n)",
            STDIN_WAIT.as_secs()
        ))),
        Unread::Unreadable(error) => Err(Failure::new(
            Exit::Io,
            format!("reading standard input (for claims not asked for): {error}"),
        )),
    }
}

/// The claims: the JSON document, then the flags over it.
fn build_claims(args: &IssueArgs) -> Result<Claims, Failure> {
    refuse_unread_claims(args)?;
    let mut map = match &args.claims {
        Some(path) => {
            let text = files::read_text(path, MAX_INPUT_LEN, "the claims")?;
            // The library's own payload checks first: one JSON object, no
            // duplicate names, registered claims of the right types.
            Claims::from_payload(text.as_bytes())
                .map_err(|e| Failure::usage(format!("the claims file: {e}")))?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(Failure::usage("the claims must be a JSON object")),
                Err(error) => {
                    return Err(Failure::usage(format!(
                        "the claims are not JSON (line {}, column {})",
                        error.line(),
                        error.column()
                    )));
                }
            }
        }
        None => Map::new(),
    };
    for (name, value) in [
        ("iss", &args.iss),
        ("sub", &args.sub),
        ("aud", &args.aud),
        ("jti", &args.jti),
    ] {
        if let Some(value) = value {
            map.insert(name.to_owned(), Value::String(value.clone()));
        }
    }
    for claim in &args.claim {
        let (name, value) = parse_claim(claim)?;
        map.insert(name, value);
    }
    if let Some(exp) = &args.exp {
        // Claim times are whole seconds.
        let at = instant_flag(exp, "--exp")?;
        let at = at.replace_nanosecond(0).unwrap_or(at);
        map.insert("exp".to_owned(), Value::String(times::format_instant(at)));
    }
    let claims = Claims::from_serializable(&map)
        .map_err(|e| Failure::usage(format!("invalid claims: {e}")))?;
    Ok(if args.no_exp {
        claims.without_expiry()
    } else {
        claims
    })
}

/// `NAME=VALUE`: VALUE as JSON if it parses as JSON, else as a string.
fn parse_claim(text: &str) -> Result<(String, Value), Failure> {
    let (name, value) = text
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| Failure::usage("--claim takes NAME=VALUE"))?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_values_are_json_when_they_parse_as_json() {
        assert_eq!(parse_claim("n=5").unwrap(), ("n".into(), json!(5)));
        assert_eq!(parse_claim("ok=true").unwrap(), ("ok".into(), json!(true)));
        assert_eq!(
            parse_claim("role=admin").unwrap(),
            ("role".into(), json!("admin"))
        );
        assert_eq!(
            parse_claim("zip=01234").unwrap(),
            ("zip".into(), json!("01234"))
        );
        assert_eq!(
            parse_claim("list=[1,2]").unwrap(),
            ("list".into(), json!([1, 2]))
        );
        assert_eq!(parse_claim("e=").unwrap(), ("e".into(), json!("")));
        assert_eq!(parse_claim("a=b=c").unwrap(), ("a".into(), json!("b=c")));
    }

    #[test]
    fn a_claim_needs_a_name_and_an_equals_sign() {
        assert_eq!(parse_claim("=x").unwrap_err().exit, Exit::Usage);
        assert_eq!(parse_claim("novalue").unwrap_err().exit, Exit::Usage);
    }
}
