"""Plot helpers return Axes holding the loss histories."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import gdfast  # noqa: E402


def test_plot_loss_draws_the_history_on_given_axes():
    import matplotlib.pyplot as plt
    res = gdfast.batch_gd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    fig, ax = plt.subplots()
    out = gdfast.plot_loss(res, ax=ax, label="bgd", color="red")
    assert out is ax
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(100))
    np.testing.assert_array_equal(line.get_ydata(), res.loss_history)
    assert line.get_label() == "bgd"
    assert ax.get_yscale() == "log"         # spans many decades
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    plt.close(fig)


def test_plot_loss_makes_axes_and_keeps_linear_scale_for_flat_curves():
    import matplotlib.pyplot as plt
    res = gdfast.batch_gd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], epochs=3)
    ax = gdfast.plot_loss(res)
    assert ax.get_yscale() == "linear" and ax.get_lines()[0].get_label() == "batch_gd"
    plt.close(ax.figure)


def test_plot_compare_puts_every_result_on_one_axes():
    import matplotlib.pyplot as plt
    x, y = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    results = {"bgd": gdfast.batch_gd(x, y), "sgd": gdfast.sgd(x, y)}
    ax = gdfast.plot_compare(results, title="t")
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["bgd", "sgd"]
    for ln, res in zip(lines, results.values()):
        np.testing.assert_array_equal(ln.get_ydata(), res.loss_history)
    assert ax.get_legend() is not None and ax.get_title() == "t"
    plt.close(ax.figure)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *a, **kw):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    res = gdfast.sgd([1.0], [2.0], epochs=2)
    with pytest.raises(ImportError, match=r"pip install 'gdfast\[plot\]'"):
        gdfast.plot_loss(res)
