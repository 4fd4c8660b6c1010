"""What training MVSFC against the frozen stereo detector needs: view dicts, rates, losses.

The loss is the paper's: the detector's own losses on the decoded features plus
sigma * (bpp_L + bpp_R), each bpp over the view's original pixels (here the crop's
columns times the frame's original rows). Optionally a feature-distillation term
(squared error relative to each level's mean square) helps the first steps of a short
CPU run; the paper has none (its pixel-MSE weight is 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from bench.models.mvsfc.config import LEVELS, VIEWS

Levels = list[torch.Tensor]


def split_views(feats: dict[str, Any]) -> tuple[list, list]:
    """{"left/f0": ..., "right/f2": ...} -> ([left f0, f1, f2], [right f0, f1, f2])."""
    missing = [f"{v}/{n}" for v in VIEWS for n in LEVELS if f"{v}/{n}" not in feats]
    if missing:
        raise KeyError(f"stereo features lack {', '.join(missing)}")
    return tuple([feats[f"{v}/{n}"] for n in LEVELS] for v in VIEWS)  # type: ignore[return-value]


def join_views(left: Sequence[Any], right: Sequence[Any]) -> dict[str, Any]:
    """Inverse of split_views."""
    return {f"{v}/{n}": t for v, levels in zip(VIEWS, (left, right))
            for n, t in zip(LEVELS, levels)}


def view_bits(likelihoods: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated bits of each batch item, per view: (-sum log2 p of y and z)."""
    def bits(t: torch.Tensor) -> torch.Tensor:
        return -torch.log(t).flatten(1).sum(1) / math.log(2)

    return (bits(likelihoods["y_left"]) + bits(likelihoods["z_left"]),
            bits(likelihoods["y_right"]) + bits(likelihoods["z_right"]))


def feature_mse(decoded: Levels, original: Levels) -> torch.Tensor:
    """Mean over the levels of each level's squared error relative to its mean square."""
    return sum(torch.mean((a - b) ** 2) / torch.mean(b.detach() ** 2).clamp(min=1e-6)
               for a, b in zip(decoded, original)) / len(original)


def rate_loss(sigmas: torch.Tensor, rates: torch.Tensor | None, bpp_left: torch.Tensor,
              bpp_right: torch.Tensor) -> torch.Tensor:
    """mean over the batch of sigma(rate) * (bpp_L + bpp_R)."""
    sigma = sigmas[0] if rates is None else sigmas[rates.long()]
    return (sigma * (bpp_left + bpp_right)).mean()


def distill_weight(weight: float, until: int, step: int) -> float:
    """The distillation weight at `step`: constant (until <= 0) or linear decay to 0 at `until`."""
    if weight <= 0:
        return 0.0
    if until <= 0:
        return weight
    return weight * max(0.0, 1.0 - step / until)
