"""GDRegressor on Dask arrays: the same solvers through gdfast.dask."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
da = pytest.importorskip("dask.array")

from gdfast import GDRegressor  # noqa: E402


def _data(n=600, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ np.arange(1.0, d + 1.0) + 2.0 + 0.1 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("solver", ["sgd", "minibatch"])
def test_fit_on_a_dask_array_equals_fit_in_memory(solver):
    """Unshuffled, the chunk-to-chunk chain is the in-memory epoch, bit for bit."""
    X, y = _data()
    kw = dict(solver=solver, lr=0.01, max_iter=4, tol=None, shuffle=False, batch_size=8)
    mem = GDRegressor(**kw).fit(X, y)
    dsk = GDRegressor(**kw).fit(da.from_array(X, chunks=(160, 4)), da.from_array(y, chunks=160))
    assert np.array_equal(dsk.coef_, mem.coef_) and dsk.intercept_ == mem.intercept_
    assert dsk.n_iter_ == 4 and dsk.n_features_in_ == 4 and dsk.t_ == 4 * 600
    assert np.allclose(np.asarray(dsk.predict(da.from_array(X, chunks=(160, 4)))),
                       mem.predict(X))


@pytest.mark.parametrize("solver", ["sgd", "minibatch", "batch"])
@pytest.mark.parametrize("outlier", [False, True])
def test_tol_on_dask_stops_where_it_stops_in_memory(solver, outlier):
    """The tol rule watches the same loss_curve_ as in memory (the epoch's mean
    loss, not its last row's; for "batch" the cost after each epoch), so an
    unshuffled fit stops at the same epoch with the same coefficients."""
    X, y = _data(2000, 3, seed=5)
    if outlier:             # a last row unlike the rest: its own loss is large
        y[-1] = -50.0
    kw = dict(solver=solver, lr=0.02 if solver == "batch" else 1e-3, shuffle=False,
              batch_size=8, method="auto")
    mem = GDRegressor(**kw).fit(X, y)
    dsk = GDRegressor(**kw).fit(da.from_array(X, chunks=(500, 3)), da.from_array(y, chunks=500))
    assert 5 < mem.n_iter_ < 1000
    assert dsk.n_iter_ == mem.n_iter_
    np.testing.assert_allclose(dsk.loss_curve_, mem.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(dsk.coef_, mem.coef_, rtol=1e-12)
    assert dsk.intercept_ == pytest.approx(mem.intercept_, rel=1e-12)


def test_batch_solver_on_dask_reaches_least_squares():
    X, y = _data(2000, 3, seed=1)
    A = np.column_stack([X, np.ones(len(y))])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    m = GDRegressor(solver="batch", lr=0.2, max_iter=500, tol=None).fit(
        da.from_array(X, chunks=(500, 3)), y)
    assert np.allclose(m.coef_, sol[:3], rtol=1e-9) and m.intercept_ == pytest.approx(sol[3])


def test_partial_fit_on_dask_chunks_continues_from_the_state():
    X, y = _data(800, 2, seed=2)
    kw = dict(solver="sgd", lr=0.01, shuffle=False)
    whole = GDRegressor(**kw, max_iter=1, tol=None).fit(X, y)
    m = GDRegressor(**kw)
    for lo in (0, 400):
        m.partial_fit(da.from_array(X[lo:lo + 400], chunks=(100, 2)), y[lo:lo + 400])
    assert np.array_equal(m.coef_, whole.coef_) and m.t_ == 800 and m.n_iter_ == 2


def test_dask_input_with_wrong_feature_count_is_refused():
    X, y = _data(100, 3)
    m = GDRegressor(solver="sgd", lr=0.01, max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.partial_fit(da.from_array(np.ones((10, 2)), chunks=(5, 2)), np.ones(10))


def test_dask_input_errors_read_as_in_memory_and_y_column_is_raveled():
    """Refused before training with the messages of gdfast.dask (unknown
    chunks, a NaN by its global index -- lr="auto" read the NaN as an
    overflow), shuffle="blocks" refused by name, and y of shape (n, 1)
    raveled with scikit-learn's DataConversionWarning, as in memory."""
    from sklearn.exceptions import DataConversionWarning
    X, y = _data(400, 3)
    Xd, yd = da.from_array(X, chunks=(100, 3)), da.from_array(y, chunks=100)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        GDRegressor().fit(Xd[yd > 0], y[y > 0])
    Xn = X.copy()
    Xn[277, 1] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite, got nan at index \(277, 1\)"):
        GDRegressor().fit(da.from_array(Xn, chunks=(100, 3)), yd)
    with pytest.raises(ValueError, match="shuffle='blocks' is for in-memory data"):
        GDRegressor(shuffle="blocks").fit(Xd, yd)
    kw = dict(lr=0.01, max_iter=3, tol=None, shuffle=False)
    with pytest.warns(DataConversionWarning):
        col = GDRegressor(**kw).fit(Xd, yd.reshape(-1, 1))
    flat = GDRegressor(**kw).fit(Xd, yd)
    assert np.array_equal(col.coef_, flat.coef_)


def test_predict_on_dask_checks_its_input_and_matches_in_memory():
    X, y = _data(400, 3)
    m = GDRegressor(lr=0.01, max_iter=3, tol=None).fit(X, y)
    Xd = da.from_array(X, chunks=(100, 3))
    got = m.predict(Xd)
    assert isinstance(got, da.Array)
    np.testing.assert_array_equal(got.compute(), m.predict(X))
    np.testing.assert_array_equal(m.predict(da.from_array(X.astype(np.float32), chunks=(100, 3)))
                                  .compute(), m.predict(X.astype(np.float32)))
    with pytest.raises(ValueError, match="X has 2 features, but GDRegressor is expecting 3"):
        m.predict(Xd[:, :2])
    with pytest.raises(ValueError, match="real numbers"):
        m.predict(da.from_array(np.array([["a", "b", "c"]]), chunks=1))
    bad = X.copy()
    bad[350, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):   # never a silent NaN
        m.predict(da.from_array(bad, chunks=(100, 3))).compute()


def test_dask_input_after_a_dataframe_fit_warns_as_numpy_input_does():
    """scikit-learn's "X does not have valid feature names" for an array after a
    DataFrame fit: predict and partial_fit on Dask arrays said nothing."""
    pd = pytest.importorskip("pandas")
    X, y = _data(200, 3, seed=8)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    Xd = da.from_array(X, chunks=(50, 3))
    m = GDRegressor(max_iter=2, tol=None).fit(df, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        m.predict(X)                                    # the in-memory behaviour
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        m.predict(Xd)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        m.partial_fit(Xd, da.from_array(y, chunks=50))


def test_refit_on_dask_forgets_the_column_names_of_a_dataframe_fit():
    pd = pytest.importorskip("pandas")
    X, y = _data(400, 3)
    m = GDRegressor(lr=0.01, max_iter=2, tol=None).fit(pd.DataFrame(X, columns=list("abc")), y)
    assert list(m.feature_names_in_) == list("abc")
    m.fit(da.from_array(X[:, :2], chunks=(100, 2)), y)
    assert m.n_features_in_ == 2 and not hasattr(m, "feature_names_in_")


@pytest.mark.parametrize("solver", ["sgd", "batch"])
def test_auto_lr_on_dask_follows_all_rows_seen_as_in_memory(solver):
    """partial_fit on Dask keeps the running norms as in memory (it used this
    chunk's alone), and a Dask fit resets them (a later in-memory
    partial_fit read the norms of an earlier fit)."""
    X, y = _data(80, 2, seed=5)
    big, small = X[:40] * 10.0, X[40:]
    ys = [big @ [1.0, 2.0], small @ [1.0, 2.0]]
    mem, dsk = GDRegressor(solver=solver), GDRegressor(solver=solver)
    for A, t in zip((big, small), ys):
        mem.partial_fit(A, t)
        dsk.partial_fit(da.from_array(A, chunks=(20, 2)), da.from_array(t, chunks=20))
        assert dsk.lr_ == pytest.approx(mem.lr_, rel=1e-12)
    old = GDRegressor(solver=solver).fit(X[40:] * 0.01, ys[1])
    old.set_params(max_iter=1, tol=None).fit(da.from_array(big, chunks=(20, 2)), ys[0])
    old.partial_fit(big, ys[0])
    ref = GDRegressor(solver=solver, max_iter=1, tol=None).fit(big, ys[0]).partial_fit(
        big, ys[0])
    assert old.lr_ == pytest.approx(ref.lr_, rel=1e-12)


@pytest.mark.parametrize("solver", ["sgd", "minibatch"])
def test_auto_lr_on_dask_has_the_in_memory_bits(solver):
    """The largest row norm, which "sgd" and "minibatch" take, comes from the
    same per-row formula on every chunk: the same step, so the same bits
    (it came from (X**2).sum(axis=1), 3.5e-18 off)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))
    y = X @ [1.0, 2.0, 3.0] + 1.0 + rng.normal(size=3000)
    kw = dict(solver=solver, shuffle=False, tol=None, max_iter=6, batch_size=8)
    mem = GDRegressor(**kw, method="plain" if solver == "sgd" else "auto").fit(X, y)
    dsk = GDRegressor(**kw, method="plain" if solver == "sgd" else "auto").fit(
        da.from_array(X, chunks=(400, 3)), y)
    assert dsk.lr_ == mem.lr_
    assert np.array_equal(dsk.coef_, mem.coef_) and dsk.intercept_ == mem.intercept_


def test_batch_divergence_epoch_is_the_in_memory_one():
    X, y = _data(40, 3, seed=6)
    kw = dict(solver="batch", lr=5.0, max_iter=500, tol=None)
    from gdfast import DivergenceError
    with pytest.raises(DivergenceError) as mem:
        GDRegressor(**kw).fit(X, y)
    with pytest.raises(DivergenceError) as dsk:
        GDRegressor(**kw).fit(da.from_array(X, chunks=(10, 3)), da.from_array(y, chunks=10))
    assert dsk.value.epoch == mem.value.epoch
    m = GDRegressor(solver="sgd", lr=0.01).partial_fit(X, y)
    with pytest.raises(DivergenceError) as part:
        m.set_params(lr=1e300).partial_fit(da.from_array(X, chunks=(10, 3)), y)
    assert part.value.epoch == 1          # the estimator's epoch, as in memory


def test_batch_fit_whose_final_cost_overflows_raises_on_dask_as_in_memory():
    """The cost after the last epoch (loss_curve_'s last entry) overflowing
    is that epoch's divergence on both sides (Dask used to return it)."""
    import gdfast
    from gdfast import DivergenceError
    X, y = _data(40, 3, seed=6)
    for k in range(1, 1000):    # the first run that ends finite, its final cost not
        r = gdfast.batch_gd(X, y, w=0.0, lr=5.0, epochs=k, fit_intercept=True)
        with np.errstate(all="ignore"):
            if not np.isfinite(np.mean((X @ r.coef + r.intercept - y) ** 2)):
                break
    else:
        pytest.fail("no run ending with an overflowing cost")
    kw = dict(solver="batch", lr=5.0, max_iter=k, tol=None)
    with pytest.raises(DivergenceError) as mem:
        GDRegressor(**kw).fit(X, y)
    with pytest.raises(DivergenceError) as dsk:
        GDRegressor(**kw).fit(da.from_array(X, chunks=(10, 3)), da.from_array(y, chunks=10))
    assert mem.value.epoch == dsk.value.epoch == k - 1
    # "stats" on Dask merges chunks' statistics: within its rounding bound
    np.testing.assert_allclose(dsk.value.result.coef, mem.value.result.coef, rtol=1e-12)


def test_one_feature_dask_fit_whose_cost_overflows_names_the_epoch_as_in_memory():
    """One feature, no intercept: loss_curve_ is the cost after each epoch,
    computed on Dask too; its overflow is the epoch's divergence."""
    from gdfast import DivergenceError
    # residuals of 3.2e153: each square finite (the trainer's recorded loss),
    # their sum over 64 rows not (the cost); updates 2*lr*x*r of 1e-6
    X = np.linspace(1.0, 2.0, 64).reshape(-1, 1)
    y = np.full(64, 3.2e153)
    kw = dict(solver="sgd", lr=1e-160, max_iter=5, tol=None, shuffle=False,
              fit_intercept=False)
    with pytest.raises(DivergenceError) as mem:
        GDRegressor(**kw).fit(X, y)
    with pytest.raises(DivergenceError) as dsk:
        GDRegressor(**kw).fit(da.from_array(X, chunks=(16, 1)), da.from_array(y, chunks=16))
    assert dsk.value.epoch == mem.value.epoch == 0
    assert dsk.value.result.epochs == mem.value.result.epochs == 0


@pytest.mark.parametrize("solver", ["sgd", "minibatch"])
def test_sgd_divergence_on_dask_is_the_in_memory_error(solver):
    """The epoch whose loss_curve_ entry (the epoch's mean) is not finite
    diverges, with the epochs before it as in memory (Dask went on with inf
    in loss_curve_, or stopped an epoch later, with the trainer's result)."""
    from gdfast import DivergenceError

    def error(X, y, **kw):
        try:
            GDRegressor(**kw).fit(X, y)
        except DivergenceError as exc:
            return exc
        return None
    cases = []
    if solver == "sgd":
        X = np.ones((8, 2))
        y = np.zeros(8)
        X[3], y[3] = 1e-200, 1e200      # one row's squared residual overflows
        cases.append((X, y, dict(lr=0.01, fit_intercept=False)))
    for seed in range(12):              # diverging steps
        rng = np.random.default_rng(seed)
        Xs = rng.normal(size=(120, 3))
        cases.append((Xs, Xs.sum(1) + 1.0, dict(lr=float(rng.uniform(0.3, 5.0)), alpha=0.1)))
    diverged = 0
    for X, y, kw in cases:
        kw.update(solver=solver, shuffle=False, tol=None, max_iter=300, batch_size=8)
        m = error(X, y, **kw)
        k = len(y) // 4
        d = error(da.from_array(X, chunks=(k, X.shape[1])), da.from_array(y, chunks=k), **kw)
        if m is None:               # a step that still converges: the same on Dask
            assert d is None
            continue
        diverged += 1
        assert d.epoch == m.epoch
        np.testing.assert_array_equal(d.result.coef_history, m.result.coef_history)
        np.testing.assert_allclose(d.result.loss_history, m.result.loss_history, rtol=1e-12)
    assert diverged >= 6


def test_one_of_the_pair_in_memory_in_any_form():
    """A DataFrame or list X beside a Dask y, a list or DataFrame y beside a
    Dask X: used as in memory (an AttributeError or a pandas error before);
    bool data become float64 as in memory."""
    pd = pytest.importorskip("pandas")
    X, y = _data(40, 3, seed=7)
    Xd, yd = da.from_array(X, chunks=(10, 3)), da.from_array(y, chunks=10)
    kw = dict(lr=0.01, max_iter=3, tol=None, shuffle=False)
    want = GDRegressor(**kw).fit(X, y).coef_
    df = pd.DataFrame(X, columns=list("abc"))
    m = GDRegressor(**kw).fit(df, yd)
    assert np.array_equal(m.coef_, want) and list(m.feature_names_in_) == list("abc")
    assert np.array_equal(GDRegressor(**kw).fit(X.tolist(), yd).coef_, want)
    assert np.array_equal(GDRegressor(**kw).fit(Xd, y.tolist()).coef_, want)
    with pytest.warns(Warning, match="column-vector y"):
        got = GDRegressor(**kw).fit(Xd, pd.DataFrame({"t": y})).coef_
    assert np.array_equal(got, want)
    B = X > 0
    assert np.array_equal(GDRegressor(**kw).fit(da.from_array(B, chunks=(10, 3)), yd).coef_,
                          GDRegressor(**kw).fit(B, y).coef_)


@pytest.mark.parametrize("solver", ["sgd", "batch", "minibatch"])
def test_a_dask_dataframe_fits_as_its_pandas_frame_does(solver):
    """A Dask DataFrame was computed whole into the client's memory
    (np.asarray) and lost its column names; it is now the Dask array of its
    values, partition by partition, with the columns as feature_names_in_."""
    pd = pytest.importorskip("pandas")
    ddf_mod = pytest.importorskip("dask.dataframe")
    X, y = _data()
    pdf = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    ddf = ddf_mod.from_pandas(pdf, npartitions=3)
    ys = ddf_mod.from_pandas(pd.Series(y, name="y"), npartitions=3)
    kw = dict(solver=solver, max_iter=3, tol=None, shuffle=False, batch_size=16)
    a = GDRegressor(**kw).fit(ddf, ys)
    b = GDRegressor(**kw).fit(pdf, y)
    np.testing.assert_array_equal(a.feature_names_in_, b.feature_names_in_)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    np.testing.assert_allclose(a.predict(ddf).compute(), b.predict(pdf), rtol=1e-12)
    with pytest.raises(ValueError, match="feature names should match"):
        a.predict(ddf[list(reversed(pdf.columns))])
    # predict stays lazy on a frame too: nothing is computed until asked
    seen = []
    lazy = ddf.map_partitions(lambda part: seen.append(1) or part, meta=ddf._meta)
    got = a.predict(lazy)
    assert not seen
    np.testing.assert_allclose(got.compute(), b.predict(pdf), rtol=1e-12)
