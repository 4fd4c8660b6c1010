"""Baseline comparison for CI: a new run's curves against a stored baseline.

Per codec and metric, the verdict comes from the BD-rate of the NEW curve against the
BASELINE curve of the same codec (positive = NEW needs more bits for the same quality):

- ``worse`` / ``better``: that BD-rate is above +tolerance / below -tolerance
  (tolerance in BD-rate percentage points);
- ``worse`` also when the RD curve holds but its operating points moved down: a
  baseline rate point is missing from NEW, or at a rate point both runs have (same QP,
  say) NEW's quality fell by more than `tolerance` percent of the baseline's value. A
  nightly gate runs fixed QPs; shifting them (or what a QP means) changes the accuracy
  delivered even when the points stay on the same curve;
- ``unchanged``: within the tolerance;
- ``failed``: the codec is missing from NEW, a NEW point is incomplete (failed jobs),
  or the NEW curve cannot be measured against the baseline (no overlap, quality not
  increasing with rate);
- ``not comparable``: the runs differ in dataset fingerprint, task (name, version,
  weights) or anchor; or the codec has no baseline curve; or the baseline curve itself
  admits no BD-rate; or a single-point curve (the uncompressed reference) changed.

The change of each codec's BD-rate against the anchor (NEW's minus BASELINE's) is
reported next to it: it tells whether a codec kept its gain when the anchor moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.analysis.bd import bd_compare, monotonic_mode
from bench.errors import AnalysisError

VERDICTS = ("worse", "failed", "better", "unchanged", "not comparable")


@dataclass
class Verdict:
    """One codec x metric outcome of a comparison."""

    codec: str
    metric: str
    verdict: str
    bd_rate_percent: float | None = None  # NEW against BASELINE
    anchor_bd_baseline: float | None = None  # BASELINE codec against BASELINE anchor
    anchor_bd_new: float | None = None  # NEW codec against NEW anchor
    note: str = ""

    @property
    def anchor_delta(self) -> float | None:
        """Change of the BD-rate against the anchor, in percentage points."""
        if self.anchor_bd_baseline is None or self.anchor_bd_new is None:
            return None
        return self.anchor_bd_new - self.anchor_bd_baseline


@dataclass
class Comparison:
    """All verdicts of one BASELINE vs NEW comparison."""

    baseline: str
    new: str
    tolerance: float
    verdicts: list[Verdict] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # run-level "not comparable" causes

    def count(self, verdict: str) -> int:
        return sum(v.verdict == verdict for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        """1 on any worse or failed verdict, else 0 (what a CI gate needs)."""
        return 1 if self.count("worse") or self.count("failed") else 0


def run_level_differences(baseline: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why two curve sets cannot be compared at all: dataset, task or anchor differ."""
    reasons = []
    if baseline.get("dataset_fingerprint") != new.get("dataset_fingerprint"):
        reasons.append(
            f"different dataset (fingerprint {baseline.get('dataset_fingerprint')} vs "
            f"{new.get('dataset_fingerprint')})"
        )
    b_tasks, n_tasks = baseline.get("tasks") or [], new.get("tasks") or []
    if len(b_tasks) != len(n_tasks):
        reasons.append(f"different tasks ({_task_names(b_tasks)} vs {_task_names(n_tasks)})")
    for b_task, n_task in zip(b_tasks, n_tasks):
        for key in ("name", "version", "weights_hash"):
            if b_task.get(key) != n_task.get(key):
                reasons.append(
                    f"different task {key} ({b_task.get(key)!r} vs {n_task.get(key)!r})")
    if _anchor_identity(baseline) != _anchor_identity(new):
        reasons.append(
            f"different anchor ({_describe_anchor(baseline)} vs {_describe_anchor(new)})"
        )
    return reasons


def _task_names(tasks: list[dict[str, Any]]) -> str:
    return ", ".join(str(t.get("name") or t.get("type")) for t in tasks) or "none"


def _anchor_identity(curves: dict[str, Any]) -> tuple | None:
    label = curves.get("anchor")
    if label is None:
        return None
    entry = curves.get("codecs", {}).get(label) or {}
    return (label, entry.get("type"), repr(sorted((entry.get("params") or {}).items())))


def _describe_anchor(curves: dict[str, Any]) -> str:
    ident = _anchor_identity(curves)
    if ident is None:
        return "none"
    entry = curves["codecs"].get(ident[0]) or {}
    return f"{ident[0]!r}: {entry.get('type')} {entry.get('params') or {}}"


def compared_metrics(baseline: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The baseline's BD metrics, else every higher-is-better metric both runs have."""
    wanted = (baseline.get("bd") or {}).get("metrics")
    directions = baseline.get("metric_directions") or {}
    seen: dict[str, None] = {}
    for curves in (baseline, new):
        for entry in curves.get("codecs", {}).values():
            for p in entry["points"]:
                for m in p["metrics"]:
                    seen.setdefault(m, None)
    if wanted:
        return [m for m in wanted if m in seen]
    return [m for m in seen if directions.get(m, True)]


def compare_curves(
    baseline: dict[str, Any],
    new: dict[str, Any],
    tolerance: float = 1.0,
    metrics: list[str] | None = None,
) -> Comparison:
    """Verdicts for every codec and metric of BASELINE and NEW (curves-file dicts)."""
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise AnalysisError(
            f"tolerance must be a number >= 0 (BD-rate percentage points), got {tolerance!r}"
        )
    result = Comparison(str(baseline.get("run")), str(new.get("run")), float(tolerance))
    result.reasons = run_level_differences(baseline, new)
    metrics = metrics or compared_metrics(baseline, new)
    labels = list(baseline["codecs"]) + [c for c in new["codecs"] if c not in baseline["codecs"]]
    bd = baseline.get("bd") or {}
    ctx = _Context(baseline, new, tolerance, bd.get("method") or "pchip",
                   monotonic_mode(bd.get("monotonic")))
    for label in labels:
        for metric in metrics:
            if result.reasons:
                result.verdicts.append(
                    Verdict(label, metric, "not comparable", note="; ".join(result.reasons)))
            else:
                result.verdicts.append(ctx.judge(label, metric))
    return result


@dataclass
class _Context:
    baseline: dict[str, Any]
    new: dict[str, Any]
    tolerance: float
    method: str
    monotonic: str  # "strict", "auto" (fit a curve only when it is not monotonic), "always"

    def judge(self, label: str, metric: str) -> Verdict:
        base = self.baseline["codecs"].get(label)
        new = self.new["codecs"].get(label)
        if base is None:
            return Verdict(label, metric, "not comparable", note="no baseline curve for this codec")
        if new is None:
            return Verdict(label, metric, "failed", note="codec missing from NEW")
        problem = _incomplete(new)
        if problem:
            return Verdict(label, metric, "failed", note=problem)
        b_curve, n_curve = _curve(base, metric), _curve(new, metric)
        if len(b_curve) < 2:
            return _single_point(label, metric, b_curve, n_curve)
        verdict = self._bd_verdict(label, metric, b_curve, n_curve)
        if verdict.verdict in ("unchanged", "better"):
            moved = _operating_points_moved(base, new, metric, self.tolerance)
            if moved:
                verdict.note = _join(
                    f"RD curve within tolerance ({_fmt(verdict.bd_rate_percent, ' %')}) but "
                    "operating points moved to lower quality", moved)
                verdict.verdict = "worse"
        self._anchor_change(verdict, label, metric)
        if base.get("version") != new.get("version"):
            change = f"codec version {base.get('version')} -> {new.get('version')}"
            verdict.note = _join(verdict.note, change)
        return verdict

    def _bd(self, ref: list[tuple[float, float]], test: list[tuple[float, float]], a: str,
            t: str) -> float:
        res = bd_compare(
            [r for r, _ in ref], [q for _, q in ref], [r for r, _ in test], [q for _, q in test],
            method=self.method, monotonic=self.monotonic, anchor_label=a, test_label=t, need="rate",
        )
        return float(res.bd_rate_percent)

    def _bd_verdict(self, label: str, metric: str, b_curve, n_curve) -> Verdict:
        try:
            self._bd(b_curve, b_curve, f"BASELINE {label}", f"BASELINE {label}")
        except AnalysisError as exc:
            return Verdict(label, metric, "not comparable", note=f"baseline curve unusable: {exc}")
        if len(n_curve) < 2:
            note = f"NEW has {len(n_curve)} usable point(s) on {metric}"
            return Verdict(label, metric, "failed", note=note)
        try:
            value = self._bd(b_curve, n_curve, f"BASELINE {label}", f"NEW {label}")
        except AnalysisError as exc:
            note = f"BD-rate against baseline undefined: {exc}"
            return Verdict(label, metric, "failed", note=note)
        if value > self.tolerance:
            name = "worse"
        elif value < -self.tolerance:
            name = "better"
        else:
            name = "unchanged"
        return Verdict(label, metric, name, bd_rate_percent=value)

    def _anchor_change(self, verdict: Verdict, label: str, metric: str) -> None:
        anchor = self.baseline.get("anchor")
        if anchor is None or label == anchor:
            return
        try:
            verdict.anchor_bd_baseline = self._bd(
                _curve(self.baseline["codecs"][anchor], metric),
                _curve(self.baseline["codecs"][label], metric), anchor, label)
            verdict.anchor_bd_new = self._bd(
                _curve(self.new["codecs"][anchor], metric),
                _curve(self.new["codecs"][label], metric), anchor, label)
        except (AnalysisError, KeyError) as exc:
            verdict.anchor_bd_baseline = verdict.anchor_bd_new = None
            verdict.note = _join(verdict.note, f"no BD-rate against anchor: {exc}")


def point_rate(p: dict[str, Any], metric: str) -> Any:
    """The rate a curves-file point pairs `metric` with (its layer's, else all layers')."""
    key = (p.get("metric_rates") or {}).get(metric, "bpp")
    return (p.get("rates") or {}).get(key, p.get("bpp") if key == "bpp" else None)


def _curve(entry: dict[str, Any], metric: str) -> list[tuple[float, float]]:
    """(rate, value) of the points with finite numbers, in rate order."""
    out = []
    for p in entry["points"]:
        rate, value = point_rate(p, metric), p["metrics"].get(metric)
        if _finite(rate) and _finite(value):
            out.append((float(rate), float(value)))
    return sorted(out)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _point_label(p: dict[str, Any]) -> str:
    return f"{p['point']['kind']}={p['point']['value']}"


def _incomplete(new: dict[str, Any]) -> str:
    incomplete = [_point_label(p) for p in new["points"] if not p.get("complete", True)]
    if incomplete:
        return "incomplete point(s) in NEW (failed or missing jobs): " + ", ".join(incomplete)
    return ""


def _operating_points_moved(
    base: dict[str, Any], new: dict[str, Any], metric: str, tolerance: float
) -> str:
    """Why NEW's operating points deliver less than BASELINE's ('' when they do not)."""
    new_points = {_point_label(p): p for p in new["points"]}
    missing = [_point_label(p) for p in base["points"] if _point_label(p) not in new_points]
    parts = [f"rate point(s) missing from NEW: {', '.join(missing)}"] if missing else []
    for p in base["points"]:
        q = new_points.get(_point_label(p))
        b_val, n_val = p["metrics"].get(metric), (q or {}).get("metrics", {}).get(metric)
        if q is None or not (_finite(b_val) and _finite(n_val)):
            continue
        if b_val - n_val > tolerance / 100.0 * abs(b_val):
            parts.append(f"at {_point_label(p)}: {metric} {b_val:.4g} -> {n_val:.4g} "
                         f"(bpp {p['bpp']:.4g} -> {q['bpp']:.4g})")
    return "; ".join(parts)


def _single_point(label: str, metric: str, b_curve, n_curve) -> Verdict:
    if not b_curve:
        note = f"baseline has no finite {metric} value"
        return Verdict(label, metric, "not comparable", note=note)
    if len(n_curve) == 1 and all(
        math.isclose(b, n, rel_tol=1e-9, abs_tol=1e-12) for b, n in zip(b_curve[0], n_curve[0])
    ):
        return Verdict(label, metric, "unchanged", note="single point: values identical")
    new_text = f"{n_curve[0][1]:.6g} at {n_curve[0][0]:.6g} bpp" if n_curve else "none"
    return Verdict(
        label, metric, "not comparable",
        note=f"single point, no BD-rate: {b_curve[0][1]:.6g} at {b_curve[0][0]:.6g} bpp "
             f"-> {new_text}",
    )


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _fmt(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:+.2f}{unit}"


def format_comparison(result: Comparison) -> str:
    """A plain-text table of verdicts, then the counts."""
    lines = [f"baseline: {result.baseline}   new: {result.new}   "
             f"tolerance: {result.tolerance:g} pp"]
    lines += [f"NOT COMPARABLE: {r}" for r in result.reasons]
    header = ["codec", "metric", "verdict", "BD-rate vs baseline", "d BD-rate vs anchor", "note"]
    rows = [
        [v.codec, v.metric, v.verdict, _fmt(v.bd_rate_percent, " %"), _fmt(v.anchor_delta, " pp"),
         v.note if not result.reasons else ""]
        for v in result.verdicts
    ]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header) - 1)]
    for r in [header] + rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    counts = ", ".join(f"{result.count(v)} {v}" for v in VERDICTS if result.count(v))
    lines.append(f"{counts or 'nothing compared'} -> exit {result.exit_code}")
    return "\n".join(lines)


def compare_sources(
    baseline: str, new: str, tolerance: float = 1.0, results_dir: str = "results"
) -> Comparison:
    """Compare two runs or curves files (what `icm-bench compare` does)."""
    from bench.results.curves import curves_of

    return compare_curves(curves_of(baseline, results_dir), curves_of(new, results_dir), tolerance)
