#!/usr/bin/env python3
"""ONNX Runtime's side of tools/reference/int8_accuracy.sh: accuracy of a LoRA adapter's merged
model exported to ONNX (bench/peers.py export_onnx: the deployment path) in fp32 and after ORT's
dynamic int8 quantization (bench/peers.py quantize_int8: onnxruntime.quantization.quantize_dynamic,
QInt8 weights, u8 activations per tensor at run time), on a labelled CSV (label,text), tokenized as
the seed recipe does (HF fast tokenizer, truncation_side=left, max_length 512).

usage: int8_accuracy.py --model BASE --adapter DIR --data CSV --work DIR [--threads N]
Prints one JSON object: {"onnxruntime": {"accuracy", "n"}, "onnxruntime_int8": {...},
"int8_vs_fp32_changed": predictions that differ}. Run with bench/setup_peers.sh's python."""
import argparse
import csv
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import peers  # noqa: E402  (export_onnx, quantize_int8, ort_session)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    a = ap.parse_args()
    import numpy as np
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(a.threads)
    os.makedirs(a.work, exist_ok=True)
    path, qpath = os.path.join(a.work, "model.onnx"), os.path.join(a.work, "model.int8.onnx")
    if not os.path.exists(path):
        base = AutoModelForSequenceClassification.from_pretrained(a.model)
        merged = PeftModel.from_pretrained(base, a.adapter).merge_and_unload().eval()
        peers.export_onnx(torch, merged, path)
    if not os.path.exists(qpath):
        peers.quantize_int8(path, qpath)

    tok = AutoTokenizer.from_pretrained(a.model, truncation_side="left")
    with open(a.data, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = np.array([int(r["label"]) for r in rows])
    texts = [r["text"] for r in rows]
    out = {}
    preds = {}
    for name, p in (("onnxruntime", path), ("onnxruntime_int8", qpath)):
        sess = peers.ort_session(p, a.threads)
        pr = []
        for i in range(0, len(texts), a.batch):
            enc = tok(texts[i:i + a.batch], truncation=True, max_length=a.max_length, padding=True, return_tensors="np")
            logits = sess.run(["logits"], {"input_ids": enc["input_ids"].astype(np.int64),
                                           "attention_mask": enc["attention_mask"].astype(np.int64)})[0]
            pr.append(logits.argmax(-1))
        preds[name] = np.concatenate(pr)
        out[name] = {"accuracy": float((preds[name] == labels).mean()), "n": int(len(labels))}
        peers.log(f"{name}: accuracy {out[name]['accuracy']:.4f}")
    out["int8_vs_fp32_changed"] = int((preds["onnxruntime"] != preds["onnxruntime_int8"]).sum())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
