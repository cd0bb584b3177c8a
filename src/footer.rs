//! Footers: plain text, or JSON claims with the reserved `kid` and `wpk`.
//!
//! Parsing is bounded: the length limit applies in every mode, and depth and key
//! count are checked on the raw bytes before a JSON parser sees them. A footer
//! read before verification stays an [`UntrustedFooter`]; the methods here that
//! read it return [`UntrustedFooterClaims`], whose accessors say `untrusted` too.
//! A verified [`Footer`] can be turned into an untrusted one, never the reverse.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, FooterError};
use crate::json::{self, ShapeError};
pub use crate::v4::UntrustedFooter;

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
    /// let limits = vaulttoken::footer::FooterLimits::default().max_depth(1);
    /// # let _ = limits;
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
    /// let limits = vaulttoken::footer::FooterLimits::default().max_keys(8);
    /// # let _ = limits;
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

    pub(crate) fn check_len(&self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() > self.max_len {
            return Err(FooterError::TooLong {
                max_len: self.max_len,
            }
            .into());
        }
        Ok(())
    }

    fn check_shape(&self, bytes: &[u8]) -> Result<(), Error> {
        json::check_shape(bytes, self.max_depth, self.max_keys).map_err(|err| {
            match err {
                ShapeError::TooDeep => FooterError::TooDeep {
                    max_depth: self.max_depth,
                },
                ShapeError::TooManyKeys => FooterError::TooManyKeys {
                    max_keys: self.max_keys,
                },
            }
            .into()
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
#[derive(Debug, Clone, PartialEq, Default)]
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
        limits.check_len(bytes)?;
        if bytes.is_empty() {
            return Ok(Self::None);
        }
        let as_claims = match mode {
            FooterMode::Claims => true,
            FooterMode::Text => false,
            FooterMode::Auto => bytes.trim_ascii_start().first() == Some(&b'{'),
        };
        if as_claims {
            limits.check_shape(bytes)?;
            return FooterClaims::from_json(bytes).map(Self::Claims);
        }
        core::str::from_utf8(bytes)
            .map(|text| Self::Text(text.to_owned()))
            .map_err(|_| FooterError::NotUtf8.into())
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

    /// The same footer as an [`UntrustedFooter`], for code that handles both.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::Footer;
    ///
    /// let untrusted = Footer::Text("x".into()).to_untrusted();
    /// assert_eq!(untrusted.as_untrusted_bytes(), b"x");
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_untrusted(&self) -> UntrustedFooter {
        UntrustedFooter::new(self.to_bytes())
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
#[derive(Debug, Clone, PartialEq, Default)]
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

    fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let mut custom = json::parse_object(bytes).map_err(|_| FooterError::NotJsonObject)?;
        let mut take = |claim: &'static str| match custom.remove(claim) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(Error::from(FooterError::WrongType { claim })),
        };
        let claims = Self {
            key_id: take("kid")?,
            wrapped_key: take("wpk")?,
            custom,
        };
        claims.check_no_plaintext_key()?;
        Ok(claims)
    }

    /// Refuses a `kid` or `wpk` that is a key in clear. Checked when a footer is
    /// parsed and before a service writes one into a token.
    pub(crate) fn check_no_plaintext_key(&self) -> Result<(), Error> {
        for (claim, value) in [("kid", &self.key_id), ("wpk", &self.wrapped_key)] {
            if value
                .as_deref()
                .is_some_and(crate::paserk::holds_plaintext_key)
            {
                return Err(FooterError::PlaintextKey { claim }.into());
            }
        }
        Ok(())
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

/// Footer claims read from a token that has not been verified. Every accessor
/// says `untrusted`: use the key id to look a key up, and nothing else.
///
/// # Examples
///
/// ```
/// use vaulttoken::footer::{FooterClaims, FooterLimits, Footer};
///
/// let untrusted = Footer::Claims(FooterClaims::new().with_key_id("k1")).to_untrusted();
/// let claims = untrusted.untrusted_claims(&FooterLimits::default())?;
/// assert_eq!(claims.untrusted_key_id(), Some("k1"));
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
    /// use vaulttoken::footer::{FooterClaims, FooterLimits, Footer};
    ///
    /// let untrusted = Footer::Claims(FooterClaims::new()).to_untrusted();
    /// assert_eq!(untrusted.untrusted_claims(&FooterLimits::default())?.untrusted_key_id(), None);
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
    /// use vaulttoken::footer::{FooterClaims, FooterLimits, Footer};
    ///
    /// let untrusted = Footer::Claims(FooterClaims::new().with_wrapped_key("w")).to_untrusted();
    /// let claims = untrusted.untrusted_claims(&FooterLimits::default())?;
    /// assert_eq!(claims.untrusted_wrapped_key(), Some("w"));
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
    /// use vaulttoken::footer::{FooterClaims, FooterLimits, Footer};
    ///
    /// let untrusted = Footer::Claims(FooterClaims::new().with_claim("r", "eu")?).to_untrusted();
    /// let claims = untrusted.untrusted_claims(&FooterLimits::default())?;
    /// assert_eq!(claims.untrusted_custom("r"), Some(&serde_json::json!("eu")));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn untrusted_custom(&self, name: &str) -> Option<&Value> {
        self.0.custom(name)
    }
}

impl UntrustedFooter {
    /// Reads the unverified footer as JSON claims, within `limits` (checked on the
    /// raw bytes first).
    ///
    /// # Errors
    ///
    /// [`Error::Footer`] for a limit exceeded or a footer that is not a JSON object
    /// with string `kid`/`wpk`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::{FooterLimits, Footer};
    ///
    /// let untrusted = Footer::Text("plain".into()).to_untrusted();
    /// assert!(untrusted.untrusted_claims(&FooterLimits::default()).is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn untrusted_claims(&self, limits: &FooterLimits) -> Result<UntrustedFooterClaims, Error> {
        let bytes = self.as_untrusted_bytes();
        limits.check_len(bytes)?;
        limits.check_shape(bytes)?;
        FooterClaims::from_json(bytes).map(UntrustedFooterClaims)
    }

    /// The unverified `kid`, if the footer is a JSON object that has one; `None` for
    /// an empty or text footer.
    ///
    /// # Errors
    ///
    /// [`Error::Footer`] for a limit exceeded, or a footer that looks like JSON but
    /// is not valid footer claims.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::footer::{FooterClaims, FooterLimits, Footer};
    ///
    /// let untrusted = Footer::Claims(FooterClaims::new().with_key_id("k9")).to_untrusted();
    /// assert_eq!(untrusted.untrusted_key_id(&FooterLimits::default())?.as_deref(), Some("k9"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn untrusted_key_id(&self, limits: &FooterLimits) -> Result<Option<String>, Error> {
        let bytes = self.as_untrusted_bytes();
        limits.check_len(bytes)?;
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Ok(None);
        }
        Ok(self
            .untrusted_claims(limits)?
            .untrusted_key_id()
            .map(str::to_owned))
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
        // Ids, wrapped keys and look-alikes that are not PASERK keys pass.
        for value in [
            "k4.lid.AAAA",
            "k4.pid.AAAA",
            "k4.local-wrap.pie.AAAA",
            "k4.seal.AAAA",
            "k4.local",
            "kx.local.AAAA",
            "local.k4.AAAA",
            "2026-key",
        ] {
            let footer = format!(r#"{{"kid":"{value}","wpk":"{value}"}}"#);
            assert!(
                parse(footer.as_bytes(), FooterMode::Claims).is_ok(),
                "{footer}"
            );
        }
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
        let untrusted = UntrustedFooter::new(huge);
        assert!(matches!(
            untrusted.untrusted_claims(&FooterLimits::default()),
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
        let untrusted = UntrustedFooter::new(b"kid-looking-text".to_vec());
        assert_eq!(
            untrusted
                .untrusted_key_id(&FooterLimits::default())
                .unwrap(),
            None
        );
    }
}
