"""The joint bitstream of one stereo pair: every byte the receiver needs.

Layout: a header of unsigned LEB128 integers (format version, rate point in
thousandths, the original (H, W) of f0, f1 and f2, the number of strings) followed by
each string with its LEB128 length. The rate point is quantised to thousandths before
encoding (`quantize_rate`), so encoder and decoder use the same gains.
"""

from __future__ import annotations

from typing import Any

FORMAT_VERSION = 1
RATE_SCALE = 1000


def quantize_rate(rate: float | None) -> float | None:
    """The rate point as the stream carries it (thousandths)."""
    return None if rate is None else round(float(rate) * RATE_SCALE) / RATE_SCALE


def _put(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError(f"cannot store a negative integer ({value})")
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return


def _get(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated MVSFC stream")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def to_bytes(compressed: dict[str, Any]) -> bytes:
    """Serialise MvsfcNet.compress's output."""
    out = bytearray()
    rate = compressed.get("rate")
    _put(out, FORMAT_VERSION)
    _put(out, 0 if rate is None else round(rate * RATE_SCALE) + 1)
    for h, w in compressed["sizes"]:
        _put(out, int(h))
        _put(out, int(w))
    _put(out, len(compressed["strings"]))
    for s in compressed["strings"]:
        _put(out, len(s))
        out += s
    return bytes(out)


def from_bytes(data: bytes) -> dict[str, Any]:
    """Inverse of to_bytes: {"strings", "sizes", "rate"}."""
    version, pos = _get(data, 0)
    if version != FORMAT_VERSION:
        raise ValueError(f"MVSFC stream format {version}, expected {FORMAT_VERSION}")
    rate, pos = _get(data, pos)
    dims = []
    for _ in range(6):
        value, pos = _get(data, pos)
        dims.append(value)
    count, pos = _get(data, pos)
    strings = []
    for _ in range(count):
        n, pos = _get(data, pos)
        if pos + n > len(data):
            raise ValueError("truncated MVSFC stream")
        strings.append(bytes(data[pos:pos + n]))
        pos += n
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} trailing bytes after the MVSFC stream")
    return {"strings": strings, "sizes": [tuple(dims[i:i + 2]) for i in (0, 2, 4)],
            "rate": None if rate == 0 else (rate - 1) / RATE_SCALE}
