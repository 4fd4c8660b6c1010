"""Whole-harness behaviour on a tiny synthetic set with test codecs (no ffmpeg needed)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.execute.runner import run_spec
from bench.results.store import RunStore
from bench.spec import validate_spec


def make_spec(tmp_path, **over):
    raw = {
        "name": "t",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": 6, "width": 64, "height": 64, "root": str(tmp_path / "data")}},
        "codecs": [
            {"name": "qa", "type": "fake_codecs:QuantZlibCodec", "points": [4, 16, 32, 64]},
            {"name": "qb", "type": "fake_codecs:QuantZlibCodec", "points": [8, 24, 48]},
        ],
        "anchor": "qa",
        "execute": {"executor": "serial", "shard_size": 4},
    }
    raw.update(over)
    return validate_spec(raw)


def run(tmp_path, spec, **kw):
    return run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False, **kw)


def test_run_rerun_and_added_point(tmp_path):
    spec = make_spec(tmp_path)
    first = run(tmp_path, spec)
    assert first.jobs_total == 14 and first.jobs_run == 14 and first.jobs_failed == 0
    assert [p.codec for p in first.points].count("qa") == 4
    assert all(p.complete for p in first.points)
    # rate falls as the quantiser step rises, PSNR too
    qa = [p for p in first.points if p.codec == "qa"]
    assert [p.bpp for p in qa] == sorted((p.bpp for p in qa), reverse=True)
    assert qa[0].metrics["psnr_rgb"] > qa[-1].metrics["psnr_rgb"]

    again = run(tmp_path, spec)
    assert again.jobs_run == 0
    assert [q.to_json() for q in again.points] == [q.to_json() for q in first.points]

    more = make_spec(tmp_path, codecs=[
        {"name": "qa", "type": "fake_codecs:QuantZlibCodec", "points": [4, 16, 32, 64, 100]},
        {"name": "qb", "type": "fake_codecs:QuantZlibCodec", "points": [8, 24, 48]},
    ])
    third = run(tmp_path, more)
    assert third.jobs_run == 2  # one new point x two shards
    assert len(third.points) == 8


def test_bpp_equals_stored_bitstream_bytes(tmp_path):
    spec = make_spec(tmp_path)
    out = run(tmp_path, spec)
    store = RunStore(out.run_dir)
    pixels = 6 * 64 * 64
    by_point = {}
    for label, point, _shard, key in store.plan():
        size = sum(p.stat().st_size for p in store.bitstream_files(key))
        by_point[(label, point)] = by_point.get((label, point), 0) + size
    for p in out.points:
        key = (p.codec, json.dumps(p.point.to_dict(), sort_keys=True, separators=(",", ":")))
        assert p.pixels == pixels
        assert p.bpp == pytest.approx(by_point[key] * 8 / pixels, rel=0, abs=1e-12)
    store.close()


def test_failed_job_is_isolated_and_point_incomplete(tmp_path):
    spec = make_spec(tmp_path, codecs=[
        {"name": "qa", "type": "fake_codecs:QuantZlibCodec", "points": [4, 16, 32]},
        {"name": "bad", "type": "fake_codecs:FailingCodec", "params": {"fail_at": [16]},
         "points": [4, 16, 32]},
    ])
    out = run(tmp_path, spec)
    assert out.jobs_failed == 2
    bad = {p.point.value: p for p in out.points if p.codec == "bad"}
    assert bad[4].complete and bad[32].complete
    assert not bad[16].complete and bad[16].n_failed == 6
    store = RunStore(out.run_dir)
    failed = [store.job(k) for _, _, _, k in store.plan() if store.job(k)["status"] == "failed"]
    assert failed and "exited with code 3" in failed[0]["error"]
    assert "encoder exploded" in failed[0]["stderr"]
    assert sys.executable in failed[0]["command"]
    store.close()
    md = (out.report_dir / "summary.md").read_text()
    assert "NO" in md  # the incomplete point is marked


def test_process_pool_gives_same_points_as_serial(tmp_path):
    serial = run(tmp_path, make_spec(tmp_path))
    pooled_spec = make_spec(tmp_path, name="t2", execute={"executor": "process", "workers": 2, "shard_size": 4})
    pooled = run(tmp_path, pooled_spec)
    strip = lambda pts: [(p.codec, p.point, p.bpp, p.metrics) for p in pts]
    assert strip(serial.points) == strip(pooled.points)


SCRIPT = """
import sys
from bench.execute.runner import run_spec
from bench.spec import validate_spec
import json
spec = validate_spec(json.loads(sys.argv[1]))
run_spec(spec, sys.argv[2], None, progress=True)
"""


def test_sigkill_halfway_then_rerun_matches_uninterrupted(tmp_path):
    raw = {
        "name": "k",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": 6, "width": 64, "height": 64, "root": str(tmp_path / "data")}},
        "codecs": [{"name": "slow", "type": "fake_codecs:QuantZlibCodec", "points": list(range(2, 42, 2))}],
        "execute": {"executor": "serial", "shard_size": 1},
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "support"), *sys.path])}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(raw), str(tmp_path / "killed")],
                            env=env, stderr=subprocess.PIPE, text=True)
    seen = 0
    for line in proc.stderr:  # progress lines: kill after a third of the jobs
        seen += line.startswith("[")
        if seen >= 40:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    store = RunStore(tmp_path / "killed" / "k")
    stored = len(store.done_keys())
    store.close()
    assert 0 < stored < 120
    resumed = run_spec(validate_spec(raw), tmp_path / "killed", None, progress=False)
    assert resumed.jobs_run == 120 - stored
    clean = run_spec(validate_spec(raw), tmp_path / "clean", None, progress=False)
    table = lambda pts: [{k: v for k, v in p.to_json().items() if k != "timing"} for p in pts]
    assert json.dumps(table(resumed.points), sort_keys=True) == json.dumps(table(clean.points), sort_keys=True)


def test_rerun_keeps_report_and_provenance_and_bootstrap_is_stored(tmp_path):
    spec = make_spec(tmp_path, bd={"bootstrap": {"resamples": 5}})
    first = run(tmp_path, spec)
    report = first.report_dir / "summary.md"
    mtime = report.stat().st_mtime_ns
    store = RunStore(first.run_dir, readonly=True)
    provenance = store.get_meta("provenance")
    assert store.get_meta("bd_bootstrap") is not None  # the runner called the BD bootstrap
    store.close()
    again = run(tmp_path, spec)
    assert again.jobs_run == 0 and again.report == first.report
    assert report.stat().st_mtime_ns == mtime  # inputs unchanged: the report is not rewritten
    store = RunStore(first.run_dir, readonly=True)
    assert store.get_meta("provenance") == provenance  # of the code that made the results
    assert "threads" in provenance
    store.close()


def test_cli_announces_planning_first(tmp_path):
    import yaml

    spec = tmp_path / "a.yaml"
    raw = make_spec(tmp_path, name="a").model_dump(mode="json")
    spec.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[1] / "support"), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "run", str(spec), "--results-dir",
                           str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0].startswith("planning run a: 2 codec(s)")
