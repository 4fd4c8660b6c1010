"""Entropy parameters of MVSFC-Net: hyperprior + serial spatial context + causal cross-view
context (the ContextInteraction of the authors' code).

Per view v: ctx_v = cat(hyper_v, A_v(y_hat_v)), with A a 5x5 masked convolution of type A
(the positions before the current one in raster order). With the cross-view context:
r_v = reduce_v(ctx_v) (two 1x1 convolutions), g_v = sigmoid(B_v(fuse_v(cat(r_v, r_o))))
with B a 3x3 masked convolution of type B (the current position and those before it),
and the other view's context enters as g_v * r_o. Gaussian parameters (scales, means)
come from a 1x1 stack on cat(ctx_v, g_v * r_o) (or on ctx_v alone without the
cross-view context). Every input of the parameters at position p depends only on
symbols before p of either view, so both views can be decoded together, position by
position; `SerialContext` does exactly that for real coding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from compressai.layers import MaskedConv2d
from torch import nn

from bench.models.mvsfc.config import MvsfcConfig
from bench.models.mvsfc.transforms import pair

AR_KERNEL = 5
GATE_KERNEL = 3


def _stack(cin: int, widths: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n, cout in enumerate(widths):
        if n:
            layers.append(nn.LeakyReLU(inplace=True))
        layers.append(nn.Conv2d(cin, cout, 1))
        cin = cout
    return nn.Sequential(*layers)


class EntropyParameters(nn.Module):
    """(y_hat, hyper context) of both views -> Gaussian (scales, means) of both views."""

    def __init__(self, cfg: MvsfcConfig):
        super().__init__()
        m = cfg.latent_channels
        sh = cfg.share_views
        self.cross_view = cfg.cross_view_context
        self.context = pair(lambda: MaskedConv2d(m, 2 * m, AR_KERNEL, padding=AR_KERNEL // 2,
                                                 mask_type="A"), sh)
        if self.cross_view:
            self.reduce = pair(lambda: _stack(4 * m, (2 * m, 2 * m)), sh)
            self.fusion = pair(lambda: _stack(4 * m, (2 * m, 2 * m)), sh)
            self.gate = pair(lambda: MaskedConv2d(2 * m, 2 * m, GATE_KERNEL,
                                                  padding=GATE_KERNEL // 2, mask_type="B"), sh)
        width = 6 * m if self.cross_view else 4 * m
        self.estimator = pair(lambda: _stack(width, (10 * m // 3, 8 * m // 3, 2 * m)), sh)

    def forward(self, y_hat: Sequence[torch.Tensor], hyper: Sequence[torch.Tensor]
                ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Parallel (training) evaluation for both views: [(scales, means)] * 2."""
        ctx = [torch.cat([hyper[v], self.context[v](y_hat[v])], 1) for v in range(2)]
        if self.cross_view:
            red = [self.reduce[v](ctx[v]) for v in range(2)]
            ctx = [torch.cat([ctx[v], self._inter(v, red, self.gate[v])], 1) for v in range(2)]
        return [tuple(self.estimator[v](ctx[v]).chunk(2, 1)) for v in range(2)]

    def _inter(self, v: int, red: Sequence[torch.Tensor], gate) -> torch.Tensor:
        fused = self.fusion[v](torch.cat([red[v], red[1 - v]], 1))
        return torch.sigmoid(gate(fused)) * red[1 - v]


class SerialContext:
    """Position-by-position evaluation of `EntropyParameters`, as real coding needs it.

    Args:
        params: the trained module.
        views: the views coded together (0 left, 1 right); the cross-view context needs
            both, in that order.
        hyper: each coded view's hyper context, (1, 2M, H, W).
    """

    def __init__(self, params: EntropyParameters, views: Sequence[int],
                 hyper: Sequence[torch.Tensor]):
        if params.cross_view and tuple(views) != (0, 1):
            raise ValueError("the cross-view context codes both views together")
        self.p, self.views, self.hyper = params, tuple(views), list(hyper)
        _, c2, self.height, self.width = hyper[0].shape
        pad = AR_KERNEL // 2
        shape = (1, c2 // 2, self.height + 2 * pad, self.width + 2 * pad)
        self.y_hat = [hyper[0].new_zeros(shape) for _ in self.views]
        self.ar = [(params.context[v].weight * params.context[v].mask, params.context[v].bias)
                   for v in self.views]
        if params.cross_view:
            g = GATE_KERNEL // 2
            fshape = (1, c2, self.height + 2 * g, self.width + 2 * g)
            self.fused = [hyper[0].new_zeros(fshape) for _ in self.views]
            self.gw = [(params.gate[v].weight * params.gate[v].mask, params.gate[v].bias)
                       for v in self.views]

    def positions(self):
        """Raster order of the latent grid."""
        for h in range(self.height):
            for w in range(self.width):
                yield h, w

    def params(self, h: int, w: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(scales, means) of each coded view at (h, w), each (1, M)."""
        k = AR_KERNEL
        ctx = []
        for i, v in enumerate(self.views):
            ar = F.conv2d(self.y_hat[i][:, :, h:h + k, w:w + k], *self.ar[i])
            ctx.append(torch.cat([self.hyper[i][:, :, h:h + 1, w:w + 1], ar], 1))
        if self.p.cross_view:
            red = [self.p.reduce[v](ctx[i]) for i, v in enumerate(self.views)]
            g, kg = GATE_KERNEL // 2, GATE_KERNEL
            for i in range(2):
                fused = self.p.fusion[i](torch.cat([red[i], red[1 - i]], 1))
                self.fused[i][:, :, h + g:h + g + 1, w + g:w + g + 1] = fused
            ctx = [torch.cat([ctx[i], torch.sigmoid(F.conv2d(
                self.fused[i][:, :, h:h + kg, w:w + kg], *self.gw[i])) * red[1 - i]], 1)
                for i in range(2)]
        out = []
        for i, v in enumerate(self.views):
            scales, means = self.p.estimator[v](ctx[i]).chunk(2, 1)
            out.append((scales.reshape(1, -1), means.reshape(1, -1)))
        return out

    def set(self, i: int, h: int, w: int, y_hat: torch.Tensor) -> None:
        """Store the decoded latent of coded view i at (h, w)."""
        pad = AR_KERNEL // 2
        self.y_hat[i][0, :, h + pad, w + pad] = y_hat.reshape(-1)

    def latents(self) -> list[torch.Tensor]:
        """The decoded latents without the context padding, (1, M, H, W) each."""
        pad = AR_KERNEL // 2
        return [y[:, :, pad:pad + self.height, pad:pad + self.width] for y in self.y_hat]
