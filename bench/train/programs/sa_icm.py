"""`sa-icm`: the stages of SA-ICM with a feature fusion network, on the generic trainer.

- `base`: SA-ICM, LIC-TCM with L = bpp + lambda * 255^2 * MSE(x * M, x_hat * M), M the
  object + edge map of `bench.models.sa_icm.masks`;
- `mse`: the same network with plain MSE (the learned baseline, and with the base the
  simulcast baseline);
- `enhancement`: the additional-information codec with m slices and its fusion, the base
  loaded from its weights file and frozen: L = bpp_a + lambda_a * 255^2 * MSE(x, x_hat_h);
  `init_synthesis: base` starts the ICA's g_s from the base's (a shorter fine-tune).

One variable-rate network per stage (gain units; a random rate level per sample); the
enhancement's level k is trained with the base at level k (codec point k codes both).
With a single-rate base (one lambda, no gain units: the paper's setting, SA-ICM at
lambda = 0.05), every enhancement level is trained on that one base.
Evaluation codes held-out synthetic val images for real through the codec classes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import SpecError
from bench.models.sa_icm.masks import MaskSpec
from bench.models.sa_icm.training import MaskedData
from bench.train.program import TrainProgram


class MaskOptions(BaseModel):
    """The weight map M (see bench.models.sa_icm.masks.MaskSpec)."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["edges", "objects", "objects+edges"] = "objects+edges"
    edge_width: int = Field(2, ge=0)
    background_weight: float = Field(0.05, ge=0, le=1)
    min_score: float = 0.0


class EvalOptions(BaseModel):
    """Held-out synthetic val images coded for real (the demo preset uses 0..23)."""

    model_config = ConfigDict(extra="forbid")
    n_images: int = Field(4, ge=1)
    first: int = Field(100, ge=0)


class SaIcmKwargs(BaseModel):
    """The program's kwargs (unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")
    stage: Literal["base", "mse", "enhancement"]
    config: Literal["small", "paper"] = "small"
    m: int = Field(4, ge=1, le=5)
    fusion: Literal["add", "learned"] = "add"
    lambdas: list[float] = Field(..., min_length=1)
    base_weights: str | None = Field(None, description="the frozen base (enhancement)")
    init_synthesis: Literal["none", "base"] = Field(
        "none", description="enhancement: 'base' starts the ICA's g_s as a copy of the "
                            "base's g_s (same shapes), so the human view starts at the "
                            "base's decode and the ICA learns what to add")
    data: MaskedData = Field(default_factory=MaskedData)
    mask: MaskOptions = Field(default_factory=MaskOptions)
    eval: EvalOptions = Field(default_factory=EvalOptions)


class SaIcmProgram(TrainProgram):
    """Trains one stage (see the module docstring)."""

    def __init__(self, recipe: Any, device: str = "cpu", **kwargs: Any):
        super().__init__(recipe, device, **kwargs)
        try:
            self.opts = SaIcmKwargs(**kwargs)
        except ValidationError as exc:
            raise SpecError(f"sa-icm program kwargs: {exc}") from None
        if self.opts.stage == "enhancement" and not self.opts.base_weights:
            raise SpecError("sa-icm stage 'enhancement' needs `base_weights` (the frozen base)")
        self.mask_spec = MaskSpec(**self.opts.mask.model_dump())

    # ---------------------------------------------------------------- set-up

    def setup(self) -> None:
        from bench.models.sa_icm.config import get_config
        from bench.models.sa_icm.ica import AdditionalInfoNet
        from bench.models.sa_icm.tcm import TcmNet
        from bench.models.sa_icm.training import MaskedCropSampler, render_with_weights

        o = self.opts
        rates = len(o.lambdas) if len(o.lambdas) > 1 else 0
        self.base = None
        if o.stage == "enhancement":
            from bench.checkpoint import file_sha256
            from bench.models.sa_icm.weights import load_network

            self.base, base_cfg, _ = load_network(o.base_weights, "base")
            self.base.to(self.device).eval().requires_grad_(False)
            self.base_sha256 = file_sha256(o.base_weights)
            if self.base.gains is not None and self.base.gains.rates != rates:
                raise SpecError("the enhancement needs as many lambdas as the base has rate "
                                "points (point k codes both layers at level k); a base "
                                "without gain units (one rate) takes any number")
            self.cfg = replace(base_cfg, ica_slices=o.m, fusion=o.fusion)
            self.net = AdditionalInfoNet(self.cfg)
            if o.init_synthesis == "base":  # a fresh start; --resume overwrites it
                self.net.g_s.load_state_dict(self.base.g_s.state_dict())
        else:
            cfg = get_config(o.config, m=o.m, fusion=o.fusion)
            self.cfg = replace(cfg, base=replace(cfg.base, rates=rates))
            self.net = TcmNet(self.cfg.base)
        self.net.to(self.device)
        self.sampler = MaskedCropSampler(o.data, self.mask_spec)
        self.held_out = [render_with_weights(o.eval.first + i, o.data, self.mask_spec, "val")
                         for i in range(o.eval.n_images)]

    def modules(self) -> dict[str, Any]:
        return {"net": self.net}

    def _split(self) -> tuple[list, list]:
        main, aux = [], []
        for name, p in self.net.named_parameters():
            (aux if name.endswith("quantiles") else main).append(p)
        return main, aux

    def parameters(self) -> list[Any]:
        return self._split()[0]

    def aux_parameters(self) -> list[Any]:
        return self._split()[1]

    def aux_loss(self) -> torch.Tensor:
        return self.net.aux_loss()

    def state_dict(self) -> dict[str, Any]:
        return {"refreshed": self.sampler.refreshed}

    # ---------------------------------------------------------------- loss

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        from bench.models.sa_icm.training import bpp, lambda_at, masked_mse, psnr_db

        x, weights = self.sampler.batch(step, self.device)
        k = len(self.opts.lambdas)
        q = torch.randint(0, k, (x.shape[0],), device=self.device).float()
        lam = lambda_at(self.opts.lambdas, q)
        q_arg = q if k > 1 else None
        if self.opts.stage == "enhancement":
            with torch.no_grad():
                q_base = q_arg if self.base.gains is not None else None
                base_y, _ = self.base.latent_forward(x, q_base)
            out = self.net(x, base_y, q_arg)
        else:
            out = self.net(x, q_arg)
        rate = bpp(out["likelihoods"], x.shape[2] * x.shape[3])
        mse = masked_mse(x, out["x_hat"])
        dist = masked_mse(x, out["x_hat"], weights) if self.opts.stage == "base" else mse
        loss = (lam * 255.0 ** 2 * dist + rate).mean()
        logs = {"bpp": float(rate.detach().mean()), "psnr": psnr_db(mse)}
        if self.opts.stage == "base":
            logs["wmse"] = float(dist.detach().mean() * 255.0 ** 2)
        return loss, logs

    # ---------------------------------------------------------------- evaluation, export

    def _codec(self) -> tuple[Any, Any]:
        """(codec, model) coding with the in-memory networks."""
        from bench.codecs.sa_icm import SaIcmCodec, SaIcmMseCodec
        from bench.models.sa_icm.scalable import ScalableSaIcm

        rates = max(1, len(self.opts.lambdas))
        if self.opts.stage == "enhancement":
            codec, model = SaIcmCodec(device=self.device), ScalableSaIcm(
                self.cfg, base=self.base, enhancement=self.net)
        else:
            codec, model = SaIcmMseCodec(device=self.device), self.net
        model.rates = rates
        return codec, model

    def evaluate(self) -> dict[str, float]:
        """Real coding of the held-out images at every level: bpp and PSNR per layer."""
        import numpy as np

        from bench.metrics.quality import psnr_rgb
        from bench.types import RatePoint

        self.net.update(force=True)
        codec, model = self._codec()
        results: dict[str, float] = {}
        for level in range(1, len(self.opts.lambdas) + 1):
            point = RatePoint("quality", level)
            codec.use_model(point, model)
            sums: dict[str, list[float]] = {}
            pixels = 0
            for img, weights in self.held_out:
                bs = codec.encode(img, point)
                pixels += img.shape[0] * img.shape[1]
                for name, bits in bs.layer_bits().items():
                    sums.setdefault(f"bits_{name}", []).append(bits)
                views = {"": None} if self.opts.stage != "enhancement" else {
                    "_machine": ["base"], "_human": None}
                for suffix, layers in views.items():
                    rec = codec.decode(bs, layers=layers)
                    sums.setdefault(f"psnr{suffix}", []).append(psnr_rgb(img, rec))
                    err = (rec.astype(np.float64) - img) * weights[..., None].astype(np.float64)
                    wmse = float((err ** 2).mean())
                    sums.setdefault(f"wpsnr{suffix}", []).append(
                        10 * np.log10(255.0 ** 2 / max(wmse, 1e-10)))
            for key, values in sums.items():
                name = key.replace("bits_", "bpp_") if key.startswith("bits_") else key
                value = sum(values) / pixels if key.startswith("bits_") else float(np.mean(values))
                results[f"q{level}/{name}"] = value
        return results

    def export(self, path: Path) -> dict[str, Any]:
        """update(force=True), then the weights-only file (fp16) with config and lambdas."""
        from bench.checkpoint import save_checkpoint
        from bench.models.sa_icm.tcm import count_parameters
        from bench.models.sa_icm.training import describe_data
        from bench.models.sa_icm.weights import make_payload

        self.net.update(force=True)
        extra = {"base_sha256": self.base_sha256} if self.opts.stage == "enhancement" else {}
        role = self.opts.stage
        save_checkpoint(path, make_payload(role, self.cfg, self.opts.lambdas, self.net, **extra))
        return {"file": str(path), "role": role, "lambdas": self.opts.lambdas,
                "parameters": count_parameters(self.net), "m": self.cfg.ica_slices,
                "fusion": self.cfg.fusion, "data": describe_data(self.opts.data, self.mask_spec),
                **extra}

    def card(self, summary: dict[str, Any]) -> str:
        """The generic card plus the measured points (real coding) as a table."""
        from bench.train.card import generic_card

        text = generic_card(self.recipe, summary)
        ev = summary.get("evaluation") or {}
        keys = sorted({k.split("/", 1)[1] for k in ev if "/" in k})
        rows = ["| level | lambda | " + " | ".join(keys) + " |",
                "|---|---|" + "---|" * len(keys)]
        for level, lam in enumerate(self.opts.lambdas, start=1):
            vals = [f"{ev.get(f'q{level}/{k}', float('nan')):.4f}" for k in keys]
            rows.append(f"| {level} | {lam:g} | " + " | ".join(vals) + " |")
        return text + "\n## Points (real coding, held-out synthetic val images)\n\n" + \
            "\n".join(rows) + "\n"
