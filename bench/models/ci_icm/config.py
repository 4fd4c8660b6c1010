"""Configuration of the CI-ICM network: sizes, channel groups and module switches."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

TASKS: tuple[str, ...] = ("detection", "segmentation")
MODULES: tuple[str, ...] = ("cig", "fcgs", "ci_ctx", "tsca")
ELIC_CONTEXT_HIDDEN: tuple[int, int] = (224, 128)


@dataclass(frozen=True)
class CiIcmConfig:
    """Sizes and switches of one CI-ICM network.

    Attributes:
        N: channels of the main transforms (ELIC's N).
        M: latent channels (ELIC's M).
        groups: channel group sizes of the latent, in coding order (sum M).
        cig: channel importance generation (importance head on y, channel order loss).
        fcgs: per-group gain scaling of the latent's dynamic range (importance-adaptive
            when `cig` is on).
        ci_ctx: importance maps of the groups enter ELIC's channel context (needs `cig`).
        tsca: one task-specific channel adaptation per task at the decoder.
        tasks: the tasks TSCA adapts to (decoder outputs besides the plain one).
        rate_levels: number of lambda-conditioned gain vectors (0: a fixed-rate model).
        reduction: squeeze ratio of the CIG and TSCA bottleneck layers.
        context_hidden: widths of the two hidden layers of ELIC's channel context
            (ELIC: 224, 128, whatever M is; narrower for small latents).
    """

    N: int = 192
    M: int = 320
    groups: tuple[int, ...] = (16, 16, 32, 64, 192)
    cig: bool = True
    fcgs: bool = True
    ci_ctx: bool = True
    tsca: bool = True
    tasks: tuple[str, ...] = TASKS
    rate_levels: int = 0
    reduction: int = 4
    context_hidden: tuple[int, int] = ELIC_CONTEXT_HIDDEN

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(int(g) for g in self.groups))
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "context_hidden", tuple(int(c) for c in self.context_hidden))
        if sum(self.groups) != self.M or min(self.groups) < 1:
            raise ValueError(f"groups {self.groups} must be positive and sum to M={self.M}")
        if self.ci_ctx and not self.cig:
            raise ValueError("ci_ctx needs cig: the context is conditioned on the importance")
        if self.tsca and not self.tasks:
            raise ValueError("tsca needs at least one task")
        if self.rate_levels < 0 or self.reduction < 1:
            raise ValueError("rate_levels must be >= 0 and reduction >= 1")

    @property
    def modules_on(self) -> tuple[str, ...]:
        """Names of the switched-on modules, in the paper's order."""
        return tuple(m for m in MODULES if getattr(self, m))

    @property
    def sends_importance(self) -> bool:
        """Whether the decoder needs the per-group importance (it is then in the stream)."""
        return self.cig and (self.fcgs or self.ci_ctx)

    def replace(self, **changes: Any) -> CiIcmConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def baseline(self) -> CiIcmConfig:
        """The same network with all four modules off (plain ELIC)."""
        return self.replace(cig=False, fcgs=False, ci_ctx=False, tsca=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples), for checkpoints and model cards."""
        d = dataclasses.asdict(self)
        for key in ("groups", "tasks", "context_hidden"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CiIcmConfig:
        """Inverse of `to_dict`; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown CI-ICM config keys: {sorted(unknown)}")
        return cls(**d)


PAPER = CiIcmConfig(N=192, M=320, groups=(16, 16, 32, 64, 192))
SMALL = CiIcmConfig(N=48, M=96, groups=(6, 6, 12, 24, 48), rate_levels=5, context_hidden=(64, 48))
CONFIGS: dict[str, CiIcmConfig] = {"paper": PAPER, "small": SMALL}


def get_config(name: str, **overrides: Any) -> CiIcmConfig:
    """A named configuration (`paper`, `small`) with fields overridden."""
    if name not in CONFIGS:
        raise ValueError(f"unknown CI-ICM configuration {name!r}; known: {sorted(CONFIGS)}")
    return CONFIGS[name].replace(**overrides)


__all__ = ["CONFIGS", "MODULES", "PAPER", "SMALL", "TASKS", "CiIcmConfig", "get_config"]
