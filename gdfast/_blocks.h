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
#else
#define GDFAST_HINT(addr, rw, locality) ((void)(addr))
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
 * (c2 = 2*lr). The run is cut into four consecutive segments of q = m/4
 * samples; each segment's steps are folded into one map (A, B) -- four
 * independent chains the CPU runs side by side -- and the four maps are
 * then applied to w in order, followed by the m mod 4 tail samples one by
 * one. Exact in real arithmetic; in floating point it differs from the
 * step-by-step loop by rounding (tests bound it). idx, when not NULL, maps
 * positions to samples (a shuffled epoch). */
/* Position kk of the run -> its sample: kk itself; idx[kk] (a written
 * order); or, in a group run (GRP: the shuffle="blocks" order generated
 * in place, gdfast._shuffle), row j0 + kk / 64 of block kk % 64 of the
 * group, idx then holding the 64 blocks' first rows. */
#define GDFAST_ROW(kk) (grp_ ? (Py_ssize_t)idx[(kk) & 63] + j0 + ((kk) >> 6)              \
                            : idx ? (Py_ssize_t)idx[kk] : (kk))
#define GDFAST_SGD_TAIL(KEEP, MAP)                                                \
    if (MAP)                                                                      \
        for (j = 0; j < 4; j++) {                                                 \
            map[0] = A[j] * map[0]; map[1] = A[j] * map[1] + B[j];                \
        }                                                                         \
    else                                                                          \
        for (j = 0; j < 4; j++) w = A[j] * w + B[j];                              \
    for (i = 4 * q; i < m; i++) {                                                 \
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
 * overflow certificate's maxima, gdfast._plan) from the same loads; the
 * fold's arithmetic, hence w, is the same either way. MAP = 1: instead of
 * applying the run to w, compose its map into map[0..1] = (A, B), i.e.
 * (A, B) <- run o (A, B): the four segment maps, then the tail's steps
 * (gdfast._chunks, the Dask epoch's per-chunk maps); w is unused. */
#ifdef GDFAST_SSE2
/* lanes (0,1) and (2,3) in two registers; same operations, same order */
#define GDFAST_AT(p, kk) ((double)(p)[GDFAST_ROW(kk)])
#ifndef GDFAST_FOLD_PF
#define GDFAST_FOLD_PF 2
#endif
#define GDFAST_MAX2(acc, v) acc = _mm_max_pd(_mm_andnot_pd(sg, (v)), acc)
#define GDFAST_HMAX2(a, b, t)                                                     \
    { double l_[4]; int k_;                                                       \
      _mm_storeu_pd(l_, a); _mm_storeu_pd(l_ + 2, b);                             \
      for (k_ = 0; k_ < 4; k_++) t = l_[k_] > t ? l_[k_] : t; }
#define GDFAST_SGD_FOLD(NAME, T, KEEP, MAP, GRP)                                  \
static inline double NAME(const T *x, const T *y, const int64_t *idx,             \
                          Py_ssize_t m, double w, double c2, double *mxy,         \
                          double *map, Py_ssize_t j0, const int64_t *pfb,         \
                          Py_ssize_t pfj) {                                       \
    const Py_ssize_t q = m / 4;                                                   \
    const int grp_ = GRP;                                                         \
    const __m128d one = _mm_set1_pd(1.0), cv = _mm_set1_pd(c2);                   \
    const __m128d sg = _mm_set1_pd(-0.0);                                         \
    __m128d A01 = one, A23 = one, B01 = _mm_setzero_pd(), B23 = B01;              \
    __m128d mx01 = B01, mx23 = B01, my01 = B01, my23 = B01;                       \
    __m128d u01, u23, v01, v23, cu01, cu23, a01, a23;                             \
    double A[4], B[4], u, v, tx = 0.0, ty = 0.0;                                  \
    Py_ssize_t i, k;                                                              \
    int j;                                                                        \
    for (i = 0; i < q; i++) {                                                     \
        u01 = _mm_set_pd(GDFAST_AT(x, q + i), GDFAST_AT(x, i));                   \
        u23 = _mm_set_pd(GDFAST_AT(x, 3 * q + i), GDFAST_AT(x, 2 * q + i));       \
        v01 = _mm_set_pd(GDFAST_AT(y, q + i), GDFAST_AT(y, i));                   \
        v23 = _mm_set_pd(GDFAST_AT(y, 3 * q + i), GDFAST_AT(y, 2 * q + i));       \
        if (GDFAST_FOLD_PF && grp_ && pfb && i < 64) {                            \
            /* a group run: block i's line of a later run (pfb, pfj: its \
             * blocks' first rows and its first row), formed as an integer */ \
            /* rows pfj and pfj + 7: the two lines eight rows may span */    \
            const uintptr_t o_ = (uintptr_t)(pfb[i] + pfj) * sizeof(T);           \
            const uintptr_t e_ = o_ + 7 * sizeof(T);                              \
            GDFAST_HINT((const void *)((uintptr_t)x + o_), 0, GDFAST_FOLD_PF);     \
            GDFAST_HINT((const void *)((uintptr_t)y + o_), 0, GDFAST_FOLD_PF);     \
            GDFAST_HINT((const void *)((uintptr_t)x + e_), 0, GDFAST_FOLD_PF);     \
            GDFAST_HINT((const void *)((uintptr_t)y + e_), 0, GDFAST_FOLD_PF);     \
        }                                                                         \
        if (GDFAST_FOLD_PF && !idx && !(i & 1)) {                                 \
            /* the next run's samples (the four streams of a run are too many \
             * for the hardware prefetcher); a prefetch never faults, and    \
             * the address is formed as an integer */                        \
            const uintptr_t o_ = (uintptr_t)(m + 4 * i) * sizeof(T);              \
            GDFAST_HINT((const void *)((uintptr_t)x + o_), 0, GDFAST_FOLD_PF);     \
            GDFAST_HINT((const void *)((uintptr_t)y + o_), 0, GDFAST_FOLD_PF);     \
        }                                                                         \
        if (KEEP) {                                                               \
            GDFAST_MAX2(mx01, u01); GDFAST_MAX2(mx23, u23);                       \
            GDFAST_MAX2(my01, v01); GDFAST_MAX2(my23, v23);                       \
        }                                                                         \
        cu01 = _mm_mul_pd(cv, u01);                                               \
        cu23 = _mm_mul_pd(cv, u23);                                               \
        a01 = _mm_sub_pd(one, _mm_mul_pd(cu01, u01));                             \
        a23 = _mm_sub_pd(one, _mm_mul_pd(cu23, u23));                             \
        A01 = _mm_mul_pd(a01, A01);                                               \
        A23 = _mm_mul_pd(a23, A23);                                               \
        B01 = _mm_add_pd(_mm_mul_pd(a01, B01), _mm_mul_pd(cu01, v01));            \
        B23 = _mm_add_pd(_mm_mul_pd(a23, B23), _mm_mul_pd(cu23, v23));            \
    }                                                                             \
    if (KEEP) { GDFAST_HMAX2(mx01, mx23, tx) GDFAST_HMAX2(my01, my23, ty) }       \
    _mm_storeu_pd(A, A01); _mm_storeu_pd(A + 2, A23);                             \
    _mm_storeu_pd(B, B01); _mm_storeu_pd(B + 2, B23);                             \
    GDFAST_SGD_TAIL(KEEP, MAP)                                                    \
}
#else
#define GDFAST_SGD_FOLD(NAME, T, KEEP, MAP, GRP)                                  \
static inline double NAME(const T *x, const T *y, const int64_t *idx,             \
                          Py_ssize_t m, double w, double c2, double *mxy,         \
                          double *map, Py_ssize_t j0, const int64_t *pfb,         \
                          Py_ssize_t pfj) {                                       \
    const Py_ssize_t q = m / 4;                                                   \
    const int grp_ = GRP;                                                         \
    double A[4] = {1.0, 1.0, 1.0, 1.0}, B[4] = {0.0, 0.0, 0.0, 0.0};              \
    double u, v, a, tx = 0.0, ty = 0.0;                                           \
    Py_ssize_t i, k;                                                              \
    int j;                                                                        \
    for (i = 0; i < q; i++) {                                                     \
        for (j = 0; j < 4; j++) {                                                 \
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
