"""Classifier.evaluate equals `lorabert eval --json` (same %.9g strings) and takes rows in memory."""
import csv
import json
import re

from conftest import need, run_cli


def test_evaluate_equals_cli(cli, tiny, clf, labelled):
    need("lb_dataset_open", "lb_evaluate_dataset")
    r = clf.evaluate(labelled)
    p = run_cli(cli, "eval", "--model", tiny[0], "--adapter", tiny[1], "--data", labelled, "--max-length", "64",
                "--truncation", "right", "--json")
    want = json.loads(p.stdout)
    for key in ("loss", "accuracy", "precision", "recall", "f1"):
        raw = re.search(r'"%s":\s*([-0-9.eE+]+)' % key, p.stdout).group(1)
        assert "%.9g" % r["eval_" + key] == raw, key
    assert r["confusion_matrix"] == want["confusion_matrix"]
    assert r["eval_samples"] == want["n_examples"] == 10
    assert sum(map(sum, r["confusion_matrix"])) == 10
    assert [c["label"] for c in r["per_class"]] == ["Negative", "Positive"]
    assert r["eval_runtime"] >= 0


def test_in_memory_rows_equal_file(clf, labelled):
    need("lb_dataset_open", "lb_evaluate_dataset")
    with open(labelled) as f:
        rows = [{"text": row["text"], "label": int(row["label"])} for row in csv.DictReader(f)]
    a = clf.evaluate(labelled)
    b = clf.evaluate(rows)
    c = clf.evaluate({"text": [r["text"] for r in rows], "label": [r["label"] for r in rows]})
    for d in (a, b, c):
        d.pop("eval_runtime")
    assert a == b == c


def test_columns_and_batch_size(clf, tmp_path, labelled):
    need("lb_dataset_open", "lb_evaluate_dataset")
    with open(labelled) as f:
        rows = list(csv.DictReader(f))
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"review": r["text"], "y": int(r["label"])}) + "\n" for r in rows))
    a = clf.evaluate(labelled)
    b = clf.evaluate(str(other), text_column="review", label_column="y", batch_size=3)
    # other batches pad differently: equal up to rounding
    assert abs(b["eval_loss"] - a["eval_loss"]) <= 1e-6 * abs(a["eval_loss"])
    assert b["confusion_matrix"] == a["confusion_matrix"]
