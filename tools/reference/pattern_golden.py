"""Goldens of PEFT's rank_pattern / alpha_pattern from the pinned reference stack (transformers
4.32.1, PEFT 0.6.2, 1 torch thread), into tests/golden/peft_options/pattern:

  lora/               get_peft_model(LoraConfig(r=4, lora_alpha=32, all six linears,
                      rank_pattern=RANKS, alpha_pattern=ALPHAS)) on tests/golden/distilbert_tiny_all/model,
                      every trainable tensor randomised (golden_lib.randomize_adapter), save_pretrained
  grads.safetensors   the batch of distilbert_tiny_all/grads.safetensors (input_ids, attention_mask, labels),
                      logits and loss of the PEFT model in eval mode, grad.<key> of every trainable tensor
  trajectory/         HF Trainer on tests/golden/distilbert_traj's model, rows and order (order.json,
                      tokens.json there) from init/ = PEFT's own init of LoraConfig(r=4, lora_alpha=32,
                      q_lin v_lin lin1, rank_pattern=TRAJ_RANKS, alpha_pattern=TRAJ_ALPHAS) under
                      torch.manual_seed(11); final/ and expected.json as distilbert_traj's
  meta.json           the patterns and the ranks / scalings PEFT gave each module

  PY=$(bash tools/reference/setup_env.sh)
  $PY tools/reference/pattern_golden.py
"""
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForSequenceClassification, TrainingArguments  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GOLD = os.path.join(HERE, "..", "..", "tests", "golden")
sys.path.insert(0, HERE)
import golden_lib as gl  # noqa: E402

transformers.logging.set_verbosity_error()
ALL = ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"]
# a full module path, a layer-specific regex, a kind; alpha by kind and by path
RANKS = {"layer.1.attention.q_lin": 8, "lin2": 2, "layer\\.[02]\\.attention\\.k_lin": 6}
ALPHAS = {"v_lin": 6, "transformer.layer.0.ffn.lin1": 12}
TRAJ_TARGETS = ["q_lin", "v_lin", "lin1"]
TRAJ_RANKS = {"layer.1.attention.q_lin": 8, "lin1": 2}
TRAJ_ALPHAS = {"v_lin": 16}


def module_table(pm):
    out = {}
    for name, mod in pm.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "r", {}):
            out[name] = {"r": mod.r["default"], "scaling": mod.scaling["default"]}
    return out


def gen_grads(out):
    src = os.path.join(GOLD, "distilbert_tiny_all")
    base = AutoModelForSequenceClassification.from_pretrained(os.path.join(src, "model"))
    cfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.0, target_modules=ALL,
                     rank_pattern=RANKS, alpha_pattern=ALPHAS)
    pm = get_peft_model(base, cfg)
    gl.randomize_adapter(pm, 77, 4)
    gl.save_adapter(pm, os.path.join(out, "lora"))
    g = load_file(os.path.join(src, "grads.safetensors"))
    batch = {k: g[k] for k in ("input_ids", "attention_mask", "labels")}
    pm.eval()
    pm.zero_grad(set_to_none=True)
    o = pm(**batch)
    o.loss.backward()
    tensors = dict(batch)
    tensors["logits"] = o.logits.detach().float().contiguous()
    tensors["loss"] = o.loss.detach().float().reshape(())
    saved = load_file(os.path.join(out, "lora", "adapter_model.safetensors"))
    for name, p in pm.named_parameters():
        if not p.requires_grad:
            continue
        key = gl.adapter_key(name)
        if key not in saved:
            raise RuntimeError(f"{key} not saved")
        gl.check_finite_nonzero("grad " + key, p.grad)
        tensors["grad." + key] = p.grad.detach().float().contiguous()
    save_file(tensors, os.path.join(out, "grads.safetensors"))
    return module_table(pm)


def gen_trajectory(out):
    src = os.path.join(GOLD, "distilbert_traj")
    td = os.path.join(out, "trajectory")
    os.makedirs(td)
    fo = gl.FixedOrder(src)
    E, bs, steps = fo.E, fo.bs, fo.steps
    base = AutoModelForSequenceClassification.from_pretrained(os.path.join(src, "model"))
    torch.manual_seed(11)
    pm = get_peft_model(base, LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.0,
                                         target_modules=TRAJ_TARGETS, rank_pattern=TRAJ_RANKS,
                                         alpha_pattern=TRAJ_ALPHAS))
    gl.save_adapter(pm, os.path.join(td, "init"))
    table = module_table(pm)
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lorabert-pattern-{os.getpid()}")
    args = TrainingArguments(
        output_dir=tmp, learning_rate=1e-3, per_device_train_batch_size=bs, num_train_epochs=E, weight_decay=0.01,
        lr_scheduler_type="linear", max_grad_norm=1.0, optim="adamw_torch", seed=42, use_cpu=True,
        evaluation_strategy="no", save_strategy="no", logging_strategy="no", report_to=[], disable_tqdm=True,
        dataloader_drop_last=False, dataloader_num_workers=0, dataloader_pin_memory=False)
    trainer = gl.RecordingTrainer(model=pm, args=args, train_dataset=gl.ListDataset(fo.items),
                                  data_collator=fo.collator, tokenizer=fo.tok, fixed_epochs=fo.epochs,
                                  expected_batches=fo.expected)
    rec = gl.train_recorded(trainer)
    gl.save_adapter(pm, os.path.join(td, "final"))
    gl.write_json(os.path.join(td, "expected.json"), {
        "losses": rec["losses"], "learning_rates": rec["learning_rates"], "grad_norms": rec["grad_norms"],
        "args": {"learning_rate": 1e-3, "weight_decay": 0.01, "per_device_train_batch_size": bs,
                 "num_train_epochs": E, "max_steps": len(steps), "lr_scheduler_type": "linear",
                 "max_grad_norm": 1.0,
                 "source": "tests/golden/distilbert_traj (model, order.json, tokens.json); init here"},
        "versions": gl.VERSIONS})
    return table


def main():
    torch.set_num_threads(1)
    out = os.path.join(GOLD, "peft_options", "pattern")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    grads = gen_grads(out)
    traj = gen_trajectory(out)
    gl.write_json(os.path.join(out, "meta.json"), {
        "grads": {"model": "tests/golden/distilbert_tiny_all/model", "targets": ALL, "r": 4, "lora_alpha": 32,
                  "rank_pattern": RANKS, "alpha_pattern": ALPHAS, "modules": grads},
        "trajectory": {"model": "tests/golden/distilbert_traj/model", "targets": TRAJ_TARGETS, "r": 4,
                       "lora_alpha": 32, "rank_pattern": TRAJ_RANKS, "alpha_pattern": TRAJ_ALPHAS,
                       "modules": traj},
        "versions": gl.VERSIONS})


if __name__ == "__main__":
    main()
