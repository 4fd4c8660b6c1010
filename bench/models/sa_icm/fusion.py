"""Feature fusion of the base latent and the additional-information latent (SEEDS.md 4.3).

Both latents are split into slices of the same width. For the first m slices the
released code adds the two (`SliceAddFusion`); the other base slices pass unchanged.
`LearnedFusion` ([X], a proposal) replaces the addition per slice by
b_k + a_k + RB(RB(conv1x1(cat(b_k, a_k)))), with the 1x1 convolution zero-initialised
so that training starts near the released addition.
"""

from __future__ import annotations

import torch
from compressai.layers import ResidualBlock, conv1x1
from torch import Tensor, nn


class SliceAddFusion(nn.Module):
    """ŷ_k = ŷ_base,k + ŷ_add,k for k <= m; ŷ_k = ŷ_base,k otherwise (no parameters)."""

    def __init__(self, slice_channels: int, slices: int):
        super().__init__()
        self.slice_channels = slice_channels
        self.slices = slices

    def forward(self, base: Tensor, add: Tensor) -> Tensor:
        k = self.slice_channels * self.slices
        if add.shape[1] != k or base.shape[1] < k:
            raise ValueError(f"fusion expects {k} additional channels and at least as many "
                             f"base channels, got {add.shape[1]} and {base.shape[1]}")
        return torch.cat([base[:, :k] + add, base[:, k:]], dim=1)


class LearnedFusion(SliceAddFusion):
    """Per slice: concat -> 1x1 conv -> 2 ResidualBlocks, added to the slice-wise sum."""

    def __init__(self, slice_channels: int, slices: int):
        super().__init__(slice_channels, slices)
        s = slice_channels
        self.nets = nn.ModuleList(
            nn.Sequential(conv1x1(2 * s, s), ResidualBlock(s, s), ResidualBlock(s, s))
            for _ in range(slices))
        for net in self.nets:
            nn.init.zeros_(net[0].weight)
            nn.init.zeros_(net[0].bias)

    def forward(self, base: Tensor, add: Tensor) -> Tensor:
        summed = super().forward(base, add)
        s = self.slice_channels
        fused = [summed[:, k * s:(k + 1) * s]
                 + net(torch.cat([base[:, k * s:(k + 1) * s], add[:, k * s:(k + 1) * s]], 1))
                 for k, net in enumerate(self.nets)]
        return torch.cat([*fused, summed[:, self.slices * s:]], dim=1)


def build_fusion(kind: str, slice_channels: int, slices: int) -> SliceAddFusion:
    """The fusion module of `kind` ("add" or "learned")."""
    if kind == "add":
        return SliceAddFusion(slice_channels, slices)
    if kind == "learned":
        return LearnedFusion(slice_channels, slices)
    raise ValueError(f"unknown fusion {kind!r}; use 'add' or 'learned'")
