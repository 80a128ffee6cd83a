"""Regression tests for the hardening issue (adversarial inputs, processes,
threads, memory): each runs on both implementations where it applies;
compiled-only options (threads, method) are in tests named so."""

import decimal
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

import gdfast
import gdfast._compiled as compiled
import gdfast.reference as reference
from gdfast import _validate
from helpers import synthetic

X3, Y3 = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
TRAINERS = ["batch_gd", "sgd", "minibatch_gd"]


def _python(code, tmp_path, timeout=120):
    """Run code in a fresh interpreter away from the source tree (so it
    imports the installed gdfast); a hang fails the test, never blocks CI."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


# ----------------------------------------------- processes: fork after threads

FORK_CHILD = """
    import os, sys, warnings, numpy as np
    import gdfast._compiled as c
    x = np.random.default_rng(0).standard_normal(200_000); y = 2 * x + 1
    want = (c.cost(x, y, 1.5), c.batch_gd(x, y, epochs=3, method="pass").w,
            c.minibatch_gd(x.reshape(-1, 1), y, 64, epochs=2, fit_intercept=True).w[0])

    def child_work():
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            got = (c.cost(x, y, 1.5, threads=2),
                   c.batch_gd(x, y, epochs=3, method="pass", threads=2).w,
                   c.minibatch_gd(x.reshape(-1, 1), y, 64, epochs=2, fit_intercept=True,
                                  threads=2).w[0])
            c.gradient(x, y, 1.5, threads=2)
        forks = [w for w in seen if "forked" in str(w.message)]
        return got == want, len(forks), forks[0].category.__name__ if forks else None

    c.cost(x, y, 1.5, threads=2)            # the parent runs OpenMP threads first
    {launch}
"""

OS_FORK = """
    import time
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, repr(child_work()).encode())
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        print("child hung"); sys.exit(1)
    print(os.read(r, 1000).decode(), status)
"""

POOL_FORK = """
    import multiprocessing as mp
    with mp.get_context("fork").Pool(2) as pool:
        print(pool.apply_async(child_work).get(timeout=60), 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("launch", [OS_FORK, POOL_FORK], ids=["os.fork", "mp-pool-fork"])
def test_compiled_threads_in_a_child_forked_after_threads_finish(launch, tmp_path):
    code = textwrap.dedent(FORK_CHILD).replace("{launch}", textwrap.dedent(launch))
    proc = _python(code, tmp_path, timeout=150)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # same results as threads=1, one RuntimeWarning for the four calls, exit 0
    assert proc.stdout.split("\n")[0] == "(True, 1, 'RuntimeWarning') 0", proc.stdout


# ------------------------------------------------- threads: an upper bound

@pytest.mark.parametrize("threads", [2 ** 31 - 1, 2 ** 31, 100_000, 257, 2 ** 63])
@pytest.mark.parametrize("name", ["cost", "gradient", "batch_gd", "minibatch_gd"])
def test_compiled_threads_above_the_limit_is_a_value_error(name, threads):
    x, y = np.ones(10_000), np.ones(10_000)
    args = (x, y, 1.0) if name in ("cost", "gradient") else (x, y)
    with pytest.raises(ValueError) as info:
        getattr(compiled, name)(*args, threads=threads)
    assert "threads" in str(info.value) and str(_validate.MAX_THREADS) in str(info.value)


def test_compiled_threads_at_the_limit_runs():
    x, y = synthetic(5000, seed=1)
    assert compiled.cost(x, y, 1.0, threads=_validate.MAX_THREADS) == compiled.cost(x, y, 1.0)


# ------------------------------------- Ctrl-C in a process forked from a thread

FORK_FROM_THREAD = """
    import os, threading, numpy as np
    import {module} as impl
    x = np.random.default_rng(0).standard_normal({n}); y = 2 * x

    def run():
        pid = os.fork()
        if pid == 0:                       # the child's only thread is this one
            print("child", os.getpid(), flush=True)
            try:
                impl.{call}
                print("finished", flush=True)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
            print("healthy", impl.cost([1.0, 2.0], [2.0, 4.0], 2.0), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)

    t = threading.Thread(target=run)
    t.start()
    t.join()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("module,n,call", [
    ("gdfast._compiled", 3_000_000, "sgd(x, y, epochs=10**6)"),
    ("gdfast._compiled", 3_000_000, "batch_gd(x, y, epochs=10**6, method='pass')"),
    ("gdfast._compiled", 30_000, "minibatch_gd(x.reshape(-1, 3), y[:10_000], "
                                 "epochs=10**8, fit_intercept=True)"),
    ("gdfast.reference", 1000, "sgd(x, y, epochs=10**8)"),
])
def test_ctrl_c_reaches_a_process_forked_from_a_non_main_thread(module, n, call, tmp_path):
    code = textwrap.dedent(FORK_FROM_THREAD).format(module=module, n=n, call=call)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    child = None
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "child", first
        child = int(first[1])
        time.sleep(0.5)                    # well inside the run
        os.kill(child, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        for pid in (child, proc.pid):
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.wait()
    assert out.splitlines() == ["interrupted", "healthy 0.0"], out + err


# ----------------------------------------- memory: histories grow as epochs run

def _stop_at(k):
    return lambda e, w, l: e >= k - 1


@pytest.mark.parametrize("epochs", [10 ** 10, 2 ** 62, 2 ** 63 - 1])
@pytest.mark.parametrize("name", TRAINERS)
def test_huge_epochs_with_a_stopping_callback(impl, name, epochs):
    res = getattr(impl, name)(X3, Y3, epochs=epochs, callback=_stop_at(10))
    assert res.epochs == 10 and res.w_history.shape == (10,)
    want = getattr(impl, name)(X3, Y3, epochs=10)
    np.testing.assert_array_equal(res.w_history, want.w_history)


@pytest.mark.parametrize("name", TRAINERS)
def test_a_stopped_run_holds_memory_for_the_epochs_run(impl, name):
    x, y = np.ones((3, 4)), np.ones(3)
    run = getattr(impl, name)
    run(x, y, epochs=10 ** 9, lr=0.01, callback=_stop_at(3))      # warm up
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        res = run(x, y, epochs=10 ** 9, lr=0.01, callback=_stop_at(300))
        held = tracemalloc.get_traced_memory()[0] - base
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert res.epochs == 300 and res.coef_history.shape == (300, 4)
    # 300 rows of 6 float64 = 14 KB; growth by doubling holds at most 2x that
    assert held < 64 * 1024, held
    assert peak < 256 * 1024, peak


@pytest.mark.parametrize("name", ["batch_gd", "sgd", "minibatch_gd"])
def test_a_wide_run_stopped_at_once_holds_one_row(impl, name):
    """The history's first buffer has room for 128 epochs: the result held
    all of it (20 MB here for one epoch of 160 KB)."""
    X, y = np.ones((2, 20_000)), np.array([1.0, 2.0])
    run = getattr(impl, name)
    run(X, y, w=0.0, lr=1e-6, epochs=3, callback=lambda e, w, l: True)     # warm up
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        res = run(X, y, w=0.0, lr=1e-6, epochs=10 ** 9, callback=lambda e, w, l: True)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    row = 20_002 * 8
    assert res.epochs == 1
    assert held < 4 * row, held         # the row, the final coef, slack


# ------------------------------------------------ memory: one shuffle buffer

def test_compiled_shuffle_buffer_draws_the_reference_permutations():
    n = 1000
    refill, order, blocks = compiled._order(True, 42, n)
    assert blocks is None
    rng = np.random.default_rng(42)
    for _ in range(4):
        refill()
        np.testing.assert_array_equal(order, rng.permutation(n))
    assert order.dtype == np.int64


@pytest.mark.parametrize("call", [
    lambda x, y: compiled.sgd(x, y, epochs=2, shuffle=True, seed=0),
    lambda x, y: compiled.sgd(x.reshape(-1, 1), y, epochs=2, shuffle=True, seed=0,
                              fit_intercept=True),
    lambda x, y: compiled.minibatch_gd(x, y, epochs=2, shuffle=True, seed=0),
    lambda x, y: compiled.minibatch_gd(x.reshape(-1, 1), y, epochs=2, shuffle=True,
                                       seed=0, fit_intercept=True),
], ids=["sgd", "sgd-2d", "minibatch", "minibatch-2d"])
def test_compiled_shuffle_holds_one_index_array(call):
    n = 1_000_000
    x, y = synthetic(n, seed=1)
    call(x[:10], y[:10])
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call(x, y)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 8 * n + 256 * 1024, peak     # one int64 order of n, no second copy


class _Sub(np.ndarray):
    pass


@pytest.mark.parametrize("wrap", [lambda a: a.view(np.memmap), lambda a: a.view(_Sub)],
                         ids=["memmap", "subclass"])
@pytest.mark.parametrize("call", [
    lambda x: compiled.cost(x, x, 1.0),
    lambda x: compiled.sgd(x, x, w=0.0, lr=1e-3, epochs=1),
    lambda x: compiled.batch_gd(x, x, w=0.0, lr=1e-3, epochs=1),
    lambda x: compiled.minibatch_gd(x, x, w=0.0, lr=1e-3, epochs=1),
], ids=["cost", "sgd", "batch_gd", "minibatch_gd"])
def test_float32_subclasses_are_used_in_place(wrap, call):
    """A float32 memmap (or any ndarray subclass) is read where it lies, as a
    float32 ndarray is: its dtype had come back from the byte-order check as
    an equal but distinct object, which the tutorial model's kernels took
    for mixed dtypes and widened both arrays to float64 copies (4x the data;
    a 2**31-row memmap ran out of memory)."""
    x = wrap(np.linspace(0.0, 1.0, 1_000_000, dtype=np.float32))
    call(x[:10])
    assert np.ma.MaskedArray      # numpy imports numpy.ma on first use: not ours
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call(x)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes // 8, peak


# ----------------------------------------- divergence: one rule, both sides

def _diverging_cases(seed, count):
    """Small random problems, most of them with a learning rate beyond the
    stable range (lr * mean(x**2) up to 40), some 2-D with intercept/alpha."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(1, 12))
        d = int(rng.choice([0, 1, 2, 3]))       # 0: 1-D data
        X = rng.standard_normal((n, max(d, 1))) * 10.0 ** rng.uniform(-2, 3)
        if d == 0:
            X = X[:, 0]
        y = rng.standard_normal(n) * 10.0 ** rng.uniform(-1, 3)
        ms = float(np.mean(X ** 2)) * max(d, 1)
        kw = {"lr": float(rng.uniform(0.2, 40.0)) / ms,
              "w": float(rng.standard_normal() * 10.0 ** rng.uniform(-2, 2)),
              "epochs": 2000}
        if d and rng.random() < 0.5:
            kw.update(fit_intercept=True, b=float(rng.standard_normal()))
        if d and rng.random() < 0.3:
            kw["alpha"] = float(rng.uniform(0.0, 2.0))
        yield X, y, kw


def _outcome(run):
    try:
        return "result", run()
    except gdfast.DivergenceError as err:
        return err.epoch, err.result


@pytest.mark.parametrize("name,seed", [("batch_gd", 1), ("sgd", 2), ("minibatch_gd", 3)])
def test_random_diverging_cases_agree_on_epoch_and_history(name, seed):
    diverged = 0
    for X, y, kw in _diverging_cases(seed, 150):
        extra = {"batch_size": 3} if name == "minibatch_gd" else {}
        method = {"batch_gd": {"method": "pass"}, "sgd": {"method": "plain"}}.get(name, {})
        got = _outcome(lambda: getattr(compiled, name)(X, y, **kw, **extra, **method))
        want = _outcome(lambda: getattr(reference, name)(X, y, **kw, **extra))
        assert got[0] == want[0], (X, y, kw, got[0], want[0])
        diverged += got[0] != "result"
        g, r = got[1], want[1]
        assert g.epochs == r.epochs
        assert np.isfinite(g.coef_history).all() and np.isfinite(g.loss_history).all()
        general = np.ndim(X) == 2 and (X.shape[1] > 1 or kw.get("fit_intercept")
                                       or kw.get("alpha"))
        # batches of 3 < 4 lanes and sgd's per-sample loop are summed in order
        exact = name != "batch_gd" or general or len(y) < 4
        if exact:   # the reference's order of arithmetic: bit for bit
            np.testing.assert_array_equal(g.coef_history, r.coef_history)
            np.testing.assert_array_equal(g.intercept_history, r.intercept_history)
            np.testing.assert_allclose(g.loss_history, r.loss_history, rtol=1e-15)
        else:       # 1-D passes sum in four lanes: rounding
            np.testing.assert_allclose(g.coef_history, r.coef_history, rtol=1e-9)
            np.testing.assert_allclose(g.loss_history, r.loss_history, rtol=1e-9)
    assert diverged > 75      # the cases do exercise the rule


def test_divergence_rule_is_documented_once():
    from gdfast import _driver
    doc = _driver.__doc__
    assert "a coefficient, the intercept or the recorded loss is not finite" in doc
    assert "epoch" in gdfast.DivergenceError.__doc__


# ------------------------------------------- method="auto": outcome class

N16 = compiled.STATS_MIN_N


def _klass(run):
    try:
        run()
    except gdfast.DivergenceError:
        return "error"
    return "result"


@pytest.mark.parametrize("n", [N16 - 1, N16, 2 * N16])
def test_compiled_auto_keeps_the_outcome_class_across_the_switch(n):
    cases = [
        # plain overflows (x*w = 1e309), affine would not
        ("sgd", (np.full(n, 100.0), np.full(n, 200.0)), dict(w=1e307, lr=1e-5, epochs=1)),
        # affine's products overflow (lr*x*x = 1e4), plain stays on the line
        ("sgd", (np.full(n, 100.0), np.full(n, 200.0)), dict(w=2.0, lr=1.0, epochs=1)),
        # the statistics' (w - wp)**2 overflows, the passes' residuals do not
        ("batch_gd", (np.full(n, 1e-160), np.zeros(n)), dict(w=1e160, lr=1e-5, epochs=5)),
        ("batch_gd", (np.full((n, 2), 1e-160), np.ones(n)),
         dict(w=1e150, lr=1e-5, epochs=5, fit_intercept=True)),
    ]
    for name, data, kw in cases:
        slow = "plain" if name == "sgd" else "pass"
        auto = _klass(lambda: getattr(compiled, name)(*data, **kw))
        assert auto == _klass(lambda: getattr(compiled, name)(*data, method=slow, **kw)), \
            (name, kw)
        assert auto == _klass(lambda: getattr(reference, name)(data[0][:50], data[1][:50],
                                                               **kw)), (name, kw)


def test_compiled_auto_still_picks_the_fast_methods_on_ordinary_data():
    x, y = synthetic(N16, seed=3)
    assert compiled.sgd(x, y, epochs=2).method == "affine"
    assert compiled.batch_gd(x, y, epochs=10).method == "stats"
    X = np.column_stack([x, y[::-1]])
    assert compiled.batch_gd(X, y, epochs=50, fit_intercept=True, alpha=0.1).method == "stats"
    # a step that amplifies w (lr * max x**2 > 1): no certificate, plain
    assert compiled.sgd(x, y, lr=0.5, epochs=1, method="auto").method == "plain"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("where", [0, 1234, N16 // 2 + 3, -3, -1])
def test_auto_certificate_from_the_first_epoch_sees_every_sample(dtype, where):
    """Unshuffled, "auto" runs the first epoch in the affine form while the
    kernel collects max|x| and max|y|; one sample anywhere (first, inside a
    run, in the m mod 8 tail, in the last partial mini-batch) that breaks the
    certificate must send the call back to the per-epoch method, with its
    exact results."""
    n = N16 + 7                        # a run tail and a short last batch
    x, y = synthetic(n, seed=5)
    x, y = x.astype(dtype), y.astype(dtype)
    lr = 0.3 / float(np.max(x * x))    # certified as it is
    assert compiled.sgd(x, y, lr=lr, epochs=2).method == "affine"
    assert compiled.minibatch_gd(x, y, 5, lr=lr, epochs=2).method == "affine"
    x = x.copy()
    x[where] = 2.0 * float(np.max(np.abs(x)))     # now lr * max x**2 > 1
    for run, slow in ((lambda **k: compiled.sgd(x, y, lr=lr, epochs=2, **k), "plain"),
                      (lambda **k: compiled.minibatch_gd(x, y, 5, lr=lr, epochs=2, **k),
                       "batches")):
        seen = []
        r = run(callback=lambda e, w, loss: seen.append(e))
        assert r.method == slow
        assert seen == [0, 1]                     # the discarded epoch was never shown
        assert np.array_equal(r.w_history, run(method=slow).w_history)


def test_auto_certificate_probe_opens_one_hook_and_skips_hopeless_runs(monkeypatch):
    """The probe epoch runs before the driver makes its hook (so a progress
    bar is opened once, also when the call reruns "plain"); with epochs=0,
    or where no data can certify, no affine epoch runs at all."""
    from gdfast import _driver, _plan
    made, probes = [], []
    real_hook = _driver.make_hook
    monkeypatch.setattr(_driver, "make_hook", lambda *a: made.append(a) or real_hook(*a))
    x, y = synthetic(N16, seed=7)
    r = compiled.sgd(x, y, lr=0.5, epochs=2, callback=lambda e, w, loss: None)
    assert r.method == "plain" and len(made) == 1
    real_cert = _plan.sgd_certified_maxima
    monkeypatch.setattr(_plan, "sgd_certified_maxima",
                        lambda *a, **k: probes.append(a) or real_cert(*a, **k))
    assert compiled.sgd(x, y, epochs=0).method == "plain"
    assert compiled.minibatch_gd(x, y, epochs=0).method == "batches"
    with pytest.raises(gdfast.DivergenceError) as err:            # lr > SAFE
        compiled.sgd(x, y, lr=2.0 ** 1001, epochs=1)
    assert err.value.result.method == "plain"
    assert probes == []
    assert compiled.sgd(x, y, epochs=1).method == "affine" and len(probes) == 1


def test_auto_certified_first_epoch_reaches_the_callback_once():
    x, y = synthetic(N16, seed=6)
    for run in (lambda **k: compiled.sgd(x, y, epochs=3, **k),
                lambda **k: compiled.minibatch_gd(x, y, 16, epochs=3, **k)):
        seen = []
        r = run(callback=lambda e, w, loss: seen.append((e, w, loss)))
        assert r.method == "affine"
        forced = run(method="affine")
        assert [e for e, _, _ in seen] == [0, 1, 2]
        assert [w for _, w, _ in seen] == list(forced.w_history)
        assert [v for _, _, v in seen] == list(forced.loss_history)
        stopped = run(callback=lambda e, w, loss: True)      # stop after epoch 0
        assert stopped.epochs == 1 and stopped.w == forced.w_history[0]


def test_trainers_document_what_overflow_means():
    for doc in (compiled.sgd.__doc__, compiled.batch_gd.__doc__):
        assert "overflow" in doc and "certificate" in doc


# ------------------------------------------------------------ masked arrays

@pytest.mark.parametrize("where", ["X", "y", "w", "w0d"])
def test_masked_arrays_are_refused(impl, where):
    X = np.ma.array(np.ones((4, 2)), mask=False)
    y = np.ma.array(np.arange(4.0), mask=[0, 1, 0, 0])
    args = {"X": (X, np.arange(4.0), 1.0), "y": (np.ones((4, 2)), y, 1.0),
            "w": (np.ones((4, 2)), np.arange(4.0), np.ma.array([1.0, 2.0], mask=[0, 1])),
            "w0d": (np.ones(4), np.arange(4.0), np.ma.array(1.0, mask=True))}[where]
    name = where[0]
    for call in (lambda: impl.cost(*args), lambda: impl.gradient(*args),
                 lambda: impl.loss(*args), lambda: impl.batch_gd(*args, epochs=2),
                 lambda: impl.sgd(*args, epochs=2), lambda: impl.minibatch_gd(
                     args[0], args[1], 2, args[2], epochs=2)):
        with pytest.raises(TypeError, match=f"{name} must not be a masked array"):
            call()
    if where != "y":
        with pytest.raises(TypeError, match="masked"):
            impl.forward(args[0], args[2])


# ------------------------------------------------- out-of-range integers

def test_batch_size_beyond_int64_is_one_batch(impl):
    for bs in (2 ** 63, 2 ** 64, 10 ** 30):
        got = impl.minibatch_gd(X3, Y3, batch_size=bs, epochs=5)
        want = impl.minibatch_gd(X3, Y3, batch_size=3, epochs=5)
        np.testing.assert_array_equal(got.w_history, want.w_history)
    kw = {"method": "pass"} if impl is compiled else {}
    np.testing.assert_array_equal(impl.minibatch_gd(X3, Y3, 2 ** 63, epochs=5).w_history,
                                  impl.batch_gd(X3, Y3, epochs=5, **kw).w_history)


@pytest.mark.parametrize("name", TRAINERS)
@pytest.mark.parametrize("epochs", [2 ** 63, 2 ** 64, 10 ** 30])
def test_epochs_beyond_the_limit_name_it(impl, name, epochs):
    with pytest.raises(ValueError) as info:
        getattr(impl, name)(X3, Y3, epochs=epochs)
    assert "epochs" in str(info.value) and str(_validate.MAX_COUNT) in str(info.value)


# ------------------------------------------ any real number, as float() would

def _exotic_lists():
    xs = [0.5, 1.25, 3.0, -2.0]
    return xs, {
        "Fraction": [Fraction(1, 2), Fraction(5, 4), Fraction(3), Fraction(-2)],
        "Decimal": [decimal.Decimal("0.5"), decimal.Decimal("1.25"), 3, -2],
        "object array": np.array([0.5, 1.25, 3, -2.0], dtype=object),
        "mixed": [np.float32(0.5), Fraction(5, 4), decimal.Decimal(3), -2],
    }


@pytest.mark.parametrize("form", list(_exotic_lists()[1]))
def test_fractions_decimals_and_objects_as_float_would(impl, form):
    xs, exotic = _exotic_lists()
    ys = [1.0, 2.0, 2.5, -3.0]
    xo = exotic[form]
    assert impl.cost(xo, ys, 0.5) == impl.cost(xs, ys, 0.5)
    assert impl.gradient(ys, xo, 0.5) == impl.gradient(ys, xs, 0.5)
    got = impl.sgd(np.array(xo, dtype=object).reshape(2, 2), ys[:2], epochs=3)
    want = impl.sgd(np.array(xs).reshape(2, 2), ys[:2], epochs=3)
    np.testing.assert_array_equal(got.coef_history, want.coef_history)


def test_big_python_ints_convert_as_float_would(impl):
    big = [2 ** 64, 2 ** 70 + 1, -(10 ** 30), 3]
    floats = [float(v) for v in big]
    np.testing.assert_array_equal(impl.forward(big, 1e-20), impl.forward(floats, 1e-20))
    with pytest.raises(ValueError, match=r"X is out of float64's range.*index 1"):
        impl.cost([1, 10 ** 400], [1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match=r"y is out of float64's range.*index \(0, 1\)|"
                                         r"y is out of float64's range.*index 0"):
        impl.cost([1.0], [Fraction(10 ** 400, 3)], 1.0)


@pytest.mark.parametrize("param", ["w", "b", "lr", "alpha"])
@pytest.mark.parametrize("value", [Fraction(1, 8), decimal.Decimal("0.125"), np.float16(0.125)])
def test_parameters_take_any_real_number_as_float_would(impl, param, value):
    base = {"w": 0.5, "b": 0.25, "lr": 0.0625, "alpha": 0.5}
    got = impl.batch_gd(X3, Y3, epochs=3, fit_intercept=True, **dict(base, **{param: value}))
    want = impl.batch_gd(X3, Y3, epochs=3, fit_intercept=True,
                         **dict(base, **{param: float(value)}))
    np.testing.assert_array_equal(got.w_history, want.w_history)
    np.testing.assert_array_equal(got.b_history if hasattr(got, "b_history")
                                  else got.intercept_history, want.intercept_history)


@pytest.mark.parametrize("param", ["w", "b", "lr", "alpha"])
def test_parameters_beyond_float64_name_themselves(impl, param):
    for value in (10 ** 400, Fraction(10 ** 400), decimal.Decimal("1e400")):
        with pytest.raises(ValueError, match=f"{param} is out of float64's range"):
            impl.batch_gd(X3, Y3, epochs=1, **{param: value})
    for value in (decimal.Decimal("NaN"), decimal.Decimal("-Infinity")):
        with pytest.raises(ValueError, match=f"{param} must be finite"):
            impl.batch_gd(X3, Y3, epochs=1, **{param: value})


# ------------------------------------------------ longdouble beyond float64

@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max,
                    reason="longdouble is float64 here")
def test_longdouble_beyond_float64_says_so(impl):
    big = np.longdouble("1e400")
    with _no_warnings():
        with pytest.raises(ValueError, match=r"X is out of float64's range.*index 1"):
            impl.cost(np.array([1.0, big], dtype=np.longdouble), [1.0, 2.0], 1.0)
        with pytest.raises(ValueError, match="w is out of float64's range"):
            impl.cost([1.0], [1.0], big)
        with pytest.raises(ValueError, match="lr is out of float64's range"):
            impl.sgd([1.0], [1.0], lr=big)
    # inside float64's range: converted (rounded) as float() would
    assert impl.cost(np.array([1.0, 2.0], dtype=np.longdouble), [1.0, 2.0], 1.0) == 0.0


def test_longdouble_beyond_float64_as_a_single_sample_says_so(impl):
    """A 0-d longdouble X (one sample) beyond float64: the same message, at
    index 0 (it raised IndexError while building the message)."""
    with _no_warnings():
        for X in (np.longdouble("1e400"), np.array(np.longdouble("-1e400"))):
            with pytest.raises(ValueError, match=r"X is out of float64's range.*at index 0$"):
                impl.sgd(X, 1.0, epochs=1)


class _no_warnings:
    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


# ----------------------------------------- one overflow rule for primitives

OVERFLOWING = {
    "forward scalar": lambda m: m.forward(1e200, 1e200),
    "forward list": lambda m: m.forward([1.0, 1e200], 1e200),
    "forward 2-D": lambda m: m.forward(np.array([[1e200, 1.0]]), [1e200, 1.0]),
    "forward b": lambda m: m.forward([1e308], 1.0, b=1e308),
    "loss": lambda m: m.loss(1e200, 0.0, 1e200),
    "loss square": lambda m: m.loss([1e160], [0.0], 1.0),
    "loss alpha": lambda m: m.loss([1.0], [0.0], 1e160, alpha=1.0),
    "cost": lambda m: m.cost([1e200], [0.0], 1e200),
    "cost sum": lambda m: m.cost([1e154] * 8, [0.0] * 8, 1.0),
    "cost 2-D": lambda m: m.cost(np.full((3, 2), 1e160), np.zeros(3), 1.0),
    "gradient": lambda m: m.gradient([1e200], [0.0], 1e200),
    "gradient 2-D": lambda m: m.gradient(np.full((3, 2), 1e160), np.zeros(3), 1.0),
    "gradient b": lambda m: m.gradient([1.0], [0.0], 1.0, b=1e308, fit_intercept=True),
}


@pytest.mark.parametrize("case", list(OVERFLOWING))
def test_primitives_overflow_is_overflow_error_on_both(impl, case):
    with pytest.raises(OverflowError, match="overflowed float64"):
        OVERFLOWING[case](impl)


def test_large_but_finite_primitive_results_are_returned(impl):
    assert impl.gradient([1e160], [0.0], 1e-160) == 2e160
    assert impl.forward(1e154, 1e154) == 1e308
    assert impl.cost([1e154], [0.0], 1.0) == 1e308


@pytest.mark.parametrize("name", TRAINERS)
@pytest.mark.parametrize("shuffle", [False, True])
def test_no_penalty_term_without_alpha_even_for_huge_w(name, shuffle):
    """alpha = 0 means no penalty term at all: |w|**2 overflowing (|w| >
    1.3e154) is no divergence while the residuals are finite."""
    X, y = np.full((5, 2), 1e-170), np.ones(5)
    kw = dict(w=1e160, lr=0.1, epochs=3, fit_intercept=True)
    if name != "batch_gd":
        kw.update(shuffle=shuffle, seed=1)
    if name == "minibatch_gd":
        kw["batch_size"] = 2
    got = getattr(compiled, name)(X, y, **kw)
    want = getattr(reference, name)(X, y, **kw)
    assert got.epochs == want.epochs == 3 and np.isfinite(got.loss_history).all()
    np.testing.assert_array_equal(got.coef_history, want.coef_history)
    np.testing.assert_array_equal(got.loss_history, want.loss_history)
    for impl in (compiled, reference):
        assert impl.cost(X, y, 1e160) == pytest.approx(1.0)
        np.testing.assert_allclose(impl.loss(X, y, 1e160), 1.0)


@pytest.mark.parametrize("two_d", [False, True], ids=["1d", "2d"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_sgd_doubles_the_product_at_an_exact_fit_of_huge_values(impl, two_d, shuffle):
    """The per-sample step doubled x before multiplying by the residual:
    (2*x)*r overflowed to inf for x beyond 9e307 and gave inf*0 = NaN at an
    exact fit, a divergence where the gradient is 0 (batch_gd and
    minibatch_gd, whose mean gradients are 2*sum(x*r)/n, returned w). Now
    2*(x*r), as they do."""
    x = np.array([1e308, 1e308])
    X = np.column_stack([x, np.zeros(2)]) if two_d else x
    kw = dict(w=[1.0, 0.0] if two_d else 1.0, lr=1e-300, epochs=2, shuffle=shuffle,
              seed=0)
    r = impl.sgd(X, x, **kw)
    np.testing.assert_array_equal(r.coef, [1.0, 0.0] if two_d else [1.0])
    assert r.loss_history.tolist() == [0.0, 0.0]


def test_a_dot_product_of_huge_terms_overflows_by_its_order():
    """Documented, not removed (docs/hardening.md): the compiled row sums
    add a dot product in lanes, the reference left to right, so near
    float64's largest value one side overflows where the other does not."""
    import gdfast.reference as ref
    w = np.ones(8)
    blocked = np.array([[1e308] * 4 + [-1e308] * 4] * 3)
    interleaved = np.array([[1e308, -1e308] * 4] * 3)
    y = np.zeros(3)
    assert compiled.cost(blocked, y, w) == 0.0
    with pytest.raises(OverflowError):
        ref.cost(blocked, y, w)
    with pytest.raises(OverflowError):
        compiled.cost(interleaved, y, w)
    assert ref.cost(interleaved, y, w) == 0.0


def _ending(run):
    try:
        r = run()
    except gdfast.DivergenceError as exc:
        return ("diverged", exc.epoch)
    return ("result", r.coef.tolist())


def test_many_feature_sgd_auto_near_overflow_is_as_documented():
    """docs/hardening.md: "gram" and "lanes" have no overflow certificate,
    and on the cases adversarial testing found their outcome differs from
    "plain"'s, which keeps the reference's. (A certificate would turn the
    two middle assertions around: then change the docs with them.)"""
    n = compiled.STATS_MIN_N
    X = np.zeros((n, 2))
    X[:, 0] = 1e155
    y = np.zeros(n)
    kw = dict(w=0.0, lr=1e-300, epochs=1)
    want = _ending(lambda: reference.sgd(X, y, **kw))
    assert want == ("result", [0.0, 0.0])
    assert _ending(lambda: compiled.sgd(X, y, method="plain", **kw)) == want
    assert _ending(lambda: compiled.sgd(X, y, **kw)) == ("diverged", 0)     # "gram"
    X[:, 0] = 1e160
    y[:] = 1e150
    kw = dict(w=0.0, lr=1e-322, epochs=1, shuffle=True, seed=0)
    want = _ending(lambda: reference.sgd(X, y, **kw))
    assert want == ("diverged", 0)
    assert _ending(lambda: compiled.sgd(X, y, method="plain", **kw)) == want
    assert _ending(lambda: compiled.sgd(X, y, **kw))[0] == "result"       # "lanes"
