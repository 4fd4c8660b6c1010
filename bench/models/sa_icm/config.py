"""Configurations of SA-ICM (LIC-TCM base) and its additional-information codec (ICA).

`paper` is the authors' network (SEEDS.md 4.2, 4.3): LIC-TCM with N=128, M=320, five
slices of 64 channels, window 8 (4 in the hyperprior); 76.57 M parameters for the base,
45.92 / 51.69 / 58.72 / 67.02 / 76.57 M for the ICA with m = 1..5 slices. `small` is a
stand-in sized for a 2-core CPU: narrower (N=16, M=80 in five slices of 16), one
ConvTransBlock per stage except the two full-resolution-side stages (stride 2 of g_a,
the last of g_s), which have none, windows of 4 (2 in the hyperprior), thinner
entropy-model transforms, and gain units so that one network codes several rate points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

FUSIONS = ("add", "learned")


@dataclass(frozen=True)
class TcmConfig:
    """Sizes of one LIC-TCM network (the base, or the ICA with `latent_slices` = m).

    Attributes:
        n: channels of each branch of a ConvTransBlock (conv and Swin); the
            transforms are 2n wide.
        slice_channels: channels of one slice of y (64 in the paper).
        latent_slices: slices of y (5 for the base; m for the ICA). y has
            slice_channels * latent_slices channels.
        synthesis_channels: input channels of g_s (the base's M; the ICA's g_s decodes
            the fused 320-channel latent, so it equals the base's M there too).
        hyper_channels: channels of z (192).
        blocks: ConvTransBlocks per stage: g_a's three stages, then g_s's three.
        head_dims: attention head width per stage (same order as `blocks`).
        window: window of the main transforms and of SWAtten.
        hyper_blocks: ConvTransBlocks in h_a and in each of h_mean_s / h_scale_s.
        hyper_window: window of the hyperprior's ConvTransBlocks.
        hyper_head_dim: head width of the hyperprior's ConvTransBlocks.
        max_support: at most this many decoded slices condition the next one.
        atten_head_dim: head width of the SWAtten blocks of the entropy model.
        atten_inter: channels inside SWAtten (its 1x1 in/out convolutions map to them).
        cc_hidden: hidden widths of the cc (mean/scale) and LRP transforms.
        rates: gain-unit rate points (0: none, one network per rate as in the paper).
    """

    n: int = 128
    slice_channels: int = 64
    latent_slices: int = 5
    synthesis_channels: int = 320
    hyper_channels: int = 192
    blocks: tuple[int, ...] = (2, 2, 2, 2, 2, 2)
    head_dims: tuple[int, ...] = (8, 16, 32, 32, 16, 8)
    window: int = 8
    hyper_blocks: int = 2
    hyper_window: int = 4
    hyper_head_dim: int = 32
    max_support: int = 5
    atten_head_dim: int = 16
    atten_inter: int = 128
    cc_hidden: tuple[int, int] = (224, 128)
    rates: int = 0

    @property
    def latent_channels(self) -> int:
        """Channels of y."""
        return self.slice_channels * self.latent_slices

    @property
    def pad_multiple(self) -> int:
        """Input sides must be multiples of this: whole windows at every attention stage.

        The last g_a stage runs at stride 8 and SWAtten at stride 16 (window `window`),
        the hyperprior's blocks at stride 32 (window `hyper_window`).
        """
        return max(16 * self.window, 32 * self.hyper_window, 64)

    def check(self) -> None:
        """ValueError for inconsistent sizes."""
        if len(self.blocks) != 6 or len(self.head_dims) != 6:
            raise ValueError("blocks and head_dims need six entries (g_a x3, g_s x3)")
        for width, head in [(self.n, h) for h in self.head_dims] + [
                (self.n, self.hyper_head_dim), (self.atten_inter, self.atten_head_dim)]:
            if width % head:
                raise ValueError(f"attention width {width} is not a multiple of head {head}")
        if self.latent_slices < 1 or self.latent_channels > self.synthesis_channels:
            raise ValueError("y needs 1.. slices and at most synthesis_channels channels")


@dataclass(frozen=True)
class SaIcmConfig:
    """The scalable codec: the SA-ICM base, the ICA with m slices, and the fusion.

    Attributes:
        base: the base (machine) network; the MSE baseline has the same sizes.
        ica_slices: m, slices of the additional-information latent y_a (1..5).
        fusion: "add" (slice-wise addition, as the released code) or "learned"
            (per slice: concat -> 1x1 conv -> 2 ResidualBlocks -> residual add).
        name: the configuration's name.
    """

    base: TcmConfig = field(default_factory=TcmConfig)
    ica_slices: int = 4
    fusion: str = "add"
    name: str = field(default="paper", compare=False)

    def ica(self) -> TcmConfig:
        """The ICA's network: the base's sizes with m slices in y and in the hyperprior."""
        return replace(self.base, latent_slices=self.ica_slices,
                       synthesis_channels=self.base.latent_channels)

    def with_slices(self, m: int) -> SaIcmConfig:
        """The same configuration with m ICA slices."""
        return replace(self, ica_slices=m)

    def check(self) -> None:
        """ValueError for an unusable configuration."""
        self.base.check()
        if not 1 <= self.ica_slices <= self.base.latent_slices:
            raise ValueError(f"m (ica_slices) must be 1..{self.base.latent_slices}, "
                             f"got {self.ica_slices}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        self.ica().check()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint."""
        out = asdict(self)
        out["base"] = {k: list(v) if isinstance(v, tuple) else v for k, v in out["base"].items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SaIcmConfig:
        """Inverse of to_dict; unknown keys are a ValueError."""
        data = dict(data)
        base = dict(data.pop("base", {}))
        _no_unknown(base, TcmConfig, "TcmConfig")
        _no_unknown(data, cls, "SaIcmConfig")
        base = {k: tuple(v) if isinstance(v, list) else v for k, v in base.items()}
        return cls(base=TcmConfig(**base), **data)


def _no_unknown(data: dict[str, Any], cls: type, what: str) -> None:
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"unknown {what} keys: {', '.join(unknown)}")


PAPER = SaIcmConfig(base=TcmConfig(), ica_slices=4, fusion="add", name="paper")

SMALL_BASE = TcmConfig(
    n=16, slice_channels=16, latent_slices=5, synthesis_channels=80, hyper_channels=32,
    blocks=(0, 1, 1, 1, 1, 0), head_dims=(8, 8, 8, 8, 8, 8), window=4,
    hyper_blocks=1, hyper_window=2, hyper_head_dim=8, max_support=5,
    atten_head_dim=8, atten_inter=32, cc_hidden=(32, 32), rates=5,
)
SMALL = SaIcmConfig(base=SMALL_BASE, ica_slices=4, fusion="add", name="small")

CONFIGS = {"paper": PAPER, "small": SMALL}


def get_config(name: str, m: int | None = None, fusion: str | None = None) -> SaIcmConfig:
    """A named configuration, optionally with another m or fusion; ValueError if unknown."""
    if name not in CONFIGS:
        raise ValueError(f"unknown SA-ICM configuration {name!r}; known: {', '.join(CONFIGS)}")
    cfg = CONFIGS[name]
    if m is not None:
        cfg = replace(cfg, ica_slices=int(m))
    if fusion is not None:
        cfg = replace(cfg, fusion=fusion)
    cfg.check()
    return cfg
