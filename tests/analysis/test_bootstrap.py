"""Bootstrap intervals of BD values, on a tiny real run (test codecs, the pixel task)."""

import numpy as np
import pytest

from bench.analysis.bootstrap import META_KEY, apply_intervals, bd_settings, bootstrap_bd
from bench.analysis.curves import bd_table
from bench.execute.plan import build_dataset, build_task
from bench.execute.runner import run_spec
from bench.results.points import load_points, planned_tasks, task_key
from bench.results.store import RunStore
from bench.spec import validate_spec


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("boot")
    spec = validate_spec({
        "name": "boot",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": 6, "width": 64, "height": 64, "root": str(root / "d")}},
        "codecs": [
            {"name": "qa", "type": "fake_codecs:QuantZlibCodec", "points": [4, 12, 32, 64]},
            {"name": "qb", "type": "fake_codecs:QuantZlibCodec", "points": [6, 16, 40]},
        ],
        "anchor": "qa",
        "bd": {"metrics": ["psnr_rgb", "psnr_y"], "bootstrap": {"resamples": 40, "seed": 3}},
        "execute": {"executor": "serial", "shard_size": 3},
    })
    return run_spec(spec, root / "results", None, progress=False).run_dir


def evaluators(store):
    dataset = build_dataset(store.get_meta("plan")["dataset"])
    return {task_key(t): build_task(t).evaluator(dataset) for t in planned_tasks(store)}


@pytest.fixture
def store(run_dir):
    s = RunStore(run_dir)
    s.set_meta(META_KEY, None)
    yield s
    s.close()


def test_intervals_per_bd_row_and_per_point(store):
    result = bootstrap_bd(store, lambda: evaluators(store))
    assert result["settings"]["resamples"] == 40 and result["n_items"] == 6
    assert result["metrics"] == ["psnr_rgb", "psnr_y"] and result["errors"] == []
    rows = {(r["codec"], r["anchor"], r["metric"]): r for r in result["rows"]}
    assert set(rows) == {("qb", "qa", "psnr_rgb"), ("qb", "qa", "psnr_y")}
    points = load_points(store)
    estimate = {r.metric: r for r in bd_table(points, "qa", ["psnr_rgb", "psnr_y"])}
    for (_, _, metric), row in rows.items():
        lo, hi = row["bd_rate_ci"]
        assert lo < hi and row["n_rate"] == 40
        assert lo <= estimate[metric].bd_rate_percent <= hi
        qlo, qhi = row["bd_quality_ci"]
        assert qlo <= estimate[metric].bd_quality <= qhi
    bands = {(b["codec"], b["point"]["value"]): b["metrics"] for b in result["points"]}
    assert len(bands) == 7
    for p in points:
        lo, hi = bands[(p.codec, p.point.value)]["psnr_rgb"]
        assert lo <= p.metrics["psnr_rgb"] <= hi
    assert store.get_meta(META_KEY)["signature"] == result["signature"]


def test_seeded_and_reused_while_nothing_changed(store):
    first = bootstrap_bd(store, lambda: evaluators(store))

    def must_not_build():
        raise AssertionError("the stored result should have been reused")

    assert bootstrap_bd(store, must_not_build) == first
    other = bootstrap_bd(store, lambda: evaluators(store), seed=4)
    assert other["signature"] != first["signature"] and other["rows"] != first["rows"]
    again = bootstrap_bd(store, lambda: evaluators(store), seed=3)
    assert again["rows"] == first["rows"]  # same seed, same draws, same numbers


def test_draws_resample_items_so_intervals_shrink_with_identical_items(store):
    """The interval reflects item-to-item spread: items all alike would give width 0."""
    result = bootstrap_bd(store, lambda: evaluators(store))
    widths = [r["bd_rate_ci"][1] - r["bd_rate_ci"][0] for r in result["rows"]]
    assert all(w > 0 for w in widths)


def test_off_without_anchor_or_replicates(store):
    assert bootstrap_bd(store, lambda: evaluators(store), resamples=0) is None


def test_evaluators_without_resampling_give_no_intervals(store):
    class Plain:
        def __init__(self, inner):
            self.inner = inner

        def metrics(self):
            return self.inner.metrics()

    result = bootstrap_bd(store, lambda: {k: Plain(v) for k, v in evaluators(store).items()},
                          seed=11)
    assert all(r["bd_rate_ci"] is None and r["n_rate"] == 0 for r in result["rows"])


def test_apply_intervals_fills_matching_rows(store):
    result = bootstrap_bd(store, lambda: evaluators(store))
    rows = bd_table(load_points(store), "qa", ["psnr_rgb"])
    apply_intervals(rows, result)
    assert rows[0].bd_rate_ci == next(r["bd_rate_ci"] for r in result["rows"]
                                      if r["metric"] == "psnr_rgb")
    assert rows[0].ci_replicates == 40


def test_parallel_workers_give_the_same_numbers(store):
    serial = bootstrap_bd(store, lambda: evaluators(store), seed=5, workers=1)
    store.set_meta(META_KEY, None)
    parallel = bootstrap_bd(store, lambda: evaluators(store), seed=5, workers=2)
    assert parallel["rows"] == serial["rows"]


def test_settings_from_a_spec():
    s = bd_settings({"anchor": "a", "anchors": ["b", "a"], "bd": {"monotonic": True}})
    assert s["anchors"] == ["a", "b"] and s["monotonic"] == "always" and s["resamples"] == 200
    assert bd_settings({"bd": {"monotonic": False}})["monotonic"] == "strict"
    assert np.isclose(bd_settings({})["confidence"], 0.95)
