"""Reference for `lorabert predict` (tests/cli/predict.sh), from the real transformers + peft.

usage: python predict_golden.py OUT_DIR VOCAB_TXT

Writes, deterministically (seed 0):
  OUT_DIR/model/     a random DistilBertForSequenceClassification with the real 30522-token vocab
                     (dim 32, 2 layers; labels Negative/Positive), safetensors, + vocab.txt
  OUT_DIR/adapter/   a PEFT LoRA adapter (r=4, alpha=32, dropout 0.01 on q_lin, SEQ_CLS) with
                     random non-zero lora_B and head, adapter_model.safetensors
  OUT_DIR/expected.json  {"texts", "base", "adapter", "left16", "right16"}: eval-mode logits of
                     transformers for each text (base model; with the adapter; with the adapter at
                     max_length 16 truncated left / right)
"""
import json
import os
import shutil
import sys

import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

transformers.logging.set_verbosity_error()

TEXTS = [
    "It was good.",
    "Not a fan, don't recommed.",
    "Better than the first one.",
    "This is not worth watching even once.",
    "This one is a pass.",
    "A long review: the plot wanders for an hour, the actors shout, the music never stops, "
    "and yet the last ten minutes are the best thing I have seen this year.",
]


def logits_of(model, tok, texts, **kw):
    out = []
    with torch.no_grad():
        for t in texts:
            enc = tok(t, return_tensors="pt", **kw)
            out.append(model(**enc).logits[0].tolist())
    return out


def main():
    out, vocab = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    mdir, adir = os.path.join(out, "model"), os.path.join(out, "adapter")
    cfg = DistilBertConfig(vocab_size=30522, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                           max_position_embeddings=512, initializer_range=0.2,
                           id2label={0: "Negative", 1: "Positive"}, label2id={"Negative": 0, "Positive": 1})
    model = DistilBertForSequenceClassification(cfg).eval()
    model.save_pretrained(mdir, safe_serialization=True)
    shutil.copy(vocab, os.path.join(mdir, "vocab.txt"))
    tok = AutoTokenizer.from_pretrained(mdir)
    assert tok.is_fast
    base = logits_of(model, tok, TEXTS)

    lcfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.01, target_modules=["q_lin"])
    pm = get_peft_model(DistilBertForSequenceClassification.from_pretrained(mdir), lcfg)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                p.copy_(torch.randn_like(p) * 0.3)
    pm.save_pretrained(adir, safe_serialization=True)

    # What a user gets: load the adapter the usual way onto a fresh base model.
    fresh = PeftModel.from_pretrained(DistilBertForSequenceClassification.from_pretrained(mdir), adir).eval()
    adapter = logits_of(fresh, tok, TEXTS)
    left_tok = AutoTokenizer.from_pretrained(mdir, truncation_side="left")
    left16 = logits_of(fresh, left_tok, TEXTS, truncation=True, max_length=16)
    right16 = logits_of(fresh, tok, TEXTS, truncation=True, max_length=16)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"texts": TEXTS, "base": base, "adapter": adapter, "left16": left16, "right16": right16,
                   "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}, f)


if __name__ == "__main__":
    main()
