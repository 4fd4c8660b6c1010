"""The `mfcnet` feature codec: bytes in the bitstream are the whole stream, P2 never in it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.checkpoint import CheckpointError
from bench.codecs.mfcnet import MfcNetCodec
from bench.errors import CodecError, SpecError
from bench.models.mfcnet import MfcNet, small_config
from bench.models.mfcnet.weights import load_mfcnet, load_mfcnet_state, save_mfcnet_weights
from bench.types import Bitstream, RatePoint

torch.set_num_threads(1)

SIZES = {"p2": (64, 80), "p3": (32, 40), "p4": (16, 20), "p5": (8, 10)}


def _payload(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {lv: (3 * rng.standard_normal((64, *hw))).astype(np.float32) for lv, hw in SIZES.items()}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mfcnet")
    torch.manual_seed(0)
    main = MfcNet(small_config("mfcnet"))
    save_mfcnet_weights(main, folder / "main.pt")
    ablated = MfcNet(small_config("no-predict"))
    state = load_mfcnet_state(folder / "main.pt")
    own = ablated.state_dict()
    ablated.load_state_dict({**own, **{k: v for k, v in state.items() if k in own}})
    summary = save_mfcnet_weights(ablated, folder / "no-predict.pt", base=folder / "main.pt")
    return folder, summary


def test_encode_decode_features(weights):
    folder, _ = weights
    codec = MfcNetCodec(weights=str(folder / "main.pt"))
    codec.check()
    bs = codec.encode(_payload(), RatePoint("quality", 3))
    assert list(bs.layers) == ["main"] and bs.meta == {}
    assert bs.bits == 8 * len(bs.layers["main"])
    out = MfcNetCodec(weights=str(folder / "main.pt")).decode(bs)   # a fresh decoder: bytes only
    assert {k: v.shape for k, v in out.items()} == {k: (64, *hw) for k, hw in SIZES.items()}
    assert all(v.dtype == np.float32 for v in out.values())
    again = codec.decode(Bitstream.single(bs.layers["main"]))
    assert all(np.array_equal(out[k], again[k]) for k in out)


def test_bitstream_is_exactly_the_model_stream(weights):
    folder, _ = weights
    codec = MfcNetCodec(weights=str(folder / "main.pt"))
    point = RatePoint("quality", 0)
    model = codec.model_for(point)
    payload = _payload(1)
    data = model.compress({k: torch.from_numpy(v) for k, v in payload.items()}, 0)
    assert codec.encode(payload, point).layers["main"] == data
    content = model.parse(data)
    assert [p.targets for p in model.config.paths] == [("p3",), ("p4", "p5")]  # no P2 target
    assert len(content.strings) == 2
    with pytest.raises(CodecError):
        codec.decode(Bitstream.single(data + b"\0"))


def test_points_are_rate_indices(weights):
    folder, _ = weights
    codec = MfcNetCodec(weights=str(folder / "main.pt"))
    codec.check_point(RatePoint("quality", 5))
    with pytest.raises(SpecError):
        codec.check_point(RatePoint("qp", 5))
    with pytest.raises(SpecError):
        codec.check_point(RatePoint("quality", -1))
    with pytest.raises(CodecError):
        codec.encode(_payload(), RatePoint("quality", 7))
    with pytest.raises(CodecError):
        codec.encode({"p3": np.zeros((64, 32, 40), np.float32)}, RatePoint("quality", 0))


def test_parity_check_passes(weights):
    folder, _ = weights
    codec = MfcNetCodec(weights=str(folder / "main.pt"), parity=True)
    bs = codec.encode(_payload(2), RatePoint("quality", 1))
    codec.decode(bs)
    assert "parity" not in codec.params()


def test_ablation_file_shares_modules_with_its_base(weights):
    folder, summary = weights
    assert summary["shared_with_base"] == ["paths.p2p3", "paths.p4p5"]
    model = load_mfcnet(folder / "no-predict.pt")
    assert [p.name for p in model.config.paths] == ["p2p3", "p2p2", "p4p5"]
    codec = MfcNetCodec(variant="no-predict", weights=str(folder / "no-predict.pt"))
    main = MfcNetCodec(weights=str(folder / "main.pt"))
    point = RatePoint("quality", 2)
    a, b = main.encode(_payload(3), point), codec.encode(_payload(3), point)
    assert b.bits > a.bits
    out = codec.decode(b)
    assert out["p2"].shape == (64, 64, 80)
    with pytest.raises(CodecError):   # the main file is not the no-predict variant
        MfcNetCodec(variant="no-predict", weights=str(folder / "main.pt")).encode(_payload(), point)


def test_changed_base_is_refused(weights, tmp_path):
    folder, _ = weights
    (tmp_path / "main.pt").write_bytes((folder / "main.pt").read_bytes() + b"")
    (tmp_path / "no-predict.pt").write_bytes((folder / "no-predict.pt").read_bytes())
    load_mfcnet(tmp_path / "no-predict.pt")
    torch.manual_seed(9)
    save_mfcnet_weights(MfcNet(small_config("mfcnet")), tmp_path / "main.pt")
    with pytest.raises(CheckpointError):
        load_mfcnet(tmp_path / "no-predict.pt")


def test_missing_weights_say_how_to_get_them(tmp_path):
    codec = MfcNetCodec(weights=str(tmp_path / "none.pt"))
    with pytest.raises(CodecError, match="mfcnet recipes"):
        codec.check()
