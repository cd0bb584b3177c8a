//! Footers: text and JSON claims, reading a `kid` before verification, and limits.
//!
//! Run with `cargo run --example footers`.

use vaulttoken::footer::{Footer, FooterClaims, FooterLimits};
use vaulttoken::service::LocalService;
use vaulttoken::{Claims, Error, LocalKey, v4};

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
    let untrusted: v4::UntrustedToken<v4::Local> = token.parse()?;
    let kid = untrusted
        .untrusted_footer()
        .untrusted_key_id(&FooterLimits::default())?;
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
    let untrusted_hostile = Footer::Text(hostile).to_untrusted();
    let limits = FooterLimits::default().max_len(64 * 1024);
    match untrusted_hostile.untrusted_claims(&limits) {
        Ok(_) => println!("unexpected: a 5000-deep footer parsed"),
        Err(err) => println!("5000-deep footer refused: {err}"),
    }
    Ok(())
}
