# cython: language_level=3
"""The one inner loop every pass shares, inlined into each compiled module.

For ``m`` samples and a weight ``w`` it accumulates, in double precision,
    out[0] = sum (x*w - y)**2        (squared residuals)
    out[1] = sum x*(x*w - y)         (half the gradient numerator)
    out[2] = sum x*x                 (only when want_xx)
over four interleaved lanes (samples i, i+1, i+2, i+3 go to lanes 0..3),
combined as (l0 + l1) + (l2 + l3). Lanes break the floating-add dependency
chain; they reorder the sum relative to a left-to-right loop, so results
differ from the reference by rounding only (tests bound it). A run shorter
than four samples is summed left to right in lane 0, exactly as the
tutorial's loop does.
"""

from cython cimport floating


cdef inline void block_sums(const floating* x, const floating* y, Py_ssize_t m,
                            double w, double* out, bint want_xx) noexcept nogil:
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef double b0 = 0.0, b1 = 0.0, b2 = 0.0, b3 = 0.0
    cdef double c0 = 0.0, c1 = 0.0, c2 = 0.0, c3 = 0.0
    cdef double x0, x1, x2, x3, r0, r1, r2, r3
    cdef Py_ssize_t i = 0
    while i + 4 <= m:
        x0 = x[i]
        x1 = x[i + 1]
        x2 = x[i + 2]
        x3 = x[i + 3]
        r0 = x0 * w - <double>y[i]
        r1 = x1 * w - <double>y[i + 1]
        r2 = x2 * w - <double>y[i + 2]
        r3 = x3 * w - <double>y[i + 3]
        a0 += r0 * r0
        a1 += r1 * r1
        a2 += r2 * r2
        a3 += r3 * r3
        b0 += x0 * r0
        b1 += x1 * r1
        b2 += x2 * r2
        b3 += x3 * r3
        if want_xx:
            c0 += x0 * x0
            c1 += x1 * x1
            c2 += x2 * x2
            c3 += x3 * x3
        i += 4
    while i < m:
        x0 = x[i]
        r0 = x0 * w - <double>y[i]
        a0 += r0 * r0
        b0 += x0 * r0
        if want_xx:
            c0 += x0 * x0
        i += 1
    out[0] = (a0 + a1) + (a2 + a3)
    out[1] = (b0 + b1) + (b2 + b3)
    out[2] = (c0 + c1) + (c2 + c3)
