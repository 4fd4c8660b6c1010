"""One coded path of MFCNet: a BFCNet-style codec (Cheng2020-anchor transforms, hyperprior,
serial 5x5 autoregressive context) from one FPN level to one or more levels.

`FeaturePathCodec` is CompressAI's `JointAutoregressiveHierarchicalPriors` with the
transforms replaced by those of the authors' BFCNet: y at source / 8 for P2 -> P3, z at
y / 2 (one stride-2 stage in the hyperprior), so the AR loop's z -> y scale is 2, not
CompressAI's 4. Optional gain units select one of several rate points.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.models import JointAutoregressiveHierarchicalPriors
from compressai.ops import quantize_ste
from torch import Tensor

from bench.models.mfcnet.config import PathSpec
from bench.models.mfcnet.layers import (
    RateGains,
    SynthesisHeads,
    analysis,
    context_model,
    entropy_parameters,
    hyper_analysis,
    hyper_synthesis,
)

KERNEL = 5  # context kernel
PAD = KERNEL // 2


class FeaturePathCodec(JointAutoregressiveHierarchicalPriors):
    """BFCNet-like codec: `spec.source` features in, `spec.targets` features out.

    Args:
        spec: strides, heads and padding of the path.
        channels: FPN channels (in and out).
        N: hidden channels and channels of z.
        M: channels of y.
        lambdas: rate points of the gain units; None or one value: no gain units.
    """

    def __init__(self, spec: PathSpec, channels: int, N: int, M: int,
                 lambdas: tuple[float, ...] | None = None):
        super().__init__(N=N, M=M)
        self.spec = spec
        self.g_a = analysis(channels, N, M, spec.down)
        self.h_a = hyper_analysis(N, M)
        self.h_s = hyper_synthesis(N, M)
        self.context_prediction = context_model(M)
        self.entropy_parameters = entropy_parameters(M)
        self.g_s = SynthesisHeads(M, N, channels, spec.trunk_up, spec.targets, spec.head_up)
        self.gains = RateGains(lambdas, M, N) if lambdas and len(lambdas) > 1 else None

    @property
    def downsampling_factor(self) -> int:
        return self.spec.y_stride * 2

    # ------------------------------------------------------------ training

    def _gains(self, index: Tensor | int | None, batch: int, device: Any):
        if self.gains is None:
            return None
        if index is None:
            raise ValueError(f"path {self.spec.name} has gain units: give a rate index")
        idx = torch.as_tensor(index, device=device).long().reshape(-1)
        if idx.numel() == 1 and batch > 1:
            idx = idx.expand(batch)
        return self.gains(idx)

    def forward(self, x: Tensor, index: Tensor | int | None = None) -> dict[str, Any]:
        """Training/analysis pass: reconstructions (padded size) and likelihoods.

        y is perturbed with uniform noise for the likelihoods and the context (CompressAI's
        convention); the synthesis sees round(y - mu) + mu with a straight-through gradient,
        as the decoder will.
        """
        gains = self._gains(index, x.shape[0], x.device)
        y = self.g_a(x)
        if gains is not None:
            y = y * gains[0]
        z = self.h_a(y)
        if gains is not None:
            z = z * gains[2]
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        if gains is not None:
            z_hat = z_hat * gains[3]
        params = self.h_s(z_hat)
        y_ctx = self.gaussian_conditional.quantize(y, "noise" if self.training else "dequantize")
        ctx = self.context_prediction(y_ctx)
        scales, means = self.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)
        _, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        y_hat = quantize_ste(y - means) + means
        if gains is not None:
            y_hat = y_hat * gains[1]
        return {"outputs": self.g_s(y_hat), "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    # ------------------------------------------------------------ coding

    def compress(self, x: Tensor, index: int | None = None) -> dict[str, Any]:
        """Code one padded, normalised source (1 x C x H x W): [y string, z string] and z's shape."""
        if x.shape[0] != 1:
            raise ValueError("compress codes one item at a time")
        gains = self._gains(index, 1, x.device)
        y = self.g_a(x)
        if gains is not None:
            y = y * gains[0]
        z = self.h_a(y)
        if gains is not None:
            z = z * gains[2]
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        if gains is not None:
            z_hat = z_hat * gains[3]
        params = self.h_s(z_hat)
        y_string = self._encode_ar(F.pad(y, (PAD, PAD, PAD, PAD)), params)
        return {"strings": [y_string, z_strings[0]], "shape": tuple(z.shape[-2:])}

    def decompress(self, strings: list[bytes], shape: tuple[int, int],
                   index: int | None = None) -> dict[str, Tensor]:
        """Decode [y string, z string] (z of `shape`) to the targets at padded size."""
        gains = self._gains(index, 1, self.h_s[0].weight.device)
        z_hat = self.entropy_bottleneck.decompress([strings[1]], tuple(shape))
        if gains is not None:
            z_hat = z_hat * gains[3]
        params = self.h_s(z_hat)
        height, width = params.shape[-2:]
        y_hat = torch.zeros((1, self.M, height + 2 * PAD, width + 2 * PAD), device=params.device)
        self._decode_ar(strings[0], y_hat, params)
        y_hat = y_hat[:, :, PAD:PAD + height, PAD:PAD + width]
        if gains is not None:
            y_hat = y_hat * gains[1]
        return self.g_s(y_hat)

    def _masked_weight(self) -> Tensor:
        return self.context_prediction.weight * self.context_prediction.mask

    def _gaussian_at(self, y_window: Tensor, params: Tensor, h: int, w: int,
                     weight: Tensor) -> tuple[Tensor, Tensor]:
        ctx = F.conv2d(y_window, weight, bias=self.context_prediction.bias)
        p = params[:, :, h:h + 1, w:w + 1]
        scales, means = self.entropy_parameters(torch.cat((p, ctx), dim=1)).chunk(2, 1)
        return scales, means

    def _encode_ar(self, y_pad: Tensor, params: Tensor) -> bytes:
        """Raster-order rANS coding of y, each position's Gaussian from the decoded past."""
        gc = self.gaussian_conditional
        cdf, lengths, offsets = (gc.quantized_cdf.tolist(), gc.cdf_length.tolist(),
                                 gc.offset.tolist())
        weight = self._masked_weight()
        symbols: list[int] = []
        indexes: list[int] = []
        height, width = params.shape[-2:]
        for h in range(height):
            for w in range(width):
                window = y_pad[:, :, h:h + KERNEL, w:w + KERNEL]
                scales, means = self._gaussian_at(window, params, h, w, weight)
                centre = window[:, :, PAD:PAD + 1, PAD:PAD + 1]
                q = gc.quantize(centre, "symbols", means)
                y_pad[:, :, h + PAD, w + PAD] = (q + means)[:, :, 0, 0]
                symbols += q.reshape(-1).tolist()
                indexes += gc.build_indexes(scales).reshape(-1).tolist()
        encoder = BufferedRansEncoder()
        encoder.encode_with_indexes(symbols, indexes, cdf, lengths, offsets)
        return encoder.flush()

    def _decode_ar(self, string: bytes, y_hat: Tensor, params: Tensor) -> None:
        """Inverse of `_encode_ar`: fills the padded `y_hat` in place."""
        gc = self.gaussian_conditional
        cdf, lengths, offsets = (gc.quantized_cdf.tolist(), gc.cdf_length.tolist(),
                                 gc.offset.tolist())
        weight = self._masked_weight()
        decoder = RansDecoder()
        decoder.set_stream(string)
        height, width = params.shape[-2:]
        for h in range(height):
            for w in range(width):
                window = y_hat[:, :, h:h + KERNEL, w:w + KERNEL]
                scales, means = self._gaussian_at(window, params, h, w, weight)
                idx = gc.build_indexes(scales).reshape(-1).tolist()
                values = decoder.decode_stream(idx, cdf, lengths, offsets)
                q = torch.tensor(values, dtype=y_hat.dtype, device=y_hat.device)
                y_hat[:, :, h + PAD, w + PAD] = q.reshape(1, -1) + means[:, :, 0, 0]
