//! The crate's one public error type, [`Error`], and every detail type it
//! carries: footer, payload, key, PASERK, key ring, context binding and
//! malformed-token errors, and the rule [`Violation`]s of a refused token.
//!
//! Messages name what was wrong (which part, which limit, which key kind, which
//! rule) and never contain key bytes, token text, decrypted data or a configured
//! secret. Every failure of a MAC or a signature is the single variant
//! [`Error::Verification`].
//!
//! This module is the bottom layer: it imports nothing from the rest of the
//! crate. The vocabulary it names ([`KeyKind`], [`PaserkType`]) is defined here,
//! and higher layers add their own methods to it.

use core::fmt;
use std::borrow::Cow;

use time::Duration;

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
    Claims(Violations),
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
    Paserk(#[from] PaserkError),
    /// A key ring operation was refused (unknown key, retiring too early, an
    /// invalid stored ring).
    #[error("key ring: {0}")]
    KeyRing(#[from] KeyRingError),
    /// A published key set was refused (see `keyring::KeySet::parse`, with
    /// the `serde` feature): the field at fault and what is wrong with it,
    /// never a value.
    #[error(transparent)]
    KeySet(#[from] KeySetError),
    /// A token store could not answer, so the token is neither valid nor
    /// invalid: decoding fails closed. Try again later (an HTTP layer answers
    /// 503).
    #[error("token store unavailable: {0}")]
    Store(#[from] StoreError),
    /// The token is authentic and passed every rule, but the token store says
    /// no: revoked, already used, or its refresh family is gone.
    #[error("token refused: {0}")]
    Denied(Denial),
    /// This service checks a token store, which only the asynchronous decode
    /// can do: a synchronous decode would skip the revocation check.
    #[error("this service checks a token store: use decode_async")]
    StoreNeedsAsync,
    /// The keys a service follows from elsewhere (its
    /// [`RemoteKeys`](crate::service::RemoteKeys), such as a published key
    /// set fetched over HTTP) are too stale to vouch for, or a lookup of the
    /// token's key id could not reach their source: the token is neither valid
    /// nor invalid. Decoding fails closed; try again later (an HTTP layer
    /// answers 503, never "invalid token").
    #[error("the keys this service follows are unavailable")]
    KeysUnavailable,
    /// A context binding could not be built: an empty, invalid or repeated name,
    /// a value or a binding over its limits, or an IP prefix too long.
    #[error("invalid context binding: {0}")]
    Binding(#[from] BindingError),
}

impl Error {
    /// What kind of failure this is, for callers that map errors to responses
    /// (an HTTP layer: 400, 401, 403, 503) without matching every variant or
    /// reading a message.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::ErrorKind;
    /// use vaulttoken::{Claims, Error, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let other = LocalService::builder(LocalKey::generate()?).build();
    /// let token = service.encode(&Claims::builder().build()?)?;
    /// assert_eq!(other.decode(&token).unwrap_err().kind(), ErrorKind::Invalid);
    /// assert_eq!(service.decode("v4.local.@@@").unwrap_err().kind(), ErrorKind::Malformed);
    /// let stale = Claims::builder().issued_at(time::OffsetDateTime::UNIX_EPOCH).build()?;
    /// assert_eq!(service.encode(&stale).unwrap_err().kind(), ErrorKind::Rejected);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Malformed(_)
            | Self::UnsupportedHeader { .. }
            | Self::TokenTooLong { .. }
            | Self::Payload(_)
            | Self::Footer(_) => ErrorKind::Malformed,
            Self::Verification | Self::FooterMismatch => ErrorKind::Invalid,
            Self::Claims(_) => ErrorKind::Rejected,
            Self::UnknownKeyId | Self::WrongKeyType { .. } => ErrorKind::UnknownKey,
            Self::Randomness => ErrorKind::Unavailable,
            Self::KeyCleared
            | Self::InvalidKey(_)
            | Self::NoIssuingKey
            | Self::Paserk(_)
            | Self::KeyRing(_)
            | Self::KeySet(_)
            | Self::StoreNeedsAsync
            | Self::Binding(_) => ErrorKind::Misuse,
            Self::Denied(_) => ErrorKind::Rejected,
            Self::Store(_) | Self::KeysUnavailable => ErrorKind::Unavailable,
        }
    }
}

/// The kind of an [`Error`]: see [`Error::kind`].
///
/// # Examples
///
/// ```
/// use vaulttoken::error::ErrorKind;
///
/// // How an HTTP layer might answer each kind.
/// fn status(kind: ErrorKind) -> u16 {
///     match kind {
///         ErrorKind::Malformed | ErrorKind::Invalid | ErrorKind::UnknownKey => 401,
///         ErrorKind::Rejected => 403,
///         ErrorKind::Unavailable => 503,
///         _ => 500,
///     }
/// }
/// assert_eq!(status(vaulttoken::Error::Verification.kind()), 401);
/// assert_eq!(status(vaulttoken::Error::Randomness.kind()), 503);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The token, or its authenticated content, is not well formed: a bad
    /// header, layout, encoding or length, or a payload or footer that is not
    /// valid claims.
    Malformed,
    /// The token did not authenticate: a wrong key, an altered token, or a
    /// footer other than the one required.
    Invalid,
    /// The token is authentic but broke the rules: expired, not yet valid, for
    /// another audience, and so on ([`Error::Claims`]).
    Rejected,
    /// No key is known for the token's key id, or the id names another kind of
    /// key.
    UnknownKey,
    /// Something the check depends on could not answer (the operating system's
    /// random number generator, a store): neither valid nor invalid, try again.
    Unavailable,
    /// The caller used the API wrongly: a cleared key, a service with no issuing
    /// key, invalid key material or PASERK, a refused key-ring operation, an
    /// invalid context binding.
    Misuse,
}

/// Why a footer was refused. Limits are checked on the raw bytes, before any JSON
/// parser sees them.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
/// use vaulttoken::{Error, error::FooterError};
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
/// use vaulttoken::{Claims, Error, error::PayloadError};
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
    /// Claims could not be deserialized into the requested type. `field` is
    /// where (a path such as `role`, `address.city` or `roles[2]`; empty for
    /// the claims as a whole), `problem` what; the claim's value is never
    /// part of the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::{Mismatch, PayloadError};
    /// use vaulttoken::{Claims, Error};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Session { role: String, tenant: u32 }
    ///
    /// let claims = Claims::builder().claim("role", "admin").claim("tenant", "secret-7").build()?;
    /// let Err(Error::Payload(PayloadError::CustomType { field, problem })) = claims.deserialize::<Session>() else {
    ///     panic!("tenant is a string");
    /// };
    /// assert_eq!((field.as_str(), problem), ("tenant", Mismatch::WrongType));
    /// let message = claims.deserialize::<Session>().unwrap_err().to_string();
    /// assert!(message.contains("`tenant`") && !message.contains("secret-7"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[error("claims do not match the requested type: {}", mismatch_text(field, *problem))]
    CustomType {
        /// Where: the path of the claim that does not fit.
        field: String,
        /// What does not fit.
        problem: Mismatch,
    },
    /// A value given as claims could not be serialized.
    #[error("claims could not be serialized")]
    NotSerializable,
}

/// What does not fit when claims are deserialized into a type of yours
/// ([`PayloadError::CustomType`]).
///
/// # Examples
///
/// ```
/// use vaulttoken::error::Mismatch;
///
/// assert_ne!(Mismatch::Missing, Mismatch::WrongType);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mismatch {
    /// A field the type requires is absent.
    Missing,
    /// A claim has another JSON type than the field's.
    WrongType,
    /// A claim has the right type but a value the field refuses (an unknown
    /// enum variant, a number out of range).
    InvalidValue,
    /// A claim the type does not accept (`deny_unknown_fields`).
    Unknown,
    /// Anything else the type refused.
    Other,
}

/// The text of a [`PayloadError::CustomType`]: names the field, never a value.
fn mismatch_text(field: &str, problem: Mismatch) -> String {
    if field.is_empty() {
        return "the claims as a whole do not fit".to_owned();
    }
    let what = match problem {
        Mismatch::Missing => "is missing",
        Mismatch::WrongType => "has the wrong type",
        Mismatch::InvalidValue => "has a value the type refuses",
        Mismatch::Unknown => "is not a field of the type",
        Mismatch::Other => "does not fit",
    };
    format!("claim `{field}` {what}")
}

/// Why a token was malformed. Found by format checks alone, before any cryptography.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, LocalKey, v4, error::MalformedToken};
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
/// use vaulttoken::error::TokenPart;
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
/// use vaulttoken::error::KeyKind;
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
/// use vaulttoken::{Error, LocalKey, error::KeyError};
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
/// use vaulttoken::error::KeyEncoding;
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

/// Every k4 PASERK type, named by its header.
///
/// # Examples
///
/// ```
/// use vaulttoken::error::PaserkType;
///
/// assert_eq!(PaserkType::SecretWrapPie.header(), "k4.secret-wrap.pie.");
/// assert_eq!(PaserkType::of("k4.pid.abc")?, PaserkType::Pid);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaserkType {
    /// `k4.local.`: a symmetric key in clear.
    Local,
    /// `k4.public.`: an Ed25519 public key.
    Public,
    /// `k4.secret.`: an Ed25519 secret key (seed ‖ public key) in clear.
    Secret,
    /// `k4.lid.`: the id of a local key.
    Lid,
    /// `k4.pid.`: the id of a public key.
    Pid,
    /// `k4.sid.`: the id of a secret key.
    Sid,
    /// `k4.local-wrap.pie.`: a local key wrapped with a local wrapping key.
    LocalWrapPie,
    /// `k4.secret-wrap.pie.`: a secret key wrapped with a local wrapping key.
    SecretWrapPie,
    /// `k4.local-pw.`: a local key wrapped with a password.
    LocalPw,
    /// `k4.secret-pw.`: a secret key wrapped with a password.
    SecretPw,
    /// `k4.seal.`: a local key sealed to a public key.
    Seal,
}

impl PaserkType {
    pub(crate) const ALL: [Self; 11] = [
        Self::Local,
        Self::Public,
        Self::Secret,
        Self::Lid,
        Self::Pid,
        Self::Sid,
        Self::LocalWrapPie,
        Self::SecretWrapPie,
        Self::LocalPw,
        Self::SecretPw,
        Self::Seal,
    ];

    /// The header every string of this type starts with, trailing `.` included.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::error::PaserkType::Lid.header(), "k4.lid.");
    /// ```
    #[must_use]
    pub const fn header(self) -> &'static str {
        match self {
            Self::Local => "k4.local.",
            Self::Public => "k4.public.",
            Self::Secret => "k4.secret.",
            Self::Lid => "k4.lid.",
            Self::Pid => "k4.pid.",
            Self::Sid => "k4.sid.",
            Self::LocalWrapPie => "k4.local-wrap.pie.",
            Self::SecretWrapPie => "k4.secret-wrap.pie.",
            Self::LocalPw => "k4.local-pw.",
            Self::SecretPw => "k4.secret-pw.",
            Self::Seal => "k4.seal.",
        }
    }

    /// Whether strings of this type hold key material in clear (`k4.local.`,
    /// `k4.secret.`), to be stored only where the key itself may live.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::PaserkType;
    ///
    /// assert!(PaserkType::Secret.is_secret());
    /// assert!(!PaserkType::SecretPw.is_secret());
    /// ```
    #[must_use]
    pub const fn is_secret(self) -> bool {
        matches!(self, Self::Local | Self::Secret)
    }
}

impl fmt::Display for PaserkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header().trim_end_matches('.'))
    }
}

/// Why a PASERK string was refused. Never carries the string itself.
///
/// A wrong wrapping key, password or sealing key, or an altered string, is not a
/// `PaserkError` but [`Error::Verification`].
///
/// # Examples
///
/// ```
/// use vaulttoken::error::{PaserkError, PaserkType};
/// use vaulttoken::{Error, LocalKey, SecretKey};
///
/// let public = SecretKey::generate()?.public_key().to_paserk();
/// assert!(matches!(
///     LocalKey::from_paserk(&public),
///     Err(Error::Paserk(PaserkError::WrongType {
///         expected: PaserkType::Local,
///         found: PaserkType::Public,
///     }))
/// ));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaserkError {
    /// The text does not start with a PASERK header (`k<version>.<type>.`).
    #[error("not a PASERK string")]
    NotPaserk,
    /// A PASERK of another version: only `k4` is supported.
    #[error("unsupported PASERK version: only k4 is supported")]
    UnsupportedVersion,
    /// A `k4.` string of a type this crate does not know.
    #[error("unknown k4 PASERK type")]
    UnknownType,
    /// A k4 PASERK of one type where another was required.
    #[error("wrong PASERK type: expected {expected}, found {found}")]
    WrongType {
        /// The type the operation needs.
        expected: PaserkType,
        /// The type the string has.
        found: PaserkType,
    },
    /// The data after the header has the wrong length for its type.
    #[error("PASERK data has the wrong length: expected {expected} characters, found {found}")]
    Length {
        /// The exact number of base64url characters this type has.
        expected: usize,
        /// The number found.
        found: usize,
    },
    /// The data after the header is not canonical unpadded base64url.
    #[error("PASERK data is not canonical unpadded base64url")]
    Encoding,
    /// A password-wrapped key asks for more Argon2 work than the limits allow.
    #[error("password-wrapped key exceeds the {parameter} limit of {limit}")]
    PasswordCostTooHigh {
        /// `memory_bytes`, `iterations` or `parallelism`.
        parameter: &'static str,
        /// The configured limit.
        limit: u64,
    },
    /// Wrapping with an empty password would protect nothing.
    #[error("the password is empty")]
    EmptyPassword,
    /// Argon2 parameters that Argon2id cannot run with (zero iterations, memory
    /// below 8 KiB per lane, memory not a whole number of KiB, and so on).
    #[error("invalid Argon2 parameters: {reason}")]
    InvalidPasswordParams {
        /// What is wrong with them.
        reason: &'static str,
    },
}

/// Why a ring operation was refused.
///
/// # Examples
///
/// ```
/// use vaulttoken::keyring::LocalKeyRing;
/// use vaulttoken::error::KeyRingError;
/// use vaulttoken::{Error, LocalKey};
///
/// let ring = LocalKeyRing::new(time::Duration::hours(1))?;
/// let key = LocalKey::from_bytes(&[1; 32])?;
/// ring.add(LocalKey::from_bytes(&[1; 32])?)?;
/// assert!(matches!(ring.add(key), Err(Error::KeyRing(KeyRingError::DuplicateKey))));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// The ring already holds a key with this id.
    #[error("the ring already holds this key")]
    DuplicateKey,
    /// The ring holds no key with this id.
    #[error("the ring holds no key with this id")]
    NoSuchKey,
    /// The ring already holds [`MAX_KEYS`](crate::keyring::MAX_KEYS) keys.
    #[error("the ring is full ({max} keys)")]
    Full {
        /// The most keys a ring holds.
        max: usize,
    },
    /// The active key cannot be retired by [`KeyRing::retire`](crate::keyring::KeyRing::retire): promote another
    /// key first (or use [`KeyRing::retire_immediately`](crate::keyring::KeyRing::retire_immediately) for a compromised key).
    #[error("the active key cannot be retired; promote another key first")]
    ActiveKey,
    /// The key stopped issuing less than the longest token lifetime ago: tokens it
    /// issued may still be valid.
    #[error("the key issued tokens that may still be valid; retire it in {remaining}")]
    RetiredTooEarly {
        /// How long until the key may be retired.
        remaining: Duration,
    },
    /// [`KeyRing::new`](crate::keyring::KeyRing::new) was given a negative longest token lifetime.
    #[error("the longest token lifetime must not be negative")]
    NegativeLifetime,
    /// A stored ring could not be restored.
    #[error("stored key ring is invalid: {reason}")]
    InvalidDocument {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Why a published key set was refused: the field at fault (such as
/// `version`, or `keys[2].public_key`; at most 32 characters of an unknown
/// field's name) and what is wrong, never a value.
///
/// # Examples
///
/// ```
/// use vaulttoken::error::KeySetError;
///
/// let refused = KeySetError { field: "cache_seconds".into(), problem: "missing" };
/// assert_eq!(refused.to_string(), "key set: `cache_seconds`: missing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key set: `{field}`: {problem}")]
pub struct KeySetError {
    /// The field at fault, as a path into the document.
    pub field: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Why a context binding was refused. Names the binding name where it is
/// valid, never a context value.
///
/// # Examples
///
/// ```
/// use vaulttoken::binding::Binding;
/// use vaulttoken::{Error, error::BindingError};
///
/// let twice = Binding::new().strict("tenant", "acme").strict("tenant", "other");
/// assert!(matches!(
///     twice.implicit_assertion(),
///     Err(Error::Binding(BindingError::DuplicateName { name })) if name == "tenant"
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// A name is the empty string.
    #[error("binding name is empty")]
    EmptyName,
    /// A name is longer than [`MAX_NAME_LEN`](crate::binding::MAX_NAME_LEN).
    #[error("binding name is longer than {max_len} bytes")]
    NameTooLong {
        /// The longest name allowed, in bytes.
        max_len: usize,
    },
    /// A name has a character other than printable ASCII (a space or a control
    /// character included).
    #[error("binding name has a character other than printable ASCII")]
    InvalidName,
    /// Two values have the same name, in either mode. Never resolved by keeping
    /// one of them.
    #[error("binding name `{name}` is given more than once")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A value is longer than [`MAX_VALUE_LEN`](crate::binding::MAX_VALUE_LEN).
    #[error("binding value `{name}` is longer than {max_len} bytes")]
    ValueTooLong {
        /// The value's name.
        name: String,
        /// The longest value allowed, in bytes.
        max_len: usize,
    },
    /// The binding has more than [`MAX_VALUES`](crate::binding::MAX_VALUES) values.
    #[error("binding has more than {max} values")]
    TooManyValues {
        /// The most values a binding holds.
        max: usize,
    },
    /// An IP prefix length is longer than the address.
    #[error("{family} prefix length is longer than {max_len} bits")]
    PrefixTooLong {
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// The address length in bits: 32 or 128.
        max_len: u8,
    },
}

/// Which rule failed: a built-in, or a custom rule by its name. Match on it
/// instead of comparing names. Rule sets run the built-ins in the order of
/// these variants, then custom rules in the order added.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use vaulttoken::error::RuleId;
/// use vaulttoken::rules::{Mode, RuleSet};
/// use vaulttoken::{Claims, Error};
///
/// let expired = Claims::builder().issued_at(time::OffsetDateTime::UNIX_EPOCH).build()?;
/// let Err(Error::Claims(violations)) = RuleSet::default().check(&expired, &Default::default(), Mode::Decode)
/// else {
///     panic!("an old token is refused");
/// };
/// assert!(violations.contains(&RuleId::NotExpired));
/// assert!(matches!(violations.iter().next().map(|v| v.rule_id()), Some(RuleId::NotExpired)));
/// assert_eq!(RuleId::NotExpired.name(), "not-expired");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RuleId {
    /// `issued-in-past`: `iat`, if present, is not in the future.
    IssuedInPast,
    /// `not-before`: `nbf`, if present, has passed.
    NotBefore,
    /// `not-expired`: `exp` is present (unless allowed not to be) and has not
    /// passed.
    NotExpired,
    /// `max-age`: `iat` is no older than the maximum age.
    MaxAge,
    /// `max-validity`: `exp` is no further from now than the maximum validity.
    MaxValidity,
    /// `valid-at`: the token's times are satisfied at a fixed instant.
    ValidAt,
    /// `issued-by`: `iss` is one of the accepted issuers.
    IssuedBy,
    /// `for-audience`: `aud` is one of the accepted audiences, or absent.
    ForAudience,
    /// `subject`: `sub` is the expected subject.
    Subject,
    /// `identified-by`: `jti` is the expected identifier.
    IdentifiedBy,
    /// `required-claims`: every named claim is present.
    RequiredClaims,
    /// A custom rule, by the name it gives itself.
    Custom(Cow<'static, str>),
}

impl RuleId {
    /// The rule's name, as messages show it. Each built-in's name is written here
    /// and nowhere else.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::RuleId;
    ///
    /// assert_eq!(RuleId::NotExpired.name(), "not-expired");
    /// assert_eq!(RuleId::RequiredClaims.name(), "required-claims");
    /// assert_eq!(RuleId::Custom("has-tenant".into()).name(), "has-tenant");
    /// assert_eq!(RuleId::IssuedBy.to_string(), RuleId::IssuedBy.name());
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::IssuedInPast => "issued-in-past",
            Self::NotBefore => "not-before",
            Self::NotExpired => "not-expired",
            Self::MaxAge => "max-age",
            Self::MaxValidity => "max-validity",
            Self::ValidAt => "valid-at",
            Self::IssuedBy => "issued-by",
            Self::ForAudience => "for-audience",
            Self::Subject => "subject",
            Self::IdentifiedBy => "identified-by",
            Self::RequiredClaims => "required-claims",
            Self::Custom(name) => name,
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One rule that failed: which rule, which claim, why, and (only where the rule
/// was configured with one) the expected value. Never a value from the token.
///
/// A custom rule returns `Violation::new(reason)`; the rule set fills in which
/// rule it was, from the rule's own name, so the name is written once.
///
/// # Examples
///
/// ```
/// use vaulttoken::error::{RuleId, Violation};
/// use vaulttoken::rules::{Mode, RuleSet, rule_fn};
/// use vaulttoken::{Claims, Error};
///
/// let rules = RuleSet::default().with_rule(rule_fn("has-tenant", |ctx| {
///     match ctx.claims.custom_str("tenant") {
///         Some(_) => Ok(()),
///         None => Err(Violation::new("must be set").on_claim("tenant")),
///     }
/// }));
/// let claims = Claims::builder().expires_in(time::Duration::hours(1)).build()?;
/// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode)
/// else {
///     panic!("no tenant");
/// };
/// let violation = violations.iter().next().unwrap();
/// assert_eq!(violation.rule_id(), &RuleId::Custom("has-tenant".into()));
/// assert_eq!(violation.to_string(), "rule `has-tenant` failed on `tenant`: must be set");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub(crate) rule: RuleId,
    pub(crate) claim: Option<Cow<'static, str>>,
    pub(crate) reason: Cow<'static, str>,
    pub(crate) expected: Option<String>,
}

impl Violation {
    /// A violation, for `reason`. When a custom rule returns it, the rule set
    /// records the rule's name; until then its rule is an unnamed custom rule.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = vaulttoken::error::Violation::new("why");
    /// assert_eq!(v.reason(), "why");
    /// assert_eq!(v.rule(), "");
    /// ```
    #[must_use]
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::of(RuleId::Custom(Cow::Borrowed("")), reason)
    }

    /// A violation of `rule`, for `reason`.
    pub(crate) fn of(rule: RuleId, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            rule,
            claim: None,
            reason: reason.into(),
            expected: None,
        }
    }

    /// Names the claim the violation is about.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = vaulttoken::error::Violation::new("why").on_claim("sub");
    /// assert_eq!(v.claim(), Some("sub"));
    /// ```
    #[must_use]
    pub fn on_claim(mut self, claim: impl Into<Cow<'static, str>>) -> Self {
        self.claim = Some(claim.into());
        self
    }

    /// Records the value the rule was configured to expect. Never pass a value
    /// taken from the token, or one that is secret.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = vaulttoken::error::Violation::new("why").expecting("api");
    /// assert_eq!(v.expected(), Some("api"));
    /// assert_eq!(v.to_string(), "rule `` failed: why (expected api)");
    /// ```
    #[must_use]
    pub fn expecting(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Which rule failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let claims = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// let rules = RuleSet::default().issued_by("auth.example");
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and no issuer");
    /// };
    /// let ids: Vec<&RuleId> = violations.iter().map(|v| v.rule_id()).collect();
    /// assert_eq!(ids, [&RuleId::NotExpired, &RuleId::IssuedBy]);
    /// // Until a rule set fills it in, a new violation's rule is an unnamed custom rule.
    /// let new = vaulttoken::error::Violation::new("why");
    /// assert_eq!(new.rule_id(), &RuleId::Custom("".into()));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn rule_id(&self) -> &RuleId {
        &self.rule
    }

    /// The rule's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::Violation;
    /// use vaulttoken::rules::{Mode, RuleSet, rule_fn};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let rules = RuleSet::default().with_rule(rule_fn("never", |_| Err(Violation::new("no"))));
    /// let claims = Claims::builder().expires_in(time::Duration::hours(1)).build()?;
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("the rule always fails");
    /// };
    /// assert_eq!(violations.iter().next().map(Violation::rule), Some("never"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn rule(&self) -> &str {
        self.rule.name()
    }

    /// The claim, if the rule is about one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::error::Violation::new("w").claim(), None);
    /// ```
    #[must_use]
    pub fn claim(&self) -> Option<&str> {
        self.claim.as_deref()
    }

    /// Why the rule failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let claims = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// let rules = RuleSet::default().issued_by("auth.example");
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and no issuer");
    /// };
    /// let reasons: Vec<&str> = violations.iter().map(|v| v.reason()).collect();
    /// assert_eq!(reasons, ["token has expired", "is required"]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The configured expected value, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let claims = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// let rules = RuleSet::default().issued_by("auth.example");
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and no issuer");
    /// };
    /// let expected: Vec<Option<&str>> = violations.iter().map(|v| v.expected()).collect();
    /// assert_eq!(expected, [None, Some("`auth.example`")]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn expected(&self) -> Option<&str> {
        self.expected.as_deref()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule `{}` failed", self.rule)?;
        if let Some(claim) = &self.claim {
            write!(f, " on `{claim}`")?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some(expected) = &self.expected {
            write!(f, " (expected {expected})")?;
        }
        Ok(())
    }
}

/// Every rule that failed for one token, in the order the rules ran.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::error::RuleId;
/// use vaulttoken::rules::{Mode, RuleSet};
/// use vaulttoken::{Claims, Error, clock::FixedClock};
///
/// let claims = Claims::builder()
///     .issued_at(datetime!(2020-01-01 0:00 UTC))
///     .expires_in(time::Duration::hours(1))
///     .build()?;
/// let rules = RuleSet::default()
///     .with_clock(FixedClock::new(datetime!(2030-01-01 0:00 UTC)))
///     .issued_by("auth.example");
/// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
///     panic!("expected violations");
/// };
/// let failed: Vec<&str> = violations.iter().map(|v| v.rule()).collect();
/// assert_eq!(failed, ["not-expired", "issued-by"]);
/// assert_eq!(violations.len(), 2);
/// assert!(violations.contains(&RuleId::IssuedBy) && !violations.contains(&RuleId::MaxAge));
/// assert_eq!(
///     violations.to_string(),
///     "rule `not-expired` failed on `exp`: token has expired; \
///      rule `issued-by` failed on `iss`: is required (expected `auth.example`)"
/// );
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(pub(crate) Vec<Violation>);

impl Violations {
    /// The violations, in rule order.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let claims = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// let rules = RuleSet::default().issued_by("auth.example");
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and no issuer");
    /// };
    /// let failed: Vec<&str> = violations.iter().map(|v| v.rule()).collect();
    /// assert_eq!(failed, ["not-expired", "issued-by"]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// How many violations there are (at least one; a rule may report several,
    /// as `required-claims` does for each missing claim).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// // `required-claims` reports each missing claim.
    /// let rules = RuleSet::default().require_claims(["sub", "role"]);
    /// let claims = Claims::builder().expires_in(time::Duration::hours(1)).build()?;
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("both claims are missing");
    /// };
    /// assert_eq!(violations.len(), 2);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a `Violations` value lists at least one failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let claims = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// let rules = RuleSet::default().issued_by("auth.example");
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and no issuer");
    /// };
    /// assert!(!violations.is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `rule` is among the failures.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::error::RuleId;
    /// use vaulttoken::rules::{Mode, RuleSet};
    /// use vaulttoken::{Claims, Error};
    ///
    /// let claims = Claims::builder().expires_at(datetime!(2020-01-01 0:00 UTC)).build()?;
    /// let rules = RuleSet::default().issued_by("auth.example");
    /// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
    ///     panic!("expired, and no issuer");
    /// };
    /// assert!(violations.contains(&RuleId::NotExpired));
    /// assert!(violations.contains(&RuleId::IssuedBy));
    /// assert!(!violations.contains(&RuleId::ForAudience));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn contains(&self, rule: &RuleId) -> bool {
        self.0.iter().any(|v| &v.rule == rule)
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, violation) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_kind() {
        let cases = [
            (
                Error::Malformed(MalformedToken::EmptyFooter),
                ErrorKind::Malformed,
            ),
            (
                Error::UnsupportedHeader {
                    expected: "v4.local.",
                },
                ErrorKind::Malformed,
            ),
            (Error::TokenTooLong { max_len: 1 }, ErrorKind::Malformed),
            (
                Error::Payload(PayloadError::NotAnObject),
                ErrorKind::Malformed,
            ),
            (Error::Footer(FooterError::NotUtf8), ErrorKind::Malformed),
            (Error::Verification, ErrorKind::Invalid),
            (Error::FooterMismatch, ErrorKind::Invalid),
            (
                Error::Claims(Violations(vec![Violation::of(RuleId::NotExpired, "x")])),
                ErrorKind::Rejected,
            ),
            (Error::UnknownKeyId, ErrorKind::UnknownKey),
            (
                Error::WrongKeyType {
                    expected: KeyKind::Local,
                    found: KeyKind::Public,
                },
                ErrorKind::UnknownKey,
            ),
            (Error::Randomness, ErrorKind::Unavailable),
            (Error::KeysUnavailable, ErrorKind::Unavailable),
            (Error::KeyCleared, ErrorKind::Misuse),
            (Error::InvalidKey(KeyError::NotOnCurve), ErrorKind::Misuse),
            (Error::NoIssuingKey, ErrorKind::Misuse),
            (Error::Paserk(PaserkError::Encoding), ErrorKind::Misuse),
            (Error::KeyRing(KeyRingError::ActiveKey), ErrorKind::Misuse),
            (Error::Binding(BindingError::EmptyName), ErrorKind::Misuse),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error:?}");
        }
    }

    #[test]
    fn rule_names_are_distinct_and_custom_rules_keep_theirs() {
        let ids = [
            RuleId::IssuedInPast,
            RuleId::NotBefore,
            RuleId::NotExpired,
            RuleId::MaxAge,
            RuleId::MaxValidity,
            RuleId::ValidAt,
            RuleId::IssuedBy,
            RuleId::ForAudience,
            RuleId::Subject,
            RuleId::IdentifiedBy,
            RuleId::RequiredClaims,
        ];
        let names: std::collections::HashSet<&str> = ids.iter().map(RuleId::name).collect();
        assert_eq!(names.len(), ids.len());
        assert!(names.iter().all(|name| !name.is_empty()));
        assert_eq!(RuleId::Custom("mine".into()).name(), "mine");
        assert_eq!(RuleId::MaxValidity.to_string(), "max-validity");
    }

    #[test]
    fn a_violation_displays_its_rule_claim_reason_and_expected_value() {
        let bare = Violation::of(RuleId::IssuedBy, "does not match");
        assert_eq!(bare.to_string(), "rule `issued-by` failed: does not match");
        let full = bare.on_claim("iss").expecting("`a`");
        assert_eq!(
            full.to_string(),
            "rule `issued-by` failed on `iss`: does not match (expected `a`)"
        );
        assert_eq!(
            (full.rule(), full.claim(), full.reason(), full.expected()),
            ("issued-by", Some("iss"), "does not match", Some("`a`"))
        );
        let two = Violations(vec![
            full.clone(),
            Violation::of(RuleId::Subject, "is required"),
        ]);
        assert_eq!(
            two.to_string(),
            "rule `issued-by` failed on `iss`: does not match (expected `a`); \
             rule `subject` failed: is required"
        );
        assert_eq!((two.len(), two.is_empty()), (2, false));
        assert!(two.contains(&RuleId::Subject) && !two.contains(&RuleId::NotExpired));
    }
}

/// Why a token store could not answer.
///
/// Messages carry a category, never a connection string, a key or a token.
///
/// # Examples
///
/// ```
/// use vaulttoken::Error;
/// use vaulttoken::error::{ErrorKind, StoreError};
///
/// let err = Error::from(StoreError::Full { capacity: 10 });
/// assert_eq!(err.kind(), ErrorKind::Unavailable);
/// assert_eq!(err.to_string(), "token store unavailable: store is full (10 entries)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No answer within the deadline.
    #[error("no answer within {deadline}")]
    Timeout {
        /// The deadline that passed.
        deadline: Duration,
    },
    /// The store could not be reached, or refused the command.
    #[error("store unreachable: {reason}")]
    Unreachable {
        /// What failed, as a category (never a connection string).
        reason: Cow<'static, str>,
    },
    /// A memory store at its hard cap: it refuses a new entry rather than drop
    /// one that has not expired.
    #[error("store is full ({capacity} entries)")]
    Full {
        /// The configured cap.
        capacity: usize,
    },
    /// The store answered something this crate did not write.
    #[error("store answered unexpectedly: {reason}")]
    Protocol {
        /// What was unexpected.
        reason: Cow<'static, str>,
    },
}

/// Why a token store refused an authentic token.
///
/// # Examples
///
/// ```
/// use vaulttoken::Error;
/// use vaulttoken::error::{Denial, ErrorKind};
///
/// let err = Error::Denied(Denial::ReuseDetected);
/// assert_eq!(err.kind(), ErrorKind::Rejected);
/// assert_eq!(err.to_string(), "token refused: refresh token reused: its family is revoked");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// The token id was revoked.
    #[error("token revoked")]
    Revoked,
    /// A single-use token was already spent.
    #[error("token already used")]
    AlreadyUsed,
    /// The subject's tokens issued before a cutoff were revoked ("log out
    /// everywhere"), and this token is one of them.
    #[error("token issued before its subject's cutoff")]
    IssuedBeforeCutoff,
    /// A newer token of the same kind was issued for the same subject.
    #[error("token superseded by a newer one")]
    Superseded,
    /// The token's refresh family was revoked, or is unknown to the store.
    #[error("token family revoked")]
    FamilyRevoked,
    /// An older refresh token was presented again: the family is revoked.
    #[error("refresh token reused: its family is revoked")]
    ReuseDetected,
    /// The refresh family passed its absolute lifetime or its idle timeout.
    #[error("token family expired")]
    FamilyExpired,
    /// The token was issued before the store's state began: the store's data
    /// was lost (or this is its first use), so it cannot vouch for the token
    /// (whether it was revoked or spent). Sign in again.
    #[error("token issued before the store's state began")]
    IssuedBeforeStoreEpoch,
    /// A refresh asked for a scope its family was not granted: a refresh
    /// may narrow the scope, never widen it (RFC 6749 §6). Nothing was
    /// rotated.
    #[error("scope not granted to the token's family")]
    ScopeNotGranted,
}

impl Denial {
    /// A stable, lower-case code for logs and audit events.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::Denial;
    ///
    /// assert_eq!(Denial::AlreadyUsed.code(), "already-used");
    /// ```
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::AlreadyUsed => "already-used",
            Self::IssuedBeforeCutoff => "issued-before-cutoff",
            Self::Superseded => "superseded",
            Self::FamilyRevoked => "family-revoked",
            Self::ReuseDetected => "reuse-detected",
            Self::FamilyExpired => "family-expired",
            Self::IssuedBeforeStoreEpoch => "issued-before-store-epoch",
            Self::ScopeNotGranted => "scope-not-granted",
        }
    }
}
