"""A cache of a frozen detector's FPN features (P2..P5) for feature-domain training.

The features of a synthetic-coco split are computed once with the `detection` task
(its `features(sample, "fpn")`) and stored as float16 .npy arrays (one per level, N x C
x H x W) under `<root>/mfcnet-fpn-<split>-<key>/`, where the key hashes the dataset
parameters and the detector's weights. Training then never runs the detector.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.models.mfcnet.config import LEVELS

CACHE_VERSION = "1"


def cache_key(dataset_params: dict[str, Any], weights_sha: str) -> str:
    """Short hash of what determines the cached features."""
    doc = json.dumps({"dataset": dataset_params, "weights": weights_sha,
                      "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:10]


def build_feature_cache(root: str | Path = "datasets", split: str = "train", n_images: int = 1600,
                        seed: int = 0, width: int = 320, height: int = 240,
                        weights: str | None = None,
                        log: Callable[[str], None] = print) -> Path:
    """Compute (once) and return the folder holding p2.npy .. p5.npy and meta.json."""
    from bench.datasets.synthetic_coco import SyntheticCocoDataset
    from bench.tasks.detection import DetectionTask

    params = {"n_images": n_images, "split": split, "seed": seed, "width": width,
              "height": height}
    dataset = SyntheticCocoDataset(root=root, **params)
    task = DetectionTask(weights=weights, device="cpu")
    target = Path(root) / f"mfcnet-fpn-{split}-{cache_key(params, task.weights_hash())}"
    if (target / "meta.json").is_file():
        return target
    ids = dataset.ids()
    tmp = Path(tempfile.mkdtemp(prefix=".mfcnet-fpn-", dir=root))
    try:
        arrays: dict[str, np.ndarray] = {}
        for k, item in enumerate(ids):
            feats = task.features(dataset.load(item), "fpn")
            if not arrays:
                arrays = {lv: np.lib.format.open_memmap(
                    tmp / f"{lv}.npy", mode="w+", dtype=np.float16,
                    shape=(len(ids), *feats[lv].shape)) for lv in LEVELS}
            for lv in LEVELS:
                arrays[lv][k] = feats[lv].astype(np.float16)
            if (k + 1) % 200 == 0:
                log(f"mfcnet feature cache: {k + 1}/{len(ids)} images")
        for arr in arrays.values():
            arr.flush()
        meta = {"dataset": params, "detector_sha256": task.weights_hash(), "ids": ids,
                "version": CACHE_VERSION}
        (tmp / "meta.json").write_text(json.dumps(meta))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_feature_cache(folder: str | Path) -> dict[str, np.ndarray]:
    """The cached levels as read-only memory maps (N x C x H x W float16)."""
    folder = Path(folder)
    return {lv: np.load(folder / f"{lv}.npy", mmap_mode="r") for lv in LEVELS}


class FeatureBatches:
    """Random training batches from cached features: float32 tensors, optional flip and crop.

    A crop (in input pixels, a multiple of 32) cuts P2 and P3 at one aligned box; P4 and
    P5 stay whole (their paths are small). `crop=0` keeps every level whole.
    """

    def __init__(self, arrays: dict[str, np.ndarray], batch: int, crop: int = 0,
                 flip: bool = True):
        if crop % 32:
            raise ValueError(f"crop must be a multiple of 32 pixels, got {crop}")
        self.arrays, self.batch, self.crop, self.flip = arrays, batch, crop, flip
        self.n = len(arrays[LEVELS[0]])

    def sample(self, rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
        """(whole levels, training levels): whole ones give the per-image min/max."""
        import torch

        idx = np.sort(rng.choice(self.n, size=self.batch, replace=self.n < self.batch))
        whole = {lv: torch.from_numpy(np.asarray(self.arrays[lv][idx], dtype=np.float32))
                 for lv in LEVELS}
        if self.flip:
            flips = torch.from_numpy(rng.random(self.batch) < 0.5)
            for lv, t in whole.items():
                whole[lv] = torch.where(flips[:, None, None, None], t.flip(-1), t)
        parts = dict(whole)
        if self.crop:
            h2, w2 = whole["p2"].shape[-2:]
            side = self.crop // 4
            top = 8 * int(rng.integers(0, max(1, (h2 - side) // 8 + 1)))
            left = 8 * int(rng.integers(0, max(1, (w2 - side) // 8 + 1)))
            parts["p2"] = whole["p2"][..., top:top + side, left:left + side]
            parts["p3"] = whole["p3"][..., top // 2:(top + side) // 2, left // 2:(left + side) // 2]
        return whole, parts
