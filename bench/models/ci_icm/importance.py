"""CIG: channel importance generation, its quantised group summary and its losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IMPORTANCE_LEVELS = 255  # the per-group importance travels as one byte per group


class ChannelImportance(nn.Module):
    """Importance of each latent channel: GAP(y) -> FC -> ReLU -> FC -> sigmoid.

    The second layer's bias starts descending, so that the untrained head already
    ranks low channel indices first (the order the channel order loss asks for).

    The head reads the latent through `detach()`: the importance losses train the head,
    never the analysis transform. With the gradient let through, the encoder raised the
    mean of the channels the target called salient; a larger channel mean makes that
    channel's Taylor saliency |sum y * dD/dy| larger still, so the loop fed itself and
    training diverged: the latent grew until the rate of y was inf and its
    backward NaN at step 366 (ci-icm, first run; bench/models/ci_icm.md).
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        with torch.no_grad():
            self.fc2.weight.mul_(0.1)
            self.fc2.bias.copy_(torch.linspace(2.0, -2.0, channels))

    def forward(self, y: Tensor) -> Tensor:
        """Per-image importance w in (0, 1), shape (B, C)."""
        return torch.sigmoid(self.fc2(F.relu(self.fc1(y.detach().mean(dim=(2, 3))))))


def group_importance(w: Tensor, groups: tuple[int, ...]) -> Tensor:
    """Mean importance of each channel group, shape (B, G)."""
    return torch.stack([part.mean(dim=1) for part in w.split(list(groups), dim=1)], dim=1)


def quantize_importance(w_groups: Tensor) -> Tensor:
    """Round to the byte grid the bitstream carries (straight-through gradient)."""
    w = w_groups.clamp(0.0, 1.0)
    q = torch.round(w * IMPORTANCE_LEVELS) / IMPORTANCE_LEVELS
    return w + (q - w).detach()


def importance_to_bytes(w_groups: Tensor) -> list[bytes]:
    """One byte per group per image (the values `quantize_importance` gives)."""
    q = torch.round(w_groups.detach().clamp(0.0, 1.0) * IMPORTANCE_LEVELS).to(torch.uint8)
    return [bytes(row.tolist()) for row in q.cpu()]


def importance_from_bytes(data: list[bytes], device: torch.device | str = "cpu") -> Tensor:
    """Inverse of `importance_to_bytes`: (B, G) floats on the byte grid."""
    rows = [list(d) for d in data]
    return torch.tensor(rows, dtype=torch.float32, device=device) / IMPORTANCE_LEVELS


def channel_order_loss(w: Tensor, margin: float = 1e-3) -> Tensor:
    """Mean over channels of ReLU(w[c+1] - w[c] + margin): importance descends with index."""
    return F.relu(w[:, 1:] - w[:, :-1] + margin).mean()


def taylor_saliency(y_hat: Tensor, grad: Tensor) -> Tensor:
    """|sum_hw y_hat * dD/dy_hat| per image and channel, normalised to sum 1 per image."""
    s = (y_hat.detach() * grad.detach()).sum(dim=(2, 3)).abs()
    return s / s.sum(dim=1, keepdim=True).clamp_min(1e-12)


class ImportanceTarget(nn.Module):
    """Running (EMA) Taylor saliency per channel: the target CIG's importance learns.

    The saliency of a batch is known only after its backward pass, so the target of
    a step is the running average of earlier steps (dataset-level, per channel).
    """

    def __init__(self, channels: int, momentum: float = 0.05):
        super().__init__()
        self.momentum = float(momentum)
        self.register_buffer("saliency", torch.full((channels,), 1.0 / channels))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, y_hat: Tensor, grad: Tensor) -> bool:
        """Fold one batch's saliency into the running target; False (skipped) if not finite."""
        s = taylor_saliency(y_hat, grad).mean(dim=0)
        if not bool(torch.isfinite(s).all()):
            return False
        m = 1.0 if int(self.updates) == 0 else self.momentum
        self.saliency.mul_(1 - m).add_(s, alpha=m)
        self.updates += 1
        return True

    def loss(self, w: Tensor) -> Tensor:
        """MSE between C * w / sum(w) and C * target (both are distributions over channels)."""
        c = w.shape[1]
        w_norm = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
        target = self.saliency.detach().clone()  # update() changes the buffer in backward
        return F.mse_loss(c * w_norm, c * target.expand_as(w_norm))
