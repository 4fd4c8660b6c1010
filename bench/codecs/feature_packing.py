"""Feature packing for the VVC feature anchor: tensors <-> one 10-bit monochrome frame.

The layout follows the MPEG FCM anchor (see ANCHORS.md): each level's C channels are
tiled in a near-square grid, levels are sorted largest first, smaller levels are
re-arranged to the width of the largest and the levels are stacked vertically.
Values are quantised to 10 bits between a fixed or a per-frame min/max.

The header a receiver needs (level names and shapes, the frame size, min/max when
per-frame) is serialised by `encode_header` and travels inside the bitstream, so it
counts in the rate.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from bench.errors import CodecError

BITDEPTH = 10
QMAX = (1 << BITDEPTH) - 1  # 1023
FILL = 1 << (BITDEPTH - 1)  # 512: mid value for unused frame area
HEADER_VERSION = 1
_FLAG_PER_FRAME = 1


@dataclass(frozen=True)
class LevelPlacement:
    """Where one level's channels sit in the frame: a grid of `rows` x `cols` tiles at row `y`."""

    name: str
    channels: int
    height: int
    width: int
    y: int
    rows: int
    cols: int


@dataclass(frozen=True)
class PackHeader:
    """What a receiver needs to unpack: names and shapes (payload order), frame size, min/max."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, int, int], ...]
    frame_width: int
    frame_height: int
    minimum: float
    maximum: float
    per_frame: bool


def tile_grid(channels: int) -> tuple[int, int]:
    """(rows, cols) of a level's channel grid: rows = largest divisor of C not above sqrt(C)."""
    if channels < 1:
        raise CodecError(f"a feature level needs at least one channel, got {channels}")
    short = max(d for d in range(1, math.isqrt(channels) + 1) if channels % d == 0)
    return short, channels // short


def packing_order(shapes: dict[str, tuple[int, int, int]]) -> list[str]:
    """Level names sorted largest first (by element count; ties keep the payload order)."""
    names = list(shapes)
    return sorted(names, key=lambda n: (-math.prod(shapes[n]), names.index(n)))


def frame_layout(shapes: dict[str, tuple[int, int, int]]) -> tuple[int, int, list[LevelPlacement]]:
    """(frame width, frame height, placements) for levels of shape C x H x W.

    The frame is as wide as the largest level's grid (or the widest level, if wider);
    every level gets as many tile columns as fit that width. Both frame sides are
    rounded up to even numbers, as 4:2:0 coding needs.
    """
    order = packing_order(shapes)
    c0, _, w0 = shapes[order[0]]
    frame_width = max([tile_grid(c0)[1] * w0] + [shapes[n][2] for n in order])
    placements, y = [], 0
    for name in order:
        c, h, w = shapes[name]
        cols = min(c, frame_width // w)
        rows = -(-c // cols)
        placements.append(LevelPlacement(name, c, h, w, y, rows, cols))
        y += rows * h
    return frame_width + frame_width % 2, y + y % 2, placements


def quantise(x: np.ndarray, minimum: float, maximum: float) -> np.ndarray:
    """q = floor(clamp((x - min) / (max - min), 0, 1) * 1023) as uint16."""
    span = float(maximum) - float(minimum)
    if span <= 0:
        return np.zeros(x.shape, dtype=np.uint16)
    t = np.clip((x.astype(np.float64) - float(minimum)) / span, 0.0, 1.0)
    return np.floor(t * QMAX).astype(np.uint16)


def dequantise(q: np.ndarray, minimum: float, maximum: float) -> np.ndarray:
    """x = q / 1023 * (max - min) + min as float32."""
    span = float(maximum) - float(minimum)
    return (q.astype(np.float64) / QMAX * span + float(minimum)).astype(np.float32)


def _check_features(features: dict[str, np.ndarray]) -> dict[str, tuple[int, int, int]]:
    if not features:
        raise CodecError("feature payload is empty: expected a dict of C x H x W arrays")
    shapes = {}
    for name, x in features.items():
        if np.ndim(x) != 3:
            raise CodecError(f"feature {name!r} has shape {np.shape(x)}; expected C x H x W")
        if not np.all(np.isfinite(x)):
            raise CodecError(f"feature {name!r} holds NaN or infinite values; cannot quantise")
        if max(np.shape(x)) > 0xFFFF or len(name.encode()) > 255:
            raise CodecError(f"feature {name!r}: name over 255 bytes or a side over 65535")
        shapes[name] = tuple(int(s) for s in np.shape(x))
    return shapes


def frame_minmax(features: dict[str, np.ndarray]) -> tuple[float, float]:
    """Per-frame min/max over all levels, as float32 (the header's type) rounded outwards."""
    lo = min(float(np.min(x)) for x in features.values())
    hi = max(float(np.max(x)) for x in features.values())
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if lo32 > lo:
        lo32 = np.nextafter(lo32, np.float32(-np.inf))
    if hi32 < hi:
        hi32 = np.nextafter(hi32, np.float32(np.inf))
    return float(lo32), float(hi32)


def _tile(q: np.ndarray, p: LevelPlacement) -> np.ndarray:
    """C x H x W -> (rows*H) x (cols*W), channel k at grid cell divmod(k, cols)."""
    grid = np.full((p.rows * p.cols, p.height, p.width), FILL, dtype=q.dtype)
    grid[: p.channels] = q
    grid = grid.reshape(p.rows, p.cols, p.height, p.width).transpose(0, 2, 1, 3)
    return grid.reshape(p.rows * p.height, p.cols * p.width)


def _untile(block: np.ndarray, p: LevelPlacement) -> np.ndarray:
    """The inverse of `_tile`."""
    grid = block.reshape(p.rows, p.height, p.cols, p.width).transpose(0, 2, 1, 3)
    return grid.reshape(p.rows * p.cols, p.height, p.width)[: p.channels]


def pack_features(
    features: dict[str, np.ndarray], minmax: tuple[float, float] | None = None
) -> tuple[np.ndarray, PackHeader]:
    """Quantise and tile feature tensors into one uint16 frame (values 0..1023).

    `minmax` fixes the quantisation range; None uses the frame's own min/max and
    records it in the header.
    """
    shapes = _check_features(features)
    per_frame = minmax is None
    lo, hi = frame_minmax(features) if per_frame else (float(minmax[0]), float(minmax[1]))
    width, height, placements = frame_layout(shapes)
    if max(width, height) > 0xFFFF:
        raise CodecError(f"packed feature frame would be {width}x{height}; sides over 65535")
    frame = np.full((height, width), FILL, dtype=np.uint16)
    for p in placements:
        q = quantise(np.asarray(features[p.name]), lo, hi)
        frame[p.y : p.y + p.rows * p.height, : p.cols * p.width] = _tile(q, p)
    header = PackHeader(
        names=tuple(shapes), shapes=tuple(shapes.values()), frame_width=width,
        frame_height=height, minimum=lo, maximum=hi, per_frame=per_frame,
    )
    return frame, header


def unpack_features(frame: np.ndarray, header: PackHeader) -> dict[str, np.ndarray]:
    """The inverse of `pack_features`: float32 C x H x W arrays, in the original order."""
    shapes = dict(zip(header.names, header.shapes))
    width, height, placements = frame_layout(shapes)
    stated = (header.frame_height, header.frame_width)
    if frame.shape != (height, width) or stated != (height, width):
        raise CodecError(
            f"decoded frame is {frame.shape[1]}x{frame.shape[0]}, header says "
            f"{header.frame_width}x{header.frame_height}, shapes give {width}x{height}"
        )
    out = {}
    for p in placements:
        block = frame[p.y : p.y + p.rows * p.height, : p.cols * p.width]
        out[p.name] = dequantise(_untile(block, p), header.minimum, header.maximum)
    return {name: out[name] for name in header.names}


def encode_header(header: PackHeader) -> bytes:
    """Serialise the header compactly (little endian).

    Layout: u8 version, u8 flags, u8 levels, u16 frame width, u16 frame height; per
    level u8 name length, name (UTF-8), u16 C, u16 H, u16 W; then f32 min, f32 max
    when per-frame.
    """
    flags = _FLAG_PER_FRAME if header.per_frame else 0
    parts = [struct.pack("<BBBHH", HEADER_VERSION, flags, len(header.names),
                         header.frame_width, header.frame_height)]
    for name, (c, h, w) in zip(header.names, header.shapes):
        raw = name.encode()
        parts.append(struct.pack("<B", len(raw)) + raw + struct.pack("<HHH", c, h, w))
    if header.per_frame:
        parts.append(struct.pack("<ff", header.minimum, header.maximum))
    return b"".join(parts)


def decode_header(
    data: bytes, minmax: tuple[float, float] | None = None
) -> tuple[PackHeader, int]:
    """Parse `encode_header`'s bytes at the start of `data`: (header, bytes used).

    `minmax` supplies the fixed range when the header carries none.
    """
    try:
        version, flags, count, width, height = struct.unpack_from("<BBBHH", data, 0)
        if version != HEADER_VERSION:
            raise CodecError(
                f"feature bitstream header version {version}, expected {HEADER_VERSION}"
            )
        pos, names, shapes = 7, [], []
        for _ in range(count):
            (n,) = struct.unpack_from("<B", data, pos)
            names.append(data[pos + 1 : pos + 1 + n].decode())
            shapes.append(struct.unpack_from("<HHH", data, pos + 1 + n))
            pos += 1 + n + 6
        per_frame = bool(flags & _FLAG_PER_FRAME)
        if per_frame:
            lo, hi = struct.unpack_from("<ff", data, pos)
            pos += 8
        elif minmax is None:
            raise CodecError("feature bitstream has no min/max and no fixed minmax was given")
        else:
            lo, hi = minmax
    except (struct.error, UnicodeDecodeError) as exc:
        raise CodecError(f"feature bitstream header is truncated or corrupt: {exc}") from exc
    header = PackHeader(tuple(names), tuple(tuple(s) for s in shapes), width, height,
                        float(lo), float(hi), per_frame)
    return header, pos
