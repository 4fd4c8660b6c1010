"""SA-ICM networks, `small` configuration: blocks, config round trip, gains, fusion."""

from __future__ import annotations

import pytest
import torch

from bench.models.sa_icm import SMALL, SaIcmConfig, ScalableSaIcm, TcmNet, get_config
from bench.models.sa_icm.fusion import LearnedFusion, SliceAddFusion, build_fusion
from bench.models.sa_icm.swin import ConvTransBlock, SWAtten, WindowAttention
from bench.models.sa_icm.tcm import GainUnits

torch.set_num_threads(1)


def test_window_attention_keeps_shape_and_pads_partial_windows():
    torch.manual_seed(0)
    attn = WindowAttention(16, 8, 4, shifted=True)
    for h, w in [(8, 12), (6, 10)]:                   # whole windows, then partial ones
        assert attn(torch.rand(2, h, w, 16)).shape == (2, h, w, 16)


def test_plain_windows_do_not_mix_windows():
    torch.manual_seed(0)
    attn = WindowAttention(8, 4, 4, shifted=False)
    x = torch.rand(1, 8, 8, 8)
    y = x.clone()
    y[:, 4:, 4:] += 1.0                               # change only the bottom-right window
    diff = (attn(x) - attn(y)).abs().sum(-1)[0]
    assert diff[:4, :].max() == 0 and diff[:, :4].max() == 0
    assert diff[4:, 4:].min() > 0


def test_shifted_windows_mask_wrapped_regions():
    attn = WindowAttention(8, 4, 4, shifted=True)
    mask = attn._shift_mask(8, 8, torch.device("cpu"))
    assert mask.shape == (4, 16, 16)
    assert not mask[0].any()                          # the top-left window is one region
    assert mask[3].any()                              # the corner one holds four regions


def test_conv_trans_block_and_swatten_shapes():
    ctb = ConvTransBlock(8, 4, 4, shifted=True)
    assert ctb(torch.rand(1, 16, 8, 8)).shape == (1, 16, 8, 8)
    sw = SWAtten(40, 40, 8, 4, 16)
    assert sw(torch.rand(1, 40, 4, 8)).shape == (1, 40, 4, 8)


def test_config_round_trip_and_checks():
    for m in range(1, 6):
        cfg = get_config("small", m=m, fusion="learned")
        assert SaIcmConfig.from_dict(cfg.to_dict()) == cfg
        assert cfg.ica().latent_channels == 16 * m
        assert cfg.ica().synthesis_channels == SMALL.base.latent_channels
    with pytest.raises(ValueError, match="m \\(ica_slices\\)"):
        get_config("small", m=6)
    with pytest.raises(ValueError, match="fusion"):
        get_config("small", fusion="concat")
    with pytest.raises(ValueError, match="unknown"):
        get_config("large")
    with pytest.raises(ValueError, match="unknown SaIcmConfig keys"):
        SaIcmConfig.from_dict({**SMALL.to_dict(), "extra": 1})


def test_gain_units_interpolate_geometrically():
    gains = GainUnits(3, 4)
    with torch.no_grad():
        gains.log_gain.copy_(torch.log(torch.tensor([[1.0], [4.0], [16.0]])).repeat(1, 4))
    assert torch.allclose(gains.gain(1).flatten(), torch.full((4,), 4.0))
    assert torch.allclose(gains.gain(0.5).flatten(), torch.full((4,), 2.0))
    assert torch.allclose(gains.gain(9).flatten(), torch.full((4,), 16.0))   # clamped
    batch = gains.gain(torch.tensor([0.0, 2.0]))
    assert batch.shape == (2, 4, 1, 1) and float(batch[1, 0, 0, 0]) == pytest.approx(16.0)


def test_small_network_needs_a_rate_index():
    net = TcmNet(SMALL.base)
    with pytest.raises(ValueError, match="rate index"):
        net(torch.rand(1, 3, 64, 64))


def test_slice_add_fusion_adds_the_first_m_slices_only():
    fusion = SliceAddFusion(2, 2)
    base, add = torch.rand(1, 6, 2, 2), torch.rand(1, 4, 2, 2)
    out = fusion(base, add)
    assert torch.equal(out[:, :4], base[:, :4] + add)
    assert torch.equal(out[:, 4:], base[:, 4:])
    with pytest.raises(ValueError, match="additional channels"):
        fusion(base, torch.rand(1, 2, 2, 2))


def test_learned_fusion_has_parameters_per_slice_and_keeps_the_tail():
    fusion = build_fusion("learned", 4, 2)
    assert isinstance(fusion, LearnedFusion) and len(fusion.nets) == 2
    base, add = torch.rand(1, 12, 4, 4), torch.rand(1, 8, 4, 4)
    out = fusion(base, add)
    assert out.shape == base.shape
    assert torch.equal(out[:, 8:], base[:, 8:])
    with pytest.raises(ValueError):
        build_fusion("mul", 4, 2)


def test_scalable_training_pass_shapes_and_gradients():
    torch.manual_seed(0)
    net = ScalableSaIcm(get_config("small", m=2))
    x = torch.rand(2, 3, 64, 64)
    out = net(x, torch.tensor([0.0, 3.5]), torch.tensor([1.0, 4.0]))
    assert out["base"]["x_hat"].shape == x.shape
    assert out["enhancement"]["x_hat"].shape == x.shape
    assert out["enhancement"]["likelihoods"]["y"].shape == (2, 32, 4, 4)
    out["enhancement"]["x_hat"].mean().backward()
    assert net.enhancement.g_a[0].conv1.weight.grad is not None
    assert net.base.g_s[0].subpel_conv[0].weight.grad is None   # g_s of the base is not used
