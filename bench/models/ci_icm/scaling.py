"""Gains on the latent: FCGS's per-group dynamic-range scaling and the rate-level gains."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class GroupScaling(nn.Module):
    """FCGS: per-channel log gains theta, plus an importance slope beta per group.

    gain_c = exp(theta_c + beta_k * w_k) for channel c in group k, where w_k is the
    group's (transmitted) importance; without importance (CIG off) gain_c = exp(theta_c).
    Starts at gain 1 (theta = beta = 0). The encoder codes y * gain, the decoder
    divides the decoded latent by the same gain.
    """

    def __init__(self, groups: tuple[int, ...], adaptive: bool):
        super().__init__()
        self.groups = tuple(groups)
        self.log_gain = nn.Parameter(torch.zeros(sum(groups)))
        self.importance_slope = nn.Parameter(torch.zeros(len(groups))) if adaptive else None

    def forward(self, w_groups: Tensor | None, batch: int) -> Tensor:
        """Gains of shape (B, M, 1, 1)."""
        log = self.log_gain.expand(batch, -1)
        if self.importance_slope is not None:
            if w_groups is None:
                raise ValueError("importance-adaptive FCGS needs the group importance")
            sizes = torch.tensor(self.groups, device=log.device)
            per_group = self.importance_slope * w_groups
            log = log + per_group.repeat_interleave(sizes, dim=1)
        return torch.exp(log)[:, :, None, None]


class RateGains(nn.Module):
    """Lambda-conditioned gain vectors (one per rate level), interpolated between levels.

    A level is a float in [0, levels - 1]; level 0 is the lowest rate. Integer levels
    are the trained points; a fractional level interpolates the log gains.
    """

    def __init__(self, levels: int, channels: int, low: float = 0.5, high: float = 2.0):
        super().__init__()
        start = torch.linspace(float(torch.tensor(low).log()), float(torch.tensor(high).log()),
                               levels)
        self.log_gain = nn.Parameter(start[:, None].repeat(1, channels))

    @property
    def levels(self) -> int:
        return int(self.log_gain.shape[0])

    def forward(self, level: Tensor) -> Tensor:
        """Gains of shape (B, M, 1, 1) for per-image levels of shape (B,)."""
        level = level.to(self.log_gain.device, torch.float32).clamp(0, self.levels - 1)
        lo = level.floor().long().clamp(max=self.levels - 1)
        hi = (lo + 1).clamp(max=self.levels - 1)
        frac = (level - lo.float())[:, None]
        log = self.log_gain[lo] * (1 - frac) + self.log_gain[hi] * frac
        return torch.exp(log)[:, :, None, None]
