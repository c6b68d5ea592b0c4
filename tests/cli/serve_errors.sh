#!/usr/bin/env bash
# `lorabert serve`: every error code of TEI's API provoked with real clients, each with TEI's body
# {"error": ..., "error_type": ...}: 400 (bad JSON, wrong shape, empty batch, unknown adapter),
# 401 (--api-key: missing or wrong bearer; /health stays open), 413 (payload over
# --payload-limit; more inputs than --max-client-batch-size), 422 (invalid UTF-8; too long
# without truncate), 429 (over --max-concurrent-requests), 503 (/health and /predict while the
# server drains after SIGTERM, on a connection opened before), 404/405; and a request accepted
# before SIGTERM is still answered.
set -u
source "$(dirname "$0")/../support/cli_common.sh" serve_err
source "$(dirname "$0")/../support/serve_common.sh"

start_server --adapter a1="$A1" --api-key s3cret --payload-limit 1000 --max-client-batch-size 4 \
  --max-concurrent-requests 2 --batch-window-us 300000
"$PY" - "$URL" <<'PYEOF' || fail "error codes"
import socket, threading, time
import requests
url = __import__("sys").argv[1]
H = {"Authorization": "Bearer s3cret"}
def expect(r, code, etype, part=""):
    assert r.status_code == code, (code, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error", "error_type"} and body["error_type"] == etype, body
    assert part in body["error"], (part, body)
    assert r.headers["content-type"] == "application/json", r.headers
    print(code, etype, body["error"])
P = url + "/predict"
# 401: every route but /health
assert requests.get(url + "/health").status_code == 200
for path in ("/info", "/metrics", "/adapters", "/api-doc/openapi.json", "/", "/ping"):
    expect(requests.get(url + path), 401, "Unauthorized")
expect(requests.post(P, json={"inputs": "x"}), 401, "Unauthorized")
expect(requests.post(P, json={"inputs": "x"}, headers={"Authorization": "Bearer s3cre"}), 401, "Unauthorized")
expect(requests.post(P, json={"inputs": "x"}, headers={"Authorization": "Bearer s3cret2"}), 401, "Unauthorized")
expect(requests.post(P, json={"inputs": "x"}, headers={"Authorization": "s3cret"}), 401, "Unauthorized")
assert requests.post(P, json={"inputs": "x"}, headers=H).status_code == 200
# 400
expect(requests.post(P, data=b'{"inputs": "x"', headers=H), 400, "Validation", "invalid JSON")
expect(requests.post(P, data=b'', headers=H), 400, "Validation")
expect(requests.post(P, json={"inputs": []}, headers=H), 400, "Validation", "empty")
expect(requests.post(P, json={"inputs": ["a", "b", "c"]}, headers=H), 400, "Validation")
expect(requests.post(P, json={"inputs": [["a"], []]}, headers=H), 400, "Validation")
expect(requests.post(P, json={"inputs": 3}, headers=H), 400, "Validation")
expect(requests.post(P, json={"text": "x"}, headers=H), 400, "Validation", "inputs")
expect(requests.post(P, json={"inputs": "x", "truncate": "yes"}, headers=H), 400, "Validation", "truncate")
expect(requests.post(P, json={"inputs": "x", "truncation_direction": "up"}, headers=H), 400, "Validation")
expect(requests.post(P, json={"inputs": "x", "adapter": "nope"}, headers=H), 400, "Validation", "unknown adapter")
expect(requests.post(P, json={"inputs": "x", "adapter": "../a1"}, headers=H), 400, "Validation")
# 413: payload and batch size
expect(requests.post(P, json={"inputs": "x" * 2000}, headers=H), 413, "Validation", "payload-limit")
expect(requests.post(P, json={"inputs": [["a"]] * 5}, headers=H), 413, "Validation", "max-client-batch-size")
assert requests.post(P, json={"inputs": [["a"]] * 4}, headers=H).status_code == 200
# 422: invalid UTF-8, NUL, too long without truncate
expect(requests.post(P, data=b'{"inputs": "bad \xff byte"}', headers=H), 422, "Tokenizer", "UTF-8")
expect(requests.post(P, data=b'{"inputs": "nul \\u0000 here"}', headers=H), 422, "Tokenizer", "NUL")
long = " ".join(["word"] * 150)  # 152 tokens in 750 bytes
expect(requests.post(P, json={"inputs": long}, headers=H), 422, "Validation", "must have less than 128 tokens")
assert requests.post(P, json={"inputs": long, "truncate": True}, headers=H).status_code == 200
# 404 / 405
r = requests.get(url + "/nothing", headers=H); assert r.status_code == 404 and r.json()["error_type"] == "NotFound"
r = requests.get(P, headers=H); assert r.status_code == 405, r.status_code
# 429: two requests wait 300 ms for their batch, a third is over --max-concurrent-requests 2
codes = []
def slow():
    codes.append(requests.post(P, json={"inputs": "x"}, headers=H).status_code)
ths = [threading.Thread(target=slow) for _ in range(2)]
for t in ths: t.start()
time.sleep(0.1)
expect(requests.post(P, json={"inputs": "x"}, headers=H), 429, "Overloaded", "max-concurrent-requests")
for t in ths: t.join()
assert codes == [200, 200], codes
m = requests.get(url + "/metrics", headers=H).text
for err, n in (("validation", 14), ("tokenizer", 2), ("overloaded", 1), ("unauthorized", 4)):
    line = [l for l in m.splitlines() if l.startswith('te_request_failure{err="%s"}' % err)][0]
    assert float(line.split()[-1]) >= n, (line, n)
print("error codes: ok")
PYEOF
[ $? -eq 0 ] || fail "error codes"

# a chunked body (no Content-Length) over --payload-limit: libmicrohttpd cannot answer before the
# body ends, so the connection is closed; the server stays healthy
python3 -c "print('{\"inputs\": \"' + 'x' * 3000 + '\"}')" >"$T/big.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' -H 'Transfer-Encoding: chunked' \
       --data-binary @"$T/big.json" "$URL/predict"); rc=$?
[ "$code" = 000 ] && [ $rc -ne 0 ] || fail "chunked body over the limit: HTTP $code, curl rc $rc"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] || fail "unhealthy after a chunked body over the limit"
echo "chunked body over the limit: connection closed (curl rc $rc), server healthy"

# 503 while draining: a request waits in its 300 ms batch window, SIGTERM arrives; on a connection
# opened before, /health and /predict answer 503; the waiting request is answered 200; exit 0.
"$PY" - "$URL" "$SERVER_PID" <<'PYEOF' || fail "503 while draining"
import os, signal, sys, threading, time
import requests
url, pid = sys.argv[1], int(sys.argv[2])
H = {"Authorization": "Bearer s3cret"}
s = requests.Session()
assert s.get(url + "/health").status_code == 200  # the connection is open now (keep-alive)
out = {}
def waiting():
    out["r"] = requests.post(url + "/predict", json={"inputs": "accepted before SIGTERM"}, headers=H)
t = threading.Thread(target=waiting); t.start()
time.sleep(0.1)
os.kill(pid, signal.SIGTERM)
time.sleep(0.05)
r = s.get(url + "/health")
assert r.status_code == 503 and r.json()["error_type"] == "Unhealthy", (r.status_code, r.text)
print(503, r.json())
t.join()
assert out["r"].status_code == 200 and len(out["r"].json()) == 2, out["r"].text
print("accepted request answered during the drain")
PYEOF
[ $? -eq 0 ] || fail "drain"
t0=$SECONDS
for _ in $(seq 100); do kill -0 $SERVER_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $SERVER_PID 2>/dev/null && fail "server still running 10 s after SIGTERM"
wait $SERVER_PID; rc=$?; SERVER_PID=
[ $rc -eq 0 ] || { cat "$T/serve.log"; fail "exit status $rc after SIGTERM"; }
echo "exited 0 in $((SECONDS - t0)) s after the drain"
echo "serve_errors: ok"
