"""Bootstrap confidence intervals of BD-rate and BD-quality, resampling the dataset's items.

One replicate draws the run's n items with replacement (the same draw for every codec
and point: a paired bootstrap), recomputes each point's rate pooled over the drawn
items and its metrics with each task's evaluator on the drawn items (an item drawn
twice counts twice), then the BD table with the run's settings (anchors, method,
monotonic mode). A BD value's interval is the percentile interval over the replicates
that gave a number; each point's metric interval is kept too (bands in plots).

Only the runner has evaluators, so the runner calls `bootstrap_bd(store, evaluators)`
after computing the points. The result is stored in the run store's meta
"bd_bootstrap" (reports read it; they never evaluate) and reused while the points,
the settings and the BD choices stay the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np

from bench.analysis.bd import monotonic_mode
from bench.analysis.curves import (
    BDRow,
    accuracy_metrics,
    bd_table,
    headline_metrics,
    metric_names,
)
from bench.results.points import grouped_plan, planned_tasks, task_key
from bench.results.records import Point
from bench.results.store import RunStore

META_KEY = "bd_bootstrap"
ERROR_PREFIX = "error:"  # score_point's key for a task whose draws could not be scored
VERSION = 1
Scorer = Callable[[Sequence[str]], dict[str, float]]


@dataclass
class _PointData:
    """What one point contributes to a replicate: its items' bits and predictions."""

    point: Point
    item_index: np.ndarray  # positions in the population of its items that have results
    bits: dict[str, np.ndarray]  # rate key -> bits per item
    pixels: np.ndarray
    predictions: dict[str, dict[str, Any]]  # task key -> item id -> predictions


def bd_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The bootstrap and BD settings of a stored spec (defaults where it has none)."""
    bd = spec.get("bd") or {}
    boot = bd.get("bootstrap") or {}
    anchors = ([spec["anchor"]] if spec.get("anchor") else []) + list(spec.get("anchors") or [])
    return {"resamples": int(boot.get("resamples", 200)), "seed": int(boot.get("seed", 0)),
            "confidence": float(boot.get("confidence", 0.95)),
            "method": bd.get("method") or "pchip",
            "monotonic": monotonic_mode(bd.get("monotonic", "auto")),
            "anchors": list(dict.fromkeys(anchors))}


def chosen_metrics(spec: dict[str, Any], points: list[Point]) -> list[str]:
    """The metrics BD tables show: report.metrics, else bd.metrics, else the headline ones."""
    present = metric_names(points)
    wanted = (spec.get("report") or {}).get("metrics") or (spec.get("bd") or {}).get("metrics")
    return [m for m in wanted if m in present] if wanted else headline_metrics(present)


def bootstrap_bd(
    store: RunStore,
    evaluators: dict[str, Any] | Callable[[], dict[str, Any]],
    resamples: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
) -> dict[str, Any] | None:
    """Compute, store (meta "bd_bootstrap") and return the BD intervals of a run.

    Args:
        store: the run store, its points computed.
        evaluators: task key (`task_key(TaskDesc)`) -> the task's Evaluator, or a function
            giving that dict (called only when something must be computed). Evaluators
            score a draw through `resampler(predictions)(ids)` or
            `evaluate_resampled(predictions, ids)`; others' metrics get no interval.
        resamples, seed: override the spec's `bd.bootstrap` values.
        workers: processes scoring points in parallel (None: one per core).

    Returns:
        The stored dict, or None when the spec has no anchor or resamples is 0.
    """
    spec = store.get_meta("spec") or {}
    settings = bd_settings(spec)
    if resamples is not None:
        settings["resamples"] = int(resamples)
    if seed is not None:
        settings["seed"] = int(seed)
    groups = [(label, point, keys) for (label, point), keys in grouped_plan(store).items()]
    stored = [(g, store.stored_point(g[0], g[1])) for g in groups]
    stored = [(g, s) for g, s in stored if s is not None]
    points = [s[1] for _, s in stored]
    if settings["resamples"] <= 0 or not settings["anchors"] or not points:
        return None
    metrics = chosen_metrics(spec, points)
    signature = _signature(settings, metrics, [s[0] for _, s in stored])
    previous = store.get_meta(META_KEY)
    if isinstance(previous, dict) and previous.get("signature") == signature:
        return previous
    t0 = time.perf_counter()
    evaluators = evaluators() if callable(evaluators) else evaluators
    counts = {p.codec: 0 for p in points}
    for p in points:
        counts[p.codec] += 1
    chosen = [(g, s[1]) for g, s in stored if counts[s[1].codec] >= 2]
    population = _population(store, [g[2] for g, _ in chosen])
    data = [_point_data(store, keys, point, population) for (_, _, keys), point in chosen]
    rng = np.random.default_rng(settings["seed"])
    draws = rng.integers(0, len(population), size=(settings["resamples"], len(population)))
    scored = _score_all(_jobs(store, evaluators, data, metrics), population, draws, workers)
    result = _intervals(store, settings, metrics, data, draws, scored)
    result.update({"version": VERSION, "signature": signature,
                   "wall_s": round(time.perf_counter() - t0, 3)})
    store.set_meta(META_KEY, result)
    return result


def _signature(settings: dict[str, Any], metrics: list[str], point_sigs: list[str]) -> str:
    text = json.dumps([VERSION, settings, metrics, point_sigs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _population(store: RunStore, key_lists: list[list[str]]) -> list[str]:
    """Every item id of the compared points, in plan order (the units resampled)."""
    seen: dict[str, None] = {}
    for keys in key_lists:
        for it in store.items(keys):
            seen.setdefault(it.item_id, None)
    return list(seen)


def _point_data(store: RunStore, keys: list[str], point: Point, population: list[str]
                ) -> _PointData:
    ok = [it for it in store.items(keys) if it.status == "ok"]
    where = {item_id: n for n, item_id in enumerate(population)}
    rate_keys = set(point.metric_rates.values()) | {"bpp"}
    bits: dict[str, np.ndarray] = {}
    for key in rate_keys:
        layers = key.split("/", 1)[1].split("+") if "/" in key else None
        bits[key] = np.array([it.bits if layers is None
                              else sum(int(it.layer_bits.get(n, 0)) for n in layers)
                              for it in ok], dtype=float)
    tasks = planned_tasks(store)
    preds = {task_key(t): store.predictions(keys, task_key(t)) for t in tasks} if ok else {}
    return _PointData(point, np.array([where[it.item_id] for it in ok], dtype=int), bits,
                      np.array([it.pixels for it in ok], dtype=float), preds)


def _scorer(evaluator: Any, predictions: dict[str, Any]) -> Scorer | None:
    make = getattr(evaluator, "resampler", None)
    if callable(make):
        return make(predictions)
    direct = getattr(evaluator, "evaluate_resampled", None)
    if callable(direct):
        return lambda ids: direct(predictions, ids)
    return None


def score_point(task_metrics: dict[str, tuple[Any, dict[str, Any], list[tuple[str, str]]]],
                draws: list[list[str]]) -> dict[str, list[float]]:
    """Each chosen metric of one point on every draw (module level: runs in a worker).

    `task_metrics`: task key -> (evaluator, its predictions, [(evaluator name, metric)]).
    """
    out: dict[str, list[float]] = {}
    for key, (evaluator, preds, names) in task_metrics.items():
        try:
            scorer = _scorer(evaluator, preds) if preds else None
            if scorer is None:
                continue
            values = [scorer(ids) for ids in draws]
        except Exception as exc:  # noqa: BLE001 - one task's failure leaves its metrics out
            out[f"{ERROR_PREFIX}{key}"] = [f"{type(exc).__name__}: {exc}"]  # type: ignore[list-item]
            continue
        for raw, metric in names:
            out[metric] = [float(v.get(raw, math.nan)) for v in values]
    return out


def _jobs(store: RunStore, evaluators: dict[str, Any], data: list[_PointData],
          metrics: list[str]) -> list[dict[str, Any]]:
    """Per point: task key -> (evaluator, predictions, [(evaluator's name, metric)])."""
    names: dict[str, list[tuple[str, str]]] = {}
    for t in planned_tasks(store):
        key = task_key(t)
        if key in evaluators:
            names[key] = [(m.name, t.metric(m.name)) for m in evaluators[key].metrics()
                          if t.metric(m.name) in metrics]
    return [{k: (evaluators[k], d.predictions.get(k) or {}, n) for k, n in names.items() if n}
            for d in data]


def _score_all(jobs: list[dict[str, Any]], population: list[str], draws: np.ndarray,
               workers: int | None) -> list[dict[str, list[float]]]:
    """`score_point` of every point, in worker processes where there are several."""
    draw_ids = [[population[j] for j in row] for row in draws]
    n_workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if n_workers > 1 and len(jobs) > 1:
        try:
            with ProcessPoolExecutor(min(n_workers, len(jobs)),
                                     mp_context=get_context("spawn")) as pool:
                return list(pool.map(score_point, jobs, [draw_ids] * len(jobs)))
        except (OSError, TypeError, AttributeError, ImportError, RuntimeError):
            pass  # evaluators that cannot cross a process boundary: score here
    return [score_point(job, draw_ids) for job in jobs]


def _replicate_points(data: list[_PointData], scored: list[dict[str, list[float]]],
                      counts: np.ndarray, r: int) -> list[Point]:
    """The points of replicate r: rates pooled over the drawn items, the drawn metrics."""
    out = []
    for d, values in zip(data, scored):
        weight = counts[r, d.item_index]
        pixels = float(weight @ d.pixels)
        if not pixels:
            continue
        rates = {key: float(weight @ bits) / pixels for key, bits in d.bits.items()}
        drawn = {m: v[r] for m, v in values.items() if not m.startswith(ERROR_PREFIX)}
        out.append(Point(codec=d.point.codec, point=d.point.point, bpp=rates["bpp"],
                         rates=rates, metrics=drawn,
                         metric_rates=d.point.metric_rates, complete=d.point.complete))
    return out


def _intervals(store: RunStore, settings: dict[str, Any], metrics: list[str],
               data: list[_PointData], draws: np.ndarray, scored: list[dict[str, list[float]]],
               ) -> dict[str, Any]:
    """BD rows of every replicate -> percentile intervals per (codec, anchor, metric)."""
    n_rep, n_pop = draws.shape
    counts = np.zeros((n_rep, n_pop))
    for r in range(n_rep):
        counts[r] = np.bincount(draws[r], minlength=n_pop)
    directions = dict(store.get_meta("metric_directions", {}) or {})
    accuracy = accuracy_metrics(metrics, dict(store.get_meta("metric_units", {}) or {}))
    samples: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    for r in range(n_rep):
        points = _replicate_points(data, scored, counts, r)
        for anchor in settings["anchors"]:
            for row in bd_table(points, anchor, metrics, settings["method"],
                                settings["monotonic"], directions, accuracy):
                rate, quality = samples.setdefault((row.codec, row.anchor, row.metric), ([], []))
                if row.bd_rate_percent is not None:
                    rate.append(row.bd_rate_percent)
                if row.bd_quality is not None:
                    quality.append(row.bd_quality)
    level = settings["confidence"]
    rows = [{"codec": c, "anchor": a, "metric": m, "bd_rate_ci": _percentiles(rate, level),
             "bd_quality_ci": _percentiles(quality, level), "n_rate": len(rate),
             "n_quality": len(quality)}
            for (c, a, m), (rate, quality) in samples.items()]
    bands = [{"codec": d.point.codec, "point": d.point.point.to_dict(),
              "metrics": {m: _percentiles(v, level) for m, v in values.items()
                          if not m.startswith(ERROR_PREFIX)}}
             for d, values in zip(data, scored)]
    errors = sorted({f"{m[len(ERROR_PREFIX):]}: {v[0]}" for values in scored
                     for m, v in values.items() if m.startswith(ERROR_PREFIX)})
    public = {k: settings[k] for k in ("resamples", "seed", "confidence", "method", "monotonic",
                                       "anchors")}
    return {"settings": public, "metrics": metrics, "n_items": n_pop, "rows": rows,
            "points": bands, "errors": errors}


def _percentiles(values: list[float], level: float) -> list[float] | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def interval_lookup(result: dict[str, Any] | None, min_share: float = 0.8
                    ) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(codec, anchor, metric) -> row of a stored result; an interval is dropped (None) when
    fewer than `min_share` of the replicates gave a number."""
    if not result:
        return {}
    n = int((result.get("settings") or {}).get("resamples") or 0)
    out = {}
    for row in result.get("rows") or []:
        row = dict(row)
        for ci, count in (("bd_rate_ci", "n_rate"), ("bd_quality_ci", "n_quality")):
            if n and row.get(count, 0) < min_share * n:
                row[ci] = None
        out[(row["codec"], row["anchor"], row["metric"])] = row
    return out


def apply_intervals(rows: list[BDRow], result: dict[str, Any] | None) -> None:
    """Fill the *_ci fields of BD rows from a stored result (rows of other runs unchanged)."""
    lookup = interval_lookup(result)
    n = int(((result or {}).get("settings") or {}).get("resamples") or 0)
    for row in rows:
        found = lookup.get((row.codec, row.anchor, row.metric))
        if found:
            row.bd_rate_ci = found.get("bd_rate_ci")
            row.bd_quality_ci = found.get("bd_quality_ci")
            row.ci_replicates = n
