"""Input preparation and box decoding for the stereo 3D detector.

An image pair is resized to the network width (bilinear, antialiased; no resize
when it already has that width) and zero-padded on the right and bottom to a
multiple of 16. `NetGeometry` keeps the scale factors and the projection
matrices of the resized images, so boxes decode straight into the original
image's pixels and the rectified camera frame of the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.datasets.kitti_calib import (
    rotation_y_from_alpha,
    scale_projection,
    unproject,
    wrap_angle,
)
from bench.models.stereo3d import (
    CLASSES,
    HEAD_STRIDE,
    IMAGE_MEAN,
    IMAGE_STD,
    MEAN_DIMS,
    PAD_MULTIPLE,
    split_reg,
)

NET_WIDTH = 621  # half of KITTI's 1242


@dataclass
class NetGeometry:
    """How one frame maps into the network input."""

    image_size: tuple[int, int]  # original (width, height)
    net_size: tuple[int, int]  # resized (width, height), before padding
    padded_size: tuple[int, int]
    p2: np.ndarray  # P2 of the resized left image
    focal_baseline: float  # fx * baseline in resized pixels: disparity = this / depth

    @property
    def sx(self) -> float:
        return self.net_size[0] / self.image_size[0]

    @property
    def sy(self) -> float:
        return self.net_size[1] / self.image_size[1]

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) boxes from network pixels to original pixels, clipped to the image."""
        out = np.empty_like(boxes, dtype=np.float64)
        out[:, 0::2] = (boxes[:, 0::2] + 0.5) / self.sx - 0.5
        out[:, 1::2] = (boxes[:, 1::2] + 0.5) / self.sy - 0.5
        w, h = self.image_size
        return np.clip(out, 0, [w - 1, h - 1, w - 1, h - 1])


def net_geometry(image_size: tuple[int, int], calib: dict[str, Any],
                 net_width: int = NET_WIDTH) -> NetGeometry:
    """The network-side geometry of a frame of `image_size` (width, height)."""
    w, h = image_size
    nw = int(net_width)
    nh = max(int(round(h * nw / w)), 1)
    sx, sy = nw / w, nh / h
    p2 = scale_projection(np.asarray(calib["P2"]), sx, sy)
    p3 = scale_projection(np.asarray(calib["P3"]), sx, sy)
    pad = lambda n: -(-n // PAD_MULTIPLE) * PAD_MULTIPLE
    return NetGeometry((w, h), (nw, nh), (pad(nw), pad(nh)), p2, float(p2[0, 3] - p3[0, 3]))


def image_tensor(image: np.ndarray, geo: NetGeometry) -> torch.Tensor:
    """H x W x 3 uint8 -> normalised, resized, padded (1, 3, H', W') float32."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
    if geo.net_size != geo.image_size:
        x = F.interpolate(x, size=(geo.net_size[1], geo.net_size[0]), mode="bilinear",
                          align_corners=False, antialias=True)
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    x = (x - mean) / std
    pw, ph = geo.padded_size[0] - geo.net_size[0], geo.padded_size[1] - geo.net_size[1]
    return F.pad(x, (0, pw, 0, ph))


def _peaks(heat: torch.Tensor, topk: int) -> tuple[torch.Tensor, ...]:
    """Top-k local maxima of a (C, h, w) score map: scores, classes, rows, cols."""
    keep = F.max_pool2d(heat[None], 3, 1, 1)[0] == heat
    scores = (heat * keep).flatten()
    k = min(topk, scores.numel())
    top, idx = scores.topk(k)
    hw = heat.shape[1] * heat.shape[2]
    return top, idx // hw, (idx % hw) // heat.shape[2], idx % heat.shape[2]


def decode_detections(out: dict[str, torch.Tensor], geo: NetGeometry, score_thresh: float = 0.05,
                      topk: int = 50) -> list[dict[str, Any]]:
    """Head maps of one frame (batch of 1) -> KITTI detections (dicts of the 16 label fields).

    Peaks of the heatmap at or above `score_thresh` are kept; the reported score is the
    peak times exp(-b), b the predicted Laplace scale of the depth error in metres.
    """
    heat = torch.sigmoid(out["heat"][0].float())
    reg = split_reg(out["reg"].float())
    scores, cls, rows, cols = _peaks(heat, topk)
    sel = scores >= score_thresh
    scores, cls, rows, cols = scores[sel], cls[sel], rows[sel], cols[sel]
    if len(scores) == 0:
        return []
    pick = lambda m: m[0][:, rows, cols].T.numpy().astype(np.float64)
    box, off, ddisp = pick(reg["box2d"]), pick(reg["offset3d"]), pick(reg["disparity"])[:, 0]
    dims_log, orient = pick(reg["dims"]), pick(reg["orient"])
    scores = scores.numpy().astype(np.float64)
    if "depth_unc" in reg:  # networks with the depth-uncertainty output
        scores = scores * np.exp(-np.exp(np.clip(pick(reg["depth_unc"])[:, 0], -5.0, 5.0)))
    base_disp = out["disp8"][0, 0][rows, cols].numpy().astype(np.float64)
    s = float(HEAD_STRIDE)
    u = cols.numpy() * s + (s - 1) / 2
    v = rows.numpy() * s + (s - 1) / 2
    box = np.maximum(box, 0.0) * s
    boxes = geo.to_image(np.stack([u - box[:, 0], v - box[:, 1], u + box[:, 2], v + box[:, 3]], 1))
    disparity = np.maximum(base_disp + ddisp, 0.25)
    depth = geo.focal_baseline / disparity
    centre = unproject(u + off[:, 0] * s, v + off[:, 1] * s, depth, geo.p2)
    cls_np = cls.numpy()
    dims = np.exp(np.clip(dims_log, -1.0, 1.0)) * np.asarray(MEAN_DIMS)[cls_np]
    location = centre + np.stack([np.zeros_like(depth), dims[:, 0] / 2, np.zeros_like(depth)], 1)
    alpha = wrap_angle(np.arctan2(orient[:, 0], orient[:, 1]))
    rot_y = rotation_y_from_alpha(alpha, location[:, 0], location[:, 2])
    dets = []
    for i in range(len(cls_np)):
        dets.append({
            "type": CLASSES[int(cls_np[i])], "truncated": -1.0, "occluded": -1,
            "alpha": round(float(alpha[i]), 4), "bbox": [round(float(b), 2) for b in boxes[i]],
            "dimensions": [round(float(d), 3) for d in dims[i]],
            "location": [round(float(c), 3) for c in location[i]],
            "rotation_y": round(float(rot_y[i]), 4), "score": round(float(scores[i]), 6),
        })
    return dets


def detections_to_anno(dets: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Detections (list of label-field dicts) -> an annotation dict of bench.metrics.kitti_io."""
    from bench.metrics.kitti_io import empty_anno

    if not dets:
        return empty_anno(with_score=True)
    col = lambda key, dtype=np.float64: np.array([d[key] for d in dets], dtype=dtype)
    return {
        "name": col("type", object), "truncated": col("truncated"),
        "occluded": col("occluded", np.int64), "alpha": col("alpha"),
        "bbox": col("bbox").reshape(-1, 4), "dimensions": col("dimensions").reshape(-1, 3),
        "location": col("location").reshape(-1, 3), "rotation_y": col("rotation_y"),
        "score": col("score"),
    }


def anno_to_detections(anno: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """An annotation dict (with or without scores) -> the list-of-dicts detection form."""
    n = len(anno["name"])
    scores = anno.get("score", np.ones(n))
    return [{
        "type": str(anno["name"][i]), "truncated": float(anno["truncated"][i]),
        "occluded": int(anno["occluded"][i]), "alpha": float(anno["alpha"][i]),
        "bbox": [float(v) for v in anno["bbox"][i]],
        "dimensions": [float(v) for v in anno["dimensions"][i]],
        "location": [float(v) for v in anno["location"][i]],
        "rotation_y": float(anno["rotation_y"][i]), "score": float(scores[i]),
    } for i in range(n)]
