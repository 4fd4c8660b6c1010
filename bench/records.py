"""Tabular exports of a run: per-item records and points, as CSV or Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.store import RunStore


def records_frame(store: RunStore) -> Any:
    """One row per planned item: which curve and point it served, its rate, timing, quality."""
    import pandas as pd

    rows = []
    for label, point_text, shard, key in store.plan():
        point = json.loads(point_text)
        for rec in store.items([key]):
            row = {"codec": label, "point_kind": point["kind"], "point": point["value"],
                   "shard": shard, "job_key": key}
            row.update({k: rec[k] for k in (
                "item_id", "status", "error", "bits", "pixels", "encode_s", "decode_s",
                "encode_cpu_s", "decode_cpu_s", "task_s", "device")})
            row["bpp"] = rec["bits"] / rec["pixels"] if rec["pixels"] else float("nan")
            row.update({f"bits/{k}": v for k, v in rec["layer_bits"].items()})
            row.update(rec["quality"])
            rows.append(row)
    return pd.DataFrame(rows)


def points_frame(points: list[dict[str, Any]]) -> Any:
    """One row per point: bpp, counts, completeness, every metric, timing medians."""
    import pandas as pd

    rows = []
    for p in points:
        row = {"codec": p["codec"], "point_kind": p["point"]["kind"], "point": p["point"]["value"],
               "bpp": p["bpp"], "bits": p["bits"], "pixels": p["pixels"], "n_items": p["n_items"],
               "n_failed": p["n_failed"], "complete": p["complete"]}
        row.update({f"bpp/{k}": v for k, v in p.get("layers_bpp", {}).items()})
        row.update(p["metrics"])
        for what in ("encode_s", "decode_s", "task_s"):
            row[f"{what}_median"] = p["timing"][what]["median"]
        row["device"] = p["timing"]["device"]
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
    from bench.execute.points import evaluator_factory_for, load_points
    from bench.store import open_run

    if records is None and points is None:
        return []
    store = open_run(run, results_dir)
    written = []
    try:
        if records is not None:
            written.append(("records", write_table(records_frame(store), records)))
        if points is not None:
            pts = load_points(store, evaluator_factory_for(store))
            written.append(("points", write_table(points_frame(pts), points)))
    finally:
        store.close()
    return written
