"""Pixel quality of a reconstruction: PSNR (RGB and luma) and MS-SSIM, numpy/scipy only.

Conventions:
- Identical images have no finite PSNR; every PSNR here is capped at `PSNR_CAP_DB`
  (100 dB), so per-image values, dataset means and JSON output stay finite.
- PSNR-RGB: 10 log10(255^2 / MSE), the MSE over all pixels and all three channels.
- PSNR-Y: the same on luma Y = 0.299 R + 0.587 G + 0.114 B (BT.601, full range, kept
  as float, no rounding), peak 255.
- MS-SSIM: Wang, Simoncelli, Bovik (2003) as pytorch_msssim computes it: per RGB
  channel, 11-tap Gaussian window (sigma 1.5) applied 'valid' (no padding), K1 0.01,
  K2 0.03, data range 255; contrast-structure at scales 1-4 and SSIM at scale 5, each
  clipped at 0, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); 2x2 average pooling
  between scales, where an odd side is zero-padded by one on both ends and the padding
  counts in the average (torch's avg_pool2d with padding=side % 2); mean over channels.
  pytorch_msssim needs the shorter side > 160; for smaller images we use the largest
  number of scales L for which the shorter side > 10 * 2^(L-1) (1 scale = SSIM), with
  the first L weights renormalised to sum to 1, and, as pytorch_msssim does, skip the
  Gaussian smoothing along a side shorter than the window.

Cost (one 640x480 image, one core): PSNR-RGB and PSNR-Y together ~5 ms (one float
difference image, BLAS dot products); MS-SSIM ~200 ms, which is why the pixel task
computes it only when a spec asks for it. scipy is imported on the first MS-SSIM.
"""

from __future__ import annotations

import numpy as np

from bench.types import MetricInfo

PSNR_CAP_DB = 100.0
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE, WIN_SIGMA, K1, K2, DATA_RANGE = 11, 1.5, 0.01, 0.03, 255.0
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def _pair(ref: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, rec = np.asarray(ref), np.asarray(rec)
    if ref.shape != rec.shape or ref.ndim != 3 or ref.shape[2] != 3:
        raise ValueError(f"need two H x W x 3 images of one shape, got {ref.shape} and {rec.shape}")
    return ref.astype(np.float64), rec.astype(np.float64)


def _difference(ref: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """ref - rec as float64 (exact for 8-bit samples), after checking the shapes."""
    ref, rec = np.asarray(ref), np.asarray(rec)
    if ref.shape != rec.shape or ref.ndim != 3 or ref.shape[2] != 3:
        raise ValueError(f"need two H x W x 3 images of one shape, got {ref.shape} and {rec.shape}")
    return np.subtract(ref, rec, dtype=np.float64)


def _mean_square(x: np.ndarray) -> float:
    flat = x.reshape(-1)
    return float(np.dot(flat, flat)) / flat.size


def _psnr(mse: float, peak: float = 255.0) -> float:
    if mse <= 0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10.0 * np.log10(peak * peak / mse)))


def _psnr_rgb_of(diff: np.ndarray) -> float:
    return _psnr(_mean_square(diff))


def _psnr_y_of(diff: np.ndarray) -> float:
    return _psnr(_mean_square(diff @ LUMA_WEIGHTS))


def psnr_rgb(ref: np.ndarray, rec: np.ndarray) -> float:
    """PSNR in dB over all RGB samples (8-bit peak 255), capped at 100 dB."""
    return _psnr_rgb_of(_difference(ref, rec))


def psnr_y(ref: np.ndarray, rec: np.ndarray) -> float:
    """PSNR in dB of BT.601 full-range luma computed from RGB (float), capped at 100 dB."""
    return _psnr_y_of(_difference(ref, rec))


def _gaussian_window() -> np.ndarray:
    coords = np.arange(WIN_SIZE, dtype=np.float64) - WIN_SIZE // 2
    g = np.exp(-(coords**2) / (2 * WIN_SIGMA**2))
    return g / g.sum()


def _blur_valid(x: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filter over axes 1 and 2 (skipped where a side < window)."""
    from scipy.ndimage import correlate1d

    half = len(win) // 2
    if x.shape[2] >= len(win):
        x = correlate1d(x, win, axis=2, mode="constant")[:, :, half:-half]
    if x.shape[1] >= len(win):
        x = correlate1d(x, win, axis=1, mode="constant")[:, half:-half, :]
    return x


def _ssim_cs(a: np.ndarray, b: np.ndarray, win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean SSIM and mean contrast-structure of C x H x W arrays.

    Only sigma1^2 + sigma2^2 enters the formulas, so x^2 + y^2 is filtered as one map.
    """
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    n = a.shape[0]
    stats = _blur_valid(np.concatenate([a, b, a * a + b * b, a * b]), win)
    mu1, mu2, s_sum, s12 = (stats[i * n:(i + 1) * n] for i in range(4))
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    cs_map = (2 * (s12 - mu12) + c2) / (s_sum - mu1_sq - mu2_sq + c2)
    ssim_map = (2 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map.mean(axis=(1, 2)), cs_map.mean(axis=(1, 2))


def _avg_pool2(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling, stride 2; odd sides zero-padded by one at both ends (counted)."""
    ph, pw = x.shape[1] % 2, x.shape[2] % 2
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    x = x[:, :h, :w]
    return 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])


def ms_ssim_scales(height: int, width: int) -> int:
    """How many scales MS-SSIM uses for an image of this size (5 when the short side > 160)."""
    side = min(height, width)
    levels = len(MS_SSIM_WEIGHTS)
    while levels > 1 and side <= (WIN_SIZE - 1) * 2 ** (levels - 1):
        levels -= 1
    return levels


def ms_ssim(ref: np.ndarray, rec: np.ndarray) -> float:
    """Multi-scale SSIM of two RGB images, averaged over channels (see the module doc)."""
    a, b = _pair(ref, rec)
    a, b = a.transpose(2, 0, 1), b.transpose(2, 0, 1)
    levels = ms_ssim_scales(a.shape[1], a.shape[2])
    weights = np.array(MS_SSIM_WEIGHTS[:levels])
    if levels < len(MS_SSIM_WEIGHTS):
        weights /= weights.sum()
    win = _gaussian_window()
    factors = []
    for level in range(levels):
        ssim_c, cs_c = _ssim_cs(a, b, win)
        if level < levels - 1:
            factors.append(np.maximum(cs_c, 0.0))
            a, b = _avg_pool2(a), _avg_pool2(b)
    factors.append(np.maximum(ssim_c, 0.0))
    per_channel = np.prod(np.stack(factors) ** weights[:, None], axis=0)
    return float(per_channel.mean())


def pixel_quality(ref: np.ndarray, rec: np.ndarray,
                  metrics: tuple[str, ...] = ("psnr_rgb", "psnr_y", "ms_ssim")) -> dict[str, float]:
    """The pixel-quality metrics (all by default) of one reconstruction.

    The PSNRs share one difference image; MS-SSIM is computed only when asked for.
    """
    unknown = [m for m in metrics if m not in ("psnr_rgb", "psnr_y", "ms_ssim")]
    if unknown:
        raise ValueError(f"unknown pixel metric {unknown[0]!r}")
    diff = _difference(ref, rec) if {"psnr_rgb", "psnr_y"} & set(metrics) else None
    funcs = {"psnr_rgb": lambda: _psnr_rgb_of(diff), "psnr_y": lambda: _psnr_y_of(diff),
             "ms_ssim": lambda: ms_ssim(ref, rec)}
    return {name: funcs[name]() for name in metrics}


def quality_metric_infos() -> list[MetricInfo]:
    """The metrics `pixel_quality` returns, with direction and unit."""
    return [
        MetricInfo("psnr_rgb", True, "dB", f"PSNR over RGB, capped at {PSNR_CAP_DB:g} dB"),
        MetricInfo("psnr_y", True, "dB", "PSNR of BT.601 full-range luma from RGB"),
        MetricInfo("ms_ssim", True, "", "MS-SSIM (Wang et al. 2003) on RGB, mean over channels"),
    ]
