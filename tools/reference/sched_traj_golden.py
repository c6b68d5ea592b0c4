"""The golden of a non-linear learning-rate schedule with warmup_ratio over a real trajectory: HF
Trainer + PEFT (transformers 4.32.1, peft 0.6.2) on the tiny DistilBERT of
tests/golden/distilbert_traj, from its init adapter, over its fixed order (order.json, tokens.json),
with lr_scheduler_type and warmup_ratio as given and logging_steps 1.
Writes OUT/trajectory/{final, expected.json}: per step the loss, the learning rate the update used and
the pre-clip grad norm (as the other trajectories), plus log_history's learning_rate and loss at every
step (what trainer_state.json holds with logging_steps 1). init, order.json and tokens.json are
distilbert_traj's (not copied).

  PY=$(bash tools/reference/setup_env.sh)
  $PY tools/reference/sched_traj_golden.py --out tests/golden/distilbert_traj_cosine --type cosine --warmup-ratio 0.1
"""
import argparse
import os
import shutil
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, TrainingArguments

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_lib as gl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "tests", "golden", "distilbert_traj")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", required=True)
    ap.add_argument("--warmup-ratio", type=float, default=0.0)
    ap.add_argument("--warmup-steps", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = os.path.abspath(a.out)
    td = os.path.join(out, "trajectory")
    shutil.rmtree(td, ignore_errors=True)
    os.makedirs(td)
    fo = gl.FixedOrder(SRC)
    E, bs, steps = fo.E, fo.bs, fo.steps
    base = AutoModelForSequenceClassification.from_pretrained(os.path.join(SRC, "model"))
    pm = PeftModel.from_pretrained(base, os.path.join(SRC, "trajectory", "init"), is_trainable=True)
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lorabert-sched-{os.getpid()}")
    args = TrainingArguments(
        output_dir=tmp, learning_rate=1e-3, per_device_train_batch_size=bs, num_train_epochs=E, weight_decay=0.01,
        lr_scheduler_type=a.type, warmup_ratio=a.warmup_ratio, warmup_steps=a.warmup_steps, max_grad_norm=1.0,
        optim="adamw_torch", adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, seed=42, use_cpu=True,
        evaluation_strategy="no", save_strategy="no", logging_strategy="steps", logging_steps=1, report_to=[],
        disable_tqdm=True, dataloader_drop_last=False, dataloader_num_workers=0, dataloader_pin_memory=False)
    trainer = gl.RecordingTrainer(model=pm, args=args, train_dataset=gl.ListDataset(fo.items),
                                  data_collator=fo.collator, tokenizer=fo.tok, fixed_epochs=fo.epochs,
                                  expected_batches=fo.expected)
    rec = gl.train_recorded(trainer)
    logs = [h for h in trainer.state.log_history if "learning_rate" in h]
    if [h["step"] for h in logs] != list(range(1, len(steps) + 1)):
        raise RuntimeError("expected one log entry per step")
    pm.save_pretrained(os.path.join(td, "final"), safe_serialization=True)
    gl.write_json(os.path.join(td, "expected.json"), {
        "losses": rec["losses"], "learning_rates": rec["learning_rates"], "grad_norms": rec["grad_norms"],
        "log_learning_rates": [h["learning_rate"] for h in logs], "log_losses": [h["loss"] for h in logs],
        "args": {"learning_rate": 1e-3, "weight_decay": 0.01, "per_device_train_batch_size": bs,
                 "num_train_epochs": E, "max_steps": len(steps), "lr_scheduler_type": a.type,
                 "warmup_ratio": a.warmup_ratio, "warmup_steps": a.warmup_steps,
                 "warmup": args.get_warmup_steps(len(steps)), "max_grad_norm": 1.0, "logging_steps": 1,
                 "source": "tests/golden/distilbert_traj (model, trajectory/init, order.json, tokens.json)"},
        "versions": gl.VERSIONS,
        "notes": "losses/learning_rates/grad_norms as distilbert_traj's expected.json; log_learning_rates[k] and "
                 "log_losses[k] = trainer_state.json log_history's learning_rate and loss at step k+1 "
                 "(logging_steps 1)."})


if __name__ == "__main__":
    main()
