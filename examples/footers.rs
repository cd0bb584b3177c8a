//! Footers: text and JSON claims, reading a `kid` before verification, and limits.
//!
//! Run with `cargo run --example footers`.

use vaulttoken::footer::{Footer, FooterClaims, FooterLimits, UntrustedFooter};
use vaulttoken::service::LocalService;
use vaulttoken::{Claims, Error, LocalKey};

fn main() -> Result<(), Error> {
    let service = LocalService::builder(LocalKey::generate()?).build();
    let claims = Claims::builder().subject("user-1").build()?;

    let footer = Footer::Claims(
        FooterClaims::new()
            .with_key_id("key-2026-11")
            .with_claim("region", "eu")?,
    );
    let token = service.encode_with_footer(&claims, &footer)?;
    println!("token: {token}");

    // Before verification the footer is untrusted: good for choosing a key, nothing else.
    let kid = service.untrusted_key_id(&token)?;
    assert_eq!(kid.as_deref(), Some("key-2026-11"));
    println!("untrusted kid: {kid:?}");

    // After verification the footer is authenticated.
    let verified = service.decode_with_footer(&token, &footer)?;
    println!("verified footer: {:?}", verified.footer());

    // A text footer.
    let text = Footer::Text("tenant-7".into());
    let text_token = service.encode_with_footer(&claims, &text)?;
    println!(
        "text footer round-trips: {}",
        service.decode(&text_token)?.footer() == &text
    );

    // Limits are checked on the raw bytes before any JSON parser runs.
    let hostile = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let limits = FooterLimits::default().max_len(64 * 1024);
    let untrusted_hostile = UntrustedFooter::new(hostile.as_bytes()).with_limits(limits);
    match untrusted_hostile.untrusted_claims() {
        Ok(_) => panic!("a 5000-deep footer parsed"),
        Err(err) => println!("5000-deep footer refused: {err}"),
    }
    Ok(())
}
