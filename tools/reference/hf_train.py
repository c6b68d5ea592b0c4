"""The seed recipe run by the real HF Trainer + PEFT, for side-by-side comparison with
`lorabert train` (docs/results.md).

usage: python hf_train.py --model DIR --train CSV --validation CSV --output DIR
                          [--epochs 1] [--targets query,value] [--threads 2] [--seed 42]

Same settings as `lorabert train`'s defaults (the notebook's recipe): LoraConfig(task_type=
SEQ_CLS, r=4, lora_alpha=32, lora_dropout=0.01, target_modules), TrainingArguments(lr 1e-3,
batch 4 train and eval, weight_decay 0.01, adamw_torch, linear schedule, no warmup, clip 1.0,
evaluation and save every epoch, load_best_model_at_end by eval loss), AutoTokenizer with
truncation_side=left, max_length 512, DataCollatorWithPadding, metrics from scikit-learn
(binary, label 1 positive). The model folder's classifier head is used as stored (real_model.sh
writes one, so both systems start from the same head).
Prints PEFT's parameter line and one line per epoch; writes OUTPUT/hf_results.json:
{"epochs": [{"epoch", "train_loss", "eval_loss", "eval_accuracy", "eval_precision",
"eval_recall", "eval_f1", "wall_s", "train_s", "eval_s"}], "train_runtime", "best", "args"}
and the best adapter (PEFT folder) in OUTPUT/best.
"""
import argparse
import csv
import json
import os
import sys
import time

import numpy as np
import torch
import transformers
from peft import LoraConfig, get_peft_model
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_lib import ListDataset  # noqa: E402
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          Trainer, TrainerCallback, TrainingArguments)


def read_csv(path, tok, max_length):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    enc = tok([r["text"] for r in rows], truncation=True, max_length=max_length)
    return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
             "token_type_ids": enc["token_type_ids"][i], "label": int(r["label"])}
            for i, r in enumerate(rows)]


class Timer(TrainerCallback):
    """Wall time of each epoch's training steps and of its evaluation."""

    def __init__(self):
        self.rows = []
        self.t0 = self.t_end = None

    def on_epoch_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kw):
        self.t_end = time.perf_counter()

    def on_evaluate(self, args, state, control, metrics=None, **kw):
        now = time.perf_counter()
        self.rows.append({"train_s": self.t_end - self.t0, "eval_s": now - self.t_end, "wall_s": now - self.t0})


def compute_metrics(p):
    logits, labels = p
    pred = np.argmax(logits, axis=1)
    prec, rec, f1, _ = precision_recall_fscore_support(labels, pred, average="binary", zero_division=0)
    return {"accuracy": accuracy_score(labels, pred), "precision": prec, "recall": rec, "f1": f1}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--validation", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--targets", default="query,value")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--resume", action="store_true",
                    help="continue from the newest OUTPUT/checkpoints/checkpoint-* when there is one "
                         "(HF resume_from_checkpoint: optimizer, scheduler, RNG and data order restored)")
    a = ap.parse_args()
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(a.threads)

    tok = AutoTokenizer.from_pretrained(a.model, truncation_side="left")
    train = ListDataset(read_csv(a.train, tok, a.max_length))
    val = ListDataset(read_csv(a.validation, tok, a.max_length))
    model = AutoModelForSequenceClassification.from_pretrained(a.model)
    lcfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.01,
                      target_modules=a.targets.split(","))
    transformers.set_seed(a.seed)  # as Trainer does before model_init; PEFT's LoRA init draws from it
    pm = get_peft_model(model, lcfg)
    pm.print_trainable_parameters()
    args = TrainingArguments(
        output_dir=os.path.join(a.output, "checkpoints"), learning_rate=1e-3,
        per_device_train_batch_size=4, per_device_eval_batch_size=4, num_train_epochs=a.epochs,
        weight_decay=0.01, evaluation_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
        logging_strategy="epoch", seed=a.seed, use_cpu=True, report_to=[], disable_tqdm=True,
        dataloader_num_workers=0)
    timer = Timer()
    trainer = Trainer(model=pm, args=args, train_dataset=train, eval_dataset=val, tokenizer=tok,
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=compute_metrics,
                      callbacks=[timer])
    t0 = time.perf_counter()
    ckdir = os.path.join(a.output, "checkpoints")
    resume = a.resume and os.path.isdir(ckdir) and any(d.startswith("checkpoint-") for d in os.listdir(ckdir))
    if resume:
        # transformers 4.32 reads its own rng_state.pth (numpy arrays inside) with torch.load, whose
        # weights_only default became True in torch 2.6: these are this script's own files
        _load = torch.load

        def trusted_load(*args, **kw):
            kw.setdefault("weights_only", False)
            return _load(*args, **kw)
        torch.load = trusted_load
    out = trainer.train(resume_from_checkpoint=True if resume else None)
    total = time.perf_counter() - t0
    evals = [h for h in trainer.state.log_history if "eval_loss" in h]
    trains = {round(h["epoch"]): h["loss"] for h in trainer.state.log_history if "loss" in h}
    rows = []
    # a resumed run timed only its own epochs: the earlier ones have no wall times
    times = [{"train_s": None, "eval_s": None, "wall_s": None}] * (len(evals) - len(timer.rows)) + timer.rows
    for e, (h, t) in enumerate(zip(evals, times), 1):
        r = {"epoch": e, "train_loss": trains.get(e)}
        r.update({k: h[k] for k in ("eval_loss", "eval_accuracy", "eval_precision", "eval_recall", "eval_f1")})
        r.update(t)
        rows.append(r)
        print("epoch %d  train_loss %.4f  eval_loss %.6f  acc %.4f  prec %.4f  rec %.4f  f1 %.4f  "
              "wall %.1f s (train %.1f, eval %.1f)" % (e, r["train_loss"] or float("nan"), r["eval_loss"],
              r["eval_accuracy"], r["eval_precision"], r["eval_recall"], r["eval_f1"],
              *(float("nan") if t[k] is None else t[k] for k in ("wall_s", "train_s", "eval_s"))), flush=True)
    pm.save_pretrained(os.path.join(a.output, "best"), safe_serialization=True)
    res = {"epochs": rows, "train_runtime": out.metrics["train_runtime"], "wall_s": total, "resumed": resume,
           "best": trainer.state.best_model_checkpoint, "best_metric": trainer.state.best_metric,
           "args": vars(a), "threads": torch.get_num_threads(),
           "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
    with open(os.path.join(a.output, "hf_results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("train_runtime %.1f s, wall %.1f s" % (out.metrics["train_runtime"], total), file=sys.stderr)


if __name__ == "__main__":
    main()
