"""Large synthetic data: compiled vs reference, all trainers, both dtypes."""

import numpy as np
import pytest

import gdfast._compiled as compiled
import gdfast.reference as reference
from helpers import max_rel, synthetic

EPOCHS = 3
CASES = [
    ("batch_gd", {}),
    ("batch_gd", {"method": "pass"}),
    ("sgd", {}),
    ("sgd", {"method": "plain"}),
    ("sgd", {"shuffle": True, "seed": 7}),
    ("minibatch_gd", {}),
    ("minibatch_gd", {"batch_size": 1000}),
    ("minibatch_gd", {"shuffle": True, "seed": 7}),
]
COMPILED_ONLY = {"method"}


def _reference_run(name, x, y, kw):
    ref_kw = {k: v for k, v in kw.items() if k not in COMPILED_ONLY}
    return getattr(reference, name)(x.tolist(), y.tolist(), lr=0.05, epochs=EPOCHS, **ref_kw)


def _check(name, kw, n):
    x, y = synthetic(n, seed=n)
    got = getattr(compiled, name)(x, y, lr=0.05, epochs=EPOCHS, **kw)
    want = _reference_run(name, x, y, kw)
    assert got.epochs == want.epochs == EPOCHS
    assert max_rel(got.w_history, want.w_history) < 1e-9
    assert max_rel(got.loss_history, want.loss_history) < 1e-9


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_compiled_matches_reference_1e5(name, kw):
    _check(name, kw, 100_000)


@pytest.mark.slow
@pytest.mark.parametrize("name,kw", CASES[::2], ids=[f"{n}-{k}" for n, k in CASES[::2]])
def test_compiled_matches_reference_1e6(name, kw):
    _check(name, kw, 1_000_000)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_float32_matches_its_float64_upcast(name, kw):
    x, y = synthetic(100_000, seed=3, dtype=np.float32)
    got = getattr(compiled, name)(x, y, lr=0.05, epochs=EPOCHS, **kw)
    want = getattr(compiled, name)(x.astype(np.float64), y.astype(np.float64),
                                   lr=0.05, epochs=EPOCHS, **kw)
    assert max_rel(got.w_history, want.w_history) < 1e-5
    assert max_rel(got.loss_history, want.loss_history) < 1e-5


def test_primitives_match_reference_on_large_data():
    x, y = synthetic(100_000, seed=11)
    xl, yl = x.tolist(), y.tolist()
    for w in (-1.0, 0.0, 2.9, 3.0, 10.0):
        assert max_rel([compiled.cost(x, y, w)], [reference.cost(xl, yl, w)]) < 1e-12
        g_ref = reference.gradient(xl, yl, w)
        # the gradient can be near 0; compare against the size of its terms
        scale = 2 * np.mean(np.abs(x * (x * w - y)))
        assert abs(compiled.gradient(x, y, w) - g_ref) <= 1e-12 * scale
    assert max_rel(compiled.forward(x, 1.5), reference.forward(xl, 1.5)) == 0
    # r*r here, r**2 (libm pow, not always correctly rounded) there: 1 ulp
    assert max_rel(compiled.loss(x, y, 1.5), reference.loss(xl, yl, 1.5)) < 1e-15
