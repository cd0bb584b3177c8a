//! `k4.local-wrap.pie.` and `k4.secret-wrap.pie.`: keys wrapped with a local
//! wrapping key (the PASERK "pie" scheme, XChaCha20 + BLAKE2b, encrypt-then-MAC).
//!
//! For a random 32-byte nonce `n` and wrapping key `wk`:
//! `Ek ‖ n2 = BLAKE2b-448(key = wk, 0x80 ‖ n)`, `Ak = BLAKE2b-256(key = wk, 0x81 ‖ n)`,
//! `c = XChaCha20(Ek, n2, ptk)` and `t = BLAKE2b-256(key = Ak, h ‖ n ‖ c)`. The
//! string is `h ‖ base64url(t ‖ n ‖ c)`. Unwrapping checks `t` in constant time
//! before it decrypts.

use blake2::digest::consts::{U32, U56};
use blake2::digest::{FixedOutput, Mac};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{PaserkType, decode_exact, encode};
use crate::error::Error;
use crate::keys::{LocalKey, SecretKey};
use crate::primitives::{keyed_blake2b, random_array, xchacha20};

const TAG_LEN: usize = 32;
const NONCE_LEN: usize = 32;
const ENCRYPTION_DOMAIN: u8 = 0x80;
const AUTH_DOMAIN: u8 = 0x81;

impl LocalKey {
    /// Wraps this key with `wrapping_key` into a `k4.local-wrap.pie.` PASERK,
    /// safe to store next to data that the wrapping key does not protect.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if either key was cleared or has been used up, and
    /// [`Error::Randomness`] if the OS cannot supply a nonce.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::LocalKey;
    ///
    /// let wrapping = LocalKey::generate()?;
    /// let key = LocalKey::generate()?;
    /// let wrapped = key.to_paserk_wrapped(&wrapping)?;
    /// assert!(wrapped.starts_with("k4.local-wrap.pie."));
    /// assert_eq!(LocalKey::from_paserk_wrapped(&wrapped, &wrapping)?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_paserk_wrapped(&self, wrapping_key: &Self) -> Result<String, Error> {
        let plaintext = self.expose_secret_bytes()?;
        wrap(PaserkType::LocalWrapPie, wrapping_key, plaintext.as_bytes())
    }

    /// Unwraps a `k4.local-wrap.pie.` PASERK with `wrapping_key`.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for another version or type, a wrong length or bad
    /// base64url; [`Error::Verification`] for a wrong wrapping key or an altered
    /// string; [`Error::KeyCleared`] if the wrapping key was cleared.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let wrapped = LocalKey::generate()?.to_paserk_wrapped(&LocalKey::generate()?)?;
    /// let wrong = LocalKey::generate()?;
    /// assert!(matches!(
    ///     LocalKey::from_paserk_wrapped(&wrapped, &wrong),
    ///     Err(Error::Verification)
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk_wrapped(text: &str, wrapping_key: &Self) -> Result<Self, Error> {
        let plaintext = unwrap(PaserkType::LocalWrapPie, wrapping_key, text, Self::LENGTH)?;
        Self::from_bytes(&plaintext)
    }
}

impl SecretKey {
    /// Wraps this key with the local `wrapping_key` into a `k4.secret-wrap.pie.`
    /// PASERK.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if either key was cleared or has been used up, and
    /// [`Error::Randomness`] if the OS cannot supply a nonce.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, SecretKey};
    ///
    /// let wrapping = LocalKey::generate()?;
    /// let key = SecretKey::generate()?;
    /// let wrapped = key.to_paserk_wrapped(&wrapping)?;
    /// assert!(wrapped.starts_with("k4.secret-wrap.pie."));
    /// assert_eq!(SecretKey::from_paserk_wrapped(&wrapped, &wrapping)?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_paserk_wrapped(&self, wrapping_key: &LocalKey) -> Result<String, Error> {
        let plaintext = self.expose_secret_bytes()?;
        wrap(
            PaserkType::SecretWrapPie,
            wrapping_key,
            plaintext.as_bytes(),
        )
    }

    /// Unwraps a `k4.secret-wrap.pie.` PASERK with the local `wrapping_key`.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for another version or type, a wrong length or bad
    /// base64url; [`Error::Verification`] for a wrong wrapping key or an altered
    /// string; [`Error::InvalidKey`] if the unwrapped halves do not belong together.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, LocalKey, SecretKey};
    ///
    /// let wrapping = LocalKey::generate()?;
    /// let local_wrapped = LocalKey::generate()?.to_paserk_wrapped(&wrapping)?;
    /// assert!(matches!(
    ///     SecretKey::from_paserk_wrapped(&local_wrapped, &wrapping),
    ///     Err(Error::Paserk(_))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk_wrapped(text: &str, wrapping_key: &LocalKey) -> Result<Self, Error> {
        let plaintext = unwrap(
            PaserkType::SecretWrapPie,
            wrapping_key,
            text,
            Self::KEYPAIR_LENGTH,
        )?;
        Self::from_bytes(&plaintext)
    }
}

/// The cipher key and nonce, and the authentication key, for one wrapping
/// nonce, wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct WrapKeys {
    encryption_key: [u8; 32],
    cipher_nonce: [u8; 24],
    auth_key: [u8; 32],
}

impl WrapKeys {
    fn derive(wrapping_key: &[u8; 32], nonce: &[u8]) -> Self {
        let mut ek_n2 = Zeroizing::new([0u8; 56]);
        keyed_blake2b::<U56>(wrapping_key, &[&[ENCRYPTION_DOMAIN], nonce])
            .finalize_into((&mut *ek_n2).into());
        let mut keys = Self {
            encryption_key: [0u8; 32],
            cipher_nonce: [0u8; 24],
            auth_key: [0u8; 32],
        };
        keys.encryption_key.copy_from_slice(&ek_n2[..32]);
        keys.cipher_nonce.copy_from_slice(&ek_n2[32..]);
        keyed_blake2b::<U32>(wrapping_key, &[&[AUTH_DOMAIN], nonce])
            .finalize_into((&mut keys.auth_key).into());
        keys
    }

    fn tag(&self, header: PaserkType, nonce: &[u8], ciphertext: &[u8]) -> blake2::Blake2bMac<U32> {
        keyed_blake2b::<U32>(
            &self.auth_key,
            &[header.header().as_bytes(), nonce, ciphertext],
        )
    }
}

fn wrap(kind: PaserkType, wrapping_key: &LocalKey, plaintext: &[u8]) -> Result<String, Error> {
    let nonce: Zeroizing<[u8; NONCE_LEN]> = random_array()?;
    wrapping_key.use_for_operation(|wk| {
        let keys = WrapKeys::derive(wk, nonce.as_ref());
        let mut out = vec![0u8; TAG_LEN + NONCE_LEN + plaintext.len()];
        let (tag, rest) = out.split_at_mut(TAG_LEN);
        let (nonce_out, ciphertext) = rest.split_at_mut(NONCE_LEN);
        nonce_out.copy_from_slice(nonce.as_ref());
        ciphertext.copy_from_slice(plaintext);
        xchacha20(&keys.encryption_key, &keys.cipher_nonce, ciphertext);
        tag.copy_from_slice(
            &keys
                .tag(kind, nonce_out, ciphertext)
                .finalize()
                .into_bytes(),
        );
        encode(kind, &out)
    })
}

fn unwrap(
    kind: PaserkType,
    wrapping_key: &LocalKey,
    text: &str,
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut data = decode_exact(text, kind, TAG_LEN + NONCE_LEN + key_len)?;
    wrapping_key.use_for_operation(|wk| {
        let (tag, rest) = data.split_at_mut(TAG_LEN);
        let (nonce, ciphertext) = rest.split_at_mut(NONCE_LEN);
        let keys = WrapKeys::derive(wk, nonce);
        keys.tag(kind, nonce, ciphertext)
            .verify_slice(tag)
            .map_err(|_| Error::Verification)?;
        xchacha20(&keys.encryption_key, &keys.cipher_nonce, ciphertext);
        Ok(Zeroizing::new(ciphertext.to_vec()))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_wiped_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<WrapKeys>();
        let mut keys = WrapKeys::derive(&[1; 32], &[2; NONCE_LEN]);
        assert_ne!(keys.encryption_key, keys.auth_key);
        keys.zeroize();
        assert_eq!(
            (keys.encryption_key, keys.auth_key, keys.cipher_nonce),
            ([0; 32], [0; 32], [0; 24])
        );
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let wrapping = LocalKey::from_bytes(&[3; 32]).unwrap();
        let key = LocalKey::from_bytes(&[4; 32]).unwrap();
        let wrapped = key.to_paserk_wrapped(&wrapping).unwrap();
        let header_len = PaserkType::LocalWrapPie.header().len();
        let mut data = crate::encoding::decode_base64url(&wrapped[header_len..]).unwrap();
        for bit in 0..data.len() * 8 {
            data[bit / 8] ^= 1 << (bit % 8);
            let altered = encode(PaserkType::LocalWrapPie, &data);
            assert!(
                matches!(
                    LocalKey::from_paserk_wrapped(&altered, &wrapping),
                    Err(Error::Verification)
                ),
                "bit {bit}"
            );
            data[bit / 8] ^= 1 << (bit % 8);
        }
    }

    #[test]
    fn the_header_is_authenticated() {
        // Re-labelling a wrapped local key as a wrapped secret key changes `h`
        // (and the length), so it cannot verify.
        let wrapping = LocalKey::generate().unwrap();
        let wrapped = LocalKey::generate()
            .unwrap()
            .to_paserk_wrapped(&wrapping)
            .unwrap();
        let relabelled = wrapped.replacen("k4.local-wrap", "k4.secret-wrap", 1);
        assert!(SecretKey::from_paserk_wrapped(&relabelled, &wrapping).is_err());
    }

    #[test]
    fn two_wraps_of_one_key_differ() {
        let wrapping = LocalKey::generate().unwrap();
        let key = LocalKey::generate().unwrap();
        assert_ne!(
            key.to_paserk_wrapped(&wrapping).unwrap(),
            key.to_paserk_wrapped(&wrapping).unwrap()
        );
    }
}
