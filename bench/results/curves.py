"""The exported curves file: a small, schema-versioned JSON of a run's curves.

It is what CI commits as a baseline and what `icm-bench compare` reads. Fields:

- ``schema_version``: CURVES_SCHEMA_VERSION; checked on load.
- ``run``: the run's name. ``created``: when the file was written (ISO 8601).
- ``dataset_fingerprint``, ``dataset`` ({type, params}), ``n_items``: what was coded.
- ``tasks``: [{name, type, version, weights_hash, target, layers}] of the task networks
  that were scored (schema 1 had one ``task``: {name, version, weights_hash}).
- ``anchor``: the spec's anchor label (or null); ``anchors``: its extra anchors list;
  ``bd``: {method, monotonic, metrics}; ``metric_units``: metric -> the evaluator's unit
  (values are stored in it, e.g. COCO AP as "fraction 0..1").
- ``codecs``: label -> {type, version, params, point_kind, layers, include, points}; each
  point is {point: {kind, value}, bpp, rates: {"bpp": .., "bpp/<layer>": ..},
  metrics: {name: value}, metric_rates: {metric: rate key}, complete}. A metric is
  plotted and BD-compared against the rate its `metric_rates` entry names (all layers
  when absent).
- ``metric_directions``: metric -> higher is better.
- ``git``: the commit (and dirty flag) of the code that produced the run.

Non-finite numbers are written as strict JSON: NaN as null, +-infinity as "inf"/"-inf"
(identical images have infinite PSNR); `load_curves` turns them back into floats.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.errors import StoreError
from bench.results.points import load_points
from bench.results.records import Point, json_number, number_from_json
from bench.results.store import RunStore, open_run

CURVES_SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)


def point_entry(p: Point) -> dict[str, Any]:
    """One point as the curves file writes it."""
    return {
        "point": p.point.to_dict(),
        "bpp": json_number(p.bpp),
        "rates": {k: json_number(v) for k, v in p.rates.items()},
        "metrics": {k: json_number(v) for k, v in p.metrics.items()},
        "metric_rates": dict(p.metric_rates),
        "complete": bool(p.complete),
    }


def export_curves(store: RunStore, points: list[Point] | None = None) -> dict[str, Any]:
    """The curves file content of one run (its computed points unless given)."""
    if points is None:
        points = load_points(store, strict=True)
    spec = store.get_meta("spec") or {}
    plan = store.get_meta("plan") or {}
    provenance = store.get_meta("provenance") or {}
    includes = {c.get("name"): c.get("include") for c in spec.get("codecs", [])}
    codecs: dict[str, Any] = {}
    for label, desc in (plan.get("codecs") or {}).items():
        codecs[label] = {
            "type": desc.get("type"),
            "version": desc.get("version"),
            "params": desc.get("params", {}),
            "point_kind": desc.get("point_kind"),
            "layers": desc.get("layers", ["main"]),
            "include": includes.get(label),
            "points": [],
        }
    for p in points:
        entry = codecs.setdefault(p.codec, {"type": None, "version": None, "params": {},
                                            "point_kind": None, "layers": ["main"],
                                            "include": None, "points": []})
        entry["points"].append(point_entry(p))
    tasks = [{k: t.get(k) for k in ("name", "type", "version", "weights_hash", "target", "layers")}
             for t in plan.get("tasks") or []]
    git = provenance.get("git") or {}
    return {
        "schema_version": CURVES_SCHEMA_VERSION,
        "run": spec.get("name") or store.get_meta("run_name") or store.dir.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset_fingerprint": plan.get("fingerprint"),
        "dataset": plan.get("dataset"),
        "n_items": plan.get("n_items"),
        "tasks": tasks,
        "anchor": spec.get("anchor"),
        "anchors": list(spec.get("anchors") or []),
        "bd": {k: (spec.get("bd") or {}).get(k) for k in ("method", "monotonic", "metrics")},
        "codecs": codecs,
        "metric_directions": dict(store.get_meta("metric_directions", {}) or {}),
        "metric_units": dict(store.get_meta("metric_units", {}) or {}),
        "git": {"commit": git.get("commit"), "dirty": git.get("dirty")},
    }


def write_curves(curves: dict[str, Any], path: str | Path) -> Path:
    """Write a curves dict as indented JSON in its own (plan) order, stable for diffs."""
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(curves, indent=1, allow_nan=False) + "\n")
    return path


def export_run(run: str, out: str | Path, results_dir: str | Path = "results") -> Path:
    """`icm-bench export`: a run's curves file at `out`."""
    store = open_run(run, results_dir)
    try:
        curves = export_curves(store)
    finally:
        store.close()
    return write_curves(curves, out)


def load_curves(path: str | Path) -> dict[str, Any]:
    """Read and check a curves file; StoreError says what is wrong and what to do."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise StoreError(f"cannot read curves file {str(path)!r}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise StoreError(f"curves file {str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "schema_version" not in data:
        raise StoreError(
            f"{str(path)!r} is not an icm-bench curves file (no schema_version); "
            "write one with `icm-bench export RUN -o FILE`"
        )
    if data["schema_version"] not in READABLE_VERSIONS:
        raise StoreError(
            f"curves file {str(path)!r} has schema_version {data['schema_version']!r}, this "
            f"icm-bench reads {', '.join(map(str, READABLE_VERSIONS))}: re-export the baseline "
            "run with this version (`icm-bench export RUN -o FILE`)"
        )
    if data["schema_version"] == 1 and isinstance(data.get("task"), dict):
        data["tasks"] = [dict(data.pop("task"), type=None, target=None, layers=None)]
    missing = [k for k in ("dataset_fingerprint", "tasks", "codecs") if k not in data]
    if missing or not isinstance(data["codecs"], dict):
        what = ", ".join(missing) or "a codecs mapping"
        raise StoreError(f"curves file {str(path)!r} lacks {what}")
    for label, entry in data["codecs"].items():
        points = entry.get("points") if isinstance(entry, dict) else None
        if not isinstance(points, list):
            raise StoreError(f"curves file {str(path)!r}: codec {label!r} has no points list")
        for p in points:
            p["bpp"] = number_from_json(p.get("bpp"))
            p["rates"] = {k: number_from_json(v) for k, v in (p.get("rates") or {}).items()}
            p["rates"].setdefault("bpp", p["bpp"])
            p["metrics"] = {k: number_from_json(v) for k, v in (p.get("metrics") or {}).items()}
            p.setdefault("metric_rates", {})
            p.setdefault("complete", True)
    return data


def is_curves_file(source: str | Path) -> bool:
    """True when `source` names a JSON file rather than a run."""
    path = Path(source)
    return path.suffix.lower() == ".json" and path.is_file()


def curves_of(source: str | Path, results_dir: str | Path = "results") -> dict[str, Any]:
    """Curves of a run (name or results folder) or of an exported curves file."""
    if is_curves_file(source):
        return load_curves(source)
    if Path(source).suffix.lower() == ".json":
        raise StoreError(f"curves file {str(source)!r} does not exist")
    store = open_run(str(source), results_dir)
    try:
        return export_curves(store)
    finally:
        store.close()
