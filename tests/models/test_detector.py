"""Tests for the built-in small Mask R-CNN: checkpoint format, loading, committed weights."""

from __future__ import annotations

import pytest
import torch

from bench.errors import TaskError
from bench.models.detector import (
    CHECKPOINT_FORMAT,
    DEFAULT_CONFIG,
    DEFAULT_WEIGHTS,
    build_detector,
    load_detector,
    save_checkpoint,
)

NAMES = ["__background__", "circle", "square"]
META = {"config": dict(DEFAULT_CONFIG), "class_names": NAMES, "category_ids": [1, 2],
        "training": {"seed": 0}}


def test_checkpoint_roundtrip_is_fp16_plain_data(tmp_path):
    torch.manual_seed(0)
    model = build_detector(len(NAMES))
    path = tmp_path / "d.pt"
    save_checkpoint(model, path, META)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT and raw["class_names"] == NAMES
    floats = [v for v in raw["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    loaded, meta = load_detector(path)
    assert meta["category_ids"] == [1, 2] and not loaded.training
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4), k


def test_backbone_strides_and_channels():
    model = build_detector(3).eval()
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 256, 320))
    assert list(feats) == ["0", "1", "2", "3", "pool"]
    assert [tuple(f.shape[-2:]) for f in feats.values()] == [(64, 80), (32, 40), (16, 20),
                                                             (8, 10), (4, 5)]
    assert {f.shape[1] for f in feats.values()} == {DEFAULT_CONFIG["fpn_channels"]}


class _Payload:
    def __reduce__(self):
        return (print, ("code ran at load time",))


def test_refuses_pickled_code_and_foreign_checkpoints(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "x": _Payload()}, evil)
    with pytest.raises(TaskError, match="refusing"):
        load_detector(evil)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(2)}, foreign)
    with pytest.raises(TaskError, match="train detector"):
        load_detector(foreign)
    old = tmp_path / "old.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "version": 0}, old)
    with pytest.raises(TaskError, match="version"):
        load_detector(old)


def test_committed_weights_load_and_are_small():
    assert DEFAULT_WEIGHTS.is_file(), "bench/models/weights/detector.pt must be committed"
    assert DEFAULT_WEIGHTS.stat().st_size < 5 * 2**20
    model, meta = load_detector()
    assert meta["class_names"][0] == "__background__" and len(meta["category_ids"]) >= 4
    assert meta["training"]["seconds"] > 0 and meta["training"]["hardware"]
