"""Reference for a multi-label model in `lorabert predict / info / serve` (tests/cli/multilabel.sh),
from the real transformers 4.32.1 pipeline.

usage: python multilabel_golden.py OUT_DIR VOCAB_TXT

Writes, deterministically (seed 0):
  OUT_DIR/model/         a random DistilBertForSequenceClassification, 3 labels (toxic, funny,
                         long), config.json problem_type "multi_label_classification", with the real
                         30522-token vocab (dim 32, 2 layers), safetensors, + vocab.txt
  OUT_DIR/expected.json  {"texts", "logits", "scores"}: eval-mode logits, and what
                         pipeline("text-classification", top_k=None) gives for each text: every
                         label's score (the pipeline applies the sigmoid for a multi-label config),
                         in label id order
"""
import json
import os
import shutil
import sys

import torch
import transformers
from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification, pipeline

transformers.logging.set_verbosity_error()

TEXTS = [
    "It was good.",
    "Not a fan, don't recommed.",
    "Better than the first one.",
    "This is not worth watching even once.",
    "This one is a pass.",
    "A long review: the plot wanders for an hour, the actors shout, the music never stops, "
    "and yet the last ten minutes are the best thing I have seen this year.",
    "Ha!",
    "The jokes land, the songs are long and the ending is cruel.",
]
LABELS = ["toxic", "funny", "long"]


def main():
    out, vocab = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    mdir = os.path.join(out, "model")
    cfg = DistilBertConfig(vocab_size=30522, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                           max_position_embeddings=512, initializer_range=0.3,
                           id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)},
                           problem_type="multi_label_classification")
    model = DistilBertForSequenceClassification(cfg).eval()
    model.save_pretrained(mdir, safe_serialization=True)
    shutil.copy(vocab, os.path.join(mdir, "vocab.txt"))
    tok = AutoTokenizer.from_pretrained(mdir)
    with torch.no_grad():
        logits = [model(**tok(t, return_tensors="pt")).logits[0].tolist() for t in TEXTS]
    pipe = pipeline("text-classification", model=DistilBertForSequenceClassification.from_pretrained(mdir),
                    tokenizer=tok, top_k=None, device="cpu")
    scores = []
    for res in pipe(TEXTS):
        by = {r["label"]: r["score"] for r in res}
        scores.append([by[n] for n in LABELS])
    above = sum(s >= 0.5 for row in scores for s in row)
    assert 0 < above < len(TEXTS) * len(LABELS), "scores should straddle 0.5: %r" % scores
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"texts": TEXTS, "labels": LABELS, "logits": logits, "scores": scores,
                   "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}, f)


if __name__ == "__main__":
    main()
