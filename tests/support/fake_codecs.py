"""Test-only codecs: real bytes without ffmpeg, and one that fails like a broken binary."""

from __future__ import annotations

import sys
import zlib

import numpy as np

from bench.codecs.base import Codec, CodecConfig, ExternalCodec
from bench.types import Bitstream, RatePoint


class QuantZlibCodec(Codec):
    """Uniform quantisation with step = point, then zlib: rate falls as the step rises."""

    point_kind = "step"

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        step = int(point.value)
        h, w, _ = payload.shape
        q = (payload.astype(np.int32) // step).astype(np.uint8)
        header = np.array([h, w, step], dtype=np.uint16).tobytes()
        return Bitstream.single(header + zlib.compress(q.tobytes(), 9))

    def decode(self, bitstream: Bitstream, layers=None, target=None) -> np.ndarray:
        data = bitstream.data
        h, w, step = (int(x) for x in np.frombuffer(data[:6], dtype=np.uint16))
        q = np.frombuffer(zlib.decompress(data[6:]), dtype=np.uint8).reshape(h, w, 3)
        rec = q.astype(np.int32) * step + step // 2
        return np.clip(rec, 0, 255).astype(np.uint8)

    def version(self, point: RatePoint | None = None) -> str:
        return "quantzlib-1"


class FailingConfig(CodecConfig):
    fail_at: list[int] = []


class FailingCodec(ExternalCodec):
    """Runs a real process that exits 3 with a message at the rate points in `fail_at`."""

    Config = FailingConfig
    point_kind = "step"

    def __init__(self, **params):
        super().__init__(**params)
        self._inner = QuantZlibCodec()

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        if int(point.value) in self.config.fail_at:
            self.run([sys.executable, "-c", "import sys; sys.stderr.write('encoder exploded'); sys.exit(3)"],
                     what="failing encoder")
        return self._inner.encode(payload, point)

    def decode(self, bitstream: Bitstream, layers=None, target=None) -> np.ndarray:
        return self._inner.decode(bitstream)

    def version(self, point: RatePoint | None = None) -> str:
        return "failing-1"


class DeviceConfig(CodecConfig):
    runtime_fields = ("device",)
    device: str = "accel"


class DeviceCodec(QuantZlibCodec):
    """QuantZlibCodec that says it computes on an accelerator (`device`), for routing tests."""

    Config = DeviceConfig
