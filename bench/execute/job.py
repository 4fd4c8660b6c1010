"""Job: plain data that crosses process and network boundaries, and its key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from bench.results.records import ItemResult, JobResult  # noqa: F401  (what a job returns)

# Bump when what run_job records per item changes: old results then re-run.
RECORD_VERSION = 2


def stable_hash(obj: Any, n: int = 20) -> str:
    """SHA-256 of the canonical JSON of `obj`, shortened to n hex characters."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


@dataclass
class Job:
    """One codec x one rate point x one shard of items, scored by every task. Plain data only."""

    key: str
    label: str
    codec: dict[str, Any]  # CodecDesc.to_json()
    point: dict[str, Any]  # RatePoint.to_dict()
    dataset: dict[str, Any]  # {"type", "params"}
    item_ids: list[str]
    tasks: list[dict[str, Any]]  # TaskDesc.to_json() of each task
    shard: int = 0
    keep_bitstreams: bool = True
    threads: int = 1
    device: str | None = None  # the accelerator this job was given (execute.devices)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def job_key(codec: dict[str, Any], point: dict[str, Any], version: str, dataset_fingerprint: str,
            item_ids: list[str], tasks: list[dict[str, Any]]) -> str:
    """Hash of everything that determines a job's output (DESIGN.md, Store)."""
    task_keys = ("name", "type", "params", "version", "weights_hash", "target", "layers")
    return stable_hash(
        {
            "record_version": RECORD_VERSION,
            "codec": {k: codec.get(k) for k in ("type", "params", "split", "task")},
            "version": version,
            "point": point,
            "dataset": dataset_fingerprint,
            "items": item_ids,
            "tasks": [{k: t.get(k) for k in task_keys} for t in tasks],
        },
        n=32,
    )
