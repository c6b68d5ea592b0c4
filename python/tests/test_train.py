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
    # lora_dropout not given: the seed recipe's 0.01, as `lorabert train`
    assert cfg["lora_dropout"] == 0.01


def test_bad_arguments(tiny, labelled):
    need(*TRAIN_FNS)
    with pytest.raises(TypeError, match="num_epochs"):
        lorabert.train(model=tiny[0], train=labelled, num_epochs=1)
    with pytest.raises(lorabert.UsageError):
        lorabert.train(model=tiny[0], train=labelled, save_strategy="hourly")
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


def test_resume_from_checkpoint_true_and_path(tiny, labelled, tmp_path):
    """A run that died without resume/ (here: interrupted, resume/ removed as a SIGKILL leaves
    none) continues from its checkpoints: True takes the newest, a path the one named; both end
    with the uninterrupted run's adapter bytes."""
    need(*TRAIN_FNS, "lb_train_resume_find")
    import shutil
    kw = dict(model=tiny[0], train=labelled, validation=labelled, num_train_epochs=3, max_length=32,
              per_device_train_batch_size=2, threads=1)
    lorabert.train(output_dir=str(tmp_path / "a"), **kw)
    with pytest.raises(lorabert.TrainingInterrupted):  # 5 steps an epoch: checkpoint-5, -10
        lorabert.train(output_dir=str(tmp_path / "b"), on_step=lambda s: s["step"] == 12, **kw)
    shutil.rmtree(tmp_path / "b" / "resume")
    shutil.copytree(tmp_path / "b", tmp_path / "c")
    assert (tmp_path / "b" / "checkpoint-10" / "resume.json").is_file()
    lorabert.train(output_dir=str(tmp_path / "b"), resume_from_checkpoint=True, **kw)
    lorabert.train(output_dir=str(tmp_path / "c"), resume_from_checkpoint=str(tmp_path / "c" / "checkpoint-5"), **kw)
    want = (tmp_path / "a" / "adapter_model.safetensors").read_bytes()
    assert (tmp_path / "b" / "adapter_model.safetensors").read_bytes() == want
    assert (tmp_path / "c" / "adapter_model.safetensors").read_bytes() == want
    (tmp_path / "c" / "checkpoint-5" / "resume.json").unlink()
    with pytest.raises(lorabert.FormatError, match="older lorabert without resume state"):
        lorabert.train(output_dir=str(tmp_path / "c"), resume_from_checkpoint=str(tmp_path / "c" / "checkpoint-5"),
                       **kw)


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


def test_issue16_options_reach_the_library(cli, tiny, labelled, tmp_path):
    """lr_scheduler_type, warmup_ratio, early stopping, save_total_limit, greater_is_better and
    report_to travel by name: the same adapter and files as the CLI's options."""
    need(*TRAIN_FNS)
    out = tmp_path / "py"
    m = lorabert.train(model=tiny[0], train=labelled, validation=labelled, output_dir=str(out),
                       num_train_epochs=4, max_length=32, lora_dropout=0.01, threads=2, logging_steps=1,
                       lr_scheduler_type="cosine", warmup_ratio=0.25, early_stopping_patience=1,
                       early_stopping_threshold=1e9, save_total_limit=1, metric_for_best_model="accuracy",
                       greater_is_better=False, report_to=["tensorboard"])
    run_cli(cli, "train", "--model", tiny[0], "--train", labelled, "--validation", labelled, "--output",
            str(tmp_path / "cli"), "--epochs", "4", "--max-length", "32", "--threads", "2", "--logging-steps", "1",
            "--lr-scheduler-type", "cosine", "--warmup-ratio", "0.25", "--early-stopping-patience", "1",
            "--early-stopping-threshold", "1e9", "--save-total-limit", "1", "--metric-for-best", "accuracy",
            "--greater-is-better", "false", "--report-to", "tensorboard")
    # patience 1 with a threshold nothing exceeds: the second evaluation ends the run
    assert m["global_step"] == 6
    a = (out / "adapter_model.safetensors").read_bytes()
    assert a == (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    for d in (out, tmp_path / "cli"):
        st = json.loads((d / "trainer_state.json").read_text())
        lrs = [e["learning_rate"] for e in st["log_history"] if "learning_rate" in e]
        assert abs(lrs[0] - 1e-3 / 3) < 1e-18 and len(lrs) == 6  # warmup ceil(12 x 0.25) = 3 steps
        assert len([c for c in os.listdir(d) if c.startswith("checkpoint-")]) == 1
        assert len(os.listdir(d / "runs")) == 1
    with pytest.raises(lorabert.UsageError):
        lorabert.train(model=tiny[0], train=labelled, lr_scheduler_type="inverse_sqrt")
    with pytest.raises(lorabert.UsageError):
        lorabert.train(model=tiny[0], train=labelled, early_stopping_patience=2)  # no evaluation


def test_steps_strategies_same_as_the_cli(cli, tiny, labelled, tmp_path):
    """eval_strategy / save_strategy "steps", eval_steps, save_steps and load_best_model_at_end
    travel by name; the evaluations of "steps" reach on_evaluate."""
    need(*TRAIN_FNS)
    out, evals, epochs = tmp_path / "py", [], []
    m = lorabert.train(model=tiny[0], train=labelled, validation=labelled, output_dir=str(out),
                       num_train_epochs=2, max_length=32, lora_dropout=0.01, threads=2, logging_steps=1,
                       eval_strategy="steps", eval_steps=2, save_strategy="steps", save_steps=4,
                       load_best_model_at_end=False, on_evaluate=evals.append, on_epoch=epochs.append)
    run_cli(cli, "train", "--model", tiny[0], "--train", labelled, "--validation", labelled, "--output",
            str(tmp_path / "cli"), "--epochs", "2", "--max-length", "32", "--threads", "2", "--logging-steps", "1",
            "--eval-strategy", "steps", "--eval-steps", "2", "--save-strategy", "steps", "--save-steps", "4",
            "--load-best-model-at-end", "false")
    assert m["global_step"] == 6
    assert [e["step"] for e in evals] == [2, 4, 6] and all("eval_loss" in e for e in evals)
    assert [round(e["epoch_progress"], 4) for e in evals] == [0.6667, 1.3333, 2.0]
    assert [e["checkpoint_dir"] is not None for e in evals] == [False, True, False]
    assert [e["epoch"] for e in epochs] == [1, 2] and not any("eval_loss" in e for e in epochs)
    assert (out / "adapter_model.safetensors").read_bytes() == \
        (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    assert sorted(c for c in os.listdir(out) if c.startswith("checkpoint-")) == ["checkpoint-4"]
    st = json.loads((out / "trainer_state.json").read_text())
    assert (st["eval_steps"], st["save_steps"]) == (2, 4)
    # load_best_model_at_end=False: the adapter is step 6's, and so is the evaluation reported
    # (not checkpoint-4's, the best)
    assert st["best_model_checkpoint"].endswith("checkpoint-4")
    mj = json.loads((out / "metrics.json").read_text())
    assert m["eval_step"] == mj["eval_step"] == 6 and "best_epoch" not in mj
    assert m["eval_loss"] == evals[-1]["eval_loss"] and abs(mj["loss"] - evals[-1]["eval_loss"]) < 1e-6
    with pytest.raises(lorabert.UsageError, match="round multiple"):  # HF's load_best_model_at_end check
        lorabert.train(model=tiny[0], train=labelled, validation=labelled, eval_strategy="steps", eval_steps=3,
                       save_strategy="steps", save_steps=4)


@pytest.mark.parametrize("py_kw,cli_args", [
    ({"label_smoothing_factor": 0.2}, ["--label-smoothing-factor", "0.2"]),
    ({"class_weights": [0.5, 2.0]}, ["--class-weights", "0.5,2"]),
    ({"class_weights": "auto"}, ["--class-weights", "auto"]),
])
def test_loss_options_same_adapter_as_the_cli(cli, tiny, labelled, tmp_path, py_kw, cli_args):
    need(*TRAIN_FNS)
    # 7 rows, 3 of label 1: auto's weights (7/8, 7/6) differ from 1
    lines = open(labelled).read().splitlines()[:8]
    assert sum(line.startswith("1,") for line in lines[1:]) == 3
    labelled = str(tmp_path / "seven.csv")
    open(labelled, "w").write("\n".join(lines) + "\n")
    lorabert.train(model=tiny[0], train=labelled, validation=labelled, output_dir=str(tmp_path / "py"),
                   num_train_epochs=2, max_length=32, lora_dropout=0.01, threads=2, **py_kw)
    run_cli(cli, "train", "--model", tiny[0], "--train", labelled, "--validation", labelled, "--output",
            str(tmp_path / "cli"), "--epochs", "2", "--max-length", "32", "--threads", "2", *cli_args)
    run_cli(cli, "train", "--model", tiny[0], "--train", labelled, "--validation", labelled, "--output",
            str(tmp_path / "plain"), "--epochs", "2", "--max-length", "32", "--threads", "2")
    a = (tmp_path / "py" / "adapter_model.safetensors").read_bytes()
    b = (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    c = (tmp_path / "plain" / "adapter_model.safetensors").read_bytes()
    assert a == b and a != c  # the option reached the library, and it changes the loss


def test_loss_options_refused(tiny, labelled):
    need(*TRAIN_FNS)
    with pytest.raises(lorabert.UsageError, match="label_smoothing_factor"):
        lorabert.train(model=tiny[0], train=labelled, label_smoothing_factor=1.0)
    with pytest.raises(lorabert.UsageError, match="3 weights for a model of 2 labels"):
        lorabert.train(model=tiny[0], train=labelled, class_weights=[1, 2, 3], max_length=32)
    with pytest.raises(lorabert.UnsupportedError, match="not supported"):
        lorabert.train(model=tiny[0], train=labelled, class_weights="auto", label_smoothing_factor=0.1)


@pytest.mark.parametrize("py_kw,cli_args", [
    ({"loraplus_lr_ratio": 4.0}, ["--loraplus-lr-ratio", "4"]),
    ({"init_lora_weights": "gaussian"}, ["--lora-init", "gaussian"]),
    ({"init_lora_weights": False}, ["--lora-init", "false"]),
    ({"init_lora_weights": "pissa"}, ["--lora-init", "pissa"]),
    ({"init_lora_weights": "olora"}, ["--lora-init", "olora"]),
])
def test_peft_options_same_adapter_as_the_cli(cli, tiny, labelled, tmp_path, py_kw, cli_args):
    need(*TRAIN_FNS)
    common = ["--train", labelled, "--epochs", "1", "--max-length", "32", "--threads", "2", "--no-eval"]
    lorabert.train(model=tiny[0], train=labelled, output_dir=str(tmp_path / "py"), num_train_epochs=1,
                   max_length=32, lora_dropout=0.01, threads=2, evaluation_strategy="no", **py_kw)
    run_cli(cli, "train", "--model", tiny[0], "--output", str(tmp_path / "cli"), *common, *cli_args)
    run_cli(cli, "train", "--model", tiny[0], "--output", str(tmp_path / "plain"), *common)
    a = (tmp_path / "py" / "adapter_model.safetensors").read_bytes()
    b = (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    c = (tmp_path / "plain" / "adapter_model.safetensors").read_bytes()
    assert a == b and a != c  # the option reached the library, and it changes the adapter
    cfg = json.loads((tmp_path / "py" / "adapter_config.json").read_text())
    init = py_kw.get("init_lora_weights", True)
    if init in ("pissa", "olora"):  # saved converted: a plain rank-2r LoRA over the original base
        assert cfg["init_lora_weights"] is True and cfg["r"] == 8 and cfg["lora_alpha"] == 64, cfg
    else:
        assert cfg["init_lora_weights"] == init and "loraplus_lr_ratio" not in cfg


def test_peft_options_refused(tiny, labelled):
    need(*TRAIN_FNS)
    with pytest.raises(lorabert.UnsupportedError, match="'loftq' is not supported"):
        lorabert.train(model=tiny[0], train=labelled, init_lora_weights="loftq")
    with pytest.raises(lorabert.UnsupportedError, match="randomized SVD"):
        lorabert.train(model=tiny[0], train=labelled, init_lora_weights="pissa_niter_4")
    with pytest.raises(lorabert.UsageError, match="loraplus_lr_ratio"):
        lorabert.train(model=tiny[0], train=labelled, loraplus_lr_ratio=-1.0)


def test_rank_alpha_pattern_same_adapter_as_the_cli(cli, tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    common = ["--train", labelled, "--epochs", "1", "--max-length", "32", "--threads", "2", "--no-eval",
              "--target-modules", "q_lin,v_lin"]
    lorabert.train(model=tiny[0], train=labelled, output_dir=str(tmp_path / "py"), num_train_epochs=1,
                   max_length=32, lora_dropout=0.01, threads=2, evaluation_strategy="no",
                   target_modules=["q_lin", "v_lin"], rank_pattern={"layer.0.attention.q_lin": 8},
                   alpha_pattern={"v_lin": 16})
    run_cli(cli, "train", "--model", tiny[0], "--output", str(tmp_path / "cli"), *common,
            "--lora-rank-pattern", "layer.0.attention.q_lin=8", "--lora-alpha-pattern", "v_lin=16")
    a = (tmp_path / "py" / "adapter_model.safetensors").read_bytes()
    b = (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    assert a == b
    cfg = json.loads((tmp_path / "py" / "adapter_config.json").read_text())
    assert cfg["rank_pattern"] == {"layer.0.attention.q_lin": 8} and cfg["alpha_pattern"] == {"v_lin": 16}
    with pytest.raises(lorabert.UnsupportedError, match="Python-only"):
        lorabert.train(model=tiny[0], train=labelled, rank_pattern={"layer\\.\\d\\.q_lin": 8})


def test_modules_to_save_same_adapter_as_the_cli(cli, tiny, labelled, tmp_path):
    need(*TRAIN_FNS)
    common = ["--train", labelled, "--epochs", "1", "--max-length", "32", "--threads", "2", "--no-eval"]
    lorabert.train(model=tiny[0], train=labelled, output_dir=str(tmp_path / "py"), num_train_epochs=1,
                   max_length=32, lora_dropout=0.01, threads=2, evaluation_strategy="no",
                   modules_to_save=["output_layer_norm", "lin1"])
    run_cli(cli, "train", "--model", tiny[0], "--output", str(tmp_path / "cli"), *common,
            "--modules-to-save", "output_layer_norm,lin1")
    a = (tmp_path / "py" / "adapter_model.safetensors").read_bytes()
    b = (tmp_path / "cli" / "adapter_model.safetensors").read_bytes()
    assert a == b and b"output_layer_norm.weight" in a and b"ffn.lin1.weight" in a
    cfg = json.loads((tmp_path / "py" / "adapter_config.json").read_text())
    assert "output_layer_norm" in cfg["modules_to_save"]
    with pytest.raises(lorabert.UnsupportedError, match="ffn"):
        lorabert.train(model=tiny[0], train=labelled, modules_to_save="ffn")
