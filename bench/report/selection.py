"""Which metrics a report shows, which lead it, and which are accuracies (x 100 for MPEG)."""

from __future__ import annotations

import math
from typing import Any

from bench.analysis.curves import metric_names
from bench.report.sources import RunData

# Pixel-quality metrics the harness records for every image item (used when
# bench.metrics.quality cannot be imported).
_PIXEL_QUALITY = ("psnr_rgb", "psnr_y", "ms_ssim")


def pixel_quality_names() -> set[str]:
    try:
        from bench.metrics.quality import quality_metric_infos
    except ImportError:
        return set(_PIXEL_QUALITY)
    return {m.name for m in quality_metric_infos()} | set(_PIXEL_QUALITY)


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
    """Metrics to plot and tabulate: `wanted`, else the spec's choice, else all (present ones)."""
    present = all_metrics(runs)
    chosen = wanted or explicit_metrics(runs)
    if not chosen:
        return present
    return [m for m in chosen if m in present]


def headline_metrics(
    runs: list[RunData], metrics: list[str], wanted: list[str] | None = None
) -> list[str]:
    """The metric(s) the report leads with: the first chosen one, else the first task metric."""
    if not metrics:
        return []
    if wanted or explicit_metrics(runs):
        return metrics[:1]
    pixel = pixel_quality_names()
    task = [m for m in metrics if m not in pixel]
    if task:
        return [task[0]]
    preferred = [m for m in _PIXEL_QUALITY if m in metrics]
    return preferred[:1] or metrics[:1]


def is_accuracy(metric: str, runs: list[RunData]) -> bool:
    """A task metric whose values are fractions in 0..1 (mAP, AP): MPEG reports it x 100.

    The unit the evaluator declared decides ("fraction 0..1" for COCO; KITTI AP is
    already in %); runs stored without units fall back to the values' range.
    """
    if metric in pixel_quality_names():
        return False
    declared = {run.units[metric] for run in runs if metric in run.units}
    if declared:
        return all(u.startswith("fraction") for u in declared)
    values = [p.metrics.get(metric) for run in runs for p in run.points]
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return bool(finite) and all(0.0 <= v <= 1.0 for v in finite)


def directions(runs: list[RunData]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for run in runs:
        for k, v in run.directions.items():
            out.setdefault(k, bool(v))
    return out


def bd_settings(runs: list[RunData]) -> dict[str, Any]:
    """BD method and monotonic flag of the first run's spec."""
    bd = (runs[0].spec.get("bd") or {}) if runs else {}
    return {"method": bd.get("method") or "pchip", "monotonic": bool(bd.get("monotonic"))}
