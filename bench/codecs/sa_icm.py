"""SA-ICM with a feature fusion network: a scalable codec for machines and humans.

`sa-icm` (`SaIcmCodec`) writes two layers. "base" is SA-ICM's stream (LIC-TCM trained
with a mask-weighted distortion): decoded alone (`layers=["base"]`) it gives the machine
view. "enhancement" is the additional-information codec's stream, coded without the
base; decoding it needs the decoded base latent, fused with its own latent and mapped
to the human view by its g_s. Each layer's bytes are in `Bitstream.layers` once; the
base layer carries the header (image size, point, z's shape) that both layers use.

Two comparison codecs share the weights: `SaIcmMseCodec` (the MSE-trained network of
the base's size, one layer) and `SaIcmSimulcastCodec` (the SA-ICM base layer plus the
MSE codec's full stream as a second, independent layer: both rates count).

Points are quality indices 1..K (K = the rate points of the variable-rate weights);
point q codes the base and the enhancement at rate index q - 1 (a single-rate base, as
in the paper, codes every point at its one rate).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from bench.codecs.base import CodecConfig
from bench.codecs.learned import LearnedCodec
from bench.codecs.learned_io import pack_streams, unpack_streams
from bench.errors import CodecError, SpecError
from bench.types import Bitstream, RatePoint


class SaIcmCodecConfig(CodecConfig):
    """Options of the SA-ICM codecs.

    `base`, `enhancement` and `mse` are weights files; unset, the committed ones
    (bench/models/weights/sa-icm-base.pt, sa-icm-enh-m<m>[-learned].pt, sa-icm-mse.pt).
    `m`, `fusion` and `variant` choose the committed enhancement file. `send: base` makes `sa-icm`
    write only the base layer, so that a single-task run measures the machine view
    against the base layer's rate.
    """

    device: str = "cpu"
    base: str | None = None
    enhancement: str | None = None
    mse: str | None = None
    m: int = Field(4, ge=1, le=5)
    fusion: Literal["add", "learned"] = "add"
    variant: str = Field("", pattern=r"^[a-z0-9]*$",
                         description="committed enhancement variant ('short': m ablation)")
    send: Literal["all", "base"] = Field(
        "all", description="sa-icm: 'base' encodes the base layer only (a machine-only "
                           "receiver: the rate is the base layer's)")
    parity: bool = False

    runtime_fields: ClassVar[tuple[str, ...]] = ("parity",)


class _SaIcmCodecBase(LearnedCodec):
    """Shared parts: quality points, weights files, loading, layer checks."""

    Config = SaIcmCodecConfig
    point_kind = "quality"
    entropy_split = False  # y's slices are rANS-coded inside the autoregressive loop
    roles: ClassVar[tuple[str, ...]] = ()

    def model_key(self, point: RatePoint) -> str:
        return "variable-rate"

    def weights_path(self, role: str) -> Path:
        """The weights file of `role` (the configured one, or the committed default)."""
        from bench.models.sa_icm.weights import default_path

        given = getattr(self.config, "enhancement" if role == "enhancement" else role)
        if given:
            return Path(given).expanduser()
        return default_path(role, self.config.m, self.config.fusion, self.config.variant)

    def _all_checkpoints(self) -> list[Path]:
        return [self.weights_path(role) for role in self.roles]

    def checkpoint_path(self, point: RatePoint) -> Path | None:
        return None  # build_model reads every file of `roles` itself

    def version_prefix(self) -> str:
        return f"{self.name} m{self.config.m} {self.config.fusion}{self.config.variant}"

    def version(self, point: RatePoint | None = None) -> str:
        from bench.checkpoint import file_sha256

        paths = self._all_checkpoints()
        digests = [file_sha256(p)[:12] if p.is_file() else "missing" for p in paths]
        return f"{self.version_prefix()} sha256:{','.join(digests)}"

    def check(self) -> None:
        for path in self._all_checkpoints():
            if not path.is_file():
                raise CodecError(f"codec {self.name!r}: weights file {str(path)!r} does not "
                                 "exist (train it: icm-bench train sa-icm-base / sa-icm-mse / "
                                 "sa-icm-enh-m<m>)")

    def check_point(self, point: RatePoint) -> None:
        if point.kind != self.point_kind:
            raise SpecError(f"codec {self.name!r} takes quality points, not {point.kind}")
        if not isinstance(point.value, int) or isinstance(point.value, bool) or point.value < 1:
            raise SpecError(f"codec {self.name!r}: quality points are integers 1..K "
                            f"(the weights' rate points), got {point.value!r}")

    def _load(self, role: str) -> tuple[Any, Any, dict]:
        from bench.checkpoint import CheckpointError
        from bench.models.sa_icm.weights import load_network

        try:
            return load_network(self.weights_path(role), role)
        except (CheckpointError, ValueError) as exc:
            raise CodecError(f"codec {self.name!r}: {self.weights_path(role)}: {exc}") from None

    def rate_index(self, point: RatePoint, model: Any) -> int:
        """The 0-based rate index of `point`; CodecError beyond the weights' points."""
        self.check_point(point)
        rates = int(getattr(model, "rates", 0))
        if point.value > rates:
            raise CodecError(f"codec {self.name!r}: quality {point.value} is beyond the "
                             f"weights' {rates} rate points")
        return int(point.value) - 1

    def _encode_tensor(self, payload: np.ndarray, model: Any) -> Any:
        return self.image_to_tensor(payload, self.multiple(model))


def _rates(net: Any) -> int:
    return net.gains.rates if net.gains is not None else 1


class SaIcmCodec(_SaIcmCodecBase):
    """SA-ICM base layer (machines) + additional-information enhancement layer (humans)."""

    name = "sa-icm"
    model_name = "sa-icm"
    layers = ("base", "enhancement")
    roles = ("base", "enhancement")

    def _all_checkpoints(self) -> list[Path]:
        roles = ("base",) if self.config.send == "base" else self.roles
        return [self.weights_path(role) for role in roles]

    def version_prefix(self) -> str:
        if self.config.send == "base":
            return f"{self.name} base-only"
        return super().version_prefix()

    def build_model(self, point: RatePoint, state: Any) -> Any:
        from bench.checkpoint import file_sha256
        from bench.models.sa_icm.scalable import BaseLayerOnly, ScalableSaIcm

        base, _, _ = self._load("base")
        if self.config.send == "base":  # a machine-only sender: the enhancement is not needed
            model = BaseLayerOnly(base)
            model.rates = _rates(base)
            return model
        enhancement, cfg, payload = self._load("enhancement")
        trained_on = payload.get("base_sha256")
        actual = file_sha256(self.weights_path("base"))
        if trained_on and trained_on != actual:
            raise CodecError(f"codec {self.name!r}: the enhancement weights were trained "
                             f"against base weights sha256:{trained_on[:12]}, not "
                             f"{self.weights_path('base')} (sha256:{actual[:12]})")
        model = ScalableSaIcm(cfg, base=base, enhancement=enhancement)
        # A single-rate base (the paper's) serves every enhancement rate point.
        model.rates = (_rates(enhancement) if base.gains is None
                       else min(_rates(base), _rates(enhancement)))
        return model

    def _base_index(self, model: Any, q: int) -> int | None:
        return None if model.base.gains is None else q

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        model = self.model_for(point)
        q = self.rate_index(point, model)
        x = self._encode_tensor(payload, model)
        qb = self._base_index(model, q)
        if self.config.send == "base":
            out = {"base": self._timed("encode", model, lambda: model.base.compress(x, qb))}
        else:
            out = self._timed("encode", model, lambda: model.compress(x, qb, q))
        size = (payload.shape[0], payload.shape[1])
        layers = {"base": self.pack(size, point, out["base"]["strings"], out["base"]["shape"])}
        if "enhancement" in out:
            layers["enhancement"] = pack_streams([], [s[0] for s in out["enhancement"]["strings"]])
        return Bitstream(layers=layers)

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> np.ndarray:
        wanted = self.check_layers(layers)
        if layers is None:  # every layer the bitstream holds (a base-only stream: the base)
            wanted = tuple(n for n in self.layers if n in bitstream.layers) or wanted
        if "base" not in wanted or "base" not in bitstream.layers:
            raise CodecError(
                f"codec {self.name!r}: the enhancement layer cannot be decoded without the "
                "base layer (it refines the decoded base latent); decode layers [base] for "
                "the machine view or [base, enhancement] for the human view")
        size, point, strings, shape = self.unpack(bitstream.layers["base"])
        model = self.model_for(point)
        q = self.rate_index(point, model)
        qb = self._base_index(model, q)
        base = {"strings": strings, "shape": shape}
        if "enhancement" not in wanted:
            out = self._timed("decode", model, lambda: model.decompress_base(strings, shape, qb))
        else:
            if self.config.send == "base":
                raise CodecError(f"codec {self.name!r} with send: base decodes the base "
                                 "layer only")
            if "enhancement" not in bitstream.layers:
                raise CodecError(f"codec {self.name!r}: the enhancement layer's bytes are "
                                 "missing from this bitstream")
            _, streams = unpack_streams(bitstream.layers["enhancement"])
            if len(streams) != 2:
                raise CodecError(f"codec {self.name!r}: the enhancement layer holds "
                                 f"{len(streams)} streams, not 2 (y, z)")
            enh = {"strings": [[streams[0]], [streams[1]]], "shape": shape}
            out = self._timed("decode", model,
                              lambda: model.decompress_human(base, enh, qb, q))
        return self.tensor_to_image(out["x_hat"], size, self.multiple(model))


class SaIcmMseCodec(_SaIcmCodecBase):
    """The MSE-trained network of the SA-ICM base's size: the learned baseline (one layer)."""

    name = "sa-icm-mse"
    model_name = "lic-tcm-mse"
    roles = ("mse",)

    def version_prefix(self) -> str:
        return f"{self.name}"

    def build_model(self, point: RatePoint, state: Any) -> Any:
        net, _, _ = self._load("mse")
        net.rates = _rates(net)
        return net

    def coding_kwargs(self, point: RatePoint) -> dict[str, Any]:
        return {"q": self.rate_index(point, self.model_for(point))}


class SaIcmSimulcastCodec(_SaIcmCodecBase):
    """Simulcast: the SA-ICM base layer and, independently, the MSE codec's stream."""

    name = "sa-icm-simulcast"
    model_name = "sa-icm+lic-tcm-mse"
    layers = ("base", "enhancement")
    roles = ("base", "mse")

    def version_prefix(self) -> str:
        return f"{self.name}"

    def build_model(self, point: RatePoint, state: Any) -> Any:
        from torch import nn

        base, _, _ = self._load("base")
        mse, _, _ = self._load("mse")
        pair = nn.ModuleDict({"base": base, "mse": mse})
        pair.rates = _rates(mse) if base.gains is None else min(_rates(base), _rates(mse))
        pair.pad_multiple = max(base.pad_multiple, mse.pad_multiple)
        return pair

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        model = self.model_for(point)
        q = self.rate_index(point, model)
        x = self._encode_tensor(payload, model)
        size = (payload.shape[0], payload.shape[1])
        qb = None if model["base"].gains is None else q
        out = self._timed("encode", model, lambda: {"base": model["base"].compress(x, qb),
                                                    "mse": model["mse"].compress(x, q)})
        return Bitstream(layers={
            "base": self.pack(size, point, out["base"]["strings"], out["base"]["shape"]),
            "enhancement": self.pack(size, point, out["mse"]["strings"], out["mse"]["shape"]),
        })

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> np.ndarray:
        wanted = self.check_layers(layers)
        key, role = ("enhancement", "mse") if "enhancement" in wanted else ("base", "base")
        if key not in bitstream.layers:
            raise CodecError(f"codec {self.name!r}: the {key} layer's bytes are missing")
        size, point, strings, shape = self.unpack(bitstream.layers[key])
        model = self.model_for(point)
        q = self.rate_index(point, model)
        if model[role].gains is None:
            q = None
        out = self._timed("decode", model, lambda: model[role].decompress(strings, shape, q))
        return self.tensor_to_image(out["x_hat"], size, self.multiple(model))
