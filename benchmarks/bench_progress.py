"""First output of `icm-bench run`, and how right its ETA is after 10 % of the jobs.

    python benchmarks/bench_progress.py [--spec demo] [--work /tmp/icm-bench-rerun] [--keep]

Runs `icm-bench run SPEC` from scratch (WORK/results/<name> is removed first unless
--keep) as a user would, and timestamps every line it prints. Reports:

- first_output_s: from starting the command to its first line (target: under 2 s);
- for the first progress line at or after 10 % (and 25 %, 50 %) of the jobs: the ETA it
  printed, the time the run actually still took (to its last job line), and the relative
  error (target at 10 %: within 30 %);
- the same ETA replayed from the run's stored job times (finish order, each job's own
  seconds and worker, the per-codec model of bench.execute.progress with the run's
  worker count), which is what the progress line prints once the runner passes job
  times to it (requests-perf.md).

The full demo takes minutes of both cores: on a shared machine start it through
/work/tools/train-slot. Afterwards benchmarks/bench_rerun.py can rerun the same WORK.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, machine, python_cli

LINE = re.compile(r"^\[(\d+)/(\d+)\] .* ETA (?:(\d+)h(\d+)m|(\d+)m(\d+)s)\s*$")
FRACTIONS = (0.10, 0.25, 0.50)


def eta_seconds(match: re.Match) -> float:
    h, hm, m, s = match.group(3), match.group(4), match.group(5), match.group(6)
    if h is not None:
        return int(h) * 3600 + int(hm) * 60
    return int(m) * 60 + int(s)


def run_timestamped(argv: list[str]) -> tuple[list[tuple[float, str]], float, int]:
    """(seconds since start, line) of everything the command prints; total wall; status."""
    lines: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, bufsize=1)

    def pump(stream):
        for line in stream:
            lines.append((time.perf_counter() - t0, line.rstrip("\n")))

    threads = [threading.Thread(target=pump, args=(s,)) for s in (proc.stdout, proc.stderr)]
    for t in threads:
        t.start()
    code = proc.wait()
    for t in threads:
        t.join()
    return sorted(lines), time.perf_counter() - t0, code


def printed_eta(lines: list[tuple[float, str]]) -> dict:
    progress = [(t, LINE.match(text)) for t, text in lines if LINE.match(text)]
    if not progress:
        return {}
    total = int(progress[0][1].group(2))
    end = progress[-1][0]
    out = {}
    for fraction in FRACTIONS:
        for t, m in progress:
            if int(m.group(1)) >= math.ceil(fraction * total):
                eta, actual = eta_seconds(m), end - t
                out[f"{int(fraction * 100)}%"] = {
                    "job": int(m.group(1)), "of": total, "eta_s": eta,
                    "actual_remaining_s": round(actual, 1),
                    "error": round((eta - actual) / actual, 3) if actual > 0 else None}
                break
    return out


def replayed_eta(run_dir: Path, workers: int) -> dict:
    """The per-codec ETA after each finished job, from the stored jobs (finish order)."""
    from bench.execute.progress import EtaModel

    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        rows = con.execute("SELECT label, point, wall_s, finished, worker FROM jobs "
                           "ORDER BY finished").fetchall()
    finally:
        con.close()

    def group(label: str, point: str) -> tuple[str, str]:
        p = json.loads(point)
        return label, f"{p.get('kind')}={p.get('value')}"

    model = EtaModel([group(lbl, pt) for lbl, pt, *_ in rows], workers)
    end, total, out, seen = rows[-1][3], len(rows), {}, set()
    for k, (label, point, wall_s, finished, worker) in enumerate(rows, start=1):
        model.finished(group(label, point), wall_s, cold=worker not in seen)
        seen.add(worker)
        for fraction in FRACTIONS:
            key = f"{int(fraction * 100)}%"
            if key not in out and k >= math.ceil(fraction * total):
                eta, actual = model.eta_s() or 0.0, end - finished
                out[key] = {"job": k, "of": total, "eta_s": round(eta, 1),
                            "actual_remaining_s": round(actual, 1),
                            "error": round((eta - actual) / actual, 3) if actual > 0 else None}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--spec", default="demo")
    ap.add_argument("--work", type=Path, default=Path("/tmp/icm-bench-rerun"))
    ap.add_argument("--keep", action="store_true", help="keep stored results (resume)")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    args = ap.parse_args()
    from bench.execute.executors import default_workers
    from bench.spec import load_spec

    spec = load_spec(args.spec, list(args.sets))
    run_dir = args.work / "results" / spec.name
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(args.work / "reports" / spec.name, ignore_errors=True)
    argv = ["run", args.spec, "--results-dir", str(args.work / "results"),
            "--reports-dir", str(args.work / "reports")] + [a for s in args.sets for a in ("--set", s)]
    before = machine()
    lines, wall, code = run_timestamped(python_cli(argv))
    if code != 0:
        sys.exit("the run failed:\n" + "\n".join(text for _, text in lines[-30:]))
    workers = spec.execute.workers or default_workers()
    out = {
        "benchmark": "progress", "spec": args.spec, "machine_before": before,
        "machine_after": machine(), "workers": workers, "wall_s": round(wall, 1),
        "first_output_s": round(lines[0][0], 2) if lines else None,
        "first_line": lines[0][1] if lines else None,
        "printed_eta": printed_eta(lines),
        "replayed_per_codec_eta": replayed_eta(run_dir, workers),
        "targets": {"first_output_s": 2.0, "eta_error_at_10%": 0.30},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
