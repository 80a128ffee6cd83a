/* Inner loops over rows of X (n, d) for the sums of gdfast._rows.
 *
 * rows_dots:  q[i - lo] = x_i . w       for rows lo..hi-1 (through idx)
 * rows_axpy:  g[j] += sum_i r[i - lo] * x_ij
 *
 * The dot product runs in eight fixed lanes: lane k accumulates the
 * products of the features j = 8m + k (m = 0, 1, ...), the d mod 8 tail
 * features go to lanes 0.. in order, and the lanes are combined as
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)): a fixed order that
 * differs from the reference's left-to-right sum by rounding only.
 * Written as plain C over fixed arrays so the compiler maps lanes to SIMD
 * registers without reordering anything (no fast-math, -ffp-contract=off):
 * the same bits with SSE2 (two lanes per instruction) and AVX2 (four),
 * chosen at run time like _blocks.h (GDFAST_NO_AVX2=1 forces SSE2).
 */
#ifndef GDFAST_ROWOPS_H
#define GDFAST_ROWOPS_H

#include <Python.h>
#include <stdint.h>
#include "_blocks.h"   /* gdfast_use_avx2() where AVX2 exists */

#define GDFAST_ROWOPS(SUFFIX, T, ATTR)                                            \
ATTR static double dot8_##SUFFIX(const T *x, const double *w, Py_ssize_t d) {    \
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                       \
    Py_ssize_t j = 0;                                                             \
    int k;                                                                        \
    for (; j + 8 <= d; j += 8)                                                    \
        for (k = 0; k < 8; k++) a[k] += (double)x[j + k] * w[j + k];              \
    switch (d - j) {  /* the tail, constant lane indices: lanes stay in registers */ \
    case 7: a[6] += (double)x[j + 6] * w[j + 6]; /* fall through */               \
    case 6: a[5] += (double)x[j + 5] * w[j + 5]; /* fall through */               \
    case 5: a[4] += (double)x[j + 4] * w[j + 4]; /* fall through */               \
    case 4: a[3] += (double)x[j + 3] * w[j + 3]; /* fall through */               \
    case 3: a[2] += (double)x[j + 2] * w[j + 2]; /* fall through */               \
    case 2: a[1] += (double)x[j + 1] * w[j + 1]; /* fall through */               \
    case 1: a[0] += (double)x[j] * w[j];                                          \
    default: break;                                                               \
    }                                                                             \
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));     \
}                                                                                 \
ATTR static void rows_dots_##SUFFIX(const T *X, const int64_t *idx, Py_ssize_t lo, \
                                     Py_ssize_t hi, Py_ssize_t d, const double *w, \
                                     double *q) {                                 \
    Py_ssize_t i;                                                                 \
    for (i = lo; i < hi; i++)                                                     \
        q[i - lo] = dot8_##SUFFIX(X + (idx ? (Py_ssize_t)idx[i] : i) * d, w, d);  \
}                                                                                 \
ATTR static void rows_axpy_##SUFFIX(const T *X, const int64_t *idx, Py_ssize_t lo, \
                                     Py_ssize_t hi, Py_ssize_t d, const double *r, \
                                     double *g) {                                 \
    Py_ssize_t i, j;                                                              \
    const T *xi;                                                                  \
    double ri;                                                                    \
    for (i = lo; i < hi; i++) {                                                   \
        xi = X + (idx ? (Py_ssize_t)idx[i] : i) * d;                              \
        ri = r[i - lo];                                                           \
        for (j = 0; j < d; j++) g[j] += ri * (double)xi[j];                       \
    }                                                                             \
}

GDFAST_ROWOPS(d_base, double, )
GDFAST_ROWOPS(f_base, float, )

#ifdef GDFAST_AVX2
GDFAST_ROWOPS(d_avx2, double, __attribute__((target("avx2"))))
GDFAST_ROWOPS(f_avx2, float, __attribute__((target("avx2"))))
#define GDFAST_PICK(NAME, SUFFIX, ...)                                            \
    if (gdfast_use_avx2()) NAME##_##SUFFIX##_avx2(__VA_ARGS__);                    \
    else NAME##_##SUFFIX##_base(__VA_ARGS__);
#else
#define GDFAST_PICK(NAME, SUFFIX, ...) NAME##_##SUFFIX##_base(__VA_ARGS__);
#endif

static inline void rows_dots_d(const double *X, const int64_t *idx, Py_ssize_t lo,
                               Py_ssize_t hi, Py_ssize_t d, const double *w, double *q) {
    GDFAST_PICK(rows_dots, d, X, idx, lo, hi, d, w, q)
}
static inline void rows_dots_f(const float *X, const int64_t *idx, Py_ssize_t lo,
                               Py_ssize_t hi, Py_ssize_t d, const double *w, double *q) {
    GDFAST_PICK(rows_dots, f, X, idx, lo, hi, d, w, q)
}
static inline void rows_axpy_d(const double *X, const int64_t *idx, Py_ssize_t lo,
                               Py_ssize_t hi, Py_ssize_t d, const double *r, double *g) {
    GDFAST_PICK(rows_axpy, d, X, idx, lo, hi, d, r, g)
}
static inline void rows_axpy_f(const float *X, const int64_t *idx, Py_ssize_t lo,
                               Py_ssize_t hi, Py_ssize_t d, const double *r, double *g) {
    GDFAST_PICK(rows_axpy, f, X, idx, lo, hi, d, r, g)
}

#endif  /* GDFAST_ROWOPS_H */
