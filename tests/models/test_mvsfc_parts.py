"""Padding, configurations, the contextual transform switch and the rate gains."""

from __future__ import annotations

import pytest
import torch

from bench.models.mvsfc.config import SMALL, MvsfcConfig, get_config
from bench.models.mvsfc.layers import ContextualTransform
from bench.models.mvsfc.padding import crop_levels, pad_levels, padded_sizes
from bench.models.mvsfc.transforms import RateGains


def test_padded_sizes_follow_f2_multiple_of_8():
    assert padded_sizes([(48, 156), (24, 78), (12, 39)]) == [(64, 160), (32, 80), (16, 40)]
    assert padded_sizes([(72, 320), (36, 160), (18, 80)]) == [(96, 320), (48, 160), (24, 80)]
    with pytest.raises(ValueError, match="f0"):
        padded_sizes([(80, 10), (5, 5), (3, 3)])


def test_pad_then_crop_is_identity():
    levels = [torch.rand(1, 2, 47, 155), torch.rand(1, 3, 24, 78), torch.rand(1, 4, 12, 39)]
    padded, sizes = pad_levels(levels)
    assert [tuple(t.shape[-2:]) for t in padded] == [(64, 160), (32, 80), (16, 40)]
    assert padded[0][..., 47:, :].abs().sum() == 0
    assert all(torch.equal(a, b) for a, b in zip(crop_levels(padded, sizes), levels))


def test_config_round_trip_and_names():
    assert MvsfcConfig.from_dict(SMALL.to_dict()) == SMALL
    assert get_config("small", ablation=True).joint is False
    with pytest.raises(KeyError):
        get_config("big")
    with pytest.raises(ValueError, match="unknown"):
        MvsfcConfig.from_dict({"bogus": 1})


def test_disabled_contextual_transform_is_identity():
    off = ContextualTransform(16, 4, enabled=False)
    a, b = torch.rand(1, 16, 4, 4), torch.rand(1, 16, 4, 4)
    assert off(a, b) == (a, b) and not list(off.parameters())
    on = ContextualTransform(16, 4)
    out = on(a, b)
    assert out[0].shape == a.shape and not torch.equal(out[0], a)


def test_rate_gains_interpolate_in_log_domain():
    g = RateGains(3, 2)
    with torch.no_grad():
        g.log_gain.copy_(torch.tensor([[0.0, 0.0], [1.0, 2.0], [2.0, 2.0]]))
    x = torch.ones(1, 2, 1, 1)
    at_one = g.gain(x, torch.tensor([1.0])).flatten()
    halfway = g.gain(x, torch.tensor([0.5])).flatten()
    assert torch.allclose(at_one, torch.exp(torch.tensor([1.0, 2.0])))
    assert torch.allclose(halfway, torch.exp(torch.tensor([0.5, 1.0])))
    assert torch.equal(RateGains(0, 2).gain(x, None), x)
