"""The run store: one SQLite file per run (WAL), the driver its only writer.

Tables: meta (schema version, spec, provenance), plan (which job serves which
curve point), jobs, items (per-item records), predictions (per item and task),
points (computed points, with the signature of the jobs they were computed from).
Each JobResult is committed in one transaction, so a killed run loses at most the
jobs in flight. Bitstreams are files under bitstreams/<job key>/. docs/schema.md
describes every column.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import StoreError
from bench.results.records import ItemResult, JobResult, Point

STORE_SCHEMA_VERSION = 2
DB_NAME = "run.sqlite"
LOCK_NAME = "run.lock"

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


def safe_name(text: str) -> str:
    """`text` as one file-name component: separators -> "_", no leading dot."""
    out = str(text).replace("/", "_").replace("\\", "_").replace("\0", "_")
    return "_" + out[1:] if out.startswith(".") else (out or "_")


def point_text(point: dict[str, Any]) -> str:
    """Canonical text of a RatePoint dict (used as a key in plan and points)."""
    return json.dumps(point, sort_keys=True, separators=(",", ":"))


class RunStore:
    """Read and write one run's results/<run>/ folder.

    `readonly` opens the database with SQLite's mode=ro (no write, no WAL file created),
    falling back to immutable=1 when the folder itself cannot be written (a read-only
    copy of a finished run): `show`, `report`, `export` and `compare` open stores so.
    Every OS or SQLite failure to write (disk full, read-only folder, permissions)
    becomes a StoreError naming the path and what to do; finished jobs stay stored.
    """

    def __init__(self, run_dir: str | Path, create: bool = False, readonly: bool = False):
        self.dir = Path(run_dir)
        self.db_path = self.dir / DB_NAME
        self.readonly = readonly
        if not self.db_path.is_file():
            if not create or readonly:
                raise StoreError(
                    f"no run store at {str(self.db_path)!r}; run `icm-bench run SPEC` first, "
                    "or give the path of a results/<run> folder"
                )
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(exc, self.dir) from None
        try:
            self.con = _connect_readonly(self.db_path) if readonly else self._connect_rw()
        except sqlite3.DatabaseError as exc:
            raise self._db_error(exc, "open") from None
        self._check_schema(create)

    def _connect_rw(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(_SCHEMA)
        except BaseException:
            con.close()
            raise
        return con

    def _db_error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        """A one-line StoreError for a SQLite failure: which file, why, what to do."""
        text = str(exc)
        low = text.lower()
        path = str(self.db_path)
        if "disk is full" in low or "disk i/o" in low:
            hint = (f"free space on the disk holding {str(self.dir)!r}, then re-run the same "
                    "spec: finished jobs are stored and are not run again")
        elif "readonly" in low or "read-only" in low or "unable to open" in low:
            hint = ("make the folder and its files writable, or give another --results-dir "
                    "(`icm-bench show` reads a read-only store)")
        elif "locked" in low or "busy" in low:
            hint = "another process holds the store; wait for it and re-run"
        else:
            hint = ("it is not a readable run store (corrupt or truncated?); move it aside and "
                    "re-run the spec into a new folder")
        return StoreError(f"cannot {doing} the run store {path!r}: {text}; {hint}")

    @contextlib.contextmanager
    def _writing(self, doing: str, path: Path | None = None) -> Iterator[None]:
        """Turn a failed write (SQLite or OS) into a one-line StoreError."""
        if self.readonly:
            raise StoreError(f"run store {str(self.db_path)!r} was opened read-only; cannot {doing}")
        try:
            yield
        except sqlite3.Error as exc:
            raise self._db_error(exc, doing) from None
        except OSError as exc:
            raise write_error(exc, path or self.dir) from None

    def _check_schema(self, create: bool) -> None:
        try:
            found = self.get_meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise self._db_error(exc, "read") from None
        if found is None:
            if create and not self.readonly:
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
        with self._writing("write to"), self.con:
            self.con.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # ------------------------------------------------------------ plan and jobs

    def write_plan(self, rows: list[tuple[str, dict[str, Any], int, str]]) -> None:
        """Replace the plan: (label, point dict, shard, job key) in display order."""
        with self._writing("write the plan to"), self.con:
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
                with self._writing("write a bitstream to", path):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
        with self._writing("store a job in"), self.con:
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
        """results/<run>/bitstreams/<job key>/<item>.<v/layer>.bin, never outside that folder
        (separators and leading dots in an item id or layer name are replaced)."""
        folder = self.dir / "bitstreams" / safe_name(job_key)
        return folder / f"{safe_name(item_id)}.{safe_name(name)}.bin"

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
        with self._writing("store a point in"), self.con:
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


def open_run(run: str | Path, results_dir: str | Path = "results",
             readonly: bool = True) -> RunStore:
    """A run by name (results/<name>) or by folder path; read-only unless asked."""
    path = Path(run)
    if (path / DB_NAME).is_file():
        return RunStore(path, readonly=readonly)
    return RunStore(Path(results_dir) / str(run), readonly=readonly)


def _connect_readonly(db_path: Path) -> sqlite3.Connection:
    """Open without writing anything.

    A finished store (no live writer, no WAL content) is read as an immutable file:
    nothing is created next to it, so a read-only folder or file system works. While a
    run writes it (its lock is held), or when a killed run left committed transactions
    in the WAL, mode=ro reads them (SQLite may then add its -shm index file).
    """
    uri = db_path.resolve().as_uri()
    wal = db_path.with_name(db_path.name + "-wal")
    live = _lock_held(db_path.parent / LOCK_NAME)
    has_wal = wal.is_file() and wal.stat().st_size > 0
    modes = ["mode=ro", "mode=ro&immutable=1"] if live or has_wal else ["mode=ro&immutable=1"]
    for i, mode in enumerate(modes):
        con = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=30)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con
        except sqlite3.OperationalError:
            con.close()
            if i == len(modes) - 1:
                raise
    raise AssertionError("unreachable")


def _lock_held(path: Path) -> bool:
    """Whether another process holds the run lock (a run is writing this store now)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # drops our shared lock too
    return False


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space, then re-run the same spec (finished jobs "
                  "are stored and are not run again)",
    errno.EDQUOT: "the disk quota is exceeded: free space, then re-run the same spec",
    errno.EROFS: "the file system is read-only: give a writable --results-dir",
    errno.EACCES: "permission denied: make it writable (chmod) or give another --results-dir",
    errno.EPERM: "permission denied: make it writable (chmod) or give another --results-dir",
}


def write_error(exc: OSError, path: Path | str) -> StoreError:
    """A one-line StoreError for an OS error while writing under a run folder."""
    where = exc.filename or path
    hint = _OS_HINTS.get(exc.errno or 0, "check the path and the disk, then re-run the spec")
    return StoreError(f"cannot write {str(where)!r}: {exc.strerror or exc}; {hint}")


class RunLock:
    """An exclusive lock on a run folder (results/<run>/run.lock) while a run writes it.

    A second `icm-bench run` of the same spec stops at once with a message naming the
    process that holds the lock (pid, host, start time). The lock is an flock(2): it is
    released when that process ends, even by kill -9, so a stale file never blocks.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_error(exc, self.path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise StoreError(
                f"run folder {str(self.path.parent)!r} is in use by another icm-bench run "
                f"({holder}); wait for it to finish (or stop it), then re-run: finished jobs "
                "are not run again") from None
        stamp = (f"pid {os.getpid()} on host {socket.gethostname()}, since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        os.ftruncate(fd, 0)
        os.pwrite(fd, stamp.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
