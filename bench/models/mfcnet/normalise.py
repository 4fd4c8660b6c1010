"""Per-image joint min/max normalisation and the padding rules of MFCNet.

The authors map P2 and P3 of one image to [0, 1] with their joint min and max and
zero-pad (bottom, right) before coding. Here the min/max pair travels in the bitstream
as two float16 values, rounded outwards so that the normalised features stay in [0, 1]
and encoder and decoder use the very same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

F16_MAX = float(np.finfo(np.float16).max)


def _f16_down(value: float) -> np.float16:
    h = np.float16(value)
    if float(h) > value:
        h = np.nextafter(h, np.float16(-np.inf))
    return h


def _f16_up(value: float) -> np.float16:
    h = np.float16(value)
    if float(h) < value:
        h = np.nextafter(h, np.float16(np.inf))
    return h


def half_range(lo: float, hi: float) -> tuple[float, float]:
    """(lo, hi) rounded outwards to float16 values, hi > lo; ValueError when out of range."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) >= F16_MAX:
        raise ValueError(f"feature values [{lo}, {hi}] do not fit float16 bounds")
    a, b = _f16_down(lo), _f16_up(hi)
    if not float(b) > float(a):
        b = np.nextafter(a, np.float16(np.inf))
    return float(a), float(b)


def joint_range(tensors: Iterable[Tensor]) -> tuple[float, float]:
    """The float16-representable (min, max) enclosing all `tensors`."""
    items = list(tensors)
    lo = min(float(t.min()) for t in items)
    hi = max(float(t.max()) for t in items)
    return half_range(lo, hi)


def normalise(x: Tensor, lo: float | Tensor, hi: float | Tensor) -> Tensor:
    """(x - lo) / (hi - lo): [lo, hi] -> [0, 1]."""
    return (x - lo) / (hi - lo)


def denormalise(x: Tensor, lo: float | Tensor, hi: float | Tensor) -> Tensor:
    """Inverse of `normalise`."""
    return x * (hi - lo) + lo


def batch_range(tensors: Iterable[Tensor]) -> tuple[Tensor, Tensor]:
    """Per-sample joint (min, max) of B x C x H x W tensors, each B x 1 x 1 x 1 (training)."""
    items = list(tensors)
    lo = torch.stack([t.flatten(1).min(dim=1).values for t in items]).min(dim=0).values
    hi = torch.stack([t.flatten(1).max(dim=1).values for t in items]).max(dim=0).values
    hi = torch.maximum(hi, lo + 1e-6)
    return lo[:, None, None, None], hi[:, None, None, None]


def padded_size(height: int, width: int, multiple: int, minimum: int = 0) -> tuple[int, int]:
    """Each side rounded up to a multiple of `multiple` and to at least `minimum`."""
    def side(n: int) -> int:
        return max(-(-n // multiple) * multiple, -(-minimum // multiple) * multiple)

    return side(height), side(width)


def pad_to(x: Tensor, height: int, width: int) -> Tensor:
    """Zero-pad the bottom and right of x (... x h x w) to height x width."""
    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    return F.pad(x, (0, width - w, 0, height - h))


def crop(x: Tensor, height: int, width: int) -> Tensor:
    """The top-left height x width of x."""
    return x[..., :height, :width]


def fpn_shapes(p2: tuple[int, int], levels: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Sizes of P2..P5 when each level is a stride-2 conv of the previous (ceil halving)."""
    h, w = p2
    out = {}
    for level in levels:
        out[level] = (h, w)
        h, w = -(-h // 2), -(-w // 2)
    return out


def p6_from_p5(p5: Tensor) -> Tensor:
    """P6 = max-pool(P5, kernel 1, stride 2), as torchvision's LastLevelMaxPool."""
    return F.max_pool2d(p5, kernel_size=1, stride=2, padding=0)
