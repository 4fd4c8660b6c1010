"""Planning: a validated RunSpec -> the list of jobs, with their keys.

Everything that determines a job's output is resolved here, in the driver: the
dataset's fingerprint and ids, each codec's version (and a check that it can run
here, before any job starts), the task's version and weights hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import SpecError
from bench.execute.job import Job, job_key
from bench.registry import CODECS, DATASETS, TASKS
from bench.spec import CodecSpec, RunSpec
from bench.types import RatePoint


@dataclass
class Plan:
    spec: RunSpec
    dataset: dict[str, Any]
    ids: list[str]
    fingerprint: str
    task: dict[str, Any]
    codecs: dict[str, dict[str, Any]]
    jobs: list[Job] = field(default_factory=list)
    rows: list[tuple[str, dict[str, Any], int, str]] = field(default_factory=list)
    dataset_obj: Any = None  # driver-side objects, never sent to workers
    task_obj: Any = None

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


def build_task(desc: dict[str, Any]) -> Any:
    return TASKS.build(desc["type"], desc["params"])


def parse_point(codec_cls: Any, value: Any) -> RatePoint:
    return RatePoint(kind=getattr(codec_cls, "point_kind", "qp"), value=value)


def _build_params(c: CodecSpec, timeout_s: float) -> dict[str, Any]:
    """The spec's params, plus the run's timeout for codecs that take one."""
    import inspect

    params = dict(c.params)
    cls = CODECS.get(c.type)
    if "timeout_s" not in params and "timeout_s" in inspect.signature(cls.__init__).parameters:
        params["timeout_s"] = timeout_s
    return params


def _codec_desc(c: CodecSpec, task: Any, timeout_s: float) -> dict[str, Any]:
    build_params = _build_params(c, timeout_s)
    codec = CODECS.build(c.type, build_params)
    codec.check()
    feature_input = codec.input_kind in ("features", "stereo-features")
    if feature_input:
        splits = getattr(task, "split_points", ())
        if not c.split:
            raise SpecError(
                f"codecs.{c.name}: feature codec {c.type!r} needs `split` "
                f"(task split points: {', '.join(splits) or 'none'})"
            )
        if c.split not in splits:
            raise SpecError(
                f"codecs.{c.name}.split: task {task.name!r} has no split point {c.split!r} "
                f"(it has: {', '.join(splits) or 'none'})"
            )
    if not c.points:
        raise SpecError(f"codecs.{c.name}.points: give at least one rate point")
    return {
        "type": c.type,
        "params": codec.params(),  # what determines the output: enters the job key
        "build_params": build_params,  # what workers construct the codec from
        "version": codec.version(),
        "input_kind": codec.input_kind,
        "output_kind": codec.output_kind,
        "point_kind": codec.point_kind,
        "split": c.split if feature_input else None,
    }


def make_plan(spec: RunSpec) -> Plan:
    """Resolve the dataset, task and codecs and list every job of the spec."""
    ds_desc = dataset_desc(spec)
    dataset = build_dataset(ds_desc)
    ids = list(dataset.ids())
    if not ids:
        raise SpecError(f"dataset {spec.dataset.type!r} selects no items")
    task_desc = {"type": spec.task.type, "params": dict(spec.task.params)}
    task = build_task(task_desc)
    task.check()
    task_desc.update(version=str(task.version), weights_hash=task.weights_hash(), name=task.name)
    codecs = {c.name: _codec_desc(c, task, spec.execute.timeout_s) for c in spec.codecs}
    plan = Plan(spec, ds_desc, ids, dataset.fingerprint(), task_desc, codecs,
                dataset_obj=dataset, task_obj=task)
    size = spec.execute.shard_size
    shards = [ids[i : i + size] for i in range(0, len(ids), size)]
    for c in spec.codecs:
        desc = codecs[c.name]
        for value in c.points:
            point = {"kind": desc["point_kind"], "value": value}
            for s, shard_ids in enumerate(shards):
                key = job_key(desc, point, plan.fingerprint, shard_ids, task_desc, desc["split"])
                plan.rows.append((c.name, point, s, key))
                plan.jobs.append(
                    Job(
                        key=key, label=c.name, codec=desc, point=point, dataset=ds_desc,
                        item_ids=shard_ids, task=task_desc, split=desc["split"], shard=s,
                        keep_bitstreams=spec.store.keep_bitstreams,
                        threads=spec.execute.threads_per_worker,
                    )
                )
    # Two curves with identical codec settings share their jobs.
    plan.jobs = list({j.key: j for j in plan.jobs}.values())
    return plan
