"""MvsfcNet: shapes, real coding round trip, joint versus per-view streams."""

from __future__ import annotations

import pytest
import torch

from bench.codecs.mvsfc_stream import from_bytes, quantize_rate, to_bytes
from bench.models.mvsfc import SMALL, MvsfcNet
from bench.models.mvsfc.config import TINY

torch.set_num_threads(1)


def random_levels(cfg, height: int, width: int, batch: int = 1, seed: int = 0):
    """[f0, f1, f2] at strides 4, 8, 16 of a height x width input (ceil division)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(batch, c, -(-height // s), -(-width // s), generator=gen) * 2
            for c, s in zip(cfg.feature_channels, (4, 8, 16))]


def _net(cfg, seed=0):
    torch.manual_seed(seed)
    net = MvsfcNet(cfg).eval()
    net.update(force=True)
    return net


@pytest.mark.parametrize("size", [(188, 621), (64, 128), (70, 90)])
def test_forward_returns_both_views_at_input_shapes(size):
    net = _net(TINY)
    left, right = random_levels(TINY, *size), random_levels(TINY, *size, seed=1)
    out = net(left, right, rate=1.0)
    for view, ref in (("left", left), ("right", right)):
        assert [t.shape for t in out[view]] == [t.shape for t in ref]
    assert out["likelihoods"]["y_left"].shape[1] == TINY.latent_channels
    assert out["likelihoods"]["z_right"].shape[1] == TINY.hyper_channels


def test_small_config_on_the_detector_split_shapes():
    net = _net(SMALL)
    # The stereo3d task pads 621 x 188 frames to 624 x 192: f0 48 x 156, f1 24 x 78, f2 12 x 39.
    left, right = random_levels(SMALL, 192, 624), random_levels(SMALL, 192, 624, seed=1)
    assert [tuple(t.shape[-2:]) for t in left] == [(48, 156), (24, 78), (12, 39)]
    with torch.no_grad():
        out = net(left, right, rate=0)
    assert [t.shape for t in out["left"]] == [t.shape for t in left]
    assert out["likelihoods"]["y_left"].shape[-2:] == (8, 20)   # f2 padded to 16 x 40


def test_compress_decompress_exact_shapes_and_matches_encoder_latents():
    net = _net(TINY)
    left, right = random_levels(TINY, 70, 90), random_levels(TINY, 70, 90, seed=1)
    comp = net.compress(left, right, rate=1.5)
    assert len(comp["strings"]) == 3            # z_left, z_right, one joint y stream
    data = to_bytes(comp)
    back = from_bytes(data)
    assert back["strings"] == comp["strings"] and back["rate"] == 1.5
    dec = net.decompress(back["strings"], back["sizes"], back["rate"])
    for view, ref in (("left", left), ("right", right)):
        assert [t.shape for t in dec[view]] == [t.shape for t in ref]
    again = net.decompress(back["strings"], back["sizes"], back["rate"])
    assert all(torch.equal(a, b) for a, b in zip(dec["left"], again["left"]))


def test_real_decode_equals_encoder_side_reconstruction():
    from bench.models.mvsfc.coding import decode_latents, encode_latents

    net = _net(TINY)
    torch.manual_seed(3)
    ys = [torch.randn(1, 24, 4, 6) * 3 for _ in range(2)]
    hyper = [torch.randn(1, 48, 4, 6) for _ in range(2)]
    ep, gc = net.entropy_parameters, net.gaussian_conditional
    string, enc_latents = encode_latents(ep, gc, (0, 1), ys, hyper)
    dec_latents = decode_latents(ep, gc, (0, 1), string, hyper)
    for a, b, y in zip(enc_latents, dec_latents, ys):
        assert torch.equal(a, b)
        assert (a - y).abs().max() <= 0.5 + 1e-5


def test_rate_points_change_the_rate():
    net = _net(TINY)
    with torch.no_grad():
        net.y_gains.log_gain.copy_(torch.linspace(-2, 1, 3)[:, None].expand(3, 24))
    left, right = random_levels(TINY, 64, 128), random_levels(TINY, 64, 128, seed=1)
    sizes = [len(to_bytes(net.compress(left, right, rate=r))) for r in (0, 1, 2)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_gain_models_need_a_rate_and_rates_are_quantised():
    net = _net(TINY)
    left = random_levels(TINY, 64, 64)
    with pytest.raises(ValueError, match="rate"):
        net(left, left)
    assert quantize_rate(1.23456) == 1.235


def test_ablation_codes_each_view_alone():
    cfg = TINY.ablation()
    assert not cfg.joint
    net = _net(cfg)
    left = random_levels(cfg, 64, 96)
    a = net.compress(left, random_levels(cfg, 64, 96, seed=1), rate=1)
    b = net.compress(left, random_levels(cfg, 64, 96, seed=2), rate=1)
    assert len(a["strings"]) == 4                 # z_left, y_left, z_right, y_right
    assert a["strings"][:2] == b["strings"][:2]   # left does not depend on right
    assert a["strings"][2:] != b["strings"][2:]
    dec = net.decompress(a["strings"], a["sizes"], rate=1)
    assert [t.shape for t in dec["right"]] == [t.shape for t in left]


def test_joint_model_left_depends_on_right():
    net = _net(TINY)
    left = random_levels(TINY, 64, 96)
    a = net.decompress(**_strings(net.compress(left, random_levels(TINY, 64, 96, seed=1), 1)))
    b = net.decompress(**_strings(net.compress(left, random_levels(TINY, 64, 96, seed=2), 1)))
    assert not torch.equal(a["left"][0], b["left"][0])


def _strings(comp):
    return {"strings": comp["strings"], "sizes": comp["sizes"], "rate": comp["rate"]}


def test_compress_rejects_batches():
    net = _net(TINY)
    left = random_levels(TINY, 64, 64, batch=2)
    with pytest.raises(ValueError, match="batch 1"):
        net.compress(left, left, rate=0)


def test_vectorised_indexes_equal_compressai_ones():
    from bench.models.mvsfc.coding import build_indexes

    gc = _net(TINY).gaussian_conditional
    table = gc.scale_table
    scales = torch.cat([torch.exp(torch.linspace(-4, 7, 3000)), table, table * 1.0000001,
                        table * 0.9999999, torch.zeros(3)])
    assert torch.equal(build_indexes(gc, scales), gc.build_indexes(scales))
