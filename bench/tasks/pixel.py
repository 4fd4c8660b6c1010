"""The pixel-quality task: no network; PSNR and MS-SSIM come from the per-item records."""

from __future__ import annotations

from typing import Any, ClassVar

from bench.tasks.base import Evaluator, Task
from bench.types import MetricInfo, Sample


class _NoTaskMetrics(Evaluator):
    def metrics(self) -> list[MetricInfo]:
        return []

    def evaluate(self, predictions: dict[str, Any]) -> dict[str, float]:
        return {}


class PixelQualityTask(Task):
    """Curves on pixel quality alone (psnr_rgb, psnr_y, ms_ssim), before any detector.

    The harness measures pixel quality for every image-codec item anyway; this task
    adds no predictions of its own.
    """

    name: ClassVar[str] = "pixel"
    version: ClassVar[str] = "1"

    def predict(self, sample: Sample) -> None:
        return None

    def evaluator(self, dataset: Any) -> Evaluator:
        return _NoTaskMetrics()
