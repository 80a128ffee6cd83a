"""Every argument check and conversion, once, in pure Python.

Both implementations call this module first (``gdfast.reference`` and the
compiled front ``gdfast._compiled``), so they accept and refuse exactly the
same inputs with the same messages. Nothing here imports compiled code.

Data
----
``X`` is 1-D (``n`` samples of the tutorial's one feature, scalar weight),
2-D of shape ``(n, d)`` (``d`` features, weight vector of shape ``(d,)``) or
a single number (one sample). ``y`` is 1-D of length ``n``. What is copied:

* C-contiguous float32/float64 arrays: nothing, used in place;
* other float32/float64 layouts (Fortran order, strided views): one
  C-contiguous copy of that array, same dtype;
* integers, float16, longdouble, lists, object arrays: one float64 array,
  each value converted as ``float()`` would (``Fraction``, ``Decimal`` and
  Python ints of any size included; a value beyond float64's range is
  refused with its index);
* DataFrames and Series: their ``np.asarray``, then as above (a float
  DataFrame is column-major: one C-contiguous copy, same dtype).

``X`` and ``y`` may have different float dtypes (float32 ``X`` with float64
``y``): each keeps its own (the compiled tutorial-model kernels -- one
feature, no intercept, b = 0 -- take one dtype, so gdfast._compiled widens
both to float64 copies there). Finiteness of float32/float64 data is not a
separate pass in the compiled implementation: NaN and inf propagate through
every sum, so a non-finite result triggers :func:`raise_if_nonfinite`, which
names the first bad element, before anything is recorded or returned.
"""

import decimal
import itertools
import math
import numbers
import operator
import sys

import numpy as np

__all__ = ["Data", "Primitive", "Training", "data", "values", "coef", "intercept", "real",
           "learning_rate", "penalty", "count", "batch_size", "threads", "callback",
           "choice", "flag", "check_training", "require_columns", "seed",
           "raise_if_nonfinite", "finite_result",
           "elementwise_result", "tutorial_model", "epoch_mean", "MAX_THREADS",
           "MAX_COUNT"]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

#: Largest ``threads`` accepted: OpenMP runtimes allocate per-thread state
#: up front, and a huge request exhausts memory or kills the process.
MAX_THREADS = 256

#: Largest ``epochs`` the compiled loops can count (a C ``Py_ssize_t``).
MAX_COUNT = sys.maxsize


class Data:
    """Validated training data: ``X`` (n,) or (n, d), ``y`` (n,)."""

    __slots__ = ("X", "y", "flat", "n", "d", "names")

    def __init__(self, X, y, flat, names):
        # views of their own, not the caller's array objects: a callback
        # that reshapes the caller's X or y (``X.shape = ...``) cannot change
        # the shapes the kernels were validated for (it made them read and
        # write out of bounds)
        self.X, self.y, self.flat, self.names = X.view(), y.view(), flat, names
        self.n = X.shape[0]
        self.d = 1 if flat else X.shape[1]

    def rows(self):
        """X as (n, d): a view, never a copy."""
        return self.X.reshape(self.n, 1) if self.flat else self.X


def _is_nonnative_float(arr):
    return arr.dtype.kind == "f" and arr.dtype not in (_F32, _F64)


def _convert_objects(arr, name):
    """Object array -> float64, element by element as float() would."""
    out = np.empty(arr.shape, dtype=np.float64)
    flat_in, flat_out = arr.reshape(-1), out.reshape(-1)
    for k, v in enumerate(flat_in):
        if not _is_real(v):
            where = np.unravel_index(k, arr.shape) if arr.ndim > 1 else k
            raise TypeError(f"{name} must be real numbers, got {type(v).__name__} "
                            f"{v!r:.40} at index {_index(where)}")
        f = _to_float(v)
        if f is None:
            where = np.unravel_index(k, arr.shape) if arr.ndim > 1 else k
            raise ValueError(f"{name} is out of float64's range (|value| <= {_F64_MAX:.4g}): "
                             f"got {v!r:.40} at index {_index(where)}")
        flat_out[k] = f
    return out


#: the largest finite float64, for messages
_F64_MAX = float(np.finfo(np.float64).max)


def _is_real(v):
    """A real number float() converts: numbers.Real (int, float, Fraction,
    numpy scalars) or decimal.Decimal; never bool."""
    if isinstance(v, (bool, np.bool_)):
        return False
    return isinstance(v, (numbers.Real, decimal.Decimal))


def _to_float(v):
    """float(v), as float() rounds it; None when v is a finite number beyond
    float64's range (float() raises OverflowError or gives inf); NaN for a
    signalling Decimal NaN (reported later as not finite)."""
    try:
        with np.errstate(over="ignore"):
            f = float(v)
    except OverflowError:
        return None
    except ValueError:             # Decimal('sNaN')
        return math.nan
    if math.isinf(f) and _finite_real(v):
        return None
    return f


def _finite_real(v):
    """True for a finite real of any type (Fraction, Decimal, int, ...)."""
    if isinstance(v, decimal.Decimal):
        return v.is_finite()
    if isinstance(v, np.floating):
        return bool(np.isfinite(v))
    try:
        return not (v != v or v in (math.inf, -math.inf))
    except TypeError:  # pragma: no cover - exotic numbers
        return True


def _index(where):
    if isinstance(where, tuple):
        return "(" + ", ".join(str(int(i)) for i in where) + ")"
    return str(int(where))


_PLAIN = (float, int, list, tuple)

#: levels of nesting the list scan looks into: beyond numpy's 64 dimensions
#: np.asarray refuses the data anyway (a list holding itself among them)
_MAX_LEVELS = 66


def _bool_items(t):
    """Whether items of type t may hold bools numpy would widen to numbers:
    anything array-like (ndarrays of any subclass, Series, Categoricals,
    pyarrow arrays, memoryviews), not Python or numpy numbers."""
    return t not in _PLAIN and not issubclass(t, (np.generic, numbers.Number, str, bytes))


def _is_bool_array(v):
    if type(v) is np.ndarray:
        return v.dtype.kind == "b"
    try:
        return np.asarray(v).dtype.kind == "b"
    except Exception:           # np.asarray of the whole reports it
        return False


def _lost_in(seq):
    """What np.asarray would silently lose from a (nested) list or tuple:
    "a bool" (a bool, or an array-like of bools among its items: numpy
    widens [True, 2.0] to floats, where a bool array is refused), "a masked
    array" (its mask is dropped), or None. A masked array anywhere wins (the
    caller checks masks before np.asarray, which warns about them). Level
    by level, without recursion: each level's item types are collected in C
    (set(map)); only where array-like items are present are the items
    looked at one by one, once."""
    found = None
    for _ in range(_MAX_LEVELS):
        if not seq:
            break
        kinds = set(map(type, seq))
        if bool in kinds or np.bool_ in kinds:
            found = "a bool"
        odd = {t for t in kinds if _bool_items(t)}
        if any(issubclass(t, np.ma.MaskedArray) for t in odd):
            return "a masked array"
        if odd and not found and any(_is_bool_array(v) for v in seq if type(v) in odd):
            found = "a bool"
        if list not in kinds and tuple not in kinds:
            break
        seq = list(itertools.chain.from_iterable(       # the next level, flattened in C
            v for v in seq if type(v) is list or type(v) is tuple))
    return found


def _scanned(obj, name):
    """_lost_in(obj) for a list or tuple (else None), a masked item refused
    here, before np.asarray or np.ndim, which warn about masks."""
    lost = _lost_in(obj) if isinstance(obj, (list, tuple)) else None
    if lost == "a masked array":
        raise TypeError(f"{name} must not hold masked arrays: their masks would be "
                        f"ignored; pass plain arrays (.compressed() or .filled(value))")
    return lost


def require_columns(arr, name):
    """Refuse a 2-D array (numpy or Dask) of zero columns."""
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature (column), got shape "
                         f"{arr.shape}")


def _array(obj, name, max_ndim):
    """obj -> C-contiguous float32/float64 ndarray of ndim <= max_ndim,
    a view when obj already is one."""
    if type(obj) is np.ndarray and (obj.dtype is _F64 or obj.dtype is _F32) \
            and obj.flags.c_contiguous and obj.ndim <= max_ndim:
        return obj                       # the common case, used as it is
    if isinstance(obj, np.ma.MaskedArray):
        raise TypeError(f"{name} must not be a masked array: its mask would be "
                        f"ignored; pass {name}.compressed() or {name}.filled(value)")
    if isinstance(obj, (str, bytes)) or obj is None:
        raise TypeError(f"{name} must be real numbers, got {type(obj).__name__}")
    lost = _scanned(obj, name)
    try:
        arr = np.asarray(obj)
    except (ValueError, TypeError) as exc:  # ragged nesting and the like
        raise ValueError(f"{name} must be a rectangular array of numbers "
                         f"(1-D or 2-D): {exc}") from None
    except OverflowError:                    # pragma: no cover - numpy-version dependent
        arr = np.asarray(obj, dtype=object)
    if arr.ndim > max_ndim:
        raise ValueError(f"{name} must be {'1-D or 2-D' if max_ndim == 2 else 'one-dimensional'}"
                         f", got {arr.ndim} dimensions (shape {arr.shape})")
    kind = arr.dtype.kind
    if kind in "fiu" and lost == "a bool":
        raise TypeError(f"{name} must be real numbers, got a bool in a "
                        f"{type(obj).__name__}")
    if kind == "O":
        return _convert_objects(arr, name)
    if kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}"
                        + (" (complex is not supported)" if kind == "c" else ""))
    dtype = arr.dtype.newbyteorder("=")
    if dtype in (_F32, _F64):
        # the canonical dtype object: an equal but distinct one (a memmap's,
        # after newbyteorder) made the tutorial-model path see mixed dtypes
        # and widen both arrays to float64 copies
        dtype = _F32 if dtype == _F32 else _F64
        return np.asarray(arr, dtype=dtype, order="C")   # no-op when already so
    return as_float64(arr, name)


def as_float64(arr, name, start=(0, 0)):
    """ints, float16, longdouble -> C-contiguous float64, as float() converts
    each value; one float64 cannot hold (a longdouble beyond its range) is a
    ValueError naming its index, offset by ``start`` (the row and column
    where a chunk of gdfast.dask begins; a 0-d array is the one sample 0),
    never numpy's cast warning and an inf."""
    with np.errstate(over="ignore"):                      # reported below, by index
        out = np.asarray(arr, dtype=_F64, order="C")
    if _is_nonnative_float(arr):
        bad = np.isinf(out) & np.isfinite(arr)
        if bad.any():
            local = tuple(int(i) for i in np.argwhere(bad)[0])     # () when 0-d
            where = tuple(i + s for i, s in zip(local, start))
            raise ValueError(f"{name} is out of float64's range (|value| <= "
                             f"{_F64_MAX:.4g}): got {arr[local]!r} at index "
                             f"{_index(where if arr.ndim > 1 else (where or start)[0])}")
    return out


def data(X, y, names=("X", "y")):
    """Validate a data pair; returns :class:`Data`.

    X: a number, 1-D (n,) or 2-D (n, d); y: a number or 1-D (n,).
    """
    nx, ny = names
    Xa = _array(X, nx, 2)
    ya = _array(y, ny, 1)
    if Xa.ndim == 0:
        Xa = Xa.reshape(1)
    if ya.ndim == 0:
        ya = ya.reshape(1)
    if Xa.shape[0] != ya.shape[0]:
        raise ValueError(f"{nx} and {ny} must have the same length, got "
                         f"{Xa.shape[0]} and {ya.shape[0]}")
    if Xa.shape[0] == 0:
        raise ValueError(f"{nx} and {ny} must not be empty")
    require_columns(Xa, nx)
    return Data(Xa, ya, Xa.ndim == 1, names)


def values(x, name="x"):
    """Validate one elementwise operand (a number, 1-D or 2-D), checked finite."""
    arr = _array(x, name, 2)
    require_columns(arr, name)
    scalar = arr.ndim == 0
    if scalar:
        arr = arr.reshape(1)
    raise_if_nonfinite((arr, name))
    return arr, scalar


def real(v, name):
    """A finite real number (int, float, Fraction, Decimal, numpy scalar or
    0-d array) -> float."""
    if type(v) is float and math.isfinite(v):
        return v
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "fiuO":
        if isinstance(v, np.ma.MaskedArray):
            raise TypeError(f"{name} must not be a masked array")
        v = v[()]
    if not _is_real(v):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
    f = _to_float(v)
    if f is None:
        raise ValueError(f"{name} is out of float64's range (|value| <= {_F64_MAX:.4g}): "
                         f"got {v!r:.40}")
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, got {f}")
    return f


def coef(w, d, flat, name="w"):
    """Initial coefficients: a scalar (broadcast) or shape (d,) -> a fresh
    float64 array of shape (d,) (never the caller's object)."""
    lost = _scanned(w, name)
    try:
        nd = np.ndim(w)
    except (ValueError, TypeError) as exc:          # a ragged nested sequence
        raise ValueError(f"{name} must be a real number or an array of shape ({d},): "
                         f"{exc}") from None
    if nd == 0:
        return np.full(d, real(w, name))
    if isinstance(w, np.ma.MaskedArray):
        raise TypeError(f"{name} must not be a masked array")
    if isinstance(w, (str, bytes)) or w is None:
        raise TypeError(f"{name} must be a real number or an array of shape ({d},), "
                        f"got {type(w).__name__}")
    try:
        arr = np.asarray(w)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a real number or an array of shape ({d},): "
                         f"{exc}") from None
    if arr.ndim != 1 or arr.shape[0] != d:
        want = "a real number" + ("" if flat else f" or an array of shape ({d},)")
        raise ValueError(f"{name} must be {want} (one per feature), got shape {arr.shape}")
    if arr.dtype.kind not in "fiuO" or lost == "a bool":
        raise TypeError(f"{name} must be real numbers, got "
                        + (f"dtype {arr.dtype}" if arr.dtype.kind not in "fiuO"
                           else f"a bool in a {type(w).__name__}"))
    return np.array([real(v, f"{name}[{j}]") for j, v in enumerate(arr.tolist())],
                    dtype=np.float64)


def intercept(b, name="b"):
    return real(b, name)


def learning_rate(lr):
    """A finite, strictly positive real number -> float."""
    lr = real(lr, "lr")
    if lr <= 0.0:
        raise ValueError(f"lr must be positive, got {lr}")
    return lr


#: Largest alpha: the gradient's penalty term is 2*alpha*w, and 2*alpha must
#: be a float64 (beyond, every penalised step would be inf*w, a divergence
#: that no learning rate or rescaling of the data could avoid).
MAX_ALPHA = sys.float_info.max / 2


def penalty(alpha):
    """The L2 strength: a real number, 0 <= alpha <= MAX_ALPHA -> float."""
    alpha = real(alpha, "alpha")
    if alpha < 0.0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    if alpha > MAX_ALPHA:
        raise ValueError(f"alpha must be at most half of float64's largest value, "
                         f"{MAX_ALPHA!r} (2*alpha, the penalty's gradient factor, must be "
                         f"finite), got {alpha!r}")
    return alpha


def count(value, name, minimum, maximum=MAX_COUNT):
    """An integer (Python or numpy, not bool or float) in [minimum, maximum] -> int."""
    if type(value) is int and minimum <= value <= maximum:
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} "
                        f"{value!r:.40}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def batch_size(value, n):
    """A batch size >= 1; anything above n means n (one batch)."""
    return min(count(value, "batch_size", 1, math.inf), n)


def threads(value):
    """Thread count for the parallel passes: None means 1; 1..MAX_THREADS."""
    return 1 if value is None else count(value, "threads", 1, MAX_THREADS)


def callback(f):
    """None or a callable."""
    if f is not None and not callable(f):
        raise TypeError(f"callback must be callable or None, got {type(f).__name__}")
    return f


def choice(value, name, options):
    """One of the allowed strings."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, "
                         f"got {value!r:.40}")
    return value


def raise_if_nonfinite(*named):
    """Raise ValueError for the first (array, name) holding NaN or +-inf."""
    for arr, name in named:
        bad = ~np.isfinite(arr)
        if bad.any():
            if arr.ndim > 1:
                where = tuple(int(i) for i in np.argwhere(bad)[0])
            else:
                where = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} must be finite, got {arr[where]} at index "
                             f"{_index(where)}")


def finite_result(value, what):
    """The primitives' one overflow rule, in both implementations: a result
    that is not finite (the inputs were checked finite) is OverflowError."""
    if not np.all(np.isfinite(value)):
        raise OverflowError(f"{what} overflowed float64: rescale the inputs")
    return value


def flag(value, name):
    """A bool (Python or numpy)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r:.40}")


_callback = callback


class Primitive:
    """The validated arguments of cost, loss and gradient, checked in one
    order by both implementations: the data (shapes, dtypes), w, b, alpha,
    fit_intercept. Their finiteness comes after (the reference scans first,
    the compiled side finds a NaN in its result), so an input with several
    faults gets the same error from either."""

    __slots__ = ("data", "w", "b", "alpha", "fit_intercept")

    def __init__(self, X, y, w, b, alpha, fit_intercept=False):
        self.data = data(X, y)
        self.w = coef(w, self.data.d, self.data.flat)
        self.b = intercept(b)
        self.alpha = penalty(alpha)
        self.fit_intercept = flag(fit_intercept, "fit_intercept")


class Training:
    """The validated arguments every trainer shares."""

    __slots__ = ("data", "w", "b", "lr", "epochs", "alpha", "fit_intercept",
                 "callback", "progress")

    def __init__(self, X, y, w, b, lr, epochs, alpha, fit_intercept, callback, progress):
        self.data = data(X, y)
        check_training(self, self.data.d, self.data.flat, w, b, lr, epochs, alpha,
                       fit_intercept, callback, progress)


def check_training(p, d, flat, w, b, lr, epochs, alpha, fit_intercept, callback, progress):
    """Check the trainers' shared arguments (after the data, whose d and
    flat they need) in one order, onto p's attributes (Training's, and
    gdfast.dask's for its own data)."""
    p.w = coef(w, d, flat)
    p.b = intercept(b)
    p.lr = learning_rate(lr)
    p.epochs = count(epochs, "epochs", 0)
    p.alpha = penalty(alpha)
    p.fit_intercept = flag(fit_intercept, "fit_intercept")
    p.callback = _callback(callback)
    p.progress = flag(progress, "progress")


def tutorial_model(d, fit_intercept, alpha, b):
    """The tutorial's model: one feature, no intercept (fitted or given), no
    penalty -- where the compiled side runs its whole-run 1-D kernels (and
    no trainer tracks ``epoch_loss_history``)."""
    return d == 1 and not fit_intercept and alpha == 0.0 and b == 0.0


def epoch_mean(rss, n, alpha, w):
    """An ``epoch_loss_history`` entry: ``rss / n + alpha * |w|**2``, from
    the epoch's sum ``rss`` of pre-update squared residuals over n samples
    and the weights ``w`` at its end (a float or a sequence of floats)."""
    pen = 0.0
    if alpha:
        for v in np.ravel(w).tolist():
            pen += v * v
        pen = alpha * pen
    return rss / n + pen


def seed(value):
    """None, an int >= 0, a SeedSequence/BitGenerator or a numpy Generator:
    what ``numpy.random.default_rng`` accepts."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("seed must be None, an integer or a numpy Generator, got bool")
    try:
        return np.random.default_rng(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"seed must be None, a non-negative integer or a numpy "
                        f"Generator: {exc}") from None


def elementwise_result(out, like, scalar, flat):
    """The primitives' return type, in both implementations: a float for a
    number, a list for a 1-D list/tuple, else a float64 ndarray."""
    if scalar:
        return float(out[0])
    if flat and isinstance(like, (list, tuple)):
        return [float(v) for v in out]
    return np.asarray(out, dtype=np.float64)


def is_dask_frame(a):
    """A Dask DataFrame or Series, detected without importing dask (only an
    imported dask.dataframe can have made one)."""
    m = sys.modules.get("dask.dataframe")
    return m is not None and isinstance(a, (m.DataFrame, m.Series))
