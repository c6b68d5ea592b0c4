#!/usr/bin/env bash
# `lorabert train --report-to tensorboard`: the event file HF's TensorBoardCallback would write
# (OUTPUT/runs/<MonDD_HH-MM-SS>_<host>/events.out.tfevents.<time>.<host>.<pid>.<n>), read back
# with the `tensorboard` PyPI package's EventAccumulator (pinned, in a cached venv; skipped with a
# message when PyPI is unreachable): every log_history entry of trainer_state.json is there as
# scalars at its step under HF's tags (rewrite_logs: eval_X -> eval/X, the rest train/X), plus
# train/grad_norm; --logging-dir; usage errors.
source "$(dirname "$0")/../support/cli_common.sh" tboard
PIN="tensorboard==2.21.0"
ENV_DIR=${LORABERT_TB_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/tb-env}
source "$(dirname "$0")/../../tools/reference/pinned_venv.sh"
lb_pinned_venv "$ENV_DIR" "$PIN" 2>"$T/pip.log" ||
  { echo "tensorboard: cannot install $PIN from PyPI (offline?): $(tail -n 1 "$T/pip.log")"; exit 77; }
PY=$ENV_DIR/bin/python

$LB train --help | grep -q -- '--report-to none|tensorboard' || fail "train --help lists --report-to"
$LB train --help | grep -q -- '--logging-dir DIR' || fail "train --help lists --logging-dir"
$LB train --report-to wandb >"$T/e" 2>&1; [ $? -eq 2 ] || fail "--report-to wandb must be a usage error"
grep -q -- '--report-to' "$T/e" || fail "the usage error names --report-to: $(cat "$T/e")"

head -n 41 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 13 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
COMMON=(--model "$M" --train "$T/train.csv" --validation "$T/val.csv" --max-length 64 --threads 2 --epochs 2
        --logging-steps 3 --report-to tensorboard)
$LB train "${COMMON[@]}" --output "$T/out" >"$T/log" 2>&1 || { cat "$T/log"; fail "train --report-to tensorboard"; }
host=$(hostname)
runs=("$T"/out/runs/*)
[ ${#runs[@]} -eq 1 ] || fail "one runs/ folder expected: ${runs[*]}"
[[ $(basename "${runs[0]}") =~ ^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[0-3][0-9]_[0-2][0-9]-[0-5][0-9]-[0-6][0-9]_${host}$ ]] ||
  fail "runs/ folder name $(basename "${runs[0]}"), expected <MonDD_HH-MM-SS>_$host"
ev=("${runs[0]}"/events.out.tfevents.*)
[ ${#ev[@]} -eq 1 ] || fail "one event file expected: ${ev[*]}"
[[ $(basename "${ev[0]}") =~ ^events\.out\.tfevents\.[0-9]{10}\.${host}\.[0-9]+\.0$ ]] || fail "event file name $(basename "${ev[0]}")"

check() { # check RUN_DIR OUTPUT_DIR
"$PY" - "$1" "$2" <<'PY'
import json, struct, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
run, out = sys.argv[1], sys.argv[2]
acc = EventAccumulator(run, size_guidance={"scalars": 0})
acc.Reload()
hist = json.load(open(out + "/trainer_state.json"))["log_history"]
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
want = {}
for e in hist:  # HF rewrite_logs
    for k, v in e.items():
        if k == "step":
            continue
        tag = "eval/" + k[5:] if k.startswith("eval_") else "train/" + k
        want.setdefault(tag, []).append((e["step"], f32(v)))
tags = set(acc.Tags()["scalars"])
extra = tags - set(want)
assert extra == {"train/grad_norm"}, ("tags", sorted(tags), sorted(want))
for tag, pts in want.items():
    got = [(s.step, s.value) for s in acc.Scalars(tag)]
    assert got == pts, (tag, got, pts)
gn = acc.Scalars("train/grad_norm")
assert [s.step for s in gn] == [s for s, _ in want["train/loss"]] and all(s.value > 0 for s in gn), gn
assert {"train/loss", "train/learning_rate", "train/epoch", "eval/loss", "eval/accuracy", "eval/f1",
        "train/train_loss", "train/train_runtime"} <= tags, sorted(tags)
print("tensorboard: %d tags, %d scalars, every log_history value at its step" % (len(tags), sum(len(acc.Scalars(t)) for t in tags)))
PY
}
check "${runs[0]}" "$T/out" || fail "event file contents"

# --logging-dir elsewhere: the event file goes there, the output folder gets no runs/
$LB train "${COMMON[@]}" --output "$T/out2" --logging-dir "$T/tb" >"$T/log2" 2>&1 || { cat "$T/log2"; fail "--logging-dir"; }
[ -e "$T/out2/runs" ] && fail "--logging-dir: the output folder must not get runs/"
check "$T/tb" "$T/out2" || fail "--logging-dir event file contents"
# a run replacing the first one (--overwrite-output-dir) replaces its runs/ too
$LB train "${COMMON[@]}" --output "$T/out" --overwrite-output-dir >"$T/log3" 2>&1 || { cat "$T/log3"; fail "overwrite"; }
n=$(ls "$T/out/runs" | wc -l)
[ "$n" -eq 1 ] || fail "after --overwrite-output-dir: $n runs/ folders"
echo "tensorboard: ok"
