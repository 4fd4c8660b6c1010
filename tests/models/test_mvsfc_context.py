"""The entropy model's parallel (training) and serial (coding) paths agree and are causal."""

from __future__ import annotations

import pytest
import torch

from bench.models.mvsfc.config import TINY
from bench.models.mvsfc.context import EntropyParameters, SerialContext

torch.set_num_threads(1)


@pytest.mark.parametrize("cfg", [TINY, TINY.ablation()])
def test_serial_parameters_equal_parallel_ones(cfg):
    torch.manual_seed(0)
    ep = EntropyParameters(cfg)
    y_hat = [torch.round(torch.randn(1, 24, 5, 7) * 3) for _ in range(2)]
    hyper = [torch.randn(1, 48, 5, 7) for _ in range(2)]
    with torch.no_grad():
        ref = ep(y_hat, hyper)
        views = (0, 1) if cfg.cross_view_context else (0,)
        state = SerialContext(ep, views, [hyper[v] for v in views])
        for h, w in state.positions():
            for i, (scales, means) in enumerate(state.params(h, w)):
                v = views[i]
                assert torch.allclose(scales[0], ref[v][0][0, :, h, w], atol=1e-5)
                assert torch.allclose(means[0], ref[v][1][0, :, h, w], atol=1e-5)
                state.set(i, h, w, y_hat[v][:, :, h, w])


def test_cross_view_context_is_causal_in_both_views():
    torch.manual_seed(0)
    ep = EntropyParameters(TINY)
    y_hat = [torch.randn(1, 24, 4, 4) for _ in range(2)]
    hyper = [torch.randn(1, 48, 4, 4) for _ in range(2)]
    changed = [y.clone() for y in y_hat]
    changed[1][:, :, 2, 1:] += 5.0     # the right view at and after position (2, 1)
    changed[1][:, :, 3] -= 5.0
    with torch.no_grad():
        a, b = ep(y_hat, hyper), ep(changed, hyper)
    for v in range(2):
        for k in range(2):
            flat_a, flat_b = a[v][k].flatten(2), b[v][k].flatten(2)
            assert torch.allclose(flat_a[..., :9], flat_b[..., :9], atol=1e-6)  # up to (2, 1)
    assert not torch.allclose(a[0][1].flatten(2)[..., 10:], b[0][1].flatten(2)[..., 10:])


def test_without_cross_view_each_view_ignores_the_other():
    cfg = TINY.ablation()
    ep = EntropyParameters(cfg)
    y = [torch.randn(1, 24, 4, 4) for _ in range(2)]
    hyper = [torch.randn(1, 48, 4, 4) for _ in range(2)]
    with torch.no_grad():
        a = ep(y, hyper)
        b = ep([y[0], y[1] + 3], [hyper[0], hyper[1] * 2])
    assert torch.equal(a[0][0], b[0][0]) and torch.equal(a[0][1], b[0][1])


def test_serial_cross_view_needs_both_views():
    ep = EntropyParameters(TINY)
    with pytest.raises(ValueError, match="both views"):
        SerialContext(ep, (0,), [torch.zeros(1, 48, 2, 2)])
