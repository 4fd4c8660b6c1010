"""The CI-ICM network: ELIC (CompressAI's Elic2022Official) with CIG, FCGS, CI-CTX and TSCA.

With every module off and no rate levels the network is Elic2022Official itself: the
same submodules, parameter names and shapes, and the same bitstream.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from compressai.models.sensetime import Elic2022Official
from torch import Tensor, nn

from bench.models.ci_icm.config import ELIC_CONTEXT_HIDDEN, CiIcmConfig
from bench.models.ci_icm.context import importance_context, set_context_widths
from bench.models.ci_icm.importance import (
    ChannelImportance,
    group_importance,
    importance_from_bytes,
    importance_to_bytes,
    quantize_importance,
)
from bench.models.ci_icm.scaling import GroupScaling, RateGains
from bench.models.ci_icm.side import pack_side, quantize_level, unpack_side
from bench.models.ci_icm.tsca import TaskChannelAdaptation

Output = str | None  # a decoder output: None is the plain decoder, else a task name


class CiIcm(Elic2022Official):
    """ELIC with channel-importance modules, each switched by `config`.

    Args:
        config: sizes, groups, module switches, tasks and rate levels.
    """

    def __init__(self, config: CiIcmConfig):
        super().__init__(N=config.N, M=config.M, groups=list(config.groups))
        self.config = config
        if config.context_hidden != ELIC_CONTEXT_HIDDEN:
            set_context_widths(self.latent_codec["y"], config.context_hidden)
        if config.rate_levels:
            self.rate_gains = RateGains(config.rate_levels, config.M)
        if config.cig:
            self.cig = ChannelImportance(config.M, config.reduction)
        if config.fcgs:
            self.fcgs = GroupScaling(config.groups, adaptive=config.cig)
        if config.ci_ctx:
            hyperprior = self.latent_codec
            hyperprior.y = importance_context(hyperprior.y)
            hyperprior.latent_codec["y"] = hyperprior.y
        if config.tsca:
            self.tsca = nn.ModuleDict(
                {t: TaskChannelAdaptation(config.M, config.reduction) for t in config.tasks})

    @property
    def outputs(self) -> tuple[Output, ...]:
        """The decoder outputs this network can give: None (plain) and its tasks."""
        return (None, *self.config.tasks)

    # -- pieces shared by forward, compress and decompress --------------------------

    def _levels(self, level: float | Tensor | None, batch: int, device: Any) -> Tensor | None:
        if not self.config.rate_levels:
            return None
        if level is None:
            raise ValueError("this model has rate levels: give `level`")
        return torch.as_tensor(level, dtype=torch.float32, device=device).reshape(-1).expand(batch)

    def _gain(self, levels: Tensor | None, w_groups: Tensor | None, batch: int) -> Tensor | None:
        gain = None
        if levels is not None:
            gain = self.rate_gains(levels)
        if self.config.fcgs:
            g = self.fcgs(w_groups, batch)
            gain = g if gain is None else gain * g
        return gain

    def _y_codec_kwargs(self, w_groups: Tensor | None) -> dict[str, Any]:
        return {"importance": w_groups} if self.config.ci_ctx else {}

    def adapt(self, y_hat: Tensor, output: Output) -> Tensor:
        """The latent the synthesis gets for one output (TSCA for a task, if on)."""
        if output is not None and output not in self.config.tasks:
            raise ValueError(f"unknown output {output!r}; this model has {self.outputs}")
        if output is None or not self.config.tsca:
            return y_hat
        return self.tsca[output](y_hat)

    def synthesize(self, y_hat: Tensor, outputs: Iterable[Output]) -> dict[Output, Tensor]:
        """Decoded images, one per requested output."""
        return {o: self.g_s(self.adapt(y_hat, o)) for o in outputs}

    # -- training -------------------------------------------------------------------

    def forward(self, x: Tensor, level: float | Tensor | None = None,
                outputs: Iterable[Output] = (None,)) -> dict[str, Any]:
        """Training pass: decoded images per output, likelihoods, importance, y_hat.

        Returns a dict with `x_hat` (the first requested output), `x_hats` (all of
        them), `likelihoods` (y, z), `y_hat` (the decoded latent, before TSCA),
        `importance` (B x M, or None without CIG).
        """
        outputs = tuple(outputs)
        y = self.g_a(x)
        w = self.cig(y) if self.config.cig else None
        w_groups = (quantize_importance(group_importance(w, self.config.groups))
                    if self.config.sends_importance else None)
        gain = self._gain(self._levels(level, x.shape[0], x.device), w_groups, x.shape[0])
        y_coded = y if gain is None else y * gain
        hyper = self.latent_codec["hyper"](y_coded)
        y_out = self.latent_codec["y"](y_coded, hyper["params"], **self._y_codec_kwargs(w_groups))
        y_hat = y_out["y_hat"] if gain is None else y_out["y_hat"] / gain
        x_hats = self.synthesize(y_hat, outputs)
        return {
            "x_hat": x_hats[outputs[0]],
            "x_hats": x_hats,
            "likelihoods": {"y": y_out["likelihoods"]["y"], "z": hyper["likelihoods"]["z"]},
            "y_hat": y_hat,
            "importance": w,
        }

    # -- real coding ----------------------------------------------------------------

    @property
    def has_side(self) -> bool:
        """Whether the stream carries a side string (rate level and/or importance)."""
        return bool(self.config.rate_levels) or self.config.sends_importance

    @torch.no_grad()
    def compress(self, x: Tensor, level: float | None = None) -> dict[str, Any]:
        """Entropy-code x: strings (y groups, z, side) and the shape of z."""
        batch = x.shape[0]
        y = self.g_a(x)
        w_groups, side_imp = None, [None] * batch
        if self.config.sends_importance:
            side_imp = importance_to_bytes(group_importance(self.cig(y), self.config.groups))
            w_groups = importance_from_bytes(side_imp, x.device)
        level = None if level is None or not self.config.rate_levels else quantize_level(level)
        gain = self._gain(self._levels(level, batch, x.device), w_groups, batch)
        y_coded = y if gain is None else y * gain
        hyper = self.latent_codec["hyper"].compress(y_coded)
        y_out = self.latent_codec["y"].compress(y_coded, hyper["params"],
                                                **self._y_codec_kwargs(w_groups))
        strings = [*y_out["strings"], *hyper["strings"]]
        if self.has_side:
            strings.append([pack_side(level, imp) for imp in side_imp])
        return {"strings": strings, "shape": tuple(int(s) for s in hyper["shape"])}

    @torch.no_grad()
    def decompress(self, strings: list[list[bytes]], shape: tuple[int, int],
                   outputs: Iterable[Output] = (None,)) -> dict[str, Any]:
        """Decode the strings of `compress` into one image per requested output."""
        outputs = tuple(outputs)
        strings = list(strings)
        level, w_groups = None, None
        if self.has_side:
            level, w_groups = self._read_side(strings.pop())
        z_strings, y_strings = strings[-1], strings[:-1]
        hyper = self.latent_codec["hyper"].decompress([z_strings], shape)
        device = hyper["params"].device
        if w_groups is not None:
            w_groups = w_groups.to(device)
        h, w = 4 * shape[0], 4 * shape[1]
        y_shapes = [(g, h, w) for g in self.config.groups]
        y_out = self.latent_codec["y"].decompress(y_strings, y_shapes, hyper["params"],
                                                  **self._y_codec_kwargs(w_groups))
        batch = len(z_strings)
        gain = self._gain(self._levels(level, batch, device), w_groups, batch)
        y_hat = y_out["y_hat"] if gain is None else y_out["y_hat"] / gain
        x_hats = {o: x.clamp(0, 1) for o, x in self.synthesize(y_hat, outputs).items()}
        return {"x_hat": x_hats[outputs[0]], "x_hats": x_hats}

    def _read_side(self, side: list[bytes]) -> tuple[Tensor | None, Tensor | None]:
        groups = len(self.config.groups) if self.config.sends_importance else 0
        parsed = [unpack_side(s, bool(self.config.rate_levels), groups) for s in side]
        levels = {p[0] for p in parsed}
        if len(levels) > 1:
            raise ValueError("all images of one decode call must share a rate level")
        level = parsed[0][0]
        w_groups = importance_from_bytes([p[1] for p in parsed]) if groups else None
        return level, w_groups

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Tensor], config: CiIcmConfig | None = None
                        ) -> CiIcm:
        """A network from a state dict; the config must be given (it is not inferable)."""
        if config is None:
            raise ValueError("CiIcm.from_state_dict needs the config")
        net = cls(config)
        net.load_state_dict(state_dict)
        return net
