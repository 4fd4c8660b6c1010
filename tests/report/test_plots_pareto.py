"""The Pareto front over an anchor's resolution scales, drawn on its RD plots."""

import pytest

from bench.report.plots import codec_colors, rd_figure
from bench.report.sources import Curve, scale_groups
from bench.results.records import Point
from bench.types import RatePoint


def curve(codec, scale, pts, run_index=0, type_="vvenc", extra=None):
    params = {"scale": scale, **(extra or {})}
    points = [Point(codec, RatePoint("qp", q), r, rates={"bpp": r}, metrics={"bbox/AP": v})
              for q, (r, v) in enumerate(pts)]
    return Curve(codec, codec, "r", run_index, type_, True, False, points, params)


def test_scale_groups_need_same_type_and_other_params():
    a = curve("vcm-image-vvenc", 100, [(0.1, 0.5), (0.4, 0.7)])
    b = curve("vcm-image-vvenc-50", 50, [(0.05, 0.45), (0.2, 0.68)])
    other_preset = curve("fast-50", 50, [(0.05, 0.4)], extra={"preset": "fast"})
    other_type = curve("x265-50", 50, [(0.05, 0.4)], type_="x265")
    groups = scale_groups([a, b, other_preset, other_type])
    assert [[c.codec for c in g] for g in groups] == [["vcm-image-vvenc", "vcm-image-vvenc-50"]]


def test_rd_figure_draws_the_front_over_all_scales():
    a = curve("vcm-image-vvenc", 100, [(0.1, 0.5), (0.4, 0.7)])
    b = curve("vcm-image-vvenc-50", 50, [(0.05, 0.45), (0.2, 0.68), (0.3, 0.6)])
    fig = rd_figure([a, b], "bbox/AP", codec_colors([a, b]))
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    front = lines["vcm-image-vvenc: Pareto front over 2 scales"]
    # (0.3, 0.6) is dominated by (0.2, 0.68): cheaper and better; AP drawn in percent
    got = list(zip(front.get_xdata(), front.get_ydata()))
    assert got == pytest.approx([(0.05, 45.0), (0.1, 50.0), (0.2, 68.0), (0.4, 70.0)])
