"""Which metrics a report shows (headline first, the rest in an appendix), which are
accuracies, and the BD settings and anchors it uses."""

from __future__ import annotations

import math
from typing import Any

from bench.analysis.bd import monotonic_mode
from bench.analysis.curves import PIXEL_QUALITY, metric_names
from bench.analysis.curves import headline_metrics as default_headline
from bench.report.sources import RunData

_PIXEL_QUALITY = PIXEL_QUALITY


def pixel_quality_names() -> set[str]:
    try:
        from bench.metrics.quality import quality_metric_infos
    except ImportError:
        return set(_PIXEL_QUALITY)
    return {m.name for m in quality_metric_infos()} | set(_PIXEL_QUALITY)


def is_pixel_metric(metric: str) -> bool:
    """psnr_rgb, psnr_y, ms_ssim, bare or with a task prefix ("pixel/psnr_y")."""
    return metric.rsplit("/", 1)[-1] in pixel_quality_names()


def all_metrics(runs: list[RunData]) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        for m in metric_names(run.points):
            seen.setdefault(m, None)
    return list(seen)


def explicit_metrics(runs: list[RunData]) -> list[str] | None:
    """The first run's report.metrics, else its bd.metrics, else None."""
    if not runs:
        return None
    spec = runs[0].spec
    report, bd = spec.get("report") or {}, spec.get("bd") or {}
    return report.get("metrics") or bd.get("metrics") or None


def select_metrics(runs: list[RunData], wanted: list[str] | None = None) -> list[str]:
    """The report's main metrics: `wanted`, else the spec's choice, else the headline ones
    (detection AP and AP50, segmentation AP, PSNR-Y, KITTI Car moderate AP3D and APBEV)."""
    present = all_metrics(runs)
    chosen = wanted or explicit_metrics(runs)
    if not chosen:
        return default_headline(present)
    return [m for m in chosen if m in present]


def appendix_metrics(runs: list[RunData], main: list[str], wanted: list[str] | None = None
                     ) -> list[str]:
    """Every other metric, for the appendix; none when the report's metrics were chosen
    (`--metrics` or the spec's report.metrics)."""
    report = ((runs[0].spec.get("report") or {}) if runs else {}).get("metrics")
    if wanted or report:
        return []
    return [m for m in all_metrics(runs) if m not in main]


def headline_metrics(
    runs: list[RunData], metrics: list[str], wanted: list[str] | None = None
) -> list[str]:
    """The metrics the report leads with: its main metrics."""
    return list(metrics)


def is_accuracy(metric: str, runs: list[RunData]) -> bool:
    """A task metric whose values are fractions in 0..1 (mAP, AP): shown x 100 (percent).

    The unit the evaluator declared decides ("fraction 0..1" for COCO; KITTI AP is
    already in %); runs stored without units fall back to the values' range.
    """
    if is_pixel_metric(metric):
        return False
    declared = {run.units[metric] for run in runs if metric in run.units}
    if declared:
        return all(u.startswith("fraction") for u in declared)
    values = [p.metrics.get(metric) for run in runs for p in run.points]
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return bool(finite) and all(0.0 <= v <= 1.0 for v in finite)


def metric_unit(metric: str, runs: list[RunData]) -> str | None:
    """The unit the evaluators declared (None when no run recorded one)."""
    for run in runs:
        if metric in run.units:
            return run.units[metric]
    if is_accuracy(metric, runs):
        return "fraction 0..1"
    return None


def directions(runs: list[RunData]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for run in runs:
        for k, v in run.directions.items():
            out.setdefault(k, bool(v))
    return out


def bd_settings(runs: list[RunData]) -> dict[str, Any]:
    """BD method, monotonic mode (strict / auto / always) and bands of the first run's spec."""
    bd = (runs[0].spec.get("bd") or {}) if runs else {}
    return {"method": bd.get("method") or "pchip",
            "monotonic": monotonic_mode(bd.get("monotonic", "strict")),
            "bands": bool((bd.get("bootstrap") or {}).get("bands"))}
