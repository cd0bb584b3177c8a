#!/usr/bin/env bash
# Issue 24's introspection ratio in instructions (callgrind), which the
# machine's noise does not move: the raw decode's instructions against an
# introspection's, by the mirrored server, over HTTP/2 (PER_CORE_HTTP=1 for
# HTTP/1.1). Counts the server process's own instructions, not the kernel's
# (BENCHMARKS.md, "Per-core figures").
#
# Runs `per_core 8 100` with the mirrored server under callgrind, its
# counters zeroed when the `introspect-mirror` phase starts and dumped when
# it ends (the other servers run as they are), then the raw decode under
# callgrind, 1 and 801 times, with the key set and token of that run.
#
#   bash crates/vaulttoken-server/scripts/introspect-instructions.sh
#   VAULTTOKEN_SERVER_BIN=/path/to/an/older/vaulttoken-server bash …  # another build
#
# Needs valgrind, taskset, redis-server and two cores; takes about three
# minutes after the build.
set -euo pipefail

cd "$(dirname "$0")/../../.."
cargo build --release -p vaulttoken-server --bins --example per_core
TARGET=$(realpath "${CARGO_TARGET_DIR:-target}/release")
SERVER=$(realpath "${VAULTTOKEN_SERVER_BIN:-$TARGET/vaulttoken-server}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/server" <<WRAPPER
#!/usr/bin/env bash
# The mirrored server under callgrind; the first server as it is.
if [ -n "\${VAULTTOKEN_MIRROR_MAX_STALENESS_MS:-}" ]; then
  exec valgrind --tool=callgrind --callgrind-out-file="$WORK/server.%p" "$SERVER" "\$@"
fi
exec "$SERVER" "\$@"
WRAPPER
chmod +x "$WORK/server"

PER_CORE_HTTP=${PER_CORE_HTTP:-2} PER_CORE_SAVE="$WORK" VAULTTOKEN_SERVER_BIN="$WORK/server" \
  "$TARGET/examples/per_core" 8 100 | while IFS= read -r line; do
  echo "$line"
  case "$line" in
    "load average before introspect-mirror"*) callgrind_control -z >/dev/null ;;
    "load average before interleaved"*) callgrind_control -d >/dev/null ;;
  esac
done

for count in 1 801; do
  valgrind --tool=callgrind --callgrind-out-file="$WORK/decode.$count" \
    "$TARGET/examples/per_core" decode "$WORK/keyset.json" "$WORK/access.txt" "$count" >/dev/null 2>&1
done

python3 - "$WORK" <<'PYTHON'
import glob, re, subprocess, sys

work = sys.argv[1]

def annotate(path, *options):
    return subprocess.run(["callgrind_annotate", *options, path],
                          capture_output=True, text=True, check=True).stdout

def total(path):
    return int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", annotate(path))
               .group(1).replace(",", ""))

dumps = glob.glob(f"{work}/server.*.1")
if len(dumps) != 1:
    sys.exit(f"expected one dump of the mirrored server, found {dumps}")
# The introspections in the window: the calls of the key ring's decode
# from the handler (a request cut at either end adds at most a part).
calls = re.search(r">\s+\S*LiveKeys::decode::\{\{closure\}\} \((\d+)x\)",
                  annotate(dumps[0], "--tree=calling", "--inclusive=yes"))
if calls is None:
    sys.exit("no calls of LiveKeys::decode in the dump (renamed?)")
requests = int(calls.group(1))
introspection = total(dumps[0]) / requests
decode = (total(f"{work}/decode.801") - total(f"{work}/decode.1")) / 800
print(f"raw decode: {decode:,.0f} instructions a decode")
print(f"introspection with the mirror: {introspection:,.0f} instructions a request ({requests} requests)")
print(f"introspection / raw decode, in instructions: {decode / introspection:.2f} (goal at least 0.7)")
PYTHON
