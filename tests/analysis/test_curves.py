"""BD tables from points: anchors, the monotonic modes per metric kind, intervals shown."""

import pytest

from bench.analysis.curves import accuracy_metrics, bd_table, is_task_accuracy
from bench.results.records import Point
from bench.types import RatePoint

RATES = [0.05, 0.1, 0.2, 0.4, 0.8]
NOISY = [0.50, 0.60, 0.66, 0.65, 0.67]  # accuracy that wobbles at high rate
CLEAN = [0.45, 0.55, 0.62, 0.64, 0.66]


def points(metric):
    out = []
    for codec, values, scale in (("anchor", CLEAN, 1.0), ("test", NOISY, 0.9)):
        for n, (r, v) in enumerate(zip(RATES, values)):
            out.append(Point(codec=codec, point=RatePoint("qp", 40 - n), bpp=r * scale,
                             metrics={metric: v}))
    return out


def test_auto_fits_a_wobbly_accuracy_curve_and_says_which():
    (row,) = bd_table(points("bbox/AP"), "anchor", ["bbox/AP"], monotonic="auto")
    assert row.bd_rate_percent is not None and row.fitted == "test" and row.monotonic_fit
    lo, hi = row.overlap
    assert lo == pytest.approx(0.45, abs=0.06) and hi <= 0.67
    assert row.overlap_rate[0] < row.overlap_rate[1]


def test_auto_is_strict_on_pixel_quality():
    (row,) = bd_table(points("psnr_y"), "anchor", ["psnr_y"], monotonic="auto")
    assert row.bd_rate_percent is None and "does not increase" in row.note
    (row,) = bd_table(points("psnr_y"), "anchor", ["psnr_y"], monotonic="always")
    assert row.fitted == "both"


def test_strict_gives_no_number_and_the_reason():
    (row,) = bd_table(points("bbox/AP"), "anchor", ["bbox/AP"], monotonic=False)
    assert row.bd_rate_percent is None and row.fitted == "" and "does not increase" in row.note


def test_accuracy_by_unit_then_by_name():
    assert is_task_accuracy("bbox/AP", "fraction 0..1") and is_task_accuracy("Car/3d/easy/R40", "%")
    assert not is_task_accuracy("pixel/psnr_y", "dB") and not is_task_accuracy("ms_ssim")
    assert is_task_accuracy("det/bbox/AP") and not is_task_accuracy("pixel/ms_ssim", None)
    assert accuracy_metrics(["a", "psnr_y"], {"a": "%", "psnr_y": "dB"}) == {"a"}
