"""The MFCNet bitstream: one byte string holding the header and every coded path.

Layout (all counted in the rate):

- byte 0: format version (high nibble) and flags (bit 0: P3..P5 sizes are the ceil
  halvings of P2's, so only P2's size is sent);
- the rate index (one byte) when the model has gain units;
- level sizes as unsigned LEB128 varints: P2's height and width, or every level's;
- per normalisation group: min and max as little-endian float16;
- per coded path, per string (y, then z): a varint length and the bytes.

Nothing else travels: the decoder knows the model (channels, paths, padding rules) and
derives every latent shape from the level sizes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FORMAT_VERSION = 1
_FLAG_DERIVED = 1


class StreamError(ValueError):
    """A byte string that is not a well-formed MFCNet stream for this model."""


@dataclass(frozen=True)
class StreamContent:
    """What one stream carries."""

    rate_index: int | None
    sizes: dict[str, tuple[int, int]]
    ranges: tuple[tuple[float, float], ...]
    strings: tuple[tuple[bytes, ...], ...]


def write_varint(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise StreamError(f"varint of a negative value {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); StreamError when the data ends inside it."""
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise StreamError("stream ends inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise StreamError("malformed number in the stream")


def write_stream(content: StreamContent, levels: tuple[str, ...], derived: bool) -> bytes:
    """Serialise `content`; `derived` says P3.. sizes follow from P2's (only P2's is sent)."""
    out = bytearray([(FORMAT_VERSION << 4) | (_FLAG_DERIVED if derived else 0)])
    if content.rate_index is not None:
        if not 0 <= content.rate_index < 256:
            raise StreamError(f"rate index {content.rate_index} does not fit one byte")
        out.append(content.rate_index)
    for level in levels[:1] if derived else levels:
        for n in content.sizes[level]:
            out += write_varint(int(n))
    for lo, hi in content.ranges:
        out += struct.pack("<ee", lo, hi)
    for path_strings in content.strings:
        for s in path_strings:
            out += write_varint(len(s)) + s
    return bytes(out)


def read_stream(data: bytes, levels: tuple[str, ...], n_groups: int,
                strings_per_path: tuple[int, ...], has_rate: bool, derive) -> StreamContent:
    """Parse a stream; `derive(p2_size)` gives every level's size when the flag says so.

    StreamError on a wrong version, truncated data or trailing bytes.
    """
    if not data:
        raise StreamError("empty stream")
    version, flags = data[0] >> 4, data[0] & 0x0F
    if version != FORMAT_VERSION:
        raise StreamError(f"stream format {version}; this decoder reads {FORMAT_VERSION}")
    pos = 1
    rate = None
    if has_rate:
        if pos >= len(data):
            raise StreamError("stream ends before the rate index")
        rate, pos = data[pos], pos + 1
    sent = levels[:1] if flags & _FLAG_DERIVED else levels
    sizes: dict[str, tuple[int, int]] = {}
    for level in sent:
        h, pos = read_varint(data, pos)
        w, pos = read_varint(data, pos)
        sizes[level] = (h, w)
    if flags & _FLAG_DERIVED:
        sizes = derive(sizes[levels[0]])
    ranges = []
    for _ in range(n_groups):
        if pos + 4 > len(data):
            raise StreamError("stream ends inside the min/max values")
        lo, hi = struct.unpack_from("<ee", data, pos)
        ranges.append((float(lo), float(hi)))
        pos += 4
    strings = []
    for count in strings_per_path:
        one = []
        for _ in range(count):
            n, pos = read_varint(data, pos)
            if pos + n > len(data):
                raise StreamError("stream ends inside a coded string")
            one.append(bytes(data[pos:pos + n]))
            pos += n
        strings.append(tuple(one))
    if pos != len(data):
        raise StreamError(f"{len(data) - pos} bytes after the end of the stream")
    return StreamContent(rate, sizes, tuple(ranges), tuple(strings))
