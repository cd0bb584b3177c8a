//! Thin wrappers over the RustCrypto primitives, shared by the layers above:
//! unkeyed and keyed BLAKE2b with a chosen output length, XChaCha20, and random
//! bytes from the operating system.
//!
//! Nothing here is a primitive of our own; these only fix the calling shapes.

use blake2::digest::array::{Array, ArraySize};
use blake2::digest::consts::U64;
use blake2::digest::typenum::{IsLessOrEqual, True};
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2b, Blake2bMac};
use chacha20::XChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroizing;

use crate::error::Error;

/// Fills a fresh zeroizing array from the operating system's RNG.
pub(crate) fn random_array<const N: usize>() -> Result<Zeroizing<[u8; N]>, Error> {
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(bytes.as_mut()).map_err(|_| Error::Randomness)?;
    Ok(bytes)
}

/// Unkeyed BLAKE2b with `N` bytes of output over the concatenation of `pieces`.
pub(crate) fn blake2b<N>(pieces: &[&[u8]]) -> Array<u8, N>
where
    N: ArraySize + IsLessOrEqual<U64, Output = True>,
{
    let mut hash = Blake2b::<N>::new();
    for piece in pieces {
        Digest::update(&mut hash, piece);
    }
    hash.finalize()
}

/// [`blake2b`] written straight into `out`, for outputs that are secret: no
/// copy is left behind in a temporary.
pub(crate) fn blake2b_into<N>(pieces: &[&[u8]], out: &mut Array<u8, N>)
where
    N: ArraySize + IsLessOrEqual<U64, Output = True>,
{
    let mut hash = Blake2b::<N>::new();
    for piece in pieces {
        Digest::update(&mut hash, piece);
    }
    Digest::finalize_into(hash, out);
}

/// BLAKE2b keyed with a 32-byte key, with `N` bytes of output, fed `pieces`.
pub(crate) fn keyed_blake2b<N>(key: &[u8; 32], pieces: &[&[u8]]) -> Blake2bMac<N>
where
    N: ArraySize + IsLessOrEqual<U64, Output = True>,
{
    let mut mac = <Blake2bMac<N> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("a 32-byte key fits BLAKE2b"));
    for piece in pieces {
        Mac::update(&mut mac, piece);
    }
    mac
}

/// XORs the XChaCha20 keystream for `key` and `nonce` into `data`.
pub(crate) fn xchacha20(key: &[u8; 32], nonce: &[u8; 24], data: &mut [u8]) {
    let mut cipher = XChaCha20::new(key.into(), nonce.into());
    cipher.apply_keystream(data);
}

#[cfg(test)]
mod tests {
    use blake2::digest::consts::U32;

    use super::*;

    #[test]
    fn blake2b_matches_the_rfc_7693_abc_vector_truncated_by_parameter() {
        // BLAKE2b-512("abc") from RFC 7693 appendix A.
        let full = blake2b::<U64>(&[b"a", b"bc"]);
        assert_eq!(
            crate::encoding::encode_hex(&full),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
        // A shorter output is a different parameter block, not a truncation.
        let short = blake2b::<U32>(&[b"abc"]);
        assert_ne!(&short[..], &full[..32]);
    }

    #[test]
    fn blake2b_into_writes_what_blake2b_returns() {
        let mut out = [0u8; 32];
        blake2b_into::<U32>(&[b"a", b"bc"], (&mut out).into());
        assert_eq!(out[..], blake2b::<U32>(&[b"abc"])[..]);
    }

    #[test]
    fn keyed_blake2b_depends_on_the_key() {
        let a = keyed_blake2b::<U32>(&[1; 32], &[b"m"])
            .finalize()
            .into_bytes();
        let b = keyed_blake2b::<U32>(&[2; 32], &[b"m"])
            .finalize()
            .into_bytes();
        assert_ne!(a, b);
    }

    #[test]
    fn random_arrays_are_fresh_and_full_length() {
        let a = random_array::<32>().unwrap();
        let b = random_array::<32>().unwrap();
        assert_ne!(*a, *b);
        assert_eq!(random_array::<24>().unwrap().len(), 24);
    }

    #[test]
    fn xchacha20_is_its_own_inverse() {
        let mut data = *b"sixteen byte msg";
        xchacha20(&[7; 32], &[9; 24], &mut data);
        assert_ne!(&data, b"sixteen byte msg");
        xchacha20(&[7; 32], &[9; 24], &mut data);
        assert_eq!(&data, b"sixteen byte msg");
    }
}
