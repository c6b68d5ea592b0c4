# Run by tests/support/arch_walk.sh (arch_peft_interop) with a reference env's python: both
# directions of PEFT interop for one architecture's walk folder W.
#   PEFT + transformers load lorabert's adapter (W/out) and merged model (W/merged): eval loss
#   within 1e-5 relative of W/ev.json, predict logits (W/pred.jsonl, pairs.jsonl) within 1e-4;
#   lorabert's logits with a PEFT-trained adapter (W/peft_pred.jsonl) within 1e-5 of PEFT's.
# Usage: arch_interop.py TOKENIZER MODEL_DIR W DATA PAIRS
#   TOKENIZER auto: what a transformers user gets, AutoTokenizer on the model folder
#     (RobertaTokenizerFast for roberta, add_prefix_space from tokenizer_config.json, default
#     false, over tokenizer.json's; XLMRobertaTokenizerFast for xlm-roberta)
#   TOKENIZER modernbert: PreTrainedTokenizerFast on the folder's tokenizer.json, eager attention,
#     no token_type_ids, 1 torch thread (the second env, transformers 4.48.3 + PEFT 0.14.0)
import csv, json, os, sys, warnings

warnings.filterwarnings("ignore")
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerFast, logging
from peft import PeftModel

logging.set_verbosity_error()
mode, model_dir, w, data, pairs = sys.argv[1:6]
assert mode in ("auto", "modernbert"), mode
modern = mode == "modernbert"
if modern:
    torch.set_num_threads(1)
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
prow = list(csv.DictReader(open(pairs, newline="", encoding="utf-8")))
if modern:
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"), unk_token="[UNK]",
                                  cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")
else:
    tok = AutoTokenizer.from_pretrained(model_dir)


def load(path):
    if modern:
        return AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager")
    return AutoModelForSequenceClassification.from_pretrained(path)


def logits(model, texts, pair=None, side="left"):
    tok.truncation_side = side
    model.eval()
    out = []
    with torch.no_grad():
        for i, t in enumerate(texts):
            enc = tok(t, pair[i] if pair else None, truncation=True, max_length=64, return_tensors="pt")
            if modern:
                enc.pop("token_type_ids", None)
            out.append(model(**enc).logits[0].tolist())
    return out


def ours(path):
    return [json.loads(l)["logits"] for l in open(path)]


def worst(a, b):
    return max(abs(x - y) for r, s in zip(a, b) for x, y in zip(r, s))


texts = [r["text"] for r in rows]
labels = [int(r["label"]) for r in rows]


def mean_loss(lg):
    return sum(float(torch.nn.functional.cross_entropy(torch.tensor([l]), torch.tensor([y])))
               for l, y in zip(lg, labels)) / len(labels)


ev = json.load(open(os.path.join(w, "ev.json")))
# lorabert's adapter in PEFT, lorabert's merged model in transformers
m = PeftModel.from_pretrained(load(model_dir), os.path.join(w, "out"))
lp = logits(m, texts)
assert abs(mean_loss(lp) - ev["loss"]) <= 1e-5 * abs(ev["loss"]), ("PEFT eval loss", mean_loss(lp), ev["loss"])
d = worst(lp, ours(os.path.join(w, "pred.jsonl")))
assert d <= 1e-4, ("predict logits vs PEFT", d)
pl = logits(m, [r["text"] for r in prow], [r["pair"] for r in prow], side="right")
dp = worst(pl, ours(os.path.join(w, "pairs.jsonl")))
assert dp <= 1e-4, ("pair logits vs PEFT", dp)
mm = load(os.path.join(w, "merged"))
lm = logits(mm, texts)
assert abs(mean_loss(lm) - ev["loss"]) <= 1e-5 * abs(ev["loss"]), ("merged eval loss", mean_loss(lm), ev["loss"])
# PEFT's adapter in lorabert
pm = PeftModel.from_pretrained(load(model_dir), os.path.join(w, "peft"))
dq = worst(logits(pm, texts), ours(os.path.join(w, "peft_pred.jsonl")))
assert dq <= 1e-5, ("PEFT-trained adapter logits in lorabert", dq)
print(f"{os.path.basename(w)}: predict {d:.3g}, pairs {dp:.3g}, PEFT adapter {dq:.3g}")
