"""LIC-TCM (Liu et al., CVPR 2023) as a CompressAI model, with optional gain units.

The network codes y = g_a(x) with a factorized prior on z = h_a(y) and the channel-wise
autoregressive model of `entropy.py`; one rANS stream for y (all slices) and one for z.
With `rates` > 0, gain units (Cui et al., "asymmetric gained" coding) scale y by a
learned per-channel gain before entropy coding and by an inverse gain after it, one
pair per rate point, so one network codes several points; a fractional rate index
interpolates neighbouring gains geometrically. The paper trains one network per rate.

`decompress` returns y_hat next to x_hat: the scalable codec fuses it with the
additional-information latent.
"""

from __future__ import annotations

from typing import Any

import torch
from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models import CompressionModel
from torch import Tensor, nn

from bench.models.sa_icm.config import TcmConfig
from bench.models.sa_icm.entropy import SliceEntropyModel, ste_round
from bench.models.sa_icm.transforms import analysis, hyper_analysis, hyper_synthesis, synthesis

GAIN_RANGE = (0.5, 2.0)  # initial gains of the lowest and highest rate point


class GainUnits(nn.Module):
    """Per-rate, per-channel gains and inverse gains (log-parametrised, so positive)."""

    def __init__(self, rates: int, channels: int):
        super().__init__()
        lo, hi = GAIN_RANGE
        init = torch.linspace(float(torch.log(torch.tensor(lo))),
                              float(torch.log(torch.tensor(hi))), rates)
        self.log_gain = nn.Parameter(init[:, None].repeat(1, channels))
        self.log_inv_gain = nn.Parameter(-init[:, None].repeat(1, channels))

    @property
    def rates(self) -> int:
        return self.log_gain.shape[0]

    def _pick(self, table: Tensor, q: float | Tensor) -> Tensor:
        """Gains at rate index q (int, float in [0, rates-1], or a batch tensor of them)."""
        q = torch.as_tensor(q, dtype=table.dtype, device=table.device).clamp(0, self.rates - 1)
        lo = q.floor().long().clamp(max=self.rates - 1)
        hi = (lo + 1).clamp(max=self.rates - 1)
        t = (q - lo.to(q.dtype)).unsqueeze(-1)
        log_g = table[lo] * (1 - t) + table[hi] * t
        return log_g.exp().reshape(-1, table.shape[1], 1, 1)

    def gain(self, q: float | Tensor) -> Tensor:
        return self._pick(self.log_gain, q)

    def inverse(self, q: float | Tensor) -> Tensor:
        return self._pick(self.log_inv_gain, q)


class TcmNet(CompressionModel):
    """One LIC-TCM network: transforms, hyperprior, ch-ARM and (optionally) gain units."""

    def __init__(self, cfg: TcmConfig):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.pad_multiple = cfg.pad_multiple
        self.g_a = analysis(cfg)
        self.g_s = synthesis(cfg)
        self.h_a = hyper_analysis(cfg)
        self.h_mean_s = hyper_synthesis(cfg)
        self.h_scale_s = hyper_synthesis(cfg)
        self.arm = SliceEntropyModel(cfg)
        self.entropy_bottleneck = EntropyBottleneck(cfg.hyper_channels)
        self.gaussian_conditional = GaussianConditional(None)
        self.gains = GainUnits(cfg.rates, cfg.latent_channels) if cfg.rates else None

    # ------------------------------------------------------------------ gains

    def _gain(self, y: Tensor, q: Any) -> Tensor:
        return y if self.gains is None else y * self.gains.gain(self._q(q))

    def _inverse_gain(self, y: Tensor, q: Any) -> Tensor:
        return y if self.gains is None else y * self.gains.inverse(self._q(q))

    def _q(self, q: Any) -> Any:
        if q is None:
            raise ValueError("this network has gain units: give the rate index q")
        return q

    # ------------------------------------------------------------------ latent coding

    def latent_forward(self, x: Tensor, q: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Training pass up to the latent: (y_hat after the inverse gain, likelihoods)."""
        y = self._gain(self.g_a(x), q)
        z = self.h_a(y)
        _, z_likelihoods = self.entropy_bottleneck(z)
        offset = self.entropy_bottleneck._get_medians()
        z_hat = ste_round(z - offset) + offset
        means, scales = self._hyper(z_hat, y.shape[-2:])
        y_hat, y_likelihoods = self.arm(y, means, scales, self.gaussian_conditional)
        return self._inverse_gain(y_hat, q), {"y": y_likelihoods, "z": z_likelihoods}

    def latent_compress(self, x: Tensor, q: Any = None) -> tuple[list, tuple[int, int], Tensor]:
        """([[y string], [z string]], z's spatial shape, y_hat) for one image."""
        if x.shape[0] != 1:
            raise ValueError(f"compress codes one image at a time, got a batch of {x.shape[0]}")
        if x.shape[-2] % 64 or x.shape[-1] % 64:
            raise ValueError(f"compress needs sides that are multiples of 64 (pad first), "
                             f"got {tuple(x.shape[-2:])}")
        y = self._gain(self.g_a(x), q)
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        means, scales = self._hyper(z_hat, y.shape[-2:])
        symbols, indexes, y_hat = self.arm.compress(y, means, scales, self.gaussian_conditional)
        encoder = BufferedRansEncoder()
        encoder.encode_with_indexes(symbols, indexes, *self._cdf())
        strings = [[encoder.flush()], z_strings]
        return strings, tuple(int(s) for s in z.shape[-2:]), self._inverse_gain(y_hat, q)

    def latent_decompress(self, strings: list, shape: tuple[int, int], q: Any = None) -> Tensor:
        """y_hat (after the inverse gain) from the strings of `latent_compress`."""
        z_hat = self.entropy_bottleneck.decompress(strings[1], tuple(shape))
        decoder = RansDecoder()
        decoder.set_stream(strings[0][0])
        h, w = 4 * z_hat.shape[-2], 4 * z_hat.shape[-1]
        means, scales = self._hyper(z_hat, (h, w))
        y_hat = self.arm.decompress(decoder, means, scales, self.gaussian_conditional, self._cdf())
        return self._inverse_gain(y_hat, q)

    def _hyper(self, z_hat: Tensor, size: Any) -> tuple[Tensor, Tensor]:
        """The hyperprior's mean and scale maps, cropped to y's spatial size."""
        h, w = int(size[0]), int(size[1])
        return self.h_mean_s(z_hat)[..., :h, :w], self.h_scale_s(z_hat)[..., :h, :w]

    def _cdf(self) -> tuple[list, list, list]:
        gc = self.gaussian_conditional
        return (gc.quantized_cdf.tolist(), gc.cdf_length.reshape(-1).int().tolist(),
                gc.offset.reshape(-1).int().tolist())

    # ------------------------------------------------------------------ CompressAI shape

    def forward(self, x: Tensor, q: Any = None) -> dict[str, Any]:
        """{"x_hat", "y_hat", "likelihoods": {"y", "z"}} (training; noise/STE quantisation)."""
        y_hat, likelihoods = self.latent_forward(x, q)
        return {"x_hat": self.g_s(y_hat), "y_hat": y_hat, "likelihoods": likelihoods}

    def compress(self, x: Tensor, q: Any = None) -> dict[str, Any]:
        """{"strings": [[y], [z]], "shape": z's (h, w)}."""
        strings, shape, _ = self.latent_compress(x, q)
        return {"strings": strings, "shape": shape}

    def decompress(self, strings: list, shape: tuple[int, int], q: Any = None) -> dict[str, Any]:
        """{"x_hat": clamped reconstruction, "y_hat": the decoded latent}."""
        y_hat = self.latent_decompress(strings, shape, q)
        return {"x_hat": self.g_s(y_hat).clamp_(0, 1), "y_hat": y_hat}


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (entropy-bottleneck quantiles included, as the authors count)."""
    return sum(p.numel() for p in module.parameters())
