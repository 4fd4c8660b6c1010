"""Analysis and synthesis transforms of MVSFC-Net, each holding a left and a right branch.

Encoder (stereo encoder units, SEU): f0 -> conv5x5/2 + GDN -> BCT; cat f1 -> conv5x5/2
+ GDN -> BCT; cat f2 -> conv5x5/2 -> BCT = y (stride 32), one compact latent per view
that merges the three scales. Decoder: BCT(y) -> deconv/2 + IGDN -> split (f2_hat, c2);
BCT(c2); cat(f2_hat, c2, BCT(c2)) -> deconv/2 + IGDN -> split (f1_hat, c1); BCT(c1);
cat(f1_hat, c1, BCT(c1)) -> deconv/2 -> f0_hat. Hyper transforms per view:
conv3x3, conv5x5/2, conv5x5/2 down to z (stride 128) and deconv, deconv, conv3x3 up to
2M channels of hyper context.
"""

from __future__ import annotations

import torch
from compressai.layers import GDN
from torch import nn

from bench.models.mvsfc.config import MvsfcConfig
from bench.models.mvsfc.layers import ContextualTransform, conv, deconv

Pair = tuple[torch.Tensor, torch.Tensor]
Levels = list[torch.Tensor]


def pair(make, shared: bool = False) -> nn.ModuleList:
    """[left branch, right branch]; one module in both places when `shared`."""
    first = make()
    return nn.ModuleList([first, first if shared else make()])


class StereoEncoder(nn.Module):
    """{f0, f1, f2} of both views -> y_left, y_right (M channels, stride 32)."""

    def __init__(self, cfg: MvsfcConfig):
        super().__init__()
        c0, c1, c2 = cfg.feature_channels
        e0, e1 = cfg.encoder_channels
        m, bct, heads, sh = (cfg.latent_channels, cfg.contextual_transform, cfg.heads,
                             cfg.share_views)
        self.unit0 = pair(lambda: nn.Sequential(conv(c0, e0), GDN(e0)), sh)
        self.unit1 = pair(lambda: nn.Sequential(conv(c1 + e0, e1), GDN(e1)), sh)
        self.unit2 = pair(lambda: conv(c2 + e1, m), sh)
        self.bct0 = ContextualTransform(e0, heads, bct, sh)
        self.bct1 = ContextualTransform(e1, heads, bct, sh)
        self.bct2 = ContextualTransform(m, heads, bct, sh)

    def forward(self, left: Levels, right: Levels) -> Pair:
        a = self.bct0(self.unit0[0](left[0]), self.unit0[1](right[0]))
        a = self.bct1(self.unit1[0](torch.cat([left[1], a[0]], 1)),
                      self.unit1[1](torch.cat([right[1], a[1]], 1)))
        return self.bct2(self.unit2[0](torch.cat([left[2], a[0]], 1)),
                         self.unit2[1](torch.cat([right[2], a[1]], 1)))


class StereoDecoder(nn.Module):
    """y_hat_left, y_hat_right -> [f0, f1, f2] of each view (padded sizes)."""

    def __init__(self, cfg: MvsfcConfig):
        super().__init__()
        c0, c1, c2 = cfg.feature_channels
        e0, e1 = cfg.encoder_channels
        m, bct, heads, sh = (cfg.latent_channels, cfg.contextual_transform, cfg.heads,
                             cfg.share_views)
        self.splits = ((c2, e1), (c1, e0))
        self.bct2 = ContextualTransform(m, heads, bct, sh)
        self.unit2 = pair(lambda: nn.Sequential(deconv(m, c2 + e1),
                                                GDN(c2 + e1, inverse=True)), sh)
        self.bct1 = ContextualTransform(e1, heads, bct, sh)
        self.unit1 = pair(lambda: nn.Sequential(deconv(c2 + 2 * e1, c1 + e0),
                                                GDN(c1 + e0, inverse=True)), sh)
        self.bct0 = ContextualTransform(e0, heads, bct, sh)
        self.unit0 = pair(lambda: deconv(c1 + 2 * e0, c0), sh)

    def forward(self, y_left: torch.Tensor, y_right: torch.Tensor) -> tuple[Levels, Levels]:
        y = self.bct2(y_left, y_right)
        up = [self.unit2[v](y[v]) for v in range(2)]
        f2 = [u.split(self.splits[0], 1) for u in up]
        t = self.bct1(f2[0][1], f2[1][1])
        up = [self.unit1[v](torch.cat([f2[v][0], f2[v][1], t[v]], 1)) for v in range(2)]
        f1 = [u.split(self.splits[1], 1) for u in up]
        t = self.bct0(f1[0][1], f1[1][1])
        f0 = [self.unit0[v](torch.cat([f1[v][0], f1[v][1], t[v]], 1)) for v in range(2)]
        return ([f0[0], f1[0][0], f2[0][0]], [f0[1], f1[1][0], f2[1][0]])


class HyperEncoder(nn.Module):
    """y (M) -> z (N, stride 4 of y), one branch per view."""

    def __init__(self, cfg: MvsfcConfig):
        super().__init__()
        m, n = cfg.latent_channels, cfg.hyper_channels
        self.branch = pair(lambda: nn.Sequential(
            conv(m, n, 3, 1), nn.LeakyReLU(inplace=True),
            conv(n, n), nn.LeakyReLU(inplace=True), conv(n, n)), cfg.share_views)

    def forward(self, y: torch.Tensor, view: int) -> torch.Tensor:
        return self.branch[view](y)


class HyperDecoder(nn.Module):
    """z_hat (N) -> hyper context (2M channels at y's size), one branch per view."""

    def __init__(self, cfg: MvsfcConfig):
        super().__init__()
        m, n = cfg.latent_channels, cfg.hyper_channels
        self.branch = pair(lambda: nn.Sequential(
            deconv(n, m), nn.LeakyReLU(inplace=True),
            deconv(m, m * 3 // 2), nn.LeakyReLU(inplace=True),
            conv(m * 3 // 2, 2 * m, 3, 1)), cfg.share_views)

    def forward(self, z_hat: torch.Tensor, view: int) -> torch.Tensor:
        return self.branch[view](z_hat)


class RateGains(nn.Module):
    """Per-channel gain and inverse-gain vectors, one pair per trained rate point.

    A rate value r in [0, K - 1] selects point r; a fractional r interpolates the
    log-gains of its two neighbours (continuous rate control, as in gained VAEs).
    With K = 0 (a single-rate model) the gains are 1 and hold no weights.
    """

    def __init__(self, n_rates: int, channels: int):
        super().__init__()
        self.n_rates = n_rates
        if n_rates:
            self.log_gain = nn.Parameter(torch.zeros(n_rates, channels))
            self.log_inverse = nn.Parameter(torch.zeros(n_rates, channels))

    def spread(self, sigmas: tuple[float, ...], power: float = 0.5) -> None:
        """Start the rate points apart: log-gain_k = -power * ln(sigma_k / geometric mean).

        A larger sigma (a lower rate) starts with a smaller gain, i.e. a coarser
        quantisation of y; the inverse gains start at the reciprocals.
        """
        if not self.n_rates:
            return
        logs = torch.log(torch.tensor(sigmas, dtype=torch.float32))
        start = -power * (logs - logs.mean())
        with torch.no_grad():
            self.log_gain.copy_(start[:, None].expand_as(self.log_gain))
            self.log_inverse.copy_(-start[:, None].expand_as(self.log_inverse))

    def _pick(self, table: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
        rate = rate.to(table.device, table.dtype).clamp(0, self.n_rates - 1).reshape(-1)
        lo = rate.floor().long().clamp(max=self.n_rates - 1)
        hi = (lo + 1).clamp(max=self.n_rates - 1)
        frac = (rate - lo.to(rate.dtype))[:, None]
        return torch.exp(table[lo] * (1 - frac) + table[hi] * frac)[:, :, None, None]

    def gain(self, x: torch.Tensor, rate: torch.Tensor | None) -> torch.Tensor:
        """x scaled by the gain of `rate` (one rate per batch item, or one for all)."""
        return x if not self.n_rates else x * self._pick(self.log_gain, rate)

    def inverse(self, x: torch.Tensor, rate: torch.Tensor | None) -> torch.Tensor:
        """x scaled by the inverse gain of `rate`."""
        return x if not self.n_rates else x * self._pick(self.log_inverse, rate)
