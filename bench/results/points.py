"""Points: one codec x one rate point over the whole dataset, computed from the store.

bpp = sum of bits / sum of original pixels (pooled, as MPEG reports it; all views
of a stereo pair counted), for all layers ("bpp") and per layer ("bpp/<layer>").
Each task's metrics are computed once over all predictions of the point and named
`<task>/<metric>`; each metric pairs with the rate of the layers its task scores.

Only the runner computes points (it has the evaluators); `show`, `report`, `export`
and `compare` read them, and a point that was never computed is reported as such.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any, Callable

from bench.errors import StoreError
from bench.results.records import (
    RATE_KEY, CodecDesc, ItemResult, Point, Stats, TaskDesc, Timing, effective_layers, rate_key,
)
from bench.results.store import RunStore
from bench.types import RatePoint

POINTS_VERSION = 2
Evaluate = Callable[[dict[str, Any]], dict[str, float]]


def task_key(task: TaskDesc) -> str:
    """The name predictions are stored under: the task's name, else its type."""
    return task.name or task.type


def grouped_plan(store: RunStore) -> OrderedDict[tuple[str, str], list[str]]:
    """(label, point text) -> job keys, in plan order."""
    groups: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
    for label, point, _shard, key in store.plan():
        groups.setdefault((label, point), []).append(key)
    return groups


def planned_tasks(store: RunStore) -> list[TaskDesc]:
    return [TaskDesc.from_json(t) for t in (store.get_meta("plan") or {}).get("tasks", [])]


def planned_codecs(store: RunStore) -> dict[str, CodecDesc]:
    codecs = (store.get_meta("plan") or {}).get("codecs", {})
    return {label: CodecDesc.from_json(d) for label, d in codecs.items()}


def signature(store: RunStore, keys: list[str]) -> str:
    """What a point was computed from: its jobs' states (a re-run job changes it)."""
    import hashlib

    state = []
    for k in keys:
        row = store.job(k)
        state.append((k, row["status"], row["finished"]) if row else (k, None, None))
    text = json.dumps([POINTS_VERSION, state], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _rates(ok: list[ItemResult], codec: CodecDesc, tasks: list[TaskDesc]) -> dict[str, float]:
    pixels = sum(it.pixels for it in ok)
    if not pixels:
        return {}
    layer_bits: dict[str, int] = {}
    for it in ok:
        for name, b in it.layer_bits.items():
            layer_bits[name] = layer_bits.get(name, 0) + int(b)
    rates = {RATE_KEY: sum(it.bits for it in ok) / pixels}
    if len(layer_bits) > 1:
        rates.update({f"{RATE_KEY}/{k}": v / pixels for k, v in layer_bits.items()})
    for t in tasks:
        layers = effective_layers(t.layers, codec.layers)
        key = rate_key(layers, tuple(codec.layers))
        if key not in rates:
            rates[key] = sum(layer_bits.get(name, 0) for name in layers or ()) / pixels
    return rates


def _timing(ok: list[ItemResult]) -> Timing:
    timed = [it for it in ok if not it.warmup]
    devices = sorted({it.device for it in ok if it.device})
    return Timing(
        encode_s=Stats.of([it.encode_s for it in timed]),
        decode_s=Stats.of([it.decode_s for it in timed]),
        task_s=Stats.of([it.task_s for it in timed]),
        encode_gpu_ms=Stats.of([it.timing.get("encode_gpu_ms") for it in timed]),
        decode_gpu_ms=Stats.of([it.timing.get("decode_gpu_ms") for it in timed]),
        device=",".join(devices), warmup_items=len(ok) - len(timed),
    )


def compute_point(store: RunStore, label: str, point: str, keys: list[str], codec: CodecDesc,
                  tasks: list[TaskDesc], evaluators: dict[str, Evaluate]) -> Point:
    """Aggregate one point's items and run each task's evaluator over its predictions."""
    statuses = store.job_statuses(keys)
    items = list(store.items(keys))
    ok = [it for it in items if it.status == "ok"]
    bits, pixels = sum(it.bits for it in ok), sum(it.pixels for it in ok)
    metrics: dict[str, float] = {}
    metric_rates: dict[str, str] = {}
    for task in tasks:
        preds = store.predictions(keys, task_key(task)) if ok else {}
        evaluate = evaluators.get(task_key(task))
        if not preds or evaluate is None:
            continue
        rate = rate_key(effective_layers(task.layers, codec.layers), tuple(codec.layers))
        for name, value in evaluate(preds).items():
            metrics[task.metric(name)] = value
            metric_rates[task.metric(name)] = rate
    return Point(
        codec=label, point=RatePoint.from_dict(json.loads(point)),
        bpp=bits / pixels if pixels else math.nan, rates=_rates(ok, codec, tasks),
        bits=bits, pixels=pixels,
        bpp_per_image_mean=(sum(it.bits / it.pixels for it in ok) / len(ok)) if ok else math.nan,
        n_items=len(ok), n_failed=len(items) - len(ok),
        n_jobs_missing=sum(1 for k in keys if k not in statuses),
        complete=all(statuses.get(k) == "ok" for k in keys),
        metrics=metrics, metric_rates=metric_rates, timing=_timing(ok),
    )


def compute_points(store: RunStore, evaluators_factory: Callable[[], dict[str, Evaluate]]
                   ) -> list[Point]:
    """Compute (and store) every point whose jobs changed since it was last computed.

    The evaluators are built only if some point needs computing.
    """
    codecs, tasks = planned_codecs(store), planned_tasks(store)
    evaluators: dict[str, Evaluate] | None = None
    out = []
    for (label, point), keys in grouped_plan(store).items():
        sig = signature(store, keys)
        stored = store.stored_point(label, point)
        if stored is not None and stored[0] == sig:
            out.append(stored[1])
            continue
        if evaluators is None:
            evaluators = evaluators_factory()
        value = compute_point(store, label, point, keys, codecs[label], tasks, evaluators)
        store.save_point(label, point, sig, value)
        out.append(value)
    return out


def load_points(store: RunStore, strict: bool = False) -> list[Point]:
    """The run's computed points in plan order (never evaluates anything).

    Points never computed (a run killed before the end) are left out, or with
    `strict` raise StoreError saying to re-run.
    """
    out, missing = [], []
    for (label, point), keys in grouped_plan(store).items():
        stored = store.stored_point(label, point)
        if stored is None:
            missing.append(f"{label} {point}")
            continue
        out.append(stored[1])
    if missing and strict:
        raise StoreError(
            f"run {store.dir.name!r}: {len(missing)} point(s) not computed yet (e.g. "
            f"{missing[0]}); re-run the spec (`icm-bench run SPEC`) to compute them")
    return out


def missing_points(store: RunStore) -> list[str]:
    """'<codec> <point>' of each planned point that has not been computed."""
    return [f"{label} {point}" for (label, point) in grouped_plan(store)
            if store.stored_point(label, point) is None]


def metric_directions(store: RunStore) -> dict[str, bool]:
    """metric name -> higher is better, as recorded at run time."""
    return dict(store.get_meta("metric_directions", {}))
