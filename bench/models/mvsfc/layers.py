"""Building blocks of MVSFC-Net: residual blocks, efficient attention, the view-aware
transform and the bi-directional contextual transform (BCT).

The BCT follows the stereo image codec BCSIC (Lei et al., CVPR 2022) as the MVSFC
authors use it: each view passes two residual blocks; a view-aware transform attends
from one view to the other (linear "efficient attention": keys from the view itself,
queries and values from the other view), gates the result and fuses it with the view's
own features; the output is what the other view already explains, and it is
subtracted: f_self <- f_self - T(a_self, a_other). Left and right have their own weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    """A k x k convolution that keeps (stride 1) or halves (stride 2) the size."""
    return nn.Conv2d(cin, cout, k, stride, k // 2)


def deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    """A k x k transposed convolution that doubles the size exactly."""
    return nn.ConvTranspose2d(cin, cout, k, stride, k // 2, output_padding=stride - 1)


class ResBlock(nn.Module):
    """x + LReLU(conv3x3(LReLU(conv3x3(x))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            conv(channels, channels, 3, 1), nn.LeakyReLU(inplace=True),
            conv(channels, channels, 3, 1), nn.LeakyReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class EfficientAttention(nn.Module):
    """Linear-cost multi-head attention (Shen et al.) from `base` to `other`.

    Keys come from `base`; queries and values from `other`. Keys are normalised over
    positions, queries over channels, so the cost is linear in the number of positions.
    The output is base + reprojected attention.
    """

    def __init__(self, channels: int, heads: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.heads = heads
        self.keys = nn.Conv2d(channels, channels, 1)
        self.queries = nn.Conv2d(channels, channels, 1)
        self.values = nn.Conv2d(channels, channels, 1)
        self.reprojection = nn.Conv2d(channels, channels, 1)

    def forward(self, base: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        b, c, h, w = base.shape
        shape = (b, self.heads, c // self.heads, h * w)
        key = F.softmax(self.keys(base).reshape(shape), dim=3)
        query = F.softmax(self.queries(other).reshape(shape), dim=2)
        value = self.values(other).reshape(shape)
        context = key @ value.transpose(2, 3)              # (b, heads, ck, cv)
        attended = (context.transpose(2, 3) @ query).reshape(b, c, h, w)
        return base + self.reprojection(attended)


class ViewAwareTransform(nn.Module):
    """T(a_self, a_other): what the other view explains of this one."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.attention = EfficientAttention(channels, heads)
        self.gate = nn.Sequential(
            conv(2 * channels, channels, 3, 1), nn.LeakyReLU(0.01, inplace=True),
            conv(channels, channels, 3, 1), nn.Sigmoid())
        self.bottleneck = nn.Sequential(
            conv(2 * channels, channels, 3, 1), nn.LeakyReLU(0.01, inplace=True),
            conv(channels, channels, 3, 1))

    def forward(self, base: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        seen = self.attention(base, other)
        seen = seen * self.gate(torch.cat([seen, base], 1))
        return self.bottleneck(torch.cat([base, seen], 1))


class ContextualTransform(nn.Module):
    """Bi-directional contextual transform of a pair of maps (identity when disabled).

    Args:
        channels: channels of each view's map.
        heads: attention heads.
        enabled: False builds no weights and returns the inputs unchanged.
        shared: one set of weights for both directions.
    """

    def __init__(self, channels: int, heads: int, enabled: bool = True, shared: bool = False):
        super().__init__()
        self.enabled = enabled
        if enabled:
            res = [nn.Sequential(ResBlock(channels), ResBlock(channels))]
            transform = [ViewAwareTransform(channels, heads)]
            if not shared:
                res.append(nn.Sequential(ResBlock(channels), ResBlock(channels)))
                transform.append(ViewAwareTransform(channels, heads))
            self.res = nn.ModuleList(res * (2 if shared else 1))
            self.transform = nn.ModuleList(transform * (2 if shared else 1))

    def forward(self, left: torch.Tensor, right: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.enabled:
            return left, right
        a_left, a_right = self.res[0](left), self.res[1](right)
        return (left - self.transform[0](a_left, a_right),
                right - self.transform[1](a_right, a_left))
