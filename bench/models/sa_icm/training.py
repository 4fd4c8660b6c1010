"""Training data and losses of the SA-ICM networks.

`MaskedCropSampler` gives crops of images with their distortion weight maps M: the
synthetic-coco train images rendered in memory with their instance masks (the segments
SAM would give), or a user's image folder with a mask folder (`masks.MaskFolder`). The
pool is refreshed deterministically by step, so a resumed run sees the same images.
Losses: rate in bits per pixel from the likelihoods, SA-ICM's MSE(x * M, x_hat * M),
and the lambda of a (possibly fractional) rate index.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from bench.models.sa_icm.masks import MaskFolder, MaskSpec, item_weight_map, weight_map


class MaskedData(BaseModel):
    """Where crops and masks come from (a recipe's `data`)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["synthetic-coco", "images"] = "synthetic-coco"
    root: str | None = Field(None, description="image folder (type: images)")
    masks: str | None = Field(None, description="mask folder (type: images)")
    crop: int = Field(128, ge=64, multiple_of=64)
    batch: int = Field(8, ge=1)
    pool: int = Field(256, ge=1)
    refresh_every: int = Field(8, ge=0, description="steps per new synthetic image; 0 = never")
    seed: int = 0
    width: int = 320
    height: int = 240


def render_with_weights(index: int, spec: MaskedData, mask_spec: MaskSpec,
                        split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Synthetic image `index` of `split` (as synthetic-coco writes it) and its M."""
    from bench.datasets.synthetic_coco import render_image, split_seed

    rng = np.random.default_rng([split_seed(spec.seed, split), index])
    img, instances = render_image(rng, spec.height, spec.width, 5)
    weights = weight_map([m for _, m in instances], img.shape[:2], mask_spec)
    return img, weights.astype(np.float16)


def folder_with_weights(spec: MaskedData, mask_spec: MaskSpec,
                        limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, M) pairs of a user's image folder and mask folder (matched by file stem)."""
    from bench.datasets.images import ImageFolderDataset

    if not spec.root or not spec.masks:
        raise ValueError("data type 'images' needs `root` (images) and `masks` (mask files)")
    ds = ImageFolderDataset(root=spec.root, limit=limit)
    folder = MaskFolder(spec.masks)
    out = []
    for item in ds.ids():
        img = ds.load(item).image
        m = item_weight_map(folder, Path(item).stem, img.shape[:2], mask_spec)
        out.append((img, m.astype(np.float16)))
    return out


class MaskedCropSampler:
    """Random crops (and horizontal flips) of images with their weight maps."""

    def __init__(self, spec: MaskedData, mask_spec: MaskSpec):
        self.spec = spec
        self.mask_spec = mask_spec
        if spec.type == "images":
            self.pool = folder_with_weights(spec, mask_spec)
            if any(min(img.shape[:2]) < spec.crop for img, _ in self.pool):
                raise ValueError(f"an image of {spec.root} is smaller than the crop {spec.crop}")
        else:
            self.pool = [render_with_weights(i, spec, mask_spec) for i in range(spec.pool)]
        self.refreshed = 0

    def advance_to(self, step: int) -> None:
        """Bring the pool to its state at `step` (image pool + k replaces slot k % pool)."""
        s = self.spec
        if s.type != "synthetic-coco" or not s.refresh_every:
            return
        target = step // s.refresh_every
        if target - self.refreshed > len(self.pool):
            self.refreshed = target - len(self.pool)
        while self.refreshed < target:
            k = self.refreshed
            self.pool[k % len(self.pool)] = render_with_weights(len(self.pool) + k, s,
                                                                self.mask_spec)
            self.refreshed += 1

    def batch(self, step: int, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(B x 3 x c x c images in [0, 1], B x 1 x c x c weights)."""
        self.advance_to(step)
        c, n = self.spec.crop, self.spec.batch
        x, w = torch.empty(n, 3, c, c), torch.empty(n, 1, c, c)
        for b, i in enumerate(torch.randint(0, len(self.pool), (n,)).tolist()):
            img, weights = self.pool[i]
            top = int(torch.randint(0, img.shape[0] - c + 1, ()))
            left = int(torch.randint(0, img.shape[1] - c + 1, ()))
            patch = torch.from_numpy(np.ascontiguousarray(img[top:top + c, left:left + c]))
            mask = torch.from_numpy(np.ascontiguousarray(weights[top:top + c, left:left + c]))
            patch, mask = patch.permute(2, 0, 1).float() / 255.0, mask.float()[None]
            if bool(torch.rand(()) < 0.5):
                patch, mask = patch.flip(-1), mask.flip(-1)
            x[b], w[b] = patch, mask
        return x.to(device), w.to(device)


def bpp(likelihoods: dict[str, torch.Tensor], n_pixels: int) -> torch.Tensor:
    """Per-sample bits per pixel estimated from the likelihoods."""
    total = sum(torch.log(lik).flatten(1).sum(1) for lik in likelihoods.values())
    return total / (-math.log(2) * n_pixels)


def masked_mse(x: torch.Tensor, x_hat: torch.Tensor,
               weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample MSE(x * M, x_hat * M) (plain MSE without M), averaged over all pixels."""
    diff = x_hat - x
    if weights is not None:
        diff = diff * weights
    return (diff ** 2).flatten(1).mean(1)


def lambda_at(lambdas: list[float], q: torch.Tensor) -> torch.Tensor:
    """lambda of rate index q (geometric interpolation between neighbouring lambdas)."""
    logs = torch.log(torch.tensor(lambdas, dtype=torch.float32, device=q.device))
    q = q.float().clamp(0, len(lambdas) - 1)
    lo = q.floor().long()
    hi = (lo + 1).clamp(max=len(lambdas) - 1)
    t = q - lo.float()
    return torch.exp(logs[lo] * (1 - t) + logs[hi] * t)


def psnr_db(mse: torch.Tensor) -> float:
    """Mean PSNR (dB, peak 1) of per-sample MSEs."""
    return float((10 * torch.log10(1.0 / mse.detach().clamp_min(1e-10))).mean())


def describe_data(spec: MaskedData, mask_spec: MaskSpec) -> dict[str, Any]:
    """What the model card says about the data and the masks."""
    src = ({"type": "images", "root": spec.root, "masks": spec.masks}
           if spec.type == "images" else
           {"type": "synthetic-coco train split (rendered in memory, instance masks)",
            "seed": spec.seed, "size": f"{spec.width}x{spec.height}", "pool": spec.pool,
            "refresh_every": spec.refresh_every})
    return {**src, "crop": spec.crop, "batch": spec.batch, "mask": mask_spec.__dict__}
