"""Training program of the built-in stereo 3D detector (`icm-bench train stereo3d`).

The synthetic-kitti splits are generated at half KITTI scale (621 x 188) and held in
memory; batches are random frames in random column crops (a multiple of 16 wide) with
photometric jitter (bench/train/stereo3d.py); AdamW with warm-up times a cosine over the
whole run (schedule `cosine-full`), gradient norm clipped at 10. Validation runs the
real inference path and the KITTI evaluation. For the same seed it gives the same
weights as the loop it replaces.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.train.program import TrainProgram
from bench.train.programs.detector import _rng_from_plain, _rng_to_plain


class Stereo3DProgram(TrainProgram):
    """Detector losses (heatmap, 3D box, disparity) on synthetic-kitti stereo crops.

    Args:
        n_train, n_val: synthetic frames (splits "train" and "val").
        batch_size: stereo pairs per step; crop_width: the random column crop (multiple of 16).
        data_root: where the synthetic sets are generated; workers: processes rendering them.
    """

    def __init__(self, recipe: Any, device: str = "cpu", n_train: int = 3000, n_val: int = 100,
                 batch_size: int = 4, crop_width: int = 320, data_root: str = "datasets",
                 workers: int = 2):
        super().__init__(recipe, device)
        self.n_train, self.n_val = int(n_train), int(n_val)
        self.batch_size, self.crop_width = int(batch_size), int(crop_width)
        self.data_root, self.workers = data_root, int(workers)

    def setup(self) -> None:
        from bench.datasets.synthetic_kitti import SyntheticKittiDataset
        from bench.models.stereo3d import build_model
        from bench.train.stereo3d import TRAIN_SIZE, load_split

        seed = self.recipe.seed
        self.t0 = time.perf_counter()
        common = {"width": TRAIN_SIZE[0], "height": TRAIN_SIZE[1], "root": self.data_root,
                  "workers": self.workers}
        self.train_set = SyntheticKittiDataset(n_frames=self.n_train, seed=seed, split="train",
                                               **common)
        self.val_set = SyntheticKittiDataset(n_frames=self.n_val, seed=seed, split="val", **common)
        self.data = load_split(self.train_set)
        self.model = build_model().to(memory_format=torch.channels_last)
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.history: list[dict[str, float]] = []

    def modules(self) -> dict[str, Any]:
        return {"stereo3d": self.model}

    def parameters(self) -> list[Any]:
        return list(self.model.parameters())

    def loss(self, step: int) -> tuple[Any, dict[str, float]]:
        from bench.models.stereo3d_targets import detector_losses
        from bench.train.stereo3d import batch

        idx = self.rng.choice(len(self.data["targets"]), self.batch_size, replace=False)
        left, right, tgt, fb = batch(self.data, idx, self.crop_width, self.rng, self.gen)
        losses = detector_losses(self.model(left, right), tgt, fb)
        return sum(losses.values()), {k: float(v.detach()) for k, v in losses.items()}

    def evaluate(self) -> dict[str, float]:
        from bench.train.stereo3d import validate

        if not self.n_val:
            return {}
        metrics = validate(self.model, self.val_set)
        self.history.append(dict(metrics))
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_to_plain(self.rng), "gen": self.gen.get_state(),
                "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.rng.bit_generator.state = _rng_from_plain(state["rng"])
            self.gen.set_state(state["gen"])
            self.history = list(state.get("history") or [])

    def export(self, path: Path) -> dict[str, Any]:
        from bench.train.card import hardware
        from bench.train.stereo3d import save_weights

        summary = {"recipe": self.recipe.model_dump(mode="json"), "n_train": self.n_train,
                   "n_val": self.n_val, "seed": self.recipe.seed,
                   "total_wall_s": round(time.perf_counter() - self.t0, 1),
                   "hardware": hardware(), "validation": self.history}
        save_weights(self.model, path, summary)
        return {"validation": self.history[-1] if self.history else {}}
