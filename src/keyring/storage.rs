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
//!
//! A document holds keys, statuses and the token lifetime only: the clock of
//! the restored ring is in the [`RingSettings`] every import takes.

use std::collections::HashMap;
use std::mem;
use std::sync::Arc;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::{
    Entry, IssuingRingKey, KeyRing, KeyRingError, KeyStatus, MAX_KEYS, RingKey, RingSettings,
    RingState,
};
use crate::error::Error;
use crate::json;
use crate::keys::{LocalKey, PublicKey, SecretKey, SecretString};
use crate::paserk::KeyId;

/// The largest document a ring is restored from: room for [`MAX_KEYS`] entries.
pub const MAX_DOCUMENT_LEN: usize = MAX_KEYS * 512 + 1024;

const PUBLIC_RING_KIND: &str = "k4.public";
const RING_FIELD: &str = "paserk_key_ring";
const LIFETIME_FIELD: &str = "max_token_lifetime_seconds";
const KEYS_FIELD: &str = "keys";

fn invalid(reason: &'static str) -> Error {
    KeyRingError::InvalidDocument { reason }.into()
}

/// A key type whose ring is stored with its secret keys, in clear or wrapped:
/// [`LocalKey`] (`k4.local`) and [`SecretKey`] (`k4.secret`). Sealed.
///
/// It gives [`LocalKeyRing`](super::LocalKeyRing) and
/// [`SigningKeyRing`](super::SigningKeyRing) their `export_*` and `import_*`
/// methods.
///
/// # Examples
///
/// ```
/// use vaulttoken::keyring::{KeyRing, RingSettings, SecretRingKey};
///
/// // Saves any ring of secret keys and restores it.
/// fn round_trip<K: SecretRingKey>(ring: &KeyRing<K>) -> Result<KeyRing<K>, vaulttoken::Error> {
///     KeyRing::<K>::import_secret(ring.export_secret()?.as_str(), &RingSettings::new())
/// }
///
/// let ring = vaulttoken::keyring::SigningKeyRing::new(time::Duration::hours(1))?;
/// ring.add(vaulttoken::SecretKey::generate()?)?;
/// assert_eq!(round_trip(&ring)?.keys(), ring.keys());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub trait SecretRingKey: IssuingRingKey + sealed::SecretText {}

impl SecretRingKey for LocalKey {}
impl SecretRingKey for SecretKey {}

/// How a secret key is written into, and read back from, a stored ring:
/// private, so no caller outside the crate reaches it.
mod sealed {
    use zeroize::Zeroizing;

    use crate::error::Error;
    use crate::keys::{LocalKey, SecretKey};

    pub trait SecretText: Sized {
        /// The document's `paserk_key_ring`.
        const RING_KIND: &'static str;

        /// The key as a PASERK string in clear.
        fn to_secret_text(&self) -> Result<Zeroizing<String>, Error>;

        /// A key from a PASERK string in clear.
        fn from_secret_text(text: &str) -> Result<Self, Error>;

        /// The key wrapped by `wrapping_key` (`k4.*-wrap.pie.`).
        fn to_wrapped_text(&self, wrapping_key: &LocalKey) -> Result<String, Error>;

        /// A key unwrapped by `wrapping_key`.
        fn from_wrapped_text(text: &str, wrapping_key: &LocalKey) -> Result<Self, Error>;
    }

    impl SecretText for LocalKey {
        const RING_KIND: &'static str = "k4.local";

        fn to_secret_text(&self) -> Result<Zeroizing<String>, Error> {
            self.to_paserk()
                .map(|text| Zeroizing::new(text.as_str().to_owned()))
        }

        fn from_secret_text(text: &str) -> Result<Self, Error> {
            Self::from_paserk(text)
        }

        fn to_wrapped_text(&self, wrapping_key: &LocalKey) -> Result<String, Error> {
            self.to_paserk_wrapped(wrapping_key)
        }

        fn from_wrapped_text(text: &str, wrapping_key: &LocalKey) -> Result<Self, Error> {
            Self::from_paserk_wrapped(text, wrapping_key)
        }
    }

    impl SecretText for SecretKey {
        const RING_KIND: &'static str = "k4.secret";

        fn to_secret_text(&self) -> Result<Zeroizing<String>, Error> {
            self.to_paserk()
                .map(|text| Zeroizing::new(text.as_str().to_owned()))
        }

        fn from_secret_text(text: &str) -> Result<Self, Error> {
            Self::from_paserk(text)
        }

        fn to_wrapped_text(&self, wrapping_key: &LocalKey) -> Result<String, Error> {
            self.to_paserk_wrapped(wrapping_key)
        }

        fn from_wrapped_text(text: &str, wrapping_key: &LocalKey) -> Result<Self, Error> {
            Self::from_paserk_wrapped(text, wrapping_key)
        }
    }
}

impl<K: SecretRingKey> KeyRing<K> {
    /// Saves the ring with every key wrapped by the local `wrapping_key`
    /// (`k4.local-wrap.pie.` for a [`LocalKeyRing`](super::LocalKeyRing),
    /// `k4.secret-wrap.pie.` for a [`SigningKeyRing`](super::SigningKeyRing)).
    /// The document is safe to store wherever the wrapping key is not.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if a key or the wrapping key was cleared, and
    /// [`Error::Randomness`] if the OS cannot supply nonces.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{LocalKeyRing, RingSettings, SigningKeyRing};
    /// use vaulttoken::{LocalKey, SecretKey};
    ///
    /// let wrapping = LocalKey::generate()?;
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// let saved = ring.export_wrapped(&wrapping)?;
    /// assert!(saved.contains("k4.local-wrap.pie.") && !saved.contains("k4.local."));
    /// let restored = LocalKeyRing::import_wrapped(&saved, &wrapping, &RingSettings::new())?;
    /// assert_eq!(restored.keys(), ring.keys());
    ///
    /// let signing = SigningKeyRing::new(time::Duration::hours(1))?;
    /// signing.promote(&signing.add(SecretKey::generate()?)?)?;
    /// let saved = signing.export_wrapped(&wrapping)?;
    /// assert!(saved.contains("k4.secret-wrap.pie."));
    /// let restored = SigningKeyRing::import_wrapped(&saved, &wrapping, &RingSettings::new())?;
    /// assert_eq!(restored.keys(), signing.keys());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn export_wrapped(&self, wrapping_key: &LocalKey) -> Result<String, Error> {
        export(self, K::RING_KIND, |key| {
            key.to_wrapped_text(wrapping_key).map(Zeroizing::new)
        })
        .map(|text| text.to_string())
    }

    /// Restores a ring saved by [`KeyRing::export_wrapped`], with the clock of
    /// `settings`.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document (including a
    /// negative `max_token_lifetime_seconds`), and any error of
    /// [`LocalKey::from_paserk_wrapped`] or [`SecretKey::from_paserk_wrapped`]
    /// ([`Error::Verification`] for the wrong wrapping key).
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::clock::{Clock, FixedClock};
    /// use vaulttoken::keyring::{LocalKeyRing, RingSettings};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let wrapping = LocalKey::generate()?;
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
    /// ring.promote(&ring.add(LocalKey::generate()?)?)?;
    /// let saved = ring.export_wrapped(&wrapping)?;
    ///
    /// let settings = RingSettings::new().with_clock(FixedClock::new(datetime!(2030-01-01 0:00 UTC)));
    /// let restored = LocalKeyRing::import_wrapped(&saved, &wrapping, &settings)?;
    /// assert_eq!(restored.keys(), ring.keys());
    /// assert_eq!(restored.settings().clock().now(), datetime!(2030-01-01 0:00 UTC));
    /// // Only the wrapping key opens the document.
    /// let other = LocalKey::generate()?;
    /// assert!(matches!(
    ///     LocalKeyRing::import_wrapped(&saved, &other, &RingSettings::new()),
    ///     Err(Error::Verification)
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn import_wrapped(
        document: &str,
        wrapping_key: &LocalKey,
        settings: &RingSettings,
    ) -> Result<Self, Error> {
        import(document, K::RING_KIND, true, settings, |text| {
            K::from_wrapped_text(text, wrapping_key)
        })
    }

    /// Saves the ring with every key in clear (`k4.local.` or `k4.secret.`).
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
    /// use vaulttoken::keyring::{LocalKeyRing, RingSettings};
    ///
    /// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
    /// ring.add(vaulttoken::LocalKey::generate()?)?;
    /// let saved = ring.export_secret()?;
    /// assert!(saved.as_str().contains("k4.local."));
    /// let restored = LocalKeyRing::import_secret(saved.as_str(), &RingSettings::new())?;
    /// assert_eq!(restored.keys(), ring.keys());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn export_secret(&self) -> Result<SecretString, Error> {
        export(self, K::RING_KIND, K::to_secret_text).map(SecretString::new)
    }

    /// Restores a ring saved by [`KeyRing::export_secret`], with the clock of
    /// `settings`.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document (including a
    /// negative `max_token_lifetime_seconds`), and any error of
    /// [`LocalKey::from_paserk`] or [`SecretKey::from_paserk`].
    ///
    /// # Security
    ///
    /// Every key string read from the document is wiped when dropped, also when
    /// the import fails part way.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::KeyRingError;
    /// use vaulttoken::keyring::{LocalKeyRing, RingSettings};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let ring = LocalKeyRing::new(time::Duration::hours(2))?;
    /// let id = ring.add(LocalKey::generate()?)?;
    /// ring.promote(&id)?;
    /// let saved = ring.export_secret()?;
    /// let restored = LocalKeyRing::import_secret(saved.as_str(), &RingSettings::new())?;
    /// assert_eq!(restored.active_id(), Some(id));
    /// assert_eq!(restored.max_token_lifetime(), time::Duration::hours(2));
    /// assert!(matches!(
    ///     LocalKeyRing::import_secret("{}", &RingSettings::new()),
    ///     Err(Error::KeyRing(KeyRingError::InvalidDocument { .. }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn import_secret(document: &str, settings: &RingSettings) -> Result<Self, Error> {
        import(document, K::RING_KIND, true, settings, K::from_secret_text)
    }
}

impl KeyRing<PublicKey> {
    /// Saves the ring's public keys (`k4.public.`): nothing in it is secret.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{PublicKeyRing, RingSettings, SigningKeyRing};
    ///
    /// let signing = SigningKeyRing::new(time::Duration::hours(1))?;
    /// signing.add(vaulttoken::SecretKey::generate()?)?;
    /// let published = signing.public_ring().export();
    /// assert!(!published.contains("k4.secret"));
    /// assert_eq!(PublicKeyRing::import(&published, &RingSettings::new())?.len(), 1);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn export(&self) -> String {
        export(self, PUBLIC_RING_KIND, |key| {
            Ok(Zeroizing::new(key.to_paserk()))
        })
        .map(|text| text.to_string())
        .unwrap_or_else(|_| unreachable!("public keys always export"))
    }

    /// Restores a ring saved by [`KeyRing::<PublicKey>::export`], with the clock
    /// of `settings`. Every key is [`KeyStatus::Next`]: a
    /// verification-only ring has no active key.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::InvalidDocument`] for a malformed document (including an
    /// `active` or `previous` key), and any error of [`PublicKey::from_paserk`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::keyring::{KeyStatus, PublicKeyRing, RingSettings, SigningKeyRing};
    ///
    /// let signing = SigningKeyRing::new(time::Duration::hours(1))?;
    /// let id = signing.add(vaulttoken::SecretKey::generate()?)?;
    /// signing.promote(&id)?;
    /// let published = signing.public_ring().export();
    /// let public = PublicKeyRing::import(&published, &RingSettings::new())?;
    /// // Every key is `Next`: a verification-only ring has no active key.
    /// assert_eq!(public.keys(), [(id, KeyStatus::Next)]);
    /// // A document of secret keys is not a public ring.
    /// let secret = signing.export_secret()?;
    /// assert!(PublicKeyRing::import(secret.as_str(), &RingSettings::new()).is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn import(document: &str, settings: &RingSettings) -> Result<Self, Error> {
        import(
            document,
            PUBLIC_RING_KIND,
            false,
            settings,
            PublicKey::from_paserk,
        )
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
    settings: &RingSettings,
    decode_key: impl Fn(&str) -> Result<K, Error>,
) -> Result<KeyRing<K>, Error> {
    if document.len() > MAX_DOCUMENT_LEN {
        return Err(invalid(
            "the document is larger than any ring of MAX_KEYS keys",
        ));
    }
    let mut top = json::parse_object(document.as_bytes())
        .map_err(|_| invalid("not a JSON object with unique keys"))?;
    // Before anything can fail: every key string leaves the parsed tree for wiped
    // storage, so an early return drops no unwiped copy of a key.
    let key_texts = match top.get_mut(KEYS_FIELD) {
        Some(Value::Array(stored_keys)) => take_key_texts(stored_keys),
        _ => Vec::new(),
    };
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
    for (stored, key_text) in stored_keys.into_iter().zip(key_texts) {
        let Value::Object(mut stored) = stored else {
            return Err(invalid("each key must be an object"));
        };
        let kid = take_str(&mut stored, "kid")?;
        let status = take_str(&mut stored, "status")?;
        let since = stored.remove("since");
        // Its text was taken out (and the emptied string is dropped here).
        let (Some(key_text), Some(_)) = (key_text, stored.remove("key")) else {
            return Err(invalid(
                "a required string field is missing or not a string",
            ));
        };
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
        Arc::clone(&settings.clock),
    ))
}

/// Moves the `key` string of every stored key out of the parsed tree into wiped
/// storage, leaving an empty string in its place: `None` where an entry has no
/// string `key`. The texts line up with `stored_keys`.
fn take_key_texts(stored_keys: &mut [Value]) -> Vec<Option<Zeroizing<String>>> {
    stored_keys
        .iter_mut()
        .map(|stored| match stored.get_mut("key") {
            Some(Value::String(text)) => Some(Zeroizing::new(mem::take(text))),
            _ => None,
        })
        .collect()
}

fn take_str(object: &mut Map<String, Value>, field: &'static str) -> Result<String, Error> {
    match object.remove(field) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(invalid(
            "a required string field is missing or not a string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_texts_leave_the_parsed_tree_for_wiped_storage() {
        let local = LocalKey::from_bytes(&[7; 32]).unwrap().to_paserk().unwrap();
        let secret = SecretKey::from_seed(&[9; 32]).unwrap().to_paserk().unwrap();
        let document = format!(
            r#"{{"keys":[{{"kid":"a","key":"{}"}},{{"kid":"b"}},{{"key":1}},"x",{{"key":"{}"}}]}}"#,
            local.as_str(),
            secret.as_str()
        );
        let mut top = json::parse_object(document.as_bytes()).unwrap();
        let Some(Value::Array(stored_keys)) = top.get_mut(KEYS_FIELD) else {
            panic!("keys is an array");
        };

        let texts: Vec<Option<Zeroizing<String>>> = take_key_texts(stored_keys);
        let texts: Vec<Option<&str>> = texts
            .iter()
            .map(|t| t.as_deref().map(String::as_str))
            .collect();
        assert_eq!(
            texts,
            [
                Some(local.as_str()),
                None,
                None,
                None,
                Some(secret.as_str())
            ]
        );
        // No key text is left in the tree that is dropped unwiped.
        let rest = serde_json::to_string(&top).unwrap();
        assert!(
            !rest.contains("k4.local.") && !rest.contains("k4.secret."),
            "{rest}"
        );
        assert_eq!(
            rest,
            r#"{"keys":[{"key":"","kid":"a"},{"kid":"b"},{"key":1},"x",{"key":""}]}"#
        );
    }
}
