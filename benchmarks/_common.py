"""Shared by the benchmarks: machine load, child processes measured (wall, peak RSS), spread."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (how busy the machine was while measuring)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "load_avg_1_5_15": load_average(),
            "time": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def spread(values: list[float], digits: int = 3) -> dict[str, float]:
    """median, min, max of repeated measurements."""
    if not values:
        return {}
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}


def run_measured(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 3600.0) -> dict[str, Any]:
    """Run a command: its wall seconds, exit status and output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, err = b"", b""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "returncode": proc.returncode, "stdout": out.decode(errors="replace"),
            "stderr": err.decode(errors="replace")}


def python_cli(args: list[str], rss_file: Path | None = None,
               modules_file: Path | None = None) -> list[str]:
    """`icm-bench ARGS` as a Python command that can also report its peak RSS and the heavy
    modules it imported (written at exit, so the measurement does not change the run)."""
    code = (
        "import atexit, json, os, resource, sys\n"
        f"rss, mods = {str(rss_file) if rss_file else ''!r}, "
        f"{str(modules_file) if modules_file else ''!r}\n"
        "def _report():\n"
        "    if rss:\n"
        "        open(rss, 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
        "    if mods:\n"
        "        heavy = ('torch', 'torchvision', 'matplotlib', 'scipy', 'pandas', 'pyarrow',\n"
        "                 'distributed', 'dask', 'compressai', 'PIL', 'pycocotools')\n"
        "        json.dump(sorted(m for m in heavy if m in sys.modules), open(mods, 'w'))\n"
        "atexit.register(_report)\n"
        "from bench.cli import main\n"
        "sys.argv = ['icm-bench', *sys.argv[1:]]\n"
        "main()\n"
    )
    return [sys.executable, "-c", code, *args]
