# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-chunk kernels over the rows of X (n, d): the general-d compiled half.

Model ``y_pred = x·w + b`` for a row ``x`` of ``d`` features; per-sample
loss ``(x·w + b - y)**2``; L2 term ``alpha*|w|**2`` (not on ``b``).

Each function works on the chunk it is given and keeps no state: the epoch
driver (``gdfast._driver``) owns the loop over epochs, the histories and the
hooks, and ``gdfast.dask`` or an estimator's ``partial_fit`` can hand these
kernels one chunk at a time. The weights ``w`` are a float64 array updated in
place; the intercept travels as a returned float.

The kernels trust their arguments (``gdfast._validate`` checked shapes,
dtypes, contiguity and ranges): bounds checks are off. ``X`` and ``y`` are
``const`` views, never written. Arithmetic is double precision whatever the
input dtypes (float32 values are widened as read); X and y may differ in
dtype. Every loop runs without the GIL, polling for Ctrl-C every
CHECK_EVERY values of work when ``signals`` is true (main thread only).

Order of arithmetic:
  * ``sgd_epoch``, ``forward_into``, ``loss_into``: each ``x·w`` summed left
    to right from 0, then ``+ b`` -- the reference's order, bit for bit.
  * sums over rows (``pass_sums``, ``batch_epoch``, ``minibatch_epoch``):
    each x·w in fixed lanes (``_rowops.h``), rows
    in blocks of ROWS, each block summed in row order, block partials added
    in block order. The blocks depend on n only, so every thread count
    gives identical bits; against the reference's single running sum the
    difference is rounding (bounded in tests/test_rows.py).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from ._order cimport BlockOrder, bo_fill, bo_start
from ._ticker cimport CHECK_EVERY, Ticker, tick
from cpython.exc cimport PyErr_CheckSignals

from ._blocks cimport max_abs_pair as max_abs_into

cdef extern from "_rowops.h" nogil:
    double sgd_blocks_dd(const double* X, const double* y, const int64_t* idx, Py_ssize_t n,
                         Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    double sgd_blocks_df(const double* X, const float* y, const int64_t* idx, Py_ssize_t n,
                         Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    double sgd_blocks_fd(const float* X, const double* y, const int64_t* idx, Py_ssize_t n,
                         Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    double sgd_blocks_ff(const float* X, const float* y, const int64_t* idx, Py_ssize_t n,
                         Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    double sgd_lanes_dd(const double* X, const double* y, const int64_t* idx, Py_ssize_t n,
                        Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    double sgd_lanes_df(const double* X, const float* y, const int64_t* idx, Py_ssize_t n,
                        Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    double sgd_lanes_fd(const float* X, const double* y, const int64_t* idx, Py_ssize_t n,
                        Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    double sgd_lanes_ff(const float* X, const float* y, const int64_t* idx, Py_ssize_t n,
                        Py_ssize_t d, double* w, double b, double lr, double alpha, int fit_b,
                         double* rss)
    void block_sums_dd(const double* X, const double* y, const int64_t* idx, Py_ssize_t lo,
                       Py_ssize_t hi, Py_ssize_t d, const double* w, double b, double* out)
    void block_sums_df(const double* X, const float* y, const int64_t* idx, Py_ssize_t lo,
                       Py_ssize_t hi, Py_ssize_t d, const double* w, double b, double* out)
    void block_sums_fd(const float* X, const double* y, const int64_t* idx, Py_ssize_t lo,
                       Py_ssize_t hi, Py_ssize_t d, const double* w, double b, double* out)
    void block_sums_ff(const float* X, const float* y, const int64_t* idx, Py_ssize_t lo,
                       Py_ssize_t hi, Py_ssize_t d, const double* w, double b, double* out)

cdef extern from "_moments.h" nogil:
    enum: GDFAST_MOM_ROWS
    ctypedef struct gdfast_mstack:
        Py_ssize_t W, top
        double* N
        double* size
        double* M
        double* C
    void gdfast_mstack_finish(gdfast_mstack* s)
    ctypedef struct gdfast_sstack:
        Py_ssize_t W, top
        double* size
        double* S
    double* gdfast_sstack_slot(gdfast_sstack* s)
    void gdfast_sstack_push(gdfast_sstack* s)
    void gdfast_sstack_finish(gdfast_sstack* s, double* out)
    void mom_rows_dd(const double* X, const double* y, Py_ssize_t n, Py_ssize_t d,
                     const double* K, gdfast_mstack* S, double* U, const double* w0)
    void mom_rows_df(const double* X, const float* y, Py_ssize_t n, Py_ssize_t d,
                     const double* K, gdfast_mstack* S, double* U, const double* w0)
    void mom_rows_fd(const float* X, const double* y, Py_ssize_t n, Py_ssize_t d,
                     const double* K, gdfast_mstack* S, double* U, const double* w0)
    void mom_rows_ff(const float* X, const float* y, Py_ssize_t n, Py_ssize_t d,
                     const double* K, gdfast_mstack* S, double* U, const double* w0)
    void res_rows_dd(const double* X, const double* y, Py_ssize_t n, Py_ssize_t d,
                     const double* xbar, double ybar, const double* ws, double* out)
    void res_rows_df(const double* X, const float* y, Py_ssize_t n, Py_ssize_t d,
                     const double* xbar, double ybar, const double* ws, double* out)
    void res_rows_fd(const float* X, const double* y, Py_ssize_t n, Py_ssize_t d,
                     const double* xbar, double ybar, const double* ws, double* out)
    void res_rows_ff(const float* X, const float* y, Py_ssize_t n, Py_ssize_t d,
                     const double* xbar, double ybar, const double* ws, double* out)

ctypedef fused yfloat:
    float
    double

cdef enum:
    ROWS = 256               # rows per block
    PAR_BLOCKS = 64          # blocks per parallel round
    CHUNK = 4096             # rows per call of a fast SGD form (and per Ctrl-C tick)



cdef inline double dot(const floating* x, const double* w, Py_ssize_t d) noexcept nogil:
    """x·w, left to right from 0 (the reference's order)."""
    cdef double s = 0.0
    cdef Py_ssize_t j
    for j in range(d):
        s = s + x[j] * w[j]
    return s


cdef inline double sq_norm(const double* w, Py_ssize_t d) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t j
    for j in range(d):
        s = s + w[j] * w[j]
    return s


cdef inline double penalty(double alpha, const double* w, Py_ssize_t d) noexcept nogil:
    """alpha*|w|**2; exactly 0 without a penalty (0*|w|**2 would be NaN once
    |w|**2 overflows, as it does not in the reference)."""
    return alpha * sq_norm(w, d) if alpha != 0.0 else 0.0


cdef inline void block_sums(const floating* X, const yfloat* y, const int64_t* idx,
                            Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t d, const double* w,
                            double b, double* out) noexcept nogil:
    """out = [sum r**2, sum r, sum r*x_0, ..., sum r*x_{d-1}] over rows lo..hi-1
    (through idx when given), r = x·w + b - y, rows in order, x·w in eight
    lanes (_rowops.h: SIMD, same bits with SSE2 and AVX2)."""
    if floating is double:
        if yfloat is double:
            block_sums_dd(X, y, idx, lo, hi, d, w, b, out)
        else:
            block_sums_df(X, y, idx, lo, hi, d, w, b, out)
    else:
        if yfloat is double:
            block_sums_fd(X, y, idx, lo, hi, d, w, b, out)
        else:
            block_sums_ff(X, y, idx, lo, hi, d, w, b, out)


cdef int sums(const floating* X, const yfloat* y, const int64_t* idx, Py_ssize_t lo,
              Py_ssize_t hi, Py_ssize_t d, const double* w, double b, double* tot,
              double* parts, int threads, Ticker* t) except -1 nogil:
    """tot (d + 2 values) = block_sums over rows lo..hi-1, blocks in order.
    parts: scratch for PAR_BLOCKS * (d + 2) doubles."""
    cdef Py_ssize_t width = d + 2, start = lo, nblocks, k, j, q, blo
    if hi - lo <= ROWS:               # one block (a mini-batch): straight into tot
        block_sums(X, y, idx, lo, hi, d, w, b, tot)
        tick(t, (hi - lo) * d)
        return 0
    for j in range(width):
        tot[j] = 0.0
    while start < hi:
        nblocks = min(<Py_ssize_t>PAR_BLOCKS, (hi - start + ROWS - 1) // ROWS)
        if threads > 1 and nblocks > 1:
            for k in prange(nblocks, num_threads=threads, schedule="static"):
                blo = start + k * ROWS
                block_sums(X, y, idx, blo, min(blo + <Py_ssize_t>ROWS, hi), d, w, b,
                           parts + k * width)
        else:
            for k in range(nblocks):
                blo = start + k * ROWS
                block_sums(X, y, idx, blo, min(blo + <Py_ssize_t>ROWS, hi), d, w, b,
                           parts + k * width)
        for k in range(nblocks):
            for j in range(width):
                tot[j] = tot[j] + parts[k * width + j]
        q = min(nblocks * ROWS, hi - start)
        start += q
        tick(t, q * d)
    return 0


cdef inline int end_of_call(bint signals) except -1:
    """Each call ends by handling a pending Ctrl-C (main thread only): the
    epoch driver is a Python loop, and on CPython 3.13 a process forked from
    a non-main thread never runs signal handlers from its eval loop, only
    from an explicit check."""
    if signals:
        PyErr_CheckSignals()
    return 0


cdef double* scratch(Py_ssize_t d) except NULL nogil:
    cdef double* p = <double*>malloc((PAR_BLOCKS + 1) * (d + 2) * sizeof(double))
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


cdef inline double step(double* w, const double* tot, Py_ssize_t d, Py_ssize_t m,
                        double b, double lr, double alpha, bint fit_b) noexcept nogil:
    """One gradient step from the sums of m rows; returns the new b.
    w_j -= lr * (2*S_rx_j/m + 2*alpha*w_j);  b -= lr * (2*S_r/m): the
    reference's expressions (a division per weight keeps its rounding)."""
    cdef Py_ssize_t j
    cdef double md = <double>m, a2 = 2.0 * alpha
    for j in range(d):
        w[j] = w[j] - lr * (2.0 * tot[2 + j] / md + a2 * w[j])
    if fit_b:
        b = b - lr * (2.0 * tot[1] / md)
    return b


# ------------------------------------------------------------------- kernels

def pass_sums(const floating[:, ::1] X, const yfloat[::1] y, const double[::1] w,
              double b, double[::1] out, int threads=1, bint signals=False):
    """One pass: out = [sum r**2, sum r, sum r*x (d values)], r = x·w + b - y.

    cost = out[0]/n + alpha*|w|**2; gradient in w = 2*out[2:]/n + 2*alpha*w;
    gradient in b = 2*out[1]/n.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Ticker t = Ticker(0, signals)
    cdef double* parts
    with nogil:
        parts = scratch(d)
        try:
            sums(&X[0, 0], &y[0], NULL, 0, n, d, &w[0], b, &out[0], parts, threads, &t)
        finally:
            free(parts)
    end_of_call(signals)


def batch_epoch(const floating[:, ::1] X, const yfloat[::1] y, double[::1] w, double b,
                double lr, double alpha, bint fit_b, int threads=1, bint signals=False):
    """One batch-GD epoch: cost at (w, b), then one step with the mean gradient.
    Updates w in place; returns (b, cost)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Ticker t = Ticker(0, signals)
    cdef double c
    cdef double* parts
    with nogil:
        parts = scratch(d)
        try:
            sums(&X[0, 0], &y[0], NULL, 0, n, d, &w[0], b, parts + PAR_BLOCKS * (d + 2),
                 parts, threads, &t)
            c = parts[PAR_BLOCKS * (d + 2)] / n + penalty(alpha, &w[0], d)
            b = step(&w[0], parts + PAR_BLOCKS * (d + 2), d, n, b, lr, alpha, fit_b)
        finally:
            free(parts)
    end_of_call(signals)
    return b, c


def minibatch_epoch(const floating[:, ::1] X, const yfloat[::1] y, double[::1] w,
                    double b, double lr, double alpha, bint fit_b, Py_ssize_t batch_size,
                    const int64_t[::1] order=None, int threads=1, bint signals=False):
    """One mini-batch epoch: per batch of m rows (the last may be shorter),
    the batch's cost, then one step with its mean gradient. Rows are visited
    as X[order[i]] when order is given. Returns (b, cost of the last batch
    before its update, the sum over the batches of their rows' squared
    residuals before the batch's update)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], start = 0, m
    cdef Ticker t = Ticker(0, signals)
    cdef double c = 0.0, rss = 0.0
    cdef double* parts
    cdef double* tot
    cdef const int64_t* idx = &order[0] if order is not None else NULL
    with nogil:
        parts = scratch(d)
        tot = parts + PAR_BLOCKS * (d + 2)
        try:
            while start < n:
                m = min(batch_size, n - start)
                sums(&X[0, 0], &y[0], idx, start, start + m, d, &w[0], b, tot, parts,
                     threads if idx == NULL else 1, &t)
                c = tot[0] / m + penalty(alpha, &w[0], d)
                rss = rss + tot[0]
                b = step(&w[0], tot, d, m, b, lr, alpha, fit_b)
                start += m
        finally:
            free(parts)
    end_of_call(signals)
    return b, c, rss


cdef enum Mode:
    M_PLAIN = 0
    M_LANES = 1
    M_GRAM = 2

#: sgd_epoch's modes (see its docstring)
PLAIN, LANES, GRAM = M_PLAIN, M_LANES, M_GRAM


cdef double fast_sgd(const floating* X, const yfloat* y, const int64_t* idx,
                     Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t d, double* w, double b,
                     double lr, double alpha, bint fit_b, int mode,
                     double* rss) noexcept nogil:
    """Rows lo..hi-1 by the "lanes" (mode LANES) or "gram" (GRAM) form;
    adds the rows' pre-update squared residuals to rss."""
    cdef const int64_t* ix = idx + lo if idx != NULL else NULL
    cdef const floating* Xs = X if idx != NULL else X + lo * d
    cdef const yfloat* ys = y if idx != NULL else y + lo
    cdef Py_ssize_t m = hi - lo
    if floating is double:
        if yfloat is double:
            if mode == M_GRAM:
                return sgd_blocks_dd(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)
            return sgd_lanes_dd(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)
        if mode == M_GRAM:
            return sgd_blocks_df(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)
        return sgd_lanes_df(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)
    if yfloat is double:
        if mode == M_GRAM:
            return sgd_blocks_fd(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)
        return sgd_lanes_fd(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)
    if mode == M_GRAM:
        return sgd_blocks_ff(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)
    return sgd_lanes_ff(Xs, ys, ix, m, d, w, b, lr, alpha, fit_b, rss)


def sgd_epoch(const floating[:, ::1] X, const yfloat[::1] y, double[::1] w, double b,
              double lr, double alpha, bint fit_b, const int64_t[::1] order=None,
              bint signals=False, int mode=M_PLAIN, const int64_t[::1] blocks=None,
              Py_ssize_t block_rows=256, Py_ssize_t group=64):
    """One SGD epoch, one update per row (X[order[i]] when order is given):
        r = x·w + b - y;  w_j -= lr * (2*x_j*r + 2*alpha*w_j);  b -= lr * (2*r).
    PLAIN: the reference's expressions in the reference's order, bit for bit.
    LANES: the same update rearranged for speed (_rowops.h): x·w in eight
    lanes, w = (1 - 2*lr*alpha)*w - (2*lr*r)*x. GRAM: four rows at a time
    through their Gram matrix (_rowops.h), so the chain from row to row is
    short. Both equal PLAIN in real arithmetic. Updates w in place; returns
    (b, loss of the last row after its update, the sum over the epoch of each
    row's squared residual r*r before its update: PLAIN adds them row by row,
    as the reference does; the fast forms sum each CHUNK rows apart and add
    the chunks' sums in order). With ``blocks`` (the block
    permutation of shuffle="blocks") the order is generated CHUNK rows at a
    time inside the loop (_order.pxd) instead of read from ``order``."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j, k = 0, lo, hi, off = 0
    cdef Ticker t = Ticker(0, signals)
    cdef double r, a2 = 2.0 * alpha, sq, rss = 0.0
    cdef const floating* xi
    cdef double* wp = &w[0]
    cdef const int64_t* idx = &order[0] if order is not None else NULL
    cdef int64_t buf[CHUNK]     # position i's row is idx[i - off]
    cdef BlockOrder bo
    cdef bint gen = blocks is not None
    with nogil:
        if gen:
            bo_start(&bo, &blocks[0], blocks.shape[0], block_rows, group, n)
        lo = 0
        while lo < n:
            hi = min(lo + <Py_ssize_t>CHUNK, n)
            if gen:                      # this chunk's rows of the order, in cache
                bo_fill(&bo, &buf[0], hi - lo)
                idx = &buf[0]
                off = lo
            sq = 0.0
            if mode != M_PLAIN:
                b = fast_sgd(&X[0, 0], &y[0], idx, lo - off, hi - off, d, wp, b, lr, alpha,
                             fit_b, mode, &sq)
            else:
                for i in range(lo, hi):
                    k = idx[i - off] if idx != NULL else i
                    xi = &X[0, 0] + k * d
                    r = dot(xi, wp, d) + b - <double>y[k]
                    rss = rss + r * r   # row by row: the reference's sum, bit for bit
                    for j in range(d):
                        wp[j] = wp[j] - lr * (2.0 * (xi[j] * r) + a2 * wp[j])
                    if fit_b:
                        b = b - lr * (2.0 * r)
            if mode != M_PLAIN:
                rss = rss + sq
            tick(&t, (hi - lo) * d)
            lo = hi
        k = idx[n - 1 - off] if idx != NULL else n - 1
        xi = &X[0, 0] + k * d
        r = dot(xi, wp, d) + b - <double>y[k]
        r = r * r + penalty(alpha, wp, d)
    end_of_call(signals)
    return b, r, rss


def forward_into(const floating[:, ::1] X, const double[::1] w, double b, double[::1] out):
    """out[i] = x_i·w + b."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i
    with nogil:
        for i in range(n):
            out[i] = dot(&X[0, 0] + i * d, &w[0], d) + b


def loss_into(const floating[:, ::1] X, const yfloat[::1] y, const double[::1] w, double b,
              double alpha, double[::1] out):
    """out[i] = (x_i·w + b - y_i)**2 + alpha*|w|**2."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i
    cdef double r, pen
    with nogil:
        pen = penalty(alpha, &w[0], d)
        for i in range(n):
            r = dot(&X[0, 0] + i * d, &w[0], d) + b - <double>y[i]
            out[i] = r * r + pen


def iota(int64_t[::1] order):
    """order[i] = i: the start of every shuffled epoch (rng.shuffle of
    0..n-1 in place is rng.permutation(n), without a second array)."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(order.shape[0]):
            order[i] = i


def block_order(int64_t[::1] order, const int64_t[::1] perm, Py_ssize_t block,
                Py_ssize_t group):
    """The shuffle="blocks" order (gdfast._shuffle), written out whole (for
    the kernels that read an order; sgd generates it as it goes): blocks
    perm[g:g+group] row by row -- row j of each block of the group, for
    j = 0..block-1 -- skipping rows past n (_order.pxd)."""
    cdef BlockOrder bo
    with nogil:
        bo_start(&bo, &perm[0], perm.shape[0], block, group, order.shape[0])
        bo_fill(&bo, &order[0], order.shape[0])


def max_abs_pair(const floating[::1] x, const floating[::1] y):
    """(max |x_i|, max |y_i|) in one pass (a NaN may be skipped)."""
    cdef double mx = 0.0, my = 0.0
    cdef Py_ssize_t n = x.shape[0]
    with nogil:
        max_abs_into(&x[0], &y[0], n, &mx, &my)
    return mx, my


cdef enum:
    SPAN = 1 << 16           # rows per call into _moments.h between Ctrl-C checks


def moments_small(const floating[:, ::1] X, const yfloat[::1] y, double[::1] mean,
                  double[:, ::1] C, bint signals=False, const double[::1] w0=None,
                  const double[::1] shift=None):
    """The centred moments of z = [x, y] for d <= 16 (_moments.h, one pass):
    mean[:d + 1] = the column means of z, C[:d + 1, :d + 1] = sum (z - mean)
    (z - mean)' (values shifted by the first row, chunks of GDFAST_MOM_ROWS
    rows centred on their own means, merged exactly, pairwise, in order). With w0 (d
    values) the last column is y - x.w0 instead, formed from the shifted
    values ((y - y_0) - (x - x_0).w0, so mean[d] is y_0 plus its mean). With
    shift (d + 1 values) the values are shifted by it instead of the first
    row, and mean holds the means of the shifted values."""
    cdef const double* wp = &w0[0] if w0 is not None else NULL
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], W = (d + 4) // 4 * 4, lo, m, j, k
    cdef Py_ssize_t levels = 2, chunks = (n + GDFAST_MOM_ROWS - 1) // GDFAST_MOM_ROWS
    cdef Ticker t = Ticker(0, signals)
    cdef gdfast_mstack S
    cdef double* work
    cdef double* Cw
    cdef double* M
    cdef double* K
    cdef double* U
    while chunks:                   # 2 + the bit length of the number of chunks
        levels += 1
        chunks >>= 1
    if d > 16:
        raise ValueError(f"moments_small handles up to 16 features, got {d}")
    if w0 is not None and w0.shape[0] != d:
        raise ValueError(f"w0 must have {d} values, got {w0.shape[0]}")
    if shift is not None and shift.shape[0] != d + 1:
        raise ValueError(f"shift must have {d + 1} values, got {shift.shape[0]}")
    work = <double*>malloc((levels * (W * W + W + 2) + W + GDFAST_MOM_ROWS * W)
                           * sizeof(double))
    if work == NULL:
        raise MemoryError()
    S.W, S.top = W, 0
    S.C, S.M = work, work + levels * W * W
    S.N, S.size = S.M + levels * W, S.M + levels * W + levels
    K = S.size + levels
    U = K + W
    Cw, M = S.C, S.M                # level 0: the merge of all chunks at the end
    try:
        with nogil:
            for j in range(levels * (W * W + W + 2) + W):
                work[j] = 0.0
            if shift is not None:
                for j in range(d + 1):
                    K[j] = shift[j]
            else:
                for j in range(d):
                    K[j] = X[0, j]
                K[d] = y[0]
            lo = 0
            while lo < n:
                m = min(<Py_ssize_t>SPAN, n - lo)
                if floating is double:
                    if yfloat is double:
                        mom_rows_dd(&X[lo, 0], &y[lo], m, d, K, &S, U, wp)
                    else:
                        mom_rows_df(&X[lo, 0], &y[lo], m, d, K, &S, U, wp)
                else:
                    if yfloat is double:
                        mom_rows_fd(&X[lo, 0], &y[lo], m, d, K, &S, U, wp)
                    else:
                        mom_rows_ff(&X[lo, 0], &y[lo], m, d, K, &S, U, wp)
                tick(&t, m * d)
                lo += m
            gdfast_mstack_finish(&S)
            for j in range(d + 1):
                mean[j] = M[j] if shift is not None else K[j] + M[j]
                for k in range(j, d + 1):
                    C[j, k] = Cw[j * W + k]
                    C[k, j] = Cw[j * W + k]
    finally:
        free(work)
    end_of_call(signals)


def shift_rows(const floating[:, ::1] X not None, const double[::1] k not None,
               double[:, ::1] U not None, double[::1] s not None):
    """U = X - k row by row (widened to float64) and s = the column sums of U,
    rows in order from 0: the first half of a BLAS chunk's centring for d > 16
    (gdfast._stats._blas_chunks), in one read of the chunk, where numpy's
    subtract, then U.sum(axis=0), read it twice (docs/speed.md, "Statistics":
    a throwaway timing, not kept). X, U C-contiguous (the
    memoryviews refuse other layouts); shapes are checked (ValueError)."""
    cdef Py_ssize_t m = X.shape[0], d = X.shape[1], i, j
    cdef const floating* x
    cdef double* u
    cdef double* sp
    cdef const double* kp
    cdef double v
    if k.shape[0] != d or s.shape[0] != d or U.shape[0] != m or U.shape[1] != d:
        raise ValueError(f"shift_rows: X is ({m}, {d}); k and s need {d} values and U "
                         f"that shape, got {k.shape[0]}, {s.shape[0]} and "
                         f"({U.shape[0]}, {U.shape[1]})")
    sp, kp = &s[0], &k[0]
    with nogil:
        for j in range(d):
            sp[j] = 0.0
        for i in range(m):
            x = &X[i, 0]
            u = &U[i, 0]
            for j in range(d):
                v = <double>x[j] - kp[j]
                u[j] = v
                sp[j] = sp[j] + v


def centre_rows(double[:, ::1] U not None, const double[::1] mean not None):
    """U -= mean, row by row, in place (the second half of shift_rows's
    centring). Shapes are checked (ValueError); U must be C-contiguous."""
    cdef Py_ssize_t m = U.shape[0], d = U.shape[1], i, j
    cdef double* u
    cdef const double* mp
    if mean.shape[0] != d:
        raise ValueError(f"centre_rows: U has {d} columns, mean {mean.shape[0]} values")
    mp = &mean[0]
    with nogil:
        for i in range(m):
            u = &U[i, 0]
            for j in range(d):
                u[j] = u[j] - mp[j]


cdef enum:
    RES_ROWS = 64            # rows per partial sum of the residual pass
    RES_LEVELS = 64          # levels of its pairwise merge (2**64 partials)


cdef inline void res_part(const floating* X, const yfloat* y, Py_ssize_t m, Py_ssize_t d,
                          const double* xbar, double ybar, const double* ws,
                          double* out) noexcept nogil:
    """The residual sums of m rows, added to out (_moments.h, rows in order)."""
    if floating is double:
        if yfloat is double:
            res_rows_dd(X, y, m, d, xbar, ybar, ws, out)
        else:
            res_rows_df(X, y, m, d, xbar, ybar, ws, out)
    else:
        if yfloat is double:
            res_rows_fd(X, y, m, d, xbar, ybar, ws, out)
        else:
            res_rows_ff(X, y, m, d, xbar, ybar, ws, out)


def residuals(const floating[:, ::1] X, const yfloat[::1] y, const double[::1] xbar,
              double ybar, const double[::1] wstar, double[::1] out, bint signals=False):
    """Residuals about a centre, for the statistics method (_moments.h): with
    u = x - xbar and e = (y - ybar) - u·wstar (u·wstar in four padded lanes),
    out = [sum e**2, sum e, sum e*u (d values), sum u (d values)].

    Each RES_ROWS rows are summed in order, and those partial sums merged
    pairwise, in order (gdfast_sstack in _moments.h: the binary counter the
    moments' merge uses too). One running sum over all rows
    let the rounding of sum u -- zero in exact arithmetic, kept for the
    rounding of the centring -- add up on clustered coarse-grid features
    (float32 rows offset in a cluster: adversarial testing found the
    statistics method 1e-10 of the coefficients from "pass",
    test_stats.py::test_residual_sums_are_merged_pairwise)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], lo = 0, m
    cdef Ticker t = Ticker(0, signals)
    cdef gdfast_sstack S
    cdef double* work
    with nogil:
        S.W, S.top = 2 * d + 2, 0
        work = <double*>malloc((RES_LEVELS + 1) * (S.W + 1) * sizeof(double))
        if work == NULL:
            with gil:
                raise MemoryError()
        S.size, S.S = work, work + RES_LEVELS + 1
        try:
            while lo < n:
                m = min(<Py_ssize_t>RES_ROWS, n - lo)
                res_part(&X[lo, 0], &y[lo], m, d, &xbar[0], ybar, &wstar[0],
                         gdfast_sstack_slot(&S))
                gdfast_sstack_push(&S)
                tick(&t, m * d)
                lo += m
            gdfast_sstack_finish(&S, &out[0])
        finally:
            free(work)
    end_of_call(signals)


def check_signals():
    """Run pending signal handlers now (Ctrl-C raises KeyboardInterrupt): for
    epoch loops in Python that call no kernel (see end_of_call)."""
    PyErr_CheckSignals()
