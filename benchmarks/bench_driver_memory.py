"""Driver memory against run size: 1,000 and 10,000 tiny items (run on demand).

    python benchmarks/bench_driver_memory.py [--sizes 1000 10000] [--workers 2] [--no-report]

Each size is one fresh `run_spec` in its own interpreter (the driver), with the identity
codec and the pixel task over generated 8x8 images (benchmarks/tiny_data.py), on the
process pool, shard size 8 (1,250 jobs for 10,000 items), the report included unless
--no-report. The driver's peak RSS (getrusage) and its RSS after each phase (planned,
jobs run, points computed, report written) are printed; the target (issue 14) is a
peak growing by less than 50 MB from 1,000 to 10,000 items.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine

TARGET_GROWTH_MB = 50.0


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(n: int, workers: int, report: bool, out: Path) -> None:
    """One driver: plan, run, points, report; phase RSS and peak RSS to `out`."""
    from bench.execute import runner
    from bench.spec import validate_spec

    phases = {"start": rss_mb()}
    with tempfile.TemporaryDirectory() as tmp:
        spec = validate_spec({
            "name": "mem",
            "dataset": {"type": "tiny_data:TinyImages", "params": {"n": n, "size": 8}},
            "task": {"type": "pixel"},
            "codecs": [{"name": "identity", "type": "identity", "points": [0]}],
            "execute": {"executor": "process", "workers": workers, "shard_size": 8},
            "report": {"formats": ["md", "csv", "png", "html"]},
        })
        real_plan = runner.make_plan

        def plan_and_mark(s):
            plan = real_plan(s)
            phases["planned"] = rss_mb()
            return plan

        real_points = runner.compute_points

        def points_and_mark(store, factory):
            phases["jobs_run"] = rss_mb()
            points = real_points(store, factory)
            phases["points"] = rss_mb()
            return points

        runner.make_plan, runner.compute_points = plan_and_mark, points_and_mark
        t0 = time.perf_counter()
        outcome = runner.run_spec(spec, Path(tmp) / "results",
                                  Path(tmp) / "reports" if report else None, progress=False)
        phases["end"] = rss_mb()
        assert outcome.jobs_failed == 0 and outcome.points[0].n_items == n, outcome
    out.write_text(json.dumps({
        "items": n, "jobs": outcome.jobs_total, "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_mb_after": {k: round(v, 1) for k, v in phases.items()},
    }))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.workers, not args.no_report, args.out)
        return
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            out = Path(tmp) / f"{n}.json"
            cmd = [sys.executable, __file__, "--child", str(n), "--workers", str(args.workers),
                   "--out", str(out)] + (["--no-report"] if args.no_report else [])
            proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"the {n}-item run failed:\n{proc.stderr[-3000:]}")
            runs.append(json.loads(out.read_text()))
    growth = runs[-1]["peak_rss_mb"] - runs[0]["peak_rss_mb"]
    print(json.dumps({
        "benchmark": "driver_memory", "machine": machine(), "workers": args.workers,
        "report": not args.no_report, "runs": runs,
        "peak_rss_growth_mb": round(growth, 1), "target_growth_mb": TARGET_GROWTH_MB,
        "meets_target": growth < TARGET_GROWTH_MB,
    }, indent=2))


if __name__ == "__main__":
    main()
