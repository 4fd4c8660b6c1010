"""The exported curves file: content of a real run, strict JSON, schema check on load."""

import json
import math

import pytest

from bench.errors import StoreError
from bench.execute.runner import run_spec
from bench.results.curves import (
    CURVES_SCHEMA_VERSION,
    curves_of,
    export_run,
    load_curves,
    write_curves,
)
from bench.results.points import load_points
from bench.results.store import RunStore
from bench.spec import validate_spec


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    spec = validate_spec({
        "name": "exp",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": 3, "width": 64, "height": 64, "root": str(root / "data")}},
        "codecs": [
            {"name": "identity", "type": "identity", "points": [0]},
            {"name": "qa", "type": "fake_codecs:QuantZlibCodec", "points": [8, 32]},
            {"name": "bad", "type": "fake_codecs:FailingCodec", "params": {"fail_at": [8]}, "points": [8, 32]},
        ],
        "anchor": "qa",
        "bd": {"metrics": ["psnr_y"]},
        "execute": {"executor": "serial"},
    })
    return run_spec(spec, root / "results", None, progress=False).run_dir


def test_export_holds_the_runs_curves(run_dir, tmp_path):
    path = export_run(str(run_dir), tmp_path / "deep" / "curves.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    data = json.loads(text)
    assert data["schema_version"] == CURVES_SCHEMA_VERSION == 2
    assert data["run"] == "exp" and data["anchor"] == "qa"
    assert len(data["dataset_fingerprint"]) >= 16
    assert data["tasks"] == [{"name": "", "type": "pixel", "version": "2", "weights_hash": "",
                              "target": None, "layers": None}]
    assert data["bd"] == {"method": "pchip", "monotonic": "auto", "metrics": ["psnr_y"]}
    assert data["anchors"] == [] and data["metric_units"]["psnr_y"] == "dB"
    assert list(data["codecs"]) == ["identity", "qa", "bad"]
    qa = data["codecs"]["qa"]
    assert qa["type"] == "fake_codecs:QuantZlibCodec" and qa["version"] == "quantzlib-1"
    store = RunStore(run_dir)
    points = {(p.codec, p.point.value): p for p in load_points(store)}
    store.close()
    for p in qa["points"]:
        ref = points[("qa", p["point"]["value"])]
        assert p["bpp"] == ref.bpp and p["metrics"]["psnr_y"] == ref.metrics["psnr_y"]
        assert p["rates"] == {"bpp": ref.bpp} and p["metric_rates"]["psnr_y"] == "bpp"
    assert [p["complete"] for p in data["codecs"]["bad"]["points"]] == [False, True]
    assert data["codecs"]["bad"]["points"][0]["bpp"] is None  # no item ran: NaN -> null
    assert data["codecs"]["identity"]["points"][0]["bpp"] == 24.0
    assert data["metric_directions"]["psnr_y"] is True


def test_load_restores_numbers(run_dir, tmp_path):
    path = export_run(str(run_dir), tmp_path / "c.json")
    raw = json.loads(path.read_text())
    raw["codecs"]["qa"]["points"][0]["metrics"]["psnr_y"] = "inf"
    path.write_text(json.dumps(raw))
    data = load_curves(path)
    assert data["codecs"]["qa"]["points"][0]["metrics"]["psnr_y"] == math.inf
    assert math.isnan(data["codecs"]["bad"]["points"][0]["bpp"])
    assert curves_of(str(path))["run"] == "exp"
    assert curves_of(str(run_dir))["codecs"]["qa"]["points"][1]["bpp"] > 0


def test_schema_version_and_bad_files_are_clear_errors(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema_version": 99, "codecs": {}}))
    with pytest.raises(StoreError, match="schema_version 99.*reads 1, 2.*re-export"):
        load_curves(path)
    path.write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        load_curves(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(StoreError, match="not an icm-bench curves file"):
        load_curves(path)
    path.write_text(json.dumps({"schema_version": 2, "dataset_fingerprint": "x", "tasks": [],
                                "codecs": {"a": {"points": 3}}}))
    with pytest.raises(StoreError, match="codec 'a' has no points list"):
        load_curves(path)
    with pytest.raises(StoreError, match="does not exist"):
        curves_of(str(tmp_path / "missing.json"))
    with pytest.raises(StoreError, match="no run store"):
        curves_of("no-such-run", tmp_path)


def test_write_curves_keeps_order_and_is_stable(tmp_path):
    data = {"schema_version": 1, "codecs": {"vvenc": {}, "jpeg": {}}}
    first = write_curves(data, tmp_path / "x.json").read_text()
    assert first.index('"vvenc"') < first.index('"jpeg"')
    assert write_curves(data, tmp_path / "y.json").read_text() == first
    with pytest.raises(ValueError):
        write_curves({"x": math.nan}, tmp_path / "z.json")  # only strict JSON is written


def test_a_schema_1_file_is_read_with_its_single_task(tmp_path):
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({
        "schema_version": 1, "dataset_fingerprint": "f",
        "task": {"name": "detection", "version": "1", "weights_hash": "w"},
        "codecs": {"a": {"points": [{"point": {"kind": "qp", "value": 22}, "bpp": 0.5,
                                     "metrics": {"bbox/AP": 0.4}, "complete": True}]}}}))
    data = load_curves(path)
    assert data["tasks"][0]["name"] == "detection" and data["tasks"][0]["weights_hash"] == "w"
    point = data["codecs"]["a"]["points"][0]
    assert point["rates"] == {"bpp": 0.5} and point["metric_rates"] == {}
