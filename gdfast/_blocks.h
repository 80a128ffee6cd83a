/* The one inner loop every pass shares (see _blocks.pxd for the contract).
 *
 * For m samples and weight w, in double precision:
 *   out[0] = sum (x*w - y)^2,  out[1] = sum x*(x*w - y),  out[2] = sum x*x (if want_xx)
 * Samples i, i+1, i+2, i+3 of each full group of four go to lanes 0..3; the
 * tail (m mod 4 samples) is added to lane 0 in order after the groups; the
 * lanes are combined as (l0 + l1) + (l2 + l3). The SSE2 path holds lanes
 * (0,1) and (2,3) in two vector registers and performs exactly the same
 * IEEE operations in the same order as the scalar path, so both give
 * identical bits. No FMA: the build passes -ffp-contract=off.
 */
#ifndef GDFAST_BLOCKS_H
#define GDFAST_BLOCKS_H

#include <stddef.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define GDFAST_SSE2 1

static inline double gdfast_hsum(__m128d v) {
    return _mm_cvtsd_f64(v) + _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
}

#define GDFAST_BLOCK_BODY(LOAD4)                                                  \
    const __m128d wv = _mm_set1_pd(w);                                            \
    __m128d a0 = _mm_setzero_pd(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0;   \
    __m128d x0, x1, y0, y1, r0, r1;                                               \
    double s0, s1, s2, xi, r;                                                     \
    Py_ssize_t i = 0;                                                             \
    for (; i + 4 <= m; i += 4) {                                                  \
        LOAD4                                                                     \
        r0 = _mm_sub_pd(_mm_mul_pd(x0, wv), y0);                                  \
        r1 = _mm_sub_pd(_mm_mul_pd(x1, wv), y1);                                  \
        a0 = _mm_add_pd(a0, _mm_mul_pd(r0, r0));                                  \
        a1 = _mm_add_pd(a1, _mm_mul_pd(r1, r1));                                  \
        b0 = _mm_add_pd(b0, _mm_mul_pd(x0, r0));                                  \
        b1 = _mm_add_pd(b1, _mm_mul_pd(x1, r1));                                  \
        if (want_xx) {                                                            \
            c0 = _mm_add_pd(c0, _mm_mul_pd(x0, x0));                              \
            c1 = _mm_add_pd(c1, _mm_mul_pd(x1, x1));                              \
        }                                                                         \
    }                                                                             \
    s0 = _mm_cvtsd_f64(a0); s1 = _mm_cvtsd_f64(b0); s2 = _mm_cvtsd_f64(c0);        \
    for (; i < m; i++) {                                                          \
        xi = (double)x[i]; r = xi * w - (double)y[i];                             \
        s0 += r * r; s1 += xi * r;                                                \
        if (want_xx) s2 += xi * xi;                                               \
    }                                                                             \
    a0 = _mm_move_sd(a0, _mm_set_sd(s0));                                         \
    b0 = _mm_move_sd(b0, _mm_set_sd(s1));                                         \
    c0 = _mm_move_sd(c0, _mm_set_sd(s2));                                         \
    out[0] = gdfast_hsum(a0) + gdfast_hsum(a1);                                   \
    out[1] = gdfast_hsum(b0) + gdfast_hsum(b1);                                   \
    out[2] = gdfast_hsum(c0) + gdfast_hsum(c1);

static inline void block_sums_d(const double *x, const double *y, Py_ssize_t m,
                                double w, double *out, int want_xx) {
    GDFAST_BLOCK_BODY(
        x0 = _mm_loadu_pd(x + i); x1 = _mm_loadu_pd(x + i + 2);
        y0 = _mm_loadu_pd(y + i); y1 = _mm_loadu_pd(y + i + 2);)
}

static inline void block_sums_f(const float *x, const float *y, Py_ssize_t m,
                                double w, double *out, int want_xx) {
    __m128 xf, yf;
    GDFAST_BLOCK_BODY(
        xf = _mm_loadu_ps(x + i); yf = _mm_loadu_ps(y + i);
        x0 = _mm_cvtps_pd(xf); x1 = _mm_cvtps_pd(_mm_movehl_ps(xf, xf));
        y0 = _mm_cvtps_pd(yf); y1 = _mm_cvtps_pd(_mm_movehl_ps(yf, yf));)
}

#else  /* portable scalar path: the same lanes, the same order */

#define GDFAST_SCALAR_BODY                                                        \
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0}, c[4] = {0, 0, 0, 0};         \
    double xi, r;                                                                 \
    Py_ssize_t i = 0;                                                             \
    int j;                                                                        \
    for (; i + 4 <= m; i += 4) {                                                  \
        for (j = 0; j < 4; j++) {                                                 \
            xi = (double)x[i + j]; r = xi * w - (double)y[i + j];                 \
            a[j] += r * r; b[j] += xi * r;                                        \
            if (want_xx) c[j] += xi * xi;                                         \
        }                                                                         \
    }                                                                             \
    for (; i < m; i++) {                                                          \
        xi = (double)x[i]; r = xi * w - (double)y[i];                             \
        a[0] += r * r; b[0] += xi * r;                                            \
        if (want_xx) c[0] += xi * xi;                                             \
    }                                                                             \
    out[0] = (a[0] + a[1]) + (a[2] + a[3]);                                       \
    out[1] = (b[0] + b[1]) + (b[2] + b[3]);                                       \
    out[2] = (c[0] + c[1]) + (c[2] + c[3]);

static inline void block_sums_d(const double *x, const double *y, Py_ssize_t m,
                                double w, double *out, int want_xx) {
    GDFAST_SCALAR_BODY
}

static inline void block_sums_f(const float *x, const float *y, Py_ssize_t m,
                                double w, double *out, int want_xx) {
    GDFAST_SCALAR_BODY
}
#endif

#endif  /* GDFAST_BLOCKS_H */
