# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""``Generator.shuffle`` of an int64 array, numpy's permutation bit for bit,
with the swaps' cache misses overlapped.

numpy shuffles a 1-D array by Fisher-Yates: for i = n-1 down to 1 it draws
j = random_interval(i) (a uniform integer in [0, i] by masked rejection from
the bit generator's next 32 or 64 bits) and swaps a[i] and a[j]. On an
array larger than the caches each swap waits for the cache miss at a[j]
(and its TLB miss): about 70 ns per element, more than an SGD epoch over
1-D data. The draws do not depend on the array, so this module draws
AHEAD of them first, prefetches their a[j], then does the same swaps in the
same order: the same permutation from the same stream of random numbers,
the misses overlapped instead of one at a time.

The bit generator is used through numpy's documented C interface (the
``bitgen_t`` struct in its ``capsule``), under its lock, as numpy does.
:func:`shuffle_like_numpy` checks once per process and kind of bit generator
that the result equals ``rng.shuffle``'s on small arrays, and uses numpy's
own shuffle otherwise (a numpy that changed its algorithm, a bit generator
that cannot be built from a seed).
"""

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int64_t, uint32_t, uint64_t


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define gdfast_hint_write(addr) __builtin_prefetch((addr), 1, 3)
    #else
    #define gdfast_hint_write(addr) ((void)(addr))
    #endif
    """
    void gdfast_hint_write(const void* addr) noexcept nogil


# numpy/random/bitgen.h (numpy's C API for random, stable since 1.17)
cdef struct bitgen_t:
    void* state
    uint64_t (*next_uint64)(void* st) noexcept nogil
    uint32_t (*next_uint32)(void* st) noexcept nogil
    double (*next_double)(void* st) noexcept nogil
    uint64_t (*next_raw)(void* st) noexcept nogil


cdef enum:
    AHEAD = 64                  # draws made (and rows prefetched) before their swaps


cdef inline uint64_t random_interval(bitgen_t* bg, uint64_t mx) noexcept nogil:
    """A uniform integer in [0, mx]: numpy's random_interval (the smallest
    all-ones mask >= mx, rejection until the masked draw is <= mx; 32-bit
    draws while mx fits in 32 bits)."""
    cdef uint64_t mask = mx, value
    if mx == 0:
        return 0
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    mask |= mask >> 32
    if mx <= 0xffffffffUL:
        while True:
            value = bg.next_uint32(bg.state) & mask
            if value <= mx:
                return value
    while True:
        value = bg.next_uint64(bg.state) & mask
        if value <= mx:
            return value


cdef bitgen_t* _bitgen(object bit) except NULL:
    """The C interface of a numpy BitGenerator (its ``capsule``)."""
    return <bitgen_t*>PyCapsule_GetPointer(bit.capsule, "BitGenerator")


def shuffle(int64_t[::1] a, object rng):
    """Shuffle ``a`` in place exactly as ``rng.shuffle(a)`` does (rng: a
    numpy Generator)."""
    cdef Py_ssize_t n = a.shape[0], i, k, m
    cdef int64_t* p = &a[0] if n else NULL
    cdef int64_t t
    cdef int64_t js[AHEAD]
    bit = rng.bit_generator
    cdef bitgen_t* bg = _bitgen(bit)
    with bit.lock, nogil:
        i = n - 1
        while i >= 1:
            m = AHEAD if i >= AHEAD else i        # steps i, i-1, ..., i-m+1
            for k in range(m):
                js[k] = <int64_t>random_interval(bg, <uint64_t>(i - k))
                gdfast_hint_write(p + js[k])
            for k in range(m):
                t = p[i - k]
                p[i - k] = p[js[k]]
                p[js[k]] = t
            i -= m


_CHECKED = {}                   # bit generator class -> this module agrees with numpy


def _same_state(a, b):
    """Whether two bit generator states (nested dicts of numbers and arrays)
    are equal."""
    import numpy as np
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(_same_state(a[k], b[k]) for k in a))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def _agrees(kind):
    """Whether shuffle() gives rng.shuffle's permutation and leaves the bit
    generator in the same state, for bit generators of class ``kind``."""
    import numpy as np
    try:
        for n, seed in ((1000, 12345), (97, 7), (2, 1)):
            mine, theirs = np.random.Generator(kind(seed)), np.random.Generator(kind(seed))
            a = np.arange(n, dtype=np.int64)
            b = a.copy()
            shuffle(a, mine)
            theirs.shuffle(b)
            if not ((a == b).all()
                    and _same_state(mine.bit_generator.state, theirs.bit_generator.state)):
                return False
    except Exception:           # a bit generator that needs more than a seed
        return False
    return True


def shuffle_like_numpy(a, rng):
    """rng.shuffle(a) (a: a contiguous int64 array, rng: a numpy Generator):
    through :func:`shuffle` where it has been checked to agree with numpy for
    this kind of bit generator."""
    kind = type(rng.bit_generator)
    ok = _CHECKED.get(kind)
    if ok is None:
        ok = _CHECKED[kind] = _agrees(kind)
    if ok:
        shuffle(a, rng)
    else:
        rng.shuffle(a)


def interval_draws(rng, uint64_t mx, Py_ssize_t count):
    """``count`` draws of random_interval(mx) from rng's bit generator (for
    the tests: the 64-bit branch, mx >= 2**32, cannot be reached by shuffling
    an array that fits in memory)."""
    cdef Py_ssize_t k
    bit = rng.bit_generator
    cdef bitgen_t* bg = _bitgen(bit)
    out = []
    with bit.lock:
        for k in range(count):
            out.append(random_interval(bg, mx))
    return out
