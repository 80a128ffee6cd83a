"""Stub for the compiled module gdfast._rows (see _rows.pyx): per-chunk
kernels for X of shape (n, d).

``X`` is 2-D C-contiguous float32/float64, ``y`` 1-D C-contiguous
float32/float64 of length n (the dtypes may differ), n >= 1, d >= 1; ``w``
a float64 array of shape (d,), updated in place by the training kernels;
``order`` an int64 permutation of 0..n-1 or None. Nothing is checked here:
gdfast._validate does that first.
"""

from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

_F = npt.NDArray[np.floating]
_D = npt.NDArray[np.float64]
_I = npt.NDArray[np.int64]

def pass_sums(X: _F, y: _F, w: _D, b: float, out: _D, threads: int = ...,
              signals: bool = ...) -> None: ...
def batch_epoch(X: _F, y: _F, w: _D, b: float, lr: float, alpha: float, fit_b: bool,
                threads: int = ..., signals: bool = ...) -> Tuple[float, float]: ...
def minibatch_epoch(X: _F, y: _F, w: _D, b: float, lr: float, alpha: float, fit_b: bool,
                    batch_size: int, order: Optional[_I] = ..., threads: int = ...,
                    signals: bool = ...) -> Tuple[float, float, float]: ...
PLAIN: int
LANES: int
GRAM: int

def sgd_epoch(X: _F, y: _F, w: _D, b: float, lr: float, alpha: float, fit_b: bool,
              order: Optional[_I] = ..., signals: bool = ...,
              mode: int = ..., blocks: Optional[_I] = ..., block_rows: int = ...,
              group: int = ...) -> Tuple[float, float, float]: ...
def forward_into(X: _F, w: _D, b: float, out: _D) -> None: ...
def loss_into(X: _F, y: _F, w: _D, b: float, alpha: float, out: _D) -> None: ...
def iota(order: _I) -> None: ...
def block_order(order: _I, perm: _I, block: int, group: int) -> None: ...
def max_abs_pair(x: _F, y: _F) -> Tuple[float, float]: ...
def moments_small(X: _F, y: _F, mean: _D, C: _D, signals: bool = ...,
                  w0: Optional[_D] = ..., shift: Optional[_D] = ...) -> None: ...
def residuals(X: _F, y: _F, xbar: _D, ybar: float, wstar: _D, out: _D,
              signals: bool = ...) -> None: ...
def check_signals() -> None: ...
