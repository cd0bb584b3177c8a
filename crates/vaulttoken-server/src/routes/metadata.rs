//! `GET /.well-known/oauth-authorization-server`: the authorization server
//! metadata of RFC 8414, built from the issuer (`VAULTTOKEN_ISSUER`, the
//! server's public base URL).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::token::{CLIENT_CREDENTIALS_GRANT, REFRESH_GRANT, SUBJECT_GRANT};
use crate::oauth_error::OAuthError;
use crate::state::AppState;

/// The client authentication methods of every endpoint (see
/// [`crate::client_auth`]).
const AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The member that names the key set (`GET /keys`, `docs/KEYSET.md`). Not
/// `jwks_uri`: the set holds PASERK keys, not JWKs, and a JOSE client must
/// not take it for a JWK Set (RFC 8414 §2 allows members of one's own).
pub(crate) const KEY_SET_MEMBER: &str = "vaulttoken_key_set_uri";

/// The metadata document of a server whose issuer is `issuer` and whose
/// clients have the scopes `scopes` (sorted); `None` if the issuer is not
/// an `http(s)` URL without query or fragment (RFC 8414 §2), from which
/// no endpoint URL can be built.
pub(crate) fn document(issuer: &str, scopes: &[&str]) -> Option<Value> {
    let is_url = issuer.starts_with("https://") || issuer.starts_with("http://");
    if !is_url || issuer.contains(['?', '#']) {
        return None;
    }
    let base = issuer.trim_end_matches('/');
    let mut document = json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}/token"),
        "revocation_endpoint": format!("{base}/token/revoke"),
        "introspection_endpoint": format!("{base}/token/introspect"),
        KEY_SET_MEMBER: format!("{base}/keys"),
        "grant_types_supported": [SUBJECT_GRANT, REFRESH_GRANT, CLIENT_CREDENTIALS_GRANT],
        // No authorization endpoint: no response type (the member is
        // required, RFC 8414 §2).
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
    });
    if !scopes.is_empty() {
        document["scopes_supported"] = json!(scopes);
    }
    Some(document)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3), cached as
/// long as the key set is (`VAULTTOKEN_KEYS_MAX_AGE_SECS`). 404
/// `invalid_request` if the issuer is not a URL.
pub(crate) async fn authorization_server(State(state): State<AppState>) -> Response {
    let Some(document) = document(&state.issuer, &state.clients.all_scopes()) else {
        return OAuthError::not_found(
            "no metadata: VAULTTOKEN_ISSUER is not the server's https URL",
        )
        .into_response();
    };
    let mut response = axum::Json(document).into_response();
    if let Ok(cache) = HeaderValue::from_str(&format!("public, max-age={}", state.keys_max_age)) {
        response.headers_mut().insert(header::CACHE_CONTROL, cache);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_is_built_from_the_issuer() {
        for issuer in [
            "https://auth.example/tenant",
            "https://auth.example/tenant/",
        ] {
            let document = document(issuer, &["read", "write"]).unwrap();
            assert_eq!(document["issuer"], issuer);
            let cases = [
                ("token_endpoint", "/token"),
                ("revocation_endpoint", "/token/revoke"),
                ("introspection_endpoint", "/token/introspect"),
                (KEY_SET_MEMBER, "/keys"),
            ];
            for (member, path) in cases {
                assert_eq!(
                    document[member],
                    format!("https://auth.example/tenant{path}"),
                    "{member}"
                );
            }
            assert_eq!(document["scopes_supported"], json!(["read", "write"]));
        }
        let plain = document("http://127.0.0.1:8080", &[]).unwrap();
        assert_eq!(plain["token_endpoint"], "http://127.0.0.1:8080/token");
        assert!(plain.get("scopes_supported").is_none());
    }

    #[test]
    fn an_issuer_that_is_no_url_gives_no_document() {
        for issuer in [
            "vaulttoken",
            "urn:example:issuer",
            "ftp://auth.example",
            "https://auth.example/?tenant=1",
            "https://auth.example/#x",
        ] {
            assert!(document(issuer, &[]).is_none(), "{issuer}");
        }
    }
}
