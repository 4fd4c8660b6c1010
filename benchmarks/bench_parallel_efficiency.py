"""Parallel efficiency of a codec sweep: the process pool, and Dask 2 workers against 1.

    python benchmarks/bench_parallel_efficiency.py [--executor process|dask] [--codec vvenc]
        [--preset medium] [--workers 2] [--images 16] [--shard-size 4] [--repeat 1]

The sweep is one codec at its six (five) rate points over synthetic-coco images at
320x240 (no task network: the pixel task), each job on one thread (the codec binaries
run single-threaded), run by the real driver loop (`execute_jobs`).

- process: efficiency = ideal / actual, where ideal = the sum of the jobs' single-run
  times (each job run alone, serially, in this process) / workers and actual = the
  pooled sweep's wall time, pool start-up included. Target: >= 0.95 on 2 workers.
  Also the workers' utilisation (their jobs' own seconds over workers x wall) and the
  tail (how long the sweep ran after the first worker had nothing left).
- dask: the same sweep on a LocalCluster of 1 worker, then of `--workers` workers
  (cluster start-up included in both); speed-up = wall(1) / wall(N). Target: >= 1.85.

With `--repeat`, the measurements alternate (serial, pooled, serial, ...) so that both
see the same changes of machine load; the spread is reported. On a shared machine the
wall-time ratio falls with other load (each worker gets less than a core), so each run
also reports what the harness alone accounts for, from load-robust quantities:

- utilisation = the workers' busy seconds (each job's own wall time, as stored) /
  (workers x wall): what the harness loses to idle workers (pool or cluster start-up,
  dispatch gaps, the tail). It is the efficiency the same code would have with the
  cores to itself if two jobs on two cores did not slow each other down, and the Dask
  speed-up would be workers x utilisation(N) / utilisation(1).
- cpu_ratio = CPU seconds of the serial sweep / of the pooled sweep (all processes:
  driver, workers, codec binaries): the pool's extra work (starting workers, caches
  filled once per worker), but also CPU time stretched by contention, so only a hint.
- ceiling (`--ceiling`): the same jobs split over `workers` plain forked
  processes with empty caches, no driver loop, pool or store, each running its share
  serially; the split is the best static one (longest job first, to the least loaded
  process, by the serial pass's job times); ceiling = ideal / their wall time. It is the
  efficiency of this machine for these jobs with no harness at all (what two codec jobs
  on two cores cost each other), and harness_share = efficiency / ceiling what the
  harness keeps of it. With dask, the same split against one plain process from cold
  caches: ceiling_speedup = that process's wall / the split's wall (what the machine gives
  two workers with no harness) and harness_share = speedup / ceiling_speedup.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

# Each job runs on one thread, in the pool (its workers set this before importing numpy) and
# here: the serial pass and the forked ceiling processes would otherwise run BLAS on every
# core. Set before anything below imports numpy.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_average, machine, spread

POINTS = {"vvenc": [22, 27, 32, 37, 42, 47], "x265": [22, 27, 32, 37, 42, 47],
          "jpeg": [10, 30, 50, 70, 90]}
PRESETS = {"vvenc": "medium", "x265": "medium"}


def sweep_spec(codec: str, preset: str | None, images: int, root: str, shard: int) -> dict:
    params = {"preset": preset} if preset and codec in PRESETS else {}
    return {
        "name": "bench-parallel",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": images, "width": 320, "height": 240, "root": root}},
        "task": {"type": "pixel"},
        "codecs": [{"name": codec, "type": codec, "params": params, "points": POINTS[codec]}],
        "execute": {"executor": "process", "shard_size": shard},
        "store": {"keep_bitstreams": False},
    }


class SweepFailed(Exception):
    """A job of the measured sweep failed: the figures would mean nothing."""


def utilisation(run_dir: Path, t_start: float, t_end: float, workers: int) -> dict:
    """Busy share of the workers (stored job seconds / workers x wall) and the idle tail."""
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        rows = con.execute("SELECT worker, wall_s, finished FROM jobs").fetchall()
    finally:
        con.close()
    busy = sum(r[1] for r in rows)
    last: dict[str, float] = {}
    for worker, _, finished in rows:
        last[worker] = max(last.get(worker, t_start), finished)
    return {"utilisation": round(busy / (workers * (t_end - t_start)), 3),
            "tail_s": round(t_end - min(last.values()), 2) if last else 0.0}


def cpu_now() -> float:
    """CPU seconds of this process and of its finished children (workers, codec binaries)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def pooled(plan, executor: str, workers: int, tmp: Path, tag: str) -> tuple[float, dict]:
    from bench.execute.runner import execute_jobs
    from bench.results.store import RunStore

    run_dir = tmp / f"run-{tag}"
    store = RunStore(run_dir, create=True)
    t0, w0, c0 = time.time(), time.perf_counter(), cpu_now()
    _, failed = execute_jobs(plan.jobs, store, executor, workers, None, 1, progress=False)
    wall, t1, cpu = time.perf_counter() - w0, time.time(), cpu_now() - c0
    store.close()
    if failed:
        raise SweepFailed(f"{failed} job(s) failed in the {executor} sweep")
    return wall, {**utilisation(run_dir, t0, t1, workers), "cpu_s": round(cpu, 2)}


def serial_sum(plan) -> tuple[list[float], float]:
    """The jobs' wall seconds, each run alone in this process; and the CPU seconds.

    The per-process caches start empty, as in a fresh one-worker sweep (each pooled
    worker fills its own)."""
    from bench.execute.worker import run_job

    _cold_caches()
    times, c0 = [], cpu_now()
    for job in plan.jobs:
        t0 = time.perf_counter()
        res = run_job(job)
        times.append(time.perf_counter() - t0)
        if res.status != "ok":
            raise SweepFailed(f"a job failed: {res.error}")
    return times, cpu_now() - c0


def _cold_caches() -> None:
    """Empty this process's conversion and sample caches (as a fresh worker has them)."""
    from bench.codecs.yuv import CONVERSION_CACHE
    from bench.execute.worker import SAMPLES

    CONVERSION_CACHE.clear()
    SAMPLES.clear()


def _run_share(jobs: list) -> None:
    """A ceiling process: its share of the jobs, serially, from cold caches."""
    from bench.execute.worker import run_job

    _cold_caches()
    for job in jobs:
        res = run_job(job)
        if res.status != "ok":
            raise SweepFailed(f"a job failed: {res.error}")  # the process exits non-zero


def balanced_shares(jobs: list, seconds: list[float], workers: int) -> list[list]:
    """Longest job first, each to the least loaded share (by its measured seconds)."""
    shares: list[list] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for s, job in sorted(zip(seconds, jobs), key=lambda p: -p[0]):
        k = load.index(min(load))
        shares[k].append(job)
        load[k] += s
    return shares


def ceiling_wall(plan, workers: int, seconds: list[float]) -> float:
    """Wall time of the jobs split (balanced by `seconds`) over `workers` forked processes."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    shares = balanced_shares(plan.jobs, seconds, workers)
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_run_share, args=(share,)) for share in shares]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SweepFailed("a job failed in the ceiling run")
    return time.perf_counter() - t0


def dask_ceiling(plan, workers: int, speedup: float) -> dict:
    """What the machine allows with no harness: one plain process, then `workers` forked."""
    times, _ = serial_sum(plan)
    one = sum(times)
    bare = ceiling_wall(plan, workers, times)
    return {"ceiling_1_process_s": round(one, 2), f"ceiling_{workers}_processes_s": round(bare, 2),
            "ceiling_speedup": round(one / bare, 3),
            "harness_share": round(speedup * bare / one, 3)}


def main() -> None:
    try:
        measure()
    except SweepFailed as exc:
        sys.exit(str(exc))


def measure() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--executor", default="process", choices=["process", "dask"])
    ap.add_argument("--codec", default="vvenc", choices=sorted(POINTS))
    ap.add_argument("--preset", default=None, help="encoder preset (default: medium)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--shard-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--ceiling", action="store_true",
                    help="also time the jobs in plain forked processes (no harness)")
    args = ap.parse_args()
    preset = args.preset or PRESETS.get(args.codec)
    from bench.execute.plan import make_plan
    from bench.execute.worker import run_job
    from bench.spec import validate_spec

    loads, rows = [load_average()], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec = validate_spec(sweep_spec(args.codec, preset, args.images, str(tmp / "data"),
                                        args.shard_size))
        plan = make_plan(spec)
        run_job(plan.jobs[0])  # the synthetic set, imports and objects exist before timing
        for r in range(args.repeat):
            if args.executor == "process":
                times, single_cpu = serial_sum(plan)
                single = sum(times)
                wall, util = pooled(plan, "process", args.workers, tmp, f"p{r}")
                ideal = single / args.workers
                cpu_ratio = single_cpu / util["cpu_s"]
                row = {"sum_single_s": round(single, 2), "ideal_s": round(ideal, 2),
                       "wall_s": round(wall, 2), "efficiency": round(ideal / wall, 3),
                       "serial_cpu_s": round(single_cpu, 2), **util,
                       "cpu_ratio": round(cpu_ratio, 3)}
                if args.ceiling:
                    bare = ceiling_wall(plan, args.workers, times)
                    row.update({"ceiling_wall_s": round(bare, 2),
                                "ceiling": round(ideal / bare, 3),
                                "harness_share": round(bare / wall, 3)})
                rows.append(row)
            else:
                one, util1 = pooled(plan, "dask", 1, tmp, f"d1-{r}")
                many, util = pooled(plan, "dask", args.workers, tmp, f"dn-{r}")
                row = {"wall_1_worker_s": round(one, 2),
                       f"wall_{args.workers}_workers_s": round(many, 2),
                       "speedup": round(one / many, 3),
                       "utilisation_1_worker": util1["utilisation"],
                       "cpu_s_1_worker": util1["cpu_s"],
                       **{f"{k}_{args.workers}_workers": v for k, v in util.items()},
                       "speedup_from_utilisation": round(
                           args.workers * util["utilisation"] / util1["utilisation"], 3),
                       "cpu_ratio": round(util1["cpu_s"] / util["cpu_s"], 3)}
                if args.ceiling:
                    row.update(dask_ceiling(plan, args.workers, one / many))
                rows.append(row)
            loads.append(load_average())
    key, target = ("efficiency", 0.95) if args.executor == "process" else ("speedup", 1.85)
    values = [row[key] for row in rows]
    out = {"benchmark": f"parallel_{args.executor}", "machine": machine(),
           "load_avg_during": loads, "codec": args.codec, "preset": preset,
           "images": args.images, "shard_size": args.shard_size, "jobs": len(plan.jobs),
           "workers": args.workers, "threads_per_job": 1, "runs": rows,
           key: spread(values), "target": target, "meets_target": min(values) >= target}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
