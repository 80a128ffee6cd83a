# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-chunk kernel for the distributed SGD epoch of the tutorial's model.

One feature, no intercept, no penalty: the SGD update of one sample,
``w <- w - lr*2*x*(x*w - y)``, is in real arithmetic the affine map
``w <- a*w + c`` with ``a = 1 - 2*lr*x*x`` and ``c = 2*lr*x*y``. A chunk's
samples compose into one map ``w <- A*w + B``, which depends on the chunk
alone, so every chunk's map can be computed at the same time (on different
workers) and the maps composed in visiting order afterwards (``gdfast.dask``).

The chunk is taken in runs of RUN samples, each folded as the in-memory
affine SGD epoch folds it (``sgd_fold`` in _blocks.h: eight segments side
by side, SIMD, the run after next prefetched), and the runs' maps are composed in
order. Rounding: each sample adds at most a few units in the last place
relative to ``|A|*|w| + sum |c_i| prod_{j>i} |a_j|`` (the bound
tests/test_dask.py checks); nothing here is bit-identical to the plain loop.
"""

from cython cimport floating
from libc.stdint cimport int64_t

from ._blocks cimport sgd_fold_map

cdef enum:
    RUN = 2048               # samples per folded run (the in-memory kernel's BLOCK)


def sgd_affine_map(const floating[::1] x, const floating[::1] y, double lr,
                   const int64_t[::1] order=None):
    """The map ``w -> A*w + B`` of one SGD pass over the chunk (samples in
    order, or as ``x[order[i]]``; x and y of one dtype). Returns ``(A, B)``;
    ``(1.0, 0.0)`` for an empty chunk."""
    cdef Py_ssize_t n = x.shape[0] if order is None else order.shape[0]
    cdef Py_ssize_t start = 0, stop
    cdef double c2 = 2.0 * lr
    cdef double mp[2]
    cdef const int64_t* idx = &order[0] if order is not None and n > 0 else NULL
    mp[0] = 1.0
    mp[1] = 0.0
    if n == 0:
        return mp[0], mp[1]
    with nogil:
        while start < n:
            stop = min(start + <Py_ssize_t>RUN, n)
            if idx != NULL:
                sgd_fold_map(&x[0], &y[0], idx + start, stop - start, c2, mp)
            else:
                sgd_fold_map(&x[0] + start, &y[0] + start, NULL, stop - start, c2, mp)
            start = stop
    return mp[0], mp[1]
