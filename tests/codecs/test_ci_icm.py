"""The ci-icm codec: per-task decoding of one bitstream, levels, header, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.codecs.ci_icm import CiIcmCodec, weights_path
from bench.codecs.learned_io import unpack_streams
from bench.errors import CodecError, SpecError
from bench.types import RatePoint

torch.set_num_threads(1)
TINY = {"N": 16, "M": 32, "groups": [2, 2, 4, 8, 16], "rate_levels": 3,
        "context_hidden": [16, 16]}


def save_model(path, **switches):
    from bench.checkpoint import save_checkpoint
    from bench.models.ci_icm import CiIcm, CiIcmConfig
    from bench.models.ci_icm.weights import checkpoint_payload

    torch.manual_seed(0)
    config = CiIcmConfig(**TINY, **switches)
    model = CiIcm(config)
    with torch.no_grad():
        if config.tsca:
            model.tsca["detection"].fc2.weight.normal_(0, 0.5)
            model.tsca["segmentation"].dwconv.weight.normal_(0, 0.1)
        if config.fcgs and config.cig:
            model.fcgs.importance_slope.normal_(0, 1.0)
    model.update(force=True)
    save_checkpoint(path, checkpoint_payload(model, {"lambdas": [1, 2, 3]}))
    return path


@pytest.fixture(scope="module")
def full_weights(tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("w") / "full.pt")


@pytest.fixture(scope="module")
def base_weights(tmp_path_factory):
    off = {"cig": False, "fcgs": False, "ci_ctx": False, "tsca": False}
    return save_model(tmp_path_factory.mktemp("w") / "base.pt", **off)


def image(h=37, w=51, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_one_bitstream_gives_each_task_its_own_image(full_weights):
    codec = CiIcmCodec(weights=str(full_weights))
    img = image()
    bs = codec.encode(img, RatePoint("level", 1))
    outs = {t: codec.decode(bs, target=t) for t in (None, "detection", "segmentation")}
    for out in outs.values():
        assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(outs["detection"], outs["segmentation"])
    assert not np.array_equal(outs["detection"], outs[None])
    assert codec.targets == ("detection", "segmentation")


def test_decode_is_the_model_decoder_output_cropped(full_weights):
    codec = CiIcmCodec(weights=str(full_weights))
    img = image()
    point = RatePoint("level", 2)
    bs = codec.encode(img, point)
    model = codec.model_for(point)
    x = torch.nn.functional.pad(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255,
                                (6, 7, 13, 14))
    coded = model.compress(x, level=2.0)
    x_hat = model.decompress(coded["strings"], coded["shape"], outputs=("segmentation",))["x_hat"]
    expect = (x_hat[0, :, 13:50, 6:57] * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(codec.decode(bs, target="segmentation"), expect)
    ints, streams = unpack_streams(bs.data)
    assert streams == [s[0] for s in coded["strings"]]  # y groups, z, side: all counted
    assert ints[1:3] == [37, 51]


def test_fractional_levels_and_rate_order(full_weights):
    codec = CiIcmCodec(weights=str(full_weights))
    img = image(64, 64, seed=1)
    sizes = [codec.encode(img, RatePoint("level", v)).bits for v in (0, 1.5, 2)]
    assert sizes[0] < sizes[1] < sizes[2]
    bs = codec.encode(img, RatePoint("level", 1.5))
    assert codec.decode(bs, target="detection").shape == img.shape


def test_baseline_gives_the_plain_image_for_every_target(base_weights):
    codec = CiIcmCodec(weights=str(base_weights))
    bs = codec.encode(image(), RatePoint("level", 0))
    plain = codec.decode(bs)
    assert np.array_equal(codec.decode(bs, target="detection"), plain)
    assert np.array_equal(codec.decode(bs, target="segmentation"), plain)


def test_points_are_checked_against_the_trained_levels(full_weights):
    codec = CiIcmCodec(weights=str(full_weights))
    codec.check_point(RatePoint("level", 2))
    with pytest.raises(SpecError, match="outside"):
        codec.check_point(RatePoint("level", 3))
    with pytest.raises(SpecError, match="level points"):
        codec.check_point(RatePoint("qp", 1))


def test_unknown_target_and_missing_weights(full_weights, tmp_path):
    codec = CiIcmCodec(weights=str(full_weights))
    bs = codec.encode(image(), RatePoint("level", 0))
    with pytest.raises(CodecError, match="no target"):
        codec.decode(bs, target="keypoints")
    missing = CiIcmCodec(weights=str(tmp_path / "none.pt"))
    with pytest.raises(CodecError, match="does not exist"):
        missing.check()


def test_version_and_params_name_the_weights(full_weights):
    codec = CiIcmCodec(weights=str(full_weights))
    assert codec.version(RatePoint("level", 0)).startswith("ci-icm/1 full sha256:")
    assert codec.params()["weights"] == str(full_weights)
    assert weights_path("ci-icm").name == "ci-icm.pt"
    assert weights_path("ci-icm-baseline").parent.name == "weights"
