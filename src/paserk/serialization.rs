//! Keys in configuration, with the `serde` feature: every key type deserializes
//! from a PASERK string of its own type; public keys and key ids serialize to
//! one. Secret keys never serialize, so a config struct holding one cannot be
//! written back out by accident.

use core::fmt;
use core::marker::PhantomData;
use core::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};
use zeroize::Zeroizing;

use super::KeyId;
use crate::error::Error;
use crate::keys::{LocalKey, PublicKey, SecretKey};

/// Reads a PASERK string into `T`; an owned string is wiped after parsing.
struct PaserkVisitor<T>(PhantomData<T>);

impl<T: FromStr<Err = Error>> Visitor<'_> for PaserkVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PASERK string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        // The error names what is wrong with the string, never the string.
        text.parse().map_err(E::custom)
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<T, E> {
        let text = Zeroizing::new(text);
        self.visit_str(&text)
    }
}

fn deserialize_paserk<'de, D: Deserializer<'de>, T: FromStr<Err = Error>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_str(PaserkVisitor(PhantomData))
}

/// From a `k4.local.` PASERK string.
///
/// # Examples
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Config {
///     session_key: vaulttoken::LocalKey,
/// }
///
/// let text = vaulttoken::LocalKey::generate()?.to_paserk()?;
/// let json = format!(r#"{{"session_key":"{}"}}"#, text.as_str());
/// let config: Config = serde_json::from_str(&json).unwrap();
/// assert_eq!(config.session_key.to_paserk()?.as_str(), text.as_str());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl<'de> Deserialize<'de> for LocalKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_paserk(deserializer)
    }
}

/// From a `k4.secret.` PASERK string.
///
/// # Examples
///
/// ```
/// let secret = vaulttoken::SecretKey::generate()?;
/// let json = format!(r#""{}""#, secret.to_paserk()?.as_str());
/// let parsed: vaulttoken::SecretKey = serde_json::from_str(&json).unwrap();
/// assert_eq!(parsed, secret);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_paserk(deserializer)
    }
}

/// From a `k4.public.` PASERK string.
///
/// # Examples
///
/// ```
/// let public = vaulttoken::SecretKey::generate()?.public_key();
/// let json = serde_json::to_string(&public).unwrap();
/// assert_eq!(json, format!(r#""{}""#, public.to_paserk()));
/// let back: vaulttoken::PublicKey = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, public);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_paserk(deserializer)
    }
}

/// As its `k4.public.` PASERK string.
///
/// # Examples
///
/// See the `Deserialize` implementation.
impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_paserk())
    }
}

/// From a `k4.lid.`, `k4.pid.` or `k4.sid.` string.
///
/// # Examples
///
/// ```
/// let id = vaulttoken::LocalKey::generate()?.paserk_id()?;
/// let json = serde_json::to_string(&id).unwrap();
/// let back: vaulttoken::paserk::KeyId = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, id);
/// assert!(serde_json::from_str::<vaulttoken::paserk::KeyId>(r#""k4.local.AAAA""#).is_err());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_paserk(deserializer)
    }
}

/// As its PASERK id string.
///
/// # Examples
///
/// See the `Deserialize` implementation.
impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_deserialize_from_their_own_paserk_type_and_errors_show_no_key() {
        let local = LocalKey::generate().unwrap();
        let text = local.to_paserk().unwrap();
        let json = format!(r#""{}""#, text.as_str());
        let back: LocalKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, local);
        let err = serde_json::from_str::<PublicKey>(&json)
            .unwrap_err()
            .to_string();
        assert!(!err.contains(&text.as_str()["k4.local.".len()..]), "{err}");
        assert!(err.contains("PASERK"), "{err}");
        assert!(serde_json::from_str::<SecretKey>("42").is_err());
        // An owned string (from a reader) takes the same path.
        let owned: LocalKey = serde_json::from_reader(json.as_bytes()).unwrap();
        assert_eq!(owned, local);
    }

    #[test]
    fn public_keys_and_ids_round_trip_through_json() {
        let public = SecretKey::generate().unwrap().public_key();
        let json = serde_json::to_string(&public).unwrap();
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), public);
        let id = public.paserk_id().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!(r#""{}""#, id.as_str()));
        assert_eq!(serde_json::from_str::<KeyId>(&json).unwrap(), id);
    }
}
