//! Footers: plain text, or JSON claims with the reserved `kid` and `wpk`.
//!
//! Parsing is bounded: the length limit applies in every mode, and depth and key
//! count are checked on the raw bytes before a JSON parser sees them. A footer
//! read before verification is an [`UntrustedFooter`]: it reads its claims at most
//! once, within the limits of the service that made it, and its accessors say
//! `untrusted`. A footer never turns from untrusted into verified: a service
//! hands out a verified [`Footer`] only after the token is authenticated.
//!
//! # Keys never travel in footers
//!
//! A footer is readable by anyone, so no footer, in any mode, may carry a key in
//! clear (`local`, `secret` or `public` PASERK, any version) or a
//! password-wrapped key (`local-pw`, `secret-pw`: the writer chooses the Argon2
//! cost, so anyone can attack it offline). `kid` may hold only a key id type
//! (`lid`, `pid`, `sid`) and `wpk` only a wrapped or sealed type
//! (`local-wrap`, `secret-wrap`, `seal`). Services check this on decode and
//! before they issue a token.

use core::cell::OnceCell;
use core::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, FooterError};
use crate::json::{self, ShapeError};

/// The reserved footer claim names.
pub const RESERVED_FOOTER_CLAIMS: [&str; 2] = ["kid", "wpk"];

/// Bounds applied to a footer before it is parsed.
///
/// Defaults: 8192 bytes, depth 2 (a flat object is depth 1), 512 keys.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::FooterLimits;
///
/// let limits = FooterLimits::default().max_len(1024).max_depth(1);
/// assert_eq!(limits.len_limit(), 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct FooterLimits {
    max_len: usize,
    max_depth: usize,
    max_keys: usize,
}

impl Default for FooterLimits {
    fn default() -> Self {
        Self {
            max_len: 8192,
            max_depth: 2,
            max_keys: 512,
        }
    }
}

impl FooterLimits {
    /// Sets the maximum footer length in bytes (default 8192), applied in every mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let limits = vaulttoken::footer::FooterLimits::default().max_len(64);
    /// assert_eq!(limits.len_limit(), 64);
    /// ```
    pub const fn max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// Sets the maximum JSON nesting depth (default 2; a flat object is depth 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Error;
    /// use vaulttoken::error::FooterError;
    /// use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
    ///
    /// let nested = br#"{"a":{"b":1}}"#;
    /// Footer::parse(nested, FooterMode::Auto, &FooterLimits::default())?;
    /// let flat_only = FooterLimits::default().max_depth(1);
    /// assert!(matches!(
    ///     Footer::parse(nested, FooterMode::Auto, &flat_only),
    ///     Err(Error::Footer(FooterError::TooDeep { max_depth: 1 }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub const fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the maximum number of JSON keys, counted at every depth (default 512).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Error;
    /// use vaulttoken::error::FooterError;
    /// use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
    ///
    /// let three = br#"{"a":1,"b":2,"c":3}"#;
    /// Footer::parse(three, FooterMode::Auto, &FooterLimits::default().max_keys(3))?;
    /// assert!(matches!(
    ///     Footer::parse(three, FooterMode::Auto, &FooterLimits::default().max_keys(2)),
    ///     Err(Error::Footer(FooterError::TooManyKeys { max_keys: 2 }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub const fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// The maximum footer length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::footer::FooterLimits::default().len_limit(), 8192);
    /// ```
    #[must_use]
    pub const fn len_limit(&self) -> usize {
        self.max_len
    }

    pub(crate) fn check_len(&self, bytes: &[u8]) -> Result<(), FooterError> {
        if bytes.len() > self.max_len {
            return Err(FooterError::TooLong {
                max_len: self.max_len,
            });
        }
        Ok(())
    }

    fn check_shape(&self, bytes: &[u8]) -> Result<(), FooterError> {
        json::check_shape(bytes, self.max_depth, self.max_keys).map_err(|err| match err {
            ShapeError::TooDeep => FooterError::TooDeep {
                max_depth: self.max_depth,
            },
            ShapeError::TooManyKeys => FooterError::TooManyKeys {
                max_keys: self.max_keys,
            },
        })
    }
}

/// How to read a footer.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
///
/// let limits = FooterLimits::default();
/// assert!(matches!(Footer::parse(b"{}", FooterMode::Auto, &limits)?, Footer::Claims(_)));
/// assert!(matches!(Footer::parse(b"{}", FooterMode::Text, &limits)?, Footer::Text(_)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FooterMode {
    /// JSON claims if the footer starts with `{`, otherwise text. The default.
    #[default]
    Auto,
    /// Must be a JSON object.
    Claims,
    /// Never parsed: UTF-8 text.
    Text,
}

/// A footer: authenticated (from a verified token) or about to be sent.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::{Footer, FooterClaims};
///
/// let footer = Footer::Claims(FooterClaims::new().with_key_id("k4.lid.abc"));
/// assert_eq!(footer.to_bytes(), br#"{"kid":"k4.lid.abc"}"#);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Footer {
    /// No footer.
    #[default]
    None,
    /// A plain text footer.
    Text(String),
    /// A JSON-claims footer.
    Claims(FooterClaims),
}

impl fmt::Debug for Footer {
    /// The kind of footer, a text footer's length, and claim names: no values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Text(text) => f.debug_struct("Text").field("len", &text.len()).finish(),
            Self::Claims(claims) => f.debug_tuple("Claims").field(claims).finish(),
        }
    }
}

impl Footer {
    /// Parses footer bytes in `mode`, within `limits`.
    ///
    /// # Errors
    ///
    /// [`Error::Footer`] for a limit exceeded or content that does not fit the mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::{Footer, FooterLimits, FooterMode};
    ///
    /// let f = Footer::parse(br#"{"kid":"k1"}"#, FooterMode::Claims, &FooterLimits::default())?;
    /// let Footer::Claims(claims) = f else { unreachable!() };
    /// assert_eq!(claims.key_id(), Some("k1"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn parse(bytes: &[u8], mode: FooterMode, limits: &FooterLimits) -> Result<Self, Error> {
        Ok(Self::parse_with(bytes, mode, limits, None)?)
    }

    /// [`Footer::parse`], reusing claims already read from the same bytes.
    fn parse_with(
        bytes: &[u8],
        mode: FooterMode,
        limits: &FooterLimits,
        claims: Option<Result<FooterClaims, FooterError>>,
    ) -> Result<Self, FooterError> {
        limits.check_len(bytes)?;
        if bytes.is_empty() {
            return Ok(Self::None);
        }
        if mode.reads_as_claims(bytes) {
            return claims
                .unwrap_or_else(|| FooterClaims::read(bytes, limits))
                .map(Self::Claims);
        }
        let text = core::str::from_utf8(bytes).map_err(|_| FooterError::NotUtf8)?;
        key_policy::check_free_text(text)?;
        Ok(Self::Text(text.to_owned()))
    }

    /// The bytes that go into a token.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::Footer;
    ///
    /// assert_eq!(Footer::Text("hi".into()).to_bytes(), b"hi");
    /// assert!(Footer::None.to_bytes().is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::None => Vec::new(),
            Self::Text(text) => text.as_bytes().to_vec(),
            Self::Claims(claims) => claims.to_json(),
        }
    }
}

/// JSON footer claims: the reserved `kid` (key id) and `wpk` (wrapped key), plus
/// custom claims.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::FooterClaims;
///
/// let claims = FooterClaims::new().with_key_id("k1").with_claim("region", "eu")?;
/// assert_eq!(claims.key_id(), Some("k1"));
/// assert_eq!(claims.custom("region"), Some(&serde_json::json!("eu")));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, PartialEq, Default)]
pub struct FooterClaims {
    key_id: Option<String>,
    wrapped_key: Option<String>,
    custom: Map<String, Value>,
}

impl FooterClaims {
    /// Empty footer claims.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::footer::FooterClaims::new().key_id(), None);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `kid`, the id of the key that made the token.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::footer::FooterClaims::new().with_key_id("k");
    /// assert_eq!(c.key_id(), Some("k"));
    /// ```
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// Sets `wpk`, a wrapped (PASERK) key.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::footer::FooterClaims::new().with_wrapped_key("k4.local-wrap.pie.x");
    /// assert_eq!(c.wrapped_key(), Some("k4.local-wrap.pie.x"));
    /// ```
    #[must_use]
    pub fn with_wrapped_key(mut self, wrapped_key: impl Into<String>) -> Self {
        self.wrapped_key = Some(wrapped_key.into());
        self
    }

    /// Adds a custom claim.
    ///
    /// # Errors
    ///
    /// [`FooterError::ReservedName`] for `kid` or `wpk`, and
    /// [`FooterError::NotSerializable`] if `value` cannot become JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::FooterClaims;
    ///
    /// assert!(FooterClaims::new().with_claim("kid", "x").is_err());
    /// assert!(FooterClaims::new().with_claim("region", "eu").is_ok());
    /// ```
    pub fn with_claim(
        mut self,
        name: impl Into<String>,
        value: impl Serialize,
    ) -> Result<Self, Error> {
        let name = name.into();
        if let Some(reserved) = RESERVED_FOOTER_CLAIMS.iter().find(|r| **r == name) {
            return Err(FooterError::ReservedName { claim: reserved }.into());
        }
        let value = serde_json::to_value(value).map_err(|_| FooterError::NotSerializable)?;
        self.custom.insert(name, value);
        Ok(self)
    }

    /// `kid`, the key id.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::footer::FooterClaims::new().with_key_id("a");
    /// assert_eq!(c.key_id(), Some("a"));
    /// ```
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// `wpk`, the wrapped key.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::footer::FooterClaims::new().wrapped_key(), None);
    /// ```
    #[must_use]
    pub fn wrapped_key(&self) -> Option<&str> {
        self.wrapped_key.as_deref()
    }

    /// A custom claim.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::footer::FooterClaims::new().with_claim("n", 1)?;
    /// assert_eq!(c.custom("n"), Some(&serde_json::json!(1)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom(&self, name: &str) -> Option<&Value> {
        self.custom.get(name)
    }

    /// Reads JSON footer claims within `limits`: the length, then the shape on
    /// the raw bytes, then the parse, then the key policy.
    fn read(bytes: &[u8], limits: &FooterLimits) -> Result<Self, FooterError> {
        limits.check_len(bytes)?;
        let claims = match Self::kid_only(bytes, limits) {
            Some(kid) => Self {
                key_id: Some(kid.to_owned()),
                ..Self::default()
            },
            None => Self::parse_json(bytes, limits)?,
        };
        key_policy::check_claims(&claims)?;
        Ok(claims)
    }

    /// The footer every key-ring token carries, `{"kid":"…"}` exactly, whose
    /// value has no escape, no quote and no control character: read without a
    /// JSON parser, to the same claims the parser reads. Anything else, or
    /// limits that refuse one flat key, is `None` and takes the full path.
    fn kid_only<'a>(bytes: &'a [u8], limits: &FooterLimits) -> Option<&'a str> {
        if limits.max_depth == 0 || limits.max_keys == 0 {
            return None;
        }
        let value = bytes.strip_prefix(br#"{"kid":""#)?.strip_suffix(br#""}"#)?;
        if value.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
            return None;
        }
        core::str::from_utf8(value).ok()
    }

    /// The full path: the shape on the raw bytes, then one strict pass with
    /// `kid` and `wpk` straight out and everything else into the custom map.
    fn parse_json(bytes: &[u8], limits: &FooterLimits) -> Result<Self, FooterError> {
        limits.check_shape(bytes)?;
        let taken = json::parse_object_taking(bytes, RESERVED_FOOTER_CLAIMS)
            .map_err(|_| FooterError::NotJsonObject)?;
        let [key_id, wrapped_key] = taken.reserved;
        let string = |value: Option<json::Reserved<'_>>, claim: &'static str| match value {
            None => Ok(None),
            Some(json::Reserved::Text(text)) => Ok(Some(text.into_owned())),
            Some(json::Reserved::Other) => Err(FooterError::WrongType { claim }),
        };
        Ok(Self {
            key_id: string(key_id, "kid")?,
            wrapped_key: string(wrapped_key, "wpk")?,
            custom: taken.rest,
        })
    }

    fn to_json(&self) -> Vec<u8> {
        let mut object = Map::new();
        if let Some(kid) = &self.key_id {
            object.insert("kid".to_owned(), Value::String(kid.clone()));
        }
        if let Some(wpk) = &self.wrapped_key {
            object.insert("wpk".to_owned(), Value::String(wpk.clone()));
        }
        object.extend(self.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
        serde_json::to_vec(&Value::Object(object))
            .unwrap_or_else(|_| unreachable!("a JSON value always serializes"))
    }
}

impl fmt::Debug for FooterClaims {
    /// Claim names only: values stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reserved = [("kid", &self.key_id), ("wpk", &self.wrapped_key)];
        let names: Vec<&str> = reserved
            .iter()
            .filter(|(_, value)| value.is_some())
            .map(|(name, _)| *name)
            .chain(self.custom.keys().map(String::as_str))
            .collect();
        f.debug_struct("FooterClaims")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

/// Footer claims read from a token that has not been verified. Every accessor
/// says `untrusted`: use the key id to look a key up, and nothing else.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::UntrustedFooter;
///
/// let untrusted = UntrustedFooter::new(br#"{"kid":"k1","region":"eu"}"#);
/// let claims = untrusted.untrusted_claims()?;
/// assert_eq!(claims.untrusted_key_id(), Some("k1"));
/// assert_eq!(format!("{claims:?}"), r#"UntrustedFooterClaims(FooterClaims { names: ["kid", "region"], .. })"#);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UntrustedFooterClaims(FooterClaims);

impl UntrustedFooterClaims {
    /// `kid`, unauthenticated.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::UntrustedFooter;
    ///
    /// let untrusted = UntrustedFooter::new(b"{}");
    /// assert_eq!(untrusted.untrusted_claims()?.untrusted_key_id(), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn untrusted_key_id(&self) -> Option<&str> {
        self.0.key_id()
    }

    /// `wpk`, unauthenticated.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::UntrustedFooter;
    ///
    /// let untrusted = UntrustedFooter::new(br#"{"wpk":"k4.local-wrap.pie.x"}"#);
    /// let claims = untrusted.untrusted_claims()?;
    /// assert_eq!(claims.untrusted_wrapped_key(), Some("k4.local-wrap.pie.x"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn untrusted_wrapped_key(&self) -> Option<&str> {
        self.0.wrapped_key()
    }

    /// A custom claim, unauthenticated.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::UntrustedFooter;
    ///
    /// let untrusted = UntrustedFooter::new(br#"{"r":"eu"}"#);
    /// let claims = untrusted.untrusted_claims()?;
    /// assert_eq!(claims.untrusted_custom("r"), Some(&serde_json::json!("eu")));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn untrusted_custom(&self, name: &str) -> Option<&Value> {
        self.0.custom(name)
    }
}

/// Footer bytes read from a token that has not been verified, with the limits
/// and mode of the service that read them.
///
/// An attacker chooses these bytes. Use them only to pick a key, never to make a
/// decision that trusts them. Its claims are read at most once, and a service
/// reuses that reading for the verified footer.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::{Footer, FooterClaims, FooterLimits, UntrustedFooter};
///
/// let bytes = Footer::Claims(FooterClaims::new().with_key_id("k4.lid.abc")).to_bytes();
/// let footer = UntrustedFooter::new(&bytes).with_limits(FooterLimits::default().max_len(64));
/// assert_eq!(footer.untrusted_key_id()?, Some("k4.lid.abc"));
/// assert_eq!(footer.len(), bytes.len());
///
/// let long = UntrustedFooter::new(&bytes).with_limits(FooterLimits::default().max_len(8));
/// assert!(long.untrusted_key_id().is_err());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub struct UntrustedFooter<'a> {
    bytes: &'a [u8],
    limits: FooterLimits,
    mode: FooterMode,
    claims: OnceCell<Result<UntrustedFooterClaims, FooterError>>,
}

impl<'a> UntrustedFooter<'a> {
    /// Unverified footer bytes, read with the default limits in
    /// [`FooterMode::Auto`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Error;
    /// use vaulttoken::error::FooterError;
    /// use vaulttoken::footer::UntrustedFooter;
    ///
    /// let footer = UntrustedFooter::new(br#"{"kid":"k4.lid.abc"}"#);
    /// assert_eq!(footer.untrusted_key_id()?, Some("k4.lid.abc"));
    /// // The default limits allow 8192 bytes.
    /// let big = vec![b' '; 9000];
    /// assert!(matches!(
    ///     UntrustedFooter::new(&big).untrusted_key_id(),
    ///     Err(Error::Footer(FooterError::TooLong { max_len: 8192 }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            limits: FooterLimits::default(),
            mode: FooterMode::Auto,
            claims: OnceCell::new(),
        }
    }

    /// Reads the footer within `limits`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Error;
    /// use vaulttoken::error::FooterError;
    /// use vaulttoken::footer::{FooterLimits, UntrustedFooter};
    ///
    /// let bytes = br#"{"kid":"k4.lid.abc","region":"eu"}"#;
    /// assert_eq!(UntrustedFooter::new(bytes).untrusted_key_id()?, Some("k4.lid.abc"));
    /// let one_key = UntrustedFooter::new(bytes).with_limits(FooterLimits::default().max_keys(1));
    /// assert!(matches!(
    ///     one_key.untrusted_key_id(),
    ///     Err(Error::Footer(FooterError::TooManyKeys { max_keys: 1 }))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn with_limits(mut self, limits: FooterLimits) -> Self {
        self.limits = limits;
        self.claims = OnceCell::new();
        self
    }

    /// Reads the footer in `mode`; in [`FooterMode::Text`] it has no claims and no
    /// key id.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::{FooterMode, UntrustedFooter};
    ///
    /// let footer = UntrustedFooter::new(br#"{"kid":"k1"}"#);
    /// assert_eq!(footer.untrusted_key_id()?, Some("k1"));
    /// let text = UntrustedFooter::new(br#"{"kid":"k1"}"#).with_mode(FooterMode::Text);
    /// assert_eq!(text.untrusted_key_id()?, None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn with_mode(mut self, mode: FooterMode) -> Self {
        self.mode = mode;
        self.claims = OnceCell::new();
        self
    }

    /// The raw footer bytes, unauthenticated.
    ///
    /// # Examples
    ///
    /// ```
    /// let footer = vaulttoken::footer::UntrustedFooter::new(b"abc");
    /// assert_eq!(footer.as_untrusted_bytes(), b"abc");
    /// ```
    #[must_use]
    pub fn as_untrusted_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The footer's length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken::footer::UntrustedFooter::new(b"abc").len(), 3);
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
    /// use vaulttoken::footer::UntrustedFooter;
    ///
    /// assert!(UntrustedFooter::new(b"").is_empty());
    /// assert!(!UntrustedFooter::new(b"x").is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Reads the unverified footer as JSON claims, within the limits (checked on
    /// the raw bytes first). The reading is kept: a second call costs nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Footer`] for a limit exceeded, a footer that is not a JSON object
    /// with string `kid`/`wpk`, or a key where no key may be.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::UntrustedFooter;
    ///
    /// assert!(UntrustedFooter::new(b"plain").untrusted_claims().is_err());
    /// let footer = UntrustedFooter::new(br#"{"wpk":"k4.seal.abc"}"#);
    /// assert_eq!(footer.untrusted_claims()?.untrusted_wrapped_key(), Some("k4.seal.abc"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn untrusted_claims(&self) -> Result<&UntrustedFooterClaims, Error> {
        self.claims
            .get_or_init(|| FooterClaims::read(self.bytes, &self.limits).map(UntrustedFooterClaims))
            .as_ref()
            .map_err(|err| Error::Footer(err.clone()))
    }

    /// The unverified `kid`, if the footer holds claims (per the mode) and they
    /// have one; `None` for an empty or text footer.
    ///
    /// # Errors
    ///
    /// [`Error::Footer`] for a limit exceeded, or a footer that must be read as
    /// claims but is not valid footer claims.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::UntrustedFooter;
    ///
    /// assert_eq!(UntrustedFooter::new(br#"{"kid":"k1"}"#).untrusted_key_id()?, Some("k1"));
    /// assert_eq!(UntrustedFooter::new(br#"{"region":"eu"}"#).untrusted_key_id()?, None);
    /// assert_eq!(UntrustedFooter::new(b"plain text").untrusted_key_id()?, None);
    /// assert_eq!(UntrustedFooter::new(b"").untrusted_key_id()?, None);
    /// assert!(UntrustedFooter::new(br#"{"kid":1}"#).untrusted_key_id().is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn untrusted_key_id(&self) -> Result<Option<&str>, Error> {
        self.limits.check_len(self.bytes)?;
        if !self.mode.reads_as_claims(self.bytes) {
            return Ok(None);
        }
        Ok(self.untrusted_claims()?.untrusted_key_id())
    }

    /// What is left to do once the token is verified: the footer, read in the
    /// mode and limits this one was made with, reusing any claims already read.
    pub(crate) fn into_pending(self) -> PendingFooter {
        PendingFooter {
            limits: self.limits,
            mode: self.mode,
            claims: self.claims.into_inner().map(|read| read.map(|c| c.0)),
        }
    }
}

impl fmt::Debug for UntrustedFooter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntrustedFooter")
            .field("len", &self.bytes.len())
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// The rest of an [`UntrustedFooter`]'s reading, kept across verification,
/// which needs the token's buffer back.
pub(crate) struct PendingFooter {
    limits: FooterLimits,
    mode: FooterMode,
    claims: Option<Result<FooterClaims, FooterError>>,
}

impl PendingFooter {
    /// The verified footer: `bytes` must be the bytes the untrusted footer read.
    pub(crate) fn finish(self, bytes: &[u8]) -> Result<Footer, Error> {
        Ok(Footer::parse_with(
            bytes,
            self.mode,
            &self.limits,
            self.claims,
        )?)
    }
}

impl FooterMode {
    /// Whether a footer of these bytes is read as JSON claims in this mode.
    fn reads_as_claims(self, bytes: &[u8]) -> bool {
        match self {
            Self::Claims => !bytes.is_empty(),
            Self::Text => false,
            Self::Auto => bytes.trim_ascii_start().first() == Some(&b'{'),
        }
    }
}

/// Where keys may appear in a footer: see the [module documentation](self).
mod key_policy {
    use serde_json::Value;

    use super::FooterClaims;
    use crate::error::FooterError;

    /// What a PASERK string found in a footer holds.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Held {
        /// `local`, `secret`, `public`: a key in clear.
        Plaintext,
        /// `local-pw`, `secret-pw`: a key under a password.
        PasswordWrapped,
        /// `lid`, `pid`, `sid`.
        Id,
        /// `local-wrap`, `secret-wrap`, `seal`.
        Wrapped,
        /// A type name PASERK does not define.
        Unknown,
    }

    fn held(type_name: &[u8]) -> Held {
        match type_name {
            b"local" | b"secret" | b"public" => Held::Plaintext,
            b"local-pw" | b"secret-pw" => Held::PasswordWrapped,
            b"lid" | b"pid" | b"sid" => Held::Id,
            b"local-wrap" | b"secret-wrap" | b"seal" => Held::Wrapped,
            _ => Held::Unknown,
        }
    }

    /// If `text` starts with a PASERK header, `k<digits>.<type>.`, what the type
    /// holds.
    fn paserk_at(text: &[u8]) -> Option<Held> {
        let rest = text.strip_prefix(b"k")?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let rest = rest[digits..].strip_prefix(b".").filter(|_| digits > 0)?;
        let type_len = rest.iter().position(|&b| b == b'.')?;
        Some(held(&rest[..type_len]))
    }

    /// The first key in clear or under a password anywhere in `text`.
    fn unsafe_key_in(text: &str) -> Option<Held> {
        let bytes = text.as_bytes();
        bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'k')
            .filter_map(|(at, _)| paserk_at(&bytes[at..]))
            .find(|held| matches!(held, Held::Plaintext | Held::PasswordWrapped))
    }

    fn refuse(held: Held, claim: &'static str) -> FooterError {
        match held {
            Held::Plaintext => FooterError::PlaintextKey { claim },
            Held::PasswordWrapped => FooterError::PasswordWrappedKey { claim },
            Held::Id | Held::Wrapped | Held::Unknown => FooterError::MisplacedPaserk { claim },
        }
    }

    /// A text footer: no key in clear or under a password, anywhere.
    pub(super) fn check_free_text(text: &str) -> Result<(), FooterError> {
        unsafe_key_in(text).map_or(Ok(()), |held| Err(refuse(held, "text")))
    }

    /// Claims: `kid` only an id, `wpk` only a wrapped or sealed key, and no key in
    /// clear or under a password in any custom claim, name or value, at any depth.
    pub(super) fn check_claims(claims: &FooterClaims) -> Result<(), FooterError> {
        let reserved = [
            ("kid", &claims.key_id, Held::Id),
            ("wpk", &claims.wrapped_key, Held::Wrapped),
        ];
        for (claim, value, allowed) in reserved {
            let found = value.as_deref().and_then(|v| paserk_at(v.as_bytes()));
            match found {
                Some(held) if held != allowed => return Err(refuse(held, claim)),
                _ => {}
            }
            if let Some(held) = value.as_deref().and_then(unsafe_key_in) {
                return Err(refuse(held, claim));
            }
        }
        for (name, value) in &claims.custom {
            if let Some(held) = unsafe_key_in(name).or_else(|| unsafe_key_in_value(value)) {
                return Err(refuse(held, "custom"));
            }
        }
        Ok(())
    }

    fn unsafe_key_in_value(value: &Value) -> Option<Held> {
        match value {
            Value::String(text) => unsafe_key_in(text),
            Value::Array(items) => items.iter().find_map(unsafe_key_in_value),
            Value::Object(map) => map
                .iter()
                .find_map(|(name, v)| unsafe_key_in(name).or_else(|| unsafe_key_in_value(v))),
            Value::Null | Value::Bool(_) | Value::Number(_) => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn paserk_headers_are_recognised_by_version_and_type() {
            assert_eq!(paserk_at(b"k4.local.AAAA"), Some(Held::Plaintext));
            assert_eq!(paserk_at(b"k10.secret-pw.x"), Some(Held::PasswordWrapped));
            assert_eq!(paserk_at(b"k1.lid."), Some(Held::Id));
            assert_eq!(paserk_at(b"k4.local-wrap.pie.x"), Some(Held::Wrapped));
            assert_eq!(paserk_at(b"k4.seal.x"), Some(Held::Wrapped));
            assert_eq!(paserk_at(b"k4.other.x"), Some(Held::Unknown));
            for not_paserk in [
                &b"k.local.x"[..],
                b"kx.local.x",
                b"k4local.x",
                b"k4.local",
                b"x4.local.",
                b"",
            ] {
                assert_eq!(paserk_at(not_paserk), None, "{not_paserk:?}");
            }
        }

        #[test]
        fn keys_are_found_anywhere_in_text() {
            for text in [
                "k4.local.AAAA",
                "my key: k4.secret.x",
                "kk4.public.",
                "{\"a\":\"k3.local-pw.x\"}",
            ] {
                assert!(unsafe_key_in(text).is_some(), "{text}");
            }
            for text in [
                "k4.lid.AAAA",
                "k4.seal.x k4.pid.y",
                "kid-2026",
                "k4.local",
                "look k4",
            ] {
                assert_eq!(unsafe_key_in(text), None, "{text}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8], mode: FooterMode) -> Result<Footer, Error> {
        Footer::parse(bytes, mode, &FooterLimits::default())
    }

    #[test]
    fn plaintext_keys_in_kid_or_wpk_are_refused() {
        for value in [
            "k4.local.AAAA",
            "k4.secret.AAAA",
            "k4.public.AAAA",
            "k3.local.AAAA",
            "k10.public.",
        ] {
            for claim in ["kid", "wpk"] {
                let footer = format!(r#"{{"{claim}":"{value}"}}"#);
                let err = parse(footer.as_bytes(), FooterMode::Claims).unwrap_err();
                assert!(
                    matches!(err, Error::Footer(FooterError::PlaintextKey { claim: c }) if c == claim),
                    "{footer}: {err:?}"
                );
            }
        }
        // Ids in `kid`, wrapped keys in `wpk`, and look-alikes that are not
        // PASERK strings pass.
        let look_alikes = ["k4.local", "kx.local.AAAA", "local.k4.AAAA", "2026-key"];
        let kids = ["k4.lid.AAAA", "k4.pid.AAAA", "k3.sid.AAAA"];
        let wpks = [
            "k4.local-wrap.pie.AAAA",
            "k4.secret-wrap.pie.AAAA",
            "k4.seal.AAAA",
        ];
        for (kid, wpk) in kids
            .iter()
            .zip(wpks)
            .chain(look_alikes.iter().zip(look_alikes))
        {
            let footer = format!(r#"{{"kid":"{kid}","wpk":"{wpk}"}}"#);
            assert!(
                parse(footer.as_bytes(), FooterMode::Claims).is_ok(),
                "{footer}"
            );
        }
    }

    #[test]
    fn password_wrapped_keys_are_refused_in_every_claim_and_mode() {
        for value in ["k4.local-pw.AAAA", "k4.secret-pw.AAAA", "k2.local-pw.AAAA"] {
            for claim in ["kid", "wpk"] {
                let footer = format!(r#"{{"{claim}":"{value}"}}"#);
                let err = parse(footer.as_bytes(), FooterMode::Auto).unwrap_err();
                assert!(
                    matches!(err, Error::Footer(FooterError::PasswordWrappedKey { claim: c }) if c == claim),
                    "{footer}: {err:?}"
                );
            }
            let deep = FooterLimits::default().max_depth(4);
            for custom in [
                format!(r#"{{"note":["x","{value}"]}}"#),
                format!(r#"{{"note":["x",{{"deep":"{value}"}}]}}"#),
                format!(r#"{{"note":{{"{value}":1}}}}"#),
            ] {
                assert!(
                    matches!(
                        Footer::parse(custom.as_bytes(), FooterMode::Claims, &deep),
                        Err(Error::Footer(FooterError::PasswordWrappedKey {
                            claim: "custom"
                        }))
                    ),
                    "{custom}"
                );
            }
            for mode in [FooterMode::Auto, FooterMode::Text] {
                assert!(matches!(
                    parse(value.as_bytes(), mode),
                    Err(Error::Footer(FooterError::PasswordWrappedKey {
                        claim: "text"
                    }))
                ));
            }
        }
    }

    #[test]
    fn a_kid_holds_only_ids_and_a_wpk_only_wrapped_keys() {
        for (claim, value) in [
            ("kid", "k4.seal.AAAA"),
            ("kid", "k4.local-wrap.pie.AAAA"),
            ("kid", "k4.unknown.AAAA"),
            ("wpk", "k4.lid.AAAA"),
            ("wpk", "k4.pid.AAAA"),
        ] {
            let footer = format!(r#"{{"{claim}":"{value}"}}"#);
            let err = parse(footer.as_bytes(), FooterMode::Claims).unwrap_err();
            assert!(
                matches!(err, Error::Footer(FooterError::MisplacedPaserk { claim: c }) if c == claim),
                "{footer}: {err:?}"
            );
        }
    }

    #[test]
    fn text_footers_never_carry_a_key() {
        for text in [
            "k4.local.AAAA",
            r#"{"wpk":"k4.local.AAAA"}"#,
            "key=k4.secret.AAAA;",
            "k1.public.x",
        ] {
            for mode in [FooterMode::Text, FooterMode::Auto] {
                let err = parse(text.as_bytes(), mode);
                if mode == FooterMode::Auto && text.starts_with('{') {
                    assert!(
                        matches!(
                            err,
                            Err(Error::Footer(FooterError::PlaintextKey { claim: "wpk" }))
                        ),
                        "{text}: {err:?}"
                    );
                } else {
                    assert!(
                        matches!(
                            err,
                            Err(Error::Footer(FooterError::PlaintextKey { claim: "text" }))
                        ),
                        "{text} {mode:?}: {err:?}"
                    );
                }
            }
        }
        // Escaped in JSON, a key is still found once the claims are read.
        let escaped = br#"{"note":"k4.local.AAAA"}"#;
        assert!(matches!(
            parse(escaped, FooterMode::Claims),
            Err(Error::Footer(FooterError::PlaintextKey { claim: "custom" }))
        ));
        assert!(parse(b"k4.lid.AAAA then k4.seal.BBBB", FooterMode::Text).is_ok());
    }

    #[test]
    fn an_untrusted_footer_reads_its_claims_once_and_hands_them_on() {
        let bytes = br#"{"kid":"k4.lid.x","n":1}"#;
        let untrusted = UntrustedFooter::new(bytes);
        let first: *const UntrustedFooterClaims = untrusted.untrusted_claims().unwrap();
        let second: *const UntrustedFooterClaims = untrusted.untrusted_claims().unwrap();
        assert_eq!(first, second);
        let footer = untrusted.into_pending().finish(bytes).unwrap();
        let Footer::Claims(claims) = footer else {
            panic!("claims expected");
        };
        assert_eq!(claims.key_id(), Some("k4.lid.x"));
        assert_eq!(claims.custom("n"), Some(&serde_json::json!(1)));
    }

    #[test]
    fn an_untrusted_footer_follows_its_mode_and_limits() {
        let bytes = br#"{"kid":"k1"}"#;
        let text = UntrustedFooter::new(bytes).with_mode(FooterMode::Text);
        assert_eq!(text.untrusted_key_id().unwrap(), None);
        assert!(matches!(
            text.into_pending().finish(bytes),
            Ok(Footer::Text(t)) if t.as_bytes() == bytes
        ));
        let tight = UntrustedFooter::new(bytes).with_limits(FooterLimits::default().max_len(4));
        assert!(matches!(
            tight.untrusted_key_id(),
            Err(Error::Footer(FooterError::TooLong { max_len: 4 }))
        ));
        let flat = FooterLimits::default().max_depth(1);
        let nested = br#"{"kid":"k1","a":{}}"#;
        assert!(matches!(
            UntrustedFooter::new(nested)
                .with_limits(flat)
                .untrusted_key_id(),
            Err(Error::Footer(FooterError::TooDeep { max_depth: 1 }))
        ));
        assert_eq!(
            UntrustedFooter::new(b"{}")
                .with_mode(FooterMode::Claims)
                .untrusted_key_id()
                .unwrap(),
            None
        );
        assert!(matches!(
            UntrustedFooter::new(b"text")
                .with_mode(FooterMode::Claims)
                .untrusted_key_id(),
            Err(Error::Footer(FooterError::NotJsonObject))
        ));
    }

    #[test]
    fn footer_claims_debug_shows_names_not_values() {
        let claims = FooterClaims::new()
            .with_key_id("k4.lid.visible-id")
            .with_claim("tenant", "acme-secret-tenant")
            .unwrap();
        let debug = format!("{claims:?} {:?}", Footer::Claims(claims.clone()));
        assert!(debug.contains("kid") && debug.contains("tenant"), "{debug}");
        assert!(
            !debug.contains("acme-secret-tenant") && !debug.contains("visible-id"),
            "{debug}"
        );
    }

    #[test]
    fn the_length_limit_applies_in_every_mode() {
        let long = vec![b'a'; 8193];
        for mode in [FooterMode::Auto, FooterMode::Claims, FooterMode::Text] {
            assert!(matches!(
                parse(&long, mode),
                Err(Error::Footer(FooterError::TooLong { max_len: 8192 }))
            ));
        }
        assert!(parse(&long[..8192], FooterMode::Text).is_ok());
    }

    #[test]
    fn a_hundred_kib_footer_is_refused_before_parsing() {
        let mut huge = b"{\"a\":\"".to_vec();
        huge.resize(100 * 1024, b'x');
        let untrusted = UntrustedFooter::new(&huge);
        assert!(matches!(
            untrusted.untrusted_claims(),
            Err(Error::Footer(FooterError::TooLong { .. }))
        ));
    }

    #[test]
    fn deep_nesting_is_refused_by_the_scanner() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let limits = FooterLimits::default().max_len(1 << 20);
        assert!(matches!(
            Footer::parse(deep.as_bytes(), FooterMode::Claims, &limits),
            Err(Error::Footer(FooterError::TooDeep { max_depth: 2 }))
        ));
    }

    #[test]
    fn many_keys_are_refused_by_the_scanner() {
        let body: Vec<String> = (0..100_000).map(|i| format!("\"k{i}\":0")).collect();
        let text = format!("{{{}}}", body.join(","));
        let limits = FooterLimits::default().max_len(1 << 24);
        assert!(matches!(
            Footer::parse(text.as_bytes(), FooterMode::Claims, &limits),
            Err(Error::Footer(FooterError::TooManyKeys { max_keys: 512 }))
        ));
    }

    #[test]
    fn auto_mode_picks_json_only_for_objects() {
        assert!(matches!(parse(b"kid-1", FooterMode::Auto), Ok(Footer::Text(t)) if t == "kid-1"));
        assert!(matches!(
            parse(b" {}", FooterMode::Auto),
            Ok(Footer::Claims(_))
        ));
        assert!(matches!(
            parse(b"{not json", FooterMode::Auto),
            Err(Error::Footer(FooterError::NotJsonObject))
        ));
        assert!(matches!(parse(b"", FooterMode::Claims), Ok(Footer::None)));
    }

    #[test]
    fn claims_mode_requires_a_json_object() {
        for bytes in [&b"text"[..], b"[1]", br#"{"a":1,"a":2}"#] {
            assert!(matches!(
                parse(bytes, FooterMode::Claims),
                Err(Error::Footer(FooterError::NotJsonObject))
            ));
        }
    }

    #[test]
    fn reserved_claims_must_be_strings() {
        assert!(matches!(
            parse(br#"{"kid":1}"#, FooterMode::Claims),
            Err(Error::Footer(FooterError::WrongType { claim: "kid" }))
        ));
        assert!(matches!(
            parse(br#"{"wpk":{}}"#, FooterMode::Claims),
            Err(Error::Footer(FooterError::WrongType { claim: "wpk" }))
        ));
    }

    #[test]
    fn text_mode_never_parses_and_requires_utf8() {
        assert!(matches!(
            parse(b"{\"kid\":1}", FooterMode::Text),
            Ok(Footer::Text(_))
        ));
        assert!(matches!(
            parse(b"\xff", FooterMode::Text),
            Err(Error::Footer(FooterError::NotUtf8))
        ));
    }

    #[test]
    fn claims_footer_round_trips() {
        let claims = FooterClaims::new()
            .with_key_id("k")
            .with_wrapped_key("w")
            .with_claim("x", [1, 2])
            .unwrap();
        let bytes = Footer::Claims(claims.clone()).to_bytes();
        assert_eq!(
            parse(&bytes, FooterMode::Claims).unwrap(),
            Footer::Claims(claims)
        );
    }

    #[test]
    fn a_text_footer_has_no_untrusted_key_id() {
        let untrusted = UntrustedFooter::new(b"kid-looking-text");
        assert_eq!(untrusted.untrusted_key_id().unwrap(), None);
    }

    /// The `{"kid":"…"}` shortcut reads exactly what the JSON parser reads, and
    /// steps aside for anything it does not cover.
    #[test]
    fn the_kid_only_shortcut_agrees_with_the_parser() {
        let limits = FooterLimits::default();
        let mut footers: Vec<Vec<u8>> = [
            &br#"{"kid":"k4.lid.AAAA"}"#[..],
            br#"{"kid":""}"#,
            br#"{"kid":"caf\u00e9"}"#,
            br#"{"kid":"a\"b"}"#,
            br#"{"kid":"a\\"}"#,
            br#"{"kid":"a"b"}"#,
            br#"{"kid":"a"}x"#,
            br#"{"kid":"a"} "#,
            br#" {"kid":"a"}"#,
            br#"{"kid":"a","kid":"b"}"#,
            br#"{"kid":"a","x":1}"#,
            br#"{"kid":1}"#,
            br#"{"kid":"k4.local.AAAA"}"#,
            br#"{"kid":"k4.seal.AAAA"}"#,
            br#"{"kid": "a"}"#,
            br#"{"wpk":"a"}"#,
            b"{\"kid\":\"tab\there\"}",
            b"{\"kid\":\"\xff\"}",
            "{\"kid\":\"caf\u{e9}\"}".as_bytes(),
        ]
        .iter()
        .map(|f| f.to_vec())
        .collect();
        for byte in 0..=255u8 {
            footers.push([&br#"{"kid":"a"#[..], &[byte], br#"b"}"#].concat());
        }
        for footer in &footers {
            let shortcut = FooterClaims::kid_only(footer, &limits).map(|kid| FooterClaims {
                key_id: Some(kid.to_owned()),
                ..FooterClaims::default()
            });
            let parsed = FooterClaims::parse_json(footer, &limits);
            if let Some(claims) = shortcut {
                assert_eq!(
                    parsed.as_ref(),
                    Ok(&claims),
                    "{:?}",
                    String::from_utf8_lossy(footer)
                );
            }
            // And through the one entry point, with the key policy, the same result.
            let read = FooterClaims::read(footer, &limits);
            let full = parsed.and_then(|claims| key_policy::check_claims(&claims).map(|()| claims));
            assert_eq!(read, full, "{:?}", String::from_utf8_lossy(footer));
        }
        // The footer every ring token carries takes the shortcut (which is the
        // point of it), and one the shortcut cannot read exactly does not.
        assert_eq!(
            FooterClaims::kid_only(br#"{"kid":"k4.lid.AAAA"}"#, &limits),
            Some("k4.lid.AAAA")
        );
        assert_eq!(
            FooterClaims::kid_only(br#"{"kid":"key 7 ~"}"#, &limits),
            Some("key 7 ~")
        );
        assert_eq!(
            FooterClaims::kid_only(br#"{"kid":"a\u0062"}"#, &limits),
            None
        );
        // Limits that refuse one flat key are left to the parser to report.
        for tight in [limits.max_depth(0), limits.max_keys(0)] {
            assert_eq!(FooterClaims::kid_only(br#"{"kid":"a"}"#, &tight), None);
            assert!(FooterClaims::read(br#"{"kid":"a"}"#, &tight).is_err());
        }
    }

    #[test]
    fn limits_report_the_length_they_were_given() {
        assert_eq!(FooterLimits::default().len_limit(), 8192);
        assert_eq!(FooterLimits::default().max_len(64).len_limit(), 64);
        assert_eq!(FooterLimits::default().max_len(0).len_limit(), 0);
    }

    #[test]
    fn every_accessor_reads_what_was_set_or_parsed() {
        let claims = FooterClaims::new()
            .with_key_id("k4.lid.A")
            .with_wrapped_key("k4.seal.B")
            .with_claim("region", "eu")
            .unwrap();
        assert_eq!(claims.key_id(), Some("k4.lid.A"));
        assert_eq!(claims.wrapped_key(), Some("k4.seal.B"));
        assert_eq!(claims.custom("region"), Some(&serde_json::json!("eu")));
        assert_eq!(claims.custom("absent"), None);

        let bytes = Footer::Claims(claims).to_bytes();
        let untrusted = UntrustedFooter::new(&bytes);
        assert_eq!(
            (untrusted.len(), untrusted.is_empty()),
            (bytes.len(), false)
        );
        let read = untrusted.untrusted_claims().unwrap();
        assert_eq!(read.untrusted_key_id(), Some("k4.lid.A"));
        assert_eq!(read.untrusted_wrapped_key(), Some("k4.seal.B"));
        assert_eq!(
            read.untrusted_custom("region"),
            Some(&serde_json::json!("eu"))
        );
        assert_eq!(read.untrusted_custom("absent"), None);
        let empty = UntrustedFooter::new(b"");
        assert_eq!((empty.len(), empty.is_empty()), (0, true));
    }
}
