"""Reference for the tokenizer class rules of lorabert's tokenizer loader (tests/unit/test_tokenizer.c,
tokenizer_class suite): which transformers class AutoTokenizer.from_pretrained(dir) builds over a
tokenizer.json, and how that class overrides the file.

usage: python tokenizer_class_golden.py OUT.json

Each case is a folder made of tests/golden/tokenizers/bpe_roberta/tokenizer.json (ByteLevel with
add_prefix_space true) plus the config.json / tokenizer_config.json the case names; the C test builds
the same folders. OUT.json: {"source", "texts", "cases": [{"name", "config", "tokenizer_config",
"class", "ids": [[...] per text]}], "versions"}. "config" / "tokenizer_config" are the files' JSON
objects, or null when the folder has no such file.
"""
import json
import os
import shutil
import sys
import tempfile

import tokenizers
import transformers
from transformers import AutoTokenizer

transformers.logging.set_verbosity_error()
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SOURCE = "tests/golden/tokenizers/bpe_roberta/tokenizer.json"
TEXTS = ["Hello world, this movie", "great", " leading space", "It was good.\nNot a fan."]
ROBERTA = {"model_type": "roberta"}
CASES = [
    # RobertaTokenizerFast (model_type roberta): add_prefix_space false unless tokenizer_config says so
    ("roberta_model_type", ROBERTA, None),
    ("roberta_config_prefix_true", ROBERTA, {"add_prefix_space": True}),
    ("roberta_config_prefix_false", ROBERTA, {"add_prefix_space": False}),
    # tokenizer_class wins over model_type
    ("class_roberta_without_config_json", None, {"tokenizer_class": "RobertaTokenizer"}),
    ("class_fast_name", None, {"tokenizer_class": "RobertaTokenizerFast", "add_prefix_space": True}),
    ("class_plain_over_roberta", ROBERTA, {"tokenizer_class": "PreTrainedTokenizerFast"}),
    # XLMRobertaTokenizerFast and PreTrainedTokenizerFast read tokenizer.json as written
    ("xlm_roberta_model_type", {"model_type": "xlm-roberta"}, None),
]


def main(out):
    src = os.path.join(ROOT, SOURCE)
    cases = []
    for name, config, tok_config in CASES:
        d = tempfile.mkdtemp()
        try:
            shutil.copy(src, os.path.join(d, "tokenizer.json"))
            if config is not None:
                json.dump(config, open(os.path.join(d, "config.json"), "w"))
            if tok_config is not None:
                json.dump(tok_config, open(os.path.join(d, "tokenizer_config.json"), "w"))
            tok = AutoTokenizer.from_pretrained(d)
            ids = [tok(t).input_ids for t in TEXTS]
            cases.append({"name": name, "config": config, "tokenizer_config": tok_config,
                          "class": type(tok).__name__, "ids": ids})
        finally:
            shutil.rmtree(d)
    doc = {"source": SOURCE, "texts": TEXTS, "cases": cases,
           "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
