"""Two finished training runs' folders compared, timings aside (shared by tests/cli/steps_resume.sh
and tests/cli/resume_checkpoint.sh, which import it with PYTHONPATH=tests/support)."""
import json
import os

TIMING = ("runtime", "per_second", "train_time")


def strip(x):
    """x without timing fields, checkpoint paths reduced to their folder name."""
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if not any(t in k for t in TIMING)}
    if isinstance(x, list):
        return [strip(v) for v in x]
    if isinstance(x, str) and "/checkpoint-" in x:
        return os.path.basename(x)
    return x


def same_run_files(a, b):
    """trainer_state.json and metrics.json equal (timings aside) and the same checkpoint-<step>/
    folders in both; returns their names."""
    for f in ("trainer_state.json", "metrics.json"):
        ja, jb = strip(json.load(open(os.path.join(a, f)))), strip(json.load(open(os.path.join(b, f))))
        assert ja == jb, (f, [k for k in ja if ja.get(k) != jb.get(k)])
    ca = sorted(d for d in os.listdir(a) if d.startswith("checkpoint-"))
    cb = sorted(d for d in os.listdir(b) if d.startswith("checkpoint-"))
    assert ca == cb, (ca, cb)
    return ca
