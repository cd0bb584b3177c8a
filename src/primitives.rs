//! Thin wrappers over the RustCrypto primitives, shared by the layers above:
//! unkeyed and keyed BLAKE2b with a chosen output length, XChaCha20, random
//! bytes from the operating system, and constant-time equality (over `subtle`).
//!
//! Nothing here is a primitive of our own; these only fix the calling shapes.

use blake2::digest::array::{Array, ArraySize};
use blake2::digest::consts::U64;
use blake2::digest::typenum::{IsLessOrEqual, True};
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2b, Blake2bMac};
use chacha20::XChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use subtle::{Choice, ConstantTimeEq};
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

/// Compares two byte strings in constant time for a given length (a length
/// difference returns `false` at once: lengths are not secret here). Use it
/// wherever a secret, or a value an attacker is probing for, is compared.
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::constant_time_eq_bytes;
///
/// assert!(constant_time_eq_bytes(b"footer-v1", b"footer-v1"));
/// assert!(!constant_time_eq_bytes(b"footer-v1", b"footer-v2"));
/// assert!(!constant_time_eq_bytes(b"abc", b"abcd"));
/// ```
#[must_use]
pub fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    ct_eq_by_words(a, b).into()
}

/// Compares two strings in constant time for a given length; see
/// [`constant_time_eq_bytes`].
///
/// # Examples
///
/// ```
/// use vaulttoken::rules::constant_time_eq;
///
/// assert!(constant_time_eq("abc", "abc"));
/// assert!(!constant_time_eq("abc", "abd"));
/// ```
#[must_use]
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    constant_time_eq_bytes(a.as_bytes(), b.as_bytes())
}

/// `subtle`'s slice comparison, eight bytes per `ct_eq` instead of one: constant
/// time for a given length, and, like `subtle`'s, early false for unequal lengths.
fn ct_eq_by_words(a: &[u8], b: &[u8]) -> Choice {
    if a.len() != b.len() {
        return Choice::from(0);
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    // The guard below only picks the faster of two correct ways to compare the
    // leftover bytes, so its mutants (`true`, `false`, no `!`) are equivalent:
    // the overlapping word and `a_rest.ct_eq` agree for every length.
    let rest = match (a.last_chunk::<8>(), b.last_chunk::<8>()) {
        // The last eight bytes, overlapping the words before: equal iff the
        // leftover bytes are, since the overlap is compared twice.
        (Some(x), Some(y)) if !a_rest.is_empty() => {
            u64::from_le_bytes(*x).ct_eq(&u64::from_le_bytes(*y))
        }
        _ => a_rest.ct_eq(b_rest),
    };
    a_words.iter().zip(b_words).fold(rest, |equal, (x, y)| {
        equal & u64::from_le_bytes(*x).ct_eq(&u64::from_le_bytes(*y))
    })
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

    /// Every length up to 40 (past several words and every tail length), with a
    /// difference in every position, including the last `len % 8` bytes, which
    /// the overlapping final word must catch.
    #[test]
    fn constant_time_eq_is_plain_equality() {
        let base: Vec<u8> = (0u8..41).collect();
        for len in 0..40 {
            let a = &base[..len];
            assert!(constant_time_eq_bytes(a, a), "{len}");
            for at in 0..len {
                for flip in [0x01, 0x80, 0xff] {
                    let mut b = a.to_vec();
                    b[at] ^= flip;
                    assert!(!constant_time_eq_bytes(a, &b), "{len} {at} {flip}");
                    assert!(!constant_time_eq_bytes(&b, a), "{len} {at} {flip}");
                }
            }
            assert!(!constant_time_eq_bytes(a, &base[..len + 1]));
            assert!(!constant_time_eq_bytes(&base[..len + 1], a));
        }
        assert!(constant_time_eq("", ""));
        assert!(!constant_time_eq("a", "ab"));
        assert!(!constant_time_eq("abcdefghij", "abcdefghik"));
    }
}
