"""LIC-TCM's channel-wise autoregressive entropy model (ch-ARM) with SWAtten.

y is split into K slices of S channels. For slice i the support is the hyperprior's
mean (or scale) map concatenated with up to `max_support` decoded slices
(C + S * min(i, max_support) channels); SWAtten then three 3x3 convolutions (cc
transforms) give mu_i and sigma_i. The slice is coded as round(y_i - mu_i) + mu_i and
refined by latent residual prediction: y_hat_i += 0.5 * tanh(LRP(cat(support, y_hat_i))).
Training uses straight-through rounding around the mean, as LIC-TCM does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from bench.models.sa_icm.config import TcmConfig
from bench.models.sa_icm.swin import SWAtten


def ste_round(x: Tensor) -> Tensor:
    """Round in the forward pass, identity gradient in the backward pass."""
    return torch.round(x) - x.detach() + x


def cc_transform(in_ch: int, out_ch: int, hidden: tuple[int, int]) -> nn.Sequential:
    """Three 3x3 convolutions with GELUs: in -> hidden[0] -> hidden[1] -> out."""
    return nn.Sequential(
        nn.Conv2d(in_ch, hidden[0], 3, padding=1), nn.GELU(),
        nn.Conv2d(hidden[0], hidden[1], 3, padding=1), nn.GELU(),
        nn.Conv2d(hidden[1], out_ch, 3, padding=1),
    )


class SliceEntropyModel(nn.Module):
    """The ch-ARM of one LIC-TCM network (the base's, or the ICA's over m slices)."""

    def __init__(self, cfg: TcmConfig):
        super().__init__()
        self.slices = cfg.latent_slices
        self.slice_channels = cfg.slice_channels
        self.max_support = cfg.max_support
        c, s = cfg.latent_channels, cfg.slice_channels
        support = [c + s * min(i, cfg.max_support) for i in range(self.slices)]

        def atten(ch: int) -> SWAtten:
            return SWAtten(ch, ch, cfg.atten_head_dim, cfg.window, cfg.atten_inter)

        self.atten_mean = nn.ModuleList(atten(ch) for ch in support)
        self.atten_scale = nn.ModuleList(atten(ch) for ch in support)
        self.cc_mean_transforms = nn.ModuleList(cc_transform(ch, s, cfg.cc_hidden)
                                                for ch in support)
        self.cc_scale_transforms = nn.ModuleList(cc_transform(ch, s, cfg.cc_hidden)
                                                 for ch in support)
        self.lrp_transforms = nn.ModuleList(cc_transform(ch + s, s, cfg.cc_hidden)
                                            for ch in support)

    def slice_params(self, i: int, means: Tensor, scales: Tensor,
                     decoded: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """(mean support after SWAtten, mu_i, sigma_i) of slice i given the decoded slices."""
        support = decoded[: self.max_support]
        mean_support = self.atten_mean[i](torch.cat([means, *support], dim=1))
        mu = self.cc_mean_transforms[i](mean_support)
        scale_support = self.atten_scale[i](torch.cat([scales, *support], dim=1))
        scale = self.cc_scale_transforms[i](scale_support)
        return mean_support, mu, scale

    def refine(self, i: int, mean_support: Tensor, y_hat: Tensor) -> Tensor:
        """Latent residual prediction: y_hat + 0.5 * tanh(LRP(cat(support, y_hat)))."""
        lrp = self.lrp_transforms[i](torch.cat([mean_support, y_hat], dim=1))
        return y_hat + 0.5 * torch.tanh(lrp)

    def forward(self, y: Tensor, means: Tensor, scales: Tensor,
                gaussian: Any) -> tuple[Tensor, Tensor]:
        """Training pass: (y_hat with STE rounding around mu, likelihoods of y)."""
        decoded: list[Tensor] = []
        likelihoods = []
        for i, y_slice in enumerate(y.chunk(self.slices, dim=1)):
            mean_support, mu, scale = self.slice_params(i, means, scales, decoded)
            _, lik = gaussian(y_slice, scale, mu)
            likelihoods.append(lik)
            y_hat = ste_round(y_slice - mu) + mu
            decoded.append(self.refine(i, mean_support, y_hat))
        return torch.cat(decoded, dim=1), torch.cat(likelihoods, dim=1)

    def compress(self, y: Tensor, means: Tensor, scales: Tensor,
                 gaussian: Any) -> tuple[list[int], list[int], Tensor]:
        """(symbols, CDF indexes, y_hat) for a rANS encoder; the decoder's y_hat exactly."""
        decoded: list[Tensor] = []
        symbols: list[int] = []
        indexes: list[int] = []
        for i, y_slice in enumerate(y.chunk(self.slices, dim=1)):
            mean_support, mu, scale = self.slice_params(i, means, scales, decoded)
            index = gaussian.build_indexes(scale)
            y_q = gaussian.quantize(y_slice, "symbols", mu)
            symbols.extend(y_q.reshape(-1).tolist())
            indexes.extend(index.reshape(-1).tolist())
            decoded.append(self.refine(i, mean_support, y_q + mu))
        return symbols, indexes, torch.cat(decoded, dim=1)

    def decompress(self, decoder: Any, means: Tensor, scales: Tensor, gaussian: Any,
                   cdf: tuple[list, list, list]) -> Tensor:
        """Decode the slices from a rANS decoder set on y's stream; returns y_hat."""
        decoded: list[Tensor] = []
        shape = (means.shape[0], self.slice_channels, means.shape[2], means.shape[3])
        for i in range(self.slices):
            mean_support, mu, scale = self.slice_params(i, means, scales, decoded)
            index = gaussian.build_indexes(scale)
            values = decoder.decode_stream(index.reshape(-1).tolist(), *cdf)
            y_q = torch.tensor(values, dtype=mu.dtype, device=mu.device).reshape(shape)
            decoded.append(self.refine(i, mean_support, gaussian.dequantize(y_q, mu)))
        return torch.cat(decoded, dim=1)
