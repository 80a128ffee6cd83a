"""pytest-benchmark suite: `pytest bench/ --benchmark-only` (not part of `pytest`).

Operations are defined once, in gdfast.benchreport.OPERATIONS, and shared
with the one-run report (`gdfast bench` / `python bench/report.py`).
"""

import pytest

from gdfast.benchreport import make_data

_CACHE = {}


@pytest.fixture(scope="session")
def dataset():
    """dataset(n) -> (x, y, (x list, y list)), built once per n."""
    def get(n):
        if n not in _CACHE:
            _CACHE.clear()            # keep one large dataset in memory at a time
            x, y = make_data(n)
            _CACHE[n] = (x, y, (x.tolist(), y.tolist()) if n <= 10**5 else None)
        return _CACHE[n]
    return get
