//! The wire format of a v4 token, written once: the one parse route that every
//! decode goes through, and the one assembly every encode goes through.
//!
//! `header || base64url(body) [|| "." || base64url(footer)]`. Parsing checks, in
//! order: the header, the layout (at most one footer, never an empty one), the
//! body's length against the purpose's minimum, the body's encoding (decoded in
//! full, so nothing malformed reaches a key provider), and the footer's
//! encoding.

use core::fmt;
use core::marker::PhantomData;
use core::str::FromStr;

use super::Purpose;
use crate::encoding;
use crate::error::{Error, MalformedToken, TokenPart};
use crate::primitives::constant_time_eq_bytes;

/// A token that has passed format checks only: the right header, at most one
/// footer, canonical base64url, a body long enough for its purpose. Nothing about
/// it is authenticated.
///
/// Use it to read the footer before choosing a key; services do this for you
/// (see `untrusted_key_id` on a service). Its `Debug` shows only the purpose and
/// length, since token strings are bearer credentials.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, LocalKey, v4};
///
/// let token = v4::local::encrypt(&LocalKey::generate()?, b"{}", b"kid-1", b"")?;
/// let untrusted: v4::UntrustedToken<v4::Local> = token.parse()?;
/// assert_eq!(untrusted.untrusted_footer(), b"kid-1");
///
/// let err = "v3.local.AAAA".parse::<v4::UntrustedToken<v4::Local>>().unwrap_err();
/// assert!(matches!(err, Error::UnsupportedHeader { expected: "v4.local." }));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub struct UntrustedToken<P: Purpose> {
    /// The decoded body, then the decoded footer, in one allocation.
    buffer: Vec<u8>,
    body_len: usize,
    token_len: usize,
    purpose: PhantomData<P>,
}

impl<P: Purpose> UntrustedToken<P> {
    /// Checks the header and the format of every part, and decodes the body and
    /// the footer.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedHeader`] if the token is not of purpose `P`, and
    /// [`Error::Malformed`] if there is more than one footer, an empty footer, a
    /// part that is not canonical base64url, or a body too short for `P`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, SecretKey, v4, error::MalformedToken};
    ///
    /// let token = v4::public::sign(&SecretKey::generate()?, b"{}", b"f", b"")?;
    /// let untrusted = v4::UntrustedToken::<v4::Public>::parse(&token)?;
    /// assert_eq!(untrusted.untrusted_footer(), b"f");
    ///
    /// let err = v4::UntrustedToken::<v4::Public>::parse(&format!("{token}.Zg")).unwrap_err();
    /// assert!(matches!(err, Error::Malformed(MalformedToken::TooManyParts)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn parse(token: &str) -> Result<Self, Error> {
        let rest = token
            .strip_prefix(P::HEADER)
            .ok_or(Error::UnsupportedHeader {
                expected: P::HEADER,
            })?;
        // Split at the *last* dot, so only the footer is searched on the way in.
        // A dot left in the body is a layout error, reported as such whatever
        // else is wrong with the body.
        let (body, footer) = match rfind_dot(rest.as_bytes()) {
            None => (rest, ""),
            // `dot` is the index of an ASCII byte, so both halves are `str`s.
            Some(dot) => (&rest[..dot], &rest[dot + 1..]),
        };
        let layout = |error: Error| {
            if body.contains('.') {
                Error::from(MalformedToken::TooManyParts)
            } else {
                error
            }
        };
        if footer.is_empty() && body.len() < rest.len() {
            return Err(layout(MalformedToken::EmptyFooter.into()));
        }
        let body_len = decoded_body_len::<P>(body).map_err(layout)?;
        // A footer of impossible length is reported after the body is decoded.
        let footer_len = encoding::base64url_decoded_len(footer.len());
        let mut buffer = vec![0; body_len + footer_len.unwrap_or(0)];
        let (body_out, footer_out) = buffer.split_at_mut(body_len);
        if !encoding::decode_public_base64url_into(body.as_bytes(), body_out) {
            return Err(layout(MalformedToken::Base64(TokenPart::Body).into()));
        }
        if footer_len.is_none()
            || !encoding::decode_public_base64url_into(footer.as_bytes(), footer_out)
        {
            return Err(MalformedToken::Base64(TokenPart::Footer).into());
        }
        Ok(Self {
            buffer,
            body_len,
            token_len: token.len(),
            purpose: PhantomData,
        })
    }

    /// The decoded footer, unauthenticated: an attacker chooses these bytes. Use
    /// them to pick a key, never to make a decision that trusts them. Empty when
    /// the token has no footer.
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
    pub fn untrusted_footer(&self) -> &[u8] {
        &self.buffer[self.body_len..]
    }

    /// The decoded body, unauthenticated.
    pub(crate) fn untrusted_body(&self) -> &[u8] {
        &self.buffer[..self.body_len]
    }

    /// The body and footer as separate borrows, so the footer can pick a key
    /// while the body is authenticated in place.
    pub(crate) fn parts(&mut self) -> ParsedParts<'_, P> {
        let (body, footer) = self.buffer.split_at_mut(self.body_len);
        ParsedParts {
            body,
            footer,
            purpose: PhantomData,
        }
    }

    /// The part of the body at `message`, moved to the front of the buffer, which
    /// is cut to it: the message, without a copy into a new allocation.
    pub(crate) fn into_message(mut self, message: core::ops::Range<usize>) -> Vec<u8> {
        let len = message.len();
        self.buffer.copy_within(message, 0);
        self.buffer.truncate(len);
        self.buffer
    }
}

/// The parts of an [`UntrustedToken`]: a body of the lengths its purpose needs
/// (only a parse makes one) and its footer.
pub(crate) struct ParsedParts<'t, P: Purpose> {
    /// The decoded body.
    pub(crate) body: &'t mut [u8],
    /// The decoded footer.
    pub(crate) footer: &'t [u8],
    purpose: PhantomData<P>,
}

impl<P: Purpose> ParsedParts<'_, P> {
    /// The same parts, borrowed for one operation.
    pub(crate) fn reborrow(&mut self) -> ParsedParts<'_, P> {
        ParsedParts {
            body: self.body,
            footer: self.footer,
            purpose: PhantomData,
        }
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
            .field("len", &self.token_len)
            .finish_non_exhaustive()
    }
}

/// The decoded length of `body`, checked against the purpose's minimum before
/// anything is decoded.
fn decoded_body_len<P: Purpose>(body: &str) -> Result<usize, Error> {
    let len = encoding::base64url_decoded_len(body.len())
        .ok_or(MalformedToken::Base64(TokenPart::Body))?;
    if len < P::MIN_BODY_LEN {
        return Err(MalformedToken::BodyTooShort {
            minimum: P::MIN_BODY_LEN,
        }
        .into());
    }
    Ok(len)
}

/// The index of the last `.` in `bytes`.
///
/// Token text is public, so this may stop at the first dot it finds. It tests 32
/// bytes at a time in a loop the compiler turns into SIMD compares, which beats a
/// byte-at-a-time search on a token's few hundred bytes of body.
///
/// Two mutants here are equivalent, and only slower: `==` → `!=` in the block
/// test (every block then looks dirty, so the plain search covers them all) and
/// `clean * 32` → `clean / 32` (the plain search then covers clean blocks too,
/// which hold no dot). Either way the answer is the last dot.
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
        Some(expected) if !constant_time_eq_bytes(footer, expected) => Err(Error::FooterMismatch),
        _ => Ok(()),
    }
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
        String::with_capacity(header.len() + encoding::base64url_len(body.len()) + footer_len);
    out.push_str(header);
    // Body and footer are sent in clear: the fast encoder, not the constant-time one.
    encoding::push_public_base64url(&mut out, body);
    if !footer.is_empty() {
        out.push('.');
        encoding::push_public_base64url(&mut out, footer);
    }
    debug_assert_eq!(out.len(), out.capacity());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4::{Local, Public};

    fn parse_local(token: &str) -> Result<UntrustedToken<Local>, Error> {
        UntrustedToken::parse(token)
    }

    /// A body of `len` decoded bytes, and its footer, as token text.
    fn token(header: &str, body_len: usize, footer: &[u8]) -> String {
        assemble(header, &vec![0x3c; body_len], footer)
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
                    parse_local(token),
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
        let body = token("v4.local.", 64, b"");
        for text in [
            format!("{body}."),
            "v4.local..".to_owned(),
            "v4.local.AAAA.".into(),
        ] {
            assert!(
                matches!(
                    parse_local(&text),
                    Err(Error::Malformed(MalformedToken::EmptyFooter))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn more_than_one_footer_is_rejected_before_the_body_is_judged() {
        let valid = token("v4.local.", 64, b"f");
        for text in [
            format!("{valid}.Zm9v"),
            format!("{valid}."),
            "v4.local.AAAA.BBBB.CCCC".to_owned(),
            "v4.local.AAAA..".to_owned(),
            "v4.local...".to_owned(),
            // A body too short, and one of impossible length: still a layout error.
            "v4.local.A.B.C".to_owned(),
            "v4.local.AAAAA.B.Zg".to_owned(),
        ] {
            assert!(
                matches!(
                    parse_local(&text),
                    Err(Error::Malformed(MalformedToken::TooManyParts))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn body_and_footer_are_decoded_into_one_buffer() {
        let text = token("v4.local.", 70, b"foo");
        let mut parsed = parse_local(&text).unwrap();
        assert_eq!(parsed.untrusted_footer(), b"foo");
        let parts = parsed.parts();
        assert_eq!(parts.body, &[0x3c; 70][..]);
        assert_eq!(parts.footer, b"foo");
        assert_eq!(parsed.into_message(2..5), [0x3c; 3]);
        let no_footer = parse_local(&token("v4.local.", 64, b"")).unwrap();
        assert!(no_footer.untrusted_footer().is_empty());
    }

    #[test]
    fn into_message_moves_the_range_to_the_front() {
        let body: Vec<u8> = (0..80).collect();
        let text = assemble("v4.local.", &body, b"tail");
        let parsed = parse_local(&text).unwrap();
        assert_eq!(parsed.into_message(32..48), (32..48).collect::<Vec<u8>>());
    }

    #[test]
    fn a_short_body_is_rejected_before_decoding() {
        for (len, purpose_min) in [(63, 64), (0, 64)] {
            let text = format!("v4.local.{}", "A".repeat(encoding::base64url_len(len)));
            assert!(matches!(
                parse_local(&text),
                Err(Error::Malformed(MalformedToken::BodyTooShort { minimum })) if minimum == purpose_min
            ));
        }
        // The body's characters are not even looked at.
        let bad_chars = format!("v4.local.{}", "=".repeat(84));
        assert!(matches!(
            parse_local(&bad_chars),
            Err(Error::Malformed(MalformedToken::BodyTooShort {
                minimum: 64
            }))
        ));
        assert!(parse_local(&token("v4.local.", 64, b"")).is_ok());
        assert!(matches!(
            UntrustedToken::<Public>::parse(&token("v4.public.", 63, b"")),
            Err(Error::Malformed(MalformedToken::BodyTooShort {
                minimum: 64
            }))
        ));
        let impossible = format!("v4.local.{}", "A".repeat(89));
        assert!(matches!(
            parse_local(&impossible),
            Err(Error::Malformed(MalformedToken::Base64(TokenPart::Body)))
        ));
    }

    #[test]
    fn a_bad_character_anywhere_in_the_body_is_refused() {
        let text = token("v4.local.", 70, b"");
        for at in "v4.local.".len()..text.len() {
            for bad in [b'=', b'+', b'/', b' '] {
                let mut corrupted = text.clone().into_bytes();
                corrupted[at] = bad;
                let corrupted = String::from_utf8(corrupted).unwrap();
                assert!(
                    matches!(
                        parse_local(&corrupted),
                        Err(Error::Malformed(MalformedToken::Base64(TokenPart::Body)))
                    ),
                    "{bad} at {at}"
                );
            }
        }
    }

    #[test]
    fn a_bad_footer_encoding_names_the_footer() {
        let body = token("v4.local.", 64, b"");
        for footer in ["Zm9v=", "Zm9vY", "Zm+v", "Z"] {
            assert!(
                matches!(
                    parse_local(&format!("{body}.{footer}")),
                    Err(Error::Malformed(MalformedToken::Base64(TokenPart::Footer)))
                ),
                "{footer}"
            );
        }
        // The body is judged first.
        assert!(matches!(
            parse_local(&format!("{body}=.Zm9v=")),
            Err(Error::Malformed(MalformedToken::Base64(TokenPart::Body)))
        ));
    }

    /// The reference: split at the *first* dot, as the PASETO spec describes,
    /// then the same checks in the same order.
    fn reference<P: Purpose>(token: &str) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let rest = token
            .strip_prefix(P::HEADER)
            .ok_or(Error::UnsupportedHeader {
                expected: P::HEADER,
            })?;
        let (body, footer) = match rest.split_once('.') {
            None => (rest, None),
            Some((_, "")) => return Err(MalformedToken::EmptyFooter.into()),
            Some((_, footer)) if footer.contains('.') => {
                return Err(MalformedToken::TooManyParts.into());
            }
            Some((body, footer)) => (body, Some(footer)),
        };
        decoded_body_len::<P>(body)?;
        let body = encoding::decode_base64url(body)
            .ok_or(Error::from(MalformedToken::Base64(TokenPart::Body)))?;
        let footer = encoding::decode_base64url(footer.unwrap_or(""))
            .ok_or(Error::from(MalformedToken::Base64(TokenPart::Footer)))?;
        Ok((body, footer))
    }

    fn assert_matches_reference<P: Purpose>(token: &str) {
        let ours = UntrustedToken::<P>::parse(token).map(|mut t| {
            let parts = t.parts();
            (parts.body.to_vec(), parts.footer.to_vec())
        });
        let expected = reference::<P>(token);
        assert_eq!(format!("{ours:?}"), format!("{expected:?}"), "{token:?}");
    }

    #[test]
    fn parse_matches_a_first_dot_split_on_every_dot_placement() {
        let body = encoding::encode_base64url(&[0x3c; 70]);
        let footer = encoding::encode_base64url(b"{\"kid\":\"k1\"}");
        let long_body = encoding::encode_base64url(&[0xa5; 200]);
        let mut tokens = vec![
            format!("v4.local.{body}"),
            format!("v4.local.{long_body}"),
            format!("v4.local.{long_body}.{footer}"),
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
        // A dot inserted, or a character replaced by one, at every position, in
        // tokens with short and long (several 32-byte blocks) bodies.
        for valid in [
            format!("v4.local.{body}.{footer}"),
            format!("v4.local.{long_body}"),
        ] {
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
        }
        for token in &tokens {
            assert_matches_reference::<Local>(token);
            assert_matches_reference::<Public>(&token.replacen("v4.local.", "v4.public.", 1));
        }
        assert!(parse_local(&format!("v4.local.{body}.{footer}")).is_ok());
    }

    #[test]
    fn rfind_dot_agrees_with_a_plain_search() {
        for len in 0..100 {
            let mut text = vec![b'A'; len];
            assert_eq!(rfind_dot(&text), None);
            for first in 0..len {
                text[first] = b'.';
                assert_eq!(rfind_dot(&text), Some(first), "{len} {first}");
                for last in [first + 1, first + 31, first + 32, first + 33, len - 1] {
                    if last > first && last < len {
                        let mut two = text.clone();
                        two[last] = b'.';
                        assert_eq!(rfind_dot(&two), Some(last), "{len} {first} {last}");
                    }
                }
                text[first] = b'A';
            }
        }
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
        // A difference only in the last `len % 8` bytes of a longer footer.
        let long = b"{\"kid\":\"k4.lid.0123456789\"}";
        let mut tail = *long;
        tail[long.len() - 2] ^= 1;
        assert!(check_expected_footer(long, Some(long)).is_ok());
        assert!(matches!(
            check_expected_footer(long, Some(&tail)),
            Err(Error::FooterMismatch)
        ));
    }

    #[test]
    fn assemble_omits_an_empty_footer() {
        assert_eq!(assemble("v4.local.", b"ab", b""), "v4.local.YWI");
        assert_eq!(assemble("v4.local.", b"ab", b"c"), "v4.local.YWI.Yw");
    }

    #[test]
    fn untrusted_debug_shows_no_token_text() {
        let body = "A".repeat(86);
        let text = format!("v4.local.{body}.c2VjcmV0");
        let token: UntrustedToken<Local> = text.parse().unwrap();
        let debug = format!("{token:?}");
        assert!(!debug.contains("AAAA") && !debug.contains("c2Vj") && !debug.contains("secret"));
        assert!(debug.contains("v4.local."), "{debug}");
        assert!(debug.contains(&text.len().to_string()), "{debug}");
    }
}
