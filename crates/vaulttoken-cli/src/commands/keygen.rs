//! `keygen local|public`: a new key into a 0600 file (or stdout, when asked
//! with `--out -`), with its PASERK id. For `public`, the public key and its
//! `k4.pid` go beside the secret: `<out>.pub` and `<out>.pid`.

use std::path::{Path, PathBuf};

use serde_json::json;
use vaulttoken::{LocalKey, PublicKey, SecretKey};
use zeroize::Zeroizing;

use crate::args::{KeyFormat, KeygenArgs, Purpose};
use crate::exit::Failure;
use crate::files;
use crate::output::Report;

pub(super) fn run(args: &KeygenArgs) -> Result<Report, Failure> {
    match args.purpose {
        Purpose::Local => local(args),
        Purpose::Public => public(args),
    }
}

fn generated(error: &vaulttoken::Error) -> Failure {
    Failure::library("generating a key", error)
}

fn local(args: &KeygenArgs) -> Result<Report, Failure> {
    let key = LocalKey::generate().map_err(|e| generated(&e))?;
    let kid = key.paserk_id().map_err(|e| generated(&e))?;
    let text = encode_local(&key, args.format)?;
    if to_stdout(&args.out) {
        let json = json!({ "purpose": "local", "key": text.trim_end(), "kid": kid.as_str() });
        return Ok(Report::secret(text, json));
    }
    files::write_secret_file(&args.out, &text, args.force)?;
    let out = args.out.display().to_string();
    Ok(Report::new(
        format!("wrote {out} (mode 0600)\nkid: {kid}"),
        json!({ "purpose": "local", "key_file": out, "kid": kid.as_str() }),
    ))
}

fn public(args: &KeygenArgs) -> Result<Report, Failure> {
    let secret = SecretKey::generate().map_err(|e| generated(&e))?;
    let public = secret.public_key();
    let pid = public.paserk_id().map_err(|e| generated(&e))?;
    let sid = secret.paserk_id().map_err(|e| generated(&e))?;
    let secret_text = encode_secret(&secret, args.format)?;
    let public_text = with_newline(encode_public(&public, args.format));
    if to_stdout(&args.out) {
        let mut text = Zeroizing::new(String::new());
        text.push_str(&secret_text);
        text.push_str(&public_text);
        text.push_str(&format!("kid: {pid}"));
        let json = json!({
            "purpose": "public",
            "secret_key": secret_text.trim_end(),
            "public_key": public_text.trim_end(),
            "kid": pid.as_str(),
            "sid": sid.as_str(),
        });
        return Ok(Report::secret(text, json));
    }
    let public_path = beside(&args.out, "pub");
    let pid_path = beside(&args.out, "pid");
    if !args.force {
        for path in [&args.out, &public_path, &pid_path] {
            if path.exists() {
                return Err(Failure::usage(format!(
                    "{} exists: refusing to overwrite it (use --force)",
                    path.display()
                )));
            }
        }
    }
    files::write_secret_file(&args.out, &secret_text, args.force)?;
    files::write_public_file(&public_path, &public_text, args.force)?;
    files::write_public_file(&pid_path, &format!("{pid}\n"), args.force)?;
    let out = args.out.display().to_string();
    Ok(Report::new(
        format!(
            "wrote {out} (secret key, mode 0600), {} and {}\nkid: {pid}",
            public_path.display(),
            pid_path.display()
        ),
        json!({
            "purpose": "public",
            "key_file": out,
            "public_key_file": public_path.display().to_string(),
            "pid_file": pid_path.display().to_string(),
            "kid": pid.as_str(),
            "sid": sid.as_str(),
        }),
    ))
}

fn to_stdout(out: &Path) -> bool {
    out == Path::new("-")
}

/// `<path>.<extension>`, beside the secret key file.
fn beside(path: &Path, extension: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn secret_with_newline(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 1));
    out.push_str(text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A local key in `format`.
pub(crate) fn encode_local(
    key: &LocalKey,
    format: KeyFormat,
) -> Result<Zeroizing<String>, Failure> {
    let text = match format {
        KeyFormat::Paserk => key.to_paserk(),
        KeyFormat::Hex => key.to_hex(),
        KeyFormat::Base64url => key.to_base64url(),
        KeyFormat::Pem => {
            return Err(Failure::usage(
                "a local key has no PEM form: use paserk, hex or base64url",
            ));
        }
    }
    .map_err(|e| Failure::library("writing the key", &e))?;
    Ok(secret_with_newline(text.as_str()))
}

/// An Ed25519 secret key in `format`.
pub(crate) fn encode_secret(
    key: &SecretKey,
    format: KeyFormat,
) -> Result<Zeroizing<String>, Failure> {
    let text = match format {
        KeyFormat::Paserk => key.to_paserk(),
        KeyFormat::Hex => key.to_hex(),
        KeyFormat::Base64url => key.to_base64url(),
        KeyFormat::Pem => key.to_pkcs8_pem(),
    }
    .map_err(|e| Failure::library("writing the key", &e))?;
    Ok(secret_with_newline(text.as_str()))
}

/// An Ed25519 public key in `format`.
pub(crate) fn encode_public(key: &PublicKey, format: KeyFormat) -> String {
    match format {
        KeyFormat::Paserk => key.to_paserk(),
        KeyFormat::Hex => key.to_hex(),
        KeyFormat::Base64url => key.to_base64url(),
        KeyFormat::Pem => key.to_public_key_pem(),
    }
}
