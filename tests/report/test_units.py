"""Display conventions (AP in percent, units, knob labels) and codec descriptions."""

import math

import pytest

from bench.report.codec_info import describe_codec
from bench.report.units import column_name, metric_label, metric_style, point_label
from bench.types import RatePoint


def test_coco_fractions_read_in_percent_kitti_and_psnr_as_they_are():
    ap = metric_style("bbox/AP", "fraction 0..1")
    assert ap.value(0.6725) == pytest.approx(67.25) and ap.unit == "%" and ap.delta_unit == "pp"
    assert ap.value(-1) is None  # pycocotools' "no ground truth in this area range"
    assert metric_style("det/segm/AP").factor == 100  # recognised without a stored unit
    assert metric_style("Car/3d/moderate/R40", "%").value(46.1) == 46.1
    psnr = metric_style("psnr_y", "dB")
    assert psnr.value(31.5) == 31.5 and psnr.unit == "dB" and psnr.fmt == ".2f"
    assert metric_style("ms_ssim").unit == "" and math.isnan(metric_style("ms_ssim").value(math.nan))


def test_labels_carry_units():
    assert metric_label("bbox/AP", "fraction 0..1") == "bbox AP (%)"
    assert metric_label("segm/AP50") == "segm mask AP50 (%)"
    assert metric_label("pixel/psnr_y", "dB") == "pixel PSNR-Y (dB)"
    assert metric_label("Car/3d/moderate/R40", "%") == "Car AP3D moderate R40 (%)"
    assert column_name("bbox/AP") == "bbox/AP (%)" and column_name("ms_ssim") == "ms_ssim"


@pytest.mark.parametrize("kind, value, ctype, text", [
    ("qp", 37, "vvenc", "QP 37"), ("quality", 75, "jpeg", "q 75"), ("q", 8, "mjpeg", "qscale 8"),
    ("none", 0, "identity", "uncompressed"), ("lambda", 0.0067, None, "λ 0.0067"),
    ("distance", 1.5, "jpegxl", "d 1.5"), ("quality", 50.0, "webp", "q 50"),
])
def test_points_by_their_knob(kind, value, ctype, text):
    assert point_label(RatePoint(kind, value), ctype) == text
    assert point_label({"kind": kind, "value": value}, ctype) == text


def test_codecs_describe_implementation_settings_and_chroma():
    text, chroma = describe_codec("vvenc", {"preset": "faster", "scale": 100})
    assert "libvvenc" in text and "preset faster" in text and "slice QP" in text
    assert chroma.startswith("YCbCr 4:2:0 10-bit")
    text, chroma = describe_codec("jpeg", {"subsampling": "4:2:0"})
    assert "via Pillow" in text and chroma.startswith("YCbCr 4:2:0 8-bit")
    assert "mjpeg" in describe_codec("mjpeg", {})[0]
    text, chroma = describe_codec("feature-anchor", {"inner": "vtm"})
    assert "4:0:0" in chroma
    assert describe_codec("identity", {})[1].startswith("RGB 4:4:4")
    text, chroma = describe_codec("no-such-codec", {"a": 1})
    assert "a 1" in text and chroma == "-"  # unknown plugins fall back, never fail a report
