"""Method choice: what ``method="auto"`` resolves to, and the numbers it uses.

The choice is made here, once per call, and recorded on the result
(``TrainResult.method``); the driver and the kernels never re-derive it.
"""

from . import _validate

__all__ = ["STATS_MIN_N", "GRAM_SPEEDUP", "BLOCKS_MAX_D", "batch_method", "sgd_method",
           "stats_passes"]

#: Below this many samples ``auto`` keeps the per-epoch methods, whose order
#: of arithmetic is the reference's (the tutorial's digits); from it on the
#: exact fast methods (batch_gd "stats", sgd "affine") may take over.
STATS_MIN_N = 1 << 16

#: How many multiply-adds of the Gram matrix X'X (numpy's BLAS) cost about
#: as much as reading one value of X in a memory-bound pass. A cost model
#: constant, not a tuned threshold: it only has to rank "stats" against
#: "pass" correctly when they are far apart.
GRAM_SPEEDUP = 8.0


def stats_passes(d, one_feature):
    """The statistics method's cost in units of one pass over X.

    One feature, no intercept, no penalty (the tutorial's model): two
    streaming passes. Otherwise: column means, then the centred Gram matrix
    (d*(d+1)/2 multiply-adds per row), then residuals about the centre.
    """
    if one_feature:
        return 2.0
    return 2.0 + (d + 1) / (2.0 * GRAM_SPEEDUP) + 1.0


def batch_method(method, n, d, epochs, one_feature):
    """"pass" (a pass over the data per epoch) or "stats" (passes once, then
    every epoch from d x d numbers). auto: "stats" when n >= STATS_MIN_N and
    its passes cost less than the epochs' passes."""
    method = _validate.choice(method, "method", ("auto", "pass", "stats"))
    if method != "auto":
        return method
    if n >= STATS_MIN_N and stats_passes(d, one_feature) < epochs:
        return "stats"
    return "pass"


#: "blocks" handles up to this many features with d fixed at compile time
BLOCKS_MAX_D = 8


def sgd_method(method, n, d, one_feature):
    """"plain" (the update as written, the reference's order), "affine" (1-D
    data without intercept or penalty only: each step as a map
    w -> a*w + c, folded four segments at a time), "lanes" (any data: the
    dot product x·w in eight SIMD lanes, the update vectorised) or "blocks"
    (any data, four rows at a time through their Gram matrix; fastest for
    d <= BLOCKS_MAX_D). auto: from STATS_MIN_N samples on "affine" where it
    applies, else "blocks" up to BLOCKS_MAX_D features, else "lanes";
    "plain" below."""
    method = _validate.choice(method, "method",
                              ("auto", "plain", "affine", "lanes", "blocks"))
    if method == "affine" and not one_feature:
        raise ValueError("method='affine' needs one feature without intercept or "
                         "penalty (b=0, fit_intercept=False, alpha=0); use 'lanes' or "
                         "'plain'")
    if method == "auto":
        if n < STATS_MIN_N:
            return "plain"
        if one_feature:
            return "affine"
        return "blocks" if d <= BLOCKS_MAX_D else "lanes"
    return method
