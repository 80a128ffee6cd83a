"""The compiled API: validate -> plan -> epoch driver -> compiled kernels.

Same names and signatures as ``gdfast.reference`` (the oracle), plus
keyword-only options the reference does not have: ``threads`` (cost,
gradient, batch_gd, minibatch_gd) and ``method`` (batch_gd, sgd).

Two families of kernels sit under the driver:

* ``gdfast._kernels`` -- the tutorial's model (one feature, no intercept,
  no penalty; 1-D ``X`` or a contiguous ``(n, 1)`` column): SIMD block
  sums, the affine SGD, whole runs in one compiled call;
* ``gdfast._rows`` -- any ``d``, intercept, L2: per-chunk kernels (a fused
  cost+gradient pass, an SGD epoch, a mini-batch epoch), with the
  statistics method in ``gdfast._stats``.
"""

import os
import threading
import warnings

import numpy as np

from . import _driver, _kernels, _permute, _plan, _rows, _shuffle, _stats, _validate
from ._plan import STATS_MIN_N
from ._seq import seq_cost, seq_forward, seq_gradient, seq_loss

__all__ = ["forward", "loss", "cost", "gradient", "batch_gd", "sgd", "minibatch_gd",
           "IMPLEMENTATION", "STATS_MIN_N"]

IMPLEMENTATION = "compiled"

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_SPEC = {_F64: "double", _F32: "float"}


def _typed1(fused):
    """A one-dtype fused kernel's specialisations, by dtype."""
    return {dt: fused[name] for dt, name in _SPEC.items()}


def _typed2(fused):
    """A two-dtype (X, y) fused kernel's specialisations, by dtype pair."""
    return {(dx, dy): fused[nx, ny] for dx, nx in _SPEC.items() for dy, ny in _SPEC.items()}


_BATCH_GD_PASS = _typed1(_kernels.batch_gd_pass)
_SGD_EPOCHS = _typed1(_kernels.sgd_epochs)
_MINIBATCH_EPOCHS = _typed1(_kernels.minibatch_epochs)
_PASS_SUMS = _typed2(_rows.pass_sums)
_BATCH_EPOCH = _typed2(_rows.batch_epoch)
_SGD_EPOCH = _typed2(_rows.sgd_epoch)
_MINIBATCH_EPOCH = _typed2(_rows.minibatch_epoch)


# --------------------------------------------------- threads, fork, signals

_state = {"parallel_used": False, "forked": False, "warned": False}


def _after_fork_in_child():
    # GNU OpenMP's thread pool does not survive fork(): a parallel region in
    # a child of a process that ran one hangs. Such a child runs serially.
    _state["forked"] = _state["parallel_used"]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _threads(value):
    """Validated thread count; 1 in a forked child of a process that ran
    parallel passes (identical results: blocks never depend on threads)."""
    k = _validate.threads(value)
    if k > 1:
        if _state["forked"]:
            if not _state["warned"]:
                _state["warned"] = True
                warnings.warn("gdfast: this process was forked after OpenMP threads "
                              "ran in its parent; running threads=1 here (same results)",
                              RuntimeWarning, stacklevel=3)
            return 1
        _state["parallel_used"] = True
    return k


def _signals():
    """Ctrl-C reaches only the main thread; decided at call time (a process
    forked from another thread has that thread as its main thread)."""
    return threading.current_thread() is threading.main_thread()


# ---------------------------------------------------------------- primitives

def _penalty(alpha, w):
    """alpha*|w|**2 (w: float or array): exactly 0 without a penalty, even
    where |w|**2 overflows (the reference's rule; 0*inf would be NaN)."""
    if not alpha:
        return 0.0
    with np.errstate(over="ignore"):
        return alpha * float(w * w if type(w) is float else w @ w)


def _plain(b, alpha):
    """True for the tutorial's defaults (b = 0, alpha = 0) given as plain numbers."""
    return (type(b) is float or type(b) is int) and b == 0 and \
        (type(alpha) is float or type(alpha) is int) and alpha == 0


def _one_feature(dat, b=0.0):
    """The data as the tutorial's 1-D pair (x, y) of one dtype, or None."""
    if dat.d != 1 or b != 0.0:
        return None
    x = dat.X.reshape(dat.n)
    y = dat.y
    if x.dtype != y.dtype:                # mixed float32/float64: widen one
        x = x.astype(np.float64, copy=False)
        y = y.astype(np.float64, copy=False)
    return x, y


def _sums(a, nthreads):
    """out = [sum r**2, sum r, sum r*x] for validated arguments
    (_validate.Primitive); ValueError for non-finite data."""
    dat = a.data
    out = np.empty(dat.d + 2)
    _PASS_SUMS[dat.X.dtype, dat.y.dtype](dat.rows(), dat.y, a.w, a.b, out, nthreads,
                                          _signals())
    if not np.isfinite(out).all():
        _validate.raise_if_nonfinite((dat.X, "X"), (dat.y, "y"))
    return out


def cost(X, y, w, b=0.0, *, alpha=0.0, threads=None):
    """Mean squared error ``mean((x·w + b - y)**2) + alpha*|w|**2``.

    Parameters
    ----------
    X : float, array_like of shape (n,) or (n, d)
        The samples: one feature (the tutorial's ``x``) or ``d`` features.
    y : float or array_like of shape (n,)
        The targets.
    w : float or array_like of shape (d,)
        The weights (a scalar broadcasts over the features).
    b : float, default 0.0
        The intercept.
    alpha : float, default 0.0
        L2 strength; the intercept is not penalised.
    threads : int, optional
        OpenMP threads for the pass (1 to 256; default 1). Same result for
        every count.

    Returns
    -------
    float
        The cost, in squared units of ``y``.

    Raises
    ------
    ValueError, TypeError
        Bad data or parameters (the message names the argument).
    OverflowError
        The result is not finite although the inputs are.

    Examples
    --------
    >>> import gdfast
    >>> gdfast.cost([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0)
    4.666666666666667
    >>> gdfast.cost([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0], [1.0, 1.0], b=1.0)
    1.0
    """
    if threads is None and _plain(b, alpha):
        fast = seq_cost(X, y, w)
        if fast is not None:
            return fast
    a = _validate.Primitive(X, y, w, b, alpha)
    dat, nthreads = a.data, _threads(threads)
    pair = _one_feature(dat, a.b)
    if pair is not None:                  # the tutorial's block kernel
        w1 = float(a.w[0])
        s_rr, _ = _kernels.pass_sums(*pair, w1, nthreads, _signals())
        if not np.isfinite(s_rr):
            _validate.raise_if_nonfinite((dat.X, "X"), (dat.y, "y"))
        return _validate.finite_result(s_rr / dat.n + _penalty(a.alpha, w1), "cost")
    out = _sums(a, nthreads)
    return _validate.finite_result(float(out[0]) / dat.n + _penalty(a.alpha, a.w), "cost")


def gradient(X, y, w, b=0.0, *, alpha=0.0, fit_intercept=False, threads=None):
    """Gradient of the cost in w: ``mean(2*x*(x·w + b - y)) + 2*alpha*w``.

    Parameters
    ----------
    X, y, w, b, alpha, threads
        As :func:`cost`.
    fit_intercept : bool, default False
        Also return the gradient in ``b``, ``mean(2*(x·w + b - y))``.

    Returns
    -------
    float or numpy.ndarray of shape (d,), or a pair
        A float for 1-D data (for two numbers, that one sample's gradient),
        an array for 2-D ``X``; with ``fit_intercept=True`` the pair
        ``(grad_w, grad_b)``.

    Raises
    ------
    ValueError, TypeError, OverflowError
        As :func:`cost`.

    Examples
    --------
    >>> import gdfast
    >>> gdfast.gradient([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0)
    -9.333333333333334
    >>> gdfast.gradient([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0], 0.0, fit_intercept=True)
    (array([-1., -1.]), -2.0)
    """
    if threads is None and fit_intercept is False and _plain(b, alpha):
        fast = seq_gradient(X, y, w)
        if fast is not None:
            return fast
    a = _validate.Primitive(X, y, w, b, alpha, fit_intercept)
    dat, alpha, fit_intercept, nthreads = a.data, a.alpha, a.fit_intercept, _threads(threads)
    pair = None if fit_intercept else _one_feature(dat, a.b)
    if pair is not None:
        w1 = float(a.w[0])
        _, s_xr = _kernels.pass_sums(*pair, w1, nthreads, _signals())
        if not np.isfinite(s_xr):
            _validate.raise_if_nonfinite((dat.X, "X"), (dat.y, "y"))
        g = 2.0 * s_xr / dat.n + 2.0 * alpha * w1
        g = _validate.finite_result(g, "gradient")
        return g if dat.flat else np.array([g])
    out = _sums(a, nthreads)
    with np.errstate(over="ignore"):      # reported by finite_result
        g = 2.0 * out[2:] / dat.n + (2.0 * alpha) * a.w
    g = _validate.finite_result(g, "gradient")
    g = float(g[0]) if dat.flat else g
    if fit_intercept:
        return g, _validate.finite_result(2.0 * float(out[1]) / dat.n, "gradient")
    return g


def forward(X, w, b=0.0):
    """Prediction ``x·w + b``.

    Parameters
    ----------
    X : float, array_like of shape (n,) or (n, d)
    w : float or array_like of shape (d,)
    b : float, default 0.0

    Returns
    -------
    float, list or numpy.ndarray of shape (n,)
        A float for a number, a list for a 1-D list or tuple, else float64.

    Raises
    ------
    ValueError, TypeError, OverflowError
        As :func:`cost`.

    Examples
    --------
    >>> import gdfast
    >>> gdfast.forward(4, 2.0)
    8.0
    >>> gdfast.forward([[1.0, 2.0]], [3.0, 4.0], b=0.5)
    array([11.5])
    """
    if _plain(b, 0):
        fast = seq_forward(X, w)
        if fast is not None:
            return fast
    arr, scalar = _validate.values(X, "x")
    flat = arr.ndim == 1
    rows = arr.reshape(-1, 1) if flat else arr
    wv = _validate.coef(w, rows.shape[1], flat)
    out = np.empty(rows.shape[0])
    _rows.forward_into(rows, wv, _validate.intercept(b), out)
    return _validate.elementwise_result(_validate.finite_result(out, "forward"),
                                        X, scalar, flat)


def loss(X, y, w, b=0.0, *, alpha=0.0):
    """Per-sample loss ``(x·w + b - y)**2 + alpha*|w|**2``, elementwise.

    Parameters
    ----------
    X, y, w, b, alpha
        As :func:`cost`.

    Returns
    -------
    float, list or numpy.ndarray of shape (n,)
        As :func:`forward`; their mean is :func:`cost`.

    Raises
    ------
    ValueError, TypeError, OverflowError
        As :func:`cost`.

    Examples
    --------
    >>> import gdfast
    >>> gdfast.loss([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0)
    [1.0, 4.0, 9.0]
    """
    if _plain(b, alpha):
        fast = seq_loss(X, y, w)
        if fast is not None:
            return fast
    a = _validate.Primitive(X, y, w, b, alpha)
    dat, wv, b, alpha = a.data, a.w, a.b, a.alpha
    _validate.raise_if_nonfinite((dat.X, "X"), (dat.y, "y"))
    out = np.empty(dat.n)
    if alpha:
        _rows.loss_into(dat.rows(), dat.y, wv, b, alpha, out)
    else:                  # no penalty term (its 0*|w|**2 is NaN for |w| > 1.3e154)
        _rows.forward_into(dat.rows(), wv, b, out)
        with np.errstate(over="ignore"):  # reported by finite_result
            np.subtract(out, dat.y, out=out)
            np.multiply(out, out, out=out)
    scalar = np.ndim(X) == 0 and np.ndim(y) == 0
    return _validate.elementwise_result(_validate.finite_result(out, "loss"),
                                        X, scalar, dat.flat)


# ------------------------------------------------------------------ trainers

def _tutorial_model(p):
    """One feature, no intercept, no penalty: the whole-run SIMD kernels."""
    if not _validate.tutorial_model(p.data.d, p.fit_intercept, p.alpha, p.b):
        return None
    return _one_feature(p.data)


def _order(shuffle, seed, n, generate=False):
    """(refill, order, blocks): refill() draws the next epoch's order into one
    int64 buffer, in place. shuffle=True: the same permutations as the
    reference's ``rng.permutation(n)`` (which shuffles a fresh 0..n-1 the
    same way); shuffle="blocks": gdfast._shuffle's block order, from the same
    draws as the reference's. With ``generate`` (kernels that make the blocks
    order themselves, _order.pxd) shuffle="blocks" refills only the block
    permutation ``blocks`` (n/256 values) and ``order`` is None."""
    how = _shuffle.mode(shuffle)
    if how is None:
        return None, None, None
    rng = _validate.seed(seed)
    if how == "blocks" and generate:
        blocks = np.empty(-(-n // _shuffle.BLOCK_ROWS), dtype=np.int64)

        def refill():
            blocks[:] = _shuffle.block_draws(rng, n)
        return refill, None, blocks
    order = np.empty(n, dtype=np.int64)

    if how == "blocks":
        def refill():
            _rows.block_order(order, _shuffle.block_draws(rng, n), _shuffle.BLOCK_ROWS,
                              _shuffle.GROUP)
        return refill, order, None

    def refill():
        _rows.iota(order)
        _permute.shuffle_like_numpy(order, rng)     # rng.shuffle(order), prefetched
    return refill, order, None


def _certified_run(trainer, p, run, batch):
    """"auto"'s "affine" run of the tutorial's model, unshuffled, with its
    overflow certificate from the first epoch's own read: that epoch runs
    affine while the kernel collects (max|x|, max|y|), before any hook or
    progress bar exists; if ``_plan.sgd_certified_maxima`` then holds, the
    driver records it (and calls the hook for it) as its first epoch and
    the later epochs follow from it. Otherwise the call runs the per-epoch
    method ("plain" / "batches") from the start, the outcome "auto" promises
    (nothing of the discarded epoch reached the caller). Where no data can
    certify (``_plan.sgd_certifiable``) or no epoch is asked for, nothing is
    run speculatively. ``run(affine)`` gives the kernel for
    ``_driver.rounds``; ``batch`` is the largest step's samples (1 for sgd)."""
    n, w0, kernel = p.data.n, float(p.w[0]), run(True)
    slow = "plain" if trainer == "sgd" else "batches"
    if not (p.epochs and _plan.sgd_certifiable(n, p.lr, p.epochs)):
        return _driver.rounds(trainer, slow, p, run(False), _DIVERGED, _STOPPED)
    row, maxima = np.zeros((1, 3)), np.zeros(2)
    done, status = kernel(row, 0, w0, None, maxima)
    if not _plan.sgd_certified_maxima(n, maxima[0], maxima[1], w0, p.lr, p.epochs, batch):
        return _driver.rounds(trainer, slow, p, run(False), _DIVERGED, _STOPPED)

    def first(rows, e0, w, hook):
        if e0:
            return kernel(rows, e0, w, hook)
        if status == _DIVERGED:     # NaN data (a certified run cannot overflow)
            return done, status
        rows[0] = row[0]
        if hook is not None and hook(0, float(row[0, 0]), float(row[0, 2])):
            return 1, _STOPPED
        if rows.shape[0] == 1:
            return 1, status
        more, st = kernel(rows[1:], 1, float(row[0, 0]), hook)
        return 1 + more, st
    return _driver.rounds(trainer, "affine", p, first, _DIVERGED, _STOPPED)


def _training(X, y, w, b, lr, epochs, alpha, fit_intercept, callback, progress):
    return _validate.Training(X, y, w, b, lr, epochs, alpha, fit_intercept, callback,
                              progress)


_DIVERGED, _STOPPED = _kernels.DIVERGED, _kernels.STOPPED


def batch_gd(X, y, w=1.0, lr=0.01, epochs=100, *, b=0.0, fit_intercept=False, alpha=0.0,
             callback=None, progress=False, method="auto", threads=None):
    """Batch gradient descent: one update per epoch with the mean gradient.

    ``loss_history[e]`` is the cost at the start of epoch ``e`` (before the
    update), as the tutorial prints it.

    Parameters
    ----------
    X : array_like of shape (n,) or (n, d)
        The samples (one feature, or ``d``).
    y : array_like of shape (n,)
        The targets.
    w : float or array_like of shape (d,), default 1.0
        Initial weights (a scalar broadcasts).
    lr : float, default 0.01
        Learning rate (> 0).
    epochs : int, default 100
        Epochs to run (0 to 2**63 - 1; a callback may stop earlier).
    b : float, default 0.0
        Initial intercept (fixed unless ``fit_intercept``).
    fit_intercept : bool, default False
        Train the intercept too, with the same ``lr``.
    alpha : float, default 0.0
        L2 strength (``alpha*|w|**2`` in the cost; ``b`` is not penalised).
    callback : callable, optional
        ``callback(epoch, w, loss)`` after each epoch (``w`` a float for 1-D
        data, a copy of the coefficients for 2-D); returning True stops.
    progress : bool, default False
        Show a tqdm progress bar (``pip install 'gdfast[progress]'``).
    method : {"auto", "pass", "stats"}
        See below.
    threads : int, optional
        OpenMP threads for the passes (1 to 256; default 1).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError, TypeError
        Bad data or parameters, before any training.
    DivergenceError
        An epoch ended with a non-finite coefficient, intercept or loss.

    Examples
    --------
    >>> import gdfast
    >>> r = gdfast.batch_gd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], w=1.0, lr=0.01, epochs=2)
    >>> r.w_history.tolist(), r.loss_history.tolist()
    ([1.0933333333333333, 1.1779555555555554], [4.666666666666667, 3.8362074074074086])
    >>> r = gdfast.batch_gd([[0.0], [1.0], [2.0]], [5.0, 7.0, 9.0], w=0.0, lr=0.2,
    ...                     epochs=500, fit_intercept=True)
    >>> round(float(r.coef[0]), 6), round(r.intercept, 6)
    (2.0, 5.0)

    Notes
    -----
    method : "pass" makes one fused cost+gradient pass over the data per
        epoch. "stats" reads the data a fixed number of times (two for one
        feature without intercept and otherwise) and runs every epoch from
        the sufficient statistics (exact in real arithmetic; rounding differs,
        see docs/accuracy.md). "auto" (default) picks "stats" from
        STATS_MIN_N samples on when its passes cost less than the epochs',
        its matrices fit in memory, and (many features) the centred
        features' correlation matrix is well conditioned, without which the
        statistics cannot hold its small directions (gdfast._plan); the
        choice is ``result.method``.
        Overflow: every method follows the one divergence rule (an epoch
        whose coefficients, intercept or recorded loss are not finite raises
        DivergenceError). "pass" overflows where the residuals
        ``x·w + b - y``, their squares or their sums do; "stats" where its
        quadratic form in ``w - w*`` does (``(w - w*)**2`` can overflow while
        every residual is small, and the reverse). "auto" runs "stats" only
        with a certificate that neither can overflow during this run, so its
        outcome (result or DivergenceError) is always that of "pass"; an
        explicit ``method="stats"`` may differ near overflow
        (docs/hardening.md).
    threads : passes over the data use this many OpenMP threads (default 1);
        results are bit-identical for every thread count.
    """
    p = _training(X, y, w, b, lr, epochs, alpha, fit_intercept, callback, progress)
    nthreads, signals = _threads(threads), _signals()
    pair = _tutorial_model(p)
    n, lr, auto = p.data.n, p.lr, method == "auto"
    method = _plan.batch_method(method, n, p.data.d, p.epochs, pair is not None)
    if pair is not None:
        x, yv = pair
        if method == "stats" and p.epochs:
            stats = _kernels.data_stats(x, yv, nthreads, signals)
            if auto and not _plan.tutorial_stats_certified(n, *stats, float(p.w[0]), lr,
                                                           p.epochs):
                method = "pass"          # no overflow certificate: see gdfast._plan
            elif np.isfinite(stats).all():
                def kernel(rows, e0, w, hook):
                    return _kernels.batch_gd_closed(n, *stats, w, lr, rows, e0, hook,
                                                    signals)
                return _driver.rounds("batch_gd", method, p, kernel, _DIVERGED, _STOPPED)
            else:
                _validate.raise_if_nonfinite((p.data.X, "X"), (p.data.y, "y"))
                method = "pass"   # finite data whose squares overflow: passes report it

        def kernel(rows, e0, w, hook):
            return _BATCH_GD_PASS[x.dtype](x, yv, w, lr, rows, e0, hook, nthreads, signals)
        return _driver.rounds("batch_gd", method, p, kernel, _DIVERGED, _STOPPED)

    Xr, yv = p.data.rows(), p.data.y
    if method == "stats" and p.epochs:
        st = _stats.collect(Xr, yv, signals)
        if st is not None and auto and not _plan.stats_certified(
                st, p.w, p.b, lr, p.alpha, p.fit_intercept, p.epochs):
            method = "pass"              # no certificate (overflow, rounding): gdfast._plan
        elif st is not None:
            return _driver.whole_runs(
                "batch_gd", method, p,
                _stats.whole_run(st, lr, p.alpha, p.fit_intercept, p.data.flat, signals),
                _DIVERGED, _STOPPED)
        else:
            _validate.raise_if_nonfinite((p.data.X, "X"), (p.data.y, "y"))
            method = "pass"
    kern = _BATCH_EPOCH[Xr.dtype, yv.dtype]

    def epoch(w, b):
        return kern(Xr, yv, w, b, lr, p.alpha, p.fit_intercept, nthreads, signals)
    return _driver.epochs("batch_gd", method, p, epoch)


#: sgd's methods over rows of any d -> the kernel's mode (_rows.sgd_epoch)
SGD_MODES = {"plain": _rows.PLAIN, "lanes": _rows.LANES, "gram": _rows.GRAM}


def sgd(X, y, w=1.0, lr=0.01, epochs=100, shuffle=False, seed=None, *, b=0.0,
        fit_intercept=False, alpha=0.0, callback=None, progress=False, method="auto"):
    """Stochastic gradient descent: one update per sample.

    ``loss_history[e]`` is the loss of the epoch's last sample after its
    update, as the tutorial prints it.

    Parameters
    ----------
    X, y, w, lr, epochs, b, fit_intercept, alpha, callback, progress
        As :func:`batch_gd`.
    shuffle : bool or "blocks", default False
        Visit the samples of each epoch in a fresh order (see below).
    seed : None, int or numpy.random.Generator
        Source of the shuffles (anything ``numpy.random.default_rng`` takes).
    method : {"auto", "plain", "affine", "lanes", "gram"}
        See below.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError, TypeError, DivergenceError
        As :func:`batch_gd`.

    Examples
    --------
    >>> import gdfast
    >>> r = gdfast.sgd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], w=1.0, lr=0.01, epochs=1)
    >>> r.w, r.loss
    (1.260688, 4.919240100095999)

    Notes
    -----
    ``shuffle=True`` visits a fresh permutation from ``numpy.random.default_rng(seed)`` every epoch;
    ``shuffle="blocks"`` a locality-keeping order from the same Generator
    (gdfast._shuffle: permuted blocks of rows, interleaved), several times
    faster on large data.

    method : "plain" evaluates the reference's update as written (bit for
        bit). "affine" (one feature, no intercept, no penalty) evaluates the
        same update as ``w = (1 - 2*lr*x*x)*w + 2*lr*x*y``, folding eight
        segments of each block side by side: several times faster, equal up
        to rounding (docs/accuracy.md). "lanes" (any data) takes each x·w in
        SIMD lanes and vectorises the update. "gram" (any data) updates
        four rows at a time through their Gram matrix, so the chain of
        dependent operations per row is short. Both equal "plain" in real
        arithmetic, within documented rounding. "auto" (default): from
        STATS_MIN_N samples on, "affine" where it applies and a certificate
        holds, "gram" up to 16 features (_plan.GRAM_MAX_D) in order,
        "lanes" beyond 16 or shuffled; "plain" below STATS_MIN_N.
        Overflow: all follow the one divergence rule (an epoch whose
        coefficients, intercept or recorded loss are not finite raises
        DivergenceError). "plain" overflows where ``x*w``, the residual or
        ``2*(x*r)`` does; "affine" where the factors ``1 - 2*lr*x*x``, their
        products or the folded maps do -- earlier or later than "plain".
        "auto" takes "affine" only with a certificate that neither can
        overflow in this run (``lr * max x**2 <= 1`` and a bound on ``|w|``
        from ``max|x|`` and ``max|y|``, which an unshuffled first epoch
        collects from its own loads -- it counts only if the certificate
        holds, else the call reruns as "plain" -- and a shuffled call reads
        first), so its outcome (result or DivergenceError) is always that of
        "plain"; an explicit ``method="affine"`` may differ near overflow
        (docs/hardening.md). "lanes" and "gram" have no certificate: near
        float64's range (e.g. "gram"'s x_i·x_k from ``|x|`` of about 1e154) their
        outcome may differ from "plain"'s (gdfast._plan, docs/hardening.md).
    """
    p = _training(X, y, w, b, lr, epochs, alpha, fit_intercept, callback, progress)
    shuffled = _shuffle.mode(shuffle) is not None
    pair = _tutorial_model(p)
    later = pair is not None and not shuffled   # certified from the first epoch's read
    chosen = _plan.sgd_method(method, p.data.n, p.data.d, pair is not None,
                              None if later else lambda: _plan.sgd_certified(
                                  *pair, float(p.w[0]), p.lr, p.epochs, _rows.max_abs_pair),
                              shuffled=shuffled)
    refill, order, blocks = _order(shuffle, seed, p.data.n, generate=True)
    signals, lr = _signals(), p.lr
    rows_, group = _shuffle.BLOCK_ROWS, _shuffle.GROUP
    if pair is not None and chosen in ("plain", "affine"):
        x, yv = pair

        def run(affine):
            def kernel(rows, e0, w, hook, maxima=None):
                return _SGD_EPOCHS[x.dtype](x, yv, w, lr, rows, e0, hook, refill, order,
                                           affine, signals, blocks, rows_, group, maxima)
            return kernel
        if later and method == "auto" and chosen == "affine":
            return _certified_run("sgd", p, run, 1)
        return _driver.rounds("sgd", chosen, p, run(chosen == "affine"), _DIVERGED,
                              _STOPPED)
    method = chosen

    Xr, yv = p.data.rows(), p.data.y
    kern = _SGD_EPOCH[Xr.dtype, yv.dtype]
    mode = SGD_MODES[method]

    def epoch(w, b):
        if refill is not None:
            refill()
        return kern(Xr, yv, w, b, lr, p.alpha, p.fit_intercept, order, signals, mode,
                    blocks, rows_, group)
    return _driver.epochs("sgd", method, p, epoch)


def minibatch_gd(X, y, batch_size=32, w=1.0, lr=0.01, epochs=100, shuffle=False,
                 seed=None, *, b=0.0, fit_intercept=False, alpha=0.0, callback=None,
                 progress=False, method="auto", threads=None):
    """Mini-batch gradient descent: one update per batch of ``batch_size``.

    The last batch of an epoch may be smaller and is averaged over its own
    size. ``loss_history[e]`` is the cost of the epoch's last batch before
    its update. ``batch_size >= n`` is batch_gd(method="pass");
    batch_size=1 is sgd up to rounding.

    Parameters
    ----------
    X, y, w, lr, epochs, b, fit_intercept, alpha, callback, progress, threads
        As :func:`batch_gd`.
    batch_size : int, default 32
        Samples per update (>= 1; above n means one batch).
    shuffle, seed
        As :func:`sgd`.
    method : {"auto", "batches", "affine"}
        See below.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError, TypeError, DivergenceError
        As :func:`batch_gd`.

    Examples
    --------
    >>> import gdfast
    >>> r = gdfast.minibatch_gd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], batch_size=2, w=1.0,
    ...                         lr=0.01, epochs=1)
    >>> r.w
    1.221

    Notes
    -----
    method : "batches" takes each batch's sums at the current weights, the
        reference's expressions (bit for bit on the tutorial's data).
        "affine" (one feature, no intercept, no penalty) takes each batch's
        sums of ``x*x`` and ``x*y``, which do not depend on ``w``, and steps
        ``w -= lr*2*(w*S_xx - S_xy)/m``: the batches' sums run side by side
        instead of one after another, equal up to rounding
        (docs/accuracy.md); the overlap comes from unshuffled batches of at
        most 2048 samples. "auto" (default): "affine" from STATS_MIN_N samples
        on, for batches of at most 2048 (_plan.AFFINE_MAX_BATCH), where it
        applies and its overflow certificate (that of :func:`sgd` scaled by
        the batch size) holds, else "batches". Unshuffled, the first epoch
        collects the certificate's maxima itself, as in :func:`sgd`;
        shuffled, the certificate reads the data first, so "auto" takes
        "affine" there from 4 epochs on (_plan.AFFINE_MIN_EPOCHS).
    """
    p = _training(X, y, w, b, lr, epochs, alpha, fit_intercept, callback, progress)
    size = _validate.batch_size(batch_size, p.data.n)
    shuffled = _shuffle.mode(shuffle) is not None
    nthreads, signals, lr = _threads(threads), _signals(), p.lr
    pair = _tutorial_model(p)
    m = min(size, p.data.n)               # the largest batch's samples
    later = pair is not None and not shuffled   # certified from the first epoch's read
    chosen = _plan.minibatch_method(
        method, p.data.n, p.epochs, pair is not None,
        None if later else lambda: _plan.sgd_certified(
            *pair, float(p.w[0]), p.lr, p.epochs, _rows.max_abs_pair, batch=m),
        batch=m, shuffled=shuffled)
    refill, order, _ = _order(shuffle, seed, p.data.n)
    if pair is not None:
        x, yv = pair

        def run(affine):
            def kernel(rows, e0, w, hook, maxima=None):
                return _MINIBATCH_EPOCHS[x.dtype](x, yv, size, w, lr, rows, e0, hook,
                                                 refill, order, nthreads, signals, affine,
                                                 maxima)
            return kernel
        if later and method == "auto" and chosen == "affine":
            return _certified_run("minibatch_gd", p, run, m)
        return _driver.rounds("minibatch_gd", chosen, p, run(chosen == "affine"),
                              _DIVERGED, _STOPPED)
    method = chosen

    Xr, yv = p.data.rows(), p.data.y
    kern = _MINIBATCH_EPOCH[Xr.dtype, yv.dtype]

    def epoch(w, b):
        if refill is not None:
            refill()
        return kern(Xr, yv, w, b, lr, p.alpha, p.fit_intercept, size, order, nthreads,
                    signals)

    return _driver.epochs("minibatch_gd", method, p, epoch)
