"""A run's report is rendered again only when what it shows has changed.

The stamp is a hash of everything the report of one run store is made from: the meta
entries (spec, plan, metric directions and units, provenance without its clock time),
the plan rows, every job's state, the computed points, the report formats, the store's
folder, and the code that renders it (the report, analysis and results packages, by file
size and modification time). It is written next to the report once rendering finished;
a rerun whose stamp matches returns the existing report without importing matplotlib.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.results.store import RunStore

STAMP_FILE = ".report-stamp.json"
STAMP_VERSION = 1
_CODE_PACKAGES = ("report", "analysis", "results")
_VOLATILE_PROVENANCE = ("time",)


def _code_state() -> list[tuple[str, int, int]]:
    """(file, size, mtime in ns) of the code that renders reports."""
    root = Path(__file__).resolve().parents[1]
    state = []
    for package in _CODE_PACKAGES:
        folder = root / package
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.endswith(".py"):
                st = entry.stat()
                state.append((f"{package}/{entry.name}", st.st_size, st.st_mtime_ns))
    return state


def _meta_state(store: RunStore) -> dict[str, Any]:
    meta = store.meta_texts()
    if "provenance" in meta:
        provenance = json.loads(meta["provenance"]) or {}
        for key in _VOLATILE_PROVENANCE:
            provenance.pop(key, None)
        meta["provenance"] = json.dumps(provenance, sort_keys=True)
    return meta


def report_stamp(store: RunStore, formats: list[str] | tuple[str, ...] | str | None) -> str:
    """The hash of a run report's inputs (see the module doc)."""
    from bench import __version__

    state = {
        "version": STAMP_VERSION,
        "icm_bench": __version__,
        "store": str(store.dir.resolve()),
        "formats": formats if isinstance(formats, (str, type(None))) else list(formats),
        "meta": _meta_state(store),
        "plan": store.plan(),
        "jobs": sorted((k, s, f) for k, (s, f) in store.job_states().items()),
        "points": sorted((lbl, pt, sig, val) for (lbl, pt), (sig, val) in store.point_rows().items()),
        "code": _code_state(),
    }
    text = json.dumps(state, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def current_report(report_dir: str | Path, stamp: str) -> Path | None:
    """The report written for `stamp`, if it is there; None means render it."""
    path = Path(report_dir) / STAMP_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("stamp") != stamp:
        return None
    result = Path(report_dir) / str(saved.get("result") or "")
    return result if saved.get("result") is not None and result.exists() else None


def save_stamp(report_dir: str | Path, stamp: str, result: Path) -> None:
    """Record that the report in `report_dir` (its main file `result`) matches `stamp`."""
    folder = Path(report_dir)
    rel = os.path.relpath(Path(result).resolve(), folder.resolve())
    tmp = folder / (STAMP_FILE + ".tmp")
    tmp.write_text(json.dumps({"stamp": stamp, "result": rel}))
    os.replace(tmp, folder / STAMP_FILE)


def clear_stamp(report_dir: str | Path) -> None:
    """Forget the stamp (before rendering: a render that fails half-way is not current)."""
    try:
        (Path(report_dir) / STAMP_FILE).unlink()
    except FileNotFoundError:
        pass


def report_if_changed(store: RunStore, report_dir: str | Path,
                      formats: list[str] | tuple[str, ...] | str | None,
                      render: Callable[[], Path]) -> Path:
    """The run's report: the existing one when its inputs are unchanged, else `render()`.

    `render` writes the report into `report_dir` and returns its main file (the runner
    passes a function that imports the report package only when called).
    """
    stamp = report_stamp(store, formats)
    existing = current_report(report_dir, stamp)
    if existing is not None:
        return existing
    clear_stamp(report_dir)
    result = render()
    save_stamp(report_dir, stamp, result)
    return result
