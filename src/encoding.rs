//! Strict text encodings: unpadded base64url for tokens and keys, hex for keys.
//!
//! Both come from constant-time crates (`base64ct`, `base16ct`), so decoding key
//! material does not branch on its value.

use base64ct::{Base64UrlUnpadded, Encoding as _};

/// Length of the unpadded base64url encoding of `len` bytes.
pub(crate) const fn base64url_len(len: usize) -> usize {
    len / 3 * 4 + (len % 3 * 4).div_ceil(3)
}

/// Length of the bytes that `encoded_len` characters of unpadded base64url decode
/// to; `None` for a length no canonical encoding has (`4n + 1`).
pub(crate) const fn base64url_decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        rem => Some(encoded_len / 4 * 3 + rem.saturating_sub(1)),
    }
}

/// Appends the unpadded base64url encoding of `bytes` to `out`.
pub(crate) fn push_base64url(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + base64url_len(bytes.len()), 0);
    let written = Base64UrlUnpadded::encode(bytes, &mut out[start..]).map_or(0, str::len);
    debug_assert_eq!(written, out.len() - start, "length computed ahead of time");
}

/// Decodes strict unpadded base64url: no `=`, no whitespace, only the URL alphabet,
/// and zero unused trailing bits. `None` on any violation.
pub(crate) fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// Encodes bytes as unpadded base64url.
pub(crate) fn encode_base64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes hex (either case) in constant time.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    base16ct::mixed::decode_vec(text).ok()
}

/// Encodes bytes as lowercase hex in constant time.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_len_matches_the_encoder_for_every_small_length() {
        for len in 0..200 {
            let bytes = vec![0xA5u8; len];
            assert_eq!(base64url_len(len), encode_base64url(&bytes).len(), "{len}");
            assert_eq!(base64url_decoded_len(base64url_len(len)), Some(len));
        }
    }

    #[test]
    fn decoded_len_rejects_impossible_lengths() {
        assert_eq!(base64url_decoded_len(1), None);
        assert_eq!(base64url_decoded_len(5), None);
        assert_eq!(base64url_decoded_len(0), Some(0));
    }

    #[test]
    fn decode_base64url_rejects_padding() {
        assert_eq!(decode_base64url("YQ"), Some(b"a".to_vec()));
        assert_eq!(decode_base64url("YQ=="), None);
        assert_eq!(decode_base64url("YWI="), None);
    }

    #[test]
    fn decode_base64url_rejects_standard_alphabet_and_whitespace() {
        assert_eq!(decode_base64url("-_-_"), Some(vec![0xfb, 0xff, 0xbf]));
        assert_eq!(decode_base64url("+/+/"), None);
        assert_eq!(decode_base64url("YW I"), None);
        assert_eq!(decode_base64url("YWI\n"), None);
        assert_eq!(decode_base64url(" YWI"), None);
    }

    #[test]
    fn decode_base64url_rejects_non_canonical_trailing_bits() {
        // "YQ" is canonical for b"a"; "YR".."YT" differ only in the unused low bits.
        for text in ["YR", "YS", "YT", "YWJ", "YWK"] {
            assert_eq!(decode_base64url(text), None, "{text}");
        }
        assert_eq!(decode_base64url("YWI"), Some(b"ab".to_vec()));
    }

    #[test]
    fn decode_base64url_rejects_impossible_length() {
        assert_eq!(decode_base64url("YWJjZ"), None);
    }

    #[test]
    fn hex_round_trips_and_accepts_either_case() {
        assert_eq!(encode_hex(&[0xab, 0x01]), "ab01");
        assert_eq!(decode_hex("AB01"), Some(vec![0xab, 0x01]));
        assert_eq!(decode_hex("ab01"), Some(vec![0xab, 0x01]));
        assert_eq!(decode_hex("ab0"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
