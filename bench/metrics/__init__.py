"""Metrics: rate, pixel quality, COCO mAP, KITTI AP."""

from bench.errors import BenchError


class MetricError(BenchError):
    """Predictions or metric options are unusable (bad result dicts, unknown backend)."""
