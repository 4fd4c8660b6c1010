"""The pixel task's metric selection: MS-SSIM only when asked for."""

import numpy as np
import pytest

from bench.errors import TaskError
from bench.tasks.pixel import DEFAULT_METRICS, PixelQualityTask
from bench.types import Sample


def sample(images):
    return Sample(id="a", images=tuple(images), meta={})


def test_default_metrics_leave_out_ms_ssim():
    task = PixelQualityTask()
    assert task.metrics == DEFAULT_METRICS == ("psnr_rgb", "psnr_y")
    assert task.params() == {"metrics": ["psnr_rgb", "psnr_y"]}
    ref = np.random.default_rng(0).integers(0, 256, (40, 48, 3)).astype(np.uint8)
    rec = ref ^ 1
    preds = task.predict_with_reference(sample([rec]), sample([ref]))
    assert set(preds) == {"psnr_rgb", "psnr_y"}
    assert [m.name for m in task.evaluator(None).metrics()] == ["psnr_rgb", "psnr_y"]


def test_ms_ssim_when_named():
    task = PixelQualityTask(metrics=["psnr_y", "ms_ssim"])
    ref = np.random.default_rng(1).integers(0, 256, (40, 48, 3)).astype(np.uint8)
    preds = task.predict_with_reference(sample([ref]), sample([ref]))
    assert preds == {"psnr_y": 100.0, "ms_ssim": pytest.approx(1.0)}


def test_unknown_metric_is_an_error():
    with pytest.raises(TaskError, match="ssim"):
        PixelQualityTask(metrics=["ssim"])
