//! The Ed25519 signing key for `v4.public`.

use core::fmt;

use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::{
    Lifecycle, PublicKey, SecretBytes, SecretString, decode_base64url_secret, decode_hex_secret,
    exact_array,
};
use crate::encoding;
use crate::error::{Error, KeyError};
use crate::primitives::random_array;

/// An Ed25519 secret key that signs `v4.public` tokens.
///
/// Holds the expanded signing scalar, so signing never re-hashes the seed or
/// re-derives the public key. Persistent unless made ephemeral; zeroized on drop;
/// compared in constant time; `Debug` shows only the public key and lifecycle.
///
/// # Examples
///
/// ```
/// use vaulttoken::{SecretKey, v4};
///
/// let secret = SecretKey::generate()?;
/// let token = v4::public::sign(&secret, b"hello", b"", b"")?;
/// assert_eq!(v4::public::verify(&secret.public_key(), &token, None, b"")?, b"hello");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub struct SecretKey {
    material: Lifecycle<SigningMaterial>,
    public: PublicKey,
}

/// The seed (kept for export) and its expansion (kept for signing).
/// Both wipe themselves on drop, and in place on [`Zeroize::zeroize`].
pub(crate) struct SigningMaterial {
    seed: Zeroizing<[u8; 32]>,
    expanded: ExpandedSecretKey,
}

impl SigningMaterial {
    pub(crate) fn expanded(&self) -> &ExpandedSecretKey {
        &self.expanded
    }

    /// The seed as an ed25519-dalek key (wiped when dropped).
    pub(crate) fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.seed)
    }

    /// The 32-byte seed.
    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }
}

impl Zeroize for SigningMaterial {
    fn zeroize(&mut self) {
        self.seed.zeroize();
        // `ExpandedSecretKey` wipes itself only on drop; its fields are public.
        self.expanded.scalar.zeroize();
        self.expanded.hash_prefix.zeroize();
    }
}

impl SecretKey {
    /// Length of the seed in bytes.
    pub const SEED_LENGTH: usize = 32;
    /// Length of the seed ‖ public key form in bytes.
    pub const KEYPAIR_LENGTH: usize = 64;

    /// Generates a new persistent key from the operating system's RNG.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if the operating system cannot provide random bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert!(!key.is_ephemeral());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn generate() -> Result<Self, Error> {
        let seed: Zeroizing<[u8; 32]> = random_array()?;
        Ok(Self::from_signing_key(SigningKey::from_bytes(&seed)))
    }

    /// Loads a key from its 32-byte seed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] with [`KeyError::Length`] for any other length.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::from_seed(&[3u8; 32])?;
    /// assert_eq!(key.expose_seed()?.as_bytes(), &[3u8; 32]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_seed(seed: &[u8]) -> Result<Self, Error> {
        let seed: Zeroizing<[u8; 32]> = exact_array(seed)?;
        Ok(Self::from_signing_key(SigningKey::from_bytes(&seed)))
    }

    /// Loads a key from its 32-byte seed given as an array: the length is checked
    /// by the type, so this cannot fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::SecretKey;
    ///
    /// let seed = [3u8; SecretKey::SEED_LENGTH];
    /// let key = SecretKey::from_seed_array(&seed);
    /// assert_eq!(key.expose_seed()?.as_bytes(), &seed);
    /// assert_eq!(key, SecretKey::from_seed(&seed)?);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn from_seed_array(seed: &[u8; Self::SEED_LENGTH]) -> Self {
        Self::from_signing_key(SigningKey::from_bytes(seed))
    }

    /// Loads a key from 64 bytes: the seed followed by its public key, the form
    /// libsodium and the PASETO test vectors use.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] with [`KeyError::Length`] for any other length, or
    /// [`KeyError::KeyPairMismatch`] if the second half is not the first half's
    /// public key.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, SecretKey, error::KeyError};
    ///
    /// let key = SecretKey::generate()?;
    /// let mut pair = *key.expose_secret_bytes()?.as_bytes();
    /// assert_eq!(SecretKey::from_bytes(&pair)?, key);
    /// pair[63] ^= 1;
    /// assert!(matches!(
    ///     SecretKey::from_bytes(&pair),
    ///     Err(Error::InvalidKey(KeyError::KeyPairMismatch))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let pair: Zeroizing<[u8; 64]> = exact_array(bytes)?;
        let seed = SigningKey::from_keypair_bytes(&pair).map_err(|_| KeyError::KeyPairMismatch)?;
        Ok(Self::from_signing_key(seed))
    }

    /// Loads the 64-byte seed ‖ public form from 128 hex digits (either case),
    /// decoded in constant time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for bad hex or any reason [`SecretKey::from_bytes`] gives.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert_eq!(vaulttoken::SecretKey::from_hex(key.to_hex()?.as_str())?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_hex_secret(text)?)
    }

    /// Loads the 64-byte seed ‖ public form from unpadded base64url.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for bad base64url or any reason [`SecretKey::from_bytes`]
    /// gives.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// let text = key.to_base64url()?;
    /// assert_eq!(vaulttoken::SecretKey::from_base64url(text.as_str())?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_base64url(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_base64url_secret(text)?)
    }

    /// The public key that verifies this key's signatures. Available even after the
    /// secret has been cleared.
    ///
    /// # Examples
    ///
    /// ```
    /// let secret = vaulttoken::SecretKey::from_seed(&[1u8; 32])?;
    /// let public: vaulttoken::PublicKey = secret.public_key();
    /// assert_eq!(public, secret.public_key());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Copies out the 64-byte seed ‖ public form. Not a token operation.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Security
    ///
    /// The first 32 bytes are the key: store them only where the key itself may live.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::from_seed(&[5u8; 32])?;
    /// let pair = key.expose_secret_bytes()?;
    /// assert_eq!(&pair.as_bytes()[..32], &[5u8; 32]);
    /// assert_eq!(&pair.as_bytes()[32..], key.public_key().as_bytes());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn expose_secret_bytes(&self) -> Result<SecretBytes<{ Self::KEYPAIR_LENGTH }>, Error> {
        self.material
            .peek(|m| SecretBytes::new(self.keypair_bytes(m)))
    }

    /// Copies out the 32-byte seed. Not a token operation.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::from_seed(&[5u8; 32])?;
    /// assert_eq!(key.expose_seed()?.as_bytes(), &[5u8; 32]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn expose_seed(&self) -> Result<SecretBytes<{ Self::SEED_LENGTH }>, Error> {
        self.material.peek(|m| SecretBytes::new(m.seed.clone()))
    }

    /// The 64-byte seed ‖ public form as lowercase hex.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert_eq!(key.to_hex()?.as_str().len(), 128);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_hex(&self) -> Result<SecretString, Error> {
        let pair = self.expose_secret_bytes()?;
        Ok(SecretString::new(Zeroizing::new(encoding::encode_hex(
            pair.as_bytes(),
        ))))
    }

    /// The 64-byte seed ‖ public form as unpadded base64url.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert_eq!(key.to_base64url()?.as_str().len(), 86);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_base64url(&self) -> Result<SecretString, Error> {
        let pair = self.expose_secret_bytes()?;
        Ok(SecretString::new(Zeroizing::new(
            encoding::encode_base64url(pair.as_bytes()),
        )))
    }

    /// Turns this key into an ephemeral one, wiped after its next token operation.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, SecretKey, v4};
    ///
    /// let key = SecretKey::generate()?.into_ephemeral();
    /// v4::public::sign(&key, b"once", b"", b"")?;
    /// assert!(matches!(v4::public::sign(&key, b"twice", b"", b""), Err(Error::KeyCleared)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn into_ephemeral(self) -> Self {
        Self {
            material: self.material.into_ephemeral(),
            public: self.public,
        }
    }

    /// Copies this key for a single operation. The copy is ephemeral; this key is
    /// unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if this key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// let once = key.ephemeral_copy()?;
    /// assert!(once.is_ephemeral() && !key.is_ephemeral());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn ephemeral_copy(&self) -> Result<Self, Error> {
        self.material.peek(|m| Self {
            material: Lifecycle::ephemeral(SigningMaterial::new(m.seed.clone())),
            public: self.public,
        })
    }

    /// Wipes the secret now; every later signing fails with [`Error::KeyCleared`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut key = vaulttoken::SecretKey::generate()?;
    /// key.clear();
    /// assert!(key.is_cleared());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.material.clear();
    }

    /// Whether this key is wiped after its next token operation.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert!(!key.is_ephemeral());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn is_ephemeral(&self) -> bool {
        self.material.is_ephemeral()
    }

    /// Whether the key was cleared or, being ephemeral, has been used.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert!(!key.is_cleared());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn is_cleared(&self) -> bool {
        self.material.is_cleared()
    }

    pub(crate) fn from_signing_key(seed: SigningKey) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(seed.as_bytes());
        Self::from_seed_bytes(bytes, seed.verifying_key())
    }

    /// The key for `seed`, whose public key the caller has already derived.
    fn from_seed_bytes(seed: Zeroizing<[u8; 32]>, verifying_key: VerifyingKey) -> Self {
        let material = SigningMaterial::new(seed);
        // A key derived from a seed is a multiple of the base point: canonical and
        // of prime order, so the checks `PublicKey` makes cannot fail here.
        let public = PublicKey::from_verifying_key(verifying_key)
            .unwrap_or_else(|_| unreachable!("derived public keys are canonical and sound"));
        Self {
            material: Lifecycle::persistent(material),
            public,
        }
    }

    /// Seed ‖ public key, written straight into a wiped-on-drop buffer.
    fn keypair_bytes(&self, material: &SigningMaterial) -> Zeroizing<[u8; Self::KEYPAIR_LENGTH]> {
        let mut pair = Zeroizing::new([0u8; Self::KEYPAIR_LENGTH]);
        pair[..Self::SEED_LENGTH].copy_from_slice(material.seed());
        pair[Self::SEED_LENGTH..].copy_from_slice(self.public.as_bytes());
        pair
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        self.public.verifying_key()
    }

    /// Runs one token operation with the signing material (consumes an ephemeral key).
    pub(crate) fn use_for_operation<R>(
        &self,
        operation: impl FnOnce(&SigningMaterial) -> R,
    ) -> Result<R, Error> {
        self.material.use_for_operation(operation)
    }

    pub(crate) fn peek<R>(&self, read: impl FnOnce(&SigningMaterial) -> R) -> Result<R, Error> {
        self.material.peek(read)
    }
}

impl SigningMaterial {
    fn new(seed: Zeroizing<[u8; 32]>) -> Self {
        let expanded = ExpandedSecretKey::from(&*seed);
        Self { seed, expanded }
    }
}

impl PartialEq for SecretKey {
    /// Constant-time comparison of the seeds. A cleared or used-up key equals nothing.
    fn eq(&self, other: &Self) -> bool {
        self.material
            .peek_pair(&other.material, |mine, theirs| {
                bool::from(mine.seed.ct_eq(&*theirs.seed))
            })
            .unwrap_or(false)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("public_key", &self.public)
            .field("lifecycle", &self.material.describe())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KeyEncoding;

    #[test]
    fn keypair_bytes_round_trip_and_match_the_seed() {
        let key = SecretKey::from_seed(&[7; 32]).unwrap();
        let pair = key.expose_secret_bytes().unwrap();
        assert_eq!(&pair.as_bytes()[..32], &[7; 32]);
        assert_eq!(SecretKey::from_bytes(pair.as_bytes()).unwrap(), key);
    }

    #[test]
    fn a_keypair_with_a_foreign_public_half_is_refused() {
        let key = SecretKey::from_seed(&[7; 32]).unwrap();
        let other = SecretKey::from_seed(&[8; 32]).unwrap();
        let mut pair = *key.expose_secret_bytes().unwrap().as_bytes();
        pair[32..].copy_from_slice(other.public_key().as_bytes());
        assert!(matches!(
            SecretKey::from_bytes(&pair),
            Err(Error::InvalidKey(KeyError::KeyPairMismatch))
        ));
    }

    #[test]
    fn from_bytes_wants_64_and_from_seed_wants_32() {
        assert!(matches!(
            SecretKey::from_bytes(&[0; 32]),
            Err(Error::InvalidKey(KeyError::Length {
                expected: 64,
                found: 32
            }))
        ));
        assert!(matches!(
            SecretKey::from_seed(&[0; 64]),
            Err(Error::InvalidKey(KeyError::Length {
                expected: 32,
                found: 64
            }))
        ));
    }

    #[test]
    fn text_forms_round_trip_and_bad_text_is_named() {
        let key = SecretKey::generate().unwrap();
        assert_eq!(
            SecretKey::from_hex(key.to_hex().unwrap().as_str()).unwrap(),
            key
        );
        assert_eq!(
            SecretKey::from_base64url(key.to_base64url().unwrap().as_str()).unwrap(),
            key
        );
        assert!(matches!(
            SecretKey::from_hex("not hex"),
            Err(Error::InvalidKey(KeyError::Encoding(KeyEncoding::Hex)))
        ));
    }

    #[test]
    fn debug_shows_the_public_key_but_not_the_seed() {
        let key = SecretKey::from_seed(&[0x5a; 32]).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.public_key().to_hex()), "{debug}");
        assert!(!debug.contains("5a5a"), "{debug}");
        assert!(!debug.contains("90, 90"), "{debug}");
    }

    #[test]
    fn the_public_key_outlives_clearing() {
        let mut key = SecretKey::from_seed(&[1; 32]).unwrap();
        let public = key.public_key();
        key.clear();
        assert_eq!(key.public_key(), public);
        assert!(matches!(key.expose_seed(), Err(Error::KeyCleared)));
    }

    #[test]
    fn an_ephemeral_key_equals_itself_without_deadlocking() {
        let equal = crate::keys::finishes_in_time(|| {
            let key = SecretKey::from_seed(&[4; 32]).unwrap().into_ephemeral();
            #[allow(clippy::eq_op)]
            let equal = key == key;
            (equal, key.is_cleared())
        });
        assert_eq!(equal, (true, false), "comparing must not use the key up");
    }

    #[test]
    fn comparing_two_ephemeral_keys_from_both_sides_at_once_does_not_deadlock() {
        let a = std::sync::Arc::new(SecretKey::from_seed(&[4; 32]).unwrap().into_ephemeral());
        let b = std::sync::Arc::new(SecretKey::from_seed(&[4; 32]).unwrap().into_ephemeral());
        let equal = crate::keys::finishes_in_time(move || {
            let start = std::sync::Barrier::new(2);
            std::thread::scope(|scope| {
                let forward = scope.spawn(|| {
                    start.wait();
                    (0..200_000).all(|_| *a == *b)
                });
                let backward = scope.spawn(|| {
                    start.wait();
                    (0..200_000).all(|_| *b == *a)
                });
                forward.join().unwrap() && backward.join().unwrap()
            })
        });
        assert!(equal);
        let mut cleared = SecretKey::from_seed(&[4; 32]).unwrap().into_ephemeral();
        cleared.clear();
        #[allow(clippy::eq_op)]
        let equal = cleared == cleared;
        assert!(!equal, "a cleared key equals nothing, itself included");
    }

    #[test]
    fn from_seed_array_matches_from_seed() {
        for seed in [[0u8; 32], [7; 32], [0xff; 32]] {
            let from_array = SecretKey::from_seed_array(&seed);
            let from_slice = SecretKey::from_seed(&seed).unwrap();
            assert_eq!(from_array, from_slice);
            assert_eq!(from_array.public_key(), from_slice.public_key());
            assert_eq!(from_array.expose_seed().unwrap().as_bytes(), &seed);
            assert!(!from_array.is_ephemeral());
        }
    }

    #[test]
    fn signing_material_wipes_in_place_and_exports_through_wiped_buffers() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<SecretBytes<{ SecretKey::KEYPAIR_LENGTH }>>();
        zeroized_on_drop::<Zeroizing<[u8; SecretKey::KEYPAIR_LENGTH]>>();
        let key = SecretKey::from_seed(&[9; 32]).unwrap();
        let mut material = SigningMaterial::new(Zeroizing::new([9; 32]));
        let pair = key.keypair_bytes(&material);
        assert_eq!(&pair[..32], &[9; 32]);
        assert_eq!(&pair[32..], key.public_key().as_bytes());
        material.zeroize();
        assert_eq!(material.seed(), &[0; 32]);
        assert_eq!(material.expanded().hash_prefix, [0; 32]);
        assert_eq!(material.expanded().scalar, curve25519_dalek::Scalar::ZERO);
    }
}
