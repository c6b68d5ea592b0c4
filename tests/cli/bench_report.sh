#!/usr/bin/env bash
# bench/report.py on made-up results (no model, no timing): bench/run's interleaved rounds
# (NAME.rK.jsonl) pool into the median of the rounds' medians with min/max over every repeat
# and the quartiles of the round medians; workloads measured with a competitor (_contended) get
# their ratio to the idle figure against the >= 0.40 bar, both ways round (higher- and
# lower-better); every table names the CPU and its ISA flags; --compare exits 0 when no median
# moved by 10% and 1 when one did.
set -u
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d /tmp/lbrep.XXXXXX); trap 'rm -rf "$T"' EXIT
mkdir "$T/a"
python3 - "$T/a" <<'PYEOF' || fail "writing the fixture"
import json, os, sys
d = sys.argv[1]
def rec(system, workload, unit, better, med, lo, hi, **extra):
    r = {"system": system, "workload": workload, "unit": unit, "better": better, "median": med,
         "min": lo, "max": hi, "n": 2}
    r.update(extra)
    return json.dumps(r) + "\n"
# train_real: rounds 4000, 3000, 5000 -> median 4000; min over repeats 2900, max 5100
for k, (tr, ev, pr) in enumerate([(4000, 20.0, 30.0), (3000, 22.0, 31.0), (5000, 18.0, 29.0)], 1):
    with open(os.path.join(d, f"lorabert.r{k}.jsonl"), "w") as f:
        f.write(rec("lorabert", "train_real", "tokens/s", "higher", tr, tr - 100, tr + 100,
                    s_per_epoch=425000 / tr, epoch_padded_tokens=425000, gflops=100.0 * k))
        f.write(rec("lorabert", "eval_validation", "reviews/s", "higher", ev, ev - 1, ev + 1))
        f.write(rec("lorabert", "predict_b1_t128", "ms", "lower", pr, pr - 1, pr + 1))
    with open(os.path.join(d, f"lorabert_contended.r{k}.jsonl"), "w") as f:
        # train 0.45 of idle (met), eval 0.35 (not met), predict 30 -> 60 ms: 0.50 (met)
        f.write(rec("lorabert", "train_real_contended", "tokens/s", "higher", 0.45 * tr, 0.45 * tr, 0.45 * tr,
                    s_per_epoch=425000 / (0.45 * tr), epoch_padded_tokens=425000))
        f.write(rec("lorabert", "eval_validation_contended", "reviews/s", "higher", 0.35 * ev, 0.35 * ev, 0.35 * ev))
        f.write(rec("lorabert", "predict_b1_t128_contended", "ms", "lower", 2 * pr, 2 * pr, 2 * pr))
    with open(os.path.join(d, f"hf_peft.r{k}.jsonl"), "w") as f:
        f.write(rec("hf_peft", "train_real", "tokens/s", "higher", 2000, 1900, 2100))
json.dump({"cpu": "Test CPU 9000", "cpu_id": "GenuineIntel family 6 model 999", "threads": 2, "isa": ["avx512f", "amx_bf16"], "rounds": 3,
           "contended_competitor_cpu": 1}, open(os.path.join(d, "machine.json"), "w"))
PYEOF
python3 bench/report.py --dir "$T/a" --json "$T/a.json" >"$T/a.txt" || fail "report.py: $(cat "$T/a.txt")"
python3 - "$T/a.json" <<'PYEOF' || fail "summary document wrong (table: $(cat "$T/a.txt"))"
import json, sys
d = json.load(open(sys.argv[1]))
w = {x["name"]: x for x in d["workloads"]}
t = w["train_real_fp32"]
assert t["lorabert"] == 4000, t
sp = t["spread"]["lorabert"]
assert (sp["min"], sp["max"], sp["rounds"], sp["n"]) == (2900, 5100, 3, 6), sp
assert sorted(sp["round_medians"]) == [3000, 4000, 5000] and (sp["q1"], sp["q3"]) == (3500, 4500), sp
assert t["lorabert_gflops"] == 200.0, t          # the median round's GFLOP/s
assert abs(t["ratio"]["hf_peft"] - 2.0) < 1e-12, t
c = w["train_real_fp32_contended"]
assert abs(c["ratio_to_idle"] - 0.45) < 1e-9 and c["met"] and c["bar"] == 0.40, c
e = w["eval_validation_contended"]
assert abs(e["ratio_to_idle"] - 0.35) < 1e-9 and not e["met"], e
p = w["predict_b1_t128_contended"]
assert abs(p["ratio_to_idle"] - 0.5) < 1e-9 and p["met"] and p["idle"] == 30.0 and p["lorabert"] == 60.0, p
PYEOF
grep -q 'CPU Test CPU 9000 (GenuineIntel family 6 model 999) \[avx512f, amx_bf16\]' "$T/a.txt" ||
  fail "the table does not name the CPU and ISA: $(head -1 "$T/a.txt")"
[ "$(grep -c 'Test CPU 9000' "$T/a.txt")" -ge 2 ] || fail "the contended table does not name the CPU"
grep -q 'eval_validation_contended .*0\.35 (NOT met)' "$T/a.txt" || fail "contended row: $(grep contended "$T/a.txt")"

cp -r "$T/a" "$T/b"
python3 bench/report.py --compare "$T/a" "$T/b" >"$T/cmp.txt" || fail "--compare of equal runs: $(cat "$T/cmp.txt")"
# one round of one figure moves, the median does not: still stable
sed -i 's/"median": 18.0,/"median": 12.0,/' "$T/b/lorabert.r3.jsonl"
python3 bench/report.py --compare "$T/a" "$T/b" >"$T/cmp.txt" || fail "--compare, one outlier round: $(cat "$T/cmp.txt")"
# every round of predict 10% slower: moved
python3 - "$T/b" <<'PYEOF' || fail "editing the fixture"
import glob, json, sys
for p in glob.glob(sys.argv[1] + "/lorabert.r*.jsonl"):
    rs = [json.loads(l) for l in open(p)]
    for r in rs:
        if r["workload"] == "predict_b1_t128":
            r["median"] *= 1.12
    open(p, "w").write("".join(json.dumps(r) + "\n" for r in rs))
PYEOF
python3 bench/report.py --compare "$T/a" "$T/b" >"$T/cmp.txt" && fail "--compare missed a 12% move: $(cat "$T/cmp.txt")"
grep -q 'predict_b1_t128 .*<- moved' "$T/cmp.txt" || fail "--compare does not flag the moved figure: $(cat "$T/cmp.txt")"
echo "ok: rounds pooled, contended ratios and bar, CPU named, --compare flags a moved median"
