"""ctypes bindings of include/lorabert.h (the public C API, nothing else).

The library is found, in order: $LORABERT_LIB (a path), the copy `pip install` bundled next to
this file, the repository's build/release/ when running from a source checkout, then the system
(ctypes.util.find_library("lorabert"), i.e. an installed liblorabert.so.0).

Structures mirror the header field by field; tests/test_abi.py compares their sizes and offsets
with the C compiler's. Functions are called through ctypes.CDLL, which releases the GIL for the
duration of every foreign call.
"""
import ctypes
import ctypes.util
import os
import subprocess
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_float, c_int,
                    c_int32, c_int64, c_size_t, c_uint64, c_void_p)

ABI_MAJOR = 0                       # the LORABERT_VERSION_MAJOR these bindings mirror
SONAME = "liblorabert.so.%d" % ABI_MAJOR
LB_ERROR_MSG_MAX = 1024
LB_MAX_LABELS = 64
# lb_problem_type
PROBLEM_SINGLE_LABEL, PROBLEM_MULTI_LABEL, PROBLEM_REGRESSION = 0, 1, 2

# ---- structures (same order and types as include/lorabert.h) ---------------------------------


class Error(Structure):
    _fields_ = [("code", c_int), ("msg", c_char * LB_ERROR_MSG_MAX)]


class Metrics(Structure):
    _fields_ = [("num_labels", c_int), ("n", c_int64), ("accuracy", c_double), ("precision", c_double),
                ("recall", c_double), ("f1", c_double), ("class_precision", c_double * LB_MAX_LABELS),
                ("class_recall", c_double * LB_MAX_LABELS), ("class_f1", c_double * LB_MAX_LABELS),
                ("confusion", c_int64 * (LB_MAX_LABELS * LB_MAX_LABELS))]


class EvalResult(Structure):
    _fields_ = [("loss", c_double), ("metrics", Metrics), ("runtime_s", c_double), ("problem_type", c_int),
                ("threshold", c_double), ("macro_precision", c_double), ("macro_recall", c_double),
                ("macro_f1", c_double), ("support", c_int64 * LB_MAX_LABELS), ("mse", c_double), ("mae", c_double),
                ("pearson", c_double), ("spearman", c_double)]


class EncodeOptions(Structure):
    _fields_ = [("max_length", c_int), ("truncate_left", c_bool), ("no_special_tokens", c_bool),
                ("replace_invalid_utf8", c_bool)]


class Tokens(Structure):
    _fields_ = [("ids", POINTER(c_int32)), ("type_ids", POINTER(c_int32)), ("n", c_int32), ("cap", c_int32)]


class ModelOptions(Structure):
    _fields_ = [("adapter", c_char_p), ("revision", c_char_p), ("num_labels", c_int),
                ("labels", POINTER(c_char_p)), ("seed", c_uint64), ("seed_set", c_bool),
                ("precision", c_int), ("problem_type", c_char_p)]


class ModelInfo(Structure):
    _fields_ = [("architecture", c_char_p), ("model_type", c_char_p), ("model_dir", c_char_p),
                ("adapter_dir", c_char_p), ("tokenizer_dir", c_char_p), ("vocab_size", c_int),
                ("hidden_size", c_int), ("num_layers", c_int), ("num_heads", c_int),
                ("intermediate_size", c_int), ("max_position_embeddings", c_int), ("num_labels", c_int),
                ("labels", POINTER(c_char_p)), ("load_notice", c_char_p), ("has_adapter", c_bool),
                ("lora_r", c_int), ("lora_alpha", c_double), ("lora_dropout", c_double),
                ("trainable_params", c_int64), ("all_params", c_int64), ("precision", c_int),
                ("problem_type", c_char_p), ("max_tokens", c_int)]


class LoraOptions(Structure):
    _fields_ = [("r", c_int), ("alpha", c_double), ("dropout", c_double), ("target_modules", c_char_p),
                ("use_rslora", c_bool), ("seed", c_uint64), ("seed_set", c_bool), ("use_dora", c_bool),
                ("init", c_char_p), ("rank_pattern", c_char_p), ("alpha_pattern", c_char_p),
                ("modules_to_save", c_char_p)]


class ClassifierOptions(Structure):
    _fields_ = [("model", ModelOptions), ("max_length", c_int), ("truncate_left", c_bool),
                ("batch_size", c_int), ("threads", c_int)]


class AdapterOptions(Structure):
    _fields_ = [("revision", c_char_p), ("labels", POINTER(c_char_p)), ("num_labels", c_int)]


class AdapterInfo(Structure):
    _fields_ = [("dir", c_char_p), ("base_model", c_char_p), ("tokenizer_dir", c_char_p), ("num_labels", c_int),
                ("labels", POINTER(c_char_p)), ("lora_r", c_int), ("lora_alpha", c_double),
                ("target_modules", c_char_p), ("use_rslora", c_bool), ("params", c_int64), ("bytes", c_size_t)]


class DatasetOptions(Structure):
    _fields_ = [("split", c_char_p), ("text_column", c_char_p), ("text_pair_column", c_char_p),
                ("label_column", c_char_p), ("revision", c_char_p), ("shard_count", c_int), ("shard_index", c_int),
                ("shard_block", c_int), ("labels_optional", c_bool), ("problem_type", c_int),
                ("label_columns", c_char_p), ("label_format", c_int)]


class EvalOptions(Structure):
    _fields_ = [("batch_size", c_int), ("collective", c_void_p), ("threshold", c_double)]


class TrainOptions(Structure):
    _fields_ = [("output_dir", c_char_p), ("overwrite_output_dir", c_bool), ("resume_from_checkpoint", c_char_p),
                ("num_train_epochs", c_int), ("per_device_train_batch_size", c_int),
                ("per_device_eval_batch_size", c_int), ("learning_rate", c_double), ("weight_decay", c_double),
                ("warmup_steps", c_int64), ("max_grad_norm", c_double), ("seed", c_uint64),
                ("seed_set", c_bool), ("logging_steps", c_int64), ("metric_for_best_model", c_char_p), ("no_eval", c_bool),
                ("max_length", c_int), ("truncate_right", c_bool), ("threads", c_int),
                ("base_model_name", c_char_p), ("batch_order_file", c_char_p), ("max_steps", c_int64),
                ("output", c_void_p), ("gradient_accumulation_steps", c_int), ("collective", c_void_p),
                ("lr_scheduler_type", c_char_p), ("warmup_ratio", c_double), ("greater_is_better", c_int),
                ("early_stopping_patience", c_int), ("early_stopping_threshold", c_double),
                ("save_total_limit", c_int), ("report_to", c_char_p), ("logging_dir", c_char_p),
                ("label_smoothing_factor", c_double), ("class_weights", c_char_p),
                ("eval_strategy", c_char_p), ("eval_steps", c_double), ("save_strategy", c_char_p),
                ("save_steps", c_double), ("load_best_model_at_end", c_int),
                ("threshold", c_double), ("loraplus_lr_ratio", c_double)]


class StepInfo(Structure):
    _fields_ = [("step", c_int64), ("total_steps", c_int64), ("epoch", c_int), ("num_epochs", c_int),
                ("step_in_epoch", c_int64), ("steps_per_epoch", c_int64), ("epoch_progress", c_double),
                ("loss", c_double), ("grad_norm", c_double), ("learning_rate", c_double), ("tokens", c_int64),
                ("elapsed_s", c_double), ("tokens_per_s", c_double), ("eta_s", c_double)]


class EpochInfo(Structure):
    _fields_ = [("epoch", c_int), ("num_epochs", c_int), ("step", c_int64), ("train_loss", c_double),
                ("logged_loss", c_double), ("evaluated", c_bool), ("eval", EvalResult), ("is_best", c_bool), ("checkpoint_dir", c_char_p),
                ("epoch_progress", c_double)]


ON_STEP = CFUNCTYPE(None, c_void_p, POINTER(StepInfo))
ON_EPOCH = CFUNCTYPE(None, c_void_p, POINTER(EpochInfo))
ON_LOG = CFUNCTYPE(None, c_void_p, c_char_p)

DOWNLOAD_PROGRESS = CFUNCTYPE(None, c_void_p, c_char_p, ctypes.c_longlong, ctypes.c_longlong, c_double, c_bool)


class TrainCallbacks(Structure):
    _fields_ = [("user", c_void_p), ("on_step", ON_STEP), ("on_epoch", ON_EPOCH), ("on_log", ON_LOG),
                ("cancel", POINTER(c_int)), ("on_evaluate", ON_EPOCH)]


class TrainResult(Structure):
    _fields_ = [("global_step", c_int64), ("best_epoch", c_int), ("best_eval", EvalResult),
                ("train_loss", c_double), ("runtime_s", c_double), ("tokens_per_s", c_double),
                ("eval_step", c_int64), ("eval", EvalResult)]


STRUCTS = {"lb_error": Error, "lb_metrics": Metrics, "lb_eval_result": EvalResult,
           "lb_encode_options": EncodeOptions, "lb_tokens": Tokens, "lb_model_options": ModelOptions,
           "lb_model_info": ModelInfo, "lb_lora_options": LoraOptions, "lb_classifier_options": ClassifierOptions,
           "lb_dataset_options": DatasetOptions, "lb_eval_options": EvalOptions, "lb_train_options": TrainOptions,
           "lb_step_info": StepInfo, "lb_epoch_info": EpochInfo, "lb_train_callbacks": TrainCallbacks,
           "lb_train_result": TrainResult, "lb_adapter_options": AdapterOptions, "lb_adapter_info": AdapterInfo}

# ---- functions: name -> (restype, argtypes) --------------------------------------------------
_p = c_void_p  # opaque handles
_E = POINTER(Error)
_st = c_int    # lb_status
PROTOTYPES = {
    "lb_version": (c_char_p, []),
    "lb_version_number": (c_int, []),
    "lb_status_name": (c_char_p, [c_int]),
    "lb_precision_name": (c_char_p, [c_int]),
    "lb_precision_parse": (c_bool, [c_char_p, POINTER(c_int)]),
    "lb_problem_type_name": (c_char_p, [c_int]),
    "lb_problem_type_parse": (c_bool, [c_char_p, POINTER(c_int)]),
    "lb_tokenizer_open": (_st, [c_char_p, POINTER(_p), _E]),
    "lb_tokenizer_close": (None, [_p]),
    "lb_tokenizer_encode": (_st, [_p, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(EncodeOptions),
                                  POINTER(Tokens), _E]),
    "lb_tokens_free": (None, [POINTER(Tokens)]),
    "lb_tokenizer_id_to_token": (c_char_p, [_p, c_int32]),
    "lb_tokenizer_token_to_id": (c_int32, [_p, c_char_p]),
    "lb_tokenizer_vocab_size": (c_int32, [_p]),
    "lb_tokenizer_model_max_length": (c_int32, [_p]),
    "lb_model_open": (_st, [c_char_p, POINTER(ModelOptions), POINTER(_p), _E]),
    "lb_model_close": (None, [_p]),
    "lb_model_resolve": (_st, [c_char_p, c_char_p, POINTER(c_void_p), _E]),
    "lb_model_get_info": (None, [_p, POINTER(ModelInfo)]),
    "lb_model_set_precision": (_st, [_p, c_int, _E]),
    "lb_model_add_adapter": (_st, [_p, POINTER(LoraOptions), _E]),
    "lb_lora_options_check": (_st, [POINTER(LoraOptions), _E]),
    "lb_model_save_adapter": (_st, [_p, c_char_p, _E]),
    "lb_model_save_merged": (_st, [_p, c_char_p, _E]),
    "lb_model_predict_tokens": (_st, [_p, POINTER(c_int32), POINTER(c_int32), POINTER(c_int32), c_int, c_int,
                                      POINTER(c_float), _E]),
    "lb_classifier_open": (_st, [c_char_p, POINTER(ClassifierOptions), POINTER(_p), _E]),
    "lb_classifier_close": (None, [_p]),
    "lb_classifier_model": (_p, [_p]),
    "lb_classifier_tokenizer": (_p, [_p]),
    "lb_classifier_num_labels": (c_int, [_p]),
    "lb_classifier_label": (c_char_p, [_p, c_int]),
    "lb_classify": (_st, [_p, POINTER(c_char_p), POINTER(c_size_t), POINTER(c_char_p), POINTER(c_size_t),
                          c_size_t, POINTER(c_int32), POINTER(c_double), POINTER(c_float), _E]),
    "lb_scores": (None, [POINTER(c_float), c_int, c_bool, POINTER(c_double)]),
    "lb_adapter_open": (_st, [_p, c_char_p, POINTER(AdapterOptions), POINTER(_p), _E]),
    "lb_adapter_close": (None, [_p]),
    "lb_adapter_get_info": (None, [_p, POINTER(AdapterInfo)]),
    "lb_model_predict_adapters": (_st, [_p, POINTER(Tokens), POINTER(_p), c_size_t, POINTER(c_float), c_int, _E]),
    "lb_dataset_open": (_st, [c_char_p, POINTER(DatasetOptions), POINTER(_p), _E]),
    "lb_dataset_close": (None, [_p]),
    "lb_dataset_size": (c_size_t, [_p]),
    "lb_dataset_text": (c_char_p, [_p, c_size_t]),
    "lb_dataset_text_pair": (c_char_p, [_p, c_size_t]),
    "lb_dataset_num_labels": (c_int, [_p]),
    "lb_dataset_label": (c_int32, [_p, c_size_t]),
    "lb_dataset_label_name": (c_char_p, [_p, c_int]),
    "lb_dataset_label_list": (c_int, [_p, POINTER(c_int)]),
    "lb_dataset_target_name": (c_char_p, [_p, c_int]),
    "lb_dataset_classes": (_st, [POINTER(_p), c_int, POINTER(c_char_p), c_int, c_bool, c_char_p,
                                 POINTER(POINTER(c_char_p)), POINTER(c_int), POINTER(c_bool), _E]),
    "lb_dataset_file": (c_char_p, [_p, c_int]),
    "lb_free_strings": (None, [POINTER(c_char_p)]),
    "lb_evaluate_dataset": (_st, [_p, _p, POINTER(EvalOptions), POINTER(EvalResult), _E]),
    "lb_train_options_init": (None, [POINTER(TrainOptions)]),
    "lb_train_run_open": (_st, [_p, _p, _p, POINTER(TrainOptions), POINTER(TrainCallbacks), POINTER(_p), _E]),
    "lb_train_step": (_st, [_p, POINTER(StepInfo), POINTER(c_bool), _E]),
    "lb_train_step_batch": (_st, [_p, POINTER(c_int32), POINTER(c_int32), POINTER(c_int32), c_int, c_int,
                                  POINTER(c_int32), POINTER(StepInfo), _E]),
    "lb_train_run_all": (_st, [_p, POINTER(TrainResult), _E]),
    "lb_train_run_close": (None, [_p]),
    "lb_train_output_open": (_st, [POINTER(TrainOptions), POINTER(_p), _E]),
    "lb_train_resume_find": (_st, [c_char_p, POINTER(c_void_p), _E]),
    "lb_train_output_close": (None, [_p]),
    "lb_hub_download": (_st, [c_char_p, c_bool, c_char_p, POINTER(c_char_p), POINTER(c_void_p), _E]),
    "lb_set_download_progress": (None, [DOWNLOAD_PROGRESS, c_void_p]),
    "lb_describe": (_st, [c_char_p, POINTER(c_void_p), _E]),
    "lb_free": (None, [c_void_p]),
    "lb_blas_preferred_coretype": (c_char_p, []),
    "lb_blas_reexec_if_slow": (None, [POINTER(c_char_p)]),
    "lb_omp_preferred_spincount": (c_char_p, []),
    "lb_runtime_reexec": (None, [POINTER(c_char_p)]),
}

# ---- finding and loading the library ---------------------------------------------------------


def _candidates():
    env = os.environ.get("LORABERT_LIB")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    found = [os.path.join(here, SONAME),
             os.path.join(os.path.dirname(os.path.dirname(here)), "build", "release", SONAME)]
    found = [p for p in found if os.path.exists(p)]
    system = ctypes.util.find_library("lorabert")
    if system:
        found.append(system)
    return found


# Prints two lines: the OPENBLAS_CORETYPE and the GOMP_SPINCOUNT the library prefers ('' for
# none; an older library without lb_omp_preferred_spincount prefers none).
_SETTINGS_PROBE = ("import ctypes, sys\n"
                   "lib = ctypes.CDLL(sys.argv[1])\n"
                   "def ask(name):\n"
                   "    f = getattr(lib, name, None)\n"
                   "    if f is None: return ''\n"
                   "    f.restype = ctypes.c_char_p\n"
                   "    return (f() or b'').decode()\n"
                   "sys.stdout.write(ask('lb_blas_preferred_coretype') + '\\n' + ask('lb_omp_preferred_spincount') + '\\n')\n")


def _prefer_runtime_settings(path):
    """Two settings are read only when their library loads, so the CLI re-executes itself with
    them set (lb_runtime_reexec); a Python process cannot re-execute, so it asks the library in
    a child process and sets them before loading it here:
    - OPENBLAS_CORETYPE: Debian's OpenBLAS may misname this CPU and pick slow kernels (the same
      kernels, so the same bits, as the CLI);
    - GOMP_SPINCOUNT: libgomp spins ~3 ms at a barrier unless told otherwise, which collapses a
      run that shares a core with another process (results do not depend on it).
    Neither is set when the user set it (or OMP_WAIT_POLICY) or when its library is loaded
    already (by torch or numpy, say): too late to choose."""
    want_core = "OPENBLAS_CORETYPE" not in os.environ and not os.environ.get("LORABERT_BLAS_REEXEC")
    want_spin = "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
        want_core = want_core and "libopenblas" not in maps
        want_spin = want_spin and "libgomp" not in maps
        if not (want_core or want_spin):
            return
        out = subprocess.run([sys.executable, "-c", _SETTINGS_PROBE, path], capture_output=True,
                             text=True, timeout=60).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return
    core, spin = (out + ["", ""])[:2]
    if want_core and core.strip():
        os.environ["OPENBLAS_CORETYPE"] = core.strip()
    if want_spin and spin.strip():
        os.environ["GOMP_SPINCOUNT"] = spin.strip()


def _load():
    tried = []
    for path in _candidates():
        _prefer_runtime_settings(path)
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        return path, lib
    raise ImportError("lorabert: cannot load liblorabert (%s); build it with `make lib` or set LORABERT_LIB "
                      "to its path" % ("; ".join(tried) or "not found: no bundled copy, none installed"))


LIB_PATH, _lib = _load()
MISSING = []  # declared in the header but not exported by this build of the library


class _Missing(object):
    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        raise NotImplementedError("%s: not in %s (this build of liblorabert does not implement it yet)"
                                  % (self.name, LIB_PATH))


def _bind():
    funcs = {}
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            f = getattr(_lib, name)
        except AttributeError:
            MISSING.append(name)
            funcs[name] = _Missing(name)
            continue
        f.restype, f.argtypes = restype, argtypes
        funcs[name] = f
    return funcs


F = _bind()


def has(name):
    return name not in MISSING


if not has("lb_version_number") or F["lb_version_number"]() // 10000 != ABI_MAJOR:
    raise ImportError("lorabert: %s is not a version %d.x library" % (LIB_PATH, ABI_MAJOR))
