"""A worker process that dies (killed, out of memory, a crash in native code) does not
abort the run: the pool restarts, the lost jobs run again, the rest finishes."""

from faultkit import tiny_spec

from bench.execute.runner import run_spec
from bench.report.failures import collect_failures
from bench.results.store import RunStore
from bench.spec import validate_spec


def run(tmp_path, codecs, name):
    raw = tiny_spec(tmp_path, name, codecs, n_images=2, executor="process", workers=2)
    return run_spec(validate_spec(raw), tmp_path / "results", None, progress=False)


def strip(points):
    return [(p.point.value, p.bpp, p.metrics, p.complete) for p in points]


def test_worker_dies_once_job_is_retried_and_results_equal(tmp_path):
    marker = tmp_path / "markers"
    marker.mkdir()
    out = run(tmp_path, [{"name": "k", "type": "fault_codecs:WorkerKillerCodec",
                          "params": {"die_at": [16], "marker_dir": str(marker)},
                          "points": [4, 16, 64]}], "once")
    assert (marker / "died-16").exists()  # the worker did die
    assert out.jobs_failed == 0 and all(p.complete for p in out.points)
    ref = run(tmp_path, [{"name": "k", "type": "fake_codecs:QuantZlibCodec",
                          "points": [4, 16, 64]}], "ref")
    assert strip(out.points) == strip(ref.points)


def test_job_that_always_kills_its_worker_fails_alone(tmp_path):
    out = run(tmp_path, [{"name": "k", "type": "fault_codecs:WorkerKillerCodec",
                          "params": {"die_at": [16]}, "points": [4, 16, 64]}], "always")
    assert out.jobs_failed == 2  # the two shards of point 16
    by = {p.point.value: p for p in out.points}
    assert by[4].complete and by[64].complete and not by[16].complete
    store = RunStore(out.run_dir, readonly=True)
    (group,) = collect_failures(store)
    store.close()
    assert "worker process died while running this job" in group.reason
    assert group.points == ["step=16"]


def test_workers_that_keep_dying_stop_the_run_with_one_message(tmp_path):
    import pytest

    from bench.errors import BenchError

    with pytest.raises(BenchError, match="died 6 times in a row"):
        run(tmp_path, [{"name": "k", "type": "fault_codecs:WorkerKillerCodec",
                        "params": {"die_at": [4, 16, 64]}, "points": [4, 16, 64]}], "doomed")
