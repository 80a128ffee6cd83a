"""Divergence, accepted input forms, no copies, GIL release, Ctrl-C, leaks.

Behaviour shared by both implementations runs through the ``impl``
fixture; what only the compiled side has (threads, methods, no-copy, the
GIL, native leaks) is in tests named ``test_compiled_*``."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc

import numpy as np
import pytest

import gdfast
import gdfast._compiled as compiled
from helpers import max_rel, synthetic

X, Y = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
TRAINERS = ["batch_gd", "sgd", "minibatch_gd"]


# ---------------------------------------------------------------- divergence

@pytest.mark.parametrize("name", TRAINERS)
def test_divergence_is_raised_at_its_epoch_with_the_history(impl, name):
    # stable only for lr < 1/mean(x^2) = 3/14; lr = 1 overflows within ~300 epochs
    with pytest.raises(gdfast.DivergenceError) as info:
        getattr(impl, name)(X, Y, lr=1.0, epochs=10_000)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert f"epoch {err.epoch}" in str(err) and "lr=1.0" in str(err)
    assert "smaller learning rate" in str(err)
    assert 0 < err.epoch < 10_000
    assert err.result.epochs == err.epoch
    assert np.all(np.isfinite(err.result.w_history))
    assert np.all(np.isfinite(err.result.loss_history))
    assert err.result.w == err.result.w_history[-1]


@pytest.mark.parametrize("name", TRAINERS)
def test_both_implementations_diverge_at_the_same_epoch(name):
    import gdfast.reference as reference
    epochs = []
    for mod in (reference, compiled):
        with pytest.raises(gdfast.DivergenceError) as info:
            getattr(mod, name)(X, Y, lr=1.0, epochs=10_000)
        epochs.append(info.value.epoch)
    assert epochs[0] == epochs[1]


@pytest.mark.parametrize("method", ["pass", "stats"])
def test_compiled_large_data_divergence_both_batch_methods(method):
    x, y = synthetic(5000, seed=1)
    with pytest.raises(gdfast.DivergenceError) as info:
        compiled.batch_gd(x, y, lr=5.0, epochs=10_000, method=method)
    assert info.value.result.epochs == info.value.epoch > 0


# ----------------------------------------------------- accepted input forms

def _forms():
    x, y = synthetic(101, seed=4)
    ro_x, ro_y = x.copy(), y.copy()
    ro_x.flags.writeable = False
    ro_y.flags.writeable = False
    wide_x, wide_y = np.repeat(x, 2), np.repeat(y, 2)
    return x, y, {
        "list": (x.tolist(), y.tolist()),
        "tuple": (tuple(x.tolist()), tuple(y.tolist())),
        "read-only": (ro_x, ro_y),
        "strided view": (wide_x[::2], wide_y[::2]),
        "big-endian": (x.astype(">f8"), y.astype(">f8")),
        "mixed dtypes": (x, y.astype(np.float32).astype(np.float64)),
        "float16 is widened": (x.astype(np.float16), y.astype(np.float16)),
        "ints": (np.arange(101), 2 * np.arange(101)),
        "int list": (list(range(101)), list(range(0, 202, 2))),
    }


@pytest.mark.parametrize("form", list(_forms()[2]))
@pytest.mark.parametrize("name", TRAINERS + ["cost", "gradient"])
def test_accepted_inputs_give_the_float64_answer(impl, form, name):
    xs, ys = _forms()[2][form]
    x64 = np.array(xs, dtype=np.float64)
    y64 = np.array(ys, dtype=np.float64)
    lr = 1e-5 if form.startswith("int") else 0.05
    if name in ("cost", "gradient"):
        got = getattr(impl, name)(xs, ys, np.float32(1.5))
        want = getattr(impl, name)(x64, y64, 1.5)
        assert type(got) is float and got == want
        return
    got = getattr(impl, name)(xs, ys, w=np.float64(0.5), lr=np.float32(lr),
                              epochs=np.int64(3))
    want = getattr(impl, name)(x64, y64, w=0.5, lr=float(np.float32(lr)), epochs=3)
    np.testing.assert_array_equal(got.w_history, want.w_history)
    np.testing.assert_array_equal(got.loss_history, want.loss_history)


def test_numpy_scalars_and_zero_d_arrays(impl):
    assert impl.forward(np.float32(2.0), np.float64(1.5)) == 3.0
    assert impl.loss(np.int64(2), np.array(1.0), 1.0) == 1.0
    assert impl.cost(np.array(2.0), np.array(1.0), np.array(1.0)) == 1.0
    assert impl.gradient(2.0, 1.0, 1.0) == 2 * 2.0 * (2.0 - 1.0)


def test_batch_size_larger_than_n_is_a_full_batch(impl):
    full = impl.minibatch_gd(X, Y, batch_size=3, epochs=5)
    big = impl.minibatch_gd(X, Y, batch_size=10 ** 9, epochs=5)
    np.testing.assert_array_equal(full.w_history, big.w_history)


# ------------------------------------------------------ no needless copies

CALLS = {
    "cost": lambda x, y: compiled.cost(x, y, 1.0),
    "gradient": lambda x, y: compiled.gradient(x, y, 1.0),
    "batch_gd pass": lambda x, y: compiled.batch_gd(x, y, epochs=3, method="pass"),
    "batch_gd stats": lambda x, y: compiled.batch_gd(x, y, epochs=3, method="stats"),
    "batch_gd 2 threads": lambda x, y: compiled.batch_gd(x, y, epochs=3, method="pass",
                                                         threads=2),
    "sgd": lambda x, y: compiled.sgd(x, y, epochs=3),
    "minibatch_gd": lambda x, y: compiled.minibatch_gd(x, y, epochs=3),
}


def _peak_bytes(call, x, y):
    call(x, y)                     # warm caches / lazy imports
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call(x, y)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CALLS))
def test_compiled_contiguous_input_is_not_copied(name, dtype):
    call = CALLS[name]
    peaks = []
    for n in (10_000, 1_000_000):
        x, y = synthetic(n, seed=1, dtype=dtype)
        peaks.append(_peak_bytes(call, x, y))
    # a copy of one array would be >= 4 MB at n = 1e6; allow small bookkeeping
    assert peaks[1] < 64 * 1024, peaks
    assert peaks[1] - peaks[0] < 16 * 1024, peaks


@pytest.mark.parametrize("name", ["sgd", "minibatch_gd"])
def test_compiled_shuffle_allocates_one_order_buffer(name):
    x, y = synthetic(1_000_000, seed=1)
    peak = _peak_bytes(lambda a, b: getattr(compiled, name)(a, b, epochs=2, shuffle=True,
                                                            seed=0), x, y)
    # one int64 order buffer refilled in place (iota + rng.shuffle): 8 MB,
    # not a fresh rng.permutation(n) beside it
    assert peak < 8 * 1_000_000 + 64 * 1024


# ------------------------------------------------------------ the GIL

def test_compiled_kernels_release_the_gil():
    """A pure-Python loop in the main thread finishes while a long kernel
    runs in another thread; with the GIL held, it would wait for the kernel."""
    x, y = synthetic(1_000_000, seed=2)
    done = threading.Event()

    def long_job():
        compiled.sgd(x, y, lr=0.01, epochs=150, method="plain")   # ~0.6 s
        done.set()

    worker = threading.Thread(target=long_job)
    worker.start()
    time.sleep(0.05)  # let the kernel start
    total = 0
    for i in range(200_000):  # ~20 ms of bytecode
        total += i
    finished_first = not done.is_set()
    worker.join()
    assert finished_first, "the Python loop was blocked until the kernel ended"


def test_compiled_concurrent_calls_give_the_serial_results():
    x, y = synthetic(200_000, seed=6)
    jobs = [
        lambda: compiled.batch_gd(x, y, epochs=20, method="pass").w_history,
        lambda: compiled.batch_gd(x, y, epochs=20, method="stats").w_history,
        lambda: compiled.sgd(x, y, epochs=3, shuffle=True, seed=3).w_history,
        lambda: compiled.minibatch_gd(x, y, epochs=3).w_history,
        lambda: np.array([compiled.cost(x, y, 2.5), compiled.gradient(x, y, 2.5)]),
    ]
    serial = [job() for job in jobs]
    results = {}

    def run(k):
        results[k] = jobs[k % len(jobs)]()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3 * len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, got in results.items():
        np.testing.assert_array_equal(got, serial[k % len(jobs)])


def test_compiled_thread_count_does_not_change_results():
    x, y = synthetic(3_000_001, seed=7)
    one = compiled.batch_gd(x, y, epochs=4, method="pass", threads=1)
    two = compiled.batch_gd(x, y, epochs=4, method="pass", threads=2)
    np.testing.assert_array_equal(one.w_history, two.w_history)
    np.testing.assert_array_equal(one.loss_history, two.loss_history)
    assert compiled.cost(x, y, 1.0, threads=2) == compiled.cost(x, y, 1.0, threads=1)


# ------------------------------------------------------------ Ctrl-C

INTERRUPT_CHILD = textwrap.dedent("""
    import sys, time, numpy as np
    import {module} as gdfast
    x = np.random.default_rng(0).standard_normal({n})
    y = 2 * x
    print("started", flush=True)
    t0 = time.perf_counter()
    try:
        gdfast.{call}
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted after %.2f s" % (time.perf_counter() - t0), flush=True)
    # the process is healthy afterwards
    print("healthy", gdfast.cost([1.0, 2.0], [2.0, 4.0], 2.0), flush=True)
""")


@pytest.mark.parametrize("n,call", [
    (3_000_000, "sgd(x, y, epochs=10**6)"),
    (1000, "minibatch_gd(x.reshape(-1, 2), y[:500], epochs=10**8, fit_intercept=True)"),
    (3_000_000, "batch_gd(x, y, epochs=10**6, method='pass')"),
    (3_000_000, "minibatch_gd(x, y, epochs=10**6, shuffle=True)"),
    (3, "batch_gd(x, y, epochs=2 * 10**8, lr=1e-3, method='stats')"),
    (3000, "batch_gd(x.reshape(-1, 3), y[:1000], epochs=2 * 10**8, lr=1e-3, "
           "fit_intercept=True, method='stats')"),
    (3, "sgd(x, y, epochs=2 * 10**8, lr=1e-3)"),
])
def test_ctrl_c_stops_a_long_run_promptly(impl, n, call, tmp_path):
    if impl.IMPLEMENTATION == "python":
        n = min(n, 100_000)                     # the reference converts to lists first
        call = call.replace(", method='pass'", "").replace(", method='stats'", "")
    code = INTERRUPT_CHILD.format(n=n, call=call, module=impl.__name__)
    # cwd away from the source tree, so the child imports the installed gdfast
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(0.5)                       # well inside the kernel
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted after"), out
    assert float(lines[0].split()[2]) < 5.0   # ~0.5 s plus latency
    assert lines[1] == "healthy 0.0"


# ------------------------------------------------------------ leaks

def _rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's quarantine holds freed memory (tests/memcheck.sh)")
def test_compiled_many_small_calls_keep_rss_flat():
    x, y = np.array(X), np.array(Y)

    def burst(k):
        for _ in range(k):
            compiled.cost(X, Y, 1.5)
            compiled.gradient(x, y, 1.5)
            compiled.sgd(x, y, epochs=2)
            compiled.minibatch_gd(X, Y, 2, epochs=2, shuffle=True, seed=1)
            try:
                compiled.cost([1.0, np.nan], Y[:2], 1.0)
            except ValueError:
                pass

    burst(5_000)
    before = _rss_bytes()
    burst(25_000)   # 100k+ calls in all
    grown = _rss_bytes() - before
    assert grown < 4 * 1024 * 1024, f"RSS grew by {grown} bytes"


@pytest.mark.parametrize("call", [
    lambda X, y, cb: compiled.sgd(X, y, w=0.0, lr=1e-6, epochs=3, method="plain", callback=cb),
    lambda X, y, cb: compiled.batch_gd(X, y, w=0.0, lr=1e-6, epochs=3, method="pass",
                                       callback=cb),
    lambda X, y, cb: compiled.minibatch_gd(X, y, 8, w=0.0, lr=1e-6, epochs=3, callback=cb),
])
@pytest.mark.parametrize("shape", [(1, 4000 * 4), (2000, 8), (8000, 2)])
def test_a_callback_reshaping_the_callers_x_changes_nothing(call, shape):
    """The trainers keep views of their own: a callback that sets the
    caller's X.shape (the same buffer seen as another shape) neither
    crashes the run nor changes it (the kernels re-read X's shape every
    epoch, past the ends of w and y)."""
    X = np.random.default_rng(0).standard_normal((4000, 4))
    y = X @ [1.0, 2.0, 3.0, 4.0]
    expected = call(X.copy(), y, None)

    def cb(e, w, loss):
        X.shape = shape
        y.shape = (1, 4000)
    got = call(X, y, cb)
    np.testing.assert_array_equal(got.coef_history, expected.coef_history)
