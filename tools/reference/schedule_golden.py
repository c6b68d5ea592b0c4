"""Writes tests/golden/optim/schedules.json: the learning rate of every transformers 4.32.1
schedule lorabert runs (get_scheduler by lr_scheduler_type), with the warmup of
TrainingArguments.get_warmup_steps, after each of 0..total scheduler steps (the value at k is what
update k uses and what the Trainer logs at global step k).  Floats are written with repr, so the
C side can compare bit for bit.  Usage: python schedule_golden.py OUT.json"""
import json
import sys

import torch
import transformers
from transformers import TrainingArguments, get_scheduler

TYPES = ["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"]
# (learning_rate, total steps, warmup_steps, warmup_ratio): ratio only, steps winning over the
# ratio, no warmup, a warmup as long as the run, and an awkward ratio (ceil of an inexact product)
SETTINGS = [(1e-3, 37, 0, 0.1), (5e-4, 37, 5, 0.3), (2e-5, 37, 0, 0.0), (1e-3, 10, 0, 1.0), (3e-3, 49, 0, 0.07)]

cases = []
for name in TYPES:
    for lr, total, ws, wr in SETTINGS:
        if name == "polynomial" and total == 10 and wr == 1.0:
            continue  # decay_steps 0: transformers divides by zero at the last step
        args = TrainingArguments(output_dir="/nonexistent", warmup_steps=ws, warmup_ratio=wr, report_to=[])
        warmup = args.get_warmup_steps(total)
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=lr)
        sched = get_scheduler(name, opt, num_warmup_steps=warmup, num_training_steps=total)
        lrs = [sched.get_last_lr()[0]]
        for _ in range(total):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr()[0])
        cases.append({"type": name, "learning_rate": lr, "total": total, "warmup_steps": ws, "warmup_ratio": wr,
                      "warmup": warmup, "lrs": [repr(float(x)) for x in lrs]})
with open(sys.argv[1], "w") as f:
    json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "cases": cases}, f, indent=0)
    f.write("\n")
