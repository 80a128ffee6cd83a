"""gdfast.GDRegressor: a scikit-learn estimator (the extra gdfast[sklearn]).

Expected numbers come from scikit-learn itself (SGDRegressor,
LinearRegression, Ridge, r2_score), from gdfast.reference (the oracle) or
from mathematics; never from the estimator under test.
"""

import doctest
import os
import inspect
import pickle
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import LinearRegression, Ridge, SGDRegressor  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import gdfast  # noqa: E402
import gdfast.reference as reference  # noqa: E402
import gdfast.sklearn as gsk  # noqa: E402
from gdfast import DivergenceError, GDRegressor  # noqa: E402

SOLVERS = ["sgd", "batch", "minibatch"]

# ------------------------------------------------------ scikit-learn's checks

#: Checks expected to fail, each with its reason (also in docs/sklearn.md).
#: None today: every check scikit-learn runs passes for all three solvers.
EXPECTED_FAILED = {}


def _expected_failed(estimator):
    return EXPECTED_FAILED


# scikit-learn >= 1.6 takes the expected failures as an argument
_XFAIL = ({"expected_failed_checks": _expected_failed}
          if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters
          else {})


@parametrize_with_checks(
    [GDRegressor(), GDRegressor(solver="batch"), GDRegressor(solver="minibatch", batch_size=8)],
    **_XFAIL)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------- helpers

def _data(n=300, d=4, seed=0, noise=0.1, offset=2.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    y = X @ w + offset + noise * rng.standard_normal(n)
    return X, y


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


# ------------------------------------------------------------------ packaging

def test_import_gdfast_does_not_import_sklearn(tmp_path):
    code = ("import sys, gdfast; assert 'sklearn' not in sys.modules, 'loaded'; "
            "gdfast.GDRegressor; assert 'sklearn' in sys.modules")
    # cwd away from the source tree: the installed gdfast, as users import it
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_without_sklearn_the_estimator_says_what_to_install(tmp_path):
    from helpers import without
    out = without("sklearn", (
        "import gdfast\n"
        "assert 'GDRegressor' not in gdfast.__all__\n"
        "exec('from gdfast import *')      # works without the extra\n"
        "try:\n"
        "    gdfast.GDRegressor\n"
        "except ImportError as e:\n"
        "    print(e)\n"), tmp_path)
    assert "needs scikit-learn" in out and "pip install 'gdfast[sklearn]'" in out, out


def test_lazy_attribute_and_all():
    assert "GDRegressor" in gdfast.__all__
    assert gdfast.GDRegressor is gsk.GDRegressor
    with pytest.raises(AttributeError, match="no_such_name"):
        gdfast.no_such_name


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(gsk, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0


# ------------------------------------------------------ agreement with peers

@pytest.mark.parametrize("penalty, alpha", [(None, 0.0), ("l2", 0.01), ("l2", 0.3)])
@pytest.mark.parametrize("epochs", [1, 7])
def test_matches_sgdregressor(penalty, alpha, epochs):
    # scikit-learn's squared loss is half of ours (eta0 = 2*lr); its L2 step
    # w *= 1 - eta0*alpha_sk before w -= eta0*(p - y)*x (p from the old w)
    # is ours, w -= lr*(2*x*r + 2*alpha*w), with alpha_sk = alpha exactly.
    X, y = _data(400, 6, seed=3)
    lr = 0.004
    sk = SGDRegressor(penalty=penalty, alpha=alpha, learning_rate="constant", eta0=2 * lr,
                      shuffle=False, fit_intercept=True, max_iter=epochs, tol=None).fit(X, y)
    ours = GDRegressor(solver="sgd", lr=lr, alpha=alpha, shuffle=False, max_iter=epochs,
                       tol=None).fit(X, y)
    assert_allclose(ours.coef_, sk.coef_, rtol=1e-9, atol=0)
    assert_allclose(ours.intercept_, sk.intercept_[0], rtol=1e-9, atol=0)
    assert ours.n_iter_ == sk.n_iter_ == epochs
    assert ours.t_ == epochs * len(y) == sk.t_ - 1     # sklearn counts from 1


@pytest.mark.parametrize("tol_sk", [1e-3, 1e-2])
def test_tol_twice_sgdregressors_stops_at_its_epoch(tol_sk):
    # our epoch loss is twice scikit-learn's (each the mean of the samples'
    # pre-update losses), so tol = 2*tol_sk is its rule on its numbers
    # (a small step: epochs improve slowly, so tol_sk itself stops later)
    X, y = _data(400, 6, seed=3)
    lr = 2e-4
    sk = SGDRegressor(penalty=None, learning_rate="constant", eta0=2 * lr, shuffle=False,
                      max_iter=300, tol=tol_sk, n_iter_no_change=3).fit(X, y)
    ours = GDRegressor(solver="sgd", lr=lr, shuffle=False, max_iter=300, tol=2 * tol_sk,
                       n_iter_no_change=3).fit(X, y)
    assert 3 < sk.n_iter_ < 300
    assert ours.n_iter_ == sk.n_iter_
    assert_allclose(ours.coef_, sk.coef_, rtol=1e-9, atol=0)


@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_batch_converges_to_linear_regression_and_ridge(alpha):
    X, y = _data(500, 5, seed=4)
    n = len(y)
    peer = (LinearRegression() if alpha == 0 else Ridge(alpha=alpha * n)).fit(X, y)
    ours = GDRegressor(solver="batch", alpha=alpha, tol=None, max_iter=1500).fit(X, y)
    assert_allclose(ours.coef_, peer.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(ours.intercept_, peer.intercept_, rtol=1e-9)


def test_sgd_auto_lr_close_to_least_squares():
    X, y = _data(2000, 5, seed=5, noise=0.0)
    ours = GDRegressor(random_state=0).fit(X, y)       # defaults: sgd, lr="auto", tol
    peer = LinearRegression().fit(X, y)
    assert_allclose(ours.coef_, peer.coef_, atol=1e-3)
    assert ours.n_iter_ < ours.max_iter


def test_same_orders_as_core_sgd():
    X, y = _data(200, 3, seed=6)
    ours = GDRegressor(lr=0.01, shuffle=True, random_state=7, max_iter=4, tol=None).fit(X, y)
    ref = reference.sgd(X, y, w=0.0, lr=0.01, epochs=4, shuffle=True, seed=7,
                        fit_intercept=True)
    assert_array_equal(ours.coef_, ref.coef)
    assert ours.intercept_ == ref.intercept


@pytest.mark.parametrize("solver", ["sgd", "minibatch"])
def test_same_as_reference_trainer(solver):
    X, y = _data(100, 3, seed=8)
    ours = GDRegressor(solver=solver, lr=0.01, shuffle=False, max_iter=3, tol=None,
                       alpha=0.1, batch_size=16).fit(X, y)
    if solver == "sgd":
        ref = reference.sgd(X, y, w=0.0, lr=0.01, epochs=3, fit_intercept=True, alpha=0.1)
    else:
        ref = reference.minibatch_gd(X, y, 16, w=0.0, lr=0.01, epochs=3,
                                     fit_intercept=True, alpha=0.1)
    assert_allclose(ours.coef_, ref.coef, rtol=1e-12)
    assert_allclose(ours.intercept_, ref.intercept, rtol=1e-12)
    # loss_curve_: each epoch's running loss (pre-update squared residuals)
    assert_allclose(ours.loss_curve_, ref.epoch_loss_history, rtol=1e-12)


def test_one_feature_without_intercept_loss_curve_is_cost_after_each_epoch():
    # the tutorial's model: its whole-run kernels track no running loss
    X, y = _data(100, 1, seed=8)
    ours = GDRegressor(solver="sgd", lr=0.01, shuffle=False, max_iter=3, tol=None,
                       fit_intercept=False).fit(X, y)
    ref = reference.sgd(X, y, w=0.0, lr=0.01, epochs=3)
    assert ref.epoch_loss_history is None
    want = [reference.cost(X, y, w) for w in ref.coef_history]
    assert_allclose(ours.loss_curve_, want, rtol=1e-12)


def test_batch_loss_curve_is_cost_after_each_epoch():
    X, y = _data(120, 3, seed=9)
    ours = GDRegressor(solver="batch", lr=0.05, max_iter=6, tol=None).fit(X, y)
    ref = reference.batch_gd(X, y, w=0.0, lr=0.05, epochs=6, fit_intercept=True)
    want = [reference.cost(X, y, w, b) for w, b in zip(ref.coef_history,
                                                        ref.intercept_history)]
    assert_allclose(ours.loss_curve_, want, rtol=1e-12)
    assert len(ours.loss_curve_) == ours.n_iter_ == 6


# ------------------------------------------------------------------ partial_fit

@pytest.mark.parametrize("solver, sizes", [("sgd", [37, 100, 1, 62]),
                                           ("minibatch", [64, 32, 96, 8])])
def test_partial_fit_chunks_equal_one_epoch(solver, sizes):
    # Same updates in the same order: sgd carries (w, b) from row to row, and
    # batches of 8 never straddle chunks whose sizes are multiples of 8, so
    # the bound is 0 (bit-identical).
    X, y = _data(sum(sizes), 5, seed=10)
    kw = dict(solver=solver, lr=0.01, shuffle=False, batch_size=8)
    whole = GDRegressor(max_iter=1, tol=None, **kw).fit(X, y)
    part = GDRegressor(**kw)
    start = 0
    for m in sizes:
        part.partial_fit(X[start:start + m], y[start:start + m])
        start += m
    assert_array_equal(part.coef_, whole.coef_)
    assert part.intercept_ == whole.intercept_
    assert part.t_ == whole.t_ == len(y)
    assert part.n_iter_ == len(sizes)


def test_partial_fit_batch_is_one_update_per_chunk():
    X, y = _data(90, 3, seed=11)
    est = GDRegressor(solver="batch", lr=0.05)
    w, b = 0.0, 0.0
    for lo in (0, 30, 60):
        est.partial_fit(X[lo:lo + 30], y[lo:lo + 30])
        r = reference.batch_gd(X[lo:lo + 30], y[lo:lo + 30], w=w, b=b, lr=0.05, epochs=1,
                               fit_intercept=True)
        w, b = r.coef, r.intercept
    assert_allclose(est.coef_, w, rtol=1e-12)
    assert_allclose(est.intercept_, b, rtol=1e-12)


def test_partial_fit_auto_lr_follows_all_rows_seen():
    X, y = _data(100, 3, seed=12)
    X[70] *= 10                                        # the largest row comes late
    est = GDRegressor()
    est.partial_fit(X[:50], y[:50])
    assert est.lr_ == pytest.approx(0.5 / (np.max(np.sum(X[:50] ** 2, 1)) + 1), rel=1e-12)
    est.partial_fit(X[50:], y[50:])
    assert est.lr_ == pytest.approx(0.5 / (np.max(np.sum(X ** 2, 1)) + 1), rel=1e-12)


def test_partial_fit_refuses_other_feature_count():
    X, y = _data(50, 3)
    est = GDRegressor().partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :2], y)


# ------------------------------------------------------------------ lr="auto"

@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept, alpha", [(True, 0.0), (False, 0.2)])
def test_auto_lr_rule(solver, fit_intercept, alpha):
    X, y = _data(80, 4, seed=13)
    sq = np.sum(X ** 2, axis=1)
    base = sq.mean() if solver == "batch" else sq.max()
    est = _quiet(GDRegressor(solver=solver, fit_intercept=fit_intercept, alpha=alpha,
                             max_iter=2).fit, X, y)
    assert est.lr_ == pytest.approx(0.5 / (base + fit_intercept + alpha), rel=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_auto_lr_after_a_numeric_lr_starts_afresh(solver):
    """Calls with a numeric lr read no norms; an "auto" call after them
    takes the rule from its own rows (it divided by rows never read: a
    step 17 times too large, and the loss grew by orders of magnitude)."""
    X, y = _data(2000, 1, seed=15)
    X = X * 10.0
    est = GDRegressor(solver=solver, lr=1e-6, max_iter=1, tol=None).fit(X, y)
    est.set_params(lr="auto").partial_fit(X[:100], y[:100])
    fresh = GDRegressor(solver=solver).partial_fit(X[:100], y[:100])
    assert est.lr_ == fresh.lr_
    est.partial_fit(X[100:200], y[100:200])     # then the running rule over both
    both = GDRegressor(solver=solver).partial_fit(X[:100], y[:100])
    both.partial_fit(X[100:200], y[100:200])
    assert est.lr_ == both.lr_


@pytest.mark.parametrize("solver", SOLVERS)
def test_auto_lr_needs_no_tuning_on_badly_scaled_data(solver):
    rng = np.random.default_rng(14)
    X = rng.standard_normal((300, 3)) * [1e3, 1.0, 1e-2]
    y = X @ [2e-3, -1.0, 50.0] + 0.5
    est = _quiet(GDRegressor(solver=solver, random_state=0, max_iter=50).fit, X, y)
    assert np.isfinite(est.coef_).all()
    # every epoch lowers the cost (batch: a guaranteed contraction)
    if solver == "batch":
        assert np.all(np.diff(est.loss_curve_) <= 0)


# ----------------------------------------------------------------- stopping

def test_tol_none_runs_every_epoch_without_warning():
    X, y = _data(60, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = GDRegressor(tol=None, max_iter=25, random_state=0).fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 25


def test_convergence_warning_when_max_iter_ends_the_run():
    X, y = _data(60, 2)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        GDRegressor(lr=1e-4, max_iter=3, random_state=0).fit(X, y)


@pytest.mark.parametrize("dask_input", [False, True], ids=["numpy", "dask"])
def test_a_run_stopped_while_its_loss_rises_warns(dask_input):
    """lr = 100 on standardized data: batch GD's loss grows every epoch
    (finite for a while), so the tol rule -- no improvement for
    n_iter_no_change epochs -- stops it; that is divergence, not
    convergence (SGDRegressor would say nothing). A converging fit stays
    silent."""
    X, y = _data(300, 3, seed=4)
    X = (X - X.mean(0)) / X.std(0)
    if dask_input:
        da = pytest.importorskip("dask.array")
        X, y = da.from_array(X, chunks=(100, 3)), da.from_array(y, chunks=100)
    with pytest.warns(ConvergenceWarning, match="rose in each of the last 5 epochs"):
        est = GDRegressor(solver="batch", lr=100.0).fit(X, y)
    curve = est.loss_curve_
    assert all(a < b for a, b in zip(curve[-6:], curve[-5:])) and curve[-1] > curve[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GDRegressor(solver="batch", lr="auto").fit(X, y)


def test_a_converged_fit_whose_loss_moves_by_rounding_is_not_called_diverging():
    """Stopped at the optimum after one epoch, n_iter_no_change=1: a rise of
    one ulp is rounding (adversarial testing: the warning in 7 of 50 seeds)."""
    for seed in range(50):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((200, 1))
        y = 2.0 * x[:, 0] + 0.1 * rng.standard_normal(200)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            est = GDRegressor(solver="batch", fit_intercept=False,
                              n_iter_no_change=1).fit(x, y)
        assert est.n_iter_ < 1000


def test_warm_start_on_another_number_of_features_is_refused():
    """As SGDRegressor refuses it; the fitted state is kept."""
    X, y = _data(80, 3)
    est = GDRegressor(warm_start=True, max_iter=3, tol=None).fit(X, y)
    coef = est.coef_.copy()
    with pytest.raises(ValueError, match="X has 2 features, but GDRegressor is expecting 3"):
        est.fit(X[:, :2], y)
    assert est.n_features_in_ == 3 and np.array_equal(est.coef_, coef)
    GDRegressor(max_iter=3, tol=None).fit(X, y).fit(X[:, :2], y)   # not warm: a refit
    # refused before X is read (lr="auto" reads it for the row norms)
    import gdfast.sklearn as gsk

    def no_read(X):
        raise AssertionError("X was read before the feature count was checked")
    est.set_params(lr="auto")
    mp = pytest.MonkeyPatch()
    mp.setattr(gsk, "_sq_norms", no_read)
    try:
        with pytest.raises(ValueError, match="expecting 3"):
            est.fit(X[:, :2], y)
    finally:
        mp.undo()


@pytest.mark.parametrize("solver", SOLVERS)
def test_stops_by_sgdregressors_rule(solver):
    X, y = _data(200, 3, seed=15)
    est = GDRegressor(solver=solver, tol=1e-4, n_iter_no_change=3, random_state=0,
                      max_iter=500).fit(X, y)
    curve = est.loss_curve_
    assert len(curve) == est.n_iter_ < 500

    # SGDRegressor's rule, restated: count epochs not below best - tol
    def stop_epoch(curve, tol, patience):
        best, count = np.inf, 0
        for e, v in enumerate(curve):
            count = count + 1 if v > best - tol else 0
            best = min(best, v)
            if count >= patience:
                return e
        return None
    e = stop_epoch(curve, 1e-4, 3)
    # the run ends with the epoch at which the rule fires ("batch" sees an
    # epoch's cost at the next epoch's start and rolls that epoch back)
    assert e == est.n_iter_ - 1
    # ... in the state of a run of that many epochs
    same = GDRegressor(solver=solver, tol=None, random_state=0,
                       max_iter=est.n_iter_).fit(X, y)
    assert np.array_equal(est.coef_, same.coef_) and est.intercept_ == same.intercept_
    assert est.t_ == same.t_
    assert_allclose(est.loss_curve_, same.loss_curve_, rtol=1e-12)


# -------------------------------------------------------- float32, no copies

@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_reaches_the_kernels_without_a_copy(solver, monkeypatch):
    X, y = _data(500, 4, seed=16)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    seen = []
    for name in ("sgd", "batch_gd", "minibatch_gd", "cost", "forward"):
        real = getattr(gdfast, name)

        def spy(Xa, *args, _real=real, **kwargs):
            seen.append(Xa)
            return _real(Xa, *args, **kwargs)
        monkeypatch.setattr(gdfast, name, spy)
    est = GDRegressor(solver=solver, max_iter=3, tol=None, random_state=0).fit(X32, y)
    est.predict(X32)
    assert seen and all(a is X32 for a in seen)
    assert est.coef_.dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_same_bits_as_its_float64_widening(solver):
    # the kernels widen each float32 value as they read it: exact
    X, y = _data(300, 4, seed=17)
    X32 = X.astype(np.float32)
    a = GDRegressor(solver=solver, max_iter=4, tol=None, random_state=1).fit(X32, y)
    b = GDRegressor(solver=solver, max_iter=4, tol=None, random_state=1).fit(
        X32.astype(np.float64), y)
    assert_array_equal(a.coef_, b.coef_)
    assert a.intercept_ == b.intercept_
    assert_array_equal(a.predict(X32), b.predict(X32.astype(np.float64)))


def test_float32_fit_allocates_no_float64_copy():
    rng = np.random.default_rng(18)
    X32 = rng.standard_normal((200_000, 10), dtype=np.float32)    # 8 MB
    y = rng.standard_normal(200_000)
    est = GDRegressor(max_iter=1, tol=None, shuffle=False)
    tracemalloc.start()
    try:
        est.fit(X32, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X32.nbytes           # a float64 copy would be 2 * X32.nbytes


# ---------------------------------------------------------------- divergence

@pytest.mark.parametrize("solver", SOLVERS)
def test_divergence_names_the_epoch_and_keeps_no_nan(solver):
    X, y = _data(50, 3, seed=19)
    est = GDRegressor(solver=solver, lr=50.0, max_iter=100, tol=None, shuffle=False,
                      batch_size=8)
    with pytest.raises(DivergenceError, match="smaller learning rate") as info:
        est.fit(X, y)
    trainer = {"sgd": reference.sgd, "batch": reference.batch_gd,
               "minibatch": lambda *a, **k: reference.minibatch_gd(*a, batch_size=8, **k)}
    with pytest.raises(DivergenceError) as ref:
        trainer[solver](X, y, w=0.0, lr=50.0, epochs=100, fit_intercept=True)
    # the first epoch whose coefficients or loss_curve_ entry are not
    # finite: the reference's divergence, or earlier when the loss of one of
    # its finite epochs already overflows ("batch": the cost after the epoch,
    # in numpy's float64; "sgd", "minibatch": the epoch's running loss)
    hist = ref.value.result
    if solver == "batch":
        with np.errstate(over="ignore", invalid="ignore"):
            costs = [np.mean((X @ w + b - y) ** 2)
                     for w, b in zip(hist.coef_history, hist.intercept_history)]
    else:
        costs = hist.epoch_loss_history
    bad = [e for e, c in enumerate(costs) if not np.isfinite(c)]
    want = bad[0] if bad else ref.value.epoch
    assert info.value.epoch == want
    assert f"epoch {want}" in str(info.value)
    got = info.value.result            # the finite epochs before it
    assert got.epochs == want
    assert np.isfinite(got.coef).all() and np.isfinite(got.loss_history).all()
    assert not hasattr(est, "coef_")


def test_partial_fit_divergence_keeps_previous_state():
    X, y = _data(50, 3, seed=20)
    est = GDRegressor(lr=0.01, shuffle=False).partial_fit(X, y)
    est.set_params(lr=1e3)
    before = None
    with pytest.raises(DivergenceError, match="smaller learning rate"):
        for _ in range(50):
            before = (est.coef_.copy(), est.intercept_, est.n_iter_)
            est.partial_fit(X, y)
    assert_array_equal(est.coef_, before[0])
    assert est.intercept_ == before[1] and est.n_iter_ == before[2]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_chunk_refused_and_state_kept(solver, bad):
    # fit skips scikit-learn's finiteness pass; the core's check still refuses
    X, y = _data(40, 3, seed=26)
    est = GDRegressor(solver=solver, lr=0.01).partial_fit(X, y)
    coef = est.coef_.copy()
    X2 = X.astype(np.float32)
    X2[17, 2] = bad
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
        est.partial_fit(X2, y)
    assert_array_equal(est.coef_, coef)
    assert est.n_iter_ == 1
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
        est.predict(X2)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("ydtype, strided", [(np.float64, False), (np.float32, False),
                                             (np.float64, True)])
@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_nonfinite_float_y_found_by_the_core_and_worded_as_sklearn(solver, bad, ydtype,
                                                                    strided, call):
    # a 1-D float y skips scikit-learn's own scan: the core finds the value
    # (the ValueError being handled when scikit-learn's wording is raised is
    # the core's), the message is scikit-learn's, y is left as it was
    X, y = _data(40, 3, seed=27)
    y = y.astype(ydtype)
    if strided:
        X, y = np.repeat(X, 2, axis=0), np.repeat(y, 2)[::2]
        assert not y.flags.c_contiguous
    y[11] = bad
    y0 = y.copy()
    est = GDRegressor(solver=solver, lr=0.01)
    with pytest.raises(ValueError) as err:
        getattr(est, call)(X[:len(y)], y)
    word = "NaN" if np.isnan(bad) else f"infinity or a value too large for dtype('{y.dtype}')"
    assert str(err.value) == f"Input y contains {word}."
    assert "y must be finite" in str(err.value.__context__)
    assert_array_equal(y, y0)
    assert not hasattr(est, "coef_") and not hasattr(est, "n_features_in_")


def test_failed_fit_keeps_the_fitted_schema():
    # validate_data records n_features_in_ before the core sees y: a fit that
    # fails afterwards must not leave a 3-feature model claiming 5 features
    X, y = _data(40, 3, seed=28)
    est = GDRegressor(lr=0.01).fit(X, y)
    coef = est.coef_.copy()
    X5, y5 = _data(40, 5, seed=29)
    y5[3] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        est.fit(X5, y5)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[40, 39\]"):
        est.fit(X5, y5[:39])
    assert est.n_features_in_ == 3
    assert_array_equal(est.coef_, coef)
    assert est.predict(X).shape == (40,)
    for call in ("fit", "partial_fit"):
        fresh = GDRegressor(lr=0.01)
        with pytest.raises(ValueError, match="Input y contains NaN"):
            getattr(fresh, call)(X5, y5)
        assert not hasattr(fresh, "n_features_in_")
        with pytest.raises(NotFittedError):
            fresh.predict(X5)


# ------------------------------------------------------------- parameters

@pytest.mark.parametrize("params, err, word", [
    ({"solver": "newton"}, ValueError, "solver"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": "fast"}, ValueError, "lr"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"max_iter": 2.5}, TypeError, "max_iter"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"alpha": -1.0}, ValueError, "alpha"),
    ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
    ({"shuffle": "yes"}, ValueError, "shuffle must be True, False or .blocks."),
    ({"shuffle": 1}, TypeError, "shuffle must be True, False or .blocks."),
    ({"random_state": "seed"}, ValueError, "random_state"),
    ({"random_state": -3}, ValueError, "random_state"),
    ({"method": "affine", "solver": "batch"}, ValueError, "method"),
    # affine with an intercept (the default) or a penalty: no data fits it
    ({"method": "affine"}, ValueError, "method='affine' needs .*fit_intercept=True"),
    ({"method": "affine", "solver": "minibatch", "fit_intercept": False, "alpha": 0.1},
     ValueError, "method='affine' needs .*alpha=0.1"),
    # 2*alpha overflows: every penalised step would be inf*w
    ({"alpha": 1e308}, ValueError, "alpha must be at most half"),
    ({"tol": -1.0}, ValueError, "tol"),                # SGDRegressor: [0, inf) or None
    ({"max_iter": 2 ** 63}, ValueError, "max_iter"),   # not the core's "epochs"
    ({"max_iter": 2 ** 63, "solver": "batch"}, ValueError, "max_iter"),
])
def test_bad_parameters_refused_in_fit(params, err, word):
    X, y = _data(20, 2)
    est = GDRegressor(**params)                       # __init__ stores only
    with pytest.raises(err, match=word) as info:
        est.fit(X, y)
    # scikit-learn's InvalidParameterError, as its estimators raise: code
    # catching ValueError catches a wrongly typed parameter too
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert type(info.value).__name__ == "InvalidParameterError"


def test_predict_beyond_float64_is_an_overflow_error():
    est = GDRegressor(max_iter=2, tol=None).fit(*_data(20, 2))
    with pytest.raises(OverflowError, match="overflowed float64"):
        est.predict(np.full((2, 2), 1e308) * np.sign(est.coef_))


def test_parameters_are_keyword_only_as_in_scikit_learn():
    with pytest.raises(TypeError, match="positional"):
        GDRegressor("batch")


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("scale", [1e-155, 1e-170])
def test_auto_lr_on_x_too_small_to_square_is_refused(solver, scale):
    """Below 1e-162 every x**2 underflows to 0: the squared norms said "X is
    zero" and lr='auto' took 1.0, fitting nothing without a word (above it,
    the same X was refused); both scales are refused now, an X of zeros
    still takes 1.0 (nothing can move)."""
    X, y = _data(30, 3)
    est = GDRegressor(solver=solver, fit_intercept=False, max_iter=5, tol=None)
    with pytest.raises(ValueError, match="too close to zero"):
        est.fit(X * scale, y)
    assert GDRegressor(solver=solver, fit_intercept=False, max_iter=2, tol=None).fit(
        X * 0.0, y).lr_ == 1.0


@pytest.mark.parametrize("solver", SOLVERS)
def test_divergence_under_auto_lr_advises_rescaling_not_a_smaller_lr(solver):
    """lr='auto' takes stable steps (auto_lr), so a divergence is float64's
    range outgrown (y of 1e160: its square overflows), which a smaller lr
    does not cure."""
    X, y = _data(30, 3)
    est = GDRegressor(solver=solver, batch_size=8, max_iter=5, tol=None)
    with pytest.raises(DivergenceError, match="rescale X and y") as info:
        est.fit(X, y * 1e160)
    assert "smaller learning rate" not in str(info.value)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.epoch == info.value.epoch


def test_a_fit_holds_its_epochs_as_float64_rows():
    """Each epoch's coefficients are kept for a DivergenceError's result:
    as float64 rows (8 bytes a value, the buffer doubling), not as lists
    of numpy scalars (about 40 bytes a value: 400 MB for 5000 epochs of
    2000 features)."""
    d = 300
    X, y = _data(20, d)

    def peak(epochs):
        est = GDRegressor(lr=1e-4, max_iter=epochs, tol=None, shuffle=False)
        tracemalloc.start()
        est.fit(X, y)
        got = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return got
    per_epoch = (peak(1024) - peak(256)) / 768
    assert per_epoch < 25 * (d + 2), per_epoch


@pytest.mark.parametrize("rs", [np.random.default_rng(3), np.random.RandomState(3)])
def test_random_state_generators(rs):
    X, y = _data(100, 3)
    a = GDRegressor(random_state=rs, max_iter=3, tol=None).fit(X, y)
    again = type(rs)(3) if isinstance(rs, np.random.RandomState) else np.random.default_rng(3)
    b = GDRegressor(random_state=again, max_iter=3, tol=None).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)


def test_warm_start_continues():
    X, y = _data(120, 3)
    kw = dict(lr=0.01, shuffle=False, tol=None)
    est = GDRegressor(max_iter=3, warm_start=True, **kw).fit(X, y)
    est.set_params(max_iter=4).fit(X, y)
    full = GDRegressor(max_iter=7, **kw).fit(X, y)
    assert_array_equal(est.coef_, full.coef_)
    assert est.intercept_ == full.intercept_


def test_method_recorded():
    X, y = _data(100, 1)
    est = GDRegressor(solver="sgd", fit_intercept=False, method="affine", max_iter=2,
                      tol=None).fit(X, y)
    assert est.method_ == "affine"
    assert GDRegressor(solver="batch", method="stats", max_iter=2,
                       tol=None).fit(X, y).method_ == "stats"


# ------------------------------------------------------- in scikit-learn's tools

def test_pipeline_with_standard_scaler():
    rng = np.random.default_rng(21)
    X = rng.standard_normal((400, 3)) * [1e4, 1e-3, 5.0] + [1e6, 0.0, -3.0]
    y = X @ [1e-4, 2e3, 0.5] + 7.0
    pipe = Pipeline([("scale", StandardScaler()),
                     ("gd", GDRegressor(solver="batch", tol=None, max_iter=1000))])
    peer = Pipeline([("scale", StandardScaler()), ("ls", LinearRegression())])
    pred = pipe.fit(X, y).predict(X)
    assert_allclose(pred, peer.fit(X, y).predict(X), rtol=1e-9)


def test_grid_search_over_lr_and_solver():
    X, y = _data(150, 3, seed=22)
    grid = {"lr": [1e-3, 5e-2], "solver": ["sgd", "batch"]}
    search = _quiet(GridSearchCV(GDRegressor(max_iter=20, random_state=0), grid, cv=3).fit,
                    X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.isfinite(scores).all()
    assert search.best_score_ == scores.max()
    refit = _quiet(clone(search.estimator).set_params(**search.best_params_).fit, X, y)
    assert_array_equal(search.best_estimator_.predict(X), refit.predict(X))


def test_cross_val_score_is_r2_of_each_fold():
    X, y = _data(120, 3, seed=23)
    est = GDRegressor(solver="batch", tol=None, max_iter=50)
    cv = KFold(4)
    scores = cross_val_score(est, X, y, cv=cv)
    want = [r2_score(y[te], clone(est).fit(X[tr], y[tr]).predict(X[te]))
            for tr, te in cv.split(X)]
    assert_allclose(scores, want, rtol=1e-12)


def test_clone_and_params():
    est = GDRegressor(solver="minibatch", lr=0.1, batch_size=4, alpha=0.5, random_state=3)
    c = clone(est)
    assert c is not est and c.get_params() == est.get_params()
    X, y = _data(40, 2)
    _quiet(est.fit, X, y)
    assert not hasattr(clone(est), "coef_")


@pytest.mark.parametrize("solver", SOLVERS)
def test_pickle_round_trip(solver):
    X, y = _data(100, 3, seed=24)
    est = _quiet(GDRegressor(solver=solver, max_iter=5, random_state=0).fit, X, y)
    back = pickle.loads(pickle.dumps(est))
    assert_array_equal(back.predict(X), est.predict(X))
    # the shuffling state travels too: both continue identically
    assert_array_equal(back.partial_fit(X, y).coef_, est.partial_fit(X, y).coef_)


def test_feature_names_from_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _data(50, 2)
    df = pd.DataFrame(X, columns=["a", "b"])
    est = _quiet(GDRegressor(max_iter=3).fit, df, y)
    assert list(est.feature_names_in_) == ["a", "b"]
    assert est.n_features_in_ == 2
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X)


def test_runs_on_the_pure_python_implementation(tmp_path):
    # GDFAST_PURE_PYTHON=1 exposes gdfast.reference, which has no `method`
    X, y = _data(60, 3, seed=25)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    code = (
        "import numpy as np, gdfast; assert gdfast.IMPLEMENTATION == 'python'\n"
        "X, y = np.load('X.npy'), np.load('y.npy')\n"
        "for s in ('sgd', 'batch', 'minibatch'):\n"
        "    r = gdfast.GDRegressor(solver=s, lr=0.02, max_iter=5, tol=None,\n"
        "                           random_state=0).fit(X, y)\n"
        "    print(*r.coef_, r.intercept_)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                         capture_output=True, text=True,
                         env={**os.environ, "GDFAST_PURE_PYTHON": "1"})
    for line, s in zip(out.stdout.splitlines(), SOLVERS):
        est = GDRegressor(solver=s, lr=0.02, max_iter=5, tol=None, random_state=0).fit(X, y)
        assert_allclose([float(v) for v in line.split()], [*est.coef_, est.intercept_],
                        rtol=1e-12)


def test_methods_under_the_pure_python_implementation(tmp_path):
    """GDFAST_PURE_PYTHON=1: the reference takes no method; the methods it
    computes anyway ("pass", "plain", "batches") fit, the others are refused
    with a message that says why, before the data are validated (data that
    would be refused too do not hide the method's error)."""
    code = ("import numpy as np, gdfast\n"
            "from gdfast import GDRegressor\n"
            "assert gdfast.IMPLEMENTATION == 'python'\n"
            "rng = np.random.default_rng(0)\n"
            "X = rng.standard_normal((40, 2)); y = X @ [1.0, 2.0] + 0.5\n"
            "for solver, method in (('minibatch', 'batches'), ('sgd', 'plain'), ('batch', 'pass')):\n"
            "    GDRegressor(solver=solver, method=method, max_iter=2, tol=None).fit(X, y)\n"
            "try:\n"
            "    GDRegressor(solver='sgd', method='gram', max_iter=2, tol=None).fit(X, y)\n"
            "except ValueError as e:\n"
            "    print('refused:', type(e).__name__, e)\n"
            "for call in ('fit', 'partial_fit'):\n"   # before the data are looked at
            "    try:\n"
            "        getattr(GDRegressor(solver='sgd', method='gram'), call)([['x']], [1.0])\n"
            "    except ValueError as e:\n"
            "        print(call, 'refused first:', type(e).__name__, e)\n")
    env = dict(os.environ, GDFAST_PURE_PYTHON="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert ("refused: InvalidParameterError method='gram' needs gdfast's compiled "
            "implementation" in proc.stdout)
    for call in ("fit", "partial_fit"):
        assert (f"{call} refused first: InvalidParameterError method='gram' needs gdfast's "
                "compiled implementation" in proc.stdout), proc.stdout
