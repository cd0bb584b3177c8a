//! PASETO version 4 at the protocol level: bytes in, bytes out.
//!
//! - [`local`]: `v4.local`, XChaCha20 with a BLAKE2b MAC (encrypt-then-MAC).
//! - [`public`]: `v4.public`, Ed25519 signatures.
//!
//! Every function checks the header exactly before doing any cryptographic work,
//! takes a key of exactly one type, and binds the footer and the implicit
//! assertion into the MAC or signature.
//!
//! To look at a footer *before* verifying (for example to choose a key by `kid`),
//! parse an [`UntrustedToken`]: its footer is an [`UntrustedFooter`], a type that
//! says so in its name and cannot be mistaken for verified data.
//!
//! # Examples
//!
//! ```
//! use vaulttoken::{LocalKey, v4};
//!
//! let key = LocalKey::generate()?;
//! let token = v4::local::encrypt(&key, b"{\"sub\":\"alice\"}", b"kid-1", b"")?;
//! assert!(token.starts_with("v4.local."));
//!
//! let untrusted: v4::UntrustedToken<v4::Local> = token.parse()?;
//! assert_eq!(untrusted.untrusted_footer().as_untrusted_bytes(), b"kid-1");
//!
//! let message = v4::local::decrypt(&key, &token, Some(b"kid-1"), b"")?;
//! assert_eq!(message, b"{\"sub\":\"alice\"}");
//! # Ok::<(), vaulttoken::Error>(())
//! ```

pub mod local;
pub mod public;

use core::fmt;
use core::marker::PhantomData;
use core::str::FromStr;

use subtle::{Choice, ConstantTimeEq};

use crate::encoding;
use crate::error::{Error, MalformedToken, TokenPart};

mod sealed {
    pub trait Sealed {}
}

/// A token purpose: [`Local`] or [`Public`]. Sealed: no other purpose exists.
pub trait Purpose: sealed::Sealed {
    /// The exact header, `v4.local.` or `v4.public.`.
    const HEADER: &'static str;
    /// The smallest decoded body a token of this purpose can have.
    const MIN_BODY_LEN: usize;
}

/// The `v4.local` purpose: symmetric authenticated encryption.
///
/// # Examples
///
/// ```
/// use vaulttoken::v4::{Local, Purpose};
///
/// assert_eq!(Local::HEADER, "v4.local.");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Local {}

/// The `v4.public` purpose: public-key signatures.
///
/// # Examples
///
/// ```
/// use vaulttoken::v4::{Public, Purpose};
///
/// assert_eq!(Public::HEADER, "v4.public.");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Public {}

impl sealed::Sealed for Local {}
impl sealed::Sealed for Public {}

impl Purpose for Local {
    const HEADER: &'static str = "v4.local.";
    const MIN_BODY_LEN: usize = local::NONCE_LEN + local::TAG_LEN;
}

impl Purpose for Public {
    const HEADER: &'static str = "v4.public.";
    const MIN_BODY_LEN: usize = public::SIGNATURE_LEN;
}

/// A token that has passed format checks only: right header, at most one footer,
/// canonical base64url. Nothing about it is authenticated.
///
/// Use it to read the footer before choosing a key; then pass the token text to
/// [`local::decrypt`] or [`public::verify`]. Its `Debug` shows only the purpose and
/// length, since token strings are bearer credentials.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, v4};
///
/// let err = "v3.local.AAAA".parse::<v4::UntrustedToken<v4::Local>>().unwrap_err();
/// assert!(matches!(err, Error::UnsupportedHeader { expected: "v4.local." }));
/// ```
pub struct UntrustedToken<P: Purpose> {
    len: usize,
    footer: UntrustedFooter,
    purpose: PhantomData<P>,
}

impl<P: Purpose> UntrustedToken<P> {
    /// Checks the header and the format of every part, and decodes the footer.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedHeader`] if the token is not of purpose `P`, and
    /// [`Error::Malformed`] if a part is missing, empty or not canonical base64url,
    /// or the body is too short.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{SecretKey, v4};
    ///
    /// let token = v4::public::sign(&SecretKey::generate()?, b"{}", b"f", b"")?;
    /// let untrusted = v4::UntrustedToken::<v4::Public>::parse(&token)?;
    /// assert_eq!(untrusted.untrusted_footer().as_untrusted_bytes(), b"f");
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn parse(token: &str) -> Result<Self, Error> {
        let parts = TokenParts::split::<P>(token)?;
        parts.check_body_len::<P>()?;
        // The body's characters are checked here too, without keeping the bytes.
        if !encoding::is_public_base64url(parts.body) {
            return Err(MalformedToken::Base64(TokenPart::Body).into());
        }
        Ok(Self {
            len: token.len(),
            footer: UntrustedFooter::new(parts.decode_footer()?),
            purpose: PhantomData,
        })
    }

    /// The footer, decoded but not authenticated.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, v4};
    ///
    /// let token = v4::local::encrypt(&LocalKey::generate()?, b"{}", b"", b"")?;
    /// let untrusted: v4::UntrustedToken<v4::Local> = token.parse()?;
    /// assert!(untrusted.untrusted_footer().is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn untrusted_footer(&self) -> &UntrustedFooter {
        &self.footer
    }
}

impl<P: Purpose> FromStr for UntrustedToken<P> {
    type Err = Error;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        Self::parse(token)
    }
}

impl<P: Purpose> fmt::Debug for UntrustedToken<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntrustedToken")
            .field("purpose", &P::HEADER)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Footer bytes read from a token that has not been verified.
///
/// An attacker chooses these bytes. Use them only to pick a key, never to make a
/// decision that trusts them. There is no way to turn an `UntrustedFooter` into a
/// verified footer; verification returns the footer it authenticated.
///
/// # Examples
///
/// ```
/// use vaulttoken::{LocalKey, v4};
///
/// let token = v4::local::encrypt(&LocalKey::generate()?, b"{}", b"{\"kid\":\"k1\"}", b"")?;
/// let footer = token.parse::<v4::UntrustedToken<v4::Local>>()?.untrusted_footer().clone();
/// assert_eq!(footer.as_untrusted_bytes(), b"{\"kid\":\"k1\"}");
/// assert_eq!(footer.len(), 12);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct UntrustedFooter {
    bytes: Vec<u8>,
}

impl UntrustedFooter {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The raw footer bytes, unauthenticated.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, v4};
    ///
    /// let token = v4::local::encrypt(&LocalKey::generate()?, b"{}", b"abc", b"")?;
    /// let untrusted: v4::UntrustedToken<v4::Local> = token.parse()?;
    /// assert_eq!(untrusted.untrusted_footer().as_untrusted_bytes(), b"abc");
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn as_untrusted_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The footer's length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, v4};
    ///
    /// let token = v4::local::encrypt(&LocalKey::generate()?, b"{}", b"abc", b"")?;
    /// assert_eq!(token.parse::<v4::UntrustedToken<v4::Local>>()?.untrusted_footer().len(), 3);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the token has no footer.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, v4};
    ///
    /// let token = v4::local::encrypt(&LocalKey::generate()?, b"{}", b"", b"")?;
    /// assert!(token.parse::<v4::UntrustedToken<v4::Local>>()?.untrusted_footer().is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for UntrustedFooter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntrustedFooter")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// A token split into its still-encoded parts, after the header check.
pub(crate) struct TokenParts<'a> {
    pub(crate) body: &'a str,
    pub(crate) footer: Option<&'a str>,
}

impl<'a> TokenParts<'a> {
    /// Checks the header exactly and splits off at most one footer.
    pub(crate) fn split<P: Purpose>(token: &'a str) -> Result<Self, Error> {
        let rest = token
            .strip_prefix(P::HEADER)
            .ok_or(Error::UnsupportedHeader {
                expected: P::HEADER,
            })?;
        let Some(dot) = find_dot(rest.as_bytes()) else {
            return Ok(Self {
                body: rest,
                footer: None,
            });
        };
        // `dot` is the index of an ASCII byte, so both halves are valid `str`s.
        let (body, footer) = (&rest[..dot], &rest[dot + 1..]);
        if footer.is_empty() {
            Err(MalformedToken::EmptyFooter.into())
        } else if find_dot(footer.as_bytes()).is_some() {
            Err(MalformedToken::TooManyParts.into())
        } else {
            Ok(Self {
                body,
                footer: Some(footer),
            })
        }
    }

    /// The decoded body length, checked against the purpose's minimum without
    /// decoding anything.
    pub(crate) fn check_body_len<P: Purpose>(&self) -> Result<usize, Error> {
        let len = encoding::base64url_decoded_len(self.body.len())
            .ok_or(MalformedToken::Base64(TokenPart::Body))?;
        if len < P::MIN_BODY_LEN {
            return Err(MalformedToken::BodyTooShort {
                minimum: P::MIN_BODY_LEN,
            }
            .into());
        }
        Ok(len)
    }

    /// Decodes the body, which must be at least the purpose's minimum length.
    pub(crate) fn decode_body<P: Purpose>(&self) -> Result<Vec<u8>, Error> {
        let mut body = vec![0; self.check_body_len::<P>()?];
        decode_part(self.body, &mut body, TokenPart::Body)?;
        Ok(body)
    }

    /// Decodes the footer; an absent footer is empty.
    pub(crate) fn decode_footer(&self) -> Result<Vec<u8>, Error> {
        self.footer.map_or(Ok(Vec::new()), |footer| {
            encoding::decode_public_base64url(footer)
                .ok_or_else(|| MalformedToken::Base64(TokenPart::Footer).into())
        })
    }

    /// Decodes the body and then the footer into one buffer, with the same checks
    /// and errors, in the same order, as [`Self::decode_body`] followed by
    /// [`Self::decode_footer`]. Returns the buffer and the body's length.
    pub(crate) fn decode_body_and_footer<P: Purpose>(&self) -> Result<(Vec<u8>, usize), Error> {
        let body_len = self.check_body_len::<P>()?;
        let footer = self.footer.unwrap_or("");
        // A footer of impossible length is reported after the body is decoded.
        let footer_len = encoding::base64url_decoded_len(footer.len());
        let mut buffer = vec![0; body_len + footer_len.unwrap_or(0)];
        let (body_out, footer_out) = buffer.split_at_mut(body_len);
        decode_part(self.body, body_out, TokenPart::Body)?;
        if footer_len.is_none() {
            return Err(MalformedToken::Base64(TokenPart::Footer).into());
        }
        decode_part(footer, footer_out, TokenPart::Footer)?;
        Ok((buffer, body_len))
    }
}

/// Splits a token and decodes its body and footer into one buffer, for
/// [`local::decrypt`] and [`public::verify`]. Returns the buffer and the body's
/// length, with exactly the result and errors of [`TokenParts::split`] followed
/// by [`TokenParts::decode_body_and_footer`], while reading the body only once.
///
/// The fast path splits at the *last* dot, so only the footer is searched, and
/// lets the body decoder reject any other dot: `.` is not in the alphabet. If
/// the fast path fails for any reason, the strict path runs and reports its own
/// error, so a token with too many parts is still reported as such, before
/// any complaint about its body. If the fast path succeeds, the body had no dot,
/// so the token has at most one and both paths split it the same way.
pub(crate) fn decode_token<P: Purpose>(token: &str) -> Result<(Vec<u8>, usize), Error> {
    let fast = token.strip_prefix(P::HEADER).and_then(|rest| {
        let parts = match rfind_dot(rest.as_bytes()) {
            None => TokenParts {
                body: rest,
                footer: None,
            },
            // An empty footer is an error; leave it to the strict path.
            Some(dot) if dot + 1 == rest.len() => return None,
            // `dot` is the index of an ASCII byte, so both halves are valid `str`s.
            Some(dot) => TokenParts {
                body: &rest[..dot],
                footer: Some(&rest[dot + 1..]),
            },
        };
        parts.decode_body_and_footer::<P>().ok()
    });
    match fast {
        Some(decoded) => Ok(decoded),
        None => TokenParts::split::<P>(token)?.decode_body_and_footer::<P>(),
    }
}

/// Decodes one public part of a token into `out`, which has its decoded length.
fn decode_part(text: &str, out: &mut [u8], part: TokenPart) -> Result<(), Error> {
    if encoding::decode_public_base64url_into(text.as_bytes(), out) {
        Ok(())
    } else {
        Err(MalformedToken::Base64(part).into())
    }
}

/// The index of the first `.` in `bytes`.
///
/// Token text is public, so this may stop at the first dot. It tests 32 bytes at a
/// time in a loop the compiler turns into SIMD compares, which beats the
/// word-at-a-time search behind `str::split_once` on a token's few hundred bytes.
fn find_dot(bytes: &[u8]) -> Option<usize> {
    let (blocks, _) = bytes.as_chunks::<32>();
    let clean = blocks
        .iter()
        .take_while(|block| !block.iter().fold(false, |dot, &b| dot | (b == b'.')))
        .count();
    // The dot, if any, is in the first block not skipped or in the tail.
    let start = clean * 32;
    bytes[start..]
        .iter()
        .position(|&b| b == b'.')
        .map(|i| start + i)
}

/// The index of the last `.` in `bytes`: [`find_dot`] from the other end.
fn rfind_dot(bytes: &[u8]) -> Option<usize> {
    let (_, blocks) = bytes.as_rchunks::<32>();
    let clean = blocks
        .iter()
        .rev()
        .take_while(|block| !block.iter().fold(false, |dot, &b| dot | (b == b'.')))
        .count();
    bytes[..bytes.len() - clean * 32]
        .iter()
        .rposition(|&b| b == b'.')
}

/// Compares the token's footer with the one the caller requires, in constant time.
pub(crate) fn check_expected_footer(footer: &[u8], expected: Option<&[u8]>) -> Result<(), Error> {
    match expected {
        Some(expected) if !bool::from(ct_eq_by_words(footer, expected)) => {
            Err(Error::FooterMismatch)
        }
        _ => Ok(()),
    }
}

/// `subtle`'s slice comparison, eight bytes per `ct_eq` instead of one: constant
/// time for a given length, and, like `subtle`'s, early false for unequal lengths.
fn ct_eq_by_words(a: &[u8], b: &[u8]) -> Choice {
    if a.len() != b.len() {
        return Choice::from(0);
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
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

/// `header || base64url(body) [|| "." || base64url(footer)]`, written into one
/// buffer of exactly the right size.
pub(crate) fn assemble(header: &str, body: &[u8], footer: &[u8]) -> String {
    let footer_len = if footer.is_empty() {
        0
    } else {
        1 + encoding::base64url_len(footer.len())
    };
    let mut out =
        Vec::with_capacity(header.len() + encoding::base64url_len(body.len()) + footer_len);
    out.extend_from_slice(header.as_bytes());
    encoding::push_base64url(&mut out, body);
    if !footer.is_empty() {
        out.push(b'.');
        encoding::push_base64url(&mut out, footer);
    }
    debug_assert_eq!(out.len(), out.capacity());
    // Every byte is ASCII: the header and the base64url alphabet.
    String::from_utf8(out).unwrap_or_else(|_| unreachable!("tokens are ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_local(token: &str) -> Result<TokenParts<'_>, Error> {
        TokenParts::split::<Local>(token)
    }

    #[test]
    fn the_header_must_match_exactly() {
        for token in [
            "",
            "v4",
            "v4.local",
            "v4.public.AAAA",
            "v3.local.AAAA",
            "V4.LOCAL.AAAA",
            " v4.local.AAAA",
            "v4.locaI.AAAA",
            "v4.lоcal.AAAA",
            "v4..local.AAAA",
        ] {
            assert!(
                matches!(
                    split_local(token),
                    Err(Error::UnsupportedHeader {
                        expected: "v4.local."
                    })
                ),
                "{token:?}"
            );
        }
    }

    #[test]
    fn a_trailing_dot_with_no_footer_is_rejected() {
        assert!(matches!(
            split_local("v4.local.AAAA."),
            Err(Error::Malformed(MalformedToken::EmptyFooter))
        ));
    }

    #[test]
    fn more_than_one_footer_is_rejected() {
        assert!(matches!(
            split_local("v4.local.AAAA.BBBB.CCCC"),
            Err(Error::Malformed(MalformedToken::TooManyParts))
        ));
        assert!(matches!(
            split_local("v4.local.AAAA.."),
            Err(Error::Malformed(MalformedToken::TooManyParts))
        ));
    }

    #[test]
    fn body_and_footer_are_split_at_the_first_dot() {
        let parts = split_local("v4.local.AAAA.Zm9v").unwrap();
        assert_eq!(parts.body, "AAAA");
        assert_eq!(parts.footer, Some("Zm9v"));
        assert_eq!(parts.decode_footer().unwrap(), b"foo");
        assert_eq!(split_local("v4.local.AAAA").unwrap().footer, None);
    }

    #[test]
    fn a_short_body_is_rejected_before_decoding() {
        let parts = split_local("v4.local.AAAA").unwrap();
        assert!(matches!(
            parts.check_body_len::<Local>(),
            Err(Error::Malformed(MalformedToken::BodyTooShort {
                minimum: 64
            }))
        ));
        let impossible = split_local("v4.local.AAAAA").unwrap();
        assert!(matches!(
            impossible.check_body_len::<Local>(),
            Err(Error::Malformed(MalformedToken::Base64(TokenPart::Body)))
        ));
    }

    #[test]
    fn a_bad_footer_encoding_names_the_footer() {
        let parts = split_local("v4.local.AAAA.Zm9v=").unwrap();
        assert!(matches!(
            parts.decode_footer(),
            Err(Error::Malformed(MalformedToken::Base64(TokenPart::Footer)))
        ));
    }

    #[test]
    fn expected_footer_must_match_exactly() {
        assert!(check_expected_footer(b"abc", None).is_ok());
        assert!(check_expected_footer(b"abc", Some(b"abc")).is_ok());
        for other in [&b"abd"[..], b"ab", b"abcd", b""] {
            assert!(matches!(
                check_expected_footer(b"abc", Some(other)),
                Err(Error::FooterMismatch)
            ));
        }
    }

    #[test]
    fn find_dot_and_rfind_dot_agree_with_a_plain_search() {
        for len in 0..100 {
            let mut text = vec![b'A'; len];
            assert_eq!(find_dot(&text), None);
            assert_eq!(rfind_dot(&text), None);
            for first in 0..len {
                text[first] = b'.';
                assert_eq!(find_dot(&text), Some(first), "{len} {first}");
                assert_eq!(rfind_dot(&text), Some(first), "{len} {first}");
                for last in [first + 1, first + 31, first + 32, first + 33, len - 1] {
                    if last > first && last < len {
                        let mut two = text.clone();
                        two[last] = b'.';
                        assert_eq!(find_dot(&two), Some(first), "{len} {first} {last}");
                        assert_eq!(rfind_dot(&two), Some(last), "{len} {first} {last}");
                    }
                }
                text[first] = b'A';
            }
        }
    }

    /// `decode_token`'s reference: the strict split, then the decoding.
    fn strict<P: Purpose>(token: &str) -> Result<(Vec<u8>, usize), Error> {
        TokenParts::split::<P>(token)?.decode_body_and_footer::<P>()
    }

    fn assert_same_outcome<P: Purpose>(token: &str) {
        let fast = decode_token::<P>(token);
        let reference = strict::<P>(token);
        assert_eq!(format!("{fast:?}"), format!("{reference:?}"), "{token:?}");
    }

    #[test]
    fn decode_token_matches_split_then_decode_on_every_dot_placement() {
        let body = encoding::encode_base64url(&[0x3c; 70]);
        let footer = encoding::encode_base64url(b"{\"kid\":\"k1\"}");
        let mut tokens = vec![
            format!("v4.local.{body}"),
            format!("v4.local.{body}.{footer}"),
            format!("v4.local.{body}."),
            format!("v4.local.{body}.."),
            format!("v4.local..{body}"),
            format!("v4.local.{body}.{footer}."),
            format!("v4.local.{body}.{footer}.{footer}"),
            format!("v4.local.{body}=.{footer}"),
            format!("v4.local.{body}.{footer}="),
            format!("v4.local.{body}A.{footer}"),
            format!("v4.local.{}.{footer}", &body[..40]),
            format!("v4.local.{}.{footer}.x", &body[..40]),
            format!("v4.public.{body}.{footer}"),
            "v4.local.".to_owned(),
            "v4.local..".to_owned(),
            ".".to_owned(),
            String::new(),
        ];
        // A dot inserted, or a character replaced by one, at every position.
        let valid = format!("v4.local.{body}.{footer}");
        for at in "v4.local.".len()..=valid.len() {
            let mut inserted = valid.clone();
            inserted.insert(at, '.');
            tokens.push(inserted);
            if at < valid.len() {
                let mut replaced = valid.clone().into_bytes();
                replaced[at] = b'.';
                tokens.push(String::from_utf8(replaced).unwrap());
            }
        }
        for token in &tokens {
            assert_same_outcome::<Local>(token);
            assert_same_outcome::<Public>(&token.replacen("v4.local.", "v4.public.", 1));
        }
        assert!(decode_token::<Local>(&valid).is_ok());
    }

    #[test]
    fn ct_eq_by_words_is_plain_equality() {
        let base: Vec<u8> = (0u8..40).collect();
        for len in 0..40 {
            let a = &base[..len];
            assert!(bool::from(ct_eq_by_words(a, a)), "{len}");
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x01;
                assert!(!bool::from(ct_eq_by_words(a, &b)), "{len} {at}");
                b[at] ^= 0x81;
                assert!(!bool::from(ct_eq_by_words(a, &b)), "{len} {at}");
            }
            assert!(!bool::from(ct_eq_by_words(a, &base[..len + 1])));
            assert!(!bool::from(ct_eq_by_words(&base[..len + 1], a)));
        }
    }

    #[test]
    fn assemble_omits_an_empty_footer() {
        assert_eq!(assemble("v4.local.", b"ab", b""), "v4.local.YWI");
        assert_eq!(assemble("v4.local.", b"ab", b"c"), "v4.local.YWI.Yw");
    }

    #[test]
    fn untrusted_debug_shows_no_token_text() {
        let body = "A".repeat(86);
        let token: UntrustedToken<Local> = format!("v4.local.{body}.c2VjcmV0").parse().unwrap();
        let debug = format!("{token:?} {:?}", token.untrusted_footer());
        assert!(!debug.contains("AAAA") && !debug.contains("c2Vj") && !debug.contains("secret"));
        assert!(debug.contains("v4.local."));
    }
}
