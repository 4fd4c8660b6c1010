"""Worker utilisation of an image-anchor sweep on the process pool (run on demand).

    python benchmarks/bench_worker_utilisation.py [--workers 2] [--images 8] [--scales 100 50]

Codes the VCM image anchor (anchors/vcm-image-vtm*.yaml) when a VTM build is found,
else its libvvenc stand-in (anchors/vcm-image-vvenc*.yaml), over a synthetic set:
every scale x QP x shard is one job. A worker's utilisation is the time it spent in
jobs (each job's own wall time, as stored) over the sweep's wall time, pool start-up
included; `tail_s` is how long the sweep ran after the first worker had nothing left;
`codec_cpu_share` is the codecs' CPU seconds (encoder and decoder processes included)
over workers x wall time, which falls below utilisation when other load shares the cores.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.codecs.vtm import find_vtm
from bench.errors import CodecError
from bench.execute.plan import make_plan
from bench.execute.runner import execute_jobs
from bench.results.store import RunStore
from bench.spec import validate_spec


def anchor_family() -> str:
    """'vtm' when a VTM build is found (VTM_DIR / VTM_BIN_DIR / PATH), else 'vvenc'."""
    try:
        find_vtm()
    except CodecError:
        return "vvenc"
    return "vtm"


def sweep_spec(family: str, scales: list[int], images: int, shard: int, root: str,
               preset: str) -> dict:
    codecs = []
    for scale in scales:
        entry = {"include": f"vcm-image-{family}" + ("" if scale == 100 else f"-{scale}")}
        if family == "vvenc":
            entry["params"] = {"preset": preset}
        codecs.append(entry)
    return {
        "name": "bench-utilisation",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": images, "width": 320, "height": 240, "root": root}},
        "codecs": codecs,
        "execute": {"executor": "process", "shard_size": shard},
        "store": {"keep_bitstreams": False},
    }


def job_rows(run_dir: Path) -> tuple[list[tuple[str, float, float, str]], float]:
    """(worker, wall_s, finished, status) of every stored job, and the codecs' CPU seconds."""
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        rows = con.execute("SELECT worker, wall_s, finished, status FROM jobs").fetchall()
        (cpu,) = con.execute("SELECT SUM(encode_cpu_s + decode_cpu_s) FROM items").fetchone()
    finally:
        con.close()
    return rows, float(cpu or 0.0)


def utilisation(rows: list[tuple[str, float, float, str]], t_start: float, t_end: float,
                workers: int) -> dict:
    """Per-worker busy seconds and utilisation, the overall figure and the idle tail."""
    wall = t_end - t_start
    busy: dict[str, float] = defaultdict(float)
    last: dict[str, float] = {}
    for worker, wall_s, finished, _ in rows:
        busy[worker] += wall_s
        last[worker] = max(last.get(worker, t_start), finished)
    return {
        "wall_s": round(wall, 2),
        "workers_seen": len(busy),
        "per_worker": {w: {"jobs": sum(1 for r in rows if r[0] == w), "busy_s": round(b, 2),
                           "utilisation": round(b / wall, 3)} for w, b in sorted(busy.items())},
        "utilisation": round(sum(busy.values()) / (workers * wall), 3),
        "tail_s": round(t_end - min(last.values()), 2) if last else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--shard-size", type=int, default=4)
    ap.add_argument("--scales", type=int, nargs="+", default=[100, 75, 50, 25])
    ap.add_argument("--preset", default="faster", help="libvvenc preset when VTM is absent")
    args = ap.parse_args()
    family = anchor_family()
    with tempfile.TemporaryDirectory() as tmp:
        raw = sweep_spec(family, args.scales, args.images, args.shard_size,
                         str(Path(tmp) / "data"), args.preset)
        plan = make_plan(validate_spec(raw))
        plan.dataset_obj.load(plan.ids[0])  # generate the synthetic set before timing
        store = RunStore(Path(tmp) / "run", create=True)
        t0 = time.time()
        _, failed = execute_jobs(plan.jobs, store, "process", args.workers, None, 1,
                                 progress=False)
        t1 = time.time()
        store.close()
        rows, cpu = job_rows(Path(tmp) / "run")
    version = next(iter(plan.codecs.values()))["version"]
    report = {"codec": family, "version": version, "jobs": len(plan.jobs), "failed": failed,
              "workers": args.workers, **utilisation(rows, t0, t1, args.workers),
              "codec_cpu_s": round(cpu, 2),
              "codec_cpu_share": round(cpu / (args.workers * (t1 - t0)), 3)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
