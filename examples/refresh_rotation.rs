//! Refresh-token rotation with reuse detection and a grace window, on the
//! in-memory store: `cargo run --example refresh_rotation`.

use std::sync::Arc;

use time::Duration;
use vaulttoken::family::RefreshFamilies;
use vaulttoken::store::{Grace, MemoryStore};
use vaulttoken::{Error, LocalKey};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let families = RefreshFamilies::builder(LocalKey::generate()?, Arc::new(MemoryStore::new()))
        .access_lifetime(Duration::minutes(15))
        .family_lifetime(Duration::days(30))
        .grace(Grace::new(Duration::seconds(10), 1))
        .build();

    let login = families.issue("alice").await?;
    println!(
        "1. signed in: family {}, generation {}",
        login.family_id, login.generation
    );
    families.verify_access(&login.access).await?;

    let next = families.refresh(&login.refresh).await?;
    println!("2. refreshed: generation {}", next.generation);

    // The response was lost; the client retries with the same token within
    // the grace window and gets the same successor.
    let retry = families.refresh(&login.refresh).await?;
    println!(
        "3. retried within the grace window: generation {} again",
        retry.generation
    );

    let later = families.refresh(&next.refresh).await?;
    println!("4. refreshed: generation {}", later.generation);

    // An attacker replays the first refresh token: reuse, the family dies.
    match families.refresh(&login.refresh).await {
        Err(err) => println!("5. the stolen first token is replayed: {err}"),
        Ok(_) => println!("5. replay accepted (this should not happen)"),
    }
    match families.verify_access(&later.access).await {
        Err(err) => println!("   and the newest access token: {err}"),
        Ok(_) => println!("   newest access token accepted (this should not happen)"),
    }
    Ok(())
}
