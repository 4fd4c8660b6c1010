"""TSCA: task-specific channel adaptation of the decoded latent (decoder side only)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TaskChannelAdaptation(nn.Module):
    """y_t = y * a_t + DWConv3x3(y * a_t), with a_t = 2 * sigmoid(FC(ReLU(FC(GAP(y))))).

    The last FC layer and the depthwise conv start at zero, so an untrained TSCA is
    the identity (a_t = 1, no residual): fine-tuning starts from the plain decoder.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.dwconv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        for layer in (self.fc2, self.dwconv):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, y_hat: Tensor) -> Tensor:
        a = 2 * torch.sigmoid(self.fc2(F.relu(self.fc1(y_hat.mean(dim=(2, 3))))))
        scaled = y_hat * a[:, :, None, None]
        return scaled + self.dwconv(scaled)
