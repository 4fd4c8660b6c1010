"""Curve fits behind the Bjontegaard metrics, each a piecewise cubic integrated exactly.

Every method turns points (x, y), x strictly increasing, into a `PiecewiseCubic`
whose pieces are polynomials; `PiecewiseCubic.integrate` evaluates their
antiderivatives in closed form, so no sampling grid is involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.errors import AnalysisError

METHODS: tuple[str, ...] = ("pchip", "cubic", "akima")


@dataclass(frozen=True, eq=False)
class PiecewiseCubic:
    """y(x) on [breaks[0], breaks[-1]]; piece k is sum_j coeffs[k, j] * (x - breaks[k]) ** j."""

    breaks: np.ndarray
    coeffs: np.ndarray

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """Evaluate at x (clamped to the end pieces outside the breaks)."""
        x = np.asarray(x, dtype=float)
        k = np.clip(np.searchsorted(self.breaks, x, side="right") - 1, 0, len(self.coeffs) - 1)
        s = x - self.breaks[k]
        c = self.coeffs[k]
        return c[..., 0] + s * (c[..., 1] + s * (c[..., 2] + s * c[..., 3]))

    def integrate(self, lo: float, hi: float) -> float:
        """The exact integral over [lo, hi], a sub-interval of the breaks' range."""
        total = 0.0
        for k, c in enumerate(self.coeffs):
            a = max(lo, self.breaks[k])
            b = min(hi, self.breaks[k + 1])
            if b > a:
                total += _antiderivative(c, b - self.breaks[k]) - _antiderivative(
                    c, a - self.breaks[k]
                )
        return float(total)


def _antiderivative(c: np.ndarray, s: float) -> float:
    """The integral from 0 to s of c0 + c1 t + c2 t^2 + c3 t^3 dt."""
    return s * (c[0] + s * (c[1] / 2 + s * (c[2] / 3 + s * c[3] / 4)))


def fit_curve(x: np.ndarray, y: np.ndarray, method: str) -> PiecewiseCubic:
    """Fit y(x) by `method` ("pchip", "cubic" or "akima"); x strictly increasing."""
    if method == "pchip":
        return hermite_cubic(x, y, pchip_slopes(x, y))
    if method == "akima":
        return akima_fit(x, y)
    if method == "cubic":
        return polynomial_fit(x, y)
    raise AnalysisError(f"unknown BD method {method!r}: choose one of {', '.join(METHODS)}")


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson derivatives as in MATLAB pchip and the JVET/JCT-VC BD sheet.

    Interior: zero where the secants change sign, else their weighted harmonic mean
    (weights 2h_k + h_{k-1} and h_k + 2h_{k-1}). Ends: the one-sided three-point
    formula, set to zero against the secant's sign and limited to three times it
    where the secants change sign.
    """
    h = np.diff(x)
    delta = np.diff(y) / h
    n = len(x)
    if n == 2:
        return np.array([delta[0], delta[0]])
    d = np.zeros(n)
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    d[0] = _pchip_end(h[0], h[1], delta[0], delta[1])
    d[-1] = _pchip_end(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _pchip_end(h0: float, h1: float, delta0: float, delta1: float) -> float:
    """The shape-preserving end slope from the two secants next to the end."""
    d = ((2 * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1)
    if np.sign(d) != np.sign(delta0):
        return 0.0
    if np.sign(delta0) != np.sign(delta1) and abs(d) > abs(3 * delta0):
        return 3 * delta0
    return float(d)


def hermite_cubic(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> PiecewiseCubic:
    """The cubic Hermite interpolant through (x, y) with slopes d, in power form per piece."""
    h = np.diff(x)
    delta = np.diff(y) / h
    c2 = (3 * delta - 2 * d[:-1] - d[1:]) / h
    c3 = (d[:-1] + d[1:] - 2 * delta) / h**2
    coeffs = np.column_stack([y[:-1], d[:-1], c2, c3])
    return PiecewiseCubic(np.asarray(x, dtype=float), coeffs)


def akima_fit(x: np.ndarray, y: np.ndarray) -> PiecewiseCubic:
    """Akima's (1970) interpolant, from scipy's Akima1DInterpolator; a line for two points."""
    if len(x) == 2:
        return hermite_cubic(x, y, pchip_slopes(x, y))
    from scipy.interpolate import Akima1DInterpolator

    spline = Akima1DInterpolator(x, y)
    return PiecewiseCubic(np.asarray(spline.x, dtype=float), np.asarray(spline.c).T[:, ::-1])


def polynomial_fit(x: np.ndarray, y: np.ndarray) -> PiecewiseCubic:
    """VCEG-M33: least-squares polynomial of degree min(3, n - 1), one piece over [x0, xn]."""
    degree = min(3, len(x) - 1)
    ascending = np.polyfit(x - x[0], y, degree)[::-1]
    coeffs = np.zeros((1, 4))
    coeffs[0, : degree + 1] = ascending
    return PiecewiseCubic(np.array([x[0], x[-1]], dtype=float), coeffs)


def monotonic_cubic_fit(log_rate: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Quality fitted by a cubic in log10 rate with y' >= 0 and y'' <= 0 at the points.

    Least squares under those linear constraints (H. Wang et al., PCS 2024); degree
    min(3, n - 1). Both axes are normalised first, so the fit does not depend on the
    units. The problem is a strictly convex quadratic programme, solved exactly by its
    KKT conditions over the sets of active constraints (no iterative solver to fail).

    Returns:
        The fitted quality at each point, in the input's unit.
    """
    x_mid, x_scale = float(np.mean(log_rate)), float(np.ptp(log_rate)) / 2
    y_mid, y_scale = float(np.mean(quality)), float(np.std(quality))
    if y_scale == 0.0:
        return np.asarray(quality, dtype=float).copy()
    t = (log_rate - x_mid) / x_scale
    z = (quality - y_mid) / y_scale
    degree = min(3, len(t) - 1)
    powers = np.arange(degree + 1)
    vander = t[:, None] ** powers
    slope = powers * t[:, None] ** np.maximum(powers - 1, 0)
    curvature = powers * (powers - 1) * t[:, None] ** np.maximum(powers - 2, 0)
    constraints = np.vstack([slope, -curvature])
    coef = np.linalg.lstsq(vander, z, rcond=None)[0]
    if np.min(constraints @ coef) < 0:
        coef = constrained_least_squares(vander, z, constraints)
    return vander @ coef * y_scale + y_mid


def constrained_least_squares(a: np.ndarray, b: np.ndarray, g: np.ndarray,
                              tol: float = 1e-9) -> np.ndarray:
    """argmin ||a c - b||^2 subject to g c >= 0, for a of full column rank (few columns).

    The optimum is unique and satisfies the KKT conditions with the multipliers of some
    linearly independent set of active constraints. Sets are tried smallest first; the
    first KKT point found (feasible, multipliers >= 0, equations solved) is the optimum.
    Zero constraint rows are always satisfied and skipped; as no constraint involves a
    column that is zero in every row (the cubic's constant term), sets are at most as
    large as the other columns.
    """
    from itertools import combinations

    n = a.shape[1]
    rows = [i for i in range(len(g)) if np.any(g[i] != 0)]
    free = int(np.count_nonzero(np.any(g[rows] != 0, axis=0))) if rows else 0
    hessian, gradient = a.T @ a, a.T @ b
    for size in range(1, min(free, len(rows)) + 1):
        kkt = np.zeros((n + size, n + size))
        kkt[:n, :n] = hessian
        rhs = np.concatenate([gradient, np.zeros(size)])
        for subset in combinations(rows, size):
            active = g[list(subset)]
            kkt[:n, n:], kkt[n:, :n] = -active.T, active
            try:
                solution = np.linalg.solve(kkt, rhs)
            except np.linalg.LinAlgError:
                continue  # dependent constraints: a smaller set covers it
            coef, multipliers = solution[:n], solution[n:]
            if (np.min(g @ coef) >= -tol and np.min(multipliers) >= -tol
                    and np.allclose(kkt @ solution, rhs, atol=1e-9)):
                return coef
    raise AnalysisError("the monotonic cubic fit found no optimum (degenerate points?)")
