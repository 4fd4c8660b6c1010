"""Tests for the torchvision R50-FPN tasks (random weights saved locally; nothing downloads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import TaskError
from bench.tasks.detection_torchvision import (
    TorchvisionFasterRCNNTask,
    TorchvisionMaskRCNNTask,
    coco_class_names,
)
from bench.types import Sample

SMALL = {"min_size": 128, "max_size": 160, "device": "cpu", "score_thresh": 0.02,
         "detections_per_image": 10}


@pytest.fixture(scope="module")
def mask_weights(tmp_path_factory):
    import torchvision.models.detection as tvd

    torch.manual_seed(0)
    model = tvd.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    path = tmp_path_factory.mktemp("tv") / "maskrcnn_v1.pth"
    torch.save({"model": model.state_dict()}, path)  # as torchvision's reference scripts wrap it
    return path


def _sample():
    rng = np.random.default_rng(1)
    image = (rng.random((120, 150, 3)) * 255).astype(np.uint8)
    return Sample("139", (image,), meta={"coco_id": 139})


def test_maskrcnn_split_consistency_and_coco_labels(mask_weights):
    task = TorchvisionMaskRCNNTask(weights=mask_weights, **SMALL)
    sample = _sample()
    direct = task.predict(sample)
    feats = task.features(sample, "fpn")
    assert sorted(feats) == ["p2", "p3", "p4", "p5"]
    assert feats["p2"].shape == (256, 32, 40)  # 128x160 resized input, padded to 128x160
    split = task.head(feats, sample, "fpn")
    assert len(direct) == len(split) > 0  # labels of unused COCO ids ("N/A") are dropped
    key = lambda d: (-d["score"], d["category_id"])
    for a, b in zip(sorted(direct, key=key), sorted(split, key=key)):
        assert a["category_id"] == b["category_id"]
        assert np.allclose(a["bbox"], b["bbox"], atol=1e-3) and abs(a["score"] - b["score"]) < 1e-5
    names = coco_class_names()
    valid = {i for i, n in enumerate(names) if i and n != "N/A"}
    assert {d["category_id"] for d in direct} <= valid
    assert all(d["image_id"] == 139 and "segmentation" in d for d in direct)
    assert task.evaluator.__self__ is task and task.has_masks
    assert task.params()["num_classes"] == 91 and len(task.weights_hash()) == 64


def test_wrong_architecture_or_variant_is_a_clear_error(mask_weights):
    with pytest.raises(TaskError, match="variant"):
        TorchvisionMaskRCNNTask(weights=mask_weights, variant="v2", **SMALL).model
    with pytest.raises(TaskError, match="Faster vs Mask"):
        TorchvisionFasterRCNNTask(weights=mask_weights, **SMALL).model
    with pytest.raises(TaskError, match="v1' or 'v2"):
        TorchvisionMaskRCNNTask(weights=mask_weights, variant="v3", **SMALL)
