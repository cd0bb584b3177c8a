//! `v4.public` tokens: a signing service and a verification-only service.
//!
//! Run with `cargo run --example public_tokens`.

use vaulttoken::service::PublicService;
use vaulttoken::{Claims, Error, PublicKey, SecretKey};

fn main() -> Result<(), Error> {
    let secret = SecretKey::generate()?;
    // The verifier is configured from the public key alone, e.g. read from config.
    let public_hex = secret.public_key().to_hex();
    println!("public key: {public_hex}");
    let verifier = PublicService::verifier(PublicKey::from_hex(&public_hex)?).build();
    let signer = PublicService::builder(secret).build();

    let claims = Claims::builder()
        .issuer("auth.example")
        .subject("svc-7")
        .build()?;
    let token = signer.encode(&claims)?;
    println!("token:      {token}");
    println!("note: v4.public is signed, not encrypted; the claims are readable by anyone.");

    let verified = verifier.decode(&token)?;
    println!(
        "verified:   iss={:?} sub={:?}",
        verified.claims().issuer(),
        verified.claims().subject()
    );

    match verifier.encode(&claims) {
        Ok(_) => println!("unexpected: the verifier issued a token"),
        Err(err) => println!("verifier cannot sign: {err}"),
    }

    let impostor = PublicService::builder(SecretKey::generate()?).build();
    let forged = impostor.encode(&claims)?;
    match verifier.decode(&forged) {
        Ok(_) => println!("unexpected: a forged token verified"),
        Err(err) => println!("token from another key: {err}"),
    }
    Ok(())
}
