"""The tutorial's data and settings: exact histories."""

from fractions import Fraction

import numpy as np
import pytest

import gdfast.reference as reference
import tutorial_scripts
from helpers import max_rel

X, Y = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]


@pytest.mark.parametrize("script,trainer,label", [
    (tutorial_scripts.BGD, reference.batch_gd, "Epoch:"),
    (tutorial_scripts.SGD, reference.sgd, "progress:"),
], ids=["bgd", "sgd"])
def test_reference_prints_the_tutorials_history_digit_for_digit(script, trainer, label):
    lines = tutorial_scripts.run(script)
    res = trainer(X, Y, w=1.0, lr=0.01, epochs=100)
    ours = [f"{label} {e} w= {w!r} loss= {c!r}"
            for e, (w, c) in enumerate(zip(res.w_history.tolist(), res.loss_history.tolist()))]
    assert ours == [ln for ln in lines if ln.startswith(label)]
    assert len(ours) == 100
    assert lines[-1] == f"Predict (after training) 4 {reference.forward(4, res.w)!r}"


def _exact_bgd(epochs):
    """BGD in exact rational arithmetic: (w after, cost before) per epoch."""
    xs = [Fraction(v) for v in (1, 2, 3)]
    ys = [Fraction(v) for v in (2, 4, 6)]
    w, lr, out = Fraction(1), Fraction(1, 100), []
    for _ in range(epochs):
        c = sum((x * w - y) ** 2 for x, y in zip(xs, ys)) / 3
        g = sum(2 * x * (x * w - y) for x, y in zip(xs, ys)) / 3
        w -= lr * g
        out.append((w, c))
    return out


def _exact_sgd(epochs):
    xs = [Fraction(v) for v in (1, 2, 3)]
    ys = [Fraction(v) for v in (2, 4, 6)]
    w, lr, out = Fraction(1), Fraction(1, 100), []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            w -= lr * 2 * x * (x * w - y)
        out.append((w, (xs[-1] * w - ys[-1]) ** 2))
    return out


def test_first_bgd_epochs_by_hand():
    # Epoch 0 at w=1: residuals -1,-2,-3 -> cost 14/3; gradient -28/3;
    # w = 1 + 0.01*28/3 = 1.09333...
    exact = _exact_bgd(3)
    assert exact[0] == (Fraction(1) + Fraction(28, 300), Fraction(14, 3))


@pytest.mark.parametrize("epochs", [5])
def test_histories_match_exact_arithmetic(impl, epochs):
    for run, exact in ((impl.batch_gd, _exact_bgd(epochs)), (impl.sgd, _exact_sgd(epochs))):
        res = run(X, Y, epochs=epochs)
        assert max_rel(res.w_history, [float(w) for w, _ in exact]) < 1e-14
        assert max_rel(res.loss_history, [float(c) for _, c in exact]) < 1e-12


@pytest.mark.parametrize("name", ["batch_gd", "sgd", "minibatch_gd"])
def test_compiled_equals_reference_on_tutorial(impl, name):
    got = getattr(impl, name)(X, Y)
    want = getattr(reference, name)(X, Y)
    assert got.epochs == 100
    assert max_rel(got.w_history, want.w_history) <= 1e-12
    assert max_rel(got.loss_history, want.loss_history) <= 1e-12
    assert got.w == want.w_history[-1]


def test_primitives_on_tutorial_data(impl):
    assert impl.forward(4, 1.0) == 4.0
    assert impl.cost(X, Y, 1.0) == pytest.approx(14 / 3, rel=1e-15)
    assert impl.gradient(X, Y, 1.0) == pytest.approx(-28 / 3, rel=1e-15)
    assert impl.gradient(2.0, 4.0, 1.0) == 2 * 2.0 * (2.0 * 1.0 - 4.0)
    assert impl.loss(3.0, 6.0, 1.0) == 9.0
    assert list(impl.forward(X, 2.0)) == [2.0, 4.0, 6.0]
    assert list(impl.loss(X, Y, 1.0)) == [1.0, 4.0, 9.0]


def test_result_types(impl):
    res = impl.batch_gd(X, Y, epochs=7)
    assert isinstance(res.w, float)
    for h in (res.w_history, res.loss_history):
        assert isinstance(h, np.ndarray) and h.dtype == np.float64 and h.shape == (7,)
    assert repr(res).startswith("TrainResult(trainer='batch_gd', method='pass'")
    assert f"epochs=7" in repr(res)


def test_readme_drop_in_loop_prints_the_tutorials_lines(impl):
    """README's drop-in example: the tutorial's loop calling our cost/gradient."""
    want = [ln for ln in tutorial_scripts.run(tutorial_scripts.BGD) if ln.startswith("Epoch:")]
    got, w = [], 1.0
    for epoch in range(100):
        cost_val = impl.cost(X, Y, w)
        grad_val = impl.gradient(X, Y, w)
        w -= 0.01 * grad_val
        got.append(f"Epoch: {epoch} w= {w!r} loss= {cost_val!r}")
    assert got == want
