//! `decrypt` and `verify`: authenticate a token, run the rules, optionally ask
//! the Redis store, and print the verified claims.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
use vaulttoken::rules::RuleSet;
use vaulttoken::service::{ServiceBuilder, ServicePurpose, TokenService, VerifiedToken};
use vaulttoken::v4::{Local, Public};
use vaulttoken::{LocalService, PublicService};

use super::{claims_json, duration_flag, load_kek, read_token};
use crate::args::{DecodeArgs, REDIS_URL};
use crate::exit::{Exit, Failure};
use crate::keys_io::{self, KeySource};
use crate::output::Report;
use crate::rings::{self, LoadedRing};

pub(super) fn decrypt(args: &DecodeArgs) -> Result<Report, Failure> {
    let build = local_service(args)?;
    report(build, args)
}

pub(super) fn verify(args: &DecodeArgs) -> Result<Report, Failure> {
    let build = public_service(args)?;
    report(build, args)
}

/// A service, once it is known whether it checks a store: the keys are
/// loaded first, so a missing key is reported as such before any
/// connection is tried.
type Build<P> = Box<dyn FnOnce(Option<&Store>) -> TokenService<P>>;

/// A Redis store and the runtime that drives it.
#[derive(Debug)]
struct Store {
    runtime: tokio::runtime::Runtime,
    store: Arc<vaulttoken_redis::RedisStore>,
}

impl Store {
    /// Connects when a URL is given.
    fn connect(url: Option<&str>) -> Result<Option<Self>, Failure> {
        let Some(url) = url else {
            return Ok(None);
        };
        let runtime = super::runtime()?;
        let store = runtime.block_on(super::connect(url))?;
        Ok(Some(Self {
            runtime,
            store: Arc::new(store),
        }))
    }
}

/// The store to ask, from `--redis` or REDIS_URL. An empty REDIS_URL is no
/// store, as the server reads it; an empty `--redis` (`--redis "$REDIS_URL"`
/// with the variable unset) is refused, never read as "no store": that
/// would stop checking revocations without a word.
fn store_url(url: Option<&str>, empty_env: bool) -> Result<Option<&str>, Failure> {
    match url {
        Some("") if empty_env => Ok(None),
        Some("") => Err(Failure::usage(
            "--redis is empty: give the token store's URL, or leave --redis out",
        )),
        url => Ok(url),
    }
}

fn local_service(args: &DecodeArgs) -> Result<Build<Local>, Failure> {
    let rules = rules(args)?;
    if let Some(path) = &args.key.ring_file {
        return match load_ring(path, args)? {
            LoadedRing::Local(ring) => Ok(finish(LocalService::from_ring(Arc::new(ring)), rules)),
            _ => Err(Failure::usage(
                "the ring file holds keys for v4.public: use verify",
            )),
        };
    }
    let key = keys_io::load_local(&key_source(args)?, "the key")?;
    Ok(finish(LocalService::builder(Arc::new(key)), rules))
}

fn public_service(args: &DecodeArgs) -> Result<Build<Public>, Failure> {
    let rules = rules(args)?;
    if let Some(path) = &args.key.ring_file {
        return match load_ring(path, args)? {
            LoadedRing::Signing(ring) => {
                Ok(finish(PublicService::from_ring(Arc::new(ring)), rules))
            }
            LoadedRing::Public(ring) => Ok(finish(PublicService::from_ring(Arc::new(ring)), rules)),
            LoadedRing::Local(_) => Err(Failure::usage(
                "the ring file holds v4.local keys: use decrypt",
            )),
        };
    }
    let key = keys_io::load_public(&key_source(args)?, "the key")?;
    Ok(finish(PublicService::verifier(Arc::new(key)), rules))
}

fn load_ring(path: &Path, args: &DecodeArgs) -> Result<LoadedRing, Failure> {
    let kek = load_kek(&args.kek)?;
    rings::load(path, kek.as_ref())
}

fn key_source(args: &DecodeArgs) -> Result<KeySource, Failure> {
    KeySource::from_flags(args.key.key_file.as_deref(), args.key.key_env.as_deref())
        .ok_or_else(|| Failure::usage("a key is needed: --key-file, --key-env or --ring-file"))
}

/// The rules the flags ask for.
fn rules(args: &DecodeArgs) -> Result<RuleSet, Failure> {
    let mut rules = RuleSet::default();
    rules = match &args.audience.aud {
        Some(aud) => rules.for_audience(aud.clone()),
        None => rules.accept_any_audience(),
    };
    if let Some(iss) = &args.iss {
        rules = rules.issued_by(iss.clone());
    }
    if let Some(sub) = &args.sub {
        rules = rules.subject(sub.clone());
    }
    if let Some(leeway) = &args.leeway {
        rules = rules.leeway(duration_flag(leeway, "--leeway")?);
    }
    if let Some(max_age) = &args.max_age {
        rules = rules.max_age(duration_flag(max_age, "--max-age")?);
    }
    if args.allow_no_exp {
        rules = rules.allow_non_expiring();
    }
    Ok(rules)
}

fn finish<P: ServicePurpose, S: 'static>(
    builder: ServiceBuilder<P, S>,
    rules: RuleSet,
) -> Build<P> {
    Box::new(move |store| {
        let builder = builder.rules(rules);
        match store {
            Some(store) => builder.store(store.store.clone()).build(),
            None => builder.build(),
        }
    })
}

/// Decodes with the flags' footer and implicit assertion, asking the store
/// when there is one.
fn decode<P: ServicePurpose>(
    service: &TokenService<P>,
    token: &str,
    args: &DecodeArgs,
    store: Option<&Store>,
) -> Result<VerifiedToken, Failure> {
    let expected = args
        .expected_footer
        .as_ref()
        .map(|text| {
            Footer::parse(text.as_bytes(), FooterMode::Auto, &FooterLimits::default())
                .map_err(|e| Failure::usage(format!("--expected-footer: {e}")))
        })
        .transpose()?;
    let implicit = args.implicit.as_deref().unwrap_or_default().as_bytes();
    let result = match store {
        None => service.decode_with(token, expected.as_ref(), implicit),
        Some(store) => {
            store
                .runtime
                .block_on(service.decode_async_with(token, expected.as_ref(), implicit))
        }
    };
    result.map_err(|error| Failure::library("the token was refused", &error))
}

fn report<P: ServicePurpose>(build: Build<P>, args: &DecodeArgs) -> Result<Report, Failure> {
    let token = read_token(args.token.as_deref())?;
    let empty_env = std::env::var_os(REDIS_URL).is_some_and(|value| value.is_empty());
    let store = Store::connect(store_url(args.redis.as_deref(), empty_env)?)?;
    let service = build(store.as_ref());
    let verified = decode(&service, &token, args, store.as_ref())?;
    let claims = claims_json(verified.claims())?;
    let footer = String::from_utf8_lossy(&verified.footer().to_bytes()).into_owned();
    let text = serde_json::to_string_pretty(&claims)
        .map_err(|_| Failure::new(Exit::Io, "printing the claims"))?;
    Ok(Report::new(
        text,
        json!({ "valid": true, "claims": claims, "footer": footer }),
    ))
}

/// Where a key for [`verify_any`] comes from: a key, or a ring (and its KEK).
#[derive(Debug)]
pub(crate) struct KeyChoice<'a> {
    pub(crate) key: Option<KeySource>,
    pub(crate) ring: Option<&'a Path>,
    pub(crate) kek: Option<vaulttoken::LocalKey>,
}

/// Verifies a token of either purpose (read from its header) with `rules`.
pub(crate) fn verify_any(
    token: &str,
    choice: &KeyChoice<'_>,
    rules: RuleSet,
) -> Result<VerifiedToken, Failure> {
    let failed = |error: vaulttoken::Error| Failure::library("the token was refused", &error);
    let ring = choice
        .ring
        .map(|path| rings::load(path, choice.kek.as_ref()))
        .transpose()?;
    let key = || {
        choice
            .key
            .clone()
            .ok_or_else(|| Failure::usage("a key is needed: --key-file, --key-env or --ring-file"))
    };
    if token.starts_with("v4.local.") {
        let service = match ring {
            Some(LoadedRing::Local(ring)) => {
                LocalService::from_ring(Arc::new(ring)).rules(rules).build()
            }
            Some(_) => {
                return Err(Failure::usage(
                    "the ring file holds keys for v4.public, the token is v4.local",
                ));
            }
            None => LocalService::builder(Arc::new(keys_io::load_local(&key()?, "the key")?))
                .rules(rules)
                .build(),
        };
        return service.decode(token).map_err(failed);
    }
    if token.starts_with("v4.public.") {
        let service = match ring {
            Some(LoadedRing::Signing(ring)) => PublicService::from_ring(Arc::new(ring))
                .rules(rules)
                .build(),
            Some(LoadedRing::Public(ring)) => PublicService::from_ring(Arc::new(ring))
                .rules(rules)
                .build(),
            Some(LoadedRing::Local(_)) => {
                return Err(Failure::usage(
                    "the ring file holds v4.local keys, the token is v4.public",
                ));
            }
            None => PublicService::verifier(Arc::new(keys_io::load_public(&key()?, "the key")?))
                .rules(rules)
                .build(),
        };
        return service.decode(token).map_err(failed);
    }
    Err(Failure::new(
        Exit::Invalid,
        "not a v4.local or v4.public token",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_redis_url_is_no_store_only_from_the_environment() {
        let url = "redis://127.0.0.1:6379";
        assert_eq!(store_url(Some(url), false).unwrap(), Some(url));
        assert_eq!(store_url(Some(url), true).unwrap(), Some(url));
        assert_eq!(store_url(None, false).unwrap(), None);
        // REDIS_URL= (set, empty): no store, as the server reads it.
        assert_eq!(store_url(Some(""), true).unwrap(), None);
        // --redis "" with REDIS_URL unset or not empty: refused.
        assert_eq!(store_url(Some(""), false).unwrap_err().exit, Exit::Usage);
    }
}
