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


def load_holdout(n_eval: int, data_root: str, detector_weights: str | None) -> dict[str, Any]:
    from bench.datasets.synthetic_coco import SyntheticCocoDataset
    from bench.tasks.detection import DetectionTask

    dataset = SyntheticCocoDataset(n_images=n_eval, split="holdout", root=data_root)
    task = DetectionTask(weights=detector_weights, device="cpu")
    samples = [dataset.load(i) for i in dataset.ids()]
    feats = [task.features(s, "fpn") for s in samples]
    return {"dataset": dataset, "task": task, "samples": samples, "feats": feats}


def head_ap(cache: dict[str, Any], features: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """bbox/AP and segm/AP of the detector's head on `features` (one dict per held-out image)."""
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
    cache = cache or load_holdout(n_eval, data_root, detector_weights)
    model.eval()
    out: dict[str, float] = {}
    if eval_ap and "ref" not in cache:
        cache["ref"] = head_ap(cache, cache["feats"])
    if eval_ap:
        out.update({f"{k.split('/')[0]}_ap@ref": v for k, v in cache["ref"].items()})
    pixels = sum(s.image.shape[0] * s.image.shape[1] for s in cache["samples"])
    for i in range(max(1, model.config.n_rates)):
        total, recs = code_features(model, cache["feats"], i if model.config.n_rates else None)
        out[f"bpp@{i}"] = total * 8 / pixels
        for lv in LEVELS:
            err = sum(float(((r[lv] - f[lv]) ** 2).mean()) for r, f in zip(recs, cache["feats"]))
            out[f"mse_{lv}@{i}"] = err / len(recs)
        if eval_ap:
            decoded = [{k: f[k] if k in keep else v for k, v in r.items()}
                       for r, f in zip(recs, cache["feats"])]
            out.update({f"{k.split('/')[0]}_ap@{i}": v
                        for k, v in head_ap(cache, decoded).items()})
    return out, cache


def code_features(model: Any, feats: list[dict[str, np.ndarray]], index: int | None
                  ) -> tuple[int, list[dict[str, np.ndarray]]]:
    """Real coding of every item at one rate point: total bytes and the decoded levels."""
    total, recs = 0, []
    with torch.no_grad():
        for f in feats:
            data = model.compress({k: torch.from_numpy(v) for k, v in f.items()}, index)
            total += len(data)
            recs.append({k: v.numpy() for k, v in model.decompress(data).items()})
    return total, recs
