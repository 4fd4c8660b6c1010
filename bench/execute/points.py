"""Points: one codec x one rate point over the whole dataset, computed from the store.

bpp = sum of bits / sum of original pixels (pooled, as MPEG reports it; all views
of a stereo pair counted). Task metrics are computed once over all predictions of
the point. Pixel quality is the mean over items of each item's value.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.execute.job import RECORD_VERSION, stable_hash
from bench.store import RunStore, open_run

POINTS_VERSION = 1


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": math.nan, "mean": math.nan, "p90": math.nan}
    arr = np.asarray(values, dtype=float)
    return {
        "median": float(np.median(arr)),
        "mean": float(arr.mean()),
        "p90": float(np.percentile(arr, 90)),
    }


def _mean_quality(items: list[dict[str, Any]]) -> dict[str, float]:
    keys = sorted({k for it in items for k in it["quality"]})
    out = {}
    for k in keys:
        vals = [it["quality"][k] for it in items if k in it["quality"]]
        out[k] = float(np.mean(vals)) if vals else math.nan
    return out


def grouped_plan(store: RunStore) -> "OrderedDict[tuple[str, str], list[str]]":
    """(label, point text) -> job keys, in plan order."""
    groups: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
    for label, point, _shard, key in store.plan():
        groups.setdefault((label, point), []).append(key)
    return groups


def compute_point(
    store: RunStore, label: str, point: str, keys: list[str], evaluate: Callable[[dict], dict] | None
) -> dict[str, Any]:
    """Aggregate one point's items; run the evaluator over its predictions."""
    statuses = store.job_statuses(keys)
    items = [it for it in store.items(keys)]
    ok_items = [it for it in items if it["status"] == "ok"]
    bits = sum(int(it["bits"]) for it in ok_items)
    pixels = sum(int(it["pixels"]) for it in ok_items)
    layers: dict[str, int] = {}
    for it in ok_items:
        for name, b in it["layer_bits"].items():
            layers[name] = layers.get(name, 0) + int(b)
    complete = all(statuses.get(k) == "ok" for k in keys)
    metrics = _mean_quality(ok_items)
    if evaluate is not None and ok_items:
        metrics.update(evaluate(store.predictions(keys)))
    devices = sorted({it["device"] for it in ok_items if it["device"]})
    return {
        "codec": label,
        "point": json.loads(point),
        "bpp": bits / pixels if pixels else math.nan,
        "bpp_per_image_mean": (
            float(np.mean([it["bits"] / it["pixels"] for it in ok_items])) if ok_items else math.nan
        ),
        "layers_bpp": {k: v / pixels for k, v in layers.items()} if pixels else {},
        "bits": bits,
        "pixels": pixels,
        "n_items": len(ok_items),
        "n_failed": len(items) - len(ok_items),
        "n_jobs_missing": sum(1 for k in keys if k not in statuses),
        "complete": complete,
        "metrics": metrics,
        "timing": {
            "encode_s": _stats([it["encode_s"] for it in ok_items]),
            "decode_s": _stats([it["decode_s"] for it in ok_items]),
            "task_s": _stats([it["task_s"] for it in ok_items]),
            "device": ",".join(devices),
        },
    }


def _signature(store: RunStore, keys: list[str]) -> str:
    rows = [store.job(k) for k in keys]
    state = [(k, r["status"], r["finished"]) if r else (k, None, None) for k, r in zip(keys, rows)]
    return stable_hash([POINTS_VERSION, RECORD_VERSION, state])


def load_points(
    store: RunStore, evaluator_factory: Callable[[], Callable[[dict], dict]] | None = None
) -> list[dict[str, Any]]:
    """All points of a run in plan order, from the cache or computed (then cached).

    `evaluator_factory` builds the task's evaluate function only when some point
    is not cached (it needs the dataset); without it, such points get no task metrics.
    """
    out = []
    evaluate: Callable[[dict], dict] | None = None
    built = False
    for (label, point), keys in grouped_plan(store).items():
        sig = _signature(store, keys)
        cached = store.cached_point(label, point, sig)
        if cached is not None:
            out.append(cached)
            continue
        if not built and evaluator_factory is not None:
            evaluate, built = evaluator_factory(), True
        value = compute_point(store, label, point, keys, evaluate)
        store.save_point(label, point, sig, value)
        out.append(value)
    return out


def evaluator_factory_for(store: RunStore) -> Callable[[], Callable[[dict], dict]]:
    """Rebuild the run's task evaluator from its stored spec (dataset is loaded lazily)."""

    def factory() -> Callable[[dict], dict]:
        from bench.execute.plan import build_dataset, build_task

        plan_meta = store.get_meta("plan")
        dataset = build_dataset(plan_meta["dataset"])
        task = build_task(plan_meta["task"])
        return task.evaluator(dataset).evaluate

    return factory


def metric_directions(store: RunStore) -> dict[str, bool]:
    """metric name -> higher is better, as recorded at run time."""
    return dict(store.get_meta("metric_directions", {}))


def format_points_table(points: list[dict[str, Any]], metrics: list[str] | None = None) -> str:
    """A plain-text table of points (codec, point, bpp, chosen metrics, complete)."""
    if not points:
        return "(no points)"
    if metrics is None:
        metrics = list(points[0]["metrics"])[:6]
    header = ["codec", "point", "bpp"] + metrics + ["complete"]
    rows = []
    for p in points:
        pt = f"{p['point']['kind']}={p['point']['value']}"
        vals = [_fmt(p["metrics"].get(m)) for m in metrics]
        rows.append([p["codec"], pt, _fmt(p["bpp"])] + vals + ["yes" if p["complete"] else "NO"])
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def json_number(v: Any) -> Any:
    """Strict-JSON value: NaN -> None; +-inf -> "inf"/"-inf" (identical images have infinite PSNR)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def show_run(run: str, results_dir: str | Path = "results", as_json: bool = False) -> Any:
    store = open_run(run, results_dir)
    try:
        points = load_points(store, evaluator_factory_for(store))
    finally:
        store.close()
    if as_json:
        return [
            {"codec": p["codec"], "point": p["point"], "bpp": json_number(p["bpp"]),
             "metrics": {k: json_number(v) for k, v in p["metrics"].items()},
             "complete": p["complete"]}
            for p in points
        ]
    return format_points_table(points)
