#!/usr/bin/env bash
# The 5-seed study of issue 16 (docs/results.md): the seed recipe for 3 epochs (best by eval
# loss) on the real all-MiniLM-L6-v2 and the shared IMDb split, per seed, by lorabert fp32,
# lorabert bf16 and HF Trainer + PEFT fp32 (the pinned reference env). One run takes minutes for
# lorabert and about 25 minutes for HF on 2 threads, and a process ends with its session, so
# every finished run is kept on disk and a later call skips it: run this again until every cell
# is done, then tools/reference/seed_study_report.py OUT.
#
#   tools/reference/seed_study.sh [OUT] [SEEDS] [SYSTEMS]
#     OUT      default ~/.cache/lorabert/seed-study (nothing of it is committed)
#     SEEDS    comma list, default 1,2,3,4,5
#     SYSTEMS  comma list of lorabert_fp32,lorabert_bf16,hf_fp32 (default all, in that order:
#              the cheap cells first)
#
# Seed N: the model folder is real_model.sh's with the classifier head drawn under seed N (both
# systems start from that same head), and seed N drives each system's own data order, dropout
# and LoRA init (their RNGs differ, so the runs compare statistically, not bitwise). A cell is
# OUT/SYSTEM/seedN/ with result.json ({"system", "seed", "epochs": [{epoch, train_loss,
# eval_loss, eval_accuracy, eval_precision, eval_recall, eval_f1}], "wall_s"}) and the run's
# files; it appears whole (written under seedN.tmp, renamed at the end) or not at all.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/seed-study}
SEEDS=${2:-1,2,3,4,5}
SYSTEMS=${3:-lorabert_fp32,lorabert_bf16,hf_fp32}
EPOCHS=${SEED_STUDY_EPOCHS:-3}
THREADS=${SEED_STUDY_THREADS:-2}
SHARED=${LORABERT_SHARED:-../shared}
TRAIN=$SHARED/data/imdb/train.csv VAL=$SHARED/data/imdb/validation.csv
[ -f "$TRAIN" ] && [ -f "$VAL" ] || { echo "seed_study: $SHARED/data/imdb missing" >&2; exit 1; }
LB=${LORABERT_BIN:-build/release/lorabert}
[ -x "$LB" ] || make -j2 MODE=release >/dev/null
PY=$(bash tools/reference/setup_env.sh)
mkdir -p "$OUT/models"

for seed in ${SEEDS//,/ }; do
  model=$OUT/models/seed$seed
  if [ ! -f "$model/model.safetensors" ]; then
    rm -rf "$model.tmp"
    bash tools/reference/real_model.sh "$model.tmp" "$seed" && mv "$model.tmp" "$model"
  fi
  for sys in ${SYSTEMS//,/ }; do
    cell=$OUT/$sys/seed$seed
    if [ -f "$cell/result.json" ]; then echo "seed_study: $sys seed $seed done" >&2; continue; fi
    # an HF cell interrupted with its session continues from its last epoch checkpoint (HF's
    # resume_from_checkpoint restores optimizer, scheduler, RNG and data order); others restart
    if [ "$sys" = hf_fp32 ] && compgen -G "$cell.tmp/run/checkpoints/checkpoint-*" >/dev/null; then
      echo "seed_study: $sys seed $seed: resuming from $(ls -d "$cell.tmp"/run/checkpoints/checkpoint-* | tail -1)" >&2
    else
      rm -rf "$cell.tmp"; mkdir -p "$cell.tmp"
    fi
    echo "seed_study: $sys seed $seed ($(date -u +%H:%M:%S))" >&2
    t0=$(date +%s.%N)
    case $sys in
      lorabert_fp32|lorabert_bf16)
        "$LB" train --model "$model" --train "$TRAIN" --validation "$VAL" --target-modules query,value \
          --epochs "$EPOCHS" --threads "$THREADS" --seed "$seed" --precision "${sys#lorabert_}" \
          --logging-steps 250 --output "$cell.tmp/run" >"$cell.tmp/train.log" 2>&1 ;;
      hf_fp32)
        "$PY" tools/reference/hf_train.py --model "$model" --train "$TRAIN" --validation "$VAL" \
          --epochs "$EPOCHS" --threads "$THREADS" --seed "$seed" --output "$cell.tmp/run" --resume >>"$cell.tmp/train.log" 2>&1 ;;
      *) echo "seed_study: unknown system $sys" >&2; exit 2 ;;
    esac
    t1=$(date +%s.%N)
    python3 - "$cell.tmp" "$sys" "$seed" "$t0" "$t1" <<'PY'
import json, os, sys
d, system, seed, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
keys = ("eval_loss", "eval_accuracy", "eval_precision", "eval_recall", "eval_f1")
if system.startswith("lorabert"):
    hist = json.load(open(os.path.join(d, "run", "trainer_state.json")))["log_history"]
    train = {round(h["epoch"]): h["loss"] for h in hist if "loss" in h}
    epochs = [dict({"epoch": round(h["epoch"]), "train_loss": train.get(round(h["epoch"]))},
                   **{k: h[k] for k in keys}) for h in hist if "eval_loss" in h]
else:
    epochs = [dict({"epoch": e["epoch"], "train_loss": e.get("train_loss")}, **{k: e[k] for k in keys})
              for e in json.load(open(os.path.join(d, "run", "hf_results.json")))["epochs"]]
if not epochs:
    sys.exit("seed_study: %s seed %d: no evaluations found" % (system, seed))
json.dump({"system": system, "seed": seed, "epochs": epochs, "wall_s": t1 - t0},
          open(os.path.join(d, "result.json"), "w"), indent=1)
PY
    mv "$cell.tmp" "$cell"
    echo "seed_study: $sys seed $seed written ($(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["wall_s"]))' "$cell/result.json") s)" >&2
  done
done
echo "seed_study: every requested cell is done; tools/reference/seed_study_report.py $OUT" >&2
