"""Baseline comparison: verdicts, tolerance, run-level comparability, exit code."""

import copy
import math

import pytest

from bench.analysis.compare import compare_curves, format_comparison
from bench.errors import AnalysisError

RATES = [0.1, 0.2, 0.4, 0.8]
QUALITY = [30.0, 33.0, 36.0, 39.0]


def entry(scale=1.0, quality=QUALITY, version="v1", complete=None, kind="qp", values=(37, 32, 27, 22)):
    complete = complete or [True] * len(quality)
    return {"type": "x", "version": version, "params": {}, "point_kind": kind, "points": [
        {"point": {"kind": kind, "value": v}, "bpp": r * scale, "metrics": {"psnr_y": q}, "complete": c}
        for v, r, q, c in zip(values, RATES, quality, complete)]}


def curves(**codecs):
    base = {"schema_version": 2, "run": "r", "dataset_fingerprint": "fp", "anchor": "anchor",
            "tasks": [{"name": "", "type": "pixel", "version": "1", "weights_hash": ""}],
            "bd": {"method": "pchip", "monotonic": False, "metrics": None},
            "metric_directions": {"psnr_y": True, "time": False},
            "codecs": {"anchor": entry(), "cand": entry(0.9)}}
    base["codecs"].update(codecs)
    return base


def verdict(result, codec, metric="psnr_y"):
    return next(v for v in result.verdicts if v.codec == codec and v.metric == metric)


def test_identical_is_unchanged_exit_0():
    result = compare_curves(curves(), curves())
    assert {v.verdict for v in result.verdicts} == {"unchanged"}
    assert verdict(result, "cand").bd_rate_percent == pytest.approx(0.0, abs=1e-12)
    assert verdict(result, "cand").anchor_delta == pytest.approx(0.0, abs=1e-9)
    assert result.exit_code == 0


def test_ten_percent_more_bits_is_worse_exit_1():
    new = curves(cand=entry(0.99))
    result = compare_curves(curves(), new)
    v = verdict(result, "cand")
    assert v.verdict == "worse" and v.bd_rate_percent == pytest.approx(10.0, abs=1e-9)
    assert v.anchor_bd_baseline == pytest.approx(-10.0, abs=1e-9)
    assert v.anchor_bd_new == pytest.approx(-1.0, abs=1e-9)
    assert v.anchor_delta == pytest.approx(9.0, abs=1e-9)
    assert verdict(result, "anchor").verdict == "unchanged"
    assert result.exit_code == 1


def test_fewer_bits_is_better_and_tolerance_is_in_percentage_points():
    assert verdict(compare_curves(curves(), curves(cand=entry(0.9 * 0.95))), "cand").verdict == "better"
    slightly = curves(cand=entry(0.9 * 1.009))  # +0.9 %
    assert verdict(compare_curves(curves(), slightly, tolerance=1.0), "cand").verdict == "unchanged"
    assert verdict(compare_curves(curves(), slightly, tolerance=0.5), "cand").verdict == "worse"
    with pytest.raises(AnalysisError, match="tolerance"):
        compare_curves(curves(), curves(), tolerance=-1)


def test_failed_when_missing_or_incomplete():
    new = curves()
    del new["codecs"]["cand"]
    result = compare_curves(curves(), new)
    assert verdict(result, "cand").verdict == "failed"
    assert "missing from NEW" in verdict(result, "cand").note
    assert result.exit_code == 1

    new = curves(cand=entry(0.9, complete=[True, False, True, True]))
    v = verdict(compare_curves(curves(), new), "cand")
    assert v.verdict == "failed" and "qp=32" in v.note



def test_dropped_rate_point_is_worse_even_on_a_better_curve():
    short = curves(cand=entry(0.9))
    short["codecs"]["cand"]["points"].pop()
    v = verdict(compare_curves(curves(), short), "cand")
    assert v.verdict == "worse" and "rate point(s) missing from NEW: qp=22" in v.note


def test_qps_shifted_up_on_the_same_curve_is_worse():
    """The same codec with its QPs shifted up: the points slide down the same RD curve,
    so BD-rate stays ~0, but the gate's operating points deliver less."""
    # One step along the curve: the label qp=37 now gives what qp=42 would have given.
    down = entry(values=(37, 32, 27, 22))
    for i, p in enumerate(down["points"]):
        if i == 0:  # extrapolate one step below the lowest point along the same curve
            p["bpp"], p["metrics"]["psnr_y"] = RATES[0] / 2, QUALITY[0] - 3.0
        else:
            p["bpp"], p["metrics"]["psnr_y"] = RATES[i - 1], QUALITY[i - 1]
    new = curves(cand=down)
    base = curves(cand=entry())
    v = verdict(compare_curves(base, new), "cand")
    assert abs(v.bd_rate_percent) < 1.0
    assert v.verdict == "worse" and "operating points moved" in v.note and "at qp=32" in v.note
    assert compare_curves(base, new).exit_code == 1
    # the list itself shifted up (22..37 -> 27..42): qp=22 is gone
    shifted = entry(values=(42, 37, 32, 27))
    v = verdict(compare_curves(base, curves(cand=shifted)), "cand")
    assert v.verdict == "worse"


def test_failed_when_new_curve_cannot_be_measured():
    new = curves(cand=entry(0.9, quality=[10.0, 11.0, 12.0, 13.0]))  # no quality overlap
    v = verdict(compare_curves(curves(), new), "cand")
    assert v.verdict == "failed" and "do not overlap" in v.note


@pytest.mark.parametrize("change, reason", [
    (lambda c: c.update(dataset_fingerprint="other"), "different dataset"),
    (lambda c: c["tasks"][0].update(version="2"), "different task version"),
    (lambda c: c["tasks"][0].update(weights_hash="abc"), "different task weights_hash"),
    (lambda c: c.update(anchor="cand"), "different anchor"),
    (lambda c: c["codecs"]["anchor"].update(params={"preset": "slow"}), "different anchor"),
])
def test_not_comparable_runs(change, reason):
    new = curves()
    change(new)
    result = compare_curves(curves(), new)
    assert {v.verdict for v in result.verdicts} == {"not comparable"}
    assert any(reason in r for r in result.reasons)
    assert result.exit_code == 0
    assert "NOT COMPARABLE: " + reason in format_comparison(result)


def test_new_codec_and_unusable_baseline_are_not_comparable():
    new = curves(extra=entry(0.5))
    assert verdict(compare_curves(curves(), new), "extra").verdict == "not comparable"
    flat = entry(quality=[30.0, 30.0, 31.0, 32.0])
    v = verdict(compare_curves(curves(cand=flat), curves(cand=flat)), "cand")
    assert v.verdict == "not comparable" and "baseline curve unusable" in v.note


def test_monotonic_fit_from_the_baseline_settings():
    noisy = entry(quality=[30.0, 33.5, 33.0, 39.0])
    base, new = curves(cand=noisy), curves(cand=copy.deepcopy(noisy))
    assert verdict(compare_curves(base, new), "cand").verdict == "not comparable"
    base["bd"]["monotonic"] = True
    assert verdict(compare_curves(base, new), "cand").verdict == "unchanged"


def test_single_point_uncompressed_reference():
    ident = {"type": "identity", "version": "1", "params": {}, "points": [
        {"point": {"kind": "none", "value": 0}, "bpp": 24.0, "metrics": {"psnr_y": math.inf}, "complete": True}]}
    result = compare_curves(curves(identity=ident), curves(identity=copy.deepcopy(ident)))
    assert verdict(result, "identity").verdict == "not comparable"  # inf is no finite value
    ident["points"][0]["metrics"]["psnr_y"] = 100.0
    same = compare_curves(curves(identity=ident), curves(identity=copy.deepcopy(ident)))
    assert verdict(same, "identity").verdict == "unchanged"
    other = copy.deepcopy(ident)
    other["points"][0]["metrics"]["psnr_y"] = 99.0
    v = verdict(compare_curves(curves(identity=ident), curves(identity=other)), "identity")
    assert v.verdict == "not comparable" and "100 at 24 bpp -> 99 at 24 bpp" in v.note


def test_metrics_are_the_baseline_bd_metrics_or_higher_is_better_ones():
    base = curves()
    for e in base["codecs"].values():
        for p in e["points"]:
            p["metrics"]["time"] = 1.0
    assert {v.metric for v in compare_curves(base, copy.deepcopy(base)).verdicts} == {"psnr_y"}
    base["bd"]["metrics"] = ["time"]
    assert {v.metric for v in compare_curves(base, copy.deepcopy(base)).verdicts} == {"time"}


def test_codec_version_change_is_noted():
    v = verdict(compare_curves(curves(), curves(cand=entry(0.9, version="v2"))), "cand")
    assert v.verdict == "unchanged" and "codec version v1 -> v2" in v.note


def test_format_lists_every_verdict_and_the_exit_code():
    text = format_comparison(compare_curves(curves(), curves(cand=entry(0.99))))
    lines = text.splitlines()
    assert lines[0].startswith("baseline: r   new: r   tolerance: 1 pp")
    assert any(line.split()[:3] == ["cand", "psnr_y", "worse"] and "+10.00 %" in line for line in lines)
    assert lines[-1] == "1 worse, 1 unchanged -> exit 1"


def test_a_layered_metric_is_judged_on_its_layer_rate():
    """mAP paired with the base layer's rate: a cheaper enhancement layer changes nothing."""
    def layered(enh_scale):
        e = entry()
        for p in e["points"]:
            p["rates"] = {"bpp": p["bpp"] * (1 + enh_scale), "bpp/base": p["bpp"]}
            p["metric_rates"] = {"psnr_y": "bpp/base"}
        return e
    result = compare_curves(curves(cand=layered(1.0)), curves(cand=layered(0.5)))
    assert verdict(result, "cand").verdict == "unchanged"
