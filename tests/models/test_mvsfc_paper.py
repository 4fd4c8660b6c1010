"""The `paper` configuration: 88.81 M parameters as measured from the authors' code, shapes."""

from __future__ import annotations

import torch

from bench.models.mvsfc import PAPER, MvsfcNet, get_config

torch.set_num_threads(1)


def test_paper_parameter_count_and_breakdown():
    counts = MvsfcNet(PAPER).parameter_counts()
    assert abs(counts["total"] - 88.81e6) < 0.01e6
    assert counts["total"] == 88_814_784        # this build, entropy bottlenecks included
    # The paper's breakdown: encoder 31.1 M, decoder 39.0 M, hyper 2.1 M + 6.0 M, estimator 10.6 M.
    expected = {"encoder": 31.1, "decoder": 39.0, "hyper_encoder": 2.1, "hyper_decoder": 6.0,
                "parameter_estimator": 10.6}
    for part, millions in expected.items():
        assert round(counts[part] / 1e6, 1) == millions, part
    assert counts["gains"] == 0


def test_paper_shapes_at_288_x_1280():
    net = MvsfcNet(PAPER).eval()
    levels = [torch.rand(1, c, 288 // s, 1280 // s) for c, s in zip((64, 128, 256), (4, 8, 16))]
    with torch.no_grad():
        out = net(levels, levels)
    assert [tuple(t.shape) for t in out["left"]] == [(1, 64, 72, 320), (1, 128, 36, 160),
                                                     (1, 256, 18, 80)]
    assert [tuple(t.shape) for t in out["right"]] == [tuple(t.shape) for t in levels]
    assert tuple(out["likelihoods"]["y_left"].shape) == (1, 192, 12, 40)   # f2 padded to 24
    assert tuple(out["likelihoods"]["z_right"].shape) == (1, 128, 3, 10)


def test_ablation_drops_the_contextual_transforms_and_cross_view_context():
    cfg = get_config("paper", ablation=True)
    net = MvsfcNet(cfg)
    names = [n for n, _ in net.named_parameters()]
    assert not any(".bct" in n and ".res." in n for n in names)
    assert not any(n.startswith("entropy_parameters.gate") for n in names)
    assert net.entropy_parameters.estimator[0][0].in_channels == 4 * 192
