"""The golden of `mpirun -np 2 lorabert train`: HF Trainer + PEFT on two processes under
torchrun --nproc_per_node 2 (DDP, gloo backend, CPU), on the tiny DistilBERT of
tests/golden/distilbert_traj (all dropouts 0) from its PEFT init adapter, over a fixed global
order of micro-batches of 4 rows: accelerate's data loader gives process r the batches r, r + 2,
r + 4, ... of that order, DDP averages the two processes' gradients, so step k is global
micro-batches 2k and 2k + 1 — lorabert's data-parallel step (global micro-batch j on rank j % P).
Writes OUT/trajectory/{init (copied), final, order.json (micro-batches in global order),
expected.json (per step: the mean of the two processes' losses, the learning rate, the pre-clip
norm of the averaged gradients)}.

  PY=$(bash tools/reference/setup_env.sh)
  $PY -m torch.distributed.run --nproc_per_node 2 tools/reference/torchrun_golden.py --out tests/golden/distilbert_traj_ddp2
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.distributed as dist
from peft import PeftModel
from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, DistilBertTokenizerFast,
                          TrainingArguments)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_lib as gl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "tests", "golden", "distilbert_traj")


class DdpRecordingTrainer(gl.RecordingTrainer):
    """RecordingTrainer on P processes: checks each micro-batch against the global order (process
    r's k-th is global micro-batch k * P + r) and records, per step, the mean of the processes'
    losses and the norm of the DDP-averaged gradients."""

    def training_step(self, model, inputs):
        P, r = dist.get_world_size(), dist.get_rank()
        g = self.micro * P + r
        exp = self.expected_batches[g]
        if not (torch.equal(inputs["input_ids"].cpu(), exp["input_ids"])
                and torch.equal(inputs["labels"].cpu(), exp["labels"])):
            raise RuntimeError(f"rank {r}: micro-batch {g}: Trainer batch differs from the fixed order")
        loss = super(gl.RecordingTrainer, self).training_step(model, inputs)  # backward: grads averaged by DDP
        self.micro += 1
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        mean /= P
        grads = [p.grad.detach() for p in model.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(x, 2.0) for x in grads]), 2.0)
        self.rec["losses"].append(float(mean))
        self.rec["learning_rates"].append(float(self.optimizer.param_groups[0]["lr"]))
        self.rec["grad_norms"].append(float(norm))
        return loss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2003)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != 2:
        raise SystemExit("run under torchrun --nproc_per_node 2")
    out = os.path.abspath(a.out)
    td = os.path.join(out, "trajectory")
    data = gl.read_imdb_csv(os.path.join(gl.shared_dir(), "data", "imdb", "train.csv"))
    tok = DistilBertTokenizerFast(vocab_file=os.path.join(gl.shared_dir(), "data", "tokenizer", "vocab.txt"),
                                  do_lower_case=True)
    tok.truncation_side = "left"
    tok.model_max_length = 512
    rng = np.random.RandomState(a.seed)
    n, bs, E = a.rows, 4, a.epochs
    if (n // bs) % world or n % bs:
        raise SystemExit("rows must make whole steps of 2 full micro-batches")
    rows = sorted(rng.choice(len(data), size=n, replace=False).tolist())
    epochs = [rng.permutation(n).tolist() for _ in range(E)]
    enc = tok([data[r][0] for r in rows], truncation=True, max_length=128)
    items = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "label": data[r][1]}
             for i, r in enumerate(rows)]
    collator = DataCollatorWithPadding(tok)
    micro, expected = [], []
    for perm in epochs:
        for s in range(0, n, bs):
            idx = perm[s:s + bs]
            micro.append([rows[i] for i in idx])
            b = collator([items[i] for i in idx])
            expected.append({"input_ids": b["input_ids"], "labels": b["labels"]})
    if rank == 0:
        shutil.rmtree(td, ignore_errors=True)
        os.makedirs(td)
        shutil.copytree(os.path.join(SRC, "trajectory", "init"), os.path.join(td, "init"))
    dist_tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "lorabert-ddp-%s" % os.environ.get("TORCHELASTIC_RUN_ID", "x"))
    base = AutoModelForSequenceClassification.from_pretrained(os.path.join(SRC, "model"))
    for k in gl.DROPOUT_KEYS:
        if getattr(base.config, k, 0.0) not in (0.0, None):
            raise RuntimeError(f"the model must have {k}=0")
    pm = PeftModel.from_pretrained(base, os.path.join(SRC, "trajectory", "init"), is_trainable=True)
    args = TrainingArguments(
        output_dir=dist_tmp, learning_rate=1e-3, per_device_train_batch_size=bs, num_train_epochs=E,
        weight_decay=0.01, lr_scheduler_type="linear", warmup_steps=0, max_grad_norm=1.0, optim="adamw_torch",
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, seed=42, use_cpu=True, ddp_backend="gloo",
        evaluation_strategy="no", save_strategy="no", logging_strategy="no", report_to=[], disable_tqdm=True,
        dataloader_drop_last=False, dataloader_num_workers=0, dataloader_pin_memory=False)
    trainer = DdpRecordingTrainer(model=pm, args=args, train_dataset=gl.ListDataset(items), data_collator=collator,
                                  tokenizer=tok, fixed_epochs=epochs, expected_batches=expected)
    trainer.train()
    rec = trainer.rec
    steps = len(micro) // world
    if len(rec["losses"]) != steps or trainer.micro != steps:
        raise RuntimeError(f"rank {rank}: recorded {len(rec['losses'])} steps, expected {steps}")
    if not all(math.isfinite(x) for k in rec for x in rec[k]):
        raise RuntimeError("non-finite values")
    if rank == 0:
        trainer.model.save_pretrained(os.path.join(td, "final"), safe_serialization=True)
        gl.write_json(os.path.join(td, "order.json"), {"train_file": "imdb/train.csv", "batch_size": bs, "epochs": E,
                                                       "steps": micro})
        gl.write_json(os.path.join(td, "expected.json"), {
            "losses": rec["losses"], "learning_rates": rec["learning_rates"], "grad_norms": rec["grad_norms"],
            "args": {"world_size": world, "per_device_train_batch_size": bs, "num_train_epochs": E,
                     "max_steps": steps, "learning_rate": 1e-3, "weight_decay": 0.01, "max_grad_norm": 1.0,
                     "max_length": 128, "truncation_side": "left", "ddp_backend": "gloo", "rows": n},
            "versions": gl.VERSIONS,
            "notes": "torchrun --nproc_per_node 2: rank r ran global micro-batches r, r+2, ... of order.json's "
                     "steps (micro-batches of 4 rows); losses[k] = mean of the two ranks' micro-batch losses of "
                     "step k; grad_norms[k] = norm of the DDP-averaged gradients before clipping; final = "
                     "rank 0's adapter after the last step."})
    shutil.rmtree(dist_tmp, ignore_errors=True)
    dist.barrier()


if __name__ == "__main__":
    main()
