"""Points: one codec x one rate point over the whole dataset, computed from the store.

bpp = sum of bits / sum of original pixels (pooled, as MPEG reports it; all views
of a stereo pair counted), for all layers ("bpp") and per layer ("bpp/<layer>").
Each task's metrics are computed once over all predictions of the point and named
`<task>/<metric>`; each metric pairs with the rate of the layers its task scores.

Only the runner computes points (it has the evaluators); `show`, `report`, `export`
and `compare` read them, and a point that was never computed is reported as such.

Memory: a point's items are read once, as a stream, into running sums (and the few
numbers per item its timing statistics need); its predictions are loaded one task at a
time, and let go before the next point. A run of any size holds at most one point's
predictions of one task.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.errors import StoreError
from bench.results.records import (
    RATE_KEY,
    CodecDesc,
    ItemResult,
    Point,
    Stats,
    TaskDesc,
    Timing,
    effective_layers,
    rate_key,
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


def signature(store: RunStore, keys: list[str],
              states: dict[str, tuple[str, float]] | None = None) -> str:
    """What a point was computed from: its jobs' states (a re-run job changes it).

    `states` (from `store.job_states()`) saves a query per job when many points are signed.
    """
    import hashlib

    if states is None:
        states = store.job_states()
    state = []
    for k in keys:
        status, finished = states.get(k, (None, None))
        state.append((k, status, finished))
    text = json.dumps([POINTS_VERSION, state], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class _Sums:
    """One pass over a point's items: the sums behind its rates and its timing numbers."""

    n_items: int = 0
    n_ok: int = 0
    bits: int = 0
    pixels: int = 0
    bpp_sum: float = 0.0
    layer_bits: dict[str, int] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    warmup: int = 0
    timed: dict[str, list[float | None]] = field(default_factory=lambda: {
        "encode_s": [], "decode_s": [], "task_s": [], "encode_gpu_ms": [], "decode_gpu_ms": []})

    @classmethod
    def of(cls, items: Iterable[ItemResult]) -> _Sums:
        sums = cls()
        for it in items:
            sums.add(it)
        return sums

    def add(self, it: ItemResult) -> None:
        self.n_items += 1
        if it.status != "ok":
            return
        self.n_ok += 1
        self.bits += it.bits
        self.pixels += it.pixels
        self.bpp_sum += it.bits / it.pixels if it.pixels else math.nan
        for name, b in it.layer_bits.items():
            self.layer_bits[name] = self.layer_bits.get(name, 0) + int(b)
        if it.device:
            self.devices.add(it.device)
        if it.warmup:
            self.warmup += 1
            return
        for key in ("encode_s", "decode_s", "task_s"):
            self.timed[key].append(getattr(it, key))
        for key in ("encode_gpu_ms", "decode_gpu_ms"):
            self.timed[key].append(it.timing.get(key))

    def rates(self, codec: CodecDesc, tasks: list[TaskDesc]) -> dict[str, float]:
        if not self.pixels:
            return {}
        pixels = self.pixels
        rates = {RATE_KEY: self.bits / pixels}
        if len(self.layer_bits) > 1:
            rates.update({f"{RATE_KEY}/{k}": v / pixels for k, v in self.layer_bits.items()})
        for t in tasks:
            layers = effective_layers(t.layers, codec.layers)
            key = rate_key(layers, tuple(codec.layers))
            if key not in rates:
                rates[key] = sum(self.layer_bits.get(name, 0) for name in layers or ()) / pixels
        return rates

    def timing(self) -> Timing:
        return Timing(**{k: Stats.of(v) for k, v in self.timed.items()},
                      device=",".join(sorted(self.devices)), warmup_items=self.warmup)


def _rates(ok: list[ItemResult], codec: CodecDesc, tasks: list[TaskDesc]) -> dict[str, float]:
    return _Sums.of(ok).rates(codec, tasks)


def _timing(ok: list[ItemResult]) -> Timing:
    return _Sums.of(ok).timing()


def compute_point(store: RunStore, label: str, point: str, keys: list[str], codec: CodecDesc,
                  tasks: list[TaskDesc], evaluators: dict[str, Evaluate],
                  states: dict[str, tuple[str, float]] | None = None) -> Point:
    """Aggregate one point's items (streamed) and run each task's evaluator over its
    predictions (one task's at a time)."""
    if states is None:
        states = store.job_states()
    sums = _Sums.of(store.items(keys))
    metrics: dict[str, float] = {}
    metric_rates: dict[str, str] = {}
    for task in tasks:
        evaluate = evaluators.get(task_key(task))
        if not sums.n_ok or evaluate is None:
            continue
        preds = store.predictions(keys, task_key(task))
        if not preds:
            continue
        rate = rate_key(effective_layers(task.layers, codec.layers), tuple(codec.layers))
        for name, value in evaluate(preds).items():
            metrics[task.metric(name)] = value
            metric_rates[task.metric(name)] = rate
        del preds
    return Point(
        codec=label, point=RatePoint.from_dict(json.loads(point)),
        bpp=sums.bits / sums.pixels if sums.pixels else math.nan,
        rates=sums.rates(codec, tasks), bits=sums.bits, pixels=sums.pixels,
        bpp_per_image_mean=sums.bpp_sum / sums.n_ok if sums.n_ok else math.nan,
        n_items=sums.n_ok, n_failed=sums.n_items - sums.n_ok,
        n_jobs_missing=sum(1 for k in keys if k not in states),
        complete=all(states.get(k, (None,))[0] == "ok" for k in keys),
        metrics=metrics, metric_rates=metric_rates, timing=sums.timing(),
    )


def compute_points(store: RunStore, evaluators_factory: Callable[[], dict[str, Evaluate]]
                   ) -> list[Point]:
    """Compute (and store) every point whose jobs changed since it was last computed.

    The evaluators are built only if some point needs computing; a rerun with nothing
    new reads the jobs' states and the stored points in one query each.
    """
    codecs, tasks = planned_codecs(store), planned_tasks(store)
    states = store.job_states()
    stored = store.point_rows()
    evaluators: dict[str, Evaluate] | None = None
    out = []
    for (label, point), keys in grouped_plan(store).items():
        sig = signature(store, keys, states)
        row = stored.get((label, point))
        if row is not None and row[0] == sig:
            out.append(Point.from_json(json.loads(row[1])))
            continue
        if evaluators is None:
            evaluators = evaluators_factory()
        value = compute_point(store, label, point, keys, codecs[label], tasks, evaluators, states)
        store.save_point(label, point, sig, value)
        out.append(value)
    return out


def load_points(store: RunStore, strict: bool = False) -> list[Point]:
    """The run's computed points in plan order (never evaluates anything).

    Points never computed (a run killed before the end) are left out, or with
    `strict` raise StoreError saying to re-run.
    """
    out, missing = [], []
    for label, point in grouped_plan(store):
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
