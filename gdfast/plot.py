"""Loss-curve plots. matplotlib is imported only when a function is called.

Install it with ``pip install 'gdfast[plot]'``.
"""

__all__ = ["plot_loss", "plot_compare"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("gdfast's plots need matplotlib: pip install 'gdfast[plot]' "
                          "(or pip install matplotlib)") from exc
    return plt


def _default_label(result):
    """The trainer's name ("batch_gd", "sgd", "minibatch_gd")."""
    return result.trainer


def plot_loss(result, ax=None, label=None, logy=None, **line_kwargs):
    """Draw one result's loss history against the epoch.

    Parameters
    ----------
    result : TrainResult
        What a trainer returned; its ``loss_history`` is drawn, one point
        per epoch run.
    ax : matplotlib.axes.Axes, optional
        The Axes to draw on (default: the Axes of a new figure).
    label : str, optional
        The line's legend label (default: the trainer's name, for example
        ``"batch_gd"``).
    logy : bool, optional
        Log-scale the loss axis. By default it is log-scaled when every loss
        is positive and the curve spans more than two decades.
    **line_kwargs
        Passed on to :meth:`matplotlib.axes.Axes.plot` (``color``,
        ``linestyle``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on, with "epoch" and "loss" as axis labels.

    Raises
    ------
    ImportError
        When matplotlib is not installed (``pip install 'gdfast[plot]'``).

    See Also
    --------
    plot_compare : several results on one Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gdfast
    >>> res = gdfast.batch_gd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], lr=0.01, epochs=100)
    >>> ax = gdfast.plot_loss(res, color="red")
    >>> line = ax.get_lines()[0]
    >>> line.get_label(), len(line.get_ydata()), ax.get_yscale()
    ('batch_gd', 100, 'log')
    >>> import matplotlib.pyplot as plt
    >>> plt.close(ax.figure)
    """
    import numpy as np

    if ax is None:
        _, ax = _pyplot().subplots()
    losses = np.asarray(result.loss_history, dtype=float)
    epochs = np.arange(losses.shape[0])
    ax.plot(epochs, losses, label=label if label is not None else _default_label(result),
            **line_kwargs)
    if logy is None:
        positive = losses[losses > 0]
        logy = positive.size == losses.size > 1 and positive.max() > 100 * positive.min()
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    return ax


def plot_compare(results, ax=None, logy=None, title=None):
    """Draw several results' loss histories on one Axes, with a legend.

    Parameters
    ----------
    results : mapping of str to TrainResult, or iterable of TrainResult
        The curves to draw. A mapping's keys are the legend labels; results
        given without labels are labelled by their trainer's name.
    ax : matplotlib.axes.Axes, optional
        The Axes to draw on (default: the Axes of a new figure).
    logy : bool, optional
        Log-scale the loss axis; by default each curve decides as in
        :func:`plot_loss`, and any log-scaled curve makes the axis log.
    title : str, optional
        The Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ImportError
        When matplotlib is not installed (``pip install 'gdfast[plot]'``).

    See Also
    --------
    plot_loss : one result.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gdfast
    >>> x, y = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    >>> ax = gdfast.plot_compare({"batch": gdfast.batch_gd(x, y), "sgd": gdfast.sgd(x, y)},
    ...                          title="loss per epoch")
    >>> [line.get_label() for line in ax.get_lines()]
    ['batch', 'sgd']
    >>> ax.get_title()
    'loss per epoch'
    >>> import matplotlib.pyplot as plt
    >>> plt.close(ax.figure)
    """
    if ax is None:
        _, ax = _pyplot().subplots()
    items = results.items() if hasattr(results, "items") else ((None, r) for r in results)
    for label, result in items:
        plot_loss(result, ax=ax, label=label, logy=logy)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
