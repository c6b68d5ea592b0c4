#!/usr/bin/env bash
# `lorabert serve` with real clients on 127.0.0.1 (curl and Python requests, pinned by
# tools/serve_env.sh): TEI-shaped answers checked field by field; predictions (scores, raw
# logits bit for bit, truncation both sides, batches, pairs) equal `lorabert predict` for the
# base model and three adapters (one from --adapter, one on demand from --adapters-dir, one
# POSTed at run time); a mixed batch of 3 adapters + the base equals separate runs; /adapters
# list, load, refuse (another base's adapter: 422 with the reason), unload; metrics and the
# OpenAPI document. Error codes are tests/cli/serve_errors.sh; load, SIGTERM under load and slow
# clients tests/cli/serve_load.sh; schemathesis tests/cli/serve_schema.sh.
set -u
source "$(dirname "$0")/../support/cli_common.sh" serve
source "$(dirname "$0")/../support/serve_common.sh"

$LB serve --help | grep -q '^usage: lorabert serve' || fail "serve --help"
$LB serve --help | grep -q -- '--max-batch-tokens N .*(default: 16384)' || fail "serve --help shows defaults"
$LB serve >/dev/null 2>&1; [ $? -eq 2 ] || fail "serve without --model must be a usage error"
$LB serve --model "$M" --host nohost --port 0 >/dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "bad --host: $(cat "$T/err")"
$LB serve --model "$M" --port 0 --adapter "bad spec" >/dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "bad --adapter"
[ "$(wc -l <"$T/err")" -le 2 ] || fail "bad --adapter: one error line: $(cat "$T/err")"
$LB serve --model /nonexistent/model --port 0 >/dev/null 2>"$T/err"; [ $? -eq 3 ] || fail "missing model: $(cat "$T/err")"

mkdir -p "$T/dir" && cp -r "$A2" "$T/dir/a2"
start_server --adapter a1="$A1" --adapters-dir "$T/dir" --batch-window-us 20000

# curl: the three health routes, headers of a prediction
for p in /health / /ping; do
  code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL$p"); [ "$code" = 200 ] || fail "GET $p: $code"
done
curl -s -D "$T/hdr" -o "$T/body" -H 'Content-Type: application/json' -d '{"inputs":"It was good."}' "$URL/predict"
grep -q '^HTTP/1.1 200' "$T/hdr" || fail "curl predict: $(cat "$T/hdr" "$T/body")"
for h in x-compute-time x-queue-time x-inference-time x-tokenization-time x-compute-tokens; do
  grep -qi "^$h: [0-9]" "$T/hdr" || fail "header $h missing: $(cat "$T/hdr")"
done
grep -qi '^content-type: application/json' "$T/hdr" || fail "content type"

"$PY" - "$URL" "$LB" "$M" "$A1" "$A2" "$A3" "$SHARED/data/imdb/validation.csv" tests/golden/distilbert_tiny/lora \
  tests/golden/bert_tiny/lora <<'PYEOF' || fail "client checks"
import csv, json, struct, subprocess, sys, threading
import requests
url, lb, model, a1, a2, a3, val, other_lora, bert_lora = sys.argv[1:10]
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]

def predict_cli(texts, adapter=None, extra=()):
    # stdin: one text per line (a blank line is the empty text, which TEXT arguments refuse)
    assert not any("\n" in t for t in texts)
    cmd = [lb, "predict", "--json", "--model", model, *extra] + (["--adapter", adapter] if adapter else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, input="\n".join(texts) + "\n").stdout
    return [json.loads(l) for l in out.splitlines()]

def post(body, **kw):
    return requests.post(url + "/predict", json=body, timeout=60, **kw)

def check_one(preds, ref, labels, raw):
    """preds: TEI's [{score,label}] for one input; ref: a `lorabert predict` line."""
    assert isinstance(preds, list) and len(preds) == len(labels), preds
    for p in preds:
        assert set(p) == {"score", "label"} and isinstance(p["score"], float) and isinstance(p["label"], str), p
    scores = [p["score"] for p in preds]
    assert scores == sorted(scores, reverse=True), preds
    assert sorted(p["label"] for p in preds) == sorted(labels), (preds, labels)
    by = {p["label"]: p["score"] for p in preds}
    for k, name in enumerate(labels):
        if raw:  # the logits, bit for bit in float32
            assert f32(by[name]) == f32(ref["logits"][k]), (name, by[name], ref["logits"][k])
        else:   # softmax in double both sides; predict prints 9 digits
            assert abs(by[name] - ref["probs"][k]) <= 1e-8, (name, by[name], ref["probs"][k])
    if not raw:
        assert abs(sum(scores) - 1) < 1e-12, scores

texts = ["It was good.", "Not a fan, don't recommed.", "Better than the first one.", "This one is a pass.", ""]
rows = list(csv.DictReader(open(val)))
long_text = max((r["text"] for r in rows), key=len)  # far beyond 128 tokens
texts.append(long_text)

info = requests.get(url + "/info", timeout=30).json()
for k in ("model_id", "model_sha", "model_dtype", "model_type", "max_concurrent_requests", "max_input_length",
          "max_batch_tokens", "max_batch_requests", "max_client_batch_size", "auto_truncate",
          "tokenization_workers", "version", "sha", "docker_label"):
    assert k in info, (k, info)
assert info["model_id"] == model and info["model_dtype"] == "float32", info
assert info["model_type"]["classifier"]["id2label"] == {"0": "Negative", "1": "Positive"}, info
assert info["model_type"]["classifier"]["label2id"] == {"Negative": 0, "Positive": 1}, info
assert info["max_batch_tokens"] == 16384 and info["max_client_batch_size"] == 32 and info["max_batch_requests"] is None
assert info["max_concurrent_requests"] == 512 and info["max_input_length"] == 128 and info["auto_truncate"] is False
assert info["version"] == subprocess.run([lb, "--version"], capture_output=True, text=True).stdout.split()[1], info
assert [a["name"] for a in info["adapters"]] == ["a1"], info
labels = ["Negative", "Positive"]

# the base model: each text alone, a batch, raw scores, truncation right and left
ref = predict_cli(texts)
ref_left = predict_cli(texts, extra=("--truncation", "left"))
for i, t in enumerate(texts):
    r = post({"inputs": t, "truncate": True})
    assert r.status_code == 200, r.text
    check_one(r.json(), ref[i], labels, False)
    check_one(post({"inputs": t, "truncate": True, "raw_scores": True}).json(), ref[i], labels, True)
    check_one(post({"inputs": t, "truncate": True, "truncation_direction": "left", "raw_scores": True}).json(),
              ref_left[i], labels, True)
r = post({"inputs": [[t] for t in texts], "truncate": True, "raw_scores": True})
assert r.status_code == 200 and len(r.json()) == len(texts), r.text
for i, preds in enumerate(r.json()):
    check_one(preds, ref[i], labels, True)
assert ref[-1]["logits"] != ref_left[-1]["logits"], "the long review must differ when cut on the other side"

# pairs: the single and batch forms agree; a pair is not its first text
p1 = post({"inputs": ["It was good.", "It was bad."], "raw_scores": True}).json()
p2 = post({"inputs": [["It was good.", "It was bad."], ["It was good."]], "raw_scores": True}).json()
assert p1 == p2[0] and len(p2) == 2 and p2[1] != p1, (p1, p2)
check_one(p2[1], ref[0], labels, True)

# adapters: a1 (--adapter), a2 (on demand from --adapters-dir), a3 (POST /adapters)
r = requests.post(url + "/adapters", json={"name": "a3", "path": a3}, timeout=60)
assert r.status_code == 200 and r.json() == {"loaded": "a3"}, r.text
r = requests.post(url + "/adapters", json={"name": "a3", "path": a3}, timeout=60)
assert r.status_code == 409 and r.json()["error_type"] == "Validation", r.text
for bad, why in ((other_lora, "safetensors"), (bert_lora, "query")):
    r = requests.post(url + "/adapters", json={"name": "bad", "path": bad}, timeout=60)
    assert r.status_code == 422 and r.json()["error_type"] == "Validation", r.text
    print("refused adapter:", r.json()["error"])
r = requests.post(url + "/adapters", json={"name": "bad", "path": "/nonexistent/adapter"}, timeout=60)
assert r.status_code == 422, r.text
names = {"a1": (a1, labels), "a2": (a2, labels), "a3": (a3, ["Bad", "Good"])}
refs = {}
for name, (path, labs) in names.items():
    refs[name] = predict_cli(texts, adapter=path)
    for i, t in enumerate(texts):
        check_one(post({"inputs": t, "truncate": True, "adapter": name, "raw_scores": True}).json(), refs[name][i], labs, True)
        check_one(post({"inputs": t, "truncate": True, "adapter": name}).json(), refs[name][i], labs, False)
    assert refs[name][0]["logits"] != ref[0]["logits"], name
lst = requests.get(url + "/adapters", timeout=30).json()
assert sorted(a["name"] for a in lst["adapters"]) == ["a1", "a2", "a3"], lst
a3e = [a for a in lst["adapters"] if a["name"] == "a3"][0]
assert a3e["labels"] == ["Bad", "Good"] and a3e["num_labels"] == 2 and a3e["pinned"] is True, a3e
assert [a for a in lst["adapters"] if a["name"] == "a2"][0]["pinned"] is False, lst

# a mixed stream: the base and 3 adapters at once, each request a batch of all texts, in the same
# batches (20 ms window); every row equals its separate run
results, errors = {}, []
def client(name, k):
    try:
        body = {"inputs": [[t] for t in texts], "truncate": True, "raw_scores": True}
        if name != "base":
            body["adapter"] = name
        r = post(body)
        assert r.status_code == 200, r.text
        results[(name, k)] = r.json()
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))
ths = [threading.Thread(target=client, args=(n, k)) for k in range(3) for n in ("base", "a1", "a2", "a3")]
for t in ths: t.start()
for t in ths: t.join()
assert not errors, errors
for (name, k), batch in results.items():
    for i, preds in enumerate(batch):
        check_one(preds, ref[i] if name == "base" else refs[name][i], labels if name != "a3" else ["Bad", "Good"], True)
metrics = requests.get(url + "/metrics", timeout=30).text
sizes = {l.split("le=\"")[1].split("\"")[0]: float(l.split()[-1]) for l in metrics.splitlines()
         if l.startswith("te_batch_inference_size_bucket")}
assert sizes["+Inf"] - sizes["8"] >= 1, ("no batch held rows of several requests", sizes)
print("mixed batches: %d of %d batches held more than 8 rows" % (sizes["+Inf"] - sizes["8"], sizes["+Inf"]))

# unload: a3 is gone, a2 comes back on demand
assert requests.delete(url + "/adapters/a3", timeout=30).json() == {"deleted": "a3"}
r = post({"inputs": "x", "adapter": "a3"})
assert r.status_code == 400 and "unknown adapter" in r.json()["error"], r.text
assert requests.delete(url + "/adapters/a3", timeout=30).status_code == 404
assert requests.delete(url + "/adapters/a2", timeout=30).status_code == 200
check_one(post({"inputs": texts[0], "adapter": "a2", "raw_scores": True}).json(), refs["a2"][0], labels, True)

# metrics: TEI's names and the per-adapter counts
metrics = requests.get(url + "/metrics", timeout=30)
assert metrics.headers["content-type"].startswith("text/plain"), metrics.headers
m = metrics.text
for name in ("te_request_count", "te_request_success", "te_request_failure", "te_queue_size", "te_batch_next_size",
             "te_batch_next_tokens", "te_request_duration_bucket", "te_request_tokenization_duration_count",
             "te_request_queue_duration_sum", "te_request_inference_duration_count", "lorabert_adapters_loaded"):
    assert any(l.startswith(name) for l in m.splitlines()), name
val_of = lambda prefix: float([l for l in m.splitlines() if l.startswith(prefix)][0].split()[-1])
assert val_of('lorabert_adapter_requests{adapter="a1"}') >= len(texts) * 2 + 3, m
assert val_of('te_request_success{method="predict"}') >= 50 and val_of('te_request_failure{err="validation"}') >= 1
assert val_of('te_request_count{method="predict"}') == val_of('te_request_success{method="predict"}') + sum(
    float(l.split()[-1]) for l in m.splitlines() if l.startswith("te_request_failure{")), m

doc = requests.get(url + "/api-doc/openapi.json", timeout=30).json()
assert doc["openapi"].startswith("3.") and doc["info"]["version"] == info["version"], doc["info"]
for p in ("/predict", "/info", "/health", "/metrics", "/adapters", "/adapters/{name}", "/api-doc/openapi.json"):
    assert p in doc["paths"], p
assert doc["components"]["schemas"]["PredictInput"]["oneOf"][3]["maxItems"] == 32
print("client checks: ok")
PYEOF
stop_server
grep -q 'draining' "$T/serve.log" || fail "no drain line: $(cat "$T/serve.log")"

# loading never holds up other requests: POST /adapters of a hub id whose hub (HF_ENDPOINT, a local
# server of this test) does not answer until the test lets it; meanwhile the base and a1 answer
"$PY" - >"$T/hub.port" <<'PYEOF' &
import http.server, sys, threading
release = threading.Event()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def _hold(self):
        if self.path == "/release":
            release.set()
        else:
            release.wait(60)
        self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_HEAD = _hold
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
threading.Timer(90, srv.shutdown).start()
srv.serve_forever()
PYEOF
HUB_PID=$!
for _ in $(seq 50); do [ -s "$T/hub.port" ] && break; sleep 0.1; done
HUB=http://127.0.0.1:$(cat "$T/hub.port")
HF_HUB_OFFLINE= HF_ENDPOINT=$HUB start_server --adapter a1="$A1"
"$PY" - "$URL" "$HUB" <<'PYEOF' || fail "a load held up other requests"
import sys, threading, time
import requests
url, hub = sys.argv[1:3]
out = {}
def slow():
    out["r"] = requests.post(url + "/adapters", json={"name": "slow", "path": "org/slow"}, timeout=120)
t = threading.Thread(target=slow); t.start()
time.sleep(0.5)
assert t.is_alive(), "the load did not wait for the hub"
t0 = time.time()
for k in range(10):
    for a in (None, "a1"):
        body = {"inputs": "text %d" % k}
        if a: body["adapter"] = a
        r = requests.post(url + "/predict", json=body, timeout=10)
        assert r.status_code == 200, r.text
assert requests.get(url + "/adapters", timeout=10).status_code == 200
dt = time.time() - t0
assert t.is_alive(), "the load must still wait"
print("20 predictions (base and a1) and GET /adapters in %.2f s while an adapter load waited" % dt)
requests.get(hub + "/release", timeout=10)
t.join(90)
assert not t.is_alive() and out["r"].status_code == 422, out.get("r") and out["r"].text
print("the waiting load ended:", out["r"].status_code, out["r"].json()["error"])
PYEOF
[ $? -eq 0 ] || fail "loading"
stop_server
kill $HUB_PID 2>/dev/null; wait $HUB_PID 2>/dev/null

# bf16: the same logits as `lorabert predict --precision bf16`; --max-adapters 2 unloads the least
# recently used on-demand adapter (a pinned one stays)
cp -r "$A3" "$T/dir/a3"
start_server --precision bf16 --adapter a1="$A1" --adapters-dir "$T/dir" --max-adapters 2
"$PY" - "$URL" "$LB" "$M" "$A1" "$A2" <<'PYEOF' || fail "bf16 / --max-adapters"
import json, struct, subprocess, sys
import requests
url, lb, model, a1, a2 = sys.argv[1:6]
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
texts = ["It was good.", "This one is a pass."]
info = requests.get(url + "/info").json()
assert info["model_dtype"] == "bfloat16" and info["max_adapters"] == 2, info
for name, path in (("a1", a1), ("a2", a2)):
    out = subprocess.run([lb, "predict", "--json", "--precision", "bf16", "--model", model, "--adapter", path, *texts],
                         check=True, capture_output=True, text=True).stdout
    ref = [json.loads(l) for l in out.splitlines()]
    got = requests.post(url + "/predict", json={"inputs": [[t] for t in texts], "adapter": name, "raw_scores": True}).json()
    for preds, r in zip(got, ref):
        by = {p["label"]: p["score"] for p in preds}
        assert [f32(by["Negative"]), f32(by["Positive"])] == [f32(x) for x in r["logits"]], (name, preds, r)
names = lambda: sorted(a["name"] for a in requests.get(url + "/adapters").json()["adapters"])
assert names() == ["a1", "a2"], names()
assert requests.post(url + "/predict", json={"inputs": "x", "adapter": "a3"}).status_code == 200
lst = requests.get(url + "/adapters").json()
assert sorted(a["name"] for a in lst["adapters"]) == ["a1", "a3"] and lst["evictions"] == 1, lst
print("bf16 parity and LRU: ok")
PYEOF
stop_server

echo "serve: ok"
