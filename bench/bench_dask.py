"""gdfast.dask against the in-memory trainers and against dask-ml, one run.

    python bench/bench_dask.py            # 2e7 x 10 float64 in chunks of 1e6 rows
    python bench/bench_dask.py --quick    # 1/50 of that: a sanity run (seconds)

Rows of the table (wall-clock seconds; each in-memory and Dask pair timed
alternately, --repeats times, and the ratio the median of the per-repeat
ratios -- gdfast.benchreport.median_pair):

* in memory vs Dask, same data, same parameters:
  - batch_gd method "stats", 100 epochs, intercept (d = 10);
  - sgd, one epoch, intercept (d = 10): the chain of chunk tasks, over the
    chunks as the cluster placed them when persisting, and over the same
    chunks placed by ``gdfast.dask.persist`` (contiguous row ranges per
    worker: one change of worker per epoch);
  - sgd d = 1 (tutorial model), one epoch: in-memory "plain" and "affine"
    against gdfast.dask's composed affine maps on the cluster's workers;
    and 10 epochs (unshuffled, the Dask run composes the maps once).
* against the peers on the same Dask array (needs dask-ml; skipped with a
  note otherwise): dask-ml ``LinearRegression`` (its default solver and
  "gradient_descent") and ``Incremental(SGDRegressor)`` (chunks in order):
  each peer's time and final training loss, and the time gdfast.dask needs
  to reach that loss (batch_gd "stats" stopped by a callback; for the
  one-pass ``Incremental(SGDRegressor)`` also one epoch of gdfast.dask.sgd
  with the same updates: lr = eta0/2, the chunks in the same order). Each
  peer and gdfast's run alternate --peer-repeats times (default 3): median
  seconds and the median of the per-repeat ratios. Last, the read floor:
  ``dask.compute(X.sum(), y.sum())`` on the same cluster (numpy reading every
  chunk once), alternated with ``Incremental`` the same way, and the same
  tree over a trivial task per chunk (the scheduler's share): no method that reads the data once beats the
  one-pass peer by more than their ratio.

The cluster is ``distributed.LocalCluster(n_workers=--workers,
threads_per_worker=1, processes=False)`` (``--processes`` for worker
processes); the SGD rows are then repeated on Dask's default threaded
scheduler with --workers threads (no distributed). The data are generated in memory once (the in-memory trainers
need them) and wrapped with ``da.from_array``; the Dask runs persist them
first. Not part of the test suite; run it on a quiet machine.
"""

import argparse
import importlib.metadata as md
import sys
import time
import warnings

import numpy as np


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=float, default=2e7, help="samples (default 2e7)")
    ap.add_argument("--d", type=int, default=10, help="features (default 10)")
    ap.add_argument("--chunk", type=float, default=1e6, help="rows per chunk (default 1e6)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    ap.add_argument("--processes", action="store_true", help="worker processes, not threads")
    ap.add_argument("--repeats", type=int, default=5,
                    help="alternating repeats per pair (default 5)")
    ap.add_argument("--quick", action="store_true", help="1/50 of the rows and the chunk, "
                    "one repeat: a sanity run")
    ap.add_argument("--peer-repeats", type=int, default=3,
                    help="alternating repeats of each peer and gdfast's run to its loss "
                         "(default 3; the slowest peer takes about a minute a run)")
    ap.add_argument("--no-peers", action="store_true", help="skip dask-ml")
    a = ap.parse_args(argv)
    if a.quick:
        a.rows, a.chunk, a.repeats, a.peer_repeats = a.rows / 50, a.chunk / 50, 1, 1
    a.rows, a.chunk = int(a.rows), int(a.chunk)
    for name in ("rows", "chunk", "d", "workers", "repeats", "peer_repeats"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    return a


def paired(mem_fn, dask_fn, repeats):
    """(in-memory seconds, Dask seconds, their last results), the two timed
    alternately (gdfast.benchreport.median_pair: this machine's speed drifts
    by tens of percent within seconds, so runs made one after the other do
    not compare): the Dask time is its median, the in-memory time that
    divided by the median of the per-repeat Dask/in-memory ratios (calls
    over a second get 3 repeats, whatever ``repeats`` says)."""
    from gdfast.benchreport import median_pair
    last = {}

    def keep(name, fn):
        def run():
            last[name] = fn()
        return run
    t_d, t_m = median_pair(keep("dask", dask_fn), keep("mem", mem_fn), repeats)
    return t_m, t_d, last["mem"], last["dask"]


def make(rows, d, seed=0):
    rng = np.random.default_rng(seed)
    X = np.empty((rows, d))
    y = np.empty(rows)
    beta = np.linspace(-2.0, 2.0, d)
    for lo in range(0, rows, 1 << 20):
        hi = min(rows, lo + (1 << 20))
        X[lo:hi] = rng.normal(size=(hi - lo, d)) + 0.5
        y[lo:hi] = X[lo:hi] @ beta + 1.0 + 0.5 * rng.normal(size=hi - lo)
    return X, y


def mse(Xd, yd, coef, intercept):
    """Training loss mean((X w + b - y)**2) on the Dask array."""
    return float(((Xd @ np.asarray(coef, dtype=np.float64) + intercept - yd) ** 2)
                 .mean().compute())


def version(name):
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def main(argv=None):
    a = parse(argv)
    import dask
    import dask.array as da
    import distributed

    import gdfast
    import gdfast.dask as gdd

    rows, d, chunk = a.rows, a.d, a.chunk
    print(f"# gdfast.dask benchmark: {rows:,} x {d} float64, chunks of {chunk:,} rows, "
          f"{a.workers} workers ({'processes' if a.processes else 'threads'}), "
          f"medians of {a.repeats} alternating repeats")
    print("# versions: " + ", ".join(f"{p} {version(p)}" for p in
                                     ("gdfast", "numpy", "dask", "distributed", "dask-ml",
                                      "dask-glm", "scikit-learn") if version(p)))
    X, y = make(rows, d)
    x1 = np.ascontiguousarray(X[:, 0])             # the tutorial's model, d = 1
    y1 = 2.0 * x1 + 0.5 * np.sin(np.arange(rows))
    lines = []

    def row(what, t_mem, t_dask, note=""):
        ratio = t_dask / t_mem if t_mem else float("nan")
        lines.append(f"| {what} | {t_mem:.3f} | {t_dask:.3f} | {ratio:.2f} | {note} |")

    with distributed.LocalCluster(n_workers=a.workers, threads_per_worker=1,
                                  processes=a.processes, dashboard_address=":0") as cl, \
            distributed.Client(cl) as client, dask.config.set(scheduler=client):
        Xd = da.from_array(X, chunks=(chunk, d)).persist()
        yd = da.from_array(y, chunks=chunk).persist()
        x1d = da.from_array(x1, chunks=chunk).persist()
        y1d = da.from_array(y1, chunks=chunk).persist()
        distributed.wait([Xd, yd, x1d, y1d])

        kw = dict(w=0.0, lr=0.05, fit_intercept=True)
        t_m, t_d, r_m, r_d = paired(
            lambda: gdfast.batch_gd(X, y, epochs=100, method="stats", **kw),
            lambda: gdd.batch_gd(Xd, yd, epochs=100, method="stats", **kw), a.repeats)
        row("batch_gd stats, 100 epochs (target <= 1.5)", t_m, t_d,
            f"max \\|coef diff\\| {np.max(np.abs(r_m.coef - r_d.coef)):.1e}")

        sgd_rows(a, gdfast, gdd, (X, y, x1, y1), (Xd, yd, x1d, y1d), row)
        # the same chain over the same chunks placed by gdfast.dask.persist:
        # contiguous row ranges per worker (the placement gdfast's own persist
        # makes), so the chain changes workers once, not at every chunk
        Xg, yg = gdd.persist(Xd, yd)
        kw1 = dict(w=0.0, lr=1e-3, fit_intercept=True, epochs=1)
        t_m, t_d, r_m, r_d = paired(lambda: gdfast.sgd(X, y, **kw1),
                                    lambda: gdd.sgd(Xg, yg, **kw1), a.repeats)
        row(f"sgd d={d}, 1 epoch, the chunks placed by gdfast.dask.persist (target <= 1.3)",
            t_m, t_d,
            "bit-identical" if np.array_equal(r_m.coef, r_d.coef) else "DIFFERENT")
        del Xg, yg
        t_a, t_d, r_a, r_d = paired(
            lambda: gdfast.sgd(x1, y1, epochs=10, lr=1e-3, method="affine"),
            lambda: gdd.sgd(x1d, y1d, epochs=10, lr=1e-3, method="affine"), a.repeats)
        row("sgd d=1, 10 epochs, in-memory affine vs one composed map", t_a, t_d,
            f"\\|w diff\\| {abs(r_a.w - r_d.w):.1e}")

        print("\n| in memory vs gdfast.dask | in memory s | dask s | dask / memory | |")
        print("|---|---:|---:|---:|---|")
        print("\n".join(lines))
        peers(a, Xd, yd, gdd)

    # the same on Dask's default single-machine scheduler (threads, no
    # distributed): a hop is a thread hand-off, not a scheduler round trip
    lines.clear()
    with dask.config.set(scheduler="threads", num_workers=a.workers):
        Xd = da.from_array(X, chunks=(chunk, d))
        yd = da.from_array(y, chunks=chunk)
        x1d = da.from_array(x1, chunks=chunk)
        y1d = da.from_array(y1, chunks=chunk)
        sgd_rows(a, gdfast, gdd, (X, y, x1, y1), (Xd, yd, x1d, y1d), row)
    print(f"\n## Dask's threaded scheduler ({a.workers} threads, no distributed)\n")
    print("| in memory vs gdfast.dask | in memory s | dask s | dask / memory | |")
    print("|---|---:|---:|---:|---|")
    print("\n".join(lines))


def sgd_rows(a, gdfast, gdd, mem, lazy, row):
    """One SGD epoch in memory and on Dask: the chain of chunk tasks (many
    features), and the one-feature composed maps against the in-memory
    plain loop and what in-memory auto runs."""
    X, y, x1, y1 = mem
    Xd, yd, x1d, y1d = lazy
    kw = dict(w=0.0, lr=1e-3, fit_intercept=True)
    t_m, t_d, r_m, r_d = paired(lambda: gdfast.sgd(X, y, epochs=1, **kw),
                                lambda: gdd.sgd(Xd, yd, epochs=1, **kw), a.repeats)
    row(f"sgd d={X.shape[1]}, 1 epoch, a chain over {Xd.numblocks[0]} chunks as the scheduler "
        "placed them (target <= 1.3)",
        t_m, t_d, "bit-identical" if np.array_equal(r_m.coef, r_d.coef) else "DIFFERENT")

    def maps():
        return gdd.sgd(x1d, y1d, epochs=1, lr=1e-3, method="affine")
    t_p, t_d, r_p, r_d = paired(lambda: gdfast.sgd(x1, y1, epochs=1, lr=1e-3, method="plain"),
                                maps, a.repeats)
    row("sgd d=1, 1 epoch, in-memory plain vs composed maps (target <= 0.67)", t_p, t_d,
        f"\\|w diff\\| {abs(r_p.w - r_d.w):.1e}")
    t_a, t_d, r_a, r_d = paired(lambda: gdfast.sgd(x1, y1, epochs=1, lr=1e-3), maps,
                                a.repeats)
    row(f"sgd d=1, 1 epoch, in-memory auto ({r_a.method}) vs composed maps", t_a, t_d,
        f"\\|w diff\\| {abs(r_a.w - r_d.w):.1e}")


def reach(gdd, Xd, yd, target):
    """The epochs gdfast.dask.batch_gd (stats) runs to reach a loss <= target
    (the caller times it)."""
    return gdd.batch_gd(Xd, yd, w=0.0, lr=0.05, epochs=100_000, fit_intercept=True,
                        method="stats", callback=lambda e, w, loss: loss <= target).epochs


def against(peer, ours, repeats, loss=None):
    """(peer's median seconds, ours', the median of the per-repeat ratios
    peer/ours, the peer's last result, ours'): ``peer()`` and ``ours(target)``
    run alternately, ``repeats`` times each (no warm-up run: a peer takes up
    to a minute), with ``target = loss(peer's result)`` computed between
    them, untimed (deterministic peers: the same every run; None without
    ``loss``)."""
    tp, to, ratios = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        got = peer()
        tp.append(time.perf_counter() - t)
        target = None if loss is None else loss(got)
        t = time.perf_counter()
        out = ours(target)
        to.append(time.perf_counter() - t)
        ratios.append(tp[-1] / to[-1])
    return float(np.median(tp)), float(np.median(to)), float(np.median(ratios)), got, out


def peers(a, Xd, yd, gdd):
    print()
    if a.no_peers:
        return
    try:
        from dask_ml.linear_model import LinearRegression
        from dask_ml.wrappers import Incremental
        from sklearn.linear_model import SGDRegressor
    except ImportError as exc:
        print(f"(peers skipped: {exc}; pip install dask-ml)")
        return
    warnings.filterwarnings("ignore")
    print(f"(each peer, then gdfast.dask to the loss it reached, {a.peer_repeats} times: "
          f"median seconds and the median of the per-repeat ratios)\n")
    print("| peer | peer s | peer final loss | gdfast.dask s to that loss | peer / gdfast |")
    print("|---|---:|---:|---:|---:|")

    default = LinearRegression().solver
    makers = [(f"dask-ml LinearRegression(solver={solver!r})",
               lambda s=solver: LinearRegression(solver=s, penalty="l2", C=1e12))
              for solver in (default, "gradient_descent")]
    # shuffle_blocks=False: the chunks in order, as gdfast.dask.sgd visits them
    makers.append(("dask-ml Incremental(SGDRegressor), one pass", lambda: Incremental(
        SGDRegressor(penalty=None, learning_rate="constant", eta0=1e-3, shuffle=False,
                     fit_intercept=True), shuffle_blocks=False)))

    def loss(est):
        return mse(Xd, yd, est.coef_, est.intercept_)
    for name, make in makers:
        t_peer, t_g, ratio, est, epochs = against(
            lambda: make().fit(Xd, yd), lambda target: reach(gdd, Xd, yd, target),
            a.peer_repeats, loss)
        print(f"| {name} | {t_peer:.3f} | {loss(est):.10g} | {t_g:.3f} ({epochs} epochs) "
              f"| {ratio:.1f} |")
    # the same updates as Incremental's SGDRegressor: its squared loss is
    # half of ours, so its eta0 = 1e-3 is our lr = 5e-4
    incremental = makers[-1][1]
    t_peer, t_s, ratio, _, r = against(
        lambda: incremental().fit(Xd, yd),
        lambda _: gdd.sgd(Xd, yd, w=0.0, lr=0.5e-3, epochs=1, fit_intercept=True),
        a.peer_repeats)
    print(f"| (gdfast.dask.sgd, one pass, the same updates (lr = eta0/2): {t_s:.3f} s, loss "
          f"{mse(Xd, yd, r.coef, r.intercept):.10g}; Incremental in these pairs "
          f"{t_peer:.3f} s) | | | | {ratio:.1f} |")
    # What any method that reads the data once can reach against the one-pass
    # peer: Dask summing X and y on the same cluster (numpy reads every chunk
    # once; one task per chunk and a tree, as gdfast's statistics) -- and the
    # same graph shape doing nothing, the scheduler's fixed cost per call.
    import dask
    t_peer, t_read, ratio, _, _ = against(
        lambda: incremental().fit(Xd, yd),
        lambda _: dask.compute(Xd.sum(), yd.sum()), a.peer_repeats)
    t_none = float(np.median([_timed(lambda: Xd.map_blocks(_corner, chunks=(1, 1)).sum()
                                     .compute()) for _ in range(5)]))
    print(f"| (the read floor against the one pass: `dask.compute(X.sum(), y.sum())` on the "
          f"same cluster, {t_read:.3f} s, Incremental in these pairs {t_peer:.3f} s; the "
          f"same tree over a trivial task per chunk, timed after them, {t_none:.3f} s) "
          f"| | | | {ratio:.1f} |")


def _corner(b):
    return b[:1, :1]


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
