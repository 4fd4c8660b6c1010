"""The task and evaluator contracts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from bench.errors import TaskError
from bench.types import MetricInfo, Sample, SplitDesc


class Evaluator(ABC):
    """Collects one point's predictions and computes its metrics once."""

    @abstractmethod
    def metrics(self) -> list[MetricInfo]:
        """The metrics `evaluate` returns, with their direction."""

    @abstractmethod
    def evaluate(self, predictions: dict[str, Any]) -> dict[str, float]:
        """Metrics over all items: {item_id: that item's predictions}."""


class Task(ABC):
    """A task network. ``predict == head . features`` at every split point.

    Predictions are plain JSON-serialisable data (they are stored and cross
    process boundaries). Features are a dict of named float32 numpy arrays.
    Building a task must be cheap: networks load on first use, so that planning,
    reports and evaluation never load one (docs/contracts.md).
    """

    name: ClassVar[str] = "task"
    version: ClassVar[str] = "1"
    split_points: ClassVar[tuple[str, ...]] = ()
    needs_reference: ClassVar[bool] = False  # compares decoded images with the originals
    scores_images: ClassVar[bool] = True  # can score decoded images (predict)

    @abstractmethod
    def predict(self, sample: Sample) -> Any:
        """Predictions for one (possibly decoded) sample."""

    def predict_batch(self, samples: list[Sample]) -> list[Any]:
        """Predictions for several samples (default: one at a time)."""
        return [self.predict(s) for s in samples]

    def predict_with_reference(self, decoded: Sample, original: Sample) -> Any:
        """Predictions of a task that compares the decoded sample with the original."""
        raise TaskError(f"task {self.name!r} does not compare with the original")

    def split_desc(self, split: str) -> SplitDesc:
        """Names, channels and strides of the tensors at `split` (may load the network)."""
        raise TaskError(f"task {self.name!r} has no split point {split!r}")

    @property
    def device_name(self) -> str:
        """The device the task asked for ("auto", "cpu", "cuda:0"); "cpu" without one."""
        return str(getattr(self, "_device_name", "cpu"))

    @device_name.setter
    def device_name(self, value: str) -> None:
        self._device_name = value

    def features(self, sample: Sample, split: str) -> dict[str, np.ndarray]:
        raise TaskError(f"task {self.name!r} has no split point {split!r}")

    def head(self, features: dict[str, np.ndarray], sample: Sample, split: str) -> Any:
        raise TaskError(f"task {self.name!r} has no split point {split!r}")

    @abstractmethod
    def evaluator(self, dataset: Any) -> Evaluator:
        """The evaluator for this task over `dataset`'s ground truth."""

    def check(self) -> None:
        """Raise TaskError saying what is wrong if the task cannot run (called before any job)."""

    def weights_hash(self) -> str:
        """Hash of the weights in use ('' for a task without weights)."""
        return ""

    def params(self) -> dict[str, Any]:
        return {}
