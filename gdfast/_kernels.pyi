"""Stub for the compiled module gdfast._kernels (see _kernels.pyx).

Arrays are 1-D C-contiguous float32 or float64 (x and y of one dtype),
n >= 1; histories are float64 of length >= epochs. Nothing is checked here:
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
def batch_gd_pass(x: _F, y: _F, w: float, lr: float, epochs: int, w_hist: _D, loss_hist: _D,
                  hook: _Hook = ..., threads: int = ..., signals: bool = ...) -> Tuple[int, int]: ...
def data_stats(x: _F, y: _F, threads: int = ..., signals: bool = ...) -> Tuple[float, float, float, float]: ...
def batch_gd_closed(n: int, wp: float, s_rr: float, s_xr: float, s_xx: float, w: float, lr: float,
                    epochs: int, w_hist: _D, loss_hist: _D, hook: _Hook = ...,
                    signals: bool = ...) -> Tuple[int, int]: ...
def sgd_epochs(x: _F, y: _F, w: float, lr: float, epochs: int, w_hist: _D, loss_hist: _D,
               hook: _Hook = ..., shuffler: Optional[Callable[[], None]] = ...,
               order: Optional[npt.NDArray[np.int64]] = ..., affine: bool = ...,
               signals: bool = ...) -> Tuple[int, int]: ...
def minibatch_epochs(x: _F, y: _F, batch_size: int, w: float, lr: float, epochs: int,
                     w_hist: _D, loss_hist: _D, hook: _Hook = ...,
                     shuffler: Optional[Callable[[], None]] = ...,
                     order: Optional[npt.NDArray[np.int64]] = ..., threads: int = ...,
                     signals: bool = ...) -> Tuple[int, int]: ...
def openmp_threads() -> int: ...
