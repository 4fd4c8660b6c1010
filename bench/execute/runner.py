"""The driver: plan, skip stored jobs, run the rest, store each result, compute points, report.

The driver is the only writer to the store. Each finished job is committed at once,
so a killed run keeps everything finished; re-running the same spec skips it.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.execute.executors import make_executor
from bench.execute.job import Job, JobResult
from bench.execute.plan import Plan, make_plan
from bench.execute.points import load_points
from bench.execute.progress import Progress
from bench.execute.worker import run_job
from bench.spec import RunSpec, load_spec
from bench.store import RunStore


@dataclass
class RunOutcome:
    name: str
    run_dir: Path
    report_dir: Path | None
    report: Path | None
    jobs_total: int
    jobs_run: int
    jobs_failed: int
    points: list[dict[str, Any]]
    wall_s: float


def _record_meta(store: RunStore, plan: Plan) -> None:
    from bench import provenance

    store.set_meta("run_name", plan.spec.name)
    store.set_meta("spec", plan.spec.model_dump(mode="json"))
    store.set_meta(
        "plan",
        {"dataset": plan.dataset, "fingerprint": plan.fingerprint, "n_items": len(plan.ids),
         "task": plan.task, "codecs": plan.codecs, "anchor": plan.spec.anchor},
    )
    store.set_meta("provenance", provenance.collect({k: v["version"] for k, v in plan.codecs.items()}))
    store.write_plan(plan.rows)


def _record_metric_infos(store: RunStore, task: Any, dataset: Any) -> None:
    """Each metric's direction and unit, as its evaluator declares them."""
    from bench.metrics.quality import quality_metric_infos

    infos = list(quality_metric_infos()) + list(task.evaluator(dataset).metrics())
    store.set_meta("metric_directions", {m.name: m.higher_is_better for m in infos})
    store.set_meta("metric_units", {m.name: m.unit for m in infos})


def execute_jobs(
    jobs: list[Job], store: RunStore, executor: str, workers: int | None, address: str | None,
    threads: int, progress: bool = True,
) -> tuple[int, int]:
    """Run `jobs`, committing each result as it arrives. Returns (run, failed)."""
    if not jobs:
        return 0, 0
    bar = Progress(len(jobs), enabled=progress)
    failed = 0
    try:
        with make_executor(executor, workers, address, threads) as (ex, n):
            pending = list(reversed(jobs))
            running: dict[Future, Job] = {}
            while pending or running:
                while pending and len(running) < 2 * n:
                    job = pending.pop()
                    running[ex.submit(run_job, job)] = job
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    job = running.pop(fut)
                    result = _result_of(fut, job)
                    store.save_job(result, job.label, job.codec, job.point, job.item_ids)
                    failed += result.status != "ok"
                    bar.advance(f"{job.label} {job.point['kind']}={job.point['value']} #{job.shard}",
                                ok=result.status == "ok")
    finally:
        bar.close()
    return len(jobs), failed


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


def run_spec(
    spec: RunSpec,
    results_dir: str | Path = "results",
    reports_dir: str | Path | None = "reports",
    progress: bool = True,
) -> RunOutcome:
    """Run a validated spec end to end and return what it produced."""
    t0 = time.perf_counter()
    plan = make_plan(spec)
    run_dir = Path(results_dir) / spec.name
    store = RunStore(run_dir, create=True)
    try:
        _record_meta(store, plan)
        dataset, task = plan.dataset_obj, plan.task_obj
        _record_metric_infos(store, task, dataset)
        done = store.done_keys()
        todo = [j for j in plan.jobs if j.key not in done]
        ex = spec.execute
        n_run, n_failed = execute_jobs(
            todo, store, ex.executor, ex.workers, ex.address, ex.threads_per_worker, progress
        )
        points = load_points(store, lambda: task.evaluator(dataset).evaluate)
        report_dir = report = None
        if reports_dir is not None:
            from bench.report import write_run_report

            report_dir = Path(reports_dir) / spec.name
            report = write_run_report(store, report_dir, spec.report.formats)
    finally:
        store.close()
    return RunOutcome(spec.name, run_dir, report_dir, report, len(plan.jobs), n_run, n_failed,
                      points, time.perf_counter() - t0)


def run_spec_cli(
    spec: str, overrides: list[str], workers: int | None, executor: str | None,
    address: str | None, limit: int | None, results_dir: Path, reports_dir: Path,
) -> Path | None:
    """`icm-bench run`: load, apply command-line overrides, run, summarise."""
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
    outcome = run_spec(run, results_dir, reports_dir)
    import typer

    typer.echo(
        f"run {outcome.name}: {outcome.jobs_total} jobs, {outcome.jobs_run} run now "
        f"({outcome.jobs_failed} failed), {outcome.wall_s:.1f} s; results in {outcome.run_dir}"
    )
    if outcome.jobs_failed:
        typer.echo(
            f"{outcome.jobs_failed} job(s) failed: their points are marked incomplete; "
            f"see `icm-bench show {outcome.name}` and the report", err=True,
        )
    return outcome.report
