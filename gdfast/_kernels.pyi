"""Stub for the compiled module gdfast._kernels (see _kernels.pyx).

Arrays are 1-D C-contiguous float32 or float64 (x and y of one dtype),
n >= 1; ``hist`` is a C-contiguous float64 array of shape (2, >= epochs):
row 0 receives w after each epoch, row 1 the epoch's recorded loss. Nothing is checked here:
gdfast._validate does that first.
"""

from typing import Callable, Optional, Tuple

import numpy as np
import numpy.typing as npt

_F = npt.NDArray[np.floating]
_D = npt.NDArray[np.float64]
_Hook = Optional[Callable[[int, float, float], bool]]

RAN: int
DIVERGED: int
STOPPED: int

def first_nonfinite(a: _F) -> int: ...
def pass_sums(x: _F, y: _F, w: float, threads: int = ..., signals: bool = ...) -> Tuple[float, float]: ...
def forward_into(x: _F, w: float, out: _D) -> None: ...
def loss_into(x: _F, y: _F, w: float, out: _D) -> None: ...
def batch_gd_pass(x: _F, y: _F, w: float, lr: float, epochs: int, hist: _D,
                  hook: _Hook = ..., threads: int = ..., signals: bool = ...) -> Tuple[int, int]: ...
def data_stats(x: _F, y: _F, threads: int = ..., signals: bool = ...) -> Tuple[float, float, float, float]: ...
def batch_gd_closed(n: int, wp: float, s_rr: float, s_xr: float, s_xx: float, w: float, lr: float,
                    epochs: int, hist: _D, hook: _Hook = ...,
                    signals: bool = ...) -> Tuple[int, int]: ...
def sgd_epochs(x: _F, y: _F, w: float, lr: float, epochs: int, hist: _D,
               hook: _Hook = ..., shuffler: Optional[Callable[[], None]] = ...,
               order: Optional[npt.NDArray[np.int64]] = ..., affine: bool = ...,
               signals: bool = ...) -> Tuple[int, int]: ...
def minibatch_epochs(x: _F, y: _F, batch_size: int, w: float, lr: float, epochs: int,
                     hist: _D, hook: _Hook = ...,
                     shuffler: Optional[Callable[[], None]] = ...,
                     order: Optional[npt.NDArray[np.int64]] = ..., threads: int = ...,
                     signals: bool = ...) -> Tuple[int, int]: ...
def openmp_threads() -> int: ...
def simd() -> str: ...
