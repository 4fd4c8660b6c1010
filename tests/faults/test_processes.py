"""A hanging codec (or VTM, or an external task command) with children: the timeout kills
its whole process group, so nothing it started keeps running."""

import sys
import time

import pytest
from fault_codecs import HANG_SCRIPT
from faultkit import kill_all, tiny_spec, wait_gone

from bench.codecs.vtm import run_logged
from bench.errors import CodecError, TaskError
from bench.execute.runner import run_spec
from bench.spec import validate_spec
from bench.tasks.external import ExternalCocoTask


def grandchildren(pid_file, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = pid_file.read_text() if pid_file.exists() else ""
        if text.strip():
            return [int(p) for p in text.split()]
        time.sleep(0.05)
    raise AssertionError("the wrapper never started its children")


def assert_all_gone(pids):
    left = wait_gone(pids, timeout=10)
    kill_all(left)
    assert not left, f"still running after the timeout: {left}"


def test_hanging_codec_in_a_run_times_out_and_its_children_die(tmp_path):
    pid_file = tmp_path / "kids"
    raw = tiny_spec(tmp_path, "h", [{"name": "h", "type": "fault_codecs:HangingCodec",
                                     "params": {"pid_file": str(pid_file), "timeout_s": 3},
                                     "points": [1]}], n_images=1)
    out = run_spec(validate_spec(raw), tmp_path / "r", None, progress=False)
    assert out.jobs_failed == 1
    kids = grandchildren(pid_file)
    assert_all_gone(kids)


def test_vtm_run_logged_kills_the_group(tmp_path):
    pid_file = tmp_path / "kids"
    with pytest.raises(CodecError, match="timed out"):
        run_logged([sys.executable, "-c", HANG_SCRIPT, str(pid_file)], 3, "VTM encoder")
    assert_all_gone(grandchildren(pid_file))


def test_external_task_command_kills_the_group(tmp_path):
    pid_file = tmp_path / "kids"
    task = ExternalCocoTask([sys.executable, "-c", HANG_SCRIPT, str(pid_file),
                             "{images}", "{output}"], timeout_s=3)
    with pytest.raises(TaskError, match="timed out"):
        task.run_command(task.command[:4])
    assert_all_gone(grandchildren(pid_file))
