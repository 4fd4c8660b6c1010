"""Masks for SA-ICM's mask-weighted distortion: objects and their edges.

SA-ICM trains its base codec with L = R + lambda * MSE(x * M, x_hat * M), where M comes
from Segment Anything: the automatic mask generator's segments whose predicted IoU is at
least alpha (0.78 or 0.93 in the released checkpoints) form a segmentation map, and the
Canny edges of that map mark the object boundaries. Nothing is downloaded here; the
segments come from a pluggable source instead of SAM:

- `CocoInstanceMasks`: the instance masks of a COCO-format dataset's annotations (the
  synthetic set's shapes: exact object segments, the role SAM's segments play);
- `MaskFolder`: mask files the user made for real data (for example with SAM offline):
  `<stem>.npz` holding `masks` (K x H x W, bool) and optionally `scores` (K predicted
  IoUs, kept when >= `min_score`, SAM's alpha), or `<stem>.png`, a label image
  (0 = no segment, 1..K = segments).

`weight_map` turns segments into M: edges are the pixels where the segment label map
changes between 4-neighbours (what Canny finds on a piecewise-constant label map),
widened by `edge_width` pixels; `mode` picks edges only (SA-ICM's edge map), object
interiors only, or both; background pixels get `background_weight`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODES = ("edges", "objects", "objects+edges")


@dataclass(frozen=True)
class MaskSpec:
    """How segments become the distortion weight map M.

    Attributes:
        mode: "edges" (boundaries only), "objects" (segment interiors) or
            "objects+edges" (both).
        edge_width: boundary pixels are dilated by this many pixels (a square of side
            2 * edge_width + 1); 0 keeps the one-pixel boundary.
        background_weight: the weight of every other pixel (0 in SA-ICM's loss).
        min_score: segments with a score below this are dropped (SAM's alpha; masks
            without scores are all kept).
    """

    mode: str = "objects+edges"
    edge_width: int = 2
    background_weight: float = 0.05
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mask mode must be one of {MODES}, got {self.mode!r}")
        if self.edge_width < 0 or not 0.0 <= self.background_weight <= 1.0:
            raise ValueError("edge_width must be >= 0 and background_weight in [0, 1]")


def label_map(segments: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """H x W int32 labels: 0 background, k for the k-th segment (later ones on top)."""
    labels = np.zeros(shape, dtype=np.int32)
    for k, seg in enumerate(segments, start=1):
        if seg.shape != shape:
            raise ValueError(f"segment of shape {seg.shape} for an image of shape {shape}")
        labels[seg.astype(bool)] = k
    return labels


def label_edges(labels: np.ndarray) -> np.ndarray:
    """Boolean map of the pixels whose label differs from a 4-neighbour's."""
    edges = np.zeros(labels.shape, dtype=bool)
    dy = labels[1:, :] != labels[:-1, :]
    dx = labels[:, 1:] != labels[:, :-1]
    edges[1:, :] |= dy
    edges[:-1, :] |= dy
    edges[:, 1:] |= dx
    edges[:, :-1] |= dx
    return edges


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation with a (2r+1) x (2r+1) square."""
    if radius <= 0:
        return mask.copy()
    from scipy.ndimage import binary_dilation

    return binary_dilation(mask, structure=np.ones((2 * radius + 1,) * 2, dtype=bool))


def weight_map(segments: Sequence[np.ndarray], shape: tuple[int, int],
               spec: MaskSpec = MaskSpec()) -> np.ndarray:
    """M (H x W float32 in [0, 1]) from segments (boolean H x W arrays)."""
    labels = label_map(segments, shape)
    chosen = np.zeros(shape, dtype=bool)
    if spec.mode in ("edges", "objects+edges"):
        chosen |= dilate(label_edges(labels), spec.edge_width)
    if spec.mode in ("objects", "objects+edges"):
        chosen |= labels > 0
    weights = np.full(shape, spec.background_weight, dtype=np.float32)
    weights[chosen] = 1.0
    return weights


class CocoInstanceMasks:
    """Segments from a COCO-format dataset's instance annotations (synthetic or real)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def segments(self, item_id: str) -> tuple[list[np.ndarray], list[float]]:
        """(instance masks, scores of 1.0) of one item, in annotation order."""
        coco = self.dataset.coco()
        ann_ids = coco.getAnnIds(imgIds=[int(item_id)])
        masks = [coco.annToMask(ann).astype(bool) for ann in coco.loadAnns(ann_ids)]
        return masks, [1.0] * len(masks)


class MaskFolder:
    """Segments from user files: `<stem>.npz` (masks, scores) or `<stem>.png` (labels)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"mask folder {str(self.folder)!r} does not exist")

    def segments_for(self, stem: str) -> tuple[list[np.ndarray], list[float]]:
        """(masks, scores) for the image whose file stem is `stem`."""
        npz, png = self.folder / f"{stem}.npz", self.folder / f"{stem}.png"
        if npz.is_file():
            with np.load(npz) as data:
                masks = np.asarray(data["masks"]).astype(bool)
                scores = (np.asarray(data["scores"], dtype=np.float64) if "scores" in data
                          else np.ones(len(masks)))
            if masks.ndim != 3 or len(scores) != len(masks):
                raise ValueError(f"{str(npz)!r}: 'masks' must be K x H x W with K scores")
            return list(masks), [float(s) for s in scores]
        if png.is_file():
            from PIL import Image

            with Image.open(png) as im:
                labels = np.asarray(im)
            ids = [int(v) for v in np.unique(labels) if v != 0]
            return [labels == v for v in ids], [1.0] * len(ids)
        raise FileNotFoundError(f"no mask file {npz.name} or {png.name} in {str(self.folder)!r}")


def item_weight_map(source: Any, key: str, shape: tuple[int, int],
                    spec: MaskSpec = MaskSpec()) -> np.ndarray:
    """M of one image: `source.segments(key)` (dataset) or `segments_for(key)` (folder)."""
    get = source.segments if hasattr(source, "segments") else source.segments_for
    masks, scores = get(key)
    kept = [m for m, s in zip(masks, scores) if s >= spec.min_score]
    return weight_map(kept, shape, spec)
