"""The tutorial's gradient descent, in plain Python: the oracle.

Model ``y_pred = x * w``; per-sample loss ``(x*w - y)**2``; cost is its mean
over samples. This module keeps the tutorial's loops and its order of
arithmetic, so on the tutorial's data (x = [1, 2, 3], y = [2, 4, 6], w = 1,
lr = 0.01) it prints the tutorial's histories digit for digit. Everything in
``gdfast`` is tested against it. Speed is not its job; it does no input
checking beyond what Python does (use ``gdfast`` for that).

numpy is used only to draw the shuffle permutation, so that shuffled runs of
both implementations visit samples in the same order.
"""

import math

import numpy as np

from ._hooks import make_hook
from ._result import TrainResult
from .errors import DivergenceError

__all__ = ["forward", "loss", "cost", "gradient",
           "batch_gd", "sgd", "minibatch_gd", "IMPLEMENTATION"]

#: Which implementation this module is (see ``gdfast.IMPLEMENTATION``).
IMPLEMENTATION = "python"


def _is_sequence(v):
    return hasattr(v, "__len__")


def forward(x, w):
    """Prediction ``x * w`` (elementwise over a sequence, as a list)."""
    if _is_sequence(x):
        return [xi * w for xi in x]
    return x * w


def loss(x, y, w):
    """Per-sample squared error ``(x*w - y)**2`` (elementwise, as a list)."""
    if _is_sequence(x):
        return [loss(xi, yi, w) for xi, yi in zip(x, y)]
    y_pred = forward(x, w)
    return (y_pred - y) ** 2


def cost(xs, ys, w):
    """Mean squared error ``mean((x*w - y)**2)`` over the samples."""
    if not _is_sequence(xs):
        xs, ys = [xs], [ys]
    cost = 0
    for x, y in zip(xs, ys):
        y_pred = forward(x, w)
        cost += (y_pred - y) ** 2
    return cost / len(xs)


def gradient(xs, ys, w):
    """d cost / d w = ``mean(2*x*(x*w - y))``; one sample's gradient for scalars."""
    if not _is_sequence(xs):
        return 2 * xs * (xs * w - ys)
    grad = 0
    for x, y in zip(xs, ys):
        grad += 2 * x * (x * w - y)
    return grad / len(xs)


def _orders(n, epochs, shuffle, seed):
    """The sample order of each epoch: 0..n-1, or a fresh permutation per epoch."""
    rng = np.random.default_rng(seed) if shuffle else None
    for _ in range(epochs):
        yield rng.permutation(n) if shuffle else range(n)


class _Run:
    """Histories of one training run, divergence check and per-epoch hook
    (a context manager: leaving it closes the progress bar)."""

    def __init__(self, method, w, lr, epochs, callback, progress):
        self.method, self.w, self.lr = method, w, lr
        self.w_history, self.loss_history = [], []
        self.hook = make_hook(callback, progress, epochs, method)

    def end_epoch(self, epoch, w, loss_val):
        """Record an epoch; raise on divergence; return True to stop."""
        if not (math.isfinite(w) and math.isfinite(loss_val)):
            raise DivergenceError(epoch, self.lr, self.result())
        self.w = w
        self.w_history.append(w)
        self.loss_history.append(loss_val)
        return self.hook is not None and self.hook(epoch, w, loss_val)

    def result(self):
        return TrainResult(self.w, self.w_history, self.loss_history, self.method)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.hook is not None:
            self.hook.close()


def batch_gd(xs, ys, w=1.0, lr=0.01, epochs=100, *, callback=None, progress=False):
    """Batch gradient descent: one update per epoch with the mean gradient.

    ``loss_history[e]`` is the cost at the start of epoch ``e`` (before that
    epoch's update): exactly the tutorial's printout.
    """
    with _Run("batch_gd", w, lr, epochs, callback, progress) as run:
        for epoch in range(epochs):
            try:
                cost_val = cost(xs, ys, w)
                grad_val = gradient(xs, ys, w)
                w -= lr * grad_val
            except OverflowError:  # Python floats raise where C gives inf
                w = cost_val = math.inf
            if run.end_epoch(epoch, w, cost_val):
                break
    return run.result()


def sgd(xs, ys, w=1.0, lr=0.01, epochs=100, shuffle=False, seed=None, *,
        callback=None, progress=False):
    """Stochastic gradient descent: one update per sample, in order.

    ``loss_history[e]`` is the loss of the epoch's last sample after its
    update: exactly the tutorial's printout.
    """
    with _Run("sgd", w, lr, epochs, callback, progress) as run:
        for epoch, order in enumerate(_orders(len(xs), epochs, shuffle, seed)):
            try:
                for i in order:
                    x, y = xs[i], ys[i]
                    grad_val = gradient(x, y, w)
                    w -= lr * grad_val
                    l = loss(x, y, w)
            except OverflowError:
                w = l = math.inf
            if run.end_epoch(epoch, w, l):
                break
    return run.result()


def minibatch_gd(xs, ys, batch_size=32, w=1.0, lr=0.01, epochs=100, shuffle=False,
                 seed=None, *, callback=None, progress=False):
    """Mini-batch gradient descent: one update per batch of ``batch_size``.

    Batches are consecutive runs of the epoch's order; the last may be
    smaller and is averaged over its own size. ``loss_history[e]`` is the
    cost of the epoch's last batch before its update.
    """
    n = len(xs)
    with _Run("minibatch_gd", w, lr, epochs, callback, progress) as run:
        for epoch, order in enumerate(_orders(n, epochs, shuffle, seed)):
            try:
                for start in range(0, n, batch_size):
                    batch = order[start:start + batch_size]
                    bx = [xs[i] for i in batch]
                    by = [ys[i] for i in batch]
                    cost_val = cost(bx, by, w)
                    grad_val = gradient(bx, by, w)
                    w -= lr * grad_val
            except OverflowError:
                w = cost_val = math.inf
            if run.end_epoch(epoch, w, cost_val):
                break
    return run.result()
