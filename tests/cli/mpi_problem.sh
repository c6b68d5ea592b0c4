#!/usr/bin/env bash
# mpirun -np N lorabert eval of a multi-label and a regression adapter: each process evaluates its
# shard and the gathered metrics (their logits and targets move through the collective) are
# byte-identical to one process's, with uneven shares (11 rows in batches of 2: 6 batches on 2
# and 4 processes). And mpirun -np 2 lorabert train of each gives the adapter and the evaluations
# of one process accumulating 2 micro-batches.
source "$(dirname "$0")/../support/cli_common.sh" mpiproblem
source "$(dirname "$0")/../support/mpi_common.sh"
python3 - "$SHARED/data/imdb/train.csv" "$T" <<'PY' || fail "data"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))[:51]
for name, cols, f in (("ml", ["toxic", "funny"], lambda r, i: [r["label"], int(i % 3 == 0)]),
                      ("reg", ["score"], lambda r, i: [int(r["label"]) + 0.25 * (i % 5)])):
    for part, sl in (("train", slice(0, 40)), ("val", slice(40, 51))):
        with open("%s/%s_%s.csv" % (sys.argv[2], name, part), "w", newline="", encoding="utf-8") as out:
            w = csv.writer(out)
            w.writerow(["text"] + cols)
            for i, r in list(enumerate(rows))[sl]:
                w.writerow([r["text"]] + f(r, i))
PY
# a model without a head: the regression run makes a one-output one
MH=$T/headless && mkdir -p "$MH" && cp "$M"/* "$MH/" && python3 - "$MH" <<'PY' || fail "headless model"
import json, struct, sys
p = sys.argv[1] + "/model.safetensors"
b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
keep = {k: v for k, v in h.items() if k == "__metadata__" or not k.startswith(("classifier", "pre_classifier"))}
data, out, off = b[8 + n:], {}, 0
blobs = []
for k, v in keep.items():
    if k == "__metadata__": out[k] = v; continue
    s, e = v["data_offsets"]; blobs.append(data[s:e]); out[k] = dict(v, data_offsets=[off, off + e - s]); off += e - s
hb = json.dumps(out).encode(); hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
PY
for name in ml reg; do
  if [ $name = ml ]; then opt=(--label-columns toxic,funny); mdl=$M; else opt=(--problem-type regression --label-column score); mdl=$MH; fi
  for np in 1 2; do
    # the same global batch: one process accumulating 2 micro-batches, or 2 processes
    run=("$LB" train --gradient-accumulation-steps 2); [ $np = 1 ] || run=("${MPIRUN[@]}" -np $np "$LB" train)
    "${run[@]}" --model "$mdl" --train "$T/${name}_train.csv" --validation "$T/${name}_val.csv" "${opt[@]}" --epochs 1 \
      --batch-size 2 --max-length 64 --output "$T/${name}_np$np" >"$T/${name}_np$np.log" 2>&1 ||
      { cat "$T/${name}_np$np.log"; fail "train $name np $np"; }
  done
  same_run "$T/${name}_np1" "$T/${name}_np2"
  for np in 1 2 4; do
    run=("$LB"); [ $np = 1 ] || run=("${MPIRUN[@]}" -np $np "$LB")
    "${run[@]}" eval --model "$T/${name}_np1" --data "$T/${name}_val.csv" --batch-size 2 --max-length 64 --json \
      ${opt[2]:+--label-column score} >"$T/${name}_e$np.json" 2>"$T/err" || fail "eval $name np $np: $(cat "$T/err")"
  done
  grep -q '"n_examples": 11' "$T/${name}_e1.json" || fail "eval $name: $(cat "$T/${name}_e1.json")"
  for np in 2 4; do
    cmp -s "$T/${name}_e1.json" "$T/${name}_e$np.json" ||
      fail "eval $name np $np differs: $(cat "$T/${name}_e$np.json") vs $(cat "$T/${name}_e1.json")"
  done
done
echo "mpi_problem: ok"
