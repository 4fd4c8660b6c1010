"""Image codecs through ffmpeg: VVC (libvvenc), HEVC (libx265), AV1 (libaom, SVT-AV1),
JPEG (ffmpeg's mjpeg encoder: `mjpeg`), WebP (libwebp), JPEG XL (libjxl).

Each class only says which encoder, decoder and formats it uses and how a rate point
becomes encoder options (`encoder_options`, a pure function); running, temporary
files, colour conversion and errors live once in bench.codecs.ffmpeg_base.
Bitstreams: raw Annex-B (VVC, HEVC), low-overhead OBU streams (AV1), and the JPEG,
WebP (RIFF container, counted) and JPEG XL codestream files. Each codec states its
implementation and settings in one line (`describe()`) and what it codes (`chroma`).
The `jpeg` codec (libjpeg through Pillow, as published JPEG curves) is
bench.codecs.pillow_jpeg.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from bench.codecs.base import CodecConfig, run_tool
from bench.codecs.ffmpeg_base import (
    FfmpegCodec,
    FfmpegConfig,
    RgbFfmpegCodec,
    YuvFfmpegCodec,
    YuvFfmpegConfig,
)
from bench.codecs.ffmpeg_bin import ffmpeg_exe
from bench.errors import CodecError
from bench.types import RatePoint

__all__ = [
    "AomCodec", "FfmpegCodec", "JpegXlCodec", "MjpegCodec", "SvtAv1Codec", "VvencCodec",
    "WebpCodec", "X265Codec", "vvc_slice_qps",
]

# What the video codecs code: the VCM anchor's RGB -> 8-bit full-range 4:2:0, shifted to 10 bit.
YUV420_10 = "YCbCr 4:2:0 10-bit full range (BT.601 from 8-bit 4:2:0)"


def _scaled(codec: FfmpegCodec, text: str) -> str:
    scale = getattr(codec.config, "scale", 100)
    return text if scale == 100 else f"{text}, coded at {scale} % scale"


# libvvenc options beyond -qp/-qpa: full-range VUI; no intra QP offset (slice QP = the point).
VVENC_PARAMS = "videofullrange=1:IntraQPOffset=0"
# Bump when VVENC_PARAMS changes what vvenc outputs (enters the version, so the job keys).
# 1: videofullrange only (intra slices at QP - 3); 2: IntraQPOffset=0.
VVENC_OPTIONS_VERSION = 2


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
    QP adaptation) and `IntraQPOffset=0`: libvvenc's default random-access structure
    gives its intra picture an offset of -3 (QP 37 was coded at slice QP 34); without
    it the slice QP equals the point, as with VTM's all-intra anchor (a test reads the
    slice QP back from the bitstream). The VUI says full range (8 bytes; VTM writes no
    VUI, but then a plain decode of the stream shows the wrong contrast). Default preset
    "medium": VVenC's and ffmpeg's own default and the closest to VTM of the practical
    presets. Measured on two synthetic 640x480 images, QP 22..42, one thread: medium
    2.9 s/image; "fast" 0.9 s at +12 % BD-rate (PSNR-Y); "faster" 0.25 s at +32 %. Use
    "faster" for quick runs and CI, not for anchors.
    """

    name = "vvenc"
    encoder = "libvvenc"
    decoder = muxer = demuxer = "vvc"
    point_kind = "qp"
    point_range = (0, 63)
    chroma = YUV420_10
    Config: ClassVar[type[CodecConfig]] = VvencConfig

    def describe(self) -> str:
        return _scaled(self, f"VVC intra: libvvenc (VVenC, not VTM) via ffmpeg, preset "
                             f"{self.config.preset}, fixed QP = slice QP, QPA off")

    def encoder_options(self, value: float) -> dict[str, Any]:
        return {"c:v": self.encoder, "preset": self.config.preset, "qp": int(value), "qpa": 0,
                "vvenc-params": VVENC_PARAMS}

    def version(self, point: RatePoint | None = None) -> str:
        """The ffmpeg wrapper's version plus this codec's option set ("o2": slice QP = point)."""
        return f"{super().version(point)}.o{VVENC_OPTIONS_VERSION}"


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
    chroma = YUV420_10
    Config: ClassVar[type[CodecConfig]] = X265Config

    def describe(self) -> str:
        tune = f", tune {self.config.tune}" if self.config.tune else ""
        return _scaled(self, f"HEVC intra: libx265 (Main 10) via ffmpeg, preset "
                             f"{self.config.preset}{tune}, fixed QP")

    def encoder_options(self, value: float) -> dict[str, Any]:
        options = {"c:v": self.encoder, "preset": self.config.preset, "qp": int(value),
                   "x265-params": "keyint=1:info=0:pools=1:frame-threads=1"}
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
    chroma = YUV420_10
    Config: ClassVar[type[CodecConfig]] = AomConfig

    def describe(self) -> str:
        return _scaled(self, f"AV1 intra: libaom via ffmpeg, usage {self.config.usage}, "
                             f"cpu-used {self.config.cpu_used}, fixed quantizer, delta-q off")

    def encoder_options(self, value: float) -> dict[str, Any]:
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
    chroma = YUV420_10

    Config: ClassVar[type[CodecConfig]] = SvtAv1Config

    def describe(self) -> str:
        return _scaled(self, f"AV1 intra: SVT-AV1 via ffmpeg, preset {self.config.preset}, "
                             "fixed QP (CQP), AQ off")

    def encoder_options(self, value: float) -> dict[str, Any]:
        return {"c:v": self.encoder, "preset": self.config.preset, "qp": int(value),
                "svtav1-params": "aq-mode=0"}


class MjpegCodec(RgbFfmpegCodec):
    """Baseline JPEG with ffmpeg's mjpeg encoder, 4:2:0 full range, quantiser scale q 2
    (best) .. 31. Not the published JPEG curve (that is `jpeg`, libjpeg quality 1..100):
    on Kodak it is about 26 % cheaper in BD-rate.

    Fed the rounded 4:2:0 of bench.codecs.yuv; written bit-exact (no encoder-version
    comment, no JFIF APP0 segment); Huffman tables optimised.
    """

    name = "mjpeg"
    encoder = decoder = muxer = "mjpeg"
    demuxer = "jpeg_pipe"
    yuv_input = True
    point_kind = "q"
    point_range = (2, 31)
    chroma = "YCbCr 4:2:0 8-bit full range"

    def describe(self) -> str:
        return ("JPEG: ffmpeg's mjpeg encoder, quantiser scale q 2..31, optimal Huffman "
                "tables (not libjpeg: see `jpeg`)")

    def encoder_options(self, value: float) -> dict[str, Any]:
        return {"c:v": self.encoder, "q:v": int(value), "pix_fmt": "yuv420p", "color_range": "pc",
                "huffman": "optimal", "flags": "+bitexact"}


class WebpCodec(RgbFfmpegCodec):
    """Lossy WebP (libwebp; it converts RGB to YUV itself, as cwebp), quality 0..100."""

    name = "webp"
    encoder, decoder, muxer, demuxer = "libwebp", "webp", "webp", "webp_pipe"
    point_kind = "quality"
    point_range = (0, 100)
    point_integer = False
    chroma = "YCbCr 4:2:0 8-bit (libwebp's own RGB conversion)"

    Config: ClassVar[type[CodecConfig]] = WebpConfig

    def describe(self) -> str:
        return f"WebP lossy: libwebp via ffmpeg, quality 0..100, method {self.config.method}"

    def encoder_options(self, value: float) -> dict[str, Any]:
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
    chroma = "XYB, no chroma subsampling (libjxl's own RGB conversion)"

    Config: ClassVar[type[CodecConfig]] = JpegXlConfig

    def describe(self) -> str:
        return (f"JPEG XL: libjxl via ffmpeg, Butteraugli distance, effort "
                f"{self.config.effort}")

    def encoder_options(self, value: float) -> dict[str, Any]:
        return {"c:v": self.encoder, "distance": float(value), "effort": self.config.effort}


_QP_SYNTAX = re.compile(r"\b(pps_init_qp_minus26|ph_qp_delta|sh_qp_delta)\s+[01]+ = (-?\d+)")


def vvc_slice_qps(data: bytes, ffmpeg: str | None = None, timeout: float = 60.0) -> list[int]:
    """The luma slice QP of every slice of a raw Annex-B VVC stream, in stream order.

    Read from ffmpeg's `trace_headers` bitstream filter: SliceQpY = 26 +
    pps_init_qp_minus26 + ph_qp_delta (when the PPS sends it in the picture header) +
    sh_qp_delta (H.266 7.4.3.8, 7.4.8.1), the number VTM's decoder prints per slice.
    """
    exe = ffmpeg_exe(ffmpeg)
    with tempfile.TemporaryDirectory(prefix="icm-vvc-") as tmp:
        path = Path(tmp) / "in.vvc"
        path.write_bytes(data)
        args = [exe, "-hide_banner", "-nostdin", "-loglevel", "trace", "-f", "vvc", "-i",
                str(path), "-c", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"]
        trace = run_tool(args, timeout, "ffmpeg trace_headers").stderr.decode(errors="replace")
    init, ph_delta, qps = None, 0, []
    for name, value in _QP_SYNTAX.findall(trace):
        if name == "pps_init_qp_minus26":
            init, ph_delta = int(value), 0
        elif name == "ph_qp_delta":
            ph_delta = int(value)
        elif init is not None:
            qps.append(26 + init + ph_delta + int(value))
    if init is None or not qps:
        raise CodecError("no VVC slice header with a QP found in the stream's trace")
    return qps
