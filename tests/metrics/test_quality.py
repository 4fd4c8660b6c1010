"""Pixel quality: PSNR (RGB, luma) and MS-SSIM against hand-computed values and a torch
implementation of pytorch_msssim's definition."""

import math

import numpy as np
import pytest

from bench.metrics.quality import (
    MS_SSIM_WEIGHTS,
    PSNR_CAP_DB,
    ms_ssim,
    ms_ssim_scales,
    pixel_quality,
    psnr_rgb,
    psnr_y,
    quality_metric_infos,
)


def noisy_pair(h, w, sigma=12.0, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    ref = np.stack([120 + 80 * np.sin(xx / (5 + c)) * np.cos(yy / 7) for c in range(3)], -1)
    ref = np.clip(ref, 0, 255).round().astype(np.uint8)
    rec = np.clip(ref + rng.normal(0, sigma, ref.shape), 0, 255).round().astype(np.uint8)
    return ref, rec


def test_psnr_rgb_hand_computed():
    ref = np.zeros((2, 2, 3), np.uint8)
    rec = ref.copy()
    rec[0, 1, 2] = 10  # one sample off by 10: MSE = 100 / 12
    assert psnr_rgb(ref, rec) == pytest.approx(10 * math.log10(255**2 * 12 / 100))
    assert psnr_rgb(rec, ref) == psnr_rgb(ref, rec)


def test_psnr_y_hand_computed():
    ref = np.full((3, 4, 3), 100, np.uint8)
    grey = ref + 4  # luma moves by 4 (weights sum to 1)
    assert psnr_y(ref, grey) == pytest.approx(10 * math.log10(255**2 / 16))
    red = ref.copy()
    red[..., 0] += 10  # luma moves by 0.299 * 10
    assert psnr_y(ref, red) == pytest.approx(10 * math.log10(255**2 / 2.99**2))
    swapped = ref.copy()
    swapped[..., 1] += 1
    swapped[..., 2] -= 5  # 0.587 - 0.57 = 0.017: nearly no luma change
    assert psnr_y(ref, swapped) == pytest.approx(10 * math.log10(255**2 / 0.017**2), rel=1e-9)


def test_identical_images_hit_the_cap():
    ref, _ = noisy_pair(20, 30)
    assert psnr_rgb(ref, ref) == psnr_y(ref, ref) == PSNR_CAP_DB == 100.0
    assert ms_ssim(ref, ref) == pytest.approx(1.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        psnr_rgb(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_ms_ssim_of_flat_images_hand_computed():
    # 176 = 11 * 16: four poolings stay even, every window is flat: cs = 1 at all scales,
    # and only the luminance term l = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1) at the last one.
    ref = np.full((176, 192, 3), 100, np.uint8)
    rec = np.full((176, 192, 3), 110, np.uint8)
    c1 = (0.01 * 255) ** 2
    lum = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert ms_ssim(ref, rec) == pytest.approx(lum ** MS_SSIM_WEIGHTS[-1], abs=1e-12)


def test_scale_count_for_small_images():
    assert ms_ssim_scales(161, 400) == 5
    assert ms_ssim_scales(160, 400) == 4
    assert ms_ssim_scales(81, 81) == 4
    assert ms_ssim_scales(21, 300) == 2
    assert ms_ssim_scales(11, 11) == 1
    assert ms_ssim_scales(4, 4) == 1


def torch_ms_ssim(ref, rec, weights):
    """pytorch_msssim's ms_ssim (v1.0 definition), written here with torch ops in float64."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.tensor(ref, dtype=torch.float64).permute(2, 0, 1)[None]
    y = torch.tensor(rec, dtype=torch.float64).permute(2, 0, 1)[None]
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    win = (g / g.sum()).reshape(1, 1, 1, -1).repeat(3, 1, 1, 1)

    def blur(t):
        for i, side in enumerate(t.shape[2:]):
            if side >= 11:
                t = F.conv2d(t, win.transpose(2 + i, -1), groups=3)
        return t

    def ssim_cs(a, b):
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        mu1, mu2 = blur(a), blur(b)
        s1, s2, s12 = blur(a * a) - mu1**2, blur(b * b) - mu2**2, blur(a * b) - mu1 * mu2
        cs = (2 * s12 + c2) / (s1 + s2 + c2)
        ssim = ((2 * mu1 * mu2 + c1) / (mu1**2 + mu2**2 + c1)) * cs
        return ssim.flatten(2).mean(-1), cs.flatten(2).mean(-1)

    factors = []
    for level in range(len(weights)):
        s, cs = ssim_cs(x, y)
        if level < len(weights) - 1:
            factors.append(torch.relu(cs))
            pad = [side % 2 for side in x.shape[2:]]
            x, y = F.avg_pool2d(x, 2, padding=pad), F.avg_pool2d(y, 2, padding=pad)
    w = torch.tensor(weights, dtype=torch.float64).view(-1, 1, 1)
    return float(torch.prod(torch.stack(factors + [torch.relu(s)]) ** w, dim=0).mean())


@pytest.mark.parametrize("h,w", [(176, 192), (201, 333), (163, 170)])
def test_ms_ssim_matches_pytorch_msssim(h, w):
    ref, rec = noisy_pair(h, w, seed=h)
    ours = ms_ssim(ref, rec)
    assert 0.3 < ours < 0.99
    assert ours == pytest.approx(torch_ms_ssim(ref, rec, MS_SSIM_WEIGHTS), abs=1e-10)


def test_ms_ssim_on_small_images_uses_fewer_renormalised_scales():
    ref, rec = noisy_pair(45, 50)
    weights = np.array(MS_SSIM_WEIGHTS[:3]) / sum(MS_SSIM_WEIGHTS[:3])
    assert ms_ssim(ref, rec) == pytest.approx(torch_ms_ssim(ref, rec, tuple(weights)), abs=1e-10)
    tiny_ref, tiny_rec = noisy_pair(6, 9)
    expected = torch_ms_ssim(tiny_ref, tiny_rec, (1.0,))
    assert ms_ssim(tiny_ref, tiny_rec) == pytest.approx(expected, abs=1e-10)


def test_ms_ssim_falls_with_noise():
    values = [ms_ssim(*noisy_pair(170, 180, sigma=s)) for s in (2, 8, 30)]
    assert values[0] > values[1] > values[2]


def test_pixel_quality_and_infos():
    ref, rec = noisy_pair(30, 40)
    quality = pixel_quality(ref, rec)
    infos = quality_metric_infos()
    assert list(quality) == [info.name for info in infos] == ["psnr_rgb", "psnr_y", "ms_ssim"]
    assert all(info.higher_is_better for info in infos)
    assert quality["psnr_rgb"] == psnr_rgb(ref, rec) and quality["ms_ssim"] == ms_ssim(ref, rec)
