//! Where a request carries its token: the `Authorization: Bearer` header, a
//! named cookie, or a function of your own. Parsing works on the header bytes
//! in place: nothing is copied until a token is found, and nothing longer than
//! the configured cap is ever copied.

use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

/// The longest credential accepted by default, in bytes: 8 KiB. It bounds the
/// whole `Authorization` header value, a cookie's value, or what a custom
/// source returns. Anything longer is refused as malformed before it is
/// decoded or copied.
pub const DEFAULT_MAX_CREDENTIAL_LEN: usize = 8 * 1024;

/// A custom token source: reads the token from the request's parts.
type CustomFn = dyn Fn(&Parts) -> Result<Option<String>, UnreadableToken> + Send + Sync;

/// Where the token is read from. Defaults to [`TokenSource::bearer`].
///
/// # Examples
///
/// ```
/// use vaulttoken_axum::TokenSource;
///
/// let bearer = TokenSource::default();
/// let cookie = TokenSource::cookie("session");
/// let custom = TokenSource::custom(|parts| {
///     Ok(parts.headers.get("x-api-token").and_then(|v| v.to_str().ok()).map(str::to_owned))
/// });
/// assert_eq!(format!("{bearer:?}"), "TokenSource::Bearer");
/// assert_eq!(format!("{cookie:?}"), r#"TokenSource::Cookie("session")"#);
/// assert_eq!(format!("{custom:?}"), "TokenSource::Custom");
/// ```
#[derive(Clone, Default)]
pub struct TokenSource(Repr);

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Bearer,
    Cookie(Arc<str>),
    Custom(Arc<CustomFn>),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Bearer => f.write_str("TokenSource::Bearer"),
            Repr::Cookie(name) => write!(f, "TokenSource::Cookie({name:?})"),
            Repr::Custom(_) => f.write_str("TokenSource::Custom"),
        }
    }
}

impl TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), the default.
    ///
    /// The scheme is matched case-insensitively and may be followed by one or
    /// more spaces. A request with no `Authorization` header, or one with
    /// another scheme (`Basic ...`), carries no token. A request with two
    /// `Authorization` headers, an empty or non-`b64token` token, or a header
    /// longer than the cap is malformed.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::TokenSource;
    ///
    /// assert_eq!(format!("{:?}", TokenSource::bearer()), "TokenSource::Bearer");
    /// ```
    #[must_use]
    pub fn bearer() -> Self {
        Self(Repr::Bearer)
    }

    /// The value of the cookie `name` (RFC 6265), from every `Cookie` header
    /// (HTTP/2 may split them). The name must be an RFC 6265 token (checked by
    /// [`AuthenticatorBuilder::build`](crate::AuthenticatorBuilder::build)).
    /// An absent or empty cookie carries no token; a value in double quotes is
    /// unquoted; the same cookie twice is malformed, so a planted second cookie
    /// cannot shadow the real one.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::TokenSource;
    ///
    /// assert_eq!(format!("{:?}", TokenSource::cookie("sid")), r#"TokenSource::Cookie("sid")"#);
    /// ```
    #[must_use]
    pub fn cookie(name: impl Into<String>) -> Self {
        Self(Repr::Cookie(Arc::from(name.into())))
    }

    /// A function of your own. `Ok(None)` means no token was sent; an
    /// [`UnreadableToken`] means one was sent but cannot be read (answered as
    /// malformed). What it returns is held to the same length cap and
    /// `b64token` syntax as a bearer token.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::{TokenSource, UnreadableToken};
    ///
    /// // A token in `X-Api-Token`; a non-ASCII header value is unreadable.
    /// let source = TokenSource::custom(|parts| match parts.headers.get("x-api-token") {
    ///     None => Ok(None),
    ///     Some(value) => value.to_str().map(|v| Some(v.to_owned())).map_err(|_| UnreadableToken),
    /// });
    /// # let _ = source;
    /// ```
    #[must_use]
    pub fn custom<F>(read: F) -> Self
    where
        F: Fn(&Parts) -> Result<Option<String>, UnreadableToken> + Send + Sync + 'static,
    {
        Self(Repr::Custom(Arc::new(read)))
    }

    /// The cookie name, if this is a cookie source.
    pub(crate) fn cookie_name(&self) -> Option<&str> {
        match &self.0 {
            Repr::Cookie(name) => Some(name),
            _ => None,
        }
    }

    /// The token the request carries: `Ok(None)` for none, `Err` for one that
    /// is present but malformed.
    pub(crate) fn read<'p>(
        &self,
        parts: &'p Parts,
        max_len: usize,
    ) -> Result<Option<Cow<'p, str>>, UnreadableToken> {
        match &self.0 {
            Repr::Bearer => bearer_token(&parts.headers, max_len).map(|t| t.map(Cow::Borrowed)),
            Repr::Cookie(name) => {
                cookie_token(&parts.headers, name, max_len).map(|t| t.map(Cow::Borrowed))
            }
            Repr::Custom(read) => match read(parts)? {
                None => Ok(None),
                Some(token) if token.len() <= max_len && is_b64token(token.as_bytes()) => {
                    Ok(Some(Cow::Owned(token)))
                }
                Some(_) => Err(UnreadableToken),
            },
        }
    }
}

/// A token was sent but cannot be read: answered as a malformed token (401).
///
/// # Examples
///
/// ```
/// use vaulttoken_axum::UnreadableToken;
///
/// assert_eq!(UnreadableToken.to_string(), "the request carries a token that cannot be read");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadableToken;

impl fmt::Display for UnreadableToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request carries a token that cannot be read")
    }
}

impl std::error::Error for UnreadableToken {}

/// The bearer token in the one `Authorization` header, if it has the Bearer
/// scheme.
fn bearer_token(headers: &HeaderMap, max_len: usize) -> Result<Option<&str>, UnreadableToken> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(UnreadableToken);
    }
    let bytes = value.as_bytes();
    if bytes.len() > max_len {
        return Err(UnreadableToken);
    }
    let (scheme, rest) = match bytes.iter().position(|&b| b == b' ') {
        Some(space) => (&bytes[..space], &bytes[space..]),
        None => (bytes, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        // Another scheme: no bearer token (RFC 6750 §3.1 answers it like none).
        return Ok(None);
    }
    let token = trim_start(rest, b' ');
    as_token(token).map(Some)
}

/// The value of the cookie `name`, from every `Cookie` header.
fn cookie_token<'h>(
    headers: &'h HeaderMap,
    name: &str,
    max_len: usize,
) -> Result<Option<&'h str>, UnreadableToken> {
    let mut found: Option<&[u8]> = None;
    for pair in headers.get_all(COOKIE).iter().flat_map(cookie_pairs) {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        if trim(&pair[..eq]) != name.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(UnreadableToken);
        }
        let value = trim(&pair[eq + 1..]);
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            other => other,
        };
        found = Some(value);
    }
    match found {
        None | Some([]) => Ok(None),
        Some(value) if value.len() > max_len => Err(UnreadableToken),
        Some(value) => as_token(value).map(Some),
    }
}

/// The `;`-separated pairs of one `Cookie` header.
fn cookie_pairs(value: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    value.as_bytes().split(|&b| b == b';')
}

/// `bytes` as a token, if it is a non-empty RFC 6750 `b64token`.
fn as_token(bytes: &[u8]) -> Result<&str, UnreadableToken> {
    if !is_b64token(bytes) {
        return Err(UnreadableToken);
    }
    // A b64token is ASCII.
    core::str::from_utf8(bytes).map_err(|_| UnreadableToken)
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(bytes: &[u8]) -> bool {
    let body_len = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'=').count();
    body_len > 0 && bytes[..body_len].iter().all(|&b| B64TOKEN[usize::from(b)])
}

/// Which bytes a `b64token` body may hold: one lookup per byte, since every
/// request's token passes through [`is_b64token`].
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "byte < 256, so the cast is exact"
        )]
        let b = byte as u8;
        table[byte] =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        byte += 1;
    }
    table
};

/// Whether `name` is an RFC 6265 cookie name (an RFC 7230 token).
pub(crate) fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn trim_start(mut bytes: &[u8], byte: u8) -> &[u8] {
    while let [first, rest @ ..] = bytes {
        if *first != byte {
            break;
        }
        bytes = rest;
    }
    bytes
}

/// Trims optional whitespace (spaces and tabs) on both sides.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "v4.public.eyJzdWIiOiJ1In0-_abc";

    #[test]
    fn the_default_cap_is_8_kib_of_header_value() {
        let at_cap = format!("Bearer {}", "a".repeat(DEFAULT_MAX_CREDENTIAL_LEN - 7));
        assert_eq!(at_cap.len(), 8 * 1024);
        assert_eq!(
            bearer(at_cap.as_bytes()).unwrap().unwrap().len(),
            8 * 1024 - 7
        );
        let over = format!("{at_cap}a");
        assert_eq!(bearer(over.as_bytes()), Err(UnreadableToken));
    }

    #[test]
    fn only_a_cookie_source_has_a_cookie_name() {
        assert_eq!(TokenSource::cookie("sid").cookie_name(), Some("sid"));
        assert_eq!(TokenSource::bearer().cookie_name(), None);
        assert_eq!(TokenSource::custom(|_| Ok(None)).cookie_name(), None);
    }

    /// `Debug` names the kind and the cookie (not secret), never more;
    /// `Display` of the error says what happened without the token.
    #[test]
    fn sources_and_the_error_print_what_they_are() {
        assert_eq!(
            format!("{:?}", TokenSource::bearer()),
            "TokenSource::Bearer"
        );
        assert_eq!(
            format!("{:?}", TokenSource::cookie("sid")),
            r#"TokenSource::Cookie("sid")"#
        );
        assert_eq!(
            format!("{:?}", TokenSource::custom(|_| Ok(None))),
            "TokenSource::Custom"
        );
        assert_eq!(
            UnreadableToken.to_string(),
            "the request carries a token that cannot be read"
        );
    }

    /// Every byte against RFC 6750's grammar, alone, inside a token and
    /// before the `=` padding.
    #[test]
    fn b64token_table_matches_the_grammar_for_every_byte() {
        for byte in 0..=u8::MAX {
            let allowed = byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte);
            assert_eq!(is_b64token(&[byte]), allowed, "{byte:#04x} alone");
            assert_eq!(
                is_b64token(&[b'a', byte, b'z']),
                allowed,
                "{byte:#04x} inside"
            );
            assert_eq!(
                is_b64token(&[b'a', byte, b'=', b'=']),
                allowed || byte == b'=',
                "{byte:#04x} before padding"
            );
        }
        assert!(!is_b64token(b""));
        assert!(!is_b64token(b"=="));
        assert!(is_b64token(b"a=="));
    }

    fn parts(headers: &[(&str, &[u8])]) -> Parts {
        let mut builder = http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, HeaderValue::from_bytes(value).unwrap());
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn read(
        source: &TokenSource,
        headers: &[(&str, &[u8])],
    ) -> Result<Option<String>, UnreadableToken> {
        source
            .read(&parts(headers), DEFAULT_MAX_CREDENTIAL_LEN)
            .map(|t| t.map(Cow::into_owned))
    }

    fn bearer(value: &[u8]) -> Result<Option<String>, UnreadableToken> {
        read(&TokenSource::bearer(), &[("authorization", value)])
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_takes_several_spaces() {
        for value in [
            format!("Bearer {TOKEN}"),
            format!("bearer {TOKEN}"),
            format!("BEARER {TOKEN}"),
            format!("bEaReR   {TOKEN}"),
        ] {
            assert_eq!(
                bearer(value.as_bytes()),
                Ok(Some(TOKEN.to_owned())),
                "{value}"
            );
        }
    }

    #[test]
    fn no_header_or_another_scheme_is_no_token() {
        assert_eq!(read(&TokenSource::bearer(), &[]), Ok(None));
        assert_eq!(bearer(b"Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(bearer(b"Bearerx abc"), Ok(None));
        assert_eq!(bearer(b"Token abc"), Ok(None));
        // Only a space ends the scheme (RFC 7235).
        assert_eq!(bearer(b"Bearer\tabc"), Ok(None));
    }

    #[test]
    fn an_empty_or_invalid_bearer_token_is_unreadable() {
        for value in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer a b",
            b"Bearer a,b",
            b"Bearer ====",
            b"Bearer a=b",
            b"Bearer \"abc\"",
            b"Bearer abc\xff",
            b"Bearer \xc3\xa9t\xc3\xa9",
        ] {
            assert_eq!(bearer(value), Err(UnreadableToken), "{value:?}");
        }
        // Trailing padding is b64token syntax.
        assert_eq!(bearer(b"Bearer abc=="), Ok(Some("abc==".to_owned())));
    }

    #[test]
    fn two_authorization_headers_are_unreadable() {
        let value = format!("Bearer {TOKEN}");
        let twice = [
            ("authorization", value.as_bytes()),
            ("authorization", value.as_bytes()),
        ];
        assert_eq!(read(&TokenSource::bearer(), &twice), Err(UnreadableToken));
        let mixed = [
            ("authorization", &b"Basic x"[..]),
            ("authorization", value.as_bytes()),
        ];
        assert_eq!(read(&TokenSource::bearer(), &mixed), Err(UnreadableToken));
    }

    #[test]
    fn the_length_cap_bounds_the_whole_header() {
        let source = TokenSource::bearer();
        let at_cap = format!("Bearer {}", "a".repeat(32 - 7));
        let request = parts(&[("authorization", at_cap.as_bytes())]);
        assert!(matches!(source.read(&request, 32), Ok(Some(_))));
        let over = format!("Bearer {}", "a".repeat(32 - 6));
        let request = parts(&[("authorization", over.as_bytes())]);
        assert_eq!(source.read(&request, 32).err(), Some(UnreadableToken));
    }

    fn cookie(values: &[&[u8]]) -> Result<Option<String>, UnreadableToken> {
        let headers: Vec<_> = values.iter().map(|v| ("cookie", *v)).collect();
        read(&TokenSource::cookie("sid"), &headers)
    }

    #[test]
    fn the_named_cookie_is_found_among_others() {
        let token = Ok(Some(TOKEN.to_owned()));
        let line = format!("a=1; sid={TOKEN}; b=2");
        assert_eq!(cookie(&[line.as_bytes()]), token);
        let spaced = format!(" sid = {TOKEN} ;a=1");
        assert_eq!(cookie(&[spaced.as_bytes()]), token);
        let quoted = format!("sid=\"{TOKEN}\"");
        assert_eq!(cookie(&[quoted.as_bytes()]), token);
        // HTTP/2 may send one Cookie header per pair.
        let split = format!("sid={TOKEN}");
        assert_eq!(cookie(&[b"a=1", split.as_bytes()]), token);
        // Another cookie whose name contains ours does not match.
        assert_eq!(cookie(&[b"xsid=abc; sidx=abc"]), Ok(None));
    }

    #[test]
    fn an_absent_or_empty_cookie_is_no_token() {
        assert_eq!(cookie(&[]), Ok(None));
        assert_eq!(cookie(&[b"a=1; b"]), Ok(None));
        assert_eq!(cookie(&[b"sid="]), Ok(None));
        assert_eq!(cookie(&[b"sid=\"\""]), Ok(None));
        assert_eq!(cookie(&[b";;; ;="]), Ok(None));
    }

    #[test]
    fn a_repeated_or_invalid_cookie_is_unreadable() {
        assert_eq!(cookie(&[b"sid=abc; sid=def"]), Err(UnreadableToken));
        assert_eq!(cookie(&[b"sid=abc", b"sid=abc"]), Err(UnreadableToken));
        assert_eq!(cookie(&[b"sid=a b"]), Err(UnreadableToken));
        assert_eq!(cookie(&[b"sid=\xff\xfe"]), Err(UnreadableToken));
        assert_eq!(cookie(&[b"sid=\"abc"]), Err(UnreadableToken));
        // Bytes that are not UTF-8 in other cookies do not matter.
        assert_eq!(cookie(&[b"x=\xff; sid=abc"]), Ok(Some("abc".to_owned())));
    }

    #[test]
    fn the_length_cap_bounds_a_cookie_value() {
        let source = TokenSource::cookie("sid");
        let request = parts(&[("cookie", format!("sid={}", "a".repeat(17)).as_bytes())]);
        assert!(matches!(source.read(&request, 17), Ok(Some(_))));
        assert_eq!(source.read(&request, 16).err(), Some(UnreadableToken));
    }

    #[test]
    fn a_custom_source_is_held_to_the_cap_and_syntax() {
        let source = TokenSource::custom(|parts| {
            Ok(parts
                .headers
                .get("x-token")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()))
        });
        let read = |value: &[u8], max_len| {
            source
                .read(&parts(&[("x-token", value)]), max_len)
                .map(|t| t.map(Cow::into_owned))
        };
        assert_eq!(read(b"abc", 3), Ok(Some("abc".to_owned())));
        assert_eq!(read(b"abcd", 3), Err(UnreadableToken));
        assert_eq!(read(b"a c", 3), Err(UnreadableToken));
        assert_eq!(source.read(&parts(&[]), 3).unwrap(), None);
        let refusing = TokenSource::custom(|_| Err(UnreadableToken));
        assert_eq!(refusing.read(&parts(&[]), 3).err(), Some(UnreadableToken));
    }

    #[test]
    fn cookie_names_are_rfc_6265_tokens() {
        assert!(is_cookie_name("__Host-session"));
        for bad in ["", "a b", "a=b", "a;b", "é", "a\"b", "a,b"] {
            assert!(!is_cookie_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn trimming_handles_every_edge() {
        assert_eq!(trim(b""), b"");
        assert_eq!(trim(b" \t "), b"");
        assert_eq!(trim(b" a b\t"), b"a b");
        assert_eq!(trim_start(b"  a ", b' '), b"a ");
        assert_eq!(trim_start(b"   ", b' '), b"");
    }
}
