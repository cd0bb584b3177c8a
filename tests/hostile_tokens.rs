//! Hostile input: tampered, spliced, relabelled, padded, truncated, look-alike and
//! oversized tokens, through the public API only. Each test checks the exact
//! outcome (which error, and that nothing panics), plus the redaction of `Debug`
//! output and the one-use lifecycle of ephemeral keys.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::ops::Range;
use std::time::{Duration, Instant};

use vaulttoken::footer::UntrustedFooter;
use vaulttoken::{
    Error, LocalKey, PublicKey, SecretKey,
    error::{MalformedToken, TokenPart},
    v4,
};

const LOCAL: &str = "v4.local.";
const PUBLIC: &str = "v4.public.";
const MESSAGE: &[u8] = br#"{"sub":"alice","exp":"2039-01-01T00:00:00+00:00"}"#;
const FOOTER: &[u8] = br#"{"kid":"k1"}"#;
const IMPLICIT: &[u8] = b"tenant-7";
/// The smallest decoded body: a 32-byte nonce and a 32-byte tag for `v4.local`,
/// a 64-byte signature for `v4.public`.
const MIN_BODY: usize = 64;
/// Generous bound for work on a mebibyte in a debug build on a busy machine; a
/// quadratic parser would take hours.
const QUICKLY: Duration = Duration::from_secs(30);

/// Asserts that `$result` is an `Err` matching `$pattern`, naming the case.
macro_rules! assert_err {
    ($result:expr, $pattern:pat if $guard:expr, $($context:tt)+) => {{
        let result = $result;
        assert!(
            matches!(result, Err($pattern) if $guard),
            "{}: expected Err({} if {}), got {:?}",
            format_args!($($context)+),
            stringify!($pattern),
            stringify!($guard),
            result,
        );
    }};
    ($result:expr, $pattern:pat, $($context:tt)+) => {{
        let result = $result;
        assert!(
            matches!(result, Err($pattern)),
            "{}: expected Err({}), got {:?}",
            format_args!($($context)+),
            stringify!($pattern),
            result,
        );
    }};
}

fn local_key() -> LocalKey {
    LocalKey::from_bytes(&[0x11; 32]).unwrap()
}

fn secret_key() -> SecretKey {
    SecretKey::from_seed(&[0x22; 32]).unwrap()
}

fn public_key() -> PublicKey {
    secret_key().public_key()
}

fn local_token() -> String {
    v4::local::encrypt(&local_key(), MESSAGE, FOOTER, IMPLICIT).unwrap()
}

fn public_token() -> String {
    v4::public::sign(&secret_key(), MESSAGE, FOOTER, IMPLICIT).unwrap()
}

fn decrypt(token: &str) -> Result<Vec<u8>, Error> {
    v4::local::decrypt(&local_key(), token, None, IMPLICIT)
}

fn verify(token: &str) -> Result<Vec<u8>, Error> {
    v4::public::verify(&public_key(), token, None, IMPLICIT)
}

/// A token's still-encoded parts: the header with its trailing dot, the body and
/// the footer (if any).
struct Parts<'a> {
    header: &'a str,
    body: &'a str,
    footer: Option<&'a str>,
}

fn parts(token: &str) -> Parts<'_> {
    let header_len = token.match_indices('.').nth(1).unwrap().0 + 1;
    let (header, rest) = token.split_at(header_len);
    let (body, footer) = match rest.split_once('.') {
        Some((body, footer)) => (body, Some(footer)),
        None => (rest, None),
    };
    Parts {
        header,
        body,
        footer,
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url, written independently of the crate.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let group = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for i in 0..=chunk.len() {
            let index = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap();
            out.push(char::from(ALPHABET[index]));
        }
    }
    out
}

/// Strict unpadded base64url decoding, written independently of the crate: URL
/// alphabet only, no impossible length, zero unused trailing bits.
fn decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)?;
        acc = ((acc << 6) | u32::try_from(value).unwrap()) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits).to_le_bytes()[0]);
        }
    }
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// Deterministic xorshift bytes, so "random" garbage is the same on every run.
fn pseudo_random_bytes(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// `text` with `insert` placed before byte `at`.
fn insert_at(text: &str, at: usize, insert: &str) -> String {
    format!("{}{insert}{}", &text[..at], &text[at..])
}

/// `text` with the character at byte `at` (ASCII) replaced by `with`.
fn replace_at(text: &str, at: usize, with: &str) -> String {
    format!("{}{with}{}", &text[..at], &text[at + 1..])
}

/// The fullwidth look-alike of a printable ASCII character, e.g. `A` → `Ａ`.
fn fullwidth(c: char) -> char {
    char::from_u32(u32::from(c) + 0xFEE0).unwrap()
}

#[test]
fn the_test_helpers_agree_with_the_crate_encoding() {
    let token = local_token();
    let p = parts(&token);
    assert_eq!(p.header, LOCAL);
    assert_eq!(p.footer, Some(encode(FOOTER).as_str()));
    assert_eq!(decode(p.footer.unwrap()).unwrap(), FOOTER);
    let body = decode(p.body).unwrap();
    assert_eq!(body.len(), 32 + MESSAGE.len() + 32);
    assert_eq!(encode(&body), p.body);

    let token = public_token();
    let p = parts(&token);
    assert_eq!(p.header, PUBLIC);
    // The message travels in clear, followed by the signature.
    let body = decode(p.body).unwrap();
    assert_eq!(&body[..MESSAGE.len()], MESSAGE);
    assert_eq!(body.len(), MESSAGE.len() + 64);

    // Non-canonical trailing bits and impossible lengths are refused by the helper.
    assert_eq!(decode("YQ"), Some(b"a".to_vec()));
    assert_eq!(decode("YR"), None);
    assert_eq!(decode("YWJjZ"), None);
    assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "-_-_");
}

// ---------------------------------------------------------------------------
// Tampering: every single-bit flip of the token, the implicit assertion and the
// expected footer.
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Outcomes {
    tested: usize,
    skipped_not_utf8: usize,
    header: usize,
    verification: usize,
    malformed: usize,
    footer_mismatch: usize,
}

/// Flips every bit of every byte of `token` at the indices `flipped` and opens
/// each mutation that is still UTF-8 with `open`. Every one must fail, with an
/// error that fits where the flip was. `footer_expected` says whether `open`
/// passes the expected footer, which is compared before any cryptography.
fn assert_every_bit_flip_is_refused(
    token: &str,
    flipped: Range<usize>,
    expected_header: &str,
    footer_expected: bool,
    open: impl Fn(&str) -> Result<Vec<u8>, Error>,
) -> Outcomes {
    let p = parts(token);
    let header_end = p.header.len();
    let body_end = header_end + p.body.len();
    assert!(p.footer.is_some(), "the token under test has a footer");
    let mut outcomes = Outcomes::default();

    for index in flipped.clone() {
        for bit in 0..8 {
            let mut bytes = token.as_bytes().to_vec();
            bytes[index] ^= 1 << bit;
            let Ok(mutated) = String::from_utf8(bytes) else {
                outcomes.skipped_not_utf8 += 1;
                continue;
            };
            outcomes.tested += 1;
            let err = match open(&mutated) {
                Ok(message) => panic!("byte {index} bit {bit}: {mutated:?} accepted: {message:?}"),
                Err(err) => err,
            };
            let fits = if index < header_end {
                matches!(&err, Error::UnsupportedHeader { expected } if *expected == expected_header)
            } else if index < body_end {
                // A body character may become `.` (from `n`), which adds a part.
                matches!(
                    err,
                    Error::Verification
                        | Error::Malformed(
                            MalformedToken::Base64(TokenPart::Body) | MalformedToken::TooManyParts
                        )
                )
            } else if index == body_end {
                // The separator becomes a body character: body and footer merge.
                // The merged body is checked first (usually not canonical base64);
                // if it still decodes, the expected footer is missing.
                if footer_expected {
                    matches!(
                        err,
                        Error::FooterMismatch
                            | Error::Malformed(MalformedToken::Base64(TokenPart::Body))
                    )
                } else {
                    matches!(
                        err,
                        Error::Verification
                            | Error::Malformed(MalformedToken::Base64(TokenPart::Body))
                    )
                }
            } else {
                let footer_format = matches!(
                    err,
                    Error::Malformed(
                        MalformedToken::Base64(TokenPart::Footer) | MalformedToken::TooManyParts
                    )
                );
                footer_format
                    || if footer_expected {
                        matches!(err, Error::FooterMismatch)
                    } else {
                        matches!(err, Error::Verification)
                    }
            };
            assert!(fits, "byte {index} bit {bit}: {mutated:?} gave {err:?}");
            match err {
                Error::UnsupportedHeader { .. } => outcomes.header += 1,
                Error::Verification => outcomes.verification += 1,
                Error::Malformed(_) => outcomes.malformed += 1,
                Error::FooterMismatch => outcomes.footer_mismatch += 1,
                other => panic!("byte {index} bit {bit}: unexpected {other:?}"),
            }
        }
    }

    // The token is ASCII: only flipping the top bit leaves UTF-8, so seven flips
    // of every byte are really tested.
    assert_eq!(outcomes.skipped_not_utf8, flipped.len(), "{outcomes:?}");
    assert_eq!(outcomes.tested, 7 * flipped.len(), "{outcomes:?}");
    let header_bytes = flipped.start.min(header_end)..flipped.end.min(header_end);
    assert_eq!(outcomes.header, 7 * header_bytes.len(), "{outcomes:?}");
    outcomes
}

#[test]
fn decrypt_rejects_every_single_bit_flip() {
    let token = local_token();
    assert_eq!(decrypt(&token).unwrap(), MESSAGE);
    let outcomes = assert_every_bit_flip_is_refused(&token, 0..token.len(), LOCAL, false, decrypt);
    assert!(outcomes.tested >= 7 * 170, "{outcomes:?}");
    // Most flips in body and footer reach the MAC and fail there.
    assert!(outcomes.verification > outcomes.tested / 2, "{outcomes:?}");
    assert_eq!(outcomes.footer_mismatch, 0, "{outcomes:?}");
}

#[test]
fn decrypt_with_the_expected_footer_rejects_every_single_bit_flip() {
    let token = local_token();
    let outcomes = assert_every_bit_flip_is_refused(&token, 0..token.len(), LOCAL, true, |t| {
        v4::local::decrypt(&local_key(), t, Some(FOOTER), IMPLICIT)
    });
    assert!(outcomes.footer_mismatch > 0, "{outcomes:?}");
    assert!(outcomes.verification > 0, "{outcomes:?}");
}

#[test]
fn verify_rejects_every_single_bit_flip() {
    // A short message keeps this to about 800 Ed25519 verifications, each slow in
    // a debug build; the signature is most of the body either way.
    let message = br#"{"sub":"alice"}"#;
    let token = v4::public::sign(&secret_key(), message, FOOTER, IMPLICIT).unwrap();
    assert_eq!(verify(&token).unwrap(), message);
    let outcomes = assert_every_bit_flip_is_refused(&token, 0..token.len(), PUBLIC, false, verify);
    assert!(outcomes.tested >= 7 * 130, "{outcomes:?}");
    assert!(outcomes.verification > outcomes.tested / 2, "{outcomes:?}");
    assert_eq!(outcomes.footer_mismatch, 0, "{outcomes:?}");
}

#[test]
fn verify_with_the_expected_footer_rejects_every_single_bit_flip_of_the_footer() {
    // Flips in the header and body take the same path as without an expected
    // footer (tested above); here the separator and footer, which the expected
    // footer catches before any signature check.
    let token = public_token();
    let p = parts(&token);
    let separator = p.header.len() + p.body.len();
    let outcomes =
        assert_every_bit_flip_is_refused(&token, separator..token.len(), PUBLIC, true, |t| {
            v4::public::verify(&public_key(), t, Some(FOOTER), IMPLICIT)
        });
    assert!(outcomes.tested >= 7 * 17, "{outcomes:?}");
    assert!(outcomes.footer_mismatch > 0, "{outcomes:?}");
    assert_eq!(outcomes.verification, 0, "{outcomes:?}");
}

/// Every single-bit flip of `bytes`, every strict prefix (the empty one
/// included), `bytes` with a NUL appended, and `bytes` twice over.
fn tamperings_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for index in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.to_vec();
            flipped[index] ^= 1 << bit;
            out.push(flipped);
        }
    }
    out.extend((0..bytes.len()).map(|len| bytes[..len].to_vec()));
    out.push([bytes, b"\0"].concat());
    out.push([bytes, bytes].concat());
    out
}

#[test]
fn any_change_to_the_implicit_assertion_fails_verification() {
    let local = local_token();
    let public = public_token();
    let tamperings = tamperings_of(IMPLICIT);
    assert_eq!(tamperings.len(), 8 * IMPLICIT.len() + IMPLICIT.len() + 2);
    for implicit in &tamperings {
        assert_err!(
            v4::local::decrypt(&local_key(), &local, None, implicit),
            Error::Verification,
            "local, implicit {implicit:?}"
        );
        assert_err!(
            v4::local::decrypt(&local_key(), &local, Some(FOOTER), implicit),
            Error::Verification,
            "local with footer, implicit {implicit:?}"
        );
        assert_err!(
            v4::public::verify(&public_key(), &public, None, implicit),
            Error::Verification,
            "public, implicit {implicit:?}"
        );
    }
    // An implicit assertion is needed when one was used, and refused when none was.
    let plain = v4::local::encrypt(&local_key(), MESSAGE, b"", b"").unwrap();
    assert_err!(
        v4::local::decrypt(&local_key(), &plain, None, IMPLICIT),
        Error::Verification,
        "implicit where none was used"
    );
    assert_eq!(
        v4::local::decrypt(&local_key(), &plain, None, b"").unwrap(),
        MESSAGE
    );
}

#[test]
fn any_change_to_the_expected_footer_is_a_footer_mismatch() {
    let local = local_token();
    let public = public_token();
    for expected in &tamperings_of(FOOTER) {
        assert_err!(
            v4::local::decrypt(&local_key(), &local, Some(expected), IMPLICIT),
            Error::FooterMismatch,
            "local, expected footer {expected:?}"
        );
        assert_err!(
            v4::public::verify(&public_key(), &public, Some(expected), IMPLICIT),
            Error::FooterMismatch,
            "public, expected footer {expected:?}"
        );
    }
    // A token without a footer matches only an empty expected footer.
    let bare = v4::local::encrypt(&local_key(), MESSAGE, b"", IMPLICIT).unwrap();
    assert_eq!(
        v4::local::decrypt(&local_key(), &bare, Some(b""), IMPLICIT).unwrap(),
        MESSAGE
    );
    assert_err!(
        v4::local::decrypt(&local_key(), &bare, Some(FOOTER), IMPLICIT),
        Error::FooterMismatch,
        "footerless token, footer expected"
    );
    let bare = v4::public::sign(&secret_key(), MESSAGE, b"", IMPLICIT).unwrap();
    assert_eq!(
        v4::public::verify(&public_key(), &bare, Some(b""), IMPLICIT).unwrap(),
        MESSAGE
    );
    assert_err!(
        v4::public::verify(&public_key(), &bare, Some(FOOTER), IMPLICIT),
        Error::FooterMismatch,
        "footerless public token, footer expected"
    );
}

// ---------------------------------------------------------------------------
// Splices: parts of valid tokens recombined.
// ---------------------------------------------------------------------------

#[test]
fn decrypt_rejects_a_body_spliced_with_another_tokens_footer() {
    let a = v4::local::encrypt(&local_key(), b"message A", b"footer A", IMPLICIT).unwrap();
    let b = v4::local::encrypt(&local_key(), b"message B", b"footer B", IMPLICIT).unwrap();
    let (pa, pb) = (parts(&a), parts(&b));
    let a_with_b_footer = format!("{LOCAL}{}.{}", pa.body, pb.footer.unwrap());
    assert_err!(
        decrypt(&a_with_b_footer),
        Error::Verification,
        "A body, B footer"
    );
    // Even when the caller expects exactly the footer that was spliced in.
    assert_err!(
        v4::local::decrypt(&local_key(), &a_with_b_footer, Some(b"footer B"), IMPLICIT),
        Error::Verification,
        "A body, B footer, B footer expected"
    );
    // The footer removed, or added to a token made without one.
    assert_err!(
        decrypt(&format!("{LOCAL}{}", pa.body)),
        Error::Verification,
        "footer removed"
    );
    let bare = v4::local::encrypt(&local_key(), b"message A", b"", IMPLICIT).unwrap();
    assert_err!(
        decrypt(&format!("{bare}.{}", pa.footer.unwrap())),
        Error::Verification,
        "footer added"
    );

    // The nonce of B with the ciphertext and tag of A.
    let (body_a, body_b) = (decode(pa.body).unwrap(), decode(pb.body).unwrap());
    let mixed = [&body_b[..32], &body_a[32..]].concat();
    assert_err!(
        decrypt(&format!("{LOCAL}{}.{}", encode(&mixed), pa.footer.unwrap())),
        Error::Verification,
        "B nonce, A ciphertext and tag"
    );
    // The tag of B on A.
    let mixed = [&body_a[..body_a.len() - 32], &body_b[body_b.len() - 32..]].concat();
    assert_err!(
        decrypt(&format!("{LOCAL}{}.{}", encode(&mixed), pa.footer.unwrap())),
        Error::Verification,
        "A nonce and ciphertext, B tag"
    );
    // Both originals are still fine.
    assert_eq!(decrypt(&a).unwrap(), b"message A");
    assert_eq!(decrypt(&b).unwrap(), b"message B");
}

#[test]
fn verify_rejects_a_body_spliced_with_another_tokens_footer() {
    let a = v4::public::sign(&secret_key(), b"message A", b"footer A", IMPLICIT).unwrap();
    let b = v4::public::sign(&secret_key(), b"message B", b"footer B", IMPLICIT).unwrap();
    let (pa, pb) = (parts(&a), parts(&b));
    let a_with_b_footer = format!("{PUBLIC}{}.{}", pa.body, pb.footer.unwrap());
    assert_err!(
        verify(&a_with_b_footer),
        Error::Verification,
        "A body, B footer"
    );
    assert_err!(
        v4::public::verify(&public_key(), &a_with_b_footer, Some(b"footer B"), IMPLICIT),
        Error::Verification,
        "A body, B footer, B footer expected"
    );
    assert_err!(
        verify(&format!("{PUBLIC}{}", pa.body)),
        Error::Verification,
        "footer removed"
    );

    // The message of A with the signature of B (both 9-byte messages).
    let (body_a, body_b) = (decode(pa.body).unwrap(), decode(pb.body).unwrap());
    let mixed = [&body_a[..9], &body_b[9..]].concat();
    assert_err!(
        verify(&format!(
            "{PUBLIC}{}.{}",
            encode(&mixed),
            pb.footer.unwrap()
        )),
        Error::Verification,
        "A message, B signature"
    );
    assert_eq!(verify(&a).unwrap(), b"message A");
    assert_eq!(verify(&b).unwrap(), b"message B");
}

#[test]
fn a_relabelled_header_is_an_unsupported_header() {
    let local = local_token();
    let public = public_token();
    let (lp, pp) = (parts(&local), parts(&public));
    let local_rest = &local[LOCAL.len()..];
    let public_rest = &public[PUBLIC.len()..];

    for header in [
        PUBLIC,
        "v3.local.",
        "v2.local.",
        "v2.public.",
        "v1.local.",
        "V4.LOCAL.",
        "v4.Local.",
        "v4.local",
        "v4local.",
        "v4.",
        "",
        "k4.local.",
    ] {
        let relabelled = format!("{header}{local_rest}");
        assert_err!(
            decrypt(&relabelled),
            Error::UnsupportedHeader {
                expected: "v4.local."
            },
            "local body under {header:?}"
        );
    }
    for header in [
        LOCAL,
        "v3.public.",
        "v2.public.",
        "v2.local.",
        "V4.PUBLIC.",
        "v4.Public.",
        "v4.public",
        "v4.pub.",
        "",
    ] {
        let relabelled = format!("{header}{public_rest}");
        assert_err!(
            verify(&relabelled),
            Error::UnsupportedHeader {
                expected: "v4.public."
            },
            "public body under {header:?}"
        );
    }

    // A doubled header leaves `v4` as the body and splits the rest into parts.
    assert_err!(
        decrypt(&format!("{LOCAL}{local}")),
        Error::Malformed(MalformedToken::TooManyParts),
        "doubled header"
    );

    // Relabelled to the other purpose, the token is well formed but authentic for
    // nothing: the other operation refuses it as a forgery.
    assert_err!(
        verify(&format!("{PUBLIC}{}.{}", lp.body, lp.footer.unwrap())),
        Error::Verification,
        "local body relabelled public"
    );
    assert_err!(
        decrypt(&format!("{LOCAL}{}.{}", pp.body, pp.footer.unwrap())),
        Error::Verification,
        "public body relabelled local"
    );
}

#[test]
fn a_token_of_the_other_purpose_is_an_unsupported_header_even_with_a_cleared_key() {
    let local = local_token();
    let public = public_token();
    assert_err!(
        decrypt(&public),
        Error::UnsupportedHeader {
            expected: "v4.local."
        },
        "public token to local::decrypt"
    );
    assert_err!(
        verify(&local),
        Error::UnsupportedHeader {
            expected: "v4.public."
        },
        "local token to public::verify"
    );
    // The header is checked before the key is looked at.
    let mut cleared = local_key();
    cleared.clear();
    assert_err!(
        v4::local::decrypt(&cleared, &public, None, IMPLICIT),
        Error::UnsupportedHeader {
            expected: "v4.local."
        },
        "public token to a cleared local key"
    );
    assert_err!(
        local.parse::<v4::UntrustedToken<v4::Public>>(),
        Error::UnsupportedHeader {
            expected: "v4.public."
        },
        "local token parsed as public"
    );
    assert_err!(
        public.parse::<v4::UntrustedToken<v4::Local>>(),
        Error::UnsupportedHeader {
            expected: "v4.local."
        },
        "public token parsed as local"
    );
}

#[test]
fn a_trailing_dot_or_an_extra_part_is_malformed() {
    for (token, open) in [
        (local_token(), decrypt as fn(&str) -> Result<Vec<u8>, Error>),
        (public_token(), verify),
    ] {
        let p = parts(&token);
        let without_footer = format!("{}{}", p.header, p.body);
        assert_err!(
            open(&format!("{without_footer}.")),
            Error::Malformed(MalformedToken::EmptyFooter),
            "trailing dot, no footer"
        );
        assert_err!(
            open(&format!("{token}.")),
            Error::Malformed(MalformedToken::TooManyParts),
            "trailing dot after the footer"
        );
        assert_err!(
            open(&format!("{token}.Zm9v")),
            Error::Malformed(MalformedToken::TooManyParts),
            "extra part"
        );
        assert_err!(
            open(&format!("{without_footer}..")),
            Error::Malformed(MalformedToken::TooManyParts),
            "two trailing dots"
        );
        assert_err!(
            open(&format!("{without_footer}.{}.", p.footer.unwrap())),
            Error::Malformed(MalformedToken::TooManyParts),
            "footer then trailing dot"
        );
        assert_err!(
            open(&format!("{}.{}.{}", p.header, p.body, p.footer.unwrap())),
            Error::Malformed(MalformedToken::TooManyParts),
            "empty part after the header"
        );
        // With nothing after the body, the body is read as the footer of an empty body.
        assert_err!(
            open(&format!("{}.{}", p.header, p.body)),
            Error::Malformed(MalformedToken::BodyTooShort { minimum: MIN_BODY }),
            "empty body, body as footer"
        );
    }
}

#[test]
fn padding_on_the_body_or_footer_is_malformed_base64() {
    let bare = v4::local::encrypt(&local_key(), MESSAGE, b"", IMPLICIT).unwrap();
    let bare_public = v4::public::sign(&secret_key(), MESSAGE, b"", IMPLICIT).unwrap();
    for pad in ["=", "==", "==="] {
        assert_err!(
            decrypt(&format!("{bare}{pad}")),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "local body + {pad:?}"
        );
        assert_err!(
            verify(&format!("{bare_public}{pad}")),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "public body + {pad:?}"
        );
        for (token, open) in [
            (local_token(), decrypt as fn(&str) -> Result<Vec<u8>, Error>),
            (public_token(), verify),
        ] {
            let p = parts(&token);
            let footer = p.footer.unwrap();
            assert_err!(
                open(&format!("{}{}{pad}.{footer}", p.header, p.body)),
                Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
                "body + {pad:?} before the footer"
            );
            assert_err!(
                open(&format!("{token}{pad}")),
                Error::Malformed(MalformedToken::Base64(TokenPart::Footer)),
                "footer + {pad:?}"
            );
        }
    }
}

#[test]
fn whitespace_anywhere_in_a_token_is_refused_with_the_right_error() {
    for (token, header, open) in [
        (
            local_token(),
            LOCAL,
            decrypt as fn(&str) -> Result<Vec<u8>, Error>,
        ),
        (public_token(), PUBLIC, verify),
    ] {
        let p = parts(&token);
        let body_start = p.header.len();
        let separator = body_start + p.body.len();
        let bare = &token[..separator];
        for ws in [" ", "\n", "\t", "\r\n", "\r"] {
            // Leading whitespace: the token no longer starts with the header.
            assert_err!(
                open(&format!("{ws}{token}")),
                Error::UnsupportedHeader { expected } if expected == header,
                "leading {ws:?}"
            );
            assert_err!(
                open(&insert_at(&token, 2, ws)),
                Error::UnsupportedHeader { expected } if expected == header,
                "{ws:?} inside the header"
            );
            for at in [body_start, body_start + 1, body_start + 40, separator] {
                assert_err!(
                    open(&insert_at(&token, at, ws)),
                    Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
                    "{ws:?} in the body at {at}"
                );
            }
            for at in [separator + 1, separator + 3, token.len()] {
                assert_err!(
                    open(&insert_at(&token, at, ws)),
                    Error::Malformed(MalformedToken::Base64(TokenPart::Footer)),
                    "{ws:?} in the footer at {at}"
                );
            }
            // A token without a footer: trailing whitespace is in the body.
            assert_err!(
                open(&format!("{bare}{ws}")),
                Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
                "trailing {ws:?} without footer"
            );
        }
    }
}

#[test]
fn the_standard_base64_alphabet_is_refused() {
    // A footer that encodes to `-_-_-_-_`, and a local token whose body has both
    // URL-only characters (a few tries at most: each is missing from a random
    // 152-character body with probability about 0.09).
    let footer = [0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf];
    assert_eq!(encode(&footer), "-_-_-_-_");
    let local = (0..100)
        .map(|_| v4::local::encrypt(&local_key(), MESSAGE, &footer, IMPLICIT).unwrap())
        .find(|t| parts(t).body.contains('-') && parts(t).body.contains('_'))
        .unwrap();
    // A public body starts with the message, which is in clear.
    let public = v4::public::sign(&secret_key(), &footer, &footer, IMPLICIT).unwrap();
    assert!(parts(&public).body.starts_with("-_-_-_-_"));

    for (token, open) in [
        (local, decrypt as fn(&str) -> Result<Vec<u8>, Error>),
        (public, verify),
    ] {
        assert!(!open(&token).unwrap().is_empty());
        let p = parts(&token);
        let body_start = p.header.len();
        let footer_start = body_start + p.body.len() + 1;
        let mut checked = 0;
        for (from, to) in [('-', "+"), ('_', "/")] {
            let at = body_start + p.body.find(from).unwrap();
            assert_err!(
                open(&replace_at(&token, at, to)),
                Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
                "{from:?} → {to:?} in the body"
            );
            let at = footer_start + p.footer.unwrap().find(from).unwrap();
            assert_err!(
                open(&replace_at(&token, at, to)),
                Error::Malformed(MalformedToken::Base64(TokenPart::Footer)),
                "{from:?} → {to:?} in the footer"
            );
            checked += 2;
        }
        // The whole token translated to the standard alphabet.
        let standard: String = token
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        assert_err!(
            open(&standard),
            Error::Malformed(MalformedToken::Base64(_)),
            "whole token in the standard alphabet"
        );
        assert_eq!(checked, 4);
    }
}

#[test]
fn look_alike_unicode_is_refused_without_panicking() {
    for (token, header, open) in [
        (
            local_token(),
            LOCAL,
            decrypt as fn(&str) -> Result<Vec<u8>, Error>,
        ),
        (public_token(), PUBLIC, verify),
    ] {
        let p = parts(&token);
        let body_start = p.header.len();
        let separator = body_start + p.body.len();
        let rest = &token[body_start..];

        // Headers that only look right.
        let mut fakes = vec![
            // Cyrillic es, in both "local" and "public".
            header.replacen('c', "\u{441}", 1),
            header.replacen('v', "\u{ff56}", 1),
            header.replacen('.', "\u{ff0e}", 1),
            insert_at(header, 2, "\u{200b}"),
            format!("\u{feff}{header}"),
        ];
        if header.contains('o') {
            // Cyrillic o.
            fakes.push(header.replacen('o', "\u{43e}", 1));
        }
        for fake in fakes {
            assert_ne!(fake, header);
            assert_err!(
                open(&format!("{fake}{rest}")),
                Error::UnsupportedHeader { expected } if expected == header,
                "header {fake:?}"
            );
        }

        // Fullwidth look-alikes and a zero-width space in the body.
        for at in [body_start, body_start + 17, separator - 1] {
            let c = char::from(token.as_bytes()[at]);
            assert_err!(
                open(&replace_at(&token, at, &fullwidth(c).to_string())),
                Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
                "fullwidth {c:?} in the body at {at}"
            );
        }
        for at in [body_start, body_start + 5, separator] {
            assert_err!(
                open(&insert_at(&token, at, "\u{200b}")),
                Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
                "zero-width space in the body at {at}"
            );
        }
        // The same in the footer.
        for at in [separator + 1, token.len() - 1] {
            let c = char::from(token.as_bytes()[at]);
            assert_err!(
                open(&replace_at(&token, at, &fullwidth(c).to_string())),
                Error::Malformed(MalformedToken::Base64(TokenPart::Footer)),
                "fullwidth {c:?} in the footer at {at}"
            );
        }
        for at in [separator + 1, separator + 2, token.len()] {
            assert_err!(
                open(&insert_at(&token, at, "\u{200b}")),
                Error::Malformed(MalformedToken::Base64(TokenPart::Footer)),
                "zero-width space in the footer at {at}"
            );
        }
        // A fullwidth full stop instead of the separator joins body and footer.
        assert_err!(
            open(&replace_at(&token, separator, "\u{ff0e}")),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "fullwidth separator"
        );
        // A combining mark on a body character.
        assert_err!(
            open(&insert_at(&token, body_start + 3, "\u{301}")),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "combining mark in the body"
        );
    }
}

// ---------------------------------------------------------------------------
// Truncation and oversized garbage.
// ---------------------------------------------------------------------------

/// What opening `token[..len]` must give: `Ok(())` where the format is valid (so
/// only the cryptography can refuse it), or the exact format error.
fn expected_for_prefix(token: &str, len: usize) -> Result<(), String> {
    let p = parts(token);
    let header_end = p.header.len();
    let separator = header_end + p.body.len();
    let prefix = &token[..len];
    if len < header_end {
        return Err("UnsupportedHeader".into());
    }
    if len <= separator {
        let body = &prefix[header_end..];
        if body.len() % 4 == 1 {
            return Err("Base64(Body)".into());
        }
        let decoded = body.len() / 4 * 3 + (body.len() % 4).saturating_sub(1);
        if decoded < MIN_BODY {
            return Err("BodyTooShort".into());
        }
        return decode(body).map(drop).ok_or_else(|| "Base64(Body)".into());
    }
    if len == separator + 1 {
        return Err("EmptyFooter".into());
    }
    decode(&prefix[separator + 1..])
        .map(drop)
        .ok_or_else(|| "Base64(Footer)".into())
}

fn describe(err: &Error) -> &'static str {
    match err {
        Error::UnsupportedHeader { .. } => "UnsupportedHeader",
        Error::Malformed(MalformedToken::Base64(TokenPart::Body)) => "Base64(Body)",
        Error::Malformed(MalformedToken::Base64(TokenPart::Footer)) => "Base64(Footer)",
        Error::Malformed(MalformedToken::BodyTooShort { minimum: MIN_BODY }) => "BodyTooShort",
        Error::Malformed(MalformedToken::EmptyFooter) => "EmptyFooter",
        Error::Malformed(MalformedToken::TooManyParts) => "TooManyParts",
        Error::Verification => "Verification",
        _ => "other",
    }
}

fn assert_every_truncation_is_refused<P: v4::Purpose>(
    token: &str,
    open: impl Fn(&str) -> Result<Vec<u8>, Error>,
) {
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for len in 0..token.len() {
        let prefix = &token[..len];
        let expected = expected_for_prefix(token, len);
        let opened = open(prefix);
        let parsed = v4::UntrustedToken::<P>::parse(prefix);
        match &expected {
            // Well formed, so the format checks pass and only the MAC or signature
            // can refuse it.
            Ok(()) => {
                assert_err!(opened, Error::Verification, "prefix {len}: {prefix:?}");
                assert!(parsed.is_ok(), "prefix {len}: {parsed:?}");
                *by_kind.entry("Verification").or_default() += 1;
            }
            Err(kind) => {
                let err = opened.unwrap_err();
                assert_eq!(describe(&err), kind, "prefix {len}: {prefix:?}: {err:?}");
                // Untrusted parsing refuses it with the same error.
                let parse_err = parsed.unwrap_err();
                assert_eq!(format!("{parse_err:?}"), format!("{err:?}"), "prefix {len}");
                *by_kind.entry(describe(&err)).or_default() += 1;
            }
        }
    }
    // Every kind of refusal was reached.
    for kind in [
        "UnsupportedHeader",
        "BodyTooShort",
        "Base64(Body)",
        "Verification",
        "EmptyFooter",
        "Base64(Footer)",
    ] {
        assert!(by_kind.contains_key(kind), "{kind} never seen: {by_kind:?}");
    }
    assert_eq!(by_kind.values().sum::<usize>(), token.len());
    // The whole token is still accepted.
    assert_eq!(open(token).unwrap(), MESSAGE);
}

#[test]
fn decrypt_rejects_every_truncation_with_the_exact_error() {
    let token = local_token();
    assert_every_truncation_is_refused::<v4::Local>(&token, decrypt);
}

#[test]
fn verify_rejects_every_truncation_with_the_exact_error() {
    let token = public_token();
    assert_every_truncation_is_refused::<v4::Public>(&token, verify);
}

#[test]
fn dropping_leading_characters_breaks_the_header() {
    for (token, header, open) in [
        (
            local_token(),
            LOCAL,
            decrypt as fn(&str) -> Result<Vec<u8>, Error>,
        ),
        (public_token(), PUBLIC, verify),
    ] {
        for start in 1..=token.len() {
            assert_err!(
                open(&token[start..]),
                Error::UnsupportedHeader { expected } if expected == header,
                "token without its first {start} characters"
            );
        }
    }
}

#[test]
fn short_and_degenerate_inputs_get_exact_errors() {
    let short = Error::Malformed(MalformedToken::BodyTooShort { minimum: MIN_BODY });
    let short = format!("{short:?}");
    for (header, open) in [
        (LOCAL, decrypt as fn(&str) -> Result<Vec<u8>, Error>),
        (PUBLIC, verify),
    ] {
        assert_eq!(format!("{:?}", open(header).unwrap_err()), short);
        assert_eq!(
            format!(
                "{:?}",
                open(&format!("{header}{}", "A".repeat(84))).unwrap_err()
            ),
            short,
            "63 bytes"
        );
        assert_err!(
            open(&format!("{header}AAAAA")),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "impossible length 5"
        );
        assert_err!(
            open(&format!("{header}{}", "A".repeat(85))),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "impossible length 85"
        );
        // 64 zero bytes: well formed, and refused by the cryptography.
        assert_err!(
            open(&format!("{header}{}", "A".repeat(86))),
            Error::Verification,
            "64 zero bytes"
        );
        assert_err!(
            open(&format!("{header}.")),
            Error::Malformed(MalformedToken::EmptyFooter),
            "header and a dot"
        );
        assert_err!(
            open(""),
            Error::UnsupportedHeader { .. },
            "the empty string"
        );
        assert_err!(open("."), Error::UnsupportedHeader { .. }, "a single dot");
        assert_err!(
            open(&format!("{header}{}.\u{0}", "A".repeat(86))),
            Error::Malformed(MalformedToken::Base64(TokenPart::Footer)),
            "NUL footer"
        );
    }
}

#[test]
fn a_mebibyte_of_garbage_is_refused_quickly() {
    const MIB: usize = 1 << 20;
    let start = Instant::now();
    for (header, open) in [
        (LOCAL, decrypt as fn(&str) -> Result<Vec<u8>, Error>),
        (PUBLIC, verify),
    ] {
        // A mebibyte of zero bytes: well formed, so it reaches the MAC or signature.
        let zeros = format!("{header}{}", "A".repeat(MIB));
        assert_err!(open(&zeros), Error::Verification, "{header} + 1 MiB of 'A'");
        assert_err!(
            open(&format!("{zeros}A")),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "{header} + 1 MiB + 1 of 'A'"
        );
        // A minimal body and a mebibyte of footer.
        let big_footer = format!("{header}{}.{}", "A".repeat(86), "A".repeat(MIB));
        assert_err!(open(&big_footer), Error::Verification, "1 MiB footer");

        let dots = ".".repeat(MIB);
        assert_err!(
            open(&dots),
            Error::UnsupportedHeader { .. },
            "1 MiB of dots"
        );
        assert_err!(
            open(&format!("{header}{dots}")),
            Error::Malformed(MalformedToken::TooManyParts),
            "{header} + 1 MiB of dots"
        );

        let random =
            String::from_utf8_lossy(&pseudo_random_bytes(MIB, 0x9e37_79b9_7f4a_7c15)).into_owned();
        assert!(random.matches('.').count() >= 2);
        assert_err!(
            open(&random),
            Error::UnsupportedHeader { .. },
            "1 MiB of random bytes"
        );
        assert_err!(
            open(&format!("{header}{random}")),
            Error::Malformed(MalformedToken::TooManyParts),
            "{header} + 1 MiB of random bytes"
        );
        let no_dots = random.replace('.', "");
        assert_err!(
            open(&format!("{header}{no_dots}")),
            Error::Malformed(MalformedToken::Base64(TokenPart::Body)),
            "{header} + 1 MiB of random bytes without dots"
        );
    }
    // Format checks only: a mebibyte of well-formed body parses, and its (empty)
    // footer is all it reports.
    let parsed: v4::UntrustedToken<v4::Local> =
        format!("{LOCAL}{}", "A".repeat(MIB)).parse().unwrap();
    assert!(parsed.untrusted_footer().is_empty());
    let elapsed = start.elapsed();
    assert!(elapsed < QUICKLY, "took {elapsed:?}");
}

// ---------------------------------------------------------------------------
// UntrustedToken: the same format checks, and no token text in Debug.
// ---------------------------------------------------------------------------

/// Inputs with exactly one format defect each, built from a valid token with a
/// footer.
fn single_defect_variants(token: &str) -> Vec<(String, String)> {
    let p = parts(token);
    let (header, body, footer) = (p.header, p.body, p.footer.unwrap());
    let other_header = if header == LOCAL { PUBLIC } else { LOCAL };
    let mut plus_body = body.to_owned();
    plus_body.replace_range(0..1, "+");
    let mut slash_footer = footer.to_owned();
    slash_footer.replace_range(0..1, "/");
    let fullwidth_body = replace_at(
        body,
        7,
        &fullwidth(char::from(body.as_bytes()[7])).to_string(),
    );
    let inner_space = insert_at(body, 10, " ");
    let inner_newline = insert_at(footer, 3, "\n");
    [
        ("empty", String::new()),
        ("header only", header.to_owned()),
        ("other purpose", format!("{other_header}{body}.{footer}")),
        ("v3", format!("v3{}", &token[2..])),
        (
            "upper case",
            format!("{}{body}.{footer}", header.to_uppercase()),
        ),
        ("cyrillic es", token.replacen('c', "\u{441}", 1)),
        ("leading space", format!(" {token}")),
        ("leading tab", format!("\t{token}")),
        ("trailing dot", format!("{header}{body}.")),
        ("dot after footer", format!("{token}.")),
        ("extra part", format!("{token}.Zm9v")),
        ("padded body", format!("{header}{body}=.{footer}")),
        ("padded footer", format!("{token}=")),
        ("trailing space", format!("{token} ")),
        ("trailing newline", format!("{token}\n")),
        ("inner space", format!("{header}{inner_space}.{footer}")),
        (
            "newline in footer",
            format!("{header}{body}.{inner_newline}"),
        ),
        ("plus in body", format!("{header}{plus_body}.{footer}")),
        ("slash in footer", format!("{header}{body}.{slash_footer}")),
        (
            "fullwidth in body",
            format!("{header}{fullwidth_body}.{footer}"),
        ),
        (
            "zero-width in footer",
            format!("{header}{body}.\u{200b}{footer}"),
        ),
        ("short body", format!("{header}AAAAAAAA.{footer}")),
        (
            "impossible body length",
            format!(
                "{header}{}.{footer}",
                &body[..body.len() - (body.len() - 1) % 4]
            ),
        ),
        ("one character of body", format!("{header}A.{footer}")),
    ]
    .into_iter()
    .map(|(label, input)| (label.to_owned(), input))
    .collect()
}

fn assert_parse_agrees_with_open<P: v4::Purpose>(
    token: &str,
    open: impl Fn(&str) -> Result<Vec<u8>, Error>,
) {
    let variants = single_defect_variants(token);
    assert_eq!(variants.len(), 24);
    for (label, input) in &variants {
        let opened = open(input);
        let parsed = v4::UntrustedToken::<P>::parse(input);
        let open_err = opened.unwrap_err();
        let parse_err = parsed.unwrap_err();
        assert!(
            !matches!(open_err, Error::Verification | Error::FooterMismatch),
            "{label}: a format defect reached the cryptography: {open_err:?}"
        );
        assert_eq!(
            format!("{parse_err:?}"),
            format!("{open_err:?}"),
            "{label}: {input:?}"
        );
        // `FromStr` is the same parser.
        assert_eq!(
            format!("{:?}", input.parse::<v4::UntrustedToken<P>>().unwrap_err()),
            format!("{open_err:?}"),
            "{label}"
        );
    }
}

#[test]
fn untrusted_parsing_rejects_malformed_local_tokens_with_the_same_errors() {
    assert_parse_agrees_with_open::<v4::Local>(&local_token(), decrypt);
}

#[test]
fn untrusted_parsing_rejects_malformed_public_tokens_with_the_same_errors() {
    assert_parse_agrees_with_open::<v4::Public>(&public_token(), verify);
}

#[test]
fn untrusted_parsing_accepts_a_forgery_that_only_verification_refuses() {
    // A well-formed token with a footer of its own choosing: parsing reports the
    // footer (it checks format only), and decryption refuses the token.
    let token = local_token();
    let p = parts(&token);
    let forged = format!("{LOCAL}{}.{}", p.body, encode(b"{\"kid\":\"attacker\"}"));
    let parsed: v4::UntrustedToken<v4::Local> = forged.parse().unwrap();
    assert_eq!(parsed.untrusted_footer(), b"{\"kid\":\"attacker\"}");
    assert_err!(decrypt(&forged), Error::Verification, "forged footer");
}

#[test]
fn untrusted_token_debug_never_shows_token_or_footer_text() {
    let local = local_token();
    let public = public_token();
    let local_parsed: v4::UntrustedToken<v4::Local> = local.parse().unwrap();
    let public_parsed: v4::UntrustedToken<v4::Public> = public.parse().unwrap();
    assert_eq!(local_parsed.untrusted_footer(), FOOTER);
    assert_eq!(public_parsed.untrusted_footer(), FOOTER);

    for (token, debug) in [
        (
            &local,
            [
                format!("{local_parsed:?}"),
                format!("{local_parsed:#?}"),
                format!(
                    "{:?}",
                    UntrustedFooter::new(local_parsed.untrusted_footer())
                ),
                format!(
                    "{:#?}",
                    UntrustedFooter::new(local_parsed.untrusted_footer())
                ),
            ],
        ),
        (
            &public,
            [
                format!("{public_parsed:?}"),
                format!("{public_parsed:#?}"),
                format!(
                    "{:?}",
                    UntrustedFooter::new(public_parsed.untrusted_footer())
                ),
                format!(
                    "{:#?}",
                    UntrustedFooter::new(public_parsed.untrusted_footer())
                ),
            ],
        ),
    ] {
        let p = parts(token);
        let footer = p.footer.unwrap();
        let needles = [
            &p.body[..12],
            &p.body[p.body.len() / 2..p.body.len() / 2 + 12],
            &p.body[p.body.len() - 12..],
            footer,
            &footer[..8],
            "kid",
            "k1",
            // The footer's bytes in decimal, as a derived Debug of a Vec<u8> shows them.
            "123, 34",
        ];
        for text in &debug {
            assert!(!text.is_empty());
            for needle in needles {
                assert!(!text.contains(needle), "{text:?} contains {needle:?}");
            }
        }
    }
}

#[test]
fn error_messages_never_echo_token_text() {
    let token = local_token();
    let p = parts(&token);
    for (label, input) in single_defect_variants(&token) {
        let err = decrypt(&input).unwrap_err();
        for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
            assert!(!text.contains(&p.body[..12]), "{label}: {text}");
            assert!(!text.contains(&p.footer.unwrap()[..8]), "{label}: {text}");
            assert!(!text.contains("kid"), "{label}: {text}");
        }
    }
}

// ---------------------------------------------------------------------------
// Ephemeral and cleared keys.
// ---------------------------------------------------------------------------

#[test]
fn an_ephemeral_local_key_encrypts_once_then_reports_key_cleared() {
    let key = LocalKey::generate().unwrap().into_ephemeral();
    assert!(key.is_ephemeral() && !key.is_cleared());
    let copy = LocalKey::from_bytes(key.expose_secret_bytes().unwrap().as_bytes()).unwrap();

    let token = v4::local::encrypt(&key, MESSAGE, FOOTER, IMPLICIT).unwrap();
    assert!(key.is_cleared());
    assert_err!(
        v4::local::encrypt(&key, MESSAGE, FOOTER, IMPLICIT),
        Error::KeyCleared,
        "second encryption"
    );
    assert_err!(
        v4::local::decrypt(&key, &token, None, IMPLICIT),
        Error::KeyCleared,
        "decryption after the one use"
    );
    assert_err!(
        key.expose_secret_bytes(),
        Error::KeyCleared,
        "export after use"
    );
    assert_ne!(key, copy);
    // The token it made is good.
    assert_eq!(
        v4::local::decrypt(&copy, &token, Some(FOOTER), IMPLICIT).unwrap(),
        MESSAGE
    );
}

#[test]
fn an_ephemeral_local_key_decrypts_once() {
    let token = local_token();
    let key = local_key().into_ephemeral();
    assert_eq!(
        v4::local::decrypt(&key, &token, Some(FOOTER), IMPLICIT).unwrap(),
        MESSAGE
    );
    assert_err!(
        v4::local::decrypt(&key, &token, Some(FOOTER), IMPLICIT),
        Error::KeyCleared,
        "second decryption"
    );
}

#[test]
fn ephemeral_copy_leaves_the_original_usable() {
    let original = local_key();
    let once = original.ephemeral_copy().unwrap();
    assert!(once.is_ephemeral() && !original.is_ephemeral());
    assert_eq!(once, original);

    let token = v4::local::encrypt(&once, MESSAGE, FOOTER, IMPLICIT).unwrap();
    assert!(once.is_cleared() && !original.is_cleared());
    assert_err!(
        v4::local::encrypt(&once, MESSAGE, FOOTER, IMPLICIT),
        Error::KeyCleared,
        "copy used twice"
    );
    for _ in 0..3 {
        assert_eq!(
            v4::local::decrypt(&original, &token, None, IMPLICIT).unwrap(),
            MESSAGE
        );
    }
    // A second copy works once too, and the original is still persistent.
    let again = original.ephemeral_copy().unwrap();
    assert_eq!(
        v4::local::decrypt(&again, &token, None, IMPLICIT).unwrap(),
        MESSAGE
    );
    assert!(again.is_cleared());
    assert!(!original.is_ephemeral() && !original.is_cleared());

    // A used-up key cannot be copied.
    assert_err!(
        once.ephemeral_copy(),
        Error::KeyCleared,
        "copy of a used key"
    );
}

#[test]
fn an_ephemeral_secret_key_signs_once_and_its_copy_leaves_the_original_usable() {
    let original = secret_key();
    let once = original.ephemeral_copy().unwrap();
    assert!(once.is_ephemeral() && !original.is_ephemeral());
    let token = v4::public::sign(&once, MESSAGE, FOOTER, IMPLICIT).unwrap();
    assert_err!(
        v4::public::sign(&once, MESSAGE, FOOTER, IMPLICIT),
        Error::KeyCleared,
        "copy used twice"
    );
    assert!(once.is_cleared());
    assert_err!(once.expose_seed(), Error::KeyCleared, "seed of a used key");
    // The public key survives, and verifies what the one use signed.
    assert_eq!(once.public_key(), original.public_key());
    assert_eq!(verify(&token).unwrap(), MESSAGE);
    for _ in 0..2 {
        let token = v4::public::sign(&original, MESSAGE, FOOTER, IMPLICIT).unwrap();
        assert_eq!(verify(&token).unwrap(), MESSAGE);
    }

    let converted = secret_key().into_ephemeral();
    v4::public::sign(&converted, MESSAGE, b"", b"").unwrap();
    assert_err!(
        v4::public::sign(&converted, MESSAGE, b"", b""),
        Error::KeyCleared,
        "into_ephemeral used twice"
    );
}

#[test]
fn a_malformed_token_does_not_consume_an_ephemeral_key() {
    let token = local_token();
    let key = local_key().into_ephemeral();
    let mut refused = 0;
    for (label, input) in single_defect_variants(&token) {
        let err = v4::local::decrypt(&key, &input, None, IMPLICIT).unwrap_err();
        assert!(
            matches!(err, Error::Malformed(_) | Error::UnsupportedHeader { .. }),
            "{label}: {err:?}"
        );
        assert!(!key.is_cleared(), "{label} consumed the key");
        refused += 1;
    }
    // Nor does a token of the other purpose, or a footer the caller did not expect.
    assert_err!(
        v4::local::decrypt(&key, &public_token(), None, IMPLICIT),
        Error::UnsupportedHeader { .. },
        "public token"
    );
    assert_err!(
        v4::local::decrypt(&key, &token, Some(b"other footer"), IMPLICIT),
        Error::FooterMismatch,
        "unexpected footer"
    );
    assert!(!key.is_cleared());
    assert_eq!(refused, 24);

    // The key is still good for exactly one real operation.
    assert_eq!(
        v4::local::decrypt(&key, &token, Some(FOOTER), IMPLICIT).unwrap(),
        MESSAGE
    );
    assert_err!(
        v4::local::decrypt(&key, &token, Some(FOOTER), IMPLICIT),
        Error::KeyCleared,
        "after the one use"
    );
}

#[test]
fn a_well_formed_forgery_does_consume_an_ephemeral_key() {
    // A failed MAC check is a token operation with the key: an ephemeral key
    // cannot be used as an oracle for a second guess.
    let token = local_token();
    let p = parts(&token);
    let forged = format!("{LOCAL}{}.{}", p.body, encode(b"forged"));
    let key = local_key().into_ephemeral();
    assert_err!(
        v4::local::decrypt(&key, &forged, None, IMPLICIT),
        Error::Verification,
        "forgery"
    );
    assert!(key.is_cleared());
    assert_err!(
        v4::local::decrypt(&key, &token, None, IMPLICIT),
        Error::KeyCleared,
        "genuine token after the forgery"
    );
}

#[test]
fn a_cleared_key_reports_format_errors_first_then_key_cleared() {
    let token = local_token();
    let mut key = local_key();
    key.clear();
    assert!(key.is_cleared());
    assert_err!(
        v4::local::decrypt(&key, &format!("{token}."), None, IMPLICIT),
        Error::Malformed(MalformedToken::TooManyParts),
        "malformed token, cleared key"
    );
    assert_err!(
        v4::local::decrypt(&key, &token, Some(b"x"), IMPLICIT),
        Error::FooterMismatch,
        "wrong footer, cleared key"
    );
    assert_err!(
        v4::local::decrypt(&key, &token, None, IMPLICIT),
        Error::KeyCleared,
        "valid token, cleared key"
    );
    assert_err!(
        v4::local::encrypt(&key, MESSAGE, b"", b""),
        Error::KeyCleared,
        "encrypt, cleared key"
    );
    let mut secret = secret_key();
    secret.clear();
    assert_err!(
        v4::public::sign(&secret, MESSAGE, b"", b""),
        Error::KeyCleared,
        "sign, cleared key"
    );
}

// ---------------------------------------------------------------------------
// Debug output of secrets.
// ---------------------------------------------------------------------------

/// A recognisable 32-byte pattern.
const PATTERN: [u8; 32] = [
    0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef,
    0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef,
];

/// Every form in which the pattern could leak into text.
fn pattern_forms() -> Vec<String> {
    let hex: String = PATTERN.iter().map(|b| format!("{b:02x}")).collect();
    let base64url = encode(&PATTERN);
    vec![
        "deadbeef".to_owned(),
        "DEADBEEF".to_owned(),
        "de, ad".to_owned(),
        "0xde".to_owned(),
        hex.clone(),
        hex.to_uppercase(),
        base64url[..12].to_owned(),
        base64url.replace('-', "+").replace('_', "/")[..12].to_owned(),
        base64url,
        // Decimal, as a derived Debug of a byte array prints it, flat and pretty.
        "222, 173".to_owned(),
        "222,\n".to_owned(),
        "173,".to_owned(),
    ]
}

fn assert_redacted(label: &str, text: &str, secrets: &[String]) {
    for needle in pattern_forms().iter().chain(secrets) {
        assert!(
            !text.contains(needle.as_str()),
            "{label}: {text:?} contains {needle:?}"
        );
    }
}

#[test]
fn local_key_debug_never_shows_key_material() {
    let key = LocalKey::from_bytes(&PATTERN).unwrap();
    // The pattern really is the key.
    assert_eq!(key.to_hex().unwrap().as_str(), "deadbeef".repeat(8));
    assert_eq!(key.to_base64url().unwrap().as_str(), encode(&PATTERN));
    let hex = key.to_hex().unwrap();
    let base64url = key.to_base64url().unwrap();
    let bytes = key.expose_secret_bytes().unwrap();
    let secrets = [hex.as_str().to_owned(), base64url.as_str().to_owned()];

    let ephemeral = key.ephemeral_copy().unwrap();
    let mut cleared = LocalKey::from_bytes(&PATTERN).unwrap();
    cleared.clear();
    for (label, text) in [
        ("LocalKey", format!("{key:?}")),
        ("LocalKey pretty", format!("{key:#?}")),
        (
            "ephemeral LocalKey",
            format!("{ephemeral:?} {ephemeral:#?}"),
        ),
        ("cleared LocalKey", format!("{cleared:?} {cleared:#?}")),
        ("SecretBytes", format!("{bytes:?}")),
        ("SecretBytes pretty", format!("{bytes:#?}")),
        ("SecretString hex", format!("{hex:?} {hex:#?}")),
        (
            "SecretString base64url",
            format!("{base64url:?} {base64url:#?}"),
        ),
    ] {
        assert!(!text.is_empty());
        assert_redacted(label, &text, &secrets);
    }
    assert!(format!("{ephemeral:?}").contains("ephemeral"));
    assert!(format!("{cleared:?}").contains("cleared"));
}

#[test]
fn secret_key_debug_never_shows_the_seed() {
    let key = SecretKey::from_seed(&PATTERN).unwrap();
    assert_eq!(key.expose_seed().unwrap().as_bytes(), &PATTERN);
    let seed = key.expose_seed().unwrap();
    let pair = key.expose_secret_bytes().unwrap();
    let hex = key.to_hex().unwrap();
    let base64url = key.to_base64url().unwrap();
    let pem = key.to_pkcs8_pem().unwrap();
    assert!(hex.as_str().starts_with("deadbeef"));
    // The PEM body, without its public label lines.
    let pem_body: String = pem
        .as_str()
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let secrets = [
        hex.as_str().to_owned(),
        base64url.as_str().to_owned(),
        base64url.as_str()[..40].to_owned(),
        pem_body[..20].to_owned(),
        pem_body[pem_body.len() - 20..].to_owned(),
    ];

    let ephemeral = key.ephemeral_copy().unwrap();
    for (label, text) in [
        ("SecretKey", format!("{key:?}")),
        ("SecretKey pretty", format!("{key:#?}")),
        (
            "ephemeral SecretKey",
            format!("{ephemeral:?} {ephemeral:#?}"),
        ),
        ("SecretBytes seed", format!("{seed:?} {seed:#?}")),
        ("SecretBytes pair", format!("{pair:?} {pair:#?}")),
        ("SecretString hex", format!("{hex:?} {hex:#?}")),
        (
            "SecretString base64url",
            format!("{base64url:?} {base64url:#?}"),
        ),
        ("SecretString PEM", format!("{pem:?} {pem:#?}")),
    ] {
        assert!(!text.is_empty());
        assert_redacted(label, &text, &secrets);
    }
    // What Debug does show is the public key.
    assert!(format!("{key:?}").contains(&key.public_key().to_hex()));
}

#[test]
fn key_loading_errors_never_show_the_rejected_material() {
    let too_long = [&PATTERN[..], &PATTERN[..1]].concat();
    let bad_hex = format!("{}zz", "deadbeef".repeat(7));
    for err in [
        LocalKey::from_bytes(&too_long).unwrap_err(),
        LocalKey::from_hex(&bad_hex).unwrap_err(),
        LocalKey::from_hex(&"deadbeef".repeat(9)).unwrap_err(),
        LocalKey::from_base64url(&format!("{}=", encode(&PATTERN))).unwrap_err(),
        SecretKey::from_seed(&too_long).unwrap_err(),
        SecretKey::from_hex(&bad_hex).unwrap_err(),
    ] {
        assert!(matches!(err, Error::InvalidKey(_)), "{err:?}");
        let text = format!("{err} {err:?} {err:#?}");
        assert_redacted("key error", &text, &[]);
    }
}
