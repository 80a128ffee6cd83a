"""Command line: ``gdfast demo`` and ``gdfast bench``.

``gdfast demo`` replays the tutorial (x = [1, 2, 3], y = [2, 4, 6], w = 1,
lr = 0.01, 100 epochs) with gdfast's batch GD, SGD and mini-batch GD,
printing the tutorial's lines and saving the three loss curves to a PNG;
then it trains the same models on a large synthetic dataset and times
gdfast against the pure-Python reference.
"""

import argparse
import os
import sys
import time

__all__ = ["main"]

TUTORIAL_X = [1.0, 2.0, 3.0]
TUTORIAL_Y = [2.0, 4.0, 6.0]
TUTORIAL = {"w": 1.0, "lr": 0.01, "epochs": 100}
DEMO_BATCH = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """Bad options: one line on stderr, exit status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text):
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _parser():
    p = _Parser(prog="gdfast", description="gdfast: the gradient-descent tutorial "
                "(y = x*w, mean squared error) as fast compiled kernels.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = sub.add_parser("demo", help="replay the tutorial, plot it, then run it at scale",
                       description="Replay the tutorial's BGD, SGD and mini-batch GD on its "
                                   "data, save the loss curves, then time gdfast against the "
                                   "pure-Python reference on a large synthetic dataset.")
    d.add_argument("--out", default="gdfast-demo.png",
                   help="PNG path for the loss-curve figure (default: %(default)s)")
    d.add_argument("--quiet", action="store_true", help="skip the per-epoch lines")
    d.add_argument("--show", action="store_true",
                   help="also open the figure in a window (needs a display)")
    d.add_argument("--n", type=_positive_int, default=1_000_000,
                   help="samples in the synthetic dataset (default: %(default)s; 1e6 works)")
    d.add_argument("--epochs", type=_positive_int, default=100,
                   help="epochs for the synthetic runs (default: %(default)s)")
    d.add_argument("--ref-n", type=_positive_int, default=10_000,
                   help="subsample the reference is timed on (default: %(default)s)")
    d.add_argument("--seed", type=int, default=0, help="synthetic data seed (default: 0)")
    b = sub.add_parser("bench", help="time gdfast against the reference, numpy and the memory floor",
                       description="Measure ns per sample per epoch for gdfast, numpy, the "
                                   "reference and the memory floor; print a table and save "
                                   "a log-log PNG.")
    from . import benchreport
    benchreport.add_arguments(b)
    return p


def _tutorial_lines(result, label):
    """The tutorial's per-epoch printout for one result."""
    return [f"{label} {e} w= {w!r} loss= {c!r}"
            for e, (w, c) in enumerate(zip(result.w_history.tolist(),
                                           result.loss_history.tolist()))]


def _figure(results, args):
    try:
        import matplotlib
    except ImportError:
        print("figure skipped: matplotlib is not installed "
              "(pip install 'gdfast[plot]')", file=sys.stderr)
        return
    if not args.show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plot import plot_compare

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    plot_compare(results, ax=ax, logy=True,
                 title="The tutorial's data: loss per epoch (w0=1, lr=0.01)")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"saved the loss curves to {args.out}")
    if args.show:
        plt.show()
    plt.close(fig)


def _time(fn, *a, **kw):
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0


def _scale(args):
    import numpy as np

    import gdfast
    from gdfast import reference

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal(args.n)
    y = 2.0 * x + 0.1 * rng.standard_normal(args.n)
    m = min(args.ref_n, args.n)
    xl, yl = x[:m].tolist(), y[:m].tolist()
    lr, epochs = 0.01, args.epochs
    print(f"\nAt scale: y = 2x + noise, n = {args.n:,} samples, {epochs} epochs, lr = {lr}")
    print(f"(the reference is timed on the first {m:,} samples and reported per "
          "sample-epoch; nothing is extrapolated)")
    print(f"{'trainer':<14}{'gdfast w':>12}{'gdfast s':>10}{'ns/sample-epoch':>17}"
          f"{'reference':>12}{'speed-up':>10}")
    runs = [("batch_gd", lambda mod, a, b: mod.batch_gd(a, b, lr=lr, epochs=epochs)),
            ("sgd", lambda mod, a, b: mod.sgd(a, b, lr=lr, epochs=epochs)),
            ("minibatch_gd", lambda mod, a, b: mod.minibatch_gd(a, b, 32, lr=lr, epochs=epochs))]
    for name, run in runs:
        res, t_fast = _time(run, gdfast, x, y)
        _, t_ref = _time(run, reference, xl, yl)
        fast_ns = t_fast / (args.n * epochs) * 1e9
        ref_ns = t_ref / (m * epochs) * 1e9
        print(f"{name:<14}{res.w:>12.6f}{t_fast:>10.3f}{fast_ns:>17.2f}"
              f"{ref_ns:>12.1f}{ref_ns / fast_ns:>9.0f}x")
    if gdfast.IMPLEMENTATION == "compiled" and args.n >= gdfast._compiled.STATS_MIN_N:
        print("(batch_gd reads data this large once and runs its epochs from sums of "
              "x*x and residuals: method='stats' in README)")
    print(f"implementation: {gdfast.IMPLEMENTATION}")


def demo(args):
    import gdfast
    from gdfast import forward

    print("Predict (before training)", 4, forward(4, TUTORIAL["w"]))
    results = {}
    for name, label, kw in (("batch_gd", "Epoch:", {}),
                            ("sgd", "progress:", {}),
                            ("minibatch_gd", "batch:", {"batch_size": DEMO_BATCH})):
        res = getattr(gdfast, name)(TUTORIAL_X, TUTORIAL_Y, **kw, **TUTORIAL)
        title = f"{name}" + (f" (batch_size={DEMO_BATCH})" if kw else "")
        results[title] = res
        print(f"\n# {title}: w={TUTORIAL['w']}, lr={TUTORIAL['lr']}, "
              f"{TUTORIAL['epochs']} epochs")
        if not args.quiet:
            print("\n".join(_tutorial_lines(res, label)))
        print("Predict (after training)", 4, forward(4, res.w))
    print()
    _figure(results, args)
    _scale(args)
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return demo(args)
    from . import benchreport
    return benchreport.run(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
