"""lorabert.train: TrainingArguments' names, callbacks, the adapter it writes, and the same
bytes as `lorabert train` for the same recipe."""
import json
import os

import pytest

import lorabert
from conftest import SEEDS, cli_predict, need, run_cli

TRAIN_FNS = ("lb_model_open", "lb_model_add_adapter", "lb_dataset_open", "lb_train_run_open", "lb_train_run_all")


def test_train_writes_the_adapter_and_reports(cli, tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    out = tmp_path / "out"
    steps, epochs, logs = [], [], []
    m = lorabert.train(model=tiny[0], train=labelled, validation=labelled, output_dir=str(out),
                       num_train_epochs=2, per_device_train_batch_size=4, learning_rate=1e-3, weight_decay=0.01,
                       max_length=32, lora_dropout=0.01, threads=2, metric_for_best_model="eval_loss",
                       on_step=steps.append, on_epoch=epochs.append, on_log=logs.append)
    assert m["global_step"] == 6 == len(steps)            # ceil(10 / 4) steps a epoch, 2 epochs
    assert [s["step"] for s in steps] == list(range(1, 7)) and steps[-1]["total_steps"] == 6
    assert [e["epoch"] for e in epochs] == [1, 2] and all("eval_loss" in e for e in epochs)
    assert m["best_epoch"] in (1, 2) and m["eval_loss"] == min(e["eval_loss"] for e in epochs)
    assert m["train_loss"] > 0 and m["train_runtime"] > 0 and m["train_tokens_per_second"] > 0
    assert all(isinstance(line, str) for line in logs)
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 4 and cfg["lora_alpha"] == 32 and cfg["lora_dropout"] == 0.01
    assert (out / "adapter_model.safetensors").is_file()
    # the trained adapter labels text as the CLI does with it
    with lorabert.Classifier(tiny[0], adapter=str(out)) as c:
        got = [(r["label"], ["%.9g" % p for p in r["probs"]]) for r in c.predict(SEEDS)]
    assert got == cli_predict(cli, tiny[0], str(out), SEEDS)


def test_same_adapter_as_the_cli(cli, tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    lorabert.train(model=tiny[0], train=labelled, validation=labelled, output_dir=str(tmp_path / "py"),
                   num_train_epochs=2, max_length=32, lora_dropout=0.01, threads=2)
    run_cli(cli, "train", "--model", tiny[0], "--train", labelled, "--validation", labelled, "--output",
            str(tmp_path / "cli"), "--epochs", "2", "--max-length", "32", "--threads", "2")
    a = (tmp_path / "py" / "adapter_model.safetensors").read_bytes()
    b = (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    assert a == b


def test_lora_options_and_hf_names(tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    out = tmp_path / "o"
    lorabert.train(model=tiny[0], train=labelled, output_dir=str(out), num_train_epochs=1, max_length=32,
                   r=8, lora_alpha=16, target_modules=["q_lin", "v_lin"], evaluation_strategy="no",
                   save_strategy="epoch", load_best_model_at_end=True)
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 8 and cfg["lora_alpha"] == 16 and sorted(cfg["target_modules"]) == ["q_lin", "v_lin"]


def test_bad_arguments(tiny, labelled):
    need(*TRAIN_FNS)
    with pytest.raises(TypeError, match="num_epochs"):
        lorabert.train(model=tiny[0], train=labelled, num_epochs=1)
    with pytest.raises(lorabert.UsageError):
        lorabert.train(model=tiny[0], train=labelled, save_strategy="steps")
    with pytest.raises(lorabert.FileError):
        lorabert.train(model=tiny[0], train=os.path.join(str(labelled) + ".missing"))
    with pytest.raises(lorabert.UnsupportedError, match="int8 is for inference only"):
        lorabert.train(model=tiny[0], train=labelled, precision="int8")


def test_callback_exception_stops_training(tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    seen = []

    class Stop(object):
        def on_step(self, s):
            seen.append(s["step"])
            if s["step"] == 2:
                raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        lorabert.train(model=tiny[0], train=labelled, output_dir=str(tmp_path / "x"), num_train_epochs=3,
                       max_length=32, callback=Stop())
    assert seen == [1, 2]


def test_callback_true_interrupts_with_checkpoint(tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    with pytest.raises(lorabert.TrainingInterrupted) as ei:
        lorabert.train(model=tiny[0], train=labelled, output_dir=str(tmp_path / "x"), num_train_epochs=3,
                       max_length=32, on_step=lambda s: s["step"] == 2)
    assert ei.value.code == 9
    assert (tmp_path / "x" / "resume").is_dir()


def test_ctrl_c_stops_training_and_propagates(tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    import signal
    seen = []

    def on_step(s):
        seen.append(s["step"])
        if s["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)   # as Ctrl-C: handled in Python code, i.e. here

    # Python installs its Ctrl-C handler only where SIGINT was not ignored at start (a job started
    # in the background by a non-interactive shell has it ignored): install it for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            lorabert.train(model=tiny[0], train=labelled, output_dir=str(tmp_path / "x"), num_train_epochs=3,
                           max_length=32, on_step=on_step)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen[:2] == [1, 2] and len(seen) <= 3
