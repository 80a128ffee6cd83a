"""GDRegressor against scikit-learn: one SGD epoch, and batch GD at convergence.

Run (needs scikit-learn and threadpoolctl, e.g. ``pip install '.[bench]'``)::

    python bench/bench_sklearn.py            # data ~160 MB per d (the issue's sizes)
    python bench/bench_sklearn.py --quick    # 1/20 of that: a sanity run (seconds)

Everything runs with BLAS pinned to one thread (threadpoolctl). Printed as
markdown tables; every time is the median over ``--repeats`` runs. In Table 1
the four calls of a cell (floor, GDRegressor, gdfast.sgd, SGDRegressor) are
timed in rounds, one call each, in a seeded random order per round
(``rotated``), and every ratio is the median of the per-round ratios: the machine's speed drifts
between calls timed in sequence.

Table 1, one epoch of ``solver="sgd"`` at d = 10 (n = 2e6) and d = 100
(n = 2e5), float64, ``fit_intercept=True``, with ``shuffle=False`` and
``shuffle=True`` on both sides, and gdfast's ``shuffle="blocks"`` against
SGDRegressor's (exact) shuffle:

* ``GDRegressor(solver="sgd", lr=lr, max_iter=1, tol=None, shuffle=s)``.fit:
  what a user waits for (validation, the epoch with its running loss);
* ``gdfast.sgd(X, y, w=0.0, lr=lr, epochs=1, fit_intercept=True, shuffle=s)``:
  the core epoch alone;
* ``SGDRegressor(penalty=None, learning_rate="constant", eta0=2*lr,
  max_iter=1, tol=None, shuffle=s)``.fit (the same updates: its squared loss
  is half of ours);
* floor: one single-threaded ``np.dot`` streaming X's bytes once;
* with ``shuffle=True`` also ``np.take(X, perm, axis=0, out=buf)``: numpy
  copying X's rows in a random order (a random-order read of X plus a
  sequential write), the memory system's price for visiting rows in an
  exact shuffle, which an exactly shuffled epoch pays on both sides.

Table 2, ``solver="batch"`` (lr="auto", method="stats" -- what "auto" picks
at the full sizes -- and tol=1e-12: it stops when the cost has not improved
by 1e-12 for 5 epochs) against
``LinearRegression`` and, with ``alpha``, ``Ridge(alpha*n)``: fit times, the
epochs run and the largest coefficient difference relative to the peer's.
"""

import argparse
import gc
import statistics
import sys
import time
import warnings

import numpy as np


def median_time(fn, repeats):
    fn()                                    # warm-up: imports, caches, first-touch
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rotated(fns, repeats, seed=0):
    """Each of fns timed once per round, in an order drawn afresh each round
    (seeded), so that every ratio compares calls made under the same load
    (this shared machine's speed drifts by tens of percent within seconds) and
    no call always follows the same neighbour. After one warm-up call each,
    and a garbage collection before every timed call; returns the rounds'
    times, rounds[i][k] for fns[k]."""
    rng = np.random.default_rng(seed)
    for fn in fns:
        fn()
    rounds = []
    for _ in range(repeats):
        t = [0.0] * len(fns)
        for k in rng.permutation(len(fns)):
            gc.collect()
            t0 = time.perf_counter()
            fns[k]()
            t[k] = time.perf_counter() - t0
        rounds.append(t)
    return rounds


def make_data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    y = X @ w + 3.0 + 0.1 * rng.standard_normal(n)
    return X, y


def sgd_table(sizes, repeats, seed):
    import gdfast
    from gdfast import GDRegressor
    from sklearn.linear_model import SGDRegressor

    rows = ["| d | n | shuffle | floor ms | GDRegressor ms (x floor) | gdfast.sgd epoch ms "
            "(x floor) | SGDRegressor ms (x floor) | SGDRegressor / GDRegressor | "
            "X[perm] copy ms (x floor) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for d, n in sizes:
        X, y = make_data(n, d, seed)
        flat = X.reshape(-1)
        half = flat.size // 2
        lr = 0.25 / (float(np.max(np.einsum("ij,ij->i", X, X))) + 1.0)
        perm = np.random.default_rng(seed).permutation(n)
        buf = np.empty_like(X)
        for shuffle in (False, True, "blocks"):
            gather = [lambda: np.take(X, perm, axis=0, out=buf)] if shuffle is True else []
            rounds = rotated([
                lambda: np.dot(flat[:half], flat[half:2 * half]),
                lambda: GDRegressor(solver="sgd", lr=lr, max_iter=1, tol=None,
                                    shuffle=shuffle, random_state=0).fit(X, y),
                lambda: gdfast.sgd(X, y, w=0.0, lr=lr, epochs=1, fit_intercept=True,
                                   shuffle=shuffle, seed=0),
                lambda: SGDRegressor(
                    penalty=None, learning_rate="constant", eta0=2 * lr, max_iter=1,
                    tol=None, shuffle=bool(shuffle), random_state=0,
                    fit_intercept=True).fit(X, y)] + gather, repeats)
            fl, ours, core, peer = (statistics.median(r[k] for r in rounds) for k in range(4))

            def ratio(a, b):
                return statistics.median(r[a] / r[b] for r in rounds)
            rows.append(f"| {d} | {n:.0e} | {shuffle} | {fl * 1e3:.1f} | "
                        f"{ours * 1e3:.1f} ({ratio(1, 0):.1f}x) | "
                        f"{core * 1e3:.1f} ({ratio(2, 0):.1f}x) | "
                        f"{peer * 1e3:.1f} ({ratio(3, 0):.1f}x) | {ratio(3, 1):.2f} | "
                        + (f"{statistics.median(r[4] for r in rounds) * 1e3:.1f} "
                           f"({ratio(4, 0):.1f}x) |" if gather else "— |"))
        del X, y, flat, buf
    rows.append("")
    rows.append("ms: each call's median over the rounds; (x floor) and SGDRegressor / "
                "GDRegressor: medians of the per-round ratios (so a ms ratio need not "
                "equal them)")
    return rows


def batch_table(sizes, repeats, seed, alpha):
    from gdfast import GDRegressor
    from sklearn.linear_model import LinearRegression, Ridge

    rows = ["| d | n | alpha | peer | GDRegressor(batch) ms | epochs | method | "
            "peer ms | GD / peer time | max rel coef diff |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for d, n in sizes:
        X, y = make_data(n, d, seed + 1)
        for a in (0.0, alpha):
            peer_est = LinearRegression() if a == 0 else Ridge(alpha=a * n)
            est = GDRegressor(solver="batch", alpha=a, tol=1e-12, max_iter=100_000,
                              method="stats")
            ours = median_time(lambda: est.fit(X, y), repeats)
            peer = median_time(lambda: peer_est.fit(X, y), repeats)
            diff = float(np.max(np.abs(est.coef_ - peer_est.coef_))
                         / np.max(np.abs(peer_est.coef_)))
            rows.append(f"| {d} | {n:.0e} | {a:g} | {type(peer_est).__name__} | "
                        f"{ours * 1e3:.1f} | {est.n_iter_} | {est.method_} | "
                        f"{peer * 1e3:.1f} | {ours / peer:.2f} | {diff:.1e} |")
        del X, y
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1/20 of the data (a sanity run of a few seconds)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per cell, median reported (default 5; 3 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.01,
                        help="the L2 strength of the Ridge rows (default 0.01)")
    args = parser.parse_args(argv)
    scale = 20 if args.quick else 1
    repeats = args.repeats or (3 if args.quick else 5)
    sizes = [(10, 2_000_000 // scale), (100, 200_000 // scale)]

    import sklearn
    from threadpoolctl import threadpool_limits

    import gdfast

    print(f"gdfast {gdfast.__version__} ({gdfast.IMPLEMENTATION}), scikit-learn "
          f"{sklearn.__version__}, numpy {np.__version__}, python "
          f"{sys.version.split()[0]}; BLAS 1 thread; median of {repeats}"
          + ("; --quick (1/20 size)" if args.quick else ""))
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")      # ConvergenceWarning of 1-epoch fits
        print("\n### One SGD epoch, fit_intercept=True, float64\n")
        print("\n".join(sgd_table(sizes, repeats, args.seed)))
        print("\n### solver='batch' (method='stats') to convergence (tol=1e-12) vs "
              "closed-form peers\n")
        print("\n".join(batch_table(sizes, repeats, args.seed, args.alpha)))


if __name__ == "__main__":
    main()
