"""Job and JobResult: plain data that crosses process and network boundaries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Bump when what run_job records per item changes: old results then re-run.
RECORD_VERSION = 1


def stable_hash(obj: Any, n: int = 20) -> str:
    """SHA-256 of the canonical JSON of `obj`, shortened to n hex characters."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


@dataclass
class Job:
    """One codec x one rate point x one shard of items. Plain data only."""

    key: str
    label: str
    codec: dict[str, Any]  # {"type", "params", "version", "domain"}
    point: dict[str, Any]  # RatePoint.to_dict()
    dataset: dict[str, Any]  # {"type", "params"}
    item_ids: list[str]
    task: dict[str, Any]  # {"type", "params", "version", "weights_hash"}
    split: str | None = None
    shard: int = 0
    keep_bitstreams: bool = True
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ItemResult:
    """What one item of a job produced."""

    item_id: str
    status: str = "ok"  # "ok" | "failed"
    error: str = ""
    bits: int = 0
    pixels: int = 0
    layer_bits: dict[str, int] = field(default_factory=dict)
    encode_s: float = 0.0
    decode_s: float = 0.0
    encode_cpu_s: float = 0.0
    decode_cpu_s: float = 0.0
    task_s: float = 0.0
    device: str = "cpu"
    quality: dict[str, float] = field(default_factory=dict)
    predictions: Any = None
    bitstreams: dict[str, bytes] = field(default_factory=dict)  # "<view>/<layer>" -> bytes


@dataclass
class JobResult:
    key: str
    status: str  # "ok" | "failed"
    items: list[ItemResult]
    error: str = ""
    command: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    worker: str = ""


def job_key(
    codec: dict[str, Any],
    point: dict[str, Any],
    dataset_fingerprint: str,
    item_ids: list[str],
    task: dict[str, Any],
    split: str | None,
) -> str:
    """Hash of everything that determines a job's output (DESIGN.md, Store)."""
    return stable_hash(
        {
            "record_version": RECORD_VERSION,
            "codec": {k: codec.get(k) for k in ("type", "params", "version")},
            "point": point,
            "dataset": dataset_fingerprint,
            "items": item_ids,
            "task": {k: task.get(k) for k in ("type", "params", "version", "weights_hash")},
            "split": split,
        },
        n=32,
    )
