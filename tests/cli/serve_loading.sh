#!/usr/bin/env bash
# `lorabert serve --model REPO_ID` listens before the model is there: while its weights download
# (held by the look-alike hub until the test releases them) /health and /predict answer 503
# Unhealthy "the model is loading" in TEI's error shape, /info too; once the download ends the
# same server answers 200 and its predictions equal `lorabert predict` on the same repo.
set -u
source "$(dirname "$0")/../support/cli_common.sh" serve_load
source tests/support/hubserver.sh
command -v curl >/dev/null || { echo "curl not found"; exit 77; }
R=$HUB_ROOT/repos/models/org--served
mkdir -p "$R"
cp "$M"/* "$R/"
printf '{"hold": {"model.safetensors": "%s"}}\n' "$HUB_ROOT/release" >"$HUB_ROOT/control.json"
$LB serve --model org/served --port 0 2>"$T/serve.log" &
PID=$!
trap 'kill -9 $PID 2>/dev/null; kill $HUB_PID 2>/dev/null; rm -rf "$T" "$HUB_ROOT"' EXIT
PORT=
for _ in $(seq 300); do
  PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$T/serve.log")
  [ -n "$PORT" ] && break
  kill -0 $PID 2>/dev/null || { cat "$T/serve.log"; fail "server exited at start"; }
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$T/serve.log"; fail "server never listened"; }
URL=http://127.0.0.1:$PORT
# the weights cannot have arrived: the hub holds them until $HUB_ROOT/release exists
for _ in $(seq 100); do grep -q '"/cdn/' "$HUB_ROOT/requests.log" 2>/dev/null && break; sleep 0.1; done
grep -q '"/cdn/' "$HUB_ROOT/requests.log" || { cat "$T/serve.log"; fail "the server never asked for the weights"; }
check_503() { # check_503 METHOD PATH [BODY]
  local code
  if [ "$1" = POST ]; then
    code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' -d "$3" "$URL$2")
  else code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL$2"); fi
  [ "$code" = 503 ] || fail "$1 $2 while loading: HTTP $code $(cat "$T/body")"
  python3 - "$T/body" <<'PY' || fail "$1 $2 while loading: body $(cat "$T/body")"
import json, sys
b = json.load(open(sys.argv[1]))
assert set(b) == {"error", "error_type"} and b["error_type"] == "Unhealthy", b
assert "the model is loading" in b["error"], b
PY
}
check_503 GET /health
check_503 POST /predict '{"inputs": "a fine film"}'
check_503 GET /info
touch "$HUB_ROOT/release"
for _ in $(seq 600); do curl -sf -o /dev/null "$URL/health" && break; kill -0 $PID 2>/dev/null || break; sleep 0.1; done
curl -sf -o /dev/null "$URL/health" || { cat "$T/serve.log"; fail "not healthy after the download"; }
got=$(curl -sf -H 'Content-Type: application/json' -d '{"inputs": "a fine film", "raw_scores": true}' "$URL/predict") ||
  fail "predict after loading"
want=$($LB predict --model org/served --json "a fine film" 2>"$T/p.err") || { cat "$T/p.err"; fail "lorabert predict"; }
python3 - "$got" "$want" "$M/config.json" <<'PY' || fail "serve $got vs predict $want"
import json, struct, sys
got, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
id2label = json.load(open(sys.argv[3]))["id2label"]
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
by = {p["label"]: p["score"] for p in got}
assert len(by) == len(want["logits"]) == len(id2label), (got, want)
for k, logit in enumerate(want["logits"]):  # raw scores: the logits, bit for bit
    assert f32(by[id2label[str(k)]]) == f32(logit), (k, got, want)
PY
kill -TERM $PID
wait $PID; rc=$?
[ $rc = 0 ] || { cat "$T/serve.log"; fail "exit status $rc after SIGTERM"; }
echo "serve while loading: 503 Unhealthy on /health, /predict, /info; 200 and lorabert predict's scores after"
