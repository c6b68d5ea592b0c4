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
import json
import os
import shutil

import torch
import transformers
import peft
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification

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
    name = name.replace("modules_to_save.", "").replace(".default", "")
    if name.endswith("lora_magnitude_vector.weight"):
        name = name[: -len(".weight")]
    return name


def gen_case(root, out_root, name):
    src, targets = CASES[name]
    sdir = os.path.join(root, "tests", "golden", src)
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    model = AutoModelForSequenceClassification.from_pretrained(os.path.join(sdir, "model"))
    model.eval()
    batch_file = load_file(os.path.join(sdir, "grads.safetensors"))
    inputs = {k: batch_file[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch_file}
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

    res = dict(batch_file)
    for k in list(res):
        if k.startswith("grad.") or k in ("logits", "loss"):
            del res[k]
    pm.zero_grad()
    outp = pm(**inputs)
    loss = torch.nn.functional.cross_entropy(outp.logits, labels)
    loss.backward()
    res["logits"] = outp.logits.detach().clone()
    res["loss"] = loss.detach().clone()
    for (pname, p), key in zip(trainable, keys):
        assert p.grad is not None and (p.grad != 0).any(), key
        res["grad." + key] = p.grad.detach().clone()

    # Trajectory: S AdamW steps on the same batch, HF Trainer's two groups (no decay on biases).
    state = {pname: p.detach().clone() for pname, p in trainable}
    decay = [p for pname, p in trainable if not pname.endswith("bias")]
    no_decay = [p for pname, p in trainable if pname.endswith("bias")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        lo = torch.nn.functional.cross_entropy(pm(**inputs).logits, labels)
        losses.append(float(lo.detach()))
        lo.backward()
        opt.step()
    res["traj_losses"] = torch.tensor(losses, dtype=torch.float32)
    for (pname, p), key in zip(trainable, keys):
        res["traj." + key] = p.detach().clone()
    with torch.no_grad():  # back to the saved adapter for the merge
        for pname, p in trainable:
            p.copy_(state[pname])
        merged = pm.merge_and_unload()
        merged.eval()
        res["merged_logits"] = merged(**inputs).logits.detach().clone()
    save_file({k: v.contiguous() for k, v in res.items()}, os.path.join(out, "golden.safetensors"))
    meta = {"source": f"tests/golden/{src}", "target_modules": targets, "r": 4, "lora_alpha": 32,
            "use_dora": True, "steps": STEPS, "lr": LR, "weight_decay": WD,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__}}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
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
