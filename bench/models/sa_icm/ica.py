"""The additional-information codec (ICA) and its human-oriented decoder (SEEDS.md 4.3).

The ICA is LIC-TCM whose g_a ends in m * slice_channels channels, with its own
hyperprior and ch-ARM over m slices. y_a is entropy-coded WITHOUT conditioning on the
base latent: `compress` sees only the image. Decoding fuses the decoded y_a with the
decoded base latent (slice-wise addition or the learned fusion) and maps the result to
the human-view image with the ICA's own g_s (whose input has the base's width).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from bench.models.sa_icm.config import SaIcmConfig
from bench.models.sa_icm.fusion import build_fusion
from bench.models.sa_icm.tcm import TcmNet


class AdditionalInfoNet(TcmNet):
    """ICA: a TcmNet over m slices plus the fusion; `compress` is the plain TcmNet's."""

    def __init__(self, cfg: SaIcmConfig):
        cfg.check()
        super().__init__(cfg.ica())
        self.fusion = build_fusion(cfg.fusion, cfg.base.slice_channels, cfg.ica_slices)

    def forward(self, x: Tensor, base_y_hat: Tensor, q: Any = None) -> dict[str, Any]:
        """Training pass: {"x_hat": human view, "y_hat": y_a_hat, "likelihoods"}."""
        y_a_hat, likelihoods = self.latent_forward(x, q)
        x_hat = self.g_s(self.fusion(base_y_hat, y_a_hat))
        return {"x_hat": x_hat, "y_hat": y_a_hat, "likelihoods": likelihoods}

    def decompress(self, strings: list, shape: tuple[int, int], base_y_hat: Tensor | None = None,
                   q: Any = None) -> dict[str, Any]:
        """The human view from the ICA's strings and the decoded base latent."""
        if base_y_hat is None:
            raise ValueError("the additional-information layer cannot be decoded without "
                             "the base latent")
        y_a_hat = self.latent_decompress(strings, shape, q)
        x_hat = self.g_s(self.fusion(base_y_hat, y_a_hat)).clamp_(0, 1)
        return {"x_hat": x_hat, "y_hat": y_a_hat}
