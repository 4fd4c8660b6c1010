"""run_job: one job in a worker process. Codecs, datasets and tasks load once per process."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from functools import lru_cache
from typing import Any

import numpy as np

from bench.codecs.base import Codec
from bench.timing import Timer as Stopwatch
from bench.errors import BenchError, CodecError
from bench.execute.job import ItemResult, Job, JobResult
from bench.registry import CODECS, DATASETS, TASKS
from bench.types import RatePoint, Sample


@lru_cache(maxsize=8)
def _cached(kind: str, spec_json: str) -> Any:
    spec = json.loads(spec_json)
    registry = {"codec": CODECS, "dataset": DATASETS, "task": TASKS}[kind]
    return registry.build(spec["type"], spec.get("params", {}))


def get_codec(spec: dict[str, Any]) -> Codec:
    params = spec.get("build_params", spec.get("params", {}))
    return _cached("codec", json.dumps({"type": spec["type"], "params": params}, sort_keys=True))


def get_dataset(spec: dict[str, Any]) -> Any:
    return _cached("dataset", json.dumps({"type": spec["type"], "params": spec.get("params", {})}, sort_keys=True))


def get_task(spec: dict[str, Any]) -> Any:
    return _cached("task", json.dumps({"type": spec["type"], "params": spec.get("params", {})}, sort_keys=True))


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    torch = sys.modules.get("torch")  # only tasks that use torch pay for importing it
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _code_images(codec: Codec, sample: Sample, point: RatePoint, rec: ItemResult, keep: bool) -> Sample:
    """Code each view independently (or jointly for a stereo codec); fill rate and timing."""
    stereo = codec.input_kind == "stereo-image"
    views = [sample.images] if stereo else [(im,) for im in sample.images]
    decoded: list[np.ndarray] = []
    for v, payload in enumerate(views):
        arg = payload if stereo else payload[0]
        with Stopwatch() as enc:
            bs = codec.encode(arg, point)
        with Stopwatch() as dec:
            out = codec.decode(bs)
        rec.encode_s += enc.wall
        rec.decode_s += dec.wall
        rec.encode_cpu_s += enc.cpu
        rec.decode_cpu_s += dec.cpu
        rec.bits += bs.bits
        for name, b in bs.layer_bits().items():
            rec.layer_bits[name] = rec.layer_bits.get(name, 0) + b
        if keep:
            for name, data in bs.layers.items():
                rec.bitstreams[f"v{v}/{name}"] = data
        decoded.extend(out if stereo else [out])
    for orig, got in zip(sample.images, decoded):
        if not isinstance(got, np.ndarray) or got.shape != orig.shape or got.dtype != np.uint8:
            raise CodecError(
                f"decoder returned {getattr(got, 'shape', type(got))} "
                f"{getattr(got, 'dtype', '')}, expected {orig.shape} uint8"
            )
    return sample.with_images(tuple(decoded))


def _pixel_quality(orig: Sample, rec: Sample) -> dict[str, float]:
    from bench.metrics.quality import pixel_quality

    per_view = [pixel_quality(a, b) for a, b in zip(orig.images, rec.images)]
    return {k: float(np.mean([q[k] for q in per_view])) for k in per_view[0]}


def _run_item(job: Job, codec: Codec, task: Any, sample: Sample, point: RatePoint) -> ItemResult:
    rec = ItemResult(item_id=sample.id, pixels=sample.pixels)
    if codec.input_kind in ("features", "stereo-features"):
        feats = task.features(sample, job.split)
        with Stopwatch() as enc:
            bs = codec.encode(feats, point)
        with Stopwatch() as dec:
            out = codec.decode(bs)
        rec.encode_s, rec.encode_cpu_s = enc.wall, enc.cpu
        rec.decode_s, rec.decode_cpu_s = dec.wall, dec.cpu
        rec.bits, rec.layer_bits = bs.bits, bs.layer_bits()
        if job.keep_bitstreams:
            rec.bitstreams = {f"v0/{k}": v for k, v in bs.layers.items()}
        t0 = time.perf_counter()
        rec.predictions = task.head(out, sample, job.split)
        rec.task_s = time.perf_counter() - t0
        return rec
    decoded = _code_images(codec, sample, point, rec, job.keep_bitstreams)
    rec.quality = _pixel_quality(sample, decoded)
    if not hasattr(task, "predict_batch"):
        t0 = time.perf_counter()
        rec.predictions = task.predict(decoded)
        rec.task_s = time.perf_counter() - t0
    else:
        rec.predictions = decoded  # replaced after the batch call below
    return rec


def _fail(rec: ItemResult, exc: BaseException) -> None:
    rec.status = "failed"
    rec.bitstreams = {}
    rec.predictions = None
    if isinstance(exc, BenchError):
        rec.error = str(exc)
    else:
        rec.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"


def run_job(job: Job) -> JobResult:
    """Code, decode and run the task on every item of one job; never raises for item errors."""
    t0 = time.perf_counter()
    result = JobResult(key=job.key, status="ok", items=[], worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        codec = get_codec(job.codec)
        dataset = get_dataset(job.dataset)
        task = get_task(job.task)
    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
        result.status, result.error = "failed", f"cannot build the job's objects: {exc}"
        result.wall_s = time.perf_counter() - t0
        return result
    _set_threads(job.threads)
    point = RatePoint.from_dict(job.point)
    batch: list[tuple[ItemResult, Sample]] = []
    for item_id in job.item_ids:
        rec = ItemResult(item_id=item_id)
        try:
            sample = dataset.load(item_id)
            rec = _run_item(job, codec, task, sample, point)
            if isinstance(rec.predictions, Sample):
                batch.append((rec, rec.predictions))
        except Exception as exc:  # noqa: BLE001 - one item's failure is recorded
            _fail(rec, exc)
            if isinstance(exc, CodecError) and exc.command and not result.command:
                result.command, result.stderr = " ".join(exc.command), exc.stderr
        result.items.append(rec)
    if batch:
        _predict_batch(task, batch)
    _summarise(result)
    result.wall_s = time.perf_counter() - t0
    return result


def _predict_batch(task: Any, batch: list[tuple[ItemResult, Sample]]) -> None:
    t0 = time.perf_counter()
    try:
        preds = task.predict_batch([s for _, s in batch])
    except Exception as exc:  # noqa: BLE001
        for rec, _ in batch:
            _fail(rec, exc)
        return
    per_item = (time.perf_counter() - t0) / len(batch)
    for (rec, _), p in zip(batch, preds):
        rec.predictions, rec.task_s = p, per_item


def _summarise(result: JobResult) -> None:
    failed = [it for it in result.items if it.status != "ok"]
    if failed:
        result.status = "failed"
        result.error = f"{len(failed)}/{len(result.items)} item(s) failed; first: {failed[0].error}"
