# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-chunk kernel for the distributed SGD epoch of the tutorial's model.

One feature, no intercept, no penalty: the SGD update of one sample,
``w <- w - lr*2*x*(x*w - y)``, is in real arithmetic the affine map
``w <- a*w + c`` with ``a = 1 - 2*lr*x*x`` and ``c = 2*lr*x*y``. A chunk's
samples compose into one map ``w <- A*w + B``, which depends on the chunk
alone, so every chunk's map can be computed at the same time (on different
workers) and the maps composed in visiting order afterwards (``gdfast.dask``).

The chunk is split into LANES contiguous segments whose maps are built side
by side (independent dependency chains: ``A <- a*A``, ``B <- a*B + c``),
then composed in order. Rounding: each sample adds at most a few units in the
last place relative to ``|A|*|w| + sum |c_i| prod_{j>i} |a_j|`` (the bound
tests/test_dask.py checks); nothing here is bit-identical to the plain loop.
"""

from cython cimport floating
from libc.stdint cimport int64_t

ctypedef fused yfloat:
    float
    double

cdef enum:
    LANES = 4


def sgd_affine_map(const floating[::1] x, const yfloat[::1] y, double lr,
                   const int64_t[::1] order=None):
    """The map ``w -> A*w + B`` of one SGD pass over the chunk (samples in
    order, or as ``x[order[i]]``). Returns ``(A, B)``; ``(1.0, 0.0)`` for an
    empty chunk."""
    cdef Py_ssize_t n = x.shape[0] if order is None else order.shape[0]
    cdef Py_ssize_t seg = (n + LANES - 1) // LANES, i, s, k, lo, hi, m
    cdef double c2 = 2.0 * lr, a, xi
    cdef double A[LANES]
    cdef double B[LANES]
    cdef double At = 1.0, Bt = 0.0
    cdef const int64_t* idx = &order[0] if order is not None and n > 0 else NULL
    for s in range(LANES):
        A[s] = 1.0
        B[s] = 0.0
    if n == 0:
        return At, Bt
    with nogil:
        # the first `seg` steps: every lane that has a sample there
        for i in range(seg):
            for s in range(LANES):
                k = s * seg + i
                if k < n:
                    if idx != NULL:
                        k = idx[k]
                    xi = x[k]
                    a = 1.0 - c2 * xi * xi
                    A[s] = a * A[s]
                    B[s] = a * B[s] + c2 * xi * <double>y[k]
        for s in range(LANES):          # compose lane maps in visiting order
            At = A[s] * At
            Bt = A[s] * Bt + B[s]
    return At, Bt
