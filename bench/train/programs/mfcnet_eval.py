"""Held-out evaluation of an MFCNet model with real coding and the detector's head.

For every rate point: compress each image's P2..P5 to bytes, decompress, measure the
pooled bpp (bytes x 8 over the original pixels), the feature MSE per level, and (with
`eval_ap`) the COCO bbox/segm AP of the detection head on the decoded features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.models.mfcnet.config import LEVELS


def _load(n_eval: int, data_root: str, detector_weights: str | None) -> dict[str, Any]:
    from bench.datasets.synthetic_coco import SyntheticCocoDataset
    from bench.tasks.detection import DetectionTask

    dataset = SyntheticCocoDataset(n_images=n_eval, split="holdout", root=data_root)
    task = DetectionTask(weights=detector_weights, device="cpu")
    samples = [dataset.load(i) for i in dataset.ids()]
    feats = [task.features(s, "fpn") for s in samples]
    return {"dataset": dataset, "task": task, "samples": samples, "feats": feats}


def _ap(cache: dict[str, Any], features: list[dict[str, np.ndarray]]) -> dict[str, float]:
    task, samples = cache["task"], cache["samples"]
    preds = {s.id: task.head(f, s, "fpn") for s, f in zip(samples, features)}
    metrics = task.evaluator(cache["dataset"]).evaluate(preds)
    return {k: v for k, v in metrics.items() if k in ("bbox/AP", "segm/AP")}


def evaluate_model(model: Any, n_eval: int = 16, eval_ap: bool = True,
                   data_root: str = "datasets", detector_weights: str | None = None,
                   cache: dict[str, Any] | None = None,
                   keep: tuple[str, ...] = ()) -> tuple[dict[str, float], dict]:
    """(metrics, cache): bpp@i, mse_<level>@i, bbox_ap@i, segm_ap@i and the reference AP.

    `keep` lists levels scored with their original values (e.g. ("p2",) while FineNet is
    untrained); the rate still counts everything the stream holds.
    """
    cache = cache or _load(n_eval, data_root, detector_weights)
    model.eval()
    out: dict[str, float] = {}
    if eval_ap and "ref" not in cache:
        cache["ref"] = _ap(cache, cache["feats"])
    if eval_ap:
        out.update({f"{k.split('/')[0]}_ap@ref": v for k, v in cache["ref"].items()})
    pixels = sum(s.image.shape[0] * s.image.shape[1] for s in cache["samples"])
    for i in range(max(1, model.config.n_rates)):
        index = i if model.config.n_rates else None
        total, mse = 0, {lv: 0.0 for lv in LEVELS}
        decoded = []
        with torch.no_grad():
            for f in cache["feats"]:
                data = model.compress({k: torch.from_numpy(v) for k, v in f.items()}, index)
                rec = model.decompress(data)
                total += len(data)
                for lv in LEVELS:
                    mse[lv] += float(((rec[lv] - torch.from_numpy(f[lv])) ** 2).mean())
                decoded.append({k: f[k] if k in keep else v.numpy() for k, v in rec.items()})
        out[f"bpp@{i}"] = total * 8 / pixels
        out.update({f"mse_{lv}@{i}": v / len(decoded) for lv, v in mse.items()})
        if eval_ap:
            out.update({f"{k.split('/')[0]}_ap@{i}": v for k, v in _ap(cache, decoded).items()})
    return out, cache
