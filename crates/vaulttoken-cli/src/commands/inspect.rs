//! `inspect`: what a token says about itself, without a key. Everything is
//! marked UNTRUSTED (header, footer, `kid`) or UNVERIFIED (a public token's
//! payload); a local token's payload is encrypted and is not shown. With
//! `--key-file` the token is verified as well (any audience).

use serde_json::{Value, json};
use vaulttoken::footer::UntrustedFooter;
use vaulttoken::rules::RuleSet;
use vaulttoken::time::OffsetDateTime;
use vaulttoken::time::format_description::well_known::Rfc3339;
use vaulttoken::v4::{Local, Public, UntrustedToken};

use super::decode::{KeyChoice, verify_any};
use super::{claims_json, now, read_token};
use crate::args::InspectArgs;
use crate::exit::{Exit, Failure};
use crate::keys_io::KeySource;
use crate::output::Report;
use crate::times;

pub(super) fn run(args: &InspectArgs) -> Result<Report, Failure> {
    let token = read_token(args.token.as_deref())?;
    let malformed = |error: vaulttoken::Error| Failure::library("reading the token", &error);
    let (purpose, footer, message) = if token.starts_with("v4.local.") {
        let parsed = UntrustedToken::<Local>::parse(&token).map_err(malformed)?;
        ("local", parsed.untrusted_footer().to_vec(), None)
    } else if token.starts_with("v4.public.") {
        let parsed = UntrustedToken::<Public>::parse(&token).map_err(malformed)?;
        (
            "public",
            parsed.untrusted_footer().to_vec(),
            Some(parsed.untrusted_message().to_vec()),
        )
    } else {
        return Err(Failure::new(
            Exit::Invalid,
            "not a v4.local or v4.public token (only PASETO v4 is supported)",
        ));
    };
    let footer_text = String::from_utf8_lossy(&footer).into_owned();
    let kid = UntrustedFooter::new(&footer)
        .untrusted_key_id()
        .ok()
        .flatten()
        .map(str::to_owned);

    let mut text = format!(
        "version: v4 (UNTRUSTED)\npurpose: {purpose} (UNTRUSTED)\nfooter:  {} (UNTRUSTED)\nkid:     {} (UNTRUSTED)\n",
        if footer.is_empty() {
            "(none)".to_owned()
        } else {
            printable(&footer_text)
        },
        kid.as_deref()
            .map_or_else(|| "(none)".to_owned(), printable),
    );
    let mut report = json!({
        "version": "v4",
        "purpose": purpose,
        "footer": footer_text,
        "kid": kid,
        "trusted": false,
    });
    match &message {
        None => text.push_str("payload: encrypted (decrypt it with the key: vaulttoken decrypt)\n"),
        Some(message) => {
            let payload = String::from_utf8_lossy(message).into_owned();
            text.push_str(&format!("payload: {} (UNVERIFIED)\n", printable(&payload)));
            report["payload"] = Value::String(payload);
            let exp = serde_json::from_slice::<Value>(message)
                .ok()
                .and_then(|claims| claims.get("exp").and_then(Value::as_str).map(str::to_owned))
                .and_then(|exp| OffsetDateTime::parse(&exp, &Rfc3339).ok());
            if let Some(exp) = exp {
                let left = exp - now();
                let when = if left.is_negative() {
                    format!("expired {} ago", times::format_duration(-left))
                } else {
                    format!("{} left", times::format_duration(left))
                };
                text.push_str(&format!(
                    "exp:     {} ({when}) (UNVERIFIED)\n",
                    times::format_instant(exp)
                ));
                report["exp"] = Value::String(times::format_instant(exp));
                report["seconds_left"] = json!(left.whole_seconds());
            }
        }
    }
    if let Some(path) = &args.key_file {
        let choice = KeyChoice {
            key: Some(KeySource::File(path.clone())),
            ring: None,
            kek: None,
        };
        let rules = RuleSet::default().accept_any_audience();
        let verified = verify_any(&token, &choice, rules)?;
        let claims = claims_json(verified.claims())?;
        text.push_str(&format!(
            "verified: yes (any audience)\nclaims:  {claims}\n"
        ));
        report["verified"] = json!(true);
        report["claims"] = claims;
    }
    Ok(Report::new(text, report))
}

/// Untrusted text made safe for a terminal: control characters (escape
/// sequences, carriage returns, newlines) and bidirectional overrides are
/// shown escaped, never sent.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_drive_the_terminal() {
        assert_eq!(printable("plain {\"a\":1} é"), "plain {\"a\":1} é");
        assert_eq!(printable("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(printable("a\rb\nc\u{7f}\u{9b}"), "a\\rb\\nc\\u{7f}\\u{9b}");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
    }
}
