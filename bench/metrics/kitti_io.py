"""KITTI object label files: reading, writing and checking annotation dicts.

A label line has 15 columns for ground truth and 16 for a detection (the score):
``type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]``, with
the box in image pixels, the dimensions in metres in the order h, w, l, and the
location (the bottom centre of the box) in camera coordinates (x right, y down,
z forward).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DatasetError
from bench.ids import select_ids
from bench.metrics import MetricError

GT_COLUMNS = 15
DT_COLUMNS = 16
GT_KEYS = ("name", "truncated", "occluded", "alpha", "bbox", "dimensions", "location",
           "rotation_y")
_WIDTHS = {"bbox": 4, "dimensions": 3, "location": 3}


def empty_anno(with_score: bool = True) -> dict[str, np.ndarray]:
    """An annotation dict with no objects (a frame with no detections)."""
    anno: dict[str, np.ndarray] = {
        "name": np.zeros(0, dtype=object),
        "truncated": np.zeros(0),
        "occluded": np.zeros(0, dtype=np.int64),
        "alpha": np.zeros(0),
        "bbox": np.zeros((0, 4)),
        "dimensions": np.zeros((0, 3)),
        "location": np.zeros((0, 3)),
        "rotation_y": np.zeros(0),
    }
    if with_score:
        anno["score"] = np.zeros(0)
    return anno


def parse_label_lines(lines: list[str], source: str = "<labels>") -> dict[str, np.ndarray]:
    """Parse KITTI label lines; "score" is present only when the lines have 16 columns."""
    rows = [ln.split() for ln in lines if ln.strip()]
    if not rows:
        return empty_anno(with_score=False)
    widths = {len(r) for r in rows}
    if len(widths) != 1 or widths.pop() not in (GT_COLUMNS, DT_COLUMNS):
        bad = next(i for i, r in enumerate(rows) if len(r) not in (GT_COLUMNS, DT_COLUMNS)
                   or len(r) != len(rows[0]))
        raise DatasetError(
            f"{source}: object line {bad + 1} has {len(rows[bad])} columns; a KITTI label "
            f"line has {GT_COLUMNS} (ground truth) or {DT_COLUMNS} (detection with score), "
            "the same in every line of a file")
    try:
        values = np.array([r[1:] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise DatasetError(f"{source}: a numeric column could not be read ({exc})") from None
    anno = {
        "name": np.array([r[0] for r in rows], dtype=object),
        "truncated": values[:, 0],
        "occluded": values[:, 1].astype(np.int64),
        "alpha": values[:, 2],
        "bbox": values[:, 3:7],
        "dimensions": values[:, 7:10],
        "location": values[:, 10:13],
        "rotation_y": values[:, 13],
    }
    if values.shape[1] == DT_COLUMNS - 1:
        anno["score"] = values[:, 14]
    return anno


def read_label_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read one KITTI label file (ground truth or detections) into arrays."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DatasetError(f"cannot read KITTI label file {str(path)!r}: {exc.strerror}") from None
    return parse_label_lines(text.splitlines(), source=str(path))


def _fmt(value: float) -> str:
    return repr(float(value))


def write_label_file(path: str | Path, anno: dict[str, Any]) -> None:
    """Write an annotation dict as a KITTI label file (16 columns when it has "score")."""
    anno = check_anno(anno, need_score=False, source=str(path))
    with_score = "score" in anno
    lines = []
    for i, name in enumerate(anno["name"]):
        cols = [str(name), _fmt(anno["truncated"][i]), str(int(anno["occluded"][i])),
                _fmt(anno["alpha"][i])]
        cols += [_fmt(v) for v in anno["bbox"][i]]
        cols += [_fmt(v) for v in anno["dimensions"][i]]
        cols += [_fmt(v) for v in anno["location"][i]]
        cols.append(_fmt(anno["rotation_y"][i]))
        if with_score:
            cols.append(_fmt(anno["score"][i]))
        lines.append(" ".join(cols) + "\n")
    Path(path).write_text("".join(lines))


def check_anno(anno: dict[str, Any], need_score: bool, source: str) -> dict[str, np.ndarray]:
    """Validate one annotation dict and return it as numpy arrays of consistent length."""
    if not isinstance(anno, dict):
        raise MetricError(f"{source}: an annotation must be a dict of arrays, got "
                           f"{type(anno).__name__}")
    keys = GT_KEYS + (("score",) if need_score else ())
    missing = [k for k in keys if k not in anno]
    n = len(anno.get("name", ()))
    if need_score and "score" in missing and n == 0:
        missing.remove("score")
    if missing:
        raise MetricError(f"{source}: annotation lacks key(s) {missing}; see "
                           "bench.metrics.kitti_io.empty_anno() for the layout")
    out: dict[str, np.ndarray] = {"name": np.asarray(anno["name"], dtype=object).reshape(-1)}
    for key in GT_KEYS[1:] + ("score",):
        if key not in anno:
            continue
        width = _WIDTHS.get(key)
        try:
            arr = np.asarray(anno[key], dtype=np.int64 if key == "occluded" else np.float64)
            arr = arr.reshape(-1, width) if width else arr.reshape(-1)
        except (TypeError, ValueError) as exc:
            raise MetricError(f"{source}: annotation key {key!r} is not an array of numbers"
                              f"{f' with {width} columns' if width else ''} ({exc})") from None
        if arr.shape[0] != n:
            raise MetricError(f"{source}: annotation key {key!r} has {arr.shape[0]} rows "
                               f"but 'name' has {n}")
        out[key] = arr
    if need_score and "score" not in out:
        out["score"] = np.zeros(0)
    return out


def read_label_dir(directory: str | Path, ids: list[str]) -> list[dict[str, np.ndarray]]:
    """Read ``<directory>/<id>.txt`` for every id, in order."""
    directory = Path(directory)
    missing = [i for i in ids if not (directory / f"{i}.txt").is_file()]
    if missing:
        raise DatasetError(
            f"{len(missing)} label file(s) missing in {str(directory)!r}, e.g. "
            f"{str(directory / (missing[0] + '.txt'))!r}; write an empty file for a frame "
            "with no detections, or pass --ids with the frames you evaluated")
    return [read_label_file(directory / f"{i}.txt") for i in ids]


def label_dir_ids(label_dir: str | Path, ids_file: str | Path | None = None) -> list[str]:
    """The frame ids to evaluate: those in `ids_file`, else every ``*.txt`` in `label_dir`."""
    label_dir = Path(label_dir)
    if not label_dir.is_dir():
        raise DatasetError(f"label directory {str(label_dir)!r} does not exist")
    all_ids = sorted(p.stem for p in label_dir.glob("*.txt"))
    if not all_ids:
        raise DatasetError(f"no KITTI label files (*.txt) in {str(label_dir)!r}")
    return select_ids(all_ids, ids_file=ids_file, source=f"label directory {str(label_dir)!r}")
