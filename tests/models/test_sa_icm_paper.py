"""The `paper` configuration: parameter counts measured from the authors' code, and shapes."""

from __future__ import annotations

import pytest
import torch

from bench.models.sa_icm import PAPER, AdditionalInfoNet, ScalableSaIcm, TcmNet, count_parameters

torch.set_num_threads(1)

# Measured from the authors' modules (SEEDS.md 4.2 / 4.3), in millions.
ENHANCEMENT_MILLIONS = {1: 45.92, 2: 51.69, 3: 58.72, 4: 67.02, 5: 76.57}


def test_base_has_76_57_million_parameters():
    net = TcmNet(PAPER.base)
    assert round(count_parameters(net) / 1e6, 2) == 76.57
    assert count_parameters(net) == 76_568_148      # this build, entropy bottleneck included
    assert net.gains is None                         # one network per rate, as in the paper


@pytest.mark.parametrize("m", sorted(ENHANCEMENT_MILLIONS))
def test_enhancement_parameters_for_each_m(m):
    net = AdditionalInfoNet(PAPER.with_slices(m))
    assert round(count_parameters(net) / 1e6, 2) == ENHANCEMENT_MILLIONS[m]
    assert count_parameters(net.fusion) == 0         # the released fusion is an addition


def test_paper_sizes():
    cfg = PAPER.base
    assert (cfg.n, cfg.latent_channels, cfg.latent_slices, cfg.slice_channels) == (128, 320, 5, 64)
    assert (cfg.window, cfg.hyper_window, cfg.max_support, cfg.pad_multiple) == (8, 4, 5, 128)
    net = TcmNet(cfg)
    assert net.arm.atten_mean[4].in_conv.in_channels == 320 + 64 * 4
    assert net.arm.lrp_transforms[4][0].in_channels == 320 + 64 * 5
    assert net.arm.cc_mean_transforms[0][0].out_channels == 224


def test_paper_shapes():
    """SEEDS.md gives 320x16x24 / 256x16x24 / 192x4x6 at 256x384; here 128x256 (same strides)."""
    net = ScalableSaIcm(PAPER).eval()                # m = 4, as released
    x = torch.rand(1, 3, 128, 256)
    with torch.no_grad():
        out = net(x)
    base, enh = out["base"], out["enhancement"]
    assert tuple(base["y_hat"].shape) == (1, 320, 8, 16)
    assert tuple(base["likelihoods"]["z"].shape) == (1, 192, 2, 4)
    assert tuple(enh["y_hat"].shape) == (1, 256, 8, 16)
    assert tuple(enh["likelihoods"]["z"].shape) == (1, 192, 2, 4)
    assert tuple(enh["x_hat"].shape) == (1, 3, 128, 256)
    assert tuple(base["x_hat"].shape) == (1, 3, 128, 256)
