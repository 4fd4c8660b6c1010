"""The mask provider of SA-ICM's mask-weighted distortion."""

from __future__ import annotations

import numpy as np
import pytest

from bench.models.sa_icm.masks import (
    CocoInstanceMasks,
    MaskFolder,
    MaskSpec,
    item_weight_map,
    label_edges,
    weight_map,
)


def _square(shape=(20, 20), box=(5, 15, 5, 15)):
    m = np.zeros(shape, dtype=bool)
    m[box[0]:box[1], box[2]:box[3]] = True
    return m


def test_edges_are_the_label_boundaries():
    labels = np.zeros((6, 6), dtype=np.int32)
    labels[2:4, 2:4] = 1
    edges = label_edges(labels)
    assert edges[2:4, 2:4].all()                      # the 2x2 object is all boundary
    assert edges[1, 2] and edges[2, 1]                # and its outside neighbours
    assert not edges[0, 0] and not edges[5, 5]


def test_modes_and_background_weight():
    seg = _square()
    spec_edges = MaskSpec(mode="edges", edge_width=0, background_weight=0.0)
    edges = weight_map([seg], seg.shape, spec_edges)
    assert edges[10, 10] == 0.0 and edges[5, 10] == 1.0 and edges[4, 10] == 1.0
    objects = weight_map([seg], seg.shape, MaskSpec(mode="objects", background_weight=0.1))
    assert objects[10, 10] == 1.0 and objects[4, 10] == pytest.approx(0.1)
    both = weight_map([seg], seg.shape, MaskSpec(mode="objects+edges", edge_width=2))
    assert both[10, 10] == 1.0 and both[2, 10] == 1.0 and both[1, 10] == pytest.approx(0.05)
    assert both.dtype == np.float32


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="mode"):
        MaskSpec(mode="faces")
    with pytest.raises(ValueError):
        MaskSpec(edge_width=-1)
    with pytest.raises(ValueError, match="shape"):
        weight_map([np.zeros((3, 3), bool)], (4, 4))


def test_mask_folder_npz_scores_filter_like_sam_alpha(tmp_path):
    a, b = _square(), _square(box=(0, 3, 0, 3))
    np.savez(tmp_path / "img1.npz", masks=np.stack([a, b]), scores=np.array([0.95, 0.5]))
    folder = MaskFolder(tmp_path)
    spec = MaskSpec(mode="objects", background_weight=0.0, min_score=0.78)
    m = item_weight_map(folder, "img1", a.shape, spec)
    assert m[10, 10] == 1.0 and m[1, 1] == 0.0        # the low-score segment is dropped
    with pytest.raises(FileNotFoundError, match="no mask file"):
        folder.segments_for("missing")


def test_mask_folder_label_png(tmp_path):
    from PIL import Image

    labels = np.zeros((8, 8), dtype=np.uint8)
    labels[1:3, 1:3], labels[5:7, 5:7] = 1, 2
    Image.fromarray(labels).save(tmp_path / "x.png")
    masks, scores = MaskFolder(tmp_path).segments_for("x")
    assert len(masks) == 2 and scores == [1.0, 1.0] and masks[1][6, 6]


def test_coco_instance_masks_of_the_synthetic_set(tmp_path):
    from bench.datasets.synthetic_coco import SyntheticCocoDataset

    ds = SyntheticCocoDataset(n_images=2, width=96, height=64, root=str(tmp_path))
    source = CocoInstanceMasks(ds)
    item = ds.ids()[0]
    masks, _ = source.segments(item)
    assert masks and masks[0].shape == (64, 96)
    m = item_weight_map(source, item, (64, 96), MaskSpec(background_weight=0.0))
    covered = np.zeros((64, 96), bool)
    for seg in masks:
        covered |= seg
    assert (m[covered] == 1.0).all() and 0 < m.mean() < 1
