"""The pixel-quality task: PSNR (RGB, luma) and MS-SSIM of decoded images against the originals.

An ordinary task: per item it compares each decoded view with its original (the mean
over the views of a stereo pair) and its evaluator averages the items. It scores
decoded images only (not features).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from bench.errors import TaskError
from bench.tasks.base import Evaluator, Task
from bench.types import MetricInfo, Sample

PIXEL_METRICS = ("psnr_rgb", "psnr_y", "ms_ssim")
# MS-SSIM costs ~40x both PSNRs (~200 ms for a 640x480 image, as much as a fast encode):
# computed only where a spec asks for it (`params: {metrics: [psnr_y, ms_ssim]}`).
DEFAULT_METRICS = ("psnr_rgb", "psnr_y")


class PixelQualityEvaluator(Evaluator):
    """The mean over items of each per-item quality value."""

    def __init__(self, metrics: tuple[str, ...]):
        self.names = metrics

    def metrics(self) -> list[MetricInfo]:
        from bench.metrics.quality import quality_metric_infos

        return [m for m in quality_metric_infos() if m.name in self.names]

    def evaluate(self, predictions: dict[str, Any]) -> dict[str, float]:
        return self._mean(list(predictions.values()))

    def evaluate_resampled(self, predictions: dict[str, Any], ids: Sequence[str]
                           ) -> dict[str, float]:
        """The means over the item list `ids` (a bootstrap draw: an item drawn twice counts
        twice); items without predictions (failed) are left out, as in `evaluate`."""
        return self._mean([predictions[i] for i in ids if i in predictions])

    def _mean(self, items: list[Any]) -> dict[str, float]:
        out = {}
        for name in self.names:
            values = [p[name] for p in items if isinstance(p, dict) and name in p]
            values = [math.inf if v == "inf" else v for v in values]
            out[name] = float(np.mean(values)) if values else math.nan
        return out


class PixelQualityTask(Task):
    """Curves on pixel quality (psnr_rgb, psnr_y, ms_ssim), before any detector.

    Args:
        metrics: which of psnr_rgb, psnr_y, ms_ssim to compute; default psnr_rgb and
            psnr_y (MS-SSIM costs ~40x both PSNRs: ask for it by name).
    """

    name: ClassVar[str] = "pixel"
    version: ClassVar[str] = "2"
    needs_reference: ClassVar[bool] = True

    def __init__(self, metrics: list[str] | None = None):
        chosen = tuple(metrics) if metrics else DEFAULT_METRICS
        bad = [m for m in chosen if m not in PIXEL_METRICS]
        if bad:
            raise TaskError(f"pixel: unknown metric {bad[0]!r}; choose from "
                            f"{', '.join(PIXEL_METRICS)}")
        self.metrics = chosen

    def predict(self, sample: Sample) -> Any:
        raise TaskError("the pixel task compares decoded images with the originals: "
                        "it is run by the harness, not on its own")

    def predict_with_reference(self, decoded: Sample, original: Sample) -> dict[str, float]:
        from bench.metrics.quality import pixel_quality

        views = [pixel_quality(a, b, self.metrics)
                 for a, b in zip(original.images, decoded.images)]
        return {k: float(np.mean([v[k] for v in views])) for k in self.metrics}

    def evaluator(self, dataset: Any) -> Evaluator:
        return PixelQualityEvaluator(self.metrics)

    def params(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics)}
