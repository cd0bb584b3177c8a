//! The cost of the axum integration: a `v4.public` token decoded by the
//! service alone, and the same token sent through a `Router` whose handler
//! takes `Verified<User>` (one `oneshot` per request: building the request,
//! routing, reading the header, decoding, deserializing the claims, the
//! handler and its response), side by side in one run.
//!
//! - `decode`: `PublicService::decode`, the library's raw decode.
//! - `decode_typed`: the same plus `deserialize_claims::<User>()`, what the
//!   extractor adds on the vaulttoken side.
//! - `router_extractor`: the whole request through the router.
//!
//! The ratio `decode / router_extractor` is the share of the raw decode
//! throughput the extractor path keeps on one core. The same three paths
//! are `axum-*` operations of `examples/profile.rs`, for instruction counts.
//!
//! Run with `cargo bench -p vaulttoken-benches --bench axum`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use vaulttoken_benches::extractor::Fixture;

fn extractor(c: &mut Criterion) {
    let fixture = Fixture::new();
    let mut group = c.benchmark_group("axum");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("decode", |b| b.iter(|| fixture.decode()));
    group.bench_function("decode_typed", |b| b.iter(|| fixture.decode_typed()));
    group.bench_function("router_extractor", |b| b.iter(|| fixture.through_router()));
    group.finish();
}

criterion_group!(benches, extractor);
criterion_main!(benches);
