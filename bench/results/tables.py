"""Tabular exports of a run: per-item records and points, as CSV or Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.results.points import planned_tasks, task_key
from bench.results.records import Point
from bench.results.store import RunStore

_ITEM_COLUMNS = ("item_id", "status", "error", "bits", "pixels", "encode_s", "decode_s",
                 "encode_cpu_s", "decode_cpu_s", "task_s", "device", "warmup")


def _per_item_numbers(store: RunStore, key: str) -> dict[str, dict[str, float]]:
    """item id -> the numbers tasks give per item (pixel quality), named as metrics."""
    out: dict[str, dict[str, float]] = {}
    for task in planned_tasks(store):
        for item_id, preds in store.predictions([key], task_key(task)).items():
            if isinstance(preds, dict) and all(isinstance(v, (int, float)) or v is None
                                               for v in preds.values()):
                out.setdefault(item_id, {}).update({task.metric(k): v for k, v in preds.items()})
    return out


def records_frame(store: RunStore) -> Any:
    """One row per planned item: which curve and point it served, its rate, timing, quality."""
    import pandas as pd

    rows = []
    for label, point_text, shard, key in store.plan():
        point = json.loads(point_text)
        numbers = _per_item_numbers(store, key)
        for rec in store.items([key]):
            row = {"codec": label, "point_kind": point["kind"], "point": point["value"],
                   "shard": shard, "job_key": key}
            row.update({k: getattr(rec, k) for k in _ITEM_COLUMNS})
            row["bpp"] = rec.bits / rec.pixels if rec.pixels else float("nan")
            row.update({f"bits/{k}": v for k, v in rec.layer_bits.items()})
            row.update({k: v for k, v in rec.timing.items() if k.endswith("_ms")})
            row.update(numbers.get(rec.item_id, {}))
            rows.append(row)
    return pd.DataFrame(rows)


def points_frame(points: list[Point]) -> Any:
    """One row per point: rates, counts, completeness, every metric, timing medians."""
    import pandas as pd

    rows = []
    for p in points:
        row = {"codec": p.codec, "point_kind": p.point.kind, "point": p.point.value,
               "bpp": p.bpp, "bits": p.bits, "pixels": p.pixels, "n_items": p.n_items,
               "n_failed": p.n_failed, "complete": p.complete}
        row.update({k: v for k, v in p.rates.items() if k != "bpp"})
        row.update(p.metrics)
        for what in ("encode_s", "decode_s", "task_s"):
            row[f"{what}_median"] = getattr(p.timing, what).median
        row["device"] = p.timing.device
        rows.append(row)
    return pd.DataFrame(rows)


def write_table(frame: Any, path: str | Path) -> Path:
    """Write a DataFrame as .csv or .parquet (by the file's suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise BenchError(f"writing {str(path)!r} needs pyarrow: pip install pyarrow") from exc
    else:
        raise BenchError(f"cannot write {str(path)!r}: use a .csv or .parquet file name")
    return path


def export_tables(
    run: str, results_dir: str | Path, records: str | Path | None, points: str | Path | None
) -> list[tuple[str, Path]]:
    """`icm-bench export --records/--points`: write the tables asked for."""
    from bench.results.points import load_points
    from bench.results.store import open_run

    if records is None and points is None:
        return []
    store = open_run(run, results_dir)
    written = []
    try:
        if records is not None:
            written.append(("records", write_table(records_frame(store), records)))
        if points is not None:
            pts = load_points(store, strict=True)
            written.append(("points", write_table(points_frame(pts), points)))
    finally:
        store.close()
    return written
