"""RD plots: colours kept across plots, anchors dashed, uncompressed line, incomplete marks."""

import dataclasses

import matplotlib.colors as mcolors
import numpy as np
import pytest

from bench.report import plots
from bench.report.sources import build_curves

from .helpers import detection_points, hand_run


def curves_of(*runs):
    return build_curves(list(runs))


def test_colours_are_per_codec_and_kept_across_runs():
    a = hand_run("a", detection_points())
    b = hand_run("b", detection_points(shift=-0.05))
    curves = curves_of(a, b)
    colors = plots.codec_colors(curves)
    assert set(colors) == {"vtm", "mine", "identity"}
    assert len(set(colors.values())) == 3
    assert [c.label for c in curves][:2] == ["vtm [a]", "mine [a]"]
    fig1 = plots.rd_figure(curves, "bbox/AP", colors)
    fig2 = plots.rd_figure(curves, "psnr_y", colors)
    for fig in (fig1, fig2):
        by_label = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
        assert mcolors.same_color(by_label["mine [a]"].get_color(), colors["mine"])
        assert mcolors.same_color(by_label["mine [b]"].get_color(), colors["mine"])
        plots.close(fig)


def test_anchor_dashed_markers_and_uncompressed_line():
    curves = curves_of(hand_run("a", detection_points()))
    fig = plots.rd_figure(curves, "bbox/AP", plots.codec_colors(curves))
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert lines["vtm (anchor)"].get_linestyle() == "--"
    assert lines["mine"].get_linestyle() == "-"
    assert lines["mine"].get_marker() == "o"
    # COCO AP (fraction 0..1) is drawn in percent, the axis says so
    assert list(lines["mine"].get_ydata()) == pytest.approx([38.0, 48.0, 55.0, 60.0])
    flat = lines["uncompressed"]
    assert list(flat.get_ydata()) == pytest.approx([62.0, 62.0])  # the uncompressed AP
    assert fig.axes[0].get_ylabel() == "bbox AP (%)"
    assert fig.axes[0].get_xlabel() == "rate (bpp)"
    plots.close(fig)
    fig = plots.rd_figure(curves, "bbox/AP", plots.codec_colors(curves), uncompressed_line=False)
    assert "uncompressed" not in {ln.get_label() for ln in fig.axes[0].get_lines()}
    plots.close(fig)


def test_incomplete_points_get_a_red_cross_and_a_legend_entry():
    pts = detection_points()
    pts[3].complete = False  # mine, qp 27
    curves = curves_of(hand_run("a", pts))
    fig = plots.rd_figure(curves, "bbox/AP", plots.codec_colors(curves))
    crosses = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1
    assert list(crosses[0].get_xdata()) == [pytest.approx(0.4)]
    assert mcolors.same_color(crosses[0].get_color(), plots.INCOMPLETE_COLOR)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "incomplete point" in legend
    plots.close(fig)


def test_point_without_result_is_named_in_the_legend():
    pts = detection_points()
    pts[3] = dataclasses.replace(pts[3], complete=False, bpp=float("nan"), rates={}, metrics={})
    curves = curves_of(hand_run("a", pts))
    fig = plots.rd_figure(curves, "bbox/AP", plots.codec_colors(curves))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "mine (1 incomplete point without results)" in legend
    plots.close(fig)


def test_log_axis_and_point_labels():
    curves = curves_of(hand_run("a", detection_points()))
    fig = plots.rd_figure(curves, "bbox/AP", plots.codec_colors(curves), log_rate=True, point_labels=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert sorted(t.get_text() for t in ax.texts) == sorted(["QP 22", "QP 27", "QP 32",
                                                             "QP 37"] * 2)
    plots.close(fig)


def test_log_rate_by_default_when_rates_span_a_decade():
    curves = curves_of(hand_run("a", detection_points()))  # 0.12 .. 0.8 bpp: linear
    assert not plots.wants_log_rate(curves, ["bbox/AP"])  # identity's 24 bpp is left out
    wide = detection_points()
    wide[0] = dataclasses.replace(wide[0], bpp=2.0, rates={"bpp": 2.0})
    assert plots.wants_log_rate(curves_of(hand_run("a", wide)), ["bbox/AP"])


def test_units_on_pixel_axes_and_bands():
    curves = curves_of(hand_run("a", detection_points()))
    bands = {"mine": [(0.12, 30.5, 31.5), (0.64, 35.0, 37.0)]}
    fig = plots.rd_figure(curves, "psnr_y", plots.codec_colors(curves), bands=bands,
                          uncompressed_line=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "PSNR-Y (dB)"
    assert len(ax.collections) == 1  # the shaded band
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("bootstrap interval" in t for t in legend)
    plots.close(fig)


def test_no_values_no_figure():
    curves = curves_of(hand_run("a", detection_points()))
    assert plots.rd_figure(curves, "segm/AP", plots.codec_colors(curves)) is None


def test_save_formats_are_real_and_reproducible(tmp_path):
    curves = curves_of(hand_run("a", detection_points()))
    fig = plots.rd_figure(curves, "bbox/AP", plots.codec_colors(curves))
    paths = plots.save_figure(fig, tmp_path / plots.plot_stem("bbox/AP"), ["png", "svg", "pdf", "md"])
    assert [p.name for p in paths] == ["rd_bbox_AP.png", "rd_bbox_AP.svg", "rd_bbox_AP.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()[:500]
    assert paths[2].read_bytes()[:5] == b"%PDF-"
    first = [p.read_bytes() for p in paths[1:]]
    again = plots.save_figure(fig, tmp_path / "again", ["svg", "pdf"])
    assert [p.read_bytes() for p in again] == first
    uri = plots.png_data_uri(fig)
    assert uri.startswith("data:image/png;base64,")
    plots.close(fig)


def test_plot_image_is_not_blank(tmp_path):
    from PIL import Image

    curves = curves_of(hand_run("a", detection_points()))
    fig = plots.rd_figure(curves, "bbox/AP", plots.codec_colors(curves))
    (path,) = plots.save_figure(fig, tmp_path / "p", ["png"])
    plots.close(fig)
    img = np.asarray(Image.open(path).convert("RGB")).astype(float)
    assert (img.std(axis=2) > 30).mean() > 0.002  # coloured curve pixels are there
