"""Provenance written into every run: code, packages, codec binaries, host, CPU, GPU, threads.

Cheap by design (it is collected on every run, also a rerun with nothing to do):
no torch import (GPUs are read from the NVIDIA driver, or from torch only when the
process already imported it), installed distributions from the dist-info folder names.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import bench

KEY_PACKAGES = (
    "icm-bench", "numpy", "scipy", "torch", "torchvision", "pycocotools", "imageio-ffmpeg",
    "ffmpeg-python", "pydantic", "dask", "distributed", "matplotlib", "pandas", "shapely",
)


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=20, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode(errors="replace") if proc.returncode == 0 else None


def git_info(path: Path | None = None) -> dict[str, Any]:
    """Commit, dirty flag and a hash of the uncommitted diff of the code's repository."""
    root = path or Path(bench.__file__).resolve().parent.parent
    commit = _git(["rev-parse", "HEAD"], root)
    if commit is None:
        return {"commit": None, "dirty": None, "diff_sha256": None, "note": "not a git checkout"}
    diff = _git(["diff", "HEAD"], root) or ""
    untracked = _git(["ls-files", "--others", "--exclude-standard"], root) or ""
    return {
        "commit": commit.strip(),
        "dirty": bool(diff.strip() or untracked.strip()),
        "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if diff else None,
        "untracked_files": len(untracked.split()),
    }


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def package_versions(dists: dict[str, str] | None = None) -> dict[str, str]:
    """Versions of the key packages (those installed), from `all_distributions`."""
    by_name = {_normalized(k): v for k, v in (dists or all_distributions()).items()}
    return {name: by_name[_normalized(name)] for name in KEY_PACKAGES
            if _normalized(name) in by_name}


def all_distributions() -> dict[str, str]:
    """name -> version of every installed distribution (the first on sys.path wins).

    Read from the `<name>-<version>.dist-info` folder names (a metadata file is parsed
    only for folders without a version in their name, such as editable egg-info).
    """
    dists: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                stem = folder[: -len(".dist-info")]
            elif folder.endswith(".egg-info"):
                stem = folder[: -len(".egg-info")]
            else:
                continue
            name, _, version = stem.partition("-")
            version = version.split("-")[0]
            if not version:
                try:
                    version = metadata.PathDistribution(Path(entry or ".") / folder).version
                except Exception:  # noqa: BLE001 - a broken folder is left out
                    continue
            dists.setdefault(name, version)
    return dict(sorted(dists.items(), key=lambda kv: kv[0].lower()))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _driver_gpus(root: Path = Path("/proc/driver/nvidia/gpus")) -> list[str]:
    """GPU models as the NVIDIA driver lists them (no CUDA initialisation, no torch)."""
    models = []
    try:
        folders = sorted(root.iterdir())
    except OSError:
        return []
    for folder in folders:
        try:
            text = (folder / "information").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Model:"):
                models.append(line.split(":", 1)[1].strip())
    return models


def gpu_info() -> dict[str, Any]:
    """The GPUs: from torch if this process already imported it, else from the driver."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if not torch.cuda.is_available():
            return {"available": False}
        return {
            "available": True,
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "cuda": torch.version.cuda,
        }
    models = _driver_gpus()
    return {"available": True, "devices": models, "source": "nvidia driver"} if models else \
        {"available": False}


def threads_info(execution: dict[str, Any] | None) -> dict[str, Any]:
    """How many threads a job uses, and how many jobs run at once."""
    execution = dict(execution or {})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    executor = execution.get("executor") or "process"
    workers = 1 if executor == "serial" else (execution.get("workers") or cores)
    per_job = int(execution.get("threads_per_worker") or 1)
    return {
        "executor": executor,
        "workers": workers if not execution.get("address") else "the Dask cluster's",
        "threads_per_job": per_job,
        "codec_binary_threads": 1,
        "note": (f"each job runs on {per_job} thread(s): numpy/torch get {per_job} "
                 "(OMP/MKL/OpenBLAS and torch.set_num_threads) and every codec binary runs "
                 "single-threaded (ffmpeg -threads 1, x265 pools=1); jobs run in parallel, "
                 "one per worker"),
    }


def ffmpeg_info() -> dict[str, Any]:
    try:
        from bench.codecs.ffmpeg_bin import ffmpeg_configuration, ffmpeg_exe, ffmpeg_version

        exe = ffmpeg_exe()
        return {"path": exe, "version": ffmpeg_version(exe), "configuration": ffmpeg_configuration(exe)}
    except Exception as exc:  # noqa: BLE001 - provenance records what it could not read
        return {"error": str(exc)}


def collect(codec_versions: dict[str, str] | None = None,
            execution: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything we record about how and where a run was produced.

    `execution`: the spec's `execute` section (executor, workers, threads_per_worker),
    recorded as the threads a job uses.
    """
    dists = all_distributions()
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "icm_bench": bench.__version__,
        "git": git_info(),
        "python": sys.version.split()[0],
        "packages": package_versions(dists),
        "distributions": dists,
        "codecs": dict(codec_versions or {}),
        "ffmpeg": ffmpeg_info(),
        "host": {
            "name": platform.node(),
            "os": platform.platform(),
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
        },
        "gpu": gpu_info(),
        "threads": threads_info(execution),
    }
