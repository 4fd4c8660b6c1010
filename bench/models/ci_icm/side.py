"""Side information of one coded image: rate level (float16) and group importance (bytes).

It travels as one more string per image after ELIC's y and z strings, so its bytes
count in the rate like the rest. A model without rate levels and without importance
sends no side string at all (its stream is ELIC's).
"""

from __future__ import annotations

import struct

import numpy as np


def quantize_level(level: float) -> float:
    """The level as the stream carries it (float16), used by encoder and decoder alike."""
    return float(np.float16(level))


def pack_side(level: float | None, importance: bytes | None) -> bytes:
    """Level (2 bytes, when the model has rate levels) then one byte per group."""
    out = b"" if level is None else struct.pack("<e", level)
    return out + (importance or b"")


def unpack_side(data: bytes, has_level: bool, groups: int) -> tuple[float | None, bytes | None]:
    """Inverse of `pack_side`; ValueError when the length does not match the model."""
    want = (2 if has_level else 0) + groups
    if len(data) != want:
        raise ValueError(f"side information has {len(data)} bytes, this model expects {want}")
    level = struct.unpack("<e", data[:2])[0] if has_level else None
    importance = data[2:] if has_level else data
    return level, (importance if groups else None)
