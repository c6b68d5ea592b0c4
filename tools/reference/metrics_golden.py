"""Writes tests/golden/metrics/sklearn.json: accuracy, precision, recall, F1 and confusion
matrices from scikit-learn for random and degenerate predictions (logits with ties -> numpy
argmax).  sklearn 1.3.x returns zero_division for F1 whenever tp == 0 (issues #26864/#26965);
>= 1.4 computes 2tp/(2tp+fp+fn).  Where 1.3 disagrees with the 1.4 formula the case records
"sklearn_1_3_differs": true and the expected value is the 1.4 formula (what lorabert follows).
Usage: python metrics_golden.py OUT.json"""
import json, sys, warnings
import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
warnings.filterwarnings("ignore")
rng = np.random.default_rng(7)

def f1_14(tp, fp, fn, zd):
    d = 2 * tp + fp + fn
    return zd if d == 0 else 2 * tp / d

def case(name, logits, labels, L, zd):
    logits = np.asarray(logits, np.float32)
    labels = np.asarray(labels, np.int64)
    pred = logits.argmax(axis=1)
    avg = "binary" if L == 2 else "macro"
    p, r, f, _ = precision_recall_fscore_support(labels, pred, labels=list(range(L)), average=avg,
                                                 pos_label=1, zero_division=zd)
    pc, rc, fc, _ = precision_recall_fscore_support(labels, pred, labels=list(range(L)), average=None,
                                                    zero_division=zd)
    cm = confusion_matrix(labels, pred, labels=list(range(L)))
    fc14 = [f1_14(cm[c, c], cm[:, c].sum() - cm[c, c], cm[c, :].sum() - cm[c, c], zd) for c in range(L)]
    f14 = fc14[1] if L == 2 else float(np.mean(fc14))
    differs = bool(not np.allclose(fc, fc14, equal_nan=True))
    return {"name": name, "num_labels": L, "zero_division": zd, "logits": logits.flatten().tolist(),
            "labels": labels.tolist(), "pred": pred.tolist(), "accuracy": accuracy_score(labels, pred),
            "precision": float(p), "recall": float(r), "f1": float(f14 if differs else f),
            "class_precision": [float(x) for x in pc], "class_recall": [float(x) for x in rc],
            "class_f1": [float(x) for x in (fc14 if differs else fc)],
            "confusion": cm.flatten().tolist(), "sklearn_1_3_differs": differs}

cases = []
for zd in (0.0, 1.0):
    for L, n in ((2, 50), (2, 7), (3, 40), (5, 64)):
        # rounded logits so that ties happen
        logits = np.round(rng.normal(size=(n, L)) * 2) / 2
        labels = rng.integers(0, L, size=n)
        cases.append(case(f"random_L{L}_n{n}_zd{zd}", logits, labels, L, zd))
    # degenerate binary cases
    cases.append(case(f"all_pred_neg_zd{zd}", [[1, 0]] * 6, [0, 1, 0, 1, 1, 0], 2, zd))     # tp+fp == 0
    cases.append(case(f"no_pos_labels_zd{zd}", [[0, 1], [1, 0], [0, 1]], [0, 0, 0], 2, zd))  # tp+fn == 0
    cases.append(case(f"all_neg_both_zd{zd}", [[1, 0]] * 4, [0] * 4, 2, zd))                 # tp+fp+fn == 0
    cases.append(case(f"ties_first_index_zd{zd}", [[0.5, 0.5], [0.5, 0.5], [0, 1]], [1, 0, 1], 2, zd))
    cases.append(case(f"all_wrong_zd{zd}", [[0, 1], [1, 0]], [0, 1], 2, zd))               # tp=0, fp,fn>0
    cases.append(case(f"class_absent_L3_zd{zd}", [[1, 0, 0], [0, 1, 0], [1, 0, 0]], [0, 1, 1], 3, zd))
json.dump({"sklearn": sklearn.__version__, "cases": cases}, open(sys.argv[1], "w"))
