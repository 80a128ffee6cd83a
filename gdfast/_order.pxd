# cython: language_level=3
"""The shuffle="blocks" order generated inside the compiled loops.

gdfast._shuffle defines the order: the epoch's permutation ``perm`` of the
blocks of ``block`` consecutive rows; the blocks taken ``group`` at a time,
and within a group row j of each of its blocks (in ``perm`` order) for
j = 0, 1, ..., skipping rows past n (only the last block can be short).
A kernel asks for the next ``count`` positions into a small buffer that
stays in cache, instead of reading an n-row order written beforehand: that
array's write and read cost as much memory traffic as a pass over 1-D data.
"""

from libc.stdint cimport int64_t


cdef struct BlockOrder:
    const int64_t* perm
    Py_ssize_t nb, block, group, n
    Py_ssize_t g, j, t, hi     # next: row j of block perm[t], t in g..hi-1


cdef inline void bo_start(BlockOrder* o, const int64_t* perm, Py_ssize_t nb,
                          Py_ssize_t block, Py_ssize_t group, Py_ssize_t n) noexcept nogil:
    o.perm = perm
    o.nb = nb
    o.block = block
    o.group = group
    o.n = n
    o.g = 0
    o.j = 0
    o.t = 0
    o.hi = group if group < nb else nb


cdef inline Py_ssize_t bo_fill(BlockOrder* o, int64_t* buf, Py_ssize_t count) noexcept nogil:
    """Write the next (up to) count rows of the order to buf; returns how many."""
    cdef Py_ssize_t k = 0, r
    while k < count and o.g < o.nb:
        r = o.perm[o.t] * o.block + o.j
        if r < o.n:
            buf[k] = r
            k += 1
        o.t += 1
        if o.t == o.hi:
            o.t = o.g
            o.j += 1
            if o.j == o.block:
                o.j = 0
                o.g = o.hi
                o.t = o.g
                o.hi = o.g + o.group if o.g + o.group < o.nb else o.nb
    return k
