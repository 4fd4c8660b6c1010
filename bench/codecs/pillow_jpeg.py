"""`jpeg`: baseline JPEG with libjpeg(-turbo) through Pillow, quality 1..100.

The JPEG curve CompressAI and most papers publish: `Image.save(f, "JPEG", quality=q)`
with Pillow's defaults (4:2:0 chroma subsampling, the IJG quality scaling of the
standard tables, Huffman tables of the standard, no optimisation), decoded by
`Image.open`. libjpeg converts RGB to full-range YCbCr (JFIF) itself. The rate is the
whole JPEG file (markers, quantisation and Huffman tables included). ffmpeg's mjpeg
encoder, with its quantiser scale 2..31, is the `mjpeg` codec (bench.codecs.ffmpeg).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from bench.codecs.base import Codec, CodecConfig, CodecParamError
from bench.codecs.yuv import check_rgb
from bench.errors import CodecError
from bench.types import Bitstream, RatePoint

# Pillow's names for libjpeg's sampling factors.
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
# Bump when this wrapper changes what it writes (enters the version, so the job keys).
WRAPPER_VERSION = 1


class PillowJpegConfig(CodecConfig):
    """Chroma subsampling (4:2:0 as published curves), Huffman optimisation, progressive."""

    subsampling: Literal["4:2:0", "4:2:2", "4:4:4"] = "4:2:0"
    optimize: bool = Field(False, description="optimised Huffman tables (Pillow's default: off)")
    progressive: bool = False


class PillowJpegCodec(Codec):
    """Baseline JPEG (libjpeg through Pillow), quality 1 (worst) .. 100 (best)."""

    Config: ClassVar[type[CodecConfig]] = PillowJpegConfig
    name = "jpeg"
    point_kind = "quality"
    point_range = (1, 100)

    @property
    def chroma(self) -> str:
        """The chroma format the codec codes."""
        return f"YCbCr {self.config.subsampling} 8-bit full range (JFIF)"

    def describe(self) -> str:
        """One line: implementation and settings."""
        c = self.config
        extras = [k for k in ("optimize", "progressive") if getattr(c, k)]
        more = f", {' + '.join(extras)}" if extras else ""
        return (f"JPEG: {_libjpeg_version()} via Pillow {_pillow_version()}, "
                f"quality 1..100, {c.subsampling}{more}")

    def check_point(self, point: RatePoint) -> None:
        """SpecError unless the point is a quality 1..100 (an integer)."""
        self.quality(point)

    def quality(self, point: RatePoint) -> int:
        """The validated quality of `point`."""
        if point.kind != self.point_kind:
            raise CodecParamError(f"jpeg takes rate points of kind 'quality' (1..100), got "
                                  f"{point.label}")
        value = point.value
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and float(value).is_integer() and 1 <= value <= 100)
        if not ok:
            raise CodecParamError(f"jpeg: quality must be an integer in 1..100, got {value!r}")
        return int(value)

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        """One RGB image -> a JPEG file (the whole file is the bitstream)."""
        from PIL import Image

        image = check_rgb(payload)
        quality = self.quality(point)
        buf = io.BytesIO()
        Image.fromarray(image, "RGB").save(
            buf, format="JPEG", quality=quality, subsampling=SUBSAMPLING[self.config.subsampling],
            optimize=self.config.optimize, progressive=self.config.progressive)
        return Bitstream.single(buf.getvalue(), width=image.shape[1], height=image.shape[0])

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> np.ndarray:
        """A JPEG file -> H x W x 3 uint8 RGB."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(bitstream.data)) as img:
                if img.format != "JPEG":
                    raise CodecError(f"jpeg: the bitstream is a {img.format} file, not JPEG")
                rgb = np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise CodecError(f"jpeg: cannot decode the bitstream: {exc}") from exc
        expected = (bitstream.meta.get("height"), bitstream.meta.get("width"))
        if None not in expected and rgb.shape[:2] != tuple(int(v) for v in expected):
            raise CodecError(f"jpeg decoded {rgb.shape[1]}x{rgb.shape[0]}, expected "
                             f"{expected[1]}x{expected[0]}")
        return rgb.copy()

    def version(self, point: RatePoint | None = None) -> str:
        """E.g. 'Pillow 13.0.0 libjpeg-turbo 3.2.0 w1'."""
        return f"Pillow {_pillow_version()} {_libjpeg_version()} w{WRAPPER_VERSION}"

    def check(self) -> None:
        """CodecError when this Pillow was built without JPEG support."""
        from PIL import features

        if not features.check("jpg"):
            raise CodecError("Pillow was built without JPEG support (libjpeg); install a Pillow "
                             "wheel from PyPI")


def _pillow_version() -> str:
    import PIL

    return str(PIL.__version__)


def _libjpeg_version() -> str:
    """'libjpeg-turbo 3.2.0', else the libjpeg version Pillow reports ('libjpeg 9')."""
    from PIL import features

    turbo = features.version("libjpeg_turbo")
    return f"libjpeg-turbo {turbo}" if turbo else f"libjpeg {features.version('jpg')}"

