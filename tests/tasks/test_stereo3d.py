import json

import numpy as np
import pytest
import torch

from bench.datasets.synthetic_kitti import SyntheticKittiDataset
from bench.errors import TaskError
from bench.metrics.kitti import flatten_kitti, kitti_evaluate
from bench.models.stereo3d import build_model
from bench.models.stereo3d_decode import anno_to_detections, detections_to_anno
from bench.tasks.stereo3d import DEFAULT_WEIGHTS, KittiEvaluator, Stereo3DTask
from bench.train.stereo3d import save_weights
from bench.types import Sample


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("skitti")
    return SyntheticKittiDataset(n_frames=3, width=310, height=94, seed=2, root=root)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model()
    model.stereo_head.heat[-1].bias.data.fill_(0.0)  # plenty of detections to compare
    path = tmp_path_factory.mktemp("w") / "stereo3d.pt"
    save_weights(model, path, {})
    return path


def test_committed_weights_load_and_detect(frames):
    task = Stereo3DTask()
    assert task.weights == DEFAULT_WEIGHTS and len(task.weights_hash()) == 64
    dets = task.predict(frames.load("000000"))
    assert isinstance(dets, list)
    json.dumps(dets)


def test_head_of_features_equals_predict(frames, random_weights):
    task = Stereo3DTask(weights=random_weights, device="cpu", score_thresh=0.2)
    sample = frames.load("000001")
    feats = task.features(sample, "stereo")
    assert sorted(feats) == ["left/f0", "left/f1", "left/f2", "right/f0", "right/f1", "right/f2"]
    assert all(v.dtype == np.float32 and v.ndim == 3 for v in feats.values())
    assert feats["left/f0"].shape == (32, 48, 156)
    direct, via_split = task.predict(sample), task.head(feats, sample, "stereo")
    assert len(direct) > 5 and len(via_split) == len(direct)
    for a, b in zip(direct, via_split):
        assert a["type"] == b["type"]
        np.testing.assert_allclose(a["bbox"], b["bbox"], atol=0.05)
        np.testing.assert_allclose(a["location"], b["location"], atol=1e-2)
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)
    json.dumps(direct)
    assert set(direct[0]) == {"type", "truncated", "occluded", "alpha", "bbox", "dimensions",
                              "location", "rotation_y", "score"}


def test_task_errors_name_the_problem(frames, random_weights, tmp_path):
    task = Stereo3DTask(weights=random_weights)
    sample = frames.load("000000")
    with pytest.raises(TaskError, match="stereo sample"):
        task.predict(Sample(id="x", images=(sample.images[0],)))
    with pytest.raises(TaskError, match="no split point 'fpn'"):
        task.features(sample, "fpn")
    feats = task.features(sample, "stereo")
    feats["left/f1"] = feats["left/f1"][:, :-1]
    with pytest.raises(TaskError, match="left/f1"):
        task.head(feats, sample, "stereo")
    with pytest.raises(TaskError, match="train stereo3d"):
        Stereo3DTask(weights=tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TaskError, match="junk.pt"):
        Stereo3DTask(weights=tmp_path / "junk.pt").predict(sample)


def test_evaluator_scores_labels_as_detections(frames):
    ids = frames.ids()
    gt = frames.label_annos(ids)
    perfect = {}
    for i, anno in zip(ids, gt):
        keep = anno["name"] != "DontCare"
        dets = anno_to_detections({k: v[keep] for k, v in anno.items()})
        for n, det in enumerate(dets):
            det["score"] = 1.0 - 0.01 * n
        perfect[i] = dets
    shifted = {i: [{**d, "location": [d["location"][0], d["location"][1], d["location"][2] + 2.0]}
                   for d in dets] for i, dets in perfect.items()}
    ev = KittiEvaluator(frames)
    names = {m.name for m in ev.metrics()}
    good, bad = ev.evaluate(perfect), ev.evaluate(shifted)
    assert set(good) <= names and "Car/3d/moderate/R40" in good
    want = flatten_kitti(kitti_evaluate(gt, [detections_to_anno(perfect[i]) for i in ids]))
    assert good == want
    assert good["Car/bbox/moderate/R40"] == bad["Car/bbox/moderate/R40"] > 0
    assert good["Car/3d/moderate/R40"] > bad["Car/3d/moderate/R40"]
    with pytest.raises(TaskError, match="not in the dataset"):
        ev.evaluate({"999999": []})
    with pytest.raises(TaskError, match="lacks score"):
        ev.evaluate({ids[0]: [{k: v for k, v in perfect[ids[0]][0].items() if k != "score"}]})


def test_committed_weights_find_and_place_cars(tmp_path):
    from bench.metrics.kitti_iou import image_box_iou

    ds = SyntheticKittiDataset(n_frames=8, width=621, height=188, seed=5, split="check",
                               root=tmp_path)
    task = Stereo3DTask()
    found, depth_errors, n_cars = 0, [], 0
    for item_id, anno in zip(ds.ids(), ds.label_annos()):
        got = detections_to_anno([d for d in task.predict(ds.load(item_id)) if d["score"] > 0.1])
        cars = (anno["name"] == "Car") & (anno["occluded"] <= 1) & (anno["location"][:, 2] < 30)
        n_cars += int(cars.sum())
        if not cars.any() or not len(got["name"]):
            continue
        iou = image_box_iou(anno["bbox"][cars], got["bbox"])
        for k, j in enumerate(iou.argmax(1)):
            if iou[k, j] >= 0.7 and got["name"][j] == "Car":
                found += 1
                depth_errors.append(abs(got["location"][j][2] - anno["location"][cars][k][2]))
    assert n_cars >= 8
    assert found >= 0.8 * n_cars
    assert np.median(depth_errors) < 0.6  # metres, cars nearer than 30 m
