"""Stub for the compiled module gdfast._seq (see _seq.pyx).

Each function returns None unless its arguments are plain floats/ints or
plain lists/tuples of at most 64 of them, all finite, with a finite result.
"""

from typing import Any, List, Optional, Tuple, Union

def seq_sums(xs: Any, ys: Any, w: Any) -> Optional[Tuple[int, float, float]]: ...
def seq_forward(x: Any, w: Any) -> Optional[Union[float, List[float]]]: ...
def seq_loss(x: Any, y: Any, w: Any) -> Optional[Union[float, List[float]]]: ...
