"""Tests for the COCO detection evaluator and the built-in detection task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from bench.datasets.synthetic_coco import SyntheticCocoDataset
from bench.errors import TaskError
from bench.models.detector import DEFAULT_CONFIG, build_detector, save_checkpoint
from bench.tasks.detection import (
    CocoDetectionEvaluator,
    DetectionTask,
    resolve_category_map,
    to_coco_results,
)

CLASSES = ["__background__", "circle", "square", "triangle"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return SyntheticCocoDataset(n_images=4, width=160, height=128, n_categories=3, root=root)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained built-in detector (random weights, fixed seed)."""
    torch.manual_seed(0)
    model = build_detector(len(CLASSES))
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_checkpoint(model, path, {"config": dict(DEFAULT_CONFIG), "class_names": CLASSES,
                                  "category_ids": [1, 2, 3], "training": {}})
    return path


def _task(weights, **kwargs):
    opts = {"device": "cpu", "score_thresh": 0.0, "detections_per_image": 20, **kwargs}
    return DetectionTask(weights=weights, **opts)


def _gt_results(dataset, ids, with_masks=True):
    coco = dataset.coco()
    out = {}
    for item_id in ids:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[int(item_id)]))
        out[item_id] = [{"image_id": a["image_id"], "category_id": a["category_id"],
                         "bbox": a["bbox"], "score": 1.0,
                         **({"segmentation": a["segmentation"]} if with_masks else {})}
                        for a in anns]
    return out


def _by_score(dets):
    return sorted(dets, key=lambda d: (-d["score"], d["category_id"], d["bbox"]))


def test_head_of_features_equals_predict(dataset, checkpoint):
    task = _task(checkpoint)
    sample = dataset.load(dataset.ids()[0])
    direct = task.predict(sample)
    feats = task.features(sample, "fpn")
    assert sorted(feats) == ["p2", "p3", "p4", "p5"]
    assert all(f.dtype == np.float32 and f.ndim == 3 and f.shape[0] == 64 for f in feats.values())
    assert [f.shape[1] for f in feats.values()] == [64, 32, 16, 8]  # 240x300 padded to 256x320
    split = task.head(feats, sample, "fpn")
    assert len(direct) == len(split) == 20
    for a, b in zip(_by_score(direct), _by_score(split)):
        assert a["category_id"] == b["category_id"] and a["image_id"] == b["image_id"]
        assert np.allclose(a["bbox"], b["bbox"], atol=1e-3)
        assert abs(a["score"] - b["score"]) < 1e-5
        assert mask_utils.iou([a["segmentation"]], [b["segmentation"]], [0])[0, 0] > 0.99
    h, w = sample.image.shape[:2]
    assert all(d["segmentation"]["size"] == [h, w] for d in split)
    assert all(0 <= d["bbox"][0] and d["bbox"][0] + d["bbox"][2] <= w + 1e-3 for d in split)


def test_head_changes_with_features(dataset, checkpoint):
    task = _task(checkpoint)
    sample = dataset.load(dataset.ids()[0])
    feats = task.features(sample, "fpn")
    zeroed = {k: np.zeros_like(v) for k, v in feats.items()}
    assert _by_score(task.head(zeroed, sample, "fpn")) != _by_score(task.head(feats, sample, "fpn"))
    with pytest.raises(TaskError, match="p5"):
        task.head({k: v for k, v in feats.items() if k != "p5"}, sample, "fpn")
    with pytest.raises(TaskError, match="split point"):
        task.features(sample, "c4")


def test_predict_batch_matches_predict(dataset, checkpoint):
    task = _task(checkpoint, score_thresh=0.3, batch_size=2, detections_per_image=10)
    samples = [dataset.load(i) for i in dataset.ids()[:2]]
    batched = task.predict_batch(samples)
    assert [len(b) for b in batched] == [len(task.predict(s)) for s in samples]
    assert all(d["score"] >= 0.3 for b in batched for d in b)


def test_category_mapping(dataset, checkpoint):
    task = _task(checkpoint, category_map={"circle": 7, "3": 9})
    assert task.label_to_category == {1: 7, 3: 9}
    preds = task.predict(dataset.load(dataset.ids()[0]))
    assert {d["category_id"] for d in preds} <= {7, 9} and preds
    with pytest.raises(TaskError, match="star"):
        resolve_category_map(CLASSES, {1: 1}, {"star": 1})
    with pytest.raises(TaskError, match="label"):
        resolve_category_map(CLASSES, {1: 1}, {"12": 1})
    evaluator = task.evaluator(dataset)
    with pytest.raises(TaskError, match="category_map"):
        evaluator.evaluate({dataset.ids()[0]: preds})


def test_to_coco_results_converts_boxes_and_drops_unmapped():
    output = {"boxes": torch.tensor([[1.0, 2.0, 11.0, 7.0], [0.0, 0.0, 4.0, 4.0]]),
              "labels": torch.tensor([2, 5]), "scores": torch.tensor([0.9, 0.8]),
              "masks": torch.zeros(2, 1, 10, 12)}
    output["masks"][0, 0, 2:7, 1:11] = 0.9
    dets = to_coco_results(output, 42, {2: 17})
    assert len(dets) == 1
    d = dets[0]
    assert d["image_id"] == 42 and d["category_id"] == 17 and d["bbox"] == [1.0, 2.0, 10.0, 5.0]
    assert isinstance(d["segmentation"]["counts"], str)
    assert mask_utils.area(d["segmentation"]) == 50


def test_evaluator_perfect_and_selected_ids(dataset):
    ev = CocoDetectionEvaluator(dataset, ("bbox", "segm"))
    names = [m.name for m in ev.metrics()]
    assert "bbox/AP" in names and "segm/AP" in names
    stats = ev.evaluate(_gt_results(dataset, dataset.ids()))
    assert stats["bbox/AP"] == pytest.approx(1.0) and stats["segm/AP"] == pytest.approx(1.0)
    # perfect on the first two images; evaluated over those two only, as selected
    subset = SyntheticCocoDataset(n_images=4, width=160, height=128, n_categories=3,
                                  root=dataset.set_dir.parent, limit=2)
    two = _gt_results(dataset, subset.ids())
    assert CocoDetectionEvaluator(subset, ("bbox",)).evaluate(two)["bbox/AP"] == pytest.approx(1.0)
    assert CocoDetectionEvaluator(dataset, ("bbox",)).evaluate(two)["bbox/AP"] < 0.9


def test_evaluator_segm_needs_masks(dataset):
    ev = CocoDetectionEvaluator(dataset, ("bbox", "segm"))
    with pytest.raises(TaskError, match="iou_types"):
        ev.evaluate(_gt_results(dataset, dataset.ids(), with_masks=False))


def test_refuses_checkpoint_with_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "icm-bench-detector", "hook": _Evil()}, path)
    task = DetectionTask(weights=path, device="cpu")  # building the task loads nothing
    with pytest.raises(TaskError, match="print, which would run code"):
        task.check()  # what planning calls, before any job: the pickle is read, never run
    with pytest.raises(TaskError, match="refusing"):
        task.model
    with pytest.raises(TaskError, match="does not exist"):
        DetectionTask(weights=tmp_path / "missing.pt", device="cpu").check()


class _Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_same_size_batches_keep_sizes_apart_and_order_recoverable():
    import numpy as np

    from bench.tasks.detection import same_size_batches
    from bench.types import Sample

    shapes = [(240, 320), (480, 640), (240, 320), (240, 320), (480, 640)]
    samples = [Sample(str(i), (np.zeros((*s, 3), np.uint8),)) for i, s in enumerate(shapes)]
    batches = same_size_batches(samples, 2)
    assert sorted(i for b in batches for i in b) == list(range(5))
    for b in batches:
        assert len(b) <= 2 and len({shapes[i] for i in b}) == 1
