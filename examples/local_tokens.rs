//! `v4.local` tokens through a `LocalService`: issue, decode, and what gets refused.
//!
//! Run with `cargo run --example local_tokens`.

use time::Duration;
use vaulttoken::footer::Footer;
use vaulttoken::service::LocalService;
use vaulttoken::{Claims, Error, LocalKey};

fn main() -> Result<(), Error> {
    let key = LocalKey::generate()?;
    println!("key (Debug never shows the secret): {key:?}");
    let service = LocalService::builder(key).build();

    let claims = Claims::builder()
        .subject("user-42")
        .random_token_id()
        .expires_in(Duration::minutes(15))
        .claim("scopes", ["read", "write"])
        .build()?;
    let token = service.encode(&claims)?;
    println!("token:      {token}");

    let verified = service.decode(&token)?;
    println!("subject:    {:?}", verified.claims().subject());
    println!("jti:        {:?}", verified.claims().token_id());
    println!("scopes:     {:?}", verified.claims().custom_array("scopes"));

    // An implicit assertion binds a token to a context without sending it.
    let bound = service.encode_with(&claims, &Footer::None, b"session-abc")?;
    println!(
        "bound to session-abc, decoded with it: {}",
        service.decode_with(&bound, None, b"session-abc").is_ok()
    );
    println!("decoded without it: {}", describe(service.decode(&bound)));

    // Any change to a token makes it invalid.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap_or_default();
    println!("tampered:   {}", describe(service.decode(&tampered)));

    // Another key cannot read it.
    let other = LocalService::builder(LocalKey::generate()?).build();
    println!("other key:  {}", describe(other.decode(&token)));
    Ok(())
}

fn describe<T>(result: Result<T, Error>) -> String {
    match result {
        Ok(_) => "accepted".to_owned(),
        Err(err) => format!("refused ({err})"),
    }
}
