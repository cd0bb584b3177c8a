#!/usr/bin/env bash
# Instructions per call of each named operation of examples/profile.rs, under
# callgrind, with collection limited to the timed loop. Needs valgrind.
#
#   benches/callgrind.sh local-decrypt floor-local-decrypt        # 1000 calls of 248 B
#   ITERATIONS=100 LENGTH=16384 benches/callgrind.sh local-decrypt
#   benches/callgrind.sh                                          # every operation
#
# The callgrind.out files stay in $OUT (default target/callgrind) for
# `callgrind_annotate --inclusive=yes`.
set -euo pipefail

cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-1000}
LENGTH=${LENGTH:-248}
OUT=${OUT:-target/callgrind}
mkdir -p "$OUT"

# PROFILE=<binary> measures a binary built earlier (e.g. a copy of "before")
# instead of building this tree; CARGO_TARGET_DIR is honoured.
if [ -z "${PROFILE:-}" ]; then
    cargo build --release --quiet -p vaulttoken-benches --example profile
    PROFILE=${CARGO_TARGET_DIR:-target}/release/examples/profile
fi

if [ $# -eq 0 ]; then
    # The operation list is printed on a bad name; `time` is not one to count.
    mapfile -t ops < <("$PROFILE" --list 2>&1 | sed -n 's/^  \([a-z0-9-]*\)$/\1/p')
    set -- "${ops[@]}"
fi

printf '%-30s %14s\n' operation "Ir per call"
for op in "$@"; do
    file="$OUT/$op-$LENGTH.out"
    valgrind --tool=callgrind --callgrind-out-file="$file" --collect-atstart=no \
        --toggle-collect='profile::timed_loop*' "$PROFILE" "$op" "$ITERATIONS" "$LENGTH" \
        >/dev/null 2>&1
    total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
    printf '%-30s %14.0f\n' "$op" "$(echo "$total / $ITERATIONS" | bc -l)"
done
