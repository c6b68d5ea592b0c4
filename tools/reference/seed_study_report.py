"""The verdict of the 5-seed study (tools/reference/seed_study.sh; issue 16, docs/results.md).

usage: python seed_study_report.py OUT [--svg FILE] [--reference hf_fp32]

Reads OUT/SYSTEM/seedN/result.json for every system and seed present. Per run, the reported
epoch is the best by eval loss (load_best_model_at_end with metric loss, as both systems do).
Prints a Markdown table: per system, the number of seeds and the mean +- sample standard
deviation of accuracy, F1 and eval loss at the best epoch, and of the eval loss at each epoch;
then, for every other system against the reference (HF Trainer + PEFT fp32), Welch's two-sample
t-test and the issue's bar: the system's mean lies inside the 95% confidence interval of the
reference's mean (t distribution, n - 1 degrees of freedom), or the two means differ by less
than 0.5 points (0.005 in accuracy and F1; 0.005 in eval loss, the same absolute bar), for
accuracy, F1, best eval loss and every epoch's eval loss. With --svg, writes the per-epoch eval
loss curves (mean +- std per system) as an SVG line plot. Needs scipy (the reference env has
it); fewer than 2 seeds for a system: its std and test are "-".
"""
import argparse
import glob
import json
import math
import os
import sys

from scipy import stats

BAR = 0.005


def load(out):
    runs = {}
    for path in sorted(glob.glob(os.path.join(out, "*", "seed*", "result.json"))):
        r = json.load(open(path))
        runs.setdefault(r["system"], []).append(r)
    return runs


def best(r):
    return min(r["epochs"], key=lambda e: e["eval_loss"])


def mean_sd(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")
    return m, sd


def ci95(xs):
    m, sd = mean_sd(xs)
    if len(xs) < 2:
        return m, float("nan"), float("nan")
    h = stats.t.ppf(0.975, len(xs) - 1) * sd / math.sqrt(len(xs))
    return m, m - h, m + h


def fmt(m, sd, p=4):
    return f"{m:.{p}f}" + ("" if math.isnan(sd) else f" +- {sd:.{p}f}")


def measures(runs):
    """name -> list of values per run (best-epoch metrics, then each epoch's eval loss)."""
    out = {"accuracy": [best(r)["eval_accuracy"] for r in runs], "f1": [best(r)["eval_f1"] for r in runs],
           "best eval loss": [best(r)["eval_loss"] for r in runs]}
    n_ep = min(len(r["epochs"]) for r in runs)
    for e in range(n_ep):
        out[f"eval loss, epoch {e + 1}"] = [r["epochs"][e]["eval_loss"] for r in runs]
    return out


def svg(runs, path):
    colors = {"lorabert_fp32": "#1f77b4", "lorabert_bf16": "#2ca02c", "hf_fp32": "#d62728"}
    series = {}
    for s, rs in runs.items():
        n_ep = min(len(r["epochs"]) for r in rs)
        series[s] = [mean_sd([r["epochs"][e]["eval_loss"] for r in rs]) for e in range(n_ep)]
    lo = min(m - (0 if math.isnan(sd) else sd) for v in series.values() for m, sd in v)
    hi = max(m + (0 if math.isnan(sd) else sd) for v in series.values() for m, sd in v)
    lo, hi = lo - 0.05 * (hi - lo or 1), hi + 0.05 * (hi - lo or 1)
    n_ep = max(len(v) for v in series.values())
    W, H, L, R, T, B = 560, 340, 70, 150, 30, 50
    x = lambda e: L + (W - L - R) * (e / max(n_ep - 1, 1))
    y = lambda v: T + (H - T - B) * (1 - (v - lo) / (hi - lo))
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18">Eval loss per epoch, mean +- std over seeds</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for e in range(n_ep):
        o.append(f'<text x="{x(e):.1f}" y="{H - B + 18}" text-anchor="middle">{e + 1}</text>')
    o.append(f'<text x="{(L + W - R) / 2:.1f}" y="{H - 10}" text-anchor="middle">epoch</text>')
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        o.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3f}</text>')
    for i, (s, v) in enumerate(sorted(series.items())):
        c = colors.get(s, "#555")
        pts = " ".join(f"{x(e):.1f},{y(m):.1f}" for e, (m, _) in enumerate(v))
        o.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        for e, (m, sd) in enumerate(v):
            if not math.isnan(sd):
                o.append(f'<line x1="{x(e) + 3 * i:.1f}" y1="{y(m - sd):.1f}" x2="{x(e) + 3 * i:.1f}" '
                         f'y2="{y(m + sd):.1f}" stroke="{c}"/>')
            o.append(f'<circle cx="{x(e):.1f}" cy="{y(m):.1f}" r="3" fill="{c}"/>')
        o.append(f'<text x="{W - R + 10}" y="{T + 20 + 18 * i}" fill="{c}">{s} (n={len(runs[s])})</text>')
    o.append("</svg>")
    open(path, "w").write("\n".join(o) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--svg")
    ap.add_argument("--reference", default="hf_fp32")
    a = ap.parse_args()
    runs = load(a.out)
    if not runs:
        sys.exit("seed_study_report: no result.json under %s" % a.out)
    per = {s: measures(rs) for s, rs in runs.items()}
    names = list(next(iter(per.values())).keys())
    print("| measure | " + " | ".join(f"{s} (n={len(runs[s])})" for s in sorted(runs)) + " |")
    print("|---|" + "---|" * len(runs))
    for n in names:
        cells = [fmt(*mean_sd(per[s][n])) if n in per[s] else "-" for s in sorted(runs)]
        print(f"| {n} | " + " | ".join(cells) + " |")
    ref = a.reference
    if ref not in per:
        print(f"\nno {ref} runs yet: no verdict")
        return
    verdict = True
    print(f"\nAgainst {ref}: Welch's t-test p, the reference's 95% interval, the difference of means; "
          f"bar: inside the interval or |difference| < {BAR}")
    print("\n| system | measure | mean | reference 95% interval | difference | p (Welch) | bar |")
    print("|---|---|---|---|---|---|---|")
    for s in sorted(per):
        if s == ref:
            continue
        for n in names:
            if n not in per[ref]:
                continue
            xs, rs = per[s][n], per[ref][n]
            m, _ = mean_sd(xs)
            rm, rlo, rhi = ci95(rs)
            d = m - rm
            p = stats.ttest_ind(xs, rs, equal_var=False).pvalue if len(xs) > 1 and len(rs) > 1 else float("nan")
            ok = (rlo <= m <= rhi) or abs(d) < BAR
            verdict &= ok
            print(f"| {s} | {n} | {m:.4f} | [{rlo:.4f}, {rhi:.4f}] | {d:+.4f} | "
                  f"{'-' if math.isnan(p) else f'{p:.3f}'} | {'met' if ok else 'NOT met'} |")
    seeds = {s: len(r) for s, r in runs.items()}
    print(f"\nverdict ({', '.join(f'{s}: {n} seeds' for s, n in sorted(seeds.items()))}): "
          f"{'every bar met' if verdict else 'a bar is NOT met'}"
          f"{'' if min(seeds.values()) >= 5 else '; the study is incomplete (fewer than 5 seeds for a system)'}")
    if a.svg:
        svg(runs, a.svg)


if __name__ == "__main__":
    main()
