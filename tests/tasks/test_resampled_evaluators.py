"""Evaluators scoring a resampled item list (bootstrap draws: repeats count as items)."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from bench.datasets.synthetic_coco import SyntheticCocoDataset
from bench.datasets.synthetic_kitti import SyntheticKittiDataset
from bench.errors import TaskError
from bench.models.stereo3d_decode import anno_to_detections
from bench.tasks.detection import CocoDetectionEvaluator
from bench.tasks.pixel import PixelQualityEvaluator
from bench.tasks.stereo3d import KittiEvaluator


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    return SyntheticCocoDataset(n_images=5, width=160, height=128, n_categories=3, root=root)


def noisy_results(dataset, seed=0):
    """Ground-truth boxes and masks, jittered, with scores; some images get misses."""
    rng = np.random.default_rng(seed)
    coco_api = dataset.coco()
    out = {}
    for item_id in dataset.ids():
        anns = coco_api.loadAnns(coco_api.getAnnIds(imgIds=[int(item_id)]))
        dets = []
        for a in anns[: max(1, len(anns) - int(rng.integers(0, 2)))]:
            x, y, w, h = (float(v) + float(rng.normal(0, 2)) for v in a["bbox"])
            rle = mask_utils.frPyObjects(a["segmentation"], 128, 160) if isinstance(
                a["segmentation"], list) else a["segmentation"]
            rle = mask_utils.merge(rle) if isinstance(rle, list) else rle
            seg = {"size": rle["size"], "counts": rle["counts"].decode("ascii")
                   if isinstance(rle["counts"], bytes) else rle["counts"]}
            dets.append({"image_id": int(item_id), "category_id": a["category_id"],
                         "bbox": [x, y, max(w, 1.0), max(h, 1.0)],
                         "score": float(rng.random()), "segmentation": seg})
        out[item_id] = dets
    return out


def test_coco_full_draw_is_evaluate_and_fast_equals_reference(coco):
    ev = CocoDetectionEvaluator(coco, ("bbox", "segm"))
    preds = noisy_results(coco)
    ids = coco.ids()
    assert ev.evaluate_resampled(preds, ids) == pytest.approx(ev.evaluate(preds), abs=1e-12)
    score = ev.resampler(preds)
    for draw in ([ids[0], ids[0], ids[3], ids[4], ids[1]], [ids[2]] * 5):
        ref = ev.evaluate_resampled(preds, draw)
        got = score(draw)
        assert got == pytest.approx(ref, abs=1e-12)
    assert score([ids[0], ids[0]])["bbox/AP"] != pytest.approx(score(ids)["bbox/AP"])


def test_coco_checks_categories_like_evaluate(coco):
    ev = CocoDetectionEvaluator(coco, ("bbox",))
    preds = {coco.ids()[0]: [{"image_id": int(coco.ids()[0]), "category_id": 99,
                              "bbox": [1, 1, 5, 5], "score": 0.5}]}
    with pytest.raises(TaskError, match="category ids"):
        ev.resampler(preds)
    with pytest.raises(TaskError, match="category ids"):
        ev.evaluate_resampled(preds, coco.ids())


def test_pixel_means_count_repeats_and_skip_failed_items():
    ev = PixelQualityEvaluator(("psnr_rgb", "psnr_y"))
    preds = {"a": {"psnr_rgb": 30.0, "psnr_y": 32.0}, "b": {"psnr_rgb": 40.0, "psnr_y": 41.0}}
    assert ev.evaluate_resampled(preds, ["a", "b"]) == ev.evaluate(preds)
    got = ev.evaluate_resampled(preds, ["a", "a", "b", "failed"])
    assert got["psnr_rgb"] == pytest.approx((30 + 30 + 40) / 3)
    assert ev.evaluate_resampled({"a": {"psnr_rgb": "inf", "psnr_y": 1.0}}, ["a"])["psnr_rgb"] \
        == float("inf")


@pytest.fixture(scope="module")
def kitti(tmp_path_factory):
    root = tmp_path_factory.mktemp("kitti")
    return SyntheticKittiDataset(n_frames=4, width=310, height=94, seed=2, root=root)


def kitti_predictions(dataset, drop_last=True):
    out = {}
    for item_id, anno in zip(dataset.ids(), dataset.label_annos()):
        dets = [d for d in anno_to_detections(anno) if d["type"] != "DontCare"]
        for n, d in enumerate(dets):
            d["score"] = 0.9 - 0.1 * n
        out[item_id] = dets[:-1] if drop_last and len(dets) > 1 else dets
    return out


def test_kitti_full_draw_is_evaluate_and_repeats_are_frames(kitti):
    ev = KittiEvaluator(kitti, ("Car",))
    preds = kitti_predictions(kitti)
    ids = kitti.ids()
    assert ev.evaluate_resampled(preds, ids) == pytest.approx(ev.evaluate(preds))
    from bench.metrics.kitti import flatten_kitti, kitti_evaluate
    from bench.models.stereo3d_decode import detections_to_anno

    draw = [ids[0], ids[0], ids[2]]
    direct = flatten_kitti(kitti_evaluate(
        kitti.label_annos(draw), [detections_to_anno(preds[i]) for i in draw], ("Car",)))
    assert ev.resampler(preds)(draw) == pytest.approx(direct)
    # a frame without predictions (failed) is left out, as evaluate leaves it out
    partial = {i: preds[i] for i in ids[:2]}
    assert ev.evaluate_resampled(partial, ids) == pytest.approx(ev.evaluate(partial))


def test_kitti_unknown_items_are_refused(kitti):
    with pytest.raises(TaskError, match="not in the dataset"):
        KittiEvaluator(kitti, ("Car",)).resampler({"nope": []})
