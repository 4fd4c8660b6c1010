"""The task networks train on the generic trainer, exactly as their original recipes.

Each test runs a few steps through `icm-bench train` and through a transcription of
the loop the committed weights were trained with; the weights must be identical.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.models.detector import build_detector, load_detector
from bench.tasks.stereo3d import load_stereo3d


def _seed(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def detector_reference(root, n_train, batch_size, epochs, lr=2e-3):
    """The detector's original loop: seeded order and flips, AdamW, warm-up + cosine, clip 10."""
    from bench.datasets.synthetic_coco import SyntheticCocoDataset
    from bench.train.detector import training_target

    _seed(0)
    train = SyntheticCocoDataset(n_images=n_train, split="train", seed=0, root=root)
    model = build_detector(len(train.category_ids()) + 1)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    ids = train.ids()
    total = len(ids) // batch_size * epochs
    warmup = min(200, total // 10)
    rng = np.random.default_rng(0)
    step = 0
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(ids))
        for b in range(len(ids) // batch_size):
            batch = [training_target(train, ids[i], bool(rng.random() < 0.5))
                     for i in order[b * batch_size:(b + 1) * batch_size]]
            factor = ((step + 1) / warmup if step < warmup else
                      0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))
            for group in opt.param_groups:
                group["lr"] = lr * factor
            loss = sum(model([x for x, _ in batch], [t for _, t in batch]).values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            step += 1
    return model.state_dict()


def test_detector_recipe_trains_as_the_original_loop(tmp_path):
    out, root = tmp_path / "det.pt", str(tmp_path / "data")
    result = CliRunner().invoke(app, [
        "train", "detector", "--set", f"out={out}", "--set", "program.kwargs.n_train=12",
        "--set", "program.kwargs.n_val=2", "--set", f"program.kwargs.data_root={root}",
        "--set", "steps=6", "--set", "optim.warmup_steps=0", "--set", "log_every=3",
        "--set", f"work_dir={tmp_path / 'work'}"])
    assert result.exit_code == 0, result.output
    assert "step 3/6" in result.output and "bbox/AP" in result.output
    model, meta = load_detector(out)
    assert meta["training"]["epochs"] == 2 and meta["training"]["data"]["n_images"] == 12
    assert meta["class_names"][1:] == ["circle", "square", "triangle", "star", "ring"]
    ref = detector_reference(root, n_train=12, batch_size=4, epochs=2)
    got = model.state_dict()
    for k, v in ref.items():  # the checkpoint is fp16: compare at that precision
        assert torch.equal(got[k], (v.half() if v.is_floating_point() else v).to(got[k].dtype)), k


@pytest.mark.slow
def test_stereo3d_recipe_trains_as_the_original_loop(tmp_path):
    from bench.datasets.synthetic_kitti import SyntheticKittiDataset
    from bench.models.stereo3d import build_model
    from bench.models.stereo3d_targets import detector_losses
    from bench.train.stereo3d import TRAIN_SIZE, batch, load_split

    out, root = tmp_path / "s3d.pt", str(tmp_path / "data")
    result = CliRunner().invoke(app, [
        "train", "stereo3d", "--set", f"out={out}", "--set", "program.kwargs.n_train=4",
        "--set", "program.kwargs.n_val=2", "--set", "program.kwargs.batch_size=2",
        "--set", "program.kwargs.crop_width=160", "--set", "program.kwargs.workers=1",
        "--set", f"program.kwargs.data_root={root}", "--set", "steps=3",
        "--set", "optim.warmup_steps=1", "--set", "threads=1",
        "--set", f"work_dir={tmp_path / 'work'}"])
    assert result.exit_code == 0, result.output
    model, summary = load_stereo3d(out)
    assert "Car/3d/moderate/R40" in summary["validation"][-1]

    torch.set_num_threads(1)
    _seed(0)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    common = {"width": TRAIN_SIZE[0], "height": TRAIN_SIZE[1], "root": root, "workers": 1}
    data = load_split(SyntheticKittiDataset(n_frames=4, seed=0, split="train", **common))
    ref = build_model().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(ref.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / 1) * 0.5 * (1 + math.cos(math.pi * min(i, 3) / 3)))
    for _ in range(3):
        ref.train()
        idx = rng.choice(len(data["targets"]), 2, replace=False)
        left, right, tgt, fb = batch(data, idx, 160, rng, gen)
        loss = sum(detector_losses(ref(left, right), tgt, fb).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 10.0)
        opt.step()
        sched.step()
    got = model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in ref.state_dict().items())
