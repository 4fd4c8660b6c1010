"""Data, augmentation, weights and validation of the stereo 3D detector's training
(the loop is bench/train/programs/stereo3d.py on the generic trainer).

The training and validation splits are generated at half KITTI scale (621 x 188,
which the network takes without resizing), held in memory, and sampled in
random column crops (a multiple of 16 wide) with photometric jitter. Validation
runs the real inference path and the KITTI evaluation of bench.metrics.kitti.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import TaskError
from bench.models.stereo3d import IMAGE_MEAN, IMAGE_STD
from bench.models.stereo3d_decode import NET_WIDTH, image_tensor, net_geometry
from bench.models.stereo3d_targets import build_targets, collate

TRAIN_SIZE = (621, 188)


def load_split(dataset: Any) -> dict[str, Any]:
    """Every frame of a synthetic split as padded uint8 images plus targets."""
    images, targets, fbs = [], [], []
    for item_id, anno in zip(dataset.ids(), dataset.label_annos()):
        sample = dataset.load(item_id)
        geo = net_geometry(sample.meta["image_size"], sample.calib, NET_WIDTH)
        pair = [_uint8_padded(im, geo) for im in sample.images]
        images.append(torch.stack(pair))
        targets.append(build_targets(anno, geo, dataset.disparity(item_id)))
        fbs.append(geo.focal_baseline)
    return {"images": torch.stack(images), "targets": targets,
            "focal_baseline": torch.tensor(fbs, dtype=torch.float32)}


def _uint8_padded(image: np.ndarray, geo) -> torch.Tensor:
    if geo.net_size != geo.image_size:
        raise TaskError(f"training expects images {geo.net_size[0]} pixels wide")
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    pw, ph = geo.padded_size[0] - geo.net_size[0], geo.padded_size[1] - geo.net_size[1]
    return torch.nn.functional.pad(x, (0, pw, 0, ph))


def augment(pair: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, 2, 3, H, W) uint8 -> float in [0, 1] with brightness, contrast, gain and blur jitter."""
    x = pair.float() / 255.0
    b = x.shape[0]
    rnd = lambda *shape: torch.rand(*shape, generator=gen)
    bright = 0.75 + 0.5 * rnd(b, 1, 1, 1, 1)
    contrast = 0.8 + 0.4 * rnd(b, 1, 1, 1, 1)
    gain = 1.0 + 0.06 * (rnd(b, 2, 3, 1, 1) - 0.5)
    mean = x.mean(dim=(2, 3, 4), keepdim=True)
    x = ((x - mean) * contrast + mean) * bright * gain
    blur = rnd(b) < 0.3
    if blur.any():
        k = torch.tensor([0.25, 0.5, 0.25])
        flat = x[blur].flatten(0, 2)[:, None]
        flat = torch.nn.functional.conv2d(flat, k.view(1, 1, 1, 3), padding=(0, 1))
        flat = torch.nn.functional.conv2d(flat, k.view(1, 1, 3, 1), padding=(1, 0))
        x[blur] = flat.view(x[blur].shape)
    x = x + 0.01 * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 1)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def batch(data: dict[str, Any], idx: np.ndarray, crop: int, rng: np.random.Generator,
          gen: torch.Generator):
    pair = data["images"][idx]
    width = pair.shape[-1]
    crop = min(crop, width)
    col0 = [int(rng.integers(0, (width - crop) // 16 + 1)) * 16 for _ in idx]
    pair = torch.stack([pair[n, ..., c:c + crop] for n, c in enumerate(col0)])
    x = augment(pair, gen)
    tgt = collate([data["targets"][i] for i in idx], col0, crop)
    left = normalise(x[:, 0]).contiguous(memory_format=torch.channels_last)
    right = normalise(x[:, 1]).contiguous(memory_format=torch.channels_last)
    return left, right, tgt, data["focal_baseline"][idx]


def save_weights(model: torch.nn.Module, path: str | Path, summary: dict[str, Any]) -> None:
    """Save state dict, architecture config and the training summary (weights_only-loadable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save({"format": "icm-bench/stereo3d/1", "config": model.config, "state_dict": state,
                "summary": _plain(summary)}, path)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, str):
        return str(obj)  # not a str subclass such as torch's TorchVersion
    return obj


@torch.no_grad()
def predict_split(model: torch.nn.Module, dataset: Any,
                  score_thresh: float = 0.05) -> dict[str, list]:
    """Detections of every frame of `dataset` through the inference path."""
    from bench.models.stereo3d_decode import decode_detections

    model.eval()
    preds = {}
    for item_id in dataset.ids():
        s = dataset.load(item_id)
        geo = net_geometry(s.meta["image_size"], s.calib, NET_WIDTH)
        left, right = (image_tensor(im, geo) for im in s.images)
        preds[item_id] = decode_detections(model(left, right), geo, score_thresh)
    return preds


def validate(model: torch.nn.Module, dataset: Any) -> dict[str, float]:
    """Car/Pedestrian/Cyclist moderate AP (R40) of bench.metrics.kitti on `dataset`."""
    from bench.models.stereo3d_decode import detections_to_anno

    preds = predict_split(model, dataset)
    ids = dataset.ids()
    gt, dt = dataset.label_annos(ids), [detections_to_anno(preds[i]) for i in ids]
    try:
        from bench.metrics.kitti import flatten_kitti, kitti_evaluate
    except ImportError:
        return {"frames": float(len(ids)), "detections": float(sum(len(p) for p in preds.values()))}
    flat = flatten_kitti(kitti_evaluate(gt, dt))
    keys = ("Car/3d/moderate/R40", "Car/bev/moderate/R40", "Car/bbox/moderate/R40",
            "Pedestrian/3d/moderate/R40", "Cyclist/3d/moderate/R40")
    return {k: float(flat[k]) for k in keys if k in flat}
