"""The result type every trainer returns, in both implementations."""

import numpy as np

__all__ = ["TrainResult"]


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

    __slots__ = ("_w", "_hist", "_method")

    def __init__(self, w, w_history, loss_history, method):
        hist = np.array([w_history, loss_history], dtype=np.float64, ndmin=2)
        if hist.ndim != 2 or hist.shape[0] != 2:
            raise ValueError("w_history and loss_history must be 1-D of one length")
        hist.setflags(write=False)
        self._w, self._hist, self._method = float(w), hist, method

    @classmethod
    def _own(cls, w, hist, method):
        """Wrap a fresh (2, epochs) float64 array of the compiled trainers
        (row 0: w, row 1: loss) without copying; it becomes read-only."""
        hist.setflags(write=False)
        self = cls.__new__(cls)
        self._w, self._hist, self._method = float(w), hist, method
        return self

    @property
    def w(self):
        return self._w

    @property
    def w_history(self):
        return self._hist[0]

    @property
    def loss_history(self):
        return self._hist[1]

    @property
    def method(self):
        return self._method

    @property
    def epochs(self):
        """Number of epochs that ran (the length of the histories)."""
        return self._hist.shape[1]

    def __repr__(self):
        last = f"{self._hist[1, -1]:.6g}" if self.epochs else "n/a"
        return (f"TrainResult(method={self._method!r}, w={self._w:.12g}, "
                f"epochs={self.epochs}, loss={last})")
