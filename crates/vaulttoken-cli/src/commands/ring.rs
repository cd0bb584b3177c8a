//! `ring init|add|promote|retire|list`: the rotation steps on a ring file,
//! its secret keys wrapped with a key-encryption key. `retire` honours the
//! ring's lifetime rule unless `--now` (a compromised key), and never removes
//! the active key.

use serde_json::{Value, json};
use vaulttoken::error::KeyRingError;
use vaulttoken::keyring::{KeyRing, KeyStatus, LocalKeyRing, RingKey, SigningKeyRing};
use vaulttoken::paserk::KeyId;
use vaulttoken::{LocalKey, SecretKey};

use super::{duration_flag, require_kek};
use crate::args::{RingCommand, RingFileArgs, RingKind};
use crate::exit::Failure;
use crate::files;
use crate::keys_io::{self, KeySource};
use crate::output::Report;
use crate::rings::{self, LoadedRing};
use crate::times::format_instant;

pub(super) fn run(command: &RingCommand) -> Result<Report, Failure> {
    match command {
        RingCommand::Init {
            file,
            kind,
            max_token_lifetime,
            force,
        } => init(file, *kind, max_token_lifetime, *force),
        RingCommand::Add {
            file,
            key_file,
            key_env,
            promote,
        } => add(
            file,
            KeySource::from_flags(key_file.as_deref(), key_env.as_deref()),
            *promote,
        ),
        RingCommand::Promote { kid, file } => promote(file, kid),
        RingCommand::Retire { kid, file, now } => retire(file, kid, *now),
        RingCommand::List { file } => list(file),
    }
}

fn failed(what: &'static str) -> impl Fn(vaulttoken::Error) -> Failure {
    move |error| Failure::library(what, &error)
}

fn init(
    file: &RingFileArgs,
    kind: RingKind,
    lifetime: &str,
    force: bool,
) -> Result<Report, Failure> {
    let kek = require_kek(&file.kek)?;
    let lifetime = duration_flag(lifetime, "--max-token-lifetime")?;
    let document = match kind {
        RingKind::Local => LocalKeyRing::new(lifetime)
            .and_then(|ring| ring.export_wrapped(&kek))
            .map_err(failed("creating the ring"))?,
        RingKind::Public => SigningKeyRing::new(lifetime)
            .and_then(|ring| ring.export_wrapped(&kek))
            .map_err(failed("creating the ring"))?,
    };
    files::write_secret_file(&file.ring, &document, force)?;
    let path = file.ring.display().to_string();
    Ok(Report::new(
        format!("created {path} (empty; add a key with `vaulttoken ring add --promote`)"),
        json!({ "ring": path, "keys": [] }),
    ))
}

fn load(file: &RingFileArgs) -> Result<(LoadedRing, LocalKey), Failure> {
    let kek = require_kek(&file.kek)?;
    let ring = rings::load(&file.ring, Some(&kek))?;
    if matches!(ring, LoadedRing::Public(_)) {
        return Err(Failure::usage(
            "a k4.public ring is verification only: manage its signing ring instead",
        ));
    }
    Ok((ring, kek))
}

fn parse_kid(kid: &str) -> Result<KeyId, Failure> {
    KeyId::parse(kid).map_err(|e| Failure::usage(format!("{kid:?} is not a key id: {e}")))
}

fn add(file: &RingFileArgs, source: Option<KeySource>, promote: bool) -> Result<Report, Failure> {
    let (ring, kek) = load(file)?;
    let id = match &ring {
        LoadedRing::Local(ring) => {
            let key = match &source {
                Some(source) => keys_io::load_local(source, "the key to add")?,
                None => LocalKey::generate().map_err(failed("generating a key"))?,
            };
            add_to(ring, key, promote)?
        }
        LoadedRing::Signing(ring) => {
            let key = match &source {
                Some(source) => keys_io::load_secret(source, "the key to add")?,
                None => SecretKey::generate().map_err(failed("generating a key"))?,
            };
            add_to(ring, key, promote)?
        }
        LoadedRing::Public(_) => return Err(Failure::usage("not a signing or local ring")),
    };
    rings::save(&file.ring, &ring, &kek)?;
    let status = if promote { "active" } else { "next" };
    Ok(Report::new(
        format!("added {id} ({status})"),
        json!({ "kid": id.as_str(), "status": status }),
    ))
}

fn add_to<K: vaulttoken::keyring::IssuingRingKey>(
    ring: &KeyRing<K>,
    key: K,
    promote: bool,
) -> Result<KeyId, Failure> {
    let id = ring.add(key).map_err(failed("adding the key"))?;
    if promote {
        ring.promote(&id).map_err(failed("promoting the key"))?;
    }
    Ok(id)
}

fn promote(file: &RingFileArgs, kid: &str) -> Result<Report, Failure> {
    let id = parse_kid(kid)?;
    let (ring, kek) = load(file)?;
    match &ring {
        LoadedRing::Local(ring) => ring.promote(&id),
        LoadedRing::Signing(ring) => ring.promote(&id),
        LoadedRing::Public(_) => return Err(Failure::usage("not a signing or local ring")),
    }
    .map_err(failed("promoting the key"))?;
    rings::save(&file.ring, &ring, &kek)?;
    Ok(Report::new(
        format!("promoted {id}: it issues from now on"),
        json!({ "kid": id.as_str(), "status": "active" }),
    ))
}

fn retire(file: &RingFileArgs, kid: &str, now: bool) -> Result<Report, Failure> {
    let id = parse_kid(kid)?;
    let (ring, kek) = load(file)?;
    let result = match &ring {
        LoadedRing::Local(ring) => retire_from(ring, &id, now),
        LoadedRing::Signing(ring) => retire_from(ring, &id, now),
        LoadedRing::Public(_) => return Err(Failure::usage("not a signing or local ring")),
    };
    result.map_err(failed("retiring the key"))?;
    rings::save(&file.ring, &ring, &kek)?;
    let how = if now {
        "at once"
    } else {
        "its tokens have expired"
    };
    Ok(Report::new(
        format!("retired {id} ({how})"),
        json!({ "kid": id.as_str(), "retired": true, "immediately": now }),
    ))
}

/// Retires `id` by the lifetime rule, or at once with `now`; the active key
/// never (promote another first), not even with `now`: the ring could no
/// longer issue, and the server refuses it too. Both refusals are the
/// library's `KeyRingError::ActiveKey`, so they say the same.
fn retire_from<K: vaulttoken::keyring::IssuingRingKey>(
    ring: &KeyRing<K>,
    id: &KeyId,
    now: bool,
) -> Result<(), vaulttoken::Error> {
    if !now {
        return ring.retire(id);
    }
    if ring.active_id().as_ref() == Some(id) {
        return Err(KeyRingError::ActiveKey.into());
    }
    ring.retire_immediately(id)
}

fn list(file: &RingFileArgs) -> Result<Report, Failure> {
    let (ring, _) = load(file)?;
    let (kind, lifetime, keys) = match &ring {
        LoadedRing::Local(ring) => ("k4.local", ring.max_token_lifetime(), listed(ring)),
        LoadedRing::Signing(ring) => ("k4.secret", ring.max_token_lifetime(), listed(ring)),
        LoadedRing::Public(ring) => ("k4.public", ring.max_token_lifetime(), listed(ring)),
    };
    let mut text = format!(
        "ring {kind}, longest token lifetime {}s\n",
        lifetime.whole_seconds()
    );
    if keys.is_empty() {
        text.push_str("(no keys)\n");
    }
    for key in &keys {
        let since = key["since"]
            .as_str()
            .map(|since| format!(" since {since}"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{} {}{since}\n",
            key["kid"].as_str().unwrap_or_default(),
            key["status"].as_str().unwrap_or_default()
        ));
    }
    Ok(Report::new(
        text,
        json!({
            "kind": kind,
            "max_token_lifetime_seconds": lifetime.whole_seconds(),
            "keys": keys,
        }),
    ))
}

fn listed<K: RingKey>(ring: &KeyRing<K>) -> Vec<Value> {
    let mut keys = ring.keys();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys.into_iter()
        .map(|(id, status)| {
            let (name, since) = match status {
                KeyStatus::Active => ("active", None),
                KeyStatus::Previous { since } => ("previous", Some(format_instant(since))),
                KeyStatus::Next => ("next", None),
                _ => ("unknown", None),
            };
            json!({ "kid": id.as_str(), "status": name, "since": since })
        })
        .collect()
}
