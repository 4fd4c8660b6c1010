"""`icm-bench show`: a run's points as a table, or as JSON for scripts. Never evaluates."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.report.failures import collect_failures, failures_of_point, format_failures
from bench.report.units import column_name, fmt_number, metric_style, point_label
from bench.results.points import load_points, missing_points
from bench.results.records import Point, json_number
from bench.results.store import open_run


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def format_points_table(points: list[Point], metrics: list[str] | None = None,
                        units: dict[str, str] | None = None,
                        codec_types: dict[str, str] | None = None) -> str:
    """A plain-text table of points (codec, point, bpp, chosen metrics, complete).

    Metrics read as in the report (bench.report.units: COCO AP in percent, PSNR in dB),
    with the unit in the column name; points by their knob ("QP 37", "uncompressed").
    """
    if not points:
        return "(no points)"
    units, codec_types = units or {}, codec_types or {}
    if metrics is None:
        seen: dict[str, None] = {}
        for p in points:
            for m in p.metrics:
                seen.setdefault(m, None)
        metrics = list(seen)[:6]
    styles = {m: metric_style(m, units.get(m)) for m in metrics}
    header = ["codec", "point", "bpp"] + [column_name(m, units.get(m)) for m in metrics]
    header.append("complete")
    rows = []
    for p in points:
        vals = [fmt_number(styles[m].value(p.metrics.get(m)), styles[m].fmt) for m in metrics]
        rows.append([p.codec, point_label(p.point, codec_types.get(p.codec)), _fmt(p.bpp)]
                    + vals + ["yes" if p.complete else "NO"])
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def show_run(run: str, results_dir: str | Path = "results", as_json: bool = False) -> Any:
    """The points of a run (table text, or a JSON-able list); uncomputed points are named,
    and failed jobs are listed with their reasons (JSON: each point's `failures`). JSON
    keeps the evaluators' scale and names it per metric (`units`, e.g. "fraction 0..1").

    The store is opened read-only, so this works on a read-only folder or file system.
    """
    store = open_run(run, results_dir)
    try:
        points = load_points(store)
        missing = missing_points(store)
        groups = collect_failures(store)
        units = dict(store.get_meta("metric_units", {}) or {})
        codecs = (store.get_meta("plan") or {}).get("codecs") or {}
    finally:
        store.close()
    if as_json:
        return [
            {"codec": p.codec, "point": p.point.to_dict(), "bpp": json_number(p.bpp),
             "rates": {k: json_number(v) for k, v in p.rates.items()},
             "metrics": {k: json_number(v) for k, v in p.metrics.items()},
             "metric_rates": p.metric_rates, "complete": p.complete,
             "units": {k: units[k] for k in p.metrics if k in units},
             "failures": failures_of_point(groups, p.codec, p.point.label)}
            for p in points
        ]
    text = format_points_table(points, units=units,
                               codec_types={k: str(v.get("type")) for k, v in codecs.items()})
    if missing:
        text += (f"\n{len(missing)} point(s) not computed yet (the run stopped early): "
                 "re-run the spec to compute them")
    if groups:
        text += "\n\n" + format_failures(groups)
    return text
