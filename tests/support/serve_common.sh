# Sourced by tests/cli/serve*.sh after cli_common.sh: the pinned client environment
# (tools/serve_env.sh: requests, schemathesis; skip when PyPI is unreachable), three small
# adapters of the tiny DistilBERT trained here (A1, A2, A3; A3's labels renamed Bad/Good), and
# start_server / stop_server. In an ASan build the server runs under the sanitizers (LB is the
# ASan binary); ASAN_OPTIONS keep leak checking on.
SERVE_BIN=$(bash tools/serve_env.sh) || { rc=$?; [ $rc -eq 77 ] && { echo "PyPI unreachable: no requests/schemathesis"; exit 77; }; fail "tools/serve_env.sh"; }
PY=$SERVE_BIN/python
MODE=$(basename "$(dirname "$LB")")
export HF_HUB_OFFLINE=1 # an adapter path that is no folder must not reach for the network
head -n 17 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 9 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
train_adapter() { # train_adapter OUT SEED [extra options]
  local out=$1 seed=$2; shift 2
  $LB train --model "$M" --train "$T/train.csv" --validation "$T/val.csv" --max-length 64 --threads 2 --epochs 1 \
    --seed "$seed" --output "$out" "$@" >"$T/train.log" 2>&1 || { cat "$T/train.log"; fail "train adapter $out"; }
  rm -rf "$out"/checkpoint-*
}
mkdir -p "$T/adapters"
A1=$T/adapters/a1; A2=$T/adapters/a2; A3=$T/adapters/a3
train_adapter "$A1" 1
train_adapter "$A2" 2 --lora-r 8
train_adapter "$A3" 3
printf '{"id2label": {"0": "Bad", "1": "Good"}, "label2id": {"Bad": 0, "Good": 1}, "num_labels": 2}\n' >"$A3/labels.json"

SERVER_PID=
# start_server [serve options]: starts `lorabert serve --model M --port 0 ...`, sets PORT and URL,
# waits for /health 200 (at most 60 s).
start_server() {
  : >"$T/serve.log"
  $LB serve --model "$M" --port 0 "$@" 2>"$T/serve.log" &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 600); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$T/serve.log")
    [ -n "$PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break
    kill -0 $SERVER_PID 2>/dev/null || { cat "$T/serve.log"; fail "server exited at start"; }
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$T/serve.log"; fail "server never listened"; }
  URL=http://127.0.0.1:$PORT
  curl -sf -o /dev/null "$URL/health" || { cat "$T/serve.log"; fail "server not healthy in 60 s"; }
}
# stop_server: SIGTERM, then the exit status must be 0 within 10 s.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM $SERVER_PID
  local t0=$SECONDS
  for _ in $(seq 100); do kill -0 $SERVER_PID 2>/dev/null || break; sleep 0.1; done
  kill -0 $SERVER_PID 2>/dev/null && { kill -9 $SERVER_PID; cat "$T/serve.log"; fail "server still running 10 s after SIGTERM"; }
  wait $SERVER_PID; local rc=$?
  SERVER_PID=
  [ $rc -eq 0 ] || { cat "$T/serve.log"; fail "server exit status $rc after SIGTERM (want 0)"; }
  echo "server stopped in $((SECONDS - t0)) s"
}
trap '[ -n "$SERVER_PID" ] && kill -9 $SERVER_PID 2>/dev/null; rm -rf "$T"' EXIT
