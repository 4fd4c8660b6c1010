"""docs/schema.md names every field of every stored or exported record."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench.results import records

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
RECORDS = [records.TaskDesc, records.CodecDesc, records.ItemResult, records.JobResult,
           records.Stats, records.Timing, records.Point]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.__name__)
def test_every_field_is_documented(record):
    text = DOC.read_text()
    assert f"### {record.__name__}" in text
    missing = [f.name for f in dataclasses.fields(record) if f"`{f.name}`" not in text]
    assert not missing, f"docs/schema.md does not describe {record.__name__}.{missing}"


@pytest.mark.parametrize("record, example", [
    (records.Point, records.Point("c", records.RatePoint("qp", 22), 0.5, rates={"bpp": 0.5},
                                  metrics={"a": float("inf")}, metric_rates={"a": "bpp"})),
    (records.TaskDesc, records.TaskDesc("det", "detection", {"x": 1}, "1", "w", "detection",
                                        ["base"])),
    (records.ItemResult, records.ItemResult("7", bits=8, pixels=4, layer_bits={"main": 8},
                                            timing={"env": {"device": "cpu"}}, warmup=True)),
])
def test_records_round_trip_through_json(record, example):
    import json

    again = record.from_json(json.loads(json.dumps(example.to_json())))
    assert again == example or (record is records.ItemResult and
                                again.to_json() == example.to_json())
