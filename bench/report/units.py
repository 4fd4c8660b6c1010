"""How numbers read in reports: one convention per metric kind, labels, rate-point names.

Accuracies that evaluators give as fractions (COCO AP, "fraction 0..1") are shown in
percent everywhere people read them (tables, plots, CSV columns named "(%)"); KITTI AP
is already in percent; PSNR in dB; MS-SSIM as is. BD-quality follows the metric
(percentage points for AP). Stores and curves files keep the evaluators' own scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.types import RatePoint

PIXEL_UNITS = {"psnr_rgb": "dB", "psnr_y": "dB", "ms_ssim": ""}
_PRETTY = {"psnr_rgb": "PSNR-RGB", "psnr_y": "PSNR-Y", "ms_ssim": "MS-SSIM",
           "bbox": "bbox", "segm": "segm mask", "3d": "AP3D", "bev": "APBEV", "aos": "AOS"}


@dataclass(frozen=True)
class MetricStyle:
    """A metric as people read it: value x factor, in unit, with fmt decimals."""

    factor: float
    unit: str  # "%", "dB" or ""
    fmt: str  # format of a value, e.g. ".1f"
    delta_fmt: str  # format of a difference (BD-quality), e.g. "+.2f"

    def value(self, v: Any) -> Any:
        """The displayed number (None and non-numbers unchanged; -1 "n/a" of COCO kept)."""
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v
        if v == -1 and self.factor != 1:
            return None  # pycocotools' "no ground truth in this area range"
        return v * self.factor

    @property
    def delta_unit(self) -> str:
        return "pp" if self.unit == "%" else self.unit


def metric_style(metric: str, unit: str | None = None) -> MetricStyle:
    """The display convention of `metric`, from the unit its evaluator declared."""
    bare = metric.rsplit("/", 1)[-1]
    if unit is None:
        unit = PIXEL_UNITS.get(bare, "fraction 0..1" if _looks_coco(metric) else "")
    if unit.startswith("fraction"):
        return MetricStyle(100.0, "%", ".1f", "+.2f")
    if unit == "%":
        return MetricStyle(1.0, "%", ".2f", "+.2f")
    if unit == "dB":
        return MetricStyle(1.0, "dB", ".2f", "+.2f")
    return MetricStyle(1.0, unit, ".4f", "+.4f")


def _looks_coco(metric: str) -> bool:
    parts = metric.split("/")
    return len(parts) >= 2 and parts[-2] in ("bbox", "segm")


def metric_label(metric: str, unit: str | None = None) -> str:
    """An axis or column label with the unit: "bbox AP (%)", "PSNR-Y (dB)"."""
    style = metric_style(metric, unit)
    parts = metric.split("/")
    words = [_PRETTY.get(p, p) for p in parts]
    text = " ".join(words)
    return f"{text} ({style.unit})" if style.unit else text


def column_name(metric: str, unit: str | None = None) -> str:
    """A table / CSV column of a metric: its name plus the displayed unit ("bbox/AP (%)")."""
    style = metric_style(metric, unit)
    return f"{metric} ({style.unit})" if style.unit else metric


_KNOBS = {"qp": "QP", "quality": "q", "q": "qscale", "distance": "d", "lambda": "λ",
          "step": "step", "level": "level"}


def point_label(point: RatePoint | dict[str, Any], codec_type: str | None = None) -> str:
    """A rate point by its knob: "QP 37", "q 75", "λ 0.0067"; "uncompressed" for none."""
    if isinstance(point, dict):
        point = RatePoint.from_dict(point)
    if point.kind == "none" or codec_type == "identity":
        return "uncompressed"
    value = point.value
    if isinstance(value, float) and value.is_integer() and point.kind != "lambda":
        value = int(value)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{_KNOBS.get(point.kind, point.kind)} {text}"


def fmt_number(value: Any, fmt: str) -> str:
    """A number in a fixed format ("-" for None, "n/a" for NaN, "inf" kept)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return format(value, fmt)
