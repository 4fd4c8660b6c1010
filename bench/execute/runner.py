"""The driver: plan, skip stored jobs, run the rest, store each result, compute points, report.

The driver is the only writer to the store. Each finished job is committed at once,
so a killed run keeps everything finished; re-running the same spec skips it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.execute.executors import Lane, make_lanes
from bench.execute.job import Job
from bench.execute.plan import Plan, build_dataset, build_task, make_plan
from bench.execute.progress import Progress
from bench.execute.worker import run_job
from bench.results.points import Evaluate, compute_points, planned_tasks, task_key
from bench.results.records import JobResult, Point
from bench.results.store import RunLock, RunStore
from bench.spec import RunSpec, load_spec


@dataclass
class RunOutcome:
    name: str
    run_dir: Path
    report_dir: Path | None
    report: Path | None
    jobs_total: int
    jobs_run: int
    jobs_failed: int
    points: list[Point]
    wall_s: float


def _record_meta(store: RunStore, plan: Plan, runs_jobs: bool = True) -> None:
    """The spec, plan and provenance. Provenance only when jobs run now (or none is
    stored yet): a no-op rerun keeps that of the code that produced the results."""
    from bench import provenance

    store.set_meta("run_name", plan.spec.name)
    store.set_meta("spec", plan.spec.model_dump(mode="json"))
    store.set_meta(
        "plan",
        {"dataset": plan.dataset, "fingerprint": plan.fingerprint, "n_items": len(plan.ids),
         "tasks": [t.to_json() for t in plan.tasks],
         "codecs": {k: v.to_json() for k, v in plan.codecs.items()}, "anchor": plan.spec.anchor},
    )
    if runs_jobs or store.get_meta("provenance") is None:
        store.set_meta("provenance", provenance.collect(
            {k: v.version for k, v in plan.codecs.items()},
            execution=plan.spec.execute.model_dump(mode="json")))
    store.write_plan(plan.rows)


def _record_metric_infos(store: RunStore, plan: Plan) -> None:
    """Each metric's direction and unit, as its evaluator declares them (names prefixed)."""
    directions, units = {}, {}
    for desc in plan.tasks:
        evaluator = plan.task_objs[task_key(desc)].evaluator(plan.dataset_obj)
        for m in evaluator.metrics():
            directions[desc.metric(m.name)] = m.higher_is_better
            units[desc.metric(m.name)] = m.unit
    store.set_meta("metric_directions", directions)
    store.set_meta("metric_units", units)


def evaluators_for(store: RunStore, dataset: Any = None,
                   tasks: dict[str, Any] | None = None) -> dict[str, Evaluate]:
    """Each planned task's evaluate function (objects built from the stored plan if not given)."""
    if dataset is None:
        dataset = build_dataset((store.get_meta("plan") or {})["dataset"])
    out = {}
    for desc in planned_tasks(store):
        task = (tasks or {}).get(task_key(desc)) or build_task(desc)
        out[task_key(desc)] = task.evaluator(dataset).evaluate
    return out


def uses_device(job: Job) -> bool:
    """A job for an accelerator lane: its codec computes on a device other than the CPU."""
    device = str((job.codec or {}).get("device") or "cpu")
    return device != "cpu" and not device.startswith("cpu")


MAX_CRASHES = 2  # a job that was running alone when its worker died is tried this often
MAX_DEATHS_IN_A_ROW = 6  # worker deaths without any job finishing in between: give up


@dataclass
class _Flight:
    """Jobs in flight and the crash bookkeeping of one execute_jobs call."""

    running: dict[Future, tuple[Job, Lane]] = dataclasses.field(default_factory=dict)
    crashes: dict[str, int] = dataclasses.field(default_factory=dict)  # job key -> deaths alone
    deaths_in_a_row: int = 0  # pool breakages since a job last finished


def execute_jobs(
    jobs: list[Job], store: RunStore, executor: str, workers: int | None, address: str | None,
    threads: int, progress: bool = True, devices: list[str] | tuple[str, ...] = (),
    stored: int = 0,
) -> tuple[int, int]:
    """Run `jobs`, committing each result as it arrives. Returns (run, failed).

    With `devices`, jobs of codecs that compute on an accelerator run one at a time per
    device (the job is given that device); the others keep one worker per core.

    When a worker process dies (killed, out of memory), its pool is restarted and the
    jobs that were in flight are run again one at a time, so the job that kills its
    worker is found; it is recorded as failed after MAX_CRASHES deaths, and the rest
    of the run goes on.
    """
    if not jobs:
        return 0, 0
    bar = Progress(len(jobs), enabled=progress, jobs=jobs, stored=stored)
    failed = 0
    queues = {"cpu": [j for j in jobs if not (devices and uses_device(j))],
              "device": [j for j in jobs if devices and uses_device(j)]}
    solo: dict[str, list[Job]] = {"cpu": [], "device": []}  # suspects of a worker death
    for q in queues.values():
        q.reverse()
    flight = _Flight()

    def finish(job: Job, result: JobResult) -> None:
        nonlocal failed
        store.save_job(result, job.label, job.codec, job.point, job.item_ids)
        failed += result.status != "ok"
        where = f" on {job.device}" if job.device else ""
        bar.advance(f"{job.label} {job.point['kind']}={job.point['value']} "
                    f"#{job.shard}{where}", ok=result.status == "ok", job=job,
                    seconds=result.wall_s, worker=result.worker)

    try:
        with make_lanes(executor, workers, address, threads, devices) as lanes:
            bar.set_workers(sum(lane.slots for lane in lanes))
            busy = {id(lane): 0 for lane in lanes}
            while any(queues.values()) or any(solo.values()) or flight.running:
                for lane in lanes:
                    name = "cpu" if lane.device is None else "device"
                    _submit(lane, queues[name], solo[name], busy, flight)
                done, _ = wait(list(flight.running), return_when=FIRST_COMPLETED)
                lost: dict[int, list[Job]] = {}
                for fut in done:
                    job, lane = flight.running.pop(fut)
                    busy[id(lane)] -= 1
                    if isinstance(fut.exception(), BrokenProcessPool) and lane.restartable:
                        lost.setdefault(id(lane), []).append(job)
                        continue
                    flight.deaths_in_a_row = 0
                    finish(job, _result_of(fut, job))
                for lane in lanes:
                    if id(lane) in lost:
                        name = "cpu" if lane.device is None else "device"
                        _recover(lane, lost[id(lane)], busy, flight, solo[name], finish)
    finally:
        bar.close()
    return len(jobs), failed


def _submit(lane: Lane, queue: list[Job], solo: list[Job], busy: dict[int, int],
            flight: _Flight) -> None:
    """Fill the lane: 2 x its workers jobs; a suspect of a worker death only alone."""
    while True:
        if solo:
            if busy[id(lane)] > 0:
                return
            source, job = solo, solo.pop(0)
        elif queue and busy[id(lane)] < 2 * lane.slots:
            source, job = queue, queue.pop()
            if lane.device is not None:
                job = dataclasses.replace(job, device=lane.device)
        else:
            return
        try:
            fut = lane.executor.submit(run_job, job)
        except BrokenProcessPool:  # it broke since the last wait: its futures will say so
            source.insert(0, job) if source is solo else source.append(job)
            if busy[id(lane)] == 0 and lane.restartable:
                lane.restart()
                continue
            return
        flight.running[fut] = (job, lane)
        busy[id(lane)] += 1


def _recover(lane: Lane, lost: list[Job], busy: dict[int, int], flight: _Flight,
             solo: list[Job], finish: Callable[[Job, JobResult], None]) -> None:
    """A worker of `lane` died: keep what finished, restart the pool, requeue the rest."""
    mine = [f for f, (_, ln) in flight.running.items() if ln is lane]
    wait(mine, timeout=30)  # a broken pool fails all its futures at once
    for fut in mine:
        job, _ = flight.running.pop(fut)
        busy[id(lane)] -= 1
        if fut.done() and not isinstance(fut.exception(), BrokenProcessPool):
            flight.deaths_in_a_row = 0
            finish(job, _result_of(fut, job))
        else:
            lost.append(job)
    flight.deaths_in_a_row += 1
    if flight.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW:
        raise BenchError(
            f"worker processes died {flight.deaths_in_a_row} times in a row without finishing "
            "a job (out of memory? a broken environment?); finished jobs are stored, re-run "
            "the same spec to continue (--executor serial shows the error in this process)")
    lane.restart()
    suspects = lost
    if len(suspects) == 1:  # it ran alone: this job is the one that died
        job = suspects[0]
        flight.crashes[job.key] = flight.crashes.get(job.key, 0) + 1
        if flight.crashes[job.key] >= MAX_CRASHES:
            finish(job, JobResult(
                key=job.key, status="failed", items=[],
                error=f"the worker process died while running this job, {MAX_CRASHES} times "
                      "(killed, out of memory, or a crash in native code); the other jobs "
                      "went on"))
            return
    solo.extend(j for j in suspects if j not in solo)


def _result_of(fut: Future, job: Job) -> JobResult:
    try:
        return fut.result()
    except BrokenProcessPool as exc:
        raise BenchError(
            "a worker process died (out of memory or killed); finished jobs are stored, "
            "re-run the same spec to continue"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - the job is recorded as failed, the run goes on
        return JobResult(key=job.key, status="failed", items=[], error=f"{type(exc).__name__}: {exc}")


def _bootstrap(store: RunStore, plan: Plan, workers: int | None) -> None:
    """BD intervals by resampling items (bench.analysis.bootstrap; a no-op without an
    anchor or with bd.bootstrap.resamples 0, reused while points are unchanged). A failure
    costs only the intervals: the points are stored; one warning line says why."""
    from bench.analysis.bootstrap import bootstrap_bd

    def evaluators() -> dict[str, Any]:
        return {task_key(d): plan.task_objs[task_key(d)].evaluator(plan.dataset_obj)
                for d in plan.tasks}

    try:
        bootstrap_bd(store, evaluators, workers=workers)
    except BenchError as exc:
        import sys

        print(f"warning: no BD intervals: {exc}", file=sys.stderr)


def _write_report(store: RunStore, report_dir: Path, spec: RunSpec) -> Path:
    from bench.report import write_run_report  # matplotlib only when a report is written

    return write_run_report(store, report_dir, spec.report.formats)


def run_spec(
    spec: RunSpec,
    results_dir: str | Path = "results",
    reports_dir: str | Path | None = "reports",
    progress: bool = True,
) -> RunOutcome:
    """Run a validated spec end to end and return what it produced.

    The run folder is locked while the run writes it (RunLock): a second run of the
    same spec into the same folder stops at once with a message naming this process.
    """
    t0 = time.perf_counter()
    plan = make_plan(spec)
    run_dir = Path(results_dir) / spec.name
    with RunLock(run_dir):
        store = RunStore(run_dir, create=True)
        try:
            done = store.done_keys()
            todo = [j for j in plan.jobs if j.key not in done]
            _record_meta(store, plan, runs_jobs=bool(todo))
            _record_metric_infos(store, plan)
            ex = spec.execute
            n_run, n_failed = execute_jobs(
                todo, store, ex.executor, ex.workers, ex.address, ex.threads_per_worker,
                progress, devices=ex.devices, stored=len(plan.jobs) - len(todo),
            )
            points = compute_points(
                store, lambda: evaluators_for(store, plan.dataset_obj, plan.task_objs))
            _bootstrap(store, plan, ex.workers)
            report_dir = report = None
            if reports_dir is not None:
                from bench.results.stamp import report_if_changed

                report_dir = Path(reports_dir) / spec.name
                report = report_if_changed(store, report_dir, spec.report.formats,
                                           lambda: _write_report(store, report_dir, spec))
        finally:
            store.close()
    return RunOutcome(spec.name, run_dir, report_dir, report, len(plan.jobs), n_run, n_failed,
                      points, time.perf_counter() - t0)


def run_spec_cli(
    spec: str, overrides: list[str], workers: int | None, executor: str | None,
    address: str | None, limit: int | None, results_dir: Path, reports_dir: Path,
) -> RunOutcome:
    """`icm-bench run`: load, apply command-line overrides, run, summarise.

    Failed jobs are summarised on stderr (grouped by reason, with items and the
    command's last stderr lines); the caller decides the exit status.
    """
    extra = list(overrides)
    if workers is not None:
        extra.append(f"execute.workers={workers}")
    if executor is not None:
        extra.append(f"execute.executor={executor}")
    if address is not None:
        extra.append(f"execute.address={address}")
        if executor is None:
            extra.append("execute.executor=dask")
    if limit is not None:
        extra.append(f"dataset.limit={limit}")
    run = load_spec(spec, extra)
    from bench.execute.progress import announce

    announce(f"planning run {run.name}: {len(run.codecs)} codec(s), dataset "
             f"{run.dataset.type or run.dataset.manifest} ...")
    outcome = run_spec(run, results_dir, reports_dir)
    import typer

    typer.echo(
        f"run {outcome.name}: {outcome.jobs_total} jobs, {outcome.jobs_run} run now "
        f"({outcome.jobs_failed} failed), {outcome.wall_s:.1f} s; results in {outcome.run_dir}"
    )
    if outcome.jobs_failed:
        from bench.report.failures import collect_failures, format_failures

        store = RunStore(outcome.run_dir, readonly=True)
        try:
            groups = collect_failures(store)
        finally:
            store.close()
        typer.echo(format_failures(groups, limit=5), err=True)
        typer.echo(
            f"{outcome.jobs_failed} job(s) failed: their points are marked incomplete; "
            f"see `icm-bench show {outcome.name}` and the report", err=True,
        )
    return outcome
