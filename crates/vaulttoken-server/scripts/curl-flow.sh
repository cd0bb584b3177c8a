#!/usr/bin/env bash
# The documented curl flow (docs/API.md) against a live vaulttoken-server and
# a real redis-server, both on loopback ports, both stopped at the end:
# issue, introspect (also over HTTP/2, prior knowledge), refresh, reuse (invalid_grant, family revoked), revoke,
# introspect (active: false), while a real Prometheus scrapes the server's
# GET /metrics every second (its HTTP API then answers the counters the flow
# moved: tokens issued, refresh reuse; and readiness), the key set (docs/KEYSET.md: issuer, ETag,
# 304), rotate, the key set again, and a server token verified from it by
# pyseto (tests/interop/keyset_reader.py) while a forged one is refused;
# then context binding
# on a second instance (same Redis, same KEK) in strict mode: a bound pair
# works in its context and its network prefix, not on another device, not
# without a context, and a refresh from elsewhere burns nothing; then OAuth
# on the wire as stock clients speak it (curl -u id:secret --data-urlencode):
# the metadata document, client_credentials, form bodies with Basic, scopes
# narrowed by a refresh and never widened, revocation, and the errors.
#
#   cargo build -p vaulttoken-server
#   bash crates/vaulttoken-server/scripts/curl-flow.sh [path/to/vaulttoken-server]
#
# Needs curl, python3 (JSON) with pyseto (as .ci/run installs it),
# redis-server and prometheus (Debian's package; .ci/run installs both).
set -euo pipefail

BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/vaulttoken-server}
READER="$(cd "$(dirname "$0")/../../.." && pwd)/tests/interop/keyset_reader.py"
WORK=$(mktemp -d)
REDIS_PID=
SERVER_PID=
STRICT_PID=
PROM_PID=
cleanup() {
  [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$STRICT_PID" ] && kill "$STRICT_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { python3 -c 'import json, sys; v = json.load(sys.stdin); print(eval("v" + sys.argv[1]))' "$1"; }
# The kid of the active key of a key set, and the status of a key in it.
active_kid() { python3 -c 'import json, sys; print(*[k["kid"] for k in json.load(sys.stdin)["keys"] if k["status"] == "active"])'; }
status_of() { python3 -c 'import json, sys; print(*[k["status"] for k in json.load(sys.stdin)["keys"] if k["kid"] == sys.argv[1]])' "$1"; }
etag_of() { curl -s -D - -o /dev/null "$1" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }'; }
expect() { # expect NAME ACTUAL WANTED
  if [ "$2" != "$3" ]; then echo "FAIL $1: got '$2', want '$3'" >&2; exit 1; fi
  echo "ok   $1"
}

REDIS_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
  --maxmemory-policy noeviction --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!

PORT=$(free_port)
B=http://127.0.0.1:$PORT
J='content-type: application/json'
SECRET=web-secret-0123456789
ADMIN=admin-secret-0123456789abcdefghijklmnop
ISSUER=https://auth.curl-flow.example
C="\"client_id\":\"web\",\"client_secret\":\"$SECRET\""
KEK="k4.local.$(python3 -c 'import os, base64; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')"

for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

# start_server PORT KEY_FILE LOG [VAR=value …]: an instance on Redis.
start_server() {
  local port=$1 file=$2 log=$3
  shift 3
  env -i PATH="$PATH" \
    VAULTTOKEN_LISTEN="127.0.0.1:$port" \
    VAULTTOKEN_KEYRING_FILE="$file" VAULTTOKEN_KEYRING_CREATE=true \
    VAULTTOKEN_KEK="$KEK" VAULTTOKEN_CLIENTS="web:$SECRET" VAULTTOKEN_ADMIN_SECRET="$ADMIN" \
    VAULTTOKEN_ISSUER="$ISSUER" \
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT" "$@" \
    "$BIN" >"$log" 2>&1 &
}
wait_healthy() {
  for _ in $(seq 100); do curl -sf "$1/healthz" >/dev/null && break; sleep 0.1; done
}

start_server "$PORT" "$WORK/keys.json" "$WORK/server.log" \
  VAULTTOKEN_CLIENT_SCOPES="web=read write" VAULTTOKEN_CLIENT_DEFAULT_SCOPES="web=read"
SERVER_PID=$!
wait_healthy "$B"
expect healthz "$(curl -s "$B/healthz" | field '["status"]')" ok
expect readyz "$(curl -s "$B/readyz" | field '["status"]')" ready

# A real Prometheus scrapes the instance's GET /metrics every second, from a
# generated configuration, into a temporary storage directory.
PROM_PORT=$(free_port)
P=http://127.0.0.1:$PROM_PORT
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: vaulttoken
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YAML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
for _ in $(seq 100); do curl -sf "$P/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
# prom_value QUERY: the value of the query's first series, through
# Prometheus's HTTP API (empty if none).
prom_value() {
  curl -s --get "$P/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
# prom_expect NAME QUERY WANTED: waits (at most 20 s) until Prometheus has
# scraped the value, then checks it.
prom_expect() {
  local got=
  for _ in $(seq 100); do
    got=$(prom_value "$2")
    [ "$got" = "$3" ] && break
    sleep 0.2
  done
  expect "$1" "$got" "$3"
}

# Issue.
PAIR=$(curl -s -X POST "$B/token" -H "$J" -d "{$C,\"subject\":\"alice\"}")
expect token_type "$(echo "$PAIR" | field '["token_type"]')" Bearer
ACCESS=$(echo "$PAIR" | field '["access_token"]')
REFRESH=$(echo "$PAIR" | field '["refresh_token"]')

# Verify through introspection.
FOUND=$(curl -s -X POST "$B/token/introspect" -H "$J" -d "{$C,\"token\":\"$ACCESS\"}")
expect introspect.active "$(echo "$FOUND" | field '["active"]')" True
expect introspect.sub "$(echo "$FOUND" | field '["sub"]')" alice
# The same over cleartext HTTP/2 with prior knowledge, as a gateway sends it.
H2=$(curl -s --http2-prior-knowledge -w '\n%{http_version}' -X POST "$B/token/introspect" -H "$J" -d "{$C,\"token\":\"$ACCESS\"}")
expect h2.version "$(echo "$H2" | tail -n 1)" 2
expect h2.active "$(echo "$H2" | head -n 1 | field '["active"]')" True

# Refresh, then reuse the old refresh token.
NEXT=$(curl -s -X POST "$B/token/refresh" -H "$J" -d "{$C,\"refresh_token\":\"$REFRESH\"}")
NEXT_REFRESH=$(echo "$NEXT" | field '["refresh_token"]')
NEXT_ACCESS=$(echo "$NEXT" | field '["access_token"]')
REUSE=$(curl -s -X POST "$B/token/refresh" -H "$J" -d "{$C,\"refresh_token\":\"$REFRESH\"}")
expect reuse "$(echo "$REUSE" | field '["error"]')" invalid_grant
NEWEST=$(curl -s -X POST "$B/token/refresh" -H "$J" -d "{$C,\"refresh_token\":\"$NEXT_REFRESH\"}")
expect family_revoked "$(echo "$NEWEST" | field '["error"]')" invalid_grant
FOUND=$(curl -s -X POST "$B/token/introspect" -H "$J" -d "{$C,\"token\":\"$NEXT_ACCESS\"}")
expect family_access_inactive "$(echo "$FOUND" | field '["active"]')" False

# Revoke a fresh access token, then introspect it.
PAIR=$(curl -s -X POST "$B/token" -H "$J" -d "{$C,\"subject\":\"bob\"}")
ACCESS=$(echo "$PAIR" | field '["access_token"]')
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/token/revoke" -H "$J" -d "{$C,\"token\":\"$ACCESS\"}")
expect revoke "$STATUS" 200
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/token/revoke" -H "$J" -d "{$C,\"token\":\"garbage\"}")
expect revoke_unknown "$STATUS" 200
FOUND=$(curl -s -X POST "$B/token/introspect" -H "$J" -d "{$C,\"token\":\"$ACCESS\"}")
expect revoked_inactive "$FOUND" '{"active":false}'

# What Prometheus scraped meanwhile: the flow's counters, through its API.
METRICS=$(curl -s "$B/metrics")
expect metrics.issued "$(echo "$METRICS" | awk '$1 == "vaulttoken_tokens_issued_total{outcome=\"ok\"}" { print $2 }')" 2
prom_expect prometheus.up 'up{job="vaulttoken"}' 1
prom_expect prometheus.tokens_issued 'vaulttoken_tokens_issued_total{job="vaulttoken",outcome="ok"}' 2
prom_expect prometheus.refresh_reuse 'vaulttoken_refresh_reuse_detected_total{job="vaulttoken"}' 1
prom_expect prometheus.introspected_inactive 'vaulttoken_tokens_introspected_total{job="vaulttoken",outcome="inactive"}' 2
prom_expect prometheus.store_up 'vaulttoken_store_up{job="vaulttoken"}' 1
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null || true
PROM_PID=

# The key set, rotate, the key set again.
KEYS=$(curl -s "$B/keys")
expect keys.version "$(echo "$KEYS" | field '["version"]')" 1
expect keys.issuer "$(echo "$KEYS" | field '["issuer"]')" "$ISSUER"
expect keys.purpose "$(echo "$KEYS" | field '["purpose"]')" public
expect keys.cache_seconds "$(echo "$KEYS" | field '["cache_seconds"]')" 300
expect keys.count "$(echo "$KEYS" | field '["keys"].__len__()')" 1
OLD_ACTIVE=$(echo "$KEYS" | active_kid)
expect keys.cache_control "$(curl -s -D - -o /dev/null "$B/keys" | tr -d '\r' | awk 'tolower($1) == "cache-control:" { $1 = ""; print substr($0, 2) }')" "public, max-age=300"
ETAG=$(etag_of "$B/keys")
expect keys.etag_stable "$(etag_of "$B/keys")" "$ETAG"
expect keys.not_modified "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$B/keys")" 304
BEFORE=$(curl -s -X POST "$B/token" -H "$J" -d "{$C,\"subject\":\"carol\"}" | field '["access_token"]')
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/keys/rotate")
expect rotate_unauthenticated "$STATUS" 401
ROTATED=$(curl -s -X POST "$B/keys/rotate" -H "authorization: Bearer $ADMIN" -d '{"immediately":true}')
NEW_ACTIVE=$(echo "$ROTATED" | field '["active"]')
KEYS=$(curl -s "$B/keys")
expect keys.active "$(echo "$KEYS" | active_kid)" "$NEW_ACTIVE"
expect keys.count_after "$(echo "$KEYS" | field '["keys"].__len__()')" 2
expect keys.old_retiring "$(echo "$KEYS" | status_of "$OLD_ACTIVE")" retiring
expect keys.changed_after_rotation "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$B/keys")" 200

# Another implementation follows the key set: pyseto verifies the server's
# tokens with the key their kid names (the retiring one and the active one),
# and refuses a token signed by another key under the active kid.
AFTER=$(curl -s -X POST "$B/token" -H "$J" -d "{$C,\"subject\":\"dave\"}" | field '["access_token"]')
expect pyseto.retiring_key "$(python3 "$READER" "$B/keys" "$BEFORE" "$ISSUER" | field '["sub"]')" carol
expect pyseto.active_key "$(python3 "$READER" "$B/keys" "$AFTER" "$ISSUER" | field '["sub"]')" dave
FORGED=$(python3 - "$NEW_ACTIVE" "$ISSUER" <<'PY'
import json, sys, time
import pyseto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
pem = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
claims = {"sub": "mallory", "iss": sys.argv[2],
          "exp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))}
key = pyseto.Key.new(4, "public", pem)
print(pyseto.encode(key, claims, footer={"kid": sys.argv[1]}, serializer=json).decode())
PY
)
if python3 "$READER" "$B/keys" "$FORGED" "$ISSUER" >/dev/null 2>"$WORK/forged.err"; then
  echo "FAIL pyseto.forged: a token of another key verified" >&2
  exit 1
fi
expect pyseto.forged "$(cat "$WORK/forged.err")" "refused: the token does not verify: VerifyError"
if python3 "$READER" "$B/keys" "$AFTER" "https://elsewhere.example" >/dev/null 2>"$WORK/issuer.err"; then
  echo "FAIL pyseto.other_issuer: a key set of another issuer was followed" >&2
  exit 1
fi
expect pyseto.other_issuer "$(cat "$WORK/issuer.err")" "refused: issuer: not the expected issuer"

# Context binding: a second instance, same Redis and KEK, strict mode.
STRICT_PORT=$(free_port)
S=http://127.0.0.1:$STRICT_PORT
start_server "$STRICT_PORT" "$WORK/keys-strict.json" "$WORK/strict.log" VAULTTOKEN_BINDING=strict
STRICT_PID=$!
wait_healthy "$S"
CTX='"context":{"ip":"203.0.113.9","device":"d-42"}'
PAIR=$(curl -s -X POST "$S/token" -H "$J" -d "{$C,\"subject\":\"dana\",$CTX}")
BOUND=$(echo "$PAIR" | field '["access_token"]')
BOUND_REFRESH=$(echo "$PAIR" | field '["refresh_token"]')
FOUND=$(curl -s -X POST "$S/token/introspect" -H "$J" -d "{$C,\"token\":\"$BOUND\",$CTX}")
expect bound.active "$(echo "$FOUND" | field '["active"]')" True
SAME_NET='"context":{"ip":"203.0.113.77","device":"d-42"}'
FOUND=$(curl -s -X POST "$S/token/introspect" -H "$J" -d "{$C,\"token\":\"$BOUND\",$SAME_NET}")
expect bound.same_prefix "$(echo "$FOUND" | field '["active"]')" True
OTHER_DEVICE='"context":{"ip":"203.0.113.9","device":"d-43"}'
FOUND=$(curl -s -X POST "$S/token/introspect" -H "$J" -d "{$C,\"token\":\"$BOUND\",$OTHER_DEVICE}")
expect bound.other_device "$FOUND" '{"active":false}'
NONE=$(curl -s -X POST "$S/token/introspect" -H "$J" -d "{$C,\"token\":\"$BOUND\"}")
expect bound.no_context "$(echo "$NONE" | field '["error"]')" invalid_request
ELSEWHERE='"context":{"ip":"198.51.100.1","device":"d-42"}'
STOLEN=$(curl -s -X POST "$S/token/refresh" -H "$J" -d "{$C,\"refresh_token\":\"$BOUND_REFRESH\",$ELSEWHERE}")
expect bound.refresh_elsewhere "$(echo "$STOLEN" | field '["error"]')" invalid_grant
NEXT=$(curl -s -X POST "$S/token/refresh" -H "$J" -d "{$C,\"refresh_token\":\"$BOUND_REFRESH\",$CTX}")
expect bound.refresh_at_home "$(echo "$NEXT" | field '["token_type"]')" Bearer

# OAuth on the wire: what stock clients send (RFC 6749 form bodies, the
# client in HTTP Basic), and the metadata document (RFC 8414).
META=$(curl -s "$B/.well-known/oauth-authorization-server")
expect metadata.issuer "$(echo "$META" | field '["issuer"]')" "$ISSUER"
expect metadata.token_endpoint "$(echo "$META" | field '["token_endpoint"]')" "$ISSUER/token"
expect metadata.auth_methods "$(echo "$META" | field '["token_endpoint_auth_methods_supported"]')" \
  "['client_secret_basic', 'client_secret_post']"
expect metadata.scopes "$(echo "$META" | field '["scopes_supported"]')" "['read', 'write']"
U=(-u "web:$SECRET")
CC=$(curl -s "${U[@]}" --data-urlencode grant_type=client_credentials --data-urlencode scope=write "$B/token")
expect client_credentials.token_type "$(echo "$CC" | field '["token_type"]')" Bearer
expect client_credentials.scope "$(echo "$CC" | field '["scope"]')" write
expect client_credentials.no_refresh "$(echo "$CC" | field '.get("refresh_token")')" None
CC_ACCESS=$(echo "$CC" | field '["access_token"]')
FOUND=$(curl -s "${U[@]}" --data-urlencode "token=$CC_ACCESS" "$B/token/introspect")
expect client_credentials.sub "$(echo "$FOUND" | field '["sub"]')" web
expect client_credentials.introspect_scope "$(echo "$FOUND" | field '["scope"]')" write
PAIR=$(curl -s "${U[@]}" --data-urlencode "subject=erin o'hara+1" --data-urlencode "scope=read write" "$B/token")
expect form.scope "$(echo "$PAIR" | field '["scope"]')" "read write"
FOUND=$(curl -s "${U[@]}" --data-urlencode "token=$(echo "$PAIR" | field '["access_token"]')" "$B/token/introspect")
expect form.sub "$(echo "$FOUND" | field '["sub"]')" "erin o'hara+1"
FORM_REFRESH=$(echo "$PAIR" | field '["refresh_token"]')
WIDER=$(curl -s "${U[@]}" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$FORM_REFRESH" --data-urlencode scope=admin "$B/token")
expect refresh.wider "$(echo "$WIDER" | field '["error"]')" invalid_scope
NARROW=$(curl -s "${U[@]}" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$FORM_REFRESH" --data-urlencode scope=read "$B/token")
expect refresh.narrowed "$(echo "$NARROW" | field '["scope"]')" read
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "${U[@]}" --data-urlencode "token=$CC_ACCESS" "$B/token/revoke")
expect form.revoke "$STATUS" 200
FOUND=$(curl -s "${U[@]}" --data-urlencode "token=$CC_ACCESS" "$B/token/introspect")
expect form.revoked_inactive "$FOUND" '{"active":false}'
CHALLENGE=$(curl -s -D - -o /dev/null -u "web:wrong-secret-0123456789" --data-urlencode grant_type=client_credentials "$B/token" \
  | tr -d '\r' | awk 'tolower($1) == "www-authenticate:" { $1 = ""; print substr($0, 2) }')
expect basic.challenge "$CHALLENGE" 'Basic realm="vaulttoken"'
BOTH=$(curl -s "${U[@]}" --data-urlencode "client_secret=$SECRET" --data-urlencode grant_type=client_credentials "$B/token")
expect basic.and_post "$(echo "$BOTH" | field '["error"]')" invalid_request
UNKNOWN=$(curl -s "${U[@]}" --data-urlencode grant_type=password "$B/token")
expect grant.unknown "$(echo "$UNKNOWN" | field '["error"]')" unsupported_grant_type
MISSING=$(curl -s "${U[@]}" --data-urlencode grant_type=refresh_token "$B/token")
expect form.missing_field "$(echo "$MISSING" | field '["error_description"]')" "refresh_token: required"

# Nothing secret in the logs.
if grep -q -e "$SECRET" -e "$ADMIN" -e "$ACCESS" -e "$BOUND" -e "$CC_ACCESS" "$WORK/server.log" "$WORK/strict.log"; then
  echo "FAIL a secret or a token reached the log" >&2
  exit 1
fi
echo "ok   logs hold no secret"

# Graceful stop.
kill -TERM "$SERVER_PID" "$STRICT_PID"
wait "$SERVER_PID" "$STRICT_PID"
SERVER_PID=
STRICT_PID=
echo "curl flow passed"
