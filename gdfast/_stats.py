"""Batch GD from sufficient statistics (method "stats"), for any d.

Batch gradient descent on ``mean((x·w + b - y)**2) + alpha*|w|**2`` needs,
at any ``(w, b)``, only the sums of ``r**2``, ``r`` and ``r*x`` with
``r = x·w + b - y``. Those are quadratic in ``(w, b)``, so two passes
over the data give every epoch's numbers exactly (in real arithmetic) --
and from ONE_PASS_MIN rows usually one (:func:`_one_pass`, below):

1. the column means ``xbar``, ``ybar``, ``C = sum u u'`` with
   ``u = x - xbar`` and ``sum u*v`` with ``v = y - ybar``, in one read:
   chunks of rows centred on their own means while in cache, merged
   exactly, pairwise, in order (Chan, Golub & LeVeque: :func:`merge_moments`,
   :func:`pairwise`); then the
   least-squares centre ``w*`` solving ``C w* = sum u*v``. Up to SMALL_D
   features one compiled loop (``_moments.h``) does it all; beyond, each
   chunk's Gram matrix goes through numpy's BLAS (the standard tool for it);
2. residuals about the centre ``e = v - u·w*``: ``sum e**2``, ``sum e*u``,
   ``sum e`` (compiled).

With ``delta = w - w*`` and ``m = xbar·w + b - ybar`` the sums are
``sum r**2 = delta'C delta - 2 delta·h + s_ee + n m**2 + 2 m (s_u·delta - s_e)``
``sum r    = s_u·delta - s_e + n m``  and
``sum r*x  = C delta - h + m s_u + xbar * sum r``
(``h = sum e*u``, ``s_u = sum u``, ``s_e = sum e``; the last two are zero
in real arithmetic and kept for the rounding of the centring). Centring on
the means and on the data's own optimum keeps every term small where
training ends, so nothing cancels catastrophically: no prefix, offset or
outlier of the data can mislead it (tests/test_stats.py holds the
adversarial cases). Both passes read rows a chunk at a time, so memory
stays bounded whatever n is; float32 X is widened chunk by chunk.

One read instead of two: a pilot ``w0`` fitted on the first PILOT_ROWS rows
is subtracted from y as the moments are read (the column ``y - x·w0``), so
the residual sums about ``w* = w0 + delta`` follow in closed form from terms
as small as the pilot is good. The second read is kept wherever that cannot
be trusted: the pilot far from the whole data's fit (a prefix unlike the
rest), an ill-conditioned ``C``, or rows without noise to measure it by.
"""

import math

import numpy as np

__all__ = ["Stats", "SMALL_D", "moments", "merge_moments", "merge_moments6", "pairwise",
           "residuals",
           "pilot", "first_row", "from_moments", "centred", "with_residuals", "collect",
           "epoch"]


class Stats:
    __slots__ = ("n", "xbar", "ybar", "C", "s_u", "wstar", "s_ee", "h", "s_e")


#: Up to this many features the moments pass is one compiled loop
#: (``_moments.h``: Gram tiles in SIMD registers); beyond it the Gram matrix
#: of each chunk goes through numpy's BLAS.
SMALL_D = 16


def _chunk_rows(d):
    """Rows per chunk of the BLAS Gram pass (d > SMALL_D): about 2 MiB of
    float64, so the centred chunk is still in cache when BLAS reads it."""
    return max(256, (1 << 21) // (8 * d))


def merge_moments(*parts):
    """Exact pairwise merge (Chan, Golub & LeVeque) of chunk moments
    ``(n, xbar, ybar, C, s_uv)``, in order; None parts (empty chunks) are
    skipped; None if all are. With ``delta`` the difference of the means and
    ``f = n_a*n_b/(n_a + n_b)``: ``C = C_a + C_b + f*delta_x delta_x'``,
    ``s_uv = s_a + s_b + f*delta_y*delta_x``."""
    parts = [q for q in parts if q is not None]
    if not parts:
        return None
    n, xbar, ybar, C, s_uv = parts[0]
    C, s_uv = C.copy(), s_uv.copy()
    # quietly: a moment overflowing is found where they are used (not
    # finite: the run's divergence), not a numpy warning (see _blas_chunks)
    with np.errstate(all="ignore"):
        for nb, xb, yb, Cb, sb in parts[1:]:
            tot = n + nb
            dx, dy = xb - xbar, yb - ybar
            f = n * nb / tot
            C += Cb + f * np.outer(dx, dx)
            s_uv += sb + (f * dy) * dx
            xbar = xbar + dx * (nb / tot)
            ybar = ybar + dy * (nb / tot)
            n = tot
    return n, xbar, ybar, C, s_uv


def _blas_chunks(X, y, kx, ky, signals, w0=None):
    """The moments of each chunk of rows, shifted by (kx, ky) (the first
    row: offsets cancel before any sum) and centred on the chunk's own
    means (compiled: _rows.shift_rows, centre_rows); its Gram matrix and
    cross products through numpy's BLAS (a float32 chunk is widened as it
    is shifted). With w0, y's column is
    (y - ky) - (x - kx).w0; each chunk also gives its sum of squares.
    X C-contiguous (as every caller's is: gdfast._validate, gdfast.dask's
    _rows_of)."""
    from . import _rows
    n, d = X.shape
    rows = _chunk_rows(d)
    buf, vbuf = np.empty((min(rows, n), d)), np.empty(min(rows, n))
    colsum = np.empty(d)
    for lo in range(0, n, rows):
        m = min(rows, n - lo)
        U, v = buf[:m], vbuf[:m]
        # quietly: a statistic overflowing is found where they are used (not
        # finite: the run's divergence, as with "pass" and the d <= 16 kernels),
        # not a numpy warning (which warnings-as-errors turned into the outcome)
        with np.errstate(all="ignore"):
            _rows.shift_rows(X[lo:lo + m], kx, U, colsum)   # U = x - kx, its sums
            np.subtract(y[lo:lo + m], ky, out=v, dtype=np.float64)
            if w0 is not None:
                v -= U @ w0
            xbar = colsum / m
            ybar = float(v.sum()) / m
            _rows.centre_rows(U, xbar)                      # U -= xbar
            v -= ybar
            part = m, xbar, ybar, U.T @ U, v @ U, float(v @ v)
        yield part
        if signals:
            _rows.check_signals()


def moments(X, y, signals=False):
    """(n, xbar, ybar, C, s_uv) of (X (n, d), y (n,)): the means, the centred
    Gram matrix C = sum u u' and s_uv = sum u*v (u = x - xbar, v = y - ybar),
    in one read of the data: values shifted by the first row, chunks of rows
    centred on their own means in cache, merged exactly, pairwise, in order
    (:func:`merge_moments`, :func:`pairwise`)."""
    return _moments(X, y, signals)[:5]


def _moments(X, y, signals=False, w0=None, shift=None):
    """moments(), and s_vv = sum v*v; with w0, of the column v = y - x.w0 in
    place of y. With shift (x0 (d), y0), every value is shifted by it and the
    means returned are of the shifted values -- with w0 of x - x0 and of
    (y - y0) - (x - x0).w0, all of the data's spread, not its offset (what
    _one_pass and gdfast.dask's chunks merge and correct by)."""
    from . import _rows
    n, d = X.shape
    if d <= SMALL_D:
        mean, C = np.empty(d + 1), np.empty((d + 1, d + 1))
        _rows.moments_small(X, y, mean, C, signals, w0,
                            None if shift is None else np.append(shift[0], shift[1]))
        return (n, mean[:d].copy(), float(mean[d]), C[:d, :d].copy(), C[:d, d].copy(),
                float(C[d, d]))
    if shift is None:
        kx, ky = X[0].astype(np.float64), float(y[0])
    else:
        kx, ky = np.asarray(shift[0], dtype=np.float64), float(shift[1])
    m, xbar, ybar, C, s_uv, s_vv = pairwise(_blas_chunks(X, y, kx, ky, signals, w0))
    if shift is None:
        xbar, ybar = kx + xbar, ky + ybar
    return m, xbar, ybar, C, s_uv, s_vv


def pairwise(parts):
    """merge_moments6 over the parts (an iterable), pairwise in order, as the
    compiled pass merges its chunks (``gdfast_mstack`` in _moments.h): a
    binary counter of merged runs of parts, the older absorbing the newer,
    so the rounding grows with log2 of their number, not with the number,
    and only about log2 of them are held at once. None if there are none."""
    stack = []                          # (parts merged, their moments)
    for q in parts:
        size = 1
        while stack and stack[-1][0] == size:
            q = merge_moments6(stack.pop()[1], q)
            size *= 2
        stack.append((size, q))
    if not stack:
        return None
    q = stack.pop()[1]
    while stack:                        # newest first: the order kept
        q = merge_moments6(stack.pop()[1], q)
    return q


def merge_moments6(*parts):
    """merge_moments over (n, xbar, ybar, C, s_uv, s_vv) parts, s_vv merged
    the same exact way (None parts skipped; None if all are)."""
    parts = [q for q in parts if q is not None]
    if not parts:
        return None
    return merge_moments(*[q[:5] for q in parts]) + (_merge_squares(parts),)


def _merge_squares(parts):
    """sum v*v over the chunks' (m, xbar, ybar, C, s_uv, s_vv): merged as
    merge_moments merges C (the exact pairwise update)."""
    n, _, ybar, _, _, s_vv = parts[0]
    with np.errstate(all="ignore"):      # as merge_moments
        for nb, _, yb, _, _, sb in parts[1:]:
            tot = n + nb
            dy = yb - ybar
            s_vv += sb + (n * nb / tot) * dy * dy
            ybar = ybar + dy * (nb / tot)
            n = tot
    return s_vv


def residuals(X, y, xbar, ybar, wstar, signals=False):
    """[sum e**2, sum e, sum e*u (d values), sum u (d values)] about the
    centre, u = x - xbar, e = (y - ybar) - u·wstar (compiled, one read)."""
    from . import _rows
    out = np.empty(2 * X.shape[1] + 2)
    _rows.residuals(X, y, xbar, ybar, wstar, out, signals)
    return out


#: From this many rows the statistics try one pass (_one_pass).
ONE_PASS_MIN = 1 << 16
#: Rows of the prefix whose least-squares fit is the pilot w0.
PILOT_ROWS = 1 << 13
#: The one pass is kept when delta'C delta <= SHIFT_MAX * s_ee (the pilot is
#: within a few standard errors, so s_ee's formula loses under two digits)
#: and cond(C) * max|delta| <= COND_MAX * max|w*| (the solve's rounding,
#: amplified by C's conditioning, stays far below the documented bound).
SHIFT_MAX = 10.0
COND_MAX = 1.0
#: ... and the residuals' rms is at least this fraction of the data's scale
#: (below, it is the rounding of forming y - x.w0, not a residual).
RESIDUAL_MIN = 1e-10


def pilot(X, y, signals=False):
    """w0 for _one_pass: the least-squares fit of the first PILOT_ROWS rows
    (None when it is not finite)."""
    p = moments(X[:PILOT_ROWS], y[:PILOT_ROWS], signals)
    if not (np.isfinite(p[3]).all() and np.isfinite(p[4]).all()):
        return None
    w0 = np.linalg.lstsq(p[3], p[4], rcond=None)[0]
    return w0 if np.isfinite(w0).all() else None


def _one_pass(X, y, signals):
    """The statistics from one read of the data (see from_moments), or None
    (too few rows, no usable pilot, a non-finite moment: collect's two
    reads)."""
    n, d = X.shape
    if n < ONE_PASS_MIN:
        return None
    w0 = pilot(X, y, signals)
    if w0 is None:
        return None
    shift = first_row(X, y)
    return from_moments(_moments(X, y, signals, w0, shift), w0, shift)


def first_row(X, y):
    """(x0, y0), the one-pass statistics' shift: the first row, in float64."""
    return X[0].astype(np.float64), float(y[0])


def from_moments(mom, w0, shift):
    """Stats from the moments of [x - x0, (y - y0) - (x - x0).w0] (n, their
    means mx and mv, C, s_uv, s_vv; shift = (x0, y0)):
    its s_ee is None where the residual sums cannot be trusted to the
    documented bound (then the caller reads the residuals about the centre
    it gives); None if a moment is not finite.

    delta = w* - w0 comes from the same solve as w* would, and the residual
    sums about w* in closed form -- s_ee = s_vv - 2 delta.s_uv + delta'C
    delta, h = s_uv - C delta -- from terms as small as the pilot is good
    (the second read exists to make them small whatever the data; here the
    pilot does it, and the checks refuse a pilot that does not: a prefix
    unlike the rest, an ill-conditioned C, rows without noise). s_u and
    s_e, zero in real arithmetic, are what adding the shift back to the
    means rounds off (n times it: the sums of u and e about the means as
    stored)."""
    n, mx, mv, C, s_uv, s_vv = mom
    d = mx.shape[0]
    if not (np.isfinite(C).all() and np.isfinite(s_uv).all() and math.isfinite(s_vv)
            and np.isfinite(mx).all() and math.isfinite(mv)):
        return None
    with np.errstate(all="ignore"):         # checked below
        delta, _, rank, sv = np.linalg.lstsq(C, s_uv, rcond=None)
        Cd = C @ delta
        dCd = float(delta @ Cd)
        s_ee = s_vv - 2.0 * float(delta @ s_uv) + dCd
        wstar = w0 + delta
        cond = float(sv[0] / sv[-1]) if rank == d and sv[-1] > 0 else math.inf
    if not np.isfinite(wstar).all():
        return None
    x0, y0 = shift
    st = Stats()
    st.n, st.C, st.wstar = n, C, wstar
    # the means: the small shifted ones added to the shift last; what that
    # addition rounds off (exactly: x0 - xbar is exact where they are close)
    # is what the residual read would find in sum u and sum e
    st.xbar = x0 + mx
    t = mv + float(mx @ w0)
    st.ybar = y0 + t
    s_u = n * ((x0 - st.xbar) + mx)
    s_e = n * ((y0 - st.ybar) + t) - float(wstar @ s_u)
    top = float(np.max(np.abs(wstar)))
    # the data's scale, for telling a residual from the rounding of forming
    # y - x.w0 (rows without noise: nothing to measure the pilot by)
    scale = abs(st.ybar) + float(np.abs(st.xbar) @ np.abs(w0)) + math.sqrt(
        max(float(w0 @ C @ w0) + s_vv, 0.0) / n)
    if (math.isfinite(s_ee) and s_ee > (RESIDUAL_MIN * scale) ** 2 * n
            and math.isfinite(cond) and top > 0.0
            and 0.0 <= dCd <= SHIFT_MAX * s_ee
            and cond * float(np.max(np.abs(delta))) <= COND_MAX * top):
        st.s_ee, st.s_e = s_ee, s_e
        st.h, st.s_u = s_uv - Cd, s_u
    else:
        st.s_ee = None          # not to be trusted: the residuals are read
    return st


def with_residuals(st, out):
    """st with the residual sums ``out`` = [sum e**2, sum e, sum e*u (d),
    sum u (d)] (residuals()' layout; gdfast.dask adds the chunks') set in
    place; None if they are not finite."""
    d = st.wstar.shape[0]
    if not np.isfinite(out).all():
        return None
    st.s_ee, st.s_e = float(out[0]), float(out[1])
    st.h, st.s_u = out[2:2 + d], out[2 + d:]
    return st


def collect(X, y, signals=False):
    """The statistics of (X (n, d), y (n,)); None if any is not finite.
    From ONE_PASS_MIN rows one read where it can be trusted (_one_pass),
    and where it cannot, a second read for the residuals about the centre
    it found; below, or without a usable pilot, the moments, then the
    residuals."""
    st = _one_pass(X, y, signals)
    if st is not None and st.s_ee is not None:
        return st
    if st is None:
        st = centred(moments(X, y, signals))
        if st is None:
            return None
    return with_residuals(st, residuals(X, y, st.xbar, st.ybar, st.wstar, signals))


def centred(mom):
    """The two-read statistics' first half: a Stats with n, xbar, ybar, C and
    the least-squares centre wstar from the moments (n, xbar, ybar, C, s_uv)
    (its residual sums still to be read: with_residuals); None if a moment
    or the centre is not finite. gdfast.dask's two reductions use it too."""
    n, xbar, ybar, C, s_uv = mom
    if not (np.isfinite(C).all() and np.isfinite(s_uv).all()
            and np.isfinite(xbar).all() and math.isfinite(ybar)):
        return None
    st = Stats()
    st.n, st.xbar, st.ybar, st.C = n, xbar, ybar, C
    st.wstar = np.linalg.lstsq(C, s_uv, rcond=None)[0]
    return st if np.isfinite(st.wstar).all() else None


def epoch(st, w, b, lr, alpha, fit_intercept):
    """One batch-GD epoch from the statistics: the cost at (w, b), then one
    step. Updates w in place; returns (b, cost). The readable form of the
    trainers' compiled loop (:func:`whole_run`, ``_kernels.stats_epochs``:
    the same expressions, dot products summed in order), which the tests
    compare it with."""
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


def whole_run(st, lr, alpha, fit_intercept, flat, signals=False):
    """``kernel(rows, e0, w, b, hook)`` for gdfast._driver.whole_runs: the
    epochs of :func:`epoch` in one compiled call (``_kernels.stats_epochs``),
    so an epoch costs O(d**2) arithmetic, not a dozen numpy calls."""
    from . import _kernels
    C, wstar, xbar, h, s_u = (np.ascontiguousarray(a, dtype=np.float64)
                              for a in (st.C, st.wstar, st.xbar, st.h, st.s_u))
    n, ybar, s_e, s_ee = float(st.n), float(st.ybar), float(st.s_e), float(st.s_ee)

    def kernel(rows, e0, w, b, hook):
        return _kernels.stats_epochs(n, C, wstar, xbar, ybar, h, s_u, s_e, s_ee, w, b, lr,
                                     alpha, fit_intercept, rows, e0, hook, flat, signals)
    return kernel
