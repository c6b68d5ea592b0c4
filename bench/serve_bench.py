#!/usr/bin/env python3
"""Serving workloads of bench/run: starts one server, drives it with bench/serve_load.py's
closed-loop clients on IMDb validation reviews, stops it; prints bench/run's JSON records.

  serve_bench.py run --system lorabert|hf_pipeline_server|onnxruntime_server --model DIR
                     --adapters-dir DIR --merged DIR --texts FILE [--quick] [--precision fp32|bf16]
                     [--lorabert BIN] [--python PY] [--threads N] [--logs DIR]
      lorabert: `lorabert serve --model DIR --adapter a000=DIR/a000 ... a007` (8 adapters loaded),
        workloads serve_c1, serve_c8, serve_c64 (every request to adapter a000) and
        serve_mixed8_c64 (a000..a007 round-robin over the request stream); system "lorabert"
        (fp32) or "lorabert_bf16".
      peers: bench/serve_peers.py on the merged a000 (--merged), serve_c1, serve_c8, serve_c64.
  serve_bench.py rss --model DIR --adapters-dir DIR --count 100 [--lorabert BIN] [--precision P]
      VmRSS of an idle lorabert serve holding the base only, then holding --count adapters (each
      answered one request first, so it is surely loaded): workloads serve_idle_rss_base and
      serve_idle_rss_<count>_adapters (MB = MiB), with the adapter size (adapter_model.safetensors)
      and the budget base + count x adapter size beside it. A server whose RSS passes --rss-cap-mb
      (default twice the budget) is stopped there, so that it cannot take the machine's memory;
      the record then says after how many adapters (aborted_at_cap_after_adapters).
Server logs go to --logs (default: the current folder). LORABERT_SERVE_ARGS adds arguments to every
lorabert serve command line (e.g. "--max-batch-tokens 8192"). Timings never go into tests."""
import argparse
import glob
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_load  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHORT = "A short review: the film was fine."


def log(msg):
    print(f"[serve_bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RssCap(Exception):
    """The server's RSS passed the safety cap (after `loaded` adapters had answered)."""

    def __init__(self, rss, loaded):
        super().__init__(rss, loaded)
        self.rss, self.loaded = rss, loaded


class Server:
    """A server process on 127.0.0.1:port, its output in a log file; stopped with SIGTERM (then
    SIGKILL after 30 s)."""

    def __init__(self, name, cmd, port, logdir, env=None):
        self.name, self.cmd, self.port = name, cmd, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = os.path.join(logdir, f"server-{name}.log")
        self.logf = open(self.log_path, "w")
        self.logf.write("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
        self.logf.flush()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT, env=env)

    def tail(self, n=5):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(line.strip() for line in f.readlines()[-n:])
        except OSError:
            return ""

    def wait_ready(self, timeout=600, rss_cap_mb=None):
        while time.perf_counter() - self.t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: server exited with status {self.proc.returncode}: {self.tail()}")
            if rss_cap_mb and self.rss_mb() > rss_cap_mb:
                raise RssCap(self.rss_mb(), 0)
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        self.startup_s = time.perf_counter() - self.t0
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: /health not 200 after {timeout} s: {self.tail()}")

    def post(self, body):
        req = urllib.request.Request(self.url + "/predict", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def rss_mb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return 0.0   # exited (wait_ready reports it)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: no exit 30 s after SIGTERM: killed")
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def lorabert_cmd(a, port, adapters):
    cmd = [a.lorabert, "serve", "--model", a.model, "--port", str(port), "--precision", a.precision]
    for name in adapters:
        cmd += ["--adapter", f"{name}={os.path.join(a.adapters_dir, name)}"]
    return cmd + shlex.split(os.environ.get("LORABERT_SERVE_ARGS", ""))


def n_labels(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    return len(cfg.get("id2label") or {}) or 2


def plan(a):
    """(warm-up s, window s, windows) for c1/c8 and for c64."""
    if a.quick:
        return (3, 4, 2), (3, 8, 2)
    w = a.duration or 20
    r = a.repeats or 3
    return (10, w, r), (10, w, r)


def cmd_run(a):
    texts = serve_load.read_texts(a.texts)
    small, big = plan(a)
    labels = n_labels(a.model)
    if a.system == "lorabert":
        adapters = [f"a{i:03d}" for i in range(8)]
        system = "lorabert" if a.precision == "fp32" else f"lorabert_{a.precision}"
        port = free_port()
        srv = Server(system, lorabert_cmd(a, port, adapters), port, a.logs)
        runs = [("serve_c1", 1, ["a000"], small), ("serve_c8", 8, ["a000"], small),
                ("serve_c64", 64, ["a000"], big), ("serve_mixed8_c64", 64, adapters, big)]
    else:
        backend = {"hf_pipeline_server": "pipeline", "onnxruntime_server": "onnxruntime"}[a.system]
        system = a.system
        port = free_port()
        cmd = [a.python, os.path.join(HERE, "serve_peers.py"), "--backend", backend, "--model", a.merged,
               "--port", str(port), "--threads", str(a.threads), "--adapter-name", "a000"]
        srv = Server(system, cmd, port, a.logs)
        runs = [("serve_c1", 1, ["a000"], small), ("serve_c8", 8, ["a000"], small), ("serve_c64", 64, ["a000"], big)]
    try:
        srv.wait_ready()
        log(f"{system}: ready in {srv.startup_s:.1f} s ({srv.url})")
        status, body = srv.post({"inputs": texts[0], "truncate": True, "adapter": "a000"})
        if status != 200:
            raise RuntimeError(f"{system}: first request answered {status}: {body[:300]!r}")
        for workload, conc, ads, (warm, dur, reps) in runs:
            r = serve_load.run_load(srv.url, texts, conc, warm, dur, reps, ads, labels, srv.proc.pid,
                                    min_answers=conc if a.quick else 2 * conc)
            for rec in serve_load.records(system, workload, r):
                if rec["unit"] == "reviews/s":
                    rec["startup_s"] = srv.startup_s
                print(json.dumps(rec), flush=True)
            log(f"{system} {workload}: {r['rate']:.2f} reviews/s, p50 {r['p50_ms'] or 0:.0f} ms, "
                f"p99 {r['p99_ms'] or 0:.0f} ms, {r['requests']} requests, {r['errors']} errors "
                f"{r['errors_by_kind'] or ''}, client {r['client_cpu_cores']:.3f} cores, "
                f"server {r['server_cpu_cores'] or 0:.2f} cores")
            if srv.proc.poll() is not None:
                raise RuntimeError(f"{system}: server died during {workload}: {srv.tail()}")
    finally:
        srv.stop()
    return 0


def cmd_rss(a):
    names = sorted(os.path.basename(d) for d in glob.glob(os.path.join(a.adapters_dir, "a[0-9][0-9][0-9]")))[:a.count]
    if len(names) < a.count:
        sys.exit(f"serve_bench: {a.adapters_dir}: {len(names)} adapters, {a.count} wanted")
    sizes = [os.path.getsize(os.path.join(a.adapters_dir, n, "adapter_model.safetensors")) for n in names]
    adapter_mb = statistics.mean(sizes) / 2**20
    system = "lorabert" if a.precision == "fp32" else f"lorabert_{a.precision}"
    res = {}
    aborted = None
    for label, ads in (("base", []), ("adapters", names)):
        port = free_port()
        srv = Server(f"{system}-rss-{label}", lorabert_cmd(a, port, ads), port, a.logs)
        # A server that holds far more than the budget would take the shared machine's memory:
        # stop it at the cap and report the RSS reached and how many adapters had answered.
        cap = None if label == "base" else a.rss_cap_mb or 2 * (res["base"][0] + a.count * adapter_mb)
        try:
            try:
                srv.wait_ready(rss_cap_mb=cap)
                for k, name in enumerate(ads or [None]):
                    body = {"inputs": SHORT, "truncate": True}
                    if name:
                        body["adapter"] = name
                    status, out = srv.post(body)
                    if status != 200:
                        raise RuntimeError(f"{srv.name}: adapter {name}: answered {status}: {out[:300]!r}")
                    if cap and srv.rss_mb() > cap:
                        raise RssCap(srv.rss_mb(), k + 1)
                time.sleep(1.0)
                res[label] = (srv.rss_mb(), srv.startup_s)
            except RssCap as e:
                aborted = e.loaded
                res[label] = (e.rss, time.perf_counter() - srv.t0)
                log(f"{srv.name}: RSS {e.rss:.0f} MB passed the cap {cap:.0f} MB after {e.loaded} adapters "
                    "answered: stopped (the figure below is where it stood)")
        finally:
            srv.stop()
    base, (rss, startup) = res["base"][0], res["adapters"]
    budget = base + a.count * adapter_mb
    common = dict(system=system, unit="MB", better="lower", n=1)
    print(json.dumps(dict(workload="serve_idle_rss_base", median=base, min=base, max=base, **common)))
    rec = dict(workload=f"serve_idle_rss_{a.count}_adapters", median=rss, min=rss, max=rss,
               base_mb=base, adapter_mb=adapter_mb, adapters=a.count, budget_mb=budget,
               ratio_to_budget=rss / budget, startup_s=startup, **common)
    if aborted is not None:
        rec["aborted_at_cap_after_adapters"] = aborted
    print(json.dumps(rec))
    log(f"idle RSS: base {base:.0f} MB, {a.count} adapters {rss:.0f} MB (adapter {adapter_mb:.2f} MB; "
        f"budget base + {a.count} x adapter = {budget:.0f} MB, ratio {rss / budget:.3f})"
        + (f" [stopped at the cap after {aborted} adapters]" if aborted is not None else ""))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("run", "rss"):
        r = sub.add_parser(name)
        r.add_argument("--model", required=True)
        r.add_argument("--adapters-dir", required=True)
        r.add_argument("--lorabert", default="build/release/lorabert")
        r.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
        r.add_argument("--logs", default=".")
    r = sub.choices["run"]
    r.add_argument("--system", required=True, choices=("lorabert", "hf_pipeline_server", "onnxruntime_server"))
    r.add_argument("--merged", help="the merged adapter a000 (HF folder) the peers serve")
    r.add_argument("--texts", required=True, help="JSONL of the reviews sent (IMDb validation)")
    r.add_argument("--python", default=sys.executable, help="python of the peer environment")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--quick", action="store_true")
    r.add_argument("--duration", type=float, default=0, help="seconds per timed window (full run: 20)")
    r.add_argument("--repeats", type=int, default=0, help="timed windows per workload (full run: 3)")
    sub.choices["rss"].add_argument("--count", type=int, default=100)
    sub.choices["rss"].add_argument("--rss-cap-mb", type=float, default=0,
                                    help="stop the server past this RSS (0: twice the budget)")
    a = p.parse_args()
    if a.cmd == "run" and a.system != "lorabert" and not a.merged:
        p.error("--merged is required for the peer servers")
    try:
        return cmd_run(a) if a.cmd == "run" else cmd_rss(a)
    except RuntimeError as e:
        print(f"serve_bench: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
