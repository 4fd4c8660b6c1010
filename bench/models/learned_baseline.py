"""The in-project learned baseline: a small variable-rate mean-scale hyperprior.

Architecture: the mean-scale hyperprior of Minnen, Ballé and Toderici (NeurIPS 2018,
CompressAI's `mbt2018-mean`, without the autoregressive context), at a small width
(N=64, M=128 by default), made variable-rate with gain units in the spirit of Cui et al.,
"Asymmetric Gained Deep Image Compression With Continuous Rate Adaptation" (CVPR 2021):
per rate level l a channel-wise gain vector g_l scales the latent before quantisation and
an inverse-gain vector g'_l (learned separately, hence "asymmetric") scales it back after.
The hyper-decoder predicts the mean and scale of the ungained latent; the Gaussian
conditional codes the gained latent with mean g_l * mu and scale g_l * sigma. Rates
between trained levels come from log-linear interpolation of neighbouring gain vectors.

Differences from the papers (also in the model card): no gains on the hyper-latent z
(one factorised prior for all rates), straight-through rounding of the gained latent
around the predicted mean for the decoder input in training (Minnen & Singh 2020) with
additive noise for the rate term, and the small width.

Interface: CompressAI's (`forward`, `compress`, `decompress`, `update`, `aux_loss`), with a
rate `level` argument (an int index into `lambdas`, or a float between two levels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models.base import CompressionModel
from compressai.ops import quantize_ste
from torch import Tensor, nn

WEIGHTS_FORMAT = "icm-bench/learned-baseline/1"
DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932)


def _conv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)


def _deconv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=s, output_padding=s - 1, padding=k // 2)


TRANSFORMS = ("conv", "dct8")
BLOCK = 8  # "dct8": 8x8 pixel blocks -> 192 channels


# "dct8" hyper-decoder outputs: scale = exp(SCALE_MULT * s), mean = MEAN_MULT * m, so that
# the entropy model calibrates over orders of magnitude in few optimiser steps.
# Likewise the log-gains are stored divided by GAIN_MULT (faster per-channel step sizes).
SCALE_MULT, MEAN_MULT, INIT_SCALE, GAIN_MULT = 8.0, 4.0, 0.003, 8.0


class _Shift(nn.Module):
    """Adds a constant: centres the input (-0.5) and restores the output (+0.5)."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return x + self.value


LUMA = (0.299, 0.587, 0.114)  # BT.601, the luma of psnr_y
TRANSFORM_STEP = 0.25  # "dct8": transform layers learn at this fraction of the optimiser's rate


def colour_basis() -> Tensor:
    """Orthonormal colour axes: the BT.601 luma direction, then two axes orthogonal to it,
    so that errors on the chroma axes leave the luma (and psnr_y) untouched."""
    w = torch.tensor(LUMA, dtype=torch.float64)
    u1 = w / w.norm()
    a = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    a = a - (a @ u1) * u1
    u2 = a / a.norm()
    return torch.stack([u1, u2, torch.linalg.cross(u1, u2)])


def block_dct_matrix() -> Tensor:
    """192 x 192 orthonormal transform of an 8x8 RGB block (PixelUnshuffle's channel order):
    `colour_basis` times the orthonormal 2-D DCT-II of each colour plane."""
    n = BLOCK
    k = torch.arange(n, dtype=torch.float64)
    dct = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    dct[0] /= math.sqrt(2)
    return torch.kron(colour_basis(), torch.kron(dct, dct)).float()


def yuv_weights() -> Tensor:
    """Per colour axis, the 6:1:1 YCbCr-weighted squared error of a unit error relative to
    RGB MSE (3 x D_yuv(u)): what the image-codec program's `mse-yuv` distortion charges."""
    ycbcr = torch.tensor([LUMA, (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312)],
                         dtype=torch.float64)
    err = colour_basis() @ ycbcr.T  # rows: axes; columns: Y, Cb, Cr of a unit error
    return (3 * (6 * err[:, 0] ** 2 + err[:, 1] ** 2 + err[:, 2] ** 2) / 8).float()


class _DeltaConv(nn.Conv2d):
    """A convolution whose weight is a fixed start (not saved) plus TRANSFORM_STEP x a learned
    change: the transforms move slowly away from the block DCT while the entropy model,
    gains and hyperprior learn at the full rate."""

    def __init__(self, cin: int, cout: int, k: int, start: Tensor):
        super().__init__(cin, cout, k, padding=k // 2)
        base = torch.zeros(cout, cin, k, k)
        base[:, :, k // 2, k // 2] = start
        self.register_buffer("base", base, persistent=False)
        with torch.no_grad():
            self.weight.zero_()
            self.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.base + TRANSFORM_STEP * self.weight, self.bias)


def _dct_analysis(M: int) -> nn.Sequential:
    """8x8 blocks -> colour+DCT coefficients (3x3 convolution, the DCT on the centre tap at
    start), near-identity GDN, 1x1 convolution (identity at start): JPEG's transform as the
    starting point, learned from there (overlapping, non-linear)."""
    c = 3 * BLOCK * BLOCK
    if M != c:
        raise ValueError(f"transform 'dct8' needs M = {c}, got {M}")
    return nn.Sequential(_Shift(-0.5), nn.PixelUnshuffle(BLOCK),
                         _DeltaConv(c, c, 3, block_dct_matrix()),
                         GDN(c, gamma_init=0.01), _DeltaConv(c, c, 1, torch.eye(c)))


def _dct_synthesis(M: int) -> nn.Sequential:
    """The mirror of `_dct_analysis` (the transposed DCT on the centre tap at start)."""
    c = 3 * BLOCK * BLOCK
    return nn.Sequential(_DeltaConv(c, c, 1, torch.eye(c)),
                         GDN(c, inverse=True, gamma_init=0.01),
                         _DeltaConv(c, c, 3, block_dct_matrix().T),
                         nn.PixelShuffle(BLOCK), _Shift(0.5))


def _analysis(N: int, M: int, transform: str) -> nn.Sequential:
    """g_a: four stride-2 5x5 convolutions with GDN ("conv", Ballé et al.), or the
    DCT-initialised 8x8 block transform ("dct8")."""
    if transform == "dct8":
        return _dct_analysis(M)
    return nn.Sequential(_conv(3, N), GDN(N), _conv(N, N), GDN(N), _conv(N, N), GDN(N),
                         _conv(N, M))


def _synthesis(N: int, M: int, transform: str) -> nn.Sequential:
    """g_s: the mirror of `_analysis`."""
    if transform == "dct8":
        return _dct_synthesis(M)
    return nn.Sequential(_deconv(M, N), GDN(N, inverse=True), _deconv(N, N),
                         GDN(N, inverse=True), _deconv(N, N), GDN(N, inverse=True),
                         _deconv(N, 3))


class GainedMeanScaleHyperprior(CompressionModel):
    """Mean-scale hyperprior with asymmetric gain units: one model, every rate level.

    Args:
        N: channels of the transforms and of the hyper-latent.
        M: channels of the latent y.
        lambdas: the rate-distortion trade-offs of the levels, ascending (lowest rate first).
    """

    pad_multiple = 64  # 4 stride-2 layers in g_a, 2 in h_a

    def __init__(self, N: int = 64, M: int = 128, lambdas: Sequence[float] = DEFAULT_LAMBDAS,
                 transform: str = "conv"):
        super().__init__()
        if list(lambdas) != sorted(lambdas) or len(lambdas) < 2:
            raise ValueError(f"lambdas must be >= 2 ascending values, got {list(lambdas)}")
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        self.N, self.M = int(N), int(M)
        self.transform = transform
        self.lambdas = [float(v) for v in lambdas]
        self.g_a, self.g_s = _analysis(N, M, transform), _synthesis(N, M, transform)
        if transform == "dct8":
            self.pad_multiple = BLOCK * 4  # h_a has two stride-2 layers
        self.h_a = nn.Sequential(_conv(M, N, 3, 1), nn.LeakyReLU(inplace=True), _conv(N, N),
                                 nn.LeakyReLU(inplace=True), _conv(N, N))
        mid, wide = (M, M * 3 // 2) if transform == "conv" else (N * 3 // 2, N * 2)
        self.h_s = nn.Sequential(_deconv(N, mid), nn.LeakyReLU(inplace=True),
                                 _deconv(mid, wide), nn.LeakyReLU(inplace=True),
                                 _conv(wide, M * 2, 3, 1))
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)
        # log-gains: g_l = sqrt(lambda_l / lambda_ref) at start (quantisation step ~ 1/sqrt(lambda))
        ref = math.exp(sum(math.log(v) for v in self.lambdas) / len(self.lambdas))
        if transform == "dct8":  # high-rate optimum of lambda*255^2*D + R per coefficient of an
            # orthonormal transform (3 a pixel) whose colour axis weighs r in D (mse-yuv):
            # step^2 = 18 / (lambda * 255^2 * ln 2 * r)
            r = yuv_weights().repeat_interleave(BLOCK * BLOCK)
            init = torch.stack([0.5 * torch.log(v * 255**2 * math.log(2) * r / 18)
                                for v in self.lambdas])
        else:
            init = torch.tensor([0.5 * math.log(v / ref) for v in self.lambdas])[:, None]
        self.gain_mult = GAIN_MULT if transform == "dct8" else 1.0
        self.log_gain = nn.Parameter(init.expand(-1, M) / self.gain_mult)
        self.log_inv_gain = nn.Parameter(-init.expand(-1, M) / self.gain_mult)
        if transform == "dct8":
            with torch.no_grad():  # start from means 0, a small scale, a near-zero z
                self.h_a[-1].weight.mul_(0.1)
                last = self.h_s[-1]
                last.weight.zero_()
                last.bias.zero_()
                last.bias[:M] = math.log(INIT_SCALE) / SCALE_MULT

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    def gains(self, level: Tensor | float) -> tuple[Tensor, Tensor]:
        """(gain, inverse gain), B x M x 1 x 1 (or 1 x M x 1 x 1 for a scalar level).

        A fractional level interpolates the log-gains of its two neighbours linearly.
        """
        level_t = torch.as_tensor(level, dtype=torch.float32, device=self.log_gain.device)
        level_t = level_t.reshape(-1).clamp(0, self.levels - 1)
        lo = level_t.floor().long().clamp(max=self.levels - 2)
        t = (level_t - lo.float())[:, None]
        log_g = self.log_gain[lo] * (1 - t) + self.log_gain[lo + 1] * t
        log_ig = self.log_inv_gain[lo] * (1 - t) + self.log_inv_gain[lo + 1] * t
        m = self.gain_mult
        return (m * log_g).exp()[:, :, None, None], (m * log_ig).exp()[:, :, None, None]

    @torch.no_grad()
    def calibrate(self, x: Tensor) -> None:
        """Data-dependent start ("dct8"): each channel's predicted scale = its RMS on `x`."""
        if self.transform != "dct8":
            return
        rms = self.g_a(x).pow(2).mean(dim=(0, 2, 3)).sqrt().clamp_min(1e-4)
        self.h_s[-1].bias[:self.M] = rms.log() / SCALE_MULT

    def level_of(self, lmbda: float) -> float:
        """The (fractional) level whose trade-off is `lmbda`, by log-linear interpolation."""
        logs = [math.log(v) for v in self.lambdas]
        x = math.log(lmbda)
        if not logs[0] - 1e-9 <= x <= logs[-1] + 1e-9:
            raise ValueError(f"lambda {lmbda} is outside the trained range "
                             f"{self.lambdas[0]}..{self.lambdas[-1]}")
        for i in range(self.levels - 1):
            if x <= logs[i + 1] + 1e-12:
                return i + max(0.0, (x - logs[i]) / (logs[i + 1] - logs[i]))
        return float(self.levels - 1)

    def _params(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        scales, means = self.h_s(z_hat).chunk(2, 1)
        if self.transform == "dct8":
            return torch.exp(SCALE_MULT * scales), MEAN_MULT * means
        return scales, means

    def forward(self, x: Tensor, level: Tensor | float) -> dict[str, Any]:
        """Training pass: reconstruction and likelihoods at per-sample `level` (B,)."""
        y = self.g_a(x)
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        scales, means = self._params(z_hat)
        g, ig = self.gains(level)
        y_g, scales_g, means_g = y * g, scales * g, means * g
        _, y_likelihoods = self.gaussian_conditional(y_g, scales_g, means=means_g)
        y_hat = (quantize_ste(y_g - means_g) + means_g) * ig
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    def compress(self, x: Tensor, level: float = 0) -> dict[str, Any]:
        """Entropy-coded strings of y and z, and z's spatial shape."""
        y = self.g_a(x)
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        scales, means = self._params(z_hat)
        g, _ = self.gains(level)
        indexes = self.gaussian_conditional.build_indexes(scales * g)
        y_strings = self.gaussian_conditional.compress(y * g, indexes, means=means * g)
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def decompress(self, strings: list, shape: Sequence[int], level: float = 0
                   ) -> dict[str, Tensor]:
        """The reconstruction (1 x 3 x H x W in [0, 1]) from `compress`'s strings."""
        if not isinstance(strings, (list, tuple)) or len(strings) != 2:
            raise ValueError("expected the strings of y and z")
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        scales, means = self._params(z_hat)
        g, ig = self.gains(level)
        indexes = self.gaussian_conditional.build_indexes(scales * g)
        y_hat_g = self.gaussian_conditional.decompress(strings[0], indexes, means=means * g)
        x_hat = self.g_s(y_hat_g * ig).clamp_(0, 1)
        return {"x_hat": x_hat}

    def config(self) -> dict[str, Any]:
        """What `from_weights` needs to rebuild the architecture."""
        return {"N": self.N, "M": self.M, "lambdas": list(self.lambdas),
                "transform": self.transform}

    @classmethod
    def from_weights(cls, payload: dict[str, Any]) -> GainedMeanScaleHyperprior:
        """Rebuild from an exported {"format", "config", "state_dict"} payload."""
        if payload.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"not a learned-baseline weights file (format "
                             f"{payload.get('format')!r}, expected {WEIGHTS_FORMAT!r})")
        model = cls(**payload["config"])
        state = {k: v.float() if v.is_floating_point() else v
                 for k, v in payload["state_dict"].items()}
        model.load_state_dict(state)
        return model
