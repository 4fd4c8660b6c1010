"""The scalable codec: SA-ICM base layer (machines) + ICA enhancement layer (humans).

`compress` returns the two layers' strings separately: the base layer decodes alone to
the machine-view image; the enhancement layer needs the decoded base latent and gives
the human-view image through the fusion and the ICA's g_s.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from bench.models.sa_icm.config import SaIcmConfig
from bench.models.sa_icm.ica import AdditionalInfoNet
from bench.models.sa_icm.tcm import TcmNet, count_parameters


class ScalableSaIcm(nn.Module):
    """Base (SA-ICM, a TcmNet) and enhancement (AdditionalInfoNet) networks.

    Given `base` / `enhancement` (loaded networks), those are used instead of new ones.
    """

    def __init__(self, cfg: SaIcmConfig, base: TcmNet | None = None,
                 enhancement: AdditionalInfoNet | None = None):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.base = base if base is not None else TcmNet(cfg.base)
        self.enhancement = enhancement if enhancement is not None else AdditionalInfoNet(cfg)
        self.pad_multiple = cfg.base.pad_multiple

    def forward(self, x: Tensor, q_base: Any = None, q_enh: Any = None) -> dict[str, Any]:
        """Training pass of both layers: {"base": TcmNet output, "enhancement": ICA output}."""
        base = self.base(x, q_base)
        return {"base": base, "enhancement": self.enhancement(x, base["y_hat"], q_enh)}

    def compress(self, x: Tensor, q_base: Any = None, q_enh: Any = None) -> dict[str, Any]:
        """{"base": {"strings", "shape"}, "enhancement": {"strings", "shape"}}."""
        return {"base": self.base.compress(x, q_base),
                "enhancement": self.enhancement.compress(x, q_enh)}

    def decompress_base(self, strings: list, shape: Any, q_base: Any = None) -> dict[str, Any]:
        """The machine view: {"x_hat", "y_hat"} from the base layer alone."""
        return self.base.decompress(strings, shape, q_base)

    def decompress_human(self, base: dict[str, Any], enhancement: dict[str, Any],
                         q_base: Any = None, q_enh: Any = None) -> dict[str, Any]:
        """The human view from both layers' {"strings", "shape"}."""
        y_hat = self.base.latent_decompress(base["strings"], base["shape"], q_base)
        return self.enhancement.decompress(enhancement["strings"], enhancement["shape"],
                                           y_hat, q_enh)

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of the base and of the enhancement network (fusion included)."""
        return {"base": count_parameters(self.base),
                "enhancement": count_parameters(self.enhancement)}


class BaseLayerOnly(nn.Module):
    """A machine-only receiver (or sender): the base network alone, with the same calls."""

    def __init__(self, base: TcmNet):
        super().__init__()
        self.base = base
        self.pad_multiple = base.pad_multiple

    def decompress_base(self, strings: list, shape: Any, q_base: Any = None) -> dict[str, Any]:
        """The machine view: {"x_hat", "y_hat"} from the base layer."""
        return self.base.decompress(strings, shape, q_base)
