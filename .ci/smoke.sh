#!/usr/bin/env bash
# Smoke test of the real binary, as an operator would use it: serve with the
# embedded default, create the first admin from the command line, sign in,
# stop with SIGTERM, detect a tampered audit log, refuse bad configuration.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --workspace --bins
BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vitrine"
WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export VITRINE_DATA_DIR="$WORK/data"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export VITRINE_BIND="127.0.0.1:$PORT"
URL="http://127.0.0.1:$PORT/graphql"
PID=""

fail() { echo "SMOKE FAIL: $*" >&2; [ -f "$WORK/serve.log" ] && tail -n 30 "$WORK/serve.log" >&2; exit 1; }
gql() { curl -s -X POST "$URL" -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} -d "$1"; }

"$BIN" serve >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
[ "$(gql '{"query":"{ __typename }"}')" = '{"data":{"__typename":"Query"}}' ] || fail "{ __typename }"
curl -sf "http://127.0.0.1:$PORT/readyz" | grep -q '"database":"ok"' || fail "readyz"
[ "$(stat -c %a "$VITRINE_DATA_DIR/secret.key")" = 600 ] || fail "secret.key is not mode 0600"

printf 'correct horse battery staple\n' | "$BIN" admin create-user --email Root@Example.com --role ADMIN --name Root >/dev/null 2>&1 ||
  fail "admin create-user"
printf 'x\n' | "$BIN" admin create-user --email weak@example.com --role VIEWER >/dev/null 2>&1 &&
  fail "a 1-character password was accepted"

TOKEN=$(gql '{"query":"mutation { login(email: \"root@example.com\", password: \"correct horse battery staple\") { token } }"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["token"])') || fail "login"
gql '{"query":"{ me { email role } }"}' "$TOKEN" | grep -q '"role":"ADMIN"' || fail "me"
gql '{"query":"mutation { login(email: \"root@example.com\", password: \"wrong\") { token } }"}' |
  grep -q '"code":"UNAUTHENTICATED"' || fail "wrong password"
UPLOADED=$(curl -s -X POST "$URL" -H "authorization: Bearer $TOKEN" \
  -F operations='{"query":"mutation($file: Upload!) { uploadAsset(file: $file, input: { tags: [\"smoke\"] }) { currentVersion { width height } } }","variables":{"file":null}}' \
  -F map='{"0":["variables.file"]}' -F 0=@tests/fixtures/garden.jpg)
echo "$UPLOADED" | grep -q '"width":2560,"height":1600' || fail "upload: $UPLOADED"
gql '{"query":"{ assets(filter: { tags: [\"smoke\"] }) { totalCount } }"}' "$TOKEN" | grep -q '"totalCount":1' || fail "listing"
[ "$(find "$VITRINE_DATA_DIR/blobs/originals" -type f | wc -l)" = 1 ] || fail "the original is not in the blob store"
grep -q "correct horse" "$WORK/serve.log" && fail "a password reached the log"
grep -q "$TOKEN" "$WORK/serve.log" && fail "a token reached the log"
grep -q "$(cat "$VITRINE_DATA_DIR/secret.key")" "$WORK/serve.log" && fail "the secret reached the log"

kill -TERM "$PID"
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "serve did not stop on SIGTERM"
wait "$PID" || fail "serve exited with $? after SIGTERM"
PID=""

"$BIN" audit verify 2>/dev/null | grep -q "audit chain OK" || fail "audit verify on an intact chain"
python3 - "$VITRINE_DATA_DIR/vitrine.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("update audit_events set details = '{\"forged\":true}' where seq = 2")
db.commit()
PY
set +e
OUT=$("$BIN" audit verify 2>/dev/null)
CODE=$?
set -e
[ "$CODE" = 1 ] || fail "audit verify exit code $CODE on a tampered chain"
echo "$OUT" | grep -q "BROKEN at seq 2" || fail "audit verify did not name seq 2: $OUT"

set +e
ERR=$(VITRINE_BIND=nonsense "$BIN" serve 2>&1)
CODE=$?
set -e
[ "$CODE" = 2 ] || fail "invalid configuration exit code $CODE"
echo "$ERR" | grep -q "VITRINE_BIND" || fail "invalid configuration message: $ERR"

echo "smoke test passed"
