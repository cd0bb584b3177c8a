//! The crate's one public error type and its detail enums.
//!
//! Messages name what was wrong (which part, which limit, which key kind) and never
//! contain key bytes, token text or decrypted data. Every failure of a MAC or a
//! signature is the single variant [`Error::Verification`].

use core::fmt;

/// Everything that can go wrong in vaulttoken.
///
/// The enum is `#[non_exhaustive]`: later layers (claims, rules, footers, key rings)
/// add variants, so match the ones you care about and keep a catch-all arm.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, LocalKey, v4};
///
/// let key = LocalKey::generate()?;
/// let err = v4::local::decrypt(&key, "v4.public.AAAA", None, b"").unwrap_err();
/// assert!(matches!(err, Error::UnsupportedHeader { .. }));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token has the right header but is not well formed; found before any
    /// cryptography.
    #[error("malformed token: {0}")]
    Malformed(#[from] MalformedToken),
    /// The token's version and purpose are not the ones this operation accepts.
    #[error("token version/purpose not accepted: expected a `{expected}` token")]
    UnsupportedHeader {
        /// The header this operation accepts, such as `v4.local.`.
        expected: &'static str,
    },
    /// Wrong key, or an altered body, footer or implicit assertion.
    ///
    /// Deliberately one variant with one message: a caller cannot tell a bad MAC
    /// from a bad signature, or a wrong key from a modified token.
    #[error("invalid token")]
    Verification,
    /// The token's footer is not the footer the caller required.
    #[error("token footer does not match the expected footer")]
    FooterMismatch,
    /// A key of one kind was offered where another kind is required, for example
    /// a `PUBLIC KEY` PEM document where a private key was expected.
    #[error("wrong key type: expected a {expected} key, found a {found} key")]
    WrongKeyType {
        /// The kind of key the operation needs.
        expected: KeyKind,
        /// The kind of key that was offered.
        found: KeyKind,
    },
    /// The key was cleared explicitly, or was ephemeral and has been used once.
    #[error("key has been cleared and can no longer be used")]
    KeyCleared,
    /// Key material could not be loaded: wrong length, bad encoding, or a public
    /// key that is unsafe to verify with.
    #[error("invalid key: {0}")]
    InvalidKey(#[from] KeyError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Randomness,
    /// An authenticated payload, or claims being built, are not valid PASETO claims.
    #[error("invalid claims: {0}")]
    Payload(#[from] PayloadError),
    /// A footer broke a limit or is not a valid footer for the parse mode.
    #[error("invalid footer: {0}")]
    Footer(#[from] FooterError),
    /// An authentic token (or claims about to be issued) broke one or more rules;
    /// every violation is listed.
    #[error("claims rejected: {0}")]
    Claims(crate::rules::Violations),
    /// The token is longer than the service accepts; checked before any decoding.
    #[error("token is longer than {max_len} bytes")]
    TokenTooLong {
        /// The service's maximum token length.
        max_len: usize,
    },
    /// The footer names a key id the key source does not know, or names none where
    /// one is required. Fails closed.
    #[error("no key is known for this token's key id")]
    UnknownKeyId,
    /// The service has no key to issue tokens with (a verification-only service).
    #[error("this service cannot issue tokens: it has no issuing key")]
    NoIssuingKey,
    /// A PASERK string was refused before any cryptography: wrong version or
    /// type, wrong length, bad encoding, or password costs beyond the limits.
    #[error("invalid PASERK: {0}")]
    Paserk(#[from] crate::paserk::PaserkError),
    /// A key ring operation was refused (unknown key, retiring too early, an
    /// invalid stored ring).
    #[error("key ring: {0}")]
    KeyRing(#[from] crate::keyring::KeyRingError),
}

/// Why a footer was refused. Limits are checked on the raw bytes, before any JSON
/// parser sees them.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
/// use vaulttoken::{Error, FooterError};
///
/// let deep = br#"{"a":{"b":{"c":1}}}"#;
/// let err = Footer::parse(deep, FooterMode::Claims, &FooterLimits::default()).unwrap_err();
/// assert!(matches!(err, Error::Footer(FooterError::TooDeep { max_depth: 2 })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FooterError {
    /// The footer is longer than the configured maximum.
    #[error("footer is longer than {max_len} bytes")]
    TooLong {
        /// The configured maximum length in bytes.
        max_len: usize,
    },
    /// JSON nesting is deeper than the configured maximum.
    #[error("footer JSON is nested deeper than {max_depth}")]
    TooDeep {
        /// The configured maximum depth (a flat object is depth 1).
        max_depth: usize,
    },
    /// The JSON has more keys than the configured maximum.
    #[error("footer JSON has more than {max_keys} keys")]
    TooManyKeys {
        /// The configured maximum number of keys, counted at every depth.
        max_keys: usize,
    },
    /// The footer is not UTF-8.
    #[error("footer is not UTF-8")]
    NotUtf8,
    /// Claims mode: the footer is not a JSON object with unique keys.
    #[error("footer is not a JSON object with unique keys")]
    NotJsonObject,
    /// `kid` or `wpk` is not a string.
    #[error("footer claim `{claim}` must be a string")]
    WrongType {
        /// The reserved footer claim.
        claim: &'static str,
    },
    /// A custom footer claim uses a reserved name (`kid`, `wpk`).
    #[error("custom footer claim `{claim}` uses a reserved name")]
    ReservedName {
        /// The reserved name.
        claim: &'static str,
    },
    /// A value given as a custom footer claim could not be serialized.
    #[error("custom footer claim could not be serialized")]
    NotSerializable,
    /// The footer's `kid` differs from the issuing key's id, or a key id would have
    /// to go into a text footer.
    #[error("footer key id conflicts with the issuing key's id")]
    KeyIdConflict,
    /// The footer holds a key in clear (a `local`, `secret` or `public` PASERK of
    /// any version). A footer is readable by anyone, and a key taken from it
    /// would let the token choose its own key.
    #[error("footer {claim} holds a plaintext key")]
    PlaintextKey {
        /// Where: `kid`, `wpk`, `custom` (any other claim) or `text` (a text
        /// footer).
        claim: &'static str,
    },
    /// The footer holds a password-wrapped key (`local-pw` or `secret-pw`, any
    /// version). Its writer chooses the Argon2 cost and anyone can read a footer,
    /// so it could be attacked offline.
    #[error("footer {claim} holds a password-wrapped key")]
    PasswordWrappedKey {
        /// Where: `kid`, `wpk`, `custom` or `text`, as for
        /// [`FooterError::PlaintextKey`].
        claim: &'static str,
    },
    /// `kid` holds a PASERK that is not a key id (`lid`, `pid`, `sid`), or `wpk`
    /// one that is not a wrapped or sealed key (`local-wrap`, `secret-wrap`,
    /// `seal`).
    #[error("footer {claim} holds a PASERK type that does not belong there")]
    MisplacedPaserk {
        /// `kid` or `wpk`.
        claim: &'static str,
    },
}

/// Why a payload or a set of claims is not valid. Names the claim, never its value.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Claims, Error, PayloadError};
///
/// let err = Claims::from_payload(br#"{"a":1,"a":2}"#).unwrap_err();
/// assert!(matches!(err, Error::Payload(PayloadError::DuplicateKey)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload is not UTF-8.
    #[error("payload is not UTF-8")]
    NotUtf8,
    /// The payload is not JSON.
    #[error("payload is not valid JSON (line {line}, column {column})")]
    NotJson {
        /// Line of the first error, from 1.
        line: usize,
        /// Column of the first error, from 1.
        column: usize,
    },
    /// The top level of the payload is not a JSON object.
    #[error("payload is not a JSON object")]
    NotAnObject,
    /// An object in the payload has the same key twice.
    #[error("payload has a duplicate key")]
    DuplicateKey,
    /// A registered claim has the wrong JSON type.
    #[error("claim `{claim}` must be {expected}")]
    WrongType {
        /// The registered claim.
        claim: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A time claim is not an RFC 3339 date-time.
    #[error("claim `{claim}` is not an RFC 3339 date-time")]
    InvalidTime {
        /// The registered claim.
        claim: &'static str,
    },
    /// A time is outside the years 0000 to 9999 that RFC 3339 can express.
    #[error("claim `{claim}` is out of the range RFC 3339 can express")]
    TimeOutOfRange {
        /// The registered claim.
        claim: &'static str,
    },
    /// A custom claim uses a registered claim's name; use the typed setter instead.
    #[error("custom claim `{claim}` uses a registered claim name")]
    ReservedName {
        /// The name that was refused.
        claim: String,
    },
    /// A value given as custom claims could not be turned into a JSON object.
    #[error("custom claims must serialize to a JSON object")]
    CustomNotAnObject,
    /// Custom claims could not be deserialized into the requested type.
    #[error("custom claims do not match the requested type")]
    CustomType,
}

/// Why a token was malformed. Found by format checks alone, before any cryptography.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, LocalKey, MalformedToken, v4};
///
/// let key = LocalKey::generate()?;
/// let err = v4::local::decrypt(&key, "v4.local.AAAA.", None, b"").unwrap_err();
/// assert!(matches!(err, Error::Malformed(MalformedToken::EmptyFooter)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedToken {
    /// The token has more than the three parts `header.body.footer`.
    #[error("too many `.`-separated parts")]
    TooManyParts,
    /// The token ends in `.` with nothing after it.
    #[error("footer section is present but empty")]
    EmptyFooter,
    /// A part is not canonical unpadded base64url.
    #[error("{0} is not canonical unpadded base64url")]
    Base64(TokenPart),
    /// The decoded body is shorter than the smallest possible token of its purpose.
    #[error("body is too short: at least {minimum} bytes are required")]
    BodyTooShort {
        /// The smallest decoded body this purpose allows.
        minimum: usize,
    },
}

/// A part of a token, named in error messages.
///
/// # Examples
///
/// ```
/// use vaulttoken::TokenPart;
///
/// assert_eq!(TokenPart::Footer.to_string(), "footer");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenPart {
    /// The payload part between the header and the footer.
    Body,
    /// The optional part after the second `.`.
    Footer,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Body => "body",
            Self::Footer => "footer",
        })
    }
}

/// The three kinds of v4 key, named in errors.
///
/// # Examples
///
/// ```
/// use vaulttoken::KeyKind;
///
/// assert_eq!(KeyKind::Secret.to_string(), "v4 secret");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// A symmetric key for `v4.local`.
    Local,
    /// An Ed25519 signing key for `v4.public`.
    Secret,
    /// An Ed25519 verifying key for `v4.public`.
    Public,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Local => "v4 local",
            Self::Secret => "v4 secret",
            Self::Public => "v4 public",
        })
    }
}

/// Why key material was refused. Never carries the material itself.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, KeyError, LocalKey};
///
/// let err = LocalKey::from_bytes(&[0u8; 31]).unwrap_err();
/// assert!(matches!(
///     err,
///     Error::InvalidKey(KeyError::Length { expected: 32, found: 31 })
/// ));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The decoded key has the wrong number of bytes.
    #[error("expected {expected} bytes, found {found}")]
    Length {
        /// The length this key type requires.
        expected: usize,
        /// The length that was supplied.
        found: usize,
    },
    /// The text is not valid in the named encoding.
    #[error("not valid {0}")]
    Encoding(KeyEncoding),
    /// The bytes are not the encoding of a point on the Ed25519 curve.
    #[error("public key is not a point on the Ed25519 curve")]
    NotOnCurve,
    /// The public key is a point of small order, which would let forged
    /// signatures verify.
    #[error("public key has small order (weak key)")]
    WeakPublicKey,
    /// The public key is a valid point, but not in its one canonical encoding.
    #[error("public key is not canonically encoded")]
    NonCanonicalPublicKey,
    /// A 64-byte secret key whose second half is not the public key of its first half.
    #[error("the public half of the secret key does not match its seed")]
    KeyPairMismatch,
}

/// A text encoding of key material, named in [`KeyError::Encoding`].
///
/// # Examples
///
/// ```
/// use vaulttoken::KeyEncoding;
///
/// assert_eq!(KeyEncoding::Hex.to_string(), "hex");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyEncoding {
    /// Hexadecimal, upper or lower case.
    Hex,
    /// Unpadded base64url.
    Base64Url,
    /// A PEM document (PKCS#8 or SPKI).
    Pem,
}

impl fmt::Display for KeyEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hex => "hex",
            Self::Base64Url => "unpadded base64url",
            Self::Pem => "PEM",
        })
    }
}
