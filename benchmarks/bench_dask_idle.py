"""CPU an idle Dask LocalCluster takes from the machine, with the harness's settings and without.

    python benchmarks/bench_dask_idle.py [--workers 2] [--idle 20] [--repeat 1]

Starts the harness's LocalCluster (`bench.execute.executors.make_executor("dask", N)`), runs
one task, then waits `--idle` seconds; reports the start-up wall and CPU time and the CPU
seconds the driver, nannies and workers (this process and all its descendants, from
psutil) spent while idle. Once with distributed's defaults (LOCAL_CLUSTER_CONFIG emptied)
and once with the harness's settings (docs/performance.md, section 3c).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_average, machine


def tree_cpu() -> float:
    """CPU seconds of this process and of its live descendants."""
    import psutil

    me = psutil.Process()
    procs = [me] + me.children(recursive=True)
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:  # ended between the listing and the reading
            continue
        total += t.user + t.system
    return total


def measure(workers: int, idle: float, settings: dict) -> dict:
    from bench.execute import executors

    with mock.patch.dict(executors.LOCAL_CLUSTER_CONFIG, settings, clear=True):
        c0, w0 = tree_cpu(), time.perf_counter()
        with executors.make_executor("dask", workers) as (ex, _):
            ex.submit(sum, [1, 2]).result(timeout=120)
            c1, w1 = tree_cpu(), time.perf_counter()
            time.sleep(idle)
            c2 = tree_cpu()
    return {"startup_wall_s": round(w1 - w0, 2), "startup_cpu_s": round(c1 - c0, 2),
            "idle_cpu_s": round(c2 - c1, 2), "idle_core_share": round((c2 - c1) / idle, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    from bench.execute.executors import LOCAL_CLUSTER_CONFIG

    lean = dict(LOCAL_CLUSTER_CONFIG)
    runs = []
    for _ in range(args.repeat):
        runs.append({"settings": "distributed defaults", **measure(args.workers, args.idle, {})})
        runs.append({"settings": "harness (LOCAL_CLUSTER_CONFIG)",
                     **measure(args.workers, args.idle, lean)})
    print(json.dumps({"benchmark": "dask_idle", "machine": machine(), "workers": args.workers,
                      "idle_s": args.idle, "runs": runs, "load_avg_after": load_average()},
                     indent=2))


if __name__ == "__main__":
    main()
