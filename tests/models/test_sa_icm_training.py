"""Training helpers of SA-ICM: masked distortion, lambdas of rate indices, masked crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.models.sa_icm.masks import MaskSpec
from bench.models.sa_icm.training import (
    MaskedCropSampler,
    MaskedData,
    bpp,
    lambda_at,
    masked_mse,
    render_with_weights,
)

torch.set_num_threads(1)
SPEC = MaskedData(crop=64, batch=3, pool=2, refresh_every=1, width=96, height=64)


def test_masked_mse_counts_only_weighted_pixels():
    x = torch.zeros(2, 3, 4, 4)
    x_hat = torch.ones(2, 3, 4, 4)
    w = torch.zeros(2, 1, 4, 4)
    w[0, :, :2] = 1.0                                  # half of sample 0's pixels
    assert masked_mse(x, x_hat, w).tolist() == [0.5, 0.0]
    assert masked_mse(x, x_hat).tolist() == [1.0, 1.0]


def test_lambda_at_interpolates_geometrically():
    lam = lambda_at([0.01, 0.04], torch.tensor([0.0, 0.5, 1.0, 7.0]))
    assert lam.tolist() == pytest.approx([0.01, 0.02, 0.04, 0.04])


def test_bpp_from_likelihoods():
    lik = {"y": torch.full((1, 2, 2, 2), 0.5)}           # 8 symbols of one bit
    assert float(bpp(lik, 4)[0]) == pytest.approx(2.0)


def test_rendered_weights_follow_the_instances():
    img, w = render_with_weights(0, SPEC, MaskSpec(background_weight=0.0))
    assert img.shape == (64, 96, 3) and w.shape == (64, 96) and w.dtype == np.float16
    assert set(np.unique(w).tolist()) <= {0.0, 1.0} and w.max() == 1.0


def test_sampler_is_deterministic_and_flips_masks_with_images():
    torch.manual_seed(0)
    a = MaskedCropSampler(SPEC, MaskSpec())
    xa, wa = a.batch(3)
    torch.manual_seed(0)
    b = MaskedCropSampler(SPEC, MaskSpec())
    b.advance_to(3)                                     # a resumed run at step 3
    xb, wb = b.batch(3)
    assert torch.equal(xa, xb) and torch.equal(wa, wb)
    assert xa.shape == (3, 3, 64, 64) and wa.shape == (3, 1, 64, 64)
    assert a.refreshed == 3


def test_folder_data_needs_masks(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "a.png")
    masks = tmp_path / "masks"
    masks.mkdir()
    labels = np.zeros((64, 64), np.uint8)
    labels[10:30, 10:30] = 1
    Image.fromarray(labels).save(masks / "a.png")
    spec = MaskedData(type="images", root=str(tmp_path), masks=str(masks), crop=64, batch=1)
    _, w = MaskedCropSampler(spec, MaskSpec(background_weight=0.0)).batch(0)
    assert float(w.sum()) > 0
    with pytest.raises(ValueError, match="needs `root`"):
        MaskedCropSampler(MaskedData(type="images", root=str(tmp_path)), MaskSpec())
