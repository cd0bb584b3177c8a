//! [`Digest`]: the fixed-size name of what a change of the revocation
//! mirror is about (an id, a subject's cutoff, a latest slot, a family).
//!
//! A digest is the 128-bit xxh3 of the name, seeded by the subject and the
//! domain (what the name is):
//!
//! ```text
//! digest  = xxh3_128_with_seed(name, subject_seed ^ domain_seed)
//! subject_seed = NO_SUBJECT                                 (no subject)
//!              | xxh3_64_with_seed(subject, SOME_SUBJECT)   (a subject, maybe empty)
//! ```
//!
//! so `None` and `Some("")` differ, and the subject and the name never run
//! into each other (`("ab", "c")` and `("a", "bc")` differ). A check computes
//! the subject's seed once for the id and the cutoff
//! ([`Digest::token_and_subject`]), hashing the name and the subject where
//! they lie, without copying them. The digest is xxh3, not BLAKE2b: a decode
//! computes two or three of them on every check, within a budget of a few
//! hundred instructions for the whole mirror check. It is unkeyed: a
//! collision can only make the mirror find an entry for a token that has
//! none (refuse it), except for a latest slot's value, which is an
//! issuer-random token id, not chosen by an attacker.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

use xxhash_rust::xxh3::{xxh3_64_with_seed, xxh3_128_with_seed};

/// The domains' seeds: what the name is.
const TOKEN: u64 = u64::from_be_bytes(*b"vt:id\0\0\0");
const SUBJECT: u64 = u64::from_be_bytes(*b"vt:cut\0\0");
const LATEST: u64 = u64::from_be_bytes(*b"vt:lat\0\0");
const TOKEN_ID: u64 = u64::from_be_bytes(*b"vt:tid\0\0");
const FAMILY: u64 = u64::from_be_bytes(*b"vt:fam\0\0");

/// The subject seed of no subject, and the seed a subject is hashed with.
const NO_SUBJECT: u64 = u64::from_be_bytes(*b"vt:nosub");
const SOME_SUBJECT: u64 = u64::from_be_bytes(*b"vt:subj\0");

/// The 16-byte xxh3-128 (big-endian) of what a change is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digest([u8; 16]);

impl Digest {
    /// The digest of a token id of `subject` (the revoked or spent id).
    pub(crate) fn token(subject: Option<&str>, token_id: &str) -> Self {
        Self::of(TOKEN, subject, token_id)
    }

    /// [`Digest::token`] and [`Digest::subject`] at once, the subject hashed
    /// once: what every check asks.
    pub(crate) fn token_and_subject(subject: Option<&str>, token_id: &str) -> (Self, Self) {
        let seed = subject_seed(subject);
        (
            Self::named(seed ^ TOKEN, token_id),
            Self::named(seed ^ SUBJECT, ""),
        )
    }

    /// The digest of a subject: the key of its cutoff.
    pub(crate) fn subject(subject: Option<&str>) -> Self {
        Self::of(SUBJECT, subject, "")
    }

    /// The digest of a latest slot of `subject` (the key of a latest entry).
    pub(crate) fn latest(subject: Option<&str>, slot: &str) -> Self {
        Self::of(LATEST, subject, slot)
    }

    /// The digest of a bare token id: the value of a latest entry.
    pub(crate) fn token_id(token_id: &str) -> Self {
        Self::of(TOKEN_ID, None, token_id)
    }

    /// The digest of a refresh family of `subject`.
    pub(crate) fn family(subject: Option<&str>, family_id: &str) -> Self {
        Self::of(FAMILY, subject, family_id)
    }

    /// The digest as 32 lowercase hex characters (as changes carry it).
    pub(crate) fn to_hex(self) -> String {
        let mut text = String::with_capacity(32);
        for byte in self.0 {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        text
    }

    /// A digest from exactly 32 lowercase hex characters, else `None`.
    ///
    /// Uppercase is refused: a change carries the one canonical form
    /// [`Digest::to_hex`] writes, so anything else is not from this crate.
    pub(crate) fn from_hex(text: &[u8]) -> Option<Self> {
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0_u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            *byte = nibble(pair[0])? * 16 + nibble(pair[1])?;
        }
        Some(Self(bytes))
    }

    /// Which of `shards` (a power of two, at most 256) holds this digest.
    ///
    /// It reads the last byte, outside the eight that [`Hash`] gives a map:
    /// within one shard those stay uniform, so the map's bucket index and
    /// its control byte (the hash's low and top bits) still spread.
    pub(crate) fn shard(self, shards: usize) -> usize {
        usize::from(self.0[15]) % shards
    }

    /// Which of `groups` (at most 65,536) this digest falls in: read from
    /// bytes 12 and 13, apart from those [`Digest::shard`] and [`Hash`]
    /// read.
    pub(crate) fn group(self, groups: usize) -> usize {
        usize::from(u16::from_be_bytes([self.0[12], self.0[13]])) % groups
    }

    /// A digest of these bytes (tests build tables without hashing).
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    fn of(domain: u64, subject: Option<&str>, name: &str) -> Self {
        Self::named(subject_seed(subject) ^ domain, name)
    }

    fn named(seed: u64, name: &str) -> Self {
        Self(xxh3_128_with_seed(name.as_bytes(), seed).to_be_bytes())
    }
}

/// The seed a subject gives its digests.
fn subject_seed(subject: Option<&str>) -> u64 {
    subject.map_or(NO_SUBJECT, |subject| {
        xxh3_64_with_seed(subject.as_bytes(), SOME_SUBJECT)
    })
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl Hash for Digest {
    /// The first eight bytes, as one `u64`: a digest is already uniform, so
    /// a map keyed by digests ([`DigestHasher`]) does not hash it again.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0_u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_be_bytes(first));
    }
}

/// The hasher of maps keyed by [`Digest`]: it keeps the `u64` a digest
/// writes ([`Digest`]'s `Hash`), and is its own [`BuildHasher`].
///
/// Other input (`write`) is folded in, so it works for any key, but only
/// digests are spread well by it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl BuildHasher for DigestHasher {
    type Hasher = Self;

    // A mutant returning `Default::default()` is equivalent: it is `Self(0)`.
    fn build_hasher(&self) -> Self {
        Self(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed vectors, computed once: the encoding must never change under a
    /// running fleet (writers and mirrors of two versions must agree).
    #[test]
    fn digests_are_pinned() {
        let cases = [
            (
                Digest::token(Some("alice"), "jti-1"),
                "62f658c43da7d518b91609df94cc21c9",
            ),
            (
                Digest::token(None, "jti-1"),
                "6d45f12b8fc95f6bf6dbf47d1856687f",
            ),
            (
                Digest::subject(Some("alice")),
                "72f3bc4a986a898259b9878f8deaf351",
            ),
            (Digest::subject(None), "80446ebfe3ba05634e611ea91a51193b"),
            (
                Digest::latest(Some("alice"), "magic_link"),
                "6784246a56c722c4a635efc96568d942",
            ),
            (
                Digest::token_id("jti-1"),
                "920ddf6a1b80a1c1eb99ef96febf54a2",
            ),
            (
                Digest::family(Some("alice"), "fam-1"),
                "8a99c979d6d866eb860abf8b4938a711",
            ),
        ];
        for (digest, hex) in cases {
            assert_eq!(digest.to_hex(), hex);
        }
    }

    /// The library's own vector (XXH3-128 of empty input, seed 0), so a
    /// changed xxh3 shows here rather than as changed digests only.
    #[test]
    fn xxh3_128_is_the_reference_function() {
        assert_eq!(
            xxh3_128_with_seed(b"", 0),
            0x99aa_06d3_0147_98d8_6001_c324_468d_497f
        );
    }

    #[test]
    fn digest_is_xxh3_128_of_the_documented_input() {
        let alice = xxh3_64_with_seed(b"alice", SOME_SUBJECT);
        assert_eq!(
            Digest::token(Some("alice"), "jti-1").0,
            xxh3_128_with_seed(b"jti-1", alice ^ TOKEN).to_be_bytes()
        );
        assert_eq!(
            Digest::token(None, "jti-1").0,
            xxh3_128_with_seed(b"jti-1", NO_SUBJECT ^ TOKEN).to_be_bytes()
        );
        assert_eq!(
            Digest::subject(Some("alice")).0,
            xxh3_128_with_seed(b"", alice ^ SUBJECT).to_be_bytes()
        );
        assert_eq!(
            Digest::token_id("jti-1").0,
            xxh3_128_with_seed(b"jti-1", NO_SUBJECT ^ TOKEN_ID).to_be_bytes()
        );
    }

    #[test]
    fn a_checks_two_digests_are_the_token_and_the_subject() {
        for subject in [None, Some(""), Some("alice")] {
            assert_eq!(
                Digest::token_and_subject(subject, "jti-1"),
                (Digest::token(subject, "jti-1"), Digest::subject(subject))
            );
        }
    }

    #[test]
    fn domains_are_separate() {
        let all = [
            Digest::token(Some("s"), "x"),
            Digest::latest(Some("s"), "x"),
            Digest::family(Some("s"), "x"),
            Digest::token(None, "x"),
            Digest::token_id("x"),
            Digest::subject(Some("s")),
            Digest::token(Some("s"), ""),
            Digest::latest(Some("s"), ""),
            Digest::family(Some("s"), ""),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn no_subject_is_not_the_empty_subject() {
        assert_ne!(Digest::token(None, "j"), Digest::token(Some(""), "j"));
        assert_ne!(Digest::subject(None), Digest::subject(Some("")));
        assert_ne!(Digest::latest(None, "s"), Digest::latest(Some(""), "s"));
        assert_ne!(Digest::family(None, "f"), Digest::family(Some(""), "f"));
    }

    #[test]
    fn the_subject_length_fixes_where_the_name_begins() {
        assert_ne!(
            Digest::token(Some("ab"), "c"),
            Digest::token(Some("a"), "bc")
        );
        assert_ne!(
            Digest::family(Some("ab"), "c"),
            Digest::family(Some("a"), "bc")
        );
        assert_ne!(
            Digest::latest(Some(""), "ab"),
            Digest::latest(Some("a"), "b")
        );
    }

    #[test]
    fn long_input_has_a_digest_of_its_own() {
        let long = "x".repeat(400);
        let longer = "x".repeat(401);
        assert_ne!(
            Digest::token(Some(&long), "j"),
            Digest::token(Some(&longer), "j")
        );
        assert_ne!(
            Digest::token(Some("s"), &long),
            Digest::token(Some("s"), &longer)
        );
    }

    #[test]
    fn hex_round_trips() {
        let digest = Digest::token(Some("alice"), "jti-1");
        let hex = digest.to_hex();
        assert_eq!(hex.len(), 32);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(Digest::from_hex(hex.as_bytes()), Some(digest));
        let all = Digest::from_bytes(
            *b"\x01\x23\x45\x67\x89\xab\xcd\xef\x00\xff\x10\x9a\xf0\x0f\x55\xaa",
        );
        assert_eq!(all.to_hex(), "0123456789abcdef00ff109af00f55aa");
        assert_eq!(
            Digest::from_hex(b"0123456789abcdef00ff109af00f55aa"),
            Some(all)
        );
    }

    #[test]
    fn from_hex_refuses_anything_but_32_lowercase_hex_digits() {
        let good = "0123456789abcdef0123456789abcdef";
        assert!(Digest::from_hex(good.as_bytes()).is_some());
        assert_eq!(Digest::from_hex(&good.as_bytes()[..31]), None);
        assert_eq!(Digest::from_hex(format!("{good}0").as_bytes()), None);
        assert_eq!(Digest::from_hex(b""), None);
        assert_eq!(Digest::from_hex(good.to_uppercase().as_bytes()), None);
        for bad in [
            b'g', b'G', b'A', b'F', b' ', b'-', b'/', b':', b'`', 0, 0xff,
        ] {
            for at in [0, 1, 31] {
                let mut text = good.as_bytes().to_vec();
                text[at] = bad;
                assert_eq!(Digest::from_hex(&text), None, "byte {bad} at {at}");
            }
        }
    }

    #[test]
    fn debug_prints_the_hex() {
        let digest = Digest::token(None, "j");
        assert_eq!(
            format!("{digest:?}"),
            format!("Digest({})", digest.to_hex())
        );
    }

    #[test]
    fn the_map_hash_is_the_first_eight_bytes() {
        let digest = Digest::from_bytes(*b"\x01\x02\x03\x04\x05\x06\x07\x08abcdefgh");
        assert_eq!(
            DigestHasher::default().hash_one(digest),
            0x0102_0304_0506_0708
        );
        let other = Digest::from_bytes(*b"\x01\x02\x03\x04\x05\x06\x07\x08zzzzzzzz");
        assert_eq!(
            DigestHasher::default().hash_one(digest),
            DigestHasher::default().hash_one(other)
        );
    }

    #[test]
    fn the_hasher_folds_other_input() {
        let hasher = DigestHasher::default();
        assert_ne!(hasher.hash_one("ab"), hasher.hash_one("ba"));
        assert_ne!(hasher.hash_one(1_u8), hasher.hash_one(2_u8));
        let mut state = hasher.build_hasher();
        state.write(&[0x12, 0x34]);
        assert_eq!(state.finish(), 0x1234);
        // Rotated and folded in with xor: the ninth byte lands on the first.
        let mut state = hasher.build_hasher();
        state.write(&[0xff; 9]);
        assert_eq!(state.finish(), 0xffff_ffff_ffff_ff00);
        // A digest's u64 replaces what was there.
        state.write_u64(7);
        assert_eq!(state.finish(), 7);
    }

    #[test]
    fn the_shard_is_the_last_byte() {
        let mut bytes = [0_u8; 16];
        bytes[15] = 0xc5;
        assert_eq!(Digest::from_bytes(bytes).shard(64), 0x05);
        assert_eq!(Digest::from_bytes(bytes).shard(256), 0xc5);
        bytes[0] = 0xff;
        assert_eq!(Digest::from_bytes(bytes).shard(64), 0x05);
    }

    #[test]
    fn the_group_is_bytes_12_and_13() {
        let mut bytes = [0xff_u8; 16];
        bytes[12] = 0x07;
        bytes[13] = 0x2a;
        assert_eq!(Digest::from_bytes(bytes).group(1_024), 0x32a);
        assert_eq!(Digest::from_bytes(bytes).group(65_536), 0x072a);
        bytes[11] = 0;
        bytes[14] = 0;
        assert_eq!(Digest::from_bytes(bytes).group(1_024), 0x32a);
    }
}
