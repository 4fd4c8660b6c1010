"""Training targets and losses of the stereo 3D detector.

Targets live on the head's 1/8 grid (CenterNet style): a Gaussian per object on
its class heatmap at the 2D box centre, and regression targets at the cells
near that centre, each relative to its own cell. DontCare boxes are ignored by
the heatmap loss. The dense disparity target is the true disparity sampled at
the 1/4 grid, 0 where unknown.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.models.stereo3d import CLASSES, HEAD_STRIDE, MEAN_DIMS, STRIDES, split_reg
from bench.models.stereo3d_decode import NetGeometry

REG_MIN_WEIGHT = 0.3
LOSS_WEIGHTS = {"heat": 1.0, "box2d": 0.2, "offset3d": 1.0, "depth": 0.5, "disparity": 1.0,
                "dims": 2.0, "orient": 1.0, "dense": 1.0, "depth_unc": 0.2}


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CornerNet's radius: how far a corner may move keeping IoU >= min_overlap."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2 ** 2 - 16 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def build_targets(anno: dict[str, np.ndarray], geo: NetGeometry,
                  disparity: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Targets of one frame on the padded network grid (anno in original pixels)."""
    s = HEAD_STRIDE
    pw, ph = geo.padded_size
    gh, gw = ph // s, pw // s
    t = {"heat": np.zeros((len(CLASSES), gh, gw), np.float32),
         "ignore": np.zeros((gh, gw), np.float32), "weight": np.zeros((gh, gw), np.float32),
         "box2d": np.zeros((4, gh, gw), np.float32), "offset3d": np.zeros((2, gh, gw), np.float32),
         "depth": np.zeros((1, gh, gw), np.float32), "dims": np.zeros((3, gh, gw), np.float32),
         "orient": np.zeros((2, gh, gw), np.float32)}
    cu = np.arange(gw) * s + (s - 1) / 2
    cv = np.arange(gh) * s + (s - 1) / 2
    names = [str(n) for n in anno["name"]]
    for i, name in enumerate(names):
        x1, y1, x2, y2 = anno["bbox"][i]
        box = np.array([(x1 + 0.5) * geo.sx - 0.5, (y1 + 0.5) * geo.sy - 0.5,
                        (x2 + 0.5) * geo.sx - 0.5, (y2 + 0.5) * geo.sy - 0.5])
        if name == "DontCare":
            cols = (cu >= box[0]) & (cu <= box[2])
            rows = (cv >= box[1]) & (cv <= box[3])
            t["ignore"][np.ix_(rows, cols)] = 1.0
            continue
        if name not in CLASSES:
            continue
        _add_object(t, CLASSES.index(name), box, anno, i, geo, cu, cv)
    t["heat_peak"] = (t["heat"] == 1.0).astype(np.float32)
    t["ignore"] *= (t["heat"].max(0) == 0)
    if disparity is not None:
        t["dense"] = dense_target(disparity, geo)
    return t


def _add_object(t, c: int, box, anno, i: int, geo: NetGeometry, cu, cv) -> None:
    s = HEAD_STRIDE
    gh, gw = t["weight"].shape
    bw, bh = (box[2] - box[0]) / s, (box[3] - box[1]) / s
    radius = max(0, int(gaussian_radius(max(bh, 1e-3), max(bw, 1e-3))))
    sigma = (2 * radius + 1) / 6.0
    pu, pv = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    j = int(np.clip(np.floor((pu + 0.5) / s), 0, gw - 1))
    k = int(np.clip(np.floor((pv + 0.5) / s), 0, gh - 1))
    r = radius + 1
    rows, cols = slice(max(k - r, 0), min(k + r + 1, gh)), slice(max(j - r, 0), min(j + r + 1, gw))
    yy, xx = np.mgrid[rows, cols]
    g = np.exp(-((yy - k) ** 2 + (xx - j) ** 2) / (2 * sigma ** 2)).astype(np.float32)
    g[k - rows.start, j - cols.start] = 1.0
    t["heat"][c, rows, cols] = np.maximum(t["heat"][c, rows, cols], g)
    take = (g >= REG_MIN_WEIGHT) & (g > t["weight"][rows, cols])
    if not take.any():
        return
    h3, w3, l3 = anno["dimensions"][i]
    loc = anno["location"][i]
    centre = np.array([loc[0], loc[1] - h3 / 2, loc[2], 1.0])
    proj = geo.p2 @ centre
    u3, v3 = proj[0] / proj[2], proj[1] / proj[2]
    ucell, vcell = cu[xx], cv[yy]
    targets = {
        "box2d": [(ucell - box[0]) / s, (vcell - box[1]) / s, (box[2] - ucell) / s,
                  (box[3] - vcell) / s],
        "offset3d": [(u3 - ucell) / s, (v3 - vcell) / s],
        "depth": [np.full_like(ucell, loc[2])],
        "dims": [np.full_like(ucell, np.log(d / m)) for d, m in zip((h3, w3, l3), MEAN_DIMS[c])],
        "orient": [np.full_like(ucell, np.sin(anno["alpha"][i])),
                   np.full_like(ucell, np.cos(anno["alpha"][i]))],
    }
    for key, chans in targets.items():
        for ch, val in enumerate(chans):
            region = t[key][ch, rows, cols]
            region[take] = np.asarray(val, dtype=np.float32)[take]
    t["weight"][rows, cols][take] = g[take]


def dense_target(disparity: np.ndarray, geo: NetGeometry) -> np.ndarray:
    """True disparity (original pixels, 0 = unknown) -> network pixels on the 1/4 grid."""
    s = STRIDES["f0"]
    pw, ph = geo.padded_size
    gh, gw = ph // s, pw // s
    u = (np.arange(gw) * s + (s - 1) / 2 + 0.5) / geo.sx - 0.5
    v = (np.arange(gh) * s + (s - 1) / 2 + 0.5) / geo.sy - 0.5
    ui = np.clip(np.rint(u).astype(int), 0, disparity.shape[1] - 1)
    vi = np.clip(np.rint(v).astype(int), 0, disparity.shape[0] - 1)
    out = disparity[np.ix_(vi, ui)] * geo.sx
    out[:, u > disparity.shape[1] - 1] = 0.0
    out[v > disparity.shape[0] - 1, :] = 0.0
    return out.astype(np.float32)


def focal_loss(logits: torch.Tensor, heat: torch.Tensor, peak: torch.Tensor,
               ignore: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of objects."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = -torch.log(p) * (1 - p) ** 2 * peak
    neg = -torch.log(1 - p) * p ** 2 * (1 - heat) ** 4 * (1 - peak) * (1 - ignore[:, None])
    return (pos.sum() + neg.sum()) / peak.sum().clamp(min=1.0)


def detector_losses(out: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor],
                    focal_baseline: torch.Tensor) -> dict[str, torch.Tensor]:
    """The weighted loss terms of one batch; targets are batched tensors of build_targets."""
    losses = {"heat": focal_loss(out["heat"], tgt["heat"], tgt["heat_peak"], tgt["ignore"])}
    w = tgt["weight"][:, None]
    norm = w.sum().clamp(min=1.0)
    reg = split_reg(out["reg"])
    for key in ("box2d", "offset3d", "dims", "orient"):
        losses[key] = (F.l1_loss(reg[key], tgt[key], reduction="none") * w).sum() / norm
    fb = focal_baseline.view(-1, 1, 1, 1)
    disp = (out["disp8"] + reg["disparity"]).clamp(min=0.25)
    gt_depth = tgt["depth"].clamp(min=1.0)
    losses["disparity"] = (F.l1_loss(disp, fb / gt_depth, reduction="none") * w).sum() / norm
    depth = fb / disp
    depth_l1 = F.smooth_l1_loss(depth, gt_depth, beta=0.5, reduction="none")
    losses["depth"] = (depth_l1 * w).sum() / norm
    # Laplace negative log-likelihood of the depth error; it only trains the scale.
    log_b = reg["depth_unc"].clamp(-5.0, 5.0)
    nll = math.sqrt(2.0) * (depth.detach() - gt_depth).abs() * torch.exp(-log_b) + log_b
    losses["depth_unc"] = (nll * w).sum() / norm
    valid = (tgt["dense"] > 0).float()[:, None]
    dense = F.smooth_l1_loss(out["disp4"], tgt["dense"][:, None], reduction="none")
    losses["dense"] = (dense * valid).sum() / valid.sum().clamp(min=1.0)
    return {k: v * LOSS_WEIGHTS[k] for k, v in losses.items()}


def collate(targets: list[dict[str, np.ndarray]], col0: list[int] | None = None,
            width: int | None = None) -> dict[str, torch.Tensor]:
    """Stack per-frame targets, cropping columns [col0, col0 + width) in input pixels."""
    out: dict[str, Any] = {}
    for key in targets[0]:
        maps = []
        for n, t in enumerate(targets):
            m = t[key]
            if col0 is not None:
                stride = STRIDES["f0"] if key == "dense" else HEAD_STRIDE
                a = col0[n] // stride
                m = m[..., a:a + width // stride]
            maps.append(np.ascontiguousarray(m))
        out[key] = torch.from_numpy(np.stack(maps))
    return out
