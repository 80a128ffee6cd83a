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


def plot_loss(result, ax=None, label=None, logy=None, **line_kwargs):
    """Draw ``result.loss_history`` against epoch; return the Axes.

    ax : matplotlib Axes to draw on (default: a new figure's Axes).
    label : legend label (default: the result's trainer).
    logy : log-scaled loss axis; default True when the curve spans more than
        two decades and is positive.
    Extra keyword arguments go to ``Axes.plot``.
    """
    import numpy as np

    if ax is None:
        _, ax = _pyplot().subplots()
    losses = np.asarray(result.loss_history, dtype=float)
    epochs = np.arange(losses.shape[0])
    ax.plot(epochs, losses, label=label if label is not None else result.trainer,
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
    """Draw several results' loss curves on one Axes; return it.

    results : mapping of label -> TrainResult (or an iterable of results,
        labelled by their trainer).
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
