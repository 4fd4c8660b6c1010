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

from collections.abc import Iterable, Sequence

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


# Tree codes: a model's nested `strings` and `shape` as integers plus a list of strings.
# An int >= 0 is itself; the negative tags below introduce the other node kinds.
_SEQ, _BYTES, _DICT, _NONE = -1, -2, -3, -4


def flatten_tree(obj: object) -> tuple[list[int], list[bytes]]:
    """Nested lists/tuples/dicts of ints >= 0, bytes and None -> (codes, strings).

    Sequences become `-1, n, children...`; a bytes leaf `-2` (the next string); a dict
    `-3, n` then per key its UTF-8 length, bytes and value; None `-4`. Used for models
    whose compress() output is not a flat list of strings and a flat shape (ELIC).
    """
    codes: list[int] = []
    strings: list[bytes] = []

    def walk(node: object) -> None:
        if isinstance(node, (bytes, bytearray)):
            codes.append(_BYTES)
            strings.append(bytes(node))
        elif node is None:
            codes.append(_NONE)
        elif isinstance(node, dict):
            codes.extend([_DICT, len(node)])
            for key in sorted(node):
                raw = str(key).encode()
                codes.extend([len(raw), *raw])
                walk(node[key])
        elif isinstance(node, (list, tuple)):
            codes.extend([_SEQ, len(node)])
            for child in node:
                walk(child)
        else:
            value = int(node)  # type: ignore[call-overload]
            if value < 0:
                raise ValueError(f"tree codes hold only ints >= 0, got {value}")
            codes.append(value)

    walk(obj)
    return codes, strings


def unflatten_tree(codes: Sequence[int], strings: Sequence[bytes]) -> object:
    """The inverse of `flatten_tree` (sequences of ints come back as tuples, others as lists).

    Raises:
        CodecError: codes that end early, leave codes or strings unused, or are corrupt.
    """
    pos, used = 0, 0

    def take() -> int:
        nonlocal pos
        if pos >= len(codes):
            raise CodecError("learned bitstream corrupt: its structure codes end early")
        pos += 1
        return int(codes[pos - 1])

    def node() -> object:
        nonlocal used
        tag = take()
        if tag >= 0:
            return tag
        if tag == _BYTES:
            if used >= len(strings):
                raise CodecError("learned bitstream corrupt: structure names more strings "
                                 f"than the {len(strings)} it holds")
            used += 1
            return strings[used - 1]
        if tag == _NONE:
            return None
        if tag not in (_SEQ, _DICT):
            raise CodecError(f"learned bitstream corrupt: unknown structure tag {tag}")
        n = take()
        if n > MAX_COUNT or n < 0:
            raise CodecError(f"learned bitstream corrupt: a node of {n} children")
        if tag == _DICT:
            out = {}
            for _ in range(n):
                raw = bytes(take() for _ in range(take()))
                out[raw.decode(errors="replace")] = node()
            return out
        items = [node() for _ in range(n)]
        return tuple(items) if all(isinstance(i, int) for i in items) else items

    try:
        tree = node()
    except ValueError as exc:  # bytes(...) of a value outside 0..255
        raise CodecError(f"learned bitstream corrupt: {exc}") from None
    if pos != len(codes) or used != len(strings):
        raise CodecError(f"learned bitstream corrupt: {len(codes) - pos} structure codes and "
                         f"{len(strings) - used} strings left unused")
    return tree
