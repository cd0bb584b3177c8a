//! Strict text encodings: unpadded base64url for tokens and keys, hex for keys.
//!
//! Key material goes through constant-time crates (`base64ct`, `base16ct`), so
//! decoding or encoding a key does not branch on or index memory by its value.
//!
//! Token bodies and footers are public: a `v4.local` body is nonce, ciphertext and
//! tag, a `v4.public` body is message and signature, and a footer is sent in
//! clear. They are decoded by [`decode_public_base64url_into`], a table-driven
//! decoder that is not constant time but is exactly as strict as the key decoder
//! (a test compares the two), and encoded by [`push_public_base64url`], a
//! table-driven encoder that gives exactly the constant-time encoder's output
//! (a test compares the two too). Never use either for secrets.

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

/// Appends the unpadded base64url encoding of *public* `bytes` to `out`: the
/// same text as [`push_base64url`], about three times faster.
///
/// It encodes a piece at a time into a buffer on the stack and appends each
/// piece, so `out` is never filled with zeros first, and `out` grows only if
/// the caller did not reserve [`base64url_len`] bytes.
///
/// # Security
///
/// Not constant time: its table lookups are indexed by the bytes. Only for token
/// bodies and footers, which are sent in clear; keys go through
/// [`push_base64url`] and [`encode_base64url`].
pub(crate) fn push_public_base64url(out: &mut String, bytes: &[u8]) {
    // A multiple of twelve bytes, so every piece but the last is whole blocks.
    const PIECE: usize = 768;
    // mutants: equivalent because `/` -> `*` only enlarges `text`; a piece
    // encodes to at most `PIECE / 3 * 4` characters, so the rest is unused.
    let mut text = [0u8; PIECE / 3 * 4];
    for piece in bytes.chunks(PIECE) {
        let text = &mut text[..base64url_len(piece.len())];
        encode_public_base64url_into(piece, text);
        // The alphabet is ASCII, so this check never fails; it is the safe way
        // to append bytes to a `String`, and it reads the piece while it is in
        // the L1 cache.
        out.push_str(str::from_utf8(text).unwrap_or_else(|_| unreachable!("base64url is ASCII")));
    }
}

/// Encodes *public* `bytes` as unpadded base64url into `out`, which must be
/// exactly [`base64url_len`] bytes long. See [`push_public_base64url`], whose
/// security note applies.
fn encode_public_base64url_into(bytes: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), base64url_len(bytes.len()), "sized by the caller");
    // Twelve bytes at a time: 96 bits, sixteen characters, eight lookups of a
    // pair of characters by 12 bits.
    let (blocks, bytes) = bytes.as_chunks::<12>();
    let (sixteens, out) = out.as_chunks_mut::<16>();
    for (block, sixteen) in blocks.iter().zip(sixteens.iter_mut()) {
        let [a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3] = *block;
        let a = u32::from_be_bytes([a0, a1, a2, a3]);
        let b = u32::from_be_bytes([b0, b1, b2, b3]);
        let c = u32::from_be_bytes([c0, c1, c2, c3]);
        // mutants: equivalent because `|` -> `^` in the two pairs that span
        // words: the shifted fields never overlap (`a << 4` has four zero low
        // bits and `b >> 28` has four bits; likewise `b << 8` and `c >> 24`).
        let pairs = [
            a >> 20,
            a >> 8,
            a << 4 | b >> 28,
            b >> 16,
            b >> 4,
            b << 8 | c >> 24,
            c >> 12,
            c,
        ];
        let (chars, _) = sixteen.as_chunks_mut::<2>();
        for (chars, bits) in chars.iter_mut().zip(pairs) {
            *chars = pair(bits);
        }
    }
    // Then three bytes at a time: 24 bits, four characters.
    let (triples, tail) = bytes.as_chunks::<3>();
    let (quads, out_tail) = out.as_chunks_mut::<4>();
    for (&[b0, b1, b2], quad) in triples.iter().zip(quads.iter_mut()) {
        let group = u32::from_be_bytes([0, b0, b1, b2]);
        let [[c0, c1], [c2, c3]] = [pair(group >> 12), pair(group)];
        *quad = [c0, c1, c2, c3];
    }
    // A last byte or two, padded with zero bits to whole characters.
    match (tail, out_tail) {
        (&[b0], [c0, c1]) => [*c0, *c1] = pair(u32::from(b0) << 4),
        (&[b0, b1], [c0, c1, c2]) => {
            let group = u32::from(u16::from_be_bytes([b0, b1])) << 2;
            [*c0, *c1] = pair(group >> 6);
            *c2 = ALPHABET[usize::from(group.to_be_bytes()[3] & 0x3f)];
        }
        _ => {}
    }
}

/// The two characters that encode the low 12 bits of `bits`.
fn pair(bits: u32) -> [u8; 2] {
    PAIRS[(bits & 0xfff) as usize]
}

/// `PAIRS[bits]`, for [`pair`]: the two characters of every 12-bit value, an
/// 8 KiB table, so two characters cost one lookup.
static PAIRS: [[u8; 2]; 4096] = pair_table();

const fn pair_table() -> [[u8; 2]; 4096] {
    let mut table = [[0; 2]; 4096];
    let mut bits = 0;
    while bits < 4096 {
        table[bits] = [ALPHABET[bits >> 6], ALPHABET[bits & 0x3f]];
        bits += 1;
    }
    table
}

/// Decodes strict unpadded base64url: no `=`, no whitespace, only the URL alphabet,
/// and zero unused trailing bits. `None` on any violation.
pub(crate) fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// Decodes strict unpadded base64url from *public* text into `out`, which must be
/// exactly [`base64url_decoded_len`] bytes long. As strict as
/// [`decode_base64url`]: only the URL alphabet, no `=`, no whitespace, no length
/// `4n + 1`, and zero unused trailing bits. Returns `false` on any violation,
/// leaving `out` partly written.
///
/// # Security
///
/// Not constant time: its table lookups are indexed by the text, and it returns
/// early on a bad tail. Only for token bodies and footers, which are sent in
/// clear; keys go through [`decode_base64url`].
#[must_use]
pub(crate) fn decode_public_base64url_into(text: &[u8], out: &mut [u8]) -> bool {
    if base64url_decoded_len(text.len()) != Some(out.len()) {
        return false;
    }
    // Each group of four characters gives 24 bits; an invalid character sets a
    // bit above them, and `seen` collects those bits for one check at the end.
    let mut seen = 0u32;
    // Four groups at a time: sixteen characters, twelve bytes in two stores.
    let (blocks, text) = text.as_chunks::<16>();
    let (twelves, out) = out.as_chunks_mut::<12>();
    for (block, twelve) in blocks.iter().zip(twelves.iter_mut()) {
        let g0 = group(block[0], block[1], block[2], block[3]);
        let g1 = group(block[4], block[5], block[6], block[7]);
        let g2 = group(block[8], block[9], block[10], block[11]);
        let g3 = group(block[12], block[13], block[14], block[15]);
        seen |= g0 | g1 | g2 | g3;
        // Bits beyond a group's 24 only matter when `seen` already fails.
        // mutants: equivalent because `|` -> `^` here (and in `last` and the
        // six-byte `bytes` below) only differs where shifted fields overlap, which
        // needs bits above a group's 24; then `seen` fails and `out` is discarded.
        let first = u64::from(g0) << 40 | u64::from(g1) << 16 | u64::from(g2) >> 8;
        let last = g2 << 24 | g3;
        let (first_out, last_out) = twelve.split_at_mut(8);
        first_out.copy_from_slice(&first.to_be_bytes());
        last_out.copy_from_slice(&last.to_be_bytes());
    }
    // Then at most one pair of groups: eight characters, six bytes.
    let (octets, text) = text.as_chunks::<8>();
    let (sixes, out) = out.as_chunks_mut::<6>();
    for (octet, six) in octets.iter().zip(sixes.iter_mut()) {
        let [c0, c1, c2, c3, c4, c5, c6, c7] = *octet;
        let high = group(c0, c1, c2, c3);
        let low = group(c4, c5, c6, c7);
        seen |= high | low;
        let bytes = ((u64::from(high) << 24 | u64::from(low)) << 16).to_be_bytes();
        six.copy_from_slice(&bytes[..6]);
    }
    // Then at most one more whole group.
    let (quads, tail) = text.as_chunks::<4>();
    let (triples, out_tail) = out.as_chunks_mut::<3>();
    for (&[c0, c1, c2, c3], triple) in quads.iter().zip(triples.iter_mut()) {
        let group = group(c0, c1, c2, c3);
        seen |= group;
        let [_, b0, b1, b2] = group.to_be_bytes();
        *triple = [b0, b1, b2];
    }
    // A final group of two or three characters, whose unused low bits must be
    // zero; the length check above has ruled out a single character.
    match (tail, out_tail) {
        ([], []) => {}
        (&[c0, c1], [b0]) => {
            let group = sextet::<0>(c0) | sextet::<1>(c1);
            if group & 0xffff != 0 {
                return false;
            }
            seen |= group;
            *b0 = group.to_be_bytes()[1];
        }
        (&[c0, c1, c2], [b0, b1]) => {
            let group = sextet::<0>(c0) | sextet::<1>(c1) | sextet::<2>(c2);
            if group & 0xff != 0 {
                return false;
            }
            seen |= group;
            let [_, x0, x1, _] = group.to_be_bytes();
            [*b0, *b1] = [x0, x1];
        }
        _ => return false,
    }
    // mutants: equivalent because `<` -> `<=`: `seen` is an OR of values below
    // 2^24 or with all of bits 24 to 31 set (`INVALID`), so it is never 2^24.
    seen < 1 << 24
}

/// Decodes strict unpadded base64url from *public* text into a new buffer; see
/// [`decode_public_base64url_into`], whose security note applies.
#[cfg(test)]
pub(crate) fn decode_public_base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = vec![0; base64url_decoded_len(text.len())?];
    decode_public_base64url_into(text.as_bytes(), &mut out).then_some(out)
}

/// Whether `text` is strict unpadded base64url, checked by decoding it in pieces
/// on the stack. Public text only; see [`decode_public_base64url_into`].
pub(crate) fn is_public_base64url(text: &str) -> bool {
    // A multiple of four characters, so only the last piece can have a tail.
    const PIECE: usize = 1024;
    // mutants: equivalent because `/` -> `*` only enlarges `scratch`; every
    // piece decodes to at most `PIECE / 4 * 3` bytes, so the rest is unused.
    let mut scratch = [0u8; PIECE / 4 * 3];
    text.as_bytes().chunks(PIECE).all(|piece| {
        base64url_decoded_len(piece.len())
            .is_some_and(|len| decode_public_base64url_into(piece, &mut scratch[..len]))
    })
}

/// The 24 bits of one group of four characters, or a value of 2^24 or more if
/// one of them is not in the URL alphabet.
fn group(c0: u8, c1: u8, c2: u8, c3: u8) -> u32 {
    sextet::<0>(c0) | sextet::<1>(c1) | sextet::<2>(c2) | sextet::<3>(c3)
}

/// The value of base64url character `c` in position `POS` (0 to 3) of a group of
/// four, already shifted into place in the group's 24 bits; [`INVALID`] if `c`
/// is not in the URL alphabet.
fn sextet<const POS: usize>(c: u8) -> u32 {
    DECODE[POS][usize::from(c)]
}

/// The base64url alphabet, in the order of the values it encodes.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a character outside the alphabet: above the 24 bits of a group.
const INVALID: u32 = 0xff00_0000;

/// `DECODE[pos][c]`, for [`sextet`]: one 1 KiB table per position, so a group is
/// decoded with four lookups and three ORs.
static DECODE: [[u32; 256]; 4] = decode_tables();

const fn decode_tables() -> [[u32; 256]; 4] {
    let mut tables = [[INVALID; 256]; 4];
    let mut value: u32 = 0;
    while value < 64 {
        let c = ALPHABET[value as usize] as usize;
        let mut pos = 0;
        while pos < 4 {
            tables[pos][c] = value << (18 - 6 * pos);
            pos += 1;
        }
        value += 1;
    }
    tables
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

    /// The constant-time decoder on raw bytes (which need not be UTF-8).
    fn reference(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0; base64url_decoded_len(text.len())?];
        let written = Base64UrlUnpadded::decode(text, &mut out).ok()?.len();
        assert_eq!(written, out.len(), "base64ct fills the whole buffer");
        Some(out)
    }

    /// The public decoder on raw bytes, through the same buffer-sizing path that
    /// tokens use.
    fn public(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0; base64url_decoded_len(text.len())?];
        decode_public_base64url_into(text, &mut out).then_some(out)
    }

    fn assert_decoders_agree(text: &[u8]) {
        let expected = reference(text);
        assert_eq!(
            public(text),
            expected,
            "{:?}",
            String::from_utf8_lossy(text)
        );
        if let Ok(text) = core::str::from_utf8(text) {
            assert_eq!(decode_public_base64url(text), expected, "{text:?}");
            assert_eq!(is_public_base64url(text), expected.is_some(), "{text:?}");
        }
    }

    /// SplitMix64: a deterministic stream of test inputs, with no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
        }
    }

    /// The fast encoder, appending to `prefix`.
    fn public_encoding(prefix: &str, bytes: &[u8]) -> String {
        let mut out = String::from(prefix);
        push_public_base64url(&mut out, bytes);
        out
    }

    #[test]
    fn public_encoder_matches_base64ct_on_every_length_up_to_2000() {
        // Past two 768-byte pieces, so whole and partial pieces both come up,
        // with every remainder of a twelve-byte block and of a three-byte group.
        let mut rng = Rng(6);
        for len in 0..2000 {
            let bytes = rng.bytes(len);
            let expected = encode_base64url(&bytes);
            assert_eq!(public_encoding("", &bytes), expected, "{len}");
            assert_eq!(
                public_encoding("v4.local.", &bytes),
                format!("v4.local.{expected}")
            );
        }
    }

    #[test]
    fn public_encoder_matches_base64ct_on_every_one_and_two_byte_input() {
        for b0 in 0..=u8::MAX {
            assert_eq!(public_encoding("", &[b0]), encode_base64url(&[b0]));
            for b1 in 0..=u8::MAX {
                assert_eq!(public_encoding("", &[b0, b1]), encode_base64url(&[b0, b1]));
            }
        }
    }

    #[test]
    fn public_encoder_matches_base64ct_on_every_byte_in_every_position_of_a_block() {
        // Each byte value at each of the twelve places of a block, and of the
        // three-byte tail after it, so every shift and mask is exercised.
        for len in [12, 15, 24] {
            for at in 0..len {
                for value in 0..=u8::MAX {
                    let mut bytes = vec![0u8; len];
                    bytes[at] = value;
                    assert_eq!(
                        public_encoding("", &bytes),
                        encode_base64url(&bytes),
                        "{len} {at}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn public_encoder_matches_base64ct_up_to_64_kib(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..=64 * 1024),
        ) {
            let expected = encode_base64url(&bytes);
            proptest::prop_assert_eq!(public_encoding("v4.local.", &bytes), format!("v4.local.{expected}"));
        }
    }

    /// Characters a lax decoder might wrongly accept, plus non-ASCII bytes.
    const NOT_URL_ALPHABET: &[u8] = b"=+/ \t\r\n.,:;!*~\0\x7f\x80\xc3\xff";

    #[test]
    fn public_decoder_matches_base64ct_on_every_length_up_to_200() {
        let mut rng = Rng(1);
        for len in 0..200 {
            for _ in 0..20 {
                let bytes = rng.bytes(len);
                let text = encode_base64url(&bytes);
                assert_eq!(public(text.as_bytes()), Some(bytes), "{text}");
                assert_decoders_agree(text.as_bytes());
            }
        }
    }

    #[test]
    fn public_decoder_matches_base64ct_on_corrupted_encodings() {
        let mut rng = Rng(2);
        for text_len in 0..270 {
            for _ in 0..20 {
                // Alphabet characters at random, so lengths 4n + 1 and non-zero
                // trailing bits come up, then up to three bytes replaced.
                let mut text: Vec<u8> = (0..text_len).map(|_| ALPHABET[rng.below(64)]).collect();
                assert_decoders_agree(&text);
                for _ in 0..rng.below(4) {
                    if text.is_empty() {
                        break;
                    }
                    let at = rng.below(text.len());
                    text[at] = if rng.below(2) == 0 {
                        NOT_URL_ALPHABET[rng.below(NOT_URL_ALPHABET.len())]
                    } else {
                        rng.bytes(1)[0]
                    };
                    assert_decoders_agree(&text);
                }
            }
        }
    }

    #[test]
    fn public_decoder_matches_base64ct_on_every_short_input() {
        let symbols: Vec<u8> = ALPHABET.iter().chain(NOT_URL_ALPHABET).copied().collect();
        assert_decoders_agree(b"");
        for &a in &symbols {
            assert_decoders_agree(&[a]);
            for &b in &symbols {
                assert_decoders_agree(&[a, b]);
                for &c in &symbols {
                    assert_decoders_agree(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn public_decoder_rejects_a_bad_character_in_every_position() {
        let text = encode_base64url(&Rng(3).bytes(100));
        for at in 0..text.len() {
            for &bad in NOT_URL_ALPHABET {
                let mut corrupted = text.clone().into_bytes();
                corrupted[at] = bad;
                assert_eq!(public(&corrupted), None, "{bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn public_decoder_rejects_padding_alphabets_whitespace_and_trailing_bits() {
        for text in [
            "YQ==", "YWI=", "+/+/", "YW I", "YWI\n", " YWI", "YR", "YS", "YT", "YWJ", "YWK",
            "YWJjZ",
        ] {
            assert_eq!(decode_public_base64url(text), None, "{text:?}");
            assert!(!is_public_base64url(text), "{text:?}");
        }
        assert_eq!(decode_public_base64url("YQ"), Some(b"a".to_vec()));
        assert_eq!(decode_public_base64url("YWI"), Some(b"ab".to_vec()));
        assert_eq!(
            decode_public_base64url("-_-_"),
            Some(vec![0xfb, 0xff, 0xbf])
        );
        assert_eq!(decode_public_base64url(""), Some(Vec::new()));
    }

    #[test]
    fn public_decoder_refuses_an_output_of_the_wrong_length() {
        let mut short = [0u8; 2];
        let mut long = [0u8; 4];
        assert!(!decode_public_base64url_into(b"YWJj", &mut short));
        assert!(!decode_public_base64url_into(b"YWJj", &mut long));
        let mut exact = [0u8; 3];
        assert!(decode_public_base64url_into(b"YWJj", &mut exact));
        assert_eq!(&exact, b"abc");
    }

    #[test]
    fn is_public_base64url_checks_past_its_scratch_buffer() {
        // Longer than the 1024-character pieces it checks one at a time.
        let text = encode_base64url(&Rng(4).bytes(2000));
        assert!(is_public_base64url(&text));
        for at in [0, 1023, 1024, 1025, 2047, 2048, text.len() - 1] {
            let mut corrupted = text.clone().into_bytes();
            corrupted[at] = b'=';
            let corrupted = String::from_utf8(corrupted).unwrap();
            assert!(!is_public_base64url(&corrupted), "{at}");
        }
        // 4n + 1 characters, with the odd one in the last piece.
        assert!(!is_public_base64url(&format!("{}A", &text[..2048])));
        assert!(!is_public_base64url(&text[..1025]));
        assert!(is_public_base64url(&text[..1024]));
    }

    #[test]
    fn hex_round_trips_and_accepts_either_case() {
        assert_eq!(encode_hex(&[0xab, 0x01]), "ab01");
        assert_eq!(decode_hex("AB01"), Some(vec![0xab, 0x01]));
        assert_eq!(decode_hex("ab01"), Some(vec![0xab, 0x01]));
        assert_eq!(decode_hex("ab0"), None);
        assert_eq!(decode_hex("zz"), None);
    }

    #[test]
    fn public_decoder_rejects_two_bad_characters_in_any_two_positions() {
        // Every bad character marks the same high bits, so two of them must not
        // cancel out, whether they share a group, a block of sixteen, or sit in
        // different loops. 47 = 16 + 16 + 8 + 4 + 3 and 30 = 16 + 8 + 4 + 2
        // characters cross every path that collects `seen`.
        for len in [47, 30] {
            let text = encode_base64url(&Rng(5).bytes(base64url_decoded_len(len).unwrap()));
            assert_eq!(text.len(), len);
            assert!(public(text.as_bytes()).is_some());
            for i in 0..len {
                for j in i + 1..len {
                    for [a, b] in [[b'=', b'='], [b'+', b'\xff']] {
                        let mut corrupted = text.clone().into_bytes();
                        corrupted[i] = a;
                        corrupted[j] = b;
                        assert_eq!(public(&corrupted), None, "{len}: {i} and {j}");
                    }
                }
            }
        }
    }
}
