"""ffmpeg_base's conversions: one-call decodes equal the two-step anchor path; cached encodes."""

import subprocess

import numpy as np
import pytest

from bench.codecs import yuv
from bench.codecs.base import build_codec
from bench.codecs.ffmpeg_bin import ffmpeg_exe
from bench.codecs.yuv import read_y4m, restore_size, yuv420_to_rgb
from bench.errors import CodecError
from bench.types import RatePoint

FAST = {"vvenc": {"preset": "faster"}, "x265": {"preset": "ultrafast"}, "aom": {"cpu_used": 8}}
DEMUXER = {"vvenc": "vvc", "x265": "hevc", "aom": "obu"}


def textured(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    img[: h // 2] = np.cumsum(rng.integers(-3, 4, (h // 2, w, 3)), axis=1).clip(0, 255)
    return img


def two_step_decode(tmp_path, name: str, data: bytes, width: int, height: int,
                    scale: int) -> np.ndarray:
    """The anchor recipe's decode as separate steps: 10-bit 4:2:0 file, then RGB, then size."""
    exe = ffmpeg_exe()
    src, out = tmp_path / "a.bin", tmp_path / "a.y4m"
    src.write_bytes(data)
    subprocess.run([exe, "-v", "error", "-f", DEMUXER[name], "-i", str(src), "-strict", "-1",
                    "-pix_fmt", "yuv420p10le", "-f", "yuv4mpegpipe", "-y", str(out)], check=True)
    (y, u, v), depth = read_y4m(out)
    rgb = yuv420_to_rgb(y, u, v, exe, bitdepth=depth)
    return restore_size(rgb, width, height, exe, scale=scale)


@pytest.mark.parametrize("name,h,w,scale", [
    ("vvenc", 37, 53, 100), ("vvenc", 48, 64, 50), ("x265", 61, 77, 75), ("x265", 96, 128, 25),
    ("aom", 37, 53, 100), ("x265", 48, 64, 100),
])
def test_one_call_decode_equals_the_two_step_path(tmp_path, name, h, w, scale):
    image = textured(h, w, seed=h + w)
    codec = build_codec(name, {**FAST[name], "scale": scale})
    bitstream = codec.encode(image, RatePoint("qp", 32))
    got = codec.decode(bitstream)
    assert got.shape == image.shape and got.dtype == np.uint8
    assert np.array_equal(got, two_step_decode(tmp_path, name, bitstream.data, w, h, scale))


def test_encode_reuses_the_cached_conversion(monkeypatch):
    yuv.CONVERSION_CACHE.clear()
    image = textured(32, 48, seed=1)
    codec = build_codec("x265", FAST["x265"])
    calls = []
    real = yuv._rgb_to_yuv420
    monkeypatch.setattr(yuv, "_rgb_to_yuv420", lambda *a: calls.append(1) or real(*a))
    first = codec.encode(image, RatePoint("qp", 27)).data
    again = codec.encode(image.copy(), RatePoint("qp", 27)).data
    codec.encode(image, RatePoint("qp", 37))
    assert len(calls) == 1 and first == again
    other = image.copy()
    other[0, 0, 0] ^= 1
    codec.encode(other, RatePoint("qp", 27))
    assert len(calls) == 2  # a changed pixel is a new image


def test_decode_of_a_wrong_size_stream_is_refused():
    codec = build_codec("x265", FAST["x265"])
    bitstream = codec.encode(textured(32, 48, seed=2), RatePoint("qp", 32))
    bitstream.meta["width"] = 64  # claims another original size
    with pytest.raises(CodecError, match="RGB bytes"):
        codec.decode(bitstream)
