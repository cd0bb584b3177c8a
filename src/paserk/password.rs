//! `k4.local-pw.` and `k4.secret-pw.`: keys wrapped with a password.
//!
//! `k = Argon2id(pw, s, mem, time, para)` for a random 16-byte salt `s`;
//! `Ek = BLAKE2b-256(0xFF ‖ k)`, `Ak = BLAKE2b-256(0xFE ‖ k)`; for a random 24-byte
//! nonce `n`, `edk = XChaCha20(Ek, n, ptk)` and
//! `t = BLAKE2b-256(key = Ak, h ‖ s ‖ mem ‖ time ‖ para ‖ n ‖ edk)` with the costs
//! big-endian (8, 4 and 4 bytes). The string is
//! `h ‖ base64url(s ‖ mem ‖ time ‖ para ‖ n ‖ edk ‖ t)`.
//!
//! The costs travel inside the string, so unwrapping checks them against
//! [`PasswordLimits`] before Argon2 allocates anything.

use argon2::{Algorithm, Argon2, Params, Version};
use blake2::digest::Mac;
use blake2::digest::consts::U32;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{PaserkError, PaserkType, decode_exact, encode};
use crate::error::Error;
use crate::keys::{LocalKey, SecretKey};
use crate::primitives::{blake2b_into, keyed_blake2b, random_array, xchacha20};

const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 32;
/// Salt, memory (8), iterations (4), parallelism (4), nonce.
const PREFIX_LEN: usize = SALT_LEN + 8 + 4 + 4 + NONCE_LEN;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The Argon2id cost of wrapping a key with a password.
///
/// The default is libsodium's "moderate" level: 256 MiB, 3 iterations, 1 lane
/// (about a second on a server core). Wrapping is rare and protects long-lived
/// keys, so lean towards more cost; but a cost above the unwrapping side's
/// [`PasswordLimits`] makes the string impossible to unwrap there.
///
/// # Examples
///
/// ```
/// use vaulttoken::paserk::PasswordParams;
///
/// let params = PasswordParams::new(64 * 1024 * 1024, 2, 1)?;
/// assert_eq!(params.memory_bytes(), 64 * 1024 * 1024);
/// assert_eq!(PasswordParams::default().iterations(), 3);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    memory_bytes: u64,
    iterations: u32,
    parallelism: u32,
}

impl PasswordParams {
    /// Argon2id parameters: memory in bytes (a whole number of KiB, at least
    /// 8 KiB per lane), iterations (at least 1) and lanes (at least 1).
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] with [`PaserkError::InvalidPasswordParams`] for values
    /// Argon2id cannot run with.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::paserk::PasswordParams;
    ///
    /// assert!(PasswordParams::new(1000, 1, 1).is_err()); // not whole KiB
    /// assert!(PasswordParams::new(8 * 1024, 0, 1).is_err()); // no iterations
    /// assert!(PasswordParams::new(8 * 1024, 1, 1).is_ok());
    /// ```
    pub fn new(memory_bytes: u64, iterations: u32, parallelism: u32) -> Result<Self, Error> {
        let params = Self {
            memory_bytes,
            iterations,
            parallelism,
        };
        params.argon2()?;
        Ok(params)
    }

    /// Memory in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let params = vaulttoken::paserk::PasswordParams::default();
    /// assert_eq!(params.memory_bytes(), 256 * 1024 * 1024);
    /// ```
    #[must_use]
    pub const fn memory_bytes(&self) -> u64 {
        self.memory_bytes
    }

    /// Number of passes over memory.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::paserk::PasswordParams::default().iterations(), 3);
    /// ```
    #[must_use]
    pub const fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Number of lanes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::paserk::PasswordParams::default().parallelism(), 1);
    /// ```
    #[must_use]
    pub const fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// The Argon2id instance, or why these values cannot make one.
    fn argon2(&self) -> Result<Argon2<'static>, Error> {
        let invalid = |reason| PaserkError::InvalidPasswordParams { reason };
        if !self.memory_bytes.is_multiple_of(KIB) {
            return Err(invalid("memory is not a whole number of KiB").into());
        }
        let memory_kib =
            u32::try_from(self.memory_bytes / KIB).map_err(|_| invalid("memory is above 4 TiB"))?;
        if self.parallelism == 0 {
            return Err(invalid("parallelism must be at least 1").into());
        }
        if u64::from(memory_kib) < 8 * u64::from(self.parallelism) {
            return Err(invalid("memory must be at least 8 KiB per lane").into());
        }
        let params = Params::new(memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|_| invalid("Argon2id refuses these costs"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_bytes: 256 * MIB,
            iterations: 3,
            parallelism: 1,
        }
    }
}

/// The most Argon2 work an unwrap will do for a password-wrapped key.
///
/// The costs come from the string, that is from whoever wrote it. The defaults
/// (256 MiB, 4 iterations, 4 lanes) accept everything [`PasswordParams::default`]
/// and libsodium's "interactive" and "moderate" levels produce, and bound a
/// hostile string to about 256 MiB and a few seconds of one core.
///
/// # Examples
///
/// ```
/// use vaulttoken::paserk::PasswordLimits;
///
/// let strict = PasswordLimits::default().max_memory_bytes(64 * 1024 * 1024);
/// assert_eq!(strict.memory_limit(), 64 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordLimits {
    max_memory_bytes: u64,
    max_iterations: u32,
    max_parallelism: u32,
}

impl PasswordLimits {
    /// Sets the largest accepted memory cost in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::PaserkError;
    /// use vaulttoken::paserk::{PasswordLimits, PasswordParams};
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// const MIB: u64 = 1024 * 1024;
    /// let params = PasswordParams::new(8 * MIB, 1, 1)?;
    /// let wrapped = LocalKey::generate()?.to_paserk_password(b"pw", &params)?;
    /// let limits = PasswordLimits::default().max_memory_bytes(8 * MIB);
    /// LocalKey::from_paserk_password(&wrapped, b"pw", &limits)?;
    /// assert!(matches!(
    ///     LocalKey::from_paserk_password(&wrapped, b"pw", &limits.max_memory_bytes(4 * MIB)),
    ///     Err(Error::Paserk(PaserkError::PasswordCostTooHigh { parameter: "memory_bytes", limit }))
    ///         if limit == 4 * MIB
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub const fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// Sets the largest accepted number of iterations.
    ///
    /// # Examples
    ///
    /// ```
    /// let limits = vaulttoken::paserk::PasswordLimits::default().max_iterations(10);
    /// assert_eq!(limits.iterations_limit(), 10);
    /// ```
    #[must_use]
    pub const fn max_iterations(mut self, iterations: u32) -> Self {
        self.max_iterations = iterations;
        self
    }

    /// Sets the largest accepted number of lanes.
    ///
    /// # Examples
    ///
    /// ```
    /// let limits = vaulttoken::paserk::PasswordLimits::default().max_parallelism(1);
    /// assert_eq!(limits.parallelism_limit(), 1);
    /// ```
    #[must_use]
    pub const fn max_parallelism(mut self, lanes: u32) -> Self {
        self.max_parallelism = lanes;
        self
    }

    /// The largest accepted memory cost in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let limits = vaulttoken::paserk::PasswordLimits::default();
    /// assert_eq!(limits.memory_limit(), 256 * 1024 * 1024);
    /// ```
    #[must_use]
    pub const fn memory_limit(&self) -> u64 {
        self.max_memory_bytes
    }

    /// The largest accepted number of iterations.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::paserk::PasswordLimits::default().iterations_limit(), 4);
    /// ```
    #[must_use]
    pub const fn iterations_limit(&self) -> u32 {
        self.max_iterations
    }

    /// The largest accepted number of lanes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::paserk::PasswordLimits::default().parallelism_limit(), 4);
    /// ```
    #[must_use]
    pub const fn parallelism_limit(&self) -> u32 {
        self.max_parallelism
    }

    fn check(&self, params: &PasswordParams) -> Result<(), Error> {
        let too_high = |parameter, limit| PaserkError::PasswordCostTooHigh { parameter, limit };
        if params.memory_bytes > self.max_memory_bytes {
            return Err(too_high("memory_bytes", self.max_memory_bytes).into());
        }
        if params.iterations > self.max_iterations {
            return Err(too_high("iterations", self.max_iterations.into()).into());
        }
        if params.parallelism > self.max_parallelism {
            return Err(too_high("parallelism", self.max_parallelism.into()).into());
        }
        Ok(())
    }
}

impl Default for PasswordLimits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 * MIB,
            max_iterations: 4,
            max_parallelism: 4,
        }
    }
}

impl LocalKey {
    /// Wraps this key with a password into a `k4.local-pw.` PASERK.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up;
    /// [`Error::Randomness`] if the OS cannot supply a salt and nonce; and
    /// [`Error::Paserk`] for an empty password or if Argon2id cannot allocate the
    /// requested memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::LocalKey;
    /// use vaulttoken::paserk::{PasswordLimits, PasswordParams};
    ///
    /// let key = LocalKey::generate()?;
    /// let params = PasswordParams::new(8 * 1024 * 1024, 1, 1)?; // small, for the example
    /// let wrapped = key.to_paserk_password(b"correct horse", &params)?;
    /// assert!(wrapped.starts_with("k4.local-pw."));
    /// let back = LocalKey::from_paserk_password(&wrapped, b"correct horse", &PasswordLimits::default())?;
    /// assert_eq!(back, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_paserk_password(
        &self,
        password: &[u8],
        params: &PasswordParams,
    ) -> Result<String, Error> {
        let plaintext = self.expose_secret_bytes()?;
        wrap(PaserkType::LocalPw, password, params, plaintext.as_bytes())
    }

    /// Unwraps a `k4.local-pw.` PASERK with a password, refusing costs beyond
    /// `limits` before doing any Argon2 work.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for another version or type, a wrong length, bad
    /// base64url, costs beyond `limits` or invalid costs; [`Error::Verification`]
    /// for a wrong password or an altered string.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::paserk::{PasswordLimits, PasswordParams};
    /// use vaulttoken::error::PaserkError;
    /// use vaulttoken::{Error, LocalKey};
    ///
    /// let params = PasswordParams::new(16 * 1024 * 1024, 1, 1)?;
    /// let wrapped = LocalKey::generate()?.to_paserk_password(b"pw", &params)?;
    /// let tight = PasswordLimits::default().max_memory_bytes(8 * 1024 * 1024);
    /// assert!(matches!(
    ///     LocalKey::from_paserk_password(&wrapped, b"pw", &tight),
    ///     Err(Error::Paserk(PaserkError::PasswordCostTooHigh { parameter: "memory_bytes", .. }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk_password(
        text: &str,
        password: &[u8],
        limits: &PasswordLimits,
    ) -> Result<Self, Error> {
        let plaintext = unwrap(PaserkType::LocalPw, text, password, limits, Self::LENGTH)?;
        Self::from_bytes(&plaintext)
    }
}

impl SecretKey {
    /// Wraps this key with a password into a `k4.secret-pw.` PASERK.
    ///
    /// # Errors
    ///
    /// As [`LocalKey::to_paserk_password`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::SecretKey;
    /// use vaulttoken::paserk::{PasswordLimits, PasswordParams};
    ///
    /// let key = SecretKey::generate()?;
    /// let params = PasswordParams::new(8 * 1024 * 1024, 1, 1)?;
    /// let wrapped = key.to_paserk_password(b"pw", &params)?;
    /// assert!(wrapped.starts_with("k4.secret-pw."));
    /// let back = SecretKey::from_paserk_password(&wrapped, b"pw", &PasswordLimits::default())?;
    /// assert_eq!(back, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_paserk_password(
        &self,
        password: &[u8],
        params: &PasswordParams,
    ) -> Result<String, Error> {
        let plaintext = self.expose_secret_bytes()?;
        wrap(PaserkType::SecretPw, password, params, plaintext.as_bytes())
    }

    /// Unwraps a `k4.secret-pw.` PASERK with a password, refusing costs beyond
    /// `limits` before doing any Argon2 work.
    ///
    /// # Errors
    ///
    /// As [`LocalKey::from_paserk_password`], and [`Error::InvalidKey`] if the
    /// unwrapped halves do not belong together.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::paserk::{PasswordLimits, PasswordParams};
    /// use vaulttoken::{Error, SecretKey};
    ///
    /// let params = PasswordParams::new(8 * 1024 * 1024, 1, 1)?;
    /// let wrapped = SecretKey::generate()?.to_paserk_password(b"right", &params)?;
    /// assert!(matches!(
    ///     SecretKey::from_paserk_password(&wrapped, b"wrong", &PasswordLimits::default()),
    ///     Err(Error::Verification)
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk_password(
        text: &str,
        password: &[u8],
        limits: &PasswordLimits,
    ) -> Result<Self, Error> {
        let plaintext = unwrap(
            PaserkType::SecretPw,
            text,
            password,
            limits,
            Self::KEYPAIR_LENGTH,
        )?;
        Self::from_bytes(&plaintext)
    }
}

/// The cipher and authentication keys derived from the password, wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct PasswordKeys {
    encryption_key: [u8; 32],
    auth_key: [u8; 32],
}

impl PasswordKeys {
    fn derive(password: &[u8], salt: &[u8], params: &PasswordParams) -> Result<Self, Error> {
        let mut prekey = Zeroizing::new([0u8; 32]);
        params
            .argon2()?
            .hash_password_into(password, salt, prekey.as_mut())
            .map_err(|_| PaserkError::InvalidPasswordParams {
                reason: "Argon2id could not run (out of memory?)",
            })?;
        let mut keys = Self {
            encryption_key: [0u8; 32],
            auth_key: [0u8; 32],
        };
        blake2b_into::<U32>(
            &[&[0xFF], prekey.as_ref()],
            (&mut keys.encryption_key).into(),
        );
        blake2b_into::<U32>(&[&[0xFE], prekey.as_ref()], (&mut keys.auth_key).into());
        Ok(keys)
    }

    /// `BLAKE2b-256(key = Ak, h ‖ s ‖ mem ‖ time ‖ para ‖ n ‖ edk)`; the prefix
    /// holds everything from `s` to `n`.
    fn tag(&self, kind: PaserkType, prefix: &[u8], edk: &[u8]) -> blake2::Blake2bMac<U32> {
        keyed_blake2b::<U32>(&self.auth_key, &[kind.header().as_bytes(), prefix, edk])
    }
}

fn wrap(
    kind: PaserkType,
    password: &[u8],
    params: &PasswordParams,
    plaintext: &[u8],
) -> Result<String, Error> {
    if password.is_empty() {
        return Err(PaserkError::EmptyPassword.into());
    }
    let salt: Zeroizing<[u8; SALT_LEN]> = random_array()?;
    let nonce: Zeroizing<[u8; NONCE_LEN]> = random_array()?;
    let keys = PasswordKeys::derive(password, salt.as_ref(), params)?;

    let mut out = Vec::with_capacity(PREFIX_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(salt.as_ref());
    out.extend_from_slice(&params.memory_bytes.to_be_bytes());
    out.extend_from_slice(&params.iterations.to_be_bytes());
    out.extend_from_slice(&params.parallelism.to_be_bytes());
    out.extend_from_slice(nonce.as_ref());
    out.extend_from_slice(plaintext);
    let (prefix, edk) = out.split_at_mut(PREFIX_LEN);
    xchacha20(&keys.encryption_key, &nonce, edk);
    let tag = keys.tag(kind, prefix, edk).finalize().into_bytes();
    out.extend_from_slice(&tag);
    Ok(encode(kind, &out))
}

fn unwrap(
    kind: PaserkType,
    text: &str,
    password: &[u8],
    limits: &PasswordLimits,
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut data = decode_exact(text, kind, PREFIX_LEN + key_len + TAG_LEN)?;
    let (prefix, rest) = data.split_at_mut(PREFIX_LEN);
    let (edk, tag) = rest.split_at_mut(key_len);
    let params = read_params(prefix);
    limits.check(&params)?;
    let keys = PasswordKeys::derive(password, &prefix[..SALT_LEN], &params)?;
    keys.tag(kind, prefix, edk)
        .verify_slice(tag)
        .map_err(|_| Error::Verification)?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&prefix[PREFIX_LEN - NONCE_LEN..]);
    xchacha20(&keys.encryption_key, &nonce, edk);
    Ok(Zeroizing::new(edk.to_vec()))
}

/// Reads the memory, iterations and parallelism stored after the salt.
fn read_params(prefix: &[u8]) -> PasswordParams {
    let field = |start: usize, len: usize| {
        prefix[SALT_LEN + start..SALT_LEN + start + len]
            .iter()
            .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte))
    };
    let narrow = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
    PasswordParams {
        memory_bytes: field(0, 8),
        iterations: narrow(field(8, 4)),
        parallelism: narrow(field(12, 4)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cheapest costs Argon2id allows, to keep unit tests fast.
    fn cheap() -> PasswordParams {
        PasswordParams::new(8 * KIB, 1, 1).unwrap()
    }

    #[test]
    fn derived_keys_are_wiped_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<PasswordKeys>();
        let mut keys = PasswordKeys::derive(b"pw", &[1; SALT_LEN], &cheap()).unwrap();
        assert_ne!(keys.encryption_key, keys.auth_key);
        assert_ne!(keys.encryption_key, [0; 32]);
        keys.zeroize();
        assert_eq!((keys.encryption_key, keys.auth_key), ([0; 32], [0; 32]));
    }

    #[test]
    fn params_round_trip_through_the_string() {
        let params = PasswordParams::new(64 * KIB, 2, 2).unwrap();
        let key = LocalKey::generate().unwrap();
        let text = key.to_paserk_password(b"pw", &params).unwrap();
        let data = decode_exact(&text, PaserkType::LocalPw, PREFIX_LEN + 32 + TAG_LEN).unwrap();
        assert_eq!(read_params(&data[..PREFIX_LEN]), params);
    }

    #[test]
    fn each_limit_is_enforced_before_argon2_runs() {
        let key = LocalKey::generate().unwrap();
        let text = key
            .to_paserk_password(b"pw", &PasswordParams::new(64 * KIB, 2, 2).unwrap())
            .unwrap();
        let limits = PasswordLimits::default();
        for (tight, parameter) in [
            (limits.max_memory_bytes(32 * KIB), "memory_bytes"),
            (limits.max_iterations(1), "iterations"),
            (limits.max_parallelism(1), "parallelism"),
        ] {
            let err = LocalKey::from_paserk_password(&text, b"pw", &tight).unwrap_err();
            assert!(
                matches!(err, Error::Paserk(PaserkError::PasswordCostTooHigh { parameter: p, .. }) if p == parameter),
                "{parameter}: {err:?}"
            );
        }
    }

    #[test]
    fn hostile_costs_in_the_string_are_refused_without_work() {
        let key = LocalKey::generate().unwrap();
        let text = key.to_paserk_password(b"pw", &cheap()).unwrap();
        let mut data = decode_exact(&text, PaserkType::LocalPw, PREFIX_LEN + 32 + TAG_LEN).unwrap();
        // 2^63 bytes of memory, u32::MAX iterations: refused by the limits.
        data[SALT_LEN] = 0x80;
        let hostile = encode(PaserkType::LocalPw, &data);
        assert!(matches!(
            LocalKey::from_paserk_password(&hostile, b"pw", &PasswordLimits::default()),
            Err(Error::Paserk(PaserkError::PasswordCostTooHigh { .. }))
        ));
        // Zero iterations: within the limits but invalid, refused before Argon2.
        data[SALT_LEN] = 0;
        data[SALT_LEN + 8..SALT_LEN + 12].copy_from_slice(&0u32.to_be_bytes());
        let zero = encode(PaserkType::LocalPw, &data);
        assert!(matches!(
            LocalKey::from_paserk_password(&zero, b"pw", &PasswordLimits::default()),
            Err(Error::Paserk(PaserkError::InvalidPasswordParams { .. }))
        ));
    }

    #[test]
    fn altered_costs_fail_the_tag() {
        let key = LocalKey::generate().unwrap();
        let text = key.to_paserk_password(b"pw", &cheap()).unwrap();
        let mut data = decode_exact(&text, PaserkType::LocalPw, PREFIX_LEN + 32 + TAG_LEN).unwrap();
        // 8 KiB -> 16 KiB: still valid and within limits, but authenticated.
        data[SALT_LEN + 5] = 0x40;
        let altered = encode(PaserkType::LocalPw, &data);
        assert!(matches!(
            LocalKey::from_paserk_password(&altered, b"pw", &PasswordLimits::default()),
            Err(Error::Verification)
        ));
    }

    #[test]
    fn an_empty_password_is_refused_when_wrapping() {
        let key = LocalKey::generate().unwrap();
        assert!(matches!(
            key.to_paserk_password(b"", &cheap()),
            Err(Error::Paserk(PaserkError::EmptyPassword))
        ));
        let secret = SecretKey::generate().unwrap();
        assert!(matches!(
            secret.to_paserk_password(b"", &cheap()),
            Err(Error::Paserk(PaserkError::EmptyPassword))
        ));
    }

    #[test]
    fn params_refuse_what_argon2_cannot_run() {
        assert!(PasswordParams::new(0, 1, 1).is_err());
        assert!(PasswordParams::new(8 * KIB, 1, 0).is_err());
        assert!(PasswordParams::new(8 * KIB, 1, 2).is_err());
        assert!(PasswordParams::new(16 * KIB, 1, 2).is_ok());
        assert!(PasswordParams::new(u64::MAX - u64::MAX % KIB, 1, 1).is_err());
    }
}
