"""The dataset contract and subset selection shared by all datasets."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from bench.errors import DatasetError
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

    def params(self) -> dict[str, Any]:
        return {}


def select_ids(
    all_ids: list[str],
    limit: int | None = None,
    ids_file: str | Path | None = None,
    source: str = "dataset",
) -> list[str]:
    """Apply an id-list file (one id per line, '#' comments) and then `limit`."""
    ids = list(all_ids)
    if ids_file is not None:
        path = Path(ids_file)
        if not path.is_file():
            raise DatasetError(f"ids_file {str(path)!r} does not exist")
        wanted = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        wanted = [w for w in wanted if w]
        known = set(ids)
        missing = [w for w in wanted if w not in known]
        if missing:
            raise DatasetError(
                f"ids_file {str(path)!r} lists {len(missing)} id(s) not in the {source}, "
                f"e.g. {missing[:3]}"
            )
        ids = wanted
    if limit is not None:
        if limit < 1:
            raise DatasetError(f"limit must be >= 1, got {limit}")
        ids = ids[:limit]
    return ids


def hash_file(path: str | Path, h: Any = None) -> str:
    """SHA-256 of a file's bytes (hex), optionally folded into an existing hasher."""
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
