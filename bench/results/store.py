"""The run store: one SQLite file per run (WAL), the driver its only writer.

Tables: meta (schema version, spec, provenance), plan (which job serves which
curve point), jobs, items (per-item records), predictions (per item and task),
points (computed points, with the signature of the jobs they were computed from).
Each JobResult is committed in one transaction, so a killed run loses at most the
jobs in flight. Bitstreams are files under bitstreams/<job key>/. docs/schema.md
describes every column.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

from bench.errors import StoreError
from bench.results.records import ItemResult, JobResult, Point

STORE_SCHEMA_VERSION = 2
DB_NAME = "run.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan (
    label TEXT NOT NULL, point TEXT NOT NULL, shard INTEGER NOT NULL, job_key TEXT NOT NULL,
    ord INTEGER NOT NULL, PRIMARY KEY (label, point, shard));
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY, label TEXT, codec TEXT, point TEXT, item_ids TEXT, status TEXT,
    error TEXT, command TEXT, stderr TEXT, wall_s REAL, worker TEXT, finished REAL);
CREATE TABLE IF NOT EXISTS items (
    job_key TEXT NOT NULL, item_id TEXT NOT NULL, status TEXT, error TEXT, bits INTEGER,
    pixels INTEGER, layer_bits TEXT, encode_s REAL, decode_s REAL, encode_cpu_s REAL,
    decode_cpu_s REAL, task_s REAL, device TEXT, timing TEXT, warmup INTEGER,
    PRIMARY KEY (job_key, item_id));
CREATE TABLE IF NOT EXISTS predictions (
    job_key TEXT NOT NULL, item_id TEXT NOT NULL, task TEXT NOT NULL, value TEXT,
    PRIMARY KEY (job_key, item_id, task));
CREATE TABLE IF NOT EXISTS points (
    label TEXT NOT NULL, point TEXT NOT NULL, signature TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (label, point));
"""


def point_text(point: dict[str, Any]) -> str:
    """Canonical text of a RatePoint dict (used as a key in plan and points)."""
    return json.dumps(point, sort_keys=True, separators=(",", ":"))


class RunStore:
    """Read and write one run's results/<run>/ folder."""

    def __init__(self, run_dir: str | Path, create: bool = False):
        self.dir = Path(run_dir)
        self.db_path = self.dir / DB_NAME
        if not self.db_path.is_file():
            if not create:
                raise StoreError(
                    f"no run store at {str(self.db_path)!r}; run `icm-bench run SPEC` first, "
                    "or give the path of a results/<run> folder"
                )
            self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.con = sqlite3.connect(self.db_path, timeout=30)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            self.con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"run store {str(self.db_path)!r} is not readable: {exc}") from exc
        self._check_schema(create)

    def _check_schema(self, create: bool) -> None:
        found = self.get_meta("schema_version")
        if found is None:
            if create:
                self.set_meta("schema_version", STORE_SCHEMA_VERSION)
            return
        if int(found) != STORE_SCHEMA_VERSION:
            raise StoreError(
                f"run store {str(self.db_path)!r} has schema version {found}, this icm-bench "
                f"reads {STORE_SCHEMA_VERSION}: re-run the spec into a new results folder "
                "(or delete this one: `icm-bench run` then computes everything again)"
            )

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------ meta

    def set_meta(self, key: str, value: Any) -> None:
        with self.con:
            self.con.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # ------------------------------------------------------------ plan and jobs

    def write_plan(self, rows: list[tuple[str, dict[str, Any], int, str]]) -> None:
        """Replace the plan: (label, point dict, shard, job key) in display order."""
        with self.con:
            self.con.execute("DELETE FROM plan")
            self.con.executemany(
                "INSERT INTO plan (label, point, shard, job_key, ord) VALUES (?, ?, ?, ?, ?)",
                [(lbl, point_text(pt), sh, key, i) for i, (lbl, pt, sh, key) in enumerate(rows)],
            )

    def plan(self) -> list[tuple[str, str, int, str]]:
        return list(
            self.con.execute("SELECT label, point, shard, job_key FROM plan ORDER BY ord")
        )

    def done_keys(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT key FROM jobs WHERE status = 'ok'")}

    def job_statuses(self, keys: list[str] | None = None) -> dict[str, str]:
        rows = self.con.execute("SELECT key, status FROM jobs").fetchall()
        wanted = set(keys) if keys is not None else None
        return {k: s for k, s in rows if wanted is None or k in wanted}

    def save_job(self, result: JobResult, label: str, codec: dict, point: dict, item_ids: list[str]) -> None:
        """Store one job's result, its items, predictions and bitstreams in one transaction."""
        for item in result.items:
            for name, data in item.bitstreams.items():
                path = self.bitstream_path(result.key, item.item_id, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        with self.con:
            self.con.execute("DELETE FROM items WHERE job_key = ?", (result.key,))
            self.con.execute("DELETE FROM predictions WHERE job_key = ?", (result.key,))
            self.con.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result.key, label, json.dumps(codec), point_text(point), json.dumps(item_ids),
                    result.status, result.error, result.command, result.stderr, result.wall_s,
                    result.worker, time.time(),
                ),
            )
            self.con.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        result.key, it.item_id, it.status, it.error, it.bits, it.pixels,
                        json.dumps(it.layer_bits), it.encode_s, it.decode_s, it.encode_cpu_s,
                        it.decode_cpu_s, it.task_s, it.device, json.dumps(it.timing),
                        int(it.warmup),
                    )
                    for it in result.items
                ],
            )
            self.con.executemany(
                "INSERT INTO predictions VALUES (?, ?, ?, ?)",
                [
                    (result.key, it.item_id, task, json.dumps(value))
                    for it in result.items if it.status == "ok"
                    for task, value in it.predictions.items()
                ],
            )

    def bitstream_path(self, job_key: str, item_id: str, name: str) -> Path:
        safe = name.replace("/", "_")
        return self.dir / "bitstreams" / job_key / f"{item_id}.{safe}.bin"

    def bitstream_files(self, job_key: str) -> list[Path]:
        folder = self.dir / "bitstreams" / job_key
        return sorted(folder.glob("*.bin")) if folder.is_dir() else []

    def job(self, key: str) -> dict[str, Any] | None:
        cur = self.con.execute("SELECT * FROM jobs WHERE key = ?", (key,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row))

    def items(self, job_keys: list[str]) -> Iterator[ItemResult]:
        """The per-item records of these jobs (without predictions and bitstreams)."""
        for key in job_keys:
            cur = self.con.execute("SELECT * FROM items WHERE job_key = ?", (key,))
            cols = [d[0] for d in cur.description]
            for row in cur:
                rec = dict(zip(cols, row))
                rec.pop("job_key")
                rec["layer_bits"] = json.loads(rec["layer_bits"] or "{}")
                rec["timing"] = json.loads(rec["timing"] or "{}")
                rec["warmup"] = bool(rec["warmup"])
                yield ItemResult.from_json(rec)

    def predictions(self, job_keys: list[str], task: str) -> dict[str, Any]:
        """item id -> one task's predictions, over these jobs."""
        out: dict[str, Any] = {}
        for key in job_keys:
            for item_id, value in self.con.execute(
                "SELECT item_id, value FROM predictions WHERE job_key = ? AND task = ?",
                (key, task),
            ):
                out[item_id] = json.loads(value)
        return out

    # ------------------------------------------------------------ points cache

    def stored_point(self, label: str, point: str) -> tuple[str, Point] | None:
        """(signature, point) as last computed, or None."""
        row = self.con.execute(
            "SELECT signature, value FROM points WHERE label = ? AND point = ?", (label, point)
        ).fetchone()
        return (row[0], Point.from_json(json.loads(row[1]))) if row else None

    def save_point(self, label: str, point: str, signature: str, value: Point) -> None:
        with self.con:
            self.con.execute(
                "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)",
                (label, point, signature, json.dumps(value.to_json())),
            )

    # ------------------------------------------------------------ whole-run queries (one each)

    def job_states(self) -> dict[str, tuple[str, float]]:
        """job key -> (status, finished Unix time) of every stored job."""
        rows = self.con.execute("SELECT key, status, finished FROM jobs")
        return {key: (status, finished) for key, status, finished in rows}

    def point_rows(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(label, point text) -> (signature, Point JSON text) of every computed point."""
        rows = self.con.execute("SELECT label, point, signature, value FROM points")
        return {(label, point): (sig, value) for label, point, sig, value in rows}

    def meta_texts(self) -> dict[str, str]:
        """meta key -> its JSON text, for every entry."""
        return dict(self.con.execute("SELECT key, value FROM meta"))


def open_run(run: str | Path, results_dir: str | Path = "results") -> RunStore:
    """A run by name (results/<name>) or by folder path."""
    path = Path(run)
    if (path / DB_NAME).is_file():
        return RunStore(path)
    return RunStore(Path(results_dir) / str(run))
