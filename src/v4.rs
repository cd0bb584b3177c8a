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

use subtle::ConstantTimeEq;

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
        if encoding::decode_base64url(parts.body).is_none() {
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
        match rest.split_once('.') {
            None => Ok(Self {
                body: rest,
                footer: None,
            }),
            Some((_, "")) => Err(MalformedToken::EmptyFooter.into()),
            Some((_, footer)) if footer.contains('.') => Err(MalformedToken::TooManyParts.into()),
            Some((body, footer)) => Ok(Self {
                body,
                footer: Some(footer),
            }),
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
        self.check_body_len::<P>()?;
        encoding::decode_base64url(self.body)
            .ok_or_else(|| MalformedToken::Base64(TokenPart::Body).into())
    }

    /// Decodes the footer; an absent footer is empty.
    pub(crate) fn decode_footer(&self) -> Result<Vec<u8>, Error> {
        self.footer.map_or(Ok(Vec::new()), |footer| {
            encoding::decode_base64url(footer)
                .ok_or_else(|| MalformedToken::Base64(TokenPart::Footer).into())
        })
    }
}

/// Compares the token's footer with the one the caller requires, in constant time.
pub(crate) fn check_expected_footer(footer: &[u8], expected: Option<&[u8]>) -> Result<(), Error> {
    match expected {
        Some(expected) if !bool::from(footer.ct_eq(expected)) => Err(Error::FooterMismatch),
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
