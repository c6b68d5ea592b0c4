#!/usr/bin/env python3
"""Closed-loop load generator for TEI-shaped classifier servers (lorabert serve and the peers of
bench/serve_peers.py). Standard library only.

N client threads, each with one keep-alive HTTP/1.1 connection, each sending one review per
request (POST /predict {"inputs": text, "truncate": true, "truncation_direction": "left"
[, "adapter": NAME]}) and the next one as soon as the answer arrives. Reviews are taken in file
order from a shared counter, cycling; with --adapters A,B,.. request i goes to adapter i mod k
(round-robin over the stream). After a warm-up (at least --warmup seconds and at least one
request per client, so that the server's queue is in its steady state), --repeats timed windows
of --duration seconds each; a request counts in the window in which its answer arrived. The
figure is the rate over all windows together (answers / total window time: a server answering
in bursts, a whole batch at once, would make a short window's own rate swing between 0 and twice
the mean); min/max are the single windows' rates. The last window is extended until the
windows hold at least --min-answers answers (default twice the clients; at most 300 s more), so
that a slow or batching server is measured over several of its batches. Then no
new requests are sent and the ones in flight are awaited (not counted), so that the next
measurement starts on an idle server.

Every answer is checked: HTTP 200, a JSON list of {"score": number, "label": string} with
--labels entries (when given), scores descending; anything else is an error, counted by kind
(http_<code>, bad_response, connection). Reported: reviews/s; over all windows:
p50/p99 latency (nearest rank), errors, and the CPU the client itself used (its process CPU time
over the windows, in cores: on a 2-core machine the client shares the cores with the server, so
this is its cost) and, with --server-pid, the server's CPU use in the windows.

  serve_load.py --url http://127.0.0.1:3000 --data FILE.jsonl --concurrency 64 [--adapters a,b]
                [--warmup S] [--duration S] [--repeats N] [--system NAME --workload NAME]
Prints JSON lines in bench/run's record format: WORKLOAD (reviews/s), WORKLOAD_p50 and
WORKLOAD_p99 (ms). Exit status 0 when the run completed (errors are in the record), 1 when the
server could not be reached at all, 2 on bad arguments."""
import argparse
import http.client
import itertools
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse


def read_texts(path, limit=0):
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
                if limit and len(texts) == limit:
                    break
    return texts


def check_answer(status, data, n_labels):
    """None when the answer is a valid TEI single-input prediction, else the error kind."""
    if status != 200:
        return f"http_{status}"
    try:
        out = json.loads(data)
    except ValueError:
        return "bad_response"
    if not isinstance(out, list) or not out:
        return "bad_response"
    prev = None
    for d in out:
        if not isinstance(d, dict) or not isinstance(d.get("label"), str) or \
                not isinstance(d.get("score"), (int, float)) or isinstance(d.get("score"), bool):
            return "bad_response"
        if prev is not None and d["score"] > prev:
            return "bad_response"
        prev = d["score"]
    if n_labels and len(out) != n_labels:
        return "bad_response"
    return None


def server_cpu_s(pid):
    """utime + stime of pid in seconds (None when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(-(-q * len(sorted_vals) // 100)) - 1))   # nearest rank
    return sorted_vals[k]


def run_load(url, texts, concurrency, warmup_s, duration_s, repeats=1, adapters=None, n_labels=0,
             server_pid=None, timeout_s=600.0, max_warmup_s=300.0, min_answers=None, max_extend_s=300.0):
    """Returns a dict of results (see the module doc). min_answers: None means 2 x concurrency."""
    if min_answers is None:
        min_answers = 2 * concurrency
    u = urllib.parse.urlsplit(url)
    host, port = u.hostname, u.port or 80
    counter = itertools.count()
    stop = threading.Event()
    lock = threading.Lock()
    done = []                      # (t_end, latency_s, error kind or None)
    bodies = []                    # request bodies, built once (the client's cost stays small)
    k = len(adapters) if adapters else 1
    for i in range(len(texts) * k if k > 1 else len(texts)):
        req = {"inputs": texts[i % len(texts)], "truncate": True, "truncation_direction": "left"}
        if adapters:
            req["adapter"] = adapters[i % k]
        bodies.append(json.dumps(req).encode())
    headers = {"Content-Type": "application/json", "Connection": "keep-alive"}

    def client():
        conn = None
        while not stop.is_set():
            i = next(counter)
            body = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            kind = None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
                conn.request("POST", "/predict", body, headers)
                resp = conn.getresponse()
                data = resp.read()
                kind = check_answer(resp.status, data, n_labels)
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                kind = "connection"
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)   # a refused connection must not spin
            t1 = time.perf_counter()
            with lock:
                done.append((t1, t1 - t0, kind))
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    t_start = time.perf_counter()
    for t in threads:
        t.start()
    # warm-up: time and one round of requests (every client answered once, on average)
    while True:
        time.sleep(0.02)
        el = time.perf_counter() - t_start
        with lock:
            n_ok = sum(1 for d in done if d[2] is None)
            n_all = len(done)
        if el >= warmup_s and n_ok >= concurrency:
            break
        if el >= max_warmup_s or (n_all >= 4 * concurrency + 20 and n_ok == 0):
            break   # the server answers nothing usable: measure (and report) the errors
    warmup_taken = time.perf_counter() - t_start
    windows = []
    cpu0, srv0 = time.process_time(), server_cpu_s(server_pid) if server_pid else None
    t_first = time.perf_counter()
    for k in range(repeats):
        w0 = time.perf_counter()
        time.sleep(duration_s)
        if k == repeats - 1:
            # the last window runs on until the windows hold min_answers answers (a batching server
            # answers whole batches at once: few answers in the span would make the count a matter
            # of where the window boundaries fall), at most max_extend_s more
            while time.perf_counter() - w0 < duration_s + max_extend_s:
                with lock:
                    n_in = sum(1 for d in done if d[0] >= t_first and d[2] is None)
                    n_ok = sum(1 for d in done if d[2] is None)
                if n_in >= min_answers or n_ok == 0:   # enough, or a server that answers nothing valid
                    break
                time.sleep(0.05)
        w1 = time.perf_counter()
        windows.append((w0, w1))
    cpu1, srv1 = time.process_time(), server_cpu_s(server_pid) if server_pid else None
    stop.set()
    for t in threads:
        t.join(timeout_s)
    span = windows[-1][1] - windows[0][0]
    rates, lat, errors = [], [], {}
    with lock:
        snap = list(done)
    for w0, w1 in windows:
        inside = [d for d in snap if w0 <= d[0] < w1]
        ok = [d for d in inside if d[2] is None]
        rates.append(len(ok) / (w1 - w0))
        lat += [d[1] for d in ok]
        for d in inside:
            if d[2] is not None:
                errors[d[2]] = errors.get(d[2], 0) + 1
    lat.sort()
    # The rate over all windows together: a server that batches answers in bursts (a batch of 40
    # reviews every few seconds) makes short windows' rates jump between 0 and twice the mean.
    rate = len(lat) / sum(w1 - w0 for w0, w1 in windows)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    warm_errors = sum(1 for d in snap if d[0] < windows[0][0] and d[2] is not None)
    return {
        "rate": rate, "rates": rates, "requests": len(lat), "errors": sum(errors.values()), "errors_by_kind": errors,
        "warmup_errors": warm_errors, "p50_ms": None if p50 is None else p50 * 1e3,
        "p99_ms": None if p99 is None else p99 * 1e3,
        "mean_ms": statistics.mean(lat) * 1e3 if lat else None,
        "client_cpu_cores": (cpu1 - cpu0) / span,
        "server_cpu_cores": (srv1 - srv0) / span if srv0 is not None and srv1 is not None else None,
        "warmup_s": warmup_taken, "window_s": duration_s, "windows": repeats,
        "timed_s": sum(w1 - w0 for w0, w1 in windows), "concurrency": concurrency,
        "adapters": len(adapters) if adapters else 0, "texts": len(texts),
        "drain_s": time.perf_counter() - windows[-1][1],
    }


def records(system, workload, r):
    """bench/run's JSON records of one run_load result."""
    extra = {k: r[k] for k in ("requests", "errors", "errors_by_kind", "warmup_errors", "client_cpu_cores",
                               "server_cpu_cores", "warmup_s", "window_s", "timed_s", "windows", "concurrency", "adapters",
                               "texts", "p50_ms", "p99_ms")}
    rates = r["rates"]
    out = [dict(system=system, workload=workload, unit="reviews/s", better="higher",
                median=r["rate"], min=min(rates), max=max(rates), n=len(rates), **extra)]
    for q in ("p50", "p99"):
        v = r[f"{q}_ms"]
        if v is not None:
            out.append(dict(system=system, workload=f"{workload}_{q}", unit="ms", better="lower",
                            median=v, min=v, max=v, n=1, requests=r["requests"]))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--data", required=True, help="JSONL with a text field (IMDb validation)")
    p.add_argument("--texts", type=int, default=0, help="first N texts only (0: all)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--adapters", default="", help="comma list: round-robin over requests")
    p.add_argument("--labels", type=int, default=0, help="entries every answer must have (0: any)")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--min-answers", type=int, help="answers the windows must hold (default 2 x concurrency)")
    p.add_argument("--server-pid", type=int)
    p.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    p.add_argument("--system", default="server")
    p.add_argument("--workload", default="")
    a = p.parse_args()
    if a.concurrency < 1 or a.concurrency > 4096 or a.repeats < 1 or a.duration <= 0:
        p.error("--concurrency 1..4096, --repeats >= 1 and --duration > 0")
    texts = read_texts(a.data, a.texts)
    if not texts:
        p.error(f"{a.data}: no texts")
    adapters = [s for s in a.adapters.split(",") if s] or None
    r = run_load(a.url, texts, a.concurrency, a.warmup, a.duration, a.repeats, adapters, a.labels, a.server_pid,
                 a.timeout, min_answers=a.min_answers)
    for rec in records(a.system, a.workload or f"serve_c{a.concurrency}", r):
        print(json.dumps(rec), flush=True)
    if r["requests"] == 0 and r["errors_by_kind"].get("connection"):
        print(f"serve_load: {a.url}: no answer (connection errors only)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
