"""Sample orders for shuffled epochs, shared by both implementations.

``shuffle=True`` visits each epoch in a fresh ``rng.permutation(n)``: the
exact global shuffle (the reference's, and the tutorial's idea of SGD). On
data larger than the caches it is slow: the permutation itself is a
Fisher-Yates pass with a cache miss per swap, and visiting rows in its order
is a random gather.

``shuffle="blocks"`` keeps locality: the rows are cut into blocks of
BLOCK_ROWS consecutive rows (the last may be shorter), and each epoch draws
one ``rng.permutation(n_blocks)``. Taking the blocks in that order, GROUP
blocks at a time, the epoch visits row 0 of each block of the group, then
row 1 of each, and so on (skipping rows a short block lacks). Consecutive
updates thus come from GROUP random places in the data -- what SGD on sorted
or clustered rows needs (tests/test_shuffle.py: on rows sorted by y it ends
within a small factor of the exact global shuffle, where stored order is
off by more than 20 times as much) -- while each group (GROUP * BLOCK_ROWS rows)
is read as a handful of cache lines per block, not a cache miss per row.
It is not a uniform permutation of the rows. Both implementations draw the
same permutation from the same Generator and build the same order, so
their runs are identical.
"""

import numpy as np


__all__ = ["BLOCK_ROWS", "GROUP", "mode", "block_draws", "block_order"]

#: rows per block of shuffle="blocks"
BLOCK_ROWS = 256
#: blocks whose rows are interleaved
GROUP = 64


def mode(shuffle, blocks=True):
    """None (no shuffle), "global" (True) or "blocks" -- which gdfast.dask
    (``blocks=False``) refuses: there shuffle=True already keeps locality."""
    accepted = "True, False or 'blocks'" if blocks else "True or False"
    if isinstance(shuffle, str):
        if shuffle == "blocks" and not blocks:
            raise ValueError(
                "shuffle='blocks' is for in-memory data; on Dask arrays shuffle=True visits "
                "the chunks in a random order and each chunk's rows in a random order (rows "
                "never leave their chunk: docs/dask.md)")
        if shuffle != "blocks":
            raise ValueError(f"shuffle must be {accepted}, got {shuffle!r:.40}")
        return shuffle
    if isinstance(shuffle, (bool, np.bool_)):
        return "global" if shuffle else None
    raise TypeError(f"shuffle must be {accepted}, got {type(shuffle).__name__} "
                    f"{shuffle!r:.40}")


def block_draws(rng, n):
    """One epoch's numbers: the block order."""
    return rng.permutation(-(-n // BLOCK_ROWS))


def block_order(n, perm):
    """The epoch's order as a list, in plain Python (the reference's)."""
    order = []
    for g in range(0, len(perm), GROUP):
        starts = [int(k) * BLOCK_ROWS for k in perm[g:g + GROUP]]
        for j in range(BLOCK_ROWS):
            for start in starts:
                if start + j < n:
                    order.append(start + j)
    return order
