"""MVSFC-Net as a stereo feature codec (`mvsfc`): the stereo split in, one joint stream out.

Input and output are the stereo 3D task's `stereo` split (left/f0..f2, right/f0..f2).
A rate point is a trained rate index of the model's gain units (0 = the smallest sigma,
the highest rate; a fractional value interpolates between neighbours, carried in the
stream to 1/1000).
The bitstream holds everything the decoder needs (format, rate, the three level sizes,
the hyper-latent and latent strings); a model without contextual transforms and
cross-view context (the ablation) still sends one stream per pair, made of two
independently decodable halves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from bench.codecs.base import Codec, CodecConfig
from bench.errors import CodecError, SpecError
from bench.types import Bitstream, RatePoint

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "models" / "weights"
VERSION = "1"


def resolve_weights(weights: str) -> Path:
    """A bare file name refers to bench/models/weights; anything else is a path."""
    path = Path(weights).expanduser()
    return WEIGHTS_DIR / path if path.parent == Path(".") and not path.is_file() else path


class MvsfcCodecConfig(CodecConfig):
    """Options of the `mvsfc` codec."""

    weights: str = Field("mvsfc.pt", description="weights file (a bare name: in "
                         "bench/models/weights; mvsfc-ablation.pt is the ablation)")
    device: str = Field("cpu", description="where the transforms run (rANS is on the CPU)")
    runtime_fields: ClassVar[tuple[str, ...]] = ("device",)


class MvsfcCodec(Codec):
    """Joint compression of stereo multi-scale features (Jin et al., arXiv 2502.14190)."""

    Config = MvsfcCodecConfig
    name = "mvsfc"
    input_kind = "stereo-features"
    output_kind = "stereo-features"
    point_kind = "rate"
    warmup_items = 1

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.path = resolve_weights(self.config.weights)
        self._net: Any = None

    def check(self) -> None:
        if not self.path.is_file():
            raise CodecError(f"mvsfc weights {str(self.path)!r} do not exist; train them with "
                             "`icm-bench train mvsfc` (or mvsfc-ablation)")

    def net(self) -> Any:
        if self._net is None:
            self.check()
            from bench.checkpoint import CheckpointError
            from bench.models.mvsfc.weights import load_weights

            try:
                self._net, _ = load_weights(self.path, self.device)
            except (CheckpointError, KeyError, RuntimeError, ValueError) as exc:
                raise CodecError(f"cannot load mvsfc weights {str(self.path)!r}: {exc}") from None
        return self._net

    def check_point(self, point: RatePoint) -> None:
        n_rates = self.net().cfg.n_rates
        top = max(n_rates - 1, 0)
        value = point.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= top:
            raise SpecError(f"mvsfc rate points are numbers in [0, {top}] (the trained rate "
                            f"indices of {self.path.name}); got {value!r}")

    def _rate(self, point: RatePoint) -> float | None:
        from bench.codecs.mvsfc_stream import quantize_rate

        self.check_point(point)
        return quantize_rate(point.value) if self.net().cfg.n_rates else None

    def encode(self, payload: dict[str, np.ndarray], point: RatePoint) -> Bitstream:
        import torch

        from bench.codecs.mvsfc_stream import to_bytes
        from bench.models.mvsfc.training import split_views

        net = self.net()
        try:
            left, right = split_views({k: torch.from_numpy(np.ascontiguousarray(
                v, dtype=np.float32))[None].to(self.device) for k, v in payload.items()})
        except KeyError as exc:
            raise CodecError(f"mvsfc codes the stereo split: {exc.args[0]}") from None
        channels = tuple(t.shape[1] for t in left)
        if channels != tuple(net.cfg.feature_channels):
            raise CodecError(f"mvsfc weights {self.path.name} code features of "
                             f"{net.cfg.feature_channels} channels, got {channels}")
        return Bitstream.single(to_bytes(net.compress(left, right, rate=self._rate(point))))

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> dict[str, np.ndarray]:
        from bench.codecs.mvsfc_stream import from_bytes
        from bench.models.mvsfc.training import join_views

        self.check_layers(layers)
        try:
            comp = from_bytes(bitstream.layers["main"])
        except (KeyError, ValueError) as exc:
            raise CodecError(f"mvsfc: bad bitstream ({exc})") from None
        out = self.net().decompress(**comp)
        return {k: v[0].float().cpu().numpy() for k, v in join_views(out["left"],
                                                                      out["right"]).items()}

    def version(self, point: RatePoint | None = None) -> str:
        from bench.checkpoint import file_sha256

        digest = file_sha256(self.path)[:12] if self.path.is_file() else "missing"
        return f"mvsfc {VERSION} weights {self.path.name}:{digest}"
