"""Real-coding evaluation of an MVSFC model with the stereo detector on KITTI-layout frames.

Each frame: the detector's features of both views, `compress` -> the joint bytes (the
rate), `decompress` -> the decoded features, the detector's head -> detections; KITTI
AP3D / APBEV (R40) over the frames, bpp = all bits over both views' original pixels.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import torch

from bench.models.mvsfc.model import MvsfcNet
from bench.models.mvsfc.stream import from_bytes, quantize_rate, to_bytes
from bench.models.mvsfc.training import join_views, split_views

KEYS = {"AP3D": "Car/3d/moderate/R40", "APBEV": "Car/bev/moderate/R40"}


@torch.no_grad()
def code_features(net: MvsfcNet, feats: dict[str, torch.Tensor], rate: float | None
                  ) -> tuple[bytes, dict[str, torch.Tensor], float, float]:
    """One pair through real coding: (bytes, decoded features, encode s, decode s)."""
    left, right = split_views(feats)
    t0 = time.perf_counter()
    data = to_bytes(net.compress(left, right, rate=quantize_rate(rate)))
    t1 = time.perf_counter()
    dec = net.decompress(**from_bytes(data))
    t2 = time.perf_counter()
    return data, join_views(dec["left"], dec["right"]), t1 - t0, t2 - t1


def _kitti(dataset: Any, preds: dict[str, list]) -> dict[str, float]:
    from bench.metrics.kitti import flatten_kitti, kitti_evaluate
    from bench.models.stereo3d_decode import detections_to_anno

    ids = list(preds)
    flat = flatten_kitti(kitti_evaluate(dataset.label_annos(ids),
                                        [detections_to_anno(preds[i]) for i in ids]))
    return {short: float(flat[key]) for short, key in KEYS.items()}


@torch.no_grad()
def evaluate_codec(net: MvsfcNet, detector: Any, dataset: Any,
                   rates: Sequence[float | None]) -> dict[str, float]:
    """Uncompressed AP and, per rate point, bpp, AP3D, APBEV and coding times."""
    from bench.models.stereo3d_decode import decode_detections, image_tensor, net_geometry

    net.eval()
    detector.eval()
    ref: dict[str, list] = {}
    coded: dict[Any, dict[str, list]] = {r: {} for r in rates}
    bits = {r: 0 for r in rates}
    times = {r: [0.0, 0.0] for r in rates}
    pixels = 0
    for item_id in dataset.ids():
        s = dataset.load(item_id)
        h, w = s.images[0].shape[:2]
        geo = net_geometry((w, h), s.calib)
        left, right = (image_tensor(im, geo) for im in s.images)
        feats = detector.features(left, right)
        ref[item_id] = decode_detections(detector.head(feats), geo)
        pixels += 2 * w * h
        for r in rates:
            data, dec, enc_s, dec_s = code_features(net, feats, r)
            bits[r] += 8 * len(data)
            times[r][0] += enc_s
            times[r][1] += dec_s
            coded[r][item_id] = decode_detections(detector.head(dec), geo)
    out = {f"ref/{k}": v for k, v in _kitti(dataset, ref).items()}
    n = max(1, len(ref))
    for r in rates:
        tag = "r" if r is None else f"r{r:g}"
        out[f"{tag}/bpp"] = bits[r] / max(1, pixels)
        out.update({f"{tag}/{k}": v for k, v in _kitti(dataset, coded[r]).items()})
        out[f"{tag}/encode_s"] = times[r][0] / n
        out[f"{tag}/decode_s"] = times[r][1] / n
    return out

