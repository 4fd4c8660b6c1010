"""The VVC feature anchor (FCM style): pack features into a 10-bit frame, code it with VVC.

Inner codec: VTM intra on 4:0:0 10-bit (the anchor's own command), or libvvenc through
ffmpeg, which takes 4:2:0 only, so the frame goes in luma and chroma is filled with
512 (its cost is part of the rate). The bitstream is the packing header followed by
the Annex-B stream; both count in the rate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from bench.codecs.base import CodecConfig, ExternalCodec
from bench.codecs.feature_packing import (
    FILL,
    decode_header,
    encode_header,
    pack_features,
    unpack_features,
)
from bench.codecs.ffmpeg_base import output_buffer_error
from bench.codecs.ffmpeg_bin import ffmpeg_exe, ffmpeg_version, has_encoder
from bench.codecs.vtm import (
    VtmTools,
    check_qp,
    find_vtm,
    read_bitstream,
    run_logged,
    vtm_decode_args,
    vtm_feature_encode_args,
    vtm_version,
)
from bench.errors import CodecError
from bench.types import Bitstream, RatePoint


def vvenc_frame_encode_args(
    ffmpeg: str, yuv: str | Path, bitstream: str | Path, width: int, height: int,
    qp: int, preset: str,
) -> list[str]:
    """ffmpeg/libvvenc: one yuv420p10le frame -> raw Annex-B VVC at slice QP `qp`.

    Fixed QP, no QP adaptation, and no intra QP offset (libvvenc's random-access default
    would code the intra picture at qp - 3; VTM's all-intra anchor codes it at qp).
    """
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "rawvideo",
        "-pix_fmt", "yuv420p10le", "-s", f"{width}x{height}", "-i", str(yuv), "-frames:v", "1",
        "-c:v", "libvvenc", "-preset", preset, "-qp", str(qp), "-qpa", "0",
        "-vvenc-params", "IntraQPOffset=0", "-threads", "1", "-f", "vvc", "-y", str(bitstream),
    ]


def vvc_frame_decode_args(ffmpeg: str, bitstream: str | Path, yuv: str | Path) -> list[str]:
    """ffmpeg's native VVC decoder: Annex-B -> yuv420p10le."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1", "-f", "vvc",
        "-i", str(bitstream), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuv420p10le",
        "-y", str(yuv),
    ]


def luma_to_yuv420_bytes(frame: np.ndarray) -> bytes:
    """A 10-bit frame as yuv420p10le with chroma filled with the mid value 512."""
    height, width = frame.shape
    chroma = np.full((height // 2) * (width // 2) * 2, FILL, dtype="<u2")
    return frame.astype("<u2").tobytes() + chroma.tobytes()


def read_luma(path: str | Path, width: int, height: int) -> np.ndarray:
    """The luma plane of a 10-bit 4:0:0 or 4:2:0 raw file (a decoder may write either)."""
    if not Path(path).is_file():
        raise CodecError(f"the decoder exited 0 but wrote no {Path(path).name}")
    raw = np.fromfile(path, dtype="<u2")
    luma = width * height
    if raw.size not in (luma, luma + 2 * (width // 2) * (height // 2)):
        raise CodecError(
            f"decoded file {Path(path).name} holds {raw.size} samples; expected a {width}x{height} "
            "10-bit 4:0:0 or 4:2:0 frame"
        )
    return raw[:luma].reshape(height, width).astype(np.uint16)


def _parse_minmax(minmax: Any) -> tuple[float, float] | None:
    if minmax == "per-frame":
        return None
    try:
        lo, hi = (float(v) for v in minmax)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"must be 'per-frame' or [min, max], got {minmax!r}") from exc
    if not hi > lo:
        raise ValueError(f"[{lo}, {hi}]: max must be above min")
    return lo, hi


class FeatureAnchorConfig(CodecConfig):
    """inner codec, quantisation range, libvvenc preset; where VTM is (for inner: vtm)."""

    runtime_fields: ClassVar[tuple[str, ...]] = ("bin_dir", "cfg", "timeout_s")
    inner: Literal["vvenc", "vtm"] = "vvenc"
    minmax: Literal["per-frame"] | list[float] = "per-frame"
    vvenc_preset: Literal["faster", "fast", "medium", "slow", "slower"] = "medium"
    bin_dir: str | None = None
    cfg: str | None = None
    timeout_s: float = Field(600.0, gt=0)

    @field_validator("minmax")
    @classmethod
    def _minmax(cls, v: Any) -> Any:
        rng = _parse_minmax(v)
        return v if rng is None else list(rng)


class FeatureAnchorCodec(ExternalCodec):
    """Features packed into one 10-bit monochrome frame, coded with VTM or libvvenc."""

    Config: ClassVar[type[CodecConfig]] = FeatureAnchorConfig
    name = "feature-anchor"
    input_kind = output_kind = "features"
    point_kind = "qp"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.inner, self.vvenc_preset = self.config.inner, self.config.vvenc_preset
        self._range = _parse_minmax(self.config.minmax)
        self._version: str | None = None
        self._tools: VtmTools | None = None

    def vtm_tools(self) -> VtmTools:
        """The VTM binaries and config for inner: vtm (looked up once)."""
        if self._tools is None:
            self._tools = find_vtm(self.config.bin_dir, self.config.cfg)
        return self._tools

    def check_point(self, point: RatePoint) -> None:
        check_qp(point)

    def check(self) -> None:
        if self.inner == "vtm":
            self.vtm_tools()
            return
        exe = ffmpeg_exe()
        if not has_encoder(exe, "libvvenc"):
            raise CodecError(f"ffmpeg at {exe} has no libvvenc encoder; use inner: vtm")

    def version(self, point: RatePoint | None = None) -> str:
        if self._version is None:
            if self.inner == "vtm":
                self._version = f"VTM {vtm_version(self.vtm_tools().encoder)}"
            else:
                # "slice QP": since IntraQPOffset=0 (earlier streams were at qp - 3)
                self._version = f"libvvenc via ffmpeg {ffmpeg_version(ffmpeg_exe())}, slice QP"
        return self._version

    def encode(self, payload: dict[str, np.ndarray], point: RatePoint) -> Bitstream:
        """Header + Annex-B bytes of the packed frame at one QP."""
        qp = check_qp(point)
        frame, header = pack_features(payload, self._range)
        with tempfile.TemporaryDirectory(prefix="fcm-") as tmp:
            coded = self._encode_frame(frame, qp, Path(tmp))
        return Bitstream.single(encode_header(header) + coded)

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> dict[str, np.ndarray]:
        """Parse the header, decode the frame, unpack to the original names and shapes."""
        data = bitstream.layers["main"]
        header, used = decode_header(data, self._range)
        with tempfile.TemporaryDirectory(prefix="fcm-") as tmp:
            frame = self._decode_frame(data[used:], header.frame_width, header.frame_height,
                                       Path(tmp))
        return unpack_features(frame, header)

    def _encode_frame(self, frame: np.ndarray, qp: int, tmp: Path) -> bytes:
        height, width = frame.shape
        yuv, out = tmp / "frame.yuv", tmp / "frame.bin"
        if self.inner == "vtm":
            tools = self.vtm_tools()
            yuv.write_bytes(frame.astype("<u2").tobytes())
            args = vtm_feature_encode_args(tools.encoder, tools.cfg, yuv, out, width, height, qp)
            log = run_logged(args, self.timeout_s, "VTM encoder (4:0:0 features)")
        else:
            yuv.write_bytes(luma_to_yuv420_bytes(frame))
            args = vvenc_frame_encode_args(ffmpeg_exe(), yuv, out, width, height, qp,
                                           self.vvenc_preset)
            try:
                log = self.run(args, "libvvenc (features)").stderr.decode(errors="replace")
            except CodecError as exc:  # libvvenc's per-picture output cap, named clearly
                inner = SimpleNamespace(name=self.name, encoder="libvvenc")
                raise output_buffer_error(inner, exc, width, height) from exc
        return read_bitstream(out, args, log)

    def _decode_frame(self, data: bytes, width: int, height: int, tmp: Path) -> np.ndarray:
        src, rec = tmp / "frame.bin", tmp / "rec.yuv"
        src.write_bytes(data)
        if self.inner == "vtm":
            decoder = self.vtm_tools().decoder
            run_logged(vtm_decode_args(decoder, src, rec), self.timeout_s, "VTM decoder")
        else:
            self.run(vvc_frame_decode_args(ffmpeg_exe(), src, rec), "VVC decoder (ffmpeg)")
        return read_luma(rec, width, height)
