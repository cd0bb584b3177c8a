//! PASERK k4: how v4 keys are written down, identified, wrapped and sealed.
//!
//! [PASERK](https://github.com/paseto-standard/paserk) gives every key a string
//! form whose header says exactly what it is, so a string of one type is never
//! accepted where another is expected: a `k4.public.` string is not a local key,
//! and a `k3.` string is not a `k4.` one.
//!
//! | type | what it holds | method |
//! |---|---|---|
//! | `k4.local.` | a [`LocalKey`](crate::LocalKey), in clear | `to_paserk` / `from_paserk` |
//! | `k4.public.` | a [`PublicKey`](crate::PublicKey) | `to_paserk` / `from_paserk` |
//! | `k4.secret.` | a [`SecretKey`](crate::SecretKey), in clear | `to_paserk` / `from_paserk` |
//! | `k4.lid.`, `k4.pid.`, `k4.sid.` | a [`KeyId`] of the above | `paserk_id` |
//! | `k4.local-wrap.pie.`, `k4.secret-wrap.pie.` | a key encrypted under a local wrapping key | `to_paserk_wrapped` / `from_paserk_wrapped` |
//! | `k4.local-pw.`, `k4.secret-pw.` | a key encrypted under a password (Argon2id) | `to_paserk_password` / `from_paserk_password` |
//! | `k4.seal.` | a local key encrypted to an Ed25519 public key (X25519) | `to_paserk_sealed` / `from_paserk_sealed` |
//!
//! Parsing checks the header, then the exact encoded length, and only then
//! decodes (in constant time for anything secret), so a hostile string costs at
//! most a comparison of its first bytes. Password-wrapped keys carry their own
//! Argon2 cost; [`PasswordLimits`] bounds it before any memory is allocated.
//! A wrong wrapping key, password or sealing key, and any altered byte, are all
//! [`Error::Verification`].
//!
//! # Examples
//!
//! ```
//! use vaulttoken::{LocalKey, error::PaserkType};
//!
//! let key = LocalKey::generate()?;
//! let text = key.to_paserk()?;
//! assert!(text.as_str().starts_with("k4.local."));
//! assert_eq!(LocalKey::from_paserk(text.as_str())?, key);
//! assert_eq!(key.paserk_id()?.kind(), PaserkType::Lid);
//! # Ok::<(), vaulttoken::Error>(())
//! ```

mod id;
mod password;
mod pie;
mod plain;
mod seal;
#[cfg(feature = "serde")]
mod serialization;
mod text;

use zeroize::Zeroizing;

use crate::encoding;
use crate::error::{Error, PaserkError, PaserkType};

pub use self::id::KeyId;
pub use self::password::{PasswordLimits, PasswordParams};

impl PaserkType {
    /// The type of a PASERK string, read from its header alone.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] with [`PaserkError::UnsupportedVersion`] for another
    /// version's string, [`PaserkError::UnknownType`] for an unknown `k4.` type,
    /// and [`PaserkError::NotPaserk`] for anything else.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::{PaserkError, PaserkType};
    /// use vaulttoken::Error;
    ///
    /// assert_eq!(PaserkType::of("k4.seal.xyz")?, PaserkType::Seal);
    /// assert!(matches!(
    ///     PaserkType::of("k3.local.xyz"),
    ///     Err(Error::Paserk(PaserkError::UnsupportedVersion))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn of(text: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|kind| text.starts_with(kind.header()))
            .ok_or_else(|| unrecognised(text).into())
    }
}

/// Explains why `text` is not a k4 PASERK of any known type.
fn unrecognised(text: &str) -> PaserkError {
    let mut parts = text.splitn(3, '.');
    let version = parts.next().unwrap_or_default();
    if !is_version(version) || parts.next().is_none() {
        PaserkError::NotPaserk
    } else if version == "k4" {
        PaserkError::UnknownType
    } else {
        PaserkError::UnsupportedVersion
    }
}

/// Whether `part` is a PASERK version: `k` and digits, such as `k4` or `k10`.
fn is_version(part: &str) -> bool {
    part.len() >= 2 && part.starts_with('k') && part[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The data after `expected`'s header, or why `text` is not of that type.
fn data_of(text: &str, expected: PaserkType) -> Result<&str, Error> {
    if let Some(data) = text.strip_prefix(expected.header()) {
        return Ok(data);
    }
    Err(match PaserkType::of(text) {
        Ok(found) => PaserkError::WrongType { expected, found }.into(),
        Err(other) => other,
    })
}

/// The still-encoded data of a PASERK of type `expected` that must hold exactly
/// `len` bytes: the header and the encoded length are checked, nothing is decoded.
fn exact_data(text: &str, expected: PaserkType, len: usize) -> Result<&str, Error> {
    let data = data_of(text, expected)?;
    let encoded_len = encoding::base64url_len(len);
    if data.len() != encoded_len {
        return Err(PaserkError::Length {
            expected: encoded_len,
            found: data.len(),
        }
        .into());
    }
    Ok(data)
}

/// Decodes the data of a PASERK of type `expected` that must hold exactly `len`
/// bytes, in constant time. The length is checked before anything is decoded.
fn decode_exact(text: &str, expected: PaserkType, len: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    encoding::decode_base64url(exact_data(text, expected, len)?)
        .map(Zeroizing::new)
        .ok_or_else(|| PaserkError::Encoding.into())
}

/// `header ‖ base64url(bytes)`.
fn encode(kind: PaserkType, bytes: &[u8]) -> String {
    let header = kind.header();
    let mut out = Vec::with_capacity(header.len() + encoding::base64url_len(bytes.len()));
    out.extend_from_slice(header.as_bytes());
    encoding::push_base64url(&mut out, bytes);
    String::from_utf8(out).unwrap_or_else(|_| unreachable!("header and base64url are ASCII"))
}

/// [`encode`] for secret bytes: every buffer on the way is wiped.
fn encode_secret(kind: PaserkType, bytes: &[u8]) -> crate::keys::SecretString {
    crate::keys::SecretString::new(Zeroizing::new(encode(kind, bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_prefix_free_so_type_detection_is_unambiguous() {
        for a in PaserkType::ALL {
            for b in PaserkType::ALL {
                if a != b {
                    assert!(!a.header().starts_with(b.header()), "{a} / {b}");
                }
            }
        }
    }

    #[test]
    fn every_type_is_detected_from_its_header() {
        for kind in PaserkType::ALL {
            assert_eq!(
                PaserkType::of(&format!("{}data", kind.header())).ok(),
                Some(kind)
            );
        }
    }

    #[test]
    fn unrecognised_strings_are_classified() {
        let cases = [
            ("k3.local.abc", PaserkError::UnsupportedVersion),
            ("k2.seal.abc", PaserkError::UnsupportedVersion),
            ("k10.local.abc", PaserkError::UnsupportedVersion),
            ("k4.shared.abc", PaserkError::UnknownType),
            ("k4.local", PaserkError::UnknownType),
            ("k4", PaserkError::NotPaserk),
            ("v4.local.abc", PaserkError::NotPaserk),
            ("K4.local.abc", PaserkError::NotPaserk),
            ("", PaserkError::NotPaserk),
            ("k.local.", PaserkError::NotPaserk),
            ("k٤.local.", PaserkError::NotPaserk),
        ];
        for (text, expected) in cases {
            assert_eq!(unrecognised(text), expected, "{text:?}");
        }
    }

    #[test]
    fn wrong_type_names_both_types() {
        let err = data_of("k4.public.AAAA", PaserkType::Local).unwrap_err();
        assert!(matches!(
            err,
            Error::Paserk(PaserkError::WrongType {
                expected: PaserkType::Local,
                found: PaserkType::Public
            })
        ));
    }

    #[test]
    fn decode_exact_checks_length_before_decoding() {
        let long = format!("k4.local.{}", "!".repeat(10_000));
        assert!(matches!(
            decode_exact(&long, PaserkType::Local, 32),
            Err(Error::Paserk(PaserkError::Length {
                expected: 43,
                found: 10_000
            }))
        ));
        let bad = format!("k4.local.{}", "!".repeat(43));
        assert!(matches!(
            decode_exact(&bad, PaserkType::Local, 32),
            Err(Error::Paserk(PaserkError::Encoding))
        ));
    }
}
