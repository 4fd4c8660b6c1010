"""kill -9 of the driver at random points, of a worker, SIGINT and SIGTERM: nothing finished
is lost, nothing is left running, and the resumed run equals an uninterrupted one."""

import os
import random
import signal
import time

import pytest
from faultkit import (
    finish,
    kill_all,
    points_json,
    start_driver,
    tiny_spec,
    wait_gone,
    wait_progress,
    write_spec,
)

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")

SLOW = [{"name": "s", "type": "fault_codecs:SlowCodec", "params": {"sleep_s": 0.05},
         "points": [4, 8, 16, 32]}]


def test_driver_kill9_at_random_points_then_resume_is_exact(tmp_path):
    raw = tiny_spec(tmp_path, "k", SLOW, n_images=4, executor="process", workers=2)
    spec = write_spec(tmp_path, raw)
    killed = tmp_path / "killed"
    rng = random.Random(13)
    for _ in range(2):  # two kills at random points, each resumed by the next start
        proc = start_driver(spec, killed)
        wait_progress(proc, rng.randint(1, 6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        left = wait_gone(sid=proc.pid, timeout=20)  # workers and the resource tracker too
        kill_all(left)
        assert not left, f"processes left after kill -9 of the driver: {left}"
    proc = start_driver(spec, killed)
    out, err = finish(proc)
    assert proc.returncode == 0, err
    clean = start_driver(spec, tmp_path / "clean")
    _, err = finish(clean)
    assert clean.returncode == 0, err
    assert points_json(killed, "k") == points_json(tmp_path / "clean", "k")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_sigterm_message_exit_code_and_cleanup(tmp_path, sig, code):
    raw = tiny_spec(tmp_path, "i", SLOW, n_images=4, executor="process", workers=2)
    spec = write_spec(tmp_path, raw)
    proc = start_driver(spec, tmp_path / "r")
    wait_progress(proc, 2)
    os.kill(proc.pid, sig)
    _, err = finish(proc, timeout=60)
    assert proc.returncode == code, err
    assert "interrupted; finished jobs are stored, re-run to continue" in err
    assert "Traceback" not in err
    left = wait_gone(sid=proc.pid, timeout=20)
    kill_all(left)
    assert not left
    again = start_driver(spec, tmp_path / "r")
    out, err = finish(again)
    assert again.returncode == 0, err
    assert "16 jobs" in out and "failed" in out
    run_now = int(out.split(" run now")[0].rsplit(" ", 1)[-1])
    assert run_now < 16  # the jobs finished before the signal were kept


def test_worker_kill9_run_completes(tmp_path):
    raw = tiny_spec(tmp_path, "w", SLOW, n_images=4, executor="process", workers=2)
    spec = write_spec(tmp_path, raw)
    proc = start_driver(spec, tmp_path / "r")
    wait_progress(proc, 2)
    from bench.execute.executors import child_pids

    workers = [p for p in child_pids(proc.pid) if "spawn_main" in _cmdline(p)]
    assert workers, "no worker process found"
    os.kill(workers[0], signal.SIGKILL)
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert "16 jobs" in out and "(0 failed)" in out
    pts = points_json(tmp_path / "r", "w")
    assert len(pts) == 4 and all(p["complete"] for p in pts)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_driver_kill9_while_a_codec_hangs_kills_its_children_too(tmp_path):
    pid_file = tmp_path / "kids"
    raw = tiny_spec(tmp_path, "h", [{"name": "h", "type": "fault_codecs:HangingCodec",
                                     "params": {"pid_file": str(pid_file), "timeout_s": 120},
                                     "points": [1]}], n_images=1, executor="process", workers=1)
    proc = start_driver(write_spec(tmp_path, raw), tmp_path / "r")
    for _ in range(600):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    kids = [int(p) for p in pid_file.read_text().split()]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = wait_gone(kids, sid=proc.pid, timeout=20)
    kill_all(left)
    assert not left, f"left running after kill -9 of the driver: {left}"
