"""The learned-codec byte format: round trips, size, and refusal of bad input."""

from __future__ import annotations

import random

import pytest

from bench.codecs.learned_io import (
    FORMAT_BYTE,
    header_size,
    pack_streams,
    unpack_streams,
    unzigzag,
    write_varint,
    zigzag,
)
from bench.errors import CodecError


@pytest.mark.parametrize("v", [0, 1, -1, 63, -64, 64, 127, 128, 300, -300, 2**40, -(2**40)])
def test_zigzag_round_trip(v):
    assert unzigzag(zigzag(v)) == v
    assert zigzag(v) >= 0


def test_varint_lengths():
    for value, n in [(0, 1), (127, 1), (128, 2), (16383, 2), (16384, 3)]:
        out = bytearray()
        write_varint(out, value)
        assert len(out) == n


def test_round_trip_random():
    rng = random.Random(0)
    for _ in range(50):
        ints = [rng.randint(-10**9, 10**9) for _ in range(rng.randint(0, 8))]
        streams = [bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
                   for _ in range(rng.randint(0, 5))]
        assert unpack_streams(pack_streams(ints, streams)) == (ints, streams)


def test_header_is_compact_and_counted():
    ints = [240, 320, 3, 4, 5]  # height, width, point, latent shape
    streams = [b"a" * 200, b"b" * 20]
    data = pack_streams(ints, streams)
    assert data[0] == FORMAT_BYTE
    # format + count + 5 ints (240 and 320 take two bytes) + count + two 1-2 byte lengths
    assert header_size(ints, streams) == len(data) - 220 == 1 + 1 + 7 + 1 + 2 + 1
    assert data.endswith(b"a" * 200 + bytes([20]) + b"b" * 20)


def test_empty_and_foreign_data():
    with pytest.raises(CodecError, match="empty"):
        unpack_streams(b"")
    with pytest.raises(CodecError, match="format byte 0x00"):
        unpack_streams(b"\x00\x01\x02")


def test_every_truncation_is_refused():
    data = pack_streams([5, -7, 1000], [b"xyz" * 50, b"", b"q"])
    for cut in range(1, len(data)):
        with pytest.raises(CodecError, match="truncated"):
            unpack_streams(data[:cut])


def test_trailing_bytes_are_refused():
    data = pack_streams([1], [b"ab"])
    with pytest.raises(CodecError, match="1 bytes after the last string"):
        unpack_streams(data + b"\x00")


def test_overlong_varint_and_huge_count():
    with pytest.raises(CodecError, match="longer than 10 bytes"):
        unpack_streams(bytes([FORMAT_BYTE]) + b"\xff" * 12)
    huge = bytearray([FORMAT_BYTE])
    write_varint(huge, 1 << 30)
    with pytest.raises(CodecError, match="number of header integers is 1073741824"):
        unpack_streams(bytes(huge))


def test_corrupt_length_names_the_string():
    data = bytearray(pack_streams([], [b"abc", b"de"]))
    data[3] = 50  # length of string 0 -> 50
    with pytest.raises(CodecError, match="string 0 needs 50 bytes"):
        unpack_streams(bytes(data))


def test_tree_round_trip_elic_like():
    from bench.codecs.learned_io import flatten_tree, unflatten_tree

    strings = [[b"abc"], [b""], [b"\x00" * 40]]
    shape = {"y": [(16, 4, 4), (192, 4, 4)], "hyper": (1, 1), "none": None}
    codes, leaves = flatten_tree((strings, shape))
    assert leaves == [b"abc", b"", b"\x00" * 40]
    back_strings, back_shape = unflatten_tree(codes, leaves)
    assert back_strings == strings and back_shape == shape
    data = pack_streams(codes, leaves)
    assert unflatten_tree(*unpack_streams(data)) == [strings, shape]


def test_tree_errors():
    from bench.codecs.learned_io import flatten_tree, unflatten_tree

    codes, leaves = flatten_tree([[b"a"], (3, 4)])
    with pytest.raises(CodecError, match="end early"):
        unflatten_tree(codes[:-1], leaves)
    with pytest.raises(CodecError, match="more strings"):
        unflatten_tree(codes, [])
    with pytest.raises(CodecError, match="left unused"):
        unflatten_tree(codes + [5], leaves)
    with pytest.raises(CodecError, match="unknown structure tag -9"):
        unflatten_tree([-9], [])
    with pytest.raises(ValueError, match=">= 0"):
        flatten_tree([(-1, 2)])
