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


def _int_from(least, what, most=sys.maxsize):
    """An argparse type: an integer in [least, most] (1e6 spelled either way)."""
    def parse(text):
        try:
            if "e" in text.lower():
                value = int(float(text))
                if float(text) != value:    # 1.9e0, 1e-3: not an integer
                    value = None
            else:
                value = int(text)
        except (ValueError, OverflowError):
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}")
        if value > most:
            raise argparse.ArgumentTypeError(f"expected at most {most:,}, got {text!r}")
        return value
    return parse


_seed = _int_from(0, "non-negative")
#: The demo's limits, checked before it trains: --n (x and y take 16 bytes
#: per sample: 1.6 GB), --ref-n and --epochs (the pure-Python reference runs
#: --epochs epochs over --ref-n samples, one Python loop iteration each).
MAX_DEMO_N = 10 ** 8
MAX_DEMO_REF_N = 10 ** 6
MAX_DEMO_EPOCHS = 10 ** 5


def _parser():
    from . import IMPLEMENTATION, __version__

    p = _Parser(prog="gdfast", description="gdfast: the gradient-descent tutorial "
                "(y = x*w, mean squared error) as fast compiled kernels.")
    p.add_argument("--version", action="version",
                   version=f"gdfast {__version__} ({IMPLEMENTATION})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                           title="commands")
    d = sub.add_parser("demo", help="replay the tutorial, plot it, then run it at scale",
                       description="Replay the tutorial's BGD, SGD and mini-batch GD on its "
                                   "data, save the loss curves, then time gdfast against the "
                                   "pure-Python reference on a large synthetic dataset.")
    d.add_argument("--out", default="gdfast-demo.png",
                   help="PNG path for the loss-curve figure; its folder must exist, "
                        "'.png' is added when the name has no extension "
                        "(default: %(default)s)")
    d.add_argument("--quiet", action="store_true", help="skip the per-epoch lines")
    d.add_argument("--show", action="store_true",
                   help="also open the figure in a window (needs a display)")
    d.add_argument("--n", type=_int_from(1, "positive", MAX_DEMO_N), default=1_000_000,
                   help="samples in the synthetic dataset, at most 1e8 (default: %(default)s; "
                        "1e6 works)")
    d.add_argument("--epochs", type=_int_from(1, "positive", MAX_DEMO_EPOCHS), default=100,
                   help="epochs for the synthetic runs, at most 1e5 (default: %(default)s)")
    d.add_argument("--ref-n", type=_int_from(1, "positive", MAX_DEMO_REF_N), default=10_000,
                   help="subsample the reference is timed on, at most 1e6 "
                        "(default: %(default)s)")
    d.add_argument("--seed", type=_seed, default=0, help="synthetic data seed (default: 0)")
    b = sub.add_parser("bench", help="time gdfast against the reference, numpy and the memory floor",
                       description="Measure ns per sample per epoch for gdfast, numpy, the "
                                   "reference and the memory floor; print a table and save "
                                   "a log-log PNG.")
    from . import benchreport
    benchreport.add_arguments(b)
    return p


def _check_demo_args(parser, args):
    """Refuse a figure path that cannot be written, before any training."""
    root, ext = os.path.splitext(args.out)
    if not ext:
        args.out = args.out + ".png"
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        parser.error(f"--out {args.out}: the folder {folder} does not exist")
    if os.path.isdir(args.out):
        parser.error(f"--out {args.out}: is a folder, not a file")
    if ext:
        try:
            from matplotlib.figure import Figure
        except ImportError:
            return
        known = Figure().canvas.get_supported_filetypes()
        if ext[1:].lower() not in known:
            parser.error(f"--out {args.out}: matplotlib cannot write {ext!r} files "
                         f"(it writes {', '.join(sorted(known))})")


def _check_bench_args(parser, args):
    """One-line errors for sizes and repeats the report cannot use."""
    sizes = []
    for item in args.sizes.split(","):
        try:
            n = float(item)
        except ValueError:
            n = None
        if n is None or not n.is_integer() or n < 1:
            parser.error(f"--sizes: expected comma-separated positive integers such as "
                         f"3,1e3,1e5, got {item!r}")
        sizes.append(int(n))
    args.sizes = ",".join(str(n) for n in sizes)
    if args.repeats < 3:
        parser.error(f"--repeats: the report takes the median of at least 3 repeats, "
                     f"got {args.repeats}")


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
    why_not = _no_window_reason() if args.show else None
    if not args.show or why_not:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plot import plot_compare

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    plot_compare(results, ax=ax, logy=True,
                 title="The tutorial's data, w0=1, lr=0.01: what each trainer records")
    ax.set_ylabel("loss (squared units of y)")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"saved the loss curves to {os.path.abspath(args.out)}")
    if args.show:
        if why_not is None and matplotlib.get_backend().lower() in _FILE_BACKENDS:
            why_not = (f"matplotlib found no window toolkit (backend "
                       f"{matplotlib.get_backend()!r}); install tkinter or PyQt")
        if why_not:
            print(f"--show: no window opened: {why_not}; the figure is in the file above",
                  file=sys.stderr)
        else:
            plt.show()
    plt.close(fig)


_FILE_BACKENDS = {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}


def _no_window_reason():
    """Why a window cannot open here, or None when it may."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None


def _time(fn, *a, **kw):
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0




def _scale(args):
    import numpy as np

    import gdfast
    from gdfast import reference

    compiled = gdfast.IMPLEMENTATION == "compiled"
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal(args.n)
    y = 2.0 * x + 0.1 * rng.standard_normal(args.n)
    m = min(args.ref_n, args.n)
    xl, yl = x[:m].tolist(), y[:m].tolist()
    lr, epochs = 0.01, args.epochs
    w_ls = float(np.dot(x, y) / np.dot(x, x))       # the least-squares slope: where GD heads
    print(f"\nAt scale: y = 2x + noise, n = {args.n:,} samples, {epochs} epochs, lr = {lr}")
    print(f"(the reference is timed on the first {m:,} samples and reported per "
          "sample-epoch; nothing is extrapolated)")
    print(f"{'trainer':<24}{'gdfast w':>10}{'gdfast s':>10}{'ns/sample-epoch':>17}"
          f"{'reference':>11}{'speed-up':>10}")
    runs = [("batch_gd", {}, lambda mod, a, b, **kw: mod.batch_gd(a, b, lr=lr, epochs=epochs,
                                                                   **kw)),
            ("sgd", {}, lambda mod, a, b, **kw: mod.sgd(a, b, lr=lr, epochs=epochs, **kw)),
            ("minibatch_gd", {}, lambda mod, a, b, **kw: mod.minibatch_gd(
                a, b, 32, lr=lr, epochs=epochs, **kw))]
    if compiled:   # the like-for-like figure: one pass per epoch, as the reference does
        runs.insert(1, ("batch_gd", {"method": "pass"}, runs[0][2]))
    ref_ns = {}
    unconverged, methods, methods_of = {}, set(), {}
    for name, kw, run in runs:
        if kw and name in methods_of and methods_of[name] == kw.get("method"):
            continue                # "auto" already ran it (below 65,536 samples)
        res, t_fast = _time(run, gdfast, x, y, **kw)
        methods_of.setdefault(name, res.method)
        if name not in ref_ns:
            _, t_ref = _time(run, reference, xl, yl)
            ref_ns[name] = t_ref / (m * epochs) * 1e9
        fast_ns = t_fast / (args.n * epochs) * 1e9
        ran = res.method
        methods.add(ran)
        label = name + (f" method={ran!r}" if ran and name == "batch_gd" else "")
        speedup = (f"{ref_ns[name] / fast_ns:>9.0f}x" if compiled else f"{'—':>10}")
        print(f"{label:<24}{res.w:>10.6f}{t_fast:>10.3f}{fast_ns:>17.2f}"
              f"{ref_ns[name]:>11.1f}{speedup}")
        # 1% off the least-squares slope: far beyond where SGD's last sample
        # leaves w, so only a run still on its way is flagged
        if abs(res.w - w_ls) > 0.01 * max(1.0, abs(w_ls)) and name not in unconverged:
            unconverged[name] = res.w
    if compiled:
        print("speed-up = the reference's ns/sample-epoch over gdfast's.")
        if "stats" in methods:
            print("batch_gd method='stats' (its default for data this large) reads the data "
                  "twice and runs every epoch from sums of x*x and residuals; method='pass' "
                  "makes one pass per epoch, as the reference does: the like-for-like figure.")
        else:
            print("batch_gd method='pass' makes one pass per epoch, as the reference does; "
                  "its default (method='auto') switches to two reads of the data for large n.")
    else:
        print(f"speed-up: none to show: {gdfast.PURE_PYTHON_ENV}=1 makes gdfast the "
              "pure-Python reference itself; unset it to time the compiled kernels.")
    for name, w in unconverged.items():
        off = abs(w - w_ls) / max(1.0, abs(w_ls))
        print(f"not converged: {name} ends at w = {w:.6f} after {epochs} epochs at lr = {lr}, "
              f"{off:.0%} off the least-squares slope {w_ls:.6f}; more epochs or a larger "
              "lr (below 1/mean(x**2)) get there.")
    print(f"implementation: {gdfast.IMPLEMENTATION}")


# What each trainer's loss_history records (labels of the demo's figure).
_RECORDS = {"batch_gd": "batch_gd: cost of all samples, before the update",
            "sgd": "sgd: loss of the epoch's last sample, after its update",
            "minibatch_gd": "minibatch_gd (batch_size={b}): cost of the last batch, "
                            "before its update"}


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
        results[_RECORDS[name].format(b=DEMO_BATCH)] = res
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
    """Run the ``gdfast`` command line.

    ``gdfast demo`` replays the tutorial with the three trainers, saves their
    loss curves and times them against the pure-Python reference on a large
    synthetic dataset; ``gdfast bench`` prints the benchmark report.
    ``gdfast --help`` and ``gdfast COMMAND --help`` list every option.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 when no command is given (the
        usage is printed to stderr), 1 when ``bench`` lacks a dependency.

    Raises
    ------
    SystemExit
        For ``--help`` and ``--version`` (status 0), and for a bad option
        or value (status 2, one line on stderr), before any training.

    Examples
    --------
    >>> from gdfast.cli import main
    >>> try:
    ...     main(["--version"])
    ... except SystemExit as stop:
    ...     print("exit status", stop.code)  # doctest: +ELLIPSIS
    gdfast ...
    exit status 0

    A quick demo (the figure goes to a temporary folder):

    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> main(["demo", "--quiet", "--n", "2000", "--ref-n", "100", "--epochs", "2",
    ...       "--out", out])  # doctest: +ELLIPSIS
    Predict (before training) 4 4.0
    ...
    implementation: ...
    0
    >>> os.path.exists(out)
    True
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "demo":
        _check_demo_args(parser, args)
        return demo(args)
    _check_bench_args(parser, args)
    from . import benchreport
    return benchreport.run(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
