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
    bint short                 # the group holds the short last block


cdef inline void bo_group(BlockOrder* o) noexcept nogil:
    """Enter the group of blocks starting at o.g."""
    cdef Py_ssize_t t
    o.hi = o.g + o.group if o.g + o.group < o.nb else o.nb
    o.t = o.g
    o.j = 0
    o.short = False
    if o.nb * o.block != o.n:
        for t in range(o.g, o.hi):
            if o.perm[t] == o.nb - 1:
                o.short = True


cdef inline void bo_start(BlockOrder* o, const int64_t* perm, Py_ssize_t nb,
                          Py_ssize_t block, Py_ssize_t group, Py_ssize_t n) noexcept nogil:
    o.perm = perm
    o.nb = nb
    o.block = block
    o.group = group
    o.n = n
    o.g = 0
    if nb > 0:
        bo_group(o)


cdef inline Py_ssize_t bo_fill(BlockOrder* o, int64_t* buf, Py_ssize_t count,
                              bint group_end=False) noexcept nogil:
    """Write the next (up to) count rows of the order to buf; returns how many
    (with group_end, stopping at the end of the current group). A run of one
    row j across the group's blocks is a plain loop (no test per row) unless
    the group holds the short last block."""
    cdef Py_ssize_t k = 0, r, q, run
    while k < count and o.g < o.nb:
        run = o.hi - o.t
        if run > count - k:
            run = count - k
        if o.short:
            for q in range(run):
                r = o.perm[o.t + q] * o.block + o.j
                if r < o.n:
                    buf[k] = r
                    k += 1
        else:
            for q in range(run):
                buf[k + q] = o.perm[o.t + q] * o.block + o.j
            k += run
        o.t += run
        if o.t == o.hi:
            o.t = o.g
            o.j += 1
            if o.j == o.block:
                o.g = o.hi
                if o.g < o.nb:
                    bo_group(o)
                if group_end:
                    break
    return k
