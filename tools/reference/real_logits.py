"""Eval-mode logits of transformers' AutoModelForSequenceClassification on the IMDb reviews, the
oracle of tests/cli/real_model.sh (a real pretrained checkpoint laid out by real_model.sh).

usage: python real_logits.py MODEL_DIR OUT.json CSV [CSV...] [--max-length 512] [--threads N]

Each CSV's `text` column, in file order, is tokenized by AutoTokenizer (fast, truncation_side
left, max_length 512) and run one text at a time (no padding). OUT.json:
{"texts": [...], "logits": [[l0, l1], ...], "lengths": [...], "versions": {...}}.
"""
import argparse
import csv
import json
import sys

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("csv", nargs="+")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(a.threads)
    texts = []
    for path in a.csv:
        with open(path, newline="", encoding="utf-8") as f:
            texts += [r["text"] for r in csv.DictReader(f)]
    tok = AutoTokenizer.from_pretrained(a.model, truncation_side="left")
    assert tok.is_fast
    model = AutoModelForSequenceClassification.from_pretrained(a.model).eval()
    logits, lengths = [], []
    with torch.no_grad():
        for t in texts:
            enc = tok(t, truncation=True, max_length=a.max_length, return_tensors="pt")
            lengths.append(int(enc["input_ids"].shape[1]))
            logits.append(model(**enc).logits[0].tolist())
    with open(a.out, "w") as f:
        json.dump({"texts": texts, "logits": logits, "lengths": lengths,
                   "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}, f)
    print("real_logits: %d texts, %d truncated to %d" % (len(texts), sum(l == a.max_length for l in lengths),
                                                        a.max_length), file=sys.stderr)


if __name__ == "__main__":
    main()
