"""The per-chunk row kernels (gdfast._rows): documented order, SIMD paths,
dtype combinations, chunking."""

import numpy as np
import pytest

from gdfast import _rows
from helpers import with_and_without_avx2


def _dot4p(x, w):
    """The row sums' dot product (_rowops.h "dotp"): up to 16 features four
    lanes, beyond eight; a short last group of four padded with +0.0;
    lanes combined pairwise."""
    d = len(x)
    L = 4 if d <= 16 else 8
    a = [0.0] * L
    for j in range(d):
        a[j % L] += x[j] * w[j]
    full = d - d % L
    if d % L:                                  # the padded lanes of the last group(s) of four
        last = full + (4 if d % L > 4 else 0)  # start of the partial group of four
        for j in range(d, last + 4):
            a[j % L] += 0.0
    if L == 4:
        return (a[0] + a[1]) + (a[2] + a[3])
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))


def _block_sums(X, y, w, b, rows=256):
    """pass_sums' documented order: blocks of ROWS rows, rows in order."""
    n, d = len(X), len(w)
    tot = [0.0] * (d + 2)
    for lo in range(0, n, rows):
        part = [0.0] * (d + 2)
        for i in range(lo, min(lo + rows, n)):
            r = _dot4p(X[i], w) + b - y[i]
            part[0] += r * r
            part[1] += r
            for j in range(d):
                part[2 + j] += r * X[i][j]
        tot = [t + p for t, p in zip(tot, part)]
    return tot


@pytest.mark.parametrize("n,d", [(1, 1), (5, 3), (300, 8), (600, 11), (257, 16), (257, 17),
                                 (90, 43)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pass_sums_follow_the_documented_order_bit_for_bit(n, d, dtype):
    rng = np.random.default_rng(n * d)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    w = rng.standard_normal(d)
    out = np.empty(d + 2)
    _rows.pass_sums(X, y, w, 0.3, out)
    want = _block_sums([[float(v) for v in row] for row in X], [float(v) for v in y],
                       w.tolist(), 0.3)
    assert out.tolist() == want


@pytest.mark.parametrize("xt", [np.float32, np.float64])
@pytest.mark.parametrize("yt", [np.float32, np.float64])
def test_every_dtype_pair_computes_in_double(xt, yt):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1000, 4)).astype(xt)
    y = rng.standard_normal(1000).astype(yt)
    w = np.ones(4)
    out, ref = np.empty(6), np.empty(6)
    _rows.pass_sums(X, y, w, 0.0, out)
    _rows.pass_sums(X.astype(np.float64), y.astype(np.float64), w, 0.0, ref)
    assert np.array_equal(out, ref)


def test_sgd_epoch_over_chunks_equals_one_pass():
    """SGD kernels keep no state: chunk after chunk is the whole epoch, bit for bit."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1000, 5))
    y = rng.standard_normal(1000)
    w1, w2 = np.zeros(5), np.zeros(5)
    b1 = _rows.sgd_epoch(X, y, w1, 0.0, 0.01, 0.1, True)[0]
    b2 = 0.0
    for lo in range(0, 1000, 333):
        b2 = _rows.sgd_epoch(X[lo:lo + 333], y[lo:lo + 333], w2, b2, 0.01, 0.1, True)[0]
    assert np.array_equal(w1, w2) and b1 == b2


def test_simd_paths_give_identical_bits(tmp_path):
    """AVX2 where the CPU has it, SSE2 with GDFAST_NO_AVX2=1: the same bits --
    the pass sums, every SGD form's weights, intercept, last loss and running
    loss, and mini-batch epochs, in order and through an order, for every
    n mod 4 (the blocks' tails), with and without a penalty, both dtypes."""
    code = ("import numpy as np\n"
            "from gdfast import _rows, _kernels\n"
            "rng = np.random.default_rng(5)\n"
            "out = [_kernels.simd()]\n"
            "for n, d in ((3, 1), (97, 2), (203, 3), (500, 4), (700, 7), (501, 8), (1001, 10),\n"
            "             (1002, 10), (1003, 5), (502, 12), (601, 13), (602, 14), (603, 15),\n"
            "             (998, 16), (41, 17), (300, 100)):\n"
            "    for dx, dy in ((np.float64, np.float64), (np.float32, np.float32),\n"
            "                   (np.float32, np.float64), (np.float64, np.float32)):\n"
            "        X = rng.standard_normal((n, d)).astype(dx); y = (X.sum(1) + 1).astype(dy)\n"
            "        order = rng.permutation(n).astype(np.int64)\n"
            "        o = np.empty(d + 2); _rows.pass_sums(X, y, np.linspace(0, 1, d), 0.5, o)\n"
            "        out.append(repr(o.tolist()))\n"
            "        for od in (None, order):\n"
            "            for alpha in (0.0, 0.1):\n"
            "                for mode in (_rows.LANES, _rows.GRAM):\n"
            "                    w = np.zeros(d)\n"
            "                    r = _rows.sgd_epoch(X, y, w, 0.0, 0.001, alpha, True, od, False, mode)\n"
            "                    out.append(repr((w.tolist(), r)))\n"
            "                w = np.zeros(d)\n"
            "                r = _rows.minibatch_epoch(X, y, w, 0.0, 0.001, alpha, True, 8, od)\n"
            "                out.append(repr((w.tolist(), r)))\n"
            "print('\\n'.join(out))\n")
    runs = with_and_without_avx2(code, tmp_path, timeout=60)
    assert runs["1"][0] == "sse2" or runs["1"][0] == "scalar"
    assert runs["0"][1:] == runs["1"][1:]


@pytest.mark.parametrize("method", ["lanes", "gram"])
@pytest.mark.parametrize("d", [2, 7, 10, 40])
@pytest.mark.parametrize("fit,alpha", [(False, 0.0), (True, 0.0), (True, 0.1)])
def test_fast_sgd_within_bound_of_plain(method, d, fit, alpha):
    """methods "lanes" and "gram" rearrange the update exactly in real
    arithmetic: over three shuffled 20,000-row epochs the coefficients stay
    within 1e-12 of the largest |coefficient| (docs/accuracy.md)."""
    import gdfast._compiled as compiled
    rng = np.random.default_rng(d)
    X = rng.standard_normal((20_000, d))
    y = X @ np.arange(1.0, d + 1.0) + 2.0 + 0.1 * rng.standard_normal(20_000)
    kw = dict(lr=0.01 / d, epochs=3, fit_intercept=fit, alpha=alpha, shuffle=True, seed=1)
    plain = compiled.sgd(X, y, method="plain", **kw)
    lanes = compiled.sgd(X, y, method=method, **kw)
    assert lanes.method == method
    scale = np.max(np.abs(plain.coef_history), axis=1, keepdims=True)
    assert np.max(np.abs(lanes.coef_history - plain.coef_history) / scale) < 1e-12
    assert np.allclose(lanes.intercept_history, plain.intercept_history, rtol=1e-12,
                       atol=1e-12 * scale.max())
    assert np.allclose(lanes.loss_history, plain.loss_history, rtol=1e-9)
