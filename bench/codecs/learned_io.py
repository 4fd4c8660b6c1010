"""The byte format of learned codecs' bitstreams: a few integers and length-prefixed strings.

A learned model's `compress()` gives entropy-coded strings plus what the decoder needs
besides them (the latent shape, the image size, the rate point). `pack_streams` writes
all of it into one compact byte string, every byte of which is counted as rate:

    byte 0        format byte 0xC1 (magic 0xC, version 1)
    varint        number of integers n
    n zig-zag varints   the integers (signed; shapes, sizes, point code, flags)
    varint        number of strings m
    m times       varint length, then the string's bytes

Varints are little-endian base-128 (7 bits per byte, high bit = more bytes follow), so
an integer below 128 costs one byte; a typical header (size, point, latent shape) is
about 8 bytes. `unpack_streams` refuses truncated, overlong or trailing data with a
CodecError that names the problem.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from bench.errors import CodecError

FORMAT_BYTE = 0xC1
MAX_VARINT_BYTES = 10  # enough for 64-bit values
MAX_COUNT = 1 << 20  # more integers or strings than this is a corrupt stream


def zigzag(value: int) -> int:
    """Map a signed integer to an unsigned one: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ..."""
    return 2 * value if value >= 0 else -2 * value - 1


def unzigzag(value: int) -> int:
    """The inverse of `zigzag`."""
    return value >> 1 if value % 2 == 0 else -((value + 1) >> 1)


def write_varint(out: bytearray, value: int) -> None:
    """Append an unsigned integer as a little-endian base-128 varint."""
    if value < 0:
        raise ValueError(f"varint of a negative number {value}")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


class _Reader:
    """Reads varints and byte strings from a buffer, with errors that say where."""

    def __init__(self, data: bytes):
        self.data = memoryview(bytes(data))
        self.pos = 0

    def varint(self, what: str) -> int:
        value, shift = 0, 0
        for i in range(MAX_VARINT_BYTES):
            if self.pos >= len(self.data):
                raise CodecError(f"learned bitstream truncated: {what} ends at byte {self.pos} "
                                 f"of {len(self.data)}")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise CodecError(f"learned bitstream corrupt: {what} at byte {self.pos} is a varint "
                         f"longer than {MAX_VARINT_BYTES} bytes")

    def count(self, what: str) -> int:
        n = self.varint(what)
        if n > MAX_COUNT:
            raise CodecError(f"learned bitstream corrupt: {what} is {n} (more than {MAX_COUNT})")
        return n

    def take(self, n: int, what: str) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise CodecError(f"learned bitstream truncated: {what} needs {n} bytes at byte "
                             f"{self.pos}, only {len(self.data) - self.pos} left")
        chunk = bytes(self.data[self.pos:end])
        self.pos = end
        return chunk


def pack_streams(ints: Iterable[int], streams: Iterable[bytes]) -> bytes:
    """Serialise header integers (signed) and entropy-coded strings into one byte string.

    Args:
        ints: integers the decoder needs (image size, latent shape, point code, flags).
        streams: the entropy-coded strings, in the order the decoder reads them.

    Returns:
        The packed bytes; their length is the rate.
    """
    ints = [int(v) for v in ints]
    streams = [bytes(s) for s in streams]
    out = bytearray([FORMAT_BYTE])
    write_varint(out, len(ints))
    for v in ints:
        write_varint(out, zigzag(v))
    write_varint(out, len(streams))
    for s in streams:
        write_varint(out, len(s))
        out += s
    return bytes(out)


def unpack_streams(data: bytes) -> tuple[list[int], list[bytes]]:
    """Read what `pack_streams` wrote.

    Raises:
        CodecError: empty, foreign, truncated or corrupt data, or bytes after the end.
    """
    if not data:
        raise CodecError("learned bitstream is empty")
    if data[0] != FORMAT_BYTE:
        raise CodecError(f"not a learned-codec bitstream of this version: format byte "
                         f"0x{data[0]:02x}, expected 0x{FORMAT_BYTE:02x}")
    reader = _Reader(data)
    reader.pos = 1
    n_ints = reader.count("the number of header integers")
    ints = [unzigzag(reader.varint(f"header integer {i}")) for i in range(n_ints)]
    n_streams = reader.count("the number of strings")
    streams = []
    for i in range(n_streams):
        length = reader.varint(f"the length of string {i}")
        streams.append(reader.take(length, f"string {i}"))
    if reader.pos != len(reader.data):
        raise CodecError(f"learned bitstream corrupt: {len(reader.data) - reader.pos} bytes "
                         f"after the last string (of {len(reader.data)})")
    return ints, streams


def header_size(ints: Sequence[int], streams: Sequence[bytes]) -> int:
    """Bytes `pack_streams` adds to the strings' own bytes (format byte, counts, lengths)."""
    return len(pack_streams(ints, streams)) - sum(len(s) for s in streams)
