"""Per-epoch callback, early stop and progress bar, on both implementations."""

import numpy as np
import pytest

from helpers import synthetic

TRAINERS = ["batch_gd", "sgd", "minibatch_gd"]


@pytest.mark.parametrize("name", TRAINERS)
def test_callback_sees_every_epoch(impl, name):
    x, y = synthetic(500, seed=1)
    seen = []
    res = getattr(impl, name)(x, y, epochs=6, lr=0.05,
                              callback=lambda e, w, l: seen.append((e, w, l)))
    assert [e for e, _, _ in seen] == list(range(6))
    np.testing.assert_array_equal([w for _, w, _ in seen], res.w_history)
    np.testing.assert_array_equal([l for _, _, l in seen], res.loss_history)


@pytest.mark.parametrize("name", TRAINERS)
def test_callback_returning_true_stops_early(impl, name):
    x, y = synthetic(500, seed=1)
    full = getattr(impl, name)(x, y, epochs=10, lr=0.05)
    res = getattr(impl, name)(x, y, epochs=10, lr=0.05, callback=lambda e, w, l: e == 3)
    assert res.epochs == 4
    np.testing.assert_array_equal(res.w_history, full.w_history[:4])
    assert res.w == full.w_history[3]


def test_compiled_callback_on_large_data_with_stats_method():
    import gdfast._compiled as compiled
    x, y = synthetic(100_000, seed=2)
    seen = []
    res = compiled.batch_gd(x, y, epochs=50, lr=0.2, method="stats",
                            callback=lambda e, w, l: seen.append(e) or l < 1.0)
    assert seen == list(range(res.epochs)) and 1 < res.epochs < 50
    assert res.loss_history[-1] < 1.0 <= res.loss_history[-2]


def test_callback_exception_propagates(impl):
    class Boom(Exception):
        pass

    def cb(e, w, l):
        if e == 2:
            raise Boom("from the callback")

    with pytest.raises(Boom):
        impl.sgd([1.0, 2.0], [2.0, 4.0], epochs=10, callback=cb)


def test_progress_bar(impl, capsys):
    pytest.importorskip("tqdm")
    res = impl.sgd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], epochs=25, progress=True)
    err = capsys.readouterr().err
    assert res.epochs == 25
    assert "25/25" in err and "loss=" in err


@pytest.mark.parametrize("name", TRAINERS)
@pytest.mark.parametrize("d", [2, 5])
def test_progress_bar_with_many_features(impl, name, d, capsys):
    """The bar shows the coefficients of 2-D data too (it formatted w as one
    float, so an array made every trainer raise TypeError)."""
    pytest.importorskip("tqdm")
    X = np.random.default_rng(d).normal(size=(40, d))
    y = X @ np.arange(1.0, d + 1) + 0.5
    res = getattr(impl, name)(X, y, w=0.0, epochs=4, lr=0.05, fit_intercept=True,
                              progress=True)
    err = capsys.readouterr().err
    assert res.epochs == 4 and "4/4" in err
    assert f"w=[{res.coef_history[-1][0]:.4g}" in err
    assert ("..." in err) == (d > 3)


@pytest.mark.parametrize("name", TRAINERS)
def test_callback_gets_an_array_for_one_column_x(impl, name):
    """X of shape (n, 1) is 2-D data: the callback gets an array of one
    coefficient, as its result's coef is (the compiled side's one-feature
    whole-run kernels gave a float)."""
    X, y = np.array([[1.0], [2.0], [3.0]]), np.array([2.0, 4.0, 6.0])
    seen = []
    res = getattr(impl, name)(X, y, epochs=3, callback=lambda e, w, l: seen.append(w))
    assert all(isinstance(w, np.ndarray) and w.shape == (1,) for w in seen)
    np.testing.assert_array_equal(np.array(seen), res.coef_history)
