"""The sa-icm codecs: two layers, the base alone, refusals, each layer's bits once, simulcast."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from bench.checkpoint import file_sha256, save_checkpoint
from bench.codecs.sa_icm import SaIcmCodec, SaIcmMseCodec, SaIcmSimulcastCodec
from bench.errors import CodecError, SpecError
from bench.models.sa_icm import AdditionalInfoNet, TcmNet, get_config
from bench.models.sa_icm.weights import make_payload
from bench.types import Bitstream, RatePoint

torch.set_num_threads(1)
LAMBDAS = [0.01, 0.04]


def _write(path, role, cfg, net, **extra):
    net.update(force=True)
    save_checkpoint(path, make_payload(role, cfg, LAMBDAS, net, **extra))
    return str(path)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("sa-icm")
    cfg = get_config("small", m=2)
    cfg = replace(cfg, base=replace(cfg.base, rates=2))
    base = _write(d / "base.pt", "base", cfg, TcmNet(cfg.base))
    enh = _write(d / "enh.pt", "enhancement", cfg, AdditionalInfoNet(cfg),
                 base_sha256=file_sha256(base))
    mse = _write(d / "mse.pt", "mse", cfg, TcmNet(cfg.base))
    other = _write(d / "other.pt", "base", cfg, TcmNet(cfg.base))
    return {"base": base, "enhancement": enh, "mse": mse, "other": other}


@pytest.fixture(scope="module")
def codec(weights):
    return SaIcmCodec(base=weights["base"], enhancement=weights["enhancement"], m=2)


def image(h=60, w=90, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


P1, P2 = RatePoint("quality", 1), RatePoint("quality", 2)


def test_two_layers_each_counted_once(codec):
    bs = codec.encode(image(), P2)
    assert set(bs.layers) == {"base", "enhancement"}
    assert bs.bits == 8 * (len(bs.layers["base"]) + len(bs.layers["enhancement"]))
    assert bs.layer_bits() == {name: 8 * len(b) for name, b in bs.layers.items()}
    assert not bs.meta                                 # nothing uncounted travels aside
    # The enhancement layer carries no copy of the base: it is only its own two streams.
    from bench.codecs.learned_io import unpack_streams

    ints, streams = unpack_streams(bs.layers["enhancement"])
    assert ints == [] and len(streams) == 2


def test_base_layer_decodes_alone(codec):
    img = image()
    bs = codec.encode(img, P1)
    only_base = Bitstream(layers={"base": bs.layers["base"]})
    machine = codec.decode(only_base, layers=["base"])
    assert machine.shape == img.shape and machine.dtype == np.uint8
    assert np.array_equal(machine, codec.decode(bs, layers=["base"]))
    human = codec.decode(bs)                            # all layers: the fused human view
    assert human.shape == img.shape and not np.array_equal(human, machine)
    assert np.array_equal(human, codec.decode(bs, layers=["base", "enhancement"]))


def test_enhancement_without_base_is_refused_clearly(codec):
    bs = codec.encode(image(), P1)
    only_enh = Bitstream(layers={"enhancement": bs.layers["enhancement"]})
    with pytest.raises(CodecError, match="cannot be decoded without the base layer"):
        codec.decode(only_enh, layers=["enhancement"])
    with pytest.raises(CodecError, match="cannot be decoded without the base layer"):
        codec.decode(only_enh)
    with pytest.raises(CodecError, match="bytes are missing"):
        codec.decode(Bitstream(layers={"base": bs.layers["base"]}),
                     layers=["base", "enhancement"])
    with pytest.raises(CodecError, match="no layer 'main'"):
        codec.decode(bs, layers=["main"])


def test_machine_view_is_the_base_networks_own_decode(codec, weights):
    img = image(seed=3)
    bs = codec.encode(img, P2)
    from bench.models.sa_icm.weights import load_network

    net, _, _ = load_network(weights["base"], "base")
    x = codec.image_to_tensor(img, 64)
    with torch.no_grad():
        expected = codec.tensor_to_image(net.decompress(**net.compress(x, 1), q=1)["x_hat"],
                                         img.shape[:2], 64)
    assert np.array_equal(codec.decode(bs, layers=["base"]), expected)


def test_points_are_checked(codec):
    codec.check_point(P2)
    for bad in (RatePoint("quality", 0), RatePoint("quality", 1.5), RatePoint("qp", 2)):
        with pytest.raises(SpecError):
            codec.check_point(bad)
    with pytest.raises(CodecError, match="beyond the weights' 2 rate points"):
        codec.encode(image(), RatePoint("quality", 3))


def test_version_names_both_files_and_check_finds_missing_ones(codec, weights, tmp_path):
    v = codec.version(P1)
    assert v.startswith("sa-icm m2 add sha256:")
    assert file_sha256(weights["base"])[:12] in v
    assert file_sha256(weights["enhancement"])[:12] in v
    missing = SaIcmCodec(base=str(tmp_path / "none.pt"), enhancement=weights["enhancement"])
    with pytest.raises(CodecError, match="does not exist"):
        missing.check()


def test_enhancement_trained_on_another_base_is_refused(weights):
    codec = SaIcmCodec(base=weights["other"], enhancement=weights["enhancement"])
    with pytest.raises(CodecError, match="trained against base weights"):
        codec.encode(image(), P1)


def test_wrong_role_file_is_a_clear_error(weights):
    codec = SaIcmCodec(base=weights["enhancement"], enhancement=weights["enhancement"])
    with pytest.raises(CodecError, match="holds the 'enhancement' network"):
        codec.encode(image(), P1)


def test_mse_codec_round_trip(weights):
    codec = SaIcmMseCodec(mse=weights["mse"])
    assert codec.layers == ("main",)
    img = image(seed=1)
    bs = codec.encode(img, P2)
    assert codec.decode(bs).shape == img.shape


def test_simulcast_counts_both_codecs_and_decodes_each_view(weights):
    sim = SaIcmSimulcastCodec(base=weights["base"], mse=weights["mse"])
    mse = SaIcmMseCodec(mse=weights["mse"])
    scal = SaIcmCodec(base=weights["base"], enhancement=weights["enhancement"], m=2)
    img = image(seed=2)
    bs = sim.encode(img, P1)
    alone = mse.encode(img, P1)
    assert bs.layers["enhancement"] == alone.data       # the MSE codec's own stream
    assert bs.layers["base"] == scal.encode(img, P1).layers["base"]
    assert bs.bits == 8 * (len(bs.layers["base"]) + len(alone.data))
    assert np.array_equal(sim.decode(bs), mse.decode(alone))
    assert np.array_equal(sim.decode(bs, layers=["base"]), scal.decode(
        scal.encode(img, P1), layers=["base"]))


def test_a_single_rate_base_serves_every_enhancement_point(tmp_path, weights):
    """The paper's setting: SA-ICM at one lambda, the enhancement at several."""
    torch.manual_seed(1)
    cfg = get_config("small", m=1)
    one = replace(cfg, base=replace(cfg.base, rates=0))
    base = _write(tmp_path / "b.pt", "base", one, TcmNet(one.base))
    two = replace(cfg, base=replace(cfg.base, rates=2))
    enh = _write(tmp_path / "e.pt", "enhancement", two, AdditionalInfoNet(two),
                 base_sha256=file_sha256(base))
    codec = SaIcmCodec(base=base, enhancement=enh, m=1)
    img = image(seed=4)
    low, high = codec.encode(img, P1), codec.encode(img, P2)
    assert np.array_equal(codec.decode(low, layers=["base"]),     # one base rate
                          codec.decode(high, layers=["base"]))
    assert low.layers["enhancement"] != high.layers["enhancement"]
    assert codec.decode(high).shape == img.shape
    sim = SaIcmSimulcastCodec(base=base, mse=weights["mse"])
    assert sim.decode(sim.encode(img, P2), layers=["base"]).shape == img.shape


def test_send_base_writes_the_base_layer_only(codec, weights):
    base_only = SaIcmCodec(base=weights["base"], enhancement=weights["enhancement"], m=2,
                           send="base")
    assert base_only.params()["send"] == "base" and codec.params()["send"] == "all"
    img = image(seed=5)
    bs = base_only.encode(img, P2)
    full = codec.encode(img, P2)
    assert list(bs.layers) == ["base"] and bs.layers["base"] == full.layers["base"]
    assert bs.bits == 8 * len(full.layers["base"])
    assert np.array_equal(base_only.decode(bs), codec.decode(full, layers=["base"]))


def test_send_base_needs_no_enhancement_weights(weights, tmp_path):
    codec = SaIcmCodec(base=weights["base"], enhancement=str(tmp_path / "none.pt"),
                       send="base")
    codec.check()
    assert codec.version(P1).startswith("sa-icm base-only sha256:")
    img = image(seed=6)
    full = SaIcmCodec(base=weights["base"], enhancement=weights["enhancement"], m=2)
    bs = full.encode(img, P1)
    assert np.array_equal(codec.decode(bs, layers=["base"]), full.decode(bs, layers=["base"]))
    with pytest.raises(CodecError, match="decodes the base layer only"):
        codec.decode(bs)
