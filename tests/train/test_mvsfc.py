"""Training program `mvsfc`: a few steps of the tiny configuration, export, real-coding eval."""

from __future__ import annotations

import pytest
import yaml

from bench.models.mvsfc.training import distill_weight, rate_loss, split_views
from bench.train.recipe import load_recipe
from bench.train.trainer import Trainer


def test_recipe_trains_exports_and_evaluates(tmp_path):
    recipe = {
        "name": "mvsfc-smoke",
        "program": {"type": "mvsfc", "kwargs": {
            "config": "tiny", "n_train": 2, "n_val": 1, "data_root": str(tmp_path / "data"),
            "batch_size": 2, "crop_width": 128, "distill": 1.0, "distill_until": 4,
            "eval_rates": [0]}},
        "steps": 2, "log_every": 1, "checkpoint_every": 1,
        "work_dir": str(tmp_path / "work"), "out": str(tmp_path / "tiny.pt"),
        "card": str(tmp_path / "card.md"),
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    lines: list[str] = []
    summary = Trainer(load_recipe(str(path)), log=lines.append).run()
    assert any("bpp" in line and "task" in line for line in lines)
    assert summary["evaluation"]["r0/bpp"] > 0
    assert "ref/AP3D" in summary["evaluation"]
    assert (tmp_path / "tiny.pt").is_file() and summary["export"]["parameters"] > 0
    assert "MVSFC-Net `tiny`" in (tmp_path / "card.md").read_text()
    resumed = Trainer(load_recipe(str(path)), log=lines.append).run(steps=3, resume=True)
    assert resumed["steps"] == 3


def test_loss_helpers():
    import torch

    sig = torch.tensor([0.5, 2.0])
    bl, br = torch.tensor([1.0, 1.0]), torch.tensor([1.0, 3.0])
    assert float(rate_loss(sig, torch.tensor([0.0, 1.0]), bl, br)) == pytest.approx(4.5)
    assert distill_weight(2.0, 10, 5) == 1.0 and distill_weight(2.0, 0, 5) == 2.0
    assert distill_weight(0.0, 10, 0) == 0.0
    with pytest.raises(KeyError, match="left/f2"):
        split_views({"left/f0": 1})
