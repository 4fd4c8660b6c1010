"""COCO stats of resampled image lists: the fast re-accumulation equals the definition."""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from bench.analysis.resample import (
    CocoResampler,
    coco_resampled_reference,
    resampled_ground_truth,
)
from bench.metrics.coco import coco_evaluate


def _rle(box, h=96, w=128):
    m = np.zeros((h, w), dtype=np.uint8, order="F")
    x, y, bw, bh = (int(v) for v in box)
    m[y:y + bh, x:x + bw] = 1
    rle = mask_utils.encode(m)
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def make_set(seed=0, n_images=9):
    """Ground truth of three categories (small, medium and large boxes; one image without
    objects, one category absent from some images) and noisy detections with ties."""
    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    for i in range(1, n_images + 1):
        images.append({"id": i, "width": 128, "height": 96, "file_name": f"{i}.png"})
        if i == n_images:
            dets.append({"image_id": i, "category_id": 1, "bbox": [5, 5, 20, 20], "score": 0.9,
                         "segmentation": _rle([5, 5, 20, 20])})  # a false positive only
            continue
        for _ in range(int(rng.integers(1, 5))):
            size = float(rng.choice([12, 40, 100]))
            x, y = float(rng.integers(0, 128 - min(size, 100))), float(rng.integers(0, 96 - 90))
            w, h = min(size, 127 - x), min(size * 0.8, 95 - y)
            cat = int(rng.integers(1, 4))
            box = [x, y, w, h]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat, "bbox": box,
                         "area": w * h, "iscrowd": 0, "segmentation": _rle(box)})
            for _ in range(int(rng.integers(0, 3))):  # duplicates, shifted, some wrong class
                jitter = rng.normal(0, 3, 4)
                dbox = [max(0.0, box[0] + jitter[0]), max(0.0, box[1] + jitter[1]),
                        max(2.0, box[2] + jitter[2]), max(2.0, box[3] + jitter[3])]
                dets.append({"image_id": i, "category_id": cat if rng.random() < 0.8 else 1,
                             "bbox": dbox, "score": float(np.round(rng.random(), 1)),
                             "segmentation": _rle(dbox)})
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]
    return {"images": images, "annotations": anns, "categories": cats}, dets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_resampler_equals_the_definition_on_draws_with_repeats(seed):
    gt, dets = make_set(seed)
    fast = CocoResampler(gt, dets, ("bbox", "segm"))
    rng = np.random.default_rng(seed + 10)
    ids = [im["id"] for im in gt["images"]]
    for _ in range(4):
        draw = [int(i) for i in rng.choice(ids, len(ids), replace=True)]
        ref = coco_resampled_reference(gt, dets, draw, ("bbox", "segm"))
        got = fast(draw)
        assert got.keys() == ref.keys()
        for k in ref:
            assert got[k] == pytest.approx(ref[k], abs=1e-12), k


def test_the_full_list_gives_the_point_s_own_numbers():
    gt, dets = make_set(3)
    ids = [im["id"] for im in gt["images"]]
    fast = CocoResampler(gt, dets, ("bbox",))(ids)
    own = coco_evaluate(gt, dets, "bbox")
    assert fast == {f"bbox/{k}": v for k, v in own.items()}


def test_repeats_count_as_distinct_images():
    gt, dets = make_set(4)
    doubled, new_ids = resampled_ground_truth(gt, [1, 1, 2])
    assert [im["id"] for im in doubled["images"]] == [1, 2, 3]
    assert new_ids == {1: [1, 2], 2: [3]}
    n1 = sum(a["image_id"] == 1 for a in gt["annotations"])
    assert sum(a["image_id"] in (1, 2) for a in doubled["annotations"]) == 2 * n1
    assert len({a["id"] for a in doubled["annotations"]}) == len(doubled["annotations"])
    # AP over an image drawn twice equals AP over it once (precision and recall scale alike)
    once = CocoResampler(gt, dets, ("bbox",))([1])
    twice = CocoResampler(gt, dets, ("bbox",))([1, 1])
    assert twice["bbox/AR100"] == pytest.approx(once["bbox/AR100"])


def test_areas_without_ground_truth_stay_minus_one():
    gt, dets = make_set(5)
    only_fp = CocoResampler(gt, dets, ("bbox",))([len(gt["images"])])  # no objects at all
    assert only_fp["bbox/AP"] == -1 and only_fp["bbox/ARl"] == -1


def test_unknown_image_is_an_error():
    gt, dets = make_set(6)
    with pytest.raises(KeyError, match="not in the evaluated"):
        CocoResampler(gt, dets, ("bbox",))([999])
