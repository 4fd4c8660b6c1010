"""Training program `mfcnet`: the three stages run, resume, and export loadable weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.errors import SpecError
from bench.models.mfcnet.weights import load_mfcnet
from bench.train.recipe import load_recipe
from bench.train.trainer import Trainer

torch.set_num_threads(1)

SIZES = {"p2": (64, 80), "p3": (32, 40), "p4": (16, 20), "p5": (8, 10)}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fpn-cache")
    rng = np.random.default_rng(0)
    for lv, hw in SIZES.items():
        np.save(folder / f"{lv}.npy", (3 * rng.standard_normal((4, 64, *hw))).astype(np.float16))
    (folder / "meta.json").write_text(json.dumps({"ids": ["a", "b", "c", "d"]}))
    return folder


def _recipe(tmp_path, cache, stage, name, steps=2, out=None, **kwargs):
    extra = "".join(f"\n    {k}: {json.dumps(v)}" for k, v in kwargs.items())
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
name: {name}
program:
  type: mfcnet
  kwargs:
    stage: {stage}
    batch: 2
    n_eval: 0
    cache: {cache}{extra}
steps: {steps}
log_every: 1
checkpoint_every: 1
work_dir: {tmp_path / name}
out: {out or tmp_path / name / (name + '.pt')}
""")
    return load_recipe(str(path))


def test_stages_chain_and_export(tmp_path, cache):
    logs: list[str] = []
    first = Trainer(_recipe(tmp_path, cache, "codec", "a", crop=128), log=logs.append).run()
    assert first["export"]["parameters"]["p2p3"] > 0
    assert any("bpp" in line and "mse_p3" in line and "mse_p2" not in line for line in logs)
    logs.clear()
    fine = _recipe(tmp_path, cache, "fine", "b", init=str(tmp_path / "a" / "a.pt"))
    Trainer(fine, log=logs.append).run()
    assert any("mse_p2" in line and "bpp 0 " in line for line in logs)
    joint = _recipe(tmp_path, cache, "joint", "c", init=str(tmp_path / "b" / "b.pt"))
    Trainer(joint, log=logs.append).run()
    model = load_mfcnet(tmp_path / "c" / "c.pt")
    before = load_mfcnet(tmp_path / "a" / "a.pt")
    assert not torch.equal(model.paths["p2p3"].g_a[0].conv1.weight,
                           before.paths["p2p3"].g_a[0].conv1.weight)   # joint moved BFCNet


def test_fine_stage_leaves_the_coded_paths_alone(tmp_path, cache):
    Trainer(_recipe(tmp_path, cache, "codec", "a")).run()
    Trainer(_recipe(tmp_path, cache, "fine", "b", init=str(tmp_path / "a" / "a.pt"))).run()
    a, b = load_mfcnet(tmp_path / "a" / "a.pt"), load_mfcnet(tmp_path / "b" / "b.pt")
    for k, v in a.paths.state_dict().items():
        assert torch.equal(v, b.paths.state_dict()[k]), k
    assert not torch.equal(a.finenet.generator.model[1].weight, b.finenet.generator.model[1].weight)


def test_ablation_trains_only_its_own_path_and_references_the_base(tmp_path, cache):
    Trainer(_recipe(tmp_path, cache, "codec", "a")).run()
    base = str(tmp_path / "a" / "a.pt")
    summary = Trainer(_recipe(tmp_path, cache, "codec", "np", variant="no-predict",
                              train=["p2p2"], init=base, base=base,
                              out=tmp_path / "a" / "np.pt")).run()
    assert summary["export"]["shared_with_base"] == ["paths.p2p3", "paths.p4p5"]
    model = load_mfcnet(tmp_path / "a" / "np.pt")
    assert [p.name for p in model.config.paths] == ["p2p3", "p2p2", "p4p5"]


def test_resume_continues_the_data_stream(tmp_path, cache):
    recipe = _recipe(tmp_path, cache, "codec", "r", steps=3)
    Trainer(recipe).run(steps=2)
    logs: list[str] = []
    Trainer(recipe, log=logs.append).run(resume=True)
    assert any("resumed r at step 2" in line for line in logs)
    assert any("step 3/3" in line for line in logs)


def test_unknown_module_and_stage_are_refused(tmp_path, cache):
    with pytest.raises((ValueError, SpecError)):
        Trainer(_recipe(tmp_path, cache, "codec", "x", train=["p9"])).run()
    with pytest.raises((ValueError, SpecError)):
        Trainer(_recipe(tmp_path, cache, "later", "y")).run()
