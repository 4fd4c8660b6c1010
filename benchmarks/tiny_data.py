"""A dataset of N tiny generated images (no files), for benchmarks of the harness itself."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from bench.datasets.base import Dataset
from bench.types import Sample


class TinyImages(Dataset):
    """`n` deterministic `size` x `size` RGB images, generated from their ids."""

    def __init__(self, n: int = 1000, size: int = 8, limit: int | None = None):
        self.n, self.size = int(n), int(size)
        self.limit = limit

    def ids(self) -> list[str]:
        count = self.n if self.limit is None else min(self.n, int(self.limit))
        return [f"{i:06d}" for i in range(count)]

    def load(self, item_id: str) -> Sample:
        rng = np.random.default_rng(int(item_id))
        image = rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)
        return Sample(id=item_id, images=(image,), meta={})

    def fingerprint(self) -> str:
        return hashlib.sha256(f"tiny {self.n} {self.size} {self.limit}".encode()).hexdigest()

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "size": self.size, "limit": self.limit}
