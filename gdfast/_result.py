"""The result type every trainer returns, in both implementations."""

import numpy as np

__all__ = ["TrainResult"]


def _readonly_float64(values):
    """A read-only float64 view of values (copied only if not float64 already)."""
    arr = np.asarray(values, dtype=np.float64)
    view = arr.view()          # the caller's array itself stays writable
    view.setflags(write=False)
    return view


class TrainResult:
    """Outcome of a training run (immutable).

    Attributes
    ----------
    w : float
        Final weight (after the last completed epoch; the initial ``w`` if
        no epoch ran).
    w_history : numpy.ndarray of float64, shape (epochs_run,), read-only
        ``w`` after each epoch.
    loss_history : numpy.ndarray of float64, shape (epochs_run,), read-only
        The loss each epoch records (see each trainer for which one), in
        squared units of ``ys``.
    method : str
        The trainer that produced it: ``"batch_gd"``, ``"sgd"`` or
        ``"minibatch_gd"``.
    """

    __slots__ = ("_w", "_w_history", "_loss_history", "_method")

    def __init__(self, w, w_history, loss_history, method):
        wh = _readonly_float64(w_history)
        lh = _readonly_float64(loss_history)
        if wh.ndim != 1 or wh.shape != lh.shape:
            raise ValueError("w_history and loss_history must be 1-D of one length")
        self._w, self._w_history, self._loss_history = float(w), wh, lh
        self._method = method

    @property
    def w(self):
        return self._w

    @property
    def w_history(self):
        return self._w_history

    @property
    def loss_history(self):
        return self._loss_history

    @property
    def method(self):
        return self._method

    @property
    def epochs(self):
        """Number of epochs that ran (the length of the histories)."""
        return self._loss_history.shape[0]

    def __repr__(self):
        last = f"{self._loss_history[-1]:.6g}" if self.epochs else "n/a"
        return (f"TrainResult(method={self._method!r}, w={self._w:.12g}, "
                f"epochs={self.epochs}, loss={last})")
