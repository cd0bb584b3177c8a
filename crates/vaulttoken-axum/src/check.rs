//! Claims checks: what a valid token must also say to reach a handler (a
//! scope, a role). A refusal is a 403 `insufficient_scope`.

use vaulttoken::Claims;
use vaulttoken::service::VerifiedToken;

/// A check a verified token must pass, named by a type so an extractor can
/// carry it: `Verified<MyClaims, Admin>`. Refused tokens are answered with
/// 403 and `WWW-Authenticate: Bearer error="insufficient_scope"`.
///
/// `()` accepts every verified token, and is the extractors' default.
///
/// # Examples
///
/// ```
/// use vaulttoken::service::VerifiedToken;
/// use vaulttoken_axum::{ClaimsCheck, has_scope};
///
/// /// Tokens with the `admin` role.
/// struct Admin;
///
/// impl ClaimsCheck for Admin {
///     fn check(token: &VerifiedToken) -> bool {
///         token.claims().custom_str("role") == Some("admin")
///     }
/// }
///
/// /// Tokens whose `scope` includes `orders:write`.
/// struct WriteOrders;
///
/// impl ClaimsCheck for WriteOrders {
///     fn check(token: &VerifiedToken) -> bool {
///         has_scope(token.claims(), "orders:write")
///     }
/// }
/// ```
pub trait ClaimsCheck: Send + Sync + 'static {
    /// Whether the token may pass.
    fn check(token: &VerifiedToken) -> bool;
}

impl ClaimsCheck for () {
    fn check(_: &VerifiedToken) -> bool {
        true
    }
}

/// Whether the claims grant `scope`: the `scope` claim is a space-separated
/// string (RFC 8693 §4.2, RFC 9068) or an array of strings, and one entry is
/// exactly `scope`. An empty `scope` is never granted.
///
/// # Examples
///
/// ```
/// use vaulttoken::Claims;
/// use vaulttoken::serde_json::json;
/// use vaulttoken_axum::has_scope;
///
/// let spaced = Claims::builder().claim("scope", "orders:read orders:write").build()?;
/// assert!(has_scope(&spaced, "orders:write"));
/// assert!(!has_scope(&spaced, "orders"));
/// let listed = Claims::builder().claim("scope", json!(["orders:read"])).build()?;
/// assert!(has_scope(&listed, "orders:read"));
/// assert!(!has_scope(&Claims::builder().build()?, "orders:read"));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[must_use]
pub fn has_scope(claims: &Claims, scope: &str) -> bool {
    if scope.is_empty() {
        return false;
    }
    match claims.custom("scope") {
        Some(serde_json::Value::String(scopes)) => scopes.split(' ').any(|s| s == scope),
        Some(serde_json::Value::Array(scopes)) => scopes.iter().any(|s| s.as_str() == Some(scope)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaulttoken::serde_json::json;

    fn with_scope(scope: serde_json::Value) -> Claims {
        Claims::builder().claim("scope", scope).build().unwrap()
    }

    #[test]
    fn a_scope_is_granted_by_an_exact_entry_of_a_string_or_an_array() {
        let spaced = with_scope(json!("orders:read  orders:write"));
        assert!(has_scope(&spaced, "orders:read") && has_scope(&spaced, "orders:write"));
        assert!(!has_scope(&spaced, "orders") && !has_scope(&spaced, "orders:read orders:write"));
        let listed = with_scope(json!(["orders:read", 7, "profile"]));
        assert!(has_scope(&listed, "orders:read") && has_scope(&listed, "profile"));
        assert!(!has_scope(&listed, "orders:write") && !has_scope(&listed, "7"));
    }

    #[test]
    fn no_scope_claim_an_empty_scope_or_another_type_grants_nothing() {
        assert!(!has_scope(
            &Claims::builder().build().unwrap(),
            "orders:read"
        ));
        assert!(!has_scope(&with_scope(json!("orders:read")), ""));
        assert!(!has_scope(&with_scope(json!(" ")), ""));
        assert!(!has_scope(
            &with_scope(json!({"orders:read": true})),
            "orders:read"
        ));
        assert!(!has_scope(&with_scope(json!(true)), "true"));
    }
}
