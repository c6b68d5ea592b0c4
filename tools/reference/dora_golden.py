"""DoRA goldens (PEFT use_dora) from the MODERN pinned stack (setup_env_modern.sh: transformers 4.48.3,
PEFT 0.14.0; PEFT 0.6.2 has no DoRA).

For each case it reuses the random-init model and the batch of an existing small golden
(tests/golden/<src>/model and grads.safetensors) and writes tests/golden/dora/<case>/:
  lora/                 PEFT 0.14 save_pretrained of a DoRA adapter (use_dora=True, r=4, alpha=32,
                        dropout 0) whose lora_A, lora_B, lora_magnitude_vector and head copies are
                        random (magnitude = PEFT's initial row norms x U(0.5, 1.5), so m / ||W + sBA||
                        is far from 1)
  golden.safetensors    input_ids, attention_mask[, token_type_ids], labels I64 (the source batch);
                        logits F32 [B,L] and loss F32 [] of the PEFT model in eval mode;
                        grad.<adapter key> F32 for every trainable tensor (incl. the magnitudes);
                        merged_logits F32 [B,L] after merge_and_unload();
                        traj_losses F32 [S] and traj.<adapter key> F32: S steps of torch AdamW
                        (foreach=False; lr 1e-2, wd 0.01 on weights only as HF Trainer groups them,
                        betas 0.9/0.999, eps 1e-8, no clipping) on the same batch in eval mode, the
                        loss before each step and every trainable tensor after the last
  meta.json             source case, targets, versions
Usage: $PY tools/reference/dora_golden.py [--out tests/golden/dora]   (PY from setup_env_modern.sh)
Deterministic: 1 torch thread, fixed seeds.
"""
import argparse
import os
import shutil

import torch
import transformers
import peft
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file

import golden_lib
from golden_lib import eval_loss_grads, load_source_case, trajectory_and_merge, write_golden

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()

CASES = {
    # name: (source golden, target modules)
    "distilbert_all": ("distilbert_tiny_all", ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"]),
    "bert_qv_ffn": ("bert_tiny", ["query", "value", "intermediate.dense", "output.dense"]),
}
STEPS = 5
LR = 1e-2
WD = 0.01


def adapter_key(name):
    """In-memory PEFT parameter name -> key in adapter_model.safetensors (as PEFT 0.14 saves it)."""
    name = golden_lib.adapter_key(name)
    if name.endswith("lora_magnitude_vector.weight"):
        name = name[: -len(".weight")]
    return name


def gen_case(root, out_root, name):
    src, targets = CASES[name]
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    model, batch_file, inputs = load_source_case(root, src)
    labels = batch_file["labels"]

    cfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.0, target_modules=targets,
                     use_dora=True)
    pm = get_peft_model(model, cfg)
    pm.eval()
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for pname, p in pm.named_parameters():
            if not p.requires_grad:
                continue
            if "lora_magnitude_vector" in pname:  # PEFT init (row norms) x U(0.5, 1.5)
                p.mul_(0.5 + torch.rand(p.shape, generator=g))
            elif "lora_A" in pname:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
            elif "lora_B" in pname:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3 / 2.0)
            elif pname.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
    pm.peft_config["default"].base_model_name_or_path = f"../../{src}/model"
    pm.save_pretrained(os.path.join(out, "lora"), safe_serialization=True)
    saved = load_file(os.path.join(out, "lora", "adapter_model.safetensors"))
    trainable = [(pname, p) for pname, p in pm.named_parameters() if p.requires_grad]
    keys = [adapter_key(pname) for pname, _ in trainable]
    assert sorted(keys) == sorted(saved.keys()), (sorted(keys), sorted(saved.keys()))

    res, loss = eval_loss_grads(pm, batch_file, inputs, labels, trainable, keys)
    # Trajectory: S AdamW steps on the same batch, HF Trainer's two groups (no decay on biases).
    losses = trajectory_and_merge(pm, inputs, labels, trainable, keys, lambda pn: not pn.endswith("bias"), res,
                                  STEPS, LR, WD)
    meta = {"source": f"tests/golden/{src}", "target_modules": targets, "r": 4, "lora_alpha": 32,
            "use_dora": True, "steps": STEPS, "lr": LR, "weight_decay": WD}
    write_golden(out, res, meta)
    print(f"{name}: loss {float(loss):.6f}, trajectory {losses[0]:.5f} -> {losses[-1]:.5f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=os.path.join(root, "tests", "golden", "dora"))
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    a = ap.parse_args()
    assert peft.__version__ == "0.14.0", f"needs the modern env (PEFT 0.14.0), found {peft.__version__}"
    for name in a.case or sorted(CASES):
        gen_case(root, a.out, name)


if __name__ == "__main__":
    main()
