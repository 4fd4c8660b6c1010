"""No coding: the uncompressed reference (plotted as a horizontal accuracy line)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.codecs.base import Codec
from bench.codecs.yuv import check_rgb
from bench.errors import CodecError
from bench.types import Bitstream, RatePoint


class IdentityCodec(Codec):
    """Returns the image unchanged.

    Its bitstream is the raw RGB samples (3 bytes per pixel, row-major), so the rate is
    the uncompressed 24 bpp. The size travels in `Bitstream.meta` (known to a receiver
    of uncompressed video). It has no rate knob: any rate point is accepted and ignored.
    """

    name = "identity"
    point_kind = "none"

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        image = check_rgb(payload)
        return Bitstream.single(image.tobytes(), width=image.shape[1], height=image.shape[0])

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> np.ndarray:
        width, height = int(bitstream.meta["width"]), int(bitstream.meta["height"])
        data = bitstream.data
        if len(data) != width * height * 3:
            raise CodecError(
                f"identity bitstream has {len(data)} bytes, expected {width * height * 3} "
                f"for {width}x{height} RGB"
            )
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3).copy()

    def version(self, point: RatePoint | None = None) -> str:
        return "identity 1 (raw RGB, 24 bpp)"
