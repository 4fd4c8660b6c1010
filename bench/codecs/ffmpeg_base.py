"""The shared machinery of the ffmpeg image codecs (bench.codecs.ffmpeg).

The rate is the size of the real bitstream ffmpeg writes. Video codecs code the VCM
anchor's input (RGB -> 8-bit full-range 4:2:0, bench.codecs.yuv) left-shifted to 10
bit, decode to 10-bit 4:2:0 and go back to RGB with rounding, then crop the padding
or scale back. Image formats take RGB and decode to RGB. A decode is one ffmpeg call that also converts
to RGB (and scales back); the RGB -> 4:2:0 conversion is cached per image (yuv.py). `Bitstream.meta` holds only
the original size; the coded size is in the bitstream (SPS, sequence header, ...).
Every encoder and decoder runs with one thread (the executors parallelise over jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from bench.codecs.base import CodecConfig, CodecParamError, ExternalCodec
from bench.codecs.ffmpeg_bin import (
    ffmpeg_args,
    ffmpeg_exe,
    ffmpeg_version,
    has_decoder,
    has_encoder,
)
from bench.codecs.yuv import (
    SWS_FLAGS,
    check_rgb,
    decoded_rgb_size,
    decoded_to_rgb_filter,
    read_rgb,
    rgb_to_yuv420,
    scratch,
    upshift,
    write_yuv,
)
from bench.errors import CodecError
from bench.types import Bitstream, RatePoint

# Bump when this wrapper's conversions or options change what a codec outputs: the
# version enters every job key, so stored results of the old wrapper are not reused.
WRAPPER_VERSION = 1


class FfmpegConfig(CodecConfig):
    """Options every ffmpeg codec has: where ffmpeg is, and the per-call timeout."""

    runtime_fields: ClassVar[tuple[str, ...]] = ("ffmpeg", "timeout_s")
    ffmpeg: str | None = None
    timeout_s: float = Field(600.0, gt=0)


class YuvFfmpegConfig(FfmpegConfig):
    """Video codecs: the VCM anchor's resolution scale (percent) before coding."""

    scale: Literal[100, 75, 50, 25] = 100


class FfmpegCodec(ExternalCodec):
    """Shared by all ffmpeg codecs: the binary, version, checks and rate-point validation.

    Subclasses set the class attributes and `encoder_options` (a pure function of the
    point value) and, through a middle class, how pixels go in and come out.
    """

    name: ClassVar[str]  # the registry name, for messages
    encoder: ClassVar[str]  # ffmpeg encoder name
    decoder: ClassVar[str]  # ffmpeg decoder name
    muxer: ClassVar[str]  # ffmpeg format that writes the raw bitstream
    demuxer: ClassVar[str]  # ffmpeg format that reads it back
    point_range: ClassVar[tuple[float, float]]
    point_integer: ClassVar[bool] = True
    min_size: ClassVar[int] = 1  # smallest coded width and height the encoder takes

    Config: ClassVar[type[CodecConfig]] = FfmpegConfig

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._exe: str | None = None

    @property
    def exe(self) -> str:
        """The resolved ffmpeg binary (looked up on first use)."""
        if self._exe is None:
            self._exe = ffmpeg_exe(self.config.ffmpeg)
        return self._exe

    def version(self, point: RatePoint | None = None) -> str:
        """E.g. 'ffmpeg n9.0.2-17-g2a571b6068-20260930 libvvenc w1' (the build pins the
        library; w1 is the wrapper's version)."""
        return f"ffmpeg {ffmpeg_version(self.exe)} {self.encoder} w{WRAPPER_VERSION}"

    def check(self) -> None:
        """CodecError naming the missing encoder or decoder of this ffmpeg build."""
        for kind, name, present in (
            ("encoder", self.encoder, has_encoder(self.exe, self.encoder)),
            ("decoder", self.decoder, has_decoder(self.exe, self.decoder)),
        ):
            if not present:
                raise CodecError(
                    f"ffmpeg at {self.exe} has no {kind} {name!r}; use an ffmpeg built with it "
                    f"(codec param 'ffmpeg' or ICM_BENCH_FFMPEG)"
                )

    def check_point(self, point: RatePoint) -> None:
        """SpecError naming the allowed kind and range of this codec's rate points."""
        self.point_value(point)

    def point_value(self, point: RatePoint) -> int | float:
        """The validated setting of `point`; CodecError naming the allowed range otherwise."""
        name = self.name
        if point.kind != self.point_kind:
            raise CodecParamError(
                f"{name} takes rate points of kind {self.point_kind!r}, got {point.label}"
            )
        lo, hi = self.point_range
        value = point.value
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi
        if ok and self.point_integer:
            ok = float(value).is_integer()
            value = int(value)
        if not ok:
            kind = "an integer" if self.point_integer else "a number"
            raise CodecParamError(
                f"{name}: {self.point_kind} must be {kind} in {lo:g}..{hi:g}, got {point.value!r}"
            )
        return value

    def encoder_options(self, value: float) -> dict[str, Any]:
        """ffmpeg output options selecting and configuring the encoder (pure)."""
        raise NotImplementedError

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        """One RGB image -> its bitstream (meta: the original width and height)."""
        image = check_rgb(payload)
        value = self.point_value(point)
        with scratch("icm-ffmpeg-") as tmp:
            data = self._encode(image, value, Path(tmp))
        return Bitstream.single(data, width=image.shape[1], height=image.shape[0])

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> np.ndarray:
        """The bitstream -> RGB at the original size."""
        try:
            width, height = int(bitstream.meta["width"]), int(bitstream.meta["height"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CodecError(f"{self.name}: bitstream meta lacks the original size") from exc
        with scratch("icm-ffmpeg-") as tmp:
            src = Path(tmp) / "in.bin"
            src.write_bytes(bitstream.data)
            return self._decode(src, width, height, Path(tmp))

    def _encode(self, image: np.ndarray, value: float, tmp: Path) -> bytes:
        raise NotImplementedError

    def _decode(self, src: Path, width: int, height: int, tmp: Path) -> np.ndarray:
        raise NotImplementedError

    def _decoder_input(self) -> dict[str, Any]:
        return {"f": self.demuxer, "c:v": self.decoder, "threads": 1}


# ffmpeg's libvvenc wrapper gives the encoder an output buffer of width x height bytes per
# picture: a picture whose access unit needs more (tiny pictures, where the parameter
# sets alone take ~100 bytes; low QPs on detailed content) fails with exit 187
# "Generic error in an external library".
OUTPUT_BUFFER_BYTES_PER_PIXEL = {"libvvenc": 1.0}


def output_buffer_error(codec: FfmpegCodec, exc: CodecError, width: int, height: int
                        ) -> CodecError:
    """`exc`, or, for an encoder with a per-picture output limit, an error naming it."""
    per_pixel = OUTPUT_BUFFER_BYTES_PER_PIXEL.get(codec.encoder)
    if per_pixel is None or "external library" not in (exc.stderr or ""):
        return exc
    cap = int(width * height * per_pixel)
    return CodecError(
        f"{codec.name}: ffmpeg's {codec.encoder} holds at most {cap} bytes for this "
        f"{width}x{height} picture ({8 * per_pixel:g} bits per pixel) and the encoder needed "
        "more: pictures smaller than about 32x32 (their headers alone take ~100 bytes) or "
        "low QPs on detailed content cannot be coded; use larger images, a higher QP, or VTM",
        command=exc.command, stderr=exc.stderr)


class YuvFfmpegCodec(FfmpegCodec):
    """Video codecs coding one intra picture of the anchor's 10-bit full-range 4:2:0."""

    Config: ClassVar[type[CodecConfig]] = YuvFfmpegConfig

    @property
    def scale(self) -> int:
        return int(self.config.scale)

    def _encode(self, image: np.ndarray, value: float, tmp: Path) -> bytes:
        planes = upshift(rgb_to_yuv420(image, self.exe, self.scale, timeout=self.timeout_s))
        height, width = planes[0].shape
        if min(height, width) < self.min_size:
            raise CodecError(
                f"{self.name}: the coded picture is {width}x{height}; {self.encoder} needs at "
                f"least {self.min_size}x{self.min_size} (use a larger image or scale)"
            )
        src, dst = tmp / "in.yuv", tmp / "out.bin"
        write_yuv(src, planes, 10)
        source = {"f": "rawvideo", "pix_fmt": "yuv420p10le", "s": f"{width}x{height}",
                  "color_range": "pc"}
        output = {**self.encoder_options(value), "threads": 1, "f": self.muxer}
        try:
            self.run(ffmpeg_args(self.exe, src, dst, source, output),
                     what=f"ffmpeg {self.encoder}")
        except CodecError as exc:
            raise output_buffer_error(self, exc, width, height) from None
        return dst.read_bytes()

    def _decode(self, src: Path, width: int, height: int, tmp: Path) -> np.ndarray:
        """Decode and convert to RGB (scaled back, or padded) in one ffmpeg call, then crop."""
        dst = tmp / "out.rgb"
        output = {"vf": decoded_to_rgb_filter(width, height, self.scale), "sws_flags": SWS_FLAGS,
                  "pix_fmt": "rgb24", "f": "rawvideo"}
        self.run(ffmpeg_args(self.exe, src, dst, self._decoder_input(), output),
                 what=f"ffmpeg {self.decoder} decode")
        out_w, out_h = decoded_rgb_size(width, height, self.scale)
        rgb = read_rgb(dst, out_w, out_h, what=f"{self.decoder} decode")
        return np.ascontiguousarray(rgb[:height, :width])


class RgbFfmpegCodec(FfmpegCodec):
    """Image formats that decode to RGB (JPEG, WebP, JPEG XL).

    They take RGB and convert it themselves, or, with `yuv_input`, the rounded
    full-range 4:2:0 of bench.codecs.yuv at the original size (for mjpeg, whose
    swscale 8-bit conversion would otherwise bias chroma).
    """

    yuv_input: ClassVar[bool] = False

    def _encode(self, image: np.ndarray, value: float, tmp: Path) -> bytes:
        height, width = image.shape[:2]
        src, dst = tmp / "in.raw", tmp / "out.bin"
        if self.yuv_input:
            write_yuv(src, rgb_to_yuv420(image, self.exe, scale=None, timeout=self.timeout_s), 8)
            source = {"f": "rawvideo", "pix_fmt": "yuv420p", "s": f"{width}x{height}",
                      "color_range": "pc"}
        else:
            image.tofile(src)
            source = {"f": "rawvideo", "pix_fmt": "rgb24", "s": f"{width}x{height}"}
        output = {**self.encoder_options(value), "sws_flags": SWS_FLAGS, "threads": 1,
                  "f": self.muxer}
        self.run(ffmpeg_args(self.exe, src, dst, source, output), what=f"ffmpeg {self.encoder}")
        return dst.read_bytes()

    def _decode(self, src: Path, width: int, height: int, tmp: Path) -> np.ndarray:
        dst = tmp / "out.ppm"
        output = {"sws_flags": SWS_FLAGS, "pix_fmt": "rgb24", "c:v": "ppm", "f": "image2pipe"}
        self.run(ffmpeg_args(self.exe, src, dst, self._decoder_input(), output),
                 what=f"ffmpeg {self.decoder} decode")
        rgb = read_ppm(dst)
        if rgb.shape[:2] != (height, width):
            raise CodecError(
                f"{self.decoder} decoded {rgb.shape[1]}x{rgb.shape[0]}, expected {width}x{height}"
            )
        return rgb


def read_ppm(path: Path) -> np.ndarray:
    """An 8-bit binary PPM (P6) as H x W x 3 uint8."""
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            raise CodecError(f"{path} is not a complete PPM file")
        fields.append(data[start:pos])
    if fields[0] != b"P6" or int(fields[3]) != 255:
        raise CodecError(f"{path} is not an 8-bit binary PPM")
    width, height = int(fields[1]), int(fields[2])
    pixels = np.frombuffer(data, dtype=np.uint8, offset=pos + 1)
    if pixels.size < width * height * 3:
        raise CodecError(f"{path} is truncated")
    return pixels[: width * height * 3].reshape(height, width, 3).copy()
