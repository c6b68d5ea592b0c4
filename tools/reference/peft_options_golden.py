"""Goldens of the PEFT options only a newer PEFT has, from the second pinned environment
(tools/reference/setup_env_modern.sh: transformers 4.48.3, PEFT 0.14.0, torch CPU, 1 thread):

  inits/        LoraConfig(init_lora_weights=...) on tests/golden/distilbert_tiny_all/model (r 4,
                alpha 32, all six linears), fresh from get_peft_model under torch.manual_seed(7):
    gaussian/   PEFT adapter folder ("gaussian": A ~ N(0, 1/r^2), B = 0) as save_pretrained writes it
    false/      PEFT adapter folder (init_lora_weights=False: A and B keep nn.Linear's init, so the
                adapter changes the logits from the start)
    logits.safetensors  logits_false F32 [B,L]: the `false` PEFT model in eval mode on
                distilbert_tiny_all/forward.safetensors' batch (lorabert loading false/ must give them)
    stats.json  per init: count, mean and std (population) of every lora_A value and of every
                lora_B value, over the whole adapter (lorabert's own init is compared statistically:
                the draws cannot be bit-identical to torch's generator)
  distilbert_traj_loraplus/trajectory/{final, expected.json}
                HF Trainer (4.48.3) on distilbert_traj's model, init adapter, rows and order, with
                the optimizer PEFT 0.14's create_loraplus_optimizer(torch.optim.AdamW, lr=5e-4,
                loraplus_lr_ratio=8, loraplus_weight_decay=0.01, betas 0.9/0.999, eps 1e-8) passed
                as Trainer(optimizers=(opt, None)) (PEFT's documented use: the Trainer builds its
                linear schedule on it); expected.json as distilbert_traj's, args.loraplus_lr_ratio
                set, plus learning_rates_b (the lora_B group's rate per update).

  PY=$(bash tools/reference/setup_env_modern.sh)
  $PY tools/reference/peft_options_golden.py             # writes both into tests/golden
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # save_pretrained looks the base up on the hub otherwise
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402
import transformers  # noqa: E402
import peft  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from peft.optimizers import create_loraplus_optimizer  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForSequenceClassification, TrainingArguments  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GOLD = os.path.join(HERE, "..", "..", "tests", "golden")
sys.path.insert(0, HERE)
import golden_lib as gl  # noqa: E402

transformers.logging.set_verbosity_error()
VERSIONS = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def moments(ts):
    v = torch.cat([t.reshape(-1).double() for t in ts])
    return {"count": v.numel(), "mean": float(v.mean()), "std": float(v.std(unbiased=False))}


def gen_inits(out):
    src = os.path.join(GOLD, "distilbert_tiny_all")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    batch = load_file(os.path.join(src, "forward.safetensors"))
    stats = {}
    logits = {}
    for name, init in (("gaussian", "gaussian"), ("false", False)):
        base = AutoModelForSequenceClassification.from_pretrained(os.path.join(src, "model"))
        torch.manual_seed(7)
        cfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.0, init_lora_weights=init,
                         target_modules=["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"])
        pm = get_peft_model(base, cfg)
        gl.save_adapter(pm, os.path.join(out, name))
        sd = dict(pm.named_parameters())
        a = [p.detach() for k, p in sd.items() if "lora_A" in k]
        b = [p.detach() for k, p in sd.items() if "lora_B" in k]
        stats[name] = {"lora_A": moments(a), "lora_B": moments(b), "r": 4, "in_features": "24 (q,k,v,out,lin1), 40 (lin2)"}
        pm.eval()
        with torch.no_grad():
            logits["logits_" + name] = pm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    save_file({"logits_false": logits["logits_false"].contiguous()}, os.path.join(out, "logits.safetensors"))
    write_json(os.path.join(out, "stats.json"), {
        "stats": stats, "versions": VERSIONS, "source": "tests/golden/distilbert_tiny_all/model, torch.manual_seed(7)",
        "notes": "std is the population std over every value of the adapter's lora_A (lora_B) tensors"})


class LoraPlusRecorder(gl.RecordingTrainer):
    """golden_lib.RecordingTrainer that also records the lora_B group's rate (param group 2) per update."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.rec["learning_rates_b"] = []

    def training_step(self, model, inputs, *rest):
        loss = super().training_step(model, inputs, *rest)
        self.rec["learning_rates_b"].append(float(self.optimizer.param_groups[2]["lr"]))
        return loss


def gen_loraplus(out, lr=5e-4, ratio=8.0, wd=0.01):
    src = os.path.join(GOLD, "distilbert_traj")
    td = os.path.join(out, "trajectory")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(td)
    fo = gl.FixedOrder(src)
    E, bs, steps = fo.E, fo.bs, fo.steps
    base = AutoModelForSequenceClassification.from_pretrained(os.path.join(src, "model"))
    pm = PeftModel.from_pretrained(base, os.path.join(src, "trajectory", "init"), is_trainable=True)
    opt = create_loraplus_optimizer(model=pm, optimizer_cls=torch.optim.AdamW, lr=lr, loraplus_lr_ratio=ratio,
                                    loraplus_weight_decay=wd, betas=(0.9, 0.999), eps=1e-8)
    groups = {i: [n for n, p in pm.named_parameters() if any(p is q for q in g["params"])]
              for i, g in enumerate(opt.param_groups)}
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lorabert-loraplus-{os.getpid()}")
    args = TrainingArguments(
        output_dir=tmp, learning_rate=lr, per_device_train_batch_size=bs, num_train_epochs=E, weight_decay=wd,
        lr_scheduler_type="linear", max_grad_norm=1.0, seed=42, use_cpu=True, eval_strategy="no",
        save_strategy="no", logging_strategy="no", report_to=[], disable_tqdm=True, dataloader_drop_last=False,
        dataloader_num_workers=0, dataloader_pin_memory=False)
    trainer = LoraPlusRecorder(model=pm, args=args, train_dataset=gl.ListDataset(fo.items), data_collator=fo.collator,
                               optimizers=(opt, None), fixed_epochs=fo.epochs, expected_batches=fo.expected)
    rec = gl.train_recorded(trainer)
    gl.save_adapter(pm, os.path.join(td, "final"))
    write_json(os.path.join(td, "expected.json"), {
        "losses": rec["losses"], "learning_rates": rec["learning_rates"], "learning_rates_b": rec["learning_rates_b"],
        "grad_norms": rec["grad_norms"],
        "param_groups": {["groupA", "embedding", "groupB", "groupB_no_decay"][i]: g for i, g in groups.items()},
        "args": {"learning_rate": lr, "weight_decay": wd, "loraplus_lr_ratio": ratio,
                 "per_device_train_batch_size": bs, "num_train_epochs": E, "max_steps": len(steps),
                 "lr_scheduler_type": "linear", "max_grad_norm": 1.0,
                 "source": "tests/golden/distilbert_traj (model, trajectory/init, order.json, tokens.json)"},
        "versions": VERSIONS,
        "notes": "optimizer: peft.optimizers.create_loraplus_optimizer(model, torch.optim.AdamW, lr, "
                 "loraplus_lr_ratio, loraplus_weight_decay=weight_decay), Trainer(optimizers=(opt, None)); "
                 "learning_rates = param group 0 (groupA), learning_rates_b = group 2 (groupB)."})


def main():
    torch.set_num_threads(1)
    gen_inits(os.path.join(GOLD, "peft_options", "inits"))
    gen_loraplus(os.path.join(GOLD, "distilbert_traj_loraplus"))


if __name__ == "__main__":
    main()
