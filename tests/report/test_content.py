"""BD rows against each anchor, timing, points and MPEG-template tables; metric selection."""

import dataclasses

import pytest

from bench.report.content import bd_rows, bd_table_data, mpeg_tables, points_table_data, timing_table_data
from bench.report.selection import headline_metrics, is_accuracy, select_metrics
from bench.report.sources import build_curves

from .helpers import detection_points, hand_run, point


def test_bd_rate_of_a_codec_needing_80_percent_of_the_bits_is_minus_20():
    run = hand_run("a", detection_points())
    rows = bd_rows([run], build_curves([run]), ["bbox/AP", "psnr_y"])
    assert [(r.codec, r.anchor, r.metric) for r in rows] == [
        ("mine", "vtm", "bbox/AP"), ("mine", "vtm", "psnr_y")]
    ap = rows[0]
    assert ap.bd_rate_percent == pytest.approx(-20.0, abs=1e-9)
    assert ap.method == "pchip" and not ap.monotonic_fit and ap.complete
    # psnr_y is equal at equal QP but the codec has 0.8x the rate: quality gain is positive
    assert rows[1].bd_quality > 0


def test_every_codec_against_every_anchor():
    run = hand_run("a", detection_points(),
                   spec_extra={"codecs": [{"name": "vtm", "type": "vvenc"},
                                          {"name": "mine", "type": "x265", "include": "vcm-image-x265"},
                                          {"name": "identity", "type": "identity"}]})
    rows = bd_rows([run], build_curves([run]), ["bbox/AP"])
    pairs = {(r.codec, r.anchor): r.bd_rate_percent for r in rows}
    assert set(pairs) == {("mine", "vtm"), ("vtm", "mine")}
    assert pairs[("vtm", "mine")] == pytest.approx(25.0, abs=1e-9)  # 1 / 0.8 - 1


def test_incomplete_point_marks_the_row_even_without_values():
    pts = detection_points()
    pts[3] = dataclasses.replace(pts[3], complete=False, bpp=float("nan"), rates={}, metrics={})
    run = hand_run("a", pts)
    rows = bd_rows([run], build_curves([run]), ["bbox/AP"])
    assert rows[0].complete is False
    table = bd_table_data(rows)
    assert table.rows[0][7] is False and table.notes


def test_runs_over_other_data_are_not_bd_compared():
    a = hand_run("a", detection_points())
    b = hand_run("b", detection_points(), fingerprint="other")
    c = hand_run("c", detection_points(shift=-0.02))
    curves = build_curves([a, b, c])
    rows = bd_rows([a, b, c], curves, ["bbox/AP"])
    for r in rows:
        assert ("[b]" in r.codec) == ("[b]" in r.anchor)
    assert ("mine [c]", "vtm [a]") in {(r.codec, r.anchor) for r in rows}


def test_timing_table_has_stats_device_and_gpu_column():
    run = hand_run("a", detection_points())
    run.timing[0].device = "cuda:0"
    run.timing[0].encode_gpu_ms = {"median": 3.5, "mean": 4.0, "p90": 5.0}
    run.timing[0].warmup_items = 1
    table = timing_table_data([run], build_curves([run]))
    names = [c.name for c in table.columns]
    assert names[:4] == ["codec", "items", "encode median (s)", "encode mean (s)"]
    assert names[-4:] == ["encode GPU median (ms)", "decode GPU median (ms)", "device",
                          "warm-up items"]
    assert table.rows[0][:5] == ["vtm", 4, 1.0, 1.5, 2.0]
    assert table.rows[0][-4:] == [3.5, None, "cuda:0", 1]


def test_points_table_marks_incomplete():
    pts = detection_points()
    pts[0].complete = False
    run = hand_run("a", pts)
    table = points_table_data(build_curves([run]), ["bbox/AP"])
    assert table.rows[0][:4] == ["vtm", "qp=22", 0.8, 0.60]
    assert table.rows[0][-1] is False and table.notes


def test_mpeg_template_scales_accuracy_only():
    run = hand_run("a", detection_points())
    tables = mpeg_tables([run], build_curves([run]), ["bbox/AP", "psnr_y"])
    vtm = tables["vtm"]
    assert [c.name for c in vtm.columns] == [
        "dataset", "QP", "bpp", "bbox/AP (x100)", "psnr_y", "encode time (s/image)",
        "decode time (s/image)", "complete"]
    assert vtm.rows[0] == ["synthetic-coco", 22, 0.8, pytest.approx(60.0), 38.0, 0.5, 0.25, True]
    assert [c.name for c in tables["identity"].columns][1] == "none"


def test_accuracy_detection():
    run = hand_run("a", detection_points() + [point("x", 1, 1.0, {"psnr_y": 0.5, "loss": 3.0})])
    assert is_accuracy("bbox/AP", [run])
    assert not is_accuracy("psnr_y", [run])  # a pixel metric, even when in 0..1
    assert not is_accuracy("loss", [run])


def test_metric_selection_and_headline():
    run = hand_run("a", detection_points())
    assert select_metrics([run]) == ["bbox/AP", "psnr_y"]
    assert headline_metrics([run], ["psnr_y", "bbox/AP"]) == ["bbox/AP"]  # a task metric leads
    run.spec["bd"]["metrics"] = ["psnr_y", "missing"]
    assert select_metrics([run]) == ["psnr_y"]
    run.spec["report"] = {"metrics": ["bbox/AP"]}
    assert select_metrics([run]) == ["bbox/AP"]
    assert select_metrics([run], ["psnr_y"]) == ["psnr_y"]
    pixel_only = hand_run("p", [point("vtm", 22, 1.0, {"ms_ssim": 0.9, "psnr_rgb": 30.0})])
    assert headline_metrics([pixel_only], ["ms_ssim", "psnr_rgb"]) == ["psnr_rgb"]
