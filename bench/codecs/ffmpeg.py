"""Image codecs through ffmpeg: VVC (libvvenc), HEVC (libx265), AV1 (libaom, SVT-AV1),
JPEG (mjpeg), WebP (libwebp), JPEG XL (libjxl).

Each class only says which encoder, decoder and formats it uses and how a rate point
becomes encoder options (`encoder_options`, a pure function); running, temporary
files, colour conversion and errors live once in bench.codecs.ffmpeg_base.
Bitstreams: raw Annex-B (VVC, HEVC), low-overhead OBU streams (AV1), and the JPEG,
WebP (RIFF container, counted) and JPEG XL codestream files.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from bench.codecs.base import CodecConfig
from bench.codecs.ffmpeg_base import (
    FfmpegCodec, FfmpegConfig, RgbFfmpegCodec, YuvFfmpegCodec, YuvFfmpegConfig,
)

__all__ = [
    "AomCodec", "FfmpegCodec", "JpegCodec", "JpegXlCodec", "SvtAv1Codec", "VvencCodec",
    "WebpCodec", "X265Codec",
]


class VvencConfig(YuvFfmpegConfig):
    preset: Literal["faster", "fast", "medium", "slow", "slower"] = "medium"


class X265Config(YuvFfmpegConfig):
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                    "slower", "veryslow", "placebo"] = "medium"
    tune: Literal["", "psnr", "ssim", "grain", "fastdecode", "zerolatency"] = "psnr"


class AomConfig(YuvFfmpegConfig):
    cpu_used: int = Field(6, ge=0, le=9, strict=True)
    usage: Literal["allintra", "good", "realtime"] = "allintra"


class SvtAv1Config(YuvFfmpegConfig):
    preset: int = Field(6, ge=-1, le=13, strict=True)


class WebpConfig(FfmpegConfig):
    method: int = Field(4, ge=0, le=6, strict=True)


class JpegXlConfig(FfmpegConfig):
    effort: int = Field(7, ge=1, le=9, strict=True)


class VvencCodec(YuvFfmpegCodec):
    """VVC intra with libvvenc (VVenC), the embedded stand-in for the VTM image anchor.

    A VVC encoder, not VTM: label it as such. `-qp QP -qpa 0` (fixed QP, no perceptual
    QP adaptation); the VUI says full range (8 bytes; VTM writes no VUI, but then a
    plain decode of the stream shows the wrong contrast). Default preset "medium": VVenC's and ffmpeg's own default and the
    closest to VTM of the practical presets. Measured on two synthetic 640x480 images,
    QP 22..42, one thread: medium 2.9 s/image; "fast" 0.9 s at +12 % BD-rate (PSNR-Y);
    "faster" 0.25 s at +32 %. Use "faster" for quick runs and CI, not for anchors.
    """

    name = "vvenc"
    encoder = "libvvenc"
    decoder = muxer = demuxer = "vvc"
    point_kind = "qp"
    point_range = (0, 63)
    Config: ClassVar[type[CodecConfig]] = VvencConfig

    def encoder_options(self, value: int | float) -> dict[str, Any]:
        return {"c:v": self.encoder, "preset": self.config.preset, "qp": int(value), "qpa": 0,
                "vvenc-params": "videofullrange=1"}


class X265Codec(YuvFfmpegCodec):
    """HEVC intra with libx265 (Main 10, the anchor's 10-bit full-range 4:2:0), fixed QP.

    `tune` defaults to "psnr" (psycho-visual RD off, like -qpa 0 for vvenc); "" keeps
    x265's default tuning. The x265 version/options SEI is not written (info=0): no
    decoder needs it and it would add about 2 kB to every picture.
    """

    name = "x265"
    min_size = 16

    encoder = "libx265"
    decoder = muxer = demuxer = "hevc"
    point_kind = "qp"
    point_range = (0, 51)
    Config: ClassVar[type[CodecConfig]] = X265Config

    def encoder_options(self, value: int | float) -> dict[str, Any]:
        options = {"c:v": self.encoder, "preset": self.config.preset, "qp": int(value),
                   "x265-params": "keyint=1:info=0"}
        if self.config.tune:
            options["tune"] = self.config.tune
        return options


class AomCodec(YuvFfmpegCodec):
    """AV1 intra with libaom: quantizer (0..63) fixed by cq-level = min = max quantizer.

    `usage` "allintra" (libaom's still-image mode), delta-q off; `cpu_used` 6 as avifenc.
    """

    name = "aom"
    encoder, decoder = "libaom-av1", "libdav1d"
    muxer = demuxer = "obu"
    point_kind = "qp"
    point_range = (0, 63)
    Config: ClassVar[type[CodecConfig]] = AomConfig

    def encoder_options(self, value: int | float) -> dict[str, Any]:
        q = int(value)
        return {"c:v": self.encoder, "usage": self.config.usage, "cpu-used": self.config.cpu_used,
                "crf": q, "qmin": q, "qmax": q, "b:v": 0, "aom-params": "deltaq-mode=0"}


class SvtAv1Codec(YuvFfmpegCodec):
    """AV1 intra with SVT-AV1: fixed QP (CQP), adaptive quantisation off."""

    name = "svtav1"
    encoder, decoder = "libsvtav1", "libdav1d"
    muxer = demuxer = "obu"
    point_kind = "qp"
    point_range = (1, 63)

    Config: ClassVar[type[CodecConfig]] = SvtAv1Config

    def encoder_options(self, value: int | float) -> dict[str, Any]:
        return {"c:v": self.encoder, "preset": self.config.preset, "qp": int(value),
                "svtav1-params": "aq-mode=0"}


class JpegCodec(RgbFfmpegCodec):
    """Baseline JPEG (ffmpeg mjpeg), 4:2:0 full range, quantiser scale q 2 (best) .. 31.

    Fed the rounded 4:2:0 of bench.codecs.yuv; written bit-exact (no encoder-version
    comment, no JFIF APP0 segment); Huffman tables optimised.
    """

    name = "jpeg"
    encoder = decoder = muxer = "mjpeg"
    demuxer = "jpeg_pipe"
    yuv_input = True
    point_kind = "q"
    point_range = (2, 31)

    def encoder_options(self, value: int | float) -> dict[str, Any]:
        return {"c:v": self.encoder, "q:v": int(value), "pix_fmt": "yuv420p", "color_range": "pc",
                "huffman": "optimal", "flags": "+bitexact"}


class WebpCodec(RgbFfmpegCodec):
    """Lossy WebP (libwebp; it converts RGB to YUV itself, as cwebp), quality 0..100."""

    name = "webp"
    encoder, decoder, muxer, demuxer = "libwebp", "webp", "webp", "webp_pipe"
    point_kind = "quality"
    point_range = (0, 100)
    point_integer = False

    Config: ClassVar[type[CodecConfig]] = WebpConfig

    def encoder_options(self, value: int | float) -> dict[str, Any]:
        return {"c:v": self.encoder, "quality": float(value), "lossless": 0,
                "compression_level": self.config.method, "pix_fmt": "bgra"}


class JpegXlCodec(RgbFfmpegCodec):
    """JPEG XL (libjxl), Butteraugli distance 0 (lossless) .. 15; bare codestream."""

    name = "jpegxl"
    encoder = decoder = "libjxl"
    muxer, demuxer = "image2pipe", "jpegxl_pipe"
    point_kind = "distance"
    point_range = (0, 15)
    point_integer = False

    Config: ClassVar[type[CodecConfig]] = JpegXlConfig

    def encoder_options(self, value: int | float) -> dict[str, Any]:
        return {"c:v": self.encoder, "distance": float(value), "effort": self.config.effort}
