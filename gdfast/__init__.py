"""gdfast: the gradient-descent tutorial's algorithms, compiled.

``from gdfast import cost, gradient, batch_gd, sgd, minibatch_gd`` gives the
compiled implementation (typed Cython kernels); ``gdfast.reference`` holds
the same functions in plain Python, the oracle the compiled ones are tested
against. ``gdfast.IMPLEMENTATION`` says which one this package exposes:
``"compiled"``, or ``"python"`` when the environment variable
``GDFAST_PURE_PYTHON=1`` was set before the first import. A missing compiled
extension is an ImportError, never a silent switch to pure Python.

``gdfast.GDRegressor`` (a scikit-learn estimator, the extra ``gdfast[sklearn]``)
is imported on first access, so ``import gdfast`` never imports scikit-learn.
"""

import os as _os

from ._result import TrainResult
from .errors import DivergenceError

__version__ = "0.1.0"

#: Set to a non-empty value other than "0" to expose the pure-Python reference.
PURE_PYTHON_ENV = "GDFAST_PURE_PYTHON"


def _missing_extension_message(exc):
    """Why the compiled extension is missing here, and the ways out."""
    import importlib.machinery
    import sys

    here = _os.path.dirname(_os.path.abspath(__file__))
    tree = _os.path.dirname(here)
    others = [p for p in sys.path if _os.path.abspath(p or _os.curdir) != tree]
    spec = importlib.machinery.PathFinder.find_spec("gdfast", others)
    if spec is not None and spec.origin:
        return (f"gdfast was imported from the source folder {here}, which has no compiled "
                "extension; the installed, compiled gdfast at "
                f"{_os.path.dirname(spec.origin)} is shadowed because {tree} comes first "
                "on sys.path (Python runs from the repository root, `python -m pytest` "
                "or PYTHONPATH puts it there). Either run from another folder, or "
                "install for development with `pip install -e . --no-build-isolation`, "
                "which builds the extension into the source folder itself.")
    return (f"gdfast's compiled extension could not be imported ({exc}). Build it with "
            "`pip install .` (or `pip install -e . --no-build-isolation` to develop) "
            f"from the source tree, or set {PURE_PYTHON_ENV}=1 to use the pure-Python "
            "reference on purpose.")


if _os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
    from .reference import (IMPLEMENTATION, batch_gd, cost, forward, gradient, loss,
                            minibatch_gd, sgd)
else:
    try:
        from ._compiled import (IMPLEMENTATION, batch_gd, cost, forward, gradient, loss,
                                minibatch_gd, sgd)
    except ImportError as _exc:
        raise ImportError(_missing_extension_message(_exc)) from _exc

from .plot import plot_compare, plot_loss



def _installed(name):
    """Whether a top-level package can be imported (found, not imported)."""
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):       # blocked, or a module without a spec
        return False


# GDRegressor only where scikit-learn is installed, so that a star import
# works without it (with it, a star import imports scikit-learn)
__all__ = ["forward", "loss", "cost", "gradient", "batch_gd", "sgd", "minibatch_gd",
           "TrainResult", "DivergenceError", "IMPLEMENTATION", "PURE_PYTHON_ENV",
           "plot_loss", "plot_compare", "__version__"] + (
               ["GDRegressor"] if _installed("sklearn") else [])


def __getattr__(name):
    """Lazy attributes: ``GDRegressor`` imports scikit-learn, on first use only."""
    if name == "GDRegressor":
        from .sklearn import GDRegressor
        globals()["GDRegressor"] = GDRegressor
        return GDRegressor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
