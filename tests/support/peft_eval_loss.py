"""PEFT 0.6.2 (the pinned reference env) loads a lorabert-written adapter over the tiny base and
evaluates a labelled CSV (left truncation at 64 tokens): its mean loss must equal lorabert's
`eval --json` loss within 1e-5 relative. Used by tests/cli/mts.sh and tests/cli/peft_options.sh.
  peft_eval_loss.py MODEL_DIR ADAPTER_DIR DATA.csv 'LORABERT_EVAL_JSON'"""
import csv, json, sys, warnings
warnings.filterwarnings("ignore")
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, logging
from peft import PeftModel
logging.set_verbosity_error()
torch.set_num_threads(1)
model_dir, adapter, data, ours = sys.argv[1:5]
ours = json.loads(ours)
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
tok = AutoTokenizer.from_pretrained(model_dir)
tok.truncation_side = "left"
model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2), adapter)
model.eval()
total = 0.0
with torch.no_grad():
    for r in rows:
        enc = tok(r["text"], truncation=True, max_length=64, return_tensors="pt")
        total += float(model(**enc, labels=torch.tensor([int(r["label"])])).loss)
loss = total / len(rows)
print(adapter, "lorabert", ours["loss"], "peft", loss)
assert abs(loss - ours["loss"]) <= 1e-5 * abs(loss), "PEFT loss differs"
