import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.codecs.feature_packing import (
    FILL,
    decode_header,
    dequantise,
    encode_header,
    frame_layout,
    pack_features,
    quantise,
    tile_grid,
    unpack_features,
)
from bench.errors import CodecError

FPN_800x1216 = {
    "p2": (256, 200, 304), "p3": (256, 100, 152), "p4": (256, 50, 76), "p5": (256, 25, 38)
}
FPN_608x1344 = {
    "p2": (256, 152, 336), "p3": (256, 76, 168), "p4": (256, 38, 84), "p5": (256, 19, 42)
}


def random_features(shapes, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(s) * scale).astype(np.float32) for k, s in shapes.items()}


@pytest.mark.parametrize(
    "channels, grid",
    [(256, (16, 16)), (1, (1, 1)), (96, (8, 12)), (7, (1, 7)), (12, (3, 4)), (200, (10, 20))],
)
def test_tile_grid_short_side_is_largest_divisor_below_sqrt(channels, grid):
    assert tile_grid(channels) == grid


def test_anchor_geometry_p2_alone_and_p2_to_p5():
    # The ANCHORS.md figures: P2 of 256 x 152 x 336 -> 5376 wide; P2..P5 -> 5376 x 3230.
    assert frame_layout({"p2": FPN_608x1344["p2"]})[:2] == (5376, 2432)
    width, height, placements = frame_layout(FPN_608x1344)
    assert (width, height) == (5376, 3230)
    assert [(p.name, p.y, p.rows, p.cols) for p in placements] == [
        ("p2", 0, 16, 16), ("p3", 2432, 8, 32), ("p4", 3040, 4, 64), ("p5", 3192, 2, 128),
    ]


def test_geometry_for_an_800x1216_input():
    # Stride-4 P2 of an 800 x 1216 image is 200 x 304; 16 x 16 tiles give 4864 wide.
    width, height, placements = frame_layout(FPN_800x1216)
    assert width == 16 * 304 == 4864
    assert height == 16 * 200 + 8 * 100 + 4 * 50 + 2 * 25 == 4250
    assert [p.cols for p in placements] == [16, 32, 64, 128]


def test_levels_are_sorted_largest_first_but_order_is_restored():
    feats = random_features({"p5": (4, 3, 5), "p2": (4, 12, 20), "p3": (4, 6, 10)})
    frame, header = pack_features(feats)
    _, _, placements = frame_layout(dict(zip(header.names, header.shapes)))
    assert [p.name for p in placements] == ["p2", "p3", "p5"]
    out = unpack_features(frame, header)
    assert list(out) == ["p5", "p2", "p3"]
    assert all(out[k].shape == feats[k].shape and out[k].dtype == np.float32 for k in feats)


def test_non_power_of_two_channels_leave_unused_tiles_filled():
    shapes = {"a": (96, 6, 10), "b": (7, 3, 5), "c": (5, 9, 13)}
    width, height, placements = frame_layout(shapes)
    assert width == 12 * 10  # 96 channels -> 8 x 12 grid
    grid = [(p.name, p.rows, p.cols) for p in placements]
    assert grid == [("a", 8, 12), ("c", 1, 5), ("b", 1, 7)]
    assert height == 8 * 6 + 1 * 9 + 1 * 3  # a, then c (585 values), then b (105)
    frame, header = pack_features(random_features(shapes), minmax=(-1.0, 1.0))
    assert frame.shape == (height, width)
    c = next(p for p in placements if p.name == "c")
    assert np.all(frame[c.y : c.y + 9, 5 * 13 :] == FILL)


def test_frame_sides_are_even():
    frame, _ = pack_features(random_features({"x": (3, 5, 7)}))
    assert frame.shape == (6, 22)  # 1 x 3 grid of 5 x 7 tiles, padded to even


def test_quantisation_formula_and_range():
    x = np.array([-5.0, 0.0, 0.4999, 0.5, 1.0, 7.0])
    q = quantise(x, 0.0, 1.0)
    assert q.tolist() == [0, 0, 511, 511, 1023, 1023]
    assert dequantise(np.array([0, 1023]), -2.0, 2.0).tolist() == [-2.0, 2.0]
    assert quantise(x, 1.0, 1.0).max() == 0  # degenerate range: no division by zero


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 40), st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=4
    ),
    st.integers(0, 2**16),
    st.booleans(),
)
def test_round_trip_within_one_quantisation_step(shapes, seed, per_frame):
    feats = random_features({f"l{i}": s for i, s in enumerate(shapes)}, seed=seed)
    minmax = None if per_frame else (-4.0, 4.0)
    frame, header = pack_features(feats, minmax)
    assert frame.dtype == np.uint16 and frame.max() <= 1023
    data = encode_header(header)
    parsed, used = decode_header(data + b"\x00\x00\x00\x01", minmax)
    assert used == len(data) and parsed == header
    out = unpack_features(frame, parsed)
    step = (header.maximum - header.minimum) / 1023
    for k, x in feats.items():
        ref = np.clip(x, header.minimum, header.maximum)
        assert np.max(np.abs(out[k] - ref)) <= step * (1 + 1e-5)
        if per_frame:
            assert np.array_equal(ref, x)


def test_header_is_small_and_carries_minmax_only_when_per_frame():
    feats = random_features(FPN_608x1344)
    _, fixed = pack_features(feats, (-17.8848, 16.69418))
    _, per_frame = pack_features(feats)
    assert len(encode_header(per_frame)) == len(encode_header(fixed)) + 8
    assert len(encode_header(fixed)) == 7 + 4 * (1 + 2 + 6)
    with pytest.raises(CodecError, match="no fixed minmax"):
        decode_header(encode_header(fixed))


def test_bad_payloads_raise_codec_errors():
    with pytest.raises(CodecError, match="empty"):
        pack_features({})
    with pytest.raises(CodecError, match="C x H x W"):
        pack_features({"p2": np.zeros((4, 4), np.float32)})
    with pytest.raises(CodecError, match="NaN"):
        pack_features({"p2": np.full((1, 2, 2), np.nan, np.float32)})
    with pytest.raises(CodecError, match="truncated"):
        decode_header(b"\x01\x00\x02")
    frame, header = pack_features(random_features({"a": (4, 4, 4)}))
    with pytest.raises(CodecError, match="header says"):
        unpack_features(frame[:-2], header)
