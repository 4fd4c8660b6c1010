"""Zero padding of the three feature levels to sizes the codec's strides divide.

As in the authors' code, f2 is padded at the bottom and right to a multiple of
`multiple` (8: y is f2 / 2 and z is y / 4), f1 to twice that size and f0 to four times;
decoded levels are cropped back to the original sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Size = tuple[int, int]


def padded_sizes(sizes: list[Size], multiple: int = 8) -> list[Size]:
    """Padded (H, W) of f0, f1, f2 for original sizes `sizes` (f0, f1, f2)."""
    h2, w2 = sizes[2]
    p2 = (-(-h2 // multiple) * multiple, -(-w2 // multiple) * multiple)
    out = [(4 * p2[0], 4 * p2[1]), (2 * p2[0], 2 * p2[1]), p2]
    for level, (size, padded) in enumerate(zip(sizes, out)):
        if size[0] > padded[0] or size[1] > padded[1] or min(size) < 1:
            raise ValueError(f"f{level} of size {size} does not fit the stride-2 pyramid of "
                             f"f2 {sizes[2]} (padded {padded})")
    return out


def pad_levels(levels: list[torch.Tensor], multiple: int = 8
               ) -> tuple[list[torch.Tensor], list[Size]]:
    """Zero-pad f0, f1, f2 (B, C, H, W) at the bottom and right; returns them and the sizes."""
    sizes = [(int(t.shape[-2]), int(t.shape[-1])) for t in levels]
    target = padded_sizes(sizes, multiple)
    padded = [F.pad(t, (0, tw - t.shape[-1], 0, th - t.shape[-2]))
              for t, (th, tw) in zip(levels, target)]
    return padded, sizes


def crop_levels(levels: list[torch.Tensor], sizes: list[Size]) -> list[torch.Tensor]:
    """Inverse of pad_levels."""
    return [t[..., :h, :w] for t, (h, w) in zip(levels, sizes)]
