"""CI-ICM network structure: the paper configuration, switches, and all-off == ELIC."""

from __future__ import annotations

import pytest
import torch
from compressai.models.sensetime import Elic2022Official

from bench.models.ci_icm import PAPER, SMALL, CiIcm, CiIcmConfig, get_config
from bench.models.ci_icm.config import MODULES

torch.set_num_threads(1)

ELIC_PAPER_PARAMS = 32_074_200  # Elic2022Official(192, 320): the "32.07 M" of SEEDS.md
CI_ICM_PAPER_PARAMS = 32_314_125  # all four modules on, two tasks, no rate levels


def n_params(module: torch.nn.Module, prefix: str = "") -> int:
    return sum(p.numel() for n, p in module.named_parameters() if n.startswith(prefix))


def structure(module: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(n, tuple(t.shape)) for n, t in module.state_dict().items()]


def module_types(module: torch.nn.Module) -> list[tuple[str, str]]:
    return [(n, type(m).__name__) for n, m in module.named_modules() if n]


@pytest.fixture(scope="module")
def paper_full() -> CiIcm:
    torch.manual_seed(0)
    return CiIcm(PAPER)


@pytest.fixture(scope="module")
def paper_base() -> CiIcm:
    torch.manual_seed(0)
    return CiIcm(PAPER.baseline())


def test_paper_parameter_counts(paper_full, paper_base):
    assert n_params(paper_base) == ELIC_PAPER_PARAMS
    assert n_params(paper_full) == CI_ICM_PAPER_PARAMS
    added = {m: n_params(paper_full, m) for m in ("cig", "fcgs", "tsca")}
    assert added == {"cig": 51_600, "fcgs": 325, "tsca": 109_600}
    # CI-CTX: the channel context of group k (k >= 1) reads k + 1 importance maps (5x5 convs)
    assert n_params(paper_full) - n_params(paper_base) - sum(added.values()) == 14 * 224 * 25


def test_paper_latent_shapes(paper_full):
    x = torch.rand(1, 3, 128, 192)
    with torch.no_grad():
        y = paper_full.g_a(x)
        z = paper_full.latent_codec["hyper"].h_a(y)
        params = paper_full.latent_codec["hyper"].h_s(torch.round(z))
        out = paper_full(x, outputs=(None, "detection", "segmentation"))
    assert y.shape == (1, 320, 8, 12)
    assert z.shape == (1, 192, 2, 3)
    assert params.shape == (1, 384, 8, 12)
    assert out["likelihoods"]["y"].shape == (1, 320, 8, 12)
    assert out["likelihoods"]["z"].shape == (1, 192, 2, 3)
    assert out["importance"].shape == (1, 320)
    assert all(v.shape == x.shape for v in out["x_hats"].values())


@pytest.mark.parametrize("config", [PAPER, SMALL.replace(context_hidden=(224, 128))],
                         ids=["paper", "small-elic-context"])
def test_all_modules_off_is_elic(config):
    model = CiIcm(config.baseline().replace(rate_levels=0))
    elic = Elic2022Official(N=config.N, M=config.M, groups=list(config.groups))
    assert structure(model) == structure(elic)
    assert module_types(model) == module_types(elic)
    assert n_params(model) == n_params(elic)


def test_small_context_only_narrows_the_channel_context():
    model = CiIcm(SMALL.baseline().replace(rate_levels=0))
    elic = Elic2022Official(N=SMALL.N, M=SMALL.M, groups=list(SMALL.groups))
    assert [n for n, _ in structure(model)] == [n for n, _ in structure(elic)]
    differ = {n for (n, a), (_, b) in zip(structure(model), structure(elic)) if a != b}
    assert differ and all(".channel_context." in n for n in differ)


def test_rate_levels_add_only_the_gains():
    model = CiIcm(SMALL.baseline())
    plain = CiIcm(SMALL.baseline().replace(rate_levels=0))
    extra = set(model.state_dict()) - set(plain.state_dict())
    assert extra == {"rate_gains.log_gain"}
    assert model.rate_gains.log_gain.shape == (SMALL.rate_levels, SMALL.M)


@pytest.mark.parametrize("module", ["cig", "fcgs", "tsca"])
def test_each_switch_adds_its_own_parameters(module):
    base = CiIcm(SMALL.baseline())
    one = CiIcm(SMALL.baseline().replace(**{module: True}))
    extra = {n.split(".")[0] for n in set(one.state_dict()) - set(base.state_dict())}
    assert extra == {module}


def test_ci_ctx_widens_the_channel_context_only():
    cfg = SMALL.baseline().replace(cig=True)
    without = structure(CiIcm(cfg))
    with_ctx = dict(structure(CiIcm(cfg.replace(ci_ctx=True))))
    changed = {n for n, s in without if with_ctx[n] != s}
    assert changed == {f"latent_codec.y.channel_context.y{k}.0.weight" for k in range(1, 5)}
    for k in range(1, 5):
        w = with_ctx[f"latent_codec.y.channel_context.y{k}.0.weight"]
        assert w[1] == sum(SMALL.groups[:k]) + k + 1


def test_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="sum to M"):
        CiIcmConfig(N=8, M=16, groups=(4, 4))
    with pytest.raises(ValueError, match="needs cig"):
        SMALL.replace(cig=False)
    with pytest.raises(ValueError, match="unknown"):
        get_config("huge")
    assert CiIcmConfig.from_dict(SMALL.to_dict()) == SMALL
    assert SMALL.modules_on == MODULES and SMALL.baseline().modules_on == ()
    assert SMALL.sends_importance and not SMALL.replace(fcgs=False, ci_ctx=False).sends_importance


def test_tsca_outputs_differ_per_task_and_plain_is_untouched():
    torch.manual_seed(0)
    model = CiIcm(SMALL.replace(rate_levels=0)).eval()
    with torch.no_grad():
        model.tsca["detection"].fc2.bias.fill_(1.0)
        model.tsca["segmentation"].dwconv.weight.normal_(0, 0.1)
        out = model(torch.rand(1, 3, 64, 64), outputs=(None, "detection", "segmentation"))
    x = out["x_hats"]
    assert not torch.equal(x["detection"], x[None])
    assert not torch.equal(x["segmentation"], x[None])
    assert not torch.equal(x["detection"], x["segmentation"])
    with pytest.raises(ValueError, match="unknown output"):
        model.adapt(out["y_hat"], "keypoints")


def test_baseline_gives_the_plain_image_for_every_task():
    model = CiIcm(SMALL.baseline().replace(rate_levels=0)).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64), outputs=(None, "detection", "segmentation"))
    assert torch.equal(out["x_hats"]["detection"], out["x_hats"][None])
    assert torch.equal(out["x_hats"]["segmentation"], out["x_hats"][None])
