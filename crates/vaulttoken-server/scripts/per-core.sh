#!/usr/bin/env bash
# Per-core figures (issue 24; BENCHMARKS.md, "Per-core figures"): builds the
# release server binary and the `per_core` example, then runs it RUNS times
# (default 1), printing the load average before each run. The example pins
# the server (and then a bare axum server and the raw decode) to one core
# and itself and redis-server to the other with `taskset`; see the top of
# crates/vaulttoken-server/examples/per_core.rs.
#
#   bash crates/vaulttoken-server/scripts/per-core.sh [CLIENTS [REQUESTS]]
#   RUNS=3 PER_CORE_SERVER_CPU=0 PER_CORE_LOAD_CPU=1 bash crates/vaulttoken-server/scripts/per-core.sh 64 500
#
# Needs Linux, taskset (util-linux), redis-server and two cores.
set -euo pipefail

cd "$(dirname "$0")/../../.."
cargo build --release -p vaulttoken-server --bins --example per_core
TARGET=${CARGO_TARGET_DIR:-target}/release
# Each run four times: over HTTP/1.1 and over HTTP/2 (PER_CORE_HTTP in
# per_core.rs), each with the load generator sleeping while it waits (as any
# client), then spinning (the server not charged for waking it; see
# PER_CORE_LOAD_POLL). HTTPS="1" or POLLS="sleep" runs one of each only.
for run in $(seq 1 "${RUNS:-1}"); do
  for http in ${HTTPS:-1 2}; do
    for poll in ${POLLS:-sleep spin}; do
      echo "== run $run, HTTP/$http, load generator: $poll, $(date -u +%FT%TZ), load average $(cat /proc/loadavg)"
      PER_CORE_HTTP=$http PER_CORE_LOAD_POLL=$poll VAULTTOKEN_SERVER_BIN="${VAULTTOKEN_SERVER_BIN:-$TARGET/vaulttoken-server}" "$TARGET/examples/per_core" "$@"
    done
  done
done
