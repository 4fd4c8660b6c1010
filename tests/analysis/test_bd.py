"""BD-rate / BD-quality: definitions, worked examples, errors, properties and the CLI."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import Akima1DInterpolator, PchipInterpolator
from typer.testing import CliRunner

from bench.analysis.bd import (
    BDResult,
    bd_compare,
    bd_from_csv,
    bd_quality,
    bd_rate,
    monotonic_mode,
    read_curve_csv,
)
from bench.errors import AnalysisError

METHODS = ["pchip", "cubic", "akima"]
# The VTM-12.0 image anchor of ANCHORS.md (bpp, mAP@0.5).
ANCHOR_R = [0.8601, 0.5118, 0.2893, 0.1546, 0.0783, 0.0378]
ANCHOR_Q = [0.7867, 0.7798, 0.7661, 0.7425, 0.6840, 0.5755]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("monotonic", [False, True])
def test_identical_curves_give_zero(method, monotonic):
    r = bd_rate(ANCHOR_R, ANCHOR_Q, ANCHOR_R, ANCHOR_Q, method=method, monotonic=monotonic)
    assert r.bd_rate_percent == 0.0 and r.bd_quality == 0.0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("monotonic", [False, True])
def test_ninety_percent_rate_is_minus_ten_percent(method, monotonic):
    test_r = [0.9 * v for v in ANCHOR_R]
    r = bd_rate(ANCHOR_R, ANCHOR_Q, test_r, ANCHOR_Q, method=method, monotonic=monotonic)
    assert r.bd_rate_percent == pytest.approx(-10.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_constant_quality_offset_is_the_bd_quality(method):
    r = bd_quality(ANCHOR_R, ANCHOR_Q, ANCHOR_R, [q + 0.0125 for q in ANCHOR_Q], method=method)
    assert r.bd_quality == pytest.approx(0.0125, abs=1e-12)
    assert r.overlap_log_rate == pytest.approx((math.log10(0.0378), math.log10(0.8601)))
    assert r.overlap_quality == pytest.approx((0.5755 + 0.0125, 0.7867))


def test_two_point_worked_example():
    # log10 rate is linear in quality: anchor (q-30)/10, test (q-32)/10. Quality overlap
    # [32, 40], gap -0.2 everywhere: BD-rate 100 (10^-0.2 - 1). Log-rate overlap [0, 1],
    # quality gap 2.
    r = bd_rate([1, 10], [30, 40], [1, 10], [32, 42], method="pchip")
    assert r.bd_rate_percent == pytest.approx(100 * (10**-0.2 - 1), abs=1e-12)
    assert r.bd_quality == pytest.approx(2.0, abs=1e-12)
    assert r.overlap_quality == (32.0, 40.0)
    assert r.overlap_log_rate == (0.0, 1.0) and r.overlap_rate == (1.0, 10.0)


def test_pchip_worked_example_bd_rate():
    # Anchor log10 rate (0, 1, 3) at quality (30, 31, 32): pchip slopes 1/2, 4/3, 5/2 per
    # quality unit (see test_bd_fit), integral 7/3. Test log10 rate 0, 1.5, 3 is a line,
    # integral 3. Mean gap (3 - 7/3) / 2 = 1/3: BD-rate = 100 (10^(1/3) - 1).
    r = bd_rate([1, 10, 1000], [30, 31, 32], [1, 10**1.5, 1000], [30, 31, 32])
    assert r.bd_rate_percent == pytest.approx(100 * (10 ** (1 / 3) - 1), abs=1e-10)


def test_pchip_worked_example_bd_quality():
    # Same curves, quality against log10 rate: anchor x = 0, 1, 3 (h = 1, 2; secants 1, 1/2).
    # Interior slope: weights 5 and 4 -> 9 / (5/1 + 4/(1/2)) = 9/13. Ends: (3*1 - 1/2)/3 = 7/6
    # and (5/2 - 2)/3 = 1/6. Integral: 30.5 + (7/6 - 9/13)/12 + 63 + 4 (9/13 - 1/6)/12
    # = 93.5 + 201/936. Test (linear) integrates to 93 over [0, 3].
    r = bd_rate([1, 10, 1000], [30, 31, 32], [1, 10**1.5, 1000], [30, 31, 32])
    assert r.bd_quality == pytest.approx((93 - 93.5 - 201 / 936) / 3, abs=1e-12)


def test_points_in_any_order():
    order = [3, 0, 5, 1, 4, 2]
    test_r, test_q = [0.8 * v for v in ANCHOR_R], [q + 0.01 for q in ANCHOR_Q]
    shuffled = bd_rate([ANCHOR_R[i] for i in order], [ANCHOR_Q[i] for i in order], test_r, test_q)
    ordered = bd_rate(ANCHOR_R[::-1], ANCHOR_Q[::-1], test_r, test_q)
    assert shuffled == ordered


@pytest.mark.parametrize(
    "method, scipy_cls", [("pchip", PchipInterpolator), ("akima", Akima1DInterpolator)]
)
def test_matches_scipy_interpolants_integrated(method, scipy_cls):
    test_r, test_q = [0.7, 0.4, 0.2, 0.09], [0.79, 0.775, 0.75, 0.69]  # 4 points against 6
    res = bd_rate(ANCHOR_R, ANCHOR_Q, test_r, test_q, method=method)
    assert res.n_anchor == 6 and res.n_test == 4
    lo, hi = 0.69, 0.7867
    assert res.overlap_quality == (lo, hi)
    a = scipy_cls(np.array(ANCHOR_Q[::-1]), np.log10(ANCHOR_R[::-1]))
    t = scipy_cls(np.array(test_q[::-1]), np.log10(test_r[::-1]))
    gap = (t.integrate(lo, hi) - a.integrate(lo, hi)) / (hi - lo)
    assert res.bd_rate_percent == pytest.approx(100 * (10**gap - 1), abs=1e-9)


def test_vceg_m33_cubic_matches_polyfit_in_quality():
    test_r, test_q = [0.7, 0.4, 0.2, 0.09], [0.79, 0.775, 0.75, 0.69]
    res = bd_rate(ANCHOR_R, ANCHOR_Q, test_r, test_q, method="cubic")
    lo, hi = 0.69, 0.7867
    pa = np.polyint(np.polyfit(ANCHOR_Q, np.log(ANCHOR_R), 3))
    pt = np.polyint(np.polyfit(test_q, np.log(test_r), 3))
    area = np.polyval(pt, hi) - np.polyval(pt, lo) - np.polyval(pa, hi) + np.polyval(pa, lo)
    gap = area / (hi - lo)
    assert res.bd_rate_percent == pytest.approx(100 * (math.exp(gap) - 1), abs=1e-8)


def test_quality_scale_does_not_change_bd_rate():
    test_r, test_q = [0.7, 0.4, 0.2, 0.09], [0.79, 0.775, 0.75, 0.69]
    for method in METHODS:
        unit = bd_rate(ANCHOR_R, ANCHOR_Q, test_r, test_q, method=method)
        pct = bd_rate(ANCHOR_R, [100 * q for q in ANCHOR_Q], test_r, [100 * q for q in test_q],
                      method=method)
        assert pct.bd_rate_percent == pytest.approx(unit.bd_rate_percent, rel=1e-9)
        assert pct.bd_quality == pytest.approx(100 * unit.bd_quality, rel=1e-9)


def test_partial_overlap_is_reported_and_used():
    r = bd_rate([0.1, 0.2, 0.4, 0.8], [30, 33, 35, 36], [0.3, 0.5, 1.0, 2.0], [34, 35.5, 37, 38])
    assert r.overlap_quality == (34.0, 36.0)
    assert r.overlap_log_rate == pytest.approx((math.log10(0.3), math.log10(0.8)))
    assert r.overlap_rate == pytest.approx((0.3, 0.8))


def test_no_overlap_is_an_error():
    with pytest.raises(AnalysisError, match="do not overlap in quality"):
        bd_rate([0.1, 0.2], [30, 31], [0.1, 0.2], [35, 36])
    with pytest.raises(AnalysisError, match="do not overlap in log10 rate"):
        bd_quality([0.1, 0.2], [30, 31], [0.5, 0.9], [30, 31])


def test_overlap_in_a_single_point_is_an_error():
    with pytest.raises(AnalysisError, match="only at the single value 31"):
        bd_rate([0.1, 0.2], [30, 31], [0.3, 0.4], [31, 32])


def test_the_other_number_is_none_with_a_note():
    # Qualities overlap, rates do not: BD-rate exists, BD-quality does not.
    r = bd_rate([0.1, 0.2, 0.4], [30, 32, 34], [1.0, 2.0, 4.0], [31, 33, 35])
    assert r.bd_rate_percent is not None and r.bd_quality is None
    assert any("log10 rate" in n for n in r.notes)
    assert r.to_dict()["bd_quality"] is None and r.to_dict()["overlap_rate"] is None
    with pytest.raises(AnalysisError, match="BD-quality is undefined"):
        bd_quality([0.1, 0.2, 0.4], [30, 32, 34], [1.0, 2.0, 4.0], [31, 33, 35])


def test_mixed_scales_get_a_hint():
    with pytest.raises(AnalysisError, match="0..1 scale and the other 0..100"):
        bd_rate(ANCHOR_R, ANCHOR_Q, ANCHOR_R, [100 * q for q in ANCHOR_Q])


def test_duplicate_rates_name_the_curve_and_points():
    pattern = (r"'mine': duplicate rates at points "
               r"\(rate=0.2, quality=31\), \(rate=0.2, quality=32\)")
    with pytest.raises(AnalysisError, match=pattern):
        bd_rate([0.1, 0.2, 0.4], [30, 33, 34], [0.1, 0.2, 0.2], [30, 31, 32], test_label="mine")


def test_non_monotonic_quality_names_the_points_and_the_way_out():
    pattern = (r"'anchor': quality does not increase with rate between points "
               r"\(rate=0.2, quality=33\), \(rate=0.4, quality=32\).*monotonic")
    with pytest.raises(AnalysisError, match=pattern):
        bd_rate([0.1, 0.2, 0.4, 0.8], [30, 33, 32, 34], [0.1, 0.2, 0.4], [30, 31, 32])


def test_monotonic_fit_is_used_and_reported():
    noisy = [0.5755, 0.6840, 0.7425, 0.7661, 0.7598, 0.7867][::-1]
    r = bd_rate(ANCHOR_R, noisy, [0.9 * v for v in ANCHOR_R], noisy, monotonic=True)
    assert r.monotonic_fit and r.bd_rate_percent == pytest.approx(-10.0, abs=1e-9)
    fit = np.array(r.anchor_quality_fit)
    assert np.all(np.diff(fit) > 0) and not np.allclose(fit, sorted(noisy))
    d = r.to_dict()
    assert d["monotonic_fit"] is True and len(d["anchor_quality_fit"]) == 6
    assert "monotonic" in r.summary()


def test_auto_mode_fits_only_the_curve_that_needs_it():
    noisy = [0.5755, 0.6840, 0.7425, 0.7661, 0.7598, 0.7867][::-1]  # ANCHOR_R is descending
    clean = [0.5755, 0.6840, 0.7425, 0.7561, 0.7698, 0.7867][::-1]
    r = bd_rate(ANCHOR_R, clean, ANCHOR_R, noisy, monotonic="auto")
    assert r.monotonic_fit and r.fitted == "test" and r.anchor_quality_fit is None
    assert r.to_dict()["fitted"] == "test" and "anchor_quality_fit" not in r.to_dict()
    plain = bd_rate(ANCHOR_R, clean, [0.9 * v for v in ANCHOR_R], clean, monotonic="auto")
    assert not plain.monotonic_fit and plain.fitted == ""
    both = bd_rate(ANCHOR_R, clean, ANCHOR_R, noisy, monotonic="always")
    assert both.fitted == "both"
    with pytest.raises(AnalysisError, match="does not increase"):
        bd_rate(ANCHOR_R, clean, ANCHOR_R, noisy, monotonic="strict")


@pytest.mark.parametrize("value, mode", [(False, "strict"), (None, "strict"), (True, "always"),
                                         ("auto", "auto"), ("strict", "strict")])
def test_monotonic_modes_keep_the_old_flag_meaning(value, mode):
    assert monotonic_mode(value) == mode


def test_unknown_monotonic_mode():
    with pytest.raises(AnalysisError, match="strict, auto, always"):
        monotonic_mode("sometimes")


def test_monotonic_fit_that_is_flat_is_an_error():
    with pytest.raises(AnalysisError, match="'anchor': its monotonic cubic fit is flat"):
        bd_rate([0.1, 0.2, 0.4], [33, 32, 31], [0.1, 0.2, 0.4], [30, 31, 32], monotonic=True)


@pytest.mark.parametrize("args, pattern", [
    (([0.1], [30], [0.1, 0.2], [30, 31]), "at least 2 points"),
    (([0.1, 0.2], [30], [0.1, 0.2], [30, 31]), "equal length"),
    (([0.1, -0.2], [30, 31], [0.1, 0.2], [30, 31]), r"> 0.*rate=-0.2"),
    (([0.1, 0.2], [30, float("nan")], [0.1, 0.2], [30, 31]), r"quality=nan"),
])
def test_bad_input(args, pattern):
    with pytest.raises(AnalysisError, match=pattern):
        bd_rate(*args)


def test_unknown_method():
    with pytest.raises(AnalysisError, match="unknown BD method 'linear'"):
        bd_rate(ANCHOR_R, ANCHOR_Q, ANCHOR_R, ANCHOR_Q, method="linear")


# -- properties -------------------------------------------------------------------------

@st.composite
def curves(draw, min_points=2):
    n = draw(st.integers(min_points, 6))
    steps_r = draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n))
    steps_q = draw(st.lists(st.floats(0.05, 3.0), min_size=n, max_size=n))
    log_r = np.cumsum(steps_r) - 2.0
    q = 25.0 + np.cumsum(steps_q)
    return list(10**log_r), list(q)


@settings(max_examples=60, deadline=None)
@given(curves(), st.floats(0.5, 2.0), st.sampled_from(METHODS))
def test_rate_scaling_gives_its_percentage(curve, k, method):
    r, q = curve
    res = bd_rate(r, q, [k * v for v in r], q, method=method)
    assert res.bd_rate_percent == pytest.approx(100 * (k - 1), abs=1e-7)


@settings(max_examples=60, deadline=None)
@given(curves(), curves(), st.sampled_from(METHODS))
def test_swapping_anchor_and_test(a, t, method):
    try:
        fwd = bd_compare(*a, *t, method=method)
    except AnalysisError:
        return
    back = bd_compare(*t, *a, method=method)
    if fwd.bd_rate_percent is not None:
        r = fwd.bd_rate_percent / 100
        assert back.bd_rate_percent / 100 == pytest.approx(1 / (1 + r) - 1, rel=1e-9, abs=1e-9)
    if fwd.bd_quality is not None:
        assert back.bd_quality == pytest.approx(-fwd.bd_quality, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(curves(), st.floats(-5, 5), st.floats(0.01, 100), st.sampled_from(METHODS))
def test_quality_affine_change(curve, offset, scale, method):
    r, q = curve
    t_r = [v * 0.8 for v in r]
    base = bd_rate(r, q, t_r, q, method=method)
    q2 = [scale * v + offset for v in q]
    moved = bd_rate(r, q2, t_r, q2, method=method)
    assert moved.bd_rate_percent == pytest.approx(base.bd_rate_percent, rel=1e-7, abs=1e-7)
    shifted = bd_quality(r, q, r, [v + offset for v in q], method=method)
    assert shifted.bd_quality == pytest.approx(offset, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(curves(min_points=3), st.sampled_from(METHODS))
def test_better_everywhere_means_negative_bd_rate(curve, method):
    r, q = curve
    if method == "cubic":  # a least-squares cubic need not keep the ordering
        return
    lift = 0.1 * (q[-1] - q[0])
    res = bd_rate(r, q, [v * 0.95 for v in r], [v + lift for v in q], method=method)
    assert res.bd_rate_percent < 0 and res.bd_quality > 0


# -- CSV and CLI --------------------------------------------------------------------------

def _write(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def test_read_curve_csv_guesses_the_only_numeric_column(tmp_path):
    p = _write(tmp_path / "a.csv", ["codec", "qp", "bpp"], [["vtm", 22, 0.8], ["vtm", 27, 0.5]])
    with pytest.raises(AnalysisError, match="--quality-col"):
        read_curve_csv(_write(tmp_path / "b.csv", ["qp", "bpp", "map"], [[22, 0.8, 0.7]]))
    assert read_curve_csv(p) == ([0.8, 0.5], [22.0, 27.0], "qp")


def test_read_curve_csv_errors(tmp_path):
    with pytest.raises(AnalysisError, match="cannot read curve CSV"):
        read_curve_csv(tmp_path / "missing.csv")
    p = _write(tmp_path / "a.csv", ["bpp", "map"], [[0.1, 0.5], [0.2, "x"]])
    with pytest.raises(AnalysisError, match=r"line 3, column 'map': not a number: 'x'"):
        read_curve_csv(p, quality_col="map")
    with pytest.raises(AnalysisError, match="no rate column 'kbps'"):
        read_curve_csv(p, rate_col="kbps")


def test_cli_bd_json(tmp_path):
    from bench.cli import app

    a = _write(tmp_path / "anchor.csv", ["bpp", "map"], list(zip(ANCHOR_R, ANCHOR_Q)))
    rows = [(0.9 * r, q) for r, q in zip(ANCHOR_R, ANCHOR_Q)]
    t = _write(tmp_path / "test.csv", ["bpp", "map"], rows)
    out = CliRunner().invoke(app, ["bd", str(a), str(t), "--json", "--method", "akima"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    keys = {"bd_rate_percent", "bd_quality", "method", "overlap", "overlap_rate", "monotonic_fit"}
    assert set(data) >= keys
    assert data["bd_rate_percent"] == pytest.approx(-10.0, abs=1e-9)
    assert data["method"] == "akima" and data["monotonic_fit"] is False
    assert data["overlap"] == [0.5755, 0.7867]
    assert data["overlap_rate"] == pytest.approx([0.0378, 0.9 * 0.8601])
    text = CliRunner().invoke(app, ["bd", str(a), str(t), "--quality-col", "map", "--monotonic"])
    assert text.exit_code == 0 and "BD-rate:" in text.output and "monotonic" in text.output


def test_bd_from_csv_labels_errors_with_the_file(tmp_path):
    a = _write(tmp_path / "anchor.csv", ["bpp", "map"], [[0.1, 0.5], [0.2, 0.4]])
    t = _write(tmp_path / "test.csv", ["bpp", "map"], [[0.1, 0.5], [0.2, 0.6]])
    with pytest.raises(AnalysisError, match="anchor.csv"):
        bd_from_csv(a, t)
    assert isinstance(bd_from_csv(t, t), BDResult)
