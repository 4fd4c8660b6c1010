"""ci-icm with per-task frozen networks and COCO-format data (the `paper` set-up, on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from bench.datasets.synthetic_coco import SyntheticCocoDataset
from bench.errors import SpecError
from bench.models.ci_icm.train_data import CropSampler
from bench.train.programs.ci_icm_nets import Ref, build_task_networks, relabel
from bench.train.recipe import load_recipe
from bench.train.trainer import Trainer

torch.set_num_threads(1)
TASKS = ("detection", "segmentation")


def _target(labels):
    n = len(labels)
    return {"boxes": torch.arange(4 * n, dtype=torch.float32).reshape(n, 4),
            "labels": torch.tensor(labels), "masks": torch.ones(n, 8, 8, dtype=torch.uint8)}


def test_relabel_maps_category_ids_and_drops_unknown_ones():
    (out,) = relabel([_target([3, 7, 5])], {3: 1, 5: 2})
    assert out["labels"].tolist() == [1, 2]
    assert out["boxes"].tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    assert out["masks"].shape == (2, 8, 8)
    (empty,) = relabel([_target([7])], {3: 1})
    assert empty["labels"].numel() == 0 and empty["boxes"].shape == (0, 4)


def test_identical_refs_share_one_network_distinct_refs_do_not():
    nets = build_task_networks({}, TASKS, "cpu")
    assert nets["detection"] is nets["segmentation"]
    other = Ref(type="detection", params={"score_thresh": 0.1})
    nets = build_task_networks({"segmentation": other}, TASKS, "cpu")
    assert nets["detection"] is not nets["segmentation"]


def test_bad_task_networks_are_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="unknown tasks"):
        build_task_networks({"keypoints": Ref(type="detection")}, TASKS, "cpu")
    faster = Ref(type="torchvision-fasterrcnn", params={"weights": str(tmp_path / "f.pth")})
    with pytest.raises(SpecError, match="task_networks.segmentation.*'segm'"):
        build_task_networks({"segmentation": faster}, TASKS, "cpu")
    with pytest.raises(SpecError, match="not a torchvision-style"):
        build_task_networks({"detection": Ref(type="pixel")}, TASKS, "cpu")
    mask = Ref(type="torchvision-maskrcnn", params={"weights": str(tmp_path / "m.pth")})
    with pytest.raises(SpecError, match=r"m\.pth' does not exist; give it with --set "
                                        r"program\.kwargs\.task_networks\.detection"):
        build_task_networks({"detection": mask}, TASKS, "cpu")


def test_crops_of_small_images_are_zero_padded(tmp_path):
    data = SyntheticCocoDataset(n_images=1, width=96, height=80, root=tmp_path)
    sampler = CropSampler(data, 128, {c: c for c in data.category_ids()})
    x, target = sampler.item(data.ids()[0], np.random.default_rng(0))
    assert x.shape == (3, 128, 128) and float(x[:, 80:, :].abs().sum()) == 0.0
    assert target["masks"].shape[1:] == (128, 128)


@pytest.fixture(scope="module")
def torchvision_weights(tmp_path_factory):
    import torchvision.models.detection as tvd

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tv")
    paths = {}
    for name, builder in (("faster", tvd.fasterrcnn_resnet50_fpn),
                          ("mask", tvd.maskrcnn_resnet50_fpn)):
        model = builder(weights=None, weights_backbone=None, num_classes=91)
        paths[name] = root / f"{name}.pth"
        torch.save(model.state_dict(), paths[name])
    return paths


def test_trains_on_coco_files_against_torchvision_faster_and_mask_rcnn(tmp_path,
                                                                       torchvision_weights):
    data = SyntheticCocoDataset(n_images=2, root=tmp_path / "data")
    coco = {"type": "coco", "params": {"annotations": str(data.annotation_file),
                                       "images": str(data.image_dir)}}
    small = {"min_size": 64, "max_size": 96, "category_map": {c: c for c in data.category_ids()}}
    nets = {"detection": {"type": "torchvision-fasterrcnn",
                          "params": {"weights": str(torchvision_weights["faster"]), **small}},
            "segmentation": {"type": "torchvision-maskrcnn",
                             "params": {"weights": str(torchvision_weights["mask"]), **small}}}
    program = {"stage": "task", "lambdas": [0.002, 0.01], "gt_weight": 1.0, "crop": 64,
               "batch_size": 1, "eval_images": 1, "eval_levels": [1], "task_networks": nets,
               "train_dataset": coco, "val_dataset": coco}
    doc = {"name": "ci-icm-tv", "program": {"type": "ci-icm", "kwargs": program}, "steps": 2,
           "log_every": 1, "checkpoint_every": 10, "work_dir": str(tmp_path / "work"),
           "out": str(tmp_path / "w.pt")}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    logs: list[str] = []
    trainer = Trainer(load_recipe(str(tmp_path / "r.yaml")), log=logs.append)
    summary = trainer.run()
    frozen = trainer.program.frozen
    assert frozen["detection"][0] is not frozen["segmentation"][0]
    assert frozen["detection"][1] == {c: c for c in data.category_ids()}  # COCO ids = labels
    assert any("gt_det" in line for line in logs) and any("gt_seg" in line for line in logs)
    assert set(summary["evaluation"]) == {"L1/bpp", "L1/psnr", "L1/bbox_AP", "L1/segm_AP"}
