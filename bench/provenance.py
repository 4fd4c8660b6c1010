"""Provenance written into every run: code, packages, codec binaries, host, CPU, GPU."""

from __future__ import annotations

import hashlib
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


def package_versions() -> dict[str, str]:
    """Versions of the key packages, then of every installed distribution."""
    out: dict[str, str] = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def all_distributions() -> dict[str, str]:
    dists = {}
    for d in metadata.distributions():
        name = d.metadata.get("Name")
        if name:
            dists[name] = d.version
    return dict(sorted(dists.items(), key=lambda kv: kv[0].lower()))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_info() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"available": False}
    if not torch.cuda.is_available():
        return {"available": False}
    return {
        "available": True,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cuda": torch.version.cuda,
    }


def ffmpeg_info() -> dict[str, Any]:
    try:
        from bench.codecs.ffmpeg_bin import ffmpeg_configuration, ffmpeg_exe, ffmpeg_version

        exe = ffmpeg_exe()
        return {"path": exe, "version": ffmpeg_version(exe), "configuration": ffmpeg_configuration(exe)}
    except Exception as exc:  # noqa: BLE001 - provenance records what it could not read
        return {"error": str(exc)}


def collect(codec_versions: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything we record about how and where a run was produced."""
    import os

    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "icm_bench": bench.__version__,
        "git": git_info(),
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "distributions": all_distributions(),
        "codecs": dict(codec_versions or {}),
        "ffmpeg": ffmpeg_info(),
        "host": {
            "name": platform.node(),
            "os": platform.platform(),
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
        },
        "gpu": gpu_info(),
    }
