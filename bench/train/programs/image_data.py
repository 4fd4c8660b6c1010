"""Training and held-out images for the image-codec program: synthetic COCO or a folder.

Synthetic images are rendered in memory with the synthetic-coco generator (the same
images its `train` split would write to disk, without annotations). A pool of them is
kept and refreshed deterministically by step (image `pool + k` replaces slot `k % pool`
at step `k * refresh_every`), so a resumed run sees exactly the images a straight run
would. Crops and flips come from torch's RNG, which the trainer saves and restores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from bench.errors import SpecError


class DataSpec(BaseModel):
    """Where training crops come from."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["synthetic-coco", "images"] = "synthetic-coco"
    root: str | None = Field(None, description="image folder (type: images)")
    crop: int = Field(128, ge=64, multiple_of=64)
    batch: int = Field(8, ge=1)
    pool: int = Field(256, ge=1, description="images held in memory")
    refresh_every: int = Field(8, ge=0, description="steps per new synthetic image; 0 = never")
    seed: int = 0
    width: int = 320
    height: int = 240


class EvalSpec(BaseModel):
    """Held-out images coded for real during training: synthetic val images or a folder."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["synthetic-coco", "images"] = "synthetic-coco"
    root: str | None = None
    n_images: int = Field(4, ge=1)
    first: int = Field(100, ge=0, description="index of the first synthetic val image "
                                              "(the demo uses 0..23)")
    seed: int = 0


def synthetic_image(split: str, index: int, seed: int = 0, width: int = 320,
                    height: int = 240) -> np.ndarray:
    """Image `index` of a synthetic-coco split, rendered in memory (H x W x 3 uint8)."""
    from bench.datasets.images import render_synthetic

    return render_synthetic(index, width, height, seed, split)


def folder_images(root: str | Path, limit: int | None = None) -> list[np.ndarray]:
    """The images of a folder, sorted by name (through the `images` dataset)."""
    from bench.datasets.images import ImageFolderDataset

    ds = ImageFolderDataset(root=str(root), limit=limit)
    return [ds.load(i).image for i in ds.ids()]


class CropSampler:
    """Random crops (with horizontal flips) from a pool of images."""

    def __init__(self, spec: DataSpec):
        self.spec = spec
        if spec.type == "images":
            if not spec.root:
                raise SpecError("image-codec data: type 'images' needs `root`")
            self.pool = folder_images(spec.root)
            small = [im.shape for im in self.pool if min(im.shape[:2]) < spec.crop]
            if small:
                raise SpecError(f"image-codec data: {len(small)} image(s) smaller than the "
                                f"crop {spec.crop}, e.g. {small[0][:2]}")
        else:
            self.pool = [self._render(i) for i in range(spec.pool)]
        self.refreshed = 0  # synthetic images rendered beyond the first pool

    def _render(self, index: int) -> np.ndarray:
        s = self.spec
        return synthetic_image("train", index, s.seed, s.width, s.height)

    def advance_to(self, step: int) -> None:
        """Bring the pool to the state it has at `step` (after a resume, too)."""
        s = self.spec
        if s.type != "synthetic-coco" or not s.refresh_every:
            return
        target = step // s.refresh_every
        if target - self.refreshed > len(self.pool):  # a long jump: only the last pool counts
            self.refreshed = target - len(self.pool)
        while self.refreshed < target:
            k = self.refreshed
            self.pool[k % len(self.pool)] = self._render(len(self.pool) + k)
            self.refreshed += 1

    def batch(self, step: int, device: str = "cpu") -> torch.Tensor:
        """B x 3 x crop x crop floats in [0, 1]."""
        self.advance_to(step)
        c = self.spec.crop
        out = torch.empty(self.spec.batch, 3, c, c)
        picks = torch.randint(0, len(self.pool), (self.spec.batch,))
        for b, i in enumerate(picks.tolist()):
            img = self.pool[i]
            y = int(torch.randint(0, img.shape[0] - c + 1, ()))
            x = int(torch.randint(0, img.shape[1] - c + 1, ()))
            patch = torch.from_numpy(np.ascontiguousarray(img[y:y + c, x:x + c]))
            patch = patch.permute(2, 0, 1).float() / 255.0
            if bool(torch.rand(()) < 0.5):
                patch = patch.flip(-1)
            out[b] = patch
        return out.to(device)


def eval_images(spec: EvalSpec, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """The held-out images of `spec`."""
    if spec.type == "images":
        if not spec.root:
            raise SpecError("image-codec eval: type 'images' needs `root`")
        return folder_images(spec.root, limit=spec.n_images)
    return [synthetic_image("val", spec.first + i, spec.seed, width, height)
            for i in range(spec.n_images)]


def describe(spec: DataSpec) -> dict[str, Any]:
    """What the model card says about the data."""
    if spec.type == "images":
        return {"type": "images", "root": spec.root, "crop": spec.crop, "batch": spec.batch}
    return {"type": "synthetic-coco (train split, rendered in memory)", "seed": spec.seed,
            "size": f"{spec.width}x{spec.height}", "pool": spec.pool,
            "refresh_every": spec.refresh_every, "crop": spec.crop, "batch": spec.batch}
