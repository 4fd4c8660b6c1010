"""The fits behind BD: exact integration, pchip slopes, Akima, VCEG-M33 cubic, monotonic fit."""

from fractions import Fraction

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.interpolate import Akima1DInterpolator, PchipInterpolator
from scipy.optimize import nnls

from bench.analysis.bd_fit import (
    PiecewiseCubic,
    fit_curve,
    monotonic_cubic_fit,
    pchip_slopes,
    polynomial_fit,
)
from bench.errors import AnalysisError

X = np.array([0.1, 0.35, 0.5, 1.2, 1.9, 2.0])
Y = np.array([30.0, 31.5, 33.0, 33.4, 36.0, 36.1])


def test_pchip_hand_example():
    # (0,0), (1,1), (2,3): secants 1 and 2, h = 1.
    # Interior slope: weights 3 and 3 -> 6 / (3/1 + 3/2) = 4/3. Ends: (3*1 - 2)/2 = 1/2
    # and (3*2 - 1)/2 = 5/2. A Hermite piece integrates to h(y0+y1)/2 + h^2(d0-d1)/12:
    # 1/2 - 5/72 + 2 - 7/72 = 7/3.
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(pchip_slopes(x, y), [0.5, 4 / 3, 2.5], rtol=0, atol=1e-15)
    assert fit_curve(x, y, "pchip").integrate(0.0, 2.0) == pytest.approx(7 / 3, abs=1e-14)


def test_pchip_slopes_equal_scipy_and_matlab_rules():
    wiggly = np.array([30.0, 31.5, 31.0, 33.4, 36.0, 35.0])  # sign changes exercise every branch
    for y in (Y, wiggly, -Y):
        ref = PchipInterpolator(X, y).derivative()(X)
        np.testing.assert_allclose(pchip_slopes(X, y), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["pchip", "akima", "cubic"])
def test_integration_is_exact_on_any_subinterval(method):
    fit = fit_curve(X, Y, method)
    for lo, hi in [(0.1, 2.0), (0.2, 1.95), (0.4, 0.45), (0.5, 1.2), (1.3, 1.9)]:
        numeric, err = quad(lambda v: float(fit(v)), lo, hi, points=X[(X > lo) & (X < hi)],
                            epsabs=1e-13, epsrel=1e-13)
        assert fit.integrate(lo, hi) == pytest.approx(numeric, abs=1e-10)


@pytest.mark.parametrize(
    "method, scipy_cls", [("pchip", PchipInterpolator), ("akima", Akima1DInterpolator)]
)
def test_piecewise_fits_equal_scipy_interpolants(method, scipy_cls):
    fit, ref = fit_curve(X, Y, method), scipy_cls(X, Y)
    grid = np.linspace(X[0], X[-1], 97)
    np.testing.assert_allclose(fit(grid), ref(grid), rtol=1e-12)
    assert fit.integrate(0.3, 1.95) == pytest.approx(ref.integrate(0.3, 1.95), rel=1e-12)


def test_fits_pass_through_the_points():
    for method in ("pchip", "akima"):
        np.testing.assert_allclose(fit_curve(X, Y, method)(X), Y, rtol=1e-13)
    four = slice(0, 4)
    np.testing.assert_allclose(polynomial_fit(X[four], Y[four])(X[four]), Y[four], rtol=1e-12)


def test_akima_hand_example():
    # (0,0), (1,1), (2,3), (3,3): secants m = 1, 2, 0, extended m[-2]=-1, m[-1]=0, m[3]=-2, m[4]=-4.
    # Akima slope t_i = (|m_{i+1}-m_i| m_{i-1} + |m_{i-1}-m_{i-2}| m_i) / (sum of the weights):
    # t0 = (1*0 + 1*1)/2 = 1/2, t1 = (2*1 + 1*2)/3 = 4/3, t2 = (2*2 + 1*0)/3 = 4/3,
    # t3 = (|m4-m3| m2 + |m2-m1| m3) / (|m4-m3| + |m2-m1|) = (2*0 + 2*(-2)) / 4 = -1.
    # Pieces (h = 1): 1/2 + (1/2 - 4/3)/12, 2 + (4/3 - 4/3)/12, 3 + (4/3 + 1)/12.
    x, y = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 3.0, 3.0])
    expected = Fraction(1, 2) + (Fraction(1, 2) - Fraction(4, 3)) / 12 + 2 + 3 + Fraction(7, 3) / 12
    assert fit_curve(x, y, "akima").integrate(0.0, 3.0) == pytest.approx(float(expected), abs=1e-14)


def test_cubic_hand_example():
    # y = x^3 at x = 0, .5, 1, 1.5 is fitted exactly; its integral over [0, 1.5] is 1.5^4 / 4.
    x = np.array([0.0, 0.5, 1.0, 1.5]) + 30.0
    fit = fit_curve(x, (x - 30.0) ** 3, "cubic")
    assert fit.integrate(30.0, 31.5) == pytest.approx(1.5**4 / 4, abs=1e-12)
    assert fit.integrate(30.5, 31.0) == pytest.approx((1.0 - 0.5**4) / 4, abs=1e-12)


def test_cubic_with_fewer_points_uses_lower_degree():
    fit = fit_curve(np.array([1.0, 2.0, 4.0]), np.array([1.0, 4.0, 16.0]), "cubic")  # y = x^2
    assert fit.integrate(1.0, 4.0) == pytest.approx((64 - 1) / 3, abs=1e-12)
    two = fit_curve(np.array([1.0, 3.0]), np.array([2.0, 6.0]), "cubic")  # y = 2x
    assert two.integrate(1.0, 3.0) == pytest.approx(8.0, abs=1e-12)


def test_two_points_are_a_line_for_every_method():
    for method in ("pchip", "akima", "cubic"):
        fit = fit_curve(np.array([0.0, 2.0]), np.array([1.0, 5.0]), method)
        assert fit.integrate(0.5, 1.5) == pytest.approx(3.0, abs=1e-14)


def test_unknown_method():
    with pytest.raises(AnalysisError, match="spline.*pchip, cubic, akima"):
        fit_curve(X, Y, "spline")


def test_piecewise_cubic_evaluates_its_power_form():
    coeffs = np.array([[1.0, 2.0, 0.0, 0.0], [3.0, 0.0, 1.0, 0.0]])  # 1 + 2x, then 3 + (x-1)^2
    pc = PiecewiseCubic(np.array([0.0, 1.0, 3.0]), coeffs)
    np.testing.assert_allclose(pc(np.array([0.5, 2.0])), [2.0, 4.0])
    assert pc.integrate(0.0, 3.0) == pytest.approx(2.0 + 6.0 + 8 / 3)


def test_monotonic_fit_hand_example():
    # x = 0, 1, 2; y = 0, 2, 1. The quadratic through them has y'(2) < 0; with y'(2) = 0
    # active, y = a + b x + c x^2 with b = -4c; least squares gives c = -9/26, a = 5/26,
    # b = 36/26, so the fitted values are 5/26, 32/26, 41/26.
    fitted = monotonic_cubic_fit(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0]))
    np.testing.assert_allclose(fitted, np.array([5, 32, 41]) / 26, atol=1e-13)


def test_monotonic_fit_keeps_a_feasible_least_squares_fit():
    x = np.log10([0.04, 0.08, 0.15, 0.29])
    y = np.array([0.5755, 0.6840, 0.7425, 0.7661])  # concave and increasing: the cubic interpolates
    np.testing.assert_allclose(monotonic_cubic_fit(x, y), y, rtol=1e-12)


CURVES = {
    "dips at the fifth point": ([0.0378, 0.0783, 0.1546, 0.2893, 0.5118, 0.8601],
                                [0.5755, 0.6840, 0.7425, 0.7661, 0.7598, 0.7867]),
    # the demo's vvenc bbox/AP (24 images): SLSQP stopped with "Positive directional
    # derivative for linesearch" on it; the exact KKT solve does not iterate
    "demo vvenc bbox/AP": ([0.066688, 0.101146, 0.158503, 0.26306, 0.729544, 1.737231],
                           [0.529614, 0.611698, 0.669989, 0.674972, 0.673721, 0.667383]),
    "demo x265 bbox/AP": ([0.075842, 0.117166, 0.180386, 0.347496, 0.880981, 1.858216],
                          [0.599804, 0.643769, 0.651881, 0.674021, 0.661566, 0.671914]),
}


@pytest.mark.parametrize("name", sorted(CURVES))
def test_monotonic_fit_satisfies_kkt_conditions(name):
    x, y = np.log10(CURVES[name][0]), np.array(CURVES[name][1])
    fitted = monotonic_cubic_fit(x, y)
    t = x - x.mean()
    vander = t[:, None] ** np.arange(4)
    coef = np.linalg.lstsq(vander, fitted, rcond=None)[0]
    np.testing.assert_allclose(vander @ coef, fitted, atol=1e-12)  # it is a cubic
    slope = np.arange(4) * t[:, None] ** np.maximum(np.arange(4) - 1, 0)
    curvature = np.arange(4) * (np.arange(4) - 1) * t[:, None] ** np.maximum(np.arange(4) - 2, 0)
    g = np.vstack([slope, -curvature])
    assert np.min(g @ coef) > -1e-7  # feasible
    active = g[np.abs(g @ coef) < 1e-6]
    # stationarity: V^T (V c - y) = G_active^T lambda with lambda >= 0
    lam, residual = nnls(active.T, vander.T @ (vander @ coef - y))
    assert len(active) > 0 and residual < 1e-6
    assert not np.allclose(fitted, y)  # the data broke the constraints, so the fit moved


def test_monotonic_fit_is_unit_free():
    x = np.log10([0.04, 0.08, 0.15, 0.29, 0.5])
    y = np.array([0.50, 0.68, 0.66, 0.75, 0.74])
    fitted = monotonic_cubic_fit(x, y)
    np.testing.assert_allclose(monotonic_cubic_fit(x, 100 * y), 100 * fitted, rtol=1e-9)
    np.testing.assert_allclose(monotonic_cubic_fit(x + 3, y), monotonic_cubic_fit(x, y), rtol=1e-9)
