"""Training crops of a COCO-format set with their Mask R-CNN targets (boxes, labels, masks)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bench.datasets.coco import CocoDataset

MIN_PIXELS = 16  # an instance smaller than this in the crop is dropped


class CropSampler:
    """Random square crops (with horizontal flips) of a COCO-format set.

    An image smaller than the crop is zero-padded at the bottom and right (COCO has
    images under 512 px on a side).

    An instance is kept in a crop when at least `min_visible` of its visible pixels
    (and `MIN_PIXELS`) fall inside; its box is the extent of its mask in the crop.

    Args:
        dataset: the images and their instance annotations.
        crop: side of the square crops (a multiple of 64 for ELIC).
        category_to_label: dataset category id -> the detector's label index.
        min_visible: fraction of an instance's mask that must be in the crop.
    """

    def __init__(self, dataset: CocoDataset, crop: int, category_to_label: dict[int, int],
                 min_visible: float = 0.3):
        self.dataset = dataset
        self.crop = int(crop)
        self.category_to_label = dict(category_to_label)
        self.min_visible = float(min_visible)
        self.ids = dataset.ids()

    def item(self, item_id: str, rng: np.random.Generator) -> tuple[Tensor, dict[str, Tensor]]:
        """One crop (3 x S x S float in [0, 1]) and its target."""
        image = self.dataset.load(item_id).image
        h, w = image.shape[:2]
        s = self.crop
        top, left = int(rng.integers(0, max(h - s, 0) + 1)), int(rng.integers(0, max(w - s, 0) + 1))
        flip = bool(rng.random() < 0.5)
        patch = _pad_to(image[top:top + s, left:left + s], s)
        masks, labels = self._masks(item_id, top, left)
        if flip:
            patch, masks = patch[:, ::-1], masks[:, :, ::-1]
        x = torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1).float() / 255.0
        return x, target_from_masks(np.ascontiguousarray(masks), labels)

    def _masks(self, item_id: str, top: int, left: int) -> tuple[np.ndarray, list[int]]:
        coco = self.dataset.coco()
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[int(item_id)], iscrowd=False))
        s = self.crop
        kept, labels = [], []
        for ann in anns:
            full = coco.annToMask(ann)
            part = _pad_to(full[top:top + s, left:left + s], s)
            area = int(part.sum())
            if area >= max(MIN_PIXELS, self.min_visible * int(full.sum())):
                kept.append(part)
                labels.append(self.category_to_label[int(ann["category_id"])])
        masks = np.stack(kept) if kept else np.zeros((0, s, s), np.uint8)
        return masks, labels

    def batch(self, rng: np.random.Generator, size: int) -> tuple[Tensor, list[dict[str, Tensor]]]:
        """`size` crops of randomly drawn images, stacked, and their targets."""
        picks = rng.integers(0, len(self.ids), size=size)
        items = [self.item(self.ids[int(i)], rng) for i in picks]
        return torch.stack([x for x, _ in items]), [t for _, t in items]


def _pad_to(array: np.ndarray, size: int) -> np.ndarray:
    """Zero padding (bottom, right) of an image or mask smaller than the crop."""
    pad_h, pad_w = size - array.shape[0], size - array.shape[1]
    if pad_h <= 0 and pad_w <= 0:
        return array
    widths = [(0, max(pad_h, 0)), (0, max(pad_w, 0))] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths)


def target_from_masks(masks: np.ndarray, labels: list[int]) -> dict[str, Tensor]:
    """A Mask R-CNN target: boxes from the masks' extents, labels, masks."""
    boxes = np.zeros((len(labels), 4), np.float32)
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return {"boxes": torch.from_numpy(boxes),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "masks": torch.from_numpy(masks.astype(np.uint8))}
