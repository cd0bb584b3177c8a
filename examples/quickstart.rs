//! Issue and verify one `v4.local` and one `v4.public` token.
//!
//! Run with `cargo run --example quickstart`.

use vaulttoken::service::{LocalService, PublicService};
use vaulttoken::{Claims, LocalKey, SecretKey};

fn main() -> Result<(), vaulttoken::Error> {
    // Claims with secure defaults: iat = nbf = now, exp = now + 1 hour.
    let claims = Claims::builder()
        .issuer("auth.example")
        .subject("user-42")
        .claim("role", "admin")
        .build()?;

    // v4.local: encrypted and authenticated with a shared symmetric key.
    let local = LocalService::builder(LocalKey::generate()?).build();
    let local_token = local.encode(&claims)?;
    let opened = local.decode(&local_token)?;
    println!("v4.local token:  {local_token}");
    println!(
        "  decrypted:     sub={:?} role={:?} exp={:?}",
        opened.claims().subject(),
        opened.claims().custom_str("role"),
        opened.claims().expiration().map(|t| t.to_string()),
    );

    // v4.public: signed with a secret key; anyone with the public key verifies.
    let secret = SecretKey::generate()?;
    let verifier = PublicService::verifier(secret.public_key()).build();
    let signer = PublicService::builder(secret).build();
    let public_token = signer.encode(&claims)?;
    let verified = verifier.decode(&public_token)?;
    println!("v4.public token: {public_token}");
    println!("  verified:      sub={:?}", verified.claims().subject());

    // A token of the other purpose is refused before any cryptography.
    if let Err(refused) = verifier.decode(&local_token) {
        println!("local token given to the public verifier: {refused}");
    }
    Ok(())
}
