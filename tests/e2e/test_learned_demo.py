"""The default job shows the learned baseline: the demo preset lists it at points inside
the committed weights' trained range (tests/e2e/test_demo.py runs it in a shrunk demo and
checks its report row and timing)."""

from __future__ import annotations

import torch

from bench.codecs.learned_baseline import DEFAULT_WEIGHTS, LearnedBaselineCodec
from bench.spec import read_yaml, resolve_spec_source
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
