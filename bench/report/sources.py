"""What a report is made of: runs (stores or exported curves files) turned into curves.

A report may show several runs at once (this week's against last week's): each codec
of each run is one `Curve`; with more than one run its label carries the run's name.
BD tables compare against the spec's `anchor` and `anchors` only (`bd_anchor`); a curve
is drawn as an anchor (dashed) when it is one of those, came from an anchor definition
(``include:`` of anchors/<name>.yaml), or is a VTM codec. The identity codec is the
uncompressed reference, drawn as a horizontal line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.results.curves import is_curves_file, load_curves
from bench.results.points import grouped_plan, load_points, missing_points
from bench.results.records import Point, Timing
from bench.results.store import RunStore, open_run
from bench.types import RatePoint

UNCOMPRESSED_TYPES = ("identity",)
ANCHOR_TYPE_PREFIXES = ("vtm",)


@dataclass
class TimingRow:
    """Per codec: seconds per image over every coded item of every rate point."""

    codec: str
    n_items: int
    encode_s: dict[str, float]
    decode_s: dict[str, float]
    device: str
    encode_gpu_ms: dict[str, float] = field(default_factory=dict)
    decode_gpu_ms: dict[str, float] = field(default_factory=dict)
    warmup_items: int = 0
    detail: dict[str, dict[str, float]] = field(default_factory=dict)  # transform / entropy s
    parameters: tuple[int, int] | None = None  # (fewest, most) network parameters over points


@dataclass
class RunData:
    """One run as a report needs it."""

    name: str
    source: str
    spec: dict[str, Any]
    plan: dict[str, Any]
    provenance: dict[str, Any]
    points: list[Point]
    directions: dict[str, bool]
    timing: list[TimingRow] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # metric -> unit, as the evaluator declared
    missing: list[str] = field(default_factory=list)  # planned points never computed
    bootstrap: dict[str, Any] | None = None  # the store's "bd_bootstrap" (analysis.bootstrap)

    @property
    def anchor(self) -> str | None:
        return self.spec.get("anchor")

    @property
    def anchors(self) -> list[str]:
        """The curves BD tables compare against: the spec's `anchor`, then `anchors`."""
        names = ([self.anchor] if self.anchor else []) + list(self.spec.get("anchors") or [])
        return list(dict.fromkeys(names))

    @property
    def comparability(self) -> tuple:
        """Runs with equal keys may have their curves BD-compared with each other."""
        tasks = self.plan.get("tasks") or []
        return (self.plan.get("fingerprint"),
                tuple((t.get("name"), t.get("version"), t.get("weights_hash")) for t in tasks))

    @property
    def dataset_name(self) -> str:
        ds = self.spec.get("dataset") or {}
        planned = self.plan.get("dataset") or {}
        return str(ds.get("manifest") or ds.get("type") or planned.get("type") or "dataset")


@dataclass
class Curve:
    """One codec of one run: its points (dicts as `load_points` gives them)."""

    label: str
    codec: str
    run: str
    run_index: int
    type: str | None
    anchor: bool
    uncompressed: bool
    points: list[Point]
    params: dict[str, Any] = field(default_factory=dict)
    bd_anchor: bool = False  # BD tables compare the other curves against this one

    @property
    def complete(self) -> bool:
        return all(p.complete for p in self.points)


def _stats(values: list[float]) -> dict[str, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"median": math.nan, "mean": math.nan, "p90": math.nan}
    arr = np.asarray(vals, dtype=float)
    return {"median": float(np.median(arr)), "mean": float(arr.mean()),
            "p90": float(np.percentile(arr, 90))}


def timing_rows(store: RunStore) -> list[TimingRow]:
    """Encode and decode seconds per image of each codec, from the per-item records."""
    keys_by_codec: dict[str, list[str]] = {}
    for (label, _point), keys in grouped_plan(store).items():
        bucket = keys_by_codec.setdefault(label, [])
        bucket.extend(k for k in keys if k not in bucket)
    rows = []
    for label, keys in keys_by_codec.items():
        items = [it for it in store.items(keys) if it.status == "ok"]
        timed = [it for it in items if not it.warmup]
        devices = sorted({it.device for it in items if it.device})
        rows.append(TimingRow(
            label, len(timed), _stats([it.encode_s for it in timed]),
            _stats([it.decode_s for it in timed]), ",".join(devices),
            _stats([it.timing.get("encode_gpu_ms") for it in timed]),
            _stats([it.timing.get("decode_gpu_ms") for it in timed]),
            len(items) - len(timed), _detail(timed), _parameters(items)))
    return rows


def _parameters(items: list[Any]) -> tuple[int, int] | None:
    """(fewest, most) parameters of a learned codec's networks over its items; None otherwise."""
    counts = [int(it.timing["parameters"]) for it in items if it.timing.get("parameters")]
    return (min(counts), max(counts)) if counts else None


DETAIL_KEYS = ("encode_transform_s", "encode_entropy_s", "decode_transform_s", "decode_entropy_s")


def _detail(items: list[Any]) -> dict[str, dict[str, float]]:
    """Statistics of the transform / entropy-coding split a learned codec reports."""
    out = {}
    for key in DETAIL_KEYS:
        values = [it.timing.get(key) for it in items if it.timing.get(key) is not None]
        if values:
            out[key] = _stats(values)
    return out


def run_data_from_store(store: RunStore, points: list[Point] | None = None) -> RunData:
    """A run store's spec, plan, provenance, computed points and timing (never evaluates)."""
    if points is None:
        points = load_points(store)
    spec = store.get_meta("spec") or {}
    return RunData(
        name=str(spec.get("name") or store.get_meta("run_name") or store.dir.name),
        source=str(store.dir),
        spec=spec,
        plan=store.get_meta("plan") or {},
        provenance=store.get_meta("provenance") or {},
        points=points,
        directions=dict(store.get_meta("metric_directions", {}) or {}),
        timing=timing_rows(store),
        units=dict(store.get_meta("metric_units", {}) or {}),
        missing=missing_points(store),
        bootstrap=store.get_meta("bd_bootstrap"),
    )


def run_data_from_curves(path: str | Path) -> RunData:
    """An exported curves file as a run without timing or provenance beyond its commit."""
    data = load_curves(path)
    points = []
    for label, entry in data["codecs"].items():
        for p in entry["points"]:
            points.append(Point(codec=label, point=RatePoint.from_dict(p["point"]), bpp=p["bpp"],
                                rates=p["rates"], metrics=p["metrics"],
                                metric_rates=p["metric_rates"], complete=p["complete"],
                                timing=Timing()))
    spec = {"name": data.get("run"), "anchor": data.get("anchor"),
            "anchors": data.get("anchors"), "bd": data.get("bd") or {},
            "dataset": data.get("dataset") or {},
            "codecs": [{"name": k, "include": v.get("include")} for k, v in data["codecs"].items()]}
    plan = {"fingerprint": data.get("dataset_fingerprint"), "tasks": data.get("tasks") or [],
            "dataset": data.get("dataset"), "n_items": data.get("n_items"),
            "codecs": {k: {f: v.get(f) for f in ("type", "version", "params", "point_kind")}
                       for k, v in data["codecs"].items()}}
    return RunData(
        name=str(data.get("run") or Path(path).stem), source=str(path), spec=spec, plan=plan,
        provenance={"git": data.get("git"), "exported": data.get("created")}, points=points,
        directions=dict(data.get("metric_directions") or {}),
        units=dict(data.get("metric_units") or {}),
    )


def load_run_data(source: str | Path, results_dir: str | Path = "results") -> RunData:
    """A run (name or results folder) or an exported curves file."""
    if is_curves_file(source):
        return run_data_from_curves(source)
    store = open_run(str(source), results_dir)
    try:
        return run_data_from_store(store)
    finally:
        store.close()


def _unique_names(runs: list[RunData]) -> list[str]:
    names, seen = [], {}
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
        names.append(run.name if seen[run.name] == 1 else f"{run.name}#{seen[run.name]}")
    return names


def is_anchor(run: RunData, codec: str) -> bool:
    """Drawn as an anchor: the spec's anchors, a codec from an anchor definition, or VTM."""
    if codec in run.anchors:
        return True
    for c in run.spec.get("codecs") or []:
        if c.get("name") == codec and c.get("include"):
            return True
    ctype = str(((run.plan.get("codecs") or {}).get(codec) or {}).get("type") or "")
    return ctype.startswith(ANCHOR_TYPE_PREFIXES)


def scale_groups(curves: list[Curve]) -> list[list[Curve]]:
    """Curves of one run and codec type that differ only in their resolution `scale`
    (the VCM anchor's 100/75/50/25 % curves): groups of two or more."""
    groups: dict[tuple, list[Curve]] = {}
    for c in curves:
        if c.uncompressed or "scale" not in c.params:
            continue
        rest = tuple(sorted((k, repr(v)) for k, v in c.params.items() if k != "scale"))
        groups.setdefault((c.run_index, c.type, rest), []).append(c)
    return [g for g in groups.values() if len({c.params["scale"] for c in g}) > 1]


def build_curves(runs: list[RunData]) -> list[Curve]:
    """Every codec of every run, in run then plan order."""
    multi = len(runs) > 1
    curves = []
    for index, (run, name) in enumerate(zip(runs, _unique_names(runs))):
        by_codec: dict[str, list[Point]] = {}
        for p in run.points:
            by_codec.setdefault(p.codec, []).append(p)
        for codec, points in by_codec.items():
            desc = (run.plan.get("codecs") or {}).get(codec) or {}
            ctype = desc.get("type")
            curves.append(Curve(
                label=f"{codec} [{name}]" if multi else codec, codec=codec, run=name,
                run_index=index, type=ctype, anchor=is_anchor(run, codec),
                uncompressed=ctype in UNCOMPRESSED_TYPES, points=points,
                params=dict(desc.get("params") or {}), bd_anchor=codec in run.anchors,
            ))
    return curves
