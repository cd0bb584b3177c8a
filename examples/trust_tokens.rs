//! Email verification, password reset and an invitation, end to end, on the
//! in-memory store: `cargo run --example trust_tokens`.

use std::sync::Arc;

use vaulttoken::error::Denial;
use vaulttoken::store::MemoryStore;
use vaulttoken::trust::{TrustKind, TrustTokens};
use vaulttoken::{Error, LocalKey};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let tokens = TrustTokens::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
        .latest_wins()
        .build();

    // 1. Email verification, bound to the address being verified.
    let email = TrustKind::EmailVerification;
    let address = b"alice@example.com";
    let link = tokens
        .issue(tokens.request(email.clone(), "user-1").bound_to(address))
        .await?;
    // A mail scanner fetches the link (GET): it checks, spends nothing.
    tokens.verify(&link, &email, Some(address)).await?;
    // The user confirms (POST): spent, once.
    tokens.consume(&link, &email, Some(address)).await?;
    let again = tokens.consume(&link, &email, Some(address)).await;
    println!(
        "1. email verified; the link again: {}",
        describe(&again.map(|_| ()))
    );

    // 2. Password reset, bound to the current password hash: the first reset
    //    changes the hash, which kills every other reset link.
    let reset = TrustKind::PasswordReset;
    let old_hash = b"$argon2id$...old";
    let first = tokens
        .issue(tokens.request(reset.clone(), "user-1").bound_to(old_hash))
        .await?;
    let second = tokens
        .issue(tokens.request(reset.clone(), "user-1").bound_to(old_hash))
        .await?;
    println!(
        "2. the older reset link, once a newer one is sent: {}",
        describe(
            &tokens
                .verify(&first, &reset, Some(old_hash))
                .await
                .map(|_| ())
        )
    );
    tokens.consume(&second, &reset, Some(old_hash)).await?;
    let new_hash = b"$argon2id$...new";
    println!(
        "   the used link against the new password hash: {}",
        describe(
            &tokens
                .verify(&second, &reset, Some(new_hash))
                .await
                .map(|_| ())
        )
    );

    // 3. An invitation carrying its organisation; revoked before use.
    let invite = TrustKind::OrgInvitation;
    let token = tokens
        .issue(
            tokens
                .request(invite.clone(), "bob@example.com")
                .claim("org", "acme"),
        )
        .await?;
    let seen = tokens.verify(&token, &invite, None).await?;
    println!(
        "3. invitation to {} checks out",
        seen.claims().custom_str("org").unwrap_or("?")
    );
    tokens.invalidate(&token, &invite, None).await?;
    println!(
        "   after it was withdrawn: {}",
        describe(&tokens.consume(&token, &invite, None).await.map(|_| ()))
    );
    Ok(())
}

fn describe(result: &Result<(), Error>) -> String {
    match result {
        Ok(()) => "accepted".to_owned(),
        Err(Error::Denied(Denial::AlreadyUsed)) => "refused: already used".to_owned(),
        Err(err) => format!("refused: {err}"),
    }
}
