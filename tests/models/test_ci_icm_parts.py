"""CI-ICM building blocks: CIG and its losses, gains, side information, weights."""

from __future__ import annotations

import pytest
import torch

from bench.models.ci_icm import SMALL, CiIcm
from bench.models.ci_icm.importance import (
    ChannelImportance,
    ImportanceTarget,
    channel_order_loss,
    group_importance,
    importance_from_bytes,
    importance_to_bytes,
    quantize_importance,
    taylor_saliency,
)
from bench.models.ci_icm.scaling import GroupScaling, RateGains
from bench.models.ci_icm.side import pack_side, quantize_level, unpack_side
from bench.models.ci_icm.tsca import TaskChannelAdaptation
from bench.models.ci_icm.weights import (
    CHECKPOINT_FORMAT,
    checkpoint_payload,
    load_compatible,
    model_from_payload,
)

torch.set_num_threads(1)


def test_channel_order_loss():
    descending = torch.linspace(0.9, 0.1, 8)[None]
    assert channel_order_loss(descending).item() == 0.0
    assert channel_order_loss(descending.flip(1)).item() > 0.09
    flat = torch.full((1, 8), 0.5)
    assert channel_order_loss(flat, margin=1e-3).item() == pytest.approx(1e-3)


def test_cig_starts_descending_and_in_unit_interval():
    w = ChannelImportance(32)(torch.randn(2, 32, 4, 4))
    assert w.shape == (2, 32) and bool(((w > 0) & (w < 1)).all())
    assert channel_order_loss(w, margin=0.0).item() == 0.0


def test_importance_losses_train_the_head_but_not_the_encoder():
    y = torch.randn(2, 32, 4, 4, requires_grad=True)
    head = ChannelImportance(32)
    channel_order_loss(head(y)).add(head(y).sum()).backward()
    assert y.grad is None
    assert head.fc1.weight.grad is not None and head.fc1.weight.grad.abs().sum() > 0


def test_running_target_skips_a_non_finite_batch():
    target = ImportanceTarget(3)
    y = torch.ones(1, 3, 2, 2)
    assert target.update(y, torch.ones_like(y))
    bad = torch.ones_like(y)
    bad[0, 1] = float("nan")
    assert not target.update(y, bad)
    assert torch.allclose(target.saliency, torch.full((3,), 1 / 3)) and int(target.updates) == 1


def test_importance_bytes_round_trip_on_the_quantised_grid():
    w = torch.tensor([[0.0, 0.3, 0.5001, 1.0], [0.2, 0.7, 0.9, 0.1]])
    data = importance_to_bytes(w)
    assert [len(d) for d in data] == [4, 4]
    assert torch.equal(importance_from_bytes(data), quantize_importance(w))


def test_quantize_importance_passes_gradients_straight_through():
    w = torch.tensor([[0.31, 0.77]], requires_grad=True)
    quantize_importance(w).sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_group_importance_is_the_mean_per_group():
    w = torch.arange(6, dtype=torch.float32)[None]
    assert torch.equal(group_importance(w, (1, 2, 3)), torch.tensor([[0.0, 1.5, 4.0]]))


def test_taylor_saliency_and_running_target():
    y = torch.ones(2, 3, 2, 2)
    grad = torch.tensor([1.0, -3.0, 0.0])[None, :, None, None].expand(2, 3, 2, 2)
    s = taylor_saliency(y, grad)
    assert torch.allclose(s, torch.tensor([[0.25, 0.75, 0.0]] * 2))
    target = ImportanceTarget(3, momentum=0.5)
    target.update(y, grad)
    assert torch.allclose(target.saliency, torch.tensor([0.25, 0.75, 0.0]))
    good = torch.tensor([[0.25, 0.75, 0.0]])
    assert target.loss(good).item() == pytest.approx(0.0, abs=1e-10)
    assert target.loss(torch.tensor([[0.75, 0.25, 0.0]])).item() > 0.1


def test_group_scaling_starts_at_one_and_follows_importance():
    fcgs = GroupScaling((2, 3), adaptive=True)
    w = torch.tensor([[0.2, 0.9]])
    assert torch.equal(fcgs(w, 1), torch.ones(1, 5, 1, 1))
    with torch.no_grad():
        fcgs.importance_slope.fill_(1.0)
    g = fcgs(w, 1).flatten()
    assert torch.allclose(g, torch.exp(torch.tensor([0.2, 0.2, 0.9, 0.9, 0.9])))
    with pytest.raises(ValueError):
        fcgs(None, 1)
    assert torch.equal(GroupScaling((2, 3), adaptive=False)(None, 2), torch.ones(2, 5, 1, 1))


def test_rate_gains_interpolate_between_levels():
    gains = RateGains(3, 4)
    g = gains(torch.tensor([0.0, 2.0, 0.5]))
    assert g.shape == (3, 4, 1, 1)
    assert torch.allclose(g[0], torch.full((4, 1, 1), 0.5))
    assert torch.allclose(g[1], torch.full((4, 1, 1), 2.0))
    assert torch.allclose(g[2], torch.full((4, 1, 1), 0.5 ** 0.5))


def test_side_round_trip_and_length_check():
    level = quantize_level(2.3)
    data = pack_side(level, b"\x01\x02")
    assert len(data) == 4 and unpack_side(data, True, 2) == (level, b"\x01\x02")
    assert unpack_side(b"\x05", False, 1) == (None, b"\x05")
    with pytest.raises(ValueError, match="expects"):
        unpack_side(data, True, 3)


def test_tsca_starts_as_identity():
    y = torch.randn(2, 8, 3, 3)
    assert torch.equal(TaskChannelAdaptation(8)(y), y)


def test_full_model_from_baseline_weights_computes_the_baseline():
    torch.manual_seed(0)
    base = CiIcm(SMALL.baseline()).eval()
    full = CiIcm(SMALL).eval()
    report = load_compatible(full, base.state_dict())
    assert len(report["widened"]) == len(SMALL.groups) - 1
    assert {n.split(".")[0] for n in report["new"]} == {"cig", "fcgs", "tsca"}
    x = torch.rand(1, 3, 64, 64)
    level = torch.tensor([1.0])
    with torch.no_grad():
        a = base(x, level=level)
        b = full(x, level=level, outputs=(None, "detection"))
    assert torch.allclose(a["likelihoods"]["y"], b["likelihoods"]["y"], atol=1e-6)
    assert torch.allclose(a["x_hat"], b["x_hats"]["detection"], atol=1e-6)


def test_checkpoint_payload_round_trip_is_half_precision():
    torch.manual_seed(0)
    model = CiIcm(SMALL)
    doc = checkpoint_payload(model, {"levels": [0, 1]})
    assert doc["format"] == CHECKPOINT_FORMAT and doc["levels"] == [0, 1]
    halves = [n for n, t in doc["state_dict"].items() if t.dtype == torch.float16]
    assert "g_a.0.weight" in halves
    assert not any("entropy_bottleneck" in n for n in halves)
    loaded = model_from_payload(doc)
    assert loaded.config == SMALL and not loaded.training
    ref = model.state_dict()["g_a.0.weight"]
    assert torch.allclose(loaded.state_dict()["g_a.0.weight"], ref, atol=1e-3)
    assert not any(n.endswith("gaussian_conditional._quantized_cdf") for n in doc["state_dict"])
    x = torch.rand(1, 3, 64, 64)
    coded = loaded.compress(x, level=1.0)
    assert loaded.decompress(coded["strings"], coded["shape"])["x_hat"].shape == x.shape
    del doc["state_dict"]["g_a.0.weight"]
    with pytest.raises(ValueError, match="lacks weights"):
        model_from_payload(doc)
    with pytest.raises(ValueError, match="not a CI-ICM"):
        model_from_payload({"format": "other"})
