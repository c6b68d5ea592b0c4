"""Exceptions: one class per lb_status, all subclasses of LoraBertError, each also deriving from
the built-in exception a Python user would catch for that kind of failure."""


class LoraBertError(Exception):
    """A failed lorabert call. `message` is the C library's one-line message (file, position,
    expected versus found); `code` the lb_status number (also the CLI's exit status)."""
    code = None

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return self.message


class InternalError(LoraBertError, RuntimeError):
    """LB_ERR_INTERNAL: a bug in lorabert."""
    code = 1


class UsageError(LoraBertError, ValueError):
    """LB_ERR_USAGE: an invalid argument or option."""
    code = 2


class FileError(LoraBertError, OSError):
    """LB_ERR_IO: a file missing, unreadable or unwritable, a full disk."""
    code = 3

    def __init__(self, message, code=None):
        LoraBertError.__init__(self, message, code)

    def __str__(self):
        return self.message


class FormatError(LoraBertError, ValueError):
    """LB_ERR_FORMAT: a file or text present but malformed (safetensors, JSON, CSV, Parquet,
    UTF-8), or data the model cannot take (a label it does not know)."""
    code = 4


class UnsupportedError(LoraBertError, NotImplementedError):
    """LB_ERR_UNSUPPORTED: valid input lorabert does not support (an architecture, a codec)."""
    code = 5


class OutOfMemoryError(LoraBertError, MemoryError):
    """LB_ERR_NOMEM: an allocation failed."""
    code = 6


class NetworkError(LoraBertError, ConnectionError):
    """LB_ERR_NETWORK: the Hub unreachable, an HTTP error."""
    code = 7

    def __init__(self, message, code=None):
        LoraBertError.__init__(self, message, code)

    def __str__(self):
        return self.message


class NumericError(LoraBertError, ArithmeticError):
    """LB_ERR_NUMERIC: a non-finite loss, gradient, logit or weight."""
    code = 8


class TrainingInterrupted(LoraBertError):
    """LB_ERR_INTERRUPTED: training stopped on request after writing its resume checkpoint."""
    code = 9


BY_CODE = {c.code: c for c in (InternalError, UsageError, FileError, FormatError, UnsupportedError,
                               OutOfMemoryError, NetworkError, NumericError, TrainingInterrupted)}


def from_status(code, message):
    return BY_CODE.get(code, LoraBertError)(message, code)
