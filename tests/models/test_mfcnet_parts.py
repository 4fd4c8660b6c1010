"""MFCNet parts: configurations, normalisation and padding rules, the stream format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.models.mfcnet import VARIANTS, MfcNetConfig, build_config, small_config
from bench.models.mfcnet.normalise import (
    fpn_shapes,
    half_range,
    joint_range,
    p6_from_p5,
    padded_size,
)
from bench.models.mfcnet.stream import (
    StreamContent,
    StreamError,
    read_stream,
    read_varint,
    write_stream,
    write_varint,
)

LEVELS = ("p2", "p3", "p4", "p5")


@pytest.mark.parametrize("size", ["paper", "small"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_configs_round_trip_through_plain_data(size, variant):
    cfg = build_config(size, variant)
    again = MfcNetConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert sorted(cfg.coded_levels() + ((cfg.predictor.target,) if cfg.predictor else ())) \
        == sorted(LEVELS)


def test_small_config_has_gain_units_and_paper_ratios():
    cfg = small_config()
    assert cfg.channels == 64 and cfg.N == cfg.M == 32 and cfg.n_rates == len(cfg.lambdas) >= 5
    assert cfg.predictor.ngf == 32 and cfg.predictor.n_blocks == 9
    assert build_config("paper").n_rates == 0


def test_bad_configs_are_refused():
    with pytest.raises(ValueError):
        build_config("small", "nope")
    with pytest.raises(ValueError):
        build_config("huge")
    with pytest.raises(ValueError):
        build_config("small", lambdas=[1.0, -1.0])
    with pytest.raises(ValueError):
        MfcNetConfig.from_dict({**small_config().to_dict(), "extra": 1})


def test_padding_rules():
    assert padded_size(200, 304, 32, 256) == (256, 320)    # the paper's P2 of 800 x 1216
    assert padded_size(300, 400, 32, 256) == (320, 416)
    assert padded_size(64, 80, 16) == (64, 80)
    assert padded_size(15, 20, 8) == (16, 24)


def test_half_range_rounds_outwards_to_float16():
    lo, hi = half_range(-13.954157, 15.326077)
    assert lo <= -13.954157 and hi >= 15.326077
    assert np.float16(lo) == lo and np.float16(hi) == hi
    assert hi - lo < 29.3
    a, b = half_range(2.0, 2.0)
    assert b > a
    with pytest.raises(ValueError):
        half_range(0.0, 1e6)
    assert joint_range([torch.tensor([-1.0, 0.5]), torch.tensor([3.0])]) == (-1.0, 3.0)


def test_fpn_shapes_and_p6():
    assert fpn_shapes((60, 80), LEVELS) == {"p2": (60, 80), "p3": (30, 40), "p4": (15, 20),
                                            "p5": (8, 10)}
    p5 = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(1, 2, 5, 7)
    assert torch.equal(p6_from_p5(p5), p5[:, :, ::2, ::2])


def test_varints():
    for n in (0, 1, 127, 128, 300, 65535, 2**40):
        data = write_varint(n)
        assert read_varint(data, 0) == (n, len(data))
    with pytest.raises(StreamError):
        read_varint(b"\x80", 0)


def _content(rate=3):
    sizes = fpn_shapes((64, 80), LEVELS)
    return StreamContent(rate, sizes, ((-1.5, 2.25), (-3.0, 4.0)),
                         ((b"abc", b"z"), (b"", b"qq")))


def _read(data, has_rate=True):
    return read_stream(data, LEVELS, 2, (2, 2), has_rate, lambda p2: fpn_shapes(p2, LEVELS))


def test_stream_round_trip_and_size():
    content = _content()
    data = write_stream(content, LEVELS, derived=True)
    assert len(data) == 1 + 1 + 2 + 8 + (1 + 3) + (1 + 1) + (1 + 0) + (1 + 2)
    assert _read(data) == content
    explicit = write_stream(content, LEVELS, derived=False)
    assert len(explicit) == len(data) + 6 and _read(explicit) == content


def test_stream_without_rate_index_and_errors():
    content = StreamContent(None, *list(_content().__dict__.values())[1:])
    data = write_stream(content, LEVELS, derived=True)
    assert _read(data, has_rate=False) == content
    with pytest.raises(StreamError):
        _read(b"")
    with pytest.raises(StreamError):
        _read(bytes([0x20]) + data[1:])      # another format version
    with pytest.raises(StreamError):
        _read(data[:-1], has_rate=False)
