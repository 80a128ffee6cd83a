"""Method choice: what ``method="auto"`` resolves to, and the numbers it uses.

The choice is made here, once per call, and recorded on the result
(``TrainResult.method``); the driver and the kernels never re-derive it.

Overflow and "auto"
-------------------
The fast methods (batch_gd "stats", sgd "affine") compute the same updates
as the per-epoch methods ("pass", "plain") in a different order, so their
intermediate values differ: one can overflow float64 where the other does
not (``sgd`` with ``w=1e307`` and ``x=100``: the plain update's ``x*w`` is
inf, the affine ``(1 - 2*lr*x*x)*w`` is not; with ``lr*x*x`` huge and the
data on a line the reverse). Under the divergence rule that is the
difference between a result and a DivergenceError. So "auto" takes a fast
method only with a *certificate*: an a priori bound, from a few numbers
about the data, showing that no intermediate of either method can exceed
``SAFE`` (2**1000, a factor 2**24 below float64's largest value, room for
the rounding by which the two methods' trajectories differ). Without one it
runs the per-epoch method. Either way the outcome class (result or error)
of "auto" is the per-epoch method's; an explicit ``method="stats"`` or
``"affine"`` skips the certificate and may differ from it near overflow.

* ``batch_gd``: the certificate uses the statistics the "stats" method
  collects anyway (no extra pass): the Gram matrix bounds the step's growth
  factor, so the whole trajectory of ``(w, b)`` is bounded before it runs.
  Many features: it also holds only where the statistics' rounding stays
  within the documented bound of "pass" (``stats_conditioned``: the
  centred features' correlation matrix well conditioned); an ill-conditioned
  one (rows offset in a cluster, nearly collinear columns) runs "pass".
* ``sgd``: no step may amplify ``w`` (``lr * max x**2 <= 1``) and the
  accumulated steps stay below ``SAFE``; this needs ``max |x|`` and
  ``max |y|``. Unshuffled, the compiled kernel collects them during the
  first epoch's own read (block by block, from cache: no extra read), runs
  that epoch in the affine form meanwhile, and the epoch counts only if
  the certificate then holds -- otherwise the call starts over with
  "plain" (one discarded epoch wherever the certificate fails, e.g. any
  ``lr * max x**2 > 1``). Shuffled, one reduction over the data comes first
  (a shuffled epoch costs several unshuffled ones -- about 5 with
  shuffle="blocks", tens with the exact shuffle -- so that read is small
  beside it).
* ``minibatch_gd`` "affine": the ``sgd`` certificate, with its bound on
  intermediates scaled by the batch size (a batch's sums of ``x*x`` and
  ``x*y``); collected the same way.
* ``sgd`` on many features ("gram", "lanes"): no certificate (it would
  need max |x| and max |y|: one more streaming read of the data (not measured
  here), or the kernels' first epoch collecting them, as the one-feature
  kernel does). Their intermediates differ from "plain"'s, so near float64's
  range the outcome class (result or DivergenceError) may differ either
  way: "gram" forms the rows' dot products x_i·x_k, which overflow from
  |x| of about 1e154 whatever w is (plain's products x·w and r·x may stay
  small: w = 0, lr tiny); "lanes" scales the residual by 2·lr before
  multiplying by x, so it stays finite where plain's 2·r·x overflows (lr
  tiny, |r·x| above 1e308); and a diverging run may overflow an epoch
  earlier or later. ``method="plain"`` keeps the reference's outcome.
"""

import math
import os

import numpy as np

from . import _validate

__all__ = ["STATS_MIN_N", "AFFINE_MIN_EPOCHS", "AFFINE_MAX_BATCH", "GRAM_SPEEDUP",
           "GRAM_MAX_D", "SAFE", "batch_method", "sgd_method", "minibatch_method",
           "stats_passes", "sgd_certified", "sgd_certifiable", "sgd_certified_maxima",
           "stats_certified", "stats_conditioned", "tutorial_stats_certified"]

#: Magnitude below which the certificates keep every intermediate value.
SAFE = 2.0 ** 1000

#: Longest run (samples x epochs) a sgd certificate covers: rounding may
#: grow |w| by (1 + 4u) per step, harmless while steps * u << 1.
_MAX_STEPS = 2.0 ** 48

#: Below this many samples ``auto`` keeps the per-epoch methods, whose order
#: of arithmetic is the reference's (the tutorial's digits); from it on the
#: exact fast methods (batch_gd "stats", sgd "affine") may take over.
STATS_MIN_N = 1 << 16

#: How many multiply-adds of the Gram matrix X'X (the compiled tiles of
#: _moments.h up to 16 features, numpy's BLAS beyond) cost about as much as
#: reading one value of X in a memory-bound pass. A cost model constant, not
#: a tuned threshold: it only has to rank "stats" against "pass" correctly
#: when they are far apart. (At d = 10 the model says 3.1 passes; gdfast
#: bench measures about 5 floors against 1.3-1.6 per pass epoch.)
GRAM_SPEEDUP = 5.0


def stats_passes(d, one_feature):
    """The statistics method's cost in units of one pass over X.

    One feature, no intercept, no penalty (the tutorial's model): two
    streaming passes. Otherwise: one read for the means and the centred Gram matrix
    (d*(d+1)/2 multiply-adds per row), then residuals about the centre.
    """
    if one_feature:
        return 2.0
    return 1.0 + (d + 1) / (2.0 * GRAM_SPEEDUP) + 1.0


#: (d + 1) x (d + 1) float64 matrices the statistics method holds at once,
#: beside the pairwise merge's levels (one per bit of the number of chunks):
#: a chunk's Gram matrix, a merge's copy and outer product, the epochs' matrix.
STATS_MATRICES = 4


def _physical_memory():
    """This machine's memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def stats_memory(n, d, method, held=0):
    """Whether the statistics method's matrices fit in this machine's memory
    for n rows of d features (chunks of at least 256 rows; ``held``: more
    matrices the caller holds, e.g. a reduction tree's partials). An
    explicit ``method="stats"`` that cannot is a
    MemoryError (before any allocation: with the overcommitting allocators of
    Linux a d x d product of 19 GiB would start, then be killed or crash in
    BLAS); ``"auto"`` is told False and reads the data per epoch instead."""
    matrices = STATS_MATRICES + max(1, n // 256).bit_length() + held
    need, mem = matrices * 8 * (d + 1) ** 2, _physical_memory()
    if mem is None or need <= mem:
        return True
    if method == "stats":
        raise MemoryError(
            f"method='stats' holds {matrices} matrices of (d + 1)**2 float64 values: "
            f"{need / 2**30:.1f} GiB for d = {d}, more than this machine's "
            f"{mem / 2**30:.1f} GiB; use method='pass' (or 'auto')")
    return False


def batch_method(method, n, d, epochs, one_feature, held=0):
    """"pass" (a pass over the data per epoch) or "stats" (passes once, then
    every epoch from d x d numbers). auto: "stats" when n >= STATS_MIN_N, its
    passes cost less than the epochs' passes and its matrices fit in memory
    (``held``: see :func:`stats_memory`)."""
    method = _validate.choice(method, "method", ("auto", "pass", "stats"))
    if method == "pass":
        return method
    if method == "stats":
        stats_memory(n, d, method, held)
        return method
    if n >= STATS_MIN_N and stats_passes(d, one_feature) < epochs and \
            stats_memory(n, d, method, held):
        return "stats"
    return "pass"


#: "gram" handles up to this many features with d fixed at compile time
GRAM_MAX_D = 16


def sgd_method(method, n, d, one_feature, certified=None, shuffled=False):
    """"plain" (the update as written, the reference's order), "affine" (1-D
    data without intercept or penalty only: each step as a map
    w -> a*w + c, folded eight segments at a time), "lanes" (any data: the
    dot product x·w in SIMD lanes, the update vectorised) or "gram" (any
    data, four rows at a time through their Gram matrix; fastest for
    d <= GRAM_MAX_D). auto, from STATS_MIN_N samples on: "affine" where it
    applies and ``certified()`` (see the module docstring) is true, "gram"
    up to GRAM_MAX_D features unshuffled, else "lanes" (through a shuffled
    order the rows come from cache misses, and the four-row blocks lose to
    the shorter row-at-a-time body: bench/bench_sklearn.py's shuffled rows);
    "plain" below STATS_MIN_N and for one feature without a certificate."""
    method = _validate.choice(method, "method",
                              ("auto", "plain", "affine", "lanes", "gram"))
    if method == "affine" and not one_feature:
        raise ValueError("method='affine' needs one feature without intercept or "
                         "penalty (b=0, fit_intercept=False, alpha=0); use 'lanes' or "
                         "'plain'")
    if method == "auto":
        if n < STATS_MIN_N:
            return "plain"
        if one_feature:
            return "affine" if (certified is None or certified()) else "plain"
        return "gram" if d <= GRAM_MAX_D and not shuffled else "lanes"
    return method


#: Shuffled, ``auto`` runs mini-batch GD in the "affine" form from this
#: many epochs on: its certificate then reads the data once first (about
#: one epoch of "batches"), and the form saves about half a read per
#: epoch. Unshuffled, the first epoch collects the certificate's maxima
#: itself, so "affine" pays from the first epoch.
AFFINE_MIN_EPOCHS = 4

#: ... and for batches of at most this many samples: only those run in the
#: inlined loop whose sums overlap (one block of the sums, _kernels.BLOCK);
#: larger batches gain nothing from the form.
AFFINE_MAX_BATCH = 2048


def minibatch_method(method, n, epochs, one_feature, certified=None, batch=1,
                     shuffled=False):
    """"batches" (each batch's sums at the current weight, the reference's
    expressions) or "affine" (1-D data without intercept or penalty only:
    each batch's sums of x*x and x*y, which do not depend on w, then
    ``w -= lr*2*(w*S_xx - S_xy)/m``). auto: "affine" from STATS_MIN_N
    samples on (shuffled: and AFFINE_MIN_EPOCHS epochs), for batches of at
    most AFFINE_MAX_BATCH samples, where it applies and ``certified()``
    holds (the sgd certificate scaled by the batch size: see
    :func:`sgd_certified`; None: checked later, from the first epoch's
    read), else "batches"."""
    method = _validate.choice(method, "method", ("auto", "batches", "affine"))
    if method == "affine" and not one_feature:
        raise ValueError("method='affine' needs one feature without intercept or "
                         "penalty (b=0, fit_intercept=False, alpha=0); use 'batches'")
    if method == "auto":
        if (n >= STATS_MIN_N and (epochs >= AFFINE_MIN_EPOCHS or not shuffled)
                and one_feature
                and batch <= AFFINE_MAX_BATCH and (certified is None or certified())):
            return "affine"
        return "batches"
    return method


def _trajectory_bound(z0, growth, drift, epochs):
    """Bound on |z_e| for e <= epochs when |z_{e+1}| <= growth*|z_e| + drift
    (growth >= 1): growth**epochs * (z0 + epochs*drift); inf if huge."""
    log_g = math.log(growth) if growth > 1.0 else 0.0
    if epochs * log_g > 650.0:
        return math.inf
    return math.exp(epochs * log_g) * (z0 + epochs * drift)


def _bounded(V, lr, alpha=0.0):
    """Every intermediate of either method is at most ~4*(1+lr)*(1+alpha)*V**2."""
    return 4.0 * (1.0 + lr) * (1.0 + alpha) * V * V <= SAFE


def _quadratic_certificate(n, sum_xx, lam_max, sy, z0, center, lr, alpha, epochs):
    """Batch GD on a quadratic: z_{e+1} = (I - 2*lr*H) z_e + k with
    0 <= H <= lam_max, |k| <= 2*lr*sqrt(sum_xx)*sy/n. True when both
    batch methods stay below SAFE for the whole run."""
    with np.errstate(all="ignore"):
        growth = max(1.0, 2.0 * lr * lam_max - 1.0)
        sx = math.sqrt(sum_xx)
        drift = 2.0 * lr * sx * sy / n
        B = _trajectory_bound(z0, growth, drift, epochs)
        Z = B + center + 1.0
        V = (sx + 1.0) * (math.sqrt(n) + 1.0) * (2.0 * Z + sy + 1.0)
        return bool(math.isfinite(V) and _bounded(V, lr, alpha) and lr <= SAFE)


def tutorial_stats_certified(n, wp, s_rr, s_xr, s_xx, w0, lr, epochs):
    """Certificate for the one-feature statistics (``_kernels.data_stats``:
    pilot slope wp, S_rr = sum (x*wp - y)**2, S_xr, S_xx = sum x**2)."""
    vals = (wp, s_rr, s_xr, s_xx)
    if not all(math.isfinite(v) for v in vals):
        return False
    lam = s_xx / n * (1.0 + 1e-9)
    sy = abs(wp) * math.sqrt(s_xx) + math.sqrt(max(s_rr, 0.0))   # >= sqrt(sum y**2)
    return _quadratic_certificate(n, s_xx, lam, sy, abs(w0), abs(wp), lr, 0.0, epochs)


#: "auto" takes "stats" only where the centred features' correlation matrix
#: (C scaled to a unit diagonal, constant columns left out) has a condition
#: number of at most this. The statistics' rounding grows with it where a
#: pass's does not: with rows offset in a cluster (an eighth of 1e6 rows
#: shifted by 300, condition number 2.9e4) the coefficients' difference from
#: "pass" exceeds the documented 1e-12 of the largest even with the chunks
#: merged pairwise, while below the gate such data stay within it (both in
#: tests/test_stats.py, the latter at 290-680). A conservative gate: it does not credit
#: alpha, and strongly correlated data that "stats" would fit within the
#: bound read the data per epoch.
STATS_KAPPA_MAX = 1e3


def stats_conditioned(C):
    """Whether the correlation matrix of the centred Gram matrix ``C`` has a
    condition number of at most STATS_KAPPA_MAX (exactly collinear columns:
    no)."""
    diag = np.diag(C)
    keep = diag > 0.0
    if np.count_nonzero(keep) <= 1:
        return True
    s = np.sqrt(diag[keep])
    ev = np.linalg.eigvalsh(C[np.ix_(keep, keep)] / np.outer(s, s))
    return bool(ev[0] > 0.0 and ev[-1] <= STATS_KAPPA_MAX * ev[0])


def stats_certified(st, w0, b0, lr, alpha, fit_intercept, epochs):
    """Certificate for the general statistics (``gdfast._stats.Stats``): no
    intermediate overflows (below), and their rounding stays within the
    documented bound (:func:`stats_conditioned`)."""
    n, d = st.n, st.xbar.shape[0]
    if not stats_conditioned(st.C):
        return False
    # H = (1/n) [X 1]'[X 1] (+ alpha on w): its largest eigenvalue bounds the growth
    G = np.empty((d + 1, d + 1))
    G[:d, :d] = st.C / n + np.outer(st.xbar, st.xbar)
    G[:d, d] = G[d, :d] = st.xbar
    G[d, d] = 1.0
    if not fit_intercept:
        G = G[:d, :d]
    if not np.isfinite(G).all():
        return False
    with np.errstate(all="ignore"):     # an overflow here fails the certificate
        lam = (float(np.linalg.eigvalsh(G)[-1]) + alpha) * (1.0 + 1e-9) + 1e-300
        sum_xx = float(np.trace(st.C)) + n * float(st.xbar @ st.xbar) + n
        ws = float(np.linalg.norm(st.wstar))
        sy = (math.sqrt(n) * abs(st.ybar) + math.sqrt(max(float(np.trace(st.C)), 0.0)) * ws
              + math.sqrt(max(st.s_ee, 0.0)) + math.sqrt(n) * abs(b0))
        z0 = float(np.linalg.norm(w0)) + abs(b0)
    return _quadratic_certificate(n, sum_xx, lam, sy, z0, ws, lr, alpha, epochs)


def _max_abs_pair(x, y):
    return (max(abs(float(np.max(x))), abs(float(np.min(x)))),
            max(abs(float(np.max(y))), abs(float(np.min(y)))))


def sgd_certified(x, y, w0, lr, epochs, max_abs_pair=_max_abs_pair, batch=1):
    """Certificate for sgd on one feature: with lr * max x**2 <= 1 every
    step's factor 1 - 2*lr*x**2 lies in [-1, 1], so |w| grows at most by
    2*lr*max|x|*max|y| per sample, in both the plain and the affine form.
    ``max_abs_pair(x, y)`` gives (max|x|, max|y|) (the compiled side passes
    a one-pass kernel). Mini-batches (``batch`` samples per step): a step's
    factor ``1 - 2*lr*mean(x**2)`` lies in [-1, 1] under the same condition
    and its drift is at most the same per sample; a batch's sums are at
    most ``batch`` times a sample's, hence the bound on ``batch * V``."""
    if not sgd_certifiable(x.shape[0], lr, epochs):
        return False
    with np.errstate(all="ignore"):
        mx, my = max_abs_pair(x, y)
    return sgd_certified_maxima(x.shape[0], mx, my, w0, lr, epochs, batch)


def sgd_certifiable(n, lr, epochs):
    """False when no data can give a sgd certificate (too many steps for the
    rounding argument, or lr beyond SAFE): then nothing need be read."""
    return not (float(n) * float(epochs) > _MAX_STEPS or lr > SAFE)


def sgd_certified_maxima(n, mx, my, w0, lr, epochs, batch=1):
    """:func:`sgd_certified` from ``mx = max|x|`` and ``my = max|y|``
    already known (the compiled kernels collect them during the first
    epoch's read, which then counts only if this holds)."""
    if not sgd_certifiable(n, lr, epochs):
        return False
    steps = float(n) * float(epochs)
    with np.errstate(all="ignore"):
        if not (math.isfinite(mx) and math.isfinite(my)):
            return False                 # NaN/inf data: the plain path reports it
        if lr * mx * mx * (1.0 + 2.0 ** -40) > 1.0:
            return False
        B = abs(w0) + steps * 2.0 * lr * mx * my
        V = (mx + 1.0) * (B + my + 1.0) * float(batch)
        return bool(math.isfinite(V) and _bounded(V, lr))
