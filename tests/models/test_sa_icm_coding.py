"""Real coding of the SA-ICM networks: layers decode as promised, encoder = decoder."""

from __future__ import annotations

import pytest
import torch

from bench.models.sa_icm import ScalableSaIcm, get_config

torch.set_num_threads(1)


@pytest.fixture(scope="module", params=["add", "learned"])
def net(request):
    torch.manual_seed(0)
    model = ScalableSaIcm(get_config("small", m=3, fusion=request.param)).eval()
    model.base.update(force=True)
    model.enhancement.update(force=True)
    return model


def test_base_layer_decodes_alone_to_the_encoders_latent(net):
    x = torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        strings, shape, y_enc = net.base.latent_compress(x, 2)
        out = net.decompress_base(strings, shape, 2)
    assert torch.equal(out["y_hat"], y_enc)
    assert out["x_hat"].shape == x.shape
    assert 0.0 <= float(out["x_hat"].min()) and float(out["x_hat"].max()) <= 1.0


def test_human_view_matches_the_training_graph_at_test_quantisation(net):
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        enc = net.compress(x, 1, 4)
        human = net.decompress_human(enc["base"], enc["enhancement"], 1, 4)
        _, _, y_base = net.base.latent_compress(x, 1)
        _, _, y_add = net.enhancement.latent_compress(x, 4)
        expected = net.enhancement.g_s(net.enhancement.fusion(y_base, y_add)).clamp(0, 1)
    assert torch.allclose(human["x_hat"], expected, atol=1e-6)


def test_enhancement_is_coded_without_the_base_and_refused_without_it(net):
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        enc = net.enhancement.compress(x, 0)          # the image only: no base latent
        with pytest.raises(ValueError, match="without the base latent"):
            net.enhancement.decompress(enc["strings"], enc["shape"], None, 0)


def test_layers_are_separate_strings_and_the_rate_index_matters(net):
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        low, high = net.compress(x, 0, 0), net.compress(x, 4, 4)
    size = lambda enc: sum(len(s[0]) for s in enc["strings"])
    assert set(low) == {"base", "enhancement"}
    assert size(low["base"]) != size(high["base"])


def test_compress_refuses_batches_and_unpadded_sizes(net):
    with pytest.raises(ValueError, match="one image"):
        net.base.compress(torch.rand(2, 3, 64, 64), 0)
    with pytest.raises(ValueError, match="multiples of 64"):
        net.base.compress(torch.rand(1, 3, 64, 96), 0)
