"""Typed records of everything the harness stores or exports, one to/from JSON each.

docs/schema.md describes every field of these records; keep the two in step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bench.types import RatePoint

RATE_KEY = "bpp"  # the rate of all layers; a subset of layers is "bpp/<layer>[+<layer>...]"


def rate_key(layers: tuple[str, ...] | list[str] | None, all_layers: tuple[str, ...]) -> str:
    """The rate a metric pairs with: all layers -> "bpp", a subset -> "bpp/base[+...]"."""
    if layers is None or tuple(layers) == tuple(all_layers):
        return RATE_KEY
    return RATE_KEY + "/" + "+".join(layers)


def effective_layers(task_layers: list[str] | None, codec_layers: list[str] | tuple[str, ...]
                     ) -> tuple[str, ...] | None:
    """The layers a task scores on one codec: its `layers` when the codec has them all,
    else all layers (None): a task asking for the base layer scores a one-layer codec whole."""
    if task_layers and all(name in codec_layers for name in task_layers):
        return tuple(task_layers)
    return None


def json_number(v: Any) -> Any:
    """Strict-JSON value: NaN -> None; +-inf -> "inf"/"-inf" (identical images: infinite PSNR)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def number_from_json(v: Any) -> Any:
    """Inverse of `json_number`."""
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    if v is None:
        return math.nan
    return v


def _numbers_to_json(d: dict[str, Any]) -> dict[str, Any]:
    return {k: json_number(v) for k, v in d.items()}


def _numbers_from_json(d: dict[str, Any] | None) -> dict[str, Any]:
    return {k: number_from_json(v) for k, v in (d or {}).items()}


@dataclass
class TaskDesc:
    """One task of a run as planned: what scores which decoded output."""

    name: str  # metric prefix ("" keeps bare metric names: the single `task:` form)
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    weights_hash: str = ""
    target: str | None = None  # the codec decode target it scores
    layers: list[str] | None = None  # the layers it scores (None = all)

    def metric(self, name: str) -> str:
        return f"{self.name}/{name}" if self.name else name

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskDesc:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class CodecDesc:
    """One codec of a run as planned (what enters its job keys, and how workers build it)."""

    type: str
    params: dict[str, Any]  # the Config's dump minus runtime fields: enters the job key
    build_params: dict[str, Any]  # what workers construct the codec from
    versions: dict[str, str]  # point label -> version (a learned codec's differ per point)
    input_kind: str = "image"
    output_kind: str = "image"
    point_kind: str = "qp"
    layers: list[str] = field(default_factory=lambda: ["main"])
    targets: list[str] = field(default_factory=list)
    split: str | None = None
    task: str | None = None  # the task whose split features a feature codec takes
    device: str = "cpu"

    @property
    def version(self) -> str:
        """The version when all points share one, else the distinct versions joined."""
        distinct = sorted(set(self.versions.values()))
        return distinct[0] if len(distinct) == 1 else " | ".join(distinct)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "version": self.version}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CodecDesc:
        known = {f.name for f in fields(cls)}
        d = dict(d)
        d.setdefault("versions", {"*": d.get("version", "")})
        d.setdefault("build_params", d.get("params", {}))
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class ItemResult:
    """What one item of a job produced (one row of `items`, its predictions per task)."""

    item_id: str
    status: str = "ok"  # "ok" | "failed"
    error: str = ""
    bits: int = 0  # all layers, all views
    pixels: int = 0  # original pixels, all views
    layer_bits: dict[str, int] = field(default_factory=dict)
    encode_s: float = 0.0
    decode_s: float = 0.0  # the decode of all layers (or the first requested decode)
    encode_cpu_s: float = 0.0
    decode_cpu_s: float = 0.0
    task_s: float = 0.0
    device: str = "cpu"
    timing: dict[str, Any] = field(default_factory=dict)  # gpu ms, decodes per request, env
    warmup: bool = False  # left out of timing statistics
    predictions: dict[str, Any] = field(default_factory=dict)  # task name -> predictions
    bitstreams: dict[str, bytes] = field(default_factory=dict)  # "<unit>/<layer>" -> bytes

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("bitstreams")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ItemResult:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class JobResult:
    """One job's outcome, committed to the store in one transaction."""

    key: str
    status: str  # "ok" | "failed"
    items: list[ItemResult]
    error: str = ""
    command: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    worker: str = ""


@dataclass
class Stats:
    """median / mean / p90 of per-item values (NaN when there are none)."""

    median: float = math.nan
    mean: float = math.nan
    p90: float = math.nan
    n: int = 0

    @classmethod
    def of(cls, values: list[float | None]) -> Stats:
        vals = [float(v) for v in values if v is not None and math.isfinite(v)]
        if not vals:
            return cls()
        vals.sort()
        k = (len(vals) - 1) * 0.9
        lo, hi = int(math.floor(k)), int(math.ceil(k))
        p90 = vals[lo] + (vals[hi] - vals[lo]) * (k - lo)
        mid = len(vals) // 2
        median = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
        return cls(median, sum(vals) / len(vals), p90, len(vals))

    def to_json(self) -> dict[str, Any]:
        return _numbers_to_json(asdict(self))

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Stats:
        d = _numbers_from_json(d)
        return cls(d.get("median", math.nan), d.get("mean", math.nan), d.get("p90", math.nan),
                   int(d.get("n", 0) or 0))


@dataclass
class Timing:
    """Encode, decode and task seconds per item of a point; GPU ms where timed on a GPU."""

    encode_s: Stats = field(default_factory=Stats)
    decode_s: Stats = field(default_factory=Stats)
    task_s: Stats = field(default_factory=Stats)
    encode_gpu_ms: Stats = field(default_factory=Stats)
    decode_gpu_ms: Stats = field(default_factory=Stats)
    device: str = ""
    warmup_items: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k).to_json() for k in
                               ("encode_s", "decode_s", "task_s", "encode_gpu_ms", "decode_gpu_ms")}
        out.update(device=self.device, warmup_items=self.warmup_items)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Timing:
        d = d or {}
        stats = {k: Stats.from_json(d.get(k)) for k in
                 ("encode_s", "decode_s", "task_s", "encode_gpu_ms", "decode_gpu_ms")}
        return cls(**stats, device=str(d.get("device", "")),
                   warmup_items=int(d.get("warmup_items", 0) or 0))


@dataclass
class Point:
    """One codec x one rate point over the whole dataset."""

    codec: str
    point: RatePoint
    bpp: float  # all layers: sum of bits / sum of original pixels
    rates: dict[str, float] = field(default_factory=dict)  # "bpp", "bpp/<layer>", ...
    bits: int = 0
    pixels: int = 0
    bpp_per_image_mean: float = math.nan
    n_items: int = 0
    n_failed: int = 0
    n_jobs_missing: int = 0
    complete: bool = True
    metrics: dict[str, float] = field(default_factory=dict)
    metric_rates: dict[str, str] = field(default_factory=dict)  # metric -> its rate key
    timing: Timing = field(default_factory=Timing)

    def rate(self, metric: str | None = None) -> float:
        """The rate `metric` pairs with (bpp of all layers without a metric)."""
        key = self.metric_rates.get(metric, RATE_KEY) if metric else RATE_KEY
        return self.rates.get(key, self.bpp if key == RATE_KEY else math.nan)

    def to_json(self) -> dict[str, Any]:
        return {
            "codec": self.codec, "point": self.point.to_dict(), "bpp": json_number(self.bpp),
            "rates": _numbers_to_json(self.rates), "bits": self.bits, "pixels": self.pixels,
            "bpp_per_image_mean": json_number(self.bpp_per_image_mean), "n_items": self.n_items,
            "n_failed": self.n_failed, "n_jobs_missing": self.n_jobs_missing,
            "complete": self.complete, "metrics": _numbers_to_json(self.metrics),
            "metric_rates": dict(self.metric_rates), "timing": self.timing.to_json(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Point:
        return cls(
            codec=str(d["codec"]), point=RatePoint.from_dict(d["point"]),
            bpp=number_from_json(d.get("bpp")), rates=_numbers_from_json(d.get("rates")),
            bits=int(d.get("bits", 0) or 0), pixels=int(d.get("pixels", 0) or 0),
            bpp_per_image_mean=number_from_json(d.get("bpp_per_image_mean")),
            n_items=int(d.get("n_items", 0) or 0), n_failed=int(d.get("n_failed", 0) or 0),
            n_jobs_missing=int(d.get("n_jobs_missing", 0) or 0),
            complete=bool(d.get("complete", True)),
            metrics=_numbers_from_json(d.get("metrics")),
            metric_rates=dict(d.get("metric_rates") or {}),
            timing=Timing.from_json(d.get("timing")),
        )
