"""Writes tests/golden/optim/adamw.json: N steps of torch AdamW (two param groups: decay and
no decay) + clip_grad_norm_ + transformers' linear schedule with warmup, on random float32
params and grads.  Usage: python optim_golden.py OUT.json"""
import json, sys
import torch
from transformers import get_linear_schedule_with_warmup

torch.manual_seed(1234)
shapes = [("a.lora_A.weight", [4, 8], True), ("a.lora_B.weight", [8, 4], True),
          ("classifier.weight", [3, 8], True), ("classifier.bias", [3], False)]
params = [torch.nn.Parameter(torch.randn(s, dtype=torch.float32) * 0.5) for _, s, _ in shapes]
init = [p.detach().clone() for p in params]
lr, wd, warmup, total, max_norm = 0.05, 0.01, 3, 20, 1.0
opt = torch.optim.AdamW([{"params": [p for p, s in zip(params, shapes) if s[2]], "weight_decay": wd},
                         {"params": [p for p, s in zip(params, shapes) if not s[2]], "weight_decay": 0.0}],
                        lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=False, fused=False)
sched = get_linear_schedule_with_warmup(opt, warmup, total)
steps = []
for k in range(total):
    # grads of varying scale so that some steps clip and some do not
    scale = 0.05 if k % 3 == 0 else 2.0
    grads = [torch.randn(p.shape, dtype=torch.float32) * scale for p in params]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    lr_used = opt.param_groups[0]["lr"]
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    steps.append({"lr": lr_used, "norm": float(norm), "grads": [g.flatten().tolist() for g in grads],
                  "params": [p.detach().flatten().tolist() for p in params]})
out = {"lr": lr, "weight_decay": wd, "warmup": warmup, "total": total, "max_norm": max_norm,
       "params": [{"name": n, "shape": s, "decay": d, "init": t.flatten().tolist()}
                  for (n, s, d), t in zip(shapes, init)],
       "steps": steps, "torch": torch.__version__}
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
