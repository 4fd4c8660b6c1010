"""The report's tables as data: BD (each codec against each anchor), timing, points, MPEG.

Numbers are in the units people read (bench.report.units): COCO AP in percent, BD-quality
of AP in percentage points; rates in bpp; times in seconds.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from bench.analysis.bootstrap import apply_intervals
from bench.analysis.curves import BDRow, accuracy_metrics, bd_table
from bench.report.selection import bd_settings, directions, is_accuracy, metric_unit
from bench.report.sources import DETAIL_KEYS, Curve, RunData
from bench.report.tables import Column, Est, Marked, Span, Table
from bench.report.units import column_name, metric_style, point_label

INCOMPLETE_NOTE = ("complete = NO: some jobs of these points failed or are missing; "
                   "numbers use the items that ran.")
FIT_NOTE = ("fit: the curve(s) whose accuracy did not increase with rate, replaced by their "
            "monotonic concave cubic fit (H. Wang et al., PCS 2024) before BD "
            "(bd.monotonic: strict leaves such pairs without a number).")
NOISE_NOTE = ("within noise: the {level} contains 0, so this dataset cannot tell the codec "
              "from the anchor on this metric")
SHORT_REASONS = (("do not overlap in quality", "qualities do not overlap"),
                 ("overlap in quality only at", "qualities do not overlap"),
                 ("do not overlap in log10 rate", "rates do not overlap"),
                 ("quality does not increase", "not monotonic (strict mode)"),
                 ("monotonic cubic fit is flat", "monotonic fit is flat"),
                 ("fewer than 2 points", "anchor has < 2 points"),
                 ("lower-is-better", "lower-is-better metric"))


def bd_rows(runs: list[RunData], curves: list[Curve], metrics: list[str]) -> list[BDRow]:
    """BD-rate and BD-quality of every curve against each of the spec's anchors, per metric,
    with the bootstrap intervals a run stored (same settings only).

    Only curves of runs over the same dataset and task are compared with each other.
    """
    settings, dirs = bd_settings(runs), directions(runs)
    accuracy = accuracy_metrics(metrics, {m: metric_unit(m, runs) or "" for m in metrics})
    by_group: dict[tuple, list[Curve]] = {}
    for c in curves:
        by_group.setdefault(runs[c.run_index].comparability, []).append(c)
    rows: list[BDRow] = []
    for group in by_group.values():
        points = [dataclasses.replace(p, codec=c.label)
                  for c in group if not c.uncompressed for p in c.points]
        for anchor in [c for c in group if c.bd_anchor and not c.uncompressed]:
            rows += bd_table(points, anchor.label, metrics, settings["method"],
                             settings["monotonic"], dirs, accuracy)
    _intervals(runs, curves, rows, settings)
    complete = {c.label: c.complete for c in curves}
    for r in rows:  # a point without any result is not on the curve, but still makes it incomplete
        r.complete = r.complete and complete.get(r.codec, True) and complete.get(r.anchor, True)
    order = {m: i for i, m in enumerate(metrics)}
    labels = {c.label: i for i, c in enumerate(curves)}
    rows.sort(key=lambda r: (order.get(r.metric, 0), labels.get(r.anchor, 0),
                             labels.get(r.codec, 0)))
    return rows


def _intervals(runs: list[RunData], curves: list[Curve], rows: list[BDRow],
               settings: dict[str, Any]) -> None:
    """Bootstrap intervals of pairs within one run, where it used these BD settings."""
    by_label = {c.label: c for c in curves}
    for index, run in enumerate(runs):
        boot = run.bootstrap or {}
        used = boot.get("settings") or {}
        if not boot or (used.get("method"), used.get("monotonic")) != (
                settings["method"], settings["monotonic"]):
            continue
        mine = [r for r in rows if by_label.get(r.codec) and by_label.get(r.anchor)
                and by_label[r.codec].run_index == index == by_label[r.anchor].run_index]
        plain = [dataclasses.replace(r, codec=by_label[r.codec].codec,
                                     anchor=by_label[r.anchor].codec) for r in mine]
        apply_intervals(plain, boot)
        for row, filled in zip(mine, plain):
            row.bd_rate_ci, row.bd_quality_ci = filled.bd_rate_ci, filled.bd_quality_ci
            row.ci_replicates = filled.ci_replicates


def short_reason(note: str) -> str:
    """A few words for a table cell; the full reason stays in bd_table.csv."""
    for needle, words in SHORT_REASONS:
        if needle in note:
            return words
    return note.split(":")[0][:60]


def bd_table_data(rows: list[BDRow], metrics: list[str] | None = None,
                  runs: list[RunData] | None = None) -> Table:
    """BD table (`metrics` restricts it, e.g. to the headline), values in display units."""
    runs = runs or []
    level = _confidence(runs)
    table = Table(
        [Column("codec"), Column("anchor"), Column("metric"),
         Column("BD-rate (%)", "+.1f", "r"), Column("BD-quality", "+.2f", "r"),
         Column("unit"),
         Column("over quality", ".2f", "r", latex=False),
         Column("over rate (bpp)", ".4f", "r", latex=False), Column("fit"),
         Column("complete", latex=False), Column("note", latex=False)],
        caption="BD-rate (negative = fewer bits than the anchor for the same quality) and "
                "BD-quality (the metric's unit; pp = percentage points) against each anchor, "
                "with bootstrap confidence intervals over the dataset's items where computed, "
                "and the interval each was integrated over",
    )
    for r in rows:
        if metrics is not None and r.metric not in metrics:
            continue
        style = metric_style(r.metric, metric_unit(r.metric, runs))
        f = style.factor
        rate = Est(r.bd_rate_percent, *(r.bd_rate_ci or (None, None)))
        quality = Est(_times(r.bd_quality, f), *[_times(v, f) for v in r.bd_quality_ci or
                                                 (None, None)])
        over_q = Span(r.overlap[0] * f, r.overlap[1] * f) if r.overlap else None
        over_r = Span(*r.overlap_rate) if r.overlap_rate else None
        marks = []
        if r.bd_rate_percent is None and r.note:
            marks.append(table.mark(short_reason(r.note)))
        elif r.bd_rate_ci and r.bd_rate_ci[0] <= 0.0 <= r.bd_rate_ci[1]:
            marks.append(table.mark(NOISE_NOTE.format(level=level)))
        if not r.complete:
            marks.append(table.mark(INCOMPLETE_NOTE))
        table.rows.append([r.codec, r.anchor, r.metric, Marked(rate, tuple(marks)), quality,
                           style.delta_unit or "-", over_q, over_r, r.fitted or "-",
                           r.complete, r.note])
    if any(row[8] != "-" for row in table.rows):
        table.notes.append(FIT_NOTE)
    if any(row[3].value.lo is not None for row in table.rows):
        table.notes.append(_ci_note(runs, level))
    return table


def _confidence(runs: list[RunData]) -> str:
    for run in runs:
        level = ((run.bootstrap or {}).get("settings") or {}).get("confidence")
        if level:
            return f"{100 * level:g} % CI"
    return "95 % CI"


def _ci_note(runs: list[RunData], level: str) -> str:
    settings = next(((r.bootstrap or {}).get("settings") for r in runs if r.bootstrap), {}) or {}
    n = next(((r.bootstrap or {}).get("n_items") for r in runs if r.bootstrap), "?")
    return (f"[lo, hi]: {level}, the percentile interval over "
            f"{settings.get('resamples', '?')} bootstrap "
            f"replicates (seed {settings.get('seed', '?')}) that resample the {n} items with "
            "replacement and recompute rates, metrics and BD; an interval that contains 0 "
            "means the difference is within the noise of this dataset.")


def _times(v: float | None, factor: float) -> float | None:
    return None if v is None else v * factor


def timing_table_data(runs: list[RunData], curves: list[Curve]) -> Table:
    """Per codec: encode and decode seconds per image (median / mean / p90), the device, and
    GPU milliseconds (CUDA events) where the codec ran on a GPU; warm-up items left out."""
    table = Table(
        [Column("codec"), Column("items", "d", "r")]
        + [Column(f"{what} {stat} (s)", ".3f", "r") for what in ("encode", "decode")
           for stat in ("median", "mean", "p90")]
        + [Column("encode GPU median (ms)", ".2f", "r"),
           Column("decode GPU median (ms)", ".2f", "r"),
           Column("device"), Column("warm-up items", "d", "r")],
        caption="Encode and decode time per image: wall clock (each including entropy coding "
                "and serialisation); GPU milliseconds from CUDA events where the codec ran on a "
                "GPU; the first items of a learned codec in each worker are warm-up, not counted",
    )
    detail = [k for k in DETAIL_KEYS if any(k in t.detail for run in runs for t in run.timing)]
    table.columns[-2:-2] = [Column(_detail_name(k), ".3f", "r") for k in detail]
    counted = any(t.parameters for run in runs for t in run.timing)
    if counted:
        table.columns.append(Column("parameters", align="r"))
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
                + ([_format_parameters(t.parameters)] if counted else [])
            )
    if detail:
        table.notes.append("transform = analysis/synthesis networks; entropy = rANS coding "
                           "(learned codecs that report the split; empty where they cannot)")
    if counted:
        table.notes.append("parameters = the learned codec's network, every branch included "
                           "(all task decoders of a multi-output codec); a range where its "
                           "points use different networks")
    return table


def _format_parameters(counts: tuple[int, int] | None) -> str:
    """'2.54 M' (or '1.21-4.50 M' when the points use different networks); '-' if not known."""
    if not counts:
        return "-"
    low, high = (c / 1e6 for c in counts)
    return f"{low:.2f} M" if counts[0] == counts[1] else f"{low:.2f}-{high:.2f} M"


def _detail_name(key: str) -> str:
    what, part, _ = key.split("_")
    return f"{what} {part} median (s)"


def points_table_data(curves: list[Curve], metrics: list[str],
                      runs: list[RunData] | None = None) -> Table:
    """Every point: codec, rate point by its knob, bpp, the metrics (display units), items."""
    runs = runs or []
    styles = {m: metric_style(m, metric_unit(m, runs)) for m in metrics}
    table = Table([Column("codec"), Column("point"), Column("bpp", ".4f", "r")]
                  + [Column(column_name(m, metric_unit(m, runs)), styles[m].fmt, "r")
                     for m in metrics]
                  + [Column("items", "d", "r"), Column("failed", "d", "r"), Column("complete")],
                  caption="Points: pooled bpp (sum of bits / sum of original pixels); "
                          "COCO AP in percent")
    for c in curves:
        for p in c.points:
            table.rows.append([c.label, point_label(p.point, c.type), p.bpp]
                              + [styles[m].value(p.metrics.get(m)) for m in metrics]
                              + [p.n_items, p.n_failed, p.complete])
    if any(not r[-1] for r in table.rows):
        table.notes.append(INCOMPLETE_NOTE)
    return table


def mpeg_tables(runs: list[RunData], curves: list[Curve], metrics: list[str]) -> dict[str, Table]:
    """Per codec, the column layout of the MPEG reporting templates.

    dataset, QP (or the codec's rate-point kind), bpp, each metric (accuracies in percent,
    named "(%)"; others in their own unit), encode and decode seconds per image (mean),
    complete.
    """
    styles = {m: metric_style(m, metric_unit(m, runs)) for m in metrics}
    out: dict[str, Table] = {}
    for c in curves:
        run = runs[c.run_index]
        kind = c.points[0].point.kind if c.points else "point"
        cols = [Column("dataset"), Column(kind.upper() if kind == "qp" else kind),
                Column("bpp", ".6f", "r")]
        cols += [Column(column_name(m, metric_unit(m, runs)), ".4f", "r") for m in metrics]
        cols += [Column("encode time (s/image)", ".4f", "r"),
                 Column("decode time (s/image)", ".4f", "r"), Column("complete")]
        table = Table(cols, caption=f"{c.label}: MPEG reporting template layout")
        for p in c.points:
            values = [styles[m].value(p.metrics.get(m)) for m in metrics]
            table.rows.append([run.dataset_name, p.point.value, p.bpp, *values,
                               _mean(p.timing.encode_s.mean), _mean(p.timing.decode_s.mean),
                               p.complete])
        out[c.label] = table
    return out


def _mean(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


__all__ = ["bd_rows", "bd_table_data", "is_accuracy", "mpeg_tables", "points_table_data",
           "short_reason", "timing_table_data"]
