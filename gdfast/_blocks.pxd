# cython: language_level=3
"""The one inner loop every pass shares (C in _blocks.h), for both dtypes.

For ``m`` samples and a weight ``w`` it accumulates, in double precision,
    out[0] = sum (x*w - y)**2        (squared residuals)
    out[1] = sum x*(x*w - y)         (half the gradient numerator)
    out[2] = sum x*x                 (only when want_xx)
over four interleaved lanes (samples i, i+1, i+2, i+3 of each group of four
go to lanes 0..3; a tail of fewer than four is added to lane 0 in order),
combined as (l0 + l1) + (l2 + l3). Lanes break the floating-add dependency
chain and let SSE2 do two lanes per instruction; they reorder the sum
relative to a left-to-right loop, so results differ from the reference by
rounding only (tests bound it, and tests/test_methods.py checks this exact
order bit for bit). Fewer than four samples are summed left to right,
exactly as the tutorial's loop does.
"""

from cython cimport floating

from libc.stdint cimport int64_t

cdef extern from "_blocks.h" nogil:
    int gdfast_simd_level()
    double sgd_fold_d(const double* x, const double* y, const int64_t* idx,
                      Py_ssize_t m, double w, double c2, double* mxy)
    double sgd_fold_f(const float* x, const float* y, const int64_t* idx,
                      Py_ssize_t m, double w, double c2, double* mxy)
    void block_sums_d(const double* x, const double* y, Py_ssize_t m, double w,
                      double* out, bint want_xx)
    void block_sums_f(const float* x, const float* y, Py_ssize_t m, double w,
                      double* out, bint want_xx)
    double mb_affine_d(const double* x, const double* y, Py_ssize_t n, Py_ssize_t size,
                       double w, double lr, double* mxy)
    double mb_affine_f(const float* x, const float* y, Py_ssize_t n, Py_ssize_t size,
                       double w, double lr, double* mxy)
    void sgd_fold_map_d(const double* x, const double* y, const int64_t* idx,
                        Py_ssize_t m, double c2, double* mp)
    void sgd_fold_map_f(const float* x, const float* y, const int64_t* idx,
                        Py_ssize_t m, double c2, double* mp)
    double sgd_fold_group_d(const double* x, const double* y, const int64_t* base,
                            Py_ssize_t j0, double w, double c2, const int64_t* pfb,
                            Py_ssize_t pfj)
    double sgd_fold_group_f(const float* x, const float* y, const int64_t* base,
                            Py_ssize_t j0, double w, double c2, const int64_t* pfb,
                            Py_ssize_t pfj)
    void max_abs_pair_d(const double* x, const double* y, Py_ssize_t n, double* mx,
                        double* my)
    void max_abs_pair_f(const float* x, const float* y, Py_ssize_t n, double* mx,
                        double* my)


cdef inline void block_sums(const floating* x, const floating* y, Py_ssize_t m,
                            double w, double* out, bint want_xx) noexcept nogil:
    if floating is double:
        block_sums_d(x, y, m, w, out, want_xx)
    else:
        block_sums_f(x, y, m, w, out, want_xx)


cdef inline double sgd_fold(const floating* x, const floating* y, const int64_t* idx,
                            Py_ssize_t m, double w, double c2,
                            double* mxy=NULL) noexcept nogil:
    """SGD over m samples as eight folded affine segments (see _blocks.h);
    with mxy, also mxy[0] = max(mxy[0], max |x|), mxy[1] likewise for y."""
    if floating is double:
        return sgd_fold_d(x, y, idx, m, w, c2, mxy)
    else:
        return sgd_fold_f(x, y, idx, m, w, c2, mxy)


cdef inline double mb_affine(const floating* x, const floating* y, Py_ssize_t n,
                             Py_ssize_t size, double w, double lr,
                             double* mxy=NULL) noexcept nogil:
    """Mini-batch steps over n samples in batches of size, affine form (see
    _blocks.h); returns w. With mxy, also the maxima as sgd_fold."""
    if floating is double:
        return mb_affine_d(x, y, n, size, w, lr, mxy)
    else:
        return mb_affine_f(x, y, n, size, w, lr, mxy)


cdef inline void max_abs_pair(const floating* x, const floating* y, Py_ssize_t n,
                              double* mx, double* my) noexcept nogil:
    """*mx = max(*mx, max |x_i|), *my = max(*my, max |y_i|) (see _blocks.h)."""
    if floating is double:
        max_abs_pair_d(x, y, n, mx, my)
    else:
        max_abs_pair_f(x, y, n, mx, my)


cdef inline void sgd_fold_map(const floating* x, const floating* y, const int64_t* idx,
                              Py_ssize_t m, double c2, double* mp) noexcept nogil:
    """mp[0..1] = (A, B) <- the map of SGD over the m samples, folded as
    sgd_fold does, composed after (A, B) (see _blocks.h)."""
    if floating is double:
        sgd_fold_map_d(x, y, idx, m, c2, mp)
    else:
        sgd_fold_map_f(x, y, idx, m, c2, mp)


cdef inline double sgd_fold_group(const floating* x, const floating* y, const int64_t* base,
                                  Py_ssize_t j0, double w, double c2, const int64_t* pfb,
                                  Py_ssize_t pfj) noexcept nogil:
    """One run of a full shuffle="blocks" group: rows j0..j0+7 of the 64
    blocks starting at base[0..63], in the order's sequence (512 samples),
    folded as sgd_fold folds them through a written order -- the same bits;
    with pfb, prefetching row pfj of the blocks starting at pfb[0..63]."""
    if floating is double:
        return sgd_fold_group_d(x, y, base, j0, w, c2, pfb, pfj)
    else:
        return sgd_fold_group_f(x, y, base, j0, w, c2, pfb, pfj)
