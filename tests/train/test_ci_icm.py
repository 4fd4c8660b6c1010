"""The ci-icm training program: both stages run, resume exactly, export a codec's weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from bench.errors import SpecError
from bench.train.recipe import RECIPES_DIR, load_recipe
from bench.train.trainer import Trainer
from bench.types import RatePoint

torch.set_num_threads(1)


def recipe(tmp_path, steps=2, **kwargs):
    program = {"stage": "task", "lambdas": [0.002, 0.01], "gt_weight": 1.0, "crop": 64,
               "batch_size": 1, "train_images": 3, "eval_images": 1, "val_images": 1,
               "eval_levels": [1], "data_root": str(tmp_path / "data"), **kwargs}
    doc = {"name": "ci-icm-test", "program": {"type": "ci-icm", "kwargs": program},
           "steps": steps, "log_every": 1, "checkpoint_every": 1,
           "work_dir": str(tmp_path / "work"), "out": str(tmp_path / "w.pt")}
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_recipe(str(path))


def test_task_stage_trains_all_modules_and_exports_a_codec_model(tmp_path):
    logs = []
    summary = Trainer(recipe(tmp_path), log=logs.append).run()
    assert any("gt_det" in line for line in logs) and any("gt_seg" in line for line in logs)
    assert set(summary["evaluation"]) == {"L1/bpp", "L1/psnr", "L1/bbox_AP", "L1/segm_AP"}
    assert summary["export"]["modules"] == "cig,fcgs,ci_ctx,tsca"
    from bench.codecs.ci_icm import CiIcmCodec

    codec = CiIcmCodec(weights=str(tmp_path / "w.pt"))
    img = np.full((64, 64, 3), 128, np.uint8)
    bs = codec.encode(img, RatePoint("level", 1))
    assert codec.decode(bs, target="detection").shape == img.shape


def test_importance_target_follows_the_taylor_saliency(tmp_path):
    trainer = Trainer(recipe(tmp_path, steps=1), log=lambda s: None)
    trainer.total = 1
    trainer._setup()
    before = trainer.program.target.saliency.clone()
    trainer._one_step()
    after = trainer.program.target.saliency
    assert int(trainer.program.target.updates) == 1
    assert not torch.equal(before, after)
    assert float(after.sum()) == pytest.approx(1.0, abs=1e-5)


def test_resume_continues_the_same_random_stream(tmp_path):
    kw = {"modules": {"cig": False, "fcgs": False, "ci_ctx": False, "tsca": False},
          "stage": "mse", "eval_levels": [0]}
    straight = Trainer(recipe(tmp_path / "a", steps=3, **kw), log=lambda s: None).run()
    Trainer(recipe(tmp_path / "b", steps=3, **kw), log=lambda s: None).run(steps=2)
    resumed = Trainer(recipe(tmp_path / "b", steps=3, **kw), log=lambda s: None).run(resume=True)
    assert straight["history"][-1]["L0/bpp"] == pytest.approx(resumed["history"][-1]["L0/bpp"])


def test_fine_tune_starts_from_given_weights(tmp_path):
    off = {"cig": False, "fcgs": False, "ci_ctx": False, "tsca": False}
    Trainer(recipe(tmp_path / "a", steps=1, modules=off, stage="mse"), log=lambda s: None).run()
    r = recipe(tmp_path / "b", steps=1, init=str(tmp_path / "a" / "w.pt"))
    trainer = Trainer(r, log=lambda s: None)
    trainer.total = 1
    trainer._setup()
    report = trainer.program.init_report
    assert len(report["widened"]) == 4 and report["ignored"] == []


def test_bad_modules_are_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="unknown modules"):
        Trainer(recipe(tmp_path, modules={"ctx": True}), log=lambda s: None).run()
    with pytest.raises(SpecError, match="needs cig"):
        Trainer(recipe(tmp_path, modules={"cig": False}), log=lambda s: None).run()


@pytest.mark.parametrize("path", sorted(RECIPES_DIR.glob("ci-icm*.yaml")), ids=lambda p: p.stem)
def test_shipped_recipes_validate(path):
    from bench.train.programs.ci_icm import CiIcmKwargs

    r = load_recipe(str(path))
    kwargs = CiIcmKwargs(**r.program.kwargs)
    assert r.program.type == "ci-icm" and r.out.startswith("bench/models/weights/ci-icm")
    assert kwargs.lambdas == sorted(kwargs.lambdas)


@pytest.mark.parametrize("modules", [{}, {"cig": False, "fcgs": False, "ci_ctx": False,
                                          "tsca": False}])
def test_module_lr_scale_names_the_modules_and_the_channel_context(tmp_path, modules):
    from bench.models.ci_icm import CiIcm, get_config
    from bench.train.programs.ci_icm import MODULE_PREFIXES, CiIcmProgram

    program = CiIcmProgram(recipe(tmp_path), module_lr_scale=10.0, lambdas=[0.01])
    program.model = CiIcm(get_config("small", rate_levels=1, **modules))
    (scale, chosen), = program.lr_scales().items()
    names = {id(p): n for n, p in program.model.named_parameters()}
    chosen_names = {names[id(p)] for p in chosen}
    assert scale == 10.0 and chosen_names
    assert all(n.startswith(MODULE_PREFIXES) for n in chosen_names)
    assert any(n.startswith("latent_codec.y.channel_context.") for n in chosen_names)
    assert not any(n.startswith(("g_a.", "g_s.")) for n in chosen_names)
    assert any(n.startswith("tsca.") for n in chosen_names) == (modules == {})
    program.opts = program.opts.model_copy(update={"module_lr_scale": 1.0})
    assert program.lr_scales() == {}
