"""BD rows against each anchor, timing, points and MPEG-template tables; metric selection."""

import dataclasses

import pytest

from bench.report.content import (
    bd_rows,
    bd_table_data,
    mpeg_tables,
    points_table_data,
    short_reason,
    timing_table_data,
)
from bench.report.selection import appendix_metrics, headline_metrics, is_accuracy, select_metrics
from bench.report.sources import build_curves
from bench.report.tables import Est, Marked

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


def test_only_the_spec_s_anchors_are_bd_anchors():
    codecs = [{"name": "vtm", "type": "vvenc"},
              {"name": "mine", "type": "x265", "include": "vcm-image-x265"},
              {"name": "identity", "type": "identity"}]
    run = hand_run("a", detection_points(), spec_extra={"codecs": codecs})
    rows = bd_rows([run], build_curves([run]), ["bbox/AP"])
    assert {(r.codec, r.anchor) for r in rows} == {("mine", "vtm")}  # not against "mine"
    both = hand_run("a", detection_points(), spec_extra={"codecs": codecs, "anchors": ["mine"]})
    pairs = {(r.codec, r.anchor): r.bd_rate_percent for r in
             bd_rows([both], build_curves([both]), ["bbox/AP"])}
    assert set(pairs) == {("mine", "vtm"), ("vtm", "mine")}
    assert pairs[("vtm", "mine")] == pytest.approx(25.0, abs=1e-9)  # 1 / 0.8 - 1


def test_bd_table_shows_display_units_intervals_and_spans():
    run = hand_run("a", detection_points())
    run.units = {"bbox/AP": "fraction 0..1", "psnr_y": "dB"}
    rows = bd_rows([run], build_curves([run]), ["bbox/AP"])
    rows[0].bd_rate_ci, rows[0].bd_quality_ci = [-30.0, -10.0], [0.01, 0.03]
    table = bd_table_data(rows, None, [run])
    row = table.rows[0]
    assert row[3] == Marked(Est(pytest.approx(-20.0), -30.0, -10.0), ())
    assert row[4] == Est(pytest.approx(row[4].value), pytest.approx(1.0), pytest.approx(3.0))
    assert row[5] == "pp" and row[8] == "-"  # percentage points; no fit
    assert row[6].lo == pytest.approx(38.0) and row[6].hi == pytest.approx(60.0)  # AP in %
    assert row[7].lo == pytest.approx(0.15) and row[7].hi == pytest.approx(0.8 * 0.8)


def test_non_monotonic_accuracy_is_fitted_by_default_and_marked_once():
    pts = detection_points()
    pts[3].metrics["bbox/AP"] = 0.61  # mine at qp 27 above its qp 22: a wobble
    run = hand_run("a", pts, spec_extra={"bd": {"method": "pchip", "monotonic": "auto"}})
    rows = bd_rows([run], build_curves([run]), ["bbox/AP"])
    assert rows[0].fitted == "test" and rows[0].bd_rate_percent is not None
    table = bd_table_data(rows, None, [run])
    assert table.rows[0][8] == "test" and sum("fit:" in n for n in table.notes) == 1
    strict = hand_run("a", pts, spec_extra={"bd": {"method": "pchip", "monotonic": False}})
    srow = bd_rows([strict], build_curves([strict]), ["bbox/AP"])[0]
    assert srow.bd_rate_percent is None
    stable = bd_table_data([srow], None, [strict])
    assert stable.rows[0][3].marks == ("a",)
    assert stable.footnotes == {"a": "not monotonic (strict mode)"}
    assert short_reason("BD-rate is undefined: curves 'a' and 'b' do not overlap in quality") \
        == "qualities do not overlap"


def test_incomplete_point_marks_the_row_even_without_values():
    pts = detection_points()
    pts[3] = dataclasses.replace(pts[3], complete=False, bpp=float("nan"), rates={}, metrics={})
    run = hand_run("a", pts)
    rows = bd_rows([run], build_curves([run]), ["bbox/AP"])
    assert rows[0].complete is False
    table = bd_table_data(rows)
    assert table.rows[0][9] is False and table.rows[0][3].marks == ("a",)
    assert "complete = NO" in table.footnotes["a"]


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
    assert "parameters" not in names  # no codec of the run counted any


def test_timing_table_shows_learned_codecs_parameters():
    from bench.report.sources import TimingRow

    run = hand_run("a", detection_points())
    stats = {"median": 0.2, "mean": 0.2, "p90": 0.3}
    run.timing.append(TimingRow("mine", 4, stats, stats, "cpu", parameters=(2_542_116,) * 2))
    run.timing.append(TimingRow("identity", 4, stats, stats, "cpu",
                                parameters=(1_210_000, 4_500_000)))
    table = timing_table_data([run], build_curves([run]))
    assert table.columns[-1].name == "parameters"
    assert [r[-1] for r in table.rows] == ["-", "2.54 M", "1.21-4.50 M"]
    assert any("every branch" in n for n in table.notes)


def test_points_table_marks_incomplete():
    pts = detection_points()
    pts[0].complete = False
    run = hand_run("a", pts)
    table = points_table_data(build_curves([run]), ["bbox/AP"], [run])
    assert [c.name for c in table.columns][:4] == ["codec", "point", "bpp", "bbox/AP (%)"]
    assert table.rows[0][:4] == ["vtm", "QP 22", 0.8, pytest.approx(60.0)]
    assert table.rows[-1][:2] == ["identity", "uncompressed"]
    assert table.rows[0][-1] is False and table.notes


def test_mpeg_template_scales_accuracy_only():
    run = hand_run("a", detection_points())
    tables = mpeg_tables([run], build_curves([run]), ["bbox/AP", "psnr_y"])
    vtm = tables["vtm"]
    assert [c.name for c in vtm.columns] == [
        "dataset", "QP", "bpp", "bbox/AP (%)", "psnr_y (dB)", "encode time (s/image)",
        "decode time (s/image)", "complete"]
    assert vtm.rows[0] == ["synthetic-coco", 22, 0.8, pytest.approx(60.0), 38.0, 0.5, 0.25, True]
    assert [c.name for c in tables["identity"].columns][1] == "none"


def test_accuracy_detection():
    run = hand_run("a", detection_points() + [point("x", 1, 1.0, {"psnr_y": 0.5, "loss": 3.0})])
    assert is_accuracy("bbox/AP", [run])
    assert not is_accuracy("psnr_y", [run])  # a pixel metric, even when in 0..1
    assert not is_accuracy("loss", [run])


def test_metric_selection_headline_first_and_appendix():
    pts = [point("vtm", 22, 1.0, {"bbox/AP": 0.5, "bbox/AP75": 0.4, "psnr_rgb": 30.0,
                                  "bbox/AP50": 0.7, "psnr_y": 33.0, "segm/AP": 0.45})]
    run = hand_run("a", pts)
    main = select_metrics([run])
    assert main == ["bbox/AP", "bbox/AP50", "segm/AP", "psnr_y"]  # the headline ones
    assert appendix_metrics([run], main) == ["bbox/AP75", "psnr_rgb"]
    assert headline_metrics([run], main) == main
    run.spec["bd"]["metrics"] = ["psnr_y", "missing"]
    assert select_metrics([run]) == ["psnr_y"]
    assert "bbox/AP" in appendix_metrics([run], ["psnr_y"])  # bd.metrics leaves an appendix
    run.spec["report"] = {"metrics": ["bbox/AP"]}
    assert select_metrics([run]) == ["bbox/AP"] and appendix_metrics([run], ["bbox/AP"]) == []
    assert select_metrics([run], ["psnr_y"]) == ["psnr_y"]
    kitti = hand_run("k", [point("vtm", 22, 1.0, {"Car/3d/moderate/R40": 40.0,
                                                   "Car/bev/moderate/R40": 50.0,
                                                   "Car/3d/easy/R40": 60.0})])
    assert select_metrics([kitti]) == ["Car/3d/moderate/R40", "Car/bev/moderate/R40"]
    prefixed = hand_run("m", [point("vtm", 22, 1.0, {"det/bbox/AP": 0.5, "pixel/psnr_y": 30.0,
                                                      "pixel/ms_ssim": 0.9})])
    assert select_metrics([prefixed]) == ["det/bbox/AP", "pixel/psnr_y"]
    pixel_only = hand_run("p", [point("vtm", 22, 1.0, {"ms_ssim": 0.9, "psnr_rgb": 30.0})])
    assert select_metrics([pixel_only]) == ["psnr_rgb"]  # no headline metric: PSNR first
