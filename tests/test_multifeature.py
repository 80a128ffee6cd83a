"""X of shape (n, d), an intercept and an L2 penalty: both implementations.

Expectations come from the reference (the oracle), from numpy's least
squares, or from the algebra of the model -- never from the code under test.
"""

import pickle

import numpy as np
import pytest

import gdfast
import gdfast._compiled as compiled
import gdfast.reference as reference
from helpers import max_rel

TRAINERS = ["batch_gd", "sgd", "minibatch_gd"]


def linear_data(n, d, seed=0, intercept=3.0, noise=0.1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = np.arange(1.0, d + 1.0)
    y = X @ coef + intercept + noise * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype), coef


def _call(mod, name, X, y, **kw):
    if name == "minibatch_gd":
        kw.setdefault("batch_size", 32)
    return getattr(mod, name)(X, y, **kw)


# ------------------------------------------------------------ types and shapes

def test_two_d_results_are_arrays_one_d_results_are_floats(impl):
    X, y, _ = linear_data(50, 3)
    r2 = impl.batch_gd(X, y, epochs=4, fit_intercept=True)
    assert isinstance(r2.coef, np.ndarray) and r2.coef.shape == (3,)
    assert r2.coef_history.shape == (4, 3) and r2.intercept_history.shape == (4,)
    assert r2.loss_history.shape == (4,) and isinstance(r2.intercept, float)
    assert not r2.coef.flags.writeable and not r2.coef_history.flags.writeable
    r1 = impl.batch_gd(X[:, 0], y, epochs=4)
    assert isinstance(r1.coef, float) and r1.coef_history.shape == (4,)
    assert r1.w is r1.coef or r1.w == r1.coef
    assert type(impl.cost(X, y, np.ones(3))) is float
    g = impl.gradient(X, y, np.ones(3))
    assert isinstance(g, np.ndarray) and g.shape == (3,)


def test_a_result_built_from_the_callers_rows_leaves_their_flags():
    rows = np.zeros((2, 3))
    r = gdfast.TrainResult(rows, 0.0, 0.0, True, "sgd", "plain")
    assert rows.flags.writeable and not r.w_history.flags.writeable
    rows[1, 0] = 7.0                       # and the result is not an alias of them
    assert r.w_history.tolist() == [0.0, 0.0]


def test_results_and_divergence_errors_pickle(impl):
    """A pickled result is the same result, read-only as well (the default
    pickling of a __slots__ class restored writable arrays); a
    DivergenceError survives pickling with its epoch, lr, result and notes
    (the default rebuilt it from the message alone, which failed: process
    pools could not report it)."""
    X, y, _ = linear_data(50, 3)
    r1, r2 = impl.batch_gd(X[:, 0], y, epochs=4), impl.batch_gd(X, y, epochs=4,
                                                                fit_intercept=True)
    for r in (r1, r2, impl.sgd(X, y, epochs=2, fit_intercept=True)):
        back = pickle.loads(pickle.dumps(r))
        assert repr(back) == repr(r) and back.method == r.method
        np.testing.assert_array_equal(back.coef_history, r.coef_history)
        if r.epoch_loss_history is not None:
            np.testing.assert_array_equal(back.epoch_loss_history, r.epoch_loss_history)
        for a in (back.coef_history, back.loss_history, back.epoch_loss_history,
                  back.coef if isinstance(back.coef, np.ndarray) else None):
            assert a is None or not a.flags.writeable
    with pytest.raises(gdfast.DivergenceError) as info:
        impl.batch_gd(X, y, lr=1e3, epochs=50, fit_intercept=True)
    err = info.value
    if hasattr(err, "add_note"):
        err.add_note("seen in a worker")
    back = pickle.loads(pickle.dumps(err))
    assert (back.epoch, back.lr, str(back)) == (err.epoch, err.lr, str(err))
    assert back.result.epochs == err.result.epochs
    assert getattr(back, "__notes__", None) == getattr(err, "__notes__", None)
    gw, gb = impl.gradient(X, y, np.ones(3), 0.5, fit_intercept=True)
    assert gw.shape == (3,) and type(gb) is float
    assert impl.forward(X, np.ones(3)).shape == (50,)
    assert impl.loss(X, y, np.ones(3)).shape == (50,)


def test_primitives_follow_the_formulas(impl):
    """cost, gradient, loss and forward against the model written in numpy."""
    X, y, _ = linear_data(40, 4, seed=3)
    w, b, alpha = np.array([0.5, -1.0, 2.0, 0.25]), 0.7, 0.3
    r = X @ w + b - y
    assert impl.forward(X, w, b) == pytest.approx(X @ w + b, rel=1e-13)
    assert impl.loss(X, y, w, b, alpha=alpha) == pytest.approx(r * r + alpha * w @ w,
                                                                 rel=1e-12)
    assert impl.cost(X, y, w, b, alpha=alpha) == pytest.approx(np.mean(r * r) + alpha * w @ w,
                                                                 rel=1e-12)
    gw, gb = impl.gradient(X, y, w, b, alpha=alpha, fit_intercept=True)
    assert gw == pytest.approx(2 * X.T @ r / len(y) + 2 * alpha * w, rel=1e-12, abs=1e-12)
    assert gb == pytest.approx(2 * np.mean(r), rel=1e-12)


def test_gradient_is_the_derivative_of_the_cost(impl):
    """Central differences of cost(w, b) match gradient(w, b)."""
    X, y, _ = linear_data(30, 3, seed=4)
    w, b, alpha, h = np.array([0.3, -0.2, 1.1]), 0.4, 0.2, 1e-6
    gw, gb = impl.gradient(X, y, w, b, alpha=alpha, fit_intercept=True)
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        num = (impl.cost(X, y, w + e, b, alpha=alpha) - impl.cost(X, y, w - e, b, alpha=alpha)) / (2 * h)
        assert num == pytest.approx(gw[j], rel=1e-6)
    num_b = (impl.cost(X, y, w, b + h, alpha=alpha) - impl.cost(X, y, w, b - h, alpha=alpha)) / (2 * h)
    assert num_b == pytest.approx(gb, rel=1e-6)


@pytest.mark.parametrize("name", TRAINERS)
def test_column_equals_one_d(impl, name):
    """(n, 1) is the 1-D call: the same numbers, 2-D shapes."""
    X, y, _ = linear_data(200, 1, seed=1)
    a = _call(impl, name, X[:, 0], y, lr=0.05, epochs=7)
    b = _call(impl, name, X, y, lr=0.05, epochs=7)
    assert np.array_equal(b.coef_history[:, 0], a.coef_history)
    assert np.array_equal(b.loss_history, a.loss_history)
    assert b.coef[0] == a.coef


@pytest.mark.parametrize("name", TRAINERS)
def test_scalar_w_broadcasts(impl, name):
    X, y, _ = linear_data(64, 3, seed=2)
    a = _call(impl, name, X, y, w=0.5, lr=0.01, epochs=3, fit_intercept=True)
    b = _call(impl, name, X, y, w=np.full(3, 0.5), lr=0.01, epochs=3, fit_intercept=True)
    assert np.array_equal(a.coef_history, b.coef_history)


@pytest.mark.parametrize("name", TRAINERS)
def test_b_without_fit_intercept_is_a_fixed_offset(impl, name):
    X, y, _ = linear_data(64, 2, seed=5)
    r = _call(impl, name, X, y, b=1.5, lr=0.01, epochs=3)
    assert r.intercept == 1.5 and np.all(r.intercept_history == 1.5)
    # the same as fitting y - 1.5 without an offset
    s = _call(impl, name, X, y - 1.5, lr=0.01, epochs=3)
    assert max_rel(r.coef_history, s.coef_history) < 1e-12


def test_one_epoch_of_batch_gd_is_one_gradient_step(impl):
    X, y, _ = linear_data(100, 3, seed=6)
    w0, b0, lr, alpha = np.array([0.1, 0.2, 0.3]), -0.5, 0.05, 0.1
    r = impl.batch_gd(X, y, w=w0, b=b0, lr=lr, epochs=1, fit_intercept=True, alpha=alpha)
    res = X @ w0 + b0 - y
    assert r.coef == pytest.approx(w0 - lr * (2 * X.T @ res / 100 + 2 * alpha * w0), rel=1e-13)
    assert r.intercept == pytest.approx(b0 - lr * 2 * res.mean(), rel=1e-13)
    assert r.loss_history[0] == pytest.approx(np.mean(res ** 2) + alpha * w0 @ w0, rel=1e-13)


def test_sgd_epoch_is_the_per_sample_loop():
    """The reference's sgd, step by step in numpy (small data, exact order)."""
    X, y, _ = linear_data(7, 3, seed=7)
    w, b, lr, alpha = np.zeros(3), 0.0, 0.05, 0.2
    for xi, yi in zip(X, y):
        r = float(xi @ w) + b - yi
        w = w - lr * (2 * xi * r + 2 * alpha * w)
        b = b - lr * 2 * r
    got = reference.sgd(X, y, w=0.0, lr=lr, epochs=1, fit_intercept=True, alpha=alpha)
    assert got.coef == pytest.approx(w, rel=1e-13) and got.intercept == pytest.approx(b, rel=1e-13)


# ------------------------------------------------ compiled against the reference

CASES = [(name, fi, alpha, shuffle)
         for name in TRAINERS for fi in (False, True) for alpha in (0.0, 0.05)
         for shuffle in (False, True) if not (name == "batch_gd" and shuffle)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fi,alpha,shuffle", CASES)
def test_compiled_matches_reference_on_10k_by_5(name, fi, alpha, shuffle, dtype):
    X, y, _ = linear_data(10_000, 5, seed=8, dtype=dtype)
    kw = dict(lr=0.01, epochs=3, fit_intercept=fi, alpha=alpha)
    if name != "batch_gd":
        kw.update(shuffle=shuffle, seed=11)
    ref = _call(reference, name, X, y, **kw)
    got = _call(compiled, name, X, y, **kw)
    assert max_rel(got.coef_history, ref.coef_history) < 1e-9
    assert max_rel(got.intercept_history, ref.intercept_history) < 1e-9 if fi else True
    assert max_rel(got.loss_history, ref.loss_history) < 1e-9
    assert got.method == ("plain" if name == "sgd" else "batches" if name != "batch_gd" else "pass")


@pytest.mark.parametrize("fi,alpha", [(False, 0.0), (True, 0.0), (True, 0.1)])
def test_stats_method_matches_reference_on_10k_by_5(fi, alpha):
    X, y, _ = linear_data(10_000, 5, seed=9)
    kw = dict(lr=0.05, epochs=20, fit_intercept=fi, alpha=alpha)
    ref = reference.batch_gd(X, y, **kw)
    got = compiled.batch_gd(X, y, method="stats", **kw)
    assert got.method == "stats"
    assert max_rel(got.coef_history, ref.coef_history) < 1e-9
    assert max_rel(got.loss_history, ref.loss_history) < 1e-9


@pytest.mark.parametrize("d", [1, 4, 13])
def test_plain_sgd_is_bit_identical_to_the_reference(d):
    """Per-sample SGD runs the reference's expressions in the reference's order,
    the running loss too (over more rows than one of the kernel's chunks)."""
    X, y, _ = linear_data(9000, d, seed=10)
    kw = dict(lr=0.01, epochs=2, fit_intercept=True, alpha=0.01, shuffle=True, seed=3)
    ref = reference.sgd(X, y, **kw)
    got = compiled.sgd(X, y, method="plain", **kw)
    assert np.array_equal(got.coef_history, ref.coef_history)
    assert np.array_equal(got.loss_history, ref.loss_history)
    assert np.array_equal(got.epoch_loss_history, ref.epoch_loss_history)


# ---------------------------------------------------------------- semantics

def test_batch_size_at_least_n_is_batch_gd_in_two_d(impl):
    X, y, _ = linear_data(300, 3, seed=12)
    kw = dict(lr=0.05, epochs=5, fit_intercept=True, alpha=0.01)
    a = impl.minibatch_gd(X, y, batch_size=300, **kw)
    b = impl.minibatch_gd(X, y, batch_size=10**6, **kw)
    c = (compiled.batch_gd(X, y, method="pass", **kw) if impl is compiled
         else impl.batch_gd(X, y, **kw))
    assert np.array_equal(a.coef_history, c.coef_history)
    assert np.array_equal(b.coef_history, c.coef_history)
    assert np.array_equal(a.loss_history, c.loss_history)


@pytest.mark.parametrize("name", ["batch_gd", "sgd", "minibatch_gd"])
def test_intercept_fit_converges_to_lstsq(impl, name):
    """Well-conditioned data: the trainers reach numpy.linalg.lstsq's solution."""
    X, y, _ = linear_data(400 if impl is reference else 4000, 3, seed=13)
    A = np.column_stack([X, np.ones(len(y))])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    kw = {"batch_gd": dict(lr=0.1, epochs=300), "sgd": dict(lr=0.001, epochs=60),
          "minibatch_gd": dict(lr=0.05, epochs=100)}[name]
    r = _call(impl, name, X, y, w=0.0, fit_intercept=True, **kw)
    tol = 1e-8 if name == "batch_gd" else 2e-2   # sgd: a constant step hovers near it
    assert np.allclose(r.coef, sol[:3], rtol=tol, atol=tol)
    assert r.intercept == pytest.approx(sol[3], rel=tol, abs=tol)


def test_ridge_solution_with_alpha(impl):
    """Minimiser of mean(r**2) + alpha*|w|**2 with an unpenalised intercept."""
    X, y, _ = linear_data(500, 3, seed=14)
    alpha, n = 0.5, len(y)
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / n + alpha * np.eye(3), Xc.T @ yc / n)
    b = y.mean() - X.mean(0) @ w
    r = impl.batch_gd(X, y, w=0.0, lr=0.1, epochs=400, fit_intercept=True, alpha=alpha)
    assert np.allclose(r.coef, w, rtol=1e-9) and r.intercept == pytest.approx(b, rel=1e-9)


def test_without_intercept_data_with_offset_is_misfit_and_with_it_is_fit(impl):
    """The issue's example: y = 2x + 5 needs an intercept."""
    x = np.linspace(0.0, 1.0, 200)
    y = 2 * x + 5
    no = impl.batch_gd(x, y, w=0.0, lr=0.5, epochs=2000)
    yes = impl.batch_gd(x, y, w=0.0, lr=0.5, epochs=2000, fit_intercept=True)
    assert no.loss_history[-1] > 1.0
    assert yes.coef == pytest.approx(2.0, rel=1e-6) and yes.intercept == pytest.approx(5.0, rel=1e-6)


# ------------------------------------------------------------------- inputs

@pytest.mark.parametrize("form", ["fortran", "strided", "list", "float32_X_float64_y", "int"])
def test_accepted_two_d_forms_give_the_float64_answer(impl, form):
    X, y, _ = linear_data(120, 3, seed=15)
    want = impl.batch_gd(X, y, lr=0.05, epochs=3, fit_intercept=True)
    if form == "fortran":
        Xf, yf = np.asfortranarray(X), y
    elif form == "strided":
        big = np.zeros((120, 6))
        big[:, ::2] = X
        Xf, yf = big[:, ::2], y
    elif form == "list":
        Xf, yf = X.tolist(), y.tolist()
    elif form == "int":
        Xf, yf = np.round(X * 4).astype(np.int32), y
        want = impl.batch_gd(np.round(X * 4), y, lr=0.05, epochs=3, fit_intercept=True)
    else:
        Xf, yf = X.astype(np.float32), y
        want = impl.batch_gd(X.astype(np.float32).astype(np.float64), y, lr=0.05, epochs=3,
                             fit_intercept=True)
    got = impl.batch_gd(Xf, yf, lr=0.05, epochs=3, fit_intercept=True)
    assert max_rel(got.coef_history, want.coef_history) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_c_contiguous_two_d_data_is_not_copied(dtype):
    """The kernels read the caller's buffer: tracemalloc sees no copy of X."""
    import tracemalloc
    X, y, _ = linear_data(20_000, 8, seed=16, dtype=dtype)
    for name in TRAINERS:
        tracemalloc.start()
        _call(compiled, name, X, y, lr=0.001, epochs=2, fit_intercept=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < X.nbytes / 4, (name, peak, X.nbytes)


def test_inputs_are_never_written(impl):
    X, y, _ = linear_data(50, 3, seed=17)
    w = np.array([1.0, 2.0, 3.0])
    copies = X.copy(), y.copy(), w.copy()
    for name in TRAINERS:
        _call(impl, name, X, y, w=w, lr=0.01, epochs=2, fit_intercept=True, alpha=0.1)
    w0 = np.array(1.0)
    impl.sgd([1.0, 2.0], [2.0, 4.0], w=w0, epochs=2)
    assert w0 == 1.0
    for a, c in zip((X, y, w), copies):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("bad,exc,words", [
    (dict(w=np.ones(4)), ValueError, ["w", "shape"]),
    (dict(w=np.ones((3, 1))), ValueError, ["w", "shape"]),
    (dict(alpha=-1.0), ValueError, ["alpha", ">= 0"]),
    (dict(alpha=float("nan")), ValueError, ["alpha", "finite"]),
    (dict(b=float("inf")), ValueError, ["b", "finite"]),
    (dict(b="1"), TypeError, ["b", "real number"]),
    (dict(fit_intercept=1), TypeError, ["fit_intercept"]),
    (dict(fit_intercept="yes"), TypeError, ["fit_intercept"]),
])
@pytest.mark.parametrize("name", TRAINERS)
def test_bad_two_d_parameters(impl, name, bad, exc, words):
    X, y, _ = linear_data(20, 3)
    with pytest.raises(exc) as info:
        _call(impl, name, X, y, epochs=2, **bad)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("X,y,exc,words", [
    (np.ones((4, 0)), np.ones(4), ValueError, ["X", "feature"]),
    (np.ones((2, 2, 2)), np.ones(2), ValueError, ["X", "3 dimensions"]),
    (np.ones((4, 2)), np.ones((4, 1)), ValueError, ["y", "one-dimensional"]),
    (np.ones((4, 2)), np.ones(3), ValueError, ["same length", "4 and 3"]),
    (np.array([[1.0, np.nan], [1.0, 2.0]]), np.ones(2), ValueError, ["X", "finite", "(0, 1)"]),
])
def test_bad_two_d_data(impl, X, y, exc, words):
    for call in (lambda: impl.batch_gd(X, y, epochs=1), lambda: impl.cost(X, y, 1.0)):
        with pytest.raises(exc) as info:
            call()
        for word in words:
            assert word in str(info.value), str(info.value)


def test_callback_gets_a_copy_of_the_coefficients(impl):
    X, y, _ = linear_data(50, 2, seed=18)
    seen = []
    r = impl.sgd(X, y, lr=0.01, epochs=3, callback=lambda e, w, l: seen.append(w))
    assert len(seen) == 3 and all(isinstance(s, np.ndarray) and s.shape == (2,) for s in seen)
    assert np.array_equal(np.array(seen), r.coef_history)


def test_threads_give_identical_bits_in_two_d():
    X, y, _ = linear_data(200_000, 6, seed=19)
    kw = dict(lr=0.05, epochs=3, fit_intercept=True, alpha=0.01, method="pass")
    one = compiled.batch_gd(X, y, threads=1, **kw)
    two = compiled.batch_gd(X, y, threads=2, **kw)
    assert np.array_equal(one.coef_history, two.coef_history)
    assert np.array_equal(one.loss_history, two.loss_history)
    g1 = compiled.gradient(X, y, np.ones(6), 0.5, fit_intercept=True, threads=1)
    g2 = compiled.gradient(X, y, np.ones(6), 0.5, fit_intercept=True, threads=2)
    assert np.array_equal(g1[0], g2[0]) and g1[1] == g2[1]


def test_readme_many_features_example_runs_and_recovers_the_model():
    """The README's example: the true coefficients and intercept come back."""
    import pathlib
    import re
    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not beside the tests (installed-wheel test run)")
    text = readme.read_text()
    block = re.search(r"## Many features.*?```python\n(.*?)```", text, re.S).group(1)
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    r = scope["r"]
    assert r.method == "stats" and r.coef_history.shape == (200, 3)
    assert np.allclose(r.coef, [1.0, -2.0, 0.5], atol=2e-3) and abs(r.intercept - 5.0) < 2e-3


# ------------------------------------------------------- epoch_loss_history

def _replayed_epoch_losses(X, y, lr, epochs, alpha, batch):
    """The running loss of each epoch, from the update rule itself: plain
    numpy, one batch (``batch`` rows; 1 = SGD) at a time, each batch's
    squared residuals taken at the weights its update starts from."""
    w, b, out = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        total = 0.0
        for lo in range(0, len(y), batch):
            xb, yb = X[lo:lo + batch], y[lo:lo + batch]
            r = xb @ w + b - yb
            total += float(r @ r)
            w = w - lr * (2 * (xb.T @ r) / len(yb) + 2 * alpha * w)
            b = b - lr * 2 * float(r.sum()) / len(yb)
        out.append(total / len(y) + alpha * float(w @ w))
    return out


@pytest.mark.parametrize("trainer, method", [("sgd", "auto"), ("sgd", "plain"),
                                             ("sgd", "lanes"), ("sgd", "gram"),
                                             ("minibatch_gd", "auto")])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_epoch_loss_history_is_the_mean_pre_update_loss(impl, trainer, method, alpha):
    X, y, _ = linear_data(203, 3, seed=5)
    batch = 1 if trainer == "sgd" else 16
    kw = dict(w=0.0, lr=0.01, epochs=3, fit_intercept=True, alpha=alpha)
    if trainer == "minibatch_gd":
        kw["batch_size"] = batch
    if impl is compiled:
        kw["method"] = method
    elif method != "auto":
        pytest.skip("the reference has one method")
    r = getattr(impl, trainer)(X, y, **kw)
    want = _replayed_epoch_losses(X, y, 0.01, 3, alpha, batch)
    assert r.epoch_loss_history.shape == (3,) and not r.epoch_loss_history.flags.writeable
    np.testing.assert_allclose(r.epoch_loss_history, want, rtol=1e-10)


def test_epoch_loss_history_is_none_for_batch_gd_and_the_tutorial_model(impl):
    X, y, _ = linear_data(100, 2, seed=6)
    assert impl.batch_gd(X, y, epochs=2, fit_intercept=True).epoch_loss_history is None
    assert impl.sgd(X[:, 0], y, lr=0.001, epochs=2).epoch_loss_history is None
    assert impl.sgd(X[:, :1], y, lr=0.001, epochs=2).epoch_loss_history is None
    assert impl.sgd(X[:, 0], y, lr=0.001, epochs=2, b=1.0).epoch_loss_history is not None


@pytest.mark.parametrize("trainer, method", [("sgd", "lanes"), ("sgd", "gram"),
                                             ("sgd", "plain"), ("minibatch_gd", "batches")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_epoch_loss_history_compiled_matches_reference_shuffled(trainer, method, dtype):
    X, y, _ = linear_data(10_001, 5, seed=7, dtype=dtype)
    for shuffle in (True, "blocks"):
        kw = dict(w=0.0, lr=0.002, epochs=2, fit_intercept=True, alpha=0.01,
                  shuffle=shuffle, seed=3)
        ours = _call(compiled, trainer, X, y, method=method, **kw)
        assert ours.method == method
        ref = _call(reference, trainer, X, y, **kw)
        np.testing.assert_allclose(ours.epoch_loss_history, ref.epoch_loss_history,
                                   rtol=1e-9)
