"""The embedded default network: a small Mask R-CNN (torchvision) with a tiny backbone.

A four-stage conv backbone (strides 4, 8, 16, 32) feeds a 64-channel FPN whose
outputs P2..P5 (plus P6 = max-pool of P5) go to torchvision's RPN, box and mask
heads. The checkpoint is a plain dict (config, class names, category ids, fp16
state dict) that loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.errors import TaskError

CHECKPOINT_FORMAT = "icm-bench-detector"
CHECKPOINT_VERSION = 1
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "detector.pt"

DEFAULT_CONFIG: dict[str, Any] = {
    "stage_channels": [32, 64, 96, 128],
    "fpn_channels": 64,
    "representation_size": 128,
    "mask_channels": 32,
    "mask_convs": 2,
    "anchor_sizes": [16, 32, 64, 128, 256],
    "aspect_ratios": [0.5, 1.0, 2.0],
    "min_size": 240,
    "max_size": 320,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.25, 0.25, 0.25],
}


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv(channels, channels)
        self.conv2 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(self.conv1(x)))


class TinyBackbone(nn.Module):
    """Stem to stride 4, then stages at strides 4, 8, 16, 32 (C2..C5)."""

    def __init__(self, stage_channels: list[int]):
        super().__init__()
        c2 = stage_channels[0]
        self.stem = nn.Sequential(_conv(3, c2 // 2, 2), _conv(c2 // 2, c2, 2))
        self.stages = nn.ModuleList([ResidualBlock(c2)])
        for cin, cout in zip(stage_channels[:-1], stage_channels[1:]):
            self.stages.append(nn.Sequential(_conv(cin, cout, 2), ResidualBlock(cout)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs


class TinyFpnBackbone(nn.Module):
    """TinyBackbone + torchvision FPN; returns OrderedDict '0'..'3' (P2..P5) and 'pool' (P6)."""

    def __init__(self, stage_channels: list[int], fpn_channels: int):
        super().__init__()
        from torchvision.ops.feature_pyramid_network import (
            FeaturePyramidNetwork,
            LastLevelMaxPool,
        )

        self.body = TinyBackbone(stage_channels)
        self.fpn = FeaturePyramidNetwork(
            list(stage_channels), fpn_channels, extra_blocks=LastLevelMaxPool()
        )
        self.out_channels = fpn_channels

    def forward(self, x: torch.Tensor) -> OrderedDict:
        feats = self.body(x)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))


def build_detector(num_classes: int, config: dict[str, Any] | None = None) -> nn.Module:
    """A torchvision MaskRCNN with the tiny FPN backbone; `num_classes` counts background."""
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    c = cfg["fpn_channels"]
    backbone = TinyFpnBackbone(cfg["stage_channels"], c)
    anchors = AnchorGenerator(
        sizes=tuple((s,) for s in cfg["anchor_sizes"]),
        aspect_ratios=(tuple(cfg["aspect_ratios"]),) * len(cfg["anchor_sizes"]),
    )
    levels = ["0", "1", "2", "3"]
    rep = cfg["representation_size"]
    mask_c = cfg["mask_channels"]

    return MaskRCNN(
        backbone,
        num_classes=None,
        min_size=cfg["min_size"],
        max_size=cfg["max_size"],
        image_mean=cfg["image_mean"],
        image_std=cfg["image_std"],
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=500,
        rpn_post_nms_top_n_test=300,
        box_roi_pool=MultiScaleRoIAlign(levels, 7, 2),
        box_head=TwoMLPHead(c * 7 * 7, rep),
        box_predictor=FastRCNNPredictor(rep, num_classes),
        box_batch_size_per_image=64,
        mask_roi_pool=MultiScaleRoIAlign(levels, 14, 2),
        mask_head=MaskRCNNHeads(c, (mask_c,) * cfg["mask_convs"], 1),
        mask_predictor=MaskRCNNPredictor(mask_c, mask_c, num_classes),
    )


def save_checkpoint(model: nn.Module, path: str | Path, meta: dict[str, Any]) -> None:
    """Write the model as a plain-data checkpoint (fp16 weights; meta must be plain data)."""
    state = {
        k: (v.half() if v.is_floating_point() else v).contiguous().clone()
        for k, v in model.state_dict().items()
    }
    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **meta, "state_dict": state}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(doc, path)


def load_state(path: str | Path) -> Any:
    """bench.checkpoint.load_checkpoint: pickled code is refused before torch reads the file."""
    from bench.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        raise TaskError(f"refusing to load the detector's weights: {exc}") from None


def load_detector(path: str | Path | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The built-in detector from a checkpoint (default: the committed weights), in eval mode."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    doc = load_state(path)
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise TaskError(
            f"{str(path)!r} is not an icm-bench detector checkpoint "
            "(train one with `icm-bench train detector`)"
        )
    if doc.get("version") != CHECKPOINT_VERSION:
        raise TaskError(
            f"{str(path)!r} is checkpoint version {doc.get('version')}, this code reads "
            f"{CHECKPOINT_VERSION}; retrain with `icm-bench train detector`"
        )
    model = build_detector(len(doc["class_names"]), doc["config"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in doc["state_dict"].items()}
    model.load_state_dict(state)
    model.eval()
    meta = {k: v for k, v in doc.items() if k != "state_dict"}
    return model, meta


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a weights file (cached by size and mtime: bench.checkpoint)."""
    from bench.checkpoint import file_sha256 as cached_sha256

    return cached_sha256(path)
