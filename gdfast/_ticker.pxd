# cython: language_level=3
"""Ctrl-C polling shared by the compiled loops (_kernels.pyx, _rows.pyx).

A loop counts its work in a Ticker; every CHECK_EVERY units it takes the GIL
and lets a pending signal raise (only when ``signals`` is true: Python
delivers signals to the main thread alone).
"""

from cpython.exc cimport PyErr_CheckSignals

cdef enum:
    CHECK_EVERY = 1 << 22    # units of work (samples or values) between checks


cdef struct Ticker:
    Py_ssize_t work
    bint signals


cdef inline int tick(Ticker* t, Py_ssize_t work) except -1 nogil:
    """Count work; every CHECK_EVERY units, let a pending Ctrl-C raise."""
    t.work += work
    if t.work >= CHECK_EVERY:
        t.work = 0
        if t.signals:
            with gil:
                PyErr_CheckSignals()
    return 0
