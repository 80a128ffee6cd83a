"""The compiled API: validate once, run one kernel call, wrap the result.

Same names and signatures as ``gdfast.reference``, plus keyword-only
options the reference does not have: ``threads`` (cost, gradient, batch_gd,
minibatch_gd) and ``method`` (batch_gd, sgd). Results are float64 whatever
the input dtype.
"""

import threading

import numpy as np

from . import _kernels, _validate
from ._hooks import make_hook
from ._result import TrainResult
from ._seq import seq_cost, seq_forward, seq_gradient, seq_loss
from .errors import DivergenceError

__all__ = ["forward", "loss", "cost", "gradient", "batch_gd", "sgd", "minibatch_gd",
           "IMPLEMENTATION", "STATS_MIN_N"]

IMPLEMENTATION = "compiled"

#: method="auto" switches to the fast method (batch_gd: "stats", sgd: "affine")
#: from this many samples on; below it results match the reference's order.
STATS_MIN_N = 1 << 16


_MAIN_THREAD_ID = threading.main_thread().ident


def _typed(fused):
    """A fused kernel's specialisations by dtype: skips Cython's per-call
    dispatch on the buffers' formats (validation already fixed the dtype)."""
    return {np.dtype(np.float64): fused["double"], np.dtype(np.float32): fused["float"]}


_BATCH_GD_PASS = _typed(_kernels.batch_gd_pass)
_SGD_EPOCHS = _typed(_kernels.sgd_epochs)
_MINIBATCH_EPOCHS = _typed(_kernels.minibatch_epochs)


def _main_thread():
    """Only the main thread receives signals; only it polls for Ctrl-C."""
    return threading.get_ident() == _MAIN_THREAD_ID


# ---------------------------------------------------------------- primitives

def _sums(xs, ys, w, threads):
    """(n, sum (x*w-y)**2, sum x*(x*w-y)) after validation; one pass."""
    x, y = _validate.samples(xs, ys)
    w = _validate.weight(w)
    s_rr, s_xr = _kernels.pass_sums(x, y, w, _validate.threads(threads), _main_thread())
    if not (np.isfinite(s_rr) and np.isfinite(s_xr)):
        _validate.raise_if_nonfinite((x, "xs"), (y, "ys"))
        raise OverflowError(f"the sums overflowed float64 at w={w!r}: "
                            "rescale xs and ys")
    return x.shape[0], s_rr, s_xr


def cost(xs, ys, w, *, threads=None):
    """Mean squared error ``mean((x*w - y)**2)``, in squared units of ys."""
    if threads is None:
        fast = seq_cost(xs, ys, w)
        if fast is not None:
            return fast
    n, s_rr, _ = _sums(xs, ys, w, threads)
    return s_rr / n


def gradient(xs, ys, w, *, threads=None):
    """d cost / d w = ``mean(2*x*(x*w - y))``; one sample's gradient for scalars."""
    if threads is None:
        fast = seq_gradient(xs, ys, w)
        if fast is not None:
            return fast
    n, _, s_xr = _sums(xs, ys, w, threads)
    return 2.0 * s_xr / n


def _elementwise(out, scalar, like):
    if not np.isfinite(out).all():
        raise OverflowError("the result overflowed float64: rescale the inputs")
    if scalar:
        return float(out[0])
    return out.tolist() if isinstance(like, (list, tuple)) else out


def forward(x, w):
    """Prediction ``x * w``: float for a scalar, list for a list, else ndarray."""
    fast = seq_forward(x, w)
    if fast is not None:
        return fast
    arr, scalar = _validate.values(x, "x")
    out = np.empty(arr.shape[0])
    _kernels.forward_into(arr, _validate.weight(w), out)
    return _elementwise(out, scalar, x)


def loss(x, y, w):
    """Per-sample squared error ``(x*w - y)**2``, elementwise."""
    fast = seq_loss(x, y, w)
    if fast is not None:
        return fast
    xa, ya = _validate.samples(x, y, names=("x", "y"))
    _validate.raise_if_nonfinite((xa, "x"), (ya, "y"))
    out = np.empty(xa.shape[0])
    _kernels.loss_into(xa, ya, _validate.weight(w), out)
    return _elementwise(out, np.ndim(x) == 0 and np.ndim(y) == 0, x)


# ------------------------------------------------------------------ trainers

def _shuffle(shuffle, seed, n):
    """(shuffler, order): refills order with rng.permutation(n) per epoch,
    drawn exactly as the reference draws it."""
    if not shuffle:
        return None, None
    rng = np.random.default_rng(seed)
    order = np.empty(n, dtype=np.int64)

    def shuffler():
        np.copyto(order, rng.permutation(n))
    return shuffler, order


def _train(method, x, y, w, lr, epochs, callback, progress, run):
    """Allocate the histories once, run one kernel call, build the result.

    ``run(hist, hook)`` calls the kernel, which writes w and the loss of
    epoch e to hist[0, e] and hist[1, e], and returns ``(epochs_done, status)``.
    """
    hist = np.empty((2, epochs))
    hook = make_hook(callback, progress, epochs, method)
    try:
        done, status = run(hist, hook)
    finally:
        if hook is not None:
            hook.close()
    if status or not epochs:             # diverged, stopped early, or no epoch ran
        if status == _kernels.DIVERGED or not epochs:
            _validate.raise_if_nonfinite((x, "xs"), (y, "ys"))
        hist = hist[:, :done]
    result = TrainResult._own(hist[0, done - 1] if done else w, hist, method)
    if status == _kernels.DIVERGED:
        raise DivergenceError(done, lr, result)
    return result


def _choose(method, names, n):
    """Resolve method="auto": the exact-order method (names[0]) for small
    data, the fast one (names[1]) from STATS_MIN_N samples on."""
    if method == "auto":
        return names[1] if n >= STATS_MIN_N else names[0]
    if method not in names:
        raise ValueError(f"method must be 'auto', {names[0]!r} or {names[1]!r}, "
                         f"got {method!r}")
    return method


def _common(xs, ys, w, lr, epochs):
    x, y = _validate.samples(xs, ys)
    return (x, y, _validate.weight(w), _validate.learning_rate(lr),
            _validate.count(epochs, "epochs", 0))


def batch_gd(xs, ys, w=1.0, lr=0.01, epochs=100, *, callback=None, progress=False,
             method="auto", threads=None):
    """Batch gradient descent: one update per epoch with the mean gradient.

    ``loss_history[e]`` is the cost at the start of epoch ``e`` (before the
    update), as the tutorial prints it.

    method : "pass" makes one fused cost+gradient pass over the data per
        epoch. "stats" makes one pass in all, collecting sum x**2 and the
        residual sums about a pilot slope, then runs every epoch from those
        (exact in real arithmetic; rounding differs, see README). "auto"
        (default) uses "stats" from STATS_MIN_N samples on, "pass" below.
    threads : passes over the data use this many OpenMP threads (default 1);
        results are bit-identical for every thread count.
    """
    x, y, w, lr, epochs = _common(xs, ys, w, lr, epochs)
    method = _choose(method, ("pass", "stats"), x.shape[0])
    nthreads = _validate.threads(threads)
    signals = _main_thread()
    n = x.shape[0]
    if epochs and method == "stats":
        stats = _kernels.data_stats(x, y, nthreads, signals)
        if np.isfinite(stats).all():
            def run(hist, hook):
                return _kernels.batch_gd_closed(n, *stats, w, lr, epochs, hist, hook,
                                                signals)
            return _train("batch_gd", x, y, w, lr, epochs, callback, progress, run)
        _validate.raise_if_nonfinite((x, "xs"), (y, "ys"))
        # finite data whose squares overflow: the pass method reports divergence

    def run(hist, hook):
        return _BATCH_GD_PASS[x.dtype](x, y, w, lr, epochs, hist, hook, nthreads, signals)
    return _train("batch_gd", x, y, w, lr, epochs, callback, progress, run)


def sgd(xs, ys, w=1.0, lr=0.01, epochs=100, shuffle=False, seed=None, *,
        callback=None, progress=False, method="auto"):
    """Stochastic gradient descent: one update per sample.

    ``loss_history[e]`` is the loss of the epoch's last sample after its
    update, as the tutorial prints it. ``shuffle=True`` visits a fresh
    permutation from ``numpy.random.default_rng(seed)`` every epoch.

    method : "plain" evaluates the tutorial's ``w -= lr*2*x*(x*w - y)`` as
        written (bit-identical to the reference). "affine" evaluates the same
        update as ``w = (1 - 2*lr*x*x)*w + 2*lr*x*y``, folding four segments
        of each block side by side: several times faster, equal up to
        rounding (README: Accuracy). "auto" (default): "affine" from
        STATS_MIN_N samples on, "plain" below.
    """
    x, y, w, lr, epochs = _common(xs, ys, w, lr, epochs)
    affine = _choose(method, ("plain", "affine"), x.shape[0]) == "affine"
    shuffler, order = _shuffle(shuffle, seed, x.shape[0])

    def run(hist, hook):
        return _SGD_EPOCHS[x.dtype](x, y, w, lr, epochs, hist, hook, shuffler, order,
                                   affine, _main_thread())
    return _train("sgd", x, y, w, lr, epochs, callback, progress, run)


def minibatch_gd(xs, ys, batch_size=32, w=1.0, lr=0.01, epochs=100, shuffle=False,
                 seed=None, *, callback=None, progress=False, threads=None):
    """Mini-batch gradient descent: one update per batch of ``batch_size``.

    The last batch of an epoch may be smaller and is averaged over its own
    size. ``loss_history[e]`` is the cost of the epoch's last batch before
    its update. ``batch_size >= n`` is batch_gd(method="pass"); batch_size=1
    is sgd up to rounding.
    """
    x, y, w, lr, epochs = _common(xs, ys, w, lr, epochs)
    batch_size = _validate.count(batch_size, "batch_size", 1)
    nthreads = _validate.threads(threads)
    shuffler, order = _shuffle(shuffle, seed, x.shape[0])

    def run(hist, hook):
        return _MINIBATCH_EPOCHS[x.dtype](x, y, batch_size, w, lr, epochs, hist, hook,
                                         shuffler, order, nthreads, _main_thread())
    return _train("minibatch_gd", x, y, w, lr, epochs, callback, progress, run)
