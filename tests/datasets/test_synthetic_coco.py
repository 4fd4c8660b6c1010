"""Tests for the synthetic COCO-format generator."""

from __future__ import annotations

import json
import multiprocessing as mp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from bench.datasets.coco import CocoDataset
from bench.datasets.synthetic_coco import SHAPES, SyntheticCocoDataset
from bench.errors import DatasetError

SMALL = {"n_images": 6, "width": 160, "height": 128}


def _files(ds):
    return {p.relative_to(ds.set_dir): p.read_bytes() for p in sorted(ds.set_dir.rglob("*"))
            if p.is_file()}


def test_same_seed_byte_identical(tmp_path):
    a = SyntheticCocoDataset(**SMALL, root=tmp_path / "a")
    b = SyntheticCocoDataset(**SMALL, root=tmp_path / "b")
    assert a.set_dir.name == b.set_dir.name
    assert _files(a) == _files(b)
    assert a.fingerprint() == b.fingerprint()


def test_seed_and_split_change_the_data(tmp_path):
    val = SyntheticCocoDataset(**SMALL, root=tmp_path)
    train = SyntheticCocoDataset(**SMALL, split="train", root=tmp_path)
    other = SyntheticCocoDataset(**SMALL, seed=1, root=tmp_path)
    assert len({val.set_dir, train.set_dir, other.set_dir}) == 3
    for ds in (train, other):
        assert not np.array_equal(ds.load("1").image, val.load("1").image)


def test_is_a_valid_coco_set(tmp_path):
    ds = SyntheticCocoDataset(**SMALL, root=tmp_path, n_categories=6)
    assert isinstance(ds, CocoDataset)
    coco = ds.coco()
    assert ds.category_ids() == list(range(1, 7))
    assert [c["name"] for c in coco.loadCats(ds.category_ids())] == list(SHAPES)
    assert ds.ids() == [str(i) for i in range(1, 7)]
    for image_id in ds.image_ids():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert len(anns) >= 2
        union = np.zeros((128, 160), dtype=int)
        for ann in anns:
            m = coco.annToMask(ann)
            assert ann["iscrowd"] == 0 and ann["area"] == m.sum() > 0
            ys, xs = np.nonzero(m)
            x, y, w, h = ann["bbox"]
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                    ys.max() - ys.min() + 1)
            union += m
        assert union.max() == 1  # visible parts only: masks never overlap


def test_occluded_masks_are_visible_parts(tmp_path):
    ds = SyntheticCocoDataset(n_images=40, width=160, height=128, root=tmp_path)
    doc = json.loads(ds.annotation_file.read_text())
    rles = [a["segmentation"] for a in doc["annotations"]]
    areas = mask_utils.area(rles)
    boxes = mask_utils.toBbox(rles)
    assert np.allclose(areas, [a["area"] for a in doc["annotations"]])
    assert np.allclose(boxes, [a["bbox"] for a in doc["annotations"]])
    # some shapes overlap (boxes intersect) somewhere in 40 images
    by_image = {}
    for a in doc["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a["bbox"])
    ious = [mask_utils.iou(np.array(b), np.array(b), [0] * len(b)) for b in by_image.values()]
    assert any((iou - np.eye(len(iou)) > 0).any() for iou in ious)
    sizes = [max(a["bbox"][2], a["bbox"][3]) for a in doc["annotations"]]
    assert min(sizes) < 24 and max(sizes) > 40


def test_second_call_loads_existing(tmp_path):
    a = SyntheticCocoDataset(**SMALL, root=tmp_path)
    stamp = a.annotation_file.stat().st_mtime_ns
    b = SyntheticCocoDataset(**SMALL, root=tmp_path, limit=2)
    assert b.annotation_file.stat().st_mtime_ns == stamp
    assert b.ids() == ["1", "2"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _make(root):
    SyntheticCocoDataset(**SMALL, root=root)


def test_concurrent_generation_is_atomic(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_make, args=(tmp_path,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    sets = [p for p in tmp_path.iterdir()]
    assert len(sets) == 1 and not sets[0].name.startswith(".")
    assert len(SyntheticCocoDataset(**SMALL, root=tmp_path).ids()) == 6


@pytest.mark.parametrize("kwargs, word", [
    ({"n_categories": 9}, "n_categories"),
    ({"split": "../x"}, "split"),
    ({"width": 10}, "width"),
    ({"n_images": 0}, "n_images"),
])
def test_bad_params(tmp_path, kwargs, word):
    with pytest.raises(DatasetError, match=word):
        SyntheticCocoDataset(root=tmp_path, **kwargs)
