"""The `paper` configuration: BFCNet 24.48 M and FineNet 5.87 M parameters (as measured from
the authors' code) and the shapes for an 800 x 1216 input (P2 200 x 304, padded to 256 x 320)."""

from __future__ import annotations

import pytest
import torch

from bench.models.mfcnet import MfcNet, count_parameters, paper_config
from bench.models.mfcnet.normalise import pad_to, padded_size

torch.set_num_threads(1)

H, W = 800, 1216  # detectron2's shorter side 800


@pytest.fixture(scope="module")
def paper_net():
    return MfcNet(paper_config("mfcnet"))


def test_bfcnet_and_finenet_parameter_counts(paper_net):
    bfcnet = count_parameters(paper_net.paths["p2p3"])
    finenet = count_parameters(paper_net.finenet)
    assert round(bfcnet / 1e6, 2) == 24.48
    assert round(finenet / 1e6, 2) == 5.87
    assert bfcnet == 24_481_824 and finenet == 5_868_160   # this build, EB quantiles included
    assert paper_net.paths["p2p3"].gains is None  # one model per lambda, as the authors


def test_paper_bfcnet_parts(paper_net):
    net = paper_net.paths["p2p3"]
    parts = {"g_a": 4_623_744, "h_a": 1_659_840, "h_s": 5_144_736, "g_s": 10_180_864,
             "context_prediction": 1_843_584, "entropy_parameters": 1_017_344}
    for name, count in parts.items():
        assert count_parameters(getattr(net, name)) == count, name


def _shapes(net: MfcNet, name: str, src_hw: tuple[int, int]) -> dict:
    """Shapes through one path's transforms on the meta device (no compute)."""
    path = net.paths[name].to("meta")
    spec = path.spec
    size = padded_size(*src_hw, spec.pad_multiple, spec.pad_min)
    x = pad_to(torch.empty(1, 256, *src_hw, device="meta"), *size)
    y = path.g_a(x)
    z = path.h_a(y)
    params = path.h_s(z)
    outs = path.g_s(y)
    ctx = path.context_prediction(y)
    return {"x": tuple(x.shape), "y": tuple(y.shape), "z": tuple(z.shape),
            "params": tuple(params.shape), "ctx": tuple(ctx.shape),
            **{k: tuple(v.shape) for k, v in outs.items()}, "_out": outs}


def test_paper_shapes_for_800_x_1216(paper_net):
    s = _shapes(paper_net, "p2p3", (H // 4, W // 4))
    assert s["x"] == (1, 256, 256, 320)        # P2 200 x 304 -> multiple of 32, sides >= 256
    assert s["y"] == (1, 192, 32, 40)
    assert s["z"] == (1, 192, 16, 20)
    assert s["params"] == s["ctx"] == (1, 384, 32, 40)
    assert s["p3"] == (1, 256, 128, 160)       # P3-hat before cropping to 100 x 152
    p2_hat = paper_net.finenet.to("meta")(s["_out"]["p3"])
    assert tuple(p2_hat.shape) == (1, 256, 256, 320)   # cropped to P2's 200 x 304
    t = _shapes(paper_net, "p4p5", (H // 16, W // 16))
    assert t["x"] == (1, 256, 56, 80)          # P4 50 x 76 -> multiple of 8
    assert t["y"] == (1, 192, 14, 20) and t["z"] == (1, 192, 7, 10)
    assert t["p4"] == (1, 256, 56, 80) and t["p5"] == (1, 256, 28, 40)


def test_paper_ablations_build():
    for variant, paths in (("no-predict", {"p2p3", "p2p2", "p4p5"}),
                           ("no-cross", {"p2p2", "p3p3", "p4p4", "p5p5"})):
        cfg = paper_config(variant)
        assert {p.name for p in cfg.paths} == paths
        assert cfg.predictor is None
