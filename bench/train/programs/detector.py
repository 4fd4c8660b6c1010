"""Training program of the built-in small Mask R-CNN (`icm-bench train detector`).

The recipe of the committed weights (bench/train/recipes/detector.yaml): synthetic-coco
train (1600 images), batches of 4 in a seeded order with horizontal flips (p = 0.5),
AdamW (lr 2e-3, weight decay 1e-4), linear warm-up then cosine, gradient norm clipped
at 10, 1200 steps (3 epochs). For the same seed it gives the same weights as the loop
it replaces.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.train.program import TrainProgram


class DetectorProgram(TrainProgram):
    """Mask R-CNN losses of the detector on seeded batches of synthetic-coco train images.

    Args:
        n_train: synthetic training images (split "train").
        batch_size: images per step.
        n_val: synthetic validation images for the evaluation (bbox and segm mAP).
        data_root: where the synthetic sets are generated.
    """

    def __init__(self, recipe: Any, device: str = "cpu", n_train: int = 1600,
                 batch_size: int = 4, n_val: int = 48, data_root: str = "datasets"):
        super().__init__(recipe, device)
        if n_train < batch_size:
            raise BenchError(f"detector: need n_train >= batch_size (got {n_train}, {batch_size})")
        self.n_train, self.batch_size, self.n_val = int(n_train), int(batch_size), int(n_val)
        self.data_root = data_root

    def setup(self) -> None:
        from bench.datasets.synthetic_coco import SyntheticCocoDataset
        from bench.models.detector import build_detector

        seed = self.recipe.seed
        self.train_set = SyntheticCocoDataset(n_images=self.n_train, split="train", seed=seed,
                                              root=self.data_root)
        self.class_names = ["__background__"] + [
            self.train_set.category_names()[c] for c in self.train_set.category_ids()]
        self.model = build_detector(len(self.class_names)).to(self.device)
        self.ids = self.train_set.ids()
        self.rng = np.random.default_rng(seed)
        self.order: list[int] = []
        self.t0 = time.perf_counter()

    def modules(self) -> dict[str, Any]:
        return {"detector": self.model}

    def parameters(self) -> list[Any]:
        return [p for p in self.model.parameters() if p.requires_grad]

    @property
    def steps_per_epoch(self) -> int:
        return len(self.ids) // self.batch_size

    def loss(self, step: int) -> tuple[Any, dict[str, float]]:
        from bench.train.detector import training_target

        b = step % self.steps_per_epoch
        if b == 0:
            self.order = [int(i) for i in self.rng.permutation(len(self.ids))]
        batch = [training_target(self.train_set, self.ids[i], bool(self.rng.random() < 0.5))
                 for i in self.order[b * self.batch_size:(b + 1) * self.batch_size]]
        images = [x.to(self.device) for x, _ in batch]
        targets = [{k: v.to(self.device) for k, v in t.items()} for _, t in batch]
        losses = self.model(images, targets)
        loss = sum(losses.values())
        return loss, {k.removeprefix("loss_"): float(v.detach()) for k, v in losses.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_to_plain(self.rng), "order": list(self.order)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.rng.bit_generator.state = _rng_from_plain(state["rng"])
            self.order = [int(i) for i in state["order"]]

    def evaluate(self) -> dict[str, float]:
        from bench.train.detector import evaluate_detector

        if not self.n_val:
            return {}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "detector.pt"
            self._save(path)
            stats = evaluate_detector(path, n_val=self.n_val, seed=self.recipe.seed,
                                      data_root=self.data_root)
        return {k: stats[k] for k in ("bbox/AP", "segm/AP", "bbox/AP50", "seconds_per_image")}

    def _save(self, path: Path) -> dict[str, Any]:
        from bench.models.detector import DEFAULT_CONFIG, save_checkpoint
        from bench.train.card import hardware

        training = {
            "data": {"dataset": "synthetic-coco", "split": "train", "n_images": self.n_train,
                     "seed": self.recipe.seed, "width": self.train_set.generator_params["width"],
                     "height": self.train_set.generator_params["height"]},
            "recipe": self.recipe.model_dump(mode="json"), "seed": self.recipe.seed,
            "epochs": math.ceil(self.recipe.steps / self.steps_per_epoch),
            "seconds": round(time.perf_counter() - self.t0, 1), "hardware": hardware(),
        }
        meta = {"config": dict(DEFAULT_CONFIG), "class_names": self.class_names,
                "category_ids": list(self.train_set.category_ids()), "training": training}
        save_checkpoint(self.model, path, meta)
        return meta

    def export(self, path: Path) -> dict[str, Any]:
        meta = self._save(path)
        return {"classes": len(self.class_names) - 1, "epochs": meta["training"]["epochs"]}


def _rng_to_plain(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy Generator's state with its 128-bit integers as strings (weights-only safe)."""
    state = rng.bit_generator.state
    return {"bit_generator": state["bit_generator"],
            "state": {k: str(v) for k, v in state["state"].items()},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def _rng_from_plain(plain: dict[str, Any]) -> dict[str, Any]:
    return {"bit_generator": plain["bit_generator"],
            "state": {k: int(v) for k, v in plain["state"].items()},
            "has_uint32": plain["has_uint32"], "uinteger": plain["uinteger"]}
