//! Keys from text with [`FromStr`]: a PASERK string of the key's own type, so a
//! key can come straight from an environment variable or a config value.

use core::str::FromStr;

use crate::error::Error;
use crate::keys::{LocalKey, PublicKey, SecretKey};

/// Parses a `k4.local.` PASERK, as [`LocalKey::from_paserk`].
///
/// # Examples
///
/// ```
/// use vaulttoken::LocalKey;
///
/// let text = LocalKey::generate()?.to_paserk()?;
/// let key: LocalKey = text.as_str().parse()?;
/// assert_eq!(key.to_paserk()?.as_str(), text.as_str());
/// assert!("k4.public.AAAA".parse::<LocalKey>().is_err());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl FromStr for LocalKey {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_paserk(text)
    }
}

/// Parses a `k4.secret.` PASERK, as [`SecretKey::from_paserk`].
///
/// # Examples
///
/// ```
/// use vaulttoken::SecretKey;
///
/// let secret = SecretKey::generate()?;
/// let parsed: SecretKey = secret.to_paserk()?.as_str().parse()?;
/// assert_eq!(parsed, secret);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl FromStr for SecretKey {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_paserk(text)
    }
}

/// Parses a `k4.public.` PASERK, as [`PublicKey::from_paserk`].
///
/// # Examples
///
/// ```
/// use vaulttoken::{PublicKey, SecretKey};
///
/// let public = SecretKey::generate()?.public_key();
/// let parsed: PublicKey = public.to_paserk().parse()?;
/// assert_eq!(parsed, public);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl FromStr for PublicKey {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_paserk(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{PaserkError, PaserkType};

    #[test]
    fn each_key_parses_only_its_own_paserk_type() {
        let local = LocalKey::generate().unwrap();
        let secret = SecretKey::generate().unwrap();
        let public = secret.public_key();
        let local_text = local.to_paserk().unwrap();
        let secret_text = secret.to_paserk().unwrap();
        let public_text = public.to_paserk();
        assert_eq!(local_text.as_str().parse::<LocalKey>().unwrap(), local);
        assert_eq!(secret_text.as_str().parse::<SecretKey>().unwrap(), secret);
        assert_eq!(public_text.parse::<PublicKey>().unwrap(), public);
        assert!(matches!(
            public_text.parse::<LocalKey>(),
            Err(Error::Paserk(PaserkError::WrongType {
                expected: PaserkType::Local,
                found: PaserkType::Public
            }))
        ));
        assert!(secret_text.as_str().parse::<PublicKey>().is_err());
        assert!(local_text.as_str().parse::<SecretKey>().is_err());
        assert!("".parse::<LocalKey>().is_err());
    }
}
