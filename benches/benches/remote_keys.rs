//! The hit path of remote keys: `decode_async` of a token with a known
//! `kid`, by a service with a key ring alone against the service of a
//! `RemoteKeySet` following the same ring (its staleness check runs on every
//! decode), side by side in one run.
//!
//! - `ring_alone`: `PublicService::from_ring(ring)`.
//! - `following`: `RemoteKeySet::service()` on that ring.
//!
//! The ratio `following / ring_alone` is what following a key set costs a
//! token whose key is known. The same two paths are the `remote-ring-alone`
//! and `remote-following` operations of `examples/profile.rs`, for
//! instruction counts.
//!
//! Run with `cargo bench -p vaulttoken-benches --bench remote_keys`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use vaulttoken_benches::remote::Fixture;

fn remote_keys(c: &mut Criterion) {
    let fixture = Fixture::new();
    let mut group = c.benchmark_group("remote_keys");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("ring_alone", |b| b.iter(|| fixture.ring_alone()));
    group.bench_function("following", |b| b.iter(|| fixture.following()));
    group.finish();
}

criterion_group!(benches, remote_keys);
criterion_main!(benches);
