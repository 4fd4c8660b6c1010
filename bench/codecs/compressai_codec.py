"""`compressai`: CompressAI's learned image codecs from local checkpoints.

Any architecture of CompressAI's model registry (bmshj2018-factorized, bmshj2018-hyperprior,
mbt2018-mean, mbt2018, cheng2020-anchor, cheng2020-attn, elic2022-official, ...) and the
variable-rate ones (bmshj2018-hyperprior-vbr, mbt2018-mean-vbr, mbt2018-vbr). Weights come
from local files only, never downloaded: `checkpoints: {POINT: path}` or `checkpoint_dir`
holding CompressAI's zoo file names (`bmshj2018-hyperprior-3-6d87be32.pth.tar`). A file
whose name ends in a hash (`-<hex>.pth.tar`) must have a sha256 starting with it, as
torch.hub checks. Loading is weights-only (bench.checkpoint refuses pickled code);
`update()` runs when the file has no CDFs. Points are quality indices (1..8) or, for the
variable-rate models, the lambdas of the model's `lmbda` list. The bitstream is compress()'s
strings plus the learned_io header (layout, height, width, point, latent shape).
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from bench.codecs.base import CodecConfig
from bench.codecs.learned import LearnedCodec, LearnedCodecConfig, _point_text, resolve_path
from bench.errors import CodecError, SpecError
from bench.types import RatePoint

VBR_MODELS = ("bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr", "mbt2018-vbr")
ALIASES = {"elic2022": "elic2022-official", "bmshj2018_factorized_relu": "bmshj2018-factorized-relu"}
AUTOREGRESSIVE = ("mbt2018", "mbt2018-vbr", "cheng2020-anchor", "cheng2020-attn")
_HASH_NAME = re.compile(r"-([0-9a-f]{6,64})\.(?:pth\.tar|pth|pt|tar)$")


class CompressAIConfig(LearnedCodecConfig):
    """`model`: a CompressAI registry name; `metric`: which zoo files `checkpoint_dir` holds;
    `arch_kwargs`: build arguments when `from_state_dict` cannot infer them (ELIC's M)."""

    model: str = "bmshj2018-hyperprior"
    metric: Literal["mse", "ms-ssim"] = "mse"
    arch_kwargs: dict[str, Any] = Field(default_factory=dict)
    pad_multiple: int | None = Field(None, ge=1, description="default 64, as CompressAI's eval")


def architecture_names() -> list[str]:
    """CompressAI's image model names (imports compressai)."""
    from compressai.registry import MODELS

    return sorted(n for n in MODELS if "pcc" not in n and n != "ssf2020")


def zoo_file_stem(model: str, metric: str, quality: int | None) -> str | None:
    """The zoo file name up to the hash (`bmshj2018-factorized-prior-3`), or None."""
    if model in VBR_MODELS:
        from compressai.zoo.image_vbr import model_urls
    else:
        from compressai.zoo.image import model_urls
    urls = model_urls.get(model, {}).get(metric)
    if urls is None:
        return None
    url = urls if isinstance(urls, str) else urls.get(int(quality or 0))
    if url is None:
        return None
    name = url.rsplit("/", 1)[-1]
    match = _HASH_NAME.search(name)
    return name[:match.start()] if match else None


def check_hash_name(path: Path) -> None:
    """CodecError when the file's name carries a hash prefix its sha256 does not start with."""
    from bench.checkpoint import file_sha256

    match = _HASH_NAME.search(path.name)
    if match and not file_sha256(path).startswith(match.group(1)):
        raise CodecError(f"checkpoint {str(path)!r}: its sha256 does not start with "
                         f"{match.group(1)!r} (its name's hash): the file is corrupt or renamed")


class CompressAICodec(LearnedCodec):
    """A CompressAI model per quality (or one variable-rate model), real bitstreams."""

    Config: ClassVar[type[CodecConfig]] = CompressAIConfig
    name = "compressai"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.arch = ALIASES.get(self.config.model, self.config.model)
        self.vbr = self.arch in VBR_MODELS
        self.point_kind = "lambda" if self.vbr else "quality"
        self.model_name = f"{self.arch} {self.config.metric}"
        self._scale: dict[str, float] = {}  # the scale each vbr model's CDFs were built for

    # ----------------------------------------------------------------- checkpoints

    def checkpoint_path(self, point: RatePoint) -> Path:
        key = "vbr" if self.vbr else _point_text(point.value)
        given = self.config.checkpoints.get(key) or (
            next(iter(self.config.checkpoints.values()), None) if self.vbr else None)
        if given:
            return resolve_path(given)
        if self.config.checkpoint_dir:
            found = self._zoo_file(None if self.vbr else int(float(point.value)))
            if found is not None:
                return found
        where = (f"in checkpoint_dir {self.config.checkpoint_dir!r} (zoo file names)"
                 if self.config.checkpoint_dir else "(give checkpoints or checkpoint_dir)")
        raise CodecError(f"codec 'compressai' ({self.arch}, {self.config.metric}): no checkpoint "
                         f"for point {point.label} {where}")

    def _zoo_file(self, quality: int | None) -> Path | None:
        stem = zoo_file_stem(self.arch, self.config.metric, quality)
        if stem is None:
            return None
        folder = resolve_path(self.config.checkpoint_dir)
        pattern = re.compile(re.escape(stem) + r"-[0-9a-f]{6,64}\.(?:pth\.tar|pth|pt|tar)")
        hits = sorted(p for p in folder.glob(f"{stem}-*") if pattern.fullmatch(p.name))
        return hits[0] if hits else None

    def _all_checkpoints(self) -> list[Path]:
        paths = [resolve_path(p) for p in self.config.checkpoints.values()]
        if self.config.checkpoint_dir and not paths:
            for q in ([None] if self.vbr else range(1, 9)):
                found = self._zoo_file(q)
                if found is not None:
                    paths.append(found)
        return paths

    def check(self) -> None:
        try:
            import compressai  # noqa: F401
        except ImportError as exc:
            raise CodecError(f"codec 'compressai' needs the compressai package: {exc}") from None
        if self.arch not in architecture_names():
            raise CodecError(f"codec 'compressai': unknown model {self.config.model!r}; "
                             f"CompressAI's models: {', '.join(architecture_names())}")
        if self.config.checkpoint_dir and not resolve_path(self.config.checkpoint_dir).is_dir():
            raise CodecError(f"codec 'compressai': checkpoint_dir "
                             f"{self.config.checkpoint_dir!r} does not exist")
        super().check()
        for path in self._all_checkpoints():
            check_hash_name(path)

    def check_point(self, point: RatePoint) -> None:
        if isinstance(point.value, bool) or not isinstance(point.value, (int, float)):
            raise SpecError(f"codec 'compressai': point {point.label!s} is not a number "
                            f"(a quality 1..8, or a lambda of a variable-rate model)")
        if not self.vbr and point.kind == "quality":
            value = float(point.value)
            if not value.is_integer() or not 1 <= value <= 8:
                raise SpecError(f"codec 'compressai': quality must be an integer 1..8, "
                                f"got {point.value}")
        super().check_point(point)  # kind, a checkpoint for the point, the file exists

    # ----------------------------------------------------------------- models

    def load_state(self, path: Path) -> Any:
        check_hash_name(path)
        state = super().load_state(path)
        if isinstance(state, dict):
            for key in ("network", "model_state_dict"):
                if isinstance(state.get(key), dict):
                    state = state[key]
        return state

    def build_model(self, point: RatePoint, state: Any) -> Any:
        from compressai.registry import MODELS
        from compressai.zoo.pretrained import load_pretrained

        if not isinstance(state, dict):
            raise CodecError(f"codec 'compressai': checkpoint of point {point.label} is not a "
                             "state dict")
        state = load_pretrained(state)
        arch = MODELS[self.arch]
        if self.config.arch_kwargs:
            model = arch(**self.config.arch_kwargs)
            model.load_state_dict(state)
        elif self.arch in VBR_MODELS[:2]:
            model = arch.from_state_dict(state, vr_entbttlnck=True)
        else:
            model = arch.from_state_dict(state)
        if self.arch == "mbt2018-vbr":
            model.scl2ctx = True  # as CompressAI's eval_model
        if self.vbr:
            model.update(force=True, scale=model.Gain[-1].detach().abs())
        return model

    def model_key(self, point: RatePoint) -> str:
        return "vbr" if self.vbr else _point_text(point.value)

    def multiple(self, model: Any) -> int:
        return int(self.config.pad_multiple or getattr(model, "pad_multiple", 64))

    def _vbr_index(self, point: RatePoint, model: Any) -> int:
        if point.kind == "vbr-index":
            return int(point.value)
        lambdas = [float(v) for v in model.lmbda]
        matches = [i for i, v in enumerate(lambdas) if abs(v - float(point.value)) <= 1e-9 * v]
        if not matches:
            raise CodecError(f"codec 'compressai' ({self.arch}): lambda {point.value} is not one "
                             f"of the model's: {', '.join(f'{v:g}' for v in lambdas)}")
        return matches[0]

    def coding_kwargs(self, point: RatePoint) -> dict[str, Any]:
        if not self.vbr:
            return {}
        model = self.model_for(point)
        scale = model.Gain[self._vbr_index(point, model)].detach().abs()
        if self._scale.get("vbr") != float(scale):
            import torch

            with torch.no_grad():
                if self.arch in VBR_MODELS[:2]:  # the z bottleneck's CDFs depend on the scale
                    model.update(force=True, scale=scale)
            self._scale["vbr"] = float(scale)
        return {"stage": 2, "s": 0, "inputscale": scale}

    def point_code(self, point: RatePoint) -> int:
        if self.vbr:
            return self._vbr_index(point, self.model_for(point))
        return super().point_code(point)

    def point_from_code(self, code: int) -> RatePoint:
        return RatePoint("vbr-index", int(code)) if self.vbr else RatePoint("quality", int(code))

    @property
    def entropy_split(self) -> bool:  # type: ignore[override]
        """Autoregressive models code y inside their context loop: no separate entropy time."""
        return self.arch not in AUTOREGRESSIVE

    def version_prefix(self) -> str:
        try:
            v = package_version("compressai")
        except PackageNotFoundError:
            v = "?"
        return f"compressai {v} {self.model_name}"
