"""`mfcnet`: MFCNet/BFCNet (Liu et al., ICASSP 2023) on a detector's FPN features (split "fpn").

Features in, features out: P2..P5 of one image are coded into one byte string (header
with the level sizes, the rate index and each normalisation group's float16 min/max,
then the strings of every coded path); P2 is not in it: FineNet predicts it from the
decoded P3 at the decoder. The task head recomputes P6 = max-pool(P5). A point is a
rate index of the variable-rate model (0 = lowest rate). Variants (`variant`): the
method, `no-predict` (P2 coded by its own path) and `no-cross` (each level on its own);
their weights files (bench/models/weights/mfcnet-small*.pt) share modules with the
method's file. See bench/models/mfcnet.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bench.codecs.base import CodecConfig
from bench.codecs.learned import LearnedCodec, LearnedCodecConfig
from bench.errors import CodecError, SpecError
from bench.types import Bitstream, RatePoint

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "weights"
DEFAULT_WEIGHTS = {"mfcnet": "mfcnet-small.pt", "no-predict": "mfcnet-small-no-predict.pt",
                   "no-cross": "mfcnet-small-no-cross.pt"}
LEVELS = ("p2", "p3", "p4", "p5")


class MfcNetCodecConfig(LearnedCodecConfig):
    """`variant` picks the default weights file; `weights` names another one."""

    variant: Literal["mfcnet", "no-predict", "no-cross"] = "mfcnet"
    weights: str | None = None


class MfcNetCodec(LearnedCodec):
    """MFCNet behind the codec contract (features in, features out, one layer)."""

    Config: ClassVar[type[CodecConfig]] = MfcNetCodecConfig
    name = "mfcnet"
    model_name = "mfcnet"
    input_kind = "features"
    output_kind = "features"
    point_kind = "quality"
    entropy_split = False  # the AR loop calls rANS directly: no transform/entropy split

    def weights_path(self) -> Path:
        """The configured weights file, or the variant's committed one."""
        if self.config.weights:
            return Path(self.config.weights).expanduser()
        return WEIGHTS_DIR / DEFAULT_WEIGHTS[self.config.variant]

    def model_key(self, point: RatePoint) -> str:
        return "variable-rate"

    def checkpoint_path(self, point: RatePoint) -> Path:
        return self.weights_path()

    def _all_checkpoints(self) -> list[Path]:
        return [self.weights_path()]

    def version_prefix(self) -> str:
        return f"{self.name} {self.config.variant}"

    def check(self) -> None:
        path = self.weights_path()
        if not path.is_file():
            raise CodecError(f"codec {self.name!r}: weights {str(path)!r} do not exist (train "
                             "them with the mfcnet recipes, see bench/models/mfcnet.md)")

    def check_point(self, point: RatePoint) -> None:
        super().check_point(point)
        value = point.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or value < 0:
            raise SpecError(f"codec {self.name!r}: a point is a rate index 0, 1, ... "
                            f"(got {point.label})")

    def build_model(self, point: RatePoint, state: Any) -> Any:
        from bench.models.mfcnet.weights import load_mfcnet

        model = load_mfcnet(self.weights_path())
        if model.config.name.split("-", 1)[-1] != self.config.variant:
            raise CodecError(f"codec {self.name!r}: {self.weights_path().name} holds "
                             f"{model.config.name}, not the {self.config.variant} variant")
        return model

    def load_state(self, path: Path) -> Any:
        return None  # build_model reads the file (and its base) itself

    def _index(self, model: Any, point: RatePoint) -> int | None:
        n = model.config.n_rates
        value = int(point.value)
        if value >= max(1, n):
            raise CodecError(f"codec {self.name!r}: point {point.label} is outside the model's "
                             f"rate indices 0..{max(1, n) - 1}")
        return value if n else None

    def encode(self, payload: dict[str, np.ndarray], point: RatePoint) -> Bitstream:
        """P2..P5 -> one byte string (header and every coded path)."""
        import torch

        missing = [lv for lv in LEVELS if lv not in payload]
        if missing:
            raise CodecError(f"codec {self.name!r} codes the fpn split's {', '.join(LEVELS)}; "
                             f"missing {missing}")
        model = self.model_for(point)
        index = self._index(model, point)
        feats = {lv: torch.from_numpy(np.ascontiguousarray(payload[lv], dtype=np.float32))
                 for lv in LEVELS}
        try:
            data = self._timed("encode", model, lambda: model.compress(feats, index))
        except ValueError as exc:
            raise CodecError(f"codec {self.name!r}: {exc}") from None
        if self.config.parity:
            timing = dict(self.last_timing)
            self._parity[_digest(data)] = _features_digest(self._reconstruct_features(data))
            self.last_timing = timing
        return Bitstream.single(data)

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> dict[str, np.ndarray]:
        """One byte string -> P2..P5 (float32 C x H x W); P6 is the head's business."""
        self.check_layers(layers)
        data = bitstream.data
        feats = self._reconstruct_features(data)
        expected = self._parity.pop(_digest(data), None) if self.config.parity else None
        if expected is not None and expected != _features_digest(feats):
            raise CodecError(f"codec {self.name!r}: parity check failed: the decoder's "
                             f"features on {self.device} differ from the encoder's")
        return feats

    def _reconstruct_features(self, data: bytes) -> dict[str, np.ndarray]:
        from bench.models.mfcnet.stream import StreamError

        model = self.model_for(RatePoint(self.point_kind, 0))
        try:
            out = self._timed("decode", model, lambda: model.decompress(data))
        except StreamError as exc:
            raise CodecError(f"codec {self.name!r}: {exc}") from None
        return {lv: out[lv].to("cpu").numpy().astype(np.float32) for lv in LEVELS}


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _features_digest(feats: dict[str, np.ndarray]) -> bytes:
    h = hashlib.sha256()
    for lv in LEVELS:
        h.update(np.ascontiguousarray(feats[lv]).tobytes())
    return h.digest()
