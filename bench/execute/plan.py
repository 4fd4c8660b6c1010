"""Planning: a validated RunSpec -> the list of jobs, with their keys.

Everything that determines a job's output is resolved here, in the driver, without
building a network: the dataset's content fingerprint and ids; each task's version and
weights hash (a cached file hash); each codec's options, version per rate point, and
checks that it can run here and code each point, before any job starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import CodecError, SpecError
from bench.execute.job import Job, job_key
from bench.registry import CODECS, DATASETS, TASKS, did_you_mean
from bench.results.records import CodecDesc, TaskDesc
from bench.spec import CodecSpec, RunSpec, TaskSpec
from bench.types import RatePoint

FEATURE_KINDS = ("features", "stereo-features")


@dataclass
class Plan:
    spec: RunSpec
    dataset: dict[str, Any]
    ids: list[str]
    fingerprint: str
    tasks: list[TaskDesc]
    codecs: dict[str, CodecDesc]
    jobs: list[Job] = field(default_factory=list)
    rows: list[tuple[str, dict[str, Any], int, str]] = field(default_factory=list)
    dataset_obj: Any = None  # driver-side objects, never sent to workers
    task_objs: dict[str, Any] = field(default_factory=dict)

    def job_by_key(self) -> dict[str, Job]:
        return {j.key: j for j in self.jobs}


def dataset_desc(spec: RunSpec) -> dict[str, Any]:
    if not spec.dataset.type:
        raise SpecError("dataset: give `type` (e.g. synthetic-coco, coco) or a `manifest`")
    params = dict(spec.dataset.params)
    if spec.dataset.limit is not None:
        params["limit"] = spec.dataset.limit
    if spec.dataset.ids_file is not None:
        params["ids_file"] = spec.dataset.ids_file
    return {"type": spec.dataset.type, "params": params}


def build_dataset(desc: dict[str, Any]) -> Any:
    return DATASETS.build(desc["type"], desc["params"])


def build_task(desc: dict[str, Any] | TaskDesc) -> Any:
    if isinstance(desc, TaskDesc):
        return TASKS.build(desc.type, desc.params)
    return TASKS.build(desc["type"], desc.get("params", {}))


def _task_desc(t: TaskSpec) -> tuple[TaskDesc, Any]:
    task = TASKS.build(t.type, dict(t.params))
    task.check()
    desc = TaskDesc(name=t.name or "", type=t.type, params=task.params() or dict(t.params),
                    version=str(task.version), weights_hash=task.weights_hash(),
                    target=t.target, layers=list(t.layers) if t.layers else None)
    return desc, task


def _build_params(c: CodecSpec, timeout_s: float) -> dict[str, Any]:
    """The spec's params, plus the run's timeout for codecs that take one."""
    params = dict(c.params)
    cls = CODECS.get(c.type)
    config = getattr(cls, "Config", None)
    if "timeout_s" not in params and config is not None and "timeout_s" in config.model_fields:
        params["timeout_s"] = timeout_s
    return params


def _feature_task(c: CodecSpec, codec: Any, tasks: list[TaskDesc], objs: dict[str, Any]) -> str:
    """The task whose split features a feature codec takes (checked against the spec)."""
    names = [t.name or t.type for t in tasks]
    if c.task is not None:
        if c.task not in names:
            raise SpecError(f"codecs.{c.name}.task: no task {c.task!r}.{did_you_mean(c.task, names)}"
                            f" Tasks: {', '.join(names)}")
        candidates = [c.task]
    else:
        candidates = [n for n in names if c.split in getattr(objs[n], "split_points", ())]
    all_splits = sorted({s for o in objs.values() for s in getattr(o, "split_points", ())})
    if not c.split:
        raise SpecError(f"codecs.{c.name}: codec {c.type!r} takes or gives features and needs "
                        f"`split` (the tasks' split points: {', '.join(all_splits) or 'none'})")
    if not candidates or c.split not in getattr(objs[candidates[0]], "split_points", ()):
        raise SpecError(f"codecs.{c.name}.split: no task has a split point {c.split!r} "
                        f"(split points: {', '.join(all_splits) or 'none'})")
    task = objs[candidates[0]]
    if codec.input_kind == "stereo-features" and c.split not in getattr(task, "stereo_splits", ()):
        raise SpecError(f"codecs.{c.name}: codec {c.type!r} codes stereo features; split "
                        f"{c.split!r} of task {candidates[0]!r} is not a stereo split")
    return candidates[0]


def _entry_named(message: str, c: CodecSpec) -> str:
    """`message` with the codec's type replaced by the spec entry's name (and type)."""
    if c.name == c.type:
        return message
    named = f"codec {c.name!r} (type {c.type})"
    prefix = f"codec {c.type!r}"
    return message.replace(prefix, named, 1) if prefix in message else f"{named}: {message}"


def _codec_desc(c: CodecSpec, tasks: list[TaskDesc], objs: dict[str, Any],
                timeout_s: float) -> CodecDesc:
    build_params = _build_params(c, timeout_s)
    codec = CODECS.build(c.type, build_params)
    try:
        codec.check()
    except CodecError as exc:  # the codec knows its type; the user wrote the entry's name
        exc.args = (_entry_named(str(exc), c),) + exc.args[1:]
        raise
    if not c.points:
        raise SpecError(f"codecs.{c.name}.points: give at least one rate point")
    versions = {}
    for value in c.points:
        point = RatePoint(codec.point_kind, value)
        try:
            codec.check_point(point)
        except SpecError as exc:
            raise SpecError(f"codecs.{c.name}.points: {exc}") from None
        except (ValueError, TypeError) as exc:  # a plugin's own parsing of the value
            raise SpecError(f"codecs.{c.name}.points: {point.label} is not a valid point for "
                            f"{c.type}: {exc}") from None
        versions[point.label] = codec.version(point)
    uses_features = FEATURE_KINDS.__contains__
    needs_split = uses_features(codec.input_kind) or uses_features(codec.output_kind)
    feature_task = _feature_task(c, codec, tasks, objs) if needs_split else None
    for t in tasks:
        if t.target is not None and codec.targets and t.target not in codec.targets:
            raise SpecError(f"task {t.name or t.type!r}: target {t.target!r} is not one of codec "
                            f"{c.name!r}'s targets ({', '.join(codec.targets)})")
    return CodecDesc(
        type=c.type, params=codec.params(), build_params=build_params, versions=versions,
        input_kind=codec.input_kind, output_kind=codec.output_kind,
        point_kind=codec.point_kind, layers=list(codec.layers), targets=list(codec.targets),
        split=c.split if needs_split else None, task=feature_task, device=codec.device,
    )


def make_plan(spec: RunSpec) -> Plan:
    """Resolve the dataset, tasks and codecs and list every job of the spec."""
    ds_desc = dataset_desc(spec)
    dataset = build_dataset(ds_desc)
    ids = list(dataset.ids())
    if not ids:
        raise SpecError(f"dataset {spec.dataset.type!r} selects no items")
    tasks, objs = [], {}
    for t in spec.task_list():
        desc, obj = _task_desc(t)
        tasks.append(desc)
        objs[t.name or t.type] = obj
    timeout = spec.execute.timeout_s
    codecs = {c.name: _codec_desc(c, tasks, objs, timeout) for c in spec.codecs}
    fingerprint = content_fingerprint(dataset)
    plan = Plan(spec, ds_desc, ids, fingerprint, tasks, codecs, dataset_obj=dataset,
                task_objs=objs)
    size = spec.execute.shard_size
    shards = [ids[i: i + size] for i in range(0, len(ids), size)]
    task_json = [t.to_json() for t in tasks]
    for c in spec.codecs:
        desc = codecs[c.name]
        for value in c.points:
            point = RatePoint(desc.point_kind, value)
            for s, shard_ids in enumerate(shards):
                key = job_key(desc.to_json(), point.to_dict(), desc.versions[point.label],
                              fingerprint, shard_ids, task_json)
                plan.rows.append((c.name, point.to_dict(), s, key))
                plan.jobs.append(Job(
                    key=key, label=c.name, codec=desc.to_json(), point=point.to_dict(),
                    dataset=ds_desc, item_ids=shard_ids, tasks=task_json, shard=s,
                    keep_bitstreams=spec.store.keep_bitstreams,
                    threads=spec.execute.threads_per_worker))
    # Two curves with identical codec settings share their jobs.
    plan.jobs = execution_order(list({j.key: j for j in plan.jobs}.values()))
    return plan


def execution_order(jobs: list[Job]) -> list[Job]:
    """The order jobs are handed to workers: codecs interleaved, each shard at every point.

    Codecs take turns (one job each), and each codec goes shard by shard through all its
    rate points. So the first jobs measure every codec and point (the progress ETA is
    right early), the same images reach a worker at several points in a row (its
    RGB -> YUV conversion cache hits), and the last round holds each codec's cheapest
    points rather than one codec's slowest. The display order (plan rows) is unchanged.
    """
    per_codec: dict[str, list[Job]] = {}
    for j in jobs:
        per_codec.setdefault(j.label, []).append(j)
    queues = []
    for codec_jobs in per_codec.values():
        points = list(dict.fromkeys(json_point(j.point) for j in codec_jobs))
        rank = {p: i for i, p in enumerate(points)}
        queues.append(sorted(codec_jobs, key=lambda j: (j.shard, rank[json_point(j.point)])))
    order = []
    for i in range(max((len(q) for q in queues), default=0)):
        order.extend(q[i] for q in queues if i < len(q))
    return order


def json_point(point: dict[str, Any]) -> str:
    import json

    return json.dumps(point, sort_keys=True)


def content_fingerprint(dataset: Any) -> str:
    """The dataset's fingerprint (ground truth and ids) folded with its images' content.

    Image hashes are cached by path, size and mtime (bench.checkpoint), so a rerun does
    not read the images again; replacing an image changes the fingerprint.
    """
    import hashlib

    from bench.checkpoint import files_sha256

    files = []
    image_files = getattr(dataset, "image_files", None)
    if image_files is not None:
        for item_id in dataset.ids():
            files.extend(image_files(item_id))
    h = hashlib.sha256(dataset.fingerprint().encode())
    for digest in files_sha256(files):
        h.update(digest.encode())
    return h.hexdigest()
