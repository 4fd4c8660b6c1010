"""The learned-baseline network: shapes, parameters, gains, real coding, export format."""

from __future__ import annotations

import pytest
import torch

from bench.models.learned_baseline import (
    DEFAULT_LAMBDAS,
    WEIGHTS_FORMAT,
    GainedMeanScaleHyperprior,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = GainedMeanScaleHyperprior(N=16, M=24).eval()
    with torch.no_grad():
        m.g_a[-1].weight.mul_(20)  # latents large enough for the gains to matter
    m.update(force=True)
    return m


def test_default_configuration_size():
    m = GainedMeanScaleHyperprior()
    n = sum(p.numel() for p in m.parameters())
    assert (m.N, m.M) == (64, 128) and m.levels == len(DEFAULT_LAMBDAS)
    assert 2.3e6 < n < 2.5e6  # 2.40 M: a few MB of weights
    assert m.log_gain.shape == m.log_inv_gain.shape == (len(DEFAULT_LAMBDAS), 128)


def test_forward_shapes_per_sample_levels(model):
    x = torch.rand(3, 3, 64, 128)
    out = model(x, torch.tensor([0, 3, 6]))
    assert out["x_hat"].shape == x.shape
    assert out["likelihoods"]["y"].shape == (3, 24, 4, 8)
    assert out["likelihoods"]["z"].shape == (3, 16, 1, 2)


def test_gains_interpolate_between_levels(model):
    g0, _ = model.gains(0)
    g1, _ = model.gains(1)
    gh, igh = model.gains(0.5)
    assert torch.allclose(gh, (g0 * g1).sqrt(), rtol=1e-5)
    assert gh.shape == igh.shape == (1, 24, 1, 1)
    assert model.level_of(DEFAULT_LAMBDAS[2]) == pytest.approx(2.0)
    mid = (DEFAULT_LAMBDAS[2] * DEFAULT_LAMBDAS[3]) ** 0.5
    assert model.level_of(mid) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="outside the trained range"):
        model.level_of(1.0)


def test_real_coding_rate_grows_with_level(model):
    torch.manual_seed(1)
    x = torch.rand(1, 3, 64, 64)
    sizes = []
    with torch.no_grad():
        for level in (0, 3, 6):
            enc = model.compress(x, level)
            dec = model.decompress(enc["strings"], enc["shape"], level)
            assert dec["x_hat"].shape == x.shape
            sizes.append(sum(len(s[0]) for s in enc["strings"]))
    assert sizes[0] < sizes[1] < sizes[2]


def test_decoder_matches_the_encoders_quantised_latent(model):
    """decompress reproduces round(y*g - mu*g) + mu*g exactly (real decoding)."""
    torch.manual_seed(2)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y = model.g_a(x)
        z_hat = model.entropy_bottleneck.decompress(
            model.entropy_bottleneck.compress(model.h_a(y)), (1, 1))
        _, means = model._params(z_hat)
        g, ig = model.gains(2)
        expect = model.g_s(((y * g - means * g).round() + means * g) * ig).clamp(0, 1)
        enc = model.compress(x, 2)
        got = model.decompress(enc["strings"], enc["shape"], 2)["x_hat"]
    assert torch.allclose(got, expect, atol=1e-5)


def test_from_weights_round_trip(model):
    payload = {"format": WEIGHTS_FORMAT, "config": model.config(),
               "state_dict": {k: v.half() if v.is_floating_point() else v
                              for k, v in model.state_dict().items()}}
    back = GainedMeanScaleHyperprior.from_weights(payload)
    assert back.config() == model.config()
    with pytest.raises(ValueError, match="not a learned-baseline weights file"):
        GainedMeanScaleHyperprior.from_weights({"format": "other"})


def test_chroma_axes_leave_luma_untouched():
    from bench.models.learned_baseline import LUMA, colour_basis

    c = colour_basis()
    assert torch.allclose(c @ c.T, torch.eye(3, dtype=c.dtype), atol=1e-9)
    assert torch.allclose(c[1:] @ torch.tensor(LUMA, dtype=c.dtype), torch.zeros(2, dtype=c.dtype),
                          atol=1e-9)


def test_block_dct_is_orthonormal_and_dct8_starts_near_lossless():
    import math

    from bench.models.learned_baseline import block_dct_matrix

    t = block_dct_matrix()
    assert torch.allclose(t @ t.T, torch.eye(192), atol=1e-5)
    torch.manual_seed(0)
    m = GainedMeanScaleHyperprior(N=16, M=192, lambdas=[0.001, 0.01], transform="dct8").eval()
    assert m.pad_multiple == 32 and m.config()["transform"] == "dct8"
    x = 0.3 + 0.5 * torch.rand(2, 3, 64, 96)  # offset from grey: DC energy
    with torch.no_grad():
        mse = float(((m.g_s(m.g_a(x)) - x) ** 2).mean())
        m.calibrate(x)
        scales, means = m._params(torch.zeros(1, 16, 2, 3))
    assert -10 * math.log10(mse) > 50  # the block DCT and its transpose, GDN near identity
    assert torch.all(means == 0) and scales.shape == (1, 192, 8, 12)
    # the calibrated scale of the first (DC, luma) channel exceeds a high-frequency chroma one
    assert scales[0, 0, 0, 0] > scales[0, 191, 0, 0]
    # gains start at the high-rate optimum: step^2 = 18 / (lambda 255^2 ln 2 r), r the
    # axis' weight in the 6:1:1 YUV distortion (luma ~1.04, chroma ~0.13)
    from bench.models.learned_baseline import yuv_weights

    r = yuv_weights()
    assert r[0] == pytest.approx(1.045, abs=1e-3) and float(r[1:].max()) < 0.15
    g, _ = m.gains(0)
    for channel, weight in ((0, r[0]), (64, r[1]), (191, r[2])):
        expect = math.sqrt(0.001 * 255**2 * math.log(2) * float(weight) / 18)
        assert float(g[0, channel].detach()) == pytest.approx(expect, rel=1e-5)
    with pytest.raises(ValueError, match="needs M = 192"):
        GainedMeanScaleHyperprior(M=128, transform="dct8")
