"""The epoch driver of the compiled implementation.

One loop for every trainer and method: run an epoch (a compiled per-chunk
kernel, or the statistics), apply the divergence rule, record the epoch in
a growing :class:`~gdfast._result.History`, call the hook, stop when asked.

Divergence rule (both implementations): epoch ``e`` diverges when, at its
end, a coefficient, the intercept or the recorded loss is not finite. The
data are checked first (a NaN in the data is a ValueError naming it, never a
divergence); then ``DivergenceError`` carries the finite epochs before it.

The whole-run kernels (``gdfast._kernels``: the tutorial's one feature, and
the statistics' epochs for any d) keep the epoch loop inside one compiled
call; :func:`whole_runs` drives them a buffer of epochs at a time, so
histories still grow as epochs run.
"""

import math

import numpy as np

from . import _validate
from ._hooks import make_hook
from ._result import History, TrainResult
from .errors import DivergenceError

__all__ = ["epochs", "rounds", "whole_runs"]


def _last_state(p, hist, d):
    """(w, b) after the last recorded epoch (the initial values if none)."""
    if hist.k:
        row = hist.rows()[-1]
        return row[:d].copy(), float(row[d])
    return p.w, p.b


def _check_data(p):
    _validate.raise_if_nonfinite((p.data.X, "X"), (p.data.y, "y"))


def epochs(trainer, method, p, epoch, data=None, check=None):
    """Run ``epoch(w, b) -> (b, loss)`` or ``(b, loss, rss)`` (updates the
    float64 array w in place) up to p.epochs times; returns the TrainResult.
    ``rss``, the epoch's sum of pre-update squared residuals, becomes its
    ``epoch_loss_history`` entry ``rss/n + alpha*|w|**2`` (except for the
    tutorial's model: see TrainResult). (The kernels add no penalty term
    without alpha, as the reference does, so a loss is NaN only when the
    model's numbers overflow.) ``data`` (its ``d``, ``n`` and ``flat``) and
    ``check()`` (raises for non-finite data before a divergence is reported)
    default to the in-memory data's (gdfast.dask passes its own). A callback
    with a true attribute ``_epoch_loss`` (GDRegressor's tol rule on Dask
    arrays) is given the epoch's ``epoch_loss_history`` entry as its loss,
    where the epoch has one."""
    if data is None:
        data = p.data
    if check is None:
        def check():
            _check_data(p)
    w, b = p.w.copy(), p.b
    hist = History(data.d, p.epochs)
    tutorial = _validate.tutorial_model(data.d, p.fit_intercept, p.alpha, p.b)
    means = None if trainer == "batch_gd" or tutorial else []
    hook = make_hook(p.callback, p.progress, p.epochs, trainer)
    mean_to_hook = means is not None and getattr(p.callback, "_epoch_loss", False)

    def result(w, b):
        return TrainResult(hist.rows(), w, b, data.flat, trainer, method, means)
    try:
        if not p.epochs:
            check()
        e = 0
        while e < p.epochs:
            out = epoch(w, b)
            b, loss = out[0], out[1]
            if not (math.isfinite(loss) and math.isfinite(b) and np.isfinite(w).all()):
                check()
                raise DivergenceError(e, p.lr, result(*_last_state(p, hist, data.d)))
            hist.append(w, b, loss)
            if means is not None:
                means.append(_validate.epoch_mean(out[2], data.n, p.alpha, w))
            if hook is not None and hook(e, float(w[0]) if data.flat else w.copy(),
                                         means[-1] if mean_to_hook else loss):
                break
            e += 1
    finally:
        if hook is not None:
            hook.close()
    return result(w, b)


def rounds(trainer, method, p, kernel, status_diverged, status_stopped):
    """Drive a tutorial whole-run kernel ``kernel(rows, e0, w, hook) -> (done,
    status)`` (w a float; rows [w, 0, loss]): :func:`whole_runs` with d = 1.
    The kernels give the hook w as a float; for X of shape (n, 1) it gets
    the array of one coefficient, as every other 2-D run gives."""
    def run(rows, e0, w, b, hook):
        if hook is not None and not p.data.flat:
            def hook(e, w1, loss, hook=hook):
                return hook(e, np.array([w1]), loss)
        done, status = kernel(rows, e0, float(w[0]), hook)
        rows[:done, 1] = p.b        # b as given (0.0 or -0.0): the kernels write 0.0
        return done, status
    return whole_runs(trainer, method, p, run, status_diverged, status_stopped)


def whole_runs(trainer, method, p, kernel, status_diverged, status_stopped, data=None,
               check=None):
    """Drive a whole-run kernel ``kernel(rows, e0, w, b, hook) -> (done,
    status)`` that runs up to len(rows) epochs from epoch e0 and the state
    (w (d,) float64, b), writing [w (d), b, loss] rows; the history grows
    between calls. ``check()`` raises for non-finite data before a
    divergence is reported. ``data`` (its ``d`` and ``flat``) and check
    default to the in-memory data's (gdfast.dask passes its own), as in
    :func:`epochs`."""
    data = p.data if data is None else data
    d, flat = data.d, data.flat
    if check is None:
        def check():
            _check_data(p)
    hist = History(d, p.epochs)
    hook = make_hook(p.callback, p.progress, p.epochs, trainer)
    w, b = np.array(p.w, dtype=np.float64).reshape(d), p.b

    def result():
        return TrainResult(hist.rows(), w, b, flat, trainer, method)
    try:
        if not p.epochs:
            check()
        while hist.k < p.epochs:
            rows = hist.room()
            done, status = kernel(rows, hist.k, w, b, hook)
            hist.k += done
            if done:
                w = rows[done - 1, :d].copy()
                if p.fit_intercept:
                    b = float(rows[done - 1, d])
            if status == status_diverged:
                check()
                raise DivergenceError(hist.k, p.lr, result())
            if status == status_stopped:
                break
    finally:
        if hook is not None:
            hook.close()
    return result()
