"""Golden-file writers for lorabert, driven by the REAL transformers/peft/Trainer classes.

Owns the on-disk golden layout that the C model/trainer tests read (see README.md here):
  <case>/model/              save_pretrained(safe_serialization=True) of a random-init *ForSequenceClassification
  <case>/forward.safetensors input_ids/attention_mask[/token_type_ids] I64 [B,T], logits F32 [B,L] (eval)
  <case>/lora/               PEFT adapter folder with random lora_A, lora_B and head
  <case>/grads.safetensors   inputs, labels I64 [B], logits F32 [B,L], loss F32 [], grad.<adapter key> F32
  <case>/trajectory/         init/, order.json, expected.json, final/ (100+ step HF Trainer run)
  <case>/meta.json           arch, config, target_modules, versions, notes
Every function here is deterministic for a given seed and torch thread count.
"""
import csv
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import transformers
import peft
from safetensors.torch import save_file, load_file
from transformers import (AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification,
                          DataCollatorWithPadding, DistilBertConfig, DistilBertForSequenceClassification,
                          DistilBertTokenizerFast, PreTrainedTokenizerFast, RobertaConfig,
                          RobertaForSequenceClassification, Trainer, TrainingArguments, XLMRobertaConfig,
                          XLMRobertaForSequenceClassification)
from peft import LoraConfig, get_peft_model
from transformers import AutoConfig, AutoTokenizer

transformers.logging.set_verbosity_error()

VERSIONS = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}


def shared_dir():
    """Location of the read-only shared data (env LORABERT_SHARED, default ../shared from the repo root)."""
    env = os.environ.get("LORABERT_SHARED")
    if env:
        return env
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.path.join(repo, "..", "shared")


def label_maps(n):
    id2label = {i: f"LABEL_{i}" for i in range(n)}
    if n == 2:
        id2label = {0: "Negative", 1: "Positive"}
    return id2label, {v: k for k, v in id2label.items()}


ARCHS = {  # arch -> (config class, SeqCls class)
    "distilbert": (DistilBertConfig, DistilBertForSequenceClassification),
    "bert": (BertConfig, BertForSequenceClassification),
    "roberta": (RobertaConfig, RobertaForSequenceClassification),
    "xlm-roberta": (XLMRobertaConfig, XLMRobertaForSequenceClassification),
}
try:  # transformers >= 4.48 (the second pinned env, setup_env_modern.sh): ModernBERT
    from transformers import ModernBertConfig, ModernBertForSequenceClassification
    ARCHS["modernbert"] = (ModernBertConfig, ModernBertForSequenceClassification)
except ImportError:
    pass


def make_config(arch, cfg, num_labels, problem_type=None):
    id2label, label2id = label_maps(num_labels)
    config = ARCHS[arch][0](**cfg, id2label=id2label, label2id=label2id)
    if problem_type:
        config.problem_type = problem_type
    config.architectures = [ARCHS[arch][1].__name__]
    return config


def build_model(arch, config, seed, perturb):
    """Random-init SeqCls model (HF _init_weights under torch.manual_seed(seed)).
    perturb>0 additionally adds N(0, perturb^2) to every LayerNorm weight and sets every bias to
    N(0, perturb^2), so that bias/LayerNorm mistakes in the C port cannot hide behind zeros/ones."""
    torch.manual_seed(seed)
    model = ARCHS[arch][1](config)
    if perturb > 0:
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(".bias"):
                    p.copy_(torch.randn(p.shape, generator=g) * perturb)
                elif "LayerNorm" in name or "layer_norm" in name or (arch == "modernbert" and "norm" in name):
                    p.add_(torch.randn(p.shape, generator=g) * perturb)
    model.eval()
    return model


def make_batch(arch, lengths, vocab_size, seed, num_labels=None, pad_id=0, problem_type=None):
    """Right-padded batch [B,T] (T = max(lengths)) of random ids in [1, vocab), padded with pad_id. For
    BERT the token_type_ids mark a second segment (1) starting at a random split inside each row. For
    RoBERTa / XLM-R (pad_id 1) the middle token of the first row of length >= 3 is the pad id itself,
    so that create_position_ids_from_input_ids' rule (a pad id takes position pad_id and is not
    counted) is exercised."""
    g = torch.Generator().manual_seed(seed)
    B, T = len(lengths), max(lengths)
    ids = torch.full((B, T), pad_id, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    tt = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(1, vocab_size, (n,), generator=g)
        mask[b, :n] = 1
        if n >= 2:
            split = int(torch.randint(1, n, (1,), generator=g))
            tt[b, split:n] = 1
    if arch in ("roberta", "xlm-roberta"):
        b = next(i for i, n in enumerate(lengths) if n >= 3)
        ids[b, lengths[b] // 2] = pad_id
    batch = {"input_ids": ids, "attention_mask": mask}
    if arch == "bert":
        assert (tt == 1).any() and (tt[mask == 1] == 0).any()
        batch["token_type_ids"] = tt
    if num_labels is not None and problem_type == "multi_label_classification":  # float multi-hot [B, L]
        batch["labels"] = torch.randint(0, 2, (B, num_labels), generator=g).float()
    elif num_labels is not None and problem_type == "regression":  # float [B] (one output: HF squeezes)
        batch["labels"] = (torch.randn(B, generator=g) * 2).contiguous()
    elif num_labels is not None:
        labels = torch.arange(B, dtype=torch.int64) % num_labels
        perm = torch.randperm(B, generator=g)
        batch["labels"] = labels[perm].contiguous()
    return batch


def adapter_key(name):
    """In-memory PEFT parameter name -> key in adapter_model.safetensors (adapter name removed)."""
    return name.replace("modules_to_save.", "").replace(".default", "")


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")


def randomize_adapter(peft_model, seed, r):
    """Set lora_A, lora_B and the trainable head copies to random values (all non-trivial grads)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if not p.requires_grad:
                continue
            if "lora_A" in name:          # [r, in]
                std = 1.0 / math.sqrt(p.shape[1])
            elif "lora_B" in name:        # [out, r]
                std = 0.3 / math.sqrt(r)
            elif name.endswith("bias"):
                std = 0.1
            else:                         # head weight [out, in]
                std = 1.0 / math.sqrt(p.shape[1])
            p.copy_(torch.randn(p.shape, generator=g) * std)


def lora_config(targets, dropout=0.0):
    return LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=dropout, target_modules=list(targets))


def check_finite_nonzero(name, t):
    if not torch.isfinite(t).all():
        raise RuntimeError(f"{name}: non-finite values")
    if not (t != 0).any():
        raise RuntimeError(f"{name}: all zero")


DROPOUT_KEYS = ("dropout", "attention_dropout", "seq_classif_dropout", "hidden_dropout_prob",
                "attention_probs_dropout_prob", "classifier_dropout")


def copy_source_model(src, dst):
    """A real checkpoint folder (tools/reference/real_model.sh) copied as the case's model/, with
    every dropout set to 0 in config.json: forward/grads run in eval mode anyway, and the
    trajectory must be dropout-free to be reproducible in C. Weights are copied byte for byte."""
    os.makedirs(dst)
    for f in os.listdir(src):
        if f in ("model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    for k in DROPOUT_KEYS:
        if k in cfg:
            cfg[k] = 0.0 if k != "classifier_dropout" or cfg[k] is not None else None
    write_json(os.path.join(dst, "config.json"), cfg)
    return cfg


def gen_case(out_root, case):
    """Writes model/, forward.safetensors, lora/, grads.safetensors, meta.json for one case dict:
    {name, arch, cfg, num_labels, targets, seed, perturb, fwd_lengths, grad_lengths, vocab(optional bool)},
    or, with "source": DIR, a real checkpoint folder instead of random weights (cfg is read from it)."""
    d = os.path.join(out_root, case["name"])
    shutil.rmtree(d, ignore_errors=True)  # PEFT appends to an existing README.md: start clean
    os.makedirs(d)
    arch = case["arch"]
    if case.get("source"):
        case["cfg"] = copy_source_model(case["source"], os.path.join(d, "model"))
        config = AutoConfig.from_pretrained(os.path.join(d, "model"))
    else:
        config = make_config(arch, case["cfg"], case["num_labels"], case.get("problem_type"))
        model = build_model(arch, config, case["seed"], case.get("perturb", 0.0))
        model.save_pretrained(os.path.join(d, "model"), safe_serialization=True)
    if case.get("vocab"):
        shutil.copyfile(os.path.join(shared_dir(), "data", "tokenizer", "vocab.txt"),
                        os.path.join(d, "model", "vocab.txt"))
    if case.get("tokenizer"):  # a tokenizer.json (tests/golden/tokenizers/...) whose vocabulary fits the model
        shutil.copyfile(case["tokenizer"], os.path.join(d, "model", "tokenizer.json"))
    pad_id = config.pad_token_id if arch in ("roberta", "xlm-roberta", "modernbert") else 0

    # Reload from disk, relative to the case dir, so the goldens describe exactly the saved weights
    # and the adapter's base_model_name_or_path is the portable "model".
    cwd = os.getcwd()
    os.chdir(d)
    try:
        model = AutoModelForSequenceClassification.from_pretrained("model", **case.get("load_kwargs", {}))
        model.eval()

        fwd = make_batch(arch, case["fwd_lengths"], config.vocab_size, case["seed"] + 10, pad_id=pad_id)
        with torch.no_grad():
            logits = model(**fwd).logits.float().contiguous()
        check_finite_nonzero("forward logits", logits)
        save_file({**fwd, "logits": logits}, "forward.safetensors")
        if case.get("hidden"):
            # Per-layer debugging aid: hidden_states.0 = embeddings (after LayerNorm), .k = layer k output.
            with torch.no_grad():
                hs = model(**fwd, output_hidden_states=True).hidden_states
            save_file({f"hidden_states.{i}": h.float().contiguous() for i, h in enumerate(hs)},
                      "hidden.safetensors")

        pm = get_peft_model(model, lora_config(case["targets"]))
        randomize_adapter(pm, case["seed"] + 20, 4)
        pm.save_pretrained("lora", safe_serialization=True)

        pm.eval()
        gb = make_batch(arch, case["grad_lengths"], config.vocab_size, case["seed"] + 30, case["num_labels"],
                        pad_id=pad_id, problem_type=case.get("problem_type"))
        pm.zero_grad(set_to_none=True)
        out = pm(**gb)
        out.loss.backward()
        plogits = out.logits.detach().float().contiguous()
        tensors = dict(gb)
        tensors["logits"] = plogits
        tensors["loss"] = out.loss.detach().float().reshape(())
        saved = load_file(os.path.join("lora", "adapter_model.safetensors"))
        for name, p in pm.named_parameters():
            if not p.requires_grad:
                continue
            key = adapter_key(name)
            if key not in saved:
                raise RuntimeError(f"trainable {name} -> {key} not in adapter_model.safetensors")
            if p.grad is None:
                raise RuntimeError(f"{name}: no grad")
            check_finite_nonzero("grad " + key, p.grad)
            tensors["grad." + key] = p.grad.detach().float().contiguous()
        missing = set(saved) - {k[5:] for k in tensors if k.startswith("grad.")}
        if missing:
            raise RuntimeError(f"adapter tensors without grads: {sorted(missing)}")
        # the adapter must change the function, or the lora golden would not test LoRA at all
        with torch.no_grad():
            with pm.disable_adapter():
                l0 = pm(**{k: v for k, v in gb.items() if k != "labels"}).logits
        if torch.allclose(l0, plogits, atol=1e-3):
            raise RuntimeError("LoRA adapter has no visible effect on logits")
        save_file(tensors, "grads.safetensors")
    finally:
        os.chdir(cwd)

    meta = {
        "arch": arch,
        "config": case["cfg"] | {"num_labels": case["num_labels"]} |
                  ({"problem_type": case["problem_type"]} if case.get("problem_type") else {}),
        "target_modules": list(case["targets"]),
        "lora": {"r": 4, "lora_alpha": 32, "lora_dropout": 0.0, "scaling": 8.0},
        "forward_lengths": case["fwd_lengths"],
        "grads_lengths": case["grad_lengths"],
        "seed": case["seed"],
        "versions": VERSIONS,
        "notes": ((f"Weights of the real checkpoint {case['source']} (config dropouts set to 0); " if case.get("source")
                   else "Random-init weights (HF _init_weights under torch.manual_seed(seed)); ")
                  + (f"every bias ~ N(0,{case['perturb']}^2) and LayerNorm weights += N(0,{case['perturb']}^2); "
                     if case.get("perturb") else "")
                  + "forward.logits: base model, model.eval(). lora/: lora_A ~ N(0,1/in), lora_B ~ N(0,0.09/r), "
                  "head copies random. grads.safetensors: PEFT model in eval mode (dropout off), loss = "
                  "model's mean CE with labels, grad.<adapter key> = .grad of each trainable parameter after "
                  "loss.backward(). Inputs right-padded with id %d; token_type_ids 0 on padding." % pad_id
                  + (" RoBERTa / XLM-R: no token_type_ids (all 0); one row holds the pad id inside its real "
                     "tokens (make_batch)." if pad_id else "")),
    }
    write_json(os.path.join(d, "meta.json"), meta)
    return d


# ----------------------------------------------------------------------------------------------
# Trajectory: the real HF Trainer on real IMDb rows with a fixed batch order.

def task_targets(problem, r, text, label):
    """The targets of csv row r for the multi-label / regression trajectories (derived from the row so
    that the CLI tests can write the same data files): multi-label (3 labels) [label, r % 3 == 0,
    len(text) % 2]; regression label + 0.25 * (r % 5) - 0.5."""
    if problem == "multi_label_classification":
        return [float(label), float(r % 3 == 0), float(len(text) % 2)]
    return label + 0.25 * (r % 5) - 0.5


def read_imdb_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [(r["text"], int(r["label"])) for r in rows]


# TrainingArguments' name for it: evaluation_strategy (4.32), eval_strategy (>= 4.41; the old name warns)
EVAL_STRATEGY = "eval_strategy" if "eval_strategy" in TrainingArguments.__dataclass_fields__ else "evaluation_strategy"


class FixedOrderSampler(torch.utils.data.Sampler):
    """Yields epoch e's saved index list on its e-th iteration (the Trainer iterates once per epoch)."""

    def __init__(self, epochs):
        self.epochs = epochs
        self.calls = 0

    def __iter__(self):
        order = self.epochs[self.calls]
        self.calls += 1
        return iter(order)

    def __len__(self):
        return len(self.epochs[0])


class RecordingTrainer(Trainer):
    """Trainer whose batch order is fixed and which records, per optimizer step, the training loss,
    the learning rate used, and the pre-clip global grad norm (grads right after backward)."""

    def __init__(self, *a, fixed_epochs=None, expected_batches=None, progress=0, class_weights=None, **kw):
        super().__init__(*a, **kw)
        # lorabert's --class-weights: torch CrossEntropyLoss(weight=w) in a custom compute_loss (HF's
        # Trainer has no such option; this is how its users add it), used for training and evaluation.
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.fixed_sampler = FixedOrderSampler(fixed_epochs)
        self.expected_batches = expected_batches
        self.rec = {"losses": [], "learning_rates": [], "grad_norms": []}
        self.progress = progress
        self.t0 = time.time()
        self.micro = 0          # micro-batches run (training_step calls)
        self.window_loss = 0.0  # sum of the returned (already / K) losses since the last step

    def _get_train_sampler(self):
        return self.fixed_sampler

    def compute_loss(self, model, inputs, return_outputs=False, **kw):  # kw: num_items_in_batch (>= 4.46)
        if self.class_weights is None:
            return super().compute_loss(model, inputs, return_outputs, **kw)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs["logits"]
        loss = torch.nn.CrossEntropyLoss(weight=self.class_weights)(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, *rest):  # rest: num_items_in_batch (transformers >= 4.46)
        step = self.micro
        exp = self.expected_batches[step]
        if not (torch.equal(inputs["input_ids"].cpu(), exp["input_ids"])
                and torch.equal(inputs["labels"].cpu(), exp["labels"])):
            raise RuntimeError(f"micro-batch {step}: Trainer batch differs from the fixed order")
        loss = super().training_step(model, inputs, *rest)  # loss / gradient_accumulation_steps
        self.micro += 1
        self.window_loss += float(loss)
        if self.micro % self.args.gradient_accumulation_steps:
            return loss
        # the last micro-batch of an optimizer step: the accumulated grads are what gets clipped
        grads = [p.grad.detach() for p in model.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, 2.0) for g in grads]), 2.0)
        self.rec["losses"].append(self.window_loss)
        self.window_loss = 0.0
        self.rec["learning_rates"].append(float(self.optimizer.param_groups[0]["lr"]))
        self.rec["grad_norms"].append(float(norm))
        if self.progress and (step + 1) % self.progress == 0:
            print(f"  step {step + 1}/{len(self.expected_batches)} loss {float(loss):.4f} "
                  f"({time.time() - self.t0:.0f}s)", file=sys.stderr, flush=True)
        return loss


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]



def save_adapter(pm, d):
    """save_pretrained, with base_model_name_or_path "model" (the case's folder) as the other goldens."""
    pm.save_pretrained(d, safe_serialization=True)
    p = os.path.join(d, "adapter_config.json")
    with open(p) as f:
        cfg = json.load(f)
    cfg["base_model_name_or_path"] = "model"
    with open(p, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    rd = os.path.join(d, "README.md")
    if os.path.exists(rd):
        os.remove(rd)  # PEFT's model card template names the absolute base path


class FixedOrder:
    """A trajectory case's rows and batch order (SRC/trajectory/order.json and tokens.json, as
    gen_trajectory writes them, e.g. tests/golden/distilbert_traj), ready for a RecordingTrainer:
    items (the Trainer's dataset: dataset index i = the i-th smallest csv row), epochs (per epoch
    the dataset indices in order), steps (order.json's csv rows per batch), E, bs, tok (the
    bert-base-uncased DistilBertTokenizerFast), collator, expected (per step the collated
    input_ids and labels the Trainer must produce)."""

    def __init__(self, src):
        with open(os.path.join(src, "trajectory", "order.json")) as f:
            order = json.load(f)
        with open(os.path.join(src, "trajectory", "tokens.json")) as f:
            tokens = json.load(f)["rows"]
        labels = [lab for _, lab in read_imdb_csv(os.path.join(shared_dir(), "data", "imdb", "train.csv"))]
        rows = sorted(int(r) for r in tokens)
        index = {r: i for i, r in enumerate(rows)}
        self.items = [{"input_ids": tokens[str(r)], "attention_mask": [1] * len(tokens[str(r)]),
                       "label": labels[r]} for r in rows]
        self.E, self.bs, self.steps = order["epochs"], order["batch_size"], order["steps"]
        per = len(self.steps) // self.E
        self.epochs = [[index[r] for s in self.steps[e * per:(e + 1) * per] for r in s] for e in range(self.E)]
        self.tok = DistilBertTokenizerFast(vocab_file=os.path.join(shared_dir(), "data", "tokenizer", "vocab.txt"),
                                           do_lower_case=True)
        self.collator = DataCollatorWithPadding(self.tok)
        self.expected = []
        for s in self.steps:
            b = self.collator([self.items[index[r]] for r in s])
            self.expected.append({"input_ids": b["input_ids"], "labels": b["labels"]})


def train_recorded(trainer):
    """trainer.train() for a RecordingTrainer over its expected batches (one per optimizer step),
    its output_dir removed after; the recording, checked: one entry per step, all finite."""
    trainer.train()
    shutil.rmtree(trainer.args.output_dir, ignore_errors=True)
    rec = trainer.rec
    if len(rec["losses"]) != len(trainer.expected_batches) or not all(math.isfinite(x) for k in rec for x in rec[k]):
        raise RuntimeError("unexpected recording")
    return rec


def gen_trajectory(out_root, case):
    """case: {name, cfg (distilbert), seed, n_rows, epochs, max_length, batch_size, perturb, threads,
    targets (default ["q_lin"]), reuse_model (use <case>/model written by gen_case: any arch)}.
    Writes <case>/model, <case>/trajectory/{init,final,order.json,expected.json}, <case>/meta.json."""
    targets = case.get("targets", ["q_lin"])
    d = os.path.join(out_root, case["name"])
    td = os.path.join(d, "trajectory")
    shutil.rmtree(td if case.get("reuse_model") else d, ignore_errors=True)
    os.makedirs(td)
    problem = case.get("problem_type")
    num_labels = {"multi_label_classification": 3, "regression": 1}.get(problem, 2)
    if not case.get("reuse_model"):
        # multi-label: config.json says so; regression: num_labels 1 and no problem_type (HF infers it)
        config = make_config("distilbert", case["cfg"], num_labels,
                             problem if problem == "multi_label_classification" else None)
        model = build_model("distilbert", config, case["seed"], case.get("perturb", 0.0))
        model.save_pretrained(os.path.join(d, "model"), safe_serialization=True)
        if case.get("vocab"):
            shutil.copyfile(os.path.join(shared_dir(), "data", "tokenizer", "vocab.txt"),
                            os.path.join(d, "model", "vocab.txt"))
    with open(os.path.join(d, "model", "config.json")) as f:
        saved_cfg = json.load(f)
    for k in DROPOUT_KEYS:
        if k in saved_cfg and saved_cfg[k] not in (0.0, None):
            raise RuntimeError(f"trajectory model must have {k}=0, found {saved_cfg.get(k)}")

    data = read_imdb_csv(os.path.join(shared_dir(), "data", "imdb", "train.csv"))
    if case.get("source"):   # a real checkpoint brings its own tokenizer
        tok = AutoTokenizer.from_pretrained(os.path.join(d, "model"))
    elif case.get("tokenizer_json"):  # model/tokenizer.json as it is (RoBERTa / XLM-R style specials by default)
        specials = case.get("specials", dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>",
                                             cls_token="<s>", pad_token="<pad>", mask_token="<mask>"))
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "model", "tokenizer.json"), **specials)
    else:
        tok = DistilBertTokenizerFast(vocab_file=os.path.join(shared_dir(), "data", "tokenizer", "vocab.txt"),
                                      do_lower_case=True)
    tok.truncation_side = "left"
    tok.model_max_length = 512

    rng = np.random.RandomState(case["seed"])
    n, bs, E = case["n_rows"], case["batch_size"], case["epochs"]
    rows = sorted(rng.choice(len(data), size=n, replace=False).tolist())
    # The Trainer's dataset is `rows` (dataset index i = csv row rows[i]); each epoch is a permutation.
    epochs = [rng.permutation(n).tolist() for _ in range(E)]
    enc = tok([data[r][0] for r in rows], truncation=True, max_length=case["max_length"])
    items = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
              "label": task_targets(problem, r, data[r][0], data[r][1]) if problem else data[r][1]}
             for i, r in enumerate(rows)]
    steps = []
    expected_batches = []
    collator = DataCollatorWithPadding(tok)
    for perm in epochs:
        for s in range(0, n, bs):
            idx = perm[s:s + bs]
            steps.append([rows[i] for i in idx])
            b = collator([items[i] for i in idx])
            expected_batches.append({"input_ids": b["input_ids"], "labels": b["labels"]})

    cwd = os.getcwd()
    os.chdir(d)
    try:
        torch.manual_seed(case["seed"] + 5)
        base = AutoModelForSequenceClassification.from_pretrained("model", **case.get("load_kwargs", {}))
        pm = get_peft_model(base, lora_config(targets, 0.0))
        pm.save_pretrained(os.path.join("trajectory", "init"), safe_serialization=True)
        args = TrainingArguments(
            output_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lorabert-traj-{os.getpid()}"),
            learning_rate=1e-3, per_device_train_batch_size=bs, num_train_epochs=E, weight_decay=0.01,
            lr_scheduler_type="linear", warmup_steps=0, max_grad_norm=1.0, optim="adamw_torch",
            adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, seed=42, use_cpu=True,
            **{EVAL_STRATEGY: "no"}, save_strategy="no", logging_strategy="no", report_to=[],
            disable_tqdm=True, dataloader_drop_last=False, dataloader_num_workers=0,
            dataloader_pin_memory=False, gradient_accumulation_steps=case.get("grad_accum", 1),
            label_smoothing_factor=case.get("label_smoothing", 0.0), per_device_eval_batch_size=bs)
        trainer = RecordingTrainer(model=pm, args=args, train_dataset=ListDataset(items),
                                   data_collator=collator, tokenizer=tok,
                                   fixed_epochs=epochs, expected_batches=expected_batches,
                                   progress=case.get("progress", 0), class_weights=case.get("class_weights"))
        trainer.train()
        eval_n = case.get("eval_rows", 0)  # Trainer.evaluate() on the first eval_n rows after training
        eval_loss = (trainer.evaluate(eval_dataset=ListDataset(items[:eval_n]))["eval_loss"] if eval_n else None)
        shutil.rmtree(args.output_dir, ignore_errors=True)
        rec = trainer.rec
        K = case.get("grad_accum", 1)
        if len(steps) % K or trainer.micro != len(steps) or len(rec["losses"]) != len(steps) // K:
            raise RuntimeError(f"recorded {trainer.micro} micro-batches and {len(rec['losses'])} steps, expected "
                               f"{len(steps)} and {len(steps) // K}")
        for k in rec:
            if not all(math.isfinite(x) for x in rec[k]):
                raise RuntimeError(f"non-finite {k}")
        pm.save_pretrained(os.path.join("trajectory", "final"), safe_serialization=True)
    finally:
        os.chdir(cwd)

    # Token ids of every row used, so trainer tests can run without the tokenizer module.
    with open(os.path.join(td, "tokens.json"), "w") as f:
        f.write('{"max_length": %d, "truncation_side": "left", "rows": {\n' % case["max_length"])
        f.write(",\n".join('"%d": %s' % (r, json.dumps(items[i]["input_ids"], separators=(",", ":")))
                           for i, r in enumerate(rows)))
        f.write("\n}}\n")
    write_json(os.path.join(td, "order.json"), {
        "train_file": "imdb/train.csv", "batch_size": bs, "epochs": E, "steps": steps} |
        ({"gradient_accumulation_steps": case["grad_accum"]} if case.get("grad_accum", 1) > 1 else {}))
    write_json(os.path.join(td, "expected.json"), {
        "losses": rec["losses"], "learning_rates": rec["learning_rates"], "grad_norms": rec["grad_norms"],
        "args": {"learning_rate": 1e-3, "weight_decay": 0.01, "per_device_train_batch_size": bs,
                 "num_train_epochs": E, "max_steps": len(steps) // case.get("grad_accum", 1),
                 "gradient_accumulation_steps": case.get("grad_accum", 1), "optim": "adamw_torch",
                 "lr_scheduler_type": "linear", "warmup_steps": 0, "max_grad_norm": 1.0,
                 "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-8,
                 "max_length": case["max_length"], "truncation_side": "left", "padding": "longest (DataCollatorWithPadding)",
                 "lora": {"r": 4, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": targets},
                 "rows": len(rows)} |
        ({"label_smoothing_factor": case["label_smoothing"]} if case.get("label_smoothing") else {}) |
        ({"class_weights": case["class_weights"]} if case.get("class_weights") else {}) |
        ({"problem_type": problem} if problem else {}),
    } | ({"eval_rows": rows[:eval_n], "eval_loss": eval_loss} if eval_n else {}) |
        ({"targets": {str(r): items[i]["label"] for i, r in enumerate(rows)}} if problem else {}))
    traj_notes = ("trajectory/init: PEFT's own init (lora_A kaiming-uniform, lora_B 0, head copies as the model's) "
                  "saved before training. HF Trainer (adamw_torch, linear schedule, 0 warmup, max_grad_norm 1, "
                  "wd 0.01, lr 1e-3) ran every step in order.json; steps[k] are 0-based data-row indices of "
                  "train.csv (header excluded) forming batch k, padded to the batch's longest by "
                  "DataCollatorWithPadding after tokenizing with truncation_side=left at max_length. "
                  "expected.losses[k] = mean CE of batch k before update k; learning_rates[k] = lr used by "
                  "update k; grad_norms[k] = global L2 norm of all grads before clipping."
                  + (" gradient_accumulation_steps K = %d: steps[] lists micro-batches, update k uses micro-batches "
                     "kK..kK+K-1; losses[k] = the sum of those micro-batches' losses / K (HF's tr_loss increment); "
                     "grad_norms[k] = the norm of the accumulated grads." % case["grad_accum"]
                     if case.get("grad_accum", 1) > 1 else "")
                  + (" label_smoothing_factor %g: HF's LabelSmoother is the loss (training and evaluation)."
                     % case["label_smoothing"] if case.get("label_smoothing") else "")
                  + (" class_weights %s: the loss is torch CrossEntropyLoss(weight=w) in a custom compute_loss "
                     "(training and evaluation)." % case["class_weights"] if case.get("class_weights") else "")
                  + (" problem_type %s: the model's own loss (%s); targets[row] are the labels of each csv row "
                     "(golden_lib.task_targets)." % (problem, "BCEWithLogitsLoss over 3 labels"
                                                     if problem == "multi_label_classification" else
                                                     "MSELoss of the squeezed single output") if problem else "")
                  + (" eval_loss: Trainer.evaluate() (per_device_eval_batch_size %d) after training on the rows "
                     "eval_rows (csv rows) with the final adapter." % bs if eval_n else ""))
    meta_path = os.path.join(d, "meta.json")
    if case.get("reuse_model"):
        with open(meta_path) as f:
            meta = json.load(f)
        meta["trajectory_notes"] = traj_notes
        write_json(meta_path, meta)
        return d
    meta = {
        "arch": "distilbert",
        "config": case["cfg"] | {"num_labels": num_labels} | ({"problem_type": problem} if problem else {}),
        "target_modules": ["q_lin"],
        "seed": case["seed"],
        "versions": VERSIONS,
        "notes": "Trajectory only (no forward/grads goldens). model/: random-init weights, all dropouts 0.",
        "trajectory_notes": traj_notes,
    }
    write_json(meta_path, meta)
    return d


# --- Adapter goldens over an existing case's model and batch (mts_golden.py, dora_golden.py) ---------
# Both write <out>/<case>/golden.safetensors (the source batch, eval logits/loss, grad.<key>, a
# trajectory of AdamW steps, merged_logits) and meta.json; they differ in the adapter config, how
# the trainable tensors are randomised, how in-memory names map to saved keys and which tensors decay.


def load_source_case(root, src):
    """tests/golden/<src>: its random-init model (eval mode), its batch file and the model inputs in it."""
    sdir = os.path.join(root, "tests", "golden", src)
    model = AutoModelForSequenceClassification.from_pretrained(os.path.join(sdir, "model"))
    model.eval()
    batch_file = load_file(os.path.join(sdir, "grads.safetensors"))
    inputs = {k: batch_file[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch_file}
    return model, batch_file, inputs


def eval_loss_grads(pm, batch_file, inputs, labels, trainable, keys):
    """The source batch (without its own logits, loss and grads) plus the PEFT model's eval logits,
    cross-entropy loss and grad.<key> of every trainable tensor (each asserted non-zero).
    Returns (res, loss)."""
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
    return res, loss


def trajectory_and_merge(pm, inputs, labels, trainable, keys, decays, res, steps, lr, wd):
    """`steps` torch AdamW steps (foreach=False, betas 0.9/0.999, eps 1e-8, no clipping; weight decay
    `wd` on the tensors whose in-memory name `decays` accepts, 0 on the rest) on the same batch in eval
    mode: res gets traj_losses (the loss before each step) and traj.<key> (every trainable tensor
    after the last); then the trainable tensors go back to their values before the steps and res gets
    merged_logits of merge_and_unload(). Returns the list of losses."""
    state = {pname: p.detach().clone() for pname, p in trainable}
    decay = [p for pname, p in trainable if decays(pname)]
    no_decay = [p for pname, p in trainable if not decays(pname)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    losses = []
    for _ in range(steps):
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
    return losses


def write_golden(out, res, meta):
    """<out>/golden.safetensors (res, contiguous) and <out>/meta.json (meta plus the versions)."""
    save_file({k: v.contiguous() for k, v in res.items()}, os.path.join(out, "golden.safetensors"))
    write_json(os.path.join(out, "meta.json"), dict(meta, versions=VERSIONS))
