"""Writes tests/golden/loss/torch.json: the label-smoothed and class-weighted cross-entropy losses
and their gradients with respect to the logits, from the pinned stack itself: transformers
4.32.1's LabelSmoother (what Trainer uses for label_smoothing_factor) and torch's
CrossEntropyLoss(weight=w) (lorabert's --class-weights), by autograd in float32 on random logits
(one case with large logits). tests/unit/test_kernels.c checks lb_cross_entropy_ex against it.
Usage: PY=$(bash tools/reference/setup_env.sh); $PY tools/reference/loss_golden.py OUT.json"""
import json
import sys

import torch
import transformers
from transformers.trainer_pt_utils import LabelSmoother

torch.manual_seed(11)


def case(name, logits, labels, smoothing=0.0, weights=None):
    z = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    y = torch.tensor(labels, dtype=torch.int64)
    if weights is not None:
        loss = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))(z, y)
    else:
        loss = LabelSmoother(epsilon=smoothing)({"logits": z}, y)
    loss.backward()
    return {"name": name, "B": len(labels), "L": len(logits[0]), "smoothing": smoothing, "weights": weights,
            "logits": [float(v) for v in z.detach().flatten()], "labels": labels, "loss": float(loss.detach()),
            "dlogits": [float(v) for v in z.grad.flatten()]}


def rand(B, L, scale=2.0):
    return (torch.randn(B, L) * scale).tolist()


cases = [
    case("smooth_0.1_L2", rand(6, 2), [0, 1, 1, 0, 1, 1], smoothing=0.1),
    case("smooth_0.35_L5", rand(9, 5), [4, 0, 2, 2, 1, 3, 0, 4, 4], smoothing=0.35),
    case("smooth_0.2_large", [[30.0, -30.0, 0.5], [-25.0, 40.0, 3.0], [0.0, 0.0, 0.0]], [1, 1, 2], smoothing=0.2),
    case("weights_L2", rand(6, 2), [0, 1, 1, 0, 1, 1], weights=[0.4, 1.6]),
    case("weights_L5", rand(9, 5), [4, 0, 2, 2, 1, 3, 0, 4, 4], weights=[1.0, 0.25, 3.0, 0.7, 1.9]),
    case("weights_one_class_in_batch", rand(4, 3), [2, 2, 2, 2], weights=[0.5, 2.0, 4.0]),
]
json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "cases": cases},
          open(sys.argv[1], "w"), indent=1)
