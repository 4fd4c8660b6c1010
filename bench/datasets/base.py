"""The dataset contract and subset selection shared by all datasets."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from bench.ids import select_ids  # noqa: F401  (datasets select ids with it)
from bench.types import Sample


class Dataset(ABC):
    """A fixed, ordered list of items with ground truth kept inside.

    Subclasses take their options as keyword arguments (a spec's ``dataset`` block)
    and return them from `params()`.
    """

    kind: str = "coco"  # "coco" (image + COCO annotations) or "kitti" (stereo + KITTI labels)

    @abstractmethod
    def ids(self) -> list[str]:
        """The selected item ids, in a fixed order."""

    @abstractmethod
    def load(self, item_id: str) -> Sample:
        """One item with its original image(s)."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A hash of the ground truth and the selected ids."""

    def image_files(self, item_id: str) -> list[Path]:
        """The files holding an item's pixels; their content enters the run's fingerprint
        (bench.execute.plan.content_fingerprint). Datasets that generate pixels return []."""
        return []

    def params(self) -> dict[str, Any]:
        return {}


def hash_file(path: str | Path, h: Any = None) -> str:
    """SHA-256 of a file's bytes (hex), optionally folded into an existing hasher."""
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
