"""Failed jobs show their reasons: grouped, with items, command and last stderr lines."""

import json

from bench.execute.runner import run_spec
from bench.report.failures import collect_failures, format_failures
from bench.report.show import show_run
from bench.results.store import RunStore
from bench.spec import validate_spec


def failing_run(tmp_path):
    spec = validate_spec({
        "name": "f",
        "dataset": {"type": "synthetic-coco", "params": {
            "n_images": 3, "width": 64, "height": 64, "root": str(tmp_path / "data")}},
        "codecs": [
            {"name": "ok", "type": "fake_codecs:QuantZlibCodec", "points": [4]},
            {"name": "bad", "type": "fake_codecs:FailingCodec", "params": {"fail_at": [16]},
             "points": [4, 16]},
        ],
        "execute": {"executor": "serial", "shard_size": 2},
        "report": {"formats": ["md", "html"]},
    })
    return run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)


def test_failures_grouped_everywhere(tmp_path):
    out = failing_run(tmp_path)
    assert out.jobs_failed == 2
    store = RunStore(out.run_dir, readonly=True)
    (group,) = collect_failures(store)
    store.close()
    assert group.codec == "bad" and group.points == ["step=16"]
    assert "exited with code 3" in group.reason
    assert group.n_items == 3 and group.n_jobs == 2 and len(group.items) == 3
    assert "encoder exploded" in "\n".join(group.stderr)
    assert group.command.startswith("python") or "python" in group.command

    text = show_run(str(out.run_dir))
    assert "Failed jobs" in text and "encoder exploded" in text and "exited with code 3" in text
    points = show_run(str(out.run_dir), as_json=True)
    json.dumps(points)  # JSON-able
    by = {(p["codec"], p["point"]["value"]): p for p in points}
    assert by[("bad", 4)]["failures"] == [] and by[("ok", 4)]["failures"] == []
    (f,) = by[("bad", 16)]["failures"]
    assert f["n_items"] == 3 and "encoder exploded" in "\n".join(f["stderr"])

    md = (out.report_dir / "summary.md").read_text()
    assert "## Failed jobs" in md and "encoder exploded" in md
    page = (out.report_dir / "index.html").read_text()
    assert "id='failures'" in page and "encoder exploded" in page


def test_no_failures_no_section(tmp_path):
    assert format_failures([]) == ""
    spec = validate_spec({
        "name": "g",
        "dataset": {"type": "synthetic-coco", "params": {
            "n_images": 2, "width": 64, "height": 64, "root": str(tmp_path / "data")}},
        "codecs": [{"name": "ok", "type": "fake_codecs:QuantZlibCodec", "points": [4]}],
        "execute": {"executor": "serial"},
        "report": {"formats": ["md", "html"]},
    })
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert "Failed jobs" not in (out.report_dir / "summary.md").read_text()
    assert "id='failures'" not in (out.report_dir / "index.html").read_text()
    assert "Failed jobs" not in show_run(str(out.run_dir))
