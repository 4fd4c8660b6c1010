"""VTM (the VVC reference software) and the VCM image anchor built on it.

The binaries come from the user's own VTM build: ``bin_dir`` in the spec, else the
VTM_BIN_DIR or VTM_DIR environment variable, else PATH. The anchor follows the VCM
recipe of ANCHORS.md: pad to even, 8-bit full-range 4:2:0 in, InternalBitDepth 10,
decode to 10 bit, back to RGB with full range, crop (or scale back) to the original.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from bench.codecs.base import CodecConfig, ExternalCodec, run_tool
from bench.codecs.ffmpeg_bin import ffmpeg_exe
from bench.codecs.yuv import (
    read_yuv420,
    restore_size,
    rgb_to_yuv420,
    scaled_size,
    write_yuv,
    yuv420_to_rgb,
)
from bench.errors import CodecError, SpecError
from bench.types import Bitstream, RatePoint

ENCODER_NAMES = ("EncoderAppStatic", "EncoderApp")
DECODER_NAMES = ("DecoderAppStatic", "DecoderApp")
DEFAULT_CFG = Path("cfg") / "encoder_intra_vtm.cfg"
SCALES = (100, 75, 50, 25)
HOW_TO_POINT = (
    "Build VTM from source and point to it: set `bin_dir:` in the codec's params, or the "
    "VTM_BIN_DIR (folder with the binaries) or VTM_DIR (VTM source root) environment variable, "
    "or put EncoderAppStatic/DecoderAppStatic on PATH."
)
_BANNER = re.compile(r"VTM (?:Encoder|Decoder) Version\s+([^\s\[\]]+)")


@dataclass(frozen=True)
class VtmTools:
    """The VTM encoder and decoder binaries and the encoder config in use."""

    encoder: Path
    decoder: Path
    cfg: Path


def _candidate_dirs(bin_dir: str | Path | None, env: Mapping[str, str]) -> list[tuple[str, Path]]:
    """(where it came from, folder) pairs to search, in order; PATH is handled separately."""
    if bin_dir is not None:
        return [("bin_dir", Path(bin_dir)), ("bin_dir", Path(bin_dir) / "bin")]
    dirs = []
    if env.get("VTM_BIN_DIR"):
        dirs.append(("VTM_BIN_DIR", Path(env["VTM_BIN_DIR"])))
    if env.get("VTM_DIR"):
        dirs += [("VTM_DIR", Path(env["VTM_DIR"]) / "bin"), ("VTM_DIR", Path(env["VTM_DIR"]))]
    return dirs


def _find_binary(names: tuple[str, ...], dirs: list[tuple[str, Path]], use_path: bool,
                 looked: list[str]) -> Path | None:
    for source, folder in dirs:
        for name in names:
            candidate = folder / name
            looked.append(f"{candidate} ({source})")
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    if use_path:
        for name in names:
            looked.append(f"{name} on PATH")
            found = shutil.which(name)
            if found:
                return Path(found)
    return None


def _find_cfg(cfg: str | Path | None, encoder: Path, env: Mapping[str, str]) -> Path:
    if cfg is not None:
        if not Path(cfg).is_file():
            raise CodecError(f"VTM config {str(cfg)!r} (the codec's `cfg` param) does not exist")
        return Path(cfg)
    roots = [Path(env["VTM_DIR"])] if env.get("VTM_DIR") else []
    roots += list(encoder.resolve().parents)[:5]
    for root in roots:
        if (root / DEFAULT_CFG).is_file():
            return root / DEFAULT_CFG
    tried = ", ".join(str(r / DEFAULT_CFG) for r in roots)
    raise CodecError(
        f"VTM config {DEFAULT_CFG} not found (looked at: {tried}). Set `cfg:` in the codec's "
        "params to your encoder_intra_vtm.cfg, or VTM_DIR to the VTM source root."
    )


def find_vtm(
    bin_dir: str | Path | None = None,
    cfg: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> VtmTools:
    """Locate EncoderApp, DecoderApp and the config; CodecError says what was looked for."""
    env = os.environ if env is None else env
    dirs = _candidate_dirs(bin_dir, env)
    use_path = bin_dir is None
    looked: list[str] = []
    if bin_dir is None and not dirs:
        looked.append("VTM_BIN_DIR and VTM_DIR (both unset)")
    encoder = _find_binary(ENCODER_NAMES, dirs, use_path, looked)
    if encoder is None:
        raise CodecError(f"VTM encoder not found. Looked for: {'; '.join(looked)}. {HOW_TO_POINT}")
    looked = []
    decoder = _find_binary(DECODER_NAMES, [("next to the encoder", encoder.parent)], False, looked)
    if decoder is None:
        raise CodecError(f"VTM decoder not found. Looked for: {'; '.join(looked)}. {HOW_TO_POINT}")
    return VtmTools(encoder, decoder, _find_cfg(cfg, encoder, env))


def parse_vtm_version(banner: str) -> str:
    """The version in VTM's banner ("VVCSoftware: VTM Encoder Version 23.4 [Linux]...")."""
    match = _BANNER.search(banner)
    if not match:
        first = " | ".join(banner.strip().splitlines()[:3])
        raise CodecError(f"cannot read a VTM version from the banner: {first!r}")
    return match.group(1)


def vtm_version(exe: str | Path, timeout: float = 30.0) -> str:
    """Run the binary with --help (it prints its banner first) and read the version."""
    try:
        proc = subprocess.run([str(exe), "--help"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CodecError(f"cannot run {exe} to read its version: {exc}") from exc
    return parse_vtm_version((proc.stdout + proc.stderr).decode(errors="replace"))


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def vtm_encode_args(
    encoder: str | Path, cfg: str | Path, yuv: str | Path, bitstream: str | Path,
    width: int, height: int, qp: int, internal_bitdepth: int = 10,
) -> list[str]:
    """The VCM image-anchor encoder command (8-bit 4:2:0 in, one intra frame)."""
    return [
        str(encoder), "-c", str(cfg), "-i", str(yuv), "-b", str(bitstream), "-o", os.devnull,
        "-fr", "1", "-f", "1", "-ts", "1", "-wdt", str(width), "-hgt", str(height),
        "-q", str(qp), "--ConformanceWindowMode=1", f"--InternalBitDepth={internal_bitdepth}",
    ]


def vtm_decode_args(
    decoder: str | Path, bitstream: str | Path, output: str | Path, bitdepth: int = 10
) -> list[str]:
    """The decoder command: reconstruct `bitstream` to a raw YUV file of `bitdepth` bits."""
    return [str(decoder), "-b", str(bitstream), "-o", str(output), "-d", str(bitdepth)]


def vtm_feature_encode_args(
    encoder: str | Path, cfg: str | Path, yuv: str | Path, bitstream: str | Path,
    width: int, height: int, qp: int,
) -> list[str]:
    """The FCM feature-anchor encoder command: one 4:0:0 10-bit frame."""
    return [
        str(encoder), "-i", str(yuv), "-c", str(cfg), "-q", str(qp), "-o", os.devnull,
        "-wdt", str(width), "-hgt", str(height), "-fr", "1", "-ts", "1", "--Level=6.2",
        "--InputChromaFormat=400", "--InputBitDepth=10", "--InternalBitDepth=10",
        "--ConformanceWindowMode=1", f"--BitstreamFile={bitstream}", "--FramesToBeEncoded=1",
    ]


def run_logged(args: list[str], timeout: float, what: str) -> str:
    """Run a VTM command in its own process group; on failure or timeout CodecError with
    the tail of its log (a timeout, or an interrupt, kills the whole group).

    VTM writes most of its messages to stdout, so both streams form the log.
    """
    proc = run_tool(args, timeout, what, merge_stderr=True)
    return (proc.stdout or b"").decode(errors="replace")


def read_bitstream(path: Path, args: list[str], log: str) -> bytes:
    """The bytes an encoder wrote; CodecError with its log when it wrote none."""
    data = path.read_bytes() if path.is_file() else b""
    if not data:
        raise CodecError(f"the encoder exited 0 but wrote no bitstream to {path.name}",
                         command=args, stderr=log)
    return data


def check_qp(point: RatePoint) -> int:
    """The integer QP of a rate point; SpecError for another kind or value."""
    value = point.value
    if (point.kind != "qp" or isinstance(value, bool) or not isinstance(value, (int, float))
            or not float(value).is_integer()):
        raise SpecError(f"VTM takes integer QP points in -12..63, got {point.label}")
    qp = int(value)
    if not -12 <= qp <= 63:
        raise SpecError(f"VTM QP must be in -12..63, got {qp}")
    return qp


class VtmConfig(CodecConfig):
    """Where VTM is (else VTM_DIR / VTM_BIN_DIR / PATH), its config, the resolution scale."""

    runtime_fields: ClassVar[tuple[str, ...]] = ("bin_dir", "cfg", "timeout_s")
    bin_dir: str | None = None
    cfg: str | None = None
    scale: Literal[100, 75, 50, 25] = 100
    timeout_s: float = Field(600.0, gt=0)


class VtmCodec(ExternalCodec):
    """The VCM VVC image anchor: VTM all-intra at one of the 100/75/50/25 % scales."""

    Config: ClassVar[type[CodecConfig]] = VtmConfig
    name = "vtm"
    point_kind = "qp"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.scale = int(self.config.scale)
        self._tools: VtmTools | None = None
        self._version: str | None = None

    def tools(self) -> VtmTools:
        """The binaries and config (looked up once)."""
        if self._tools is None:
            self._tools = find_vtm(self.config.bin_dir, self.config.cfg)
        return self._tools

    def check(self) -> None:
        self.tools()
        ffmpeg_exe()

    def check_point(self, point: RatePoint) -> None:
        check_qp(point)

    def version(self, point: RatePoint | None = None) -> str:
        """VTM's version from its banner, plus the config file's name and hash."""
        if self._version is None:
            tools = self.tools()
            self._version = (f"VTM {vtm_version(tools.encoder)} "
                             f"cfg={tools.cfg.name}@{file_sha256(tools.cfg)[:12]}")
        return self._version

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        """RGB -> 8-bit full-range 4:2:0 (scaled, padded to even) -> VTM -> Annex-B bytes."""
        qp = check_qp(point)
        height, width = payload.shape[:2]
        tools, ffmpeg = self.tools(), ffmpeg_exe()
        planes = rgb_to_yuv420(payload, ffmpeg, scale=self.scale, timeout=self.timeout_s)
        cw, ch = scaled_size(width, height, self.scale)
        if planes[0].shape != (ch, cw):
            raise CodecError(f"YUV conversion gave {planes[0].shape[::-1]}, expected {(cw, ch)}")
        with tempfile.TemporaryDirectory(prefix="vtm-") as tmp:
            yuv, out = Path(tmp) / "in.yuv", Path(tmp) / "out.bin"
            write_yuv(yuv, planes, 8)
            args = vtm_encode_args(tools.encoder, tools.cfg, yuv, out, cw, ch, qp)
            data = read_bitstream(out, args, run_logged(args, self.timeout_s, "VTM encoder"))
        return Bitstream.single(data, width=int(width), height=int(height))

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> np.ndarray:
        """VTM decoder -> 10-bit 4:2:0 -> full-range RGB -> original size."""
        width, height = int(bitstream.meta["width"]), int(bitstream.meta["height"])
        cw, ch = scaled_size(width, height, self.scale)
        tools, ffmpeg = self.tools(), ffmpeg_exe()
        with tempfile.TemporaryDirectory(prefix="vtm-") as tmp:
            src, rec = Path(tmp) / "in.bin", Path(tmp) / "rec.yuv"
            src.write_bytes(bitstream.layers["main"])
            run_logged(vtm_decode_args(tools.decoder, src, rec), self.timeout_s, "VTM decoder")
            y, u, v = read_yuv420(rec, cw, ch, 10)
        rgb = yuv420_to_rgb(y, u, v, ffmpeg, bitdepth=10, timeout=self.timeout_s)
        return restore_size(rgb, width, height, ffmpeg, scale=self.scale, timeout=self.timeout_s)
