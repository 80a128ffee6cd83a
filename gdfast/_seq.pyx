# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fast path for the primitives on short Python lists and plain floats.

The tutorial calls ``cost``/``gradient`` on 3-element lists. Making numpy
arrays of them costs more than the reference's whole loop, so for list or
tuple arguments of at most MAX_SEQ plain ``float``/``int`` elements these
functions read the items directly and run the same block kernel as the array
path (results are bit-identical to it). Anything else -- other types, NaN or
inf, mismatched lengths, a non-finite result -- returns None, and the caller
takes the general path, whose validation raises the proper error. So this
module never decides what is an error; it only recognises the easy case.
"""

from cpython.float cimport PyFloat_AS_DOUBLE

from ._blocks cimport block_sums

cdef extern from "<math.h>" nogil:
    bint isfinite(double)

cdef enum:
    MAX_SEQ = 64


cdef inline bint as_double(object o, double* out):
    """Plain float or small int -> finite double; False for anything else."""
    if type(o) is float:
        out[0] = PyFloat_AS_DOUBLE(o)
    elif type(o) is int and -(1 << 53) <= o <= (1 << 53):
        out[0] = <double>(<long long>o)
    else:
        return False
    return isfinite(out[0])


cdef inline Py_ssize_t read_seq(object s, double* buf):
    """Fill buf from a plain list/tuple; its length, or -1 if not plain."""
    cdef Py_ssize_t i, n
    if type(s) is not list and type(s) is not tuple:
        return -1
    n = len(s)
    if n == 0 or n > MAX_SEQ:
        return -1
    for i in range(n):
        if not as_double(s[i], &buf[i]):
            return -1
    return n


cdef inline Py_ssize_t read_pair(object xs, object ys, object w, double* bx,
                                 double* by, double* wd):
    """Both plain sequences of one length, or both plain numbers (n = 1)."""
    cdef Py_ssize_t n
    if not as_double(w, wd):
        return -1
    if as_double(xs, bx):
        return 1 if as_double(ys, by) else -1
    n = read_seq(xs, bx)
    if n < 0 or read_seq(ys, by) != n:
        return -1
    return n


cdef inline bint plain_sums(object xs, object ys, object w, double* out, Py_ssize_t* n):
    cdef double bx[MAX_SEQ]
    cdef double by[MAX_SEQ]
    cdef double wd
    n[0] = read_pair(xs, ys, w, bx, by, &wd)
    if n[0] < 0:
        return False
    block_sums(&bx[0], &by[0], n[0], wd, out, False)
    return isfinite(out[0]) and isfinite(out[1])


def seq_cost(xs, ys, w):
    """mean((x*w - y)**2) for plain numbers or sequences, else None."""
    cdef double out[3]
    cdef Py_ssize_t n
    if not plain_sums(xs, ys, w, out, &n):
        return None
    return out[0] / n


def seq_gradient(xs, ys, w):
    """mean(2*x*(x*w - y)) for plain numbers or sequences, else None."""
    cdef double out[3]
    cdef Py_ssize_t n
    cdef double g
    if not plain_sums(xs, ys, w, out, &n):
        return None
    g = 2.0 * out[1] / n
    return g if isfinite(g) else None      # the general path names the overflow


def seq_forward(x, w):
    """x * w for a plain float or plain sequence (list out), else None."""
    cdef double bx[MAX_SEQ]
    cdef double xd, wd, v
    cdef Py_ssize_t i, n
    if not as_double(w, &wd):
        return None
    if as_double(x, &xd):
        v = xd * wd + 0.0          # the general path's + b (b = 0): -0.0 becomes 0.0
        return v if isfinite(v) else None
    n = read_seq(x, bx)
    if n < 0:
        return None
    for i in range(n):
        bx[i] = bx[i] * wd + 0.0
        if not isfinite(bx[i]):
            return None
    return [bx[i] for i in range(n)]


def seq_loss(x, y, w):
    """(x*w - y)**2 for plain floats or plain sequences (list out), else None."""
    cdef double bx[MAX_SEQ]
    cdef double by[MAX_SEQ]
    cdef double xd, yd, wd, v
    cdef Py_ssize_t i, n
    if as_double(x, &xd):
        if not (as_double(y, &yd) and as_double(w, &wd)):
            return None
        v = (xd * wd - yd) * (xd * wd - yd)
        return v if isfinite(v) else None
    n = read_pair(x, y, w, bx, by, &wd)
    if n < 0:
        return None
    for i in range(n):
        v = bx[i] * wd - by[i]
        bx[i] = v * v
        if not isfinite(bx[i]):
            return None
    return [bx[i] for i in range(n)]
