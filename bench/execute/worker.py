"""run_job: one job in a worker process. Codecs, datasets and tasks load once per process.

Per item: the input path gives the payload(s) (each view, both views, or split
features); each is encoded once; then every distinct decode request of the tasks
(layers x target) decodes the bitstream(s) once, the output path assembles what the
tasks score (images or features), and each task bound to that request scores it.
Image predictions are batched over the job's items (`Task.predict_batch`).

A worker keeps the samples it loaded in a small cache (`SampleCache`, bounded by bytes):
a sweep codes each image at every rate point, and the plan hands a worker the same
shard at several points in a row, so each image is read and decoded from disk about
once per worker instead of once per point. Callers get copies (never the cached arrays).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bench.errors import BenchError, CodecError
from bench.execute.job import Job
from bench.execute.paths import OutputPath, input_path, output_path
from bench.registry import CODECS, DATASETS, TASKS
from bench.results.records import CodecDesc, ItemResult, JobResult, TaskDesc, effective_layers
from bench.timing import Timer, timing_env
from bench.types import Bitstream, RatePoint, Sample

_items_seen: dict[tuple[str, str], int] = {}  # (codec, point) -> items coded in this process


class SampleCache:
    """Loaded samples of this process, least recently used first out, bounded by bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple, Sample] = OrderedDict()

    @staticmethod
    def _size(sample: Sample) -> int:
        return sum(getattr(im, "nbytes", 0) for im in sample.images)

    def load(self, dataset_key: str, dataset: Any, item_id: str) -> Sample:
        """`dataset.load(item_id)`, from the cache when this process loaded it before."""
        key = (dataset_key, item_id, _file_state(dataset, item_id))
        cached = self._entries.get(key)
        if cached is None:
            self.misses += 1
            sample = dataset.load(item_id)
            self._put(key, sample)
            cached = sample
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        return _copy_sample(cached)

    def _put(self, key: tuple, sample: Sample) -> None:
        size = self._size(sample)
        if size > self.max_bytes:
            return
        self._entries[key] = _copy_sample(sample)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.bytes -= self._size(old)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def _file_state(dataset: Any, item_id: str) -> tuple:
    """(path, size, mtime) of the item's image files, where the dataset names them: a
    replaced image is read again (a long-lived Dask worker may serve several runs)."""
    files = getattr(dataset, "image_files", None)
    if files is None:
        return ()
    state = []
    for path in files(item_id):
        try:
            st = os.stat(path)
        except OSError:
            return ()
        state.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(state)


def _copy_sample(sample: Sample) -> Sample:
    """A copy whose arrays and dicts can be changed without touching the original."""
    return dataclasses.replace(
        sample, images=tuple(im.copy() if hasattr(im, "copy") else im for im in sample.images),
        meta=dict(sample.meta), calib=dict(sample.calib) if sample.calib is not None else None)


# ICM_BENCH_SAMPLE_CACHE_MB=0 turns the cache off.
SAMPLES = SampleCache(int(float(os.environ.get("ICM_BENCH_SAMPLE_CACHE_MB", "128")) * 2**20))


@lru_cache(maxsize=8)
def _cached(kind: str, spec_json: str) -> Any:
    spec = json.loads(spec_json)
    registry = {"codec": CODECS, "dataset": DATASETS, "task": TASKS}[kind]
    return registry.build(spec["type"], spec.get("params", {}))


def _build(kind: str, type_name: str, params: dict[str, Any]) -> Any:
    return _cached(kind, json.dumps({"type": type_name, "params": params}, sort_keys=True))


def _with_device(cls: Any, params: dict[str, Any], device: str | None) -> dict[str, Any]:
    """`params` with the job's accelerator, for codecs and tasks that take a device."""
    if not device:
        return params
    import inspect

    config = getattr(cls, "Config", None)
    if config is not None:
        takes = "device" in config.model_fields
    else:
        takes = "device" in inspect.signature(cls).parameters
    return {**params, "device": device} if takes else params


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    torch = sys.modules.get("torch")  # only tasks that use torch pay for importing it
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


@dataclass
class Scorer:
    """One task, the decoded output it scores, and its predictions waiting for a batch."""

    key: str
    desc: TaskDesc
    task: Any
    batch: list[tuple[ItemResult, Sample]] = field(default_factory=list)


@dataclass
class Request:
    """One decode of every bitstream of an item: these layers, this target."""

    layers: tuple[str, ...] | None
    target: str | None
    scorers: list[Scorer] = field(default_factory=list)

    @property
    def label(self) -> str:
        layers = "+".join(self.layers) if self.layers else "all"
        return f"{layers}/{self.target}" if self.target else layers


@dataclass
class Setup:
    codec: Any
    desc: CodecDesc
    point: RatePoint
    inputs: Any
    output: OutputPath
    requests: list[Request]
    split: str | None


def _setup(job: Job) -> Setup:
    desc = CodecDesc.from_json(job.codec)
    cls = CODECS.get(desc.type)
    codec = _build("codec", desc.type, _with_device(cls, desc.build_params, job.device))
    tasks = {}
    for t in job.tasks:
        d = TaskDesc.from_json(t)
        tcls = TASKS.get(d.type)
        tasks[d.name or d.type] = (d, _build("task", d.type, _with_device(tcls, d.params, job.device)))
    feature_task = tasks[desc.task][1] if desc.task else None
    if codec.needs_task:
        bound = feature_task if feature_task is not None else next(iter(tasks.values()))[1]
        codec.bind_task(bound, desc.split)
    output = output_path(codec)
    requests: dict[tuple, Request] = {}
    for key, (d, task) in tasks.items():
        if not _scores(task, output, desc.split):
            continue
        layers = effective_layers(d.layers, desc.layers)
        target = d.target if desc.targets else None
        req = requests.setdefault((layers, target), Request(layers, target))
        req.scorers.append(Scorer(key, d, task))
    ordered = sorted(requests.values(), key=lambda r: r.layers is not None)  # full decode first
    return Setup(codec, desc, RatePoint.from_dict(job.point), input_path(codec, feature_task,
                 desc.split), output, ordered, desc.split)


def _scores(task: Any, output: OutputPath, split: str | None) -> bool:
    """Whether a task can score this codec's decoded output."""
    if output.kind == "features":
        return not task.needs_reference and split in getattr(task, "split_points", ())
    return bool(getattr(task, "scores_images", True))


def _add_detail(rec: ItemResult, codec: Any, prefix: str) -> None:
    """Add a learned codec's split of its last call (transform / entropy coding seconds)."""
    detail = getattr(codec, "last_timing", None) or {}
    for key, value in detail.items():
        if key.startswith(prefix) and key not in (f"{prefix}_s", f"{prefix}_gpu_ms") and \
                isinstance(value, (int, float)):
            rec.timing[key] = rec.timing.get(key, 0.0) + float(value)


def _encode(s: Setup, sample: Sample, rec: ItemResult, keep: bool) -> list[Bitstream]:
    streams = []
    gpu = 0.0
    for u, payload in enumerate(s.inputs.payloads(sample)):
        with Timer(s.codec.device) as t:
            bs = s.codec.encode(payload, s.point)
        _add_detail(rec, s.codec, "encode")
        rec.encode_s += t.wall
        rec.encode_cpu_s += t.cpu
        gpu += t.gpu_ms or 0.0
        rec.bits += bs.bits
        for name, b in bs.layer_bits().items():
            rec.layer_bits[name] = rec.layer_bits.get(name, 0) + b
        if keep:
            for name, data in bs.layers.items():
                rec.bitstreams[f"v{u}/{name}"] = data
        streams.append(bs)
    if t.gpu_ms is not None:
        rec.timing["encode_gpu_ms"] = gpu
    count = getattr(s.codec, "parameter_count", None)
    if callable(count):
        rec.timing["parameters"] = int(count(s.point))
    return streams


def _decode(s: Setup, req: Request, sample: Sample, streams: list[Bitstream],
            rec: ItemResult, first: bool) -> Any:
    outputs, wall, cpu, gpu = [], 0.0, 0.0, None
    for bs in streams:
        with Timer(s.codec.device) as t:
            outputs.append(s.codec.decode(bs.subset(req.layers), layers=req.layers,
                                          target=req.target))
        if first:
            _add_detail(rec, s.codec, "decode")
        wall, cpu = wall + t.wall, cpu + t.cpu
        gpu = None if t.gpu_ms is None else (gpu or 0.0) + t.gpu_ms
    rec.timing.setdefault("decode_s", {})[req.label] = wall
    if first:
        rec.decode_s, rec.decode_cpu_s = wall, cpu
        if gpu is not None:
            rec.timing["decode_gpu_ms"] = gpu
    return s.output.assemble(sample, outputs)


def _run_item(job: Job, s: Setup, sample: Sample) -> ItemResult:
    rec = ItemResult(item_id=sample.id, pixels=sample.pixels, device=s.codec.device)
    streams = _encode(s, sample, rec, job.keep_bitstreams)
    for i, req in enumerate(s.requests):
        decoded = _decode(s, req, sample, streams, rec, first=i == 0)
        for sc in req.scorers:
            t0 = time.perf_counter()
            if sc.task.needs_reference:
                rec.predictions[sc.key] = sc.task.predict_with_reference(decoded, sample)
            elif s.output.kind == "features":
                rec.predictions[sc.key] = sc.task.head(decoded, sample, s.split)
            else:
                sc.batch.append((rec, decoded))
            rec.task_s += time.perf_counter() - t0
    return rec


def _fail(rec: ItemResult, exc: BaseException) -> None:
    rec.status = "failed"
    rec.bitstreams = {}
    rec.predictions = {}
    if isinstance(exc, BenchError):
        rec.error = str(exc)
    else:
        rec.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"


def _mark_warmup(s: Setup, job: Job, rec: ItemResult) -> None:
    key = (json.dumps(job.codec, sort_keys=True), s.point.label)
    _items_seen[key] = _items_seen.get(key, 0) + 1
    rec.warmup = _items_seen[key] <= int(getattr(s.codec, "warmup_items", 0))


def run_job(job: Job) -> JobResult:
    """Code, decode and score every item of one job; never raises for item errors."""
    t0 = time.perf_counter()
    result = JobResult(key=job.key, status="ok", items=[], worker=f"{socket.gethostname()}:{os.getpid()}")
    _set_threads(job.threads)
    try:
        s = _setup(job)
        dataset = _build("dataset", job.dataset["type"], job.dataset.get("params", {}))
    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
        result.status, result.error = "failed", f"cannot build the job's objects: {exc}"
        result.wall_s = time.perf_counter() - t0
        return result
    env = timing_env(s.codec.device)
    dataset_key = json.dumps(job.dataset, sort_keys=True)
    for item_id in job.item_ids:
        rec = ItemResult(item_id=item_id)
        try:
            sample = SAMPLES.load(dataset_key, dataset, item_id)
            rec = _run_item(job, s, sample)
            _mark_warmup(s, job, rec)
            rec.timing["env"] = env
        except Exception as exc:  # noqa: BLE001 - one item's failure is recorded
            _fail(rec, exc)
            if isinstance(exc, CodecError) and exc.command and not result.command:
                result.command, result.stderr = " ".join(exc.command), exc.stderr
        result.items.append(rec)
    for req in s.requests:
        for sc in req.scorers:
            _predict_batch(sc)
    _summarise(result)
    result.wall_s = time.perf_counter() - t0
    return result


def _predict_batch(sc: Scorer) -> None:
    batch = [(rec, sample) for rec, sample in sc.batch if rec.status == "ok"]
    sc.batch = []
    if not batch:
        return
    t0 = time.perf_counter()
    try:
        preds = sc.task.predict_batch([sample for _, sample in batch])
    except Exception as exc:  # noqa: BLE001
        for rec, _ in batch:
            _fail(rec, exc)
        return
    per_item = (time.perf_counter() - t0) / len(batch)
    for (rec, _), p in zip(batch, preds):
        rec.predictions[sc.key] = p
        rec.task_s += per_item


def _summarise(result: JobResult) -> None:
    failed = [it for it in result.items if it.status != "ok"]
    if failed:
        result.status = "failed"
        result.error = f"{len(failed)}/{len(result.items)} item(s) failed; first: {failed[0].error}"
