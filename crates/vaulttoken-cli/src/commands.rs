//! One module per subcommand; this one dispatches and holds what several
//! share (reading a token, building rules, the Redis store).

mod decode;
mod inspect;
mod issue;
mod keygen;
mod paserk;
mod revoke;
mod ring;
mod selftest;

use std::path::Path;

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::time::{Duration, OffsetDateTime};
use vaulttoken::{Claims, LocalKey};
use zeroize::Zeroizing;

use crate::args::{Cli, Command, KekArgs};
use crate::exit::{Exit, Failure};
use crate::files::{self, MAX_INPUT_LEN};
use crate::keys_io::{self, KeySource};
use crate::output::Report;
use crate::times;

/// Runs the command the command line names.
pub(crate) fn run(cli: &Cli) -> Result<Report, Failure> {
    match &cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Encrypt(args) => issue::encrypt(args),
        Command::Sign(args) => issue::sign(args),
        Command::Decrypt(args) => decode::decrypt(args),
        Command::Verify(args) => decode::verify(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Paserk(command) => paserk::run(command),
        Command::Ring(command) => ring::run(command),
        Command::Revoke(args) => revoke::revoke(args),
        Command::RevokeFamily(args) => revoke::revoke_family(args),
        Command::RevokeSubject(args) => revoke::revoke_subject(args),
        Command::Selftest => selftest::run(),
    }
}

/// Now, by the wall clock (read through the library's clock).
pub(crate) fn now() -> OffsetDateTime {
    SystemClock.now()
}

/// A token from the argument, or from stdin when absent or `-`; trimmed.
pub(crate) fn read_token(argument: Option<&str>) -> Result<Zeroizing<String>, Failure> {
    let text = match argument {
        Some(token) if token != "-" => Zeroizing::new(token.to_owned()),
        _ => files::read_stdin(MAX_INPUT_LEN, "the token")?,
    };
    let token = text.trim();
    if token.is_empty() {
        return Err(Failure::new(Exit::Invalid, "no token given"));
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// A token from a file, or stdin for `-`; trimmed.
pub(crate) fn read_token_file(path: &Path) -> Result<Zeroizing<String>, Failure> {
    let text = files::read_text(path, MAX_INPUT_LEN, "the token")?;
    Ok(Zeroizing::new(text.trim().to_owned()))
}

/// The key-encryption key, if one was given.
pub(crate) fn load_kek(args: &KekArgs) -> Result<Option<LocalKey>, Failure> {
    KeySource::from_flags(args.kek_file.as_deref(), args.kek_env.as_deref())
        .map(|source| keys_io::load_local(&source, "the key-encryption key"))
        .transpose()
}

/// The key-encryption key, which this command needs.
pub(crate) fn require_kek(args: &KekArgs) -> Result<LocalKey, Failure> {
    load_kek(args)?.ok_or_else(|| {
        Failure::usage("a key-encryption key is needed: --kek-file FILE or --kek-env NAME")
    })
}

/// A duration flag.
pub(crate) fn duration_flag(text: &str, flag: &str) -> Result<Duration, Failure> {
    times::parse_duration(text).map_err(|reason| Failure::usage(format!("{flag}: {reason}")))
}

/// An instant flag (RFC 3339, a duration from now, or `now`).
pub(crate) fn instant_flag(text: &str, flag: &str) -> Result<OffsetDateTime, Failure> {
    times::parse_instant(text, now()).map_err(|reason| Failure::usage(format!("{flag}: {reason}")))
}

/// The claims as a JSON value, as they were authenticated.
pub(crate) fn claims_json(claims: &Claims) -> Result<serde_json::Value, Failure> {
    let payload = claims
        .to_payload()
        .map_err(|error| Failure::library("writing the claims", &error))?;
    serde_json::from_slice(&payload)
        .map_err(|_| Failure::new(Exit::Invalid, "the claims are not JSON"))
}

/// A tokio runtime for the Redis store's futures.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::new(Exit::Io, format!("starting the async runtime: {error}")))
}

/// Connects to the Redis store.
pub(crate) async fn connect(url: &str) -> Result<vaulttoken_redis::RedisStore, Failure> {
    let options = vaulttoken_redis::StoreOptions::default()
        .connect_timeout(std::time::Duration::from_secs(3));
    vaulttoken_redis::RedisStore::connect(url, options)
        .await
        .map_err(|error| Failure::connect(&error))
}
