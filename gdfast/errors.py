"""Exceptions raised by gdfast (both implementations)."""

__all__ = ["DivergenceError"]


class DivergenceError(FloatingPointError):
    """Training produced a non-finite weight, intercept or loss.

    The rule, the same in both implementations: epoch ``e`` diverges when,
    at its end, a coefficient, the intercept or the recorded loss is not a
    finite float (non-finite *data* is a ValueError instead, checked
    first). A learning rate too large for the data is the usual cause:
    plain gradient descent on ``mean((x*w - y)**2)`` is stable only while
    ``lr < 1 / mean(x**2)``. See docs/hardening.md for what overflows in
    each method.

    Parameters
    ----------
    epoch : int
        Zero-based epoch at which the non-finite value appeared.
    lr : float
        The learning rate that was used.
    result : TrainResult
        The epochs completed before divergence.
    advice : str, optional
        What to do about it, in the message (default: a smaller learning
        rate, or rescaled data).

    Attributes
    ----------
    epoch : int
        Zero-based epoch at which the non-finite value appeared.
    lr : float
        The learning rate that was used.
    result : TrainResult
        The epochs completed before divergence (``w``, ``w_history``,
        ``loss_history``), all finite.

    See Also
    --------
    gdfast.batch_gd, gdfast.sgd, gdfast.minibatch_gd : the trainers that raise it.

    Examples
    --------
    With ``x = 3`` the stable learning rates are ``lr < 1/9``; ``lr = 1``
    overflows within a few hundred epochs:

    >>> import gdfast
    >>> try:
    ...     gdfast.batch_gd([3.0], [6.0], lr=1.0, epochs=1000)
    ... except gdfast.DivergenceError as err:
    ...     print(err.epoch > 0, err.lr, len(err.result.w_history) == err.epoch)
    True 1.0 True

    It is a :class:`FloatingPointError`, so code that already catches those
    catches it too:

    >>> issubclass(gdfast.DivergenceError, FloatingPointError)
    True
    """

    ADVICE = "use a smaller learning rate (or rescale xs)"

    def __init__(self, epoch, lr, result, advice=None):
        self.epoch = int(epoch)
        self.lr = float(lr)
        self.result = result
        self.advice = self.ADVICE if advice is None else str(advice)
        super().__init__(
            f"training diverged at epoch {self.epoch} with lr={self.lr!r}: "
            f"w or the loss became non-finite; {self.advice}; the epochs before it "
            "are in .result"
        )

    def __reduce__(self):
        # rebuilt from its own arguments (the default would pass the message
        # alone to __init__): it crosses process pools and pickles
        return (type(self), (self.epoch, self.lr, self.result, self.advice), self.__dict__)
