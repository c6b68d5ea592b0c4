"""Predictions equal the CLI's bit for bit: each probability formatted with %.9g (what
`lorabert predict --json` prints; 9 significant digits identify a float32 and the CLI's doubles
are softmaxes of float32 logits) is the CLI's string, for the seed's five sentences."""
import json
import re

import pytest

import lorabert
from conftest import SEEDS, cli_predict, need, run_cli


def _fmt(rows):
    return [(r["label"], ["%.9g" % p for p in r["probs"]]) for r in rows]


def test_seed_sentences_with_adapter_equal_cli(cli, tiny, clf):
    assert _fmt(clf.predict(SEEDS)) == cli_predict(cli, tiny[0], tiny[1], SEEDS)


def test_seed_sentences_without_adapter_equal_cli(cli, tiny):
    need("lb_classifier_open", "lb_classify")
    with lorabert.Classifier(tiny[0]) as c:
        got = _fmt(c.predict(SEEDS))
    assert got == cli_predict(cli, tiny[0], None, SEEDS)


def test_adapter_changes_the_probabilities(tiny, clf):
    need("lb_classifier_open")
    with lorabert.Classifier(tiny[0]) as base:
        assert [r["probs"] for r in base.predict(SEEDS)] != [r["probs"] for r in clf.predict(SEEDS)]


def test_pipeline_shape(clf):
    assert clf.labels == ["Negative", "Positive"]
    one = clf.predict("It was good.")
    assert isinstance(one, list) and len(one) == 1
    r = one[0]
    assert set(r) == {"label", "score", "probs"} and len(r["probs"]) == 2
    assert r["score"] == max(r["probs"]) and r["label"] == clf.labels[r["probs"].index(r["score"])]
    assert abs(sum(r["probs"]) - 1) < 1e-12
    assert clf("It was good.") == one          # callable like a pipeline
    assert clf.predict([]) == []


def test_batching_keeps_order_and_values(tiny, clf):
    texts = SEEDS * 7 + ["", "a" * 500]       # more than one batch, mixed lengths, empty, truncated
    with lorabert.Classifier(tiny[0], adapter=tiny[1], batch_size=3) as small:
        a = small.predict(texts)
    b = clf.predict(texts)
    singles = [clf.predict(t)[0] for t in texts]
    for x, y, z in zip(a, b, singles):  # other batches pad differently: equal up to rounding
        assert x["label"] == y["label"] == z["label"]
        assert x["probs"] == pytest.approx(y["probs"], rel=1e-6) == z["probs"]


def test_text_pair(clf):
    a = clf.predict(["It was good."], text_pair=["Not a fan."])
    b = clf.predict(["It was good."])
    assert len(a) == 1 and a[0]["probs"] != b[0]["probs"]
    mixed = clf.predict(["It was good.", "It was good."], text_pair=["Not a fan.", None])
    assert mixed == a + b


def test_max_length_and_truncation_equal_cli(cli, tiny):
    need("lb_classifier_open")
    texts = ["it was good , not bad , better than the first one", "this is not worth watching even once ."]
    for side in ("right", "left"):
        with lorabert.Classifier(tiny[0], adapter=tiny[1], max_length=6, truncation=side) as c:
            got = _fmt(c.predict(texts))
        want = cli_predict(cli, tiny[0], tiny[1], ["--max-length", "6", "--truncation", side] + texts)
        assert got == want, side
    assert got != _fmt(lorabert.Classifier(tiny[0], adapter=tiny[1], max_length=6).predict(texts))


def test_version():
    import os
    import re
    from conftest import ROOT
    h = open(os.path.join(ROOT, "include", "lorabert.h")).read()
    assert lorabert.__version__ == re.search(r'#define LORABERT_VERSION "([0-9.]+)"', h).group(1)


def test_info(clf):
    i = clf.info
    assert i["model_type"] == "distilbert" and i["architecture"] == "DistilBertForSequenceClassification"
    assert i["has_adapter"] and i["lora_r"] == 4 and i["lora_alpha"] == 32 and i["precision"] == "fp32"
    assert i["num_labels"] == 2 and i["labels"] == ["Negative", "Positive"] and i["hidden_size"] == 32
    assert 0 < i["trainable_params"] < i["all_params"]
    assert i["problem_type"] == "single_label_classification"


def test_int8_precision_equals_the_cli_and_keeps_the_labels(cli, tiny, clf):
    """precision="int8" (inference only) gives `lorabert predict --precision int8`'s strings."""
    need("lb_classifier_open", "lb_classify")
    with lorabert.Classifier(tiny[0], adapter=tiny[1], precision="int8") as c:
        got = _fmt(c.predict(SEEDS))
    args = ["predict", "--json", "--precision", "int8", "--model", tiny[0], "--adapter", tiny[1]] + SEEDS
    want = []
    for line in run_cli(cli, *args).stdout.splitlines():
        probs = re.search(r'"probs":\s*\[([^\]]*)\]', line).group(1)
        want.append((json.loads(line)["label"], [s.strip() for s in probs.split(",")]))
    assert got == want
    assert [r[0] for r in got] == [r["label"] for r in clf.predict(SEEDS)]
    with pytest.raises(lorabert.UsageError, match="'fp32', 'bf16' or 'int8'"):
        lorabert.Classifier(tiny[0], precision="int4")
