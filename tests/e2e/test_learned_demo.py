"""The default job shows the learned baseline: the demo preset lists it at points inside
the committed weights' trained range, and a shrunk demo (identity, jpeg, learned-baseline,
two images) codes it for real and puts it in the report with its encode/decode timing,
transform and entropy coding apart."""

from __future__ import annotations

import torch

from bench.codecs.learned_baseline import DEFAULT_WEIGHTS, LearnedBaselineCodec
from bench.execute.runner import run_spec
from bench.spec import read_yaml, resolve_spec_source, validate_spec
from bench.types import RatePoint

torch.set_num_threads(1)


def _demo_raw() -> dict:
    return read_yaml(resolve_spec_source("demo"))


def _baseline_entry(raw: dict) -> dict:
    entries = [c for c in raw["codecs"] if c.get("type") == "learned-baseline"]
    assert len(entries) == 1, raw["codecs"]
    return entries[0]


def test_demo_lists_the_learned_baseline_inside_its_trained_range():
    entry = _baseline_entry(_demo_raw())
    assert DEFAULT_WEIGHTS.is_file(), "the committed learned-baseline weights are missing"
    codec = LearnedBaselineCodec()
    codec.check()
    points = [float(v) for v in entry["points"]]
    assert len(points) >= 4 and points == sorted(points)
    for value in points:
        codec.check_point(RatePoint("lambda", value))  # raises SpecError outside the range


def test_shrunk_demo_reports_the_learned_baseline_with_timing(tmp_path):
    raw = _demo_raw()
    entry = _baseline_entry(raw)
    lo, hi = entry["points"][0], entry["points"][-1]
    raw["dataset"]["params"].update(root=str(tmp_path / "data"), n_images=2)
    raw["codecs"] = [c for c in raw["codecs"] if c.get("name") in ("identity", "jpeg")]
    raw["codecs"].append({**entry, "points": [lo, hi]})
    for codec in raw["codecs"]:
        if codec["name"] == "jpeg":
            codec["points"] = [10, 90]
    raw["anchor"] = "jpeg"
    raw["bd"] = {**raw["bd"], "metrics": ["psnr_y"]}
    raw["execute"] = {"executor": "serial"}
    spec = validate_spec(raw, source="demo (shrunk)")
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, float(p.point.value)): p for p in out.points if p.codec == entry["name"]}
    assert set(by) == {(entry["name"], float(lo)), (entry["name"], float(hi))}
    low, high = by[(entry["name"], float(lo))], by[(entry["name"], float(hi))]
    assert 0 < low.bpp < high.bpp
    assert low.metrics["psnr_y"] < high.metrics["psnr_y"]
    assert all(p.complete and 0 <= p.metrics["bbox/AP"] <= 1 for p in by.values())
    summary = (out.report_dir / "summary.md").read_text()
    timing = summary[summary.index("Timing"):]
    row = next(line for line in timing.splitlines() if line.startswith(f"| {entry['name']} "))
    assert "encode transform median (s)" in timing and "decode entropy median (s)" in timing
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(c not in ("", "-") for c in cells[2:8]), row  # encode/decode stats present
