"""Per-epoch hook shared by both implementations: callback and progress bar.

A trainer calls ``hook(epoch, w, loss)`` once after each finished epoch; a
true return value stops training. The compiled kernels call it from inside
their loop (taking the GIL for that call only), so runs without a callback
or progress bar pay nothing for the feature.
"""

__all__ = ["make_hook"]


class _Hook:
    __slots__ = ("callback", "bar")

    def __init__(self, callback, bar):
        self.callback = callback
        self.bar = bar

    def __call__(self, epoch, w, loss):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(w=_short(w), loss=f"{loss:.6g}", refresh=False)
        if self.callback is not None:
            return bool(self.callback(epoch, w, loss))
        return False

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _short(w):
    """The coefficients for the bar: a float, or the first three of an array."""
    if isinstance(w, float):
        return f"{w:.6g}"
    head = ", ".join(f"{v:.4g}" for v in w[:3])
    return f"[{head}{', ...' if len(w) > 3 else ''}]"


def make_hook(callback, progress, epochs, desc):
    """Return a hook for the given options, or None when neither is used."""
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:  # pragma: no cover - depends on the env
            raise ImportError(
                "progress=True needs tqdm: pip install 'gdfast[progress]' "
                "(or pip install tqdm)") from exc
        bar = tqdm(total=epochs, desc=desc, unit="epoch")
    if callback is None and bar is None:
        return None
    return _Hook(callback, bar)
