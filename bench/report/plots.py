"""RD plots per metric in a clean paper style, with matplotlib alone.

One colour per codec, kept across every plot of a report (a codec of several runs
keeps its colour; runs differ by marker shape, later runs hollow). Anchors are
dashed; every point has a marker, optionally labelled with its knob ("QP 37"); the
uncompressed reference is a horizontal line; incomplete points get a red cross.
Axes carry units (COCO AP in percent); the rate axis is logarithmic by default when
the rates span more than a decade. Optional shaded bands show each point's bootstrap
interval.
"""

from __future__ import annotations

import base64
import io
import math
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.report.sources import Curve, scale_groups
from bench.report.units import metric_label, metric_style, point_label

PLOT_FORMATS = ("png", "svg", "pdf")
# Okabe-Ito colours (safe for colour-blind readers), then the tab10 ones.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f",
           "#bcbd22", "#17becf")
RUN_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
INCOMPLETE_COLOR = "#E4002B"

PAPER_RC: dict[str, Any] = {
    "font.family": "serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "legend.frameon": False,
    "pdf.fonttype": 42,  # TrueType in PDFs, as publishers ask
    "svg.fonttype": "path",  # SVGs render the same without the fonts
    "svg.hashsalt": "icm-bench",  # reproducible SVG ids
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}


def codec_colors(curves: list[Curve]) -> dict[str, str]:
    """codec label -> colour, in order of first appearance."""
    colors: dict[str, str] = {}
    for c in curves:
        if c.codec not in colors:
            colors[c.codec] = PALETTE[len(colors) % len(PALETTE)]
    return colors


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _xy(curve: Curve, metric: str, factor: float = 1.0) -> list[tuple[float, float, Any]]:
    pts = [(p.rate(metric), p.metrics.get(metric), p) for p in curve.points]
    return sorted(((r, v * factor, p) for r, v, p in pts if _finite(r) and _finite(v)),
                  key=lambda t: t[0])


def wants_log_rate(curves: list[Curve], metrics: list[str]) -> bool:
    """True when the coded curves' rates span more than a decade (max / min > 10)."""
    rates = [r for c in curves if not c.uncompressed for m in metrics for r, _, _ in _xy(c, m)
             if r > 0]
    return bool(rates) and max(rates) / min(rates) > 10.0


def rd_figure(
    curves: list[Curve], metric: str, colors: dict[str, str], log_rate: bool = False,
    point_labels: bool = False, unit: str | None = None, uncompressed_line: bool = True,
    bands: dict[str, list[tuple[float, float, float]]] | None = None,
) -> Figure | None:
    """The RD plot of `metric`, or None when no curve has a finite value on it.

    `unit` is the unit the evaluator declared ("fraction 0..1" is drawn in percent).
    `uncompressed_line` False leaves the uncompressed reference out (on pixel quality
    it is lossless by definition, and a capped 100 dB line would only squash the plot).
    `bands`: curve label -> (rate, low, high) of each point, drawn as a shaded band.
    """
    style = metric_style(metric, unit)
    curves = [c for c in curves if uncompressed_line or not c.uncompressed]
    if not any(_xy(c, metric) for c in curves):
        return None
    with plt.rc_context(PAPER_RC):
        fig, ax = plt.subplots(figsize=(3.5, 2.6))
        incomplete = False
        for c in curves:
            xy = _xy(c, metric, style.factor)
            if not xy:
                continue
            color = colors.get(c.codec, "#333333")
            incomplete |= _draw_curve(ax, c, xy, color, point_labels)
            band = (bands or {}).get(c.label)
            if band and not c.uncompressed:
                ax.fill_between([b[0] for b in band], [b[1] * style.factor for b in band],
                                [b[2] * style.factor for b in band], color=color, alpha=0.15,
                                linewidth=0, zorder=0)
        for group in scale_groups(curves):
            _draw_pareto_front(ax, group, metric, style.factor)
        if log_rate:
            _log_rate_axis(ax)
        ax.set_xlabel(rate_label(curves, metric))
        ax.set_ylabel(metric_label(metric, unit))
        handles, _ = ax.get_legend_handles_labels()
        if incomplete:
            handles.append(Line2D([], [], ls="none", marker="x", color=INCOMPLETE_COLOR,
                                  label="incomplete point"))
        if bands:
            handles.append(plt.Rectangle((0, 0), 1, 1, color="0.5", alpha=0.25,
                                         label="95 % bootstrap interval per point"))
        # Below the axes: never over a curve; the saved figure grows to fit it.
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncol=2 if len(handles) > 3 else 1)
        fig.tight_layout()
    return fig


def rate_label(curves: list[Curve], metric: str) -> str:
    """The x-axis label: "rate (bpp)", or the layer a layered codec's metric pairs with."""
    keys = sorted({p.metric_rates.get(metric, "bpp") for c in curves for p in c.points
                   if metric in p.metrics})
    layered = [k.split("/", 1)[1] for k in keys if "/" in k]
    if not layered:
        return "rate (bpp)"
    return f"rate (bpp; {', '.join(layered)} layer{'s' if len(layered) > 1 else ''} of layered codecs)"


def _draw_pareto_front(ax: Any, group: list[Curve], metric: str, factor: float = 1.0) -> None:
    """The non-dominated points over all of a group's curves (the scales of one anchor)."""
    from bench.analysis.pareto import pareto_front

    pts = [(r, v) for c in group for r, v, _ in _xy(c, metric, factor)]
    if len(pts) < 2:
        return
    front = [pts[i] for i in pareto_front(pts, higher_is_better=True)]
    full = [c.codec for c in group if c.params.get("scale") == 100]
    name = full[0] if full else os.path.commonprefix([c.codec for c in group]).rstrip("-_ ")
    ax.plot([r for r, _ in front], [v for _, v in front], ls="-", lw=2.2, color="0.35",
            alpha=0.35, zorder=1, label=f"{name}: Pareto front over {len(group)} scales")


def _log_rate_axis(ax: Any) -> None:
    """Log rate axis with plain numbers (0.1, 0.2, 0.3, 0.5, 1, ...) instead of powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _draw_curve(ax: Any, c: Curve, xy: list, color: str, point_labels: bool) -> bool:
    """Draw one curve; True if it has an incomplete point."""
    rates, values = [r for r, _, _ in xy], [v for _, v, _ in xy]
    if c.uncompressed:
        ax.axhline(values[0], color=color, ls=":", lw=1.0,
                   label="uncompressed" + (f" [{c.run}]" if c.label != c.codec else ""))
        return not xy[0][2].complete
    marker = RUN_MARKERS[c.run_index % len(RUN_MARKERS)]
    face = color if c.run_index == 0 else "white"
    label = c.label + (" (anchor)" if c.bd_anchor else "")
    drawn = {id(p) for _, _, p in xy}
    lost = [p for p in c.points if not p.complete and id(p) not in drawn]
    if lost:
        label += f" ({len(lost)} incomplete point{'s' if len(lost) > 1 else ''} without results)"
    ax.plot(rates, values, ls="--" if c.anchor else "-", marker=marker, color=color,
            markerfacecolor=face, label=label)
    bad = [(r, v) for r, v, p in xy if not p.complete]
    if bad:
        ax.plot([r for r, _ in bad], [v for _, v in bad], ls="none", marker="x", ms=7,
                mew=1.4, color=INCOMPLETE_COLOR, zorder=5)
    if point_labels:
        for r, v, p in xy:
            ax.annotate(point_label(p.point, c.type), (r, v), textcoords="offset points",
                        xytext=(3, -8), fontsize=5.5, color=color)
    return bool(bad)


def save_figure(fig: Figure, stem: Path, formats: list[str] | tuple[str, ...]) -> list[Path]:
    """Write the figure as stem.<fmt> for each plot format asked for (reproducible bytes)."""
    out = []
    with plt.rc_context(PAPER_RC):
        for fmt in formats:
            if fmt not in PLOT_FORMATS:
                continue
            path = stem.with_suffix(f".{fmt}")
            metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
                        "png": {"Software": None}}[fmt]
            fig.savefig(path, format=fmt, dpi=200 if fmt == "png" else None, metadata=metadata)
            out.append(path)
    return out


def png_data_uri(fig: Figure) -> str:
    """The figure as a base64 PNG data URI (to embed in a self-contained page)."""
    buf = io.BytesIO()
    with plt.rc_context(PAPER_RC):
        fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def close(fig: Figure) -> None:
    plt.close(fig)


def plot_stem(metric: str) -> str:
    """A file-name-safe stem for a metric's plot ("bbox/AP" -> "rd_bbox_AP")."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in metric)
    return f"rd_{safe}"
