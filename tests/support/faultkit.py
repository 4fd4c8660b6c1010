"""Helpers of the fault suite (tests/faults): tiny specs, a driver in a subprocess, the
processes a run leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

SUPPORT = Path(__file__).resolve().parent
ROOT = SUPPORT.parents[1]


def tiny_spec(tmp_path: Path, name: str = "f", codecs: list[dict] | None = None,
              n_images: int = 4, **execute: Any) -> dict[str, Any]:
    """A spec over 64x64 synthetic images with test codecs (no ffmpeg, no networks)."""
    return {
        "name": name,
        "dataset": {"type": "synthetic-coco", "params": {
            "n_images": n_images, "width": 64, "height": 64, "root": str(tmp_path / "data")}},
        "codecs": codecs or [{"name": "q", "type": "fake_codecs:QuantZlibCodec",
                              "points": [4, 16, 64]}],
        "execute": {"executor": "serial", "shard_size": 1, **execute},
        "report": {"formats": ["md"]},
    }


def env() -> dict[str, str]:
    """The environment of a subprocess that can import the test codecs."""
    path = os.pathsep.join([str(SUPPORT), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def write_spec(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def cli_args(spec: Path, results: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", "run", str(spec), "--results-dir", str(results),
            "--reports-dir", str(results.parent / "reports"), *extra]


def start_driver(spec: Path, results: Path, *extra: str) -> subprocess.Popen:
    """`icm-bench run` in its own session (so everything it starts can be found)."""
    proc = subprocess.Popen(cli_args(spec, results, *extra), env=env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    proc.seen_err = ""  # type: ignore[attr-defined]  # stderr read by wait_progress
    return proc


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    """(stdout, all of stderr) once the driver ends."""
    out, err = proc.communicate(timeout=timeout)
    return out.decode(errors="replace"), proc.seen_err + err.decode(errors="replace")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300
            ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], env=env(),
                          cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout)


def wait_progress(proc: subprocess.Popen, lines: int, timeout: float = 120) -> str:
    """Read the driver's stderr (unbuffered) until `lines` progress lines ("[i/n] ...")
    went by; what was read is kept for `finish`."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = proc.seen_err
        if sum(ln.startswith("[") for ln in text.splitlines()) >= lines:
            return text
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        proc.seen_err += chunk.decode(errors="replace")
    raise AssertionError(f"the driver did not get to {lines} jobs: {proc.seen_err}")


def session_pids(sid: int) -> list[int]:
    """Live processes of session `sid` (zombies excluded)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(name))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def wait_gone(pids: list[int] | None = None, sid: int | None = None, timeout: float = 15.0
              ) -> list[int]:
    """Wait until the pids (or the session) are gone; returns what is still alive."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in (pids or []) if alive(p)] + (session_pids(sid) if sid else [])
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def points_json(results: Path, name: str) -> list[dict[str, Any]]:
    """`icm-bench show --json` without timing (what must equal between two runs)."""
    proc = run_cli("show", name, "--json", "--results-dir", str(results))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def one_line_error(stderr: str) -> str:
    """The single error line of a failed command (asserts there is exactly one, no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]
