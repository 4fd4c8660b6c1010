"""CI-ICM real coding: one bitstream, several decoded outputs; decode == decoder output."""

from __future__ import annotations

import pytest
import torch
from compressai.models.sensetime import Elic2022Official

from bench.models.ci_icm import SMALL, CiIcm
from bench.models.ci_icm.side import unpack_side

torch.set_num_threads(1)
OUTPUTS = (None, "detection", "segmentation")


def trained_like(config) -> CiIcm:
    """A network whose optional modules are not at their identity initialisation."""
    torch.manual_seed(1)
    model = CiIcm(config).eval()
    with torch.no_grad():
        if config.tsca:
            for i, t in enumerate(config.tasks):
                model.tsca[t].fc2.weight.normal_(0, 0.3 * (i + 1))
                model.tsca[t].dwconv.weight.normal_(0, 0.05)
        if config.fcgs:
            model.fcgs.log_gain.normal_(0, 0.2)
            if model.fcgs.importance_slope is not None:
                model.fcgs.importance_slope.normal_(0, 1.0)
        if config.ci_ctx:
            for k in range(1, len(config.groups)):
                model.latent_codec["y"].channel_context[f"y{k}"][0].weight.normal_(0, 0.02)
    model.update(force=True)
    return model


@pytest.fixture(scope="module")
def full() -> CiIcm:
    return trained_like(SMALL)


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    torch.manual_seed(2)
    return torch.rand(1, 3, 64, 128)


def test_one_bitstream_decodes_into_both_task_outputs(full, image):
    coded = full.compress(image, level=2.0)
    together = full.decompress(coded["strings"], coded["shape"], outputs=OUTPUTS)["x_hats"]
    for output in OUTPUTS:
        alone = full.decompress(coded["strings"], coded["shape"], outputs=(output,))["x_hat"]
        assert torch.equal(alone, together[output])
    assert not torch.equal(together["detection"], together["segmentation"])
    assert not torch.equal(together["detection"], together[None])


@pytest.mark.parametrize("level", [0.0, 2.0, 3.5])
def test_decode_matches_the_decoder_output(full, image, level):
    coded = full.compress(image, level=level)
    decoded = full.decompress(coded["strings"], coded["shape"], outputs=OUTPUTS)["x_hats"]
    with torch.no_grad():
        ref = full(image, level=torch.tensor([level]), outputs=OUTPUTS)["x_hats"]
    for output in OUTPUTS:
        assert torch.allclose(decoded[output], ref[output].clamp(0, 1), atol=1e-5)


def test_rate_falls_with_the_level(full, image):
    sizes = [sum(len(s[0]) for s in full.compress(image, level=lv)["strings"])
             for lv in (4.0, 2.0, 0.0)]
    assert sizes[0] > sizes[1] > sizes[2]


def test_side_string_carries_level_and_group_importance(full, image):
    coded = full.compress(image, level=1.25)
    side = coded["strings"][-1][0]
    level, importance = unpack_side(side, True, len(SMALL.groups))
    assert level == 1.25 and len(importance) == len(SMALL.groups)
    assert len(coded["strings"]) == 2 * len(SMALL.groups) + 2  # y (2 per group), z, side
    assert coded["shape"] == (1, 2)


def test_stream_depends_on_the_transmitted_importance(full, image):
    coded = full.compress(image, level=2.0)
    strings = [list(s) for s in coded["strings"]]
    level_bytes, imp = strings[-1][0][:2], bytearray(strings[-1][0][2:])
    imp[0] = (imp[0] + 128) % 256
    strings[-1][0] = level_bytes + bytes(imp)
    changed = full.decompress(strings, coded["shape"])["x_hat"]
    assert not torch.equal(changed, full.decompress(coded["strings"], coded["shape"])["x_hat"])


def test_batch_of_images_codes_each_image(full):
    torch.manual_seed(3)
    batch = torch.rand(2, 3, 64, 64)
    coded = full.compress(batch, level=2.0)
    decoded = full.decompress(coded["strings"], coded["shape"])["x_hat"]
    single = full.compress(batch[1:], level=2.0)
    assert [s[1] for s in coded["strings"]] == [s[0] for s in single["strings"]]
    assert decoded.shape == batch.shape


def test_baseline_stream_is_elic_stream(image):
    torch.manual_seed(4)
    config = SMALL.baseline().replace(rate_levels=0)
    model = CiIcm(config).eval()
    elic = Elic2022Official(N=config.N, M=config.M, groups=list(config.groups)).eval()
    from bench.models.ci_icm.context import set_context_widths

    set_context_widths(elic.latent_codec["y"], config.context_hidden)
    elic.load_state_dict(model.state_dict())
    model.update(force=True)
    elic.update(force=True)
    ours = model.compress(image)
    with torch.no_grad():
        theirs = elic.compress(image)
    assert ours["strings"] == theirs["strings"]
    assert ours["shape"] == tuple(theirs["shape"]["hyper"])
    with torch.no_grad():
        ref = elic.decompress(theirs["strings"], theirs["shape"])["x_hat"]
    assert torch.allclose(model.decompress(ours["strings"], ours["shape"])["x_hat"], ref)


def test_a_model_with_rate_levels_needs_a_level(full, image):
    with pytest.raises(ValueError, match="level"):
        full.compress(image)
