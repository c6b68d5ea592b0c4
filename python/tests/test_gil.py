"""The GIL is released while the library computes: a Python thread keeps running during
predict() and train(). The same measurement with the function loaded through ctypes.PyDLL (which
holds the GIL) shows the long stall, so the test can tell the two apart."""
import ctypes
import threading
import time

import pytest

import lorabert
from lorabert import _capi
from conftest import SEEDS, need


def longest_stall(fn):
    """Runs fn() while a Python thread ticks; returns (duration of fn, longest interval during
    fn in which the thread could not run)."""
    ticks, stop = [], threading.Event()

    def spin():
        last = 0.0
        while not stop.is_set():
            t = time.perf_counter()
            if t - last > 0.001:
                ticks.append(t)
                last = t

    th = threading.Thread(target=spin)
    th.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    fn()
    t1 = time.perf_counter()
    stop.set()
    th.join()
    pts = [t0] + [t for t in ticks if t0 < t < t1] + [t1]
    return t1 - t0, max(b - a for a, b in zip(pts, pts[1:]))


def holding_gil(monkeypatch, name):
    """Replaces the binding of `name` by the same function called with the GIL held."""
    f = getattr(ctypes.PyDLL(_capi.LIB_PATH), name)
    f.restype, f.argtypes = _capi.PROTOTYPES[name]
    monkeypatch.setitem(_capi.F, name, f)


def test_predict_releases_the_gil(tiny, monkeypatch):
    need("lb_classifier_open", "lb_classify")
    texts = [" ".join(SEEDS)] * 8000
    with lorabert.Classifier(tiny[0], adapter=tiny[1], threads=1) as c:
        c.predict(texts[:10])
        with monkeypatch.context() as mp:
            holding_gil(mp, "lb_classify")
            held_total, held_stall = longest_stall(lambda: c.predict(texts))
        total, stall = longest_stall(lambda: c.predict(texts))
    # the control must stall long enough for the comparison to mean something
    assert held_stall > 0.1 and held_stall > 0.5 * held_total, (held_total, held_stall)
    print("GIL held: stall %.3f s of %.3f s; released: longest stall %.3f s of %.3f s" % (held_stall, held_total, stall, total))
    assert stall < 0.25 * held_stall, (total, stall, held_stall)


def test_train_releases_the_gil(tiny, tmp_path, monkeypatch):
    need("lb_train_run_open", "lb_train_run_all")
    # the callbacks run Python (and so may switch threads) at each step; the epoch's evaluation
    # of a large validation set is one long stretch of C without them
    rows = [{"text": s, "label": i % 2} for i, s in enumerate(SEEDS * 4)]
    val = [{"text": " ".join(SEEDS), "label": i % 2} for i in range(10000)]
    kw = dict(model=tiny[0], train=rows, validation=val, num_train_epochs=1, max_length=64,
              per_device_eval_batch_size=64, threads=1)
    with monkeypatch.context() as mp:
        holding_gil(mp, "lb_train_run_all")
        held_total, held_stall = longest_stall(lambda: lorabert.train(**kw))
    total, stall = longest_stall(lambda: lorabert.train(**kw))
    assert held_stall > 0.1 and held_stall > 0.5 * held_total, (held_total, held_stall)
    print("GIL held: stall %.3f s of %.3f s; released: longest stall %.3f s of %.3f s" % (held_stall, held_total, stall, total))
    assert stall < 0.25 * held_stall, (total, stall, held_stall)
