"""Goldens of the LoRA inits that rewrite the base weights (PEFT init_lora_weights "pissa" and "olora")
from the MODERN pinned stack (setup_env_modern.sh: transformers 4.48.3, PEFT 0.14.0).

For each case it reuses the random-init model and the batch of an existing small golden
(tests/golden/<src>/model and grads.safetensors), lets PEFT 0.14 initialise a fresh adapter with
the case's init (LoraLayer.pissa_init: SVD of W; olora_init: QR of W; both replace W by
W_res = W - s B0 A0) and writes tests/golden/pissa/<case>/golden.safetensors:
  input_ids, attention_mask[, token_type_ids], labels  I64, the source batch
  res.<base key>       F32 every adapted weight after the init (the residual, key as in the base
                       model's model.safetensors)
  init.<adapter key>   F32 lora_A / lora_B after the init (A0, B0; keys as PEFT saves them)
  ba0.<module>         F32 s * B0 @ A0 [out, in] (the part moved into the adapter; sign-free)
  init_logits, init_loss  F32 of the PEFT model in eval mode right after the init
  grad.<adapter key>   F32 the gradients at the init (lora_A, lora_B, the head's copies)
  traj_losses, traj_gnorms  F32 [S]: S steps of torch AdamW (foreach=False; lr 1e-2, wd 0.01 on
                       weights only as HF Trainer groups them, betas 0.9/0.999, eps 1e-8, no
                       clipping) on the same batch in eval mode: the loss and the global gradient
                       norm before each step
  traj.<adapter key>   F32 every trainable tensor after the last step
  delta.<module>       F32 s * (B A - B0 A0) after the last step: what the converted adapter adds
                       to the ORIGINAL weight (sign-free)
  final_logits         F32 of the trained model
  conv_logits          F32 of PEFT's own converted adapter
                       (save_pretrained(path_initial_model_for_weight_conversion=...)) loaded by
                       PEFT over a fresh ORIGINAL base, with the trained head copied in (PEFT 0.14's
                       conversion drops the head's tensors)
and meta.json (source, init, targets, r, alpha, rslora, versions).
Usage: $PY tools/reference/pissa_golden.py [--out tests/golden/pissa] [--case NAME]
       $PY tools/reference/pissa_golden.py --logits ADAPTER_DIR --case NAME
                       prints JSON {"logits": [...]} of ADAPTER_DIR (a lorabert-saved adapter)
                       loaded by PEFT 0.14 over the case's ORIGINAL base, on the case's batch
Deterministic: 1 torch thread, fixed seeds; torch's SVD / QR (not LAPACK's) may pick other signs
per component than lorabert's, so tests compare sign-free products or align signs first.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

if os.environ.get("PYTHONHASHSEED") != "0":  # PEFT keeps target_modules in a set: a fixed order
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch
import transformers
import peft
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()

CASES = {
    # name: (source golden, init, target modules, r, alpha, use_rslora)
    "distilbert_pissa": ("distilbert_tiny_all", "pissa", ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"], 4, 32,
                         False),
    "distilbert_olora": ("distilbert_tiny_all", "olora", ["q_lin", "v_lin", "lin1", "lin2"], 4, 32, False),
    # BERT: intermediate.dense [hidden, dim] and output.dense (both [dim, hidden] and [dim, dim])
    "bert_pissa": ("bert_tiny", "pissa", ["query", "value", "intermediate.dense", "output.dense"], 4, 16, False),
    "bert_olora_rslora": ("bert_tiny", "olora", ["query", "key", "intermediate.dense", "output.dense"], 4, 8, True),
}
STEPS = 5
LR = 1e-2
WD = 0.01


def adapter_key(name):
    """In-memory PEFT parameter name -> key in adapter_model.safetensors (as PEFT 0.14 saves it)."""
    return name.replace("modules_to_save.", "").replace(".default", "")


def batch_of(root, src):
    b = load_file(os.path.join(root, "tests", "golden", src, "grads.safetensors"))
    inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in b}
    return b, inputs, b["labels"]


def lora_modules(pm):
    from peft.tuners.lora import LoraLayer
    return [(n, mod) for n, mod in pm.named_modules() if isinstance(mod, LoraLayer)]


def gen_case(root, out_root, name):
    src, init, targets, r, alpha, rslora = CASES[name]
    mdir = os.path.join(root, "tests", "golden", src, "model")
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    bfile, inputs, labels = batch_of(root, src)
    model = AutoModelForSequenceClassification.from_pretrained(mdir)
    model.eval()
    cfg = LoraConfig(task_type="SEQ_CLS", r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets,
                     init_lora_weights=init, use_rslora=rslora)
    pm = get_peft_model(model, cfg)
    pm.eval()
    tmp = tempfile.mkdtemp()
    init_dir = os.path.join(tmp, "init")
    # PEFT's recipe: the initial adapter saved with init_lora_weights True (not subtracted again)
    pm.peft_config["default"].init_lora_weights = True
    pm.save_pretrained(init_dir)
    pm.peft_config["default"].init_lora_weights = init

    res = {k: bfile[k] for k in ("input_ids", "attention_mask", "token_type_ids", "labels") if k in bfile}
    for mname, mod in lora_modules(pm):
        base_key = mname[len("base_model.model."):] + ".weight"
        res["res." + base_key] = mod.base_layer.weight.detach().clone()
        s = mod.scaling["default"]
        A0, B0 = mod.lora_A["default"].weight.detach(), mod.lora_B["default"].weight.detach()
        res["init." + mname + ".lora_A.weight"] = A0.clone()
        res["init." + mname + ".lora_B.weight"] = B0.clone()
        res["ba0." + mname[len("base_model.model."):]] = (s * B0 @ A0).clone()
    trainable = [(pname, p) for pname, p in pm.named_parameters() if p.requires_grad]
    keys = [adapter_key(pname) for pname, _ in trainable]
    pm.zero_grad()
    o = pm(**inputs)
    loss = torch.nn.functional.cross_entropy(o.logits, labels)
    loss.backward()
    res["init_logits"] = o.logits.detach().clone()
    res["init_loss"] = loss.detach().clone()
    for (pname, p), key in zip(trainable, keys):
        assert p.grad is not None, key
        res["grad." + key] = p.grad.detach().clone()

    decay = [p for pname, p in trainable if not pname.endswith("bias")]
    no_decay = [p for pname, p in trainable if pname.endswith("bias")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    losses, gnorms = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        lo = torch.nn.functional.cross_entropy(pm(**inputs).logits, labels)
        losses.append(float(lo.detach()))
        lo.backward()
        gnorms.append(float(torch.sqrt(sum((p.grad.double() ** 2).sum() for _, p in trainable))))
        opt.step()
    res["traj_losses"] = torch.tensor(losses, dtype=torch.float32)
    res["traj_gnorms"] = torch.tensor(gnorms, dtype=torch.float32)
    for (pname, p), key in zip(trainable, keys):
        res["traj." + key] = p.detach().clone()
    for mname, mod in lora_modules(pm):
        s = mod.scaling["default"]
        A, B = mod.lora_A["default"].weight.detach(), mod.lora_B["default"].weight.detach()
        k = mname[len("base_model.model."):]
        res["delta." + k] = s * (B @ A) - res["ba0." + k]
    with torch.no_grad():
        res["final_logits"] = pm(**inputs).logits.detach().clone()

    conv_dir = os.path.join(tmp, "conv")
    pm.save_pretrained(conv_dir, path_initial_model_for_weight_conversion=init_dir)
    ccfg = json.load(open(os.path.join(conv_dir, "adapter_config.json")))
    assert ccfg["r"] == 2 * r and ccfg["init_lora_weights"] is True, ccfg
    fresh = AutoModelForSequenceClassification.from_pretrained(mdir)
    cm = PeftModel.from_pretrained(fresh, conv_dir)
    cm.eval()
    with torch.no_grad():  # PEFT 0.14's conversion drops the head: copy the trained one in
        trained = dict(pm.named_parameters())
        for pname, p in cm.named_parameters():
            if "modules_to_save" in pname:
                p.copy_(trained[pname])
        res["conv_logits"] = cm(**inputs).logits.detach().clone()
    shutil.rmtree(tmp)
    d = float((res["conv_logits"] - res["final_logits"]).abs().max())
    assert d < 1e-4, f"{name}: PEFT's converted adapter differs from the trained model by {d}"
    save_file({k: v.contiguous() for k, v in res.items()}, os.path.join(out, "golden.safetensors"))
    meta = {"source": f"tests/golden/{src}", "init_lora_weights": init, "target_modules": targets, "r": r,
            "lora_alpha": alpha, "use_rslora": rslora, "steps": STEPS, "lr": LR, "weight_decay": WD,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__}}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{name}: init loss {float(loss.detach()):.6f}, trajectory {losses[0]:.5f} -> {losses[-1]:.5f}, "
          f"PEFT converted vs trained logits {d:.2g}")


def print_logits(root, adapter, name):
    src = CASES[name][0]
    _, inputs, _ = batch_of(root, src)
    base = AutoModelForSequenceClassification.from_pretrained(os.path.join(root, "tests", "golden", src, "model"))
    pm = PeftModel.from_pretrained(base, adapter)
    pm.eval()
    with torch.no_grad():
        print(json.dumps({"logits": pm(**inputs).logits.flatten().tolist()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=os.path.join(root, "tests", "golden", "pissa"))
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--logits", metavar="ADAPTER_DIR")
    a = ap.parse_args()
    assert peft.__version__ == "0.14.0", f"needs the modern env (PEFT 0.14.0), found {peft.__version__}"
    if a.logits:
        print_logits(root, a.logits, (a.case or ["distilbert_pissa"])[0])
        return
    for name in a.case or sorted(CASES):
        gen_case(root, a.out, name)


if __name__ == "__main__":
    main()
