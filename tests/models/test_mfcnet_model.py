"""MFCNet `small`: real compress/decompress, what the bitstream holds, P2 absent from it."""

from __future__ import annotations

import pytest
import torch

from bench.models.mfcnet import MfcNet, small_config
from bench.models.mfcnet.normalise import crop, denormalise, fpn_shapes, padded_size
from bench.models.mfcnet.stream import StreamError, write_varint

torch.set_num_threads(1)

SIZES = fpn_shapes((64, 80), ("p2", "p3", "p4", "p5"))  # 320 x 240 -> the detector's 256 x 320


def _features(seed: int = 0, sizes=SIZES) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {lv: 3 * torch.randn(64, *hw, generator=g) for lv, hw in sizes.items()}


def _net(variant: str = "mfcnet", seed: int = 0) -> MfcNet:
    torch.manual_seed(seed)
    net = MfcNet(small_config(variant)).eval()
    net.update(force=True)
    return net


@pytest.fixture(scope="module")
def net():
    return _net()


def test_round_trip_shapes_and_determinism(net):
    feats = _features()
    data = net.compress(feats, 2)
    assert data == net.compress(feats, 2)
    out = net.decompress(data)
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (64, *hw) for k, hw in SIZES.items()}
    again = net.decompress(data)
    assert all(torch.equal(out[k], again[k]) for k in out)


def test_stream_holds_header_and_every_path_string_and_nothing_else(net):
    data = net.compress(_features(), 0)
    content = net.parse(data)
    # header: version/flags, rate index, P2 size (64, 80: one byte each), 2 groups x 2 float16
    header = 1 + 1 + 2 + 2 * 4
    coded = sum(len(write_varint(len(s))) + len(s) for p in content.strings for s in p)
    assert len(data) == header + coded
    assert [len(p) for p in content.strings] == [2, 2]   # (y, z) of p2p3 and of p4p5
    assert all(len(s) > 0 for p in content.strings for s in p)
    with pytest.raises(StreamError):
        net.parse(data[:-1])
    with pytest.raises(StreamError):
        net.parse(data + b"\0")


def test_decoder_needs_only_the_bytes():
    a, b = _net(seed=3), _net(seed=3)
    feats = _features(1)
    out_a = a.decompress(a.compress(feats, 4))
    out_b = b.decompress(a.compress(feats, 4))
    assert all(torch.equal(out_a[k], out_b[k]) for k in out_a)


def test_p2_is_absent_from_the_bitstream_and_predicted_from_p3(net):
    cfg = net.config
    assert "p2" not in cfg.coded_levels()          # no coded path reconstructs P2
    feats = _features(2)
    data = net.compress(feats, 1)
    content = net.parse(data)
    out = net.decompress(data)
    # P2-hat is a function of the decoded P3 only: FineNet on the p2p3 path's decode
    spec = cfg.path("p2p3")
    z_shape = tuple(n // (spec.y_stride * 2) for n in padded_size(64, 80, spec.pad_multiple))
    with torch.no_grad():
        p3 = net.paths["p2p3"].decompress(list(content.strings[0]), z_shape, 1)["p3"].clamp(0, 1)
        p2 = net.finenet(p3).clamp(0, 1)
    lo, hi = content.ranges[0]
    assert torch.allclose(out["p2"], denormalise(crop(p2[0], 64, 80), lo, hi))
    assert torch.allclose(out["p3"], denormalise(crop(p3[0], 32, 40), lo, hi))


def test_no_predict_ablation_pays_for_p2():
    full, ablated = _net("mfcnet", 5), _net("no-predict", 5)
    ablated.load_state_dict({k: v for k, v in full.state_dict().items()
                             if not k.startswith("finenet.")}, strict=False)
    feats = _features(3)
    a, b = full.compress(feats, 0), ablated.compress(feats, 0)
    strings = ablated.parse(b).strings
    assert [p.name for p in ablated.config.paths] == ["p2p3", "p2p2", "p4p5"]
    assert strings[0] == full.parse(a).strings[0] and strings[2] == full.parse(a).strings[1]
    extra = sum(len(write_varint(len(s))) + len(s) for s in strings[1])
    assert len(b) == len(a) + extra


def test_no_cross_ablation_codes_each_level_alone():
    net = _net("no-cross", 6)
    feats = _features(4)
    data = net.compress(feats, 5)
    assert len(net.parse(data).strings) == 4
    out = net.decompress(data)
    assert tuple(out["p5"].shape) == (64, 8, 10)


def test_nonstandard_sizes_are_sent_explicitly(net):
    sizes = {"p2": (60, 80), "p3": (30, 40), "p4": (16, 20), "p5": (8, 10)}  # P4 is not ceil(15)
    data = net.compress(_features(7, sizes), 0)
    content = net.parse(data)
    assert content.sizes == sizes
    assert {k: tuple(v.shape[-2:]) for k, v in net.decompress(data).items()} == sizes


def test_rate_index_checked(net):
    with pytest.raises(ValueError):
        net.compress(_features(), 7)


def test_forward_batch_shapes_and_rate_indices(net):
    net.train()
    feats = {k: v[None].repeat(2, 1, 1, 1) for k, v in _features().items()}
    normed, ranges = net.normalise_batch(feats)
    assert all(0 <= float(v.min()) and float(v.max()) <= 1 for v in normed.values())
    out = net(normed, torch.tensor([0, 5]))
    net.eval()
    assert {k: tuple(v.shape) for k, v in out["levels"].items()} == {
        k: (2, 64, *hw) for k, hw in SIZES.items()}
    assert tuple(out["likelihoods"]["p2p3"]["y"].shape) == (2, 32, 8, 10)
    assert tuple(out["likelihoods"]["p4p5"]["z"].shape) == (2, 32, 2, 3)
