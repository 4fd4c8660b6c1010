"""Train the built-in small Mask R-CNN on the synthetic COCO-format set (CPU is enough)."""

from __future__ import annotations

import math
import os
import platform
import random
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from bench.datasets.coco import CocoDataset
from bench.datasets.synthetic_coco import SyntheticCocoDataset
from bench.errors import BenchError
from bench.models.detector import DEFAULT_CONFIG, DEFAULT_WEIGHTS, build_detector, save_checkpoint


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def training_target(dataset: CocoDataset, item_id: str, flip: bool) -> tuple[torch.Tensor, dict]:
    """One image (3 x H x W float in [0, 1]) and its Mask R-CNN target."""
    coco = dataset.coco()
    image = dataset.load(item_id).image
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[int(item_id)], iscrowd=False))
    anns = [a for a in anns if a["bbox"][2] >= 1 and a["bbox"][3] >= 1]
    h, w = image.shape[:2]
    masks = np.stack([coco.annToMask(a) for a in anns]) if anns else np.zeros((0, h, w), np.uint8)
    boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                       a["bbox"][1] + a["bbox"][3]] for a in anns], dtype=np.float32).reshape(-1, 4)
    if flip:
        image, masks = image[:, ::-1], masks[:, :, ::-1]
        boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], axis=1)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
    target = {
        "boxes": torch.from_numpy(boxes.reshape(-1, 4)),
        "labels": torch.tensor([a["category_id"] for a in anns], dtype=torch.int64),
        "masks": torch.from_numpy(np.ascontiguousarray(masks)),
    }
    return tensor, target


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def hardware() -> str:
    """A short description of the machine (CPU model, cores, torch threads)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({threads} threads)"


def _meta(train: CocoDataset, class_names: list[str], training: dict[str, Any]) -> dict[str, Any]:
    return {"config": dict(DEFAULT_CONFIG), "class_names": class_names,
            "category_ids": list(train.category_ids()), "training": training}


def train_detector(
    out: str | Path = DEFAULT_WEIGHTS,
    n_train: int = 1600,
    epochs: int = 3,
    batch_size: int = 4,
    lr: float = 2e-3,
    seed: int = 0,
    data_root: str | Path = "datasets",
    threads: int | None = 1,
    snapshot_dir: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train on synthetic-coco (split "train", `n_train` images); write a checkpoint to `out`.

    The defaults are the recipe of the committed weights (see bench/models/detector.md).
    """
    if n_train < batch_size or epochs < 1:
        raise BenchError(f"need n_train >= batch_size and epochs >= 1 (got {n_train}, {epochs})")
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        seed_everything(seed)
        train = SyntheticCocoDataset(n_images=n_train, split="train", seed=seed, root=data_root)
        names = ["__background__"] + [train.category_names()[c] for c in train.category_ids()]
        model = build_detector(len(names))
        recipe = {"optimizer": "AdamW", "lr": lr, "weight_decay": 1e-4,
                  "schedule": "linear warmup + cosine", "epochs": epochs,
                  "batch_size": batch_size, "augmentation": "horizontal flip p=0.5",
                  "grad_clip": 10.0}

        def snapshot(epoch: int) -> None:
            if snapshot_dir is not None:
                save_checkpoint(model, Path(snapshot_dir) / f"epoch{epoch}.pt",
                                _meta(train, names, {"epoch": epoch}))

        t0 = time.perf_counter()
        fit(model, train, recipe, seed, log, snapshot)
        seconds = time.perf_counter() - t0
        training = {
            "data": {"dataset": "synthetic-coco", "split": "train", "n_images": n_train,
                     "seed": seed, "width": train.generator_params["width"],
                     "height": train.generator_params["height"]},
            "recipe": recipe, "seed": seed, "seconds": round(seconds, 1), "hardware": hardware(),
        }
        meta = _meta(train, names, training)
        save_checkpoint(model, out, meta)
        log(f"wrote {out} after {seconds:.0f}s")
        return meta
    finally:
        torch.set_num_threads(previous_threads)


def fit(model: torch.nn.Module, train: CocoDataset, recipe: dict[str, Any], seed: int,
        log: Callable[[str], None], snapshot: Callable[[int], Any]) -> None:
    """The training loop: seeded order and flips, AdamW, warm-up + cosine, grad clipping."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    ids, bs, epochs = train.ids(), recipe["batch_size"], recipe["epochs"]
    total = len(ids) // bs * epochs
    rng = np.random.default_rng(seed)
    step, t0 = 0, time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(ids))
        for b in range(len(ids) // bs):
            batch = [training_target(train, ids[i], bool(rng.random() < 0.5))
                     for i in order[b * bs:(b + 1) * bs]]
            for group in opt.param_groups:
                group["lr"] = recipe["lr"] * _lr_factor(step, total, warmup=min(200, total // 10))
            losses = model([x for x, _ in batch], [t for _, t in batch])
            loss = sum(losses.values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, recipe["grad_clip"])
            opt.step()
            step += 1
            if step % 25 == 0 or step == total:
                parts = " ".join(f"{k[5:]}={v.item():.3f}" for k, v in losses.items())
                log(f"epoch {epoch + 1}/{epochs} step {step}/{total} loss={loss.item():.3f} "
                    f"{parts} ({time.perf_counter() - t0:.0f}s)")
        snapshot(epoch + 1)
    model.eval()


def evaluate_detector(weights: str | Path = DEFAULT_WEIGHTS, n_val: int = 48, seed: int = 0,
                      data_root: str | Path = "datasets") -> dict[str, Any]:
    """bbox and segm COCO stats of a checkpoint on synthetic-coco's val split, and its speed."""
    from bench.tasks.detection import DetectionTask

    val = SyntheticCocoDataset(n_images=n_val, split="val", seed=seed, root=data_root)
    task = DetectionTask(weights=weights, device="cpu")
    t0 = time.perf_counter()
    preds = {i: task.predict(val.load(i)) for i in val.ids()}
    seconds = time.perf_counter() - t0
    stats = task.evaluator(val).evaluate(preds)
    return {"n_images": n_val, "seed": seed, "seconds_per_image": seconds / n_val, **stats}


def train_detector_cli(out: Path, n_train: int, epochs: int, batch_size: int, lr: float,
                       seed: int, data_root: Path, threads: int, n_val: int) -> str:
    """What `icm-bench train detector` does and prints: train, then evaluate on val."""
    meta = train_detector(out, n_train=n_train, epochs=epochs, batch_size=batch_size, lr=lr,
                          seed=seed, data_root=data_root, threads=threads)
    stats = evaluate_detector(out, n_val=n_val, seed=seed, data_root=data_root)
    return (f"wrote {out} (trained {meta['training']['seconds']:.0f}s on "
            f"{meta['training']['hardware']})\n"
            f"synthetic-coco val ({n_val} images): bbox AP {stats['bbox/AP']:.3f}, "
            f"segm AP {stats['segm/AP']:.3f}, {stats['seconds_per_image']:.3f} s/image")
