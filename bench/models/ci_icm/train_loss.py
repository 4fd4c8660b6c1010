"""Task distortion for CI-ICM training: a frozen Mask R-CNN's FPN features and losses.

D_t = sum over P2..P6 of MSE(F(x_hat_t), F(x)) per image (the frozen detector's FPN),
plus, per task, the detector's own losses on ground truth: detection uses the RPN and
box losses, segmentation the mask loss. The detector's weights never change and its
BatchNorm layers keep their running statistics (eval mode); only its RPN and ROI heads
run in training mode, so that they return losses.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

TASK_LOSSES: dict[str, tuple[str, ...]] = {
    "detection": ("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"),
    "segmentation": ("loss_mask",),
}


class FrozenDetector(nn.Module):
    """A torchvision Mask R-CNN used as a fixed loss network (no resizing: scale 1)."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector
        for p in detector.parameters():
            p.requires_grad_(False)
        mean = torch.tensor(detector.transform.image_mean)[None, :, None, None]
        std = torch.tensor(detector.transform.image_std)[None, :, None, None]
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.train(False)

    def train(self, mode: bool = True) -> FrozenDetector:
        """Always eval (frozen BatchNorm); the heads are switched per call in `losses`."""
        super().train(False)
        return self

    def features(self, x: Tensor) -> OrderedDict:
        """FPN outputs P2..P6 ('0'..'3', 'pool') of images in [0, 1]."""
        return self.detector.backbone((x - self.mean) / self.std)

    def losses(self, x: Tensor, feats: OrderedDict, targets: list[dict[str, Tensor]]
               ) -> dict[str, Tensor]:
        """The RPN and ROI-head training losses of `feats` (computed from `x`)."""
        from torchvision.models.detection.image_list import ImageList

        d = self.detector
        images = ImageList(x, [tuple(x.shape[-2:])] * x.shape[0])
        targets = [{k: v.to(x.device) for k, v in t.items()} for t in targets]
        d.rpn.train(True)
        d.roi_heads.train(True)
        try:
            proposals, rpn_losses = d.rpn(images, feats, targets)
            _, roi_losses = d.roi_heads(feats, proposals, images.image_sizes, targets)
        finally:
            d.rpn.train(False)
            d.roi_heads.train(False)
        return {**rpn_losses, **roi_losses}


def feature_mse(feats: OrderedDict, ref: OrderedDict) -> Tensor:
    """Per-image sum over FPN levels of the mean squared feature error, shape (B,)."""
    return sum(((feats[k] - ref[k]) ** 2).flatten(1).mean(dim=1) for k in ref)


def task_loss(losses: dict[str, Tensor], task: str) -> Tensor:
    """The sum of the detector losses that belong to `task`."""
    return sum(losses[name] for name in TASK_LOSSES[task])


def bpp_per_image(likelihoods: dict[str, Tensor], pixels: int) -> Tensor:
    """-sum log2 p over each image's latents, per pixel, shape (B,)."""
    return sum(-torch.log2(v).flatten(1).sum(dim=1) for v in likelihoods.values()) / pixels


def psnr(mse: float) -> float:
    """PSNR in dB of a mean squared error on [0, 1] pixels."""
    import math

    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


__all__ = [
    "TASK_LOSSES",
    "FrozenDetector",
    "bpp_per_image",
    "feature_mse",
    "psnr",
    "task_loss",
]
