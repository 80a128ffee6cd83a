"""The compiled arithmetic: the documented summation order, and bounds for
the methods that reorder it (statistics BGD, affine SGD, threads)."""

import platform

import numpy as np
import pytest

import gdfast._compiled as compiled
from gdfast import _kernels, _plan
from helpers import max_rel, synthetic, with_and_without_avx2

BLOCK = 2048


def _lane_sums(x, y, w):
    """The documented block order in plain Python floats (see _blocks.pxd):
    groups of four go to lanes 0..3, the tail to lane 0, (l0+l1)+(l2+l3)."""
    a, b = [0.0] * 4, [0.0] * 4
    full = len(x) - len(x) % 4
    for i, (xi, yi) in enumerate(zip(x, y)):
        r = xi * w - yi
        j = i % 4 if i < full else 0
        a[j] += r * r
        b[j] += xi * r
    return (a[0] + a[1]) + (a[2] + a[3]), (b[0] + b[1]) + (b[2] + b[3])


@pytest.mark.parametrize("n", [1, 3, 4, 7, 64, 1001, BLOCK])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_block_sums_follow_the_documented_order_bit_for_bit(n, dtype):
    x, y = synthetic(n, seed=n, dtype=dtype)
    want = _lane_sums([float(v) for v in x], [float(v) for v in y], 1.37)
    assert _kernels.pass_sums(x, y, 1.37) == want


def test_blocks_are_added_in_order():
    n = 3 * BLOCK + 5
    x, y = synthetic(n, seed=1)
    total = [0.0, 0.0]
    for lo in range(0, n, BLOCK):
        part = _lane_sums(x[lo:lo + BLOCK].tolist(), y[lo:lo + BLOCK].tolist(), 0.5)
        total = [total[0] + part[0], total[1] + part[1]]
    assert _kernels.pass_sums(x, y, 0.5) == tuple(total)
    # and the threaded pass adds the same block partials in the same order
    assert _kernels.pass_sums(x, y, 0.5, 2) == tuple(total)


@pytest.mark.parametrize("n", [1000, 100_000])
def test_stats_method_within_bound_of_pass_method(n):
    """batch_gd(method="stats") is exact in real arithmetic; in floating point
    it stays within 1e-12 relative of a pass per epoch (README: accuracy)."""
    for slope, noise in ((3.0, 0.5), (2.0, 1e-6), (-1.0, 10.0)):
        x, y = synthetic(n, seed=2, slope=slope, noise=noise)
        kw = dict(lr=0.1, epochs=100)
        stats = compiled.batch_gd(x, y, method="stats", **kw)
        passes = compiled.batch_gd(x, y, method="pass", **kw)
        assert max_rel(stats.w_history, passes.w_history) < 1e-12
        assert max_rel(stats.loss_history, passes.loss_history) < 1e-10


def test_stats_method_on_exact_data_reaches_zero_cost():
    """Noise-free y = 2x: the pilot slope is exact, so the cost falls to 0
    like the pass method's instead of stalling at rounding noise."""
    x = np.linspace(-3, 3, 70_000)
    y = 2.0 * x
    stats = compiled.batch_gd(x, y, lr=0.1, epochs=400, method="stats")
    passes = compiled.batch_gd(x, y, lr=0.1, epochs=400, method="pass")
    assert stats.loss_history[-1] <= 1e-25 and passes.loss_history[-1] <= 1e-25
    assert max_rel(stats.w_history, passes.w_history) < 1e-13


def test_affine_sgd_within_bound_of_plain():
    """The documented bound (docs/hardening.md): over a run, affine and plain
    differ by at most n * 2**-53 * max|w| (n samples per epoch, max over w0
    and every epoch's w). Relative to each epoch's own w it is no bound where
    w passes near 0; on Gaussian data it stays below 1e-13 of w."""
    x, y = synthetic(100_000, seed=4)
    for lr in (0.001, 0.05, 0.3):
        plain = compiled.sgd(x, y, lr=lr, epochs=5, method="plain")
        affine = compiled.sgd(x, y, lr=lr, epochs=5, method="affine")
        assert max_rel(affine.w_history, plain.w_history) < 1e-13
        assert max_rel(affine.loss_history, plain.loss_history) < 1e-9
    # the worst case of a search over 400 runs (Cauchy x, lr = 0.99/max x**2,
    # seeds 0-159, shuffled or not): 0.19 * n * 2**-53 * max|w|
    rng = np.random.default_rng(134)
    n = int(rng.choice([65536, 100_000, 150_000]))
    x = rng.standard_cauchy(n)
    y = 2 * x + rng.standard_normal(n) * 10 ** rng.uniform(-3, 1)
    kw = dict(w=-50.0, lr=0.99 / np.max(x * x), epochs=8)
    plain = compiled.sgd(x, y, method="plain", **kw).w_history
    affine = compiled.sgd(x, y, method="affine", **kw).w_history
    scale = max(50.0, np.max(np.abs(plain)))
    worst = np.max(np.abs(affine - plain)) / scale
    assert 1e-12 < worst <= n * 2.0 ** -53       # a real difference, within the bound


def test_auto_methods_switch_at_the_documented_size():
    n = compiled.STATS_MIN_N
    x, y = synthetic(n, seed=3)
    small = (x[:n - 1], y[:n - 1])
    assert np.array_equal(compiled.batch_gd(*small, epochs=3).w_history,
                          compiled.batch_gd(*small, epochs=3, method="pass").w_history)
    assert np.array_equal(compiled.batch_gd(x, y, epochs=3).w_history,
                          compiled.batch_gd(x, y, epochs=3, method="stats").w_history)
    assert np.array_equal(compiled.sgd(*small, epochs=2).w_history,
                          compiled.sgd(*small, epochs=2, method="plain").w_history)
    assert np.array_equal(compiled.sgd(x, y, epochs=2).w_history,
                          compiled.sgd(x, y, epochs=2, method="affine").w_history)
    k = _plan.AFFINE_MIN_EPOCHS
    assert compiled.minibatch_gd(*small, epochs=k).method == "batches"
    # unshuffled, from the first epoch (it collects its own certificate's maxima)
    for e in (1, 2, k):
        r = compiled.minibatch_gd(x, y, epochs=e)
        assert r.method == "affine"
        assert np.array_equal(r.w_history,
                              compiled.minibatch_gd(x, y, epochs=e, method="affine").w_history)
    # shuffled, from AFFINE_MIN_EPOCHS (its certificate reads the data first)
    assert compiled.minibatch_gd(x, y, epochs=k - 1, shuffle=True, seed=1).method == "batches"
    assert compiled.minibatch_gd(x, y, epochs=k, shuffle=True, seed=1).method == "affine"
    assert compiled.minibatch_gd(x, y, epochs=k, fit_intercept=True).method == "batches"
    big = _plan.AFFINE_MAX_BATCH
    assert compiled.minibatch_gd(x, y, big, epochs=k).method == "affine"
    assert compiled.minibatch_gd(x, y, big + 1, epochs=k).method == "batches"


def test_affine_minibatch_within_bound_of_batches():
    """minibatch_gd(method="affine") takes each batch's sums of x*x and x*y
    (the same lanes as "batches", at w = 0) and steps w - lr*2*(w*S_xx -
    S_xy)/m: exact in real arithmetic. The documented bound (docs/accuracy.md):
    within 1e-13 of each epoch's w on Gaussian data, shuffled or not, batches
    of 1 to n, float32 or float64; the recorded loss within 1e-9."""
    x, y = synthetic(100_000, seed=6)
    for lr in (0.001, 0.05, 0.3):
        for size in (1, 7, 32, 2048, 2049, 5000, 100_000):
            for shuffle in (False, True):
                kw = dict(lr=lr, epochs=3, shuffle=shuffle, seed=2)
                plain = compiled.minibatch_gd(x, y, size, method="batches", **kw)
                affine = compiled.minibatch_gd(x, y, size, method="affine", **kw)
                assert plain.method == "batches" and affine.method == "affine"
                assert max_rel(affine.w_history, plain.w_history) < 1e-13, (lr, size)
                assert max_rel(affine.loss_history, plain.loss_history) < 1e-9
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    assert max_rel(compiled.minibatch_gd(x32, y32, method="affine", epochs=3).w_history,
                   compiled.minibatch_gd(x32, y32, method="batches", epochs=3).w_history) < 1e-13


@pytest.mark.parametrize("noise", [1e-8, 0.0])
def test_affine_minibatch_loss_of_a_near_exact_fit_within_its_absolute_bound(noise):
    """Adversarial testing: on y = 2x + 1e-8 noise (batches of 2048, 40
    epochs) the recorded losses of "affine" and "batches" differed by 1e-8
    relative (35% with no noise): both round each residual at y's scale, so
    a loss that small has the statistics' absolute bound
    64*eps*sqrt(loss*mean(y**2)) (docs/accuracy.md)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(70_000)
    y = 2.0 * x + noise * rng.standard_normal(x.shape[0])
    kw = dict(w=0.0, lr=0.04, epochs=40)
    affine = compiled.minibatch_gd(x, y, 2048, method="affine", **kw)
    plain = compiled.minibatch_gd(x, y, 2048, method="batches", **kw)
    eps = np.finfo(np.float64).eps
    bound = np.maximum(1e-9 * plain.loss_history,
                       64 * eps * np.sqrt(plain.loss_history * np.mean(y * y)))
    assert np.all(np.abs(affine.loss_history - plain.loss_history) <= bound)


def test_affine_minibatch_threads_give_identical_bits():
    x, y = synthetic(70_000, seed=7)
    for size in (32, 5000):
        one = compiled.minibatch_gd(x, y, size, method="affine", epochs=2, threads=1)
        two = compiled.minibatch_gd(x, y, size, method="affine", epochs=2, threads=2)
        assert np.array_equal(one.w_history, two.w_history)
        assert np.array_equal(one.loss_history, two.loss_history)


def test_affine_minibatch_needs_the_tutorial_model():
    x, y = synthetic(1000, seed=8)
    with pytest.raises(ValueError, match="method='affine' needs one feature"):
        compiled.minibatch_gd(x, y, method="affine", fit_intercept=True)
    with pytest.raises(ValueError, match="method"):
        compiled.minibatch_gd(x, y, method="plain")


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"),
                    reason="the SSE2/AVX2 paths exist only on x86; other CPUs build the "
                    "portable scalar loops")
def test_simd_paths_give_identical_bits(tmp_path):
    """The block kernel runs on AVX2 where the CPU has it and SSE2 otherwise
    (GDFAST_NO_AVX2=1 forces SSE2): same lanes, same operations, same bits."""
    code = ("import numpy as np\n"
            "from gdfast import _kernels\n"
            "rng = np.random.default_rng(5)\n"
            "out = [_kernels.simd()]\n"
            "for n in (3, 7, 4099, 100003):\n"
            "    for dt in (np.float64, np.float32):\n"
            "        x = rng.standard_normal(n).astype(dt); y = (2 * x + 1).astype(dt)\n"
            "        out.append(repr(_kernels.pass_sums(x, y, 1.37)))\n"
            "        out.append(repr(_kernels.data_stats(x, y)))\n"
            "        h = np.empty((3, 3))\n"
            "        _kernels.minibatch_epochs(x, y, 32, 1.37, 0.01, h, affine=True)\n"
            "        out.append(repr(h.tolist()))\n"
            "print('\\n'.join(out))\n")
    runs = with_and_without_avx2(code, tmp_path, timeout=60)
    assert runs["1"][0] == "sse2" and runs["0"][0] in ("avx2", "sse2")
    assert runs["0"][1:] == runs["1"][1:]
