#!/usr/bin/env bash
# mpirun -np 2 lorabert train against the real thing: HF Trainer + PEFT under torchrun
# --nproc_per_node 2 (DDP, gloo, CPU; tests/golden/distilbert_traj_ddp2, written by
# tools/reference/torchrun_golden.py in the pinned reference env) on the same rows, global
# micro-batch order and initial adapter, 75 steps: every step's loss and the final trainable
# tensors within 1e-3 relative (the single-process trajectory's bar). One process with
# --gradient-accumulation-steps 2 gives the 2-process adapter bit for bit.
source "$(dirname "$0")/../support/cli_common.sh" mpiddp
source "$(dirname "$0")/../support/mpi_common.sh"
# the copy regenerated in CI (tools/reference/full_goldens.sh) when there is one, else the committed
G=${LORABERT_FULL_GOLDEN:-/nonexistent}/distilbert_traj_ddp2/trajectory
[ -f "$G/expected.json" ] || G=tests/golden/distilbert_traj_ddp2/trajectory
[ -f "$G/expected.json" ] || { echo "golden $G absent (tools/reference/torchrun_golden.py)"; exit 77; }
args=(train --model "$M" --train "$SHARED/data/imdb/train.csv" --no-eval --epochs 3 --batch-size 4 --max-length 128
      --init-adapter "$G/init" --batch-order "$G/order.json" --logging-steps 1)
"${MPIRUN[@]}" -np 2 "$LB" "${args[@]}" --output "$T/two" >"$T/two.log" 2>&1 || { cat "$T/two.log"; fail "np 2"; }
"$LB" "${args[@]}" --gradient-accumulation-steps 2 --output "$T/one" >"$T/one.log" 2>&1 || { cat "$T/one.log"; fail "np 1"; }
same_run "$T/one" "$T/two"
python3 - "$G" "$T/two" <<'PY' || fail "parity with torchrun"
import array, json, math, struct, sys
g, out = sys.argv[1], sys.argv[2]
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k != "__metadata__":
            out[k] = array.array("f", b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
    return out
exp = json.load(open(g + "/expected.json"))
hist = [e for e in json.load(open(out + "/trainer_state.json"))["log_history"] if "loss" in e and "step" in e]
ours = [e["loss"] for e in sorted(hist, key=lambda e: e["step"])]
if len(ours) != len(exp["losses"]):
    print("steps: lorabert %d, torchrun %d" % (len(ours), len(exp["losses"]))); sys.exit(1)
worst = max(abs(a - b) / abs(b) for a, b in zip(ours, exp["losses"]))
a, b = tensors(out + "/adapter_model.safetensors"), tensors(g + "/final/adapter_model.safetensors")
if sorted(a) != sorted(b):
    print("tensor names differ", sorted(a), sorted(b)); sys.exit(1)
def rel(x, y):
    return math.sqrt(sum((p - q) ** 2 for p, q in zip(x, y)) / sum(q * q for q in y))
tw = max(rel(a[k], b[k]) for k in b)
print(g + ": torchrun parity: %d steps, per-step loss max relative diff %.3g (lorabert logs 4 decimals, as HF), "
      "final tensors max relative L2 diff %.3g" % (len(ours), worst, tw))
sys.exit(0 if worst <= 1e-3 and tw <= 1e-3 else 1)
PY
