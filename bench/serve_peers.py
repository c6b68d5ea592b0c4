#!/usr/bin/env python3
"""The peer servers of bench/run's serving workloads: what a user would otherwise put behind HTTP
on this machine to serve one fine-tuned classifier (the adapter merged into its base, as
`merge_and_unload` + `save_pretrained` deploy it):

  --backend pipeline     transformers `pipeline("text-classification", model=DIR, top_k=None)`,
                         fp32, torch intra-op threads = --threads
  --backend onnxruntime  one ONNX Runtime session (CPU EP, graph optimisations on, --threads
                         intra-op) on the legacy torch.onnx.export of DIR (bench/peers.py's export,
                         cached in DIR/onnx/model.onnx), tokenized by the HF fast tokenizer

Both sit behind the same server, the standard library's ThreadingHTTPServer (HTTP/1.1 keep-alive,
one thread per connection), with lorabert serve's (TEI's) route shape:
  POST /predict {"inputs": "text", "truncate": bool, "truncation_direction": "left"|"right",
                 "adapter": NAME (optional; must be --adapter-name when given)}
      -> [{"score": f, "label": "..."}, ...] every label, score descending
  GET /health -> 200
Batching, as a user gets it by default: one text per request, one forward per request (the
pipeline call per request; no cross-request batching: neither the pipeline nor http.server does
any). Every forward runs on one inference thread (a one-worker executor the request threads hand
their text to), using all --threads: what an `async def` FastAPI route that calls the pipeline
gets (the event loop's one thread). A sync route (Starlette's thread pool: each request thread
runs its own forward) is `--inference-threads 0`; on 2 cores it can only oversubscribe them, and
torch's OpenMP gives every calling thread its own team of workers, which spin after each forward
while another thread's team runs, so the one inference thread is the peer's better
configuration, not a handicap (compare the two with --inference-threads on an idle machine).
Truncation: at 512 tokens from the side the request names (TEI's default "right"); a text
longer than 512 tokens without "truncate": true is 422 like TEI.
Errors: {"error": "...", "error_type": "..."} with TEI's codes (400 bad JSON / unknown adapter,
422 too long, 404 unknown route)."""
import argparse
import json
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the ONNX export and session shared with the offline peers)

MAX_LEN = 512


class Backend:
    """predict(text, truncate, left) -> [(label, score)] (every label, score descending), or raises
    TooLong."""

    def __init__(self, a):
        import torch
        torch.set_num_threads(a.threads)
        self.torch = torch
        self.tok_right = peers.load_tokenizer(a.model)
        self.tok_right.truncation_side = "right"
        self.tok_left = peers.load_tokenizer(a.model)   # truncation_side "left"
        cfg = json.load(open(os.path.join(a.model, "config.json")))
        self.labels = [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
        self.worker = ThreadPoolExecutor(max_workers=a.inference_threads) if a.inference_threads else None
        if a.backend == "pipeline":
            from transformers import pipeline
            self.pipes = {left: pipeline("text-classification", model=a.model, tokenizer=tok, top_k=None, device=-1)
                          for left, tok in ((False, self.tok_right), (True, self.tok_left))}
        else:
            path = os.path.join(a.model, "onnx", "model.onnx")
            if not os.path.exists(path):
                from transformers import AutoModelForSequenceClassification
                peers.export_onnx(torch, AutoModelForSequenceClassification.from_pretrained(a.model).eval(), path)
            self.sess = peers.ort_session(path, a.threads)
        self.backend = a.backend

    def n_tokens(self, text):
        return len(self.tok_right(text, truncation=False)["input_ids"])

    def predict(self, text, truncate, left):
        if self.worker is None:
            return self._predict(text, truncate, left)
        return self.worker.submit(self._predict, text, truncate, left).result()

    def _predict(self, text, truncate, left):
        if not truncate and self.n_tokens(text) > MAX_LEN:
            raise TooLong(f"Input validation error: inputs must have less than {MAX_LEN} tokens")
        if self.backend == "pipeline":
            out = self.pipes[left](text, truncation=True, max_length=MAX_LEN)
            if out and isinstance(out[0], list):   # a single str comes back wrapped in 4.32
                out = out[0]
            return sorted(((d["label"], float(d["score"])) for d in out), key=lambda x: -x[1])
        import numpy as np
        tok = self.tok_left if left else self.tok_right
        enc = tok(text, truncation=True, max_length=MAX_LEN, return_tensors="np")
        logits = self.sess.run(["logits"], {"input_ids": enc["input_ids"].astype(np.int64),
                                            "attention_mask": enc["attention_mask"].astype(np.int64)})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return sorted(((self.labels[i], float(p[i])) for i in range(len(p))), key=lambda x: -x[1])


class TooLong(Exception):
    pass


def make_handler(backend, adapter_name):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # keep-alive
        # headers and body are two writes: with Nagle on, the body waits for the client's delayed
        # ACK of the headers (40 ms per request on Linux)
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):   # no access log on the timed path
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def error(self, code, kind, msg):
            self.reply(code, {"error": msg, "error_type": kind})

        def do_GET(self):
            if self.path in ("/health", "/", "/ping"):
                self.reply(200, "ok")
            else:
                self.error(404, "not_found", f"no route GET {self.path}")

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            if self.path != "/predict":
                return self.error(404, "not_found", f"no route POST {self.path}")
            try:
                req = json.loads(raw)
                text = req["inputs"]
                if isinstance(text, list) and len(text) == 1 and isinstance(text[0], str):
                    text = text[0]
                if not isinstance(text, str):
                    raise ValueError("this peer takes one text per request")
            except (ValueError, KeyError, TypeError) as e:
                return self.error(400, "validation", f"bad request: {e}")
            adapter = req.get("adapter")
            if adapter is not None and adapter_name is not None and adapter != adapter_name:
                return self.error(400, "validation", f"unknown adapter {adapter!r} (this server has {adapter_name!r})")
            try:
                res = backend.predict(text, bool(req.get("truncate", False)),
                                      req.get("truncation_direction", "right") == "left")
            except TooLong as e:
                return self.error(422, "tokenizer", str(e))
            self.reply(200, [{"score": s, "label": lab} for lab, s in res])

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256   # 64 clients connect at once; the default backlog is 5


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("pipeline", "onnxruntime"), required=True)
    p.add_argument("--model", required=True, help="HF model folder (the merged adapter)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--inference-threads", type=int, default=1,
                   help="threads running forwards (1: one inference thread; 0: each request's own thread)")
    p.add_argument("--adapter-name", help="the one adapter name requests may give")
    a = p.parse_args()
    backend = Backend(a)
    backend.predict("warm up", True, True)
    srv = Server((a.host, a.port), make_handler(backend, a.adapter_name))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"serve_peers: {a.backend} on http://{a.host}:{a.port}", file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
