//! `k4.lid.`, `k4.pid.` and `k4.sid.`: key ids.
//!
//! An id is `h ‖ base64url(BLAKE2b-264(h ‖ p))`, where `h` is the id's header and
//! `p` the key's PASERK string. It names a key without revealing it, so it is what
//! tokens carry as `kid`.

use core::borrow::Borrow;
use core::fmt;
use core::str::FromStr;

use blake2::digest::consts::U33;

use super::{PaserkError, PaserkType, encode, exact_data};
use crate::encoding;
use crate::error::Error;
use crate::keys::{LocalKey, PublicKey, SecretKey};
use crate::primitives::blake2b;

/// Length of an id's hash in bytes (264 bits).
const ID_HASH_LEN: usize = 33;

/// A PASERK key id: `k4.lid.` for local keys, `k4.pid.` for public keys and
/// `k4.sid.` for secret keys.
///
/// Ids are public: they are safe to log, to put in footers and to compare with
/// `==`.
///
/// # Examples
///
/// ```
/// use vaulttoken::paserk::KeyId;
/// use vaulttoken::error::PaserkType;
///
/// let secret = vaulttoken::SecretKey::generate()?;
/// let pid: KeyId = secret.public_key().paserk_id()?;
/// assert_eq!(pid.kind(), PaserkType::Pid);
/// assert_eq!(pid.as_str().len(), 7 + 44);
/// assert_eq!(pid.as_str().parse::<KeyId>()?, pid);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId {
    text: Box<str>,
}

impl KeyId {
    /// Parses an id, checking its header, its exact length and its encoding.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] if the text is not a k4 `lid`, `pid` or `sid`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::paserk::KeyId;
    ///
    /// let lid = KeyId::parse("k4.lid.bqltbNc4JLUAmc9Xtpok-fBuI0dQN5_m3CD9W_nbh559")?;
    /// assert_eq!(lid.as_str(), "k4.lid.bqltbNc4JLUAmc9Xtpok-fBuI0dQN5_m3CD9W_nbh559");
    /// assert!(KeyId::parse("k4.lid.short").is_err());
    /// assert!(KeyId::parse("k4.local.AAAA").is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::check(text)?;
        Ok(Self { text: text.into() })
    }

    /// The checks of [`KeyId::parse`], without making a `KeyId`: the id's type if
    /// `text` is a valid id, the same error as `parse` if not. A key ring looks
    /// its map up with the checked `&str` (see the `Borrow<str>` impl), so reading
    /// a token's `kid` allocates nothing.
    pub(crate) fn check(text: &str) -> Result<PaserkType, Error> {
        let kind = PaserkType::of(text)?;
        if !matches!(kind, PaserkType::Lid | PaserkType::Pid | PaserkType::Sid) {
            return Err(PaserkError::WrongType {
                expected: PaserkType::Lid,
                found: kind,
            }
            .into());
        }
        // The same header and length checks as every other PASERK (`decode_exact`).
        // An id is public, so the table-driven decoder (as strict, not constant
        // time) then checks it without allocating; a key lookup by `kid` runs
        // this on every token.
        if !encoding::is_public_base64url(exact_data(text, kind, ID_HASH_LEN)?) {
            return Err(PaserkError::Encoding.into());
        }
        Ok(kind)
    }

    /// The id of a `k4.local.`, `k4.public.` or `k4.secret.` PASERK string.
    ///
    /// Ids are computed over the string, so this checks the string's header,
    /// length and encoding but not the key inside it (a public key that
    /// [`PublicKey::from_paserk`] would refuse as weak still has an id).
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for any other string.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, paserk::KeyId};
    ///
    /// let key = LocalKey::generate()?;
    /// assert_eq!(KeyId::of_paserk(key.to_paserk()?.as_str())?, key.paserk_id()?);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn of_paserk(paserk: &str) -> Result<Self, Error> {
        let (kind, id_kind, len) = match PaserkType::of(paserk)? {
            PaserkType::Local => (PaserkType::Local, PaserkType::Lid, LocalKey::LENGTH),
            PaserkType::Public => (PaserkType::Public, PaserkType::Pid, PublicKey::LENGTH),
            PaserkType::Secret => (
                PaserkType::Secret,
                PaserkType::Sid,
                SecretKey::KEYPAIR_LENGTH,
            ),
            found => {
                return Err(PaserkError::WrongType {
                    expected: PaserkType::Local,
                    found,
                }
                .into());
            }
        };
        super::decode_exact(paserk, kind, len)?;
        Ok(Self::compute(id_kind, paserk))
    }

    /// `h ‖ base64url(BLAKE2b-264(h ‖ paserk))` for the id type `kind`.
    pub(crate) fn compute(kind: PaserkType, paserk: &str) -> Self {
        let header = kind.header();
        let hash = blake2b::<U33>(&[header.as_bytes(), paserk.as_bytes()]);
        Self {
            text: encode(kind, &hash).into_boxed_str(),
        }
    }

    /// The id as text, such as `k4.lid.…`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lid = vaulttoken::LocalKey::generate()?.paserk_id()?;
    /// assert!(lid.as_str().starts_with("k4.lid."));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is a `lid`, `pid` or `sid`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::PaserkType;
    ///
    /// let sid = vaulttoken::SecretKey::generate()?.paserk_id()?;
    /// assert_eq!(sid.kind(), PaserkType::Sid);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> PaserkType {
        match &self.text.as_bytes()[3] {
            b'l' => PaserkType::Lid,
            b'p' => PaserkType::Pid,
            _ => PaserkType::Sid,
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for KeyId {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

/// `Hash`, `Eq` and `Ord` are derived from the one `text` field, so they agree
/// with `str`'s, as `Borrow` requires: a `HashMap<KeyId, _>` can be looked up
/// with a `&str`.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use vaulttoken::paserk::KeyId;
///
/// let lid = vaulttoken::LocalKey::from_bytes(&[0u8; 32])?.paserk_id()?;
/// let names = HashMap::from([(lid, "old key")]);
/// assert_eq!(names.get("k4.lid.bqltbNc4JLUAmc9Xtpok-fBuI0dQN5_m3CD9W_nbh559"), Some(&"old key"));
/// assert_eq!(names.get("k4.lid.other"), None);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl Borrow<str> for KeyId {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl LocalKey {
    /// The key's `k4.lid.` id.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::from_bytes(&[0u8; 32])?;
    /// assert_eq!(
    ///     key.paserk_id()?.as_str(),
    ///     "k4.lid.bqltbNc4JLUAmc9Xtpok-fBuI0dQN5_m3CD9W_nbh559"
    /// );
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn paserk_id(&self) -> Result<KeyId, Error> {
        Ok(KeyId::compute(PaserkType::Lid, self.to_paserk()?.as_str()))
    }
}

impl PublicKey {
    /// The key's `k4.pid.` id: the `kid` for `v4.public` tokens.
    ///
    /// It has the same signature as [`LocalKey::paserk_id`] and
    /// [`SecretKey::paserk_id`], so code can treat the three alike.
    ///
    /// # Errors
    ///
    /// None today: a public key is never cleared.
    ///
    /// # Examples
    ///
    /// ```
    /// let public = vaulttoken::SecretKey::generate()?.public_key();
    /// assert!(public.paserk_id()?.as_str().starts_with("k4.pid."));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn paserk_id(&self) -> Result<KeyId, Error> {
        Ok(KeyId::compute(PaserkType::Pid, &self.to_paserk()))
    }
}

impl SecretKey {
    /// The key's `k4.sid.` id. Tokens name their verifying key instead, by the
    /// public key's [`PublicKey::paserk_id`].
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert!(key.paserk_id()?.as_str().starts_with("k4.sid."));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn paserk_id(&self) -> Result<KeyId, Error> {
        Ok(KeyId::compute(PaserkType::Sid, self.to_paserk()?.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_agrees_with_parse_and_borrow_with_hash_and_eq() {
        use std::collections::HashMap;
        use std::hash::BuildHasher;

        let lid = LocalKey::from_bytes(&[7; 32]).unwrap().paserk_id().unwrap();
        let secret = SecretKey::from_seed(&[9; 32]).unwrap();
        let (pid, sid) = (
            secret.public_key().paserk_id().unwrap(),
            secret.paserk_id().unwrap(),
        );
        let mut texts = vec![
            String::new(),
            "k4.lid.".to_owned(),
            "k4.lid.short".to_owned(),
            "k4.local.AAAA".to_owned(),
            "k3.lid.bqltbNc4JLUAmc9Xtpok-fBuI0dQN5_m3CD9W_nbh559".to_owned(),
        ];
        for id in [&lid, &pid, &sid] {
            let text = id.as_str();
            texts.push(text.to_owned());
            texts.push(format!("{text}A"));
            texts.push(text[..text.len() - 1].to_owned());
            texts.push(format!("{}+", &text[..text.len() - 1]));
            texts.push(text.replacen("k4.", "K4.", 1));
        }
        for text in &texts {
            match (KeyId::check(text), KeyId::parse(text)) {
                (Ok(kind), Ok(id)) => assert_eq!(kind, id.kind(), "{text}"),
                (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{text}"),
                (a, b) => panic!("{text}: {a:?} vs {b:?}"),
            }
        }

        let state = std::collections::hash_map::RandomState::new();
        let map = HashMap::from([(lid.clone(), 1), (pid.clone(), 2), (sid.clone(), 3)]);
        for (id, n) in [(&lid, 1), (&pid, 2), (&sid, 3)] {
            assert_eq!(state.hash_one(id), state.hash_one(id.as_str()));
            assert_eq!(map.get(id.as_str()), Some(&n));
        }
        assert_eq!(map.get("k4.lid.x"), None);
    }

    #[test]
    fn ids_of_different_types_differ_for_the_same_bytes() {
        let bytes = [0u8; 32];
        let as_local = format!("k4.local.{}", encoding::encode_base64url(&bytes));
        let as_public = format!("k4.public.{}", encoding::encode_base64url(&bytes));
        let lid = KeyId::of_paserk(&as_local).unwrap();
        let pid = KeyId::of_paserk(&as_public).unwrap();
        assert_ne!(lid.as_str()[7..], pid.as_str()[7..]);
        assert_eq!(lid.kind(), PaserkType::Lid);
        assert_eq!(pid.kind(), PaserkType::Pid);
    }

    #[test]
    fn parse_refuses_every_malformed_id() {
        let good = LocalKey::generate().unwrap().paserk_id().unwrap();
        let text = good.as_str();
        assert_eq!(KeyId::parse(text).unwrap(), good);
        let cases = [
            text[..text.len() - 1].to_owned(),
            format!("{text}A"),
            text.replacen("k4.", "k3.", 1),
            text.replacen("lid", "local", 1),
            format!("{}=", &text[..text.len() - 1]),
            format!("{}+", &text[..text.len() - 1]),
        ];
        for case in cases {
            assert!(KeyId::parse(&case).is_err(), "{case}");
        }
    }

    #[test]
    fn parse_gives_the_same_errors_as_decode_exact() {
        let good = SecretKey::generate().unwrap().paserk_id().unwrap();
        let text = good.as_str();
        let body = &text[7..];
        let cases = [
            (format!("k4.pid.{}", &body[1..]), PaserkType::Pid),
            (format!("k4.sid.{body}A"), PaserkType::Sid),
            (format!("k4.lid.{}=", &body[1..]), PaserkType::Lid),
            (format!("k4.lid.{}/", &body[1..]), PaserkType::Lid),
            (
                format!("k4.sid.{}!{}", &body[..10], &body[11..]),
                PaserkType::Sid,
            ),
            ("k4.pid.".to_owned(), PaserkType::Pid),
        ];
        for (case, kind) in cases {
            let from_parse = format!("{:?}", KeyId::parse(&case).unwrap_err());
            let from_decode = format!(
                "{:?}",
                super::super::decode_exact(&case, kind, ID_HASH_LEN).unwrap_err()
            );
            assert_eq!(from_parse, from_decode, "{case}");
        }
        assert!(matches!(
            KeyId::parse("k3.lid.AAAA"),
            Err(Error::Paserk(PaserkError::UnsupportedVersion))
        ));
        assert!(matches!(
            KeyId::parse(&format!("k4.public.{body}")),
            Err(Error::Paserk(PaserkError::WrongType {
                expected: PaserkType::Lid,
                found: PaserkType::Public
            }))
        ));
    }

    #[test]
    fn of_paserk_refuses_wrapped_and_id_strings() {
        let lid = LocalKey::generate().unwrap().paserk_id().unwrap();
        assert!(matches!(
            KeyId::of_paserk(lid.as_str()),
            Err(Error::Paserk(PaserkError::WrongType { .. }))
        ));
    }
}
