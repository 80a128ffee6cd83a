"""The benchmark report behind ``gdfast bench`` (and ``python bench/report.py``).

It times, in one process and one run, each operation at each N for each
implementation -- gdfast, the pure-Python reference, the obvious numpy code
-- against the *floor*: one single-threaded ``np.dot(x, y)``, i.e. one
streaming read of the same two arrays (memory bandwidth beyond the L3 cache,
cache bandwidth within it). It prints ns per sample per epoch (medians over
repeats), the ratios, gdfast's peak extra memory (tracemalloc), and saves a
log-log PNG of time per epoch against N.

The operation definitions (OPERATIONS) are shared with the pytest-benchmark
suite in bench/, so both measure the same code.
"""

import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

__all__ = ["OPERATIONS", "IMPLEMENTATIONS", "make_data", "floor", "add_arguments", "run"]

SIZES = (3, 10**3, 10**5, 10**6, 10**7)
REFERENCE_MAX_N = 10**5
LR, BATCH = 0.01, 32


def make_data(n, dtype=np.float64, seed=0):
    """y = 2x + noise; the tutorial's own data when n == 3."""
    if n == 3:
        return np.array([1.0, 2.0, 3.0], dtype), np.array([2.0, 4.0, 6.0], dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = 2.0 * x + 0.1 * rng.standard_normal(n)
    return x.astype(dtype), y.astype(dtype)


# --- the obvious numpy code a user would write --------------------------------

def numpy_bgd_epoch(x, y, w=1.0, lr=LR):
    cost = np.mean((x * w - y) ** 2)
    grad = np.mean(2 * x * (x * w - y))
    return w - lr * grad, cost


def numpy_minibatch_epoch(x, y, w=1.0, lr=LR, batch_size=BATCH):
    for start in range(0, len(x), batch_size):
        bx, by = x[start:start + batch_size], y[start:start + batch_size]
        cost = np.mean((bx * w - by) ** 2)
        w -= lr * np.mean(2 * bx * (bx * w - by))
    return w, cost


def numpy_batch_gd(x, y, w=1.0, lr=LR, epochs=100):
    for _ in range(epochs):
        w, _ = numpy_bgd_epoch(x, y, w, lr)
    return w


# --- operations: name -> (epochs per call, {implementation: factory}) ----------
# A factory takes (x, y, lists) and returns a zero-argument callable; `lists`
# holds x, y as Python lists for the reference (as the tutorial has them).

def _gd():
    import gdfast
    return gdfast


def _ref():
    from gdfast import reference
    return reference


OPERATIONS = {
    "bgd_epoch": (1, {
        "gdfast": lambda x, y, L: lambda: _gd().batch_gd(x, y, lr=LR, epochs=1, method="pass"),
        "reference": lambda x, y, L: lambda: _ref().batch_gd(*L, lr=LR, epochs=1),
        "numpy": lambda x, y, L: lambda: numpy_bgd_epoch(x, y),
    }),
    "sgd_epoch": (1, {
        "gdfast": lambda x, y, L: lambda: _gd().sgd(x, y, lr=LR, epochs=1),
        "reference": lambda x, y, L: lambda: _ref().sgd(*L, lr=LR, epochs=1),
    }),
    "minibatch32_epoch": (1, {
        "gdfast": lambda x, y, L: lambda: _gd().minibatch_gd(x, y, BATCH, lr=LR, epochs=1),
        "reference": lambda x, y, L: lambda: _ref().minibatch_gd(*L, BATCH, lr=LR, epochs=1),
        "numpy": lambda x, y, L: lambda: numpy_minibatch_epoch(x, y),
    }),
    "batch_gd_100": (100, {
        "gdfast": lambda x, y, L: lambda: _gd().batch_gd(x, y, lr=LR, epochs=100),
        "reference": lambda x, y, L: lambda: _ref().batch_gd(*L, lr=LR, epochs=100),
        "numpy": lambda x, y, L: lambda: numpy_batch_gd(x, y),
    }),
}
IMPLEMENTATIONS = ("gdfast", "reference", "numpy")

#: Largest N each (operation, implementation) is timed at, where it is capped:
#: the reference is hopeless beyond 1e5 (the point of gdfast), and a Python
#: loop over 32-sample numpy slices or 100 reference epochs would take minutes.
MAX_N = {("reference", "batch_gd_100"): 10**4,
         ("numpy", "minibatch32_epoch"): 10**6}


def applicable(op, impl, n):
    if impl not in OPERATIONS[op][1]:
        return False
    cap = MAX_N.get((impl, op), REFERENCE_MAX_N if impl == "reference" else None)
    return cap is None or n <= cap


PRIMITIVES = {
    "cost": lambda m, X, Y: lambda: m.cost(X, Y, 1.0),
    "gradient": lambda m, X, Y: lambda: m.gradient(X, Y, 1.0),
    "forward": lambda m, X, Y: lambda: m.forward(X, 1.0),
    "loss": lambda m, X, Y: lambda: m.loss(X, Y, 1.0),
}


# --- measuring ----------------------------------------------------------------

def median_time(fn, repeats, budget=1.0):
    """Median wall time of fn() over `repeats` runs (fewer if one run exceeds
    the budget, at least 3); fast calls are batched so each sample is >= 1 ms."""
    fn()                                             # warm up
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    inner = max(1, int(1e-3 / max(once, 1e-9)))
    reps = repeats if once * repeats <= budget * repeats else 3
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def median_pair(fn, ref, repeats, budget=1.0):
    """Time fn() and ref() alternately (which goes first alternates too), so
    that their ratio compares runs made under the same load: this shared
    machine's speed drifts by tens of percent within seconds. Returns
    (median time of fn, t_ref) with ``median time / t_ref`` the median of the
    per-repeat ratios fn/ref. Fast calls are batched and slow ones repeated
    at least 3 times, as in median_time."""
    def inner_of(f):
        f()
        t0 = time.perf_counter()
        f()
        once = time.perf_counter() - t0
        return max(1, int(1e-3 / max(once, 1e-9))), once
    (ki, once_f), (kr, once_r) = inner_of(fn), inner_of(ref)
    reps = repeats if max(once_f, once_r) <= budget else 3

    def timed(f, k):
        t0 = time.perf_counter()
        for _ in range(k):
            f()
        return (time.perf_counter() - t0) / k
    a, ratios = [], []
    for i in range(reps):
        if i % 2:
            tf = timed(fn, ki)
            tr = timed(ref, kr)
        else:
            tr = timed(ref, kr)
            tf = timed(fn, ki)
        a.append(tf)
        ratios.append(tf / tr)
    t = statistics.median(a)
    return t, t / statistics.median(ratios)


def blas_threads(n):
    """Context limiting numpy's BLAS (not OpenMP: gdfast's threads= stays free)
    to n threads. Idle OpenBLAS threads spin for a while after each call and
    would steal the second core from whatever is timed next."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=n, user_api="blas")


def floor(x, y, repeats):
    """Median time of one single-threaded streaming read: np.dot(x, y)."""
    with blas_threads(1):
        return median_time(lambda: np.dot(x, y), repeats)


def peak_extra_bytes(fn):
    """Peak memory fn() allocates beyond what it returns (tracemalloc)."""
    fn()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return cpu


def build_info():
    from gdfast import _kernels
    info = [f"numpy {np.__version__}", f"Python {platform.python_version()}"]
    try:
        import Cython
        info.append(f"Cython {Cython.__version__}")
    except ImportError:
        pass
    info.append("portable build (-O3 -ffp-contract=off, no -march=native; block kernel "
                f"dispatched at run time to {_kernels.simd()}), "
                f"OpenMP threads available: {_kernels.openmp_threads()}")
    return ", ".join(info)


# --- the report -----------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES),
                        help="comma-separated N values (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed repeats per cell; the median is reported (default: 7)")
    parser.add_argument("--png", default="gdfast-bench.png",
                        help="log-log plot path, '' for none (default: %(default)s)")
    parser.add_argument("--features", default="10,100",
                        help="feature counts d for the many-feature section, '' for none "
                             "(default: %(default)s)")
    parser.add_argument("--markdown", action="store_true",
                        help="print the tables as Markdown (as in README.md)")


def _fmt(v, spec=".2f"):
    return "—" if v is None else format(v, spec)


def _table(header, rows, markdown):
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = []
    if markdown:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|")
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    else:
        lines.append("  ".join(str(h).rjust(w) for h, w in zip(header, widths)))
        lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def run(args):
    import gdfast
    from gdfast import reference
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        print("gdfast bench needs threadpoolctl (to time the single-threaded floor): "
              "pip install 'gdfast[bench]'", file=sys.stderr)
        return 1

    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    reps = max(3, args.repeats)
    md = args.markdown
    print(f"gdfast {gdfast.__version__} ({gdfast.IMPLEMENTATION}) benchmark report")
    print(f"machine: {machine()}, {os.cpu_count()} cores; {build_info()}")
    print(f"float64, lr={LR}; times are ns per sample per epoch, medians of {reps} repeats; "
          "floor = single-threaded np.dot(x, y), one streaming read of x and y; "
          "×floor = a whole call's time over the floor's (for batch_gd_100: all 100 "
          "epochs), the floor timed alternately with it (the floor column: timed "
          "alone); ref/gdfast and numpy/gdfast are speed-ups of gdfast\n")

    times = {}      # (op, impl, n) -> seconds per epoch
    mem = {}        # (op, n) -> bytes
    floors = {}
    paired = {}     # (op, n) -> the floor timed alternately with gdfast's op
    for n in sizes:
        x, y = make_data(n)
        lists = (x.tolist(), y.tolist())
        floors[n] = floor(x, y, reps)
        for op, (epochs, impls) in OPERATIONS.items():
            for impl in IMPLEMENTATIONS:
                if not applicable(op, impl, n):
                    continue
                fn = impls[impl](x, y, lists)
                with blas_threads(1 if impl == "gdfast" else None):
                    if impl == "gdfast":
                        t, paired[op, n] = median_pair(fn, lambda: np.dot(x, y), reps)
                    else:
                        t = median_time(fn, reps)
                    times[op, impl, n] = t / epochs
            mem[op, n] = peak_extra_bytes(OPERATIONS[op][1]["gdfast"](x, y, lists))
        del x, y, lists

    header = ["operation", "d", "N", "gdfast", "×floor", "reference", "ref/gdfast",
              "numpy", "numpy/gdfast", "floor", "peak extra mem"]
    rows = []
    for op in OPERATIONS:
        for n in sizes:
            g = times[op, "gdfast", n]
            r = times.get((op, "reference", n))
            p = times.get((op, "numpy", n))
            ns = lambda t: None if t is None else t / n * 1e9  # noqa: E731
            epochs = OPERATIONS[op][0]
            rows.append([op, 1, f"{n:.0e}" if n >= 1000 else n, _fmt(ns(g), ".3f"),
                         _fmt(g * epochs / paired[op, n]), _fmt(ns(r), ".1f"),
                         _fmt(None if r is None else r / g, ".0f"),
                         _fmt(ns(p), ".3f"), _fmt(None if p is None else p / g, ".1f"),
                         _fmt(ns(floors[n]), ".3f"), f"{mem[op, n] / 1024:.1f} KiB"])
    print(_table(header, rows, md))

    # float32 and threads: at the largest N, and threads also at 1e6 (in cache)
    big = max(sizes)
    extra = []
    variant_times = {}
    for n in sorted({big, min(big, 10**6)}):
        x, y = make_data(n)
        x32, y32 = x.astype(np.float32), y.astype(np.float32)
        variants = [
            ("bgd_epoch 1 thread", lambda: gdfast.batch_gd(x, y, epochs=1, method="pass")),
            ("bgd_epoch 2 threads", lambda: gdfast.batch_gd(x, y, epochs=1, method="pass",
                                                            threads=2)),
        ]
        if n == big:   # float64 and float32 measured back to back, op by op
            variants[:0] = [
                (f"{op} {dt}", OPERATIONS[op][1]["gdfast"](*data, None))
                for op in ("bgd_epoch", "sgd_epoch", "minibatch32_epoch")
                for dt, data in (("float64", (x, y)), ("float32", (x32, y32)))
            ]
            # mini-batch's affine form: alone, and per epoch of a 10-epoch
            # "auto" call
            variants += [
                (MB_AFFINE, lambda: gdfast.minibatch_gd(x, y, BATCH, lr=LR, epochs=1,
                                                        method="affine")),
                (MB_AUTO10, lambda: gdfast.minibatch_gd(x, y, BATCH, lr=LR, epochs=10)),
                # the shuffles, epoch for epoch: the affine SGD epoch (without
                # the maxima auto collects for its certificate), unshuffled,
                # in the locality-keeping "blocks" order and in the exact one
                (SGD_AFFINE, lambda: gdfast.sgd(x, y, lr=LR, epochs=1, method="affine")),
                (SGD_BLOCKS, lambda: gdfast.sgd(x, y, lr=LR, epochs=1, method="affine",
                                                shuffle="blocks", seed=0)),
                (SGD_EXACT, lambda: gdfast.sgd(x, y, lr=LR, epochs=1, method="affine",
                                               shuffle=True, seed=0)),
            ]
        fl = floors.get(n) or floor(x, y, reps)
        fns = dict(variants)
        timed = []
        with blas_threads(1):
            for label, fn in variants:
                per = 10 if label == MB_AUTO10 else 1
                if label in (SGD_BLOCKS, SGD_EXACT):    # alternately with the unshuffled
                    t, t_u = median_pair(fn, fns[SGD_AFFINE], reps)
                    variant_times[label, "/unshuffled", n] = t / t_u
                elif label.endswith(" float32"):        # alternately with float64's
                    t, t_64 = median_pair(fn, fns[label[:-len("float32")] + "float64"], reps)
                    variant_times[label, "/float64", n] = t / t_64
                elif label in (MB_AFFINE, MB_AUTO10):   # alternately with the floor
                    t, t_f = median_pair(fn, lambda: np.dot(x, y), reps)
                    variant_times[label, "/floor", n] = t / per / t_f
                else:
                    t = median_time(fn, reps)
                timed.append((label, t / per))
        with blas_threads(2):     # last: what two cores' bandwidth allows
            timed.append(("floor on 2 threads (np.dot)",
                          median_time(lambda: np.dot(x, y), reps)))
        for label, t in timed:
            variant_times[label, n] = t
            extra.append([label, f"{n:.0e}", _fmt(t / n * 1e9, ".3f"), _fmt(t / fl)])
        del x, y, x32, y32
    print("\nfloat32 and threads (×floor against the float64 floor; float32 data is half "
          "the bytes)")
    print(_table(["variant", "N", "gdfast ns/sample", "×floor"], extra, md))

    X, Y = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    prim = []
    for name, make in PRIMITIVES.items():
        g = median_time(make(gdfast, X, Y), reps)
        r = median_time(make(reference, X, Y), reps)
        prim.append([name, _fmt(g * 1e9, ".0f"), _fmt(r * 1e9, ".0f"), _fmt(r / g, ".1f")])
    print("\nprimitives on the tutorial's 3-element Python lists")
    print(_table(["primitive", "gdfast ns/call", "reference ns/call", "ref/gdfast"], prim, md))

    print(f"\ntargets at N = {big:.0e} (d = 1), with the figure this run measured")
    print(_table(["target", "measured", "met"],
                 _targets(times, paired, mem, variant_times, prim, sizes), md))

    features = [int(v) for v in args.features.split(",") if v]
    ftimes = {}
    if features:
        ftimes = _features(features, max(sizes), reps, md)
    if args.png:
        _plot(times, floors, sizes, args.png, ftimes)
    return 0


# --- many features ----------------------------------------------------------------

def make_rows(n, d, dtype=np.float64, seed=0):
    """X (n, d) standard normal, y = X @ (1..d) + 3 + noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ np.arange(1.0, d + 1.0) + 3.0 + 0.1 * rng.standard_normal(n)
    return X.astype(dtype), y


def numpy_bgd_epoch_rows(X, y, w, b, lr=LR):
    """The vectorised batch-GD epoch a numpy user writes (with an intercept)."""
    r = X @ w + b - y
    cost = r @ r / len(y)
    return w - lr * (2.0 / len(y)) * (X.T @ r), b - lr * 2.0 * r.mean(), cost


FEATURE_OPS = {
    # name -> (epochs per call, {impl: factory(X, y) -> callable}); fit_intercept=True
    "bgd_epoch": (1, {
        "gdfast": lambda X, y: lambda: _gd().batch_gd(X, y, lr=LR, epochs=1, method="pass",
                                                      fit_intercept=True),
        "numpy": lambda X, y: lambda: numpy_bgd_epoch_rows(X, y, np.ones(X.shape[1]), 0.0),
    }),
    "sgd_epoch": (1, {
        "gdfast": lambda X, y: lambda: _gd().sgd(X, y, lr=LR / X.shape[1], epochs=1,
                                                 fit_intercept=True),
        "sklearn": lambda X, y: _sklearn_sgd_epoch(X, y),
    }),
    "minibatch32_epoch": (1, {
        "gdfast": lambda X, y: lambda: _gd().minibatch_gd(X, y, BATCH, lr=LR, epochs=1,
                                                          fit_intercept=True),
    }),
    "batch_gd_100": (100, {
        "gdfast": lambda X, y: lambda: _gd().batch_gd(X, y, lr=LR, epochs=100,
                                                      fit_intercept=True),
    }),
}


def _sklearn_sgd_epoch(X, y):
    """One epoch of scikit-learn's SGDRegressor with gdfast's update rule
    (eta0 = 2*lr: its squared loss is half of ours), or None if absent."""
    try:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import SGDRegressor
    except ImportError:
        return None

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            SGDRegressor(penalty=None, learning_rate="constant", eta0=2 * LR / X.shape[1],
                         shuffle=False, max_iter=1, tol=None,
                         fit_intercept=True).fit(X, y)
    return fit


def _feature_sizes(d, big):
    """N values of the many-feature lines: the largest holds about as many
    bytes as the d = 1 data at N = big (x and y)."""
    top = max(1000, int(big * 2 // (d + 1)))
    return sorted({1000, min(top, 10**5), top})


def _features(features, big, reps, md):
    """Time the many-feature operations; print the table and the targets."""
    times, floors, paired = {}, {}, {}
    rows = []
    for d in features:
        for n in _feature_sizes(d, big):
            X, y = make_rows(n, d)
            half = np.ones((n * (d + 1)) // 2)
            other = half[::-1].copy()
            floors[d, n] = floor(half, other, reps)
            for op, (epochs, impls) in FEATURE_OPS.items():
                for impl, make in impls.items():
                    fn = make(X, y)
                    if fn is None:
                        continue
                    with blas_threads(1):
                        if impl == "gdfast":    # timed alternately with the floor
                            t, paired[op, d, n] = median_pair(
                                fn, lambda: np.dot(half, other), reps)
                        else:                   # ... and a peer with gdfast's op
                            t, paired[op, impl, d, n] = median_pair(
                                fn, impls["gdfast"](X, y), reps)
                        times[op, impl, d, n] = t / epochs
            X32 = X.astype(np.float32)
            with blas_threads(1):               # alternately with float64's epoch
                times["bgd_epoch", "gdfast float32", d, n], paired["float32", d, n] = \
                    median_pair(FEATURE_OPS["bgd_epoch"][1]["gdfast"](X32, y),
                                FEATURE_OPS["bgd_epoch"][1]["gdfast"](X, y), reps)
            del X, X32, y, half
    for op, (epochs, impls) in FEATURE_OPS.items():
        for d in features:
            for n in _feature_sizes(d, big):
                g = times[op, "gdfast", d, n]
                others = [f"{impl} {times[op, impl, d, n] * epochs / paired[op, impl, d, n]:.1f}"
                          "× slower" for impl in impls
                          if impl != "gdfast" and (op, impl, d, n) in times]
                rows.append([op, d, f"{n:.0e}", _fmt(g / n * 1e9, ".3f"),
                             _fmt(g * epochs / paired[op, d, n]), ", ".join(others) or "—",
                             _fmt(floors[d, n] / n * 1e9, ".3f")])
    print("\nmany features: X (N, d) float64, fit_intercept=True, one thread "
          "(sgd: lr = 0.01/d); floor = single-threaded np.dot over the same number of bytes "
          "as X and y; ×floor against the floor timed alternately with each operation "
          "(the floor column: timed alone)")
    print(_table(["operation", "d", "N", "gdfast ns/sample", "×floor", "peers", "floor"],
                 rows, md))
    print("\ntargets for many features (at the largest N of each d)")
    print(_table(["target", "measured", "met"], _feature_targets(times, paired, features, big),
                 md))
    return times


def _feature_targets(times, paired, features, big):
    """The targets; each ×floor against the floor timed alternately with it."""
    rows = []

    def row(text, value, ok):
        rows.append([text, "—" if value is None else f"{value:.2f}×",
                     "—" if value is None else ("yes" if ok(value) else "NO")])

    for d in features:
        n = max(_feature_sizes(d, big))
        t = {op: times[op, "gdfast", d, n] for op in FEATURE_OPS}
        fl = {op: paired[op, d, n] for op in FEATURE_OPS}
        row(f"d={d}: bgd_epoch ≤ 1.5× floor", t["bgd_epoch"] / fl["bgd_epoch"],
            lambda v: v <= 1.5)
        row(f"d={d}: sgd_epoch ≤ 2.5× floor", t["sgd_epoch"] / fl["sgd_epoch"],
            lambda v: v <= 2.5)
        sk = times.get(("sgd_epoch", "sklearn", d, n))     # timed alternately with gdfast
        row(f"d={d}: sgd_epoch ≥ 5× faster than SGDRegressor",
            None if sk is None else sk / paired["sgd_epoch", "sklearn", d, n],
            lambda v: v >= 5)
        row(f"d={d}: minibatch32_epoch ≤ 1.5× floor",
            t["minibatch32_epoch"] / fl["minibatch32_epoch"], lambda v: v <= 1.5)
        limit = 4 if d <= 10 else 20
        row(f"d={d}: batch_gd_100 (auto), all 100 epochs ≤ {limit}× floor",
            100 * t["batch_gd_100"] / fl["batch_gd_100"], lambda v, limit=limit: v <= limit)
        row(f"d={d}: bgd_epoch float32 time / float64 time ≤ 1",
            times["bgd_epoch", "gdfast float32", d, n] / paired["float32", d, n],
            lambda v: v <= 1)
    return rows


MB_AFFINE = "minibatch32_epoch method='affine'"
MB_AUTO10 = "minibatch32 per epoch of a 10-epoch call (auto)"
SGD_AFFINE = "sgd_epoch method='affine'"
SGD_BLOCKS = "sgd_epoch method='affine' shuffle='blocks'"
SGD_EXACT = "sgd_epoch method='affine' shuffle=True"


def _targets(times, paired, mem, variant_times, prim, sizes):
    """Each target of the speed issue with the figure this run measured
    (each ratio from two timings made alternately: median_pair)."""
    big, small = max(sizes), min(sizes)
    ref_n = max((n for n in sizes if ("bgd_epoch", "reference", n) in times), default=None)
    rows = []

    def row(text, value, ok, unit="×"):
        rows.append([text, "—" if value is None else f"{value:.2f}{unit}",
                     "—" if value is None else ("yes" if ok(value) else "NO")])

    def per_sample(op, impl, n):
        t = times.get((op, impl, n))
        return None if t is None else t / n

    fl = {op: paired[op, big] for op in OPERATIONS}
    g = {op: times[op, "gdfast", big] for op in OPERATIONS}
    row("bgd_epoch ≤ 1.5× floor", g["bgd_epoch"] / fl["bgd_epoch"], lambda v: v <= 1.5)
    p = times.get(("bgd_epoch", "numpy", big))
    row("bgd_epoch ≥ 5× faster than numpy", None if p is None else p / g["bgd_epoch"],
        lambda v: v >= 5)
    for op, need in (("bgd_epoch", 150), ("sgd_epoch", 100)):
        r = per_sample(op, "reference", ref_n) if ref_n else None
        row(f"{op} ≥ {need}× faster than the reference (its ns/sample at N={ref_n:.0e}, "
            "flat in N)" if ref_n else f"{op} vs reference",
            None if r is None else r / (g[op] / big), lambda v, need=need: v >= need)
    row("sgd_epoch ≤ 3× floor", g["sgd_epoch"] / fl["sgd_epoch"], lambda v: v <= 3)
    row("minibatch32_epoch ≤ 1.5× floor", g["minibatch32_epoch"] / fl["minibatch32_epoch"],
        lambda v: v <= 1.5)
    for label in (MB_AFFINE, MB_AUTO10):
        row(f"{label} ≤ 1.5× floor", variant_times.get((label, "/floor", big)),
            lambda v: v <= 1.5)
    for label, limit in ((SGD_BLOCKS, 3), (SGD_EXACT, None)):
        row(f"{label}: time / the unshuffled affine epoch" + (f" ≤ {limit}" if limit else ""),
            variant_times.get((label, "/unshuffled", big)),
            lambda v, limit=limit: limit is None or v <= limit)
    row("batch_gd_100, all 100 epochs ≤ 3× floor",
        100 * g["batch_gd_100"] / fl["batch_gd_100"], lambda v: v <= 3)
    worst = min(float(r[3]) for r in prim)
    row("primitives on 3-element lists ≥ 2× faster than the reference (worst)", worst,
        lambda v: v >= 2)
    for op, label in (("bgd_epoch", "bgd_epoch"), ("sgd_epoch", "sgd_epoch"),
                      ("minibatch32_epoch", "minibatch32_epoch")):
        row(f"{label}: float32 time / float64 time ≤ 1",
            variant_times.get((f"{label} float32", "/float64", big)), lambda v: v <= 1.0)
    t1 = variant_times.get(("bgd_epoch 1 thread", big))
    t2 = variant_times.get(("bgd_epoch 2 threads", big))
    d2 = variant_times.get(("floor on 2 threads (np.dot)", big))
    row("bgd_epoch: 2 threads ≥ 1.7× faster than 1", None if t2 is None else t1 / t2,
        lambda v: v >= 1.7)
    row("(memory system: np.dot 2 threads vs 1)",
        None if d2 is None else fl["bgd_epoch"] / d2,
        lambda v: True)
    growth = max(mem[op, big] - mem[op, small] for op in OPERATIONS)
    rows.append([f"peak extra memory independent of N (largest growth N={small} → "
                 f"N={big:.0e})", f"{growth / 1024:+.1f} KiB", "yes" if growth < 64 * 1024
                 else "NO"])
    return rows


def _plot(times, floors, sizes, path, ftimes=None):
    try:
        import matplotlib
    except ImportError:
        print("plot skipped: matplotlib is not installed (pip install 'gdfast[plot]')",
              file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(OPERATIONS), figsize=(4 * len(OPERATIONS), 3.8),
                             sharey=True)
    for ax, op in zip(axes, OPERATIONS):
        for impl in IMPLEMENTATIONS:
            pts = [(n, times[op, impl, n]) for n in sizes if (op, impl, n) in times]
            if pts:
                ax.loglog(*zip(*pts), marker="o", label=f"{impl} (d=1)")
        for d in sorted({k[2] for k in (ftimes or {})}):
            pts = sorted((k[3], v) for k, v in ftimes.items()
                         if k[0] == op and k[1] == "gdfast" and k[2] == d)
            if pts:
                ax.loglog(*zip(*pts), marker="s", label=f"gdfast (d={d})")
        ax.loglog(sizes, [floors[n] for n in sizes], "k--", label="floor (np.dot)")
        ax.set_title(op)
        ax.set_xlabel("N samples (rows)")
    axes[0].set_ylabel("seconds per epoch")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nsaved {path}")
