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


def timing_calls(monkeypatch, name):
    """Wraps the binding of `name` so that the wall time of its calls is summed into the returned
    list's one element. The control is judged against the C call itself, not against the whole
    Python function around it, whose Python part (building rows, tokenizing) stretches on a busy
    machine and let the control fail with a correct library."""
    f, spent = _capi.F[name], [0.0]

    def timed(*args):
        t = time.perf_counter()
        try:
            return f(*args)
        finally:
            spent[0] += time.perf_counter() - t
    monkeypatch.setitem(_capi.F, name, timed)
    return spent


def check_release(monkeypatch, name, fn):
    """fn() spends its time in one call of `name`. Held GIL (PyDLL): the ticking thread stalls for
    the whole call; released: its longest stall is a small part of that."""
    with monkeypatch.context() as mp:
        holding_gil(mp, name)
        held_call = timing_calls(mp, name)
        held_total, held_stall = longest_stall(fn)
    with monkeypatch.context() as mp:
        call = timing_calls(mp, name)
        total, stall = longest_stall(fn)
    print("GIL held: stall %.3f s, call %.3f s of %.3f s; released: longest stall %.3f s, call %.3f s of %.3f s"
          % (held_stall, held_call[0], held_total, stall, call[0], total))
    # the control must stall for (nearly) its whole C call, and that call must be long enough for
    # the comparison to mean something
    assert held_call[0] > 0.2 and held_stall > 0.8 * held_call[0], (held_total, held_call, held_stall)
    assert stall < 0.25 * held_stall, (total, call, stall, held_stall)


def test_predict_releases_the_gil(tiny, monkeypatch):
    need("lb_classifier_open", "lb_classify")
    texts = [" ".join(SEEDS)] * 16000
    with lorabert.Classifier(tiny[0], adapter=tiny[1], threads=1) as c:
        c.predict(texts[:10])
        check_release(monkeypatch, "lb_classify", lambda: c.predict(texts))


def test_train_releases_the_gil(tiny, tmp_path, monkeypatch):
    need("lb_train_run_open", "lb_train_run_all")
    # the callbacks run Python (and so may switch threads) at each step; the epoch's evaluation
    # of a large validation set is one long stretch of C without them
    rows = [{"text": s, "label": i % 2} for i, s in enumerate(SEEDS * 4)]
    val = [{"text": " ".join(SEEDS), "label": i % 2} for i in range(20000)]
    kw = dict(model=tiny[0], train=rows, validation=val, num_train_epochs=1, max_length=64,
              per_device_eval_batch_size=64, threads=1)
    check_release(monkeypatch, "lb_train_run_all", lambda: lorabert.train(**kw))
