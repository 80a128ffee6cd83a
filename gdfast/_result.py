"""The result type every trainer returns, and the history buffer behind it.

Both implementations record each epoch into a :class:`History` (one float64
row per epoch: the coefficients, the intercept, the loss), which grows as
epochs run (amortised doubling), so memory follows the epochs actually run,
not the ``epochs`` asked for.
"""

import numpy as np

__all__ = ["TrainResult", "History"]


class History:
    """Rows ``[coef_0 .. coef_{d-1}, intercept, loss]``, one per epoch."""

    __slots__ = ("d", "buf", "k", "limit")

    #: rows allocated before the first growth
    FIRST = 128

    def __init__(self, d, limit):
        self.d, self.k, self.limit = d, 0, limit
        self.buf = np.empty((min(limit, self.FIRST), d + 2))

    def room(self):
        """Free rows (grows the buffer when full, up to the epoch limit)."""
        if self.k == self.buf.shape[0] and self.k < self.limit:
            rows = min(self.limit, max(2 * self.k, self.FIRST))
            grown = np.empty((rows, self.d + 2))
            grown[:self.k] = self.buf[:self.k]
            self.buf = grown
        return self.buf[self.k:]

    def append(self, w, b, loss):
        if self.k == self.buf.shape[0]:
            self.room()
        row = self.buf[self.k]
        row[:self.d] = w
        row[self.d] = b
        row[self.d + 1] = loss
        self.k += 1

    def rows(self):
        """The recorded rows, read-only (TrainResult keeps them as they
        are). A buffer with rows to spare (the first FIRST rows, or a
        doubling) is first cut to the rows recorded, a copy of them, so a run
        stopped early holds only the epochs it ran; a full one is a view."""
        if self.k < self.buf.shape[0]:
            self.buf = self.buf[:self.k].copy()
        view = self.buf[:self.k]
        view.setflags(write=False)
        return view


class TrainResult:
    """Outcome of a training run (immutable).

    The model is ``y_pred = X @ coef + intercept`` (``x * w + b`` for 1-D
    data). Names follow scikit-learn (``coef``, ``intercept``) and keep the
    tutorial's (``w``, ``b``) as aliases.

    Attributes
    ----------
    coef, w : float or numpy.ndarray
        Final coefficients: a float for 1-D data, a read-only float64 array
        of shape ``(d,)`` for 2-D ``X``. The initial value if no epoch ran.
    intercept, b : float
        Final intercept (the initial ``b`` when it was not fitted).
    coef_history, w_history : numpy.ndarray, read-only
        ``coef`` after each epoch: shape ``(epochs,)`` for 1-D data,
        ``(epochs, d)`` for 2-D.
    intercept_history : numpy.ndarray, shape (epochs,), read-only
    loss_history : numpy.ndarray, shape (epochs,), read-only
        The loss each epoch records (see each trainer), in squared units of
        ``y``, plus the L2 term ``alpha * |coef|**2`` when ``alpha > 0``.
    epoch_loss_history : numpy.ndarray of shape (epochs,), read-only, or None
        ``sgd`` and ``minibatch_gd``: per epoch, the mean over its samples of
        the squared residual ``(x·w + b - y)**2`` each sample had at the
        weights its update started from (every row of a mini-batch at the
        batch's weights), plus ``alpha * |coef|**2`` at the epoch's end: the
        running loss an epoch computes anyway, which scikit-learn's
        ``SGDRegressor`` stops on (gdfast.dask's trainers too, the sums
        carried from chunk to chunk). ``None`` for ``batch_gd`` (its
        ``loss_history`` already is the cost before each update) and for the
        tutorial's model (one feature, no intercept, no penalty), whose
        whole-run kernels do not track it. Not part of the divergence rule:
        an entry can be inf when squared residuals overflow within an epoch
        that ends finite (``GDRegressor`` treats that as divergence).
    epochs : int
        Number of epochs that ran (the length of the histories).
    trainer : str
        ``"batch_gd"``, ``"sgd"`` or ``"minibatch_gd"``.
    method : str
        The method that actually ran (what ``method="auto"`` chose):
        ``"pass"``/``"stats"`` (batch_gd), ``"plain"``/``"affine"``/``"lanes"``/
        ``"gram"`` (sgd), ``"batches"``/``"affine"`` (minibatch_gd).

    Examples
    --------
    >>> import gdfast
    >>> r = gdfast.batch_gd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], epochs=3)
    >>> r.epochs, r.trainer, r.method
    (3, 'batch_gd', 'pass')
    >>> r.w == r.coef == float(r.w_history[-1])
    True
    """

    __slots__ = ("_hist", "_coef", "_intercept", "_flat", "_trainer", "_method",
                 "_epoch_loss")

    def __init__(self, rows, coef, intercept, flat, trainer, method, epoch_loss=None):
        hist = np.ascontiguousarray(rows, dtype=np.float64)
        if hist.ndim != 2 or hist.shape[1] < 3:
            raise ValueError("rows must have shape (epochs, d + 2)")
        if hist.flags.writeable:
            # the caller's array: copied, so neither its flags change nor can
            # writing into it change the result (History.rows() is read-only)
            hist = hist.copy()
        hist.setflags(write=False)
        self._hist = hist
        if flat:
            self._coef = float(np.asarray(coef).reshape(-1)[0])
        else:
            c = np.array(coef, dtype=np.float64).reshape(hist.shape[1] - 2)
            c.setflags(write=False)
            self._coef = c
        self._intercept = float(intercept)
        self._flat, self._trainer, self._method = bool(flat), trainer, method
        if epoch_loss is not None:
            epoch_loss = np.array(epoch_loss, dtype=np.float64).reshape(hist.shape[0])
            epoch_loss.setflags(write=False)
        self._epoch_loss = epoch_loss

    def __reduce__(self):
        # through __init__, so an unpickled result is read-only as well
        return (type(self), (self._hist, self._coef, self._intercept, self._flat,
                             self._trainer, self._method, self._epoch_loss))

    @property
    def coef(self):
        return self._coef

    w = coef

    @property
    def intercept(self):
        return self._intercept

    b = intercept

    @property
    def coef_history(self):
        d = self._hist.shape[1] - 2
        return self._hist[:, 0] if self._flat else self._hist[:, :d]

    w_history = coef_history

    @property
    def intercept_history(self):
        return self._hist[:, -2]

    @property
    def loss_history(self):
        return self._hist[:, -1]

    @property
    def epoch_loss_history(self):
        return self._epoch_loss

    @property
    def loss(self):
        """The last recorded loss (NaN when no epoch ran)."""
        return float(self._hist[-1, -1]) if self.epochs else float("nan")

    @property
    def epochs(self):
        return self._hist.shape[0]

    @property
    def trainer(self):
        return self._trainer

    @property
    def method(self):
        return self._method

    def __repr__(self):
        last = f"{self._hist[-1, -1]:.6g}" if self.epochs else "n/a"
        if self._flat:
            coef = f"w={self._coef:.12g}"
        else:
            coef = "coef=" + np.array2string(self._coef, precision=6, threshold=8)
        icpt = f", intercept={self._intercept:.6g}" if self._intercept else ""
        return (f"TrainResult(trainer={self._trainer!r}, method={self._method!r}, "
                f"{coef}{icpt}, epochs={self.epochs}, loss={last})")
