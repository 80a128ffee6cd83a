"""shuffle="blocks": a locality-keeping shuffle, the same in both implementations."""

import numpy as np
import pytest

import gdfast._compiled as compiled
import gdfast.reference as reference
from gdfast import _rows, _shuffle


@pytest.mark.parametrize("n", [1, 5, 64, 65, 5000, 40_000])
def test_block_order_is_a_permutation_and_matches_the_reference(n):
    rng = np.random.default_rng(n)
    perm = _shuffle.block_draws(rng, n)
    order = np.empty(n, dtype=np.int64)
    _rows.block_order(order, perm, _shuffle.BLOCK_ROWS, _shuffle.GROUP)
    assert order.tolist() == _shuffle.block_order(n, perm)
    assert sorted(order.tolist()) == list(range(n))
    # the first updates come from the first group's blocks, one row of each
    k = min(_shuffle.GROUP, len(perm))
    first = [int(b) * _shuffle.BLOCK_ROWS for b in perm[:k] if int(b) * _shuffle.BLOCK_ROWS < n]
    assert order[:len(first)].tolist() == first


@pytest.mark.parametrize("name", ["sgd", "minibatch_gd"])
@pytest.mark.parametrize("two_d", [False, True])
def test_both_implementations_visit_the_same_order(name, two_d):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 3)) if two_d else rng.standard_normal(3000)
    y = (X.sum(axis=1) if two_d else 2 * X) + 0.1 * rng.standard_normal(3000)
    kw = dict(lr=0.01, epochs=3, shuffle="blocks", seed=7)
    a = getattr(reference, name)(X, y, **kw)
    b = getattr(compiled, name)(X, y, **kw)
    assert np.array_equal(a.coef_history, b.coef_history)
    c = getattr(compiled, name)(X, y, **kw)
    assert np.array_equal(b.coef_history, c.coef_history)          # reproducible
    d = getattr(compiled, name)(X, y, **dict(kw, seed=8))
    assert not np.array_equal(b.coef_history, d.coef_history)      # seed-dependent


def test_bad_shuffle_values(impl):
    for bad in ("block", "yes", 1, None):
        with pytest.raises((TypeError, ValueError), match="shuffle"):
            impl.sgd([1.0, 2.0], [2.0, 4.0], shuffle=bad, epochs=1)


def test_on_rows_sorted_by_y_blocks_converge_near_the_global_shuffle():
    """Rows sorted by the target (a table sorted by price, say): constant-rate
    SGD in stored order ends far from the least-squares fit (the last rows all
    lie above it); shuffle="blocks" ends within a small factor of the exact
    global shuffle (averaged over seeds: a single last iterate is noisy)."""
    rng = np.random.default_rng(2)
    n = 200_000
    X = rng.standard_normal((n, 2))
    y = X @ np.array([2.0, -1.0]) + 1.0 + 0.5 * rng.standard_normal(n)
    o = np.argsort(y)
    X, y = X[o], y[o]
    A = np.column_stack([X, np.ones(n)])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]

    def err(shuffle, seed):
        r = compiled.sgd(X, y, w=0.0, lr=0.002, epochs=3, shuffle=shuffle, seed=seed,
                         fit_intercept=True)
        return np.linalg.norm(np.r_[r.coef, r.intercept] - sol)

    stored = err(False, 0)
    blocks = np.mean([err("blocks", s) for s in range(4)])
    exact = np.mean([err(True, s) for s in range(4)])
    assert blocks < 3 * exact
    assert stored > 20 * blocks


@pytest.mark.parametrize("n", [3 * 16_384, 5 * 16_384 + 7 * 256, 65_536, 70_001,
                               3 * 4096 + 17, 16_384 * 3 + 100])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_affine_epoch_folds_full_groups_straight_from_the_blocks(n, dtype):
    """The affine epoch over the generated shuffle="blocks" order reads a
    full group's samples straight from its 64 blocks (sgd_fold_group), any
    other group through its written rows; direct=False writes every group's
    rows: the same samples folded the same way, so the same bits -- with the
    short last block in a full group or not, groups of fewer than 64 blocks,
    float32 and float64, over two epochs (the second from the first's w)."""
    from gdfast import _kernels
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    y = (2 * x + rng.standard_normal(n)).astype(dtype)
    runs = []
    for direct in (True, False):
        draws = np.random.default_rng(5)
        perm = np.empty(-(-n // _shuffle.BLOCK_ROWS), dtype=np.int64)

        def refill():
            perm[:] = _shuffle.block_draws(draws, n)

        h = np.empty((2, 3))
        _kernels.sgd_epochs(x, y, 0.5, 0.01, h, 0, None, refill, None, True, False, perm,
                            _shuffle.BLOCK_ROWS, _shuffle.GROUP, None, direct)
        runs.append(h)
    assert np.array_equal(runs[0], runs[1])
    # and equal to the plain per-sample loop up to the affine form's rounding
    draws = np.random.default_rng(5)
    perm = np.empty(-(-n // _shuffle.BLOCK_ROWS), dtype=np.int64)
    hp = np.empty((2, 3))
    _kernels.sgd_epochs(x, y, 0.5, 0.01, hp, 0, None,
                        lambda: perm.__setitem__(slice(None), _shuffle.block_draws(draws, n)),
                        None, False, False, perm, _shuffle.BLOCK_ROWS, _shuffle.GROUP)
    np.testing.assert_allclose(runs[0], hp, rtol=1e-9)


@pytest.mark.parametrize("n", [65_536, 70_001, 3 * 4096 + 17])
def test_generated_block_order_gives_the_bits_of_the_written_one(n):
    """sgd makes the shuffle="blocks" order inside its loop, a chunk at a
    time (_order.pxd), instead of reading an n-row order: the same rows in
    the same order, so the same bits for the plain form and the d > 1 forms;
    the one-feature affine form folds the generated order in runs of its
    groups, so there equal to rounding."""
    from gdfast import _kernels, _rows
    rng = np.random.default_rng(n)
    perm = _shuffle.block_draws(np.random.default_rng(3), n).astype(np.int64)
    order = np.empty(n, dtype=np.int64)
    _rows.block_order(order, perm, _shuffle.BLOCK_ROWS, _shuffle.GROUP)
    keep = lambda: None                 # noqa: E731 -- the shuffler: keep this epoch's draw
    x = rng.standard_normal(n)
    y = 2 * x + rng.standard_normal(n)
    for affine in (False, True):
        h1, h2 = np.empty((1, 3)), np.empty((1, 3))
        _kernels.sgd_epochs(x, y, 0.5, 0.01, h1, 0, None, keep, order, affine)
        _kernels.sgd_epochs(x, y, 0.5, 0.01, h2, 0, None, keep, None, affine, False, perm,
                            _shuffle.BLOCK_ROWS, _shuffle.GROUP)
        if affine:
            # the generated order's affine epoch folds each group in runs of
            # its own (not runs of the whole order): the same samples, the
            # bits of other runs, so equal to rounding; the loss is the same
            # last sample's
            np.testing.assert_allclose(h2, h1, rtol=1e-12, atol=0)
        else:
            assert np.array_equal(h1, h2)
    X = rng.standard_normal((n, 5))
    yy = X.sum(axis=1) + rng.standard_normal(n)
    for mode in (_rows.PLAIN, _rows.LANES, _rows.GRAM):
        w1, w2 = np.zeros(5), np.zeros(5)
        r1 = _rows.sgd_epoch(X, yy, w1, 0.0, 0.001, 0.1, True, order, False, mode)
        r2 = _rows.sgd_epoch(X, yy, w2, 0.0, 0.001, 0.1, True, None, False, mode, perm,
                             _shuffle.BLOCK_ROWS, _shuffle.GROUP)
        assert np.array_equal(w1, w2) and r1 == r2


# ------------------------------------- shuffle=True: numpy's permutation, prefetched

def _same_state(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    return np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b


BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                  np.random.Philox, np.random.SFC64]


@pytest.mark.parametrize("kind", BIT_GENERATORS)
@pytest.mark.parametrize("n", [0, 1, 2, 63, 64, 65, 129, 5000, 300_000])
def test_prefetched_shuffle_is_numpys_bit_for_bit(kind, n):
    from gdfast import _permute
    for seed in (0, 3):
        ours, theirs = np.random.Generator(kind(seed)), np.random.Generator(kind(seed))
        a = np.arange(n, dtype=np.int64)
        b = a.copy()
        _permute.shuffle(a, ours)
        theirs.shuffle(b)
        assert np.array_equal(a, b)
        # the same draws consumed: the bit generators' whole states agree
        # (including a buffered half of a 64-bit draw)
        assert _same_state(ours.bit_generator.state, theirs.bit_generator.state)


def test_shuffle_like_numpy_falls_back_where_it_cannot_check(monkeypatch):
    from gdfast import _permute

    class Unbuildable(np.random.PCG64):        # no constructor from a seed alone
        def __init__(self, state, extra):
            super().__init__(state)
    calls = []
    real = np.random.Generator.shuffle
    rng = np.random.Generator(Unbuildable(5, None))
    ref = np.random.Generator(np.random.PCG64(5))
    a = np.arange(1000, dtype=np.int64)
    b = a.copy()
    monkeypatch.setattr(_permute, "shuffle", lambda *args: calls.append(args))
    _permute.shuffle_like_numpy(a, rng)       # numpy's own shuffle, not ours
    real(ref, b)
    assert not calls and np.array_equal(a, b)


def test_exact_shuffle_orders_equal_the_references_permutations():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((70_000, 2))
    y = X @ [1.0, -1.0] + 0.5
    kw = dict(w=0.0, lr=0.001, epochs=2, fit_intercept=True, shuffle=True, seed=9)
    ours = compiled.sgd(X, y, method="plain", **kw)
    ref = reference.sgd(X, y, **kw)
    assert np.array_equal(ours.coef_history, ref.coef_history)


@pytest.mark.parametrize("mx", [0, 1, 5, 2**32 - 1, 2**32, 2**40 + 12345, 2**64 - 1])
def test_random_interval_is_numpys_masked_rejection(mx):
    """The draws behind the shuffle, in both of numpy's branches (32-bit
    draws up to 2**32 - 1, 64-bit beyond), against the rule written out on
    the raw 64-bit outputs of a PCG64 (whose 32-bit draws are the halves of
    one 64-bit output, low half first)."""
    from gdfast import _permute
    ours = _permute.interval_draws(np.random.Generator(np.random.PCG64(11)), mx, 200)
    raw = np.random.PCG64(11)
    mask = (1 << max(mx, 1).bit_length()) - 1 if mx else 0
    want, half = [], None
    while len(want) < 200:
        if mx == 0:
            want.append(0)
            continue
        if mx <= 0xFFFFFFFF:
            if half is None:
                v = int(raw.random_raw())
                value, half = v & 0xFFFFFFFF, v >> 32
            else:
                value, half = half, None
        else:
            value = int(raw.random_raw())
        value &= mask
        if value <= mx:
            want.append(value)
    assert ours == want


def test_blocks_affine_epoch_when_a_groups_last_rows_are_all_past_n():
    """A group whose remaining positions are all rows of the short block past
    n: the fill returns none, and the epoch's last sample (its recorded loss)
    is still the order's last row -- the plain loop's loss, up to rounding."""
    from gdfast import _kernels
    n = 512
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n)
    y = 2.0 * x + 0.1 * rng.standard_normal(n)
    perm = np.array([0, 1], dtype=np.int64)
    keep = lambda: None                 # noqa: E731 -- the shuffler: keep this draw
    runs = []
    for affine in (True, False):
        h = np.empty((1, 3))
        _kernels.sgd_epochs(x, y, 0.5, 0.01, h, 0, None, keep, None, affine, False, perm,
                            300, 2, None, False)
        runs.append(h)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)
