#!/usr/bin/env python3
"""Collects one bench/run's measurements (JSON lines from lb_bench and peers.py, peak.json,
gemm.json, machine.json in --dir) into one table on stdout and, with --json FILE, the JSON
document {"machine": {...}, "workloads": [{"name", "unit", "better", "lorabert", "peers",
"ratio", "spread", ...}]}. Ratio > 1 means lorabert is better (higher-better: lorabert/peer;
lower-better: peer/lorabert). bench/run's rounds (NAME.rK.jsonl: each system once per round,
interleaved) are pooled: a figure is the median over the rounds of each round's median, with
min, max, quartiles and the number of rounds in "spread". Workloads measured with a competitor
on one CPU (suffix _contended) get their ratio to the idle figure and the >= 0.40 bar.
  report.py --dir DIR [--json FILE]
  report.py --compare DIR_A DIR_B   the medians of two runs side by side, with their change
                                    (the stability check: two idle runs should move < 10%)
Standard library only."""
import argparse
import glob
import json
import os

PEERS = ["hf_peft", "hf_peft_bf16", "onnxruntime", "onnxruntime_int8", "hf_tokenizers"]
SERVE_PEERS = ["hf_pipeline_server", "onnxruntime_server"]

# (output name, lorabert's source record, {peer: source record}); a source is (system, workload).
# lorabert_bf16 is lorabert's --precision bf16 mode; its rows compare with both HF modes and ORT.
WORKLOADS = [
    ("train_real_fp32", ("lorabert", "train_real"), {"hf_peft": ("hf_peft", "train_real")}),
    ("train_real_fp32_s_per_epoch", ("lorabert", "train_real:s_per_epoch"), {"hf_peft": ("hf_peft", "train_real:s_per_epoch")}),
    ("train_real_bf16", ("lorabert_bf16", "train_real"),
     {"hf_peft": ("hf_peft", "train_real"), "hf_peft_bf16": ("hf_peft_bf16", "train_real")}),
    ("train_real_bf16_s_per_epoch", ("lorabert_bf16", "train_real:s_per_epoch"),
     {"hf_peft": ("hf_peft", "train_real:s_per_epoch"), "hf_peft_bf16": ("hf_peft_bf16", "train_real:s_per_epoch")}),
    ("train_4x128_fp32", ("lorabert", "train_4x128"), {"hf_peft": ("hf_peft", "train_4x128")}),
    ("train_4x512_fp32", ("lorabert", "train_4x512"), {"hf_peft": ("hf_peft", "train_4x512")}),
    ("train_4x128_bf16", ("lorabert_bf16", "train_4x128"), {"hf_peft_bf16": ("hf_peft_bf16", "train_4x128")}),
    ("train_4x512_bf16", ("lorabert_bf16", "train_4x512"), {"hf_peft_bf16": ("hf_peft_bf16", "train_4x512")}),
] + [
    (w, ("lorabert", w), {p: (p, w) for p in ("hf_peft", "hf_peft_bf16", "onnxruntime")})
    for w in ("eval_validation", "predict_b1_t16", "predict_b1_t64", "predict_b1_t128", "predict_b32_t128")
] + [
    (w + "_bf16", ("lorabert_bf16", w), {p: (p, w) for p in ("hf_peft_bf16", "onnxruntime")})
    for w in ("eval_validation", "predict_b1_t16", "predict_b1_t64", "predict_b1_t128", "predict_b32_t128")
] + [
    # lorabert_int8 is --precision int8 (inference only); its peer is ORT's dynamic int8
    # (quantize_dynamic) of the same merged export, and fp32 ORT for scale.
    (w + "_int8", ("lorabert_int8", w), {p: (p, w) for p in ("onnxruntime_int8", "onnxruntime")})
    for w in ("eval_validation", "predict_b1_t16", "predict_b1_t64", "predict_b1_t128", "predict_b32_t128")
] + [
    ("tokenize_imdb", ("lorabert", "tokenize_imdb"), {"hf_tokenizers": ("hf_tokenizers", "tokenize_imdb")}),
    ("train_peak_rss", ("lorabert", "train_peak_rss"), {p: (p, "train_peak_rss") for p in ("hf_peft", "hf_peft_bf16")}),
    ("train_peak_rss_bf16", ("lorabert_bf16", "train_peak_rss"), {"hf_peft_bf16": ("hf_peft_bf16", "train_peak_rss")}),
]

# Serving (bench/serve_bench.py): lorabert serve (fp32, and bf16 when run) against the Python
# servers (fp32), plus `lorabert eval`'s reviews/s on the same reviews (eval_texts) and idle RSS.
SERVING = []
for sysname, sfx in (("lorabert", ""), ("lorabert_bf16", "_bf16")):
    for c in (1, 8, 64):
        for q in ("", "_p50", "_p99"):
            w = f"serve_c{c}{q}"
            SERVING.append((w.replace(q, "") + sfx + q if q else w + sfx, (sysname, w), {p: (p, w) for p in SERVE_PEERS}))
    for q in ("", "_p50", "_p99"):
        SERVING.append((f"serve_mixed8_c64{sfx}{q}", (sysname, f"serve_mixed8_c64{q}"), {}))
    SERVING += [(f"eval_texts{sfx}", (sysname, "eval_texts"), {}),
                (f"serve_idle_rss_base{sfx}", (sysname, "serve_idle_rss_base"), {}),
                (f"serve_idle_rss_100_adapters{sfx}", (sysname, "serve_idle_rss_100_adapters"), {})]
SERVING_NAMES = {name for name, _, _ in SERVING}


def serving_targets(recs):
    """The issue's serving targets, each (what, value, bar, ok) from this run's records."""
    out = []

    def med(system, workload):
        r = recs.get((system, workload))
        return r["median"] if r else None

    for sysname, sfx in (("lorabert", ""), ("lorabert_bf16", " (bf16)")):
        c64, ev = med(sysname, "serve_c64"), med(sysname, "eval_texts")
        if c64 and ev:
            out.append((f"serve_c64{sfx} / lorabert eval reviews/s, same precision", c64 / ev, ">= 0.90", c64 / ev >= 0.90))
        for peer, bar in (("hf_pipeline_server", 3.0), ("onnxruntime_server", 1.5)):
            p = med(peer, "serve_c64")
            if c64 and p:
                out.append((f"serve_c64{sfx} / {peer} serve_c64", c64 / p, f">= {bar:.2f}", c64 / p >= bar))
        mix = med(sysname, "serve_mixed8_c64")
        if c64 and mix:
            out.append((f"serve_mixed8_c64{sfx} / serve_c64 (8 adapters mixed vs 1)", mix / c64, ">= 0.85", mix / c64 >= 0.85))
        r = recs.get((sysname, "serve_idle_rss_100_adapters"))
        if r and r.get("budget_mb"):
            out.append((f"idle RSS{sfx}, 100 adapters / (base {r['base_mb']:.0f} MB + 100 x {r['adapter_mb']:.2f} MB)",
                        r["ratio_to_budget"], "<= 1.10", r["ratio_to_budget"] <= 1.10))
    return out


CONTENDED_BAR = 0.40   # issue 14: >= 40% of the idle throughput with one of the two cores taken


def quantile(v, q):
    """Linear interpolation between order statistics (numpy's default)."""
    v = sorted(v)
    x = q * (len(v) - 1)
    i = int(x)
    return v[i] if i + 1 >= len(v) else v[i] + (x - i) * (v[i + 1] - v[i])


def pool(rounds):
    """One record from the same (system, workload) measured in several rounds: the median of the
    rounds' medians; min/max over every round's own min/max; quartiles of the rounds' medians."""
    r = dict(rounds[0])
    meds = [x["median"] for x in rounds]
    r["median"] = quantile(meds, 0.5)
    r["min"] = min(x["min"] for x in rounds)
    r["max"] = max(x["max"] for x in rounds)
    r["n"] = sum(x["n"] for x in rounds)
    r["rounds"] = len(rounds)
    r["round_medians"] = meds
    r["q1"], r["q3"] = quantile(meds, 0.25), quantile(meds, 0.75)
    for k in ("gflops", "s_per_epoch"):
        if all(k in x for x in rounds):
            r[k] = quantile([x[k] for x in rounds], 0.5)
    return r


def int8_targets(recs):
    """Issue 14's int8 targets against ORT's dynamic int8, each (what, value, bar, ok)."""
    out = []

    def med(system, workload):
        r = recs.get((system, workload))
        return r["median"] if r else None

    lb, ort = med("lorabert_int8", "predict_b1_t64"), med("onnxruntime_int8", "predict_b1_t64")
    if lb and ort:
        out.append(("predict_b1_t64_int8 latency / onnxruntime_int8", lb / ort, "<= 0.70", lb / ort <= 0.70))
    for w in ("predict_b32_t128", "eval_validation"):
        lb, ort = med("lorabert_int8", w), med("onnxruntime_int8", w)
        if lb and ort:
            out.append((f"{w}_int8 throughput / onnxruntime_int8", lb / ort, ">= 1.50", lb / ort >= 1.50))
    return out


def load_records(d):
    found = {}
    for path in sorted(glob.glob(os.path.join(d, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                if not isinstance(r, dict) or "system" not in r or "workload" not in r:
                    continue   # not a measurement (e.g. a data file beside them)
                found.setdefault((r["system"], r["workload"]), []).append(r)
    recs = {}
    for key, rounds in found.items():
        r = recs[key] = pool(rounds)
        if "s_per_epoch" in r:   # derived record: seconds per epoch at the median rate
            recs[(r["system"], r["workload"] + ":s_per_epoch")] = {
                "system": r["system"], "unit": "s", "better": "lower", "median": r["s_per_epoch"],
                "min": r["epoch_padded_tokens"] / r["max"], "max": r["epoch_padded_tokens"] / r["min"],
                "n": r["n"], "rounds": r["rounds"]}
    return recs


def spread_of(r):
    out = {"median": r["median"], "min": r["min"], "max": r["max"], "n": r["n"]}
    for k in ("rounds", "q1", "q3", "round_medians"):
        if k in r:
            out[k] = r[k]
    return out


def contended_rows(recs):
    """(output name, idle record, contended record) for every lorabert workload measured both ways."""
    rows = []
    for name, lsrc, _ in WORKLOADS:
        sysname, w = lsrc
        if ":" in w:
            continue
        idle, cont = recs.get(lsrc), recs.get((sysname, w + "_contended"))
        if idle and cont:
            rows.append((name + "_contended", idle, cont))
    return rows


def cpu_line(machine):
    isa = ", ".join(machine.get("isa", [])) or "?"
    ident = f" ({machine['cpu_id']})" if machine.get("cpu_id") else ""
    return f"CPU {machine.get('cpu', '?')}{ident} [{isa}], {machine.get('threads', '?')} threads"

def load_json(d, name):
    p = os.path.join(d, name)
    if os.path.exists(p):
        with open(p) as f:
            try:
                return json.load(f)
            except json.JSONDecodeError:
                return None
    return None


def fmt(x):
    if x is None:
        return "-"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def print_serving(rows, recs, targets, machine):
    isa = ", ".join(machine.get("isa", [])) or "?"
    print(f"Serving: IMDb validation reviews, one per request, closed-loop clients (bench/serve_load.py); "
          f"{cpu_line(machine)}, lorabert {machine.get('lorabert_commit', '?')}")
    cols = ["lorabert"] + SERVE_PEERS
    head = f"{'workload':<28} {'unit':<11}" + "".join(f"{c:>20}" for c in cols) + "  lorabert ratio (>1 = lorabert better)"
    print(head)
    print("-" * len(head))
    errors, client = 0, 0.0
    for w in rows:
        row = f"{w['name']:<28} {w['unit']:<11}"
        for c in cols:
            v = w["lorabert"] if c == "lorabert" else w["peers"].get(c)
            row += f"{fmt(v):>20}"
        print(row + "  " + ", ".join(f"{p} x{r:.2f}" if r else f"{p} -" for p, r in w["ratio"].items()))
    for r in recs.values():
        if r.get("unit") == "reviews/s" and "errors" in r:
            errors += r["errors"] + r.get("warmup_errors", 0)
            client = max(client, r.get("client_cpu_cores") or 0.0)
    print(f"errors in all serving runs: {errors}; the load generator's own CPU: at most {client:.3f} cores; "
          "serving reviews/s = answers over all timed windows / their total time (single windows: JSON 'spread')")
    for what, v, bar, ok in targets:
        print(f"  target {what}: {v:.2f} ({bar}: {'met' if ok else 'NOT met'})")
    print()


def compare(da, db):
    """Two runs' medians side by side: the stability check (issue 14: < 10% on an idle machine)."""
    ra, rb = load_records(da), load_records(db)
    ma, mb = load_json(da, "machine.json") or {}, load_json(db, "machine.json") or {}
    print(f"A: {da} ({cpu_line(ma)}, load before {ma.get('loadavg_before', '?')})")
    print(f"B: {db} ({cpu_line(mb)}, load before {mb.get('loadavg_before', '?')})")
    head = f"{'system':<16} {'workload':<34} {'unit':<11}{'A':>12}{'B':>12}{'B/A - 1':>10}"
    print(head)
    print("-" * len(head))
    worst, moved = 0.0, 0
    for key in sorted(set(ra) & set(rb)):
        a, b = ra[key]["median"], rb[key]["median"]
        if not a or ":" in key[1]:
            continue
        ch = b / a - 1
        worst = max(worst, abs(ch))
        moved += abs(ch) >= 0.10
        print(f"{key[0]:<16} {key[1]:<34} {ra[key]['unit']:<11}{fmt(a):>12}{fmt(b):>12}{100 * ch:>9.1f}%"
              + ("  <- moved >= 10%" if abs(ch) >= 0.10 else ""))
    print(f"largest change {100 * worst:.1f}%; {moved} figure(s) moved by 10% or more")
    return 1 if moved else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir")
    ap.add_argument("--json")
    ap.add_argument("--compare", nargs=2, metavar=("DIR_A", "DIR_B"))
    a = ap.parse_args()
    if a.compare:
        raise SystemExit(compare(*a.compare))
    if not a.dir:
        ap.error("--dir or --compare is required")
    recs = load_records(a.dir)
    machine = load_json(a.dir, "machine.json") or {}
    peak = load_json(a.dir, "peak.json")
    gemm = load_json(a.dir, "gemm.json")
    gemm_nofix = load_json(a.dir, "gemm_nofix.json")
    if peak:
        machine["peak_gflops"] = peak
    if gemm:
        machine["gemm"] = gemm
    if gemm_nofix:
        machine["gemm_openblas_default_core"] = gemm_nofix
    fp32_peak = peak.get("fp32_gflops") if peak else None
    bf16_peak = peak.get("bf16_gflops") if peak else None
    amx_peak = peak.get("amx_bf16_gflops") if peak else None

    out = []
    for name, lsrc, psrc in WORKLOADS + SERVING:
        lr = recs.get(lsrc)
        prs = {p: recs.get(src) for p, src in psrc.items()}
        any_r = lr or next((r for r in prs.values() if r), None)
        if not any_r or (lr is None and name in SERVING_NAMES and "_bf16" in name):
            continue
        unit, better = any_r["unit"], any_r["better"]
        w = {"name": name, "unit": unit, "better": better,
             "lorabert": lr["median"] if lr else None,
             "peers": {p: r["median"] for p, r in prs.items() if r},
             "ratio": {}, "spread": {}}
        for p, r in prs.items():
            if r and lr and r["median"] and lr["median"]:
                w["ratio"][p] = lr["median"] / r["median"] if better == "higher" else r["median"] / lr["median"]
            elif r:
                w["ratio"][p] = None
        for sysname, r in [("lorabert", lr)] + list(prs.items()):
            if r:
                w["spread"][sysname] = spread_of(r)
        if lr and "gflops" in lr:
            w["lorabert_gflops"] = lr["gflops"]
            if fp32_peak:
                w["lorabert_pct_fp32_peak"] = 100.0 * lr["gflops"] / fp32_peak
            if bf16_peak:
                w["lorabert_pct_bf16_peak"] = 100.0 * lr["gflops"] / bf16_peak
            if amx_peak:
                w["lorabert_pct_amx_peak"] = 100.0 * lr["gflops"] / amx_peak
        if lr is None:
            w["note"] = "lorabert: no measurement (not built, not run, or it failed: see the results folder)"
        out.append(w)

    contended = []
    for name, idle, cont in contended_rows(recs):
        ratio = cont["median"] / idle["median"] if idle["better"] == "higher" else idle["median"] / cont["median"]
        w = {"name": name, "unit": cont["unit"], "better": cont["better"], "lorabert": cont["median"],
             "idle": idle["median"], "ratio_to_idle": ratio, "bar": CONTENDED_BAR, "met": ratio >= CONTENDED_BAR,
             "peers": {}, "ratio": {}, "spread": {"lorabert": spread_of(cont), "lorabert_idle": spread_of(idle)}}
        out.append(w)
        contended.append(w)

    targets = serving_targets(recs)
    i8 = int8_targets(recs)
    doc = {"machine": machine, "workloads": out,
           "serving_targets": [{"what": t, "value": v, "bar": b, "met": ok} for t, v, b, ok in targets],
           "int8_targets": [{"what": t, "value": v, "bar": b, "met": ok} for t, v, b, ok in i8]}
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, a.json)

    # ---- table
    print(f"bench/run: {cpu_line(machine)}, lorabert {machine.get('lorabert_commit', '?')}, "
          f"{machine.get('rounds', 1)} interleaved round(s){' (quick)' if machine.get('quick') else ''}")
    cols = ["lorabert"] + PEERS
    head = f"{'workload':<28} {'unit':<11}" + "".join(f"{c:>14}" for c in cols) + "  lorabert ratio (>1 = lorabert better)"
    if any(w["name"] not in SERVING_NAMES for w in out):
        print(head)
        print("-" * len(head))
    for w in out:
        if w["name"] in SERVING_NAMES or "ratio_to_idle" in w:
            continue
        row = f"{w['name']:<28} {w['unit']:<11}"
        for c in cols:
            v = w["lorabert"] if c == "lorabert" else w["peers"].get(c)
            row += f"{fmt(v):>14}"
        rat = ", ".join(f"{p} x{r:.2f}" if r else f"{p} -" for p, r in w["ratio"].items())
        if "lorabert_gflops" in w:
            rat += f"  [{w['lorabert_gflops']:.0f} GFLOP/s"
            if "lorabert_pct_fp32_peak" in w:
                rat += f" = {w['lorabert_pct_fp32_peak']:.0f}% fp32 / {w['lorabert_pct_bf16_peak']:.0f}% bf16"
                if "lorabert_pct_amx_peak" in w:
                    rat += f" / {w['lorabert_pct_amx_peak']:.0f}% AMX"
                rat += " peak"
            rat += "]"
        sp = w["spread"].get("lorabert")
        if sp:
            rat += f"  lorabert {fmt(sp['min'])}..{fmt(sp['max'])}"
        print(row + "  " + rat)
    for what, v, bar, ok in i8:
        print(f"int8 target: {what} = {v:.2f} (bar {bar}): {'met' if ok else 'NOT met'}")
    print()
    if contended:
        print(f"Under load: a CPU-bound competitor pinned to CPU {machine.get('contended_competitor_cpu', '?')} "
              f"(one of the bench's two); {cpu_line(machine)}")
        head = f"{'workload':<36} {'unit':<11}{'idle':>10}{'contended':>11}{'min..max':>20}  ratio to idle (bar >= {CONTENDED_BAR:.2f})"
        print(head)
        print("-" * len(head))
        for w in contended:
            sp = w["spread"]["lorabert"]
            print(f"{w['name']:<36} {w['unit']:<11}{fmt(w['idle']):>10}{fmt(w['lorabert']):>11}"
                  f"{fmt(sp['min']) + '..' + fmt(sp['max']):>20}  {w['ratio_to_idle']:.2f} "
                  f"({'met' if w['met'] else 'NOT met'})")
        print()
    serving = [w for w in out if w["name"] in SERVING_NAMES]
    if serving:
        print_serving(serving, recs, targets, machine)
    if peak:
        print(f"measured peak (bench/peak.c, {peak.get('threads')} threads): fp32 FMA {peak['fp32_gflops']:.0f} GFLOP/s, "
              f"bf16 VDPBF16PS {peak['bf16_gflops']:.0f}, AMX-BF16 {peak.get('amx_bf16_gflops', 0):.0f} "
              f"(1 thread: {peak['fp32_gflops_1t']:.0f} / {peak['bf16_gflops_1t']:.0f} / {peak.get('amx_bf16_gflops_1t', 0):.0f})")
    if gemm:
        def g(s, k):
            v = s.get(k)
            return f"{v[0]:.0f}" if v else "-"
        nofix = {(s["M"], s["N"], s["K"]): s for s in (gemm_nofix or {}).get("shapes", [])}
        print(f"GEMM GFLOP/s, median: {gemm.get('threads')} threads wall clock | 1 thread CPU time "
              f"(OpenBLAS core {gemm.get('openblas_core')}; default core {(gemm_nofix or {}).get('openblas_core', '?')})")
        for s in gemm.get("shapes", []):
            line = f"  M={s['M']:<5} N={s['N']:<5} K={s['K']:<5}"
            for k in ("sgemm", "f32packed", "amx", "avx512bf16", "portable", "int8_amx", "int8_avx512vnni",
                      "int8_avx2", "int8raw", "onednn_f32", "onednn_bf16", "onednn_int8"):
                if k + "_gflops" not in s:
                    continue
                line += f" {k} {g(s, k + '_gflops')}|{g(s, k + '_1t_cpu_gflops')}"
            d = nofix.get((s["M"], s["N"], s["K"]))
            if d:
                line += f"  (sgemm, default core: {g(d, 'sgemm_gflops')}|{g(d, 'sgemm_1t_cpu_gflops')})"
            print(line)
    if machine.get("loadavg_before") is not None:
        print(f"load average before/after: {machine.get('loadavg_before')} / {machine.get('loadavg_after')} "
              f"(on {machine.get('cpus')} CPUs; > 0.5 per CPU before the run means the timings are contended)")
    for note in machine.get("notes", []):
        print("note:", note)
    print("values: median over the rounds of each round's median; min..max over every repeat; quartiles of the "
          "round medians and each round's median per system in the JSON ('spread').")


if __name__ == "__main__":
    main()
