"""The MVSFC byte layout (bench/codecs/mvsfc_stream.py)."""

from __future__ import annotations

import pytest

from bench.codecs.mvsfc_stream import from_bytes, quantize_rate, to_bytes


def test_stream_round_trip_and_truncation():
    comp = {"strings": [b"ab", b"", b"x" * 300], "sizes": [(48, 156), (24, 78), (12, 39)],
            "rate": 2.25}
    data = to_bytes(comp)
    # format byte, count, 8 zig-zag integers (2251, 156 and 78 take 2 bytes), count, strings
    assert len(data) == 1 + 1 + (1 + 2 + 1 + 2 + 1 + 2 + 1 + 1) + 1 + (1 + 2) + 1 + (2 + 300)
    assert from_bytes(data) == comp
    with pytest.raises(ValueError, match="truncat"):
        from_bytes(data[:-1])
    assert from_bytes(to_bytes({**comp, "rate": None}))["rate"] is None


def test_rates_are_carried_in_thousandths_and_bad_streams_are_refused():
    assert quantize_rate(1.23456) == 1.235 and quantize_rate(None) is None
    comp = {"strings": [b"a"], "sizes": [(8, 8), (4, 4), (2, 2)], "rate": 0.0}
    assert from_bytes(to_bytes(comp))["rate"] == 0.0
    with pytest.raises(ValueError, match="negative"):
        to_bytes({**comp, "rate": -1.0})
    with pytest.raises(ValueError, match="not an MVSFC stream"):
        from_bytes(to_bytes({**comp, "sizes": [(8, 8), (4, 4)]}))
