"""The tutorial's gradient descent, in plain Python: the oracle.

The tutorial's model is ``y_pred = x * w`` with the per-sample loss
``(x*w - y)**2`` and the cost its mean. Here it is generalised to a dot
product: ``y_pred = x·w + b`` for a sample ``x`` of ``d`` features, with an
optional intercept ``b`` and an L2 penalty ``alpha * |w|**2`` on the
weights (never on ``b``). With 1-D data, ``b = 0`` and ``alpha = 0`` this is
the tutorial, loop for loop: on its data (x = [1, 2, 3], y = [2, 4, 6],
w = 1, lr = 0.01) it prints the tutorial's histories digit for digit.

Arguments are checked and converted by ``gdfast._validate``, the same module
the compiled implementation uses; then everything here runs on Python lists
of Python floats (numpy only draws the shuffle permutation, so shuffled runs
of both implementations visit samples in the same order). Speed is not this
module's job: ``gdfast`` is the fast one, tested against this one.
"""

import numpy as np

from . import _shuffle, _validate
from ._hooks import make_hook
from ._result import TrainResult
from .errors import DivergenceError

__all__ = ["forward", "loss", "cost", "gradient",
           "batch_gd", "sgd", "minibatch_gd", "IMPLEMENTATION"]

#: Which implementation this module is (see ``gdfast.IMPLEMENTATION``).
IMPLEMENTATION = "python"


# ------------------------------------------------- one sample, in Python floats
# A sample x is a float (1-D data) or a list of d floats; w matches it.

def _predict(x, w, b):
    """x·w + b."""
    if isinstance(x, list):
        y_pred = 0.0
        for xj, wj in zip(x, w):
            y_pred += xj * wj
        return y_pred + b
    return x * w + b


def _sq_norm(w):
    """|w|**2."""
    if isinstance(w, list):
        s = 0.0
        for wj in w:
            s += wj * wj
        return s
    return w * w


def _penalty(alpha, w):
    """alpha*|w|**2: exactly 0 without a penalty, even where |w|**2 overflows."""
    return alpha * _sq_norm(w) if alpha else 0.0


def _scaled_add(acc, x, r):
    """acc + 2*(x*r), elementwise for a sample of several features (x*r
    first: (2*x)*r was inf*0 = NaN at an exact fit for x beyond 9e307)."""
    if isinstance(x, list):
        return [a + 2 * (xj * r) for a, xj in zip(acc, x)]
    return acc + 2 * (x * r)


def _step(w, grad, lr, alpha):
    """One gradient step w - lr * (grad + 2*alpha*w)."""
    if isinstance(w, list):
        return [wj - lr * (gj + 2 * alpha * wj) for wj, gj in zip(w, grad)]
    return w - lr * (grad + 2 * alpha * w)


def _zero(w):
    return [0.0] * len(w) if isinstance(w, list) else 0.0


def _add_product(acc, x, r):
    """acc + x*r, elementwise for a sample of several features."""
    if isinstance(x, list):
        return [a + xj * r for a, xj in zip(acc, x)]
    return acc + x * r


def _mean2(total, n):
    """2 * total / n (the mean gradient from a sum of x*r): doubling the sum,
    not each term, so a huge x with r = 0 contributes 0, not inf*0."""
    return [2 * t / n for t in total] if isinstance(total, list) else 2 * total / n


# ------------------------------------------------------------------ primitives

def _as_lists(X, y, w, b, alpha, fit_intercept=False):
    """Validated arguments (_validate.Primitive: the compiled side's checks
    in its order, then finiteness) as Python floats: (xs, ys, w, flat, a)."""
    a = _validate.Primitive(X, y, w, b, alpha, fit_intercept)
    d = a.data
    _validate.raise_if_nonfinite((d.X, "X"), (d.y, "y"))
    w = float(a.w[0]) if d.flat else a.w.tolist()
    return d.X.tolist(), d.y.tolist(), w, d.flat, a


def _sums(xs, ys, w, b):
    """(sum of r**2, sum of x*r, sum of r) with r = x·w + b - y; the mean
    gradients are 2*sum/n (see _mean2)."""
    cost, grad, grad_b = 0, _zero(w), 0
    for x, y in zip(xs, ys):
        r = _predict(x, w, b) - y
        cost += r * r
        grad = _add_product(grad, x, r)
        grad_b += r
    return cost, grad, grad_b


def forward(X, w, b=0.0):
    """Prediction ``x·w + b`` (``x * w`` in the tutorial)."""
    arr, scalar = _validate.values(X, "x")
    xs, flat = arr.tolist(), arr.ndim == 1
    w = _validate.coef(w, 1 if flat else arr.shape[1], flat).tolist()
    w, b = w[0] if flat else w, _validate.intercept(b)
    out = [_predict(x, w, b) for x in xs]
    return _validate.elementwise_result(_validate.finite_result(out, "forward"),
                                        X, scalar, flat)


def loss(X, y, w, b=0.0, *, alpha=0.0):
    """Per-sample loss ``(x·w + b - y)**2 + alpha*|w|**2``, elementwise."""
    xs, ys, w, flat, a = _as_lists(X, y, w, b, alpha)
    b, alpha, scalar = a.b, a.alpha, np.ndim(X) == 0 and np.ndim(y) == 0
    out = []
    for x, yi in zip(xs, ys):
        r = _predict(x, w, b) - yi
        out.append(r * r + _penalty(alpha, w))
    return _validate.elementwise_result(_validate.finite_result(out, "loss"),
                                        X, scalar, flat)


def cost(X, y, w, b=0.0, *, alpha=0.0):
    """Mean squared error ``mean((x·w + b - y)**2) + alpha*|w|**2``."""
    xs, ys, w, flat, a = _as_lists(X, y, w, b, alpha)
    b, alpha = a.b, a.alpha
    cost, _, _ = _sums(xs, ys, w, b)
    return _validate.finite_result(cost / len(xs) + _penalty(alpha, w), "cost")


def gradient(X, y, w, b=0.0, *, alpha=0.0, fit_intercept=False):
    """Gradient of the cost in w: ``mean(2*x*(x·w + b - y)) + 2*alpha*w``.

    With ``fit_intercept=True``, the pair ``(grad_w, grad_b)`` with
    ``grad_b = mean(2*(x·w + b - y))``.
    """
    xs, ys, w, flat, a = _as_lists(X, y, w, b, alpha, fit_intercept)
    b, alpha, fit_intercept = a.b, a.alpha, a.fit_intercept
    _, grad, grad_b = _sums(xs, ys, w, b)
    n = len(xs)
    grad = _mean2(grad, n)
    grad = grad + 2 * alpha * w if flat else [g + 2 * alpha * wj for g, wj in zip(grad, w)]
    _validate.finite_result(grad, "gradient")
    if not flat:
        grad = np.array(grad)
    return (grad, _validate.finite_result(_mean2(grad_b, n), "gradient")) if fit_intercept else grad


# ------------------------------------------------------------------- trainers

def _orders(n, epochs, how, rng):
    """The sample order of each epoch: 0..n-1, a fresh permutation per epoch
    (how "global": shuffle=True), or gdfast._shuffle's block order ("blocks")."""
    for _ in range(epochs):
        if how == "global":
            yield rng.permutation(n).tolist()
        elif how == "blocks":
            yield _shuffle.block_order(n, _shuffle.block_draws(rng, n))
        else:
            yield range(n)


class _Run:
    """Histories of one training run, the divergence rule and the per-epoch
    hook (a context manager: leaving it closes the progress bar)."""

    def __init__(self, trainer, method, p):
        self.trainer, self.method, self.p = trainer, method, p
        self.flat = p.data.flat
        self.w = float(p.w[0]) if self.flat else p.w.tolist()
        self.b = p.b
        self.rows = []
        # epoch_loss_history (see TrainResult): sgd and minibatch_gd only
        tracked = trainer != "batch_gd" and not _validate.tutorial_model(
            p.data.d, p.fit_intercept, p.alpha, p.b)
        self.means = [] if tracked else None
        self.hook = make_hook(p.callback, p.progress, p.epochs, trainer)

    def end_epoch(self, epoch, w, b, loss_val, rss=None):
        """Record an epoch (``rss``: its sum of pre-update squared
        residuals); raise DivergenceError if w, b or the loss is not finite;
        return True to stop."""
        row = ([w] if self.flat else list(w)) + [b, loss_val]
        if not np.all(np.isfinite(row)):
            raise DivergenceError(epoch, self.p.lr, self.result())
        self.w, self.b = w, b
        self.rows.append(row)
        if self.means is not None:
            self.means.append(_validate.epoch_mean(rss, self.p.data.n, self.p.alpha, w))
        if self.hook is None:
            return False
        return self.hook(epoch, w if self.flat else np.array(w), loss_val)

    def result(self):
        rows = np.array(self.rows, dtype=np.float64).reshape(-1, self.p.data.d + 2)
        return TrainResult(rows, self.w, self.b, self.flat, self.trainer, self.method,
                           self.means)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.hook is not None:
            self.hook.close()


_NO_BATCHES = object()      # _setup's batch_size for the trainers without one


def _setup(trainer, method, X, y, w, b, lr, epochs, alpha, fit_intercept, callback,
           progress, batch_size=_NO_BATCHES, shuffle=False, seed=None):
    """Every argument checked in the compiled side's order (the shared ones,
    batch_size, shuffle, seed), then the data's finiteness; the data as
    lists, the run, and (batch size, shuffle mode, generator)."""
    p = _validate.Training(X, y, w, b, lr, epochs, alpha, fit_intercept, callback,
                           progress)
    size = None if batch_size is _NO_BATCHES else _validate.batch_size(batch_size, p.data.n)
    how = _shuffle.mode(shuffle)
    rng = _validate.seed(seed) if how else None
    _validate.raise_if_nonfinite((p.data.X, "X"), (p.data.y, "y"))
    return (p, p.data.X.tolist(), p.data.y.tolist(), _Run(trainer, method, p),
            (size, how, rng))


def batch_gd(X, y, w=1.0, lr=0.01, epochs=100, *, b=0.0, fit_intercept=False, alpha=0.0,
             callback=None, progress=False):
    """Batch gradient descent: one update per epoch with the mean gradient.

    ``loss_history[e]`` is the cost at the start of epoch ``e`` (before that
    epoch's update): exactly the tutorial's printout.
    """
    p, xs, ys, run, _ = _setup("batch_gd", "pass", X, y, w, b, lr, epochs, alpha,
                               fit_intercept, callback, progress)
    w, b, n = run.w, run.b, len(xs)
    with run:
        for epoch in range(p.epochs):
            cost_sum, grad_sum, grad_b_sum = _sums(xs, ys, w, b)
            cost_val = cost_sum / n + _penalty(p.alpha, w)
            w = _step(w, _mean2(grad_sum, n), p.lr, p.alpha)
            if p.fit_intercept:
                b = b - p.lr * _mean2(grad_b_sum, n)
            if run.end_epoch(epoch, w, b, cost_val):
                break
    return run.result()


def sgd(X, y, w=1.0, lr=0.01, epochs=100, shuffle=False, seed=None, *, b=0.0,
        fit_intercept=False, alpha=0.0, callback=None, progress=False):
    """Stochastic gradient descent: one update per sample, in order.

    ``loss_history[e]`` is the loss of the epoch's last sample after its
    update: exactly the tutorial's printout.
    """
    p, xs, ys, run, (_, how, rng) = _setup("sgd", "plain", X, y, w, b, lr, epochs, alpha,
                                           fit_intercept, callback, progress,
                                           shuffle=shuffle, seed=seed)
    w, b = run.w, run.b
    with run:
        for epoch, order in enumerate(_orders(len(xs), p.epochs, how, rng)):
            rss = 0.0                       # the epoch's pre-update squared residuals
            for i in order:
                x, yi = xs[i], ys[i]
                r = _predict(x, w, b) - yi
                rss = rss + r * r
                w = _step(w, _scaled_add(_zero(w), x, r), p.lr, p.alpha)
                if p.fit_intercept:
                    b = b - p.lr * (2 * r)
                r = _predict(x, w, b) - yi
                l = r * r + _penalty(p.alpha, w)
            if run.end_epoch(epoch, w, b, l, rss):
                break
    return run.result()


def minibatch_gd(X, y, batch_size=32, w=1.0, lr=0.01, epochs=100, shuffle=False,
                 seed=None, *, b=0.0, fit_intercept=False, alpha=0.0, callback=None,
                 progress=False):
    """Mini-batch gradient descent: one update per batch of ``batch_size``.

    Batches are consecutive runs of the epoch's order; the last may be
    smaller and is averaged over its own size. ``loss_history[e]`` is the
    cost of the epoch's last batch before its update.
    """
    p, xs, ys, run, (size, how, rng) = _setup("minibatch_gd", "batches", X, y, w, b, lr,
                                              epochs, alpha, fit_intercept, callback,
                                              progress, batch_size, shuffle, seed)
    n = len(xs)
    w, b = run.w, run.b
    with run:
        for epoch, order in enumerate(_orders(n, p.epochs, how, rng)):
            rss = 0.0                       # the batches' pre-update squared residuals
            for start in range(0, n, size):
                batch = order[start:start + size]
                bx = [xs[i] for i in batch]
                by = [ys[i] for i in batch]
                cost_sum, grad_sum, grad_b_sum = _sums(bx, by, w, b)
                cost_val = cost_sum / len(bx) + _penalty(p.alpha, w)
                rss = rss + cost_sum
                w = _step(w, _mean2(grad_sum, len(bx)), p.lr, p.alpha)
                if p.fit_intercept:
                    b = b - p.lr * _mean2(grad_b_sum, len(bx))
            if run.end_epoch(epoch, w, b, cost_val, rss):
                break
    return run.result()
