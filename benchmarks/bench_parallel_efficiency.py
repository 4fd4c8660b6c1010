"""Parallel efficiency of a codec sweep with the process pool (run on demand).

    python benchmarks/bench_parallel_efficiency.py [--codec vvenc] [--workers 2] [--images 16]

Ideal time = sum of the jobs' single-run times (each job run alone, serially) / workers;
efficiency = ideal / actual wall time of the pooled sweep (pool start-up included).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.execute.plan import make_plan
from bench.execute.runner import execute_jobs
from bench.execute.worker import run_job
from bench.spec import validate_spec
from bench.results.store import RunStore

POINTS = {"vvenc": [22, 27, 32, 37, 42, 47], "x265": [22, 27, 32, 37, 42, 47], "jpeg": [2, 4, 8, 16, 31]}


def sweep_spec(codec: str, images: int, root: str, shard: int) -> dict:
    return {
        "name": "bench-parallel",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": images, "width": 320, "height": 240, "root": root}},
        "codecs": [{"name": codec, "type": codec, "points": POINTS[codec]}],
        "execute": {"executor": "process", "shard_size": shard},
        "store": {"keep_bitstreams": False},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--codec", default="vvenc", choices=sorted(POINTS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--shard-size", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = validate_spec(sweep_spec(args.codec, args.images, str(Path(tmp) / "data"), args.shard_size))
        plan = make_plan(spec)
        run_job(plan.jobs[0])  # warm caches (dataset generation, imports) before timing
        single = []
        for job in plan.jobs:
            t0 = time.perf_counter()
            res = run_job(job)
            single.append(time.perf_counter() - t0)
            assert res.status == "ok", res.error
        store = RunStore(Path(tmp) / "pooled", create=True)
        t0 = time.perf_counter()
        execute_jobs(plan.jobs, store, "process", args.workers, None, 1, progress=False)
        wall = time.perf_counter() - t0
        store.close()
    ideal = sum(single) / args.workers
    print(json.dumps({
        "codec": args.codec, "jobs": len(plan.jobs), "workers": args.workers,
        "sum_single_s": round(sum(single), 2), "ideal_s": round(ideal, 2), "wall_s": round(wall, 2),
        "efficiency": round(ideal / wall, 3),
    }))


if __name__ == "__main__":
    main()
