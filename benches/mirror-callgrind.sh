#!/usr/bin/env bash
# The revocation mirror's decode cost (issue 25), in instructions per call
# under callgrind: `decode-local` (no store), `decode-local-store` (a memory
# store of 10,000 revocations), and `decode-local-mirror-10000` /
# `decode-local-mirror` (a MirroredStore that replayed 10,000 / 1,000,000
# revocations from a real redis-server), with the ratios to decode-local.
#
#   benches/mirror-callgrind.sh                 # 1000 calls each
#   ITERATIONS=200 benches/mirror-callgrind.sh
#
# It starts a redis-server on a free loopback port (no persistence), fills it
# through RedisStore::revoke (`examples/mirror.rs fill`: the store's script,
# so the change stream holds every revocation), runs callgrind with collection
# limited to the timed loop (the mirror's replay, under valgrind too, is not
# counted: it only costs wall time, about a minute for 1,000,000), and stops
# the server. Needs valgrind and redis-server. The callgrind.out files stay in
# $OUT (default target/callgrind).
set -euo pipefail

cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-1000}
OUT=${OUT:-target/callgrind}
mkdir -p "$OUT"

cargo build --release --quiet -p vaulttoken-benches --example profile --example mirror
BIN=${CARGO_TARGET_DIR:-target}/release/examples

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >"$OUT/mirror-redis.log" 2>&1 &
REDIS_PID=$!
trap 'kill "$REDIS_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done
export VAULTTOKEN_BENCH_REDIS_URL="redis://127.0.0.1:$PORT"

"$BIN/mirror" fill "$VAULTTOKEN_BENCH_REDIS_URL" 10000
"$BIN/mirror" fill "$VAULTTOKEN_BENCH_REDIS_URL" 1000000
# The token decoded is issued "now", to the second: after the store's epoch.
sleep 1

count() {
    local op=$1 file="$OUT/$1-248.out"
    valgrind --tool=callgrind --callgrind-out-file="$file" --collect-atstart=no \
        --toggle-collect='profile::timed_loop*' "$BIN/profile" "$op" "$ITERATIONS" 248 \
        >/dev/null 2>"$OUT/$op.log" || { cat "$OUT/$op.log" >&2; exit 1; }
    callgrind_annotate "$file" 2>/dev/null |
        awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }'
}

# The base is the plain decode of the mirror's own token (`iat` now):
# `decode-local-now`.
base=$(count decode-local-now)
printf '%-28s %12s %10s\n' operation "Ir per call" "÷ decode-local-now"
for op in decode-local-now decode-local decode-local-store decode-local-mirror-10000 decode-local-mirror; do
    if [ "$op" = decode-local-now ]; then total=$base; else total=$(count "$op"); fi
    printf '%-28s %12.0f %10.3f\n' "$op" "$(echo "$total / $ITERATIONS" | bc -l)" \
        "$(echo "$total / $base" | bc -l)"
done
# What the mirror said after each timed loop (every check answered from memory).
grep -h 'MirrorStatus' "$OUT"/decode-local-mirror*.log
