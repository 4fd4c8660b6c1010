"""Configurations of MVSFC-Net (Jin et al., arXiv 2502.14190): widths, switches, rate points.

`paper` reproduces the authors' codec for ResNet-34 features (64/128/256 channels at
strides 4/8/16 of a 288 x 1280 input; 88.81 M parameters). `small` is sized for the
project's stereo detector (bench.models.stereo3d: 32/48/96 channels) and a 2-core CPU,
with gain units for several rate points in one model (a deviation from the paper,
which trains one model per rate). `ablation()` switches off the bi-directional
contextual transforms and the cross-view context: each view is then coded alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

VIEWS = ("left", "right")
LEVELS = ("f0", "f1", "f2")


@dataclass(frozen=True)
class MvsfcConfig:
    """Architecture of one MVSFC network.

    Attributes:
        feature_channels: channels of f0, f1, f2 (strides 4, 8, 16 of the input).
        encoder_channels: outputs of stereo encoder units 0 and 1 (strides 8 and 16);
            the decoder splits its upsampled maps into (f2, these) and (f1, ...) alike.
        latent_channels: M, channels of the compact latent y (stride 32).
        hyper_channels: N, channels of the hyper-latent z (stride 128).
        heads: attention heads of the view-aware transforms.
        contextual_transform: the bi-directional contextual transforms (BCT) in the
            encoder and decoder; off, they are the identity.
        cross_view_context: the causal cross-view context of the entropy model; off, each
            view's entropy parameters use its own hyperprior and spatial context only.
        rate_sigmas: one trade-off sigma per trained rate point (loss = task +
            sigma * (bpp_L + bpp_R)); with more than one, gain units select the point.
        pad_multiple: f2 is zero-padded to a multiple of this (y and z must be whole).
        share_views: one set of weights for both views' branches (the paper has separate
            left and right weights everywhere; sharing halves a small model's size).
    """

    feature_channels: tuple[int, int, int] = (64, 128, 256)
    encoder_channels: tuple[int, int] = (128, 256)
    latent_channels: int = 192
    hyper_channels: int = 128
    heads: int = 8
    contextual_transform: bool = True
    cross_view_context: bool = True
    rate_sigmas: tuple[float, ...] = (1.0 / 64,)
    pad_multiple: int = 8
    share_views: bool = False
    name: str = field(default="paper", compare=False)

    @property
    def n_rates(self) -> int:
        """Number of rate points the gain units hold (0: no gain units)."""
        return len(self.rate_sigmas) if len(self.rate_sigmas) > 1 else 0

    @property
    def joint(self) -> bool:
        """True when the two views' streams depend on each other."""
        return self.contextual_transform or self.cross_view_context

    def ablation(self) -> MvsfcConfig:
        """The same network without contextual transforms and cross-view context."""
        return replace(self, contextual_transform=False, cross_view_context=False,
                       name=f"{self.name}-ablation")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, booleans) for a checkpoint."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MvsfcConfig:
        """Inverse of to_dict; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown MVSFC config keys: {', '.join(unknown)}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)


PAPER = MvsfcConfig()
# Sigmas of the authors' evaluation script (one checkpoint each there).
PAPER_SIGMAS = (1.0 / 256, 1.0 / 64, 1.0 / 16, 1.0 / 4, 1.0, 2.0)

SMALL = MvsfcConfig(
    feature_channels=(32, 48, 96),
    encoder_channels=(32, 48),
    latent_channels=48,
    hyper_channels=32,
    heads=8,
    rate_sigmas=(0.3, 0.75, 1.8, 4.5, 11.0, 27.0),
    share_views=True,
    name="small",
)

# For tests and smoke runs only (seconds on a CPU); never a reported configuration.
TINY = MvsfcConfig(feature_channels=(32, 48, 96), encoder_channels=(16, 16), latent_channels=24,
                   hyper_channels=8, heads=4, rate_sigmas=(1.0, 2.0, 4.0), name="tiny")

CONFIGS = {"paper": PAPER, "small": SMALL, "tiny": TINY}


def get_config(name: str, ablation: bool = False) -> MvsfcConfig:
    """A named configuration ("paper", "small" or "tiny"), optionally its ablation."""
    if name not in CONFIGS:
        raise KeyError(f"unknown MVSFC configuration {name!r} (known: {', '.join(CONFIGS)})")
    cfg = CONFIGS[name]
    return cfg.ablation() if ablation else cfg
