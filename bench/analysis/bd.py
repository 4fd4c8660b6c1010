"""Bjontegaard delta metrics: BD-rate and BD-quality (BD-PSNR, BD-mAP, BD-AP3D).

BD-rate is the mean difference of log10 rate, as a function of quality, over the
quality interval both curves cover, reported as 100 * (10 ** mean - 1) percent
(negative = the test needs fewer bits). BD-quality is the mean difference of
quality, as a function of log10 rate, over the log-rate interval both cover, in the
curve's own unit. Fits: "pchip" (the JVET/JCT-VC sheet), "cubic" (VCEG-M33), "akima".

Monotonic fit modes (`monotonic`): "strict" (False) never fits, and a curve whose
quality does not increase with rate has no BD number; "always" (True) replaces every
curve's quality by its monotonic concave cubic fit; "auto" fits only a curve whose
raw quality does not increase, and the result says which curves were fitted.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis.bd_fit import METHODS, fit_curve, monotonic_cubic_fit
from bench.errors import AnalysisError

MONOTONIC_MODES: tuple[str, ...] = ("strict", "auto", "always")


def monotonic_mode(value: bool | str | None) -> str:
    """"strict", "auto" or "always" from a mode or the older flag (False/None, True)."""
    if value is None or value is False:
        return "strict"
    if value is True:
        return "always"
    if value in MONOTONIC_MODES:
        return str(value)
    raise AnalysisError(f"unknown monotonic mode {value!r}: choose one of "
                        f"{', '.join(MONOTONIC_MODES)} (or true = always, false = strict)")


@dataclass(frozen=True)
class BDResult:
    """Both Bjontegaard numbers for a test curve against an anchor.

    A number is None only where its overlap is empty and the other number was the
    one asked for (`bd_rate` needs the quality overlap, `bd_quality` the log-rate
    one); `notes` then says why. `monotonic_fit` is True when a curve's quality was
    replaced by its monotonic fit (`anchor_fitted` / `test_fitted` say which); the
    *_quality_fit fields then hold the fitted values (sorted by rate).
    """

    bd_rate_percent: float | None
    bd_quality: float | None
    method: str
    overlap_quality: tuple[float, float] | None
    overlap_log_rate: tuple[float, float] | None
    monotonic_fit: bool
    n_anchor: int
    n_test: int
    anchor_quality_fit: tuple[float, ...] | None = None
    test_quality_fit: tuple[float, ...] | None = None
    notes: tuple[str, ...] = ()

    @property
    def anchor_fitted(self) -> bool:
        return self.anchor_quality_fit is not None

    @property
    def test_fitted(self) -> bool:
        return self.test_quality_fit is not None

    @property
    def fitted(self) -> str:
        """Which curves were fitted: "", "anchor", "test" or "both"."""
        both = {(True, True): "both", (True, False): "anchor", (False, True): "test"}
        return both.get((self.anchor_fitted, self.test_fitted), "")

    @property
    def overlap_rate(self) -> tuple[float, float] | None:
        """The log-rate overlap in rate units (bpp)."""
        if self.overlap_log_rate is None:
            return None
        return (10 ** self.overlap_log_rate[0], 10 ** self.overlap_log_rate[1])

    def to_dict(self) -> dict[str, Any]:
        """The `icm-bench bd --json` schema ("overlap" is the quality overlap)."""
        out: dict[str, Any] = {
            "bd_rate_percent": self.bd_rate_percent,
            "bd_quality": self.bd_quality,
            "method": self.method,
            "overlap": _as_list(self.overlap_quality),
            "overlap_rate": _as_list(self.overlap_rate),
            "monotonic_fit": self.monotonic_fit,
            "n_anchor": self.n_anchor,
            "n_test": self.n_test,
        }
        if self.monotonic_fit:
            out["fitted"] = self.fitted
            if self.anchor_fitted:
                out["anchor_quality_fit"] = list(self.anchor_quality_fit or ())
            if self.test_fitted:
                out["test_quality_fit"] = list(self.test_quality_fit or ())
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def summary(self) -> str:
        """A few human-readable lines."""
        fit = f" (monotonic cubic fit: {self.fitted})" if self.monotonic_fit else ""
        lines = [f"method: {self.method}{fit}"]
        if self.bd_rate_percent is not None and self.overlap_quality is not None:
            lo, hi = self.overlap_quality
            lines.append(
                f"BD-rate:    {self.bd_rate_percent:+.4f} %  over quality [{lo:.6g}, {hi:.6g}]"
            )
        if self.bd_quality is not None and self.overlap_rate is not None:
            lo, hi = self.overlap_rate
            lines.append(f"BD-quality: {self.bd_quality:+.6g}  over rate [{lo:.6g}, {hi:.6g}]")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _as_list(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [float(pair[0]), float(pair[1])]


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_q: Sequence[float],
    test_rate: Sequence[float],
    test_q: Sequence[float],
    method: str = "pchip",
    monotonic: bool | str = False,
    anchor_label: str = "anchor",
    test_label: str = "test",
) -> BDResult:
    """BD-rate of test against anchor; raises AnalysisError if the qualities do not overlap.

    The result also carries BD-quality when the log rates overlap (else None, with a note).
    """
    return bd_compare(
        anchor_rate, anchor_q, test_rate, test_q, method, monotonic, anchor_label, test_label,
        need="rate",
    )


def bd_quality(
    anchor_rate: Sequence[float],
    anchor_q: Sequence[float],
    test_rate: Sequence[float],
    test_q: Sequence[float],
    method: str = "pchip",
    monotonic: bool | str = False,
    anchor_label: str = "anchor",
    test_label: str = "test",
) -> BDResult:
    """BD-quality of test against anchor (the BDResult, read `.bd_quality`).

    Raises AnalysisError if the log rates do not overlap; BD-rate is filled in when
    the qualities overlap (else None, with a note).
    """
    return bd_compare(
        anchor_rate, anchor_q, test_rate, test_q, method, monotonic, anchor_label, test_label,
        need="quality",
    )


def bd_compare(
    anchor_rate: Sequence[float],
    anchor_q: Sequence[float],
    test_rate: Sequence[float],
    test_q: Sequence[float],
    method: str = "pchip",
    monotonic: bool | str = False,
    anchor_label: str = "anchor",
    test_label: str = "test",
    need: str = "any",
) -> BDResult:
    """Both BD numbers; `need` ("rate", "quality" or "any") says which must exist.

    `monotonic`: "strict" / False, "auto" or "always" / True (the module's docstring).
    """
    if method not in METHODS:
        raise AnalysisError(f"unknown BD method {method!r}: choose one of {', '.join(METHODS)}")
    mode = monotonic_mode(monotonic)
    a_lr, a_q, a_fit = _prepare_curve(anchor_rate, anchor_q, anchor_label, mode)
    t_lr, t_q, t_fit = _prepare_curve(test_rate, test_q, test_label, mode)
    names = f"{anchor_label!r} and {test_label!r}"
    q_overlap, q_why = _overlap(a_q, t_q, "quality", names)
    r_overlap, r_why = _overlap(a_lr, t_lr, "log10 rate", names)
    if q_why and (need == "rate" or (need == "any" and r_why)):
        raise AnalysisError(f"BD-rate is undefined: {q_why}{_scale_hint(a_q, t_q)}")
    if r_why and need in ("quality", "any"):
        raise AnalysisError(f"BD-quality is undefined: {r_why}")
    rate = None if q_overlap is None else _bd_rate_percent(a_q, a_lr, t_q, t_lr, method, q_overlap)
    quality = None if r_overlap is None else _mean_gap(a_lr, a_q, t_lr, t_q, method, r_overlap)
    return BDResult(
        bd_rate_percent=rate,
        bd_quality=quality,
        method=method,
        overlap_quality=q_overlap,
        overlap_log_rate=r_overlap,
        monotonic_fit=a_fit is not None or t_fit is not None,
        n_anchor=len(a_q),
        n_test=len(t_q),
        anchor_quality_fit=a_fit,
        test_quality_fit=t_fit,
        notes=tuple(why for why in (q_why, r_why) if why),
    )


def _bd_rate_percent(a_q, a_lr, t_q, t_lr, method: str, overlap: tuple[float, float]) -> float:
    gap = _mean_gap(a_q, a_lr, t_q, t_lr, method, overlap)
    return 100.0 * math.expm1(gap * math.log(10.0))


def _mean_gap(a_x, a_y, t_x, t_y, method: str, overlap: tuple[float, float]) -> float:
    """Mean of test(x) - anchor(x) over the overlap, both fits integrated exactly."""
    lo, hi = overlap
    test = fit_curve(t_x, t_y, method).integrate(lo, hi)
    anchor = fit_curve(a_x, a_y, method).integrate(lo, hi)
    return (test - anchor) / (hi - lo)


def _overlap(a: np.ndarray, t: np.ndarray, axis: str, names: str) -> tuple[tuple | None, str]:
    """The common interval of two sorted arrays, or None and the reason."""
    lo, hi = max(a[0], t[0]), min(a[-1], t[-1])
    if hi > lo:
        return (float(lo), float(hi)), ""
    ranges = f"[{a[0]:.6g}, {a[-1]:.6g}] and [{t[0]:.6g}, {t[-1]:.6g}]"
    if hi == lo:
        return None, f"curves {names} overlap in {axis} only at the single value {lo:.6g} " + ranges
    return None, f"curves {names} do not overlap in {axis}: {ranges}"


def _scale_hint(a_q: np.ndarray, t_q: np.ndarray) -> str:
    small, large = (a_q, t_q) if a_q[-1] <= t_q[-1] else (t_q, a_q)
    if small[-1] <= 1.0 < large[0] and large[-1] <= 100.0:
        return "; one curve looks like a 0..1 scale and the other 0..100: use one unit for both"
    return ""


def _prepare_curve(
    rate: Sequence[float], quality: Sequence[float], label: str, mode: str
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...] | None]:
    """Validate one curve; return log10 rate and quality sorted by rate, and any fit."""
    r = np.asarray(rate, dtype=float)
    q = np.asarray(quality, dtype=float)
    if r.ndim != 1 or q.ndim != 1 or len(r) != len(q):
        raise AnalysisError(
            f"curve {label!r}: rate and quality must be flat lists of equal length "
            f"(got shapes {r.shape} and {q.shape})"
        )
    if len(r) < 2:
        raise AnalysisError(f"curve {label!r}: BD needs at least 2 points, got {len(r)}")
    bad = [i for i in range(len(r)) if not (np.isfinite(r[i]) and np.isfinite(q[i]) and r[i] > 0)]
    if bad:
        raise AnalysisError(
            f"curve {label!r}: rates must be finite and > 0 and qualities finite; "
            f"offending points {_points(r, q, bad)}"
        )
    order = np.argsort(r, kind="stable")
    r, q = r[order], q[order]
    dup = [i for i in range(len(r) - 1) if r[i + 1] == r[i]]
    if dup:
        idx = sorted({j for i in dup for j in (i, i + 1)})
        raise AnalysisError(f"curve {label!r}: duplicate rates at points {_points(r, q, idx)}")
    fitted = None
    if mode == "always" or (mode == "auto" and _drops(q)):
        q = monotonic_cubic_fit(np.log10(r), q)
        fitted = tuple(float(v) for v in q)
    drops = _drops(q)
    if drops:
        idx = sorted({j for i in drops for j in (i, i + 1)})
        what = "its monotonic cubic fit is flat" if fitted else "quality does not increase"
        hint = "" if fitted else " (monotonic='auto' / --monotonic fits a constrained cubic)"
        raise AnalysisError(
            f"curve {label!r}: {what} with rate between points {_points(r, q, idx)}{hint}"
        )
    return np.log10(r), q, fitted


def _drops(q: np.ndarray) -> list[int]:
    """Indices i where quality does not increase from point i to i + 1."""
    return [i for i in range(len(q) - 1) if not q[i + 1] > q[i]]


def _points(r: np.ndarray, q: np.ndarray, idx: Sequence[int]) -> str:
    return ", ".join(f"(rate={r[i]:.6g}, quality={q[i]:.6g})" for i in idx)


def read_curve_csv(
    path: str | Path, rate_col: str = "bpp", quality_col: str | None = None
) -> tuple[list[float], list[float], str]:
    """Read one curve, one CSV row per point; returns rates, qualities and the quality column.

    Without `quality_col` the file must have exactly one numeric column besides `rate_col`.
    Lines starting with '#' are comments. Row numbers in errors count data rows.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            # '#' lines (source, caveat) are comments, as in anchors/reference/*.csv
            rows = list(csv.DictReader(ln for ln in fh if not ln.lstrip().startswith("#")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AnalysisError(f"cannot read curve CSV {path}: {exc}") from exc
    if not rows:
        raise AnalysisError(f"curve CSV {path} has no data rows (want a header, one row per point)")
    columns = [c for c in rows[0] if c is not None]
    if rate_col not in columns:
        raise AnalysisError(f"curve CSV {path} has no rate column {rate_col!r}: columns {columns}")
    if quality_col is None:
        quality_col = _guess_quality_column(path, rows, columns, rate_col)
    elif quality_col not in columns:
        raise AnalysisError(
            f"curve CSV {path} has no quality column {quality_col!r}: columns {columns}"
        )
    rates = [_cell(path, n, row, rate_col) for n, row in enumerate(rows, start=2)]
    quality = [_cell(path, n, row, quality_col) for n, row in enumerate(rows, start=2)]
    return rates, quality, quality_col


def _guess_quality_column(path: Path, rows: list[dict], columns: list[str], rate_col: str) -> str:
    numeric = [c for c in columns if c != rate_col and all(_is_number(r.get(c)) for r in rows)]
    if len(numeric) != 1:
        raise AnalysisError(
            f"curve CSV {path}: say which column is the quality with --quality-col "
            f"(numeric columns besides {rate_col!r}: {numeric or 'none'})"
        )
    return numeric[0]


def _is_number(text: str | None) -> bool:
    try:
        float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _cell(path: Path, line: int, row: dict, column: str) -> float:
    text = row.get(column)
    if not _is_number(text):
        raise AnalysisError(
            f"curve CSV {path}, line {line}, column {column!r}: not a number: {text!r}"
        )
    return float(text)  # type: ignore[arg-type]


def bd_from_csv(
    anchor_csv: str | Path,
    test_csv: str | Path,
    method: str = "pchip",
    monotonic: bool | str = False,
    rate_col: str = "bpp",
    quality_col: str | None = None,
) -> BDResult:
    """BD numbers for two curve CSV files (what `icm-bench bd` runs)."""
    a_rate, a_q, col = read_curve_csv(anchor_csv, rate_col, quality_col)
    t_rate, t_q, _ = read_curve_csv(test_csv, rate_col, quality_col or col)
    return bd_compare(
        a_rate, a_q, t_rate, t_q, method, monotonic,
        anchor_label=str(anchor_csv), test_label=str(test_csv), need="any",
    )
