/* The one inner loop every pass shares (see _blocks.pxd for the contract).
 *
 * For m samples and weight w, in double precision:
 *   out[0] = sum (x*w - y)^2,  out[1] = sum x*(x*w - y),  out[2] = sum x*x (if want_xx)
 * Samples i, i+1, i+2, i+3 of each full group of four go to lanes 0..3; the
 * tail (m mod 4 samples) is added to lane 0 in order after the groups; the
 * lanes are combined as (l0 + l1) + (l2 + l3). The SSE2 path holds lanes
 * (0,1) and (2,3) in two vector registers and performs exactly the same
 * IEEE operations in the same order as the scalar path, so both give
 * identical bits. No FMA: the build passes -ffp-contract=off. Defining
 * GDFAST_NO_SIMD selects the portable scalar path (what non-x86 CPUs get);
 * tests/test_portable_kernels.py compiles this header all three ways and
 * compares the bits.
 */
#ifndef GDFAST_BLOCKS_H
#define GDFAST_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

/* A read/write hint for the cache (never faults, changes no result): GCC
 * and Clang's builtin; other compilers (MSVC) build without the hints. */
#if defined(__GNUC__) || defined(__clang__)
#define GDFAST_HINT(addr, rw, locality) __builtin_prefetch((addr), (rw), (locality))
#define GDFAST_ALWAYS_INLINE __attribute__((always_inline))
#else
#define GDFAST_HINT(addr, rw, locality) ((void)(addr))
#define GDFAST_ALWAYS_INLINE
#endif

#if !defined(GDFAST_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64) || \
                                 (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
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

static inline void block_sums_d_sse2(const double *x, const double *y, Py_ssize_t m,
                                     double w, double *out, int want_xx) {
    GDFAST_BLOCK_BODY(
        x0 = _mm_loadu_pd(x + i); x1 = _mm_loadu_pd(x + i + 2);
        y0 = _mm_loadu_pd(y + i); y1 = _mm_loadu_pd(y + i + 2);)
}

static inline void block_sums_f_sse2(const float *x, const float *y, Py_ssize_t m,
                                     double w, double *out, int want_xx) {
    __m128 xf, yf;
    GDFAST_BLOCK_BODY(
        xf = _mm_loadu_ps(x + i); yf = _mm_loadu_ps(y + i);
        x0 = _mm_cvtps_pd(xf); x1 = _mm_cvtps_pd(_mm_movehl_ps(xf, xf));
        y0 = _mm_cvtps_pd(yf); y1 = _mm_cvtps_pd(_mm_movehl_ps(yf, yf));)
}

/* Runtime dispatch to AVX2 (x86-64 with GCC/Clang): all four lanes in one
 * 256-bit register, the same operations in the same order, so the bits do
 * not depend on the CPU. Chosen once per process from the CPU's features;
 * GDFAST_NO_AVX2=1 in the environment forces the SSE2 path (tests compare
 * the two). A wheel built here still runs on CPUs without AVX2. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>
#define GDFAST_AVX2 1

static int gdfast_avx2_state = -1;

static inline int gdfast_use_avx2(void) {
    if (gdfast_avx2_state < 0) {
        const char *off = getenv("GDFAST_NO_AVX2");
        __builtin_cpu_init();
        gdfast_avx2_state = __builtin_cpu_supports("avx2") && !(off && *off && *off != '0');
    }
    return gdfast_avx2_state;
}

#define GDFAST_BLOCK_BODY_AVX2(LOAD4)                                             \
    const __m256d wv = _mm256_set1_pd(w);                                         \
    __m256d a = _mm256_setzero_pd(), b = a, c = a, xv, yv, rv;                    \
    double la[4], lb[4], lc[4], xi, r;                                            \
    Py_ssize_t i = 0;                                                             \
    for (; i + 4 <= m; i += 4) {                                                  \
        LOAD4                                                                     \
        rv = _mm256_sub_pd(_mm256_mul_pd(xv, wv), yv);                            \
        a = _mm256_add_pd(a, _mm256_mul_pd(rv, rv));                              \
        b = _mm256_add_pd(b, _mm256_mul_pd(xv, rv));                              \
        if (want_xx) c = _mm256_add_pd(c, _mm256_mul_pd(xv, xv));                 \
    }                                                                             \
    _mm256_storeu_pd(la, a); _mm256_storeu_pd(lb, b); _mm256_storeu_pd(lc, c);    \
    for (; i < m; i++) {                                                          \
        xi = (double)x[i]; r = xi * w - (double)y[i];                             \
        la[0] += r * r; lb[0] += xi * r;                                          \
        if (want_xx) lc[0] += xi * xi;                                            \
    }                                                                             \
    out[0] = (la[0] + la[1]) + (la[2] + la[3]);                                   \
    out[1] = (lb[0] + lb[1]) + (lb[2] + lb[3]);                                   \
    out[2] = (lc[0] + lc[1]) + (lc[2] + lc[3]);

__attribute__((target("avx2"))) static void
block_sums_d_avx2(const double *x, const double *y, Py_ssize_t m, double w, double *out,
                  int want_xx) {
    GDFAST_BLOCK_BODY_AVX2(xv = _mm256_loadu_pd(x + i); yv = _mm256_loadu_pd(y + i);)
}

__attribute__((target("avx2"))) static void
block_sums_f_avx2(const float *x, const float *y, Py_ssize_t m, double w, double *out,
                  int want_xx) {
    GDFAST_BLOCK_BODY_AVX2(xv = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
                           yv = _mm256_cvtps_pd(_mm_loadu_ps(y + i));)
}
#endif

static inline void block_sums_d(const double *x, const double *y, Py_ssize_t m,
                                double w, double *out, int want_xx) {
#ifdef GDFAST_AVX2
    if (gdfast_use_avx2()) { block_sums_d_avx2(x, y, m, w, out, want_xx); return; }
#endif
    block_sums_d_sse2(x, y, m, w, out, want_xx);
}

static inline void block_sums_f(const float *x, const float *y, Py_ssize_t m,
                                double w, double *out, int want_xx) {
#ifdef GDFAST_AVX2
    if (gdfast_use_avx2()) { block_sums_f_avx2(x, y, m, w, out, want_xx); return; }
#endif
    block_sums_f_sse2(x, y, m, w, out, want_xx);
}

static inline int gdfast_simd_level(void) {
#ifdef GDFAST_AVX2
    if (gdfast_use_avx2()) return 2;
#endif
    return 1;
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

static inline int gdfast_simd_level(void) { return 0; }
#endif

/* The overflow certificate's maxima (gdfast._plan): *mx = max(*mx, max |x_i|),
 * *my = max(*my, max |y_i|) over n samples -- so a pass can call it block by
 * block, on samples still in cache. Eight running maxima per array, SIMD
 * where the compiler maps them (a NaN may be skipped: NaN data are reported
 * by the training pass itself). Maxima are exact: no rounding, any order. */
#include <math.h>
#define GDFAST_MAXABS(NAME, T, ATTR)                                              \
ATTR static void NAME(const T *x, const T *y, Py_ssize_t n, double *mx,          \
                      double *my) {                                               \
    double a[8], b[8], v;                                                         \
    Py_ssize_t i = 0;                                                             \
    int k;                                                                        \
    for (k = 0; k < 8; k++) { a[k] = *mx; b[k] = *my; }                           \
    for (; i + 8 <= n; i += 8)                                                    \
        for (k = 0; k < 8; k++) {                                                 \
            v = fabs((double)x[i + k]); a[k] = v > a[k] ? v : a[k];               \
            v = fabs((double)y[i + k]); b[k] = v > b[k] ? v : b[k];               \
        }                                                                         \
    for (; i < n; i++) {                                                          \
        v = fabs((double)x[i]); a[0] = v > a[0] ? v : a[0];                       \
        v = fabs((double)y[i]); b[0] = v > b[0] ? v : b[0];                       \
    }                                                                             \
    for (k = 1; k < 8; k++) {                                                     \
        a[0] = a[k] > a[0] ? a[k] : a[0];                                         \
        b[0] = b[k] > b[0] ? b[k] : b[0];                                         \
    }                                                                             \
    *mx = a[0]; *my = b[0];                                                       \
}
GDFAST_MAXABS(max_abs_pair_d_base, double, )
GDFAST_MAXABS(max_abs_pair_f_base, float, )
#ifdef GDFAST_AVX2
/* AVX2: two vectors of running maxima per array; _mm256_max_pd(v, a) is
 * (v > a ? v : a) lane by lane, as above. float maxima are taken in float
 * (exact) and widened at the end. */
#define GDFAST_MAXABS_AVX2(NAME, T, VT, W, LD, ABS, MAX, SET1, HMAX, TAIL)        \
__attribute__((target("avx2"))) static void NAME(const T *x, const T *y,          \
                                                 Py_ssize_t n, double *mx,        \
                                                 double *my) {                    \
    VT a0 = SET1((T)0), a1 = a0, b0 = a0, b1 = a0;                                \
    double ax, by;                                                                \
    Py_ssize_t i = 0;                                                             \
    for (; i + 2 * W <= n; i += 2 * W) {                                          \
        a0 = MAX(ABS(LD(x + i)), a0); a1 = MAX(ABS(LD(x + i + W)), a1);           \
        b0 = MAX(ABS(LD(y + i)), b0); b1 = MAX(ABS(LD(y + i + W)), b1);           \
    }                                                                             \
    ax = HMAX(MAX(a0, a1)); by = HMAX(MAX(b0, b1));                               \
    ax = *mx > ax ? *mx : ax; by = *my > by ? *my : by;                           \
    TAIL(x + i, y + i, n - i, &ax, &by);                                          \
    *mx = ax; *my = by;                                                           \
}
__attribute__((target("avx2"))) static inline double gdfast_hmax_pd(__m256d v) {
    double l[4];
    _mm256_storeu_pd(l, v);
    l[0] = l[1] > l[0] ? l[1] : l[0];
    l[2] = l[3] > l[2] ? l[3] : l[2];
    return l[2] > l[0] ? l[2] : l[0];
}
__attribute__((target("avx2"))) static inline double gdfast_hmax_ps(__m256 v) {
    float l[8];
    int k;
    _mm256_storeu_ps(l, v);
    for (k = 1; k < 8; k++) l[0] = l[k] > l[0] ? l[k] : l[0];
    return (double)l[0];
}
#define GDFAST_ABS_PD(v) _mm256_andnot_pd(_mm256_set1_pd(-0.0), (v))
#define GDFAST_ABS_PS(v) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (v))
GDFAST_MAXABS_AVX2(max_abs_pair_d_avx2, double, __m256d, 4, _mm256_loadu_pd, GDFAST_ABS_PD,
                   _mm256_max_pd, _mm256_set1_pd, gdfast_hmax_pd, max_abs_pair_d_base)
GDFAST_MAXABS_AVX2(max_abs_pair_f_avx2, float, __m256, 8, _mm256_loadu_ps, GDFAST_ABS_PS,
                   _mm256_max_ps, _mm256_set1_ps, gdfast_hmax_ps, max_abs_pair_f_base)
#define GDFAST_MAXABS_ENTRY(S, T)                                                 \
static inline void max_abs_pair_##S(const T *x, const T *y, Py_ssize_t n,         \
                                    double *mx, double *my) {                     \
    if (gdfast_use_avx2()) max_abs_pair_##S##_avx2(x, y, n, mx, my);               \
    else max_abs_pair_##S##_base(x, y, n, mx, my);                                 \
}
#else
#define GDFAST_MAXABS_ENTRY(S, T)                                                 \
static inline void max_abs_pair_##S(const T *x, const T *y, Py_ssize_t n,         \
                                    double *mx, double *my) {                     \
    max_abs_pair_##S##_base(x, y, n, mx, my);                                      \
}
#endif
GDFAST_MAXABS_ENTRY(d, double)
GDFAST_MAXABS_ENTRY(f, float)

/* Mini-batch GD over consecutive batches of `size` samples (the last may be
 * shorter), as affine steps (minibatch_epochs' affine form):
 *   w <- w - lr * (2 * (w * S_xx - S_xy) / m)
 * with each batch's S_xx and -S_xy the block sums at w = 0 (out[2], out[1]),
 * the very lanes and order of block_sums, so the bits are those of calling
 * block_sums per batch. Inlined in one loop, the sums of the next batches
 * (which do not depend on w) overlap the short chain of updates. */
#define GDFAST_MB_AFFINE(NAME, T, ATTR, DECL, TAILMAX, FINISH, ...)               \
ATTR static double NAME(const T *xs, const T *ys, Py_ssize_t n, Py_ssize_t size,  \
                        double wt, double lr, double *mxy) {                      \
    Py_ssize_t start;                                                             \
    DECL                                                                          \
    for (start = 0; start < n; start += size) {                                   \
        const Py_ssize_t m = n - start < size ? n - start : size;                 \
        const T *x = xs + start, *y = ys + start;                                 \
        const double w = 0.0;                                                     \
        const int want_xx = 1;                                                    \
        double out[3];                                                            \
        { __VA_ARGS__ }                                                           \
        TAILMAX                                                                   \
        wt = wt - lr * (2.0 * (wt * out[2] + out[1]) / (double)m);                \
    }                                                                             \
    FINISH                                                                        \
    return wt;                                                                    \
}
#ifdef GDFAST_SSE2
GDFAST_MB_AFFINE(mb_affine_d_sse2, double, , , , ,
    GDFAST_BLOCK_BODY(x0 = _mm_loadu_pd(x + i); x1 = _mm_loadu_pd(x + i + 2);
                      y0 = _mm_loadu_pd(y + i); y1 = _mm_loadu_pd(y + i + 2);))
GDFAST_MB_AFFINE(mb_affine_f_sse2, float, , , , ,
    __m128 xf, yf;
    GDFAST_BLOCK_BODY(xf = _mm_loadu_ps(x + i); yf = _mm_loadu_ps(y + i);
                      x0 = _mm_cvtps_pd(xf); x1 = _mm_cvtps_pd(_mm_movehl_ps(xf, xf));
                      y0 = _mm_cvtps_pd(yf); y1 = _mm_cvtps_pd(_mm_movehl_ps(yf, yf));))
#ifdef GDFAST_AVX2
GDFAST_MB_AFFINE(mb_affine_d_avx2, double, __attribute__((target("avx2"))), , , ,
    GDFAST_BLOCK_BODY_AVX2(xv = _mm256_loadu_pd(x + i); yv = _mm256_loadu_pd(y + i);))
GDFAST_MB_AFFINE(mb_affine_f_avx2, float, __attribute__((target("avx2"))), , , ,
    GDFAST_BLOCK_BODY_AVX2(xv = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
                           yv = _mm256_cvtps_pd(_mm_loadu_ps(y + i));))
/* ... and with the certificate's maxima taken from the same loads (the same
 * w: the maxima do not touch the sums) */
#define GDFAST_MB_MAX_DECL                                                        \
    const __m256d sg = _mm256_set1_pd(-0.0);                                      \
    __m256d mxv = _mm256_setzero_pd(), myv = mxv;                                 \
    double tx = 0.0, ty = 0.0;
#define GDFAST_MB_MAX_STEP                                                        \
    mxv = _mm256_max_pd(_mm256_andnot_pd(sg, xv), mxv);                           \
    myv = _mm256_max_pd(_mm256_andnot_pd(sg, yv), myv);
#define GDFAST_MB_MAX_TAIL(F)                                                     \
    if (m % 4) F(x + m - m % 4, y + m - m % 4, m % 4, &tx, &ty);
#define GDFAST_MB_MAX_FINISH                                                      \
    tx = gdfast_hmax_pd(mxv) > tx ? gdfast_hmax_pd(mxv) : tx;                     \
    ty = gdfast_hmax_pd(myv) > ty ? gdfast_hmax_pd(myv) : ty;                     \
    mxy[0] = tx > mxy[0] ? tx : mxy[0];                                           \
    mxy[1] = ty > mxy[1] ? ty : mxy[1];
GDFAST_MB_AFFINE(mb_affine_max_d_avx2, double, __attribute__((target("avx2"))),
    GDFAST_MB_MAX_DECL, GDFAST_MB_MAX_TAIL(max_abs_pair_d_base), GDFAST_MB_MAX_FINISH,
    GDFAST_BLOCK_BODY_AVX2(xv = _mm256_loadu_pd(x + i); yv = _mm256_loadu_pd(y + i);
                           GDFAST_MB_MAX_STEP))
GDFAST_MB_AFFINE(mb_affine_max_f_avx2, float, __attribute__((target("avx2"))),
    GDFAST_MB_MAX_DECL, GDFAST_MB_MAX_TAIL(max_abs_pair_f_base), GDFAST_MB_MAX_FINISH,
    GDFAST_BLOCK_BODY_AVX2(xv = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
                           yv = _mm256_cvtps_pd(_mm_loadu_ps(y + i));
                           GDFAST_MB_MAX_STEP))
#endif
#ifdef GDFAST_AVX2
#define GDFAST_MB_PICK(S)                                                         \
    if (gdfast_use_avx2()) {                                                      \
        if (mxy) return mb_affine_max_##S##_avx2(x, y, n, size, w, lr, mxy);       \
        return mb_affine_##S##_avx2(x, y, n, size, w, lr, NULL);                   \
    }
#else
#define GDFAST_MB_PICK(S)
#endif
#define GDFAST_MB_ENTRY(S, T)                                                     \
static inline double mb_affine_##S(const T *x, const T *y, Py_ssize_t n,         \
                                   Py_ssize_t size, double w, double lr,          \
                                   double *mxy) {                                 \
    GDFAST_MB_PICK(S)                                                             \
    w = mb_affine_##S##_sse2(x, y, n, size, w, lr, NULL);                         \
    if (mxy) max_abs_pair_##S(x, y, n, mxy, mxy + 1);                             \
    return w;                                                                     \
}
GDFAST_MB_ENTRY(d, double)
GDFAST_MB_ENTRY(f, float)
#else
GDFAST_MB_AFFINE(mb_affine_d_plain, double, , , , , GDFAST_SCALAR_BODY)
GDFAST_MB_AFFINE(mb_affine_f_plain, float, , , , , GDFAST_SCALAR_BODY)
#define GDFAST_MB_ENTRY(S, T)                                                     \
static inline double mb_affine_##S(const T *x, const T *y, Py_ssize_t n,         \
                                   Py_ssize_t size, double w, double lr,          \
                                   double *mxy) {                                 \
    w = mb_affine_##S##_plain(x, y, n, size, w, lr, NULL);                        \
    if (mxy) max_abs_pair_##S(x, y, n, mxy, mxy + 1);                             \
    return w;                                                                     \
}
GDFAST_MB_ENTRY(d, double)
GDFAST_MB_ENTRY(f, float)
#endif

/* SGD over a run of m samples, as composed affine maps.
 *
 * One SGD step is w <- a_i*w + b_i with a_i = 1 - c2*x_i^2, b_i = c2*x_i*y_i
 * (c2 = 2*lr). The run is cut into GDFAST_SEGS = 8 consecutive segments of
 * q = m/8 samples; each segment's steps are folded into one map (A, B) --
 * eight independent chains the CPU runs side by side -- and the eight maps
 * are then applied to w in order, followed by the m mod 8 tail samples one
 * by one. Exact in real arithmetic; in floating point it differs from the
 * step-by-step loop by rounding (tests bound it). idx, when not NULL, maps
 * positions to samples (a shuffled epoch).
 *
 * Why eight: a segment's chain is a multiply and an add per sample (B <-
 * a*B + c). The four chains of earlier versions left the fold bound by that
 * latency, float32 no faster than float64 though it reads half the bytes.
 * With eight (and AVX2 where the CPU has it), a C harness on an AMD EPYC
 * (Zen 5; alternated, medians; not kept) ran the float64 fold about 1.4x as
 * fast in cache, and streaming from memory at about its old speed, near the
 * read's; float32 (with the tiles below) about 1.5x as fast, in 0.7-0.8 of
 * float64's time (gdfast bench's figures: docs/speed.md).
 * The same operations in the same order on every path (scalar, SSE2 with
 * segments in pairs, AVX2 with four in a register): the same bits. */
#define GDFAST_SEGS 8
/* Position kk of the run -> its sample: kk itself; idx[kk] (a written
 * order); or, in a group run (GRP: the shuffle="blocks" order generated
 * in place, gdfast._shuffle), row j0 + kk / 64 of block kk % 64 of the
 * group, idx then holding the 64 blocks' first rows (so segment s of a
 * 512-sample group run is row j0 + s of every block). */
#define GDFAST_ROW(kk) (grp_ ? (Py_ssize_t)idx[(kk) & 63] + j0 + ((kk) >> 6)              \
                            : idx ? (Py_ssize_t)idx[kk] : (kk))
#define GDFAST_SGD_TAIL(KEEP, MAP)                                                \
    if (MAP)                                                                      \
        for (j = 0; j < GDFAST_SEGS; j++) {                                       \
            map[0] = A[j] * map[0]; map[1] = A[j] * map[1] + B[j];                \
        }                                                                         \
    else                                                                          \
        for (j = 0; j < GDFAST_SEGS; j++) w = A[j] * w + B[j];                    \
    for (i = GDFAST_SEGS * q; i < m; i++) {                                       \
        k = GDFAST_ROW(i);                                                        \
        u = (double)x[k]; v = (double)y[k];                                       \
        if (KEEP) {                                                               \
            tx = fabs(u) > tx ? fabs(u) : tx;                                     \
            ty = fabs(v) > ty ? fabs(v) : ty;                                     \
        }                                                                         \
        if (MAP) {                                                                \
            const double a_ = 1.0 - c2 * u * u;                                   \
            map[0] = a_ * map[0]; map[1] = a_ * map[1] + c2 * u * v;              \
        } else {                                                                  \
            w = (1.0 - c2 * u * u) * w + c2 * u * v;                              \
        }                                                                         \
    }                                                                             \
    if (KEEP) {                                                                   \
        mxy[0] = tx > mxy[0] ? tx : mxy[0];                                       \
        mxy[1] = ty > mxy[1] ? ty : mxy[1];                                       \
    }                                                                             \
    return w;

/* KEEP = 1: also raise mxy[0], mxy[1] to the run's max |x|, max |y| (the
 * overflow certificate's maxima, gdfast._plan) from the same loads (float
 * in order with AVX2: from contiguous loads of the same run, GDFAST_CMAX_F);
 * the fold's arithmetic, hence w, is the same either way. MAP = 1: instead of
 * applying the run to w, compose its map into map[0..1] = (A, B), i.e.
 * (A, B) <- run o (A, B): the eight segment maps, then the tail's steps
 * (gdfast._chunks, the Dask epoch's per-chunk maps); w is unused. */
#define GDFAST_SGD_ARGS(T)                                                        \
    (const T *x, const T *y, const int64_t *idx, Py_ssize_t m, double w,          \
     double c2, double *mxy, double *map, Py_ssize_t j0, const int64_t *pfb,      \
     Py_ssize_t pfj)
#define GDFAST_SGD_CALL(F, I) F(x, y, I, m, w, c2, mxy, map, j0, pfb, pfj)
#ifdef GDFAST_SSE2
#define GDFAST_AT(p, kk) ((double)(p)[GDFAST_ROW(kk)])
#ifndef GDFAST_FOLD_PF
#define GDFAST_FOLD_PF 2
#endif
/* The prefetches of step I (of q) of a fold. A group run: block i's line
 * of a later run (pfb, pfj: its blocks' first rows and its first row; rows
 * pfj and pfj + 7, the two lines eight rows may span), into L2. In order:
 * the samples of the run after next, one line of x and of y per step or
 * two (a fold's sixteen streams are too many for the hardware prefetcher),
 * into L1. With eight segments the float64 fold streamed about 15% slower
 * than the four-segment one with the previous hint (the next run, into L2);
 * with this one it streams as fast (C harness over 160 MB on an AMD EPYC,
 * alternated, medians; not kept). A prefetch never faults, and the
 * addresses are formed as integers. */
#define GDFAST_FOLD_PREFETCH(T, I)                                                \
    if (GDFAST_FOLD_PF && grp_ && pfb && (I) < 64) {                              \
        const uintptr_t o_ = (uintptr_t)(pfb[I] + pfj) * sizeof(T);               \
        const uintptr_t e_ = o_ + 7 * sizeof(T);                                  \
        GDFAST_HINT((const void *)((uintptr_t)x + o_), 0, GDFAST_FOLD_PF);         \
        GDFAST_HINT((const void *)((uintptr_t)y + o_), 0, GDFAST_FOLD_PF);         \
        GDFAST_HINT((const void *)((uintptr_t)x + e_), 0, GDFAST_FOLD_PF);         \
        GDFAST_HINT((const void *)((uintptr_t)y + e_), 0, GDFAST_FOLD_PF);         \
    }                                                                             \
    if (GDFAST_FOLD_PF && !idx && (sizeof(T) >= 8 || !((I) & 1))) {             \
        const uintptr_t o_ = (uintptr_t)(2 * m + GDFAST_SEGS * (I)) * sizeof(T);  \
        GDFAST_HINT((const void *)((uintptr_t)x + o_), 0, 3);                     \
        GDFAST_HINT((const void *)((uintptr_t)y + o_), 0, 3);                     \
    }
/* SSE2: segments (2j, 2j + 1) in the two lanes of register j */
#define GDFAST_MAX2(acc, v) acc = _mm_max_pd(_mm_andnot_pd(sg, (v)), acc)
#define GDFAST_HMAX2(a, t)                                                        \
    { double l_[2]; int k_;                                                       \
      _mm_storeu_pd(l_, a);                                                       \
      for (k_ = 0; k_ < 2; k_++) t = l_[k_] > t ? l_[k_] : t; }
#define GDFAST_SGD_FOLD_SSE2(NAME, T, KEEP, MAP, GRP)                             \
static inline GDFAST_ALWAYS_INLINE double NAME GDFAST_SGD_ARGS(T) {              \
    const Py_ssize_t q = m / GDFAST_SEGS;                                         \
    const int grp_ = GRP;                                                         \
    const __m128d one = _mm_set1_pd(1.0), cv = _mm_set1_pd(c2);                   \
    const __m128d sg = _mm_set1_pd(-0.0);                                         \
    __m128d Av[4], Bv[4], mx[4], my[4], uv, vv, cu, a;                            \
    double A[GDFAST_SEGS], B[GDFAST_SEGS], u, v, tx = 0.0, ty = 0.0;              \
    Py_ssize_t i, k;                                                              \
    int j;                                                                        \
    for (j = 0; j < 4; j++) {                                                     \
        Av[j] = one; Bv[j] = _mm_setzero_pd(); mx[j] = Bv[j]; my[j] = Bv[j];      \
    }                                                                             \
    for (i = 0; i < q; i++) {                                                     \
        GDFAST_FOLD_PREFETCH(T, i)                                                \
        for (j = 0; j < 4; j++) {                                                 \
            uv = _mm_set_pd(GDFAST_AT(x, (2 * j + 1) * q + i), GDFAST_AT(x, 2 * j * q + i)); \
            vv = _mm_set_pd(GDFAST_AT(y, (2 * j + 1) * q + i), GDFAST_AT(y, 2 * j * q + i)); \
            if (KEEP) { GDFAST_MAX2(mx[j], uv); GDFAST_MAX2(my[j], vv); }         \
            cu = _mm_mul_pd(cv, uv);                                              \
            a = _mm_sub_pd(one, _mm_mul_pd(cu, uv));                              \
            Av[j] = _mm_mul_pd(a, Av[j]);                                         \
            Bv[j] = _mm_add_pd(_mm_mul_pd(a, Bv[j]), _mm_mul_pd(cu, vv));         \
        }                                                                         \
    }                                                                             \
    for (j = 0; j < 4; j++) {                                                     \
        if (KEEP) { GDFAST_HMAX2(mx[j], tx) GDFAST_HMAX2(my[j], ty) }             \
        _mm_storeu_pd(A + 2 * j, Av[j]);                                          \
        _mm_storeu_pd(B + 2 * j, Bv[j]);                                          \
    }                                                                             \
    GDFAST_SGD_TAIL(KEEP, MAP)                                                    \
}
#ifdef GDFAST_AVX2
/* AVX2: segments 0-3 and 4-7 in the four lanes of two registers */
#define GDFAST_MAX4(acc, v) acc = _mm256_max_pd(_mm256_andnot_pd(sg, (v)), acc)
#define GDFAST_HMAX4(a, t)                                                        \
    { double l_[4]; int k_;                                                       \
      _mm256_storeu_pd(l_, a);                                                    \
      for (k_ = 0; k_ < 4; k_++) t = l_[k_] > t ? l_[k_] : t; }
#define GDFAST_AT4(p, s)                                                          \
    _mm256_set_pd(GDFAST_AT(p, ((s) + 3) * q + i), GDFAST_AT(p, ((s) + 2) * q + i), \
                  GDFAST_AT(p, ((s) + 1) * q + i), GDFAST_AT(p, (s) * q + i))
/* one step of the eight chains, from x of segments 0-3 in U0 and 4-7 in U1,
 * y in V0 and V1 */
#define GDFAST_FOLD_STEP4(U0, U1, V0, V1)                                         \
    cu0 = _mm256_mul_pd(cv, U0);                                                  \
    cu1 = _mm256_mul_pd(cv, U1);                                                  \
    a0 = _mm256_sub_pd(one, _mm256_mul_pd(cu0, U0));                              \
    a1 = _mm256_sub_pd(one, _mm256_mul_pd(cu1, U1));                              \
    A0 = _mm256_mul_pd(a0, A0);                                                   \
    A1 = _mm256_mul_pd(a1, A1);                                                   \
    B0 = _mm256_add_pd(_mm256_mul_pd(a0, B0), _mm256_mul_pd(cu0, V0));            \
    B1 = _mm256_add_pd(_mm256_mul_pd(a1, B1), _mm256_mul_pd(cu1, V1));
/* float in order, four steps at a time: row s of a 4 x 4 tile is samples
 * i .. i+3 of segment s (one contiguous load); transposed, then widened,
 * column t is step i + t of the four segments. Gathering the eight
 * segments' values one by one (as double does, and float does through an
 * order) cost more shuffles and conversions than the chains' arithmetic: a
 * C harness on an AMD EPYC (alternated, medians; not kept) ran the float
 * fold about 1.2x as fast this way: in cache as fast as the float64 fold,
 * streaming from memory (half the bytes) in 0.7-0.8 of its time.
 * For float64 the tile's transpose costs as many shuffles as the gather and
 * ran slower. */
#define GDFAST_T4_F(p, s, c)                                                       \
    {                                                                             \
        __m128 r0_ = _mm_loadu_ps((const float *)(p) + (s) * q + i);              \
        __m128 r1_ = _mm_loadu_ps((const float *)(p) + ((s) + 1) * q + i);        \
        __m128 r2_ = _mm_loadu_ps((const float *)(p) + ((s) + 2) * q + i);        \
        __m128 r3_ = _mm_loadu_ps((const float *)(p) + ((s) + 3) * q + i);        \
        _MM_TRANSPOSE4_PS(r0_, r1_, r2_, r3_);                                    \
        c[0] = _mm256_cvtps_pd(r0_);                                              \
        c[1] = _mm256_cvtps_pd(r1_);                                              \
        c[2] = _mm256_cvtps_pd(r2_);                                              \
        c[3] = _mm256_cvtps_pd(r3_);                                              \
    }
/* float maxima in order: |x| of samples 8i .. 8i + 8N - 1, eight to a
 * register, in float (exact); over the steps 0 .. q-1 these are the samples
 * 0 .. 8q - 1, the eight segments' */
#define GDFAST_CMAX_F(N)                                                          \
    for (j = 0; j < (N); j++) {                                                   \
        mxf = _mm256_max_ps(_mm256_andnot_ps(sgf, _mm256_loadu_ps((const float *)x + 8 * i + 8 * j)), mxf); \
        myf = _mm256_max_ps(_mm256_andnot_ps(sgf, _mm256_loadu_ps((const float *)y + 8 * i + 8 * j)), myf); \
    }

#define GDFAST_SGD_FOLD_AVX2(NAME, T, KEEP, MAP, GRP)                             \
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) double \
NAME GDFAST_SGD_ARGS(T) {                                                         \
    const Py_ssize_t q = m / GDFAST_SEGS;                                         \
    const int grp_ = GRP;                                                         \
    /* float in order: tiles, and the maxima from contiguous loads */           \
    const int tile_ = sizeof(T) == sizeof(float) && !idx;                         \
    const __m256d one = _mm256_set1_pd(1.0), cv = _mm256_set1_pd(c2);             \
    const __m256d sg = _mm256_set1_pd(-0.0);                                      \
    const __m256 sgf = _mm256_set1_ps(-0.0f);                                     \
    __m256d A0 = one, A1 = one, B0 = _mm256_setzero_pd(), B1 = B0;                \
    __m256d mx0 = B0, mx1 = B0, my0 = B0, my1 = B0;                               \
    __m256d u0, u1, v0, v1, cu0, cu1, a0, a1, xa[4], xb[4], ya[4], yb[4];         \
    __m256 mxf = _mm256_setzero_ps(), myf = mxf;                                  \
    double A[GDFAST_SEGS], B[GDFAST_SEGS], u, v, tx = 0.0, ty = 0.0;              \
    float lf_[8];                                                                 \
    Py_ssize_t i = 0, k;                                                          \
    int j;                                                                        \
    if (tile_)                                                                    \
        for (; i + 4 <= q; i += 4) {                                              \
            for (j = 0; j < 4; j++) { GDFAST_FOLD_PREFETCH(T, i + j) }            \
            if (KEEP) GDFAST_CMAX_F(4)                                            \
            GDFAST_T4_F(x, 0, xa) GDFAST_T4_F(x, 4, xb)                           \
            GDFAST_T4_F(y, 0, ya) GDFAST_T4_F(y, 4, yb)                           \
            GDFAST_FOLD_STEP4(xa[0], xb[0], ya[0], yb[0])                         \
            GDFAST_FOLD_STEP4(xa[1], xb[1], ya[1], yb[1])                         \
            GDFAST_FOLD_STEP4(xa[2], xb[2], ya[2], yb[2])                         \
            GDFAST_FOLD_STEP4(xa[3], xb[3], ya[3], yb[3])                         \
        }                                                                         \
    for (; i < q; i++) {                                                          \
        GDFAST_FOLD_PREFETCH(T, i)                                                \
        u0 = GDFAST_AT4(x, 0); u1 = GDFAST_AT4(x, 4);                             \
        v0 = GDFAST_AT4(y, 0); v1 = GDFAST_AT4(y, 4);                             \
        if (KEEP && tile_) {                                                      \
            GDFAST_CMAX_F(1)                                                      \
        } else if (KEEP) {                                                        \
            GDFAST_MAX4(mx0, u0); GDFAST_MAX4(mx1, u1);                           \
            GDFAST_MAX4(my0, v0); GDFAST_MAX4(my1, v1);                           \
        }                                                                         \
        GDFAST_FOLD_STEP4(u0, u1, v0, v1)                                         \
    }                                                                             \
    if (KEEP && tile_) {                                                          \
        _mm256_storeu_ps(lf_, mxf);                                               \
        for (j = 0; j < 8; j++) tx = lf_[j] > tx ? lf_[j] : tx;                   \
        _mm256_storeu_ps(lf_, myf);                                               \
        for (j = 0; j < 8; j++) ty = lf_[j] > ty ? lf_[j] : ty;                   \
    } else if (KEEP) {                                                            \
        GDFAST_HMAX4(mx0, tx) GDFAST_HMAX4(mx1, tx)                               \
        GDFAST_HMAX4(my0, ty) GDFAST_HMAX4(my1, ty)                               \
    }                                                                             \
    _mm256_storeu_pd(A, A0); _mm256_storeu_pd(A + 4, A1);                         \
    _mm256_storeu_pd(B, B0); _mm256_storeu_pd(B + 4, B1);                         \
    GDFAST_SGD_TAIL(KEEP, MAP)                                                    \
}
/* The AVX2 fold where the CPU has it (gdfast_use_avx2), else SSE2. In order
 * (idx NULL) the bodies get a literal NULL, so that the compiler drops the
 * per-sample branches on idx (the d <= 16 row kernels of _rowops.h do the
 * same). */
#define GDFAST_SGD_FOLD(NAME, T, KEEP, MAP, GRP)                                  \
GDFAST_SGD_FOLD_SSE2(NAME##_sse2, T, KEEP, MAP, GRP)                              \
GDFAST_SGD_FOLD_AVX2(NAME##_avx2, T, KEEP, MAP, GRP)                              \
__attribute__((target("avx2"))) static double NAME##_avx2_pick GDFAST_SGD_ARGS(T) { \
    return idx ? GDFAST_SGD_CALL(NAME##_avx2, idx)                                \
               : GDFAST_SGD_CALL(NAME##_avx2, (const int64_t *)NULL);            \
}                                                                                 \
static double NAME##_sse2_pick GDFAST_SGD_ARGS(T) {                               \
    return idx ? GDFAST_SGD_CALL(NAME##_sse2, idx)                                \
               : GDFAST_SGD_CALL(NAME##_sse2, (const int64_t *)NULL);            \
}                                                                                 \
static inline double NAME GDFAST_SGD_ARGS(T) {                                    \
    return gdfast_use_avx2() ? GDFAST_SGD_CALL(NAME##_avx2_pick, idx)             \
                             : GDFAST_SGD_CALL(NAME##_sse2_pick, idx);            \
}
#else
#define GDFAST_SGD_FOLD(NAME, T, KEEP, MAP, GRP)                                  \
GDFAST_SGD_FOLD_SSE2(NAME##_sse2, T, KEEP, MAP, GRP)                              \
static double NAME GDFAST_SGD_ARGS(T) {                                           \
    return idx ? GDFAST_SGD_CALL(NAME##_sse2, idx)                                \
               : GDFAST_SGD_CALL(NAME##_sse2, (const int64_t *)NULL);            \
}
#endif
#else
#define GDFAST_SGD_FOLD(NAME, T, KEEP, MAP, GRP)                                  \
static inline double NAME GDFAST_SGD_ARGS(T) {                                    \
    const Py_ssize_t q = m / GDFAST_SEGS;                                         \
    const int grp_ = GRP;                                                         \
    double A[GDFAST_SEGS], B[GDFAST_SEGS];                                        \
    double u, v, a, tx = 0.0, ty = 0.0;                                           \
    Py_ssize_t i, k;                                                              \
    int j;                                                                        \
    for (j = 0; j < GDFAST_SEGS; j++) { A[j] = 1.0; B[j] = 0.0; }                 \
    for (i = 0; i < q; i++) {                                                     \
        for (j = 0; j < GDFAST_SEGS; j++) {                                       \
            k = GDFAST_ROW(j * q + i);                                            \
            u = (double)x[k]; v = (double)y[k];                                   \
            if (KEEP) {                                                           \
                tx = fabs(u) > tx ? fabs(u) : tx;                                 \
                ty = fabs(v) > ty ? fabs(v) : ty;                                 \
            }                                                                     \
            a = 1.0 - c2 * u * u;                                                 \
            A[j] = a * A[j];                                                      \
            B[j] = a * B[j] + c2 * u * v;                                         \
        }                                                                         \
    }                                                                             \
    GDFAST_SGD_TAIL(KEEP, MAP)                                                    \
}
#endif
GDFAST_SGD_FOLD(sgd_fold_only_d, double, 0, 0, 0)
GDFAST_SGD_FOLD(sgd_fold_only_f, float, 0, 0, 0)
GDFAST_SGD_FOLD(sgd_fold_max_d, double, 1, 0, 0)
GDFAST_SGD_FOLD(sgd_fold_max_f, float, 1, 0, 0)
GDFAST_SGD_FOLD(sgd_fold_map_d_, double, 0, 1, 0)
GDFAST_SGD_FOLD(sgd_fold_map_f_, float, 0, 1, 0)
GDFAST_SGD_FOLD(sgd_fold_group_d_, double, 0, 0, 1)
GDFAST_SGD_FOLD(sgd_fold_group_f_, float, 0, 0, 1)

/* The fold, and with mxy (not NULL) the certificate's maxima too. */
static inline double sgd_fold_d(const double *x, const double *y, const int64_t *idx,
                                Py_ssize_t m, double w, double c2, double *mxy) {
    return mxy ? sgd_fold_max_d(x, y, idx, m, w, c2, mxy, NULL, 0, NULL, 0)
               : sgd_fold_only_d(x, y, idx, m, w, c2, mxy, NULL, 0, NULL, 0);
}
static inline double sgd_fold_f(const float *x, const float *y, const int64_t *idx,
                                Py_ssize_t m, double w, double c2, double *mxy) {
    return mxy ? sgd_fold_max_f(x, y, idx, m, w, c2, mxy, NULL, 0, NULL, 0)
               : sgd_fold_only_f(x, y, idx, m, w, c2, mxy, NULL, 0, NULL, 0);
}
/* (A, B) = map[0..1] <- the run's map o (A, B) */
static inline void sgd_fold_map_d(const double *x, const double *y, const int64_t *idx,
                                  Py_ssize_t m, double c2, double *map) {
    sgd_fold_map_d_(x, y, idx, m, 0.0, c2, NULL, map, 0, NULL, 0);
}
static inline void sgd_fold_map_f(const float *x, const float *y, const int64_t *idx,
                                  Py_ssize_t m, double c2, double *map) {
    sgd_fold_map_f_(x, y, idx, m, 0.0, c2, NULL, map, 0, NULL, 0);
}
/* One run of a full group of the shuffle="blocks" order (64 blocks whose
 * first rows are base[0..63]): rows j0 .. j0+7 of each, 512 samples in the
 * order's sequence, folded exactly as sgd_fold folds the same 512 samples
 * through a written order (the same bits), without reading one. With pfb,
 * it also prefetches row pfj of the blocks starting at pfb[0..63]. */
#define GDFAST_GROUP_RUN 512
static inline double sgd_fold_group_d(const double *x, const double *y, const int64_t *base,
                                      Py_ssize_t j0, double w, double c2,
                                      const int64_t *pfb, Py_ssize_t pfj) {
    return sgd_fold_group_d_(x, y, base, GDFAST_GROUP_RUN, w, c2, NULL, NULL, j0, pfb, pfj);
}
static inline double sgd_fold_group_f(const float *x, const float *y, const int64_t *base,
                                      Py_ssize_t j0, double w, double c2,
                                      const int64_t *pfb, Py_ssize_t pfj) {
    return sgd_fold_group_f_(x, y, base, GDFAST_GROUP_RUN, w, c2, NULL, NULL, j0, pfb, pfj);
}

#endif  /* GDFAST_BLOCKS_H */
