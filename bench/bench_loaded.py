"""threads=1 vs threads=2 on a loaded machine (the hardening issue's item).

OpenMP threads spin and wait on each other at the end of every parallel
round; with another process busy on the cores, a round waits for a thread
that is not running, and threads=2 can be far slower than threads=1. This
script measures it: one BGD pass epoch (``batch_gd(..., epochs=1,
method="pass")``) at each size with threads=1 and threads=2, first on the
quiet machine, then beside one busy process (a pure-Python spin loop pinned
to nothing, as a neighbour's job would be), and prints one table.

Run it on a quiet machine (it is a benchmark: minutes, not seconds)::

    python bench/bench_loaded.py                     # n = 1e6 and 1e7, 7 repeats
    python bench/bench_loaded.py --sizes 1e4 --repeats 3    # a sanity run

Columns: median and best seconds per epoch, and the ratio threads=2 /
threads=1 of the medians (below 1: two threads help; above 1: they hurt).
"""

import argparse
import multiprocessing as mp
import statistics
import sys
import time

import numpy as np


def _spin(stop):
    """A busy neighbour: pure Python, one core, until told to stop."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _time_epoch(x, y, threads, repeats):
    import gdfast
    gdfast.batch_gd(x, y, epochs=1, method="pass", threads=threads)      # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gdfast.batch_gd(x, y, epochs=1, method="pass", threads=threads)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def measure(sizes, repeats, busy_processes=1):
    """Rows (load, n, threads, median s, best s) for every combination."""
    rows = []
    for load in ("quiet", "loaded"):
        stop, spinners = None, []
        if load == "loaded":
            ctx = mp.get_context("spawn")       # no fork after OpenMP threads
            stop = ctx.Event()
            spinners = [ctx.Process(target=_spin, args=(stop,), daemon=True)
                        for _ in range(busy_processes)]
            for p in spinners:
                p.start()
            time.sleep(0.5)                     # let the neighbour get going
        try:
            for n in sizes:
                rng = np.random.default_rng(0)
                x = rng.standard_normal(n)
                y = 3.0 * x + rng.standard_normal(n)
                for threads in (1, 2):
                    med, best = _time_epoch(x, y, threads, repeats)
                    rows.append((load, n, threads, med, best))
        finally:
            if stop is not None:
                stop.set()
                for p in spinners:
                    p.join(timeout=10)
                    if p.is_alive():
                        p.terminate()
    return rows


def table(rows):
    """The rows as a text table with the threads=2 / threads=1 ratio."""
    med = {(load, n, t): m for load, n, t, m, _ in rows}
    lines = [f"{'load':<7} {'n':>10} {'threads':>7} {'median s':>10} {'best s':>10} "
             f"{'2 vs 1':>7}"]
    for load, n, t, m, b in rows:
        ratio = f"{m / med[(load, n, 1)]:.2f}x" if t == 2 else ""
        lines.append(f"{load:<7} {n:>10.0e} {t:>7} {m:>10.5f} {b:>10.5f} {ratio:>7}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7",
                    help="comma-separated sample counts (default 1e6,1e7)")
    ap.add_argument("--repeats", type=int, default=7, help="timed epochs per cell")
    ap.add_argument("--busy", type=int, default=1, help="busy neighbour processes")
    args = ap.parse_args(argv)
    try:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    except ValueError:
        ap.error(f"--sizes must be numbers, got {args.sizes!r}")
    if args.repeats < 1 or args.busy < 0 or min(sizes) < 1:
        ap.error("--repeats and sizes must be >= 1, --busy >= 0")
    import gdfast
    from gdfast import _kernels
    print(f"gdfast {gdfast.__version__} ({gdfast.IMPLEMENTATION}), OpenMP threads "
          f"available: {_kernels.openmp_threads()}, busy neighbours: {args.busy}")
    print(table(measure(sizes, args.repeats, args.busy)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
