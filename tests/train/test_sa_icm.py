"""The sa-icm training program: base, MSE and enhancement stages, resume, export, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from bench.errors import SpecError
from bench.train.trainer import train
from bench.types import RatePoint

torch.set_num_threads(1)
QUIET = lambda s: None
DATA = {"crop": 64, "batch": 2, "pool": 2, "refresh_every": 2, "width": 96, "height": 64}


def recipe(tmp_path, stage, steps=2, **kwargs):
    text = {
        "name": f"tiny-sa-icm-{stage}",
        "program": {"type": "sa-icm", "kwargs": {
            "stage": stage, "lambdas": [0.01, 0.04], "m": 2, "data": DATA,
            "eval": {"n_images": 1}, **kwargs}},
        "steps": steps, "seed": 1, "log_every": 1, "checkpoint_every": 1,
        "optim": {"lr": 1e-3},
        "work_dir": str(tmp_path / "work"), "out": str(tmp_path / f"{stage}.pt"),
        "card": str(tmp_path / "card.md"),
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(text))
    return str(path)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("base")
    return train(recipe(d, "base"), log=QUIET), d


def test_base_stage_exports_weights_and_a_card(base_run):
    summary, d = base_run
    ev = summary["evaluation"]
    assert {"q1/bpp_main", "q2/bpp_main", "q1/psnr", "q1/wpsnr"} <= set(ev)
    assert summary["export"]["role"] == "base"
    card = (d / "card.md").read_text()
    assert "| 2 | 0.04 |" in card and "real coding" in card
    from bench.checkpoint import load_checkpoint

    payload = load_checkpoint(d / "base.pt")
    assert payload["role"] == "base" and payload["lambdas"] == [0.01, 0.04]
    assert payload["state_dict"]["g_s.0.subpel_conv.0.weight"].dtype == torch.float16


def test_enhancement_stage_freezes_the_base_and_codes_two_layers(base_run, tmp_path):
    _, d = base_run
    base_file = str(d / "base.pt")
    summary = train(recipe(tmp_path, "enhancement", base_weights=base_file), log=QUIET)
    ev = summary["evaluation"]
    assert {"q1/bpp_base", "q1/bpp_enhancement", "q1/psnr_machine", "q1/psnr_human"} <= set(ev)
    from bench.checkpoint import file_sha256

    assert summary["export"]["base_sha256"] == file_sha256(base_file)
    from bench.codecs.sa_icm import SaIcmCodec

    codec = SaIcmCodec(base=base_file, enhancement=str(tmp_path / "enhancement.pt"), m=2)
    img = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    bs = codec.encode(img, RatePoint("quality", 2))
    assert codec.decode(bs).shape == img.shape
    assert all(bits > 0 for bits in bs.layer_bits().values())


def test_enhancement_loss_leaves_the_base_untouched(base_run, tmp_path):
    from bench.train.programs.sa_icm import SaIcmProgram
    from bench.train.recipe import load_recipe

    _, d = base_run
    r = load_recipe(recipe(tmp_path, "enhancement", base_weights=str(d / "base.pt")))
    program = SaIcmProgram(r, **r.program.kwargs)
    program.setup()
    before = {k: v.clone() for k, v in program.base.state_dict().items()}
    loss, logs = program.loss(0)
    loss.backward()
    assert all(p.grad is None for p in program.base.parameters())
    assert not any(p is q for p in program.parameters() for q in program.base.parameters())
    assert all(torch.equal(before[k], v) for k, v in program.base.state_dict().items())
    assert logs["bpp"] > 0


def test_enhancement_synthesis_can_start_from_the_base(base_run, tmp_path):
    from bench.train.programs.sa_icm import SaIcmProgram
    from bench.train.recipe import load_recipe

    _, d = base_run
    progs = {}
    for init in ("none", "base"):
        r = load_recipe(recipe(tmp_path / init, "enhancement", base_weights=str(d / "base.pt"),
                               init_synthesis=init))
        progs[init] = SaIcmProgram(r, **r.program.kwargs)
        progs[init].setup()
    base_gs = progs["base"].base.g_s.state_dict()
    copied, fresh = progs["base"].net.g_s.state_dict(), progs["none"].net.g_s.state_dict()
    assert all(torch.equal(copied[k], v) for k, v in base_gs.items())
    assert not all(torch.equal(fresh[k], v) for k, v in base_gs.items())
    # A copy, not the same tensors: training the ICA leaves the frozen base alone.
    assert not any(p is q for p in progs["base"].net.g_s.parameters()
                   for q in progs["base"].base.g_s.parameters())


def test_mse_stage_resumes_exactly(tmp_path):
    one = train(recipe(tmp_path / "a", "mse", steps=2), log=QUIET)
    path = recipe(tmp_path / "b", "mse", steps=2)
    train(path, steps=1, log=QUIET)
    again = train(path, resume=True, log=QUIET)
    assert again["steps"] == 2
    assert again["evaluation"] == pytest.approx(one["evaluation"], abs=0)


def test_bad_kwargs_are_spec_errors(tmp_path, base_run):
    with pytest.raises(SpecError, match="needs `base_weights`"):
        train(recipe(tmp_path / "x", "enhancement"), log=QUIET)
    with pytest.raises(SpecError, match="stage"):
        train(recipe(tmp_path / "y", "human"), log=QUIET)
    _, d = base_run
    with pytest.raises(SpecError, match="as many lambdas"):
        train(recipe(tmp_path / "z", "enhancement", base_weights=str(d / "base.pt"),
                     lambdas=[0.01, 0.02, 0.04]), log=QUIET)
