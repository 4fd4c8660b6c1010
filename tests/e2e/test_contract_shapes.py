"""The five codec shapes of contracts v2, each end to end through the real pipeline
(spec -> store -> points -> BD table -> report) with the project's small task networks."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from contract_doubles import (
    PerTaskCodec,
    ScalableCodec,
    StereoFeaturesCodec,
)

from bench.errors import CodecError, SpecError
from bench.execute.runner import run_spec
from bench.results.store import RunStore
from bench.spec import validate_spec
from bench.types import RatePoint

COCO = {"type": "synthetic-coco", "params": {"n_images": 3, "width": 96, "height": 64}}
QUANT = {"name": "quant", "type": "fake_codecs:QuantZlibCodec", "points": [4, 8, 16, 32]}


def run(tmp_path, name, codecs, tasks=None, task=None, dataset=COCO, anchor="quant", **extra):
    raw = {"name": name,
           "dataset": {**dataset, "params": {**dataset["params"], "root": str(tmp_path / "data")}},
           "codecs": codecs, "anchor": anchor, "execute": {"executor": "serial"}, **extra}
    if tasks is not None:
        raw["tasks"] = tasks
    if task is not None:
        raw["task"] = task
    out = run_spec(validate_spec(raw), tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    return out


def by_codec(points, codec):
    return sorted((p for p in points if p.codec == codec), key=lambda p: p.bpp)


def bd_rows(out):
    with open(out.report_dir / "bd_table.csv") as f:
        return list(csv.DictReader(f))


def test_1_per_task_decode_from_one_bitstream(tmp_path):
    codec = PerTaskCodec()
    image = np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    bs = codec.encode(image, RatePoint("step", 8))
    det, seg = codec.decode(bs, target="detection"), codec.decode(bs, target="segmentation")
    assert det.shape == seg.shape == image.shape and not np.array_equal(det, seg)
    out = run(tmp_path, "pertask", [QUANT, {"name": "pt", "type": "contract_doubles:PerTaskCodec",
                                            "points": [4, 8, 16, 32]}],
              tasks=[{"name": "det", "type": "detection", "target": "detection",
                      "params": {"iou_types": ["bbox"]}},
                     {"name": "seg", "type": "detection", "target": "segmentation",
                      "params": {"iou_types": ["segm"]}}])
    pts = by_codec(out.points, "pt")
    assert all({"det/bbox/AP", "seg/segm/AP"} <= set(p.metrics) for p in pts)
    assert not any(m.startswith("det/segm") or m.startswith("seg/bbox") for m in pts[0].metrics)
    store = RunStore(out.run_dir)
    key = next(k for label, _pt, _s, k in store.plan() if label == "pt")
    items = list(store.items([key]))
    decodes = items[0].timing["decode_s"]
    store.close()
    assert set(decodes) == {"all/detection", "all/segmentation"}  # one encode, two decodes
    assert {r["metric"] for r in bd_rows(out)} >= {"det/bbox/AP", "seg/segm/AP"}


def test_1_a_target_the_codec_lacks_is_refused_before_running(tmp_path):
    with pytest.raises(SpecError, match="target 'panoptic'"):
        run(tmp_path, "badtarget", [{"name": "pt", "type": "contract_doubles:PerTaskCodec",
                                     "points": [4]}], anchor=None,
            tasks=[{"name": "x", "type": "pixel", "target": "panoptic"}])


def test_2_image_in_features_out(tmp_path):
    out = run(tmp_path, "img2feat",
              [QUANT, {"name": "i2f", "type": "contract_doubles:ImageToFeaturesCodec",
                       "split": "fpn", "points": [4, 8, 16, 32]}],
              task={"type": "detection"})
    pts = by_codec(out.points, "i2f")
    assert all("bbox/AP" in p.metrics and "psnr_y" not in p.metrics for p in pts)
    quant = by_codec(out.points, "quant")
    # same pixels reach the detector: the features path scores what the image path scores
    assert [p.metrics["bbox/AP"] for p in pts] == pytest.approx(
        [p.metrics["bbox/AP"] for p in quant], abs=0.05)
    assert "bbox/AP" in {r["metric"] for r in bd_rows(out)}


def test_3_levels_sent_and_predicted(tmp_path):
    out = run(tmp_path, "levels",
              [{"include": "fcm-feature-vvenc", "name": "anchor", "points": [35, 45],
                "params": {"vvenc_preset": "faster"}},
               {"name": "pred", "type": "contract_doubles:PredictedLevelsCodec", "split": "fpn",
                "points": [0.05, 0.1, 0.2, 0.4]},
               {"name": "all4", "type": "contract_doubles:PredictedLevelsCodec", "split": "fpn",
                "params": {"predict_p2": False}, "points": [0.05, 0.1, 0.2, 0.4]}],
              task={"type": "detection"}, anchor="anchor")
    pred, all4 = by_codec(out.points, "pred"), by_codec(out.points, "all4")
    assert all(p.bpp < q.bpp for p, q in zip(pred, all4))  # no bits for P2
    assert all("bbox/AP" in p.metrics for p in pred)
    assert {r["codec"] for r in bd_rows(out)} >= {"pred", "all4"}


def test_4_stereo_features_one_joint_bitstream(tmp_path):
    kitti = {"type": "synthetic-kitti", "params": {"n_frames": 2, "width": 621, "height": 188,
                                                   "split": "val"}}
    out = run(tmp_path, "stereo",
              [{"include": "fcm-feature-vvenc", "name": "anchor", "split": "stereo",
                "points": [37, 45], "params": {"vvenc_preset": "faster"}},
               {"name": "joint", "type": "contract_doubles:StereoFeaturesCodec", "split": "stereo",
                "points": [0.1, 0.5]}],
              task={"type": "stereo3d"}, dataset=kitti, anchor="anchor",
              bd={"metrics": ["Car/3d/moderate/R40"]})
    store = RunStore(out.run_dir)
    key = next(k for label, _pt, _s, k in store.plan() if label == "joint")
    files = store.bitstream_files(key)
    store.close()
    assert len(files) == 2  # one joint bitstream per stereo pair (2 frames)
    for p in by_codec(out.points, "joint"):
        assert p.pixels == 2 * 2 * 621 * 188 and "Car/3d/moderate/R40" in p.metrics
    codec = StereoFeaturesCodec()
    feats = {f"{side}/f{i}": np.random.default_rng(i).normal(size=(4, 6, 8)).astype(np.float32)
             for side in ("left", "right") for i in range(3)}
    back = codec.decode(codec.encode(feats, RatePoint("step", 0.01)))
    assert {k: v.shape for k, v in back.items()} == {k: v.shape for k, v in feats.items()}


def test_4_a_stereo_feature_codec_needs_a_stereo_split(tmp_path):
    with pytest.raises(SpecError, match="not a stereo split"):
        run(tmp_path, "notstereo", [{"name": "joint", "type": "contract_doubles:StereoFeaturesCodec",
                                     "split": "fpn", "points": [0.1]}],
            task={"type": "detection"}, anchor=None)


def test_5_scalable_two_rates_per_point(tmp_path):
    codec = ScalableCodec()
    image = np.random.default_rng(1).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    bs = codec.encode(image, RatePoint("step", 16))
    base, full = codec.decode(bs.subset(["base"]), layers=["base"]), codec.decode(bs)
    assert np.abs(full.astype(int) - image).mean() < np.abs(base.astype(int) - image).mean()
    with pytest.raises(CodecError, match="without the base layer"):
        codec.decode(bs.subset(["enhancement"]), layers=["enhancement"])
    out = run(tmp_path, "scalable",
              [QUANT, {"name": "sc", "type": "contract_doubles:ScalableCodec",
                       "points": [8, 16, 32, 64]}],
              tasks=[{"name": "det", "type": "detection", "layers": ["base"]},
                     {"name": "pixel", "type": "pixel", "params": {"metrics": ["psnr_y"]}}],
              report={"formats": ["md", "csv", "png", "html"]})
    for p in by_codec(out.points, "sc"):
        assert p.metric_rates["det/bbox/AP"] == "bpp/base"
        assert p.metric_rates["pixel/psnr_y"] == "bpp"
        assert p.rates["bpp/base"] + p.rates["bpp/enhancement"] == pytest.approx(p.bpp)
        assert p.rate("det/bbox/AP") < p.rate("pixel/psnr_y")
    for p in by_codec(out.points, "quant"):  # a one-layer codec: every metric on its bpp
        assert p.rate("det/bbox/AP") == p.bpp
    rows = {(r["codec"], r["metric"]) for r in bd_rows(out)}
    assert {("sc", "det/bbox/AP"), ("sc", "pixel/psnr_y")} <= rows
    summary = (out.report_dir / "summary.md").read_text()
    assert "det/bbox/AP" in summary and "pixel/psnr_y" in summary


def test_multi_task_run_codes_once_and_reports_both_tasks(tmp_path):
    out = run(tmp_path, "multi", [QUANT], tasks=[{"type": "detection"}, {"type": "pixel"}],
              anchor=None)
    for p in out.points:
        assert {"detection/bbox/AP", "detection/segm/AP", "pixel/psnr_y"} <= set(p.metrics)
    store = RunStore(out.run_dir)
    assert len(store.plan()) == 4  # one job per point (3 items in one shard), both tasks
    store.close()
