"""Bad input -> a clear exception naming the argument, before any result,
on both implementations (the ``impl`` fixture); compiled-only options are
in tests named ``test_compiled_*``."""

import math
import sys

import numpy as np
import pytest

import gdfast
import gdfast._compiled as compiled
import gdfast.reference as reference

GOOD_X, GOOD_Y = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
TRAINERS = ["batch_gd", "sgd", "minibatch_gd"]


def _all_data_calls(impl, xs, ys):
    """Every public function that takes data, called on xs, ys."""
    yield "cost", lambda: impl.cost(xs, ys, 1.0)
    yield "gradient", lambda: impl.gradient(xs, ys, 1.0)
    yield "loss", lambda: impl.loss(xs, ys, 1.0)
    for name in TRAINERS:
        yield name, lambda name=name: getattr(impl, name)(xs, ys, epochs=2)


class _Sub(np.ndarray):
    """An ndarray subclass (its items are not exactly ndarrays)."""


BAD_DATA = [
    # (xs, ys, exception, words the message must contain)
    ([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0], ValueError, ["same length", "5 and 4"]),
    ([], [], ValueError, ["empty"]),
    ([1.0, float("nan")], [1.0, 2.0], ValueError, ["finite", "nan", "index 1"]),
    ([1.0, 2.0], [float("inf"), 2.0], ValueError, ["finite", "inf", "index 0"]),
    ([1.0, 2.0], [1.0, -np.inf], ValueError, ["finite"]),
    (np.ones((2, 2)), np.ones((2, 2)), ValueError, ["one-dimensional", "2 dimensions"]),
    ([[1.0], [1.0, 2.0]], [1.0, 2.0], ValueError, ["1-D"]),
    (["a", "b"], [1.0, 2.0], TypeError, ["real numbers"]),
    ("abc", [1.0, 2.0, 3.0], TypeError, ["real numbers"]),
    (None, [1.0], TypeError, ["real numbers"]),
    ([None, 1.0], [1.0, 2.0], TypeError, ["real numbers"]),
    ([object()], [1.0], TypeError, ["real numbers"]),
    ([1 + 2j], [1.0], TypeError, ["complex"]),
    (np.array([True, False]), [1.0, 2.0], TypeError, ["bool"]),
    # numpy widens a bool among numbers to a float: refused as a bool array is
    ([True, 2.0], [1.0, 2.0], TypeError, ["bool"]),
    ([1.0, 2.0], (1.0, np.True_), TypeError, ["bool"]),
    ([np.array([True, False]), np.array([1.0, 2.0])], [1.0, 2.0], TypeError, ["bool"]),
    ([np.array(True), 2.0], [1.0, 2.0], TypeError, ["bool"]),
    # bools in any array-like item: a subclass, a Series, a memoryview
    ([np.array([True, False]).view(_Sub), [1.0, 2.0]], [1.0, 2.0], TypeError, ["bool"]),
    ([memoryview(np.array([True, False])), [1.0, 2.0]], [1.0, 2.0], TypeError, ["bool"]),
    ([[np.array(True).view(_Sub), 1.0], [1.0, 2.0]], [1.0, 2.0], TypeError, ["bool"]),
    # np.asarray drops the masks of masked items (a 0-d masked item: a NaN)
    ([np.ma.array([1.0, 99.0], mask=[0, 1]), [3.0, 4.0]], [1.0, 2.0], TypeError,
     ["masked"]),
    ([np.ma.array(9.0, mask=True), 2.0], [1.0, 2.0], TypeError, ["masked"]),
    ([[1.0, True], [np.ma.array(1.0, mask=True), 2.0]], [1.0, 2.0], TypeError, ["masked"]),
]


@pytest.mark.parametrize("xs,ys,exc,words", BAD_DATA,
                         ids=[f"{i}-{c[2].__name__}" for i, c in enumerate(BAD_DATA)])
def test_bad_data_raises_everywhere(impl, xs, ys, exc, words):
    for name, call in _all_data_calls(impl, xs, ys):
        with pytest.raises(exc) as info:
            call()
        msg = str(info.value)
        assert any(arg in msg for arg in ("X ", "y ", "X and y", "X must", "y must")), (name, msg)
        for word in words:
            assert word in msg, (name, msg)


def test_nonfinite_data_with_a_callback_never_reaches_the_callback(impl):
    seen = []
    with pytest.raises(ValueError, match="X must be finite"):
        impl.sgd([1.0, np.nan], [1.0, 2.0], callback=lambda *a: seen.append(a))
    assert seen == []


def test_nonfinite_data_with_zero_epochs_still_raises(impl):
    for name in TRAINERS:
        with pytest.raises(ValueError, match="finite"):
            getattr(impl, name)([np.nan], [1.0], epochs=0)


@pytest.mark.parametrize("name", TRAINERS)
@pytest.mark.parametrize("kw,exc,words", [
    ({"lr": 0}, ValueError, ["lr", "positive"]),
    ({"lr": -0.1}, ValueError, ["lr", "positive"]),
    ({"lr": float("nan")}, ValueError, ["lr", "finite"]),
    ({"lr": float("inf")}, ValueError, ["lr", "finite"]),
    ({"lr": "0.1"}, TypeError, ["lr", "real number"]),
    ({"lr": None}, TypeError, ["lr"]),
    ({"lr": 1j}, TypeError, ["lr"]),
    ({"epochs": -1}, ValueError, ["epochs", ">= 0"]),
    ({"epochs": 2.5}, TypeError, ["epochs", "integer"]),
    ({"epochs": 2.0}, TypeError, ["epochs", "integer"]),
    ({"epochs": "3"}, TypeError, ["epochs", "integer"]),
    ({"epochs": True}, TypeError, ["epochs", "integer"]),
    ({"w": float("inf")}, ValueError, ["w", "finite"]),
    ({"w": float("nan")}, ValueError, ["w", "finite"]),
    ({"w": None}, TypeError, ["w", "real number"]),
    ({"w": "1"}, TypeError, ["w", "real number"]),
    ({"callback": 3}, TypeError, ["callback"]),
    ({"progress": "no"}, TypeError, ["progress", "True or False"]),
    ({"progress": np.array([1, 0])}, TypeError, ["progress", "True or False"]),
    ({"fit_intercept": 1}, TypeError, ["fit_intercept", "True or False"]),
    # 2*alpha is the penalty's gradient factor: beyond float64 every step is inf*w
    ({"alpha": sys.float_info.max * 0.75}, ValueError, ["alpha", "2*alpha"]),
])
def test_bad_parameters(impl, name, kw, exc, words):
    with pytest.raises(exc) as info:
        getattr(impl, name)(GOOD_X, GOOD_Y, **kw)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("bs,exc", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                     ("2", TypeError), (None, TypeError)])
def test_bad_batch_size(impl, bs, exc):
    with pytest.raises(exc, match="batch_size"):
        impl.minibatch_gd(GOOD_X, GOOD_Y, batch_size=bs)


@pytest.mark.parametrize("w,exc", [(float("nan"), ValueError), (np.inf, ValueError),
                                   ("1", TypeError), (None, TypeError), (1j, TypeError),
                                   ([True], TypeError)])
def test_primitives_check_w(impl, w, exc):
    for call in (lambda: impl.cost(GOOD_X, GOOD_Y, w),
                 lambda: impl.gradient(GOOD_X, GOOD_Y, w),
                 lambda: impl.forward(GOOD_X, w),
                 lambda: impl.loss(GOOD_X, GOOD_Y, w)):
        with pytest.raises(exc, match="w"):
            call()


@pytest.mark.parametrize("w,exc,words", [
    ([[1.0], [2.0, 3.0]], ValueError, "w must be a real number or an array of shape (2,)"),
    ([True, 2.0], TypeError, "w must be real numbers, got a bool in a list"),
    ([np.array(True).view(_Sub), 1.0], TypeError, "w must be real numbers, got a bool"),
    ([np.ma.array(1.0, mask=True), 1.0], TypeError, "w must not hold masked arrays")])
def test_w_ragged_or_holding_a_bool(impl, w, exc, words):
    X2 = [[1.0, 2.0], [3.0, 4.0]]
    for call in (lambda: impl.cost(X2, [1.0, 2.0], w),
                 lambda: impl.forward(X2, w),
                 lambda: impl.sgd(X2, [1.0, 2.0], w=w, epochs=1)):
        with pytest.raises(exc) as info:
            call()
        assert words in str(info.value)


def test_compiled_bad_method_names_and_threads():
    with pytest.raises(ValueError, match="method"):
        compiled.batch_gd(GOOD_X, GOOD_Y, method="fast")
    with pytest.raises(ValueError, match="method"):
        compiled.sgd(GOOD_X, GOOD_Y, method="fast")
    with pytest.raises(ValueError, match="threads"):
        compiled.batch_gd(GOOD_X, GOOD_Y, threads=0)


def test_overflowing_primitives_raise_overflow_error(impl):
    """One rule for both implementations (_validate.finite_result): a
    non-finite result from finite inputs is OverflowError, never inf."""
    for call in (lambda: impl.cost([1e200], [0.0], 1e200),
                 lambda: impl.loss(1e200, 0.0, 1e200),
                 lambda: impl.forward(1e200, 1e200),
                 lambda: impl.gradient([1e200], [0.0], 1e200),
                 # finite sums whose mean gradient, 2*sum(x*r)/n, overflows
                 lambda: impl.gradient([1e154], [-1e154], 0.0),
                 lambda: impl.gradient(1e154, -1e154, 0.0),
                 lambda: impl.gradient(np.array([1e154]), np.array([-1e154]), 0.0)):
        with pytest.raises(OverflowError, match="overflowed float64"):
            call()


@pytest.mark.parametrize("name", ["sgd", "minibatch_gd"])
def test_shuffle_that_is_not_a_flag_is_named(impl, name):
    with pytest.raises(TypeError, match="shuffle must be True, False or 'blocks', got ndarray"):
        getattr(impl, name)(GOOD_X, GOOD_Y, shuffle=np.array([1, 0]))
    with pytest.raises(ValueError, match="shuffle must be True, False or 'blocks', got 'foo'"):
        getattr(impl, name)(GOOD_X, GOOD_Y, shuffle="foo")


def test_deep_self_holding_or_many_typed_lists_are_scanned_to_a_clear_error(impl):
    """The list scan went level by level by recursion (a list nested 3000
    deep raised RecursionError; one holding itself looped for ever once the
    recursion was gone), and rows of many array types must all be seen."""
    deep = [1.0]
    for _ in range(3000):
        deep = [deep]
    selfish = [1.0]
    selfish.append(selfish)
    for bad in (deep, selfish):
        with pytest.raises(ValueError, match="X must be"):
            impl.cost(bad, [1.0, 2.0][:len(bad)], 1.0)
    rows = [np.array([1.0, 2.0]).view(type(f"Row{i}", (np.ndarray,), {})) for i in range(300)]
    assert impl.cost(rows, np.ones(300), [1.0, 1.0]) == pytest.approx(4.0)
    rows.append(np.array([True, False]).view(type("Last", (np.ndarray,), {})))
    with pytest.raises(TypeError, match="a bool in a list"):
        impl.cost(rows, np.ones(301), [1.0, 1.0])


def test_forward_refuses_x_without_columns(impl):
    with pytest.raises(ValueError, match="at least one feature"):
        impl.forward(np.ones((2, 0)), 2.0, b=1.0)


def test_validation_is_one_shared_path():
    """Every public compiled function reaches the data through _validate."""
    import inspect

    from gdfast import _validate
    src = inspect.getsource(compiled)
    assert "np.asarray" not in src and "ascontiguousarray" not in src
    assert inspect.getsource(_validate).count("def data(") == 1
    assert "_kernels" not in inspect.getsource(_validate)   # pure Python: both use it
    assert gdfast.IMPLEMENTATION in ("compiled", "python")


NAN_X = [1.0, float("nan"), 3.0]
SEVERAL_FAULTS = [
    # each call has two faults (or a fault and non-finite data): both
    # implementations report the same one, parameters before finiteness
    lambda m: m.minibatch_gd(NAN_X, GOOD_Y, batch_size=2.5),
    lambda m: m.sgd(NAN_X, GOOD_Y, shuffle=True, seed="x"),
    lambda m: m.sgd(NAN_X, GOOD_Y, shuffle="bad"),
    lambda m: m.minibatch_gd(NAN_X, GOOD_Y, batch_size=0, shuffle="bad"),
    lambda m: m.cost(None, GOOD_Y, 1.0, alpha=-1),
    lambda m: m.cost(NAN_X, GOOD_Y, "a"),
    lambda m: m.cost(GOOD_X, GOOD_Y, "a", b=float("nan")),
    lambda m: m.loss(GOOD_X, GOOD_Y, 1.0, b="x", alpha=-1),
    lambda m: m.loss(NAN_X, GOOD_Y, 1.0, alpha=-1),
    lambda m: m.gradient(NAN_X, GOOD_Y, 1.0, fit_intercept="z"),
    lambda m: m.gradient(GOOD_X, GOOD_Y, [1.0, 2.0], alpha=-1),
]


@pytest.mark.parametrize("call", SEVERAL_FAULTS)
def test_several_faults_give_the_same_error_on_both_implementations(call):
    """One order of checks for both (the arguments in _validate's order --
    the data's shape and dtype, w, b, alpha, fit_intercept, then each
    trainer's batch_size, shuffle, seed -- and the data's finiteness last):
    the reference scanned the data first, the compiled side checked alpha
    before the data and b before w."""
    errors = []
    for m in (reference, compiled):
        with pytest.raises((TypeError, ValueError)) as info:
            call(m)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]
    assert "finite" not in errors[0][1]          # a parameter's fault, not the NaN


def test_forward_of_a_negative_zero_is_the_array_paths(impl):
    """The list fast path adds b = 0 as the general path does (-0.0 * 1 + 0.0
    is +0.0); it had returned -0.0 where the array path and the reference
    gave 0.0."""
    got = [impl.forward([-0.0], 1.0)[0], impl.forward(-0.0, 1.0),
           float(impl.forward(np.array([-0.0]), 1.0)[0])]
    assert [math.copysign(1.0, v) for v in got] == [1.0, 1.0, 1.0]


def test_a_fixed_b_is_recorded_as_given(impl):
    r = impl.batch_gd([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], w=0.0, b=-0.0, epochs=2)
    assert [math.copysign(1.0, v) for v in r.intercept_history] == [-1.0, -1.0]
    assert math.copysign(1.0, r.intercept) == -1.0


def test_signed_zeros_compare_equal():
    """docs/accuracy.md: the two implementations may differ in the sign of a
    zero, and in nothing else, on the cases adversarial testing found."""
    for run in (lambda m: m.sgd([1.0, 2.0, 3.0], [-0.0, 0.0, -0.0], w=-0.0, epochs=1).w,
                lambda m: m.forward([-0.0], 1.0, b=-0.0)[0],
                lambda m: m.forward(np.array([-0.0]), 1.0, b=-0.0)[0]):
        a, b = run(compiled), run(reference)
        assert a == b == 0.0


@pytest.mark.parametrize("name", ["sgd", "minibatch_gd"])
def test_a_callbacks_own_value_error_leaves_the_generator_as_the_reference_does(impl, name):
    """Epochs draw from the caller's Generator as the reference's do: a run a
    callback ends leaves it where the reference leaves it."""
    from gdfast import reference

    def stop(epoch, w, loss):
        if epoch == 2:
            raise ValueError("the caller's own")

    def after(module):
        g = np.random.default_rng(5)
        with pytest.raises(ValueError, match="the caller's own"):
            getattr(module, name)(GOOD_X, GOOD_Y, shuffle=True, seed=g, callback=stop)
        return g.random()
    assert after(impl) == after(reference)


def test_the_largest_alpha_is_accepted(impl):
    """MAX_ALPHA itself passes (the bound refuses only what 2*alpha cannot
    hold): its cost at w = 1 is alpha*|w|**2 = MAX_ALPHA (the data's mean
    square error, 2.5, is below its rounding), and the gradient's penalty
    term 2*alpha*w is float64's largest value, finite."""
    from gdfast._validate import MAX_ALPHA
    assert 2 * MAX_ALPHA == sys.float_info.max
    assert impl.cost([1.0, 2.0], [2.0, 4.0], 1.0, alpha=MAX_ALPHA) == MAX_ALPHA
    g = impl.gradient([1.0, 2.0], [2.0, 4.0], 1.0, alpha=MAX_ALPHA)
    assert g == sys.float_info.max + (2 * (1 * -1 + 2 * -2) / 2)    # the penalty's term rules
    with pytest.raises(ValueError, match="at most half of float64's largest value"):
        impl.cost([1.0, 2.0], [2.0, 4.0], 1.0, alpha=math.nextafter(MAX_ALPHA, math.inf))
