"""Every argument check and conversion of the compiled API, in one place.

The compiled kernels trust what they are given, so this module is the whole
boundary: it turns the caller's data into 1-D contiguous float32/float64
arrays (without copying when they already are), checks lengths and
parameters, and raises ``TypeError``/``ValueError`` naming the argument.

Finiteness of the data is the one check that is not a separate pass: every
pass the kernels make propagates a NaN or inf in any sample into its result
(NaN and inf are absorbing under + and *), so the front calls
``raise_if_nonfinite`` only when a kernel reports a non-finite result, and
before anything is recorded, returned or handed to a callback. A run with no
pass over the data (``epochs=0``) checks explicitly.
"""

import math
import numbers
import operator

import numpy as np

from . import _kernels

__all__ = ["samples", "values", "weight", "learning_rate", "count", "threads",
           "raise_if_nonfinite"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_F32, _F64 = _FLOAT_DTYPES


def _vector(obj, name):
    """obj -> 1-D C-contiguous float32/float64 array (a view when possible);
    a single number becomes one sample."""
    if (type(obj) is np.ndarray and (obj.dtype is _F64 or obj.dtype is _F32)
            and obj.ndim == 1 and obj.flags.c_contiguous):
        return obj                       # the common case, used as it is
    if isinstance(obj, (str, bytes)) or obj is None:
        raise TypeError(f"{name} must be real numbers, got {type(obj).__name__}")
    try:
        arr = np.asarray(obj)
    except (ValueError, TypeError) as exc:  # ragged nesting and the like
        raise ValueError(f"{name} must be a 1-D sequence of numbers: {exc}") from None
    if arr.dtype is _F64 and arr.ndim == 1 and arr.flags.c_contiguous:
        return arr                       # e.g. a list of floats
    kind = arr.dtype.kind
    if kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}"
                        + (" (complex is not supported)" if kind == "c" else ""))
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got {arr.ndim} "
                         f"dimensions (shape {arr.shape})")
    dtype = arr.dtype.newbyteorder("=")
    if dtype not in _FLOAT_DTYPES:       # ints, float16, longdouble
        dtype = _F64
    # a no-op (same object) for contiguous native float32/float64
    return np.ascontiguousarray(arr, dtype=dtype)


def samples(xs, ys, names=("xs", "ys")):
    """Validate the data pair; returns contiguous arrays of one float dtype."""
    nx, ny = names
    x = _vector(xs, nx)
    y = _vector(ys, ny)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{nx} and {ny} must have the same length, got "
                         f"{x.shape[0]} and {y.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError(f"{nx} and {ny} must not be empty")
    if x.dtype is not y.dtype:           # mixed float32/float64: widen one
        x = x.astype(np.float64, copy=False)
        y = y.astype(np.float64, copy=False)
    return x, y


def values(x, name="x"):
    """Validate one elementwise operand; the array, and whether it was a scalar."""
    arr = _vector(x, name)
    raise_if_nonfinite((arr, name))
    return arr, np.ndim(x) == 0


def weight(w, name="w"):
    """A finite real number -> float."""
    if type(w) is float and math.isfinite(w):
        return w
    if isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Real):
        if isinstance(w, np.ndarray) and w.ndim == 0 and w.dtype.kind in "fiu":
            w = w.item()
        else:
            raise TypeError(f"{name} must be a real number, got {type(w).__name__}")
    w = float(w)
    if not math.isfinite(w):
        raise ValueError(f"{name} must be finite, got {w}")
    return w


def learning_rate(lr):
    """A finite, strictly positive real number -> float."""
    lr = weight(lr, "lr")
    if lr <= 0.0:
        raise ValueError(f"lr must be positive, got {lr}")
    return lr


def count(value, name, minimum):
    """An integer (Python or numpy, not bool or float) >= minimum -> int."""
    if type(value) is int and value >= minimum:
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} "
                        f"{value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def threads(value):
    """Thread count for the parallel passes: None means 1; an int >= 1."""
    return 1 if value is None else count(value, "threads", 1)


def raise_if_nonfinite(*named):
    """Raise ValueError for the first (array, name) holding NaN or +-inf."""
    for arr, name in named:
        i = _kernels.first_nonfinite(arr)
        if i >= 0:
            raise ValueError(f"{name} must be finite, got {arr[i]} at index {i}")
