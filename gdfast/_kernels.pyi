"""Stub for the compiled module gdfast._kernels (see _kernels.pyx): the
tutorial's model (one feature, no intercept, no penalty), whole runs; and
the statistics' batch-GD epochs for d features (stats_epochs, rows
[w (d), b, loss] of a (epochs, d + 2) hist).

Arrays are 1-D C-contiguous float32 or float64 (x and y of one dtype),
n >= 1; ``hist`` is a C-contiguous float64 array of shape (epochs, 3)
((epochs, d + 2) for stats_epochs, whose C is (d, d) and other arrays (d,)):
a kernel runs up to ``hist.shape[0]`` epochs and writes row e as
[w, 0.0, loss] ([w (d), b, loss]); ``e0`` numbers the first of them for the hook. Nothing is
checked here: gdfast._validate does that first.
"""

from typing import Callable, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

_F = npt.NDArray[np.floating]
_D = npt.NDArray[np.float64]
_Hook = Optional[Callable[[int, float, float], bool]]

RAN: int
DIVERGED: int
STOPPED: int

def pass_sums(x: _F, y: _F, w: float, threads: int = ..., signals: bool = ...) -> Tuple[float, float]: ...
def batch_gd_pass(x: _F, y: _F, w: float, lr: float, hist: _D, e0: int = ...,
                  hook: _Hook = ..., threads: int = ..., signals: bool = ...) -> Tuple[int, int]: ...
def data_stats(x: _F, y: _F, threads: int = ..., signals: bool = ...) -> Tuple[float, float, float, float]: ...
def batch_gd_closed(n: int, wp: float, s_rr: float, s_xr: float, s_xx: float, w: float, lr: float,
                    hist: _D, e0: int = ..., hook: _Hook = ...,
                    signals: bool = ...) -> Tuple[int, int]: ...
def stats_epochs(n: float, C: _D, wstar: _D, xbar: _D, ybar: float, h: _D, s_u: _D,
                 s_e: float, s_ee: float, w0: _D, b: float, lr: float, alpha: float,
                 fit_intercept: bool, hist: _D, e0: int = ...,
                 hook: Optional[Callable[[int, Union[float, _D], float], bool]] = ...,
                 flat: bool = ..., signals: bool = ...) -> Tuple[int, int]: ...
def sgd_epochs(x: _F, y: _F, w: float, lr: float, hist: _D, e0: int = ...,
               hook: _Hook = ..., shuffler: Optional[Callable[[], None]] = ...,
               order: Optional[npt.NDArray[np.int64]] = ..., affine: bool = ...,
               signals: bool = ..., blocks: Optional[npt.NDArray[np.int64]] = ...,
               block_rows: int = ..., group: int = ...,
               maxima: Optional[_D] = ..., direct: bool = ...) -> Tuple[int, int]: ...
def minibatch_epochs(x: _F, y: _F, batch_size: int, w: float, lr: float,
                     hist: _D, e0: int = ..., hook: _Hook = ...,
                     shuffler: Optional[Callable[[], None]] = ...,
                     order: Optional[npt.NDArray[np.int64]] = ..., threads: int = ...,
                     signals: bool = ..., affine: bool = ...,
                     maxima: Optional[_D] = ...) -> Tuple[int, int]: ...
def openmp_threads() -> int: ...
def simd() -> str: ...
