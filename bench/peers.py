#!/usr/bin/env python3
"""Peer side of bench/run: the same workloads as bench/lb_bench.c, run by
  hf_peft        HF transformers + PEFT on PyTorch CPU, fp32, the training step as Trainer runs it
  hf_peft_bf16   the same under CPU bf16 autocast (what Trainer(bf16=True) does on CPU)
  onnxruntime    ONNX Runtime (CPU EP) on an ONNX export of the same model, inference only
  onnxruntime_int8  the same export after onnxruntime.quantization.quantize_dynamic (int8 weights,
                 u8 activations quantized per tensor at run time: ORT's dynamic int8), inference only
  hf_tokenizers  HF fast tokenizer (tokenizers, Rust), batched call as datasets.map does it
Every measurement is one JSON line on stdout:
  {"system", "workload", "unit", "better", "median", "min", "max", "n", ...}
Subcommands: make-model, make-batches, run, rss (see --help). Timings never go into tests.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import struct
import sys
import time


def emit(system, workload, unit, better, values, **extra):
    rec = {"system": system, "workload": workload, "unit": unit, "better": better,
           "median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
    rec.update(extra)
    print(json.dumps(rec), flush=True)


def log(msg):
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ model folder

def cmd_make_model(a):
    """Random-init full-size DistilBERT classifier saved as an HF folder (once)."""
    import hashlib
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification
    cfg_bytes = open(a.config, "rb").read()
    stamp = hashlib.sha256(cfg_bytes + open(a.vocab, "rb").read()).hexdigest() + f" seed={a.seed}"
    stamp_path = os.path.join(a.out, ".bench-model-stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        log(f"model cached in {a.out}")
        return
    cfg = DistilBertConfig.from_json_file(a.config)
    cfg.num_labels = 2
    cfg.id2label = {0: "NEGATIVE", 1: "POSITIVE"}
    cfg.label2id = {"NEGATIVE": 0, "POSITIVE": 1}
    torch.manual_seed(a.seed)
    model = DistilBertForSequenceClassification(cfg)
    tmp = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.copy(a.vocab, os.path.join(tmp, "vocab.txt"))
    with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "DistilBertTokenizer"}, f)
    with open(os.path.join(tmp, ".bench-model-stamp"), "w") as f:
        f.write(stamp)
    shutil.rmtree(a.out, ignore_errors=True)
    os.rename(tmp, a.out)
    log(f"model written to {a.out}")


def load_tokenizer(model_dir):
    from transformers import DistilBertTokenizerFast
    tok = DistilBertTokenizerFast(os.path.join(model_dir, "vocab.txt"), do_lower_case=True, model_max_length=512)
    tok.truncation_side = "left"   # as in the seed notebook
    return tok


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ------------------------------------------------------------------ batch file
# Identical work for every system: token ids computed once (HF tokenizer, truncation left at
# 512, padded per batch to the longest as DataCollatorWithPadding does) and stored as
# little-endian int32: "LBB1", n_train, n_eval, then per batch B, T, labels[B], lengths[B], ids[B*T].

def cmd_make_batches(a):
    import numpy as np
    tok = load_tokenizer(a.model)
    out = []
    for split, shuffle in (("train", True), ("validation", False)):
        rows = read_jsonl(os.path.join(a.data, f"{split}.jsonl"))
        enc = tok([r["text"] for r in rows], truncation=True, max_length=512)["input_ids"]
        order = np.random.default_rng(a.seed).permutation(len(rows)) if shuffle else np.arange(len(rows))
        batches = []
        for i in range(0, len(rows), a.batch):
            idx = order[i:i + a.batch]
            T = max(len(enc[j]) for j in idx)
            ids = np.zeros((len(idx), T), dtype=np.int32)
            for b, j in enumerate(idx):
                ids[b, :len(enc[j])] = enc[j]
            batches.append((np.array([rows[j]["label"] for j in idx], np.int32),
                            np.array([len(enc[j]) for j in idx], np.int32), ids))
        out.append(batches)
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"LBB1" + struct.pack("<ii", len(out[0]), len(out[1])))
        for batches in out:
            for labels, lengths, ids in batches:
                f.write(struct.pack("<ii", ids.shape[0], ids.shape[1]))
                f.write(labels.astype("<i4").tobytes() + lengths.astype("<i4").tobytes() + ids.astype("<i4").tobytes())
    os.replace(tmp, a.out)
    tr = out[0]
    log(f"batches: {len(tr)} train (mean padded T {sum(b[2].shape[1] for b in tr) / len(tr):.1f}), "
        f"{len(out[1])} eval -> {a.out}")


def read_batches(path):
    import numpy as np
    data = open(path, "rb").read()
    assert data[:4] == b"LBB1", f"{path}: not a bench batch file"
    n_train, n_eval = struct.unpack_from("<ii", data, 4)
    off, res = 12, []
    for _ in range(n_train + n_eval):
        B, T = struct.unpack_from("<ii", data, off)
        off += 8
        labels = np.frombuffer(data, "<i4", B, off); off += 4 * B
        lengths = np.frombuffer(data, "<i4", B, off); off += 4 * B
        ids = np.frombuffer(data, "<i4", B * T, off).reshape(B, T); off += 4 * B * T
        res.append((labels, lengths, ids))
    return res[:n_train], res[n_train:]


# ------------------------------------------------------------------ PyTorch side

def torch_setup(threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    return torch


def build_peft(model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification
    base = AutoModelForSequenceClassification.from_pretrained(model_dir)
    cfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.01, target_modules=["q_lin"])
    return get_peft_model(base, cfg)


class TrainerStep:
    """One optimisation step exactly as transformers 4.32 Trainer runs it for the seed job:
    forward (+ CPU autocast when bf16) with labels -> loss.backward() -> clip_grad_norm_(1.0)
    -> AdamW (decay / no-decay groups, wd 0.01, lr 1e-3) -> linear schedule -> zero_grad."""

    def __init__(self, torch, model, bf16, total_steps=2500):
        self.torch, self.model, self.bf16 = torch, model, bf16
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        groups = [{"params": [p for n, p in named if "bias" not in n], "weight_decay": 0.01},
                  {"params": [p for n, p in named if "bias" in n], "weight_decay": 0.0}]
        self.opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: max(0.0, (total_steps - s) / total_steps))
        model.train()

    def __call__(self, ids, lengths, labels):
        torch = self.torch
        B, T = ids.shape
        input_ids = torch.from_numpy(ids.astype("int64"))
        mask = (torch.arange(T)[None, :] < torch.from_numpy(lengths.astype("int64"))[:, None]).long()
        lab = torch.from_numpy(labels.astype("int64"))
        if self.bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = self.model(input_ids=input_ids, attention_mask=mask, labels=lab).loss
        else:
            loss = self.model(input_ids=input_ids, attention_mask=mask, labels=lab).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.sched.step()
        self.model.zero_grad(set_to_none=True)
        return float(loss)


def fixed_batch(rng, B, T, vocab=30522):
    import numpy as np
    ids = rng.integers(1000, vocab, size=(B, T)).astype(np.int32)
    ids[:, 0], ids[:, -1] = 101, 102
    return ids, np.full(B, T, np.int32), rng.integers(0, 2, size=B).astype(np.int32)


def time_train(step, batches, reps):
    """tokens/s (padded input tokens, B*T, as HF's total_flos counts them) per repeat."""
    step(batches[0][2], batches[0][1], batches[0][0])          # warm-up (allocations, thread pool)
    vals = []
    for _ in range(reps):
        tokens, t0 = 0, time.perf_counter()
        for labels, lengths, ids in batches:
            step(ids, lengths, labels)
            tokens += ids.size
        vals.append(tokens / (time.perf_counter() - t0))
    return vals


def run_torch(a, bf16):
    import numpy as np
    torch = torch_setup(a.threads)
    system = "hf_peft_bf16" if bf16 else "hf_peft"
    q = a.quick
    train, evalb = read_batches(a.batches)
    model = build_peft(a.model)
    step = TrainerStep(torch, model, bf16)
    epoch_tokens = sum(b[2].size for b in train)
    n = 3 if q else a.train_batches
    reps = a.repeats or (1 if q else 3)
    vals = time_train(step, train[:n], reps)
    emit(system, "train_real", "tokens/s", "higher", vals, batches=n,
         s_per_epoch=epoch_tokens / statistics.median(vals), epoch_padded_tokens=epoch_tokens)
    rng = np.random.default_rng(1)
    for T, steps in ((128, 3 if q else 10), (512, 2 if q else 5)):
        ids, lengths, labels = fixed_batch(rng, 4, T)
        vals = time_train(step, [(labels, lengths, ids)] * steps, reps)
        emit(system, f"train_4x{T}", "tokens/s", "higher", vals, steps=steps)

    model.eval()
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else (lambda: torch.autocast("cpu", enabled=False))

    def infer(ids, lengths):
        B, T = ids.shape
        mask = (torch.arange(T)[None, :] < torch.from_numpy(lengths.astype("int64"))[:, None]).long()
        with torch.no_grad(), ctx():
            return model(input_ids=torch.from_numpy(ids.astype("int64")), attention_mask=mask).logits

    run_inference(system, infer, evalb, a)


def run_inference(system, infer, evalb, a):
    import numpy as np
    q = a.quick
    nb = 10 if q else len(evalb)
    if a.eval_batches and a.eval_batches < len(evalb):
        nb = a.eval_batches
    sub = evalb[:nb]
    infer(sub[0][2], sub[0][1])                                  # warm-up
    vals = []
    for _ in range(a.repeats or (1 if q else 3)):
        n, t0 = 0, time.perf_counter()
        for labels, lengths, ids in sub:
            infer(ids, lengths)
            n += ids.shape[0]
        vals.append(n / (time.perf_counter() - t0))
    emit(system, "eval_validation", "reviews/s", "higher", vals, reviews=sum(b[2].shape[0] for b in sub))
    rng = np.random.default_rng(2)
    for T in (16, 64, 128):
        ids, lengths, _ = fixed_batch(rng, 1, T)
        infer(ids, lengths)
        vals = []
        for _ in range(5 if q else 20):
            t0 = time.perf_counter()
            infer(ids, lengths)
            vals.append((time.perf_counter() - t0) * 1e3)
        emit(system, f"predict_b1_t{T}", "ms", "lower", vals)
    ids, lengths, _ = fixed_batch(rng, 32, 128)
    infer(ids, lengths)
    vals = []
    for _ in range(2 if q else 5):
        t0 = time.perf_counter()
        infer(ids, lengths)
        vals.append(32 / (time.perf_counter() - t0))
    emit(system, "predict_b32_t128", "sequences/s", "higher", vals)


# ------------------------------------------------------------------ ONNX Runtime

def export_onnx(torch, model, path):
    """Legacy torch.onnx.export (opset 17, dynamic batch and length) of a classifier's logits to
    path, written whole (tmp + rename). Shared with bench/serve_peers.py."""

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    os.makedirs(os.path.dirname(path), exist_ok=True)
    ids = torch.ones((2, 16), dtype=torch.int64)
    tmp = path + ".tmp"
    torch.onnx.export(Logits(model), (ids, torch.ones_like(ids)), tmp, input_names=["input_ids", "attention_mask"],
                      output_names=["logits"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                    "logits": {0: "b"}})
    os.replace(tmp, path)
    log(f"exported {path}")


def ort_session(path, threads):
    """The ORT session every ORT peer uses: CPU EP, all graph optimisations, `threads` intra-op."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def quantize_int8(path, qpath):
    """ORT's dynamic int8 quantization of an fp32 ONNX model, as its docs recommend for
    transformers on CPU: quantize_dynamic with its defaults (QInt8 weights per tensor; activations
    u8, asymmetric, per tensor, at run time: DynamicQuantizeLinear + MatMulInteger), written whole
    (tmp + rename). Shared with tools/reference/int8_accuracy.py."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    tmp = qpath + ".tmp.onnx"
    quantize_dynamic(path, tmp, weight_type=QuantType.QInt8)
    os.replace(tmp, qpath)
    log(f"quantized {qpath}")


def run_onnxruntime(a, int8=False):
    torch = torch_setup(a.threads)
    path = os.path.join(a.model, "onnx", "model.onnx")
    if not os.path.exists(path):
        export_onnx(torch, build_peft(a.model).merge_and_unload().eval(), path)   # how one deploys an adapter
    if int8:
        qpath = os.path.join(a.model, "onnx", "model.int8.onnx")
        if not os.path.exists(qpath) or os.path.getmtime(qpath) < os.path.getmtime(path):
            quantize_int8(path, qpath)
        path = qpath
    sess = ort_session(path, a.threads)
    import numpy as np

    def infer(ids, lengths):
        B, T = ids.shape
        mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.int64)
        return sess.run(["logits"], {"input_ids": ids.astype(np.int64), "attention_mask": mask})[0]

    _, evalb = read_batches(a.batches)
    run_inference("onnxruntime_int8" if int8 else "onnxruntime", infer, evalb, a)


# ------------------------------------------------------------------ tokenizer

def run_tokenizers(a):
    os.environ.setdefault("RAYON_NUM_THREADS", str(a.threads))
    tok = load_tokenizer(a.model)
    texts = [r["text"] for s in ("train", "validation") for r in read_jsonl(os.path.join(a.data, f"{s}.jsonl"))]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    tok(texts[:50], truncation=True, max_length=512)
    vals = []
    for _ in range(3 if a.quick else 7):
        t0 = time.perf_counter()
        tok(texts, truncation=True, max_length=512)
        vals.append(nbytes / 1e6 / (time.perf_counter() - t0))
    emit("hf_tokenizers", "tokenize_imdb", "MB/s", "higher", vals, reviews=len(texts), bytes=nbytes)


def cmd_run(a):
    if a.system in ("hf_peft", "hf_peft_bf16"):
        run_torch(a, a.system == "hf_peft_bf16")
    elif a.system in ("onnxruntime", "onnxruntime_int8"):
        run_onnxruntime(a, a.system == "onnxruntime_int8")
    elif a.system == "hf_tokenizers":
        run_tokenizers(a)
    else:
        sys.exit(f"unknown system {a.system}")


def cmd_rss(a):
    """Peak RSS of a fresh process that loads the model and trains 2 steps at 4x512."""
    import numpy as np
    torch = torch_setup(a.threads)
    model = build_peft(a.model)
    step = TrainerStep(torch, model, a.system == "hf_peft_bf16")
    ids, lengths, labels = fixed_batch(np.random.default_rng(3), 4, 512)
    for _ in range(2):
        step(ids, lengths, labels)
    mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    emit(a.system, "train_peak_rss", "MB", "lower", [mb])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-model")
    m.add_argument("--out", required=True)
    m.add_argument("--config", required=True)
    m.add_argument("--vocab", required=True)
    m.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("make-batches")
    b.add_argument("--model", required=True)
    b.add_argument("--data", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--batch", type=int, default=4)
    b.add_argument("--seed", type=int, default=42)
    for name in ("run", "rss"):
        r = sub.add_parser(name)
        r.add_argument("--system", required=True)
        r.add_argument("--model", required=True)
        r.add_argument("--batches")
        r.add_argument("--data")
        r.add_argument("--threads", type=int, default=2)
        r.add_argument("--train-batches", type=int, default=20)
        r.add_argument("--quick", action="store_true")
        r.add_argument("--repeats", type=int, default=0, help="timed repeats of training/eval (0: quick 1, full 3)")
        r.add_argument("--eval-batches", type=int, default=0, help="eval batches of 4 (0: quick 10, full all 250)")
    a = p.parse_args()
    {"make-model": cmd_make_model, "make-batches": cmd_make_batches, "run": cmd_run, "rss": cmd_rss}[a.cmd](a)


if __name__ == "__main__":
    main()
