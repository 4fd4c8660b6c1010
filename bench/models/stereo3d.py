"""A small stereo 3D object detector in the spirit of YOLOStereo3D.

A backbone shared by both views gives three scales, f0 (1/4), f1 (1/8) and f2
(1/16): the split point "stereo" is these six maps. The head correlates f0 of
the two views over 16 disparities (64 input pixels) into a group-wise correlation
volume, aggregates it in a small hourglass (1/4 -> 1/8 -> 1/4) and regresses a
dense disparity map at 1/4 (soft-argmax over the bins plus a sub-bin residual).
On a 1/8 grid built from the cost features, left f1 and upsampled left f2 it
predicts CenterNet-style maps: class heatmaps, the 2D box, the offset to the
projected 3D centre, attention weights that pool the dense disparity around the
cell into the object's disparity, a correction of it, the log of the depth's
expected error (Laplace scale, metres), the dimensions and the observation angle.
A detection's score is its heatmap peak times exp(-expected depth error).

Images enter at `net_width` pixels wide (621: half KITTI), zero-padded to a
multiple of 16; `bench.models.stereo3d_decode` turns the maps into KITTI boxes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CLASSES = ("Car", "Pedestrian", "Cyclist")
MEAN_DIMS = ((1.53, 1.63, 3.88), (1.76, 0.66, 0.84), (1.74, 0.60, 1.76))  # h, w, l
FEATURE_NAMES = ("f0", "f1", "f2")
STRIDES = {"f0": 4, "f1": 8, "f2": 16}
HEAD_STRIDE = 8
PAD_MULTIPLE = 16
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
# Regression channels of the 1/8 head, in order.
POOL = 5  # object disparity: attention over POOL x POOL cells of the 1/4 disparity
REG_CHANNELS = {"box2d": 4, "offset3d": 2, "disparity": 1, "dims": 3, "orient": 2,
                "pool": POOL * POOL, "depth_unc": 1}


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(inplace=True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Backbone(nn.Module):
    """Shared by both views: image (B, 3, H, W) -> f0 (1/4), f1 (1/8), f2 (1/16)."""

    def __init__(self, widths: tuple[int, int, int] = (32, 48, 96)):
        super().__init__()
        c0, c1, c2 = widths
        self.stage0 = nn.Sequential(conv_bn(3, 16, 2), conv_bn(16, c0, 2), conv_bn(c0, c0))
        self.stage1 = nn.Sequential(conv_bn(c0, c1, 2), conv_bn(c1, c1))
        self.stage2 = nn.Sequential(conv_bn(c1, c2, 2), ResBlock(c2))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f0 = self.stage0(x)
        f1 = self.stage1(f0)
        return {"f0": f0, "f1": f1, "f2": self.stage2(f1)}


def correlation_volume(left: torch.Tensor, right: torch.Tensor, max_disp: int,
                       groups: int) -> torch.Tensor:
    """Group-wise correlation: (B, C, H, W) pair -> (B, groups * max_disp, H, W)."""
    b, c, h, w = left.shape
    lg = left.view(b, groups, c // groups, h, w)
    rg = right.view(b, groups, c // groups, h, w)
    slices = [(lg * rg).mean(2)]
    for d in range(1, max_disp):
        slices.append(F.pad((lg[..., d:] * rg[..., :-d]).mean(2), (d, 0)))
    return torch.cat(slices, 1)


class StereoHead(nn.Module):
    """Both views' {f0, f1, f2} -> dense disparity (1/4) and detection maps (1/8)."""

    def __init__(self, widths: tuple[int, int, int] = (32, 48, 96), max_disp: int = 16,
                 groups: int = 8, match_ch: int = 32, width: int = 64,
                 depth_uncertainty: bool = True):
        super().__init__()
        c0, c1, c2 = widths
        self.max_disp, self.groups = max_disp, groups
        self.match = nn.Conv2d(c0, match_ch, 1)
        self.cost = nn.Sequential(conv_bn(groups * max_disp + match_ch, 48, k=1), conv_bn(48, 48))
        self.cost_down = nn.Sequential(conv_bn(48, 64, 2), conv_bn(64, 64))
        self.cost_up = conv_bn(64 + 48, 48)
        self.disp_out = nn.Conv2d(48, max_disp + 1, 1)  # bin logits and a sub-bin residual
        self.context = conv_bn(c2, 48, k=1)
        self.fuse = nn.Sequential(conv_bn(c1 + 64 + 48 + 1, width, k=1), conv_bn(width, width),
                                  conv_bn(width, width))
        self.heat = nn.Sequential(conv_bn(width, 32), nn.Conv2d(32, len(CLASSES), 1))
        n_reg = sum(REG_CHANNELS.values()) - (0 if depth_uncertainty else REG_CHANNELS["depth_unc"])
        self.reg = nn.Sequential(conv_bn(width, 64), nn.Conv2d(64, n_reg, 1))
        nn.init.constant_(self.heat[-1].bias, -2.19)  # prior 0.1

    def disparity(self, left_f0: torch.Tensor, right_f0: torch.Tensor):
        """Cost features (1/8) and the dense disparity in input pixels (B, 1, H/4, W/4)."""
        ml, mr = self.match(left_f0), self.match(right_f0)
        vol = correlation_volume(ml, mr, self.max_disp, self.groups)
        cost4 = self.cost(torch.cat([vol, ml], 1))
        cost8 = self.cost_down(cost4)
        up = F.interpolate(cost8, size=cost4.shape[-2:], mode="bilinear", align_corners=False)
        out = self.disp_out(self.cost_up(torch.cat([up, cost4], 1)))
        prob = torch.softmax(out[:, :self.max_disp], 1)
        bins = torch.arange(self.max_disp, dtype=prob.dtype, device=prob.device).view(1, -1, 1, 1)
        disp = (prob * bins).sum(1, keepdim=True) + 0.5 * torch.tanh(out[:, self.max_disp:])
        return cost8, (disp * STRIDES["f0"]).clamp(min=0.0)

    def forward(self, left: dict[str, torch.Tensor], right: dict[str, torch.Tensor]):
        cost8, disp4 = self.disparity(left["f0"], right["f0"])
        ctx = F.interpolate(self.context(left["f2"]), size=left["f1"].shape[-2:],
                            mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([left["f1"], cost8, ctx, F.avg_pool2d(disp4, 2) / 16.0], 1))
        reg = self.reg(x)
        return {"heat": self.heat(x), "reg": reg, "disp4": disp4,
                "disp8": object_disparity(disp4, split_reg(reg)["pool"])}


def object_disparity(disp4: torch.Tensor, pool_logits: torch.Tensor) -> torch.Tensor:
    """Per 1/8 cell, an attention-weighted mean of the 1/4 disparity in a POOL x POOL window."""
    b, _, h, w = pool_logits.shape
    windows = F.unfold(disp4, POOL, padding=POOL // 2, stride=2).view(b, POOL * POOL, h, w)
    return (torch.softmax(pool_logits, 1) * windows).sum(1, keepdim=True)


class Stereo3DNet(nn.Module):
    """Backbone + stereo head; `features` and `head` are the two sides of the split."""

    def __init__(self, widths: tuple[int, int, int] = (32, 48, 96), max_disp: int = 16,
                 depth_uncertainty: bool = True):
        super().__init__()
        self.config = {"widths": list(widths), "max_disp": max_disp,
                       "depth_uncertainty": depth_uncertainty}
        self.backbone = Backbone(widths)
        self.stereo_head = StereoHead(widths, max_disp, depth_uncertainty=depth_uncertainty)

    def features(self, left: torch.Tensor, right: torch.Tensor) -> dict[str, torch.Tensor]:
        """Normalised, padded images -> {"left/f0", ..., "right/f2"}."""
        both = self.backbone(torch.cat([left, right], 0))
        n = left.shape[0]
        out = {}
        for side, sl in (("left", slice(0, n)), ("right", slice(n, 2 * n))):
            for name in FEATURE_NAMES:
                out[f"{side}/{name}"] = both[name][sl]
        return out

    def head(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        left = {n: feats[f"left/{n}"] for n in FEATURE_NAMES}
        right = {n: feats[f"right/{n}"] for n in FEATURE_NAMES}
        return self.stereo_head(left, right)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.features(left, right))


def split_reg(reg: torch.Tensor) -> dict[str, torch.Tensor]:
    """The regression map cut into its named parts ("depth_unc" only when the network has it)."""
    out, start = {}, 0
    without_unc = reg.shape[1] == sum(REG_CHANNELS.values()) - REG_CHANNELS["depth_unc"]
    for name, n in REG_CHANNELS.items():
        if name == "depth_unc" and without_unc:
            continue
        out[name] = reg[:, start:start + n]
        start += n
    return out


def build_model(config: dict | None = None) -> Stereo3DNet:
    """A new network (config None) or the one a checkpoint's config describes; checkpoints
    written before the depth-uncertainty output existed have no such key and no such output."""
    if config is None:
        return Stereo3DNet()
    return Stereo3DNet(tuple(config.get("widths", (32, 48, 96))), int(config.get("max_disp", 16)),
                       bool(config.get("depth_uncertainty", False)))
