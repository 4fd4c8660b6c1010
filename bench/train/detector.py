"""Data and evaluation of the built-in detector's training (bench/train/programs/detector.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.datasets.coco import CocoDataset
from bench.datasets.synthetic_coco import SyntheticCocoDataset
from bench.models.detector import DEFAULT_WEIGHTS


def training_target(dataset: CocoDataset, item_id: str, flip: bool) -> tuple[torch.Tensor, dict]:
    """One image (3 x H x W float in [0, 1]) and its Mask R-CNN target."""
    coco = dataset.coco()
    image = dataset.load(item_id).image
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[int(item_id)], iscrowd=False))
    anns = [a for a in anns if a["bbox"][2] >= 1 and a["bbox"][3] >= 1]
    h, w = image.shape[:2]
    masks = np.stack([coco.annToMask(a) for a in anns]) if anns else np.zeros((0, h, w), np.uint8)
    boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                       a["bbox"][1] + a["bbox"][3]] for a in anns], dtype=np.float32).reshape(-1, 4)
    if flip:
        image, masks = image[:, ::-1], masks[:, :, ::-1]
        boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], axis=1)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
    target = {
        "boxes": torch.from_numpy(boxes.reshape(-1, 4)),
        "labels": torch.tensor([a["category_id"] for a in anns], dtype=torch.int64),
        "masks": torch.from_numpy(np.ascontiguousarray(masks)),
    }
    return tensor, target


def evaluate_detector(weights: str | Path = DEFAULT_WEIGHTS, n_val: int = 48, seed: int = 0,
                      data_root: str | Path = "datasets") -> dict[str, Any]:
    """bbox and segm COCO stats of a checkpoint on synthetic-coco's val split, and its speed."""
    from bench.tasks.detection import DetectionTask

    val = SyntheticCocoDataset(n_images=n_val, split="val", seed=seed, root=data_root)
    task = DetectionTask(weights=weights, device="cpu")
    t0 = time.perf_counter()
    preds = {i: task.predict(val.load(i)) for i in val.ids()}
    seconds = time.perf_counter() - t0
    stats = task.evaluator(val).evaluate(preds)
    return {"n_images": n_val, "seed": seed, "seconds_per_image": seconds / n_val, **stats}
