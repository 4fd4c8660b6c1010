"""Two runs of the same spec at once: the second stops at once, naming the first; the
first finishes; a later run reuses everything."""

import os

from faultkit import finish, one_line_error, start_driver, tiny_spec, wait_progress, write_spec

SLOW = [{"name": "s", "type": "fault_codecs:SlowCodec", "params": {"sleep_s": 0.1},
         "points": [4, 8, 16]}]


def test_second_run_is_refused_then_first_completes(tmp_path):
    spec = write_spec(tmp_path, tiny_spec(tmp_path, "c", SLOW, n_images=4))
    results = tmp_path / "r"
    first = start_driver(spec, results)
    wait_progress(first, 1)
    second = start_driver(spec, results)
    _, err = finish(second, timeout=120)
    assert second.returncode == 2, err
    line = one_line_error(err)
    assert "in use by another icm-bench run" in line and f"pid {first.pid}" in line
    assert os.uname().nodename in line or "host" in line
    out, err = finish(first)
    assert first.returncode == 0, err
    third = start_driver(spec, results)
    out, err = finish(third)
    assert third.returncode == 0 and "0 run now" in out, err
