"""The Python face of the C API: Tokenizer, Classifier, train()."""
import ctypes
import json
import os
import tempfile
import threading
from ctypes import byref, c_bool, c_char_p, c_double, c_int, c_int32, c_size_t, c_void_p

from . import _capi as C
from .errors import FormatError, UsageError, TrainingInterrupted, from_status

F = C.F


def _call(name, *args):
    """Calls F[name](*args, &err) and raises the exception of its status."""
    err = C.Error()
    st = F[name](*args, byref(err))
    if st != 0:
        raise from_status(st, err.msg.decode("utf-8", "replace") or F["lb_status_name"](st).decode())


def _b(s):
    """str / PathLike / bytes -> bytes for a C string (None stays None)."""
    if s is None or isinstance(s, bytes):
        return s
    return os.fsencode(s) if isinstance(s, os.PathLike) else str(s).encode("utf-8")


def _text_bytes(t, what):
    """A text for the model: str (UTF-8; lone surrogates from os.fsdecode pass through as their
    original bytes, so the library reports invalid UTF-8 itself) or bytes as given."""
    if isinstance(t, bytes):
        return t
    if isinstance(t, str):
        return t.encode("utf-8", "surrogateescape")
    raise TypeError("%s must be str or bytes, not %s" % (what, type(t).__name__))


def _fit(v, ctype, name):
    """v as an integer of the C type ctype: ctypes would silently wrap 2**32 + 10 to 10 (a different
    max_length, epoch count or token id), so an out-of-range or non-integer value is refused."""
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            import operator
            v = operator.index(v)
        except TypeError:
            raise TypeError("%s must be an integer, not %s" % (name, type(v).__name__))
    bits = ctypes.sizeof(ctype) * 8
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if ctype(-1).value < 0 else (0, (1 << bits) - 1)
    if not lo <= v <= hi:
        raise UsageError("%s=%d is out of range (%d..%d)" % (name, v, lo, hi), 2)
    return v


def _truncate_left(truncation):
    if truncation not in ("right", "left"):
        raise UsageError("truncation must be 'right' or 'left', not %r" % (truncation,), 2)
    return truncation == "left"


def _precision(precision):
    p = c_int()
    if not isinstance(precision, str) or not F["lb_precision_parse"](precision.encode(), byref(p)):
        raise UsageError("precision must be 'fp32', 'bf16' or 'int8', not %r" % (precision,), 2)
    return p.value


def _problem(name):
    """lb_problem_type of a problem_type name (HF's names)."""
    p = c_int()
    if not isinstance(name, str) or not F["lb_problem_type_parse"](name.encode(), byref(p)):
        raise UsageError("problem_type %r: expected single_label_classification, multi_label_classification or "
                         "regression" % (name,), 2)
    return p.value


def _label_format(fmt):
    """label_format ("auto", "multi-hot" or None) as lb_label_format."""
    if fmt is None or fmt == "auto":
        return 0
    if fmt == "multi-hot":
        return 1
    raise UsageError("label_format %r: expected 'auto' or 'multi-hot'" % (fmt,), 2)


def _list_labels(ds):
    """The labels a list column implies (lb_dataset_label_list): the names, or a count."""
    n = c_int()
    kind = F["lb_dataset_label_list"](ds._h, byref(n))
    if kind == 1:
        return [F["lb_dataset_target_name"](ds._h, k).decode("utf-8") for k in range(n.value)], n.value
    return None, n.value


def _label_columns(cols):
    """label_columns as the C comma string: a list of column names or "A,B,..." (None stays None)."""
    if cols is None:
        return None
    if not isinstance(cols, (str, bytes)):
        cols = ",".join(os.fsdecode(c) if isinstance(c, bytes) else str(c) for c in cols)
    return _b(cols)


def _threshold(threshold, what):
    """threshold as the C option: the library reads 0 as "the default 0.5", so 0 is refused here with
    the library's own words for the other values out of (0, 1)."""
    if threshold is None:
        return 0.0
    t = float(threshold)
    if t == 0:
        raise UsageError("%s: threshold %g: expected 0 < threshold < 1" % (what, t), 2)
    return t


def _metrics_dict(res, labels, prefix="eval_"):
    m = res.metrics
    L = m.num_labels
    name = lambda i: labels[i] if i < len(labels) else "LABEL_%d" % i  # noqa: E731
    if res.problem_type == C.PROBLEM_REGRESSION:  # the names of trainer_state.json's entries
        return {prefix + "loss": res.loss, prefix + "mse": res.mse, prefix + "mae": res.mae,
                prefix + "pearson": res.pearson, prefix + "spearman": res.spearman, prefix + "runtime": res.runtime_s,
                prefix + "samples": m.n, "problem_type": "regression"}
    if res.problem_type == C.PROBLEM_MULTI_LABEL:  # subset accuracy, micro and macro averages, per label
        return {prefix + "loss": res.loss, prefix + "accuracy": m.accuracy, prefix + "precision": m.precision,
                prefix + "recall": m.recall, prefix + "f1": m.f1, prefix + "precision_macro": res.macro_precision,
                prefix + "recall_macro": res.macro_recall, prefix + "f1_macro": res.macro_f1,
                prefix + "threshold": res.threshold, prefix + "runtime": res.runtime_s, prefix + "samples": m.n,
                "problem_type": "multi_label_classification",
                "per_label": [{"label": name(i), "precision": m.class_precision[i], "recall": m.class_recall[i],
                               "f1": m.class_f1[i], "support": res.support[i]} for i in range(L)]}
    out = {prefix + "loss": res.loss, prefix + "accuracy": m.accuracy, prefix + "precision": m.precision,
           prefix + "recall": m.recall, prefix + "f1": m.f1, prefix + "runtime": res.runtime_s,
           prefix + "samples": m.n}
    out["confusion_matrix"] = [[m.confusion[t * L + p] for p in range(L)] for t in range(L)]
    out["per_class"] = [{"label": name(i),
                         "precision": m.class_precision[i], "recall": m.class_recall[i], "f1": m.class_f1[i]}
                        for i in range(L)]
    return out


class _Handle(object):
    """Owns one C handle (self._h), freed by the library's close function named in _CLOSE: on
    close(), at the end of a with-block, or when garbage-collected."""
    _CLOSE = None

    def close(self):
        if getattr(self, "_h", None):
            F[self._CLOSE](self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class _Dataset(_Handle):
    """An lb_dataset opened from a path / hub id, or from in-memory rows written to a temporary
    JSONL file (a dict of columns, as datasets.Dataset.to_dict() gives, or a list of dicts)."""

    def __init__(self, data, split=None, text_column="text", label_column="label", text_pair_column=None,
                 problem_type=0, label_columns=None, label_format=0):
        self._tmp = None
        if isinstance(data, dict):
            cols = list(data)
            n = len(data[cols[0]]) if cols else 0
            for c in cols:
                if len(data[c]) != n:
                    raise UsageError("column %r has %d rows, column %r has %d: all columns need the same length"
                                     % (c, len(data[c]), cols[0], n), 2)
            data = [{c: data[c][i] for c in cols} for i in range(n)]
        if isinstance(data, (list, tuple)):
            fd, self._tmp = tempfile.mkstemp(prefix="lorabert-", suffix=".jsonl")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for row in data:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
            data = self._tmp
        opts = C.DatasetOptions(split=_b(split), text_column=_b(text_column), label_column=_b(label_column),
                                text_pair_column=_b(text_pair_column), problem_type=problem_type,
                                label_columns=label_columns, label_format=label_format)
        self._h = c_void_p()
        try:
            _call("lb_dataset_open", _b(data), byref(opts), byref(self._h))
        except BaseException:
            self.close()
            raise

    _CLOSE = "lb_dataset_close"

    def __len__(self):
        return F["lb_dataset_size"](self._h)

    def close(self):
        _Handle.close(self)
        if getattr(self, "_tmp", None):
            os.unlink(self._tmp)
            self._tmp = None


def _is_local_or_hub_folder(path):
    """Splits only apply to dataset folders and hub ids, not to single files."""
    return not os.path.isfile(os.fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else False


class Tokenizer(_Handle):
    """A tokenizer exactly as HF's fast tokenizer loads it from a folder (tokenizer.json, or
    vocab.txt + tokenizer_config.json) or hub repo id. Thread-safe once opened."""

    def __init__(self, path):
        self._h = c_void_p()
        _call("lb_tokenizer_open", _b(path), byref(self._h))

    def _encode(self, text, pair, max_length, truncation_side, add_special_tokens):
        if self._h is None:
            raise UsageError("the tokenizer is closed", 2)
        t = _text_bytes(text, "text")
        p = None if pair is None else _text_bytes(pair, "pair")
        opts = C.EncodeOptions(max_length=_fit(max_length or 0, c_int, "max_length"), truncate_left=_truncate_left(truncation_side),
                               no_special_tokens=not add_special_tokens)
        toks = C.Tokens()
        try:
            _call("lb_tokenizer_encode", self._h, t, len(t), p, len(p) if p is not None else 0, byref(opts),
                  byref(toks))
            return toks.ids[:toks.n], toks.type_ids[:toks.n]
        finally:
            F["lb_tokens_free"](byref(toks))

    def encode(self, text, pair=None, max_length=None, truncation_side="right", add_special_tokens=True):
        """Token ids of text (and pair), as tokenizer.encode(text, pair, truncation=True,
        max_length=max_length) returns them."""
        return self._encode(text, pair, max_length, truncation_side, add_special_tokens)[0]

    def __call__(self, text, text_pair=None, max_length=None, truncation_side="right", add_special_tokens=True):
        """{"input_ids", "token_type_ids", "attention_mask"} as tokenizer(text, text_pair) gives."""
        ids, types = self._encode(text, text_pair, max_length, truncation_side, add_special_tokens)
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids)}

    def convert_ids_to_tokens(self, ids):
        one = isinstance(ids, int)
        out = []
        for i in ([ids] if one else ids):
            s = F["lb_tokenizer_id_to_token"](self._h, _fit(i, c_int32, "id"))
            out.append(None if s is None else s.decode("utf-8", "replace"))
        return out[0] if one else out

    def convert_tokens_to_ids(self, tokens):
        one = isinstance(tokens, str)
        out = [F["lb_tokenizer_token_to_id"](self._h, _text_bytes(t, "token")) for t in ([tokens] if one else tokens)]
        return out[0] if one else out

    @property
    def vocab_size(self):
        return F["lb_tokenizer_vocab_size"](self._h)

    @property
    def model_max_length(self):
        return F["lb_tokenizer_model_max_length"](self._h)

    _CLOSE = "lb_tokenizer_close"


class Classifier(_Handle):
    """A model (+ optional LoRA adapter) with its tokenizer, ready to label text.

    model: a folder or hub repo id; a PEFT adapter folder alone opens its base with the adapter,
    as AutoModelForSequenceClassification.from_pretrained(adapter_dir) does with PEFT installed.
    problem_type: None takes the adapter's labels.json, else config.json's, else HF's rule (one
    label: "regression"); else "single_label_classification", "multi_label_classification" or
    "regression" (the attribute .problem_type says which one the model has).
    One handle computes for one thread at a time (calls from several threads are serialised);
    the GIL is released while the library computes."""

    def __init__(self, model, adapter=None, max_length=None, truncation="right", precision="fp32",
                 batch_size=32, threads=0, labels=None, problem_type=None):
        self._h = c_void_p()
        self._lock = threading.Lock()
        opts = C.ClassifierOptions()
        opts.model.adapter = _b(adapter)
        opts.model.precision = _precision(precision)
        if isinstance(labels, (str, bytes)):
            raise TypeError("labels must be a list of names, not a string")
        if labels is not None:
            self._label_args = (c_char_p * len(labels))(*[_b(x) for x in labels])
            opts.model.labels = self._label_args
            opts.model.num_labels = len(labels)
        opts.max_length = _fit(max_length or 0, c_int, "max_length")
        opts.truncate_left = _truncate_left(truncation)
        opts.batch_size = _fit(batch_size, c_int, "batch_size")
        opts.threads = _fit(threads, c_int, "threads")
        opts.model.problem_type = _b(problem_type)
        _call("lb_classifier_open", _b(model), byref(opts), byref(self._h))
        n = F["lb_classifier_num_labels"](self._h)
        self.labels = [F["lb_classifier_label"](self._h, i).decode("utf-8", "replace") for i in range(n)]
        i = C.ModelInfo()
        F["lb_model_get_info"](F["lb_classifier_model"](self._h), byref(i))
        self.problem_type = i.problem_type.decode()

    def _handle(self):
        if not self._h:
            raise UsageError("the classifier is closed", 2)
        return self._h

    @property
    def info(self):
        """The model's lb_model_info as a dict."""
        i = C.ModelInfo()
        F["lb_model_get_info"](F["lb_classifier_model"](self._handle()), byref(i))
        out = {}
        for name, _ in C.ModelInfo._fields_:
            v = getattr(i, name)
            if name == "labels":
                v = self.labels
            elif name == "precision":
                v = F["lb_precision_name"](v).decode()
            elif isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            out[name] = v
        return out

    def predict(self, texts, text_pair=None, threshold=0.5):
        """Labels a text or a list of texts (text_pair: their second texts, a str or a list, None
        entries meaning no pair). Returns [{"label", "score", "probs"}] per text, like
        pipeline("text-classification") plus every class's probability; input order kept.
        A multi-label model: probs are each label's sigmoid and "labels" lists those >= threshold
        (label and score: the highest one's). A regression model: "values" (the outputs
        themselves) instead of probs, score the largest; as `lorabert predict` prints them."""
        single = isinstance(texts, (str, bytes))
        items = [texts] if single else list(texts)
        pairs = None
        if text_pair is not None:
            pairs = [text_pair] if isinstance(text_pair, (str, bytes)) else list(text_pair)
            if len(pairs) != len(items):
                raise UsageError("text_pair has %d entries for %d texts" % (len(pairs), len(items)), 2)
        n = len(items)
        multi = self.problem_type == "multi_label_classification"
        if multi and not 0 < float(threshold) < 1:
            raise UsageError("predict: threshold %g: expected 0 < threshold < 1" % float(threshold), 2)
        if n == 0:
            return []
        enc = [_text_bytes(t, "texts[%d]" % i) for i, t in enumerate(items)]
        c_texts = (c_char_p * n)(*enc)
        c_lens = (c_size_t * n)(*[len(t) for t in enc])
        c_pairs = c_pair_lens = None
        if pairs is not None:
            penc = [None if p is None else _text_bytes(p, "text_pair[%d]" % i) for i, p in enumerate(pairs)]
            c_pairs = (c_char_p * n)(*penc)
            c_pair_lens = (c_size_t * n)(*[0 if p is None else len(p) for p in penc])
        L = len(self.labels)
        ids = (c_int32 * n)()
        probs = (c_double * (n * L))()
        with self._lock:
            _call("lb_classify", self._handle(), c_texts, c_lens, c_pairs, c_pair_lens, n, ids, probs, None)
        out = []
        for i in range(n):
            p = probs[i * L:(i + 1) * L]
            r = {"label": self.labels[ids[i]], "score": p[ids[i]]}
            if multi:
                r["labels"] = [self.labels[k] for k in range(L) if p[k] >= threshold]
            r["values" if self.problem_type == "regression" else "probs"] = p
            out.append(r)
        return out

    __call__ = predict

    def evaluate(self, data, batch_size=8, text_column="text", label_column=None, text_pair_column=None,
                 split=None, label_columns=None, threshold=None, label_format=None):
        """Trainer.evaluate() on a labelled dataset: a file (CSV/TSV/JSONL/JSON/Parquet), an HF
        dataset folder or hub id (split: default "validation" there), or in-memory rows (a dict of
        columns or a list of dicts). Returns eval_loss, eval_accuracy, eval_precision, eval_recall,
        eval_f1, eval_runtime, eval_samples, confusion_matrix ([true][pred]) and per_class.
        The data is read for the model's problem_type (`lorabert eval`'s rules): a multi-label model
        takes 0/1 columns named by label_columns (a list or "A,B,..."; None: the model's label
        names) and returns the subset accuracy as eval_accuracy, the micro averages as
        eval_precision / eval_recall / eval_f1, eval_*_macro, eval_threshold (threshold: a label is
        predicted when its sigmoid is >= it; None: 0.5) and per_label (with support); a regression
        model reads a number from label_column and returns eval_loss (MSE), eval_mse, eval_mae,
        eval_pearson, eval_spearman. Both add "problem_type". A multi-label model reads lists of
        labels from label_column instead of 0/1 columns when label_column (None: "label") or
        label_format ("auto" | "multi-hot") is given: names matched by name, class ids and
        multi-hot vectors by position (docs/training.md)."""
        if split is None and _is_local_or_hub_folder(data) and not isinstance(data, (dict, list, tuple)):
            split = "validation"
        problem = _problem(self.problem_type)
        cols = _label_columns(label_columns)
        if cols is not None and problem != C.PROBLEM_MULTI_LABEL:
            raise UsageError("label_columns: the model's problem_type is %s, not multi-label" % self.problem_type, 2)
        fmt = _label_format(label_format)
        lists = problem == C.PROBLEM_MULTI_LABEL and cols is None and (label_column is not None or
                                                                        label_format is not None)
        if label_format is not None and not lists:
            raise UsageError("label_format is for a multi-label model reading lists from label_column", 2)
        if cols is None and problem == C.PROBLEM_MULTI_LABEL and not lists:
            cols = _b(",".join(self.labels))
        eo_threshold = _threshold(threshold, "evaluate")
        ds = _Dataset(data, split, text_column, label_column or "label", text_pair_column, problem, cols, fmt)
        try:
            res = C.EvalResult()
            opts = C.EvalOptions(batch_size=_fit(batch_size, c_int, "batch_size"), threshold=eo_threshold)
            with self._lock:
                _call("lb_evaluate_dataset", self._handle(), ds._h, byref(opts), byref(res))
        finally:
            ds.close()
        return _metrics_dict(res, self.labels)

    _CLOSE = "lb_classifier_close"


# ---- training --------------------------------------------------------------------------------

# TrainingArguments names -> lb_train_options fields (same meaning, same defaults).
_TRAIN_ARGS = ("num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size", "learning_rate",
               "weight_decay", "warmup_steps", "max_grad_norm", "seed", "logging_steps", "overwrite_output_dir",
               "resume_from_checkpoint", "max_length", "threads", "base_model_name", "max_steps",
               "gradient_accumulation_steps", "lr_scheduler_type", "warmup_ratio", "report_to", "logging_dir",
               "early_stopping_patience", "early_stopping_threshold", "save_total_limit", "label_smoothing_factor",
               "loraplus_lr_ratio")
# Evaluation / checkpoint strategies (HF DefaultFlowCallback): values lorabert takes.
_FIXED_ARGS = {"evaluation_strategy": ("no", "steps", "epoch"), "eval_strategy": ("no", "steps", "epoch"),
               "save_strategy": ("no", "steps", "epoch"), "load_best_model_at_end": (True, False)}
_LORA_ARGS = ("r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "use_dora", "init_lora_weights",
              "rank_pattern", "alpha_pattern", "modules_to_save")


class _Callbacks(object):
    """Bridges the C callbacks to Python: on_step(info), on_epoch(info), on_log(line),
    on_evaluate(info) (the evaluations of eval_strategy "steps") functions or a callback object
    with those methods. A callback returning True asks training to stop (as
    TrainerControl.should_training_stop); an exception in one (Ctrl-C included) stops training
    and is re-raised by train() once the library has returned."""

    def __init__(self, callback, on_step, on_epoch, on_log, labels, on_evaluate=None):
        self.fns = {"on_step": on_step, "on_epoch": on_epoch, "on_log": on_log, "on_evaluate": on_evaluate}
        if callback is not None:
            for k in self.fns:
                if self.fns[k] is None and callable(getattr(callback, k, None)):
                    self.fns[k] = getattr(callback, k)
        self.labels = labels
        self.cancel = c_int(0)
        self.error = None
        # always installed: running Python code at each step is what lets Ctrl-C stop training
        self.c = C.TrainCallbacks(on_step=C.ON_STEP(self._step), on_epoch=C.ON_EPOCH(self._epoch),
                                  on_log=C.ON_LOG(self._log), cancel=ctypes.pointer(self.cancel),
                                  on_evaluate=C.ON_EPOCH(self._evaluate))

    def _run(self, name, make_arg):
        # Everything runs inside the try: a KeyboardInterrupt raised anywhere in a callback
        # (Python runs a pending signal handler at any bytecode, also while the argument is
        # being built) must stop training and propagate; an exception escaping a ctypes
        # callback would only be printed and lost.
        try:
            fn = self.fns[name]
            if fn is None or self.error is not None:
                return
            if fn(make_arg()) is True:
                self.cancel.value = 1
        except BaseException as e:  # noqa: B902 (KeyboardInterrupt too: stop cleanly, re-raise)
            if self.error is None:
                self.error = e
            self.cancel.value = 1

    def _step(self, user, s):
        self._run("on_step", lambda: {k: getattr(s.contents, k) for k, _ in C.StepInfo._fields_})

    def _epoch_info(self, e):
        e = e.contents
        info = {"epoch": e.epoch, "num_epochs": e.num_epochs, "step": e.step, "train_loss": e.train_loss,
                "epoch_progress": e.epoch_progress, "is_best": e.is_best, "checkpoint_dir": e.checkpoint_dir.decode() if e.checkpoint_dir else None}
        if e.evaluated:
            info.update(_metrics_dict(e.eval, self.labels))
        return info

    def _epoch(self, user, e):
        self._run("on_epoch", lambda: self._epoch_info(e))

    def _evaluate(self, user, e):
        self._run("on_evaluate", lambda: self._epoch_info(e))

    def _log(self, user, line):
        self._run("on_log", lambda: line.decode("utf-8", "replace"))


def train(model, train, validation=None, output_dir=None, *, callback=None, on_step=None, on_epoch=None,
          on_log=None, text_column="text", label_column="label", text_pair_column=None, train_split=None,
          validation_split=None, labels=None, precision="fp32", truncation_side="left", on_evaluate=None,
          problem_type=None, label_columns=None, threshold=None, label_format=None, **kwargs):
    """Fine-tunes `model` with a fresh LoRA adapter on `train`, evaluating on `validation` each
    epoch, and writes the best adapter and run files to output_dir (None: nothing is written).

    Hyperparameters take HF TrainingArguments' names and defaults (num_train_epochs=10,
    per_device_train_batch_size=4, per_device_eval_batch_size=4, learning_rate=1e-3,
    weight_decay=0.01, warmup_steps=0, warmup_ratio=0.0, lr_scheduler_type="linear", max_grad_norm=1.0,
    seed=42, logging_steps=500, gradient_accumulation_steps=1, metric_for_best_model="loss",
    greater_is_better (None: by the metric), early_stopping_patience=0 (HF's EarlyStoppingCallback;
    0: off), early_stopping_threshold=0.0, save_total_limit=0 (0: keep all),
    report_to="none" (or "tensorboard"), logging_dir, overwrite_output_dir,
    resume_from_checkpoint (HF's: True continues the run in output_dir from its newest checkpoint;
    a path is OUTPUT/checkpoint-<step>, OUTPUT/resume or OUTPUT), label_smoothing_factor=0.0, eval_strategy / evaluation_strategy and
    save_strategy ("no" | "steps" | "epoch", default "epoch"), eval_steps (None: logging_steps),
    save_steps=500 (a float < 1: a ratio of the run's steps), load_best_model_at_end=True (False: the
    last step's adapter; True needs matching strategies, HF's checks)), plus class_weights ("auto", "w0,w1,..."
    or a list of numbers, one per label: CrossEntropyLoss(weight=...)),
    max_length=512, truncation_side="left", threads; LoRA's take LoraConfig's names with the seed
    recipe's values, as `lorabert train` (r=4, lora_alpha=32, lora_dropout=0.01, target_modules=the
    query projection, use_rslora=False, use_dora=False, init_lora_weights=True, or "gaussian", False, "pissa" or "olora" (saved converted to
    a plain rank-2r LoRA over the original base, as PEFT's path_initial_model_for_weight_conversion),
    rank_pattern / alpha_pattern dicts of module regex -> rank / alpha as LoraConfig's,
    modules_to_save: module names trained in full beyond the head, a list or "A,B" (LoraConfig's;
    the encoder blocks' LayerNorms, e.g. ["output_layer_norm"])), and
    loraplus_lr_ratio (0: off; PEFT's create_loraplus_optimizer: lora_B and biases at
    learning_rate x ratio).
    Data: paths, HF dataset folders / hub ids (train_split "train", validation_split
    "validation") or in-memory rows. Returns the run's metrics (train_loss, train_runtime,
    global_step, best_epoch, and eval_* with eval_step: the evaluation of the adapter the run
    leaves: the best checkpoint's with load_best_model_at_end, else the last step's when it was
    evaluated, else none).
    problem_type (`lorabert train --problem-type`): "single_label_classification" (class ids or
    names in label_column, cross-entropy), "multi_label_classification" (0/1 columns named by
    label_columns, a list or "A,B,..", which also name the labels unless labels= is given;
    BCEWithLogitsLoss; label_columns alone means this) or "regression" (a number in label_column,
    one output, MSELoss); None: the model's config.json problem_type, else HF's rule. Multi-label
    without label_columns reads each row's list of labels from label_column (names, class ids, or
    multi-hot vectors; label_format="multi-hot" for 0/1 integer vectors); its labels: labels=,
    else a multi-label model's own, else the training set's sorted names, largest id + 1 or vector
    length (`lorabert train`'s rule, docs/training.md). threshold
    (None: 0.5): a label counts as predicted in the multi-label metrics when its sigmoid is >= it.
    The adapter's labels.json records the problem type for Classifier / predict / eval / serve.
    The eval_* values are those of Classifier.evaluate() for the problem type."""
    unknown = [k for k in kwargs if k not in _TRAIN_ARGS and k not in _LORA_ARGS and k not in _FIXED_ARGS
               and k not in ("metric_for_best_model", "greater_is_better", "class_weights", "eval_steps",
                                "save_steps")]
    if unknown:
        raise TypeError("train() got an unexpected keyword argument %r" % unknown[0])
    for k, allowed in _FIXED_ARGS.items():
        if k in kwargs and kwargs[k] not in allowed:
            raise UsageError("%s=%r is not supported (lorabert supports %s)" % (k, kwargs[k], allowed), 2)
    if validation is None and kwargs.get("evaluation_strategy", kwargs.get("eval_strategy")) == "epoch":
        raise UsageError("evaluation_strategy='epoch' needs a validation set", 2)
    if validation is None and kwargs.get("evaluation_strategy", kwargs.get("eval_strategy")) == "steps":
        raise UsageError("evaluation_strategy='steps' needs a validation set", 2)

    # HF's resume_from_checkpoint: True is the run in output_dir (its newest checkpoint with
    # resume state, or resume/ when further on); a path is OUTPUT/checkpoint-<step>, OUTPUT/resume
    # or a run folder (lb_train_resume_find). The model opens with that folder's adapter.
    resume = kwargs.get("resume_from_checkpoint")
    if resume is True:
        if output_dir is None:
            raise UsageError("resume_from_checkpoint=True needs output_dir (the run to continue)", 2)
        resume = output_dir
    if resume is False:
        resume = None
    if resume is not None:
        found = c_void_p()
        _call("lb_train_resume_find", _b(resume), byref(found))
        resume = ctypes.string_at(found.value)
        F["lb_free"](found)
    kwargs["resume_from_checkpoint"] = resume

    opts = C.TrainOptions()
    F["lb_train_options_init"](byref(opts))
    for k in _TRAIN_ARGS:
        if k in kwargs and kwargs[k] is not None:
            v = kwargs[k]
            if k == "num_train_epochs" and float(v) != int(v):
                raise UsageError("num_train_epochs must be a whole number, not %r" % (v,), 2)
            if k == "report_to" and isinstance(v, (list, tuple)):  # TrainingArguments takes a list too
                if len(v) > 1:
                    raise UsageError("report_to=%r: lorabert reports to one of none, tensorboard" % (v,), 2)
                v = v[0] if v else "none"
            if k in ("resume_from_checkpoint", "base_model_name", "lr_scheduler_type", "report_to", "logging_dir"):
                v = _b(v)
            elif isinstance(getattr(opts, k), int) and not isinstance(v, bool):
                v = _fit(int(v), dict(C.TrainOptions._fields_)[k], k)
            setattr(opts, k, v)
    if kwargs.get("greater_is_better") is not None:  # TrainingArguments' bool; None: the metric's own
        opts.greater_is_better = 1 if kwargs["greater_is_better"] else -1
    if kwargs.get("metric_for_best_model") is not None:
        mb = kwargs["metric_for_best_model"]
        opts.metric_for_best_model = _b(mb[5:] if mb.startswith("eval_") else mb)
    cw = kwargs.get("class_weights")
    if cw is not None:  # "auto", "w0,w1,..." or a sequence of numbers (one per label)
        if not isinstance(cw, (str, bytes)):
            cw = ",".join(repr(float(x)) for x in cw)
        opts.class_weights = _b(cw)
    opts.output_dir = _b(output_dir)
    opts.truncate_right = not _truncate_left(truncation_side)
    es = kwargs.get("evaluation_strategy", kwargs.get("eval_strategy"))
    opts.no_eval = es == "no"
    if es in ("steps", "epoch"):
        opts.eval_strategy = _b(es)
    if kwargs.get("save_strategy") is not None:
        opts.save_strategy = _b(kwargs["save_strategy"])
    for k in ("eval_steps", "save_steps"):
        if kwargs.get(k) is not None:
            setattr(opts, k, float(kwargs[k]))
    if kwargs.get("load_best_model_at_end") is not None:
        opts.load_best_model_at_end = 1 if kwargs["load_best_model_at_end"] else -1

    if isinstance(labels, (str, bytes)):
        raise TypeError("labels must be a list of names, not a string")
    # the problem type decides how the data is read (`lorabert train`'s rule): the option, else
    # multi-label with label columns, else the model's (lb_model_open: config.json, HF's rule)
    cols = _label_columns(label_columns)
    if problem_type is None and cols is not None:
        problem_type = "multi_label_classification"
    opts.threshold = _threshold(threshold, "train")
    lora = C.LoraOptions(r=_fit(kwargs.get("r") or 0, c_int, "r"), alpha=kwargs.get("lora_alpha") or 0.0,
                         dropout=0.01 if kwargs.get("lora_dropout") is None else kwargs["lora_dropout"], use_rslora=bool(kwargs.get("use_rslora")),
                         seed=opts.seed, seed_set=True, use_dora=bool(kwargs.get("use_dora")))
    init = kwargs.get("init_lora_weights")
    if init is not None:  # LoraConfig's: True, False or a name
        lora.init = _b("default" if init is True else "false" if init is False else init)
    for k in ("rank_pattern", "alpha_pattern"):  # LoraConfig's dicts -> "KEY=V,KEY=V"
        d = kwargs.get(k)
        if d:
            if any("," in key or "=" in key for key in d):
                raise UsageError("%s: a key holds ',' or '=' (lorabert's separators)" % k, 2)
            setattr(lora, k, _b(",".join("%s=%r" % (key, v) for key, v in d.items())))
    mts = kwargs.get("modules_to_save")
    if mts:
        lora.modules_to_save = _b(mts if isinstance(mts, str) else ",".join(mts))
    tm = kwargs.get("target_modules")
    if tm is not None:
        lora.target_modules = _b(tm if isinstance(tm, str) else ",".join(tm))

    mopts = C.ModelOptions(precision=_precision(precision), seed=opts.seed, seed_set=True,
                           problem_type=_b(problem_type), adapter=resume)  # a bad name: the library's LB_ERR_USAGE
    if labels is None and cols is not None and problem_type == "multi_label_classification":
        labels = cols.decode("utf-8").split(",")  # the label columns name the labels
    if labels is not None:
        label_arr = (c_char_p * len(labels))(*[_b(x) for x in labels])
        mopts.labels, mopts.num_labels = label_arr, len(labels)
    elif problem_type == "regression":  # one output
        mopts.num_labels = 1

    m, run = c_void_p(), c_void_p()
    tr = va = None

    fmt = _label_format(label_format)

    def open_data(problem):
        if cols is not None and problem != C.PROBLEM_MULTI_LABEL:
            raise UsageError("label_columns are for problem_type multi_label_classification", 2)
        if label_format is not None and (cols is not None or problem != C.PROBLEM_MULTI_LABEL):
            raise UsageError("label_format is for multi-label lists in label_column (no label_columns)", 2)
        t = _Dataset(train, train_split or ("train" if _is_local_or_hub_folder(train) else None), text_column,
                     label_column, text_pair_column, problem, cols, fmt)
        v = None
        if validation is not None:
            vs = validation_split or ("validation" if _is_local_or_hub_folder(validation) else None)
            try:
                v = _Dataset(validation, vs, text_column, label_column, text_pair_column, problem, cols, fmt)
            except BaseException:
                t.close()
                raise
        return t, v

    try:
        # a problem type given: the data is read (and its errors reported) before the model, as
        # `lorabert train` does; else the model's problem type says how to read it
        given = c_int()
        if problem_type is not None and F["lb_problem_type_parse"](_b(problem_type), byref(given)):
            tr, va = open_data(given.value)
        if tr is not None and cols is None and labels is None and given.value == C.PROBLEM_MULTI_LABEL:
            # lists: a model that already is multi-label keeps its labels, else the training set's
            probe = c_void_p()
            _call("lb_model_open", _b(model), byref(C.ModelOptions(precision=_precision(precision))), byref(probe))
            pinfo = C.ModelInfo()
            F["lb_model_get_info"](probe, byref(pinfo))
            own = pinfo.problem_type.decode() == "multi_label_classification"
            F["lb_model_close"](probe)
            if not own:
                names, n = _list_labels(tr)
                if n < 1:
                    raise FormatError("%s: every label list is empty: no labels to train (pass labels=[..])"
                                      % F["lb_dataset_file"](tr._h, 0).decode(), 4)
                if names is not None:
                    label_arr = (c_char_p * n)(*[_b(x) for x in names])
                    mopts.labels = label_arr
                mopts.num_labels = n
        _call("lb_model_open", _b(model), byref(mopts), byref(m))
        if resume is None:  # resuming: the checkpoint's adapter, opened with the model
            _call("lb_model_add_adapter", m, byref(lora))
        info = C.ModelInfo()
        F["lb_model_get_info"](m, byref(info))
        names = [info.labels[i].decode("utf-8", "replace") for i in range(info.num_labels)]
        if tr is None:
            tr, va = open_data(_problem(info.problem_type.decode()))
        cbs = _Callbacks(callback, on_step, on_epoch, on_log, names, on_evaluate)
        _call("lb_train_run_open", m, tr._h, va._h if va else None, byref(opts), byref(cbs.c), byref(run))
        res = C.TrainResult()
        try:
            _call("lb_train_run_all", run, byref(res))
        except TrainingInterrupted:
            if cbs.error is not None:
                raise cbs.error
            raise
        if cbs.error is not None:
            raise cbs.error
    finally:
        if run:
            F["lb_train_run_close"](run)
        if va:
            va.close()
        if tr:
            tr.close()
        if m:
            F["lb_model_close"](m)
    out = {"train_loss": res.train_loss, "train_runtime": res.runtime_s, "global_step": res.global_step,
           "train_tokens_per_second": res.tokens_per_s, "best_epoch": res.best_epoch}
    if res.eval_step > 0:  # the returned adapter's evaluation (metrics.json's; docs/training.md)
        out.update(_metrics_dict(res.eval, names))
        out["eval_step"] = res.eval_step
    return out
