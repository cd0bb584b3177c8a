//! Pre-Authentication Encoding (PAE), streamed into a MAC or signature.
//!
//! `PAE(p_1, …, p_n) = LE64(n) || LE64(len p_1) || p_1 || … || LE64(len p_n) || p_n`,
//! where `LE64` is a 64-bit little-endian integer with its top bit cleared. The
//! pieces are fed to a sink one after another, so the encoding is never
//! materialised in memory.

/// `LE64(n)`: `n` as 8 little-endian bytes with the most significant bit cleared.
pub(crate) fn le64(n: usize) -> [u8; 8] {
    // usize is at most 64 bits on every supported target.
    let n = u64::try_from(n).unwrap_or(u64::MAX);
    (n & (u64::MAX >> 1)).to_le_bytes()
}

/// Feeds `PAE(pieces)` to `sink`, piece by piece.
pub(crate) fn feed(pieces: &[&[u8]], sink: &mut impl FnMut(&[u8])) {
    sink(&le64(pieces.len()));
    for piece in pieces {
        sink(&le64(piece.len()));
        sink(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(pieces: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        feed(pieces, &mut |bytes| out.extend_from_slice(bytes));
        out
    }

    // The examples given in the PASETO specification (Common.md, "PAE").
    #[test]
    fn pae_of_no_pieces_is_a_zero_count() {
        assert_eq!(encode(&[]), b"\x00\x00\x00\x00\x00\x00\x00\x00");
    }

    #[test]
    fn pae_of_one_empty_piece() {
        assert_eq!(
            encode(&[b""]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        );
    }

    #[test]
    fn pae_of_test_matches_the_spec() {
        assert_eq!(
            encode(&[b"test"]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00test"
        );
    }

    #[test]
    fn pae_keeps_piece_boundaries_apart() {
        // Without the length prefixes these two would collide.
        assert_ne!(encode(&[b"ab", b"c"]), encode(&[b"a", b"bc"]));
    }

    #[test]
    fn le64_clears_the_top_bit() {
        assert_eq!(le64(0), [0; 8]);
        assert_eq!(le64(258), [2, 1, 0, 0, 0, 0, 0, 0]);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            le64(usize::MAX),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        );
    }
}
