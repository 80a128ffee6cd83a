"""The result type every trainer returns, in both implementations."""

from dataclasses import dataclass

import numpy as np

__all__ = ["TrainResult"]


@dataclass(frozen=True, eq=False, repr=False)
class TrainResult:
    """Outcome of a training run.

    Attributes
    ----------
    w : float
        Final weight (after the last completed epoch; the initial ``w`` if
        no epoch ran).
    w_history : numpy.ndarray of float64, shape (epochs_run,)
        ``w`` after each epoch.
    loss_history : numpy.ndarray of float64, shape (epochs_run,)
        The loss each epoch records (see each trainer for which one), in
        squared units of ``ys``.
    method : str
        The trainer that produced it: ``"batch_gd"``, ``"sgd"`` or
        ``"minibatch_gd"``.
    """

    w: float
    w_history: np.ndarray
    loss_history: np.ndarray
    method: str

    @classmethod
    def build(cls, w, w_history, loss_history, method):
        """Make a result, coercing histories to read-only float64 arrays."""
        wh = np.array(w_history, dtype=np.float64)
        lh = np.array(loss_history, dtype=np.float64)
        wh.flags.writeable = False
        lh.flags.writeable = False
        return cls(float(w), wh, lh, method)

    @property
    def epochs(self):
        """Number of epochs that ran (the length of the histories)."""
        return int(self.loss_history.shape[0])

    def __repr__(self):
        last = f"{self.loss_history[-1]:.6g}" if self.epochs else "n/a"
        return (f"TrainResult(method={self.method!r}, w={self.w:.12g}, "
                f"epochs={self.epochs}, loss={last})")
