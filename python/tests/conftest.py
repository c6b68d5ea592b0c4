"""Shared fixtures: the repository, the CLI to compare with, and a tiny model + adapter from
tests/golden (a 2-layer DistilBERT with a 120-token vocabulary, as tests/cli/predict.sh builds)."""
import json
import os
import re
import shutil
import subprocess

import pytest

import lorabert
from lorabert import _capi

ROOT = os.environ.get("LORABERT_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = ["It was good.", "Not a fan, don't recommed.", "Better than the first one.",
         "This is not worth watching even once.", "This one is a pass."]

WORDS = ["it", "was", "good", "not", "a", "fan", ",", "don", "'", "t", "rec", "##om", "##med", "better", "than",
         "the", "first", "one", ".", "this", "is", "worth", "watching", "even", "once", "pass", "bad", "great",
         "!", "loved", "dull", "and", "too", "long", "i", "left", "early", "story", "cast"]


def need(*symbols):
    """Skips a test whose C functions this build of the library does not export yet."""
    missing = [s for s in symbols if not _capi.has(s)]
    if missing:
        pytest.skip("liblorabert (%s) does not export %s yet" % (_capi.LIB_PATH, ", ".join(missing)))


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("LORABERT_BIN") or os.path.join(ROOT, "build", "release", "lorabert")
    path = path if os.path.isabs(path) else os.path.join(ROOT, path)
    if not os.access(path, os.X_OK):
        pytest.fail("the lorabert CLI is not built: %s (set LORABERT_BIN)" % path)
    return path


def run_cli(cli, *args, stdin=None, check=True):
    p = subprocess.run([cli] + list(args), input=stdin, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError("lorabert %s: rc=%d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p


def cli_predict(cli, model, adapter, texts):
    """`lorabert predict --json`'s label and probability strings (%.9g, as printed) per text."""
    args = ["predict", "--json", "--model", model] + (["--adapter", adapter] if adapter else []) + list(texts)
    rows = []
    for line in run_cli(cli, *args).stdout.splitlines():
        probs = re.search(r'"probs":\s*\[([^\]]*)\]', line).group(1)
        rows.append((json.loads(line)["label"], [s.strip() for s in probs.split(",")]))
    return rows


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(model folder, adapter folder): tests/golden/distilbert_tiny with a 120-entry vocab laid
    out like BERT's ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103) whose first slots hold
    the seed sentences' words, so that texts differ in their ids."""
    g = os.path.join(ROOT, "tests", "golden", "distilbert_tiny")
    m = tmp_path_factory.mktemp("tiny") / "model"
    shutil.copytree(os.path.join(g, "model"), m)
    words = WORDS + ["[unused%d]" % i for i in range(99 - len(WORDS))]
    vocab = ["[PAD]"] + words + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["[unused%d]" % i for i in range(99, 115)]
    assert len(vocab) == 120
    (m / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return str(m), os.path.join(g, "lora")


@pytest.fixture(scope="session")
def labelled(tmp_path_factory):
    """A small labelled CSV (label,text) of short reviews."""
    rows = [(1, "It was good."), (0, "Not a fan, don't recommed."), (1, "Better than the first one."),
            (0, "This is not worth watching even once."), (0, "This one is a pass."), (1, "Loved it, again!"),
            (0, "Dull and far too long."), (1, "A delight from start to end."), (0, "I left early."),
            (1, "Great cast, great story.")]
    p = tmp_path_factory.mktemp("data") / "reviews.csv"
    with open(p, "w") as f:
        f.write("label,text\n")
        for y, t in rows:
            f.write('%d,"%s"\n' % (y, t.replace('"', '""')))
    return str(p)


@pytest.fixture
def clf(tiny):
    need("lb_classifier_open", "lb_classify")
    with lorabert.Classifier(tiny[0], adapter=tiny[1]) as c:
        yield c
