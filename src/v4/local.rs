//! `v4.local`: XChaCha20 encryption with a keyed-BLAKE2b MAC, encrypt-then-MAC.
//!
//! For a random 32-byte nonce `n` and key `k`:
//! `Ek ‖ n2 = BLAKE2b-448(key = k, "paseto-encryption-key" ‖ n)`,
//! `Ak = BLAKE2b-256(key = k, "paseto-auth-key-for-aead" ‖ n)`,
//! `c = XChaCha20(Ek, n2, m)` and `t = BLAKE2b-256(key = Ak, PAE(h, n, c, f, i))`.
//! The token is `v4.local.` ‖ base64url(n ‖ c ‖ t), then `.` ‖ base64url(f) if
//! there is a footer. Decryption checks the tag in constant time before it
//! decrypts anything.

use blake2::Blake2bMac;
use blake2::digest::consts::{U32, U56};
use blake2::digest::{FixedOutput, Mac};
use chacha20::XChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroizing;

use core::ops::Range;

use super::{Local, ParsedParts, Purpose, UntrustedToken, assemble, check_expected_footer};
use crate::error::Error;
use crate::keys::LocalKey;
use crate::pae;
use crate::primitives::keyed_blake2b;

/// Length of the random nonce at the front of the body.
pub(crate) const NONCE_LEN: usize = 32;
/// Length of the MAC tag at the end of the body.
pub(crate) const TAG_LEN: usize = 32;

const ENCRYPTION_KEY_DOMAIN: &[u8] = b"paseto-encryption-key";
const AUTH_KEY_DOMAIN: &[u8] = b"paseto-auth-key-for-aead";

/// Encrypts `message` into a `v4.local` token, binding `footer` (sent in clear) and
/// `implicit` (never sent) into the tag.
///
/// # Errors
///
/// [`Error::KeyCleared`] if the key was cleared or, being ephemeral, has already
/// been used, and [`Error::Randomness`] if the OS cannot supply a nonce.
///
/// # Examples
///
/// ```
/// use vaulttoken::{LocalKey, v4};
///
/// let key = LocalKey::generate()?;
/// let token = v4::local::encrypt(&key, b"{\"data\":1}", b"kid", b"tenant-7")?;
/// assert!(token.starts_with("v4.local.") && token.ends_with(".a2lk"));
/// assert_eq!(v4::local::decrypt(&key, &token, None, b"tenant-7")?, b"{\"data\":1}");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub fn encrypt(
    key: &LocalKey,
    message: &[u8],
    footer: &[u8],
    implicit: &[u8],
) -> Result<String, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| Error::Randomness)?;
    key.use_for_operation(|k| seal(k, &nonce, message, footer, implicit))
}

/// Decrypts a `v4.local` token and returns its message.
///
/// `expected_footer`, when given, must equal the token's footer exactly (compared
/// in constant time); `implicit` must equal the implicit assertion used to encrypt.
///
/// # Errors
///
/// In the order checked: [`Error::UnsupportedHeader`] for anything but a
/// `v4.local.` token; [`Error::Malformed`] for a bad layout or encoding;
/// [`Error::FooterMismatch`]; [`Error::KeyCleared`]; and [`Error::Verification`]
/// for a wrong key or any change to the body, footer or implicit assertion.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, LocalKey, v4};
///
/// let key = LocalKey::generate()?;
/// let token = v4::local::encrypt(&key, b"secret", b"", b"")?;
/// let wrong = LocalKey::generate()?;
/// assert!(matches!(v4::local::decrypt(&wrong, &token, None, b""), Err(Error::Verification)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub fn decrypt(
    key: &LocalKey,
    token: &str,
    expected_footer: Option<&[u8]>,
    implicit: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut token = UntrustedToken::<Local>::parse(token)?;
    let message = decrypt_parsed(key, token.parts(), expected_footer, implicit)?;
    Ok(token.into_message(message))
}

/// [`decrypt`] after parsing, the route services take too: checks the expected
/// footer, then the tag, then decrypts the body in place and returns where the
/// message lies in it.
pub(crate) fn decrypt_parsed(
    key: &LocalKey,
    parts: ParsedParts<'_, Local>,
    expected_footer: Option<&[u8]>,
    implicit: &[u8],
) -> Result<Range<usize>, Error> {
    let ParsedParts { body, footer, .. } = parts;
    check_expected_footer(footer, expected_footer)?;
    key.use_for_operation(|k| open(k, body, footer, implicit))??;
    Ok(NONCE_LEN..body.len() - TAG_LEN)
}

/// Encrypts with a caller-chosen nonce. Only for known-answer tests.
#[cfg(feature = "known-answer-tests")]
pub(crate) fn encrypt_with_nonce(
    key: &LocalKey,
    message: &[u8],
    footer: &[u8],
    implicit: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Result<String, Error> {
    key.use_for_operation(|k| seal(k, nonce, message, footer, implicit))
}

/// The encryption key `Ek`, XChaCha20 nonce `n2` and authentication key `Ak` for
/// one token.
struct DerivedKeys {
    cipher: XChaCha20,
    mac: Blake2bMac<U32>,
}

impl DerivedKeys {
    fn new(key: &[u8; 32], nonce: &[u8; NONCE_LEN]) -> Self {
        let mut ek_n2 = Zeroizing::new([0u8; 56]);
        keyed_blake2b::<U56>(key, &[ENCRYPTION_KEY_DOMAIN, nonce])
            .finalize_into((&mut *ek_n2).into());
        let (ek, n2) = ek_n2.split_at(32);
        let cipher = XChaCha20::new_from_slices(ek, n2)
            .unwrap_or_else(|_| unreachable!("32-byte key and 24-byte nonce"));

        let mut ak = Zeroizing::new([0u8; 32]);
        keyed_blake2b::<U32>(key, &[AUTH_KEY_DOMAIN, nonce]).finalize_into((&mut *ak).into());
        let mac = keyed_blake2b::<U32>(&ak, &[]);
        Self { cipher, mac }
    }

    /// Feeds `PAE(h, n, c, f, i)` to the MAC.
    fn authenticate(&mut self, nonce: &[u8], ciphertext: &[u8], footer: &[u8], implicit: &[u8]) {
        let pieces = [
            Local::HEADER.as_bytes(),
            nonce,
            ciphertext,
            footer,
            implicit,
        ];
        pae::feed(&pieces, &mut |bytes| Mac::update(&mut self.mac, bytes));
    }
}

fn seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    message: &[u8],
    footer: &[u8],
    implicit: &[u8],
) -> String {
    let mut derived = DerivedKeys::new(key, nonce);
    let mut body = Vec::with_capacity(NONCE_LEN + message.len() + TAG_LEN);
    body.extend_from_slice(nonce);
    body.extend_from_slice(message);
    derived.cipher.apply_keystream(&mut body[NONCE_LEN..]);
    derived.authenticate(nonce, &body[NONCE_LEN..], footer, implicit);
    let tag = derived.mac.finalize().into_bytes();
    body.extend_from_slice(&tag);
    assemble(Local::HEADER, &body, footer)
}

/// Checks the tag, then decrypts the ciphertext in place, between the nonce and
/// the tag.
fn open(key: &[u8; 32], body: &mut [u8], footer: &[u8], implicit: &[u8]) -> Result<(), Error> {
    let tag_start = body.len() - TAG_LEN;
    let (nonce, rest) = body.split_at_mut(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at_mut(tag_start - NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = (&*nonce)
        .try_into()
        .unwrap_or_else(|_| unreachable!("split at NONCE_LEN"));

    let mut derived = DerivedKeys::new(key, nonce);
    derived.authenticate(nonce, ciphertext, footer, implicit);
    derived
        .mac
        .verify_slice(tag)
        .map_err(|_| Error::Verification)?;
    derived.cipher.apply_keystream(ciphertext);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{MalformedToken, TokenPart};

    fn key() -> LocalKey {
        LocalKey::from_bytes(&[0x70; 32]).unwrap()
    }

    #[test]
    fn round_trips_with_footer_and_implicit_assertion() {
        let token = encrypt(&key(), b"message", b"footer", b"implicit").unwrap();
        assert_eq!(
            decrypt(&key(), &token, Some(b"footer"), b"implicit").unwrap(),
            b"message"
        );
    }

    #[test]
    fn an_empty_message_round_trips() {
        let token = encrypt(&key(), b"", b"", b"").unwrap();
        assert_eq!(decrypt(&key(), &token, None, b"").unwrap(), b"");
    }

    #[test]
    fn two_encryptions_of_one_message_differ() {
        assert_ne!(
            encrypt(&key(), b"m", b"", b"").unwrap(),
            encrypt(&key(), b"m", b"", b"").unwrap()
        );
    }

    #[test]
    fn decrypt_rejects_a_different_implicit_assertion() {
        let token = encrypt(&key(), b"m", b"", b"a").unwrap();
        assert!(matches!(
            decrypt(&key(), &token, None, b"b"),
            Err(Error::Verification)
        ));
    }

    #[test]
    fn decrypt_rejects_a_modified_footer() {
        let token = encrypt(&key(), b"m", b"abc", b"").unwrap();
        let swapped = format!("{}.YWJk", token.rsplit_once('.').unwrap().0);
        assert!(matches!(
            decrypt(&key(), &swapped, None, b""),
            Err(Error::Verification)
        ));
    }

    #[test]
    fn decrypt_rejects_a_removed_footer() {
        let token = encrypt(&key(), b"m", b"abc", b"").unwrap();
        let stripped = token.rsplit_once('.').unwrap().0;
        assert!(matches!(
            decrypt(&key(), stripped, None, b""),
            Err(Error::Verification)
        ));
    }

    #[test]
    fn decrypt_checks_the_expected_footer_before_the_key() {
        let token = encrypt(&key(), b"m", b"abc", b"").unwrap();
        let mut cleared = key();
        cleared.clear();
        assert!(matches!(
            decrypt(&cleared, &token, Some(b"xyz"), b""),
            Err(Error::FooterMismatch)
        ));
    }

    #[test]
    fn decrypt_rejects_a_public_token_before_any_crypto() {
        let mut cleared = key();
        cleared.clear();
        assert!(matches!(
            decrypt(&cleared, "v4.public.AAAA", None, b""),
            Err(Error::UnsupportedHeader {
                expected: "v4.local."
            })
        ));
    }

    #[test]
    fn decrypt_rejects_a_padded_body() {
        let token = encrypt(&key(), b"m", b"", b"").unwrap();
        assert!(matches!(
            decrypt(&key(), &format!("{token}="), None, b""),
            Err(Error::Malformed(MalformedToken::Base64(TokenPart::Body)))
        ));
    }

    #[test]
    fn a_large_message_round_trips() {
        let message = vec![0x5a; 256 * 1024];
        let token = encrypt(&key(), &message, b"", b"").unwrap();
        assert_eq!(decrypt(&key(), &token, None, b"").unwrap(), message);
    }
}
