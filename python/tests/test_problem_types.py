"""Multi-label and regression through Python: lorabert.train(problem_type=, label_columns=,
threshold=) writes the same adapter bytes and reports the same metrics as `lorabert train
--problem-type / --label-columns / --threshold`; Classifier.evaluate and predict of the trained
adapter equal `lorabert eval --json` and `lorabert predict --json`; bad values raise the C message."""
import json
import re
import shutil
import struct

import pytest

import lorabert
from lorabert import _capi
from conftest import SEEDS, need, run_cli

TRAIN_FNS = ("lb_model_open", "lb_model_add_adapter", "lb_dataset_open", "lb_train_run_open", "lb_train_run_all",
             "lb_evaluate_dataset", "lb_problem_type_parse")
TEXTS = ["It was good.", "Not a fan, don't recommed.", "Better than the first one.",
         "This is not worth watching even once.", "This one is a pass.", "Loved it, again!",
         "Dull and far too long.", "A delight from start to end.", "I left early.", "Great cast, great story."]
LABELS = ["pos", "long", "excl"]


@pytest.fixture(scope="module")
def tiny(tiny, tmp_path_factory):
    """The tiny model without its 2-class head (classifier.*): a head of 3 labels or 1 output is
    initialised as transformers does, where the 2-class one would be a shape mismatch."""
    m = tmp_path_factory.mktemp("headless") / "model"
    shutil.copytree(tiny[0], m)
    blob = (m / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", blob[:8])[0]
    head = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    keep = sorted((k for k in head if k != "__metadata__" and not k.startswith("classifier.")),
                  key=lambda k: head[k]["data_offsets"][0])
    out, body = {}, b""
    for k in keep:
        a, e = head[k]["data_offsets"]
        out[k] = dict(head[k], data_offsets=[len(body), len(body) + e - a])
        body += data[a:e]
    if "__metadata__" in head:
        out["__metadata__"] = head["__metadata__"]
    hj = json.dumps(out).encode()
    hj += b" " * (-len(hj) % 8)
    (m / "model.safetensors").write_bytes(struct.pack("<Q", len(hj)) + hj + body)
    assert len(keep) < len(head) - ("__metadata__" in head)
    return str(m), tiny[1]


@pytest.fixture(scope="module")
def multi_csv(tmp_path_factory):
    """Three 0/1 label columns: positive, more than 20 characters, has a '!' or ','."""
    p = tmp_path_factory.mktemp("multi") / "multi.csv"
    with open(p, "w") as f:
        f.write("text,pos,long,excl\n")
        for i, t in enumerate(TEXTS):
            f.write('"%s",%d,%d,%d\n' % (t, (i in (0, 2, 5, 7, 9)), len(t) > 20, ("!" in t or "," in t)))
    return str(p)


@pytest.fixture(scope="module")
def reg_csv(tmp_path_factory):
    """One number per text in column "score"."""
    p = tmp_path_factory.mktemp("reg") / "reg.csv"
    with open(p, "w") as f:
        f.write("text,score\n")
        for i, t in enumerate(TEXTS):
            f.write('"%s",%r\n' % (t, 0.25 * (i % 5) - 0.5 + (i in (0, 2, 5, 7, 9))))
    return str(p)


def train_both(cli, tiny, data, tmp_path, py_kw, cli_args):
    m = lorabert.train(model=tiny[0], train=data, validation=data, output_dir=str(tmp_path / "py"),
                       num_train_epochs=2, max_length=32, lora_dropout=0.01, threads=2, **py_kw)
    run_cli(cli, "train", "--model", tiny[0], "--train", data, "--validation", data, "--output",
            str(tmp_path / "cli"), "--epochs", "2", "--max-length", "32", "--threads", "2", *cli_args)
    a = (tmp_path / "py" / "adapter_model.safetensors").read_bytes()
    b = (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    assert a == b
    assert (tmp_path / "py" / "labels.json").read_bytes() == (tmp_path / "cli" / "labels.json").read_bytes()
    return m, json.loads((tmp_path / "cli" / "metrics.json").read_text())


def eval_json(cli, tiny, adapter, data, *args):
    out = run_cli(cli, "eval", "--model", tiny[0], "--adapter", adapter, "--data", data, "--max-length", "32",
                  "--json", *args).stdout
    return out, json.loads(out)


def raw(text, key):
    return re.search(r'"%s":\s*([-0-9.eE+naif]+)' % key, text).group(1)


def predict_json(cli, tiny, adapter, *args):
    out = run_cli(cli, "predict", "--json", "--model", tiny[0], "--adapter", adapter, "--max-length", "32",
                  *(list(args) + SEEDS)).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_problem_type_constants_match_the_library():
    need("lb_problem_type_name")
    assert [_capi.F["lb_problem_type_name"](k).decode() for k in
            (_capi.PROBLEM_SINGLE_LABEL, _capi.PROBLEM_MULTI_LABEL, _capi.PROBLEM_REGRESSION)] == \
        ["single_label_classification", "multi_label_classification", "regression"]


def test_multi_label_same_as_the_cli(cli, tiny, multi_csv, tmp_path):
    need(*TRAIN_FNS)
    m, mj = train_both(cli, tiny, multi_csv, tmp_path, {"label_columns": LABELS, "threshold": 0.4},
                       ["--label-columns", ",".join(LABELS), "--threshold", "0.4"])
    assert m["problem_type"] == "multi_label_classification" and "eval_mse" not in m
    assert mj["threshold"] == m["eval_threshold"] == 0.4  # the threshold reached the library
    for k in ("loss", "accuracy", "f1", "precision", "recall", "f1_macro", "precision_macro", "recall_macro"):
        assert m["eval_" + k] == mj[k], k
    assert m["eval_samples"] == mj["n_examples"] == 10
    labels = json.loads((tmp_path / "py" / "labels.json").read_text())
    assert labels["problem_type"] == "multi_label_classification"
    # the trained adapter: Classifier.evaluate equals `lorabert eval --json` (a comma string of columns too)
    py = str(tmp_path / "py")
    with lorabert.Classifier(tiny[0], adapter=py, max_length=32) as c:
        assert c.problem_type == "multi_label_classification" and c.labels == LABELS
        r = c.evaluate(multi_csv, threshold=0.3)
        no_time = lambda d: {k: v for k, v in d.items() if k != "eval_runtime"}  # noqa: E731
        assert no_time(c.evaluate(multi_csv, threshold=0.3, label_columns=",".join(LABELS))) == no_time(r)
        assert no_time(c.evaluate(multi_csv, threshold=0.3, label_columns=LABELS)) == no_time(r)
        assert no_time(c.evaluate(multi_csv)) != no_time(r)  # the threshold reached the library
        got = c.predict(SEEDS, threshold=0.45)
    text, want = eval_json(cli, tiny, py, multi_csv, "--threshold", "0.3")
    assert want["problem_type"] == r["problem_type"]
    for k, ck in (("loss", "loss"), ("accuracy", "accuracy"), ("precision", "precision"), ("recall", "recall"),
                  ("f1", "f1"), ("precision_macro", "macro_precision"), ("recall_macro", "macro_recall"),
                  ("f1_macro", "macro_f1"), ("threshold", "threshold")):
        assert "%.9g" % r["eval_" + k] == raw(text, ck), k
    support = [(x["label"], x["support"]) for x in want["per_label"]]
    assert [(x["label"], x["support"]) for x in r["per_label"]] == support
    assert ["%.9g" % x["f1"] for x in r["per_label"]] == ["%.9g" % x["f1"] for x in want["per_label"]]
    # predict: each label's sigmoid, the labels at or above the threshold
    cli_rows = predict_json(cli, tiny, py, "--threshold", "0.45")
    assert [(g["label"], g["labels"], ["%.6g" % p for p in g["probs"]]) for g in got] == \
        [(w["label"], w["labels"], ["%.6g" % p for p in w["probs"]]) for w in cli_rows]


def test_multi_label_lists_same_as_the_cli(cli, tiny, multi_csv, tmp_path):
    """A JSONL column of label-name lists (in-memory rows, then a file) trains to the bytes of
    `lorabert train --label-columns` in the names' sorted order; evaluate reads lists too."""
    need(*TRAIN_FNS, "lb_dataset_label_list", "lb_dataset_target_name")
    import csv
    rows = list(csv.DictReader(open(multi_csv)))
    lists = [{"text": r["text"], "labels": [n for n in reversed(LABELS) if r[n] == "1"]} for r in rows]
    jl = tmp_path / "multi.jsonl"
    jl.write_text("".join(json.dumps(x) + "\n" for x in lists))
    order = sorted(LABELS)  # excl, long, pos: the training set's names, sorted
    common = dict(num_train_epochs=2, max_length=32, lora_dropout=0.01, threads=2)
    m = lorabert.train(model=tiny[0], train=lists, validation=str(jl), output_dir=str(tmp_path / "py"),
                       problem_type="multi_label_classification", label_column="labels", **common)
    run_cli(cli, "train", "--model", tiny[0], "--train", multi_csv, "--validation", multi_csv, "--output",
            str(tmp_path / "cli"), "--epochs", "2", "--max-length", "32", "--threads", "2", "--label-columns",
            ",".join(order))
    for f in ("adapter_model.safetensors", "labels.json"):
        assert (tmp_path / "py" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f
    mj = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert m["eval_loss"] == mj["loss"] and m["eval_f1"] == mj["f1"]
    with lorabert.Classifier(tiny[0], adapter=str(tmp_path / "py"), max_length=32) as c:
        assert c.labels == order
        no_time = lambda d: {k: v for k, v in d.items() if k != "eval_runtime"}  # noqa: E731
        assert no_time(c.evaluate(str(jl), label_column="labels")) == no_time(c.evaluate(multi_csv))
        hot = [{"text": x["text"], "labels": [int(n in x["labels"]) for n in order]} for x in lists]
        assert no_time(c.evaluate(hot, label_column="labels", label_format="multi-hot")) == \
            no_time(c.evaluate(multi_csv))
        with pytest.raises(lorabert.FormatError, match="row 0: unknown label \"western\" in the list"):
            c.evaluate([{"text": "x", "labels": ["western"]}], label_column="labels")
        with pytest.raises(lorabert.UsageError, match="label_format 'x'"):
            c.evaluate(str(jl), label_column="labels", label_format="x")
    with pytest.raises(lorabert.FormatError, match="label column \"labels\" mixes kinds: row 0 holds label names"):
        lorabert.train(model=tiny[0], train=[{"text": "a", "labels": ["x"]}, {"text": "b", "labels": [1]}],
                       problem_type="multi_label_classification", label_column="labels", max_length=32)


def test_regression_same_as_the_cli(cli, tiny, reg_csv, tmp_path):
    need(*TRAIN_FNS)
    m, mj = train_both(cli, tiny, reg_csv, tmp_path, {"problem_type": "regression", "label_column": "score",
                                                       "metric_for_best_model": "pearson"},
                       ["--problem-type", "regression", "--label-column", "score", "--metric-for-best",
                        "pearson"])
    assert m["problem_type"] == "regression" and "eval_accuracy" not in m
    for k in ("loss", "mse", "mae", "pearson", "spearman"):
        assert m["eval_" + k] == mj[k], k
    py = str(tmp_path / "py")
    with lorabert.Classifier(tiny[0], adapter=py, max_length=32) as c:
        assert c.problem_type == "regression" and len(c.labels) == 1
        r = c.evaluate(reg_csv, label_column="score")
        got = c.predict(SEEDS)
    text, want = eval_json(cli, tiny, py, reg_csv, "--label-column", "score")
    assert want["problem_type"] == r["problem_type"] == "regression"
    for k in ("loss", "mse", "mae", "pearson", "spearman"):
        assert "%.9g" % r["eval_" + k] == raw(text, k), k
    assert r["eval_samples"] == want["n_examples"] == 10
    # predict gives the output values themselves, as `lorabert predict`
    cli_rows = predict_json(cli, tiny, py)
    assert all("probs" not in g for g in got)
    assert [["%.6g" % v for v in g["values"]] for g in got] == [["%.6g" % v for v in w["values"]] for w in cli_rows]
    assert len({g["values"][0] for g in got}) > 1  # real values, not a one-class softmax's 1.0


def test_bad_values_raise_the_c_message(tiny, multi_csv, reg_csv, tmp_path):
    need(*TRAIN_FNS)
    with pytest.raises(lorabert.UsageError, match="problem_type 'ranking': expected single_label_classification"):
        lorabert.train(model=tiny[0], train=multi_csv, problem_type="ranking", max_length=32)
    for t in (1.5, -0.2, 0):
        with pytest.raises(lorabert.UsageError, match="threshold %g: expected 0 < threshold < 1" % t):
            lorabert.train(model=tiny[0], train=multi_csv, label_columns=LABELS, threshold=t, max_length=32,
                           num_train_epochs=1)
    with pytest.raises(lorabert.UsageError, match="label_columns are for problem_type multi_label"):
        lorabert.train(model=tiny[0], train=reg_csv, problem_type="regression", label_columns=["score"])
    with pytest.raises(lorabert.UnsupportedError, match="a CSV/TSV cell cannot hold a list of labels"):
        lorabert.train(model=tiny[0], train=multi_csv, problem_type="multi_label_classification")
    with pytest.raises(lorabert.UsageError, match="label columns ',': name 1 is empty"):
        lorabert.train(model=tiny[0], train=multi_csv, label_columns=",", max_length=32)
    with pytest.raises(lorabert.FormatError, match="nope"):  # a missing column, named by the data layer
        lorabert.train(model=tiny[0], train=multi_csv, label_columns=["pos", "nope"], max_length=32)
    bad = tmp_path / "bad.csv"
    bad.write_text("text,score\nIt was good.,0.5\nNot a fan.,lots\n")
    # a regression value that is not a number, named with its row and column
    with pytest.raises(lorabert.FormatError, match="row 1: label column \"score\" holds .lots.: expected a finite"):
        lorabert.train(model=tiny[0], train=str(bad), problem_type="regression", label_column="score", max_length=32)
    out = tmp_path / "m"
    lorabert.train(model=tiny[0], train=multi_csv, label_columns=LABELS, max_length=32, num_train_epochs=1,
                   evaluation_strategy="no", output_dir=str(out))
    with lorabert.Classifier(tiny[0], adapter=str(out), max_length=32) as c:
        with pytest.raises(lorabert.UsageError, match="threshold 1: expected 0 < threshold < 1"):
            c.evaluate(multi_csv, threshold=1)
        with pytest.raises(lorabert.FormatError, match="nope"):
            c.evaluate(multi_csv, label_columns=["pos", "long", "nope"])
        with pytest.raises(lorabert.UsageError, match="threshold"):
            c.predict(SEEDS, threshold=1.2)
    with lorabert.Classifier(tiny[0], adapter=tiny[1]) as c:  # a single-label model
        with pytest.raises(lorabert.UsageError, match="problem_type is single_label_classification, not multi-label"):
            c.evaluate(multi_csv, label_columns=LABELS)
