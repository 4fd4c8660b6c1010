"""MVSFC-Net: joint compression of stereo multi-scale features (Jin et al., arXiv 2502.14190).

`MvsfcNet` has CompressAI's shape: `forward` for training (decoded features and
likelihoods), `compress` -> strings + sizes, `decompress`, `update`, `aux_loss`.
Inputs and outputs are per-view lists [f0, f1, f2] of (B, C, H, W) tensors; padding to
the codec's strides happens inside, and the decoded levels have the input sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models import CompressionModel
from torch import nn

from bench.models.mvsfc.coding import decode_latents, encode_latents
from bench.models.mvsfc.config import MvsfcConfig
from bench.models.mvsfc.context import EntropyParameters
from bench.models.mvsfc.padding import Size, crop_levels, pad_levels, padded_sizes
from bench.models.mvsfc.transforms import (
    HyperDecoder,
    HyperEncoder,
    RateGains,
    StereoDecoder,
    StereoEncoder,
    pair,
)

Levels = list[torch.Tensor]
Y_STRIDE = 2   # y is f2 / 2
Z_STRIDE = 4   # z is y / 4


def _rate_tensor(rate: Any, batch: int) -> torch.Tensor | None:
    if rate is None:
        return None
    rate = torch.as_tensor(rate, dtype=torch.float32).reshape(-1)
    return rate.expand(batch) if rate.numel() == 1 else rate


class MvsfcNet(CompressionModel):
    """The MVSFC codec for one configuration (see bench.models.mvsfc.config)."""

    def __init__(self, cfg: MvsfcConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = StereoEncoder(cfg)
        self.decoder = StereoDecoder(cfg)
        self.hyper_encoder = HyperEncoder(cfg)
        self.hyper_decoder = HyperDecoder(cfg)
        self.entropy_parameters = EntropyParameters(cfg)
        self.z_bottleneck = pair(lambda: EntropyBottleneck(cfg.hyper_channels), cfg.share_views)
        self.gaussian_conditional = GaussianConditional(None)
        self.y_gains = RateGains(cfg.n_rates, cfg.latent_channels)
        self.z_gains = RateGains(cfg.n_rates, cfg.hyper_channels)
        self.y_gains.spread(cfg.rate_sigmas)

    def _check_rate(self, rate: Any) -> None:
        if self.cfg.n_rates and rate is None:
            raise ValueError(f"this model holds {self.cfg.n_rates} rate points: pass rate")

    def _hyper(self, y: torch.Tensor, view: int, rate, training: bool):
        z = self.z_gains.gain(self.hyper_encoder(y, view), rate)
        if training:
            z_hat, z_lik = self.z_bottleneck[view](z)
        else:
            z_hat, z_lik = self.z_bottleneck[view](z, training=False)
        return self.hyper_decoder(self.z_gains.inverse(z_hat, rate), view), z_lik

    def forward(self, left: Levels, right: Levels, rate: Any = None,
                decoder_input: str = "noise") -> dict[str, Any]:
        """Training pass.

        Args:
            left, right: [f0, f1, f2] of each view, (B, C_i, H_i, W_i).
            rate: rate point(s) in [0, K - 1], a number or one per batch item (gain models).
            decoder_input: "noise" (additive uniform noise, as the authors) or "ste"
                (rounding around the predicted mean with a straight-through gradient,
                what real decoding sees).

        Returns:
            {"left": [f0, f1, f2], "right": [...], "likelihoods": {"y_left", "z_left",
            "y_right", "z_right"}}.
        """
        self._check_rate(rate)
        (pl, sizes), (pr, _) = pad_levels(list(left), self.cfg.pad_multiple), \
            pad_levels(list(right), self.cfg.pad_multiple)
        rate = _rate_tensor(rate, pl[0].shape[0])
        ys = [self.y_gains.gain(y, rate) for y in self.encoder(pl, pr)]
        hyper, z_lik = zip(*(self._hyper(ys[v], v, rate, self.training) for v in range(2)))
        gc = self.gaussian_conditional
        noisy = [gc.quantize(y, "noise" if self.training else "dequantize") for y in ys]
        params = self.entropy_parameters(noisy, hyper)
        y_lik = [gc(ys[v], params[v][0], means=params[v][1])[1] for v in range(2)]
        if decoder_input == "ste":
            y_dec = [ys[v] + (torch.round(ys[v] - params[v][1]) + params[v][1] - ys[v]).detach()
                     for v in range(2)]
        elif decoder_input == "noise":
            y_dec = noisy
        else:
            raise ValueError(f"decoder_input must be 'noise' or 'ste', got {decoder_input!r}")
        out_l, out_r = self.decoder(*(self.y_gains.inverse(y, rate) for y in y_dec))
        return {"left": crop_levels(out_l, sizes), "right": crop_levels(out_r, sizes),
                "likelihoods": {"y_left": y_lik[0], "z_left": z_lik[0],
                                "y_right": y_lik[1], "z_right": z_lik[1]}}

    @torch.no_grad()
    def compress(self, left: Levels, right: Levels, rate: Any = None) -> dict[str, Any]:
        """Real coding of one pair (batch 1).

        Returns:
            {"strings": [...], "sizes": [(H, W)] * 3, "rate": float | None}. The strings
            are [z_left, z_right, y_joint] for a joint model and [z_left, y_left,
            z_right, y_right] for one without contextual transforms and cross-view
            context (each view's two strings then decode alone).
        """
        self._check_rate(rate)
        if left[0].shape[0] != 1:
            raise ValueError("compress codes one stereo pair (batch 1)")
        (pl, sizes), (pr, _) = pad_levels(list(left), self.cfg.pad_multiple), \
            pad_levels(list(right), self.cfg.pad_multiple)
        r = _rate_tensor(rate, 1)
        ys = [self.y_gains.gain(y, r) for y in self.encoder(pl, pr)]
        z_strings, hyper = [], []
        for v in range(2):
            z = self.z_gains.gain(self.hyper_encoder(ys[v], v), r)
            z_strings.append(self.z_bottleneck[v].compress(z)[0])
            z_hat = self.z_bottleneck[v].decompress([z_strings[v]], z.shape[-2:])
            hyper.append(self.hyper_decoder(self.z_gains.inverse(z_hat, r), v))
        ep, gc = self.entropy_parameters, self.gaussian_conditional
        if self.cfg.cross_view_context:
            y_string, _ = encode_latents(ep, gc, (0, 1), ys, hyper)
            strings = [z_strings[0], z_strings[1], y_string]
        else:
            strings = []
            for v in range(2):
                strings += [z_strings[v], encode_latents(ep, gc, (v,), [ys[v]], [hyper[v]])[0]]
        return {"strings": strings, "sizes": sizes,
                "rate": None if rate is None else float(rate)}

    @torch.no_grad()
    def decompress(self, strings: Sequence[bytes], sizes: Sequence[Size],
                   rate: Any = None) -> dict[str, Levels]:
        """Inverse of compress: {"left": [f0, f1, f2], "right": [...]} at `sizes`."""
        self._check_rate(rate)
        sizes = [tuple(s) for s in sizes]
        p2 = padded_sizes(list(sizes), self.cfg.pad_multiple)[2]
        z_shape = (p2[0] // (Y_STRIDE * Z_STRIDE), p2[1] // (Y_STRIDE * Z_STRIDE))
        r = _rate_tensor(rate, 1)
        if self.cfg.cross_view_context:
            z_strings, y_strings = [strings[0], strings[1]], [strings[2]]
        else:
            z_strings, y_strings = [strings[0], strings[2]], [strings[1], strings[3]]
        hyper = []
        for v in range(2):
            z_hat = self.z_bottleneck[v].decompress([z_strings[v]], z_shape)
            hyper.append(self.hyper_decoder(self.z_gains.inverse(z_hat, r), v))
        ep, gc = self.entropy_parameters, self.gaussian_conditional
        if self.cfg.cross_view_context:
            ys = decode_latents(ep, gc, (0, 1), y_strings[0], hyper)
        else:
            ys = [decode_latents(ep, gc, (v,), y_strings[v], [hyper[v]])[0] for v in range(2)]
        out_l, out_r = self.decoder(*(self.y_gains.inverse(y, r) for y in ys))
        return {"left": crop_levels(out_l, list(sizes)), "right": crop_levels(out_r, list(sizes))}

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per part, as the paper's breakdown names them."""
        parts = {"encoder": self.encoder, "decoder": self.decoder,
                 "hyper_encoder": self.hyper_encoder, "hyper_decoder": self.hyper_decoder,
                 "parameter_estimator": self.entropy_parameters,
                 "entropy_bottlenecks": self.z_bottleneck,
                 "gains": nn.ModuleList([self.y_gains, self.z_gains])}
        counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
        counts["total"] = sum(p.numel() for p in self.parameters())
        return counts
