"""Points from a hand-made store: pooled rates, per-layer rates, timing, one point's
predictions at a time, and no evaluation when nothing changed."""

import math

import pytest

from bench.results.points import compute_points, signature
from bench.results.records import CodecDesc, ItemResult, JobResult, TaskDesc
from bench.results.store import RunStore, point_text

CODEC = CodecDesc(type="fake", params={}, build_params={}, versions={"qp=1": "v", "qp=2": "v"},
                  layers=["base", "enh"])
TASKS = [TaskDesc(name="px", type="pixel"), TaskDesc(name="b", type="pixel", layers=["base"])]


def item(i, base, enh, encode_s=1.0, status="ok", warmup=False):
    return ItemResult(item_id=f"i{i}", status=status, bits=base + enh, pixels=100,
                      layer_bits={"base": base, "enh": enh}, encode_s=encode_s, warmup=warmup,
                      predictions={"px": {"v": float(i)}, "b": {"v": 10.0 + i}})


def make_store(tmp_path):
    store = RunStore(tmp_path / "run", create=True)
    store.set_meta("plan", {"tasks": [t.to_json() for t in TASKS],
                            "codecs": {"c": CODEC.to_json()}})
    rows, jobs = [], {
        ("qp", 1, 0): [item(0, 100, 50, 9.0, warmup=True), item(1, 200, 50, 1.0)],
        ("qp", 1, 1): [item(2, 300, 0, 3.0), item(3, 0, 0, status="failed")],
        ("qp", 2, 0): [item(4, 10, 10), item(5, 30, 10)],
    }
    for (kind, value, shard), items in jobs.items():
        key = f"k{value}{shard}"
        point = {"kind": kind, "value": value}
        rows.append(("c", point, shard, key))
        status = "failed" if any(it.status != "ok" for it in items) else "ok"
        store.save_job(JobResult(key=key, status=status, items=items), "c", {}, point,
                       [it.item_id for it in items])
    rows.append(("c", {"kind": "qp", "value": 2}, 1, "never-run"))
    store.write_plan(rows)
    return store


def mean_evaluator(calls):
    def evaluate(preds):
        calls.append(sorted(preds))
        return {"v": sum(p["v"] for p in preds.values()) / len(preds)}
    return evaluate


def test_points_pool_rates_and_pair_metrics_with_layers(tmp_path):
    store = make_store(tmp_path)
    calls = []
    points = compute_points(store, lambda: {"px": mean_evaluator(calls), "b": mean_evaluator(calls)})
    p1, p2 = points
    assert p1.bits == 150 + 250 + 300 and p1.pixels == 300 and p1.bpp == pytest.approx(700 / 300)
    assert p1.rates == pytest.approx({"bpp": 700 / 300, "bpp/base": 600 / 300, "bpp/enh": 100 / 300})
    assert p1.bpp_per_image_mean == pytest.approx((1.5 + 2.5 + 3.0) / 3)
    assert (p1.n_items, p1.n_failed, p1.n_jobs_missing, p1.complete) == (3, 1, 0, False)
    assert p1.metrics == {"px/v": 1.0, "b/v": 11.0}
    assert p1.metric_rates == {"px/v": "bpp", "b/v": "bpp/base"}
    assert p1.timing.warmup_items == 1 and p1.timing.encode_s.n == 2
    assert p1.timing.encode_s.median == pytest.approx(2.0)
    assert (p2.n_items, p2.n_jobs_missing, p2.complete) == (2, 1, False)
    # each evaluation saw one point's predictions only (never all points' at once)
    assert calls == [["i0", "i1", "i2"], ["i0", "i1", "i2"], ["i4", "i5"], ["i4", "i5"]]


def test_a_rerun_with_nothing_new_does_not_build_evaluators(tmp_path):
    store = make_store(tmp_path)
    first = compute_points(store, lambda: {"px": mean_evaluator([]), "b": mean_evaluator([])})

    def refuse():
        raise AssertionError("evaluators built although nothing changed")

    again = compute_points(store, refuse)
    assert [p.to_json() for p in again] == [p.to_json() for p in first]
    # a job that is stored again changes its point's signature: only that point recomputes
    store.save_job(JobResult(key="k20", status="ok", items=[item(4, 20, 10), item(5, 30, 10)]),
                   "c", {}, {"kind": "qp", "value": 2}, ["i4", "i5"])
    calls = []
    third = compute_points(store, lambda: {"px": mean_evaluator(calls), "b": mean_evaluator(calls)})
    assert calls == [["i4", "i5"], ["i4", "i5"]]
    assert third[1].bits == 70 and third[0].to_json() == first[0].to_json()


def test_signature_follows_job_states(tmp_path):
    store = make_store(tmp_path)
    keys = ["k10", "k11"]
    assert signature(store, keys) == signature(store, keys, store.job_states())
    assert signature(store, keys) != signature(store, ["k10", "never-run"])
    compute_points(store, lambda: {"px": mean_evaluator([]), "b": mean_evaluator([])})
    rows = store.point_rows()
    assert rows[("c", point_text({"kind": "qp", "value": 1}))][0] == signature(store, keys)


def test_a_point_without_ok_items_has_no_rate(tmp_path):
    store = RunStore(tmp_path / "r", create=True)
    store.set_meta("plan", {"tasks": [], "codecs": {"c": CODEC.to_json()}})
    store.save_job(JobResult(key="k", status="failed", items=[item(0, 1, 1, status="failed")]),
                   "c", {}, {"kind": "qp", "value": 1}, ["i0"])
    store.write_plan([("c", {"kind": "qp", "value": 1}, 0, "k")])
    (p,) = compute_points(store, dict)
    assert math.isnan(p.bpp) and p.rates == {} and p.n_failed == 1 and not p.complete
