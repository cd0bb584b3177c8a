//! Saving a ring as a JSON document of PASERK strings, and restoring it.
//!
//! ```json
//! {
//!   "paserk_key_ring": "k4.local",
//!   "max_token_lifetime_seconds": 3600,
//!   "keys": [
//!     { "kid": "k4.lid.…", "status": "active", "key": "k4.local-wrap.pie.…" },
//!     { "kid": "k4.lid.…", "status": "previous", "since": "2026-11-25T10:00:00Z", "key": "…" }
//!   ]
//! }
//! ```
//!
//! `paserk_key_ring` is `k4.local`, `k4.secret` or `k4.public`. Restoring checks
//! the document's size before parsing, refuses unknown or duplicate fields,
//! recomputes every `kid` from its key, and allows at most one active key.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::{Entry, KeyRing, KeyRingError, KeyStatus, MAX_KEYS, RingKey, RingState};
use crate::clock::SystemClock;
use crate::error::Error;
use crate::footer::FooterLimits;
use crate::json;
use crate::keys::{LocalKey, PublicKey, SecretKey, SecretString};
use crate::paserk::KeyId;

/// The largest document a ring is restored from: room for [`MAX_KEYS`] entries.
pub const MAX_DOCUMENT_LEN: usize = MAX_KEYS * 512 + 1024;

const RING_FIELD: &str = "paserk_key_ring";
const LIFETIME_FIELD: &str = "max_token_lifetime_seconds";
const KEYS_FIELD: &str = "keys";

fn invalid(reason: &'static str) -> Error {
    KeyRingError::InvalidDocument { reason }.into()
}

impl KeyRing<LocalKey> {
    /// Saves the ring with every key wrapped (`k4.local-wrap.pie.`) by
    /// `wrapping_key`. The document is safe to store wherever the wrapping key is
    /// not.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if a key or the wrapping key was cleared, and
    /// [`Error::Randomness`] if the OS cannot supply nonces.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::LocalKey;
    /// use vaulttoken::keyring::LocalKeyRing;
    ///
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// let wrapping = LocalKey::generate()?;
    /// let saved = ring.export_wrapped(&wrapping)?;
    /// let restored = LocalKeyRing::import_wrapped(&saved, &wrapping)?;
    /// assert_eq!(restored.keys(), ring.keys());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn export_wrapped(&self, wrapping_key: &LocalKey) -> Result<String, Error> {
        export(self, "k4.local", |key| {
            key.to_paserk_wrapped(wrapping_key).map(Zeroizing::new)
        })
        .map(|text| text.to_string())
    }

    /// Restores a ring saved by [`KeyRing::export_wrapped`].
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document, and any error
    /// of [`LocalKey::from_paserk_wrapped`] ([`Error::Verification`] for the wrong
    /// wrapping key).
    ///
    /// # Examples
    ///
    /// See [`KeyRing::export_wrapped`].
    pub fn import_wrapped(document: &str, wrapping_key: &LocalKey) -> Result<Self, Error> {
        import(document, "k4.local", true, |text| {
            LocalKey::from_paserk_wrapped(text, wrapping_key)
        })
    }

    /// Saves the ring with every key in clear (`k4.local.`).
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if a key was cleared.
    ///
    /// # Security
    ///
    /// The document holds every key: store it only where the keys may live.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::LocalKeyRing;
    ///
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
    /// ring.add(vaulttoken::LocalKey::generate()?)?;
    /// let saved = ring.export_secret()?;
    /// assert!(saved.as_str().contains("k4.local."));
    /// assert_eq!(LocalKeyRing::import_secret(saved.as_str())?.keys(), ring.keys());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn export_secret(&self) -> Result<SecretString, Error> {
        export(self, "k4.local", |key| {
            key.to_paserk()
                .map(|text| Zeroizing::new(text.as_str().to_owned()))
        })
        .map(SecretString::new)
    }

    /// Restores a ring saved by [`KeyRing::export_secret`].
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document, and any error
    /// of [`LocalKey::from_paserk`].
    ///
    /// # Examples
    ///
    /// See [`KeyRing::export_secret`].
    pub fn import_secret(document: &str) -> Result<Self, Error> {
        import(document, "k4.local", true, LocalKey::from_paserk)
    }
}

impl KeyRing<SecretKey> {
    /// Saves the ring with every key wrapped (`k4.secret-wrap.pie.`) by the local
    /// `wrapping_key`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if a key or the wrapping key was cleared, and
    /// [`Error::Randomness`] if the OS cannot supply nonces.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::SigningKeyRing;
    /// use vaulttoken::{LocalKey, SecretKey};
    ///
    /// let ring = SigningKeyRing::new(time::Duration::hours(1))?;
    /// ring.promote(&ring.add(SecretKey::generate()?)?)?;
    /// let wrapping = LocalKey::generate()?;
    /// let saved = ring.export_wrapped(&wrapping)?;
    /// assert!(saved.contains("k4.secret-wrap.pie."));
    /// assert_eq!(SigningKeyRing::import_wrapped(&saved, &wrapping)?.keys(), ring.keys());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn export_wrapped(&self, wrapping_key: &LocalKey) -> Result<String, Error> {
        export(self, "k4.secret", |key| {
            key.to_paserk_wrapped(wrapping_key).map(Zeroizing::new)
        })
        .map(|text| text.to_string())
    }

    /// Restores a ring saved by [`KeyRing::<SecretKey>::export_wrapped`].
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document, and any error
    /// of [`SecretKey::from_paserk_wrapped`].
    ///
    /// # Examples
    ///
    /// See [`KeyRing::<SecretKey>::export_wrapped`].
    pub fn import_wrapped(document: &str, wrapping_key: &LocalKey) -> Result<Self, Error> {
        import(document, "k4.secret", true, |text| {
            SecretKey::from_paserk_wrapped(text, wrapping_key)
        })
    }

    /// Saves the ring with every key in clear (`k4.secret.`).
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if a key was cleared.
    ///
    /// # Security
    ///
    /// The document holds every signing key: store it only where they may live.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::SigningKeyRing;
    ///
    /// let ring = SigningKeyRing::new(time::Duration::hours(1))?;
    /// ring.add(vaulttoken::SecretKey::generate()?)?;
    /// let saved = ring.export_secret()?;
    /// assert_eq!(SigningKeyRing::import_secret(saved.as_str())?.keys(), ring.keys());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn export_secret(&self) -> Result<SecretString, Error> {
        export(self, "k4.secret", |key| {
            key.to_paserk()
                .map(|text| Zeroizing::new(text.as_str().to_owned()))
        })
        .map(SecretString::new)
    }

    /// Restores a ring saved by [`KeyRing::<SecretKey>::export_secret`].
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document, and any error
    /// of [`SecretKey::from_paserk`].
    ///
    /// # Examples
    ///
    /// See [`KeyRing::<SecretKey>::export_secret`].
    pub fn import_secret(document: &str) -> Result<Self, Error> {
        import(document, "k4.secret", true, SecretKey::from_paserk)
    }
}

impl KeyRing<PublicKey> {
    /// Saves the ring's public keys (`k4.public.`): nothing in it is secret.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{PublicKeyRing, SigningKeyRing};
    ///
    /// let signing = SigningKeyRing::new(time::Duration::hours(1))?;
    /// signing.add(vaulttoken::SecretKey::generate()?)?;
    /// let published = signing.public_ring().export();
    /// assert!(!published.contains("k4.secret"));
    /// assert_eq!(PublicKeyRing::import(&published)?.len(), 1);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn export(&self) -> String {
        export(self, "k4.public", |key| Ok(Zeroizing::new(key.to_paserk())))
            .map(|text| text.to_string())
            .unwrap_or_else(|_| unreachable!("public keys always export"))
    }

    /// Restores a ring saved by [`KeyRing::<PublicKey>::export`]. Every key is
    /// [`KeyStatus::Next`]: a verification-only ring has no active key.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document (including an
    /// `active` or `previous` key), and any error of [`PublicKey::from_paserk`].
    ///
    /// # Examples
    ///
    /// See [`KeyRing::<PublicKey>::export`].
    pub fn import(document: &str) -> Result<Self, Error> {
        import(document, "k4.public", false, PublicKey::from_paserk)
    }
}

/// Writes the document; `encode_key` gives each key's PASERK string.
///
/// Written by hand into one wiped buffer rather than through `serde_json::Value`,
/// so that no unwiped copy of a secret key string is left behind. Every value is
/// ASCII without quotes or backslashes (PASERK strings, ids, status names, RFC 3339
/// times), so nothing needs escaping.
fn export<K: RingKey>(
    ring: &KeyRing<K>,
    ring_kind: &str,
    encode_key: impl Fn(&K) -> Result<Zeroizing<String>, Error>,
) -> Result<Zeroizing<String>, Error> {
    use core::fmt::Write as _;

    let state = ring.snapshot();
    let mut ids: Vec<&KeyId> = state.entries.keys().collect();
    ids.sort_unstable();
    let mut out = Zeroizing::new(String::with_capacity(128 + ids.len() * 256));
    let write_failed = |_| invalid("formatting into a string failed");
    write!(
        out,
        r#"{{"{RING_FIELD}":"{ring_kind}","{LIFETIME_FIELD}":{},"{KEYS_FIELD}":["#,
        ring.max_token_lifetime.whole_seconds()
    )
    .map_err(write_failed)?;
    for (index, id) in ids.into_iter().enumerate() {
        let entry = &state.entries[id];
        let key = encode_key(&entry.key)?;
        let separator = if index == 0 { "" } else { "," };
        write!(
            out,
            r#"{separator}{{"kid":"{id}","status":"{}""#,
            entry.status.name()
        )
        .map_err(write_failed)?;
        if let KeyStatus::Previous { since } = entry.status {
            let since = since
                .format(&Rfc3339)
                .map_err(|_| invalid("a rotation time cannot be written as RFC 3339"))?;
            write!(out, r#","since":"{since}""#).map_err(write_failed)?;
        }
        out.push_str(r#","key":""#);
        out.push_str(&key);
        out.push_str(r#""}"#);
    }
    out.push_str("]}");
    Ok(out)
}

/// Reads a document; `decode_key` loads each key from its PASERK string.
fn import<K: RingKey>(
    document: &str,
    ring_kind: &str,
    may_issue: bool,
    decode_key: impl Fn(&str) -> Result<K, Error>,
) -> Result<KeyRing<K>, Error> {
    if document.len() > MAX_DOCUMENT_LEN {
        return Err(invalid(
            "the document is larger than any ring of MAX_KEYS keys",
        ));
    }
    let mut top = json::parse_object(document.as_bytes())
        .map_err(|_| invalid("not a JSON object with unique keys"))?;
    let kind = take_str(&mut top, RING_FIELD)?;
    if kind != ring_kind {
        return Err(invalid("the document is a ring of another key type"));
    }
    let lifetime = top
        .remove(LIFETIME_FIELD)
        .and_then(|value| value.as_i64())
        .filter(|seconds| *seconds >= 0)
        .ok_or_else(|| invalid("max_token_lifetime_seconds must be a non-negative integer"))?;
    let Some(Value::Array(stored_keys)) = top.remove(KEYS_FIELD) else {
        return Err(invalid("keys must be an array"));
    };
    if !top.is_empty() {
        return Err(invalid("unknown field at the top level"));
    }
    if stored_keys.len() > MAX_KEYS {
        return Err(invalid("more keys than MAX_KEYS"));
    }

    let mut entries = HashMap::with_capacity(stored_keys.len());
    let mut active = None;
    for stored in stored_keys {
        let Value::Object(mut stored) = stored else {
            return Err(invalid("each key must be an object"));
        };
        let kid = take_str(&mut stored, "kid")?;
        let status = take_str(&mut stored, "status")?;
        let since = stored.remove("since");
        let key_text = Zeroizing::new(take_str(&mut stored, "key")?);
        if !stored.is_empty() {
            return Err(invalid("unknown field in a key"));
        }
        let status = match (status.as_str(), since) {
            ("next", None) => KeyStatus::Next,
            ("active", None) if may_issue => KeyStatus::Active,
            ("previous", Some(Value::String(since))) if may_issue => KeyStatus::Previous {
                since: OffsetDateTime::parse(&since, &Rfc3339)
                    .map_err(|_| invalid("since must be an RFC 3339 date-time"))?,
            },
            ("active" | "previous", _) if !may_issue => {
                return Err(invalid("a verification-only ring has only next keys"));
            }
            _ => {
                return Err(invalid(
                    "status must be next, active, or previous with since",
                ));
            }
        };
        let key = decode_key(&key_text)?;
        let id = key.ring_id()?;
        if id.as_str() != kid {
            return Err(invalid("a kid does not match its key"));
        }
        if status == KeyStatus::Active {
            if active.is_some() {
                return Err(invalid("more than one active key"));
            }
            active = Some(id.clone());
        }
        let key = Arc::new(key);
        let entry = Entry {
            decoding: K::decoding_key(&key),
            key,
            status,
        };
        if entries.insert(id, entry).is_some() {
            return Err(invalid("the same key is listed twice"));
        }
    }
    Ok(KeyRing::from_state(
        RingState { entries, active },
        Duration::seconds(lifetime),
        Arc::new(SystemClock),
        FooterLimits::default(),
    ))
}

fn take_str(object: &mut Map<String, Value>, field: &'static str) -> Result<String, Error> {
    match object.remove(field) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(invalid(
            "a required string field is missing or not a string",
        )),
    }
}
