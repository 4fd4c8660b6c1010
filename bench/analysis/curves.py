"""Points -> curves per codec and metric, and the BD table of each codec against the anchor."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bench.errors import AnalysisError
from bench.results.records import Point


@dataclass
class CurvePoint:
    rate: float
    value: float
    point: dict[str, Any]
    complete: bool


def curves(points: list[Point], metric: str) -> dict[str, list[CurvePoint]]:
    """codec label -> its points on `metric` against the rate the metric pairs with
    (its layer's for a layered codec), sorted by rate; points lacking it are left out."""
    out: dict[str, list[CurvePoint]] = {}
    for p in points:
        value = p.metrics.get(metric)
        rate = p.rate(metric)
        if value is None or rate is None or not _finite(value) or not _finite(rate):
            continue
        out.setdefault(p.codec, []).append(CurvePoint(rate, value, p.point.to_dict(), p.complete))
    for pts in out.values():
        pts.sort(key=lambda c: c.rate)
    return out


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


# What people compare first: detection AP and AP50, segmentation AP, PSNR-Y, and KITTI
# Car moderate AP3D and APBEV (R40). A task prefix is allowed ("det/bbox/AP").
HEADLINE = ("bbox/AP", "bbox/AP50", "segm/AP", "psnr_y", "Car/3d/moderate/R40",
            "Car/bev/moderate/R40")


def headline_metrics(present: list[str]) -> list[str]:
    """The HEADLINE metrics among `present`, in HEADLINE order; else the first task metric,
    else PSNR, else the first metric."""
    out: dict[str, None] = {}
    for h in HEADLINE:
        for m in present:
            if m == h or m.endswith("/" + h):
                out.setdefault(m, None)
    if out:
        return list(out)
    psnr = [m for m in present if m.rsplit("/", 1)[-1] in ("psnr_y", "psnr_rgb")]
    return ([m for m in present if is_task_accuracy(m)] or psnr or present)[:1]


def metric_names(points: list[Point]) -> list[str]:
    seen: dict[str, None] = {}
    for p in points:
        for m in p.metrics:
            seen.setdefault(m, None)
    return list(seen)


@dataclass
class BDRow:
    """One BD comparison: `codec` against `anchor` on `metric`.

    `overlap` is the quality interval BD-rate integrates over, `overlap_rate` the rate
    interval (bpp) of BD-quality; `fitted` says which curves the monotonic fit replaced
    ("", "anchor", "test", "both"). The *_ci fields are bootstrap percentile intervals
    (bench.analysis.bootstrap), filled in where a run has them.
    """

    codec: str
    anchor: str
    metric: str
    bd_rate_percent: float | None
    bd_quality: float | None
    method: str
    monotonic_fit: bool
    overlap: list[float] | None
    complete: bool
    note: str = ""
    fitted: str = ""
    overlap_rate: list[float] | None = None
    bd_rate_ci: list[float] | None = None
    bd_quality_ci: list[float] | None = None
    ci_replicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_task_accuracy(metric: str, unit: str | None = None) -> bool:
    """A task-accuracy metric (mAP, AP3D; "fraction 0..1" or "%"), not pixel quality (dB,
    MS-SSIM): the monotonic fit's "auto" mode applies to these only."""
    if unit is not None and unit != "":
        return unit != "dB"
    return metric.rsplit("/", 1)[-1] not in PIXEL_QUALITY


PIXEL_QUALITY = ("psnr_rgb", "psnr_y", "ms_ssim")


def accuracy_metrics(metrics: list[str], units: dict[str, str]) -> set[str]:
    """The task-accuracy metrics among `metrics`, by their declared units (else names)."""
    return {m for m in metrics if is_task_accuracy(m, units.get(m))}


def bd_table(
    points: list[Point],
    anchor: str,
    metrics: list[str],
    method: str = "pchip",
    monotonic: bool | str = False,
    directions: dict[str, bool] | None = None,
    accuracy: set[str] | None = None,
) -> list[BDRow]:
    """BD-rate and BD-quality of every codec with >= 2 points against `anchor`, per metric.

    `monotonic` "auto" fits non-monotonic curves of the metrics in `accuracy` (default:
    those `is_task_accuracy` names) and is "strict" on the others. A pair that cannot be
    compared (too few points, no overlap, a non-monotonic curve in strict mode) gets a
    row with empty numbers and the reason in `note`.
    """
    from bench.analysis.bd import bd_rate, monotonic_mode

    mode = monotonic_mode(monotonic)
    directions = directions or {}
    rows: list[BDRow] = []
    for metric in metrics:
        per_codec = curves(points, metric)
        ref = per_codec.get(anchor)
        fit_here = metric in accuracy if accuracy is not None else is_task_accuracy(metric)
        metric_mode = "strict" if mode == "auto" and not fit_here else mode
        for codec, pts in per_codec.items():
            if codec == anchor or len(pts) < 2:
                continue
            row = BDRow(codec, anchor, metric, None, None, method, False, None,
                        all(p.complete for p in pts) and all(p.complete for p in ref or []))
            if not ref or len(ref) < 2:
                row.note = f"anchor {anchor!r} has fewer than 2 points on {metric}"
            elif not directions.get(metric, True):
                row.note = "lower-is-better metric: BD not computed"
            else:
                try:
                    res = bd_rate(
                        [p.rate for p in ref], [p.value for p in ref],
                        [p.rate for p in pts], [p.value for p in pts],
                        method=method, monotonic=metric_mode, anchor_label=anchor,
                        test_label=codec,
                    )
                    row.bd_rate_percent = res.bd_rate_percent
                    row.bd_quality = res.bd_quality
                    row.monotonic_fit = res.monotonic_fit
                    row.fitted = res.fitted
                    row.overlap = list(res.to_dict().get("overlap") or []) or None
                    row.overlap_rate = list(res.to_dict().get("overlap_rate") or []) or None
                    row.note = "; ".join(res.notes)
                except AnalysisError as exc:
                    row.note = str(exc)
            rows.append(row)
    return rows
