//! Scopes (RFC 6749 §3.3): which scopes a client may ask for, its default
//! set, and the scope a token request gets.
//!
//! A client is configured with the scopes it may ask for
//! (`VAULTTOKEN_CLIENT_SCOPES`) and, optionally, its default set
//! (`VAULTTOKEN_CLIENT_DEFAULT_SCOPES`, else all of its scopes). A request's
//! `scope` must be a subset of the client's scopes (400 `invalid_scope`);
//! without one, the default set. The grant is written in the client's
//! configured order, each scope once: the access token's `scope` claim,
//! and, for a refresh family, the refresh token's grant, which a refresh
//! may narrow and never widen (RFC 6749 §6, see
//! [`RefreshFamilies::refresh_scoped`](vaulttoken::family::RefreshFamilies::refresh_scoped)).

use crate::oauth_error::OAuthError;

/// The most scopes a client may have.
pub(crate) const MAX_SCOPES: usize = 32;
/// The longest scope token, in bytes.
pub(crate) const MAX_SCOPE_LEN: usize = 64;
/// The longest `scope` a request may send, in bytes: every scope of a
/// client, once, with its separators (a longer one cannot be a subset).
pub(crate) const MAX_SCOPE_PARAM_LEN: usize = MAX_SCOPES * (MAX_SCOPE_LEN + 1);

/// Whether `scope` may be configured: a scope token of RFC 6749 §3.3
/// (`%x21 / %x23-5B / %x5D-7E`: visible ASCII but `"` and `\`), 1 to
/// [`MAX_SCOPE_LEN`] bytes, without `,` or `=` (the configuration's
/// separators).
pub(crate) fn valid_scope(scope: &str) -> bool {
    (1..=MAX_SCOPE_LEN).contains(&scope.len())
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E) && b != b',' && b != b'=')
}

/// The scope granted to a request of a client allowed `allowed`, whose
/// default set is `default`, asking for `asked` (space-separated): the
/// scopes asked for, which must all be allowed; none asked (absent or
/// blank): the default set. Written in the order of `allowed`, each once;
/// `None` when that is empty (a token without `scope`).
///
/// # Errors
///
/// 400 `invalid_scope` naming the field `scope`, for a scope the client may
/// not ask for, or a `scope` over [`MAX_SCOPE_PARAM_LEN`] bytes.
pub(crate) fn choose(
    allowed: &[String],
    default: &[String],
    asked: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let asked = check_asked(asked)?;
    let wanted: Vec<&str> = match &asked {
        Some(asked) => {
            if !asked
                .iter()
                .all(|token| allowed.iter().any(|known| known == token))
            {
                return Err(OAuthError::invalid_scope(
                    "scope: not within the scopes this client may ask for",
                ));
            }
            asked.clone()
        }
        None => default.iter().map(String::as_str).collect(),
    };
    let granted: Vec<&str> = allowed
        .iter()
        .map(String::as_str)
        .filter(|scope| wanted.contains(scope))
        .collect();
    Ok((!granted.is_empty()).then(|| granted.join(" ")))
}

/// The scope tokens of a request's `scope`; `None` if absent or blank.
///
/// # Errors
///
/// 400 `invalid_scope` for a `scope` over [`MAX_SCOPE_PARAM_LEN`] bytes.
pub(crate) fn check_asked(asked: Option<&str>) -> Result<Option<Vec<&str>>, OAuthError> {
    let Some(asked) = asked else {
        return Ok(None);
    };
    if asked.len() > MAX_SCOPE_PARAM_LEN {
        return Err(OAuthError::invalid_scope("scope: too long"));
    }
    let tokens: Vec<&str> = asked.split_ascii_whitespace().collect();
    Ok((!tokens.is_empty()).then_some(tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_request_gets_a_subset_in_the_configured_order_or_the_default() {
        let allowed = strings(&["read", "write", "admin"]);
        let default = strings(&["read"]);
        let cases = [
            (None, Some("read")),
            (Some(""), Some("read")),
            (Some(" \t"), Some("read")),
            (Some("admin read"), Some("read admin")),
            (Some("write write"), Some("write")),
            (Some("read  write admin"), Some("read write admin")),
        ];
        for (asked, expected) in cases {
            assert_eq!(
                choose(&allowed, &default, asked).unwrap().as_deref(),
                expected,
                "{asked:?}"
            );
        }
        assert_eq!(choose(&allowed, &[], None).unwrap(), None);
        assert_eq!(choose(&[], &[], None).unwrap(), None);
        for asked in ["delete", "read delete", "READ", "rea", "read,write"] {
            let refused = choose(&allowed, &default, Some(asked)).unwrap_err();
            assert_eq!(
                (refused.status().as_u16(), refused.code()),
                (400, "invalid_scope"),
                "{asked:?}"
            );
        }
        assert_eq!(
            choose(&[], &[], Some("read")).unwrap_err().code(),
            "invalid_scope"
        );
    }

    #[test]
    fn an_oversized_scope_is_refused_unread() {
        // The documented bound: 32 scopes of 64 bytes, each with a separator.
        assert_eq!(MAX_SCOPE_PARAM_LEN, 32 * 65);
        let allowed = strings(&["read"]);
        let at_limit = format!("read{}", " ".repeat(MAX_SCOPE_PARAM_LEN - 4));
        assert_eq!(
            choose(&allowed, &[], Some(&at_limit)).unwrap().as_deref(),
            Some("read")
        );
        let over = format!("{at_limit} ");
        let refused = choose(&allowed, &[], Some(&over)).unwrap_err();
        assert_eq!(
            (refused.code(), refused.description()),
            ("invalid_scope", "scope: too long")
        );
    }

    #[test]
    fn a_scope_token_is_visible_ascii_without_quote_backslash_or_separators() {
        for good in [
            "read",
            "api:read",
            "https://api.example/read",
            "a!#$%&'()*+-./;<>?@[]^_`{|}~",
            &"s".repeat(MAX_SCOPE_LEN),
        ] {
            assert!(valid_scope(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a\"b",
            "a\\b",
            "a,b",
            "a=b",
            "é",
            "a\u{7f}",
            "a\tb",
            &"s".repeat(MAX_SCOPE_LEN + 1),
        ] {
            assert!(!valid_scope(bad), "{bad:?}");
        }
    }
}
