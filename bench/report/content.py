"""The report's tables as data: BD (each codec against each anchor), timing, points, MPEG."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from bench.analysis.curves import BDRow, bd_table
from bench.report.selection import bd_settings, directions, is_accuracy
from bench.report.sources import DETAIL_KEYS, Curve, RunData
from bench.report.tables import Column, Table

INCOMPLETE_NOTE = ("complete = NO: some jobs of these points failed or are missing; "
                   "numbers use the items that ran.")


def bd_rows(runs: list[RunData], curves: list[Curve], metrics: list[str]) -> list[BDRow]:
    """BD-rate and BD-quality of every curve against every anchor curve, per metric.

    Only curves of runs over the same dataset and task are compared with each other.
    """
    settings, dirs = bd_settings(runs), directions(runs)
    by_group: dict[tuple, list[Curve]] = {}
    for c in curves:
        by_group.setdefault(runs[c.run_index].comparability, []).append(c)
    rows: list[BDRow] = []
    for group in by_group.values():
        points = [dataclasses.replace(p, codec=c.label)
                  for c in group if not c.uncompressed for p in c.points]
        for anchor in [c for c in group if c.anchor and not c.uncompressed]:
            rows += bd_table(points, anchor.label, metrics, settings["method"],
                             settings["monotonic"], dirs)
    complete = {c.label: c.complete for c in curves}
    for r in rows:  # a point without any result is not on the curve, but still makes it incomplete
        r.complete = r.complete and complete.get(r.codec, True) and complete.get(r.anchor, True)
    order = {m: i for i, m in enumerate(metrics)}
    labels = {c.label: i for i, c in enumerate(curves)}
    rows.sort(key=lambda r: (order.get(r.metric, 0), labels.get(r.anchor, 0),
                             labels.get(r.codec, 0)))
    return rows


def bd_table_data(rows: list[BDRow], metrics: list[str] | None = None) -> Table:
    """BD table; `metrics` restricts it (e.g. to the headline)."""
    table = Table(
        [Column("codec"), Column("anchor"), Column("metric"), Column("BD-rate (%)", "+.2f", "r"),
         Column("BD-quality", "+.4f", "r"), Column("method"), Column("monotonic fit"),
         Column("complete"), Column("note")],
        caption="BD-rate (negative = fewer bits than the anchor for the same quality) and "
                "BD-quality (the metric's own unit) against each anchor",
    )
    for r in rows:
        if metrics is not None and r.metric not in metrics:
            continue
        table.rows.append([r.codec, r.anchor, r.metric, r.bd_rate_percent, r.bd_quality, r.method,
                           "yes" if r.monotonic_fit else "no", r.complete, r.note])
    if any(not r[7] for r in table.rows):
        table.notes.append(INCOMPLETE_NOTE)
    return table


def timing_table_data(runs: list[RunData], curves: list[Curve]) -> Table:
    """Per codec: encode and decode seconds per image (median / mean / p90), the device, and
    GPU milliseconds (CUDA events) where the codec ran on a GPU; warm-up items left out."""
    table = Table(
        [Column("codec"), Column("items", "d", "r")]
        + [Column(f"{what} {stat} (s)", ".4g", "r") for what in ("encode", "decode")
           for stat in ("median", "mean", "p90")]
        + [Column("encode GPU median (ms)", ".4g", "r"), Column("decode GPU median (ms)", ".4g", "r"),
           Column("device"), Column("warm-up items", "d", "r")],
        caption="Encode and decode time per image: wall clock (each including entropy coding "
                "and serialisation); GPU milliseconds from CUDA events where the codec ran on a "
                "GPU; the first items of a learned codec in each worker are warm-up, not counted",
    )
    detail = [k for k in DETAIL_KEYS if any(k in t.detail for run in runs for t in run.timing)]
    table.columns[-2:-2] = [Column(_detail_name(k), ".4g", "r") for k in detail]
    label_of = {(c.run_index, c.codec): c.label for c in curves}
    for index, run in enumerate(runs):
        for t in run.timing:
            table.rows.append(
                [label_of.get((index, t.codec), t.codec), t.n_items]
                + [t.encode_s[s] for s in ("median", "mean", "p90")]
                + [t.decode_s[s] for s in ("median", "mean", "p90")]
                + [_mean(t.encode_gpu_ms.get("median")), _mean(t.decode_gpu_ms.get("median"))]
                + [_mean((t.detail.get(k) or {}).get("median")) for k in detail]
                + [t.device or "-", t.warmup_items]
            )
    if detail:
        table.notes.append("transform = analysis/synthesis networks; entropy = rANS coding "
                           "(learned codecs that report the split; empty where they cannot)")
    return table


def _detail_name(key: str) -> str:
    what, part, _ = key.split("_")
    return f"{what} {part} median (s)"


def points_table_data(curves: list[Curve], metrics: list[str]) -> Table:
    """Every point: codec, rate point, bpp, the chosen metrics, completeness."""
    table = Table([Column("codec"), Column("point"), Column("bpp", ".5f", "r")]
                  + [Column(m, ".4f", "r") for m in metrics]
                  + [Column("items", "d", "r"), Column("failed", "d", "r"), Column("complete")],
                  caption="Points: pooled bpp (sum of bits / sum of original pixels)")
    for c in curves:
        for p in c.points:
            table.rows.append([c.label, p.point.label, p.bpp] + [p.metrics.get(m) for m in metrics]
                              + [p.n_items, p.n_failed, p.complete])
    if any(not r[-1] for r in table.rows):
        table.notes.append(INCOMPLETE_NOTE)
    return table


def mpeg_tables(runs: list[RunData], curves: list[Curve], metrics: list[str]) -> dict[str, Table]:
    """Per codec, the column layout of the MPEG reporting templates.

    dataset, QP (or the codec's rate-point kind), bpp, each metric (accuracies x 100,
    others in their own unit), encode and decode seconds per image (mean), complete.
    """
    acc = {m: is_accuracy(m, runs) for m in metrics}
    out: dict[str, Table] = {}
    for c in curves:
        run = runs[c.run_index]
        kind = c.points[0].point.kind if c.points else "point"
        cols = [Column("dataset"), Column(kind.upper() if kind == "qp" else kind),
                Column("bpp", ".6f", "r")]
        cols += [Column(f"{m} (x100)" if acc[m] else m, ".4f", "r") for m in metrics]
        cols += [Column("encode time (s/image)", ".4f", "r"),
                 Column("decode time (s/image)", ".4f", "r"), Column("complete")]
        table = Table(cols, caption=f"{c.label}: MPEG reporting template layout")
        for p in c.points:
            values = [_scaled(p.metrics.get(m), acc[m]) for m in metrics]
            table.rows.append([run.dataset_name, p.point.value, p.bpp, *values,
                               _mean(p.timing.encode_s.mean), _mean(p.timing.decode_s.mean),
                               p.complete])
        out[c.label] = table
    return out


def _scaled(v: Any, accuracy: bool) -> Any:
    return v * 100.0 if accuracy and isinstance(v, (int, float)) else v


def _mean(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value
