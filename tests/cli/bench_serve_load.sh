#!/usr/bin/env bash
# bench/serve_load.py (the serving benchmark's load generator) counts what it should, against a
# scripted TEI-shaped server on 127.0.0.1 (no model, standard library only): keep-alive (one
# connection per client), the request body (truncate, left, the round-robin adapter of each
# request), every malformed answer counted as an error by kind (unsorted scores, wrong label
# count, not JSON, HTTP 500), valid answers counted as requests with latencies, the last window
# extended to --min-answers, and exit status 1
# with connection errors when nothing listens. No timings are checked. Skips without python3.
set -u
cd "$(dirname "$0")/../.."
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }
T=$(mktemp -d /tmp/lbserveload.XXXXXX); trap 'kill $SRV 2>/dev/null; rm -rf "$T"' EXIT
SRV=
fail() { echo "FAIL: $*"; [ -f "$T/server.log" ] && tail -5 "$T/server.log"; exit 1; }

cat >"$T/server.py" <<'EOF'
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
seen = {"connections": 0, "adapters": {}, "bad_body": 0, "requests": 0}
lock = threading.Lock()
GOOD = [{"score": 0.75, "label": "POSITIVE"}, {"score": 0.25, "label": "NEGATIVE"}]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def setup(self):
        super().setup()
        with lock: seen["connections"] += 1
    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        with lock: body = json.dumps(seen).encode()
        self.send(200, body)
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = req["inputs"]
        with lock:
            seen["requests"] += 1
            a = req.get("adapter")
            seen["adapters"].setdefault(a, {}).setdefault(text, 0)
            seen["adapters"][a][text] += 1
            if req.get("truncate") is not True or req.get("truncation_direction") != "left" or self.path != "/predict":
                seen["bad_body"] += 1
        if text == "unsorted":
            return self.send(200, json.dumps(GOOD[::-1]).encode())
        if text == "one label":
            return self.send(200, json.dumps(GOOD[:1]).encode())
        if text == "not json":
            return self.send(200, b"[{]")
        if text == "server error":
            return self.send(500, b'{"error": "boom", "error_type": "backend"}')
        self.send(200, json.dumps(GOOD).encode())
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
EOF
python3 - "$T/texts.jsonl" <<'EOF'
import json, sys
texts = ["good %d" % i for i in range(6)] + ["unsorted", "one label", "not json", "server error"]
with open(sys.argv[1], "w") as f:
    for t in texts:
        f.write(json.dumps({"label": 0, "text": t}) + "\n")
EOF
python3 "$T/server.py" >"$T/port" 2>"$T/server.log" &
SRV=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port"); [ -n "$PORT" ] || fail "the scripted server did not start"

python3 bench/serve_load.py --url "http://127.0.0.1:$PORT" --data "$T/texts.jsonl" --concurrency 4 \
  --adapters x,y --labels 2 --warmup 0.2 --duration 0.5 --repeats 2 --system test --workload w >"$T/out.jsonl" \
  2>"$T/load.err" || fail "serve_load.py exited $? ($(tail -1 "$T/load.err"))"
python3 - "$T/out.jsonl" "http://127.0.0.1:$PORT/" <<'EOF' || exit 1
import json, sys, urllib.request
recs = {r["workload"]: r for r in map(json.loads, open(sys.argv[1]))}
seen = json.load(urllib.request.urlopen(sys.argv[2]))
def check(cond, msg):
    if not cond:
        print("FAIL:", msg, json.dumps(recs.get("w")), json.dumps(seen))
        sys.exit(1)
check(set(recs) == {"w", "w_p50", "w_p99"}, "records w, w_p50, w_p99")
w = recs["w"]
check(w["unit"] == "reviews/s" and w["n"] == 2 and w["windows"] == 2 and w["concurrency"] == 4, "record fields")
check(w["requests"] > 0 and w["median"] > 0, "valid answers counted")
kinds = w["errors_by_kind"]
check(set(kinds) == {"bad_response", "http_500"}, f"error kinds {kinds}")
check(w["errors"] == sum(kinds.values()), "errors = sum by kind")
# the texts cycle in file order: 3 of every 10 answers are malformed, 1 is a 500
total = w["requests"] + w["errors"]
check(abs(kinds["bad_response"] / total - 0.3) <= 0.1 and abs(kinds["http_500"] / total - 0.1) <= 0.1,
      f"error shares {kinds} of {total}")
check(w["p50_ms"] is not None and w["p50_ms"] <= w["p99_ms"] and recs["w_p50"]["median"] == w["p50_ms"], "p50 <= p99")
check(seen["connections"] == 5, f"keep-alive: {seen['connections']} connections for 4 clients and this check")
check(seen["bad_body"] == 0, "every body: truncate true, direction left, POST /predict")
ads = seen["adapters"]
check(set(ads) == {"x", "y"}, f"adapters {set(ads)}")
nx, ny = sum(ads["x"].values()), sum(ads["y"].values())
check(abs(nx - ny) <= 4, f"round-robin: x {nx}, y {ny}")
check(w["client_cpu_cores"] >= 0 and w["server_cpu_cores"] is None, "cpu fields")
EOF
[ $? -eq 0 ] || exit 1

# the last window runs on until it holds --min-answers valid answers
python3 bench/serve_load.py --url "http://127.0.0.1:$PORT" --data "$T/texts.jsonl" --concurrency 1 --warmup 0 \
  --duration 0.001 --min-answers 200 >"$T/out3.jsonl" 2>"$T/load3.err" || fail "serve_load.py --min-answers exited $?"
python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); sys.exit(0 if r["requests"] >= 200 else 1)' \
  "$T/out3.jsonl" || fail "--min-answers 200: $(head -c 300 "$T/out3.jsonl")"

# nothing listening: connection errors, exit 1, no crash
kill $SRV; wait $SRV 2>/dev/null; SRV=
python3 bench/serve_load.py --url "http://127.0.0.1:$PORT" --data "$T/texts.jsonl" --concurrency 2 --warmup 0.1 \
  --duration 0.3 >"$T/out2.jsonl" 2>"$T/load2.err"
rc=$?
[ $rc -eq 1 ] || fail "no server: exit $rc, expected 1"
grep -q '"connection"' "$T/out2.jsonl" || fail "no server: connection errors not counted: $(head -c 300 "$T/out2.jsonl")"
grep -q "no answer" "$T/load2.err" || fail "no server: no message"
# bad arguments
python3 bench/serve_load.py --url http://127.0.0.1:1 --data "$T/texts.jsonl" --concurrency 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "--concurrency 0 accepted"
echo "serve_load: OK"
