/* The statistics method's passes over the rows of X (n, d) (gdfast._stats):
 * the moments for d <= 16 (beyond, the Gram matrix goes through numpy's BLAS
 * there), the residuals for any d.
 *
 * Pass 1, moments: the augmented rows z = [x_0, ..., x_{d-1}, y] (D = d + 1
 * columns) are read once, in chunks of MOM_ROWS rows, every value shifted by
 * the first row's, K (exact for values near it: offsets cancel before any sum
 * is taken, so the chunks' means are of the data's spread, not its offset,
 * and their merge is as accurate as the spread allows). Per chunk, in cache:
 * the chunk's column means mc (the even and the odd rows summed apart, each
 * in order, the two sums added, divided by the count),
 * the rows centred on them into a buffer U (D columns padded with zeros to
 * W, a multiple of four), and the centred Gram matrix G = U'U in 4x4 tiles
 * (gdfast_gram_c: each entry a sum over the chunk's rows in order, or over
 * its even and odd rows apart, then added). Chunks are merged pairwise, in
 * order (gdfast_mstack: a binary counter of merged runs of chunks), by the
 * exact update of Chan, Golub & LeVeque: (N, M, C) absorbing (m, mc, G),
 * delta = mc - M,  C += G + (N*m/(N+m)) * delta delta',
 * M += delta * (m/(N+m)),  N += m  (in the shifted coordinates; the mean is
 * K + M). Centring each chunk on its own means keeps every product small, so
 * no prefix or offset can make the sums cancel (tests/test_stats.py: offsets
 * up to 1e8 against a long-double reference).
 *
 * Pass 2 (any d), residuals about the least-squares centre: with u = x - xbar and
 * e = (y - ybar) - u.w* (u.w* in four lanes, lane k taking the features
 * j = k, k + 4, ..., a short last group padded with +0.0, combined as
 * (l0 + l1) + (l2 + l3)), the sums [e**2, e, e*u (d values), u (d values)],
 * rows in order.
 *
 * Every value is an elementwise operation on independent accumulators, so a
 * compiler may vectorise freely without changing a bit: the AVX2 build (the
 * centring, the Gram tiles and the residuals in intrinsics, with the C's
 * expressions in the C's order) and the baseline give identical results
 * (tests/test_stats.py, GDFAST_NO_AVX2). No FMA: -ffp-contract=off, and the
 * intrinsics multiply, then add.
 */
#ifndef GDFAST_MOMENTS_H
#define GDFAST_MOMENTS_H

#include <Python.h>
#include "_blocks.h"   /* gdfast_use_avx2() where AVX2 exists */
#include "_rowops.h"   /* GDFAST_LD_* / GDFAST_LDM_*: the (masked) row loads */

#define GDFAST_MOM_ROWS 256     /* rows per chunk: about 40 KiB of U in cache */
#define GDFAST_MOM_MAXD 16      /* features handled here */
#define GDFAST_MOM_MAXW 20      /* d + 1 columns padded to a multiple of four */

/* G[j][k] for the 4x4 tiles (jb, kb >= jb) of U (m rows, W columns), in
 * plain C. Tiles go two at a time where two are left in a row of tiles
 * (eight independent accumulators hide the latency of the adds), each entry
 * summed over the rows in order from 0; a single tile sums the even and the
 * odd rows apart (again eight accumulators) and adds the two at the end. */
static inline __attribute__((always_inline)) void
gdfast_gram_c(const double *U, Py_ssize_t m, const Py_ssize_t W, double *G) {
    Py_ssize_t i, jb, kb, t, q, p;
    double a[2][4][4];
    for (jb = 0; jb < W; jb += 4) {
        for (kb = jb; kb + 8 <= W; kb += 8) {
            for (p = 0; p < 2; p++)
                for (t = 0; t < 4; t++)
                    for (q = 0; q < 4; q++) a[p][t][q] = 0.0;
            for (i = 0; i < m; i++)
                for (p = 0; p < 2; p++)
                    for (t = 0; t < 4; t++)
                        for (q = 0; q < 4; q++)
                            a[p][t][q] = a[p][t][q]
                                         + U[i * W + jb + t] * U[i * W + kb + 4 * p + q];
            for (p = 0; p < 2; p++)
                for (t = 0; t < 4; t++)
                    for (q = 0; q < 4; q++) G[(jb + t) * W + kb + 4 * p + q] = a[p][t][q];
        }
        if (kb < W) {
            for (p = 0; p < 2; p++)
                for (t = 0; t < 4; t++)
                    for (q = 0; q < 4; q++) a[p][t][q] = 0.0;
            for (i = 0; i < m; i++)
                for (t = 0; t < 4; t++)
                    for (q = 0; q < 4; q++)
                        a[i & 1][t][q] = a[i & 1][t][q] + U[i * W + jb + t] * U[i * W + kb + q];
            for (t = 0; t < 4; t++)
                for (q = 0; q < 4; q++) G[(jb + t) * W + kb + q] = a[0][t][q] + a[1][t][q];
        }
    }
}

#ifdef GDFAST_AVX2
/* The same tiles and order in AVX2 registers (multiply, then add). */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void
gdfast_gram_avx2(const double *U, Py_ssize_t m, const Py_ssize_t W, double *G) {
    Py_ssize_t i, jb, kb, t;
    __m256d a[4], c[4], v, z, u;
    for (jb = 0; jb < W; jb += 4) {
        for (kb = jb; kb + 8 <= W; kb += 8) {
            for (t = 0; t < 4; t++) a[t] = c[t] = _mm256_setzero_pd();
            for (i = 0; i < m; i++) {
                const double *ui = U + i * W;
                v = _mm256_loadu_pd(ui + kb);
                z = _mm256_loadu_pd(ui + kb + 4);
                for (t = 0; t < 4; t++) {
                    u = _mm256_broadcast_sd(ui + jb + t);
                    a[t] = _mm256_add_pd(a[t], _mm256_mul_pd(u, v));
                    c[t] = _mm256_add_pd(c[t], _mm256_mul_pd(u, z));
                }
            }
            for (t = 0; t < 4; t++) {
                _mm256_storeu_pd(G + (jb + t) * W + kb, a[t]);
                _mm256_storeu_pd(G + (jb + t) * W + kb + 4, c[t]);
            }
        }
        if (kb < W) {            /* even rows into a, odd rows into c */
            for (t = 0; t < 4; t++) a[t] = c[t] = _mm256_setzero_pd();
            for (i = 0; i + 1 < m; i += 2) {
                const double *ui = U + i * W;
                v = _mm256_loadu_pd(ui + kb);
                z = _mm256_loadu_pd(ui + W + kb);
                for (t = 0; t < 4; t++) {
                    a[t] = _mm256_add_pd(a[t], _mm256_mul_pd(_mm256_broadcast_sd(ui + jb + t), v));
                    c[t] = _mm256_add_pd(c[t], _mm256_mul_pd(_mm256_broadcast_sd(ui + W + jb + t), z));
                }
            }
            if (i < m) {
                const double *ui = U + i * W;
                v = _mm256_loadu_pd(ui + kb);
                for (t = 0; t < 4; t++)
                    a[t] = _mm256_add_pd(a[t], _mm256_mul_pd(_mm256_broadcast_sd(ui + jb + t), v));
            }
            for (t = 0; t < 4; t++)
                _mm256_storeu_pd(G + (jb + t) * W + kb, _mm256_add_pd(a[t], c[t]));
        }
    }
}
#endif

/* Merge a chunk (m rows, means mc, centred Gram G: upper triangle used) into
 * the running (N, M, C), W x W row-major. */
static inline __attribute__((always_inline)) void
gdfast_mom_merge(double *N, double *M, double *C, const Py_ssize_t W, double m,
                 const double *mc, const double *G) {
    double dl[GDFAST_MOM_MAXW], tot = *N + m, f = *N * m / tot, g = m / tot;
    Py_ssize_t j, k;
    for (j = 0; j < W; j++) dl[j] = mc[j] - M[j];
    for (j = 0; j < W; j++)
        for (k = j; k < W; k++)
            C[j * W + k] = C[j * W + k] + (G[j * W + k] + (f * dl[j]) * dl[k]);
    for (j = 0; j < W; j++) M[j] = M[j] + dl[j] * g;
    *N = tot;
}

/* Pairwise merging in order, as a binary counter -- the one mechanism behind
 * both merges below (the chunks' moments, gdfast_mstack; the residual pass's
 * partial sums, gdfast_sstack): a stack of levels, each the merge of a run of
 * consecutive items whose length is a power of two, longest (oldest) at the
 * bottom; a new item is pushed as a run of one and merged with the run below
 * while the two are as long, the older absorbing the newer (the order kept).
 * Like pairwise summation, the rounding then grows with log2 of the number
 * of items instead of the number. gdfast_carry: after a push (*top levels,
 * size[l] the items level l covers), whether the newest two levels are due
 * to merge; if so it books the merge (the older level, now *top - 1, covers
 * both) and the caller merges level *top into level *top - 1. */
static inline int gdfast_carry(double *size, Py_ssize_t *top) {
    if (*top >= 2 && size[*top - 1] == size[*top - 2]) {
        size[*top - 2] *= 2.0;
        --*top;
        return 1;
    }
    return 0;
}

/* The chunks' moments merged pairwise (gdfast_carry): merged one after
 * another, 4000 chunks whose
 * means differ (a tenth of the rows offset in a cluster) lost over 4 eps of
 * C, pairwise under 1 eps (tests/test_stats.py) -- rounding that the centred features'
 * conditioning amplifies in the trajectory (gdfast/_plan.py,
 * stats_conditioned). The levels: N (count), size (chunks merged), M (W
 * means) and C (W x W, upper triangle) each; at most 1 + the bit length of
 * the number of chunks in use (the caller allocates one more). */
typedef struct {
    Py_ssize_t W, top;
    double *N, *size, *M, *C;
} gdfast_mstack;

static inline void
gdfast_mstack_push(gdfast_mstack *s, double m, const double *mc, const double *G) {
    const Py_ssize_t W = s->W;
    Py_ssize_t t = s->top, j;
    double *M = s->M + t * W, *C = s->C + t * W * W;
    s->N[t] = 0.0;
    s->size[t] = 1.0;
    for (j = 0; j < W; j++) M[j] = 0.0;
    for (j = 0; j < W * W; j++) C[j] = 0.0;
    gdfast_mom_merge(&s->N[t], M, C, W, m, mc, G);    /* exactly (m, mc, G) */
    s->top = t + 1;
    while (gdfast_carry(s->size, &s->top)) {
        t = s->top;                                   /* level t into t - 1 */
        gdfast_mom_merge(&s->N[t - 1], s->M + (t - 1) * W, s->C + (t - 1) * W * W, W,
                         s->N[t], s->M + t * W, s->C + t * W * W);
    }
}

/* The levels folded into level 0, newest first (level t - 1 into t - 2, ...):
 * level 0 then holds every chunk's moments, in order. */
static inline void gdfast_mstack_finish(gdfast_mstack *s) {
    const Py_ssize_t W = s->W;
    Py_ssize_t t = s->top;
    for (; t >= 2; t--)
        gdfast_mom_merge(&s->N[t - 2], s->M + (t - 2) * W, s->C + (t - 2) * W * W, W,
                         s->N[t - 1], s->M + (t - 1) * W, s->C + (t - 1) * W * W);
    s->top = t;
}

/* Vectors of W sums merged pairwise (gdfast_carry) by plain addition, older
 * + newer: the residual pass's partial sums of runs of rows. S holds levels
 * of W doubles, size one count per level (the caller allocates both, for
 * 1 + the bit length of the number of pushes). gdfast_sstack_slot: the next
 * level, zeroed, for the caller to add a run's sums into; then
 * gdfast_sstack_push. */
typedef struct {
    Py_ssize_t W, top;
    double *size, *S;
} gdfast_sstack;

static inline double *gdfast_sstack_slot(gdfast_sstack *s) {
    double *p = s->S + s->top * s->W;
    Py_ssize_t j;
    for (j = 0; j < s->W; j++) p[j] = 0.0;
    return p;
}

static inline void gdfast_sstack_push(gdfast_sstack *s) {
    const Py_ssize_t W = s->W;
    Py_ssize_t j;
    s->size[s->top++] = 1.0;
    while (gdfast_carry(s->size, &s->top)) {
        double *older = s->S + (s->top - 1) * W;
        const double *newer = s->S + s->top * W;
        for (j = 0; j < W; j++) older[j] = older[j] + newer[j];
    }
}

/* out (W values) = every level, newest first: out = level + out, from zero. */
static inline void gdfast_sstack_finish(gdfast_sstack *s, double *out) {
    const Py_ssize_t W = s->W;
    Py_ssize_t j;
    for (j = 0; j < W; j++) out[j] = 0.0;
    while (s->top > 0) {
        s->top--;
        for (j = 0; j < W; j++) out[j] = s->S[s->top * W + j] + out[j];
    }
}

#define GDFAST_CENTRE_C(SUFFIX, TX, TY, ATTR)                                     \
ATTR static inline __attribute__((always_inline)) void                            \
mom_centre_##SUFFIX(const TX *__restrict X, const TY *__restrict y, Py_ssize_t m, \
                    const Py_ssize_t d, const double *K, double *mc,              \
                    double *__restrict U, const double *w0) {                     \
    const Py_ssize_t D = d + 1, W = (D + 3) / 4 * 4;                              \
    double s0[GDFAST_MOM_MAXW], s1[GDFAST_MOM_MAXW], yv[GDFAST_MOM_ROWS], l[4];   \
    Py_ssize_t i, j, k;                                                           \
    const TX *xi;                                                                 \
    double *ui;                                                                   \
    /* the last column: y shifted, less the shifted row's x.w0 (with w0) */  \
    for (i = 0; i < m; i++) {                                                 \
        yv[i] = (double)y[i] - K[d];                                          \
        if (w0) {                                                             \
            xi = X + i * d;                                                   \
            for (k = 0; k < 4; k++) l[k] = 0.0;                               \
            for (j = 0; j < d; j += 4)                                        \
                for (k = 0; k < 4; k++)                                       \
                    l[k] = l[k] + (j + k < d ? ((double)xi[j + k] - K[j + k]) * w0[j + k] \
                                             : 0.0);                          \
            yv[i] = yv[i] - ((l[0] + l[1]) + (l[2] + l[3]));                  \
        }                                                                     \
    }                                                                         \
    /* the chunk's sums: even rows in s0, odd rows in s1, each in order */   \
    for (j = 0; j < W; j++) s0[j] = s1[j] = 0.0;                              \
    for (i = 0; i + 1 < m; i += 2) {                                          \
        xi = X + i * d;                                                \
        for (j = 0; j < d; j++) {                                             \
            s0[j] = s0[j] + ((double)xi[j] - K[j]);                           \
            s1[j] = s1[j] + ((double)xi[d + j] - K[j]);                       \
        }                                                                     \
        s0[d] = s0[d] + yv[i];                                                \
        s1[d] = s1[d] + yv[i + 1];                                            \
    }                                                                         \
    if (i < m) {                                                              \
        xi = X + i * d;                                                \
        for (j = 0; j < d; j++) s0[j] = s0[j] + ((double)xi[j] - K[j]);       \
        s0[d] = s0[d] + yv[i];                                                \
    }                                                                         \
    for (j = 0; j < W; j++) mc[j] = j < D ? (s0[j] + s1[j]) / (double)m : 0.0; \
    for (i = 0; i < m; i++) {                                                 \
        xi = X + i * d;                                                \
        ui = U + i * W;                                                       \
        for (j = 0; j < d; j++) ui[j] = ((double)xi[j] - K[j]) - mc[j];       \
        ui[d] = yv[i] - mc[d];                                                \
        for (j = D; j < W; j++) ui[j] = 0.0;                                  \
    }                                                                         \
}
GDFAST_CENTRE_C(dd_base, double, double, )
GDFAST_CENTRE_C(df_base, double, float, )
GDFAST_CENTRE_C(fd_base, float, double, )
GDFAST_CENTRE_C(ff_base, float, float, )

#define GDFAST_MOMENTS(SUFFIX, TX, TY, ATTR, GRAM, RSMALL, CENTRE)                        \
ATTR static inline __attribute__((always_inline)) void                            \
mom_body_##SUFFIX(const TX *__restrict X, const TY *__restrict y, Py_ssize_t n,   \
                  const Py_ssize_t d, const double *K, gdfast_mstack *S,          \
                  double *__restrict U, const double *w0) {                       \
    const Py_ssize_t W = (d + 4) / 4 * 4;                                         \
    double mc[GDFAST_MOM_MAXW], G[GDFAST_MOM_MAXW * GDFAST_MOM_MAXW];             \
    Py_ssize_t lo, m;                                                             \
    for (lo = 0; lo < n; lo += m) {                                               \
        m = n - lo < GDFAST_MOM_ROWS ? n - lo : GDFAST_MOM_ROWS;                  \
        CENTRE(X + lo * d, y + lo, m, d, K, mc, U, w0);                           \
        GRAM(U, m, W, G);                                                         \
        gdfast_mstack_push(S, (double)m, mc, G);                                  \
    }                                                                             \
}                                                                                 \
ATTR static void moments_##SUFFIX(const TX *X, const TY *y, Py_ssize_t n, Py_ssize_t d, \
                                  const double *K, gdfast_mstack *S, double *U,   \
                                  const double *w0) {                             \
    switch (d) {                                                                  \
    GDFAST_CASES15(GDFAST_MOM_CASE, SUFFIX)                                       \
    default: mom_body_##SUFFIX(X, y, n, 16, K, S, U, w0); break;                 \
    }                                                                             \
}                                                                                 \
ATTR static inline __attribute__((always_inline)) void                            \
res_body_##SUFFIX(const TX *X, const TY *y, Py_ssize_t n, const Py_ssize_t d,     \
                  const double *xbar, double ybar, const double *ws, double *out, \
                  double *h, double *su) {                                        \
    double l[4], ee = out[0], es = out[1], e, u;                                  \
    Py_ssize_t i, j, k;                                                           \
    const TX *xi;                                                                 \
    for (i = 0; i < n; i++) {                                                     \
        xi = X + i * d;                                                           \
        for (k = 0; k < 4; k++) l[k] = 0.0;                                       \
        for (j = 0; j < d; j += 4)                                                \
            for (k = 0; k < 4; k++)                                               \
                l[k] = l[k] + (j + k < d ? ((double)xi[j + k] - xbar[j + k]) * ws[j + k] : 0.0); \
        e = ((double)y[i] - ybar) - ((l[0] + l[1]) + (l[2] + l[3]));              \
        ee = ee + e * e;                                                          \
        es = es + e;                                                              \
        for (j = 0; j < d; j++) {                                                 \
            u = (double)xi[j] - xbar[j];                                          \
            h[j] = h[j] + e * u;                                                  \
            su[j] = su[j] + u;                                                    \
        }                                                                         \
    }                                                                             \
    out[0] = ee;                                                                  \
    out[1] = es;                                                                  \
}                                                                                 \
ATTR static inline __attribute__((always_inline)) void                            \
res_small_##SUFFIX(const TX *X, const TY *y, Py_ssize_t n, const Py_ssize_t d,    \
                   const double *xbar, double ybar, const double *ws, double *out) { \
    /* d a compile-time constant: the sums e*u and u stay in registers */         \
    double h[GDFAST_MOM_MAXD], su[GDFAST_MOM_MAXD];                               \
    Py_ssize_t j;                                                                 \
    for (j = 0; j < d; j++) { h[j] = out[2 + j]; su[j] = out[2 + d + j]; }        \
    res_body_##SUFFIX(X, y, n, d, xbar, ybar, ws, out, h, su);                    \
    for (j = 0; j < d; j++) { out[2 + j] = h[j]; out[2 + d + j] = su[j]; }        \
}                                                                                 \
ATTR static void residuals_##SUFFIX(const TX *X, const TY *y, Py_ssize_t n, Py_ssize_t d, \
                                    const double *xbar, double ybar, const double *ws, \
                                    double *out) {                                \
    switch (d) {                                                                  \
    GDFAST_CASES16(GDFAST_RES_CASE, RSMALL)                                       \
    default: res_body_##SUFFIX(X, y, n, d, xbar, ybar, ws, out, out + 2, out + 2 + d); break; \
    }                                                                             \
}

#define GDFAST_MOM_CASE(SUFFIX, D)                                                \
    case D: mom_body_##SUFFIX(X, y, n, D, K, S, U, w0); break;
#define GDFAST_RES_CASE(RSMALL, D)                                                \
    case D: RSMALL(X, y, n, D, xbar, ybar, ws, out); break;

GDFAST_MOMENTS(dd_base, double, double, , gdfast_gram_c, res_small_dd_base, mom_centre_dd_base)
GDFAST_MOMENTS(df_base, double, float, , gdfast_gram_c, res_small_df_base, mom_centre_df_base)
GDFAST_MOMENTS(fd_base, float, double, , gdfast_gram_c, res_small_fd_base, mom_centre_fd_base)
GDFAST_MOMENTS(ff_base, float, float, , gdfast_gram_c, res_small_ff_base, mom_centre_ff_base)
#ifdef GDFAST_AVX2
/* The residual pass for d <= 16 (a compile-time constant) in AVX2: u, w*,
 * xbar and the sums e*u and u in registers, u.w* in the four padded lanes
 * combined as (l0 + l1) + (l2 + l3): the same expressions as res_body. */
#define GDFAST_RESV(XY, TX, TY, LD, LDM)                                           \
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void  \
res_vsmall_##XY(const TX *X, const TY *y, Py_ssize_t n, const Py_ssize_t d,        \
                const double *xbar, double ybar, const double *ws, double *out) {  \
    const Py_ssize_t nf = d / 4, t = d % 4, nv = nf + (t ? 1 : 0);                \
    const __m256i m = _mm256_setr_epi64x(t > 0 ? -1 : 0, t > 1 ? -1 : 0,          \
                                         t > 2 ? -1 : 0, 0);                      \
    const __m128i m32 = _mm_setr_epi32(t > 0 ? -1 : 0, t > 1 ? -1 : 0,            \
                                       t > 2 ? -1 : 0, 0);                        \
    __m256d xb[4], wv[4], h[4], su[4], u[4], acc, ev;                             \
    __m128d hh;                                                                   \
    double ee = out[0], es = out[1], e;                                           \
    Py_ssize_t i, q;                                                              \
    const TX *xi;                                                                 \
    for (q = 0; q < nv; q++) {                                                    \
        if (q < nf) {                                                             \
            xb[q] = _mm256_loadu_pd(xbar + 4 * q);                                \
            wv[q] = _mm256_loadu_pd(ws + 4 * q);                                  \
            h[q] = _mm256_loadu_pd(out + 2 + 4 * q);                              \
            su[q] = _mm256_loadu_pd(out + 2 + d + 4 * q);                         \
        } else {                                                                  \
            xb[q] = _mm256_maskload_pd(xbar + 4 * q, m);                          \
            wv[q] = _mm256_maskload_pd(ws + 4 * q, m);                            \
            h[q] = _mm256_maskload_pd(out + 2 + 4 * q, m);                        \
            su[q] = _mm256_maskload_pd(out + 2 + d + 4 * q, m);                   \
        }                                                                         \
    }                                                                             \
    for (i = 0; i < n; i++) {                                                     \
        xi = X + i * d;                                                           \
        GDFAST_PREFETCH(X, y, (const int64_t *)NULL, i, n, d,                     \
                        GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM));                         \
        for (q = 0; q < nv; q++)                                                  \
            u[q] = _mm256_sub_pd(q < nf ? LD(xi + 4 * q) : LDM(xi + 4 * q, m, m32), xb[q]); \
        acc = _mm256_add_pd(_mm256_setzero_pd(), _mm256_mul_pd(u[0], wv[0]));     \
        for (q = 1; q < nv; q++) acc = _mm256_add_pd(acc, _mm256_mul_pd(u[q], wv[q])); \
        hh = _mm_hadd_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1)); \
        e = ((double)y[i] - ybar) - (_mm_cvtsd_f64(hh) + _mm_cvtsd_f64(_mm_unpackhi_pd(hh, hh))); \
        ee = ee + e * e;                                                          \
        es = es + e;                                                              \
        ev = _mm256_set1_pd(e);                                                   \
        for (q = 0; q < nv; q++) {                                                \
            h[q] = _mm256_add_pd(h[q], _mm256_mul_pd(ev, u[q]));                  \
            su[q] = _mm256_add_pd(su[q], u[q]);                                   \
        }                                                                         \
    }                                                                             \
    out[0] = ee;                                                                  \
    out[1] = es;                                                                  \
    for (q = 0; q < nv; q++) {                                                    \
        if (q < nf) {                                                             \
            _mm256_storeu_pd(out + 2 + 4 * q, h[q]);                              \
            _mm256_storeu_pd(out + 2 + d + 4 * q, su[q]);                         \
        } else {                                                                  \
            _mm256_maskstore_pd(out + 2 + 4 * q, m, h[q]);                        \
            _mm256_maskstore_pd(out + 2 + d + 4 * q, m, su[q]);                   \
        }                                                                         \
    }                                                                             \
}
GDFAST_RESV(dd, double, double, GDFAST_LD_d, GDFAST_LDM_d)
GDFAST_RESV(df, double, float, GDFAST_LD_d, GDFAST_LDM_d)
GDFAST_RESV(fd, float, double, GDFAST_LD_f, GDFAST_LDM_f)
GDFAST_RESV(ff, float, float, GDFAST_LD_f, GDFAST_LDM_f)
/* The chunk's means and centred rows in AVX2 (d <= 16 a compile-time
 * constant; the short last group of x loaded with a mask): the same sums,
 * even rows and odd rows apart, each in order, as mom_body's C. The means'
 * loop takes rows four at a time, so that the one pass's x.w0 of four rows
 * are combined by one gdfast_red4 instead of four horizontal sums (a C harness on an AMD
 * EPYC, alternated, medians, not kept: the moments pass at d = 5 to 16 0.87
 * to 0.99 of its time with w0). */
/* (l0 + l1) + (l2 + l3) of a vector's four lanes (hh: scratch) */
#define GDFAST_HSUM4(v, hh)                                                       \
    (hh = _mm_hadd_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1)),    \
     _mm_cvtsd_f64(hh) + _mm_cvtsd_f64(_mm_unpackhi_pd(hh, hh)))
#define GDFAST_MEANV(XY, TX, TY, LD, LDM)                                          \
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void  \
mom_centre_##XY(const TX *__restrict X, const TY *__restrict y, Py_ssize_t m,      \
                const Py_ssize_t d, const double *K, double *mc,                  \
                double *__restrict U, const double *w0) {                         \
    const Py_ssize_t D = d + 1, W = (D + 3) / 4 * 4, nf = d / 4, t = d % 4,        \
                     nv = nf + (t ? 1 : 0);                                       \
    const __m256i mk = _mm256_setr_epi64x(t > 0 ? -1 : 0, t > 1 ? -1 : 0,         \
                                          t > 2 ? -1 : 0, 0);                     \
    const __m128i m32 = _mm_setr_epi32(t > 0 ? -1 : 0, t > 1 ? -1 : 0,            \
                                       t > 2 ? -1 : 0, 0);                        \
    __m256d s0[4], s1[4], mv[4], kv[4], wv[4], acc;                               \
    __m128d hh;                                                                   \
    double y0 = 0.0, y1 = 0.0, lanes[4 * 4], yv[GDFAST_MOM_ROWS];                 \
    Py_ssize_t i, q, j;                                                           \
    for (q = 0; q < nv; q++) {                                                    \
        s0[q] = s1[q] = _mm256_setzero_pd();                                      \
        kv[q] = q < nf ? _mm256_loadu_pd(K + 4 * q) : _mm256_maskload_pd(K + 4 * q, mk); \
        wv[q] = !w0 ? _mm256_setzero_pd() : q < nf ? _mm256_loadu_pd(w0 + 4 * q)   \
                                              : _mm256_maskload_pd(w0 + 4 * q, mk); \
    }                                                                             \
    /* the last column, as the C: y shifted, less (with w0) the shifted row's \
     * x.w0 in four lanes combined as (l0 + l1) + (l2 + l3) -- four rows at   \
     * a time, their four x.w0 combined together (gdfast_red4) */              \
    for (i = 0; i + 4 <= m; i += 4) {                                             \
        const TX *x0 = X + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;       \
        __m256d r0, r1, r2, r3, a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0; \
        for (j = 0; j < 4; j++)                                                   \
            GDFAST_PREFETCH(X, y, (const int64_t *)NULL, i + j, m, d,             \
                            4 + GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM)); \
        for (q = 0; q < nv; q++) {                                                \
            r0 = _mm256_sub_pd(q < nf ? LD(x0 + 4 * q) : LDM(x0 + 4 * q, mk, m32), kv[q]); \
            r1 = _mm256_sub_pd(q < nf ? LD(x1 + 4 * q) : LDM(x1 + 4 * q, mk, m32), kv[q]); \
            r2 = _mm256_sub_pd(q < nf ? LD(x2 + 4 * q) : LDM(x2 + 4 * q, mk, m32), kv[q]); \
            r3 = _mm256_sub_pd(q < nf ? LD(x3 + 4 * q) : LDM(x3 + 4 * q, mk, m32), kv[q]); \
            s0[q] = _mm256_add_pd(s0[q], r0);                                     \
            s1[q] = _mm256_add_pd(s1[q], r1);                                     \
            s0[q] = _mm256_add_pd(s0[q], r2);                                     \
            s1[q] = _mm256_add_pd(s1[q], r3);                                     \
            if (w0) {                                                             \
                a0 = _mm256_add_pd(a0, _mm256_mul_pd(r0, wv[q]));                 \
                a1 = _mm256_add_pd(a1, _mm256_mul_pd(r1, wv[q]));                 \
                a2 = _mm256_add_pd(a2, _mm256_mul_pd(r2, wv[q]));                 \
                a3 = _mm256_add_pd(a3, _mm256_mul_pd(r3, wv[q]));                 \
            }                                                                     \
        }                                                                         \
        for (j = 0; j < 4; j++) yv[i + j] = (double)y[i + j] - K[d];              \
        if (w0)                                                                   \
            _mm256_storeu_pd(yv + i, _mm256_sub_pd(_mm256_loadu_pd(yv + i),       \
                                                   gdfast_red4(a0, a1, a2, a3))); \
        y0 = y0 + yv[i];                                                          \
        y1 = y1 + yv[i + 1];                                                      \
        y0 = y0 + yv[i + 2];                                                      \
        y1 = y1 + yv[i + 3];                                                      \
    }                                                                             \
    for (; i + 1 < m; i += 2) {                                                   \
        const TX *xa = X + i * d, *xb = xa + d;                                   \
        __m256d ra, rb, aa = _mm256_setzero_pd(), ab = aa;                        \
        GDFAST_PREFETCH(X, y, (const int64_t *)NULL, i, m, d,                     \
                        2 + GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM));                     \
        GDFAST_PREFETCH(X, y, (const int64_t *)NULL, i + 1, m, d,                 \
                        2 + GDFAST_PF_NEAR(d, sizeof(TX), GDFAST_PF_STREAM));                     \
        for (q = 0; q < nv; q++) {                                                \
            ra = _mm256_sub_pd(q < nf ? LD(xa + 4 * q) : LDM(xa + 4 * q, mk, m32), kv[q]); \
            rb = _mm256_sub_pd(q < nf ? LD(xb + 4 * q) : LDM(xb + 4 * q, mk, m32), kv[q]); \
            s0[q] = _mm256_add_pd(s0[q], ra);                                     \
            s1[q] = _mm256_add_pd(s1[q], rb);                                     \
            if (w0) {                                                             \
                aa = _mm256_add_pd(aa, _mm256_mul_pd(ra, wv[q]));                 \
                ab = _mm256_add_pd(ab, _mm256_mul_pd(rb, wv[q]));                 \
            }                                                                     \
        }                                                                         \
        yv[i] = (double)y[i] - K[d];                                              \
        yv[i + 1] = (double)y[i + 1] - K[d];                                      \
        if (w0) {                                                                 \
            yv[i] = yv[i] - GDFAST_HSUM4(aa, hh);                                 \
            yv[i + 1] = yv[i + 1] - GDFAST_HSUM4(ab, hh);                         \
        }                                                                         \
        y0 = y0 + yv[i];                                                          \
        y1 = y1 + yv[i + 1];                                                      \
    }                                                                             \
    if (i < m) {                                                                  \
        const TX *xa = X + i * d;                                                 \
        __m256d ra;                                                               \
        acc = _mm256_setzero_pd();                                                \
        for (q = 0; q < nv; q++) {                                                \
            ra = _mm256_sub_pd(q < nf ? LD(xa + 4 * q) : LDM(xa + 4 * q, mk, m32), kv[q]); \
            s0[q] = _mm256_add_pd(s0[q], ra);                                     \
            if (w0) acc = _mm256_add_pd(acc, _mm256_mul_pd(ra, wv[q]));           \
        }                                                                         \
        yv[i] = (double)y[i] - K[d];                                              \
        if (w0) yv[i] = yv[i] - GDFAST_HSUM4(acc, hh);                            \
        y0 = y0 + yv[i];                                                          \
    }                                                                             \
    for (q = 0; q < nv; q++) _mm256_storeu_pd(lanes + 4 * q, _mm256_add_pd(s0[q], s1[q])); \
    for (j = 0; j < W; j++) mc[j] = j < d ? lanes[j] / (double)m : 0.0;          \
    mc[d] = (y0 + y1) / (double)m;                                                \
    for (q = 0; q < nv; q++) mv[q] = _mm256_loadu_pd(mc + 4 * q);                 \
    for (i = 0; i < m; i++) {                                                     \
        const TX *xa = X + i * d;                                                 \
        double *ui = U + i * W;                                                   \
        for (q = 0; q < nf; q++)                                                  \
            _mm256_storeu_pd(ui + 4 * q, _mm256_sub_pd(_mm256_sub_pd(LD(xa + 4 * q), kv[q]), \
                                                       mv[q]));                   \
        if (t) _mm256_storeu_pd(ui + 4 * nf,                                      \
                                _mm256_sub_pd(_mm256_sub_pd(LDM(xa + 4 * nf, mk, m32), kv[nf]), \
                                              _mm256_maskload_pd(mc + 4 * nf, mk))); \
        else _mm256_storeu_pd(ui + 4 * nf, _mm256_setzero_pd());                  \
        ui[d] = yv[i] - mc[d];                                                    \
    }                                                                             \
}
GDFAST_MEANV(dd, double, double, GDFAST_LD_d, GDFAST_LDM_d)
GDFAST_MEANV(df, double, float, GDFAST_LD_d, GDFAST_LDM_d)
GDFAST_MEANV(fd, float, double, GDFAST_LD_f, GDFAST_LDM_f)
GDFAST_MEANV(ff, float, float, GDFAST_LD_f, GDFAST_LDM_f)
GDFAST_MOMENTS(dd_avx2, double, double, __attribute__((target("avx2"))), gdfast_gram_avx2,
               res_vsmall_dd, mom_centre_dd)
GDFAST_MOMENTS(df_avx2, double, float, __attribute__((target("avx2"))), gdfast_gram_avx2,
               res_vsmall_df, mom_centre_df)
GDFAST_MOMENTS(fd_avx2, float, double, __attribute__((target("avx2"))), gdfast_gram_avx2,
               res_vsmall_fd, mom_centre_fd)
GDFAST_MOMENTS(ff_avx2, float, float, __attribute__((target("avx2"))), gdfast_gram_avx2,
               res_vsmall_ff, mom_centre_ff)
#define GDFAST_MOM_PICK(NAME, XY, ...)                                            \
    if (gdfast_use_avx2()) NAME##_##XY##_avx2(__VA_ARGS__);                        \
    else NAME##_##XY##_base(__VA_ARGS__);
#else
#define GDFAST_MOM_PICK(NAME, XY, ...) NAME##_##XY##_base(__VA_ARGS__);
#endif

/* Entry points: moments over n rows, their chunks pushed on S (W = (d + 4) / 4
 * * 4 columns; U: GDFAST_MOM_ROWS * W doubles of scratch; gdfast_mstack_finish
 * after the last rows); residuals over n rows, added to out = [ee, e, h (d),
 * su (d)]. */
#define GDFAST_MOM_ENTRY(XY, TX, TY)                                              \
static inline void mom_rows_##XY(const TX *X, const TY *y, Py_ssize_t n, Py_ssize_t d, \
                                 const double *K, gdfast_mstack *S, double *U,    \
                                 const double *w0) {                              \
    GDFAST_MOM_PICK(moments, XY, X, y, n, d, K, S, U, w0)                          \
}                                                                                 \
static inline void res_rows_##XY(const TX *X, const TY *y, Py_ssize_t n, Py_ssize_t d, \
                                 const double *xbar, double ybar, const double *ws, \
                                 double *out) {                                   \
    GDFAST_MOM_PICK(residuals, XY, X, y, n, d, xbar, ybar, ws, out)                \
}
GDFAST_MOM_ENTRY(dd, double, double)
GDFAST_MOM_ENTRY(df, double, float)
GDFAST_MOM_ENTRY(fd, float, double)
GDFAST_MOM_ENTRY(ff, float, float)

#endif  /* GDFAST_MOMENTS_H */
