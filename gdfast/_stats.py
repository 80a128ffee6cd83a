"""Batch GD from sufficient statistics (method "stats"), for any d.

Batch gradient descent on ``mean((x·w + b - y)**2) + alpha*|w|**2`` needs,
at any ``(w, b)``, only the sums of ``r**2``, ``r`` and ``r*x`` with
``r = x·w + b - y``. Those are quadratic in ``(w, b)``, so three passes
over the data give every epoch's numbers exactly (in real arithmetic):

1. column means ``xbar`` and ``ybar``;
2. ``C = sum u u'`` with ``u = x - xbar`` (numpy's BLAS: the standard
   tool for a Gram matrix), ``sum u*v`` with ``v = y - ybar``, and the
   least-squares centre ``w*`` solving ``C w* = sum u*v``;
3. residuals about the centre ``e = v - u·w*``: ``sum e**2``, ``sum e*u``,
   ``sum e``.

With ``delta = w - w*`` and ``m = xbar·w + b - ybar`` the sums are
``sum r**2 = delta'C delta - 2 delta·h + s_ee + n m**2 + 2 m (s_u·delta - s_e)``
``sum r    = s_u·delta - s_e + n m``  and
``sum r*x  = C delta - h + m s_u + xbar * sum r``
(``h = sum e*u``, ``s_u = sum u``, ``s_e = sum e``; the last two are zero
in real arithmetic and kept for the rounding of the centring). Centring on
the means and on the data's own optimum keeps every term small where
training ends, so nothing cancels catastrophically: no prefix, offset or
outlier of the data can mislead it (tests/test_stats.py holds the
adversarial cases). The Gram pass reads rows in chunks of about 8 MiB, so
memory stays bounded whatever n is; float32 X is widened chunk by chunk.
"""

import math

import numpy as np

__all__ = ["Stats", "collect", "epoch"]


class Stats:
    __slots__ = ("n", "xbar", "ybar", "C", "s_u", "wstar", "s_ee", "h", "s_e")


def _chunk_rows(d):
    """Rows per chunk of the Gram pass: about 8 MiB of float64."""
    return max(4096, (1 << 23) // (8 * d))


def moments(X, y, signals=False):
    """(n, xbar, ybar, C, s_uv) of (X (n, d), y (n,)): the means, the centred
    Gram matrix and sum u*v (passes 1 and 2). Pass 1 is a compiled loop;
    pass 2 centres one chunk at a time into a reused buffer (compiled) and
    hands it to numpy's BLAS."""
    from . import _rows
    n, d = X.shape
    sums = np.empty(d + 1)
    _rows.column_sums(X, y, sums, signals)
    xbar, ybar = sums[:d] / n, float(sums[d]) / n
    C = np.zeros((d, d))
    s_uv = np.zeros(d)
    rows = _chunk_rows(d)
    buf = np.empty((min(rows, n), d))
    for lo in range(0, n, rows):
        m = min(rows, n - lo)
        U = buf[:m]
        _rows.centre_into(X, lo, xbar, U)
        C += U.T @ U
        s_uv += (y[lo:lo + m] - ybar) @ U
    return n, xbar, ybar, C, s_uv


def residuals(X, y, xbar, ybar, wstar, signals=False):
    """[sum e**2, sum e, sum e*u (d values), sum u (d values)] about the
    centre, u = x - xbar, e = (y - ybar) - u·wstar (pass 3, compiled)."""
    from . import _rows
    out = np.empty(2 * X.shape[1] + 2)
    _rows.centred_residuals(X, y, xbar, ybar, wstar, out, signals)
    return out


def collect(X, y, signals=False):
    """The statistics of (X (n, d), y (n,)); None if any is not finite."""
    d = X.shape[1]
    st = Stats()
    st.n, st.xbar, st.ybar, C, s_uv = moments(X, y, signals)
    if not (np.isfinite(C).all() and np.isfinite(s_uv).all()):
        return None
    st.C = C
    st.wstar = np.linalg.lstsq(C, s_uv, rcond=None)[0]
    out = residuals(X, y, st.xbar, st.ybar, st.wstar, signals)
    st.s_ee, st.s_e = float(out[0]), float(out[1])
    st.h, st.s_u = out[2:2 + d], out[2 + d:]
    if not (np.isfinite(out).all() and np.isfinite(st.wstar).all()):
        return None
    return st


def epoch(st, w, b, lr, alpha, fit_intercept):
    """One batch-GD epoch from the statistics: the cost at (w, b), then one
    step. Updates w in place; returns (b, cost)."""
    n = st.n
    delta = w - st.wstar
    m = float(st.xbar @ w) + b - st.ybar
    Cd = st.C @ delta
    s_rr = (float(delta @ Cd) - 2.0 * float(delta @ st.h) + st.s_ee + n * m * m
            + 2.0 * m * (float(st.s_u @ delta) - st.s_e))
    s_r = float(st.s_u @ delta) - st.s_e + n * m
    s_rx = Cd - st.h + m * st.s_u + st.xbar * s_r
    cost = max(s_rr, 0.0) / n + (alpha * float(w @ w) if alpha else 0.0)
    w -= lr * (2.0 * s_rx / n + (2.0 * alpha) * w)
    if fit_intercept:
        b = b - lr * (2.0 * s_r / n)
    return b, cost
