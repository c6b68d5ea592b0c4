#!/usr/bin/env python3
"""Interop oracle for lorabert's C tests: the real transformers + PEFT load / train / merge models.
Run with the pinned env:  PY=$(bash tools/reference/setup_env.sh); $PY tools/reference/peft_interop.py CMD ...

  logits --model DIR [--adapter DIR] --input IN.safetensors --out OUT.safetensors
      AutoModelForSequenceClassification.from_pretrained(DIR) (+ PeftModel.from_pretrained(DIR_A)),
      eval mode, logits F32 [B,L] for IN's input_ids / attention_mask (/ token_type_ids) I64 [B,T].
  merged-logits --model DIR [--adapter DIR] --input IN --out OUT [--save-merged DIR]
      Without --adapter: DIR must be a plain HF checkpoint (e.g. written by `lorabert merge`).
      With --adapter: PEFT merge_and_unload() of DIR+adapter; --save-merged writes that merged model
      (save_pretrained, safe_serialization=True) for the C side to load.
  train-adapter --model DIR --out DIR [--targets a,b] [--steps N] [--seed S] [--lr X] [--r 4]
                [--alpha 32] [--lora-dropout P] [--use-dora]
      get_peft_model(LoraConfig(task_type="SEQ_CLS", ...)), N AdamW steps on random batches (so
      lora_B and the head move away from their init), save_pretrained(safe_serialization=True).

Loading is strict: a missing or unexpected weight (model or adapter) is an error, never a silent
random init. Exit status: 0 ok, 1 check/load failure (message on stderr), 2 usage.
"""
import argparse
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"  # PEFT stores target_modules from a set: stable order
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from peft.utils import get_peft_model_state_dict  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForSequenceClassification  # noqa: E402

transformers.logging.set_verbosity_error()
INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids")
DEFAULT_TARGETS = {"distilbert": ["q_lin"], "bert": ["query", "value"], "roberta": ["query", "value"],
                   "xlm-roberta": ["query", "value"]}


class Fail(Exception):
    pass


def load_base(path):
    model, info = AutoModelForSequenceClassification.from_pretrained(path, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise Fail(f"{path}: loading is not exact: {problems}")
    return model.eval()


def load_adapter(model, path, trainable=False):
    pm = PeftModel.from_pretrained(model, path, is_trainable=trainable)
    fname = os.path.join(path, "adapter_model.safetensors")
    if not os.path.exists(fname):
        raise Fail(f"{path}: no adapter_model.safetensors")
    saved = load_file(fname)
    live = get_peft_model_state_dict(pm)
    if sorted(saved) != sorted(live):
        raise Fail(f"{fname}: tensors {sorted(set(saved) ^ set(live))} are in only one of file / PEFT model")
    for k, v in saved.items():
        if v.shape != live[k].shape or not torch.equal(v.to(live[k].dtype), live[k]):
            raise Fail(f"{fname}: tensor {k} was not loaded as stored")
    return pm.eval()


def read_inputs(path):
    t = load_file(path)
    if "input_ids" not in t:
        raise Fail(f"{path}: no input_ids tensor")
    ids = t["input_ids"]
    if ids.dim() != 2:
        raise Fail(f"{path}: input_ids must be [B,T], found {list(ids.shape)}")
    inputs = {k: t[k].to(torch.int64) for k in INPUT_KEYS if k in t}
    if "attention_mask" not in inputs:
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    return inputs


def write_logits(model, inputs, out):
    with torch.no_grad():
        logits = model(**inputs).logits.float().contiguous()
    save_file({"logits": logits}, out)
    print(f"logits {list(logits.shape)} -> {out}")


def cmd_logits(a):
    model = load_base(a.model)
    if a.adapter:
        model = load_adapter(model, a.adapter)
    write_logits(model, read_inputs(a.input), a.out)


def cmd_merged_logits(a):
    model = load_base(a.model)
    if a.adapter:
        model = load_adapter(model, a.adapter).merge_and_unload()
        if a.save_merged:
            model.save_pretrained(a.save_merged, safe_serialization=True)
    elif a.save_merged:
        raise Fail("--save-merged needs --adapter")
    bad = [n for n, _ in model.named_parameters() if "lora_" in n or "modules_to_save" in n or "base_layer" in n]
    if bad:
        raise Fail(f"merged model still holds adapter parameters: {bad[:3]}")
    write_logits(model, read_inputs(a.input), a.out)


def cmd_train_adapter(a):
    torch.manual_seed(a.seed)
    model = load_base(a.model)
    arch = model.config.model_type
    targets = a.targets.split(",") if a.targets else DEFAULT_TARGETS.get(arch)
    if not targets:
        raise Fail(f"no default LoRA targets for model_type {arch!r}; pass --targets")
    extra = {"use_dora": True} if a.use_dora else {}  # PEFT >= 0.9 (the modern env)
    pm = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=a.r, lora_alpha=a.alpha,
                                          lora_dropout=a.lora_dropout, target_modules=targets, **extra))
    pm.train()
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=a.lr)
    cfg = model.config
    g = torch.Generator().manual_seed(a.seed)
    B, T = 4, min(16, cfg.max_position_embeddings)
    for _ in range(a.steps):
        ids = torch.randint(1, cfg.vocab_size, (B, T), generator=g)
        mask = torch.ones(B, T, dtype=torch.int64)
        for b in range(B):  # mixed lengths, right padding
            n = int(torch.randint(1, T + 1, (1,), generator=g))
            ids[b, n:] = 0
            mask[b, n:] = 0
        labels = torch.randint(0, cfg.num_labels, (B,), generator=g)
        loss = pm(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    pm.save_pretrained(a.out, safe_serialization=True)
    print(f"adapter ({','.join(targets)}, r={a.r}, {a.steps} steps) -> {a.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("logits", "merged-logits"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--adapter")
        p.add_argument("--input", required=True)
        p.add_argument("--out", required=True)
        if name == "merged-logits":
            p.add_argument("--save-merged")
    p = sub.add_parser("train-adapter")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--targets")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--r", type=int, default=4)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.0)
    p.add_argument("--use-dora", action="store_true", help="DoRA (needs PEFT >= 0.9: setup_env_modern.sh)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    try:
        {"logits": cmd_logits, "merged-logits": cmd_merged_logits, "train-adapter": cmd_train_adapter}[a.cmd](a)
    except (Fail, OSError, ValueError, RuntimeError) as e:
        print(f"peft_interop {a.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
