"""The `mvsfc` codec: stereo features in, one counted stream, both views out at their shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.codecs.mvsfc import MvsfcCodec, resolve_weights
from bench.errors import CodecError, SpecError
from bench.models.mvsfc import MvsfcNet
from bench.models.mvsfc.config import TINY
from bench.models.mvsfc.weights import export_weights
from bench.types import Bitstream, RatePoint

torch.set_num_threads(1)
SHAPES = {"f0": (32, 48, 156), "f1": (48, 24, 78), "f2": (96, 12, 39)}


def _features(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"{v}/{n}": rng.random(s, dtype=np.float32) * 2 for v in ("left", "right")
            for n, s in SHAPES.items()}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("mvsfc") / "tiny.pt"
    export_weights(MvsfcNet(TINY), path)
    return path


def test_round_trip_both_views_exact_shapes(weights):
    codec = MvsfcCodec(weights=str(weights))
    codec.check()
    feats = _features()
    bs = codec.encode(feats, RatePoint("rate", 1))
    assert list(bs.layers) == ["main"] and bs.meta == {}
    out = codec.decode(bs)
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in feats.items()}
    assert all(v.dtype == np.float32 for v in out.values())
    again = codec.decode(Bitstream.single(bs.layers["main"]))
    assert all(np.array_equal(out[k], again[k]) for k in out)


def test_stream_changes_with_either_view(weights):
    codec = MvsfcCodec(weights=str(weights))
    a = codec.encode(_features(0), RatePoint("rate", 0)).layers["main"]
    other = {**_features(0), "right/f0": _features(1)["right/f0"]}
    b = codec.encode(other, RatePoint("rate", 0)).layers["main"]
    assert a != b


def test_rate_points_are_checked(weights):
    codec = MvsfcCodec(weights=str(weights))
    for bad in (-1, 2.5, "low", True):
        with pytest.raises(SpecError):
            codec.check_point(RatePoint("rate", bad))
    codec.check_point(RatePoint("rate", 1.25))


def test_missing_weights_and_wrong_features(tmp_path, weights):
    with pytest.raises(CodecError, match="do not exist"):
        MvsfcCodec(weights=str(tmp_path / "none.pt")).check()
    codec = MvsfcCodec(weights=str(weights))
    feats = _features()
    del feats["right/f1"]
    with pytest.raises(CodecError, match="right/f1"):
        codec.encode(feats, RatePoint("rate", 0))
    with pytest.raises(CodecError, match="bad bitstream"):
        codec.decode(Bitstream.single(b"\x07"))


def test_version_names_the_weights_and_bare_names_resolve(weights):
    assert "tiny.pt:" in MvsfcCodec(weights=str(weights)).version()
    assert resolve_weights("mvsfc.pt").parent.name == "weights"
    assert MvsfcCodec().params() == {"weights": "mvsfc.pt"}
