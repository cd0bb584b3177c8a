#!/usr/bin/env bash
# Runs every cargo-fuzz target (or only those named as arguments) for
# FUZZ_SECONDS seconds each (default 30), starting from a temporary copy of its
# checked-in seeds in fuzz/seeds/<target>/ and the inputs that once crashed it
# in fuzz/regressions/<target>/, so the checked-in files stay small.
#
#   fuzz/run.sh                    # all targets, 30 s each
#   fuzz/run.sh footer_parse claims_parse paserk_parse key_ring_import
#   FUZZ_SECONDS=300 fuzz/run.sh roundtrip
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the installed
# stable toolchain accept them. A crash leaves its input in
# fuzz/artifacts/<target>/ (gitignored); replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# Exits non-zero if any target crashed. "All targets" are the [[bin]] entries of
# fuzz/Cargo.toml (`cargo fuzz list`), so a new target needs no change here.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-30}"

if ! cargo fuzz --help >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Build every target once up front, so the time limits are spent fuzzing.
cargo fuzz build

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=()
for target in "${targets[@]}"; do
    corpus="$scratch/$target"
    mkdir -p "$corpus"
    if [ -d "seeds/$target" ]; then
        cp -R "seeds/$target/." "$corpus/"
    fi
    # Inputs that once crashed a target are replayed first, as seeds.
    if [ -d "regressions/$target" ]; then
        cp -R "regressions/$target/." "$corpus/"
    fi
    echo "=== $target: ${seconds}s from $(find "$corpus" -type f | wc -l) seeds" >&2
    if cargo fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -print_final_stats=1; then
        echo "=== $target: ok" >&2
    else
        echo "=== $target: FAILED (a build error above, or a crash saved in fuzz/artifacts/$target/)" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets that failed: ${failed[*]}" >&2
    exit 1
fi
echo "all fuzz targets ran ${seconds}s without a crash: ${targets[*]}" >&2
