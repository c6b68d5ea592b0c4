#!/usr/bin/env python3
"""Collects one bench/run's measurements (JSON lines from lb_bench and peers.py, peak.json,
gemm.json, machine.json in --dir) into one table on stdout and, with --json FILE, the JSON
document {"machine": {...}, "workloads": [{"name", "unit", "better", "lorabert", "peers",
"ratio", ...}]}. Ratio > 1 means lorabert is better (higher-better: lorabert/peer; lower-better:
peer/lorabert). Standard library only."""
import argparse
import glob
import json
import os

PEERS = ["hf_peft", "hf_peft_bf16", "onnxruntime", "hf_tokenizers"]

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
    ("tokenize_imdb", ("lorabert", "tokenize_imdb"), {"hf_tokenizers": ("hf_tokenizers", "tokenize_imdb")}),
    ("train_peak_rss", ("lorabert", "train_peak_rss"), {p: (p, "train_peak_rss") for p in ("hf_peft", "hf_peft_bf16")}),
    ("train_peak_rss_bf16", ("lorabert_bf16", "train_peak_rss"), {"hf_peft_bf16": ("hf_peft_bf16", "train_peak_rss")}),
]


def load_records(d):
    recs = {}
    for path in sorted(glob.glob(os.path.join(d, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                recs[(r["system"], r["workload"])] = r
                if "s_per_epoch" in r:   # derived record: seconds per epoch at the median rate
                    recs[(r["system"], r["workload"] + ":s_per_epoch")] = {
                        "system": r["system"], "unit": "s", "better": "lower", "median": r["s_per_epoch"],
                        "min": r["epoch_padded_tokens"] / r["max"], "max": r["epoch_padded_tokens"] / r["min"],
                        "n": r["n"]}
    return recs


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--json")
    a = ap.parse_args()
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
    for name, lsrc, psrc in WORKLOADS:
        lr = recs.get(lsrc)
        prs = {p: recs.get(src) for p, src in psrc.items()}
        any_r = lr or next((r for r in prs.values() if r), None)
        if not any_r:
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
                w["spread"][sysname] = {"median": r["median"], "min": r["min"], "max": r["max"], "n": r["n"]}
        if lr and "gflops" in lr:
            w["lorabert_gflops"] = lr["gflops"]
            if fp32_peak:
                w["lorabert_pct_fp32_peak"] = 100.0 * lr["gflops"] / fp32_peak
            if bf16_peak:
                w["lorabert_pct_bf16_peak"] = 100.0 * lr["gflops"] / bf16_peak
            if amx_peak:
                w["lorabert_pct_amx_peak"] = 100.0 * lr["gflops"] / amx_peak
        if lr is None:
            w["note"] = "lorabert: no measurement (lb_bench not built, or it failed: see the results folder)"
        out.append(w)

    doc = {"machine": machine, "workloads": out}
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, a.json)

    # ---- table
    cols = ["lorabert"] + PEERS
    head = f"{'workload':<28} {'unit':<11}" + "".join(f"{c:>14}" for c in cols) + "  lorabert ratio (>1 = lorabert better)"
    print(head)
    print("-" * len(head))
    for w in out:
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
        print(row + "  " + rat)
    print()
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
            for k in ("sgemm", "f32packed", "amx", "avx512bf16", "portable"):
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
    print("values: median of repeats; min/max per system in the JSON ('spread').")


if __name__ == "__main__":
    main()
