/* Inner loops over rows of X (n, d) for gdfast._rows.
 *
 * Dot products x.w run in fixed lanes, a fixed order that differs from the
 * reference's left-to-right sum by rounding only:
 *   - the row sums (pass_sums, batch and mini-batch epochs): four lanes,
 *     lane k taking the features j = k, k + 4, ... in order, a short last
 *     group padded with +0.0, combined as (l0 + l1) + (l2 + l3) ("dot4p";
 *     AVX2 intrinsics where the CPU has them, the same lanes in plain C
 *     otherwise);
 *   - the fast SGD forms ("dotl"): four lanes up to 16 features, eight
 *     beyond (((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))).
 * No fast-math, -ffp-contract=off: the same bits on every instruction set,
 * chosen at run time like _blocks.h (GDFAST_NO_AVX2=1 forces the baseline).
 */
#ifndef GDFAST_ROWOPS_H
#define GDFAST_ROWOPS_H

#include <Python.h>
#include <stdint.h>
#include <math.h>
#include "_blocks.h"   /* gdfast_use_avx2() where AVX2 exists */

#define GDFAST_ROWOPS(SUFFIX, T, ATTR)                                            \
ATTR static inline __attribute__((always_inline)) double dot8_##SUFFIX(const T *x, const double *w, Py_ssize_t d) {    \
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
ATTR static inline __attribute__((always_inline)) double dot4_##SUFFIX(const T *x,    \
                                                                 const double *w, \
                                                                 Py_ssize_t d) {  \
    double a[4] = {0, 0, 0, 0};                                                   \
    Py_ssize_t j = 0;                                                             \
    int k;                                                                        \
    for (; j + 4 <= d; j += 4)                                                    \
        for (k = 0; k < 4; k++) a[k] += (double)x[j + k] * w[j + k];              \
    if (j < d)   /* padded like dot4p: the same bits as the SIMD loops */         \
        for (k = 0; k < 4; k++) a[k] += j + k < d ? (double)x[j + k] * w[j + k] : 0.0; \
    return (a[0] + a[1]) + (a[2] + a[3]);                                         \
}                                                                                 \
ATTR static inline __attribute__((always_inline)) double dotl_##SUFFIX(const T *x,    \
                                                                 const double *w, \
                                                                 Py_ssize_t d) {  \
    return d <= 16 ? dot4_##SUFFIX(x, w, d) : dot8_##SUFFIX(x, w, d);             \
}                                                                                 \
ATTR static inline __attribute__((always_inline)) double dot8x_##SUFFIX(const T *x,   \
                                                                  const T *z,     \
                                                                  Py_ssize_t d) { \
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                       \
    Py_ssize_t j = 0;                                                             \
    int k;                                                                        \
    for (; j + 8 <= d; j += 8)                                                    \
        for (k = 0; k < 8; k++) a[k] += (double)x[j + k] * (double)z[j + k];      \
    for (k = 0; j < d; j++, k++) a[k] += (double)x[j] * (double)z[j];             \
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));     \
}                                                                                 \
ATTR static inline __attribute__((always_inline)) double dot4x_##SUFFIX(const T *x,   \
                                                                  const T *z,     \
                                                                  Py_ssize_t d) { \
    double a[4] = {0, 0, 0, 0};                                                   \
    Py_ssize_t j = 0;                                                             \
    int k;                                                                        \
    for (; j + 4 <= d; j += 4)                                                    \
        for (k = 0; k < 4; k++) a[k] += (double)x[j + k] * (double)z[j + k];      \
    for (k = 0; j < d; j++, k++) a[k] += (double)x[j] * (double)z[j];             \
    return (a[0] + a[1]) + (a[2] + a[3]);                                         \
}                                                                                 \
ATTR static inline __attribute__((always_inline)) double dotlx_##SUFFIX(const T *x,   \
                                                                  const T *z,     \
                                                                  Py_ssize_t d) { \
    return d <= 16 ? dot4x_##SUFFIX(x, z, d) : dot8x_##SUFFIX(x, z, d);           \
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



/* x.w in four lanes for the row sums: lane k takes the products of the
 * features j = k, k + 4, k + 8, ... in order; a short last group adds +0.0
 * to its missing lanes (exactly what a zero-padded SIMD load does); the
 * lanes are combined as (l0 + l1) + (l2 + l3). */
#define GDFAST_DOT4P(SUFFIX, T)                                                   \
static inline __attribute__((always_inline)) double dot4p_##SUFFIX(const T *x,    \
                                                                   const double *w, \
                                                                   Py_ssize_t d) { \
    double a[4] = {0, 0, 0, 0};                                                   \
    Py_ssize_t j = 0;                                                             \
    int k;                                                                        \
    for (; j + 4 <= d; j += 4)                                                    \
        for (k = 0; k < 4; k++) a[k] += (double)x[j + k] * w[j + k];              \
    if (j < d)                                                                    \
        for (k = 0; k < 4; k++) a[k] += j + k < d ? (double)x[j + k] * w[j + k] : 0.0; \
    return (a[0] + a[1]) + (a[2] + a[3]);                                         \
}
GDFAST_DOT4P(d, double)
GDFAST_DOT4P(f, float)

/* For d > 16 eight lanes ("dot8p"): lane k takes j = k, k + 8, ...; a short
 * last group padded with +0.0; ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
 * Two independent four-lane chains instead of one: half the latency per row. */
#define GDFAST_DOT8P(SUFFIX, T)                                                   \
static inline __attribute__((always_inline)) double dot8p_##SUFFIX(const T *x,    \
                                                                   const double *w, \
                                                                   Py_ssize_t d) { \
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                       \
    Py_ssize_t j = 0;                                                             \
    int k;                                                                        \
    for (; j + 8 <= d; j += 8)                                                    \
        for (k = 0; k < 8; k++) a[k] += (double)x[j + k] * w[j + k];              \
    if (j < d) {                                                                  \
        for (k = 0; k < 4; k++) a[k] += j + k < d ? (double)x[j + k] * w[j + k] : 0.0; \
        if (j + 4 < d)                                                            \
            for (k = 4; k < 8; k++) a[k] += j + k < d ? (double)x[j + k] * w[j + k] : 0.0; \
    }                                                                             \
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));     \
}
GDFAST_DOT8P(d, double)
GDFAST_DOT8P(f, float)
#define dotp_d(x, w, d) ((d) <= 16 ? dot4p_d(x, w, d) : dot8p_d(x, w, d))
#define dotp_f(x, w, d) ((d) <= 16 ? dot4p_f(x, w, d) : dot8p_f(x, w, d))

/* x.z of two rows, four lanes, padded: the "gram" SGD's Gram entries */
#define GDFAST_DOT4PX(SUFFIX, T)                                                  \
static inline __attribute__((always_inline)) double dot4px_##SUFFIX(const T *x,   \
                                                                    const T *z,   \
                                                                    Py_ssize_t d) { \
    double a[4] = {0, 0, 0, 0};                                                   \
    Py_ssize_t j = 0;                                                             \
    int k;                                                                        \
    for (; j + 4 <= d; j += 4)                                                    \
        for (k = 0; k < 4; k++) a[k] += (double)x[j + k] * (double)z[j + k];      \
    if (j < d)                                                                    \
        for (k = 0; k < 4; k++)                                                   \
            a[k] += j + k < d ? (double)x[j + k] * (double)z[j + k] : 0.0;        \
    return (a[0] + a[1]) + (a[2] + a[3]);                                         \
}
GDFAST_DOT4PX(d, double)
GDFAST_DOT4PX(f, float)

/* The sums of one block of rows, fused per row:
 *   out = [sum r**2, sum r, sum r*x_0, ..., sum r*x_{d-1}],  r = x.w + b - y
 * over rows lo..hi-1 (through idx when given),
 * rows in order, each x.w by dot4p (four lanes, zero-padded last group).
 * The body is always inlined into a switch over d = 1..16, so for small d
 * the compiler sees a constant d: the loops unroll and the partial sums
 * stay in registers. The AVX2 version below does the same lanes with
 * intrinsics (the compiler does not vectorise these reductions by itself):
 * same expressions, same order, for every d and instruction set -- the
 * same bits. */
/* The switches over d = 1..16 that give a body a compile-time constant d
 * (its loops unroll, its partial sums stay in registers): CASE(A, D) for
 * each D. */
#define GDFAST_CASES15(CASE, A)                                                   \
    CASE(A, 1) CASE(A, 2) CASE(A, 3) CASE(A, 4) CASE(A, 5) CASE(A, 6) CASE(A, 7)  \
    CASE(A, 8) CASE(A, 9) CASE(A, 10) CASE(A, 11) CASE(A, 12) CASE(A, 13)         \
    CASE(A, 14) CASE(A, 15)
#define GDFAST_CASES16(CASE, A) GDFAST_CASES15(CASE, A) CASE(A, 16)

#define GDFAST_BLOCK(SUFFIX, TX, TY, ATTR, DOT)                                    \
ATTR static inline __attribute__((always_inline)) void                            \
block_body_##SUFFIX(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t lo,  \
                    Py_ssize_t hi, const Py_ssize_t d, const double *w, double b,   \
                    double *out, double *g) {                                     \
    Py_ssize_t i, j, k;                                                           \
    double r, rr = 0.0, rs = 0.0;                                                 \
    const TX *xi;                                                                 \
    for (j = 0; j < d; j++) g[j] = 0.0;                                           \
    for (i = lo; i < hi; i++) {                                                   \
        k = idx ? (Py_ssize_t)idx[i] : i;                                         \
        xi = X + k * d;                                                           \
        r = DOT(xi, w, d) + b - (double)y[k];                                     \
        rr = rr + r * r;                                                          \
        rs = rs + r;                                                              \
        for (j = 0; j < d; j++) g[j] = g[j] + r * (double)xi[j];                  \
    }                                                                             \
    out[0] = rr;                                                                  \
    out[1] = rs;                                                                  \
}                                                                                 \
ATTR static void block_sums_##SUFFIX(const TX *X, const TY *y, const int64_t *idx, \
                                     Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t d,  \
                                     const double *w, double b, double *out) {    \
    double g[16];                                                                 \
    Py_ssize_t j;                                                                 \
    switch (d) {                                                                  \
    GDFAST_CASES16(GDFAST_CASE, SUFFIX)                                          \
    default:                                                                      \
        block_body_##SUFFIX(X, y, idx, lo, hi, d, w, b, out, out + 2);            \
        return;                                                                   \
    }                                                                             \
    for (j = 0; j < d; j++) out[2 + j] = g[j];                                    \
}

#define GDFAST_CASE(SUFFIX, D)                                                    \
    case D: block_body_##SUFFIX(X, y, idx, lo, hi, D, w, b, out, g); break;

GDFAST_BLOCK(dd_base, double, double, , dotp_d)
GDFAST_BLOCK(df_base, double, float, , dotp_d)
GDFAST_BLOCK(fd_base, float, double, , dotp_f)
GDFAST_BLOCK(ff_base, float, float, , dotp_f)
#ifdef GDFAST_AVX2
#endif


/* Software prefetch of row i + AHEAD of the visiting order (its x, and its y
 * through an order), for reading, into every cache level. The SGD chain keeps
 * the out-of-order window within a row or two, too few for the memory to stay
 * busy on wide rows; through a shuffled order it is the only way a row's
 * address is known early. A prefetch is only a hint: it cannot change a
 * result or fault. Distances in order: about GDFAST_PF_STREAM = 16 KiB ahead
 * for the passes that stream rows (the row sums of a pass or mini-batch, any
 * d; the "lanes" SGD; the statistics passes of _moments.h); about 4 KiB for
 * the "gram" SGD of d <= 16, whose chain, not the memory, sets its pace. An
 * earlier, noisier machine could not tell 1 or 4 KiB from two rows at d =
 * 100; on an AMD EPYC (Zen 5, fast memory) a C harness over 160 MB, builds
 * with each distance run alternately, medians: the pass at d = 100 about
 * 15-20% faster with 16 KiB than with 1 KiB (float64 and float32), at d = 10
 * about 7% than with 4 KiB, the "lanes" SGD at d = 100 about 15% than with
 * two rows (none at d = 20, 50), the moments about 5%, the "gram" SGD at d =
 * 10 no change. Through an order GDFAST_PF_FAR = 32 rows (the shuffled rows
 * of bench/bench_sklearn.py show the effect: about 2x at d = 10).
 * -DGDFAST_PF_AHEAD=0 builds without. */
#ifndef GDFAST_PF_AHEAD
#define GDFAST_PF_AHEAD 1
#endif
#ifndef GDFAST_PF_STREAM
#define GDFAST_PF_STREAM 16384
#endif
#ifndef GDFAST_PF_FAR
#define GDFAST_PF_FAR 32
#endif
/* in order: the rows in about BYTES, at least two (rows past the end are
 * harmless: see GDFAST_PREFETCH) */
#define GDFAST_PF_NEAR(d, size, BYTES) ((Py_ssize_t)((BYTES) / ((d) * (size))) > 2     \
                                        ? (Py_ssize_t)((BYTES) / ((d) * (size))) : 2)
#define GDFAST_PREFETCH(X, y, idx, i, n, d, AHEAD)                                \
    do {                                                                          \
        if (GDFAST_PF_AHEAD && (!(idx) || (i) + (AHEAD) < (n))) {                 \
            /* in order the row may lie past this call's rows (the next call's) \
             * or past the array: a prefetch never faults, and the address is   \
             * formed as an integer, not by pointer arithmetic past the end */  \
            const Py_ssize_t k_ = (idx) ? (Py_ssize_t)(idx)[(i) + (AHEAD)] : (i) + (AHEAD); \
            const Py_ssize_t s_ = (d) * (Py_ssize_t)sizeof(*(X));                 \
            const uintptr_t p_ = (uintptr_t)(X) + (uintptr_t)k_ * (uintptr_t)s_;  \
            Py_ssize_t o_;                                                        \
            for (o_ = 0; o_ < s_; o_ += 64) GDFAST_HINT((const void *)(p_ + o_), 0, 3);        \
            GDFAST_HINT((const void *)(p_ + s_ - 1), 0, 3);                       \
            if (idx) GDFAST_HINT((y) + k_, 0, 3);                                 \
        }                                                                         \
    } while (0)
/* In order, the four rows i + AHEAD .. i + AHEAD + 3 (a block of the d <= 16
 * forms), one hint per cache line they span and one for their last byte:
 * each line once, where GDFAST_PREFETCH per row would hint a line shared by
 * two rows twice. The address is formed as an integer: it may lie past the
 * array (a prefetch never faults). */
#define GDFAST_PREFETCH_BLOCK(X, i, d, AHEAD)                                     \
    do {                                                                          \
        if (GDFAST_PF_AHEAD) {                                                    \
            const Py_ssize_t s4_ = 4 * (d) * (Py_ssize_t)sizeof(*(X));             \
            const uintptr_t p4_ = (uintptr_t)(X)                                  \
                + (uintptr_t)(((i) + (AHEAD)) * (d)) * sizeof(*(X));               \
            Py_ssize_t o4_;                                                       \
            for (o4_ = 0; o4_ < s4_; o4_ += 64) GDFAST_HINT((const void *)(p4_ + o4_), 0, 3); \
            GDFAST_HINT((const void *)(p4_ + s4_ - 1), 0, 3);                     \
        }                                                                         \
    } while (0)

#ifdef GDFAST_AVX2
/* AVX2: the same four lanes in one register; a short last group is loaded
 * with a mask (zeros in the missing lanes, nothing read past the row). */
#define GDFAST_LD_d(p) _mm256_loadu_pd(p)
#define GDFAST_LDM_d(p, m, m32) _mm256_maskload_pd((p), (m))
#define GDFAST_LD_f(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define GDFAST_LDM_f(p, m, m32) _mm256_cvtps_pd(_mm_maskload_ps((p), (m32)))

__attribute__((target("avx2"))) static inline __attribute__((always_inline)) double
gdfast_hsum4(__m256d v) {
    __m128d h = _mm_hadd_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(h) + _mm_cvtsd_f64(_mm_unpackhi_pd(h, h));
}
/* [(l0 + l1) + (l2 + l3) of m_u] for u = 0..3: dot4p's combination of the
 * lanes, four at a time (x + y == y + x exactly, so the order inside each
 * pair does not matter). */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) __m256d
gdfast_red4(__m256d m0, __m256d m1, __m256d m2, __m256d m3) {
    __m256d t0 = _mm256_hadd_pd(m0, m1), t1 = _mm256_hadd_pd(m2, m3);
    return _mm256_add_pd(_mm256_blend_pd(t0, t1, 0xC), _mm256_permute2f128_pd(t0, t1, 0x21));
}
/* x.w of one row for d > 16 in the two registers A0 (lanes 0-3) and A1 (4-7) */
#define GDFAST_VDOT8(XI, A0, A1, LD, LDM)                                          \
    A0 = _mm256_setzero_pd();                                                     \
    A1 = _mm256_setzero_pd();                                                     \
    for (q = 0; q < n8; q++) {                                                    \
        A0 = _mm256_add_pd(A0, _mm256_mul_pd(LD(XI + 8 * q), _mm256_loadu_pd(w + 8 * q))); \
        A1 = _mm256_add_pd(A1, _mm256_mul_pd(LD(XI + 8 * q + 4),                 \
                                             _mm256_loadu_pd(w + 8 * q + 4)));    \
    }                                                                             \
    if (t8) {                                                                     \
        j = 8 * n8;                                                               \
        if (t8 >= 4) {                                                            \
            A0 = _mm256_add_pd(A0, _mm256_mul_pd(LD(XI + j), _mm256_loadu_pd(w + j))); \
            if (t)                                                                \
                A1 = _mm256_add_pd(A1, _mm256_mul_pd(LDM(XI + j + 4, m, m32),     \
                                                     _mm256_maskload_pd(w + j + 4, m))); \
        } else {                                                                  \
            A0 = _mm256_add_pd(A0, _mm256_mul_pd(LDM(XI + j, m, m32),             \
                                                 _mm256_maskload_pd(w + j, m)));  \
        }                                                                         \
    }
/* dot8p's combination of the lanes of A0, A1, + b - y */
#define GDFAST_VRES8(A0, A1, YK)                                                  \
    (_mm256_storeu_pd(l0, A0), _mm256_storeu_pd(l1, A1),                          \
     (((l0[0] + l0[1]) + (l0[2] + l0[3])) + ((l1[0] + l1[1]) + (l1[2] + l1[3])))  \
     + b - (double)(YK))

/* Vector q of row u of a block, loaded where it is used: the rows stay in L1,
 * and a load folded into its multiply costs less than the spills of keeping
 * a block's up to sixteen row vectors in the sixteen registers beside w and
 * the sums (measured: about 15% of an SGD epoch at d = 10, the "gram" form
 * below). */
#define GDFAST_XROW(LD_, LDM_, u, q)                                              \
    ((q) < nf ? LD_(xr[u] + 4 * (q)) : LDM_(xr[u] + 4 * (q), m, m32))
/* float32 rows are the exception: each use of a float32 row vector would
 * repeat its widening to double (cvtps_pd), which costs more than the spills
 * of keeping it (measured: a float32 pass at d = 10 became slower than
 * float64's), so those are widened once: the "gram" SGD below keeps them in
 * xw[u][q], the row sums in a buffer (GDFAST_VB); GDFAST_KEEP(TX) is a
 * compile-time constant. */
#define GDFAST_KEEP(TX) (sizeof(TX) == sizeof(float))
/* The row sums of d <= 16 (block_vsmall) take up to GDFAST_VB rows in two
 * phases: first their residuals, four rows at a time, into a buffer (float
 * rows widened once, into a buffer too); then the sums into g, row by row,
 * the rows read again from L1. Done in one phase, the four rows' vectors, w
 * and the sums of g needed more than the sixteen registers, and the
 * compiler spilled the sums themselves, putting a store and a load on their
 * chains (the float kernel all of them, the float64 one the last group's).
 * The same operations in the same order: the same bits. A C harness on an
 * AMD EPYC at d = 10 (alternated, medians; not kept): the float kernel about
 * 0.8 of its old time in cache, as fast as the float64 one; the float64
 * kernel 0.8-1.0 of its time. Sixteen rows gave float its best time
 * against float64; 32 and 64 were no faster. */
#ifndef GDFAST_VB
#define GDFAST_VB 16
#endif
#if GDFAST_VB < 4 || GDFAST_VB % 4
#error "GDFAST_VB: the rows of a phase go four at a time (a positive multiple of 4)"
#endif
#define GDFAST_XUSE(TX, LD_, LDM_, u, q)                                          \
    (GDFAST_KEEP(TX) ? xw[u][q] : GDFAST_XROW(LD_, LDM_, u, q))

#define GDFAST_BLOCK_AVX2(XY, TX, TY, LD, LDM, LDY)                                  \
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void  \
block_vbody_##XY(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t lo,      \
                 Py_ssize_t hi, const Py_ssize_t d, const double *w, double b,      \
                 double *out, double *g) {                                        \
    /* d > 16: eight lanes (dot8p) in two registers, g in memory, updated     \
     * once per two rows (g + r0*x0 + r1*x1, left to right: the row order). */  \
    const Py_ssize_t n8 = d / 8, t8 = d % 8, t = t8 % 4;                          \
    const Py_ssize_t nf = d / 4;                                                  \
    const __m256i m = _mm256_setr_epi64x(t > 0 ? -1 : 0, t > 1 ? -1 : 0,          \
                                         t > 2 ? -1 : 0, 0);                      \
    const __m128i m32 = _mm_setr_epi32(t > 0 ? -1 : 0, t > 1 ? -1 : 0,            \
                                       t > 2 ? -1 : 0, 0);                        \
    Py_ssize_t i, j, k, k1, q;                                                    \
    double r, r1, rr = 0.0, rs = 0.0, l0[4], l1[4];                               \
    const TX *xi, *x1;                                                            \
    __m256d a0, a1, c0, c1, rv, rv1;                                              \
    for (j = 0; j < d; j++) g[j] = 0.0;                                           \
    for (i = lo; i + 2 <= hi; i += 2) {                                           \
        k = idx ? (Py_ssize_t)idx[i] : i;                                         \
        k1 = idx ? (Py_ssize_t)idx[i + 1] : i + 1;                                \
        GDFAST_PREFETCH(X, y, idx, i, hi, d,                                      \
                        idx ? GDFAST_PF_FAR : 2 + GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM)); \
        GDFAST_PREFETCH(X, y, idx, i + 1, hi, d,                                  \
                        idx ? GDFAST_PF_FAR : 2 + GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM)); \
        xi = X + k * d;                                                           \
        x1 = X + k1 * d;                                                          \
        GDFAST_VDOT8(xi, a0, a1, LD, LDM)                                         \
        GDFAST_VDOT8(x1, c0, c1, LD, LDM)                                         \
        r = GDFAST_VRES8(a0, a1, y[k]);                                           \
        r1 = GDFAST_VRES8(c0, c1, y[k1]);                                         \
        rr = rr + r * r;                                                          \
        rs = rs + r;                                                              \
        rr = rr + r1 * r1;                                                        \
        rs = rs + r1;                                                             \
        rv = _mm256_set1_pd(r);                                                   \
        rv1 = _mm256_set1_pd(r1);                                                 \
        for (q = 0; q < nf; q++)                                                  \
            _mm256_storeu_pd(g + 4 * q, _mm256_add_pd(_mm256_add_pd(              \
                _mm256_loadu_pd(g + 4 * q), _mm256_mul_pd(rv, LD(xi + 4 * q))),   \
                _mm256_mul_pd(rv1, LD(x1 + 4 * q))));                             \
        for (j = 4 * nf; j < d; j++)                                              \
            g[j] = (g[j] + r * (double)xi[j]) + r1 * (double)x1[j];               \
    }                                                                             \
    for (; i < hi; i++) {                                                         \
        k = idx ? (Py_ssize_t)idx[i] : i;                                         \
        xi = X + k * d;                                                           \
        GDFAST_VDOT8(xi, a0, a1, LD, LDM)                                         \
        r = GDFAST_VRES8(a0, a1, y[k]);                                           \
        rr = rr + r * r;                                                          \
        rs = rs + r;                                                              \
        rv = _mm256_set1_pd(r);                                                   \
        for (q = 0; q < nf; q++)                                                  \
            _mm256_storeu_pd(g + 4 * q, _mm256_add_pd(_mm256_loadu_pd(g + 4 * q), \
                                                      _mm256_mul_pd(rv, LD(xi + 4 * q)))); \
        for (j = 4 * nf; j < d; j++) g[j] = g[j] + r * (double)xi[j];             \
    }                                                                             \
    out[0] = rr;                                                                  \
    out[1] = rs;                                                                  \
}                                                                                 \
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void  \
block_vsmall_##XY(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t lo,     \
                  Py_ssize_t hi, const Py_ssize_t d, const double *w, double b,     \
                  double *out) {                                                  \
    /* d <= 16, a compile-time constant here: the partial sums of g stay in     \
     * registers (the last group's padded lanes collect r*0 and are dropped).   \
     * Four rows at a time: their four x.w reduced together (gdfast_red4, the  \
     * same lanes and order as one at a time), then the sums in row order.      \
     * In two phases over up to GDFAST_VB rows (see there). Rows are          \
     * prefetched: in order each line of the block ~16 KiB ahead once          \
     * (GDFAST_PREFETCH_BLOCK), through an order each row 32 ahead. */         \
    const Py_ssize_t nf = d / 4, t = d % 4, nv = nf + (t ? 1 : 0);                \
    const __m256i m = _mm256_setr_epi64x(t > 0 ? -1 : 0, t > 1 ? -1 : 0,          \
                                         t > 2 ? -1 : 0, 0);                      \
    const __m128i m32 = _mm_setr_epi32(t > 0 ? -1 : 0, t > 1 ? -1 : 0,            \
                                       t > 2 ? -1 : 0, 0);                        \
    const __m256d z = _mm256_setzero_pd(), bv = _mm256_set1_pd(b);                \
    Py_ssize_t i, k, q, u, v, nb, kk[4];                                          \
    double r, rr = 0.0, rs = 0.0, lanes[4], rb[GDFAST_VB];                        \
    double xb[GDFAST_KEEP(TX) ? GDFAST_VB * 16 : 1];                              \
    const double *xp[GDFAST_VB];                                                  \
    const TX *xi, *xr[4];                                                         \
    __m256d acc, ac[4], rv, R, yv, xv[4], xq, wv[4], gv[4];                       \
    for (q = 0; q < nv; q++) {                                                    \
        gv[q] = _mm256_setzero_pd();                                              \
        wv[q] = q < nf ? _mm256_loadu_pd(w + 4 * q) : _mm256_maskload_pd(w + 4 * q, m); \
    }                                                                             \
    for (i = lo; i + 4 <= hi; i += nb) {                                          \
        /* phase 1: the residuals of up to GDFAST_VB rows, four at a time;   \
         * phase 2: their sums into g, row by row (few registers live in    \
         * each, so the compiler keeps the sums in registers) */            \
        nb = (hi - i) / 4 * 4;                                                    \
        if (nb > GDFAST_VB) nb = GDFAST_VB;                                       \
        for (v = 0; v < nb; v += 4) {                                             \
            if (!idx) GDFAST_PREFETCH_BLOCK(X, i + v, d, GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM)); \
            for (u = 0; u < 4; u++) {                                             \
                kk[u] = idx ? (Py_ssize_t)idx[i + v + u] : i + v + u;             \
                if (idx) GDFAST_PREFETCH(X, y, idx, i + v + u, hi, d, GDFAST_PF_FAR); \
                xr[u] = X + kk[u] * d;                                            \
                for (q = 0; q < nv; q++) {                                        \
                    xq = GDFAST_XROW(LD, LDM, u, q);                              \
                    if (GDFAST_KEEP(TX)) _mm256_storeu_pd(xb + (v + u) * 16 + 4 * q, xq); \
                    ac[u] = q ? _mm256_add_pd(ac[u], _mm256_mul_pd(xq, wv[q]))    \
                              : _mm256_add_pd(z, _mm256_mul_pd(xq, wv[0]));       \
                }                                                                 \
                if (!GDFAST_KEEP(TX)) xp[v + u] = (const double *)xr[u];          \
            }                                                                     \
            yv = idx ? _mm256_setr_pd((double)y[kk[0]], (double)y[kk[1]], (double)y[kk[2]], \
                                      (double)y[kk[3]])                           \
                     : LDY(y + i + v);                                            \
            R = _mm256_sub_pd(_mm256_add_pd(gdfast_red4(ac[0], ac[1], ac[2], ac[3]), bv), yv); \
            _mm256_storeu_pd(rb + v, R);                                          \
        }                                                                         \
        for (u = 0; u < nb; u++) {                                                \
            r = rb[u];                                                            \
            rr = rr + r * r;                                                      \
            rs = rs + r;                                                          \
            rv = _mm256_set1_pd(r);                                               \
            for (q = 0; q < nv; q++) {                                            \
                xq = GDFAST_KEEP(TX) ? _mm256_loadu_pd(xb + u * 16 + 4 * q)       \
                   : q < nf ? _mm256_loadu_pd(xp[u] + 4 * q)                      \
                            : _mm256_maskload_pd(xp[u] + 4 * q, m);               \
                gv[q] = _mm256_add_pd(gv[q], _mm256_mul_pd(rv, xq));              \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    for (; i < hi; i++) {                                                         \
        k = idx ? (Py_ssize_t)idx[i] : i;                                         \
        xi = X + k * d;                                                           \
        for (q = 0; q < nv; q++)                                                  \
            xv[q] = q < nf ? LD(xi + 4 * q) : LDM(xi + 4 * q, m, m32);            \
        acc = _mm256_mul_pd(xv[0], wv[0]);                                        \
        acc = _mm256_add_pd(_mm256_setzero_pd(), acc);                            \
        for (q = 1; q < nv; q++) acc = _mm256_add_pd(acc, _mm256_mul_pd(xv[q], wv[q])); \
        _mm256_storeu_pd(lanes, acc);                                             \
        r = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + b - (double)y[k];   \
        rr = rr + r * r;                                                          \
        rs = rs + r;                                                              \
        rv = _mm256_set1_pd(r);                                                   \
        for (q = 0; q < nv; q++) gv[q] = _mm256_add_pd(gv[q], _mm256_mul_pd(rv, xv[q])); \
    }                                                                             \
    for (q = 0; q < nf; q++) _mm256_storeu_pd(out + 2 + 4 * q, gv[q]);            \
    if (t) _mm256_maskstore_pd(out + 2 + 4 * nf, m, gv[nf]);                      \
    out[0] = rr;                                                                  \
    out[1] = rs;                                                                  \
}                                                                                 \
/* In order (idx NULL) the bodies get a literal NULL: the compiler then drops \
 * the per-row branches on idx, which it did not hoist out of the loop       \
 * (measured in a C harness: a float32 pass at d = 10 about 15% faster, in  \
 * cache). */                                                                  \
__attribute__((target("avx2"))) static void                                       \
block_sums_##XY##_avx2(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t lo, \
                       Py_ssize_t hi, Py_ssize_t d, const double *w, double b,     \
                       double *out) {                                             \
    if (!idx) {                                                                   \
        switch (d) {                                                              \
        GDFAST_CASES16(GDFAST_VCASE0, XY)                                         \
        default:                                                                  \
            block_vbody_##XY(X, y, NULL, lo, hi, d, w, b, out, out + 2);          \
        }                                                                         \
    } else {                                                                      \
        switch (d) {                                                              \
        GDFAST_CASES16(GDFAST_VCASE, XY)                                          \
        default:                                                                  \
            block_vbody_##XY(X, y, idx, lo, hi, d, w, b, out, out + 2);           \
        }                                                                         \
    }                                                                             \
}
#define GDFAST_VCASE(XY, D)                                                       \
    case D: block_vsmall_##XY(X, y, idx, lo, hi, D, w, b, out); break;
#define GDFAST_VCASE0(XY, D)                                                      \
    case D: block_vsmall_##XY(X, y, (const int64_t *)NULL, lo, hi, D, w, b, out); break;

GDFAST_BLOCK_AVX2(dd, double, double, GDFAST_LD_d, GDFAST_LDM_d, GDFAST_LD_d)
GDFAST_BLOCK_AVX2(df, double, float, GDFAST_LD_d, GDFAST_LDM_d, GDFAST_LD_f)
GDFAST_BLOCK_AVX2(fd, float, double, GDFAST_LD_f, GDFAST_LDM_f, GDFAST_LD_d)
GDFAST_BLOCK_AVX2(ff, float, float, GDFAST_LD_f, GDFAST_LDM_f, GDFAST_LD_f)
#endif

#define GDFAST_BLOCK_SUMS(XY, TX, TY)                                              \
static inline void block_sums_##XY(const TX *X, const TY *y, const int64_t *idx,   \
                                   Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t d,    \
                                   const double *w, double b, double *out) {      \
    GDFAST_PICK(block_sums, XY, X, y, idx, lo, hi, d, w, b, out)                   \
}
GDFAST_BLOCK_SUMS(dd, double, double)
GDFAST_BLOCK_SUMS(df, double, float)
GDFAST_BLOCK_SUMS(fd, float, double)
GDFAST_BLOCK_SUMS(ff, float, float)

/* ---------------------------------------------------------------------------
 * SGD over rows, a fast form of the update
 *     r = x.w + b - y;  w <- w - lr*(2*x*r + 2*alpha*w);  b <- b - lr*(2*r)
 * (equal to it in real arithmetic; rounding bounded in tests/test_rows.py).
 *
 * "lanes" (any d): x.w by dot8, the update loop vectorised. Only the order
 * of the dot product differs from the plain loop.
 *
 * Every form also adds to *rss the sum of r*r over its rows, each row's r
 * before its update (the epoch's running loss, as scikit-learn's SGD
 * tracks it), summed in row order in a local and added once at the end.
 *
 * ------------------------------------------------------------------------- */
/* The entry point of an SGD form: w copied into registers for d <= 16 (a
 * switch gives the body a constant d), the body on w itself beyond. */
#define GDFAST_SGD_ENTRY_BODY(NAME, SUFFIX, BIG, CASE)                            \
    const double c = 2.0 * lr, delta = 1.0 - 2.0 * lr * alpha;                    \
    const double fb = fit_b ? 1.0 : 0.0;                                          \
    double wl[16];                                                                \
    Py_ssize_t j;                                                                 \
    if (d > 16) return BIG(X, y, idx, n, d, w, b, c, delta, fb, rss);             \
    for (j = 0; j < d; j++) wl[j] = w[j];                                         \
    switch (d) {                                                                  \
    GDFAST_CASES16(CASE, SUFFIX)                                                  \
    default: break;                                                               \
    }                                                                             \
    for (j = 0; j < d; j++) w[j] = wl[j];                                         \
    return b;

#define GDFAST_SGD(SUFFIX, TX, TY, ATTR, DOTX, DOTD)                              \
ATTR static inline __attribute__((always_inline)) double                          \
sgd_body_##SUFFIX(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t n,     \
                  const Py_ssize_t d, double *w, double b, double c, double delta,  \
                  double fb, double *rss) {                                       \
    Py_ssize_t i, j, k;                                                           \
    const TX *xi;                                                                 \
    double r, cr, sq = 0.0;                                                       \
    for (i = 0; i < n; i++) {                                                     \
        k = idx ? (Py_ssize_t)idx[i] : i;                                         \
        xi = X + k * d;                                                           \
        GDFAST_PREFETCH(X, y, idx, i, n, d, idx ? GDFAST_PF_FAR : GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM));                                \
        r = DOTX(xi, w, d) + b - (double)y[k];                                    \
        sq = sq + r * r;                                                          \
        cr = c * r;                                                               \
        for (j = 0; j < d; j++) w[j] = delta * w[j] - cr * (double)xi[j];         \
        b = b - fb * cr;                                                          \
    }                                                                             \
    *rss = *rss + sq;                                                             \
    return b;                                                                     \
}                                                                                 \
ATTR static double sgd_lanes_##SUFFIX(const TX *X, const TY *y, const int64_t *idx, \
                                       Py_ssize_t n, Py_ssize_t d, double *w,     \
                                       double b, double lr, double alpha,         \
                                       int fit_b, double *rss) {                  \
    GDFAST_SGD_ENTRY_BODY(sgd_lanes, SUFFIX, sgd_body_##SUFFIX, GDFAST_SGD_CASE)   \
}

#define GDFAST_SGD_CASE(SUFFIX, D)                                                \
    case D: b = sgd_body_##SUFFIX(X, y, idx, n, D, wl, b, c, delta, fb, rss); break;

GDFAST_SGD(dd_base, double, double, , dotl_d_base, dotl_d_base)
GDFAST_SGD(df_base, double, float, , dotl_d_base, dotl_d_base)
GDFAST_SGD(fd_base, float, double, , dotl_f_base, dotl_d_base)
GDFAST_SGD(ff_base, float, float, , dotl_f_base, dotl_d_base)
#ifdef GDFAST_AVX2
GDFAST_SGD(dd_avx2, double, double, __attribute__((target("avx2"))), dotl_d_avx2, dotl_d_avx2)
GDFAST_SGD(df_avx2, double, float, __attribute__((target("avx2"))), dotl_d_avx2, dotl_d_avx2)
GDFAST_SGD(fd_avx2, float, double, __attribute__((target("avx2"))), dotl_f_avx2, dotl_d_avx2)
GDFAST_SGD(ff_avx2, float, float, __attribute__((target("avx2"))), dotl_f_avx2, dotl_d_avx2)
#endif


/* "gram": B = GDFAST_SGD_B rows at a time. With q_i = x_i.w (w at the
 * block's start), G_ik = x_i.x_k and K_ik = c (delta^{i-1-k} G_ik + fb)
 * (fb = 1 with an intercept, else 0), the residuals of the B updates are,
 * exactly in real arithmetic,
 *     r_i = delta^i q_i + b - y_i - sum_{k<i} r_k K_ik   (subtracted for k = 0, 1, ...)
 * and at the block's end  w <- delta^B w - sum_k c delta^{B-1-k} r_k x_k (in
 * order of k), b <- b - fb c (r_0 + ... + r_{B-1}). The dot products are
 * independent; the sequential part is a multiply-subtract per pair. Tail
 * rows (n mod B) take the "lanes" step. Dot products: dot4p/dot4px for
 * d <= 16 (AVX2 intrinsics where available, the same lanes in C
 * elsewhere), dot8/dot8x beyond. */
#define GDFAST_SGD_B 4   /* rows per block (8 measured slower: its Gram matrix costs more than the latency it hides) */
#define GDFAST_SGD4(SUFFIX, TX, TY, ATTR, DOTX, DOTXX)                            \
ATTR static inline __attribute__((always_inline)) double                          \
sgd4_body_##SUFFIX(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t n,    \
                   const Py_ssize_t d, double *w, double b, double c, double delta, \
                   double fb, double *rss) {                                      \
    double p[GDFAST_SGD_B + 1], r[GDFAST_SGD_B], g[GDFAST_SGD_B], K[GDFAST_SGD_B][GDFAST_SGD_B]; \
    double s, sq = 0.0;                                                           \
    const TX *xr[GDFAST_SGD_B];                                                   \
    Py_ssize_t i, j, k, u, kk;                                                    \
    p[0] = 1.0;                                                                   \
    for (u = 1; u <= GDFAST_SGD_B; u++) p[u] = p[u - 1] * delta;                  \
    for (i = 0; i + GDFAST_SGD_B <= n; i += GDFAST_SGD_B) {                       \
        for (u = 0; u < GDFAST_SGD_B; u++) {                                      \
            kk = idx ? (Py_ssize_t)idx[i + u] : i + u;                            \
            xr[u] = X + kk * d;                                                   \
            r[u] = p[u] * DOTX(xr[u], w, d) + b - (double)y[kk];                  \
            for (k = 0; k < u; k++)                                               \
                K[u][k] = c * (p[u - 1 - k] * DOTXX(xr[u], xr[k], d) + fb);       \
        }                                                                         \
        for (u = 1; u < GDFAST_SGD_B; u++)                                        \
            for (k = 0; k < u; k++) r[u] = r[u] - r[k] * K[u][k];                 \
        for (u = 0; u < GDFAST_SGD_B; u++) sq = sq + r[u] * r[u];                 \
        for (u = 0; u < GDFAST_SGD_B; u++) g[u] = c * p[GDFAST_SGD_B - 1 - u] * r[u]; \
        for (j = 0; j < d; j++) {                                                 \
            s = p[GDFAST_SGD_B] * w[j];                                           \
            for (u = 0; u < GDFAST_SGD_B; u++) s = s - g[u] * (double)xr[u][j];   \
            w[j] = s;                                                             \
        }                                                                         \
        s = r[0];                                                                 \
        for (u = 1; u < GDFAST_SGD_B; u++) s = s + r[u];                          \
        b = b - fb * (c * s);                                                     \
    }                                                                             \
    *rss = *rss + sq;                                                             \
    if (i == n) return b;                                                         \
    /* the n mod B last rows: the "lanes" step */                                 \
    return sgd_body_##SUFFIX(idx ? X : X + i * d, idx ? y : y + i, idx ? idx + i : NULL, \
                             n - i, d, w, b, c, delta, fb, rss);                  \
}                                                                                 \
ATTR static double sgd_blocks_##SUFFIX(const TX *X, const TY *y, const int64_t *idx, \
                                        Py_ssize_t n, Py_ssize_t d, double *w,    \
                                        double b, double lr, double alpha,        \
                                        int fit_b, double *rss) {                 \
    GDFAST_SGD_ENTRY_BODY(sgd_blocks, SUFFIX, sgd4_body_##SUFFIX, GDFAST_SGD4_CASE) \
}

#define GDFAST_SGD4_CASE(SUFFIX, D)                                               \
    case D: b = GDFAST_SMALL_##SUFFIX(X, y, idx, n, D, wl, b, c, delta, fb, rss); break;
#define GDFAST_SMALL_dd_base sgd4_body_dd_base
#define GDFAST_SMALL_df_base sgd4_body_df_base
#define GDFAST_SMALL_fd_base sgd4_body_fd_base
#define GDFAST_SMALL_ff_base sgd4_body_ff_base
#define GDFAST_SMALL_dd_avx2 sgd4v_body_dd
#define GDFAST_SMALL_df_avx2 sgd4v_body_df
#define GDFAST_SMALL_fd_avx2 sgd4v_body_fd
#define GDFAST_SMALL_ff_avx2 sgd4v_body_ff

#define dotq_d(x, w, d) ((d) <= 16 ? dot4p_d(x, w, d) : dot8_d_base(x, w, d))
#define dotq_f(x, w, d) ((d) <= 16 ? dot4p_f(x, w, d) : dot8_f_base(x, w, d))
#define dotqx_d(x, z, d) ((d) <= 16 ? dot4px_d(x, z, d) : dot8x_d_base(x, z, d))
#define dotqx_f(x, z, d) ((d) <= 16 ? dot4px_f(x, z, d) : dot8x_f_base(x, z, d))
GDFAST_SGD4(dd_base, double, double, , dotq_d, dotqx_d)
GDFAST_SGD4(df_base, double, float, , dotq_d, dotqx_d)
GDFAST_SGD4(fd_base, float, double, , dotq_f, dotqx_f)
GDFAST_SGD4(ff_base, float, float, , dotq_f, dotqx_f)

#ifdef GDFAST_AVX2
/* "gram" with AVX2 for d <= 16 (a compile-time constant): w in registers,
 * the rows read from L1 where they are used (GDFAST_XUSE: float32 rows
 * widened once and kept), each dot product in the four padded lanes of dot4p/dot4px,
 * combined as (l0 + l1) + (l2 + l3); the same expressions as the plain-C
 * body, so the same bits. The ten dot products of a block (four x_u.w, six
 * Gram entries) are reduced four at a time (gdfast_red4), and the block's
 * scalars (residuals, K) stay in registers: the chain from block to block
 * is x.w -> residuals -> the triangle -> the update, nothing through memory. */
#define GDFAST_SGD4V(XY, TX, TY, LD, LDM, LDY)                                        \
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) double \
sgd4v_core_##XY(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t n,        \
                const Py_ssize_t d, double *w, double b, double c, double delta,   \
                double fb, double *rss, const int decay) {                        \
    const Py_ssize_t nf = d / 4, t = d % 4, nv = nf + (t ? 1 : 0);                \
    const __m256i m = _mm256_setr_epi64x(t > 0 ? -1 : 0, t > 1 ? -1 : 0,          \
                                         t > 2 ? -1 : 0, 0);                      \
    const __m128i m32 = _mm_setr_epi32(t > 0 ? -1 : 0, t > 1 ? -1 : 0,            \
                                       t > 2 ? -1 : 0, 0);                        \
    double sq = 0.0, rr;                                                          \
    const double p1 = delta, p2 = p1 * delta, p3 = p2 * delta, p4 = p3 * delta;    \
    const double cp0 = c * p3, cp1 = c * p2, cp2 = c * p1, cp3 = c * 1.0;          \
    const __m256d pv = _mm256_setr_pd(1.0, p1, p2, p3), cv = _mm256_set1_pd(c);    \
    const __m256d pA = _mm256_setr_pd(1.0, p1, 1.0, p2);  /* K10 K20 K21 K30 */    \
    const __m256d pB = _mm256_setr_pd(p1, 1.0, 1.0, 1.0); /* K31 K32 - - */        \
    const __m256d fbv = _mm256_set1_pd(fb), p4v = _mm256_set1_pd(p4);             \
    const __m256d z = _mm256_setzero_pd();                                        \
    double r0, r1, r2, r3, K10, K20, K21, K30, K31, K32, cr, s;                   \
    Py_ssize_t i, q, u, k, kk[4];                                                 \
    const TX *xr[4];                                                              \
    __m256d wv[4], xw[4][4], acc[4], P[6], Q, R, KA, KB, yv, g0, g1, g2, g3, v;    \
    __m128d h;                                                                    \
    for (q = 0; q < nv; q++)                                                      \
        wv[q] = q < nf ? _mm256_loadu_pd(w + 4 * q) : _mm256_maskload_pd(w + 4 * q, m); \
    for (i = 0; i + 4 <= n; i += 4) {                                             \
        if (!idx) GDFAST_PREFETCH_BLOCK(X, i, d, GDFAST_PF_NEAR(d, sizeof(TX), 4096)); \
        for (u = 0; u < 4; u++) {                                                 \
            kk[u] = idx ? (Py_ssize_t)idx[i + u] : i + u;                         \
            if (idx) GDFAST_PREFETCH(X, y, idx, i + u, n, d, GDFAST_PF_FAR);      \
            xr[u] = X + kk[u] * d;                                                \
            if (GDFAST_KEEP(TX))                                                  \
                for (q = 0; q < nv; q++) xw[u][q] = GDFAST_XROW(LD, LDM, u, q);   \
        }                                                                         \
        /* the Gram entries (no w: off the chain) */                              \
        for (k = 0; k < 6; k++) P[k] = z;                                         \
        for (q = 0; q < nv; q++) {                                                \
            P[0] = _mm256_add_pd(P[0], _mm256_mul_pd(GDFAST_XUSE(TX, LD, LDM, 1, q), GDFAST_XUSE(TX, LD, LDM, 0, q)));          \
            P[1] = _mm256_add_pd(P[1], _mm256_mul_pd(GDFAST_XUSE(TX, LD, LDM, 2, q), GDFAST_XUSE(TX, LD, LDM, 0, q)));          \
            P[2] = _mm256_add_pd(P[2], _mm256_mul_pd(GDFAST_XUSE(TX, LD, LDM, 2, q), GDFAST_XUSE(TX, LD, LDM, 1, q)));          \
            P[3] = _mm256_add_pd(P[3], _mm256_mul_pd(GDFAST_XUSE(TX, LD, LDM, 3, q), GDFAST_XUSE(TX, LD, LDM, 0, q)));          \
            P[4] = _mm256_add_pd(P[4], _mm256_mul_pd(GDFAST_XUSE(TX, LD, LDM, 3, q), GDFAST_XUSE(TX, LD, LDM, 1, q)));          \
            P[5] = _mm256_add_pd(P[5], _mm256_mul_pd(GDFAST_XUSE(TX, LD, LDM, 3, q), GDFAST_XUSE(TX, LD, LDM, 2, q)));          \
        }                                                                         \
        /* K = c*(p*G + fb); without a penalty p = 1 and p*G is G exactly */   \
        KA = gdfast_red4(P[0], P[1], P[2], P[3]);                                 \
        KB = gdfast_red4(P[4], P[5], P[5], P[5]);                                 \
        if (decay) {                                                              \
            KA = _mm256_mul_pd(pA, KA);                                           \
            KB = _mm256_mul_pd(pB, KB);                                           \
        }                                                                         \
        KA = _mm256_mul_pd(cv, _mm256_add_pd(KA, fbv));                           \
        KB = _mm256_mul_pd(cv, _mm256_add_pd(KB, fbv));                           \
        K10 = _mm256_cvtsd_f64(KA);                                               \
        K20 = _mm256_cvtsd_f64(_mm256_permute_pd(KA, 1));                         \
        h = _mm256_extractf128_pd(KA, 1);                                         \
        K21 = _mm_cvtsd_f64(h); K30 = _mm_cvtsd_f64(_mm_unpackhi_pd(h, h));       \
        K31 = _mm256_cvtsd_f64(KB);                                               \
        K32 = _mm256_cvtsd_f64(_mm256_permute_pd(KB, 1));                         \
        /* the chain: x_u.w, the residuals, the triangle, the update */           \
        for (u = 0; u < 4; u++) acc[u] = z;                                       \
        for (q = 0; q < nv; q++)                                                  \
            for (u = 0; u < 4; u++)                                               \
                acc[u] = _mm256_add_pd(acc[u], _mm256_mul_pd(GDFAST_XUSE(TX, LD, LDM, u, q), wv[q]));    \
        Q = gdfast_red4(acc[0], acc[1], acc[2], acc[3]);                          \
        yv = idx ? _mm256_setr_pd((double)y[kk[0]], (double)y[kk[1]], (double)y[kk[2]], \
                                  (double)y[kk[3]])                               \
                 : LDY(y + i);                                                    \
        if (decay) Q = _mm256_mul_pd(pv, Q);                                      \
        R = _mm256_sub_pd(_mm256_add_pd(Q, _mm256_set1_pd(b)), yv);               \
        r0 = _mm256_cvtsd_f64(R);                                                 \
        r1 = _mm256_cvtsd_f64(_mm256_permute_pd(R, 1));                           \
        h = _mm256_extractf128_pd(R, 1);                                          \
        r2 = _mm_cvtsd_f64(h); r3 = _mm_cvtsd_f64(_mm_unpackhi_pd(h, h));         \
        r1 = r1 - r0 * K10;                                                       \
        r2 = r2 - r0 * K20; r2 = r2 - r1 * K21;                                   \
        r3 = r3 - r0 * K30; r3 = r3 - r1 * K31; r3 = r3 - r2 * K32;               \
        sq = sq + r0 * r0; sq = sq + r1 * r1; sq = sq + r2 * r2; sq = sq + r3 * r3; \
        g0 = _mm256_set1_pd(cp0 * r0); g1 = _mm256_set1_pd(cp1 * r1);             \
        g2 = _mm256_set1_pd(cp2 * r2); g3 = _mm256_set1_pd(cp3 * r3);             \
        for (q = 0; q < nv; q++) {                                                \
            v = decay ? _mm256_mul_pd(p4v, wv[q]) : wv[q];   /* 1*w is w */       \
            v = _mm256_sub_pd(v, _mm256_mul_pd(g0, GDFAST_XUSE(TX, LD, LDM, 0, q)));                     \
            v = _mm256_sub_pd(v, _mm256_mul_pd(g1, GDFAST_XUSE(TX, LD, LDM, 1, q)));                     \
            v = _mm256_sub_pd(v, _mm256_mul_pd(g2, GDFAST_XUSE(TX, LD, LDM, 2, q)));                     \
            wv[q] = _mm256_sub_pd(v, _mm256_mul_pd(g3, GDFAST_XUSE(TX, LD, LDM, 3, q)));                 \
        }                                                                         \
        s = ((r0 + r1) + r2) + r3;                                                \
        b = b - fb * (c * s);                                                     \
    }                                                                             \
    /* as the C body: the blocks' sum added, then the tail rows' own sum */      \
    *rss = *rss + sq;                                                             \
    sq = 0.0;                                                                     \
    for (; i < n; i++) {                                                          \
        k = idx ? (Py_ssize_t)idx[i] : i;                                         \
        xr[0] = X + k * d;                                                        \
        acc[0] = z;                                                               \
        for (q = 0; q < nv; q++) acc[0] = _mm256_add_pd(acc[0], _mm256_mul_pd(GDFAST_XROW(LD, LDM, 0, q), wv[q])); \
        rr = gdfast_hsum4(acc[0]) + b - (double)y[k];                             \
        sq = sq + rr * rr;                                                        \
        cr = c * rr;                                                              \
        for (q = 0; q < nv; q++)                                                  \
            wv[q] = _mm256_sub_pd(_mm256_mul_pd(_mm256_set1_pd(delta), wv[q]),    \
                                  _mm256_mul_pd(_mm256_set1_pd(cr), GDFAST_XROW(LD, LDM, 0, q)));    \
        b = b - fb * cr;                                                          \
    }                                                                             \
    for (q = 0; q < nf; q++) _mm256_storeu_pd(w + 4 * q, wv[q]);                  \
    if (t) _mm256_maskstore_pd(w + 4 * nf, m, wv[nf]);                            \
    if (n % 4) *rss = *rss + sq;                                                  \
    return b;                                                                     \
}                                                                                 \
/* decay (a penalty) a constant in each copy: without it the loop keeps fewer  \
 * constants live, and fewer values spill from the sixteen registers; and in \
 * order (idx NULL) a literal NULL, so the per-row branches on idx go (as in  \
 * block_sums: about 10% of an SGD epoch at d = 10 in a C harness) */        \
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) double \
sgd4v_body_##XY(const TX *X, const TY *y, const int64_t *idx, Py_ssize_t n,        \
                const Py_ssize_t d, double *w, double b, double c, double delta,   \
                double fb, double *rss) {                                         \
    if (!idx) {                                                                   \
        if (delta != 1.0)                                                         \
            return sgd4v_core_##XY(X, y, (const int64_t *)NULL, n, d, w, b, c, delta, fb, rss, 1); \
        return sgd4v_core_##XY(X, y, (const int64_t *)NULL, n, d, w, b, c, delta, fb, rss, 0); \
    }                                                                             \
    if (delta != 1.0) return sgd4v_core_##XY(X, y, idx, n, d, w, b, c, delta, fb, rss, 1); \
    return sgd4v_core_##XY(X, y, idx, n, d, w, b, c, delta, fb, rss, 0);          \
}
GDFAST_SGD4V(dd, double, double, GDFAST_LD_d, GDFAST_LDM_d, GDFAST_LD_d)
GDFAST_SGD4V(df, double, float, GDFAST_LD_d, GDFAST_LDM_d, GDFAST_LD_f)
GDFAST_SGD4V(fd, float, double, GDFAST_LD_f, GDFAST_LDM_f, GDFAST_LD_d)
GDFAST_SGD4V(ff, float, float, GDFAST_LD_f, GDFAST_LDM_f, GDFAST_LD_f)
#endif
#ifdef GDFAST_AVX2
GDFAST_SGD4(dd_avx2, double, double, __attribute__((target("avx2"))), dotq_d, dotqx_d)
GDFAST_SGD4(df_avx2, double, float, __attribute__((target("avx2"))), dotq_d, dotqx_d)
GDFAST_SGD4(fd_avx2, float, double, __attribute__((target("avx2"))), dotq_f, dotqx_f)
GDFAST_SGD4(ff_avx2, float, float, __attribute__((target("avx2"))), dotq_f, dotqx_f)
#endif

#ifdef GDFAST_AVX2
#define GDFAST_PICK_RET(NAME, SUFFIX, ...)                                        \
    return gdfast_use_avx2() ? NAME##_##SUFFIX##_avx2(__VA_ARGS__)                  \
                             : NAME##_##SUFFIX##_base(__VA_ARGS__);
#else
#define GDFAST_PICK_RET(NAME, SUFFIX, ...) return NAME##_##SUFFIX##_base(__VA_ARGS__);
#endif

#define GDFAST_SGD_ENTRY(XY, TX, TY)                                              \
static inline double sgd_lanes_##XY(const TX *X, const TY *y, const int64_t *idx,  \
                                    Py_ssize_t n, Py_ssize_t d, double *w, double b, \
                                    double lr, double alpha, int fit_b, double *rss) { \
    GDFAST_PICK_RET(sgd_lanes, XY, X, y, idx, n, d, w, b, lr, alpha, fit_b, rss)   \
}                                                                                 \
static inline double sgd_blocks_##XY(const TX *X, const TY *y, const int64_t *idx, \
                                     Py_ssize_t n, Py_ssize_t d, double *w, double b, \
                                     double lr, double alpha, int fit_b, double *rss) { \
    GDFAST_PICK_RET(sgd_blocks, XY, X, y, idx, n, d, w, b, lr, alpha, fit_b, rss)  \
}
GDFAST_SGD_ENTRY(dd, double, double)
GDFAST_SGD_ENTRY(df, double, float)
GDFAST_SGD_ENTRY(fd, float, double)
GDFAST_SGD_ENTRY(ff, float, float)

/* max_abs_pair_d / _f (the overflow certificate's maxima) are in _blocks.h. */

#endif  /* GDFAST_ROWOPS_H */
