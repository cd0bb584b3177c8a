//! `paserk`: convert keys between formats and print their ids; wrap and
//! unwrap with a local key (`*-wrap.pie`), with a password (`*-pw`, Argon2id),
//! and seal to an Ed25519 key (`k4.seal`).

use std::path::Path;

use serde_json::json;
use vaulttoken::error::PaserkType;
use vaulttoken::paserk::{KeyId, PasswordLimits, PasswordParams};
use vaulttoken::{LocalKey, SecretKey};
use zeroize::Zeroizing;

use super::issue::key_source;
use super::keygen::{encode_local, encode_public, encode_secret};
use super::require_kek;
use crate::args::{CostArgs, KeyOutArgs, PaserkCommand, RecipientArgs, TypedKeyArgs};
use crate::exit::{Exit, Failure};
use crate::files::{self, MAX_INPUT_LEN};
use crate::keys_io::{self, AnyKey, KeySource};
use crate::output::Report;

pub(super) fn run(command: &PaserkCommand) -> Result<Report, Failure> {
    match command {
        PaserkCommand::Convert { key, out } => convert(key, out),
        PaserkCommand::Id { key } => id(key),
        PaserkCommand::Wrap { key, kek } => {
            let kek = require_kek(kek)?;
            let wrapped = match load_typed(key)? {
                AnyKey::Local(key) => key.to_paserk_wrapped(&kek),
                AnyKey::Secret(key) => key.to_paserk_wrapped(&kek),
                AnyKey::Public(_) => {
                    return Err(Failure::usage(
                        "a public key is not secret: nothing to wrap",
                    ));
                }
            }
            .map_err(|e| Failure::library("wrapping the key", &e))?;
            Ok(Report::new(wrapped.clone(), json!({ "paserk": wrapped })))
        }
        PaserkCommand::Unwrap { input, kek, out } => {
            let kek = require_kek(kek)?;
            let text = read_paserk(input)?;
            let key = match paserk_type(&text)? {
                PaserkType::LocalWrapPie => {
                    LocalKey::from_paserk_wrapped(&text, &kek).map(AnyKey::Local)
                }
                PaserkType::SecretWrapPie => {
                    SecretKey::from_paserk_wrapped(&text, &kek).map(AnyKey::Secret)
                }
                other => {
                    return Err(Failure::usage(format!(
                        "expected a k4.*-wrap.pie key, found {other}"
                    )));
                }
            }
            .map_err(|e| {
                Failure::opening(
                    "unwrapping the key",
                    "the key-encryption key",
                    "this wrapped key",
                    &e,
                )
            })?;
            write_key(&key, out)
        }
        PaserkCommand::PwWrap {
            key,
            password_file,
            cost,
        } => {
            let params = params(cost)?;
            let key = load_typed(key)?;
            let password = password(password_file.as_deref(), true)?;
            let wrapped = match key {
                AnyKey::Local(key) => key.to_paserk_password(password.as_bytes(), &params),
                AnyKey::Secret(key) => key.to_paserk_password(password.as_bytes(), &params),
                AnyKey::Public(_) => {
                    return Err(Failure::usage(
                        "a public key is not secret: nothing to wrap",
                    ));
                }
            }
            .map_err(|e| Failure::library("wrapping the key", &e))?;
            Ok(Report::new(wrapped.clone(), json!({ "paserk": wrapped })))
        }
        PaserkCommand::PwUnwrap {
            input,
            password_file,
            out,
        } => {
            let text = read_paserk(input)?;
            let kind = paserk_type(&text)?;
            if !matches!(kind, PaserkType::LocalPw | PaserkType::SecretPw) {
                return Err(Failure::usage(format!(
                    "expected a k4.local-pw or k4.secret-pw key, found {kind}"
                )));
            }
            let password = password(password_file.as_deref(), false)?;
            let limits = PasswordLimits::default();
            let key = if kind == PaserkType::LocalPw {
                LocalKey::from_paserk_password(&text, password.as_bytes(), &limits)
                    .map(AnyKey::Local)
            } else {
                SecretKey::from_paserk_password(&text, password.as_bytes(), &limits)
                    .map(AnyKey::Secret)
            }
            .map_err(|e| {
                Failure::opening(
                    "unwrapping the key",
                    "the password",
                    "this password-wrapped key",
                    &e,
                )
            })?;
            write_key(&key, out)
        }
        PaserkCommand::Seal { key, recipient } => {
            let AnyKey::Local(key) = load_typed(key)? else {
                return Err(Failure::usage("only a local key can be sealed"));
            };
            let recipient =
                keys_io::load_public(&recipient_source(recipient)?, "the recipient's key")?;
            let sealed = key
                .to_paserk_sealed(&recipient)
                .map_err(|e| Failure::library("sealing the key", &e))?;
            Ok(Report::new(sealed.clone(), json!({ "paserk": sealed })))
        }
        PaserkCommand::Unseal {
            input,
            recipient,
            old_input,
            out,
        } => {
            if old_input.is_some() {
                // `--in SEALED --key-file RECIPIENT` was the old spelling:
                // read with today's, it would take the recipient's key for
                // the sealed one. Say how to write it.
                return Err(Failure::usage(
                    "paserk unseal takes the sealed key as --key-file, and the recipient's \
                     secret key as --recipient-file or --recipient-env (--in is gone)",
                ));
            }
            unseal(input, recipient, out)
        }
    }
}

/// The recipient's key (a file or an environment variable).
fn recipient_source(args: &RecipientArgs) -> Result<KeySource, Failure> {
    KeySource::from_flags(
        args.recipient_file.as_deref(),
        args.recipient_env.as_deref(),
    )
    .ok_or_else(|| {
        Failure::usage("a recipient key is needed: --recipient-file FILE or --recipient-env NAME")
    })
}

fn unseal(input: &Path, recipient: &RecipientArgs, out: &KeyOutArgs) -> Result<Report, Failure> {
    let text = read_paserk(input)?;
    let secret = keys_io::load_secret(&recipient_source(recipient)?, "the recipient's secret key")?;
    let local = LocalKey::from_paserk_sealed(&text, &secret).map_err(|e| {
        Failure::opening(
            "unsealing the key",
            "the recipient's secret key",
            "this sealed key",
            &e,
        )
    })?;
    write_key(&AnyKey::Local(local), out)
}

fn load_typed(args: &TypedKeyArgs) -> Result<AnyKey, Failure> {
    keys_io::load(&key_source(&args.key)?, args.key_type, "the key")
}

fn key_id(key: &AnyKey) -> Result<KeyId, Failure> {
    match key {
        AnyKey::Local(key) => key.paserk_id(),
        AnyKey::Secret(key) => key.paserk_id(),
        AnyKey::Public(key) => key.paserk_id(),
    }
    .map_err(|e| Failure::library("computing the key id", &e))
}

fn id(args: &TypedKeyArgs) -> Result<Report, Failure> {
    let key = load_typed(args)?;
    let id = key_id(&key)?;
    let mut json = json!({ "id": id.as_str() });
    let mut text = id.to_string();
    if let AnyKey::Secret(secret) = &key {
        // Tokens and rings name a signing key by its public key's id.
        let pid = secret
            .public_key()
            .paserk_id()
            .map_err(|e| Failure::library("computing the key id", &e))?;
        text.push_str(&format!("\npublic key id (kid): {pid}"));
        json["pid"] = json!(pid.as_str());
    }
    Ok(Report::new(text, json))
}

fn convert(args: &TypedKeyArgs, out: &KeyOutArgs) -> Result<Report, Failure> {
    let key = load_typed(args)?;
    write_key(&key, out)
}

/// Writes a key in the chosen format: secret keys only to a 0600 file or to
/// stdout when asked with `--out -`; public keys to stdout by default.
fn write_key(key: &AnyKey, out: &KeyOutArgs) -> Result<Report, Failure> {
    let id = key_id(key)?;
    let text = match key {
        AnyKey::Local(key) => encode_local(key, out.format)?,
        AnyKey::Secret(key) => encode_secret(key, out.format)?,
        AnyKey::Public(key) => Zeroizing::new(encode_public(key, out.format)),
    };
    let secret = !matches!(key, AnyKey::Public(_));
    match out.out.as_deref() {
        Some(path) if path != Path::new("-") => {
            if secret {
                files::write_secret_file(path, &text, out.force)?;
            } else {
                files::write_public_file(path, &text, out.force)?;
            }
            let path = path.display().to_string();
            Ok(Report::new(
                format!("wrote {path}\nid: {id}"),
                json!({ "file": path, "id": id.as_str() }),
            ))
        }
        None if secret => Err(Failure::usage(
            "this writes a secret key: give --out FILE (created 0600), or --out - to print it",
        )),
        _ => {
            let json = json!({ "key": text.trim_end(), "id": id.as_str() });
            Ok(Report::secret(text, json))
        }
    }
}

fn read_paserk(input: &Path) -> Result<Zeroizing<String>, Failure> {
    let text = files::read_text(input, MAX_INPUT_LEN, "the PASERK")?;
    Ok(Zeroizing::new(text.trim().to_owned()))
}

fn paserk_type(text: &str) -> Result<PaserkType, Failure> {
    PaserkType::of(text).map_err(|e| Failure::library("reading the PASERK", &e))
}

/// Argon2id costs from the flags, checked by the library.
fn params(cost: &CostArgs) -> Result<PasswordParams, Failure> {
    let memory = match cost.memory_kib {
        Some(kib) => kib.checked_mul(1024),
        None => cost.memory_mib.checked_mul(1024 * 1024),
    }
    .ok_or_else(|| Failure::usage("the Argon2 memory cost is too large"))?;
    PasswordParams::new(memory, cost.iterations, cost.parallelism)
        .map_err(|e| Failure::usage(format!("Argon2 costs: {e}")))
}

/// The password: the first line of a file, or a no-echo prompt (twice when
/// wrapping, to catch a typo).
fn password(file: Option<&Path>, confirm: bool) -> Result<Zeroizing<String>, Failure> {
    if let Some(path) = file {
        let text = files::read_text(path, 64 * 1024, "the password file")?;
        let line = text.lines().next().unwrap_or_default();
        return Ok(Zeroizing::new(line.to_owned()));
    }
    let prompt = |label: &str| {
        rpassword::prompt_password(label).map(Zeroizing::new).map_err(|error| {
            Failure::new(
                Exit::Usage,
                format!("reading the password from the terminal failed ({error}): use --password-file"),
            )
        })
    };
    let first = prompt("Password: ")?;
    if confirm {
        return agreed(first, &prompt("Again: ")?);
    }
    Ok(first)
}

/// A password typed twice, if both times agree.
fn agreed(first: Zeroizing<String>, second: &str) -> Result<Zeroizing<String>, Failure> {
    if first.as_str() != second {
        return Err(Failure::usage("the passwords differ"));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_typed_twice_must_agree() {
        let typed = agreed(Zeroizing::new("correct horse".into()), "correct horse");
        assert_eq!(
            typed.ok().as_deref().map(String::as_str),
            Some("correct horse")
        );
        let typo = agreed(Zeroizing::new("correct horse".into()), "correct hose");
        assert!(typo.is_err());
    }
}
