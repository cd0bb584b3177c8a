//! Arbitrary text parsed as an `UntrustedToken` of both purposes: never panics,
//! at most one purpose accepts it, and what is accepted is consistent.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vaulttoken::v4;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let local = text.parse::<v4::UntrustedToken<v4::Local>>();
    let public = v4::UntrustedToken::<v4::Public>::parse(&text);
    assert!(
        local.is_err() || public.is_err(),
        "one text cannot be both a local and a public token"
    );

    if let Ok(token) = &local {
        assert!(text.starts_with("v4.local."));
        check_footer(&text, token.untrusted_footer());
        let _ = format!("{token:?}");
    }
    if let Ok(token) = &public {
        assert!(text.starts_with("v4.public."));
        check_footer(&text, token.untrusted_footer());
        let _ = format!("{token:?}");
    }
    // Error values must format without panicking.
    if let Err(error) = &local {
        let _ = format!("{error} {error:?}");
    }
    if let Err(error) = &public {
        let _ = format!("{error} {error:?}");
    }
});

/// The decoded footer is no longer than its encoding, and empty exactly when the
/// token has no footer part (an empty part is documented as malformed).
fn check_footer(text: &str, footer: &[u8]) {
    assert!(footer.len() <= text.len());
    let parts = text.split('.').count();
    assert!(parts == 3 || parts == 4, "a header and one or two parts");
    // An empty footer part ("v4.local.body.") is malformed, not an empty footer.
    assert_eq!(footer.is_empty(), parts == 3);
}
