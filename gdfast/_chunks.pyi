"""Stub for the compiled module gdfast._chunks (see _chunks.pyx): the
per-chunk affine map of an SGD pass for the tutorial's model, used by
gdfast.dask's parallel SGD epoch."""

from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

# x and y: 1-D C-contiguous, both float32 or both float64
def sgd_affine_map(x: npt.NDArray[np.floating], y: npt.NDArray[np.floating], lr: float,
                   order: Optional[npt.NDArray[np.int64]] = ...) -> Tuple[float, float]: ...
