//! `k4.seal.`: a local key encrypted to an Ed25519 public key.
//!
//! The recipient's Ed25519 key `pk` is mapped to its X25519 form `xpk`. For a
//! random ephemeral X25519 key pair (`esk`, `epk`) and `xk = X25519(esk, xpk)`:
//! `Ek = BLAKE2b-256(0x01 ‖ h ‖ xk ‖ epk ‖ xpk)`,
//! `Ak = BLAKE2b-256(0x02 ‖ h ‖ xk ‖ epk ‖ xpk)`, `n = BLAKE2b-192(epk ‖ xpk)`,
//! `edk = XChaCha20(Ek, n, ptk)` and `t = BLAKE2b-256(key = Ak, h ‖ epk ‖ edk)`.
//! The string is `h ‖ base64url(t ‖ epk ‖ edk)`. The recipient recomputes `xk`
//! from its Ed25519 secret key's X25519 form and checks `t` before decrypting.
//!
//! The X25519 arithmetic is curve25519-dalek's; the Ed25519 → X25519 maps are
//! ed25519-dalek's.

use blake2::digest::Mac;
use blake2::digest::consts::{U24, U32};
use curve25519_dalek::montgomery::MontgomeryPoint;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{PaserkType, decode_exact, encode};
use crate::error::Error;
use crate::keys::{LocalKey, PublicKey, SecretKey};
use crate::primitives::{blake2b_into, keyed_blake2b, random_array, xchacha20};

const TAG_LEN: usize = 32;
const POINT_LEN: usize = 32;
const SEALED_LEN: usize = TAG_LEN + POINT_LEN + LocalKey::LENGTH;

impl LocalKey {
    /// Seals this key to `recipient` as a `k4.seal.` PASERK: only the holder of
    /// the matching [`SecretKey`] can open it.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if this key was cleared or has been used up, and
    /// [`Error::Randomness`] if the OS cannot supply an ephemeral key.
    ///
    /// # Security
    ///
    /// This reuses the recipient's signing key pair for key exchange, as PASERK
    /// specifies. Prefer a key pair that is used for sealing only.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, SecretKey};
    ///
    /// let recipient = SecretKey::generate()?;
    /// let key = LocalKey::generate()?;
    /// let sealed = key.to_paserk_sealed(&recipient.public_key())?;
    /// assert!(sealed.starts_with("k4.seal."));
    /// assert_eq!(LocalKey::from_paserk_sealed(&sealed, &recipient)?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_paserk_sealed(&self, recipient: &PublicKey) -> Result<String, Error> {
        let plaintext = self.expose_secret_bytes()?;
        let ephemeral_secret: Zeroizing<[u8; 32]> = random_array()?;
        let ephemeral_public = MontgomeryPoint::mul_base_clamped(*ephemeral_secret);
        let recipient_x = recipient.verifying_key().to_montgomery();
        let shared = Zeroizing::new(recipient_x.mul_clamped(*ephemeral_secret));

        let keys = SealKeys::derive(&shared.0, &ephemeral_public.0, &recipient_x.0);
        let mut out = [0u8; SEALED_LEN];
        let (tag, rest) = out.split_at_mut(TAG_LEN);
        let (epk, edk) = rest.split_at_mut(POINT_LEN);
        epk.copy_from_slice(&ephemeral_public.0);
        edk.copy_from_slice(plaintext.as_bytes());
        xchacha20(&keys.encryption_key, &keys.nonce, edk);
        tag.copy_from_slice(&keys.tag(epk, edk).finalize().into_bytes());
        Ok(encode(PaserkType::Seal, &out))
    }

    /// Opens a `k4.seal.` PASERK with the recipient's secret key.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for another version or type, a wrong length or bad
    /// base64url; [`Error::Verification`] for the wrong recipient, an altered
    /// string or a degenerate ephemeral key; [`Error::KeyCleared`] if the secret
    /// key was cleared.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, LocalKey, SecretKey};
    ///
    /// let sealed = LocalKey::generate()?.to_paserk_sealed(&SecretKey::generate()?.public_key())?;
    /// let someone_else = SecretKey::generate()?;
    /// assert!(matches!(
    ///     LocalKey::from_paserk_sealed(&sealed, &someone_else),
    ///     Err(Error::Verification)
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk_sealed(text: &str, recipient: &SecretKey) -> Result<Self, Error> {
        let mut data = decode_exact(text, PaserkType::Seal, SEALED_LEN)?;
        let (tag, rest) = data.split_at_mut(TAG_LEN);
        let (epk, edk) = rest.split_at_mut(POINT_LEN);
        let mut epk_bytes = [0u8; POINT_LEN];
        epk_bytes.copy_from_slice(epk);

        let recipient_x = recipient.verifying_key().to_montgomery();
        let shared = recipient.use_for_operation(|material| {
            let scalar = Zeroizing::new(material.signing_key().to_scalar_bytes());
            Zeroizing::new(MontgomeryPoint(epk_bytes).mul_clamped(*scalar))
        })?;
        // A small-order ephemeral key makes the shared secret all zeros: the
        // sender would not be contributing any secret. Refuse it outright.
        if bool::from(shared.0.ct_eq(&[0u8; 32])) {
            return Err(Error::Verification);
        }

        let keys = SealKeys::derive(&shared.0, &epk_bytes, &recipient_x.0);
        keys.tag(epk, edk)
            .verify_slice(tag)
            .map_err(|_| Error::Verification)?;
        xchacha20(&keys.encryption_key, &keys.nonce, edk);
        Self::from_bytes(edk)
    }
}

/// The keys and nonce derived from one shared secret, wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct SealKeys {
    encryption_key: [u8; 32],
    auth_key: [u8; 32],
    nonce: [u8; 24],
}

impl SealKeys {
    fn derive(shared: &[u8; 32], ephemeral_public: &[u8; 32], recipient_x: &[u8; 32]) -> Self {
        let header = PaserkType::Seal.header().as_bytes();
        let mut keys = Self {
            encryption_key: [0u8; 32],
            auth_key: [0u8; 32],
            nonce: [0u8; 24],
        };
        for (domain, key) in [(0x01, &mut keys.encryption_key), (0x02, &mut keys.auth_key)] {
            blake2b_into::<U32>(
                &[&[domain], header, shared, ephemeral_public, recipient_x],
                key.into(),
            );
        }
        blake2b_into::<U24>(&[ephemeral_public, recipient_x], (&mut keys.nonce).into());
        keys
    }

    fn tag(&self, ephemeral_public: &[u8], edk: &[u8]) -> blake2::Blake2bMac<U32> {
        keyed_blake2b::<U32>(
            &self.auth_key,
            &[PaserkType::Seal.header().as_bytes(), ephemeral_public, edk],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_and_the_shared_secret_are_wiped_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<SealKeys>();
        // The shared secret is held as a wiped-on-drop Montgomery point.
        zeroized_on_drop::<Zeroizing<MontgomeryPoint>>();
        let mut keys = SealKeys::derive(&[1; 32], &[2; 32], &[3; 32]);
        assert_ne!(keys.encryption_key, keys.auth_key);
        keys.zeroize();
        assert_eq!(
            (keys.encryption_key, keys.auth_key, keys.nonce),
            ([0; 32], [0; 32], [0; 24])
        );
    }

    #[test]
    fn a_small_order_ephemeral_key_is_refused() {
        let recipient = SecretKey::generate().unwrap();
        // The Montgomery point u = 0 has order 2 (and u = 1 order 4): X25519 with
        // either is all zeros whatever the scalar.
        for u in [0u8, 1] {
            let mut data = [0u8; SEALED_LEN];
            data[TAG_LEN] = u;
            let text = encode(PaserkType::Seal, &data);
            assert!(matches!(
                LocalKey::from_paserk_sealed(&text, &recipient),
                Err(Error::Verification)
            ));
        }
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let recipient = SecretKey::from_seed(&[5; 32]).unwrap();
        let key = LocalKey::from_bytes(&[6; 32]).unwrap();
        let sealed = key.to_paserk_sealed(&recipient.public_key()).unwrap();
        let header_len = PaserkType::Seal.header().len();
        let mut data = crate::encoding::decode_base64url(&sealed[header_len..]).unwrap();
        for bit in 0..data.len() * 8 {
            data[bit / 8] ^= 1 << (bit % 8);
            let altered = encode(PaserkType::Seal, &data);
            assert!(
                LocalKey::from_paserk_sealed(&altered, &recipient).is_err(),
                "bit {bit}"
            );
            data[bit / 8] ^= 1 << (bit % 8);
        }
    }
}
