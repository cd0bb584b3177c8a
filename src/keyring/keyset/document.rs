//! The document's fields, read strictly and written back: the parts of
//! [`KeySet::parse`](super::KeySet::parse) and
//! [`KeySet::to_json`](super::KeySet::to_json) that touch JSON.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{KEY_FIELDS, PublishedKey, PublishedStatus, refuse};
use crate::error::Error;
use crate::keys::PublicKey;
use crate::paserk::KeyId;

/// Refuses any field of `object` not in `known`, naming it under `prefix`.
pub(super) fn only_known(
    object: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), Error> {
    match object.keys().find(|name| !known.contains(&name.as_str())) {
        Some(name) => Err(refuse(
            // A field name is the sender's text: bounded, never echoed whole.
            format!("{prefix}{}", name.chars().take(32).collect::<String>()),
            "an unknown field",
        )),
        None => Ok(()),
    }
}

/// The string `name` of `object`, reported as `field`.
pub(super) fn text<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<&'a str, Error> {
    match object.get(name) {
        None => Err(refuse(field, "missing")),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(refuse(field, "not a string")),
    }
}

/// The RFC 3339 instant `name` of `object`, if present.
fn instant(
    object: &Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<Option<OffsetDateTime>, Error> {
    if !object.contains_key(name) {
        return Ok(None);
    }
    let text = text(object, name, field)?;
    OffsetDateTime::parse(text, &Rfc3339)
        .map(Some)
        .map_err(|_| refuse(field, "not an RFC 3339 instant"))
}

/// Key `index` of a document.
pub(super) fn read_key(entry: &Value, index: usize) -> Result<PublishedKey, Error> {
    let field = |name: &str| format!("keys[{index}].{name}");
    let Value::Object(entry) = entry else {
        return Err(refuse(format!("keys[{index}]"), "not an object"));
    };
    only_known(entry, &KEY_FIELDS, &format!("keys[{index}]."))?;
    let kid = KeyId::parse(text(entry, "kid", &field("kid"))?)
        .map_err(|_| refuse(field("kid"), "not a PASERK key id"))?;
    let public_key = match entry.get("public_key") {
        None => None,
        Some(_) => {
            let paserk = text(entry, "public_key", &field("public_key"))?;
            let key = PublicKey::from_paserk(paserk)
                .map_err(|_| refuse(field("public_key"), "not a k4.public PASERK key"))?;
            if KeyId::of_paserk(paserk).ok().as_ref() != Some(&kid) {
                return Err(refuse(field("kid"), "not the id of its public_key"));
            }
            Some(key)
        }
    };
    let signs_from = instant(entry, "signs_from", &field("signs_from"))?;
    let signs_until = instant(entry, "signs_until", &field("signs_until"))?;
    let verifies_until = instant(entry, "verifies_until", &field("verifies_until"))?;
    let status = match (
        text(entry, "status", &field("status"))?,
        signs_until,
        verifies_until,
    ) {
        ("next", None, None) => PublishedStatus::Next { signs_from },
        ("active", None, None) => PublishedStatus::Active { signs_from },
        ("retiring", Some(signs_until), Some(verifies_until)) if signs_from.is_none() => {
            PublishedStatus::Retiring {
                signs_until,
                verifies_until,
            }
        }
        ("next" | "active" | "retiring", _, _) => {
            return Err(refuse(
                field("status"),
                "next and active take signs_from only; retiring takes signs_until and verifies_until",
            ));
        }
        _ => return Err(refuse(field("status"), "neither next, active nor retiring")),
    };
    Ok(PublishedKey {
        kid,
        public_key,
        status,
    })
}

/// Key `key` as a document entry.
pub(super) fn write_key(key: &PublishedKey) -> Value {
    let mut entry = Map::new();
    entry.insert("kid".into(), key.kid.as_str().into());
    if let Some(public) = &key.public_key {
        entry.insert("public_key".into(), public.to_paserk().into());
    }
    entry.insert("status".into(), key.status.name().into());
    let mut at = |name: &str, instant: Option<OffsetDateTime>| {
        if let Some(text) = instant.and_then(|instant| instant.format(&Rfc3339).ok()) {
            entry.insert(name.into(), text.into());
        }
    };
    match key.status {
        PublishedStatus::Next { signs_from } | PublishedStatus::Active { signs_from } => {
            at("signs_from", signs_from);
        }
        PublishedStatus::Retiring {
            signs_until,
            verifies_until,
        } => {
            at("signs_until", Some(signs_until));
            at("verifies_until", Some(verifies_until));
        }
    }
    Value::Object(entry)
}
