"""Time per call, grouped by operation and N, for gdfast, the reference and numpy.

Groups: one BGD epoch (cost + gradient), one SGD epoch, one mini-batch (32)
epoch, a full 100-epoch batch_gd, the primitives on the tutorial's lists,
and the floor (single-threaded np.dot). Compare within a group.
"""

import numpy as np
import pytest

import gdfast
from gdfast import reference
from gdfast.benchreport import (IMPLEMENTATIONS, OPERATIONS, PRIMITIVES, SIZES,
                                applicable)

CELLS = [(op, impl, n) for op in OPERATIONS for n in SIZES for impl in IMPLEMENTATIONS
         if applicable(op, impl, n)]


@pytest.mark.parametrize("op,impl,n", CELLS, ids=[f"{o}-{i}-{n:.0e}" for o, i, n in CELLS])
def test_operation(benchmark, dataset, op, impl, n):
    benchmark.group = f"{op} N={n:.0e}"
    x, y, lists = dataset(n)
    fn = OPERATIONS[op][1][impl](x, y, lists)
    if impl == "reference" and n >= 10**4:
        benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=0)
    else:
        benchmark(fn)


@pytest.mark.parametrize("n", SIZES, ids=[f"{n:.0e}" for n in SIZES])
def test_floor(benchmark, dataset, n):
    """One streaming read of x and y: np.dot, one thread."""
    from threadpoolctl import threadpool_limits
    benchmark.group = f"floor N={n:.0e}"
    x, y, _ = dataset(n)
    with threadpool_limits(1):
        benchmark(np.dot, x, y)


@pytest.mark.parametrize("impl", ["gdfast", "reference"])
@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_primitive_on_tutorial_lists(benchmark, name, impl):
    benchmark.group = f"primitive {name} on 3-element lists"
    mod = gdfast if impl == "gdfast" else reference
    benchmark(PRIMITIVES[name](mod, [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]))
