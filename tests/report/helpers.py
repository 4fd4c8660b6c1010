"""Hand-made runs with known numbers (no store), for report tests."""

from __future__ import annotations

from bench.report.sources import RunData, TimingRow
from bench.results.records import Point, Stats, Timing
from bench.types import RatePoint


def point(codec, value, bpp, metrics, complete=True, kind="qp", timing=None, rates=None,
          metric_rates=None):
    timing = timing or Timing(encode_s=Stats(mean=0.5), decode_s=Stats(mean=0.25))
    return Point(codec=codec, point=RatePoint(kind, value), bpp=bpp,
                 rates=dict(rates or {"bpp": bpp}), metrics=dict(metrics),
                 metric_rates=dict(metric_rates or {}), complete=complete, n_items=2,
                 n_failed=0, timing=timing)


def hand_run(name="h", points=None, anchor="vtm", codecs=None, fingerprint="fp1", directions=None,
             spec_extra=None):
    """A RunData built by hand: curves with known numbers, no store."""
    codecs = codecs or {"vtm": "vvenc", "mine": "x265", "identity": "identity"}
    spec = {"name": name, "anchor": anchor, "bd": {"method": "pchip"},
            "dataset": {"type": "synthetic-coco"},
            "codecs": [{"name": k, "type": v} for k, v in codecs.items()]}
    spec.update(spec_extra or {})
    plan = {"fingerprint": fingerprint, "n_items": 2,
            "tasks": [{"name": "", "type": "detection", "version": "1", "weights_hash": "w"}],
            "codecs": {k: {"type": v} for k, v in codecs.items()}}
    return RunData(name=name, source=f"/nowhere/{name}", spec=spec, plan=plan,
                   provenance={"git": {"commit": "abc"}}, points=list(points or []),
                   directions=directions or {"bbox/AP": True, "psnr_y": True},
                   timing=[TimingRow("vtm", 4, {"median": 1.0, "mean": 1.5, "p90": 2.0},
                                     {"median": 0.1, "mean": 0.2, "p90": 0.3}, "cpu")])


def detection_points(shift=0.0):
    """Anchor vtm, a codec 'mine' with the same accuracy at 20 % less rate, and identity."""
    pts = []
    for qp, bpp, ap in [(22, 0.8, 0.60), (27, 0.5, 0.55), (32, 0.3, 0.48), (37, 0.15, 0.38)]:
        pts.append(point("vtm", qp, bpp, {"bbox/AP": ap, "psnr_y": 30 + 10 * bpp}))
        pts.append(point("mine", qp, bpp * 0.8, {"bbox/AP": ap + shift, "psnr_y": 30 + 10 * bpp}))
    pts.append(point("identity", 0, 24.0, {"bbox/AP": 0.62, "psnr_y": 100.0}, kind="none"))
    return pts
