"""The golden of evaluation / checkpoint strategies: HF Trainer + PEFT (transformers 4.32.1, peft 0.6.2)
on the tiny DistilBERT of tests/golden/distilbert_traj from its init adapter, on a fixed order of
train.csv rows (chosen here), evaluating on the first rows of validation.csv, with
evaluation_strategy / save_strategy ("epoch" by default, or "steps" / "no" with eval_steps /
save_steps), load_best_model_at_end (true by default), metric_for_best_model, save_total_limit,
EarlyStoppingCallback(patience, threshold; patience 0: no callback) and a schedule with warmup_ratio.
Writes OUT/trajectory/{init (copied), order.json, final (the model after load_best_model_at_end),
expected.json: log_history as trainer_state.json holds it, best_model_checkpoint (its folder name),
best_metric, the checkpoint folders left at the end, global_step, epoch, and the arguments}.

  PY=$(bash tools/reference/setup_env.sh)
  $PY tools/reference/strategy_golden.py --out tests/golden/distilbert_traj_earlystop \
      --patience 2 --lr 2e-3 --rows 120 --threshold 0.0005
  $PY tools/reference/strategy_golden.py --out tests/golden/distilbert_traj_steps --epochs 3 --patience 0 \
      --eval-strategy steps --save-strategy steps --eval-steps 7 --save-steps 14 --metric accuracy \
      --compute-metrics --scheduler linear --warmup-ratio 0.1 --logging-steps 1
  $PY tools/reference/strategy_golden.py --out tests/golden/distilbert_traj_steps_last --epochs 3 --patience 0 \
      --eval-strategy steps --save-strategy no --eval-steps 0.15 --load-best false --scheduler cosine \
      --compute-metrics --logging-steps 1
  $PY tools/reference/strategy_golden.py --out tests/golden/distilbert_traj_steps_es --epochs 3 --patience 2 \
      --eval-strategy steps --save-strategy steps --eval-steps 6 --save-steps 6 --save-total-limit 1 \
      --compute-metrics --scheduler linear --logging-steps 1
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
from peft import PeftModel
from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, DistilBertTokenizerFast,
                          EarlyStoppingCallback, TrainingArguments)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_lib as gl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "tests", "golden", "distilbert_traj")


def compute_metrics(p):
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support
    logits, labels = p
    pred = np.argmax(logits, axis=1)
    prec, rec, f1, _ = precision_recall_fscore_support(labels, pred, average="binary", zero_division=0)
    return {"accuracy": accuracy_score(labels, pred), "precision": prec, "recall": rec, "f1": f1}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=80)
    ap.add_argument("--eval-rows", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=2005)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--scheduler", default="polynomial")
    ap.add_argument("--warmup-ratio", type=float, default=0.05)
    ap.add_argument("--metric", default="loss")
    ap.add_argument("--patience", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.0)
    ap.add_argument("--save-total-limit", type=int, default=2)
    ap.add_argument("--logging-steps", type=int, default=5)
    ap.add_argument("--eval-strategy", default="epoch")
    ap.add_argument("--save-strategy", default="epoch")
    ap.add_argument("--eval-steps", type=float, default=None)
    ap.add_argument("--save-steps", type=float, default=500)
    ap.add_argument("--load-best", default="true", choices=["true", "false"])
    ap.add_argument("--compute-metrics", action="store_true",
                    help="accuracy / precision / recall / f1 (sklearn, binary) in the evaluations, as lorabert")
    a = ap.parse_args()
    load_best = a.load_best == "true"
    num = lambda x: int(x) if x is not None and x >= 1 else x  # noqa: E731 (HF: integers above 1)
    torch.set_num_threads(1)
    out = os.path.abspath(a.out)
    td = os.path.join(out, "trajectory")
    shutil.rmtree(td, ignore_errors=True)
    os.makedirs(td)
    shutil.copytree(os.path.join(SRC, "trajectory", "init"), os.path.join(td, "init"))
    data = gl.read_imdb_csv(os.path.join(gl.shared_dir(), "data", "imdb", "train.csv"))
    val = gl.read_imdb_csv(os.path.join(gl.shared_dir(), "data", "imdb", "validation.csv"))[:a.eval_rows]
    tok = DistilBertTokenizerFast(vocab_file=os.path.join(gl.shared_dir(), "data", "tokenizer", "vocab.txt"),
                                  do_lower_case=True)
    tok.truncation_side = "left"
    tok.model_max_length = 512
    rng = np.random.RandomState(a.seed)
    n, bs, E = a.rows, 4, a.epochs
    rows = sorted(rng.choice(len(data), size=n, replace=False).tolist())
    epochs = [rng.permutation(n).tolist() for _ in range(E)]
    enc = tok([data[r][0] for r in rows], truncation=True, max_length=128)
    items = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "label": data[r][1]}
             for i, r in enumerate(rows)]
    venc = tok([t for t, _ in val], truncation=True, max_length=128)
    vitems = [{"input_ids": venc["input_ids"][i], "attention_mask": venc["attention_mask"][i], "label": lab}
              for i, (_, lab) in enumerate(val)]
    collator = DataCollatorWithPadding(tok)
    steps, expected = [], []
    for perm in epochs:
        for s in range(0, n, bs):
            idx = perm[s:s + bs]
            steps.append([rows[i] for i in idx])
            b = collator([items[i] for i in idx])
            expected.append({"input_ids": b["input_ids"], "labels": b["labels"]})
    base = AutoModelForSequenceClassification.from_pretrained(os.path.join(SRC, "model"))
    for k in gl.DROPOUT_KEYS:
        if getattr(base.config, k, 0.0) not in (0.0, None):
            raise RuntimeError(f"the model must have {k}=0")
    pm = PeftModel.from_pretrained(base, os.path.join(SRC, "trajectory", "init"), is_trainable=True)
    run_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lorabert-strategy-{os.getpid()}")
    args = TrainingArguments(
        output_dir=run_dir, learning_rate=a.lr, per_device_train_batch_size=bs, per_device_eval_batch_size=4,
        num_train_epochs=E, weight_decay=0.01, lr_scheduler_type=a.scheduler, warmup_ratio=a.warmup_ratio,
        max_grad_norm=1.0, optim="adamw_torch", adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, seed=42,
        use_cpu=True, evaluation_strategy=a.eval_strategy, save_strategy=a.save_strategy,
        eval_steps=num(a.eval_steps), save_steps=num(a.save_steps), load_best_model_at_end=load_best,
        metric_for_best_model=a.metric, save_total_limit=a.save_total_limit, logging_strategy="steps",
        logging_steps=a.logging_steps, report_to=[], disable_tqdm=True, dataloader_drop_last=False,
        dataloader_num_workers=0, dataloader_pin_memory=False)
    trainer = gl.RecordingTrainer(model=pm, args=args, train_dataset=gl.ListDataset(items),
                                  eval_dataset=gl.ListDataset(vitems), data_collator=collator, tokenizer=tok,
                                  fixed_epochs=epochs, expected_batches=expected,
                                  compute_metrics=compute_metrics if a.compute_metrics else None,
                                  callbacks=[EarlyStoppingCallback(a.patience, a.threshold)] if a.patience else [])
    trainer.train()
    st = trainer.state
    left = sorted((d for d in os.listdir(run_dir) if d.startswith("checkpoint-")), key=lambda d: int(d[11:]))
    if not all(math.isfinite(x) for k in trainer.rec for x in trainer.rec[k]):
        raise RuntimeError("non-finite values")
    trainer.model.save_pretrained(os.path.join(td, "final"), safe_serialization=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    gl.write_json(os.path.join(td, "order.json"), {"train_file": "imdb/train.csv", "batch_size": bs, "epochs": E,
                                                   "steps": steps})
    gl.write_json(os.path.join(td, "expected.json"), {
        "log_history": st.log_history,
        "best_model_checkpoint": os.path.basename(st.best_model_checkpoint) if st.best_model_checkpoint else None,
        "best_metric": st.best_metric, "checkpoints": left, "global_step": st.global_step, "epoch": st.epoch,
        "eval_steps": st.eval_steps, "save_steps": st.save_steps,
        "learning_rates": trainer.rec["learning_rates"], "losses": trainer.rec["losses"],
        "args": {"learning_rate": a.lr, "num_train_epochs": E, "per_device_train_batch_size": bs,
                 "per_device_eval_batch_size": 4, "lr_scheduler_type": a.scheduler, "warmup_ratio": a.warmup_ratio,
                 "evaluation_strategy": a.eval_strategy, "save_strategy": a.save_strategy,
                 "eval_steps": num(a.eval_steps), "save_steps": num(a.save_steps), "load_best_model_at_end": load_best,
                 "metric_for_best_model": a.metric, "save_total_limit": a.save_total_limit,
                 "early_stopping_patience": a.patience, "early_stopping_threshold": a.threshold,
                 "logging_steps": a.logging_steps, "max_length": 128, "truncation_side": "left", "rows": n,
                 "validation": "imdb/validation.csv, first %d rows" % a.eval_rows},
        "versions": gl.VERSIONS,
        "notes": "order.json: micro-batches of train.csv rows (0-based data rows) for all planned epochs; the run "
                 "may stop early. final = the model at the end of train() (after load_best_model_at_end when "
                 "it is true)."})
    print("epochs run %.2f of %d, best %s (%s), checkpoints left %s" % (st.epoch, E, st.best_model_checkpoint,
                                                                       st.best_metric, left))
    print([(h.get("epoch"), h.get("eval_loss")) for h in st.log_history if "eval_loss" in h])


if __name__ == "__main__":
    main()
