"""Goldens of PEFT modules_to_save beyond the head (the encoder blocks' LayerNorms and linears trained
in full),
from the pinned environment (tools/reference/setup_env.sh: transformers 4.32.1, PEFT 0.6.2, torch CPU).

For each case it reuses the random-init model and the batch of an existing small golden
(tests/golden/<src>/model and grads.safetensors) and writes tests/golden/mts/<case>/:
  lora/                 PEFT 0.6.2 save_pretrained of a LoRA adapter (r 4, alpha 32, dropout 0) with
                        modules_to_save; every trainable tensor random (lora_A, lora_B, the head's
                        copies, the LayerNorms' ModulesToSaveWrapper copies: weight 1 + N(0, 0.3),
                        bias N(0, 0.3); the linears': weight N(0, 1/in), bias N(0, 0.3)), so nothing
                        is at its initial value
  golden.safetensors    input_ids, attention_mask[, token_type_ids], labels I64 (the source batch);
                        logits F32 [B,L] and loss F32 [] of the PEFT model in eval mode;
                        grad.<adapter key> F32 for every trainable tensor (the LayerNorm copies too);
                        merged_logits F32 [B,L] after merge_and_unload();
                        traj_losses F32 [S] and traj.<adapter key> F32: S steps of torch AdamW
                        (foreach=False; lr 1e-2, wd 0.01 on HF Trainer's decay parameters: not
                        biases, not LayerNorm weights; betas 0.9/0.999, eps 1e-8, no clipping) on the
                        same batch in eval mode, the loss before each step and every trainable tensor
                        after the last
  meta.json             source case, targets, modules_to_save, versions
Usage: $PY tools/reference/mts_golden.py [--out tests/golden/mts]   (PY from setup_env.sh)
       $PY tools/reference/mts_golden.py --check-load DIR --case NAME
                        loads a lorabert-saved adapter folder DIR into PEFT over the case's model and
                        prints the largest |logit - golden logit| (the other way of the round trip)
Deterministic: 1 torch thread, fixed seeds.
"""
import argparse
import os
import shutil
import sys

if os.environ.get("PYTHONHASHSEED") != "0":  # PEFT keeps target_modules in a set: a fixed order
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch
import transformers
import peft
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file
from transformers.pytorch_utils import ALL_LAYERNORM_LAYERS
from transformers.trainer_pt_utils import get_parameter_names

from golden_lib import adapter_key, eval_loss_grads, load_source_case, trajectory_and_merge, write_golden

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()

CASES = {
    # name: (source golden, target modules, modules_to_save)
    "distilbert_ln": ("distilbert_tiny_all", ["q_lin", "v_lin"], ["output_layer_norm", "layer.1.sa_layer_norm"]),
    "bert_ln": ("bert_tiny", ["query", "value"], ["output.LayerNorm"]),
    # linears trained in full (all six kinds over the two cases; q_lin of the last layer runs on the
    # [CLS] rows only), with a LayerNorm beside them
    "distilbert_lin": ("distilbert_tiny_all", ["v_lin"], ["q_lin", "k_lin", "lin2", "output_layer_norm"]),
    "bert_lin": ("bert_tiny", ["query"], ["value", "output.dense", "intermediate.dense"]),
    # RoBERTa shares BERT's encoder; "classifier" is its two-layer head (trained anyway)
    "roberta_mix": ("roberta_tiny", ["query"], ["attention.output.LayerNorm", "key", "classifier"]),
}
STEPS = 5
LR = 1e-2
WD = 0.01


def load_case(root, name):
    return load_source_case(root, CASES[name][0])


def gen_case(root, out_root, name):
    src, targets, mts = CASES[name]
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    model, batch_file, inputs = load_case(root, name)
    labels = batch_file["labels"]
    cfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.0, target_modules=targets,
                     modules_to_save=list(mts))
    pm = get_peft_model(model, cfg)
    pm.eval()
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for pname, p in pm.named_parameters():
            if not p.requires_grad:
                continue
            ln = p.ndim == 1 and "modules_to_save" in pname and any(t in pname for t in ("norm", "Norm"))
            if ln and pname.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
            elif ln or pname.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
            elif "lora_B" in pname:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3 / 2.0)
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
    pm.peft_config["default"].base_model_name_or_path = f"../../{src}/model"
    pm.save_pretrained(os.path.join(out, "lora"), safe_serialization=True)
    rd = os.path.join(out, "lora", "README.md")
    if os.path.exists(rd):
        os.remove(rd)
    saved = load_file(os.path.join(out, "lora", "adapter_model.safetensors"))
    trainable = [(pname, p) for pname, p in pm.named_parameters() if p.requires_grad]
    keys = [adapter_key(pname) for pname, _ in trainable]
    assert sorted(keys) == sorted(saved.keys()), (sorted(keys), sorted(saved.keys()))
    n_full = sum(1 for k in keys if "lora_" not in k and "classifier" not in k)  # beyond the head
    assert n_full > 0, keys

    res, loss = eval_loss_grads(pm, batch_file, inputs, labels, trainable, keys)

    # Trajectory: S AdamW steps on the same batch with HF Trainer's two groups.
    decay_names = {n for n in get_parameter_names(pm, ALL_LAYERNORM_LAYERS) if "bias" not in n}
    assert any("norm" in pn.lower() for pn, _ in trainable if pn not in decay_names) or "ln" not in name
    losses = trajectory_and_merge(pm, inputs, labels, trainable, keys, lambda pn: pn in decay_names, res, STEPS,
                                  LR, WD)
    meta = {"source": f"tests/golden/{src}", "target_modules": targets, "modules_to_save": mts, "r": 4,
            "trained_in_full": n_full,
            "lora_alpha": 32, "steps": STEPS, "lr": LR, "weight_decay": WD,
            "no_decay": sorted(adapter_key(pn) for pn, _ in trainable if pn not in decay_names)}
    write_golden(out, res, meta)
    print(f"{name}: {len(keys)} tensors ({n_full} trained in full beyond the head), loss {float(loss):.6f}, "
          f"trajectory {losses[0]:.5f} -> {losses[-1]:.5f}")


def check_load(root, out_root, name, d):
    model, _, inputs = load_case(root, name)
    pm = PeftModel.from_pretrained(model, d)
    pm.eval()
    ref = load_file(os.path.join(out_root, name, "golden.safetensors"))["logits"]
    with torch.no_grad():
        got = pm(**inputs).logits
    print(f"{name}: PEFT {peft.__version__} loading {d}: max |logit diff| {float((got - ref).abs().max()):.3g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=os.path.join(root, "tests", "golden", "mts"))
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--check-load")
    a = ap.parse_args()
    assert peft.__version__ == "0.6.2", f"needs the pinned env (PEFT 0.6.2), found {peft.__version__}"
    if a.check_load:
        for name in a.case or sorted(CASES):
            check_load(root, a.out, name, a.check_load)
        return
    for name in a.case or sorted(CASES):
        gen_case(root, a.out, name)


if __name__ == "__main__":
    main()
