"""KITTI AP on scenes whose values can be worked out by hand."""

import math

import numpy as np
import pytest

from bench.metrics import MetricError
from bench.metrics.kitti import (
    flatten_kitti,
    kitti_evaluate,
    kitti_metric_infos,
    score_thresholds,
)
from bench.metrics.kitti_io import empty_anno

CAR_DIMS = (1.5, 1.6, 3.9)  # h, w, l
RY = 0.3


def obj(slot, name="Car", height=50.0, truncated=0.0, occluded=0, alpha=0.0, dx=0.0,
        bbox=None, z=None):
    """An object whose 2D box and 3D box overlap no other slot's."""
    box = bbox if bbox is not None else [100.0 * slot, 100.0, 100.0 * slot + 60.0, 100.0 + height]
    return {"name": name, "truncated": truncated, "occluded": occluded, "alpha": alpha,
            "bbox": box, "dimensions": CAR_DIMS, "location": [10.0 * slot + dx, 1.6, z or 20.0],
            "rotation_y": RY}


def frame(objects, scores=None):
    if not objects:
        return empty_anno(with_score=scores is not None)
    anno = {k: np.array([o[k] for o in objects], dtype=object if k == "name" else float)
            for k in objects[0]}
    anno["occluded"] = anno["occluded"].astype(int)
    if scores is not None:
        anno["score"] = np.asarray(scores, dtype=float)
    return anno


def scene(objects, detections, scores, per_frame=6):
    """Split objects and their detections over frames of `per_frame` slots each."""
    gts, dts = [], []
    for start in range(0, max(len(objects), len(detections)), per_frame):
        gts.append(frame(objects[start:start + per_frame]))
        dts.append(frame(detections[start:start + per_frame], scores[start:start + per_frame]))
    return gts, dts


def perfect(n, **kw):
    objects = [obj(i, **kw) for i in range(n)]
    return objects, [dict(o) for o in objects], list(np.linspace(0.99, 0.5, n))


def ap(result, cls, metric, diff):
    return result[cls][metric][diff]


def test_perfect_detector_on_41_objects_scores_100_everywhere():
    res = kitti_evaluate(*scene(*perfect(41)))
    for metric in ("bbox", "bev", "3d", "aos"):
        for diff in ("easy", "moderate", "hard"):
            assert ap(res, "Car", metric, diff) == pytest.approx({"R40": 100.0, "R11": 100.0})
    assert ap(res, "Pedestrian", "3d", "moderate") == {"R40": 0.0, "R11": 0.0}


def test_perfect_detector_on_40_objects_misses_the_last_recall_position():
    res = kitti_evaluate(*scene(*perfect(40)))
    # 40 thresholds: precision 1 at positions 0..39, nothing at 40
    assert ap(res, "Car", "3d", "easy") == pytest.approx({"R40": 97.5, "R11": 1000 / 11})


@pytest.mark.parametrize("where,r40,r11", [
    ("lowest", 97.5, 1000 / 11),  # one FN; no FP above any threshold
    ("highest", 100 * 39 / 41, 100 * 10 / 11 * 40 / 41),  # the FP comes first: 40/41 everywhere
])
def test_one_box_moved_below_the_3d_threshold(where, r40, r11):
    objects, dets, scores = perfect(41)
    k = 40 if where == "lowest" else 0
    # 1 m along the heading (ry = 0.3 maps length to (cos ry, -sin ry) in x, z): BEV and
    # 3D IoU (3.9 - 1) / (3.9 + 1) = 0.59
    along = [math.cos(RY), 0.0, -math.sin(RY)]
    dets[k] = dict(dets[k], location=list(np.add(dets[k]["location"], along)))
    res = kitti_evaluate(*scene(objects, dets, scores))
    for metric in ("bev", "3d"):
        assert ap(res, "Car", metric, "moderate") == pytest.approx({"R40": r40, "R11": r11})
    assert ap(res, "Car", "bbox", "moderate") == pytest.approx({"R40": 100.0, "R11": 100.0})
    loose = kitti_evaluate(*scene(objects, dets, scores), overlaps="loose")  # 0.59 > 0.5
    assert ap(loose, "Car", "3d", "moderate") == pytest.approx({"R40": 100.0, "R11": 100.0})


@pytest.mark.parametrize("hide,levels", [
    ({"truncated": 0.2}, ("moderate", "hard")),  # > 0.15: not easy
    ({"occluded": 2}, ("hard",)),  # > 1: only hard
    ({"height": 40.0}, ("moderate", "hard")),  # exactly the easy minimum: excluded from easy
    ({"height": 25.0}, ()),  # exactly the moderate/hard minimum: in no level
])
def test_truncation_occlusion_and_height_move_objects_between_difficulties(hide, levels):
    objects, dets, scores = perfect(41)
    missed = [obj(41 + i, **hide) for i in range(41)]  # 41 more objects, not detected
    res = kitti_evaluate(*scene(objects + missed, dets, scores, per_frame=82))
    for diff in ("easy", "moderate", "hard"):
        # recall 0.5 at precision 1 reaches 21 of the 41 positions
        expected = {"R40": 50.0, "R11": 600 / 11} if diff in levels else {"R40": 100, "R11": 100}
        assert ap(res, "Car", "3d", diff) == pytest.approx(expected)


def test_ignored_ground_truth_absorbs_its_detections():
    objects, dets, scores = perfect(41)
    extra = [obj(41 + i, truncated=0.4, occluded=2) for i in range(10)]  # hard only
    res = kitti_evaluate(*scene(objects + extra, dets + extra, scores + [0.995] * 10,
                                per_frame=51))
    assert ap(res, "Car", "bbox", "easy")["R40"] == pytest.approx(100.0)
    assert ap(res, "Car", "bbox", "moderate")["R40"] == pytest.approx(100.0)


def test_dontcare_absorbs_2d_false_positives_only():
    objects, dets, scores = perfect(41)
    dontcare = obj(50, name="DontCare", bbox=[5000.0, 100.0, 5100.0, 200.0])
    fp = obj(50, bbox=[5010.0, 110.0, 5080.0, 190.0])  # wholly inside the DontCare box
    with_dc = kitti_evaluate(*scene(objects + [dontcare], dets + [fp], scores + [1.0],
                                    per_frame=42))
    without = kitti_evaluate(*scene(objects, dets + [fp], scores + [1.0], per_frame=42))
    top_fp = {"R40": 100 * 41 / 42, "R11": 100 * 41 / 42}  # precision (k+1)/(k+2) -> 41/42
    assert ap(with_dc, "Car", "bbox", "moderate") == pytest.approx({"R40": 100, "R11": 100})
    assert ap(with_dc, "Car", "3d", "moderate") == pytest.approx(top_fp)
    assert ap(without, "Car", "bbox", "moderate") == pytest.approx(top_fp)


@pytest.mark.parametrize("cls,other,neighbour", [
    ("Car", "Van", True), ("Car", "Truck", False),
    ("Pedestrian", "Person_sitting", True), ("Pedestrian", "Cyclist", False),
])
def test_neighbouring_class_is_ignored_not_a_false_positive(cls, other, neighbour):
    objects, dets, scores = perfect(41, name=cls)
    gt_other = obj(41, name=other)
    det_on_other = obj(41, name=cls)
    res = kitti_evaluate(*scene(objects + [gt_other], dets + [det_on_other], scores + [1.0],
                                per_frame=42))
    expected = 100.0 if neighbour else 100 * 41 / 42
    assert ap(res, cls, "bbox", "moderate")["R40"] == pytest.approx(expected)


def test_detections_below_the_minimum_height_are_ignored():
    objects, dets, scores = perfect(41)
    small = obj(60, height=30.0)  # an unmatched, confident detection 30 px tall
    res = kitti_evaluate(*scene(objects, dets + [small], scores + [1.0], per_frame=42))
    assert ap(res, "Car", "bbox", "easy")["R40"] == pytest.approx(100.0)  # 30 < 40: ignored
    assert ap(res, "Car", "bbox", "moderate")["R40"] == pytest.approx(100 * 41 / 42)


def test_overlap_must_be_strictly_greater_than_the_threshold():
    objects, dets, scores = perfect(41, name="Pedestrian")
    box = [4000.0, 100.0, 4020.0, 200.0]
    objects[40] = obj(40, name="Pedestrian", bbox=box)
    dets[40] = obj(40, name="Pedestrian", bbox=[4000.0, 100.0, 4010.0, 200.0])  # IoU 0.5 exactly
    res = kitti_evaluate(*scene(objects, dets, scores))
    assert ap(res, "Pedestrian", "bbox", "easy")["R40"] == pytest.approx(97.5)
    dets[40] = obj(40, name="Pedestrian", bbox=[4000.0, 100.0, 4010.5, 200.0])  # IoU 0.525
    res = kitti_evaluate(*scene(objects, dets, scores))
    assert ap(res, "Pedestrian", "bbox", "easy")["R40"] == pytest.approx(100.0)


def test_aos_weighs_true_positives_by_orientation_similarity():
    objects, dets, scores = perfect(41)
    dets = [dict(d, alpha=math.pi / 2) for d in dets]  # (1 + cos(pi/2)) / 2 = 0.5 each
    res = kitti_evaluate(*scene(objects, dets, scores))
    assert ap(res, "Car", "aos", "easy") == pytest.approx({"R40": 50.0, "R11": 50.0})
    assert ap(res, "Car", "bbox", "easy") == pytest.approx({"R40": 100.0, "R11": 100.0})
    dets[3] = dict(dets[3], alpha=-10.0)  # no orientation given: AOS is not computed
    assert "aos" not in kitti_evaluate(*scene(objects, dets, scores))["Car"]


def test_score_thresholds_follow_41_recall_positions():
    scores = np.linspace(1, 0.01, 41)
    assert len(score_thresholds(scores, 41)) == 41
    assert len(score_thresholds(scores, 82)) == 21  # recall 0 .. 0.5
    assert len(score_thresholds(np.linspace(1, 0.1, 400), 400)) == 41
    assert score_thresholds(np.array([]), 5).shape == (0,)


def test_flatten_and_metric_infos_name_the_same_keys():
    res = kitti_evaluate(*scene(*perfect(41)), classes=("Car", "pedestrian"))
    flat = flatten_kitti(res)
    infos = {i.name: i for i in kitti_metric_infos(("Car", "Pedestrian"))}
    assert set(flat) == set(infos)
    assert flat["Car/3d/moderate/R40"] == pytest.approx(100.0)
    assert all(i.higher_is_better and i.unit == "%" for i in infos.values())


def test_frames_without_objects_are_fine():
    objects, dets, scores = perfect(41)
    gts, dts = scene(objects, dets, scores)
    res = kitti_evaluate(gts + [empty_anno(False)] * 3, dts + [empty_anno()] * 3)
    assert ap(res, "Car", "3d", "hard")["R40"] == pytest.approx(100.0)
    assert kitti_evaluate([], [])["Car"]["bbox"]["easy"] == {"R40": 0.0, "R11": 0.0}


@pytest.mark.parametrize("kwargs,match", [
    ({"classes": ("Car", "Van")}, "KITTI classes"),
    ({"overlaps": "medium"}, "strict"),
])
def test_bad_arguments_are_user_errors(kwargs, match):
    with pytest.raises(MetricError, match=match):
        kitti_evaluate([empty_anno(False)], [empty_anno()], **kwargs)


def test_mismatched_frames_and_missing_keys_are_user_errors():
    with pytest.raises(MetricError, match="2 ground-truth frames but 1"):
        kitti_evaluate([empty_anno(False)] * 2, [empty_anno()])
    objects, dets, scores = perfect(3)
    dt = frame(dets, scores)
    del dt["score"]
    with pytest.raises(MetricError, match="score"):
        kitti_evaluate([frame(objects)], [dt])
