//! Audiences: which `aud` a client's access tokens may name, the one a
//! token request gets, and how a refresh family keeps it.
//!
//! A client is configured with the audiences it may ask for
//! (`VAULTTOKEN_CLIENT_AUDIENCES`); the first is its default. A family is
//! started for one audience, and every access token of the family names
//! it, refresh after refresh. The refresh token carries the audience in its
//! implicit assertion (a strict value of the binding the family is sealed
//! with, [`AUDIENCE_BINDING`]): it is authenticated with the token, and a
//! refresh token decodes only with the audience it was issued for. A
//! refresh request names no audience, so the server tries the client's
//! audiences in turn (at most [`MAX_AUDIENCES`] + 1 decodes; a decode that
//! fails changes nothing). The access token's implicit assertion stays the
//! end user's context alone (`strict` binding), so resource servers verify
//! it as before.
//!
//! The family's [`AccessIssuer`](vaulttoken::family::AccessIssuer) learns
//! the audience and the end user's binding of the token it issues from
//! [`issuing`], the scope the handler runs the family's call in.

use std::future::Future;

use vaulttoken::Error;
use vaulttoken::binding::{Binding, ImplicitAssertion};

use crate::oauth_error::OAuthError;

/// The most audiences a client may have: the bound on the decodes of one
/// refresh.
pub(crate) const MAX_AUDIENCES: usize = 8;
/// The longest audience, in bytes.
pub(crate) const MAX_AUDIENCE_LEN: usize = 256;
/// The name of the audience in the binding a family is sealed with. The
/// end user's context never holds it (its names are `ip`, `user_agent`
/// and `device`).
pub(crate) const AUDIENCE_BINDING: &str = "aud";

/// Whether `audience` may be configured: 1 to [`MAX_AUDIENCE_LEN`] bytes,
/// no whitespace, control character or `,` (the configuration's
/// separators).
pub(crate) fn valid_audience(audience: &str) -> bool {
    (1..=MAX_AUDIENCE_LEN).contains(&audience.len())
        && !audience
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
}

/// The audience of a token request from a client allowed `allowed`: the
/// one `asked`, which must be allowed; none asked: the client's first, or
/// none if it has none.
///
/// # Errors
///
/// 400 `invalid_target` (RFC 8707) naming the field `audience`, for an
/// audience the client may not ask for.
pub(crate) fn choose(
    allowed: &[String],
    asked: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    match asked {
        Some(asked) if allowed.iter().any(|known| known == asked) => Ok(Some(asked.to_owned())),
        Some(_) => Err(OAuthError::invalid_target(
            "audience: not an audience this client may ask for",
        )),
        None => Ok(allowed.first().cloned()),
    }
}

/// The audiences a refresh token of a client allowed `allowed` may have
/// been issued for, in the order they are tried: each allowed audience,
/// then none (a token issued before the client had audiences).
pub(crate) fn candidates(allowed: &[String]) -> impl Iterator<Item = Option<&str>> {
    allowed
        .iter()
        .map(|audience| Some(audience.as_str()))
        .chain([None])
}

/// The binding a family is sealed with: the end user's `context` and, if
/// any, the `audience` as a strict value; `None` when neither is there
/// (an unbound family, as without audiences).
pub(crate) fn sealing(context: Option<&Binding>, audience: Option<&str>) -> Option<Binding> {
    match (context, audience) {
        (context, Some(audience)) => Some(
            context
                .cloned()
                .unwrap_or_default()
                .strict(AUDIENCE_BINDING, audience),
        ),
        (Some(context), None) => Some(context.clone()),
        (None, None) => None,
    }
}

/// The outcome of `attempt` for the first of the client's audience
/// [`candidates`] whose sealing decodes the presented refresh token: each
/// try gets the sealing of one candidate and runs in its [`issuing`]
/// scope; a try that fails to decode ([`Error::Verification`]) changed
/// nothing, and the next is made. All fail: [`Error::Verification`].
pub(crate) async fn each_candidate<T, Fut>(
    allowed: &[String],
    context: Option<&Binding>,
    mut attempt: impl FnMut(Option<Binding>) -> Fut,
) -> Result<T, Error>
where
    Fut: Future<Output = Result<T, Error>>,
{
    let mut outcome = Err(Error::Verification);
    for audience in candidates(allowed) {
        let scope = Issuing {
            audience: audience.map(str::to_owned),
            context: context.cloned(),
        };
        outcome = issuing(scope, attempt(sealing(context, audience))).await;
        if !matches!(outcome, Err(Error::Verification)) {
            break;
        }
    }
    outcome
}

/// What the access token issued in the current task is for.
#[derive(Debug, Clone)]
pub(crate) struct Issuing {
    /// Its `aud`, if any.
    pub(crate) audience: Option<String>,
    /// The end user's binding, without the audience: the access token's
    /// implicit assertion comes from it.
    pub(crate) context: Option<Binding>,
}

impl Issuing {
    /// Whether this scope is the one of a family sealed with `binding`:
    /// the end user's context and the audience together give the same
    /// implicit assertion (both absent: an unbound family).
    ///
    /// # Errors
    ///
    /// [`Error::Binding`] for a binding that cannot be used.
    pub(crate) fn seals(&self, binding: Option<&Binding>) -> Result<bool, Error> {
        let ours = sealing(self.context.as_ref(), self.audience.as_deref());
        Ok(assertion_of(ours.as_ref())? == assertion_of(binding)?)
    }
}

/// The implicit assertion of a binding, if any.
fn assertion_of(binding: Option<&Binding>) -> Result<Option<ImplicitAssertion>, Error> {
    binding.map(Binding::implicit_assertion).transpose()
}

tokio::task_local! {
    static ISSUING: Issuing;
}

/// Runs `call` (a family's issue or refresh) with `issuing` for the access
/// token it issues.
pub(crate) async fn issuing<F: Future>(issuing: Issuing, call: F) -> F::Output {
    ISSUING.scope(issuing, call).await
}

/// What the access token issued now is for; `None` outside [`issuing`].
pub(crate) fn current() -> Option<Issuing> {
    ISSUING.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["https://api.example".to_owned(), "files".to_owned()]
    }

    #[test]
    fn the_asked_audience_must_be_allowed_and_none_asked_is_the_first() {
        assert_eq!(
            choose(&allowed(), Some("files")).unwrap().as_deref(),
            Some("files")
        );
        assert_eq!(
            choose(&allowed(), None).unwrap().as_deref(),
            Some("https://api.example")
        );
        assert_eq!(choose(&[], None).unwrap(), None);
        for asked in ["other", "", "FILES"] {
            let refused = choose(&allowed(), Some(asked)).unwrap_err();
            assert_eq!(refused.code(), "invalid_target");
            assert_eq!(refused.status(), 400);
        }
        assert_eq!(
            choose(&[], Some("files")).unwrap_err().code(),
            "invalid_target"
        );
    }

    #[test]
    fn candidates_are_each_allowed_audience_then_none() {
        let allowed = allowed();
        let tried: Vec<Option<&str>> = candidates(&allowed).collect();
        assert_eq!(tried, [Some("https://api.example"), Some("files"), None]);
        assert_eq!(candidates(&[]).collect::<Vec<_>>(), [None]);
    }

    #[test]
    fn an_audience_is_short_printable_and_has_no_separator() {
        assert!(valid_audience("https://api.example/v1?x=1"));
        assert!(valid_audience(&"a".repeat(MAX_AUDIENCE_LEN)));
        for bad in [
            "",
            "a b",
            "a,b",
            "a\u{7f}",
            "a\u{85}",
            &"a".repeat(MAX_AUDIENCE_LEN + 1),
        ] {
            assert!(!valid_audience(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_audience_is_a_strict_value_of_the_sealing_beside_the_context() {
        let assertion = |binding: Option<Binding>| binding.map(|b| b.implicit_assertion().unwrap());
        assert!(sealing(None, None).is_none());
        let device = Binding::new().strict("device", "d-1");
        assert_eq!(
            assertion(sealing(Some(&device), None)),
            assertion(Some(device.clone()))
        );
        let api = sealing(Some(&device), Some("api"));
        assert_eq!(
            assertion(api.clone()),
            assertion(Some(device.clone().strict(AUDIENCE_BINDING, "api")))
        );
        assert_ne!(
            assertion(api),
            assertion(sealing(Some(&device), Some("files")))
        );
        assert_eq!(
            assertion(sealing(None, Some("api"))),
            assertion(Some(Binding::new().strict(AUDIENCE_BINDING, "api")))
        );
    }

    #[test]
    fn a_scope_seals_only_the_family_binding_of_its_context_and_audience() {
        let device = Binding::new().strict("device", "d-1");
        let scope = |audience: Option<&str>, context: Option<&Binding>| Issuing {
            audience: audience.map(str::to_owned),
            context: context.cloned(),
        };
        let api = scope(Some("api"), Some(&device));
        assert!(
            api.seals(sealing(Some(&device), Some("api")).as_ref())
                .unwrap()
        );
        assert!(
            !api.seals(sealing(Some(&device), Some("files")).as_ref())
                .unwrap()
        );
        assert!(!api.seals(Some(&device)).unwrap());
        assert!(!api.seals(None).unwrap());
        let unbound = scope(None, None);
        assert!(unbound.seals(None).unwrap());
        assert!(!unbound.seals(Some(&Binding::new())).unwrap());
        assert!(!unbound.seals(sealing(None, Some("api")).as_ref()).unwrap());
        let other_device = Binding::new().strict("device", "d-2");
        assert!(
            !scope(None, Some(&device))
                .seals(Some(&other_device))
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_issuing_scope_is_seen_inside_the_call_only() {
        assert!(current().is_none());
        let scope = Issuing {
            audience: Some("api".to_owned()),
            context: None,
        };
        let seen = issuing(scope, async {
            tokio::task::yield_now().await;
            current().and_then(|issuing| issuing.audience)
        })
        .await;
        assert_eq!(seen.as_deref(), Some("api"));
        assert!(current().is_none());
    }
}
