"""Train the stereo 3D detector on the synthetic KITTI set (`icm-bench train stereo3d`).

The training and validation splits are generated at half KITTI scale (621 x 188,
which the network takes without resizing), held in memory, and sampled in
random column crops (a multiple of 16 wide) with photometric jitter. Validation
runs the real inference path and the KITTI evaluation of bench.metrics.kitti.
"""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from bench.errors import TaskError
from bench.models.stereo3d import IMAGE_MEAN, IMAGE_STD, build_model
from bench.models.stereo3d_decode import NET_WIDTH, image_tensor, net_geometry
from bench.models.stereo3d_targets import build_targets, collate, detector_losses

TRAIN_SIZE = (621, 188)


def load_split(dataset: Any) -> dict[str, Any]:
    """Every frame of a synthetic split as padded uint8 images plus targets."""
    images, targets, fbs = [], [], []
    for item_id, anno in zip(dataset.ids(), dataset.label_annos()):
        sample = dataset.load(item_id)
        geo = net_geometry(sample.meta["image_size"], sample.calib, NET_WIDTH)
        pair = [_uint8_padded(im, geo) for im in sample.images]
        images.append(torch.stack(pair))
        targets.append(build_targets(anno, geo, dataset.disparity(item_id)))
        fbs.append(geo.focal_baseline)
    return {"images": torch.stack(images), "targets": targets,
            "focal_baseline": torch.tensor(fbs, dtype=torch.float32)}


def _uint8_padded(image: np.ndarray, geo) -> torch.Tensor:
    if geo.net_size != geo.image_size:
        raise TaskError(f"training expects images {geo.net_size[0]} pixels wide")
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    pw, ph = geo.padded_size[0] - geo.net_size[0], geo.padded_size[1] - geo.net_size[1]
    return torch.nn.functional.pad(x, (0, pw, 0, ph))


def augment(pair: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, 2, 3, H, W) uint8 -> float in [0, 1] with brightness, contrast, gain and blur jitter."""
    x = pair.float() / 255.0
    b = x.shape[0]
    rnd = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    bright = 0.75 + 0.5 * rnd(b, 1, 1, 1, 1)
    contrast = 0.8 + 0.4 * rnd(b, 1, 1, 1, 1)
    gain = 1.0 + 0.06 * (rnd(b, 2, 3, 1, 1) - 0.5)
    mean = x.mean(dim=(2, 3, 4), keepdim=True)
    x = ((x - mean) * contrast + mean) * bright * gain
    blur = rnd(b) < 0.3
    if blur.any():
        k = torch.tensor([0.25, 0.5, 0.25])
        flat = x[blur].flatten(0, 2)[:, None]
        flat = torch.nn.functional.conv2d(flat, k.view(1, 1, 1, 3), padding=(0, 1))
        flat = torch.nn.functional.conv2d(flat, k.view(1, 1, 3, 1), padding=(1, 0))
        x[blur] = flat.view(x[blur].shape)
    x = x + 0.01 * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 1)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def batch(data: dict[str, Any], idx: np.ndarray, crop: int, rng: np.random.Generator,
          gen: torch.Generator):
    pair = data["images"][idx]
    width = pair.shape[-1]
    crop = min(crop, width)
    col0 = [int(rng.integers(0, (width - crop) // 16 + 1)) * 16 for _ in idx]
    pair = torch.stack([pair[n, ..., c:c + crop] for n, c in enumerate(col0)])
    x = augment(pair, gen)
    tgt = collate([data["targets"][i] for i in idx], col0, crop)
    left = normalise(x[:, 0]).contiguous(memory_format=torch.channels_last)
    right = normalise(x[:, 1]).contiguous(memory_format=torch.channels_last)
    return left, right, tgt, data["focal_baseline"][idx]


def train_stereo3d(
    out: str | Path,
    n_train: int = 2000,
    n_val: int = 100,
    iterations: int = 3000,
    batch_size: int = 8,
    lr: float = 2e-3,
    crop_width: int = 320,
    seed: int = 0,
    data_root: str | Path = "datasets",
    threads: int = 2,
    workers: int = 2,
    eval_every: int = 500,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate the synthetic splits, train, validate, save the weights; returns a summary."""
    from bench.datasets.synthetic_kitti import SyntheticKittiDataset

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    t0 = time.time()
    common = {"width": TRAIN_SIZE[0], "height": TRAIN_SIZE[1], "root": data_root,
              "workers": workers}
    train_set = SyntheticKittiDataset(n_frames=n_train, seed=seed, split="train", **common)
    val_set = SyntheticKittiDataset(n_frames=n_val, seed=seed, split="val", **common)
    data = load_split(train_set)
    log(f"data ready: {n_train} train / {n_val} val frames in {time.time() - t0:.0f} s")
    model = build_model().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    warmup = max(1, iterations // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(i, warmup, iterations))
    t_train, cpu0, history = time.time(), _cpu(), []
    for it in range(1, iterations + 1):
        model.train()
        idx = rng.choice(len(data["targets"]), batch_size, replace=False)
        left, right, tgt, fb = batch(data, idx, crop_width, rng, gen)
        losses = detector_losses(model(left, right), tgt, fb)
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
        if it % 50 == 0 or it == 1:
            parts = " ".join(f"{k}={v.item():.3f}" for k, v in losses.items())
            elapsed = time.time() - t_train
            log(f"it {it}/{iterations} loss={loss.item():.3f} {parts} ({elapsed:.0f} s)")
        if it % eval_every == 0 or it == iterations:
            metrics = validate(model, val_set)
            history.append({"iteration": it, **metrics})
            log(f"val it {it}: " + " ".join(f"{k}={v:.2f}" for k, v in metrics.items()))
    summary = {
        "iterations": iterations, "batch_size": batch_size, "lr": lr, "crop_width": crop_width,
        "n_train": n_train, "n_val": n_val, "seed": seed,
        "train_wall_s": round(time.time() - t_train, 1), "train_cpu_s": round(_cpu() - cpu0, 1),
        "total_wall_s": round(time.time() - t0, 1), "threads": threads,
        "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch": str(torch.__version__), "validation": history,
    }
    save_weights(model, out, summary)
    log(f"saved {out}")
    return summary


def lr_factor(step: int, warmup: int, iterations: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to 0 at `iterations`."""
    cosine = 0.5 * (1 + math.cos(math.pi * min(step, iterations) / iterations))
    return min(1.0, (step + 1) / warmup) * cosine


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def save_weights(model: torch.nn.Module, path: str | Path, summary: dict[str, Any]) -> None:
    """Save state dict, architecture config and the training summary (weights_only-loadable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save({"format": "icm-bench/stereo3d/1", "config": model.config, "state_dict": state,
                "summary": _plain(summary)}, path)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, str):
        return str(obj)  # not a str subclass such as torch's TorchVersion
    return obj


@torch.no_grad()
def predict_split(model: torch.nn.Module, dataset: Any,
                  score_thresh: float = 0.05) -> dict[str, list]:
    """Detections of every frame of `dataset` through the inference path."""
    from bench.models.stereo3d_decode import decode_detections

    model.eval()
    preds = {}
    for item_id in dataset.ids():
        s = dataset.load(item_id)
        geo = net_geometry(s.meta["image_size"], s.calib, NET_WIDTH)
        left, right = (image_tensor(im, geo) for im in s.images)
        preds[item_id] = decode_detections(model(left, right), geo, score_thresh)
    return preds


def validate(model: torch.nn.Module, dataset: Any) -> dict[str, float]:
    """Car/Pedestrian/Cyclist moderate AP (R40) of bench.metrics.kitti on `dataset`."""
    from bench.models.stereo3d_decode import detections_to_anno

    preds = predict_split(model, dataset)
    ids = dataset.ids()
    gt, dt = dataset.label_annos(ids), [detections_to_anno(preds[i]) for i in ids]
    try:
        from bench.metrics.kitti import flatten_kitti, kitti_evaluate
    except ImportError:
        return {"frames": float(len(ids)), "detections": float(sum(len(p) for p in preds.values()))}
    flat = flatten_kitti(kitti_evaluate(gt, dt))
    keys = ("Car/3d/moderate/R40", "Car/bev/moderate/R40", "Car/bbox/moderate/R40",
            "Pedestrian/3d/moderate/R40", "Cyclist/3d/moderate/R40")
    return {k: float(flat[k]) for k in keys if k in flat}


def train_stereo3d_cli(out: str | Path, **kwargs: Any) -> str:
    """What `icm-bench train stereo3d` prints: progress lines, then the final validation."""
    summary = train_stereo3d(out, **kwargs)
    last = summary["validation"][-1] if summary["validation"] else {}
    lines = [f"weights: {out}",
             f"training: {summary['iterations']} iterations in "
             f"{summary['train_wall_s']:.0f} s wall "
             f"({summary['train_cpu_s']:.0f} s CPU, {summary['threads']} threads)"]
    lines += [f"  {k}: {v:.2f}" for k, v in last.items() if k != "iteration"]
    return "\n".join(lines)
