#!/usr/bin/env bash
# v4.local encrypt at every benchmarked size, as ratios: vaulttoken ÷ floor and
# vaulttoken ÷ the fastest peer, all operations of one size from one binary.
#
#   benches/encrypt-sizes.sh              # instructions per call (callgrind)
#   MODE=time benches/encrypt-sizes.sh    # wall clock: best of 15 interleaved rounds
#   PROFILE=path/to/profile benches/encrypt-sizes.sh   # a binary built earlier
#
# Prints a Markdown table. Needs valgrind for the instruction counts.
set -euo pipefail

cd "$(dirname "$0")/.."
MODE=${MODE:-ir}
SIZES=${SIZES:-100 248 1024 16384 262144}
OPS="local-encrypt floor-local-encrypt pasetors-local-encrypt rusty-local-encrypt paseto-v4-local-encrypt"

if [ -z "${PROFILE:-}" ]; then
    cargo build --release --quiet -p vaulttoken-benches --example profile
    PROFILE=${CARGO_TARGET_DIR:-target}/release/examples/profile
fi
export PROFILE

# Fewer calls at the large sizes, as in BENCHMARKS.md.
iterations() {
    case $1 in
    262144) echo 10 ;;
    16384) echo 100 ;;
    *) echo 1000 ;;
    esac
}

if [ "$MODE" = time ]; then
    unit="ns per call"
else
    unit="Ir per call"
fi
echo "| size | vaulttoken | floor | ÷ floor | pasetors | rusty_paseto | paseto-v4 | ÷ fastest peer |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
    n=$(iterations "$size")
    if [ "$MODE" = time ]; then
        # `profile time` runs every operation whose name contains the filter,
        # interleaved, and prints the best of 15 rounds.
        results=$("$PROFILE" time "$((n * 3))" "$size" local-encrypt 2>/dev/null)
    else
        results=$(ITERATIONS=$n LENGTH=$size benches/callgrind.sh $OPS | tail -n +2)
    fi
    echo "$results" | awk -v size="$size" '
        { value[$1] = $2 }
        END {
            vt = value["local-encrypt"]; floor = value["floor-local-encrypt"]
            p = value["pasetors-local-encrypt"]; r = value["rusty-local-encrypt"]
            v = value["paseto-v4-local-encrypt"]
            fastest = p; if (r < fastest) fastest = r; if (v < fastest) fastest = v
            printf "| %d | %.0f | %.0f | %.3f | %.0f | %.0f | %.0f | %.3f |\n",
                size, vt, floor, vt / floor, p, r, v, vt / fastest
        }'
done
echo
echo "($unit; ratios are vaulttoken ÷ other, below 1 is faster.)"
