"""Writes the goldens of the multi-label and regression losses and metrics (run with the pinned
reference env's python: torch, scikit-learn, scipy):
  tests/golden/loss/task_torch.json: torch BCEWithLogitsLoss and MSELoss (reduction mean, as
    transformers 4.32.1's DistilBertForSequenceClassification uses them) and their autograd
    gradients with respect to the logits, in float32;
  tests/golden/metrics/task.json: multi-label subset accuracy (sklearn accuracy_score), per-label
    precision / recall / F1, micro and macro averages (precision_recall_fscore_support,
    zero_division 0; F1 by sklearn >= 1.4's 2tp / (2tp + fp + fn), which sklearn 1.3 departs from
    only where tp == 0: such cases record "sklearn_1_3_differs"), at thresholds 0.5 and 0.3 on the
    sigmoid; regression MSE, MAE (sklearn), Pearson and Spearman (scipy, ties averaged).
Usage: python task_golden.py [OUT_DIR (default tests/golden)]"""
import json, os, sys, warnings
import numpy as np
import scipy.stats
import sklearn
import torch
from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error, precision_recall_fscore_support
warnings.filterwarnings("ignore")
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                          "tests", "golden")
torch.manual_seed(11)
rng = np.random.default_rng(11)
f32 = lambda t: [float(x) for x in t.detach().reshape(-1).tolist()]

loss_cases = []
for B, L in [(1, 1), (4, 1), (3, 3), (5, 4), (2, 7)]:
    z = (torch.randn(B, L) * 3).requires_grad_()
    t = torch.randint(0, 2, (B, L)).float()
    loss = torch.nn.BCEWithLogitsLoss()(z, t)
    loss.backward()
    loss_cases.append(dict(kind="bce", B=B, L=L, logits=f32(z), targets=f32(t), loss=float(loss), dlogits=f32(z.grad)))
    z = (torch.randn(B, L) * 2).requires_grad_()
    t = torch.randn(B, L) * 2
    # HF: MSELoss()(logits.squeeze(), labels.squeeze()) for one output, MSELoss()(logits, labels) for more
    loss = torch.nn.MSELoss()(z.squeeze(), t.squeeze()) if L == 1 else torch.nn.MSELoss()(z, t)
    loss.backward()
    loss_cases.append(dict(kind="mse", B=B, L=L, logits=f32(z), targets=f32(t), loss=float(loss), dlogits=f32(z.grad)))
# saturated logits: log1p(exp(-|z|)) keeps the loss finite
z = torch.tensor([[40.0, -40.0, 0.0], [-90.0, 90.0, 1e-3]], requires_grad=True)
t = torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
loss = torch.nn.BCEWithLogitsLoss()(z, t)
loss.backward()
loss_cases.append(dict(kind="bce", B=2, L=3, logits=f32(z), targets=f32(t), loss=float(loss), dlogits=f32(z.grad)))
os.makedirs(os.path.join(out, "loss"), exist_ok=True)
with open(os.path.join(out, "loss", "task_torch.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": loss_cases}, f, indent=1)
    f.write("\n")


def f1_14(tp, fp, fn):
    d = 2 * tp + fp + fn
    return 0.0 if d == 0 else 2 * tp / d


metric_cases = []
def ml_case(name, logits, targets, thr):
    logits = np.asarray(logits, np.float32)
    targets = np.asarray(targets, np.int64)
    pred = (1.0 / (1.0 + np.exp(-logits.astype(np.float64))) >= thr).astype(np.int64)
    L = logits.shape[1]
    p, r, f, s = precision_recall_fscore_support(targets, pred, average=None, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(targets, pred, average="micro", zero_division=0)
    pM, rM, fM, _ = precision_recall_fscore_support(targets, pred, average="macro", zero_division=0)
    tp = (pred & targets).sum(0); fp = (pred & (1 - targets)).sum(0); fn = ((1 - pred) & targets).sum(0)
    f14 = [f1_14(tp[j], fp[j], fn[j]) for j in range(L)]
    fmicro14 = f1_14(tp.sum(), fp.sum(), fn.sum())
    metric_cases.append(dict(kind="multilabel", name=name, threshold=thr, n=len(logits), L=L,
                             logits=[float(x) for x in logits.reshape(-1)], targets=[int(x) for x in targets.reshape(-1)],
                             subset_accuracy=float(accuracy_score(targets, pred)),
                             precision=[float(x) for x in p], recall=[float(x) for x in r], f1=f14,
                             support=[int(x) for x in s], micro_precision=float(pm), micro_recall=float(rm),
                             micro_f1=fmicro14, macro_precision=float(pM), macro_recall=float(rM),
                             macro_f1=float(np.mean(f14)),
                             sklearn_1_3_differs=bool(not np.allclose(f, f14) or abs(fm - fmicro14) > 1e-12)))

for thr in (0.5, 0.3):
    ml_case("random 40x5", rng.normal(0, 2, (40, 5)), rng.integers(0, 2, (40, 5)), thr)
ml_case("a label never true nor predicted", [[-5, 1], [-4, -1], [-3, 2]], [[0, 1], [0, 0], [0, 1]], 0.5)
ml_case("all right", [[3, -3, 3]], [[1, 0, 1]], 0.5)

def reg_case(name, pred, targets):
    pred = np.asarray(pred, np.float32)
    targets = np.asarray(targets, np.float32)
    pr = scipy.stats.pearsonr(pred.astype(np.float64), targets.astype(np.float64))[0] if pred.std() and targets.std() else None
    sr = scipy.stats.spearmanr(pred.astype(np.float64), targets.astype(np.float64))[0] if pred.std() and targets.std() else None
    metric_cases.append(dict(kind="regression", name=name, pred=[float(x) for x in pred], targets=[float(x) for x in targets],
                             mse=float(mean_squared_error(targets.astype(np.float64), pred.astype(np.float64))),
                             mae=float(mean_absolute_error(targets.astype(np.float64), pred.astype(np.float64))),
                             pearson=None if pr is None else float(pr), spearman=None if sr is None else float(sr)))

x = rng.normal(0, 1, 50)
reg_case("random 50", x + rng.normal(0, 0.5, 50), x)
reg_case("ties", [1, 2, 2, 3, 3, 3, 0.5, 4], [0, 1, 1, 1, 2, 5, 0.5, 5])
reg_case("constant prediction (pearson/spearman NaN)", [0.25, 0.25, 0.25], [1, 2, 3])
reg_case("anti-correlated", [3, 2, 1, 0], [0, 1, 2, 4])
os.makedirs(os.path.join(out, "metrics"), exist_ok=True)
with open(os.path.join(out, "metrics", "task.json"), "w") as f:
    json.dump({"sklearn": sklearn.__version__, "scipy": scipy.__version__, "cases": metric_cases}, f, indent=1)
    f.write("\n")
