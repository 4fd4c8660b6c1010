"""The learned-baseline codec: one variable-rate model, lambda points, level in the header."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.codecs.learned_baseline import DEFAULT_WEIGHTS, LearnedBaselineCodec
from bench.codecs.learned_io import unpack_streams
from bench.errors import CodecError, SpecError
from bench.models.learned_baseline import WEIGHTS_FORMAT, GainedMeanScaleHyperprior
from bench.types import RatePoint

torch.set_num_threads(1)
LAMBDAS = [0.002, 0.008, 0.032]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = GainedMeanScaleHyperprior(N=16, M=24, lambdas=LAMBDAS)
    with torch.no_grad():
        model.g_a[-1].weight.mul_(20)
    model.update(force=True)
    path = tmp_path_factory.mktemp("w") / "lb.pt"
    torch.save({"format": WEIGHTS_FORMAT, "config": model.config(),
                "state_dict": model.state_dict()}, path)
    return path


def image(h=45, w=70):
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_round_trip_and_header(weights):
    codec = LearnedBaselineCodec(weights=str(weights))
    codec.check()
    sizes = []
    for lmbda in LAMBDAS:
        bs = codec.encode(image(), RatePoint("lambda", lmbda))
        assert codec.decode(bs).shape == (45, 70, 3)
        sizes.append(len(bs.data))
    ints, _ = unpack_streams(bs.data)
    assert ints[:4] == [0, 45, 70, 2000]  # flat layout, size, level 2.000 in thousandths
    assert sizes == sorted(sizes)


def test_lambda_between_levels(weights):
    codec = LearnedBaselineCodec(weights=str(weights))
    mid = (LAMBDAS[0] * LAMBDAS[1]) ** 0.5
    bs = codec.encode(image(), RatePoint("lambda", mid))
    assert unpack_streams(bs.data)[0][3] == 500
    assert codec.decode(bs).shape == (45, 70, 3)


def test_points_checked_before_the_run(weights, tmp_path):
    codec = LearnedBaselineCodec(weights=str(weights))
    codec.check_point(RatePoint("lambda", 0.008))
    assert codec._models == {}  # planning never builds the network
    with pytest.raises(SpecError, match="outside the trained range"):
        codec.check_point(RatePoint("lambda", 0.5))
    with pytest.raises(SpecError, match="takes lambda points"):
        codec.check_point(RatePoint("quality", 3))
    with pytest.raises(CodecError, match="do not exist"):
        LearnedBaselineCodec(weights=str(tmp_path / "none.pt")).check()


def test_other_weights_format_refused(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"format": "something/else", "state_dict": {}}, path)
    with pytest.raises(CodecError, match="not a 'icm-bench/learned-baseline/1' weights file"):
        LearnedBaselineCodec(weights=str(path)).encode(image(), RatePoint("lambda", 0.008))


def test_version_and_default_weights(weights):
    from bench.checkpoint import file_sha256

    codec = LearnedBaselineCodec(weights=str(weights))
    assert codec.version(RatePoint("lambda", 0.008)).endswith(file_sha256(weights)[:12])
    assert LearnedBaselineCodec().weights_path() == DEFAULT_WEIGHTS
    assert "weights" in LearnedBaselineCodec().params()
