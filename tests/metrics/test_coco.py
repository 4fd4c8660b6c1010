"""COCO mAP: the harness equals pycocotools' COCOeval run directly on the same JSON files."""

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from typer.testing import CliRunner

from bench.errors import DatasetError
from bench.metrics import MetricError
from bench.metrics.coco import COCO_STATS, coco_evaluate, coco_evaluate_files, coco_metric_infos

H, W = 120, 160
CATEGORIES = [{"id": 1, "name": "disc"}, {"id": 3, "name": "box"}, {"id": 7, "name": "bar"}]


def _mask(x, y, w, h, disc):
    m = np.zeros((H, W), np.uint8)
    if disc:
        yy, xx = np.mgrid[:H, :W]
        m[((xx - x - w / 2) / (w / 2)) ** 2 + ((yy - y - h / 2) / (h / 2)) ** 2 <= 1] = 1
    else:
        m[y:y + h, x:x + w] = 1
    return m


def _rle(m):
    rle = mask_utils.encode(np.asfortranarray(m))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def make_dataset(seed=0):
    """GT (small/medium/large objects, a crowd, an image without objects) and noisy predictions."""
    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    for img_id in range(1, 7):
        images.append({"id": img_id, "width": W, "height": H, "file_name": f"{img_id}.png"})
        if img_id == 6:  # no annotations: its detections are false positives, as in COCO
            dets.append({"image_id": 6, "category_id": 3, "bbox": [10, 10, 40, 30], "score": 0.55,
                         "segmentation": _rle(_mask(10, 10, 40, 30, False))})
            continue
        for _ in range(rng.integers(1, 5)):
            cat = int(rng.choice([1, 3, 7]))
            size = int(rng.choice([16, 48, 110]))
            w, h = size, max(8, int(size * rng.uniform(0.5, 1.0)))
            x, y = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
            m = _mask(x, y, w, h, disc=cat == 1)
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": cat, "iscrowd": 0,
                         "bbox": [x, y, w, h], "area": float(m.sum()), "segmentation": _rle(m)})
            if rng.random() < 0.85:
                dx, dy = rng.integers(-4, 5, size=2)
                px, py = int(np.clip(x + dx, 0, W - w)), int(np.clip(y + dy, 0, H - h))
                dets.append({"image_id": img_id, "category_id": cat if rng.random() < 0.9 else 3,
                             "bbox": [px, py, w, h], "score": float(rng.uniform(0.3, 1.0)),
                             "segmentation": _rle(_mask(px, py, w, h, disc=cat == 1))})
        if rng.random() < 0.5:  # a spurious detection
            dets.append({"image_id": img_id, "category_id": 7, "bbox": [5, 60, 30, 20],
                         "score": float(rng.uniform(0.0, 0.6)),
                         "segmentation": _rle(_mask(5, 60, 30, 20, False))})
    m = _mask(100, 80, 50, 30, False)
    anns.append({"id": len(anns) + 1, "image_id": 1, "category_id": 7, "iscrowd": 1,
                 "bbox": [100, 80, 50, 30], "area": float(m.sum()), "segmentation": _rle(m)})
    gt = {"info": {}, "images": images, "annotations": anns, "categories": CATEGORIES}
    return gt, dets


def for_type(dets, iou_type):
    """Results as a detector writes them: bbox results carry no mask, segm results no box."""
    drop = "segmentation" if iou_type == "bbox" else "bbox"
    return [{k: v for k, v in d.items() if k != drop} for d in dets]


def pycocotools_direct(gt_path, res_path, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        ev = COCOeval(gt, gt.loadRes(str(res_path)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return list(ev.stats)


@pytest.fixture
def files(tmp_path):
    gt, dets = make_dataset()
    gt_path = tmp_path / "instances.json"
    gt_path.write_text(json.dumps(gt))
    paths = {}
    for iou_type in ("bbox", "segm"):
        paths[iou_type] = tmp_path / f"results_{iou_type}.json"
        paths[iou_type].write_text(json.dumps(for_type(dets, iou_type)))
    return gt_path, paths, dets


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_equals_cocoeval_on_the_same_files(files, iou_type, capsys):
    gt_path, paths, dets = files
    expected = pycocotools_direct(gt_path, paths[iou_type], iou_type)
    capsys.readouterr()
    stats = coco_evaluate(str(gt_path), for_type(dets, iou_type), iou_type)
    assert capsys.readouterr().out == ""  # pycocotools' printing is silenced
    assert list(stats) == list(COCO_STATS)
    assert [stats[k] for k in COCO_STATS] == expected
    assert 0 < stats["AP"] < 1 and stats["AP50"] >= stats["AP75"]
    assert coco_evaluate_files(gt_path, paths[iou_type], iou_type) == stats
    with contextlib.redirect_stdout(io.StringIO()):
        gt_obj = COCO(str(gt_path))
    assert coco_evaluate(gt_obj, for_type(dets, iou_type), iou_type) == stats


def test_results_are_not_modified(files):
    gt_path, _, dets = files
    before = json.dumps(dets)
    coco_evaluate(gt_path, dets, "bbox")
    assert json.dumps(dets) == before


def test_hand_computed_ap(tmp_path):
    # One GT box; a perfect detection ranked below a false positive: precision 1/2 at
    # recall 1, so AP = 0.5 at every IoU threshold; AR1 = 0 (top-1 is the FP), AR10 = 1.
    # For APl the FP (area 400 < 32^2) is outside the range and ignored, as COCO does: 1.
    gt = {"images": [{"id": 1, "width": 200, "height": 200}],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [50, 50, 100, 100],
                           "area": 10000.0, "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 20, 20], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [50, 50, 100, 100], "score": 0.8}]
    stats = coco_evaluate(gt, dets, "bbox")
    assert stats["AP"] == pytest.approx(0.5) and stats["APl"] == pytest.approx(1.0)
    assert stats["AR1"] == 0.0 and stats["AR10"] == 1.0
    assert stats["APs"] == -1.0 and stats["APm"] == -1.0  # no GT there: -1 as in pycocotools


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_no_predictions_give_zero_not_a_crash(files, iou_type, tmp_path):
    gt_path, _, _ = files
    stats = coco_evaluate(gt_path, [], iou_type)
    # Independent check: pycocotools directly, with one detection of a category the
    # dataset lacks (COCOeval ignores it), is the same as no detections.
    stray = for_type([{"image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5], "score": 0.5,
                       "segmentation": _rle(_mask(1, 1, 5, 5, False))}], iou_type)
    res = tmp_path / "stray.json"
    res.write_text(json.dumps(stray))
    assert [stats[k] for k in COCO_STATS] == pycocotools_direct(gt_path, res, iou_type)
    assert stats["AP"] == 0.0 and stats["AR100"] == 0.0
    assert set(stats.values()) <= {0.0, -1.0}


def test_category_map(files):
    gt_path, _, dets = files
    to_dataset = {0: 1, 1: 3, 2: 7}
    labels = {v: k for k, v in to_dataset.items()}
    network = [{**d, "category_id": labels[d["category_id"]]} for d in for_type(dets, "bbox")]
    unmapped = {"image_id": 2, "category_id": 42, "bbox": [0, 0, 9, 9], "score": 0.99}
    network.append(unmapped)
    assert coco_evaluate(gt_path, network, "bbox", category_map=to_dataset) == \
        coco_evaluate(gt_path, for_type(dets, "bbox"), "bbox")
    with pytest.raises(MetricError, match=r"category_map targets \[5\]"):
        coco_evaluate(gt_path, network, "bbox", category_map={0: 5})


def test_detections_on_an_image_without_objects_are_false_positives(files):
    gt_path, _, dets = files
    base = [d for d in for_type(dets, "bbox") if d["image_id"] != 6]
    extra = base + [{"image_id": 6, "category_id": c, "bbox": [0, 0, 50, 50], "score": 1.0}
                    for c in (1, 3, 7)]
    assert coco_evaluate(gt_path, extra, "bbox")["AP"] < coco_evaluate(gt_path, base, "bbox")["AP"]


def test_rle_counts_as_bytes_are_accepted(files):
    gt_path, _, dets = files
    segm = for_type(dets, "segm")
    raw = [{**d, "segmentation": {**d["segmentation"],
                                  "counts": d["segmentation"]["counts"].encode()}}
           for d in segm]
    assert coco_evaluate(gt_path, raw, "segm") == coco_evaluate(gt_path, segm, "segm")


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_faster_coco_eval_gives_equal_numbers(files, iou_type):
    pytest.importorskip("faster_coco_eval")
    gt_path, _, dets = files
    ref = coco_evaluate(gt_path, for_type(dets, iou_type), iou_type)
    fast = coco_evaluate(gt_path, for_type(dets, iou_type), iou_type, backend="faster-coco-eval")
    assert fast == pytest.approx(ref, abs=1e-12)
    assert coco_evaluate(gt_path, [], iou_type, backend="faster-coco-eval") == \
        coco_evaluate(gt_path, [], iou_type)


def test_bad_results_are_clear_errors(files):
    gt_path, _, dets = files
    bbox = for_type(dets, "bbox")
    with pytest.raises(MetricError, match=r"images not in the annotations: \[999\]"):
        coco_evaluate(gt_path, bbox + [{**bbox[0], "image_id": 999}], "bbox")
    with pytest.raises(MetricError, match="result #0 lacks score"):
        coco_evaluate(gt_path, [{k: v for k, v in bbox[0].items() if k != "score"}], "bbox")
    with pytest.raises(MetricError, match="lacks segmentation"):
        coco_evaluate(gt_path, bbox, "segm")
    with pytest.raises(MetricError, match="unknown COCO IoU type 'keypoints'"):
        coco_evaluate(gt_path, bbox, "keypoints")
    with pytest.raises(MetricError, match="unknown COCO backend"):
        coco_evaluate(gt_path, bbox, "bbox", backend="detectron")


def test_bad_ground_truth_is_a_dataset_error(files, tmp_path):
    gt_path, _, dets = files
    with pytest.raises(DatasetError, match="not found"):
        coco_evaluate(tmp_path / "nope.json", [], "bbox")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(DatasetError, match="not readable JSON"):
        coco_evaluate(broken, [], "bbox")
    gt = json.loads(gt_path.read_text())
    del gt["annotations"][0]["iscrowd"]
    with pytest.raises(DatasetError, match="annotation 1 .* lacks iscrowd"):
        coco_evaluate(gt, for_type(dets, "bbox"), "bbox")
    with pytest.raises(DatasetError, match="no 'categories' list"):
        coco_evaluate({"images": [], "annotations": []}, [], "bbox")


def test_metric_infos():
    infos = coco_metric_infos("segm")
    assert [i.name for i in infos] == [f"segm/{s}" for s in COCO_STATS]
    assert all(i.higher_is_better for i in infos)
    with pytest.raises(MetricError):
        coco_metric_infos("mask")


def test_cli_eval_coco(files):
    from bench.cli import app

    gt_path, paths, _ = files
    args = ["eval", "coco", str(gt_path), str(paths["segm"]), "--iou-type", "segm", "--json"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert list(data) == list(COCO_STATS)
    expected = pycocotools_direct(gt_path, paths["segm"], "segm")
    assert [data[k] for k in COCO_STATS] == pytest.approx(expected, abs=0)
    args = ["eval", "coco", str(gt_path), str(paths["bbox"]), "--iou-type", "bbox"]
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "AP50" in table.output and "Loading" not in table.output
