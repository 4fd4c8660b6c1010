"""The identity codec: the uncompressed reference at 24 bpp."""

import numpy as np
import pytest

from bench.codecs.base import build_codec
from bench.errors import CodecError
from bench.types import Bitstream, RatePoint


def test_returns_the_image_unchanged_at_24_bpp():
    image = np.random.default_rng(0).integers(0, 256, (7, 11, 3)).astype(np.uint8)
    codec = build_codec("identity")
    bitstream = codec.encode(image, RatePoint("none", 0))
    assert bitstream.bits == 24 * 7 * 11
    assert bitstream.data == image.tobytes()
    assert bitstream.meta == {"width": 11, "height": 7}
    recon = codec.decode(bitstream)
    assert recon.dtype == np.uint8 and np.array_equal(recon, image)
    recon[0, 0] = 0  # a copy, not a view of the bitstream
    assert codec.params() == {} and codec.version().startswith("identity")


def test_rejects_bad_input():
    codec = build_codec("identity")
    with pytest.raises(CodecError, match="uint8"):
        codec.encode(np.zeros((4, 4, 3), np.float32), RatePoint("none", 0))
    with pytest.raises(CodecError, match="expected 48"):
        codec.decode(Bitstream.single(b"\0" * 47, width=4, height=4))
