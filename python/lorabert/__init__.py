"""lorabert: fine-tune, evaluate and run BERT-family text classifiers with LoRA on a CPU, with
transformers + PEFT's math (fp32), through the C library's public API (ctypes; no PyTorch).

    import lorabert
    with lorabert.Classifier("distilbert-base-uncased", adapter="my-adapter") as clf:
        clf.predict(["It was good.", "Not a fan."])
        # [{'label': 'Positive', 'score': 0.93, 'probs': [0.07, 0.93]}, ...]
        clf.evaluate("validation.csv")      # {'eval_loss': ..., 'eval_accuracy': ..., ...}
    lorabert.train(model="distilbert-base-uncased", train="train.csv", validation="validation.csv",
                   output_dir="out", num_train_epochs=10, learning_rate=1e-3, lora_dropout=0.01)
"""
from . import _capi
from .core import Classifier, Tokenizer, train
from .errors import (FileError, FormatError, InternalError, LoraBertError, NetworkError, NumericError,
                     OutOfMemoryError, TrainingInterrupted, UnsupportedError, UsageError)

__version__ = _capi.F["lb_version"]().decode()
LIBRARY_PATH = _capi.LIB_PATH

__all__ = ["Classifier", "Tokenizer", "train", "LoraBertError", "InternalError", "UsageError", "FileError",
           "FormatError", "UnsupportedError", "OutOfMemoryError", "NetworkError", "NumericError",
           "TrainingInterrupted", "__version__", "LIBRARY_PATH"]
