"""`image-codec`: rate-distortion training of learned image codecs on the generic trainer.

Models: the in-project variable-rate baseline (`learned-baseline`, one model, a random
rate level per sample) or any CompressAI architecture (one model per lambda, trained
side by side on the same batches). Loss per sample: lambda * 255^2 * MSE + bpp (CompressAI's
RateDistortionLoss), or lambda * (1 - MS-SSIM) + bpp. Evaluation codes held-out images
for real through the codec classes (compress, packed bytes, decompress, 8-bit rounding).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import SpecError
from bench.train.program import TrainProgram
from bench.train.programs.image_data import CropSampler, DataSpec, EvalSpec, describe, eval_images


class ModelSpec(BaseModel):
    """`learned-baseline`, or a CompressAI architecture name (bmshj2018-factorized, ...)."""

    model_config = ConfigDict(extra="forbid")
    type: str = "learned-baseline"
    kwargs: dict[str, Any] = Field(default_factory=dict)


class ImageCodecKwargs(BaseModel):
    """The program's kwargs (validated; unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")
    model: ModelSpec = Field(default_factory=ModelSpec)
    lambdas: list[float] = Field(..., min_length=1)
    distortion: Literal["mse", "mse-yuv", "ms-ssim"] = "mse"
    data: DataSpec = Field(default_factory=DataSpec)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    init: str | None = Field(None, description="weights to start from (fine-tuning)")
    zoo_names: bool = Field(False, description="CompressAI models: name the exported files as "
                                               "the zoo does (<model>-<q>-<sha256[:8]>.pth.tar)")


# BT.601 full-range RGB -> YCbCr (the luma of psnr_y), rows Y, Cb, Cr.
_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))


def yuv_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample (6 MSE_Y + MSE_Cb + MSE_Cr) / 8: JVET's PSNR-YUV 6:1:1 weighting."""
    m = torch.tensor(_YCBCR, dtype=x.dtype, device=x.device)
    err = torch.einsum("oc,bchw->bohw", m, x_hat - x).pow(2).flatten(2).mean(2)
    return (6 * err[:, 0] + err[:, 1] + err[:, 2]) / 8


def rd_terms(out: dict[str, Any], x: torch.Tensor, distortion: str) -> tuple[torch.Tensor, ...]:
    """Per-sample (bpp, distortion, mse) of a forward pass on a batch (mse: RGB)."""
    n_pixels = x.shape[2] * x.shape[3]
    bpp = sum(torch.log(lik).flatten(1).sum(1) for lik in out["likelihoods"].values())
    bpp = bpp / (-math.log(2) * n_pixels)
    mse = ((out["x_hat"] - x) ** 2).flatten(1).mean(1)
    if distortion == "mse-yuv":
        dist = 255.0 ** 2 * yuv_mse(out["x_hat"], x)
    elif distortion == "ms-ssim":
        from pytorch_msssim import ms_ssim

        dist = 1 - ms_ssim(out["x_hat"].clamp(0, 1), x, data_range=1.0, size_average=False)
    else:
        dist = 255.0 ** 2 * mse
    return bpp, dist, mse


class ImageCodecProgram(TrainProgram):
    """Trains one variable-rate model or one model per lambda (see the module docstring)."""

    def __init__(self, recipe: Any, device: str = "cpu", **kwargs: Any):
        super().__init__(recipe, device, **kwargs)
        try:
            self.cfg = ImageCodecKwargs(**kwargs)
        except ValidationError as exc:  # a user error
            raise SpecError(f"image-codec program kwargs: {exc}") from None
        self.variable = self.cfg.model.type == "learned-baseline"

    # ---------------------------------------------------------------- set-up

    def setup(self) -> None:
        self.models = torch.nn.ModuleDict()
        if self.variable:
            from bench.models.learned_baseline import GainedMeanScaleHyperprior

            kwargs = {**self.cfg.model.kwargs, "lambdas": self.cfg.lambdas}
            self.models["vr"] = GainedMeanScaleHyperprior(**kwargs)
        else:
            from compressai.zoo.image import model_architectures

            arch = model_architectures.get(self.cfg.model.type)
            if arch is None:
                raise SpecError(f"image-codec: unknown model {self.cfg.model.type!r}; "
                                f"CompressAI architectures: {', '.join(model_architectures)}")
            for i, _ in enumerate(self.cfg.lambdas):
                self.models[f"q{i + 1}"] = arch(**self.cfg.model.kwargs)
        self.sampler = CropSampler(self.cfg.data)
        if self.variable and not self.cfg.init:  # data-dependent start (resume overrides it)
            self.models["vr"].calibrate(torch.cat([self.sampler.batch(0) for _ in range(4)]))
        if self.cfg.init:
            self._load_init(Path(self.cfg.init))
        self.models.to(self.device)
        self.held_out = eval_images(self.cfg.eval, self.cfg.data.width, self.cfg.data.height)

    def _load_init(self, path: Path) -> None:
        from bench.checkpoint import load_checkpoint

        payload = load_checkpoint(path)
        state = payload.get("state_dict", payload) if isinstance(payload, dict) else payload
        for model in self.models.values():
            model.load_state_dict({k: v.float() if v.is_floating_point() else v
                                   for k, v in state.items()})

    def modules(self) -> dict[str, Any]:
        # each model on its own, so CompressionModel.load_state_dict resizes the CDF buffers
        return dict(self.models.items())

    def _split(self) -> tuple[list, list]:
        main, aux = [], []
        for name, p in self.models.named_parameters():
            (aux if name.endswith(".quantiles") else main).append(p)
        return main, aux

    def parameters(self) -> list[Any]:
        return self._split()[0]

    def aux_parameters(self) -> list[Any]:
        return self._split()[1]

    # ---------------------------------------------------------------- loss

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        x = self.sampler.batch(step, self.device)
        lambdas = torch.tensor(self.cfg.lambdas, device=self.device)
        if self.variable:
            levels = torch.randint(0, len(self.cfg.lambdas), (x.shape[0],), device=self.device)
            out = self.models["vr"](x, levels)
            bpp, dist, mse = rd_terms(out, x, self.cfg.distortion)
            loss = (lambdas[levels] * dist + bpp).mean()
        else:
            loss, bpp_all, mse_all = 0.0, [], []
            for i, model in enumerate(self.models.values()):
                bpp, dist, mse = rd_terms(model(x), x, self.cfg.distortion)
                loss = loss + (lambdas[i] * dist + bpp).mean()
                bpp_all.append(bpp)
                mse_all.append(mse)
            bpp, mse = torch.cat(bpp_all), torch.cat(mse_all)
        psnr = (10 * torch.log10(1.0 / mse.detach().clamp_min(1e-10))).mean()
        return loss, {"bpp": float(bpp.detach().mean()), "psnr": float(psnr)}

    def aux_loss(self) -> torch.Tensor:
        return sum(m.aux_loss() for m in self.models.values())

    def state_dict(self) -> dict[str, Any]:
        return {"refreshed": self.sampler.refreshed}

    # ---------------------------------------------------------------- evaluation, export

    def _codecs(self) -> list[tuple[str, Any, Any]]:
        """(label, codec, point) per rate point, each codec holding its in-memory model."""
        from bench.types import RatePoint

        out = []
        for i, lmbda in enumerate(self.cfg.lambdas):
            if self.variable:
                from bench.codecs.learned_baseline import LearnedBaselineCodec

                codec, point = LearnedBaselineCodec(device=self.device), RatePoint("lambda", lmbda)
                model = self.models["vr"]
            else:
                from bench.codecs.compressai_codec import CompressAICodec

                codec = CompressAICodec(model=self.cfg.model.type, device=self.device)
                point, model = RatePoint("quality", i + 1), self.models[f"q{i + 1}"]
            codec.use_model(point, model)
            out.append((f"l{i + 1}", codec, point))
        return out

    def evaluate(self) -> dict[str, float]:
        """Real coding of the held-out images at every lambda: bpp, PSNR (RGB, Y)."""
        from bench.metrics.quality import psnr_rgb, psnr_y

        for model in self.models.values():
            model.update(force=True)
        results: dict[str, float] = {}
        for label, codec, point in self._codecs():
            bits = pixels = 0
            rgb, luma = [], []
            for img in self.held_out:
                bs = codec.encode(img, point)
                rec = codec.decode(bs)
                bits += bs.bits
                pixels += img.shape[0] * img.shape[1]
                rgb.append(psnr_rgb(img, rec))
                luma.append(psnr_y(img, rec))
            results[f"{label}/bpp"] = bits / pixels
            results[f"{label}/psnr_rgb"] = sum(rgb) / len(rgb)
            results[f"{label}/psnr_y"] = sum(luma) / len(luma)
        return results

    def export(self, path: Path) -> dict[str, Any]:
        """update(force=True), then a weights-only file per model (format + config + state)."""
        from bench.checkpoint import save_checkpoint

        written = []
        for i, (key, model) in enumerate(self.models.items()):
            model.update(force=True)
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            if self.variable:  # fp16 transforms (computed in fp32); entropy models kept fp32
                state = {k: v.half() if v.is_floating_point() and not k.startswith(
                    ("entropy_bottleneck", "gaussian_conditional")) else v
                    for k, v in state.items()}
                from bench.models.learned_baseline import WEIGHTS_FORMAT

                payload = {"format": WEIGHTS_FORMAT, "config": model.config(), "state_dict": state}
                target = path
            else:
                payload = {"format": "icm-bench/compressai/1", "architecture": self.cfg.model.type,
                           "config": dict(self.cfg.model.kwargs), "lambda": self.cfg.lambdas[i],
                           "state_dict": state}
                target = path.with_name(f"{path.stem}-{key}{path.suffix}")
            save_checkpoint(target, payload)
            if self.cfg.zoo_names and not self.variable:
                target = self._zoo_rename(target, i + 1)
            written.append(str(target))
        return {"files": written, "lambdas": self.cfg.lambdas, "data": describe(self.cfg.data),
                "distortion": self.cfg.distortion, "model": self.cfg.model.model_dump()}

    def _zoo_rename(self, path: Path, quality: int) -> Path:
        """Rename an export to CompressAI's zoo name, whose hash suffix the codec checks."""
        from bench.checkpoint import file_sha256
        from bench.codecs.compressai_codec import zoo_file_stem

        stem = zoo_file_stem(self.cfg.model.type, self.cfg.distortion, quality)
        if stem is None:
            raise SpecError(f"image-codec: CompressAI's zoo has no file name for "
                            f"{self.cfg.model.type} {self.cfg.distortion} quality {quality}")
        for old in path.parent.glob(f"{stem}-*.pth.tar"):
            old.unlink()  # a previous export of this quality
        target = path.with_name(f"{stem}-{file_sha256(path)[:8]}.pth.tar")
        path.rename(target)
        return target

    def card(self, summary: dict[str, Any]) -> str:
        """The generic card plus the measured RD points as a table."""
        from bench.train.card import generic_card

        text = generic_card(self.recipe, summary)
        ev = summary.get("evaluation") or {}
        rows = ["| point | lambda | bpp | PSNR-RGB (dB) | PSNR-Y (dB) |", "|---|---|---|---|---|"]
        for i, lmbda in enumerate(self.cfg.lambdas):
            key = f"l{i + 1}"
            if f"{key}/bpp" in ev:
                rows.append(f"| {key} | {lmbda:g} | {ev[key + '/bpp']:.4f} | "
                            f"{ev[key + '/psnr_rgb']:.2f} | {ev[key + '/psnr_y']:.2f} |")
        n = len(self.held_out)
        return (text + f"\n## RD points (real coding, {n} held-out images)\n\n"
                + "\n".join(rows) + "\n")
