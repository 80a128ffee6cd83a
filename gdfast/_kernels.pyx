# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Typed loops over float32/float64 buffers: the compiled half of gdfast.

These functions trust their arguments: ``gdfast._validate`` has already
checked lengths (n >= 1, equal), dtypes, contiguity and parameter ranges, so
bounds checks are off. Inputs are ``const`` views: nothing here writes to
the caller's data. All arithmetic is in double precision whatever the input
dtype; float32 samples are widened one by one as they are read.

Every long loop runs without the GIL. It takes the GIL back only
  * every CHECK_EVERY samples of work, to let Ctrl-C (SIGINT) interrupt it
    (main thread only, where Python delivers signals), and
  * once per epoch when the caller passed a hook (callback / progress bar)
    or a shuffler (fills the next epoch's permutation).

Sums are taken in fixed blocks of BLOCK samples (block_sums, four lanes),
and block partials are added in block order. The order depends on n only,
never on the number of threads, so every thread count gives bit-identical
results.

Training kernels run up to ``hist.shape[0]`` epochs (the driver grows the
history and calls again from the state reached), write epoch e's
[w, 0, loss] to hist[e] (stats_epochs, the statistics' epochs for d
features: [w (d), b, loss]) and return ``(epochs_done, status)`` with status RAN (all
epochs ran), DIVERGED (epoch ``epochs_done`` produced a non-finite w, loss
or (stats_epochs) intercept; histories hold the finite epochs before it) or
STOPPED (the hook asked to stop after epoch ``epochs_done - 1``).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from ._order cimport BlockOrder, bo_fill, bo_group, bo_start
from ._ticker cimport CHECK_EVERY, Ticker, tick

import numpy as np

from ._blocks cimport (block_sums, gdfast_simd_level, max_abs_pair, mb_affine, sgd_fold,
                      sgd_fold_group)

cdef extern from "<math.h>" nogil:
    bint isfinite(double)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int openmp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int openmp_max_threads(void) { return 1; }
    #endif
    """
    int openmp_max_threads() nogil


cdef enum:
    BLOCK = 2048             # samples per block (2 x 16 KiB of float64)
    GROUP_RUN = 512          # a "blocks" group's run: 8 rows of 64 blocks (_blocks.h)
    GROUP_BLOCKS = 64
    PAR_BLOCKS = 256         # blocks per parallel round (512 Ki samples)
    EPOCH_WORK = 64          # work charged per epoch, so tiny-n runs check too

cdef enum Status:
    S_RAN = 0
    S_DIVERGED = 1
    S_STOPPED = 2

RAN = S_RAN
DIVERGED = S_DIVERGED
STOPPED = S_STOPPED




cdef int end_epoch(double[:, ::1] hist, Py_ssize_t e, Py_ssize_t e0, double w, double c,
                   object hook, Ticker* t) except -1 nogil:
    """Close epoch e0 + e of every trainer: S_DIVERGED if w or the loss is
    not finite (nothing recorded); otherwise record row e of hist as
    [w, 0 (the intercept), loss], call the hook (with the GIL, only if there
    is one) and return S_STOPPED if it asks to stop, else S_RAN."""
    if not (isfinite(w) and isfinite(c)):
        return S_DIVERGED
    hist[e, 0] = w
    hist[e, 1] = 0.0
    hist[e, 2] = c
    if hook is not None:
        with gil:
            if hook(e0 + e, w, c):
                return S_STOPPED
    tick(t, EPOCH_WORK)
    return S_RAN


cdef int sums(const floating* x, const floating* y, Py_ssize_t n, double w,
              double* out, bint want_xx, int threads, Ticker* t) except -1 nogil:
    """out = block_sums over all n samples, block partials added in order."""
    cdef double part[3]
    cdef double tot0 = 0.0, tot1 = 0.0, tot2 = 0.0
    cdef double* parts
    cdef Py_ssize_t start = 0, m, nblocks, k, j, lo
    if threads <= 1 or n <= 2 * BLOCK:
        while start < n:
            m = min(<Py_ssize_t>BLOCK, n - start)
            block_sums(x + start, y + start, m, w, part, want_xx)
            tot0 += part[0]
            tot1 += part[1]
            tot2 += part[2]
            start += m
            tick(t, m)
    else:
        parts = <double*>malloc(3 * PAR_BLOCKS * sizeof(double))
        if parts == NULL:
            with gil:
                raise MemoryError()
        try:
            while start < n:
                # one round: up to PAR_BLOCKS blocks in parallel, then in order
                nblocks = min(<Py_ssize_t>PAR_BLOCKS, (n - start + BLOCK - 1) // BLOCK)
                for k in prange(nblocks, num_threads=threads, schedule="static"):
                    lo = start + k * BLOCK
                    block_sums(x + lo, y + lo, min(<Py_ssize_t>BLOCK, n - lo), w,
                               parts + 3 * k, want_xx)
                for j in range(nblocks):
                    tot0 += parts[3 * j]
                    tot1 += parts[3 * j + 1]
                    tot2 += parts[3 * j + 2]
                m = min(nblocks * BLOCK, n - start)
                start += m
                tick(t, m)
        finally:
            free(parts)
    out[0] = tot0
    out[1] = tot1
    out[2] = tot2
    return 0


cdef int gathered_sums(const floating* x, const floating* y, const int64_t* idx,
                       Py_ssize_t n, double w, double* out, bint want_xx,
                       Ticker* t) except -1 nogil:
    """sums() over x[idx[i]], y[idx[i]]: same blocks, same order, serial."""
    cdef double bx[BLOCK]
    cdef double by[BLOCK]
    cdef double part[3]
    cdef double tot0 = 0.0, tot1 = 0.0, tot2 = 0.0
    cdef Py_ssize_t start = 0, m, i
    while start < n:
        m = min(<Py_ssize_t>BLOCK, n - start)
        for i in range(m):
            bx[i] = x[idx[start + i]]
            by[i] = y[idx[start + i]]
        block_sums(&bx[0], &by[0], m, w, part, want_xx)
        tot0 += part[0]
        tot1 += part[1]
        tot2 += part[2]
        start += m
        tick(t, m)
    out[0] = tot0
    out[1] = tot1
    out[2] = tot2
    return 0


# ---------------------------------------------------------------- primitives

def pass_sums(const floating[::1] x, const floating[::1] y, double w,
              int threads=1, bint signals=False):
    """One pass: ``(sum (x*w-y)**2, sum x*(x*w-y))`` in double precision.

    cost = first / n; gradient = 2 * second / n.
    """
    cdef double out[3]
    cdef Ticker t = Ticker(0, signals)
    with nogil:
        sums(&x[0], &y[0], x.shape[0], w, out, False, threads, &t)
    return out[0], out[1]


# ------------------------------------------------------------------ trainers

def batch_gd_pass(const floating[::1] x, const floating[::1] y, double w, double lr,
                  double[:, ::1] hist, Py_ssize_t e0=0,
                  object hook=None, int threads=1, bint signals=False):
    """Batch GD, one fused cost+gradient pass over the data per epoch.

    cost = S_rr / n (recorded, before the update); w -= lr * (2 * S_xr / n).
    """
    cdef Py_ssize_t n = x.shape[0], e = 0, epochs = hist.shape[0]
    cdef double out[3]
    cdef double c
    cdef int status = S_RAN
    cdef Ticker t = Ticker(0, signals)
    with nogil:
        while e < epochs:
            sums(&x[0], &y[0], n, w, out, False, threads, &t)
            c = out[0] / n
            w = w - lr * (2.0 * out[1] / n)
            status = end_epoch(hist, e, e0, w, c, hook, &t)
            if status != S_DIVERGED:
                e += 1
            if status != S_RAN:
                break
    return e, status


def data_stats(const floating[::1] x, const floating[::1] y, int threads=1,
               bint signals=False):
    """Sufficient statistics of the data about a pilot slope, in two passes.

    Pass 1 (w = 0) gives sum x*y and sum x**2, hence the pilot ``wp``: the
    least-squares slope of the whole data (0 if every x is 0). Pass 2 gives,
    with ``r = x*wp - y``, ``(wp, S_rr, S_xr, S_xx)``: sum r**2, sum x*r,
    sum x**2. Centring on the data's own optimum keeps S_rr and S_xr small
    near it, so the cost formula in batch_gd_closed does not cancel
    catastrophically whatever the data look like (a prefix unlike the rest
    cannot mislead it: every sample takes part in the pilot).
    """
    cdef Py_ssize_t n = x.shape[0]
    cdef double out[3]
    cdef double wp = 0.0
    cdef Ticker t = Ticker(0, signals)
    with nogil:
        sums(&x[0], &y[0], n, 0.0, out, True, threads, &t)
        if out[2] > 0.0 and isfinite(out[1] / out[2]):
            wp = -out[1] / out[2]
        sums(&x[0], &y[0], n, wp, out, True, threads, &t)
    return wp, out[0], out[1], out[2]


def batch_gd_closed(Py_ssize_t n, double wp, double s_rr, double s_xr, double s_xx,
                    double w, double lr, double[:, ::1] hist, Py_ssize_t e0=0,
                    object hook=None, bint signals=False):
    """Batch GD from data_stats alone, without touching the data again.

    With d = w - wp:  cost = (S_rr + 2 d S_xr + d**2 S_xx) / n  (>= 0),
                      gradient = 2 (d S_xx + S_xr) / n.
    Exact in real arithmetic; in floating point it differs from a pass per
    epoch by rounding (bounded in tests/test_methods.py).
    """
    cdef Py_ssize_t e = 0, epochs = hist.shape[0]
    cdef double c, d
    cdef int status = S_RAN
    cdef Ticker t = Ticker(0, signals)
    with nogil:
        while e < epochs:
            d = w - wp
            c = (s_rr + 2.0 * d * s_xr + d * d * s_xx) / n
            if c < 0.0:          # a sum of squares; only rounding goes below 0
                c = 0.0
            w = w - lr * (2.0 * (d * s_xx + s_xr) / n)
            status = end_epoch(hist, e, e0, w, c, hook, &t)
            if status != S_DIVERGED:
                e += 1
            if status != S_RAN:
                break
    return e, status


def stats_epochs(double n, const double[:, ::1] C, const double[::1] wstar,
                 const double[::1] xbar, double ybar, const double[::1] h,
                 const double[::1] s_u, double s_e, double s_ee, const double[::1] w0,
                 double b, double lr, double alpha, bint fit_intercept,
                 double[:, ::1] hist, Py_ssize_t e0=0, object hook=None, bint flat=False,
                 bint signals=False):
    """Batch GD with d features from the statistics alone (gdfast._stats.Stats),
    the epochs of ``gdfast._stats.epoch`` in one call: from ``w0`` (d) and
    ``b``, up to ``hist.shape[0]`` epochs, epoch e's [w (d), b, cost] in
    hist[e] (shape (epochs, d + 2)). With delta = w - w*, m = xbar.w + b - ybar:

        cost = (delta'C delta - 2 delta.h + s_ee + n m**2 + 2 m (s_u.delta - s_e)) / n
               (+ alpha |w|**2),
        grad_w = 2 (C delta - h + m s_u + xbar s_r) / n + 2 alpha w,
        grad_b = 2 s_r / n,   s_r = s_u.delta - s_e + n m.

    The same expressions in the same order as _stats.epoch; its dot products
    and C delta are numpy's (BLAS), these sum over j in order (each row of
    C delta in four lanes), so the two differ by rounding only
    (tests/test_stats.py bounds it). The hook gets
    (epoch, w, cost) with w a float when ``flat``, else a copy of w.
    Returns (epochs_done, status) as the tutorial's kernels do.
    """
    cdef Py_ssize_t d = wstar.shape[0], e = 0, epochs = hist.shape[0], j, k
    cdef double m, s_rr, s_r, sud, cost, ww, dcd, dh, bn, acc, l0, l1, l2, l3
    cdef bint ok
    cdef object wobj
    cdef int status = S_RAN
    cdef Ticker t = Ticker(0, signals)
    cdef double* work
    cdef double* wc
    cdef double* dl
    cdef double* cd
    # seven arrays whose sizes must agree: checked once (the loop runs
    # without bounds checks)
    if not (C.shape[0] == C.shape[1] == xbar.shape[0] == h.shape[0] == s_u.shape[0]
            == w0.shape[0] == d and hist.shape[1] == d + 2 and d >= 1):
        raise ValueError(f"stats_epochs: inconsistent shapes (d = {d}, C {C.shape[0]}x"
                         f"{C.shape[1]}, hist rows of {hist.shape[1]})")
    work = <double*>malloc(3 * d * sizeof(double))
    if work == NULL:
        raise MemoryError()
    wc, dl, cd = work, work + d, work + 2 * d
    try:
        with nogil:
            for j in range(d):
                wc[j] = w0[j]
            while e < epochs:
                m = 0.0
                for j in range(d):
                    dl[j] = wc[j] - wstar[j]
                    m = m + xbar[j] * wc[j]
                m = m + b - ybar
                dcd = 0.0
                dh = 0.0
                sud = 0.0
                ww = 0.0
                for j in range(d):
                    # (C delta)_j in four lanes, lane q taking k = q mod 4, combined
                    # as (l0 + l1) + (l2 + l3): four chains of adds, not one
                    l0 = l1 = l2 = l3 = 0.0
                    k = 0
                    while k + 4 <= d:
                        l0 = l0 + C[j, k] * dl[k]
                        l1 = l1 + C[j, k + 1] * dl[k + 1]
                        l2 = l2 + C[j, k + 2] * dl[k + 2]
                        l3 = l3 + C[j, k + 3] * dl[k + 3]
                        k += 4
                    if k < d:
                        l0 = l0 + C[j, k] * dl[k]
                    if k + 1 < d:
                        l1 = l1 + C[j, k + 1] * dl[k + 1]
                    if k + 2 < d:
                        l2 = l2 + C[j, k + 2] * dl[k + 2]
                    acc = (l0 + l1) + (l2 + l3)
                    cd[j] = acc
                    dcd = dcd + dl[j] * acc
                    dh = dh + dl[j] * h[j]
                    sud = sud + s_u[j] * dl[j]
                    ww = ww + wc[j] * wc[j]
                s_rr = dcd - 2.0 * dh + s_ee + n * m * m + 2.0 * m * (sud - s_e)
                s_r = sud - s_e + n * m
                if s_rr < 0.0:       # a sum of squares; only rounding goes below 0 (NaN stays)
                    s_rr = 0.0
                cost = s_rr / n + (alpha * ww if alpha != 0.0 else 0.0)
                ok = isfinite(cost)
                for j in range(d):
                    hist[e, j] = wc[j] - lr * (2.0 * (cd[j] - h[j] + m * s_u[j] + xbar[j] * s_r) / n
                                               + (2.0 * alpha) * wc[j])
                    ok = ok and isfinite(hist[e, j])
                bn = b - lr * (2.0 * s_r / n) if fit_intercept else b
                if not (ok and isfinite(bn)):
                    status = S_DIVERGED    # row e is not part of the history
                    break
                for j in range(d):
                    wc[j] = hist[e, j]
                b = bn
                hist[e, d] = b
                hist[e, d + 1] = cost
                if hook is not None:
                    with gil:
                        if flat:
                            wobj = wc[0]
                        else:
                            wobj = np.asarray(hist[e, :d]).copy()
                        if hook(e0 + e, wobj, cost):
                            status = S_STOPPED
                e += 1
                if status != S_RAN:
                    break
                tick(&t, d * d + EPOCH_WORK)
    finally:
        free(work)
    return e, status


cdef int blocks_epoch(const floating[::1] x, const floating[::1] y, BlockOrder* bo,
                      double* wp, double c2, bint direct, int64_t* buf, Py_ssize_t* last,
                      Ticker* t) except -1 nogil:
    """One affine SGD epoch from *wp over the generated shuffle="blocks" order
    (bo just started), group by group in runs of GROUP_RUN (see sgd_epochs);
    *last is the epoch's last sample."""
    cdef double w = wp[0]
    cdef int64_t base[2 * GROUP_BLOCKS]     # this group's and the next one's first rows
    cdef const int64_t* pfb
    cdef Py_ssize_t q, j0, g0, m, nxt, rows = bo.block
    cdef bint ahead
    while bo.g < bo.nb:
        if direct and bo.hi - bo.g == GROUP_BLOCKS and not bo.short:
            nxt = bo.hi
            ahead = nxt + GROUP_BLOCKS <= bo.nb
            for q in range(GROUP_BLOCKS):
                base[q] = bo.perm[bo.g + q] * rows
                if ahead:
                    base[GROUP_BLOCKS + q] = bo.perm[nxt + q] * rows
            j0 = 0
            while j0 < rows:
                # prefetch the run after next (in the next group for the last two)
                pfb = &base[0] if j0 + 16 < rows else (&base[GROUP_BLOCKS] if ahead else NULL)
                w = sgd_fold_group(&x[0], &y[0], &base[0], j0, w, c2, pfb,
                                   j0 + 16 if j0 + 16 < rows else j0 + 16 - rows)
                tick(t, GROUP_RUN)
                j0 += 8
            last[0] = base[GROUP_BLOCKS - 1] + rows - 1
            bo.g = nxt
            if bo.g < bo.nb:
                bo_group(bo)
        else:
            g0 = bo.g
            while bo.g == g0:
                m = bo_fill(bo, buf, GROUP_RUN, True)
                if m:      # none: the group's last rows were all past n
                    w = sgd_fold(&x[0], &y[0], buf, m, w, c2)
                    last[0] = buf[m - 1]
                    tick(t, m)
    wp[0] = w
    return 0


def sgd_epochs(const floating[::1] x, const floating[::1] y, double w, double lr,
               double[:, ::1] hist, Py_ssize_t e0=0,
               object hook=None, object shuffler=None, int64_t[::1] order=None,
               bint affine=False, bint signals=False, const int64_t[::1] blocks=None,
               Py_ssize_t block_rows=256, Py_ssize_t group=64, double[::1] maxima=None,
               bint direct=True):
    """SGD, one update per sample: w -= lr * 2*x*(x*w - y).

    Plain form (affine=False): the tutorial's expression and order of
    operations, bit for bit. Affine form (affine=True): each step is the map
    w -> a*w + b with a = 1 - 2*lr*x*x, b = 2*lr*x*y; each block of BLOCK
    samples is folded as eight segments side by side (sgd_fold in _blocks.h)
    instead of one five-operation dependency chain per sample. Exact in real
    arithmetic, equal up to rounding (bounded in tests). The recorded loss
    is (x*w - y)**2 of the epoch's last sample after its update. With a
    shuffler, ``shuffler()`` refills ``order`` before every epoch and
    samples are visited as x[order[i]]; or, with ``blocks`` (the
    shuffle="blocks" order), it refills the block permutation ``blocks`` and
    the order is generated a BLOCK at a time inside the loop (_order.pxd).
    The affine form over that generated order folds each group of blocks in
    runs of GROUP_RUN samples (a run never spans two groups): a full group
    of 64 blocks (group == 64, block_rows a multiple of 8, not holding the
    short last block) straight from the blocks' rows (sgd_fold_group, with
    the run after next prefetched), any other group through its written rows;
    ``direct=False`` folds every group through its written rows (the same
    bits; tests compare the two).
    With ``maxima`` (2 values, unshuffled affine form only), every epoch
    also raises maxima[0] to max |x| and maxima[1] to max |y|, from the
    fold's own loads (the overflow certificate of gdfast._plan, without
    another read; the same w).
    """
    cdef Py_ssize_t n = x.shape[0], e = 0, i, start, stop, last, epochs = hist.shape[0]
    cdef double c2 = 2.0 * lr, c
    cdef int status = S_RAN
    cdef bint shuffled = shuffler is not None
    cdef bint gen = blocks is not None and shuffled   # the order is drawn by the shuffler
    cdef const int64_t* idx = NULL
    cdef const int64_t* cur = NULL
    cdef int64_t buf[BLOCK]
    cdef BlockOrder bo
    cdef Ticker t = Ticker(0, signals)
    cdef double* mxy = &maxima[0] if maxima is not None and not shuffled else NULL
    if shuffled and not gen:
        idx = &order[0]
    with nogil:
        while e < epochs:
            if shuffled:
                with gil:
                    shuffler()
                if gen:
                    bo_start(&bo, &blocks[0], blocks.shape[0], block_rows, group, n)
            start = 0
            if gen and affine:
                blocks_epoch(x, y, &bo, &w, c2, direct and group == GROUP_BLOCKS
                             and block_rows % 8 == 0, &buf[0], &last, &t)
                start = n
            while start < n:
                stop = min(start + <Py_ssize_t>BLOCK, n)
                if gen:
                    bo_fill(&bo, &buf[0], stop - start)
                    cur = &buf[0]
                elif shuffled:
                    cur = idx + start
                if affine and shuffled:
                    w = sgd_fold(&x[0], &y[0], cur, stop - start, w, c2)
                elif affine:
                    w = sgd_fold(&x[0] + start, &y[0] + start, NULL, stop - start, w, c2,
                                 mxy)
                elif shuffled:
                    for i in range(stop - start):
                        w = w - lr * (2.0 * (x[cur[i]] * (x[cur[i]] * w - <double>y[cur[i]])))
                else:
                    for i in range(start, stop):
                        w = w - lr * (2.0 * (x[i] * (x[i] * w - <double>y[i])))
                tick(&t, stop - start)
                start = stop
            if not (gen and affine):
                last = cur[n - 1 - (n - 1) // BLOCK * BLOCK] if shuffled else n - 1
            c = <double>x[last] * w - <double>y[last]
            c = c * c
            status = end_epoch(hist, e, e0, w, c, hook, &t)
            if status != S_DIVERGED:
                e += 1
            if status != S_RAN:
                break
    return e, status


def minibatch_epochs(const floating[::1] x, const floating[::1] y, Py_ssize_t batch_size,
                     double w, double lr, double[:, ::1] hist, Py_ssize_t e0=0,
                     object hook=None, object shuffler=None,
                     int64_t[::1] order=None, int threads=1, bint signals=False,
                     bint affine=False, double[::1] maxima=None):
    """Mini-batch GD: per batch of m samples, cost = S_rr/m and
    w -= lr * (2 * S_xr / m), with the same block sums as batch_gd_pass (so
    batch_size >= n gives batch_gd_pass's results bit for bit). The recorded
    loss is the cost of the epoch's last batch before its update.

    Affine form (affine=True): S_xr = w * S_xx - S_xy, the batch's sums of
    x*x and x*y taken by the same block sums at w = 0 (S_xy = -out[1]). They
    do not depend on w, so the CPU runs the sums of the following batches
    while one update waits for the last: the chain from batch to batch is a
    handful of operations instead of a pass over the batch. Exact in real
    arithmetic, equal up to rounding (bounded in tests). The last batch's
    recorded cost still comes from its sums at the current w.

    With ``maxima`` (2 values, unshuffled only), every epoch also raises
    maxima[0] to max |x| and maxima[1] to max |y|, from the inlined loop's
    own loads (AVX2) or right after each span or batch (as sgd_epochs).
    """
    cdef Py_ssize_t n = x.shape[0], e = 0, start, m, epochs = hist.shape[0], last
    cdef Py_ssize_t span = max(batch_size, (BLOCK * 32 // batch_size) * batch_size)
    cdef double out[3]
    cdef double rr[3]
    cdef double c = 0.0, sxr
    cdef int status = S_RAN
    cdef bint shuffled = shuffler is not None
    cdef const int64_t* idx = NULL
    cdef Ticker t = Ticker(0, signals)
    cdef double* mxy = &maxima[0] if maxima is not None and not shuffled else NULL
    if shuffled:
        idx = &order[0]
    with nogil:
        while e < epochs:
            if shuffled:
                with gil:
                    shuffler()
            start = 0
            if affine and not shuffled and batch_size <= BLOCK:
                # all batches but the last in one inlined loop, a span at a time
                # (each batch one block of the sums: the bits of the loop below)
                last = ((n - 1) // batch_size) * batch_size
                while start < last:
                    m = min(last - start, span)
                    w = mb_affine(&x[0] + start, &y[0] + start, m, batch_size, w, lr,
                                  mxy)
                    tick(&t, m)
                    start += m
            while start < n:
                m = min(batch_size, n - start)
                if affine:
                    if shuffled:
                        gathered_sums(&x[0], &y[0], idx + start, m, 0.0, out, True, &t)
                    else:
                        sums(&x[0] + start, &y[0] + start, m, 0.0, out, True, threads, &t)
                    if start + m == n:      # the recorded cost: sums at the current w
                        if shuffled:
                            gathered_sums(&x[0], &y[0], idx + start, m, w, rr, False, &t)
                        else:
                            sums(&x[0] + start, &y[0] + start, m, w, rr, False, threads, &t)
                        c = rr[0] / m
                    sxr = w * out[2] + out[1]
                else:
                    if shuffled:
                        gathered_sums(&x[0], &y[0], idx + start, m, w, out, False, &t)
                    else:
                        sums(&x[0] + start, &y[0] + start, m, w, out, False, threads, &t)
                    c = out[0] / m
                    sxr = out[1]
                w = w - lr * (2.0 * sxr / m)
                if mxy != NULL:
                    max_abs_pair(&x[0] + start, &y[0] + start, m, mxy, mxy + 1)
                start += m
            status = end_epoch(hist, e, e0, w, c, hook, &t)
            if status != S_DIVERGED:
                e += 1
            if status != S_RAN:
                break
    return e, status


def openmp_threads():
    """How many threads the parallel passes may use (1 without OpenMP)."""
    cdef int n = 1
    with nogil:
        n = openmp_max_threads()
    return n


def simd():
    """The instruction set the block kernel runs on here: 'avx2', 'sse2' or
    'scalar' (all give identical bits; see _blocks.h)."""
    return ("scalar", "sse2", "avx2")[gdfast_simd_level()]
