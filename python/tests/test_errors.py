"""Bad inputs raise the LoraBertError subclass of their status, carrying the C library's message:
the same line the CLI prints after "lorabert: " for the same input."""
import os
import shutil

import pytest

import lorabert
from conftest import need, run_cli


def cli_error(cli, *args, stdin=None):
    p = run_cli(cli, *args, stdin=stdin, check=False)
    assert p.returncode != 0, args
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lorabert: "), p.stderr
    return p.returncode, lines[0][len("lorabert: "):]


def check(excinfo, cls, code, cli_result=None):
    e = excinfo.value
    assert type(e) is cls and isinstance(e, lorabert.LoraBertError)
    assert e.code == code == cls.code and e.message == str(e) and len(str(e)) > 10
    if cli_result is not None:
        assert cli_result == (code, str(e))


def test_missing_model_folder(cli):
    need("lb_classifier_open")
    with pytest.raises(lorabert.FileError) as ei:
        lorabert.Classifier("/nonexistent/model")
    check(ei, lorabert.FileError, 3, cli_error(cli, "predict", "--model", "/nonexistent/model", "x"))
    assert isinstance(ei.value, OSError) and "/nonexistent/model" in str(ei.value)


def test_corrupt_safetensors(cli, tiny, tmp_path):
    need("lb_classifier_open")
    bad = tmp_path / "bad"
    shutil.copytree(tiny[0], bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[:5000])
    with pytest.raises(lorabert.FormatError) as ei:
        lorabert.Classifier(str(bad))
    check(ei, lorabert.FormatError, 4, cli_error(cli, "predict", "--model", str(bad), "x"))
    assert "model.safetensors" in str(ei.value)


def test_adapter_folder_without_config(cli, tiny, tmp_path):
    need("lb_classifier_open")
    with pytest.raises(lorabert.FileError) as ei:
        lorabert.Classifier(tiny[0], adapter=str(tmp_path))
    check(ei, lorabert.FileError, 3, cli_error(cli, "predict", "--model", tiny[0], "--adapter", str(tmp_path), "x"))


def test_invalid_utf8_text(cli, clf, tiny):
    with pytest.raises(lorabert.FormatError) as ei:
        clf.predict([b"ok", b"bad \xff byte"])
    check(ei, lorabert.FormatError, 4)
    assert "1" in str(ei.value)  # names the text's index
    # a str holding undecodable bytes (os.fsdecode's surrogates) is passed through as those bytes
    with pytest.raises(lorabert.FormatError) as ei2:
        clf.predict(["ok", os.fsdecode(b"bad \xff byte")])
    assert str(ei2.value) == str(ei.value)


def test_max_length_over_the_model(tiny):
    need("lb_classifier_open")
    with pytest.raises(lorabert.UsageError) as ei:
        lorabert.Classifier(tiny[0], max_length=65)
    check(ei, lorabert.UsageError, 2)
    assert "65" in str(ei.value)


def test_missing_tokenizer_folder(cli):
    need("lb_tokenizer_open")
    with pytest.raises(lorabert.FileError) as ei:
        lorabert.Tokenizer("/nonexistent/tok")
    check(ei, lorabert.FileError, 3, cli_error(cli, "tokenize", "--model", "/nonexistent/tok", stdin=""))


def test_evaluate_errors(clf, tmp_path):
    need("lb_dataset_open", "lb_evaluate_dataset")
    with pytest.raises(lorabert.FileError) as ei:
        clf.evaluate(str(tmp_path / "missing.csv"))
    check(ei, lorabert.FileError, 3)
    assert "missing.csv" in str(ei.value)
    bad = tmp_path / "bad.csv"
    bad.write_text("label,text\n1,fine\n5,unknown label\n")
    with pytest.raises(lorabert.FormatError) as ei:
        clf.evaluate(str(bad))
    check(ei, lorabert.FormatError, 4)
    assert "5" in str(ei.value)


def test_python_side_usage_errors(tiny, clf):
    with pytest.raises(lorabert.UsageError):
        lorabert.Classifier(tiny[0], truncation="middle")
    with pytest.raises(lorabert.UsageError):
        lorabert.Classifier(tiny[0], precision="fp16")
    with pytest.raises(lorabert.UsageError):
        clf.predict(["a", "b"], text_pair=["only one"])
    with pytest.raises(TypeError):
        clf.predict([1, 2])
    clf.close()
    with pytest.raises(lorabert.UsageError):
        clf.predict("closed")


def test_integers_beyond_the_c_type_are_refused(tiny, labelled):
    """ctypes wraps 2**32 + 10 to 10 without a word: a max_length, batch size, epoch count or token
    id beyond its C type must be refused, never silently become another number."""
    for kw in ({"max_length": 2 ** 32 + 10}, {"batch_size": 2 ** 32}, {"threads": 2 ** 32 + 1}):
        with pytest.raises(lorabert.UsageError, match="out of range"):
            lorabert.Classifier(tiny[0], **kw)
    with pytest.raises(lorabert.UsageError, match="threads"):  # the library's own bound (0..4096)
        lorabert.Classifier(tiny[0], threads=100000)
    with lorabert.Classifier(tiny[0]) as c:
        with pytest.raises(lorabert.UsageError, match="out of range"):
            c.evaluate(labelled, batch_size=2 ** 32)
    with lorabert.Tokenizer(tiny[0]) as tok:
        with pytest.raises(lorabert.UsageError, match="out of range"):
            tok.convert_ids_to_tokens(2 ** 40)  # was token 0, '[PAD]'
        with pytest.raises(lorabert.UsageError, match="out of range"):
            tok.encode("it was good", max_length=2 ** 32 + 1)
        with pytest.raises(TypeError):
            tok.convert_tokens_to_ids([1])
    for kw in ({"num_train_epochs": 2 ** 32 + 1}, {"seed": -1}, {"r": 2 ** 31}):
        with pytest.raises(lorabert.UsageError, match="out of range"):
            lorabert.train(tiny[0], labelled, **kw)


def test_in_memory_rows_and_label_lists(tiny, labelled):
    with lorabert.Classifier(tiny[0]) as c:
        with pytest.raises(lorabert.UsageError, match="same length"):  # was: one row evaluated
            c.evaluate({"text": ["it was good"], "label": [0, 1]})
    with pytest.raises(TypeError, match="list of names"):  # was: labels "a" and "b"
        lorabert.Classifier(tiny[0], labels="ab")
    with pytest.raises(TypeError, match="list of names"):
        lorabert.train(tiny[0], labelled, labels="ab")
    # metric_for_best_model=None is TrainingArguments' default (the loss), not an error
    out = lorabert.train(tiny[0], labelled, num_train_epochs=1, metric_for_best_model=None)
    assert out["global_step"] > 0
